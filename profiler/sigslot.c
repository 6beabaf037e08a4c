/*
 * sigslot.c - per-thread sample slots shared by the signal handler and the
 * sampling thread (protocol in sigslot.h).
 *
 * Memory: slots come in chunks mapped on demand and never unmapped, so a
 * pointer a handler computed from a token stays valid for ever.  A chunk
 * is published with a release store before any token pointing into it is
 * handed out.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "internal.h"
#include "sigslot.h"

#define SP_SIGSLOT_CHUNK 32
#define SP_SIGSLOT_CHUNKS (SP_SIGSLOT_MAX / SP_SIGSLOT_CHUNK)
#define SP_SIGSLOT_GEN_MASK ((1u << (32 - SP_SIGSLOT_INDEX_BITS)) - 1)

static struct sp_sig_slot *_Atomic chunks[SP_SIGSLOT_CHUNKS];
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t next_gen = 1;            /* under pool_lock */
static unsigned char in_use[SP_SIGSLOT_MAX]; /* under pool_lock; 2: leaked */

static struct sp_sig_slot *slot_at(uint32_t idx)
{
	struct sp_sig_slot *c;

	if (idx >= SP_SIGSLOT_MAX)
		return NULL;
	c = atomic_load_explicit(&chunks[idx / SP_SIGSLOT_CHUNK],
	                         memory_order_acquire);
	return c ? &c[idx % SP_SIGSLOT_CHUNK] : NULL;
}

static uint32_t token_index(uint32_t token)
{
	return token & (SP_SIGSLOT_MAX - 1);
}

static uint32_t token_gen(uint32_t token)
{
	return token >> SP_SIGSLOT_INDEX_BITS;
}

int sp_sigslot_alloc(uint32_t *token)
{
	struct sp_sig_slot *sl;
	uint32_t idx, gen;

	pthread_mutex_lock(&pool_lock);
	for (idx = 0; idx < SP_SIGSLOT_MAX && in_use[idx]; idx++)
		;
	if (idx == SP_SIGSLOT_MAX) {
		pthread_mutex_unlock(&pool_lock);
		return -EMFILE;
	}
	if (!slot_at(idx)) {
		size_t len = SP_SIGSLOT_CHUNK * sizeof(struct sp_sig_slot);
		void *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED) {
			pthread_mutex_unlock(&pool_lock);
			return -ENOMEM;
		}
		atomic_store_explicit(&chunks[idx / SP_SIGSLOT_CHUNK], m,
		                      memory_order_release);
	}
	sl = slot_at(idx);
	gen = next_gen;
	next_gen = (next_gen + 1) & SP_SIGSLOT_GEN_MASK;
	if (next_gen == 0)
		next_gen = 1; /* 0 marks a free slot */
	in_use[idx] = 1;
	/* Free slots have gen 0 and no writer (see free): reset, then
	 * publish the generation last. */
	atomic_store(&sl->head, 0);
	atomic_store(&sl->tail, 0);
	atomic_store(&sl->dropped, 0);
	atomic_store(&sl->delivered, 0);
	sp_sigslot_set_range(sl, 0, 0);
	atomic_store_explicit(&sl->gen, gen, memory_order_release);
	pthread_mutex_unlock(&pool_lock);
	*token = (gen << SP_SIGSLOT_INDEX_BITS) | idx;
	return 0;
}

void sp_sigslot_free(uint32_t token)
{
	struct sp_sig_slot *sl = sp_sigslot_get(token);
	struct timespec pause = {0, 100000};
	int spins;

	if (!sl)
		return;
	/* From now on a handler that takes `busy` sees gen 0 and leaves. */
	atomic_store(&sl->gen, 0);
	/* A handler inside the slot finishes in microseconds unless its
	 * thread was descheduled mid-copy: wait up to ~200 ms. */
	for (spins = 0; atomic_load(&sl->busy) && spins < 2000; spins++)
		nanosleep(&pause, NULL);
	pthread_mutex_lock(&pool_lock);
	in_use[token_index(token)] = atomic_load(&sl->busy) ? 2 : 0;
	pthread_mutex_unlock(&pool_lock);
}

struct sp_sig_slot *sp_sigslot_get(uint32_t token)
{
	struct sp_sig_slot *sl = slot_at(token_index(token));

	if (!sl || token_gen(token) == 0 ||
	    atomic_load_explicit(&sl->gen, memory_order_acquire) !=
	        token_gen(token))
		return NULL;
	return sl;
}

/* The interrupted code's stack as the kernel's perf copy takes it: live
 * frames with their sanitizer redzones and dead bytes below them.  A
 * plain loop, not memcpy: ASan checks memcpy and would report the
 * redzones of the very frames we sample. */
__attribute__((no_sanitize("address"))) static void
copy_stack(uint8_t *dst, uint64_t src, size_t len)
{
	if ((src & 7) == 0 && (len & 7) == 0) {
		const volatile uint64_t *w =
		    (const volatile uint64_t *)(uintptr_t)src;
		for (size_t i = 0; i < len / 8; i++) {
			uint64_t v = w[i];
			__builtin_memcpy(dst + 8 * i, &v, 8);
		}
		return;
	}
	for (size_t i = 0; i < len; i++)
		dst[i] = ((const volatile uint8_t *)(uintptr_t)src)[i];
}

/* How many bytes above sp may be copied without faulting: up to the end of
 * the owner's stack mapping when sp is inside it, else to the end of sp's
 * page (mapped: the kernel has just written the signal frame below sp). */
static size_t copy_len(struct sp_sig_slot *sl, uint64_t sp)
{
	uint32_t seq = atomic_load_explicit(&sl->range_seq,
	                                    memory_order_acquire);
	uint64_t lo = atomic_load_explicit(&sl->stack_lo, memory_order_relaxed);
	uint64_t hi = atomic_load_explicit(&sl->stack_hi, memory_order_relaxed);
	size_t len = 4096 - (sp & 4095);

	atomic_thread_fence(memory_order_acquire);
	if (!(seq & 1) &&
	    seq == atomic_load_explicit(&sl->range_seq, memory_order_relaxed) &&
	    sp >= lo && sp < hi)
		len = hi - sp;
	return len < SP_SIGSLOT_STACK ? len : SP_SIGSLOT_STACK;
}

static void regs_from_uc(uint64_t *r, const ucontext_t *uc)
{
	const greg_t *g = uc->uc_mcontext.gregs;

	r[SP_REG_RAX] = (uint64_t)g[REG_RAX];
	r[SP_REG_RDX] = (uint64_t)g[REG_RDX];
	r[SP_REG_RCX] = (uint64_t)g[REG_RCX];
	r[SP_REG_RBX] = (uint64_t)g[REG_RBX];
	r[SP_REG_RSI] = (uint64_t)g[REG_RSI];
	r[SP_REG_RDI] = (uint64_t)g[REG_RDI];
	r[SP_REG_RBP] = (uint64_t)g[REG_RBP];
	r[SP_REG_RSP] = (uint64_t)g[REG_RSP];
	r[SP_REG_R8] = (uint64_t)g[REG_R8];
	r[SP_REG_R9] = (uint64_t)g[REG_R9];
	r[SP_REG_R10] = (uint64_t)g[REG_R10];
	r[SP_REG_R11] = (uint64_t)g[REG_R11];
	r[SP_REG_R12] = (uint64_t)g[REG_R12];
	r[SP_REG_R13] = (uint64_t)g[REG_R13];
	r[SP_REG_R14] = (uint64_t)g[REG_R14];
	r[SP_REG_R15] = (uint64_t)g[REG_R15];
	r[SP_REG_RIP] = (uint64_t)g[REG_RIP];
}

int sp_sigslot_record(uint32_t token, int overrun, const ucontext_t *uc)
{
	struct sp_sig_slot *sl = slot_at(token_index(token));
	struct sp_sig_sample *e;
	struct timespec ts;
	uint32_t head, tail, weight;
	int unbusy = 0;

	if (!sl || token_gen(token) == 0)
		return -1;
	weight = 1u + (overrun > 0 ? (uint32_t)overrun : 0u);
	/* Never wait: another writer (a stale handler) means drop. */
	if (!atomic_compare_exchange_strong(&sl->busy, &unbusy, 1))
		return 0;
	if (atomic_load_explicit(&sl->gen, memory_order_acquire) !=
	    token_gen(token)) {
		atomic_store_explicit(&sl->busy, 0, memory_order_release);
		return -1;
	}
	atomic_fetch_add_explicit(&sl->delivered, 1, memory_order_relaxed);
	head = atomic_load_explicit(&sl->head, memory_order_relaxed);
	tail = atomic_load_explicit(&sl->tail, memory_order_acquire);
	if (head - tail >= SP_SIGSLOT_RING) {
		atomic_fetch_add_explicit(&sl->dropped, weight,
		                          memory_order_relaxed);
		atomic_store_explicit(&sl->busy, 0, memory_order_release);
		return 0;
	}
	e = &sl->ring[head % SP_SIGSLOT_RING];
	regs_from_uc(e->regs, uc);
	e->stack_len = (uint32_t)copy_len(sl, e->regs[SP_REG_RSP]);
	copy_stack(e->stack, e->regs[SP_REG_RSP], e->stack_len);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	e->t_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	e->weight = weight;
	atomic_store_explicit(&sl->head, head + 1, memory_order_release);
	atomic_store_explicit(&sl->busy, 0, memory_order_release);
	return 1;
}

const struct sp_sig_sample *sp_sigslot_peek(struct sp_sig_slot *sl)
{
	uint32_t tail = atomic_load_explicit(&sl->tail, memory_order_relaxed);

	if (atomic_load_explicit(&sl->head, memory_order_acquire) == tail)
		return NULL;
	return &sl->ring[tail % SP_SIGSLOT_RING];
}

void sp_sigslot_pop(struct sp_sig_slot *sl)
{
	uint32_t tail = atomic_load_explicit(&sl->tail, memory_order_relaxed);

	atomic_store_explicit(&sl->tail, tail + 1, memory_order_release);
}

void sp_sigslot_set_range(struct sp_sig_slot *sl, uint64_t lo, uint64_t hi)
{
	uint32_t seq = atomic_load_explicit(&sl->range_seq,
	                                    memory_order_relaxed);

	atomic_store_explicit(&sl->range_seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&sl->stack_lo, lo, memory_order_relaxed);
	atomic_store_explicit(&sl->stack_hi, hi, memory_order_relaxed);
	atomic_store_explicit(&sl->range_seq, seq + 2, memory_order_release);
}
