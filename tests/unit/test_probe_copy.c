/*
 * test_probe_copy.c - probe_copy.c: the first copy's length, partial
 * copies at the end of a mapping, and the staged copy of real blocked
 * threads (recursing to several depths with frames of several sizes, then
 * blocked in read on a pipe): its frames must be those of a copy of the
 * whole 32 KiB, and a stack deeper than the first copy must take a second.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "maps.h"
#include "probe_copy.h"
#include "proc_parse.h"
#include "unwind.h"

#define CAP 32768
#define MAX_FRAMES 256

static void test_first_len(void **state)
{
	(void)state;
	for (uint64_t off = 0; off < 4096; off += 8) {
		uint64_t sp = 0x7f0000001000ull + off;
		size_t len = sp_probe_first_len(sp, 0, CAP);
		/* Up to a page end, and at least FIRST_MIN bytes. */
		assert_int_equal((sp + len) % 4096, 0);
		assert_true(len >= SP_PROBE_FIRST_MIN && len <= 8192);
		assert_true(len <= 4096 || 4096 - off < SP_PROBE_FIRST_MIN);
		/* Never more than the cap. */
		assert_true(sp_probe_first_len(sp, 0, 100) <= 100);
		/* A hint: up to the end of its page, at least sp's page. */
		for (uint64_t h = sp - 64; h < sp + 3 * 4096; h += 1000) {
			size_t l = sp_probe_first_len(sp, h, CAP);
			assert_int_equal((sp + l) % 4096, 0);
			if (h > sp)
				assert_true(sp + l >= h && sp + l < h + 4096);
			assert_int_equal(sp_probe_first_len(sp, h, 64),
			                 l < 64 ? l : 64);
		}
		/* A hint beyond the cap: the cap. */
		assert_int_equal(sp_probe_first_len(sp, sp + CAP + 5, CAP), CAP);
	}
}

static void test_read_partial(void **state)
{
	uint8_t buf[3 * 4096];
	uint8_t *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
	                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t base = (uintptr_t)m;
	(void)state;

	assert_true(m != MAP_FAILED);
	memset(m, 0x5a, 2 * 4096);
	assert_int_equal(munmap(m + 2 * 4096, 4096), 0);
	/* From the middle of page 0 over the hole: up to the hole. */
	assert_int_equal(sp_probe_read(getpid(), buf, base + 100, 3 * 4096 - 100),
	                 2 * 4096 - 100);
	assert_int_equal(buf[0], 0x5a);
	assert_int_equal(buf[2 * 4096 - 101], 0x5a);
	/* Inside page 1, over the hole. */
	assert_int_equal(sp_probe_read(getpid(), buf, base + 4096 + 8, 4096),
	                 4096 - 8);
	/* All in the hole. */
	assert_int_equal(sp_probe_read(getpid(), buf, base + 2 * 4096, 64),
	                 -EFAULT);
	assert_int_equal(sp_probe_read(getpid(), buf, base + 2 * 4096, 8192),
	                 -EFAULT);
	munmap(m, 2 * 4096);
}

/* A thread that recurses `depth` times with `frame` bytes of locals each,
 * then blocks in read on a pipe until the test writes to it. */
struct blocked {
	int depth;
	int kind; /* index in recursions[] */
	int pipe[2];
	pid_t tid;
	pthread_t th;
};

/* Under ASan the recursions get rbp-based frames (redzones around `pad`,
 * -fno-omit-frame-pointer in its build): sp and pc alone cannot step them,
 * so there only "staged = whole" is checked, not how deep the walk went. */
#ifdef __SANITIZE_ADDRESS__
#define WALKS_RECURSION 0
#else
#define WALKS_RECURSION 1
#endif

/* Frameless -O2 code, as a blocked thread's own frames usually are: from
 * sp and pc alone an rbp-based frame cannot be stepped (test_unwind.c). */
#define O2_NOFP                                                             \
	__attribute__((noinline, noipa, optimize("O2", "omit-frame-pointer")))

static void at_bottom(struct blocked *b)
{
	char c;

	__atomic_store_n(&b->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	if (read(b->pipe[0], &c, 1) != 1)
		b->tid = -1;
}

/* One recursion per frame size (fixed-size locals keep it frameless). */
#define RECURSE(NAME, BYTES)                                                \
	O2_NOFP static long NAME(struct blocked *b, int d)                  \
	{                                                                   \
		volatile char pad[BYTES];                                   \
		long r;                                                     \
		pad[0] = (char)d;                                           \
		pad[BYTES - 1] = (char)d;                                   \
		if (d == 0) {                                               \
			at_bottom(b);                                       \
			r = 0;                                              \
		} else {                                                    \
			r = NAME(b, d - 1);                                 \
		}                                                           \
		__asm__ volatile("" ::: "memory"); /* no tail call */       \
		return r + pad[0] + pad[BYTES - 1];                         \
	}
RECURSE(recurse16, 16)
RECURSE(recurse200, 200)
RECURSE(recurse1000, 1000)

static long (*const recursions[])(struct blocked *, int) = {
	recurse16, recurse200, recurse1000};
static const size_t frames[] = {16, 200, 1000};

static void *blocked_main(void *arg)
{
	struct blocked *b = arg;
	recursions[b->kind](b, b->depth);
	return NULL;
}

/* Wait (bounded) until the thread is blocked in read; its sp and pc. */
static int wait_blocked(pid_t tid, uint64_t *sp, uint64_t *pc)
{
	char path[64], buf[256];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (int i = 0; i < 5000; i++) {
		ssize_t n = pread(fd, buf, sizeof(buf), 0);
		long nr;
		unsigned long s, p;
		if (n > 0 && sp_parse_syscall(buf, (size_t)n, &nr, &s, &p) == 1 &&
		    nr == SYS_read) {
			close(fd);
			*sp = s;
			*pc = p;
			return 0;
		}
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	close(fd);
	return -1;
}

static void test_staged_equals_whole(void **state)
{
	static const int depths[] = {0, 1, 5, 20, 60, 200};
	static uint8_t whole[CAP], staged[CAP];
	uint64_t ref[MAX_FRAMES], pcs[MAX_FRAMES];
	struct sp_maps *maps;
	struct sp_unwinder *uw;
	int one = 0, two = 0;
	(void)state;

	assert_int_equal(sp_maps_new(&maps), 0);
	assert_int_equal(sp_unwinder_new(maps, &uw), 0);
	for (size_t di = 0; di < sizeof(depths) / sizeof(depths[0]); di++)
	for (size_t fi = 0; fi < sizeof(frames) / sizeof(frames[0]); fi++) {
		struct blocked b = {depths[di], (int)fi, {-1, -1}, 0, 0};
		uintptr_t fn = (uintptr_t)recursions[fi];
		size_t frame = frames[fi];
		struct sp_uw_input in;
		struct sp_probe_copy_res res, res2;
		uint64_t sp = 0, pc = 0;
		ssize_t got;
		int n_ref, n, recursed = 0;

		assert_int_equal(pipe2(b.pipe, O_CLOEXEC), 0);
		assert_int_equal(pthread_create(&b.th, NULL, blocked_main, &b), 0);
		for (int i = 0; i < 5000 && !__atomic_load_n(&b.tid,
		                                            __ATOMIC_ACQUIRE); i++)
			nanosleep(&(struct timespec){0, 1000000}, NULL);
		assert_true(b.tid > 0);
		assert_int_equal(wait_blocked(b.tid, &sp, &pc), 0);

		/* The reference: one copy of everything, as before. */
		got = sp_probe_read(getpid(), whole, sp, CAP);
		assert_true(got > 0);
		memset(&in, 0, sizeof(in));
		in.regs[SP_REG_RSP] = sp;
		in.regs[SP_REG_RIP] = pc;
		in.have = (1u << SP_REG_RSP) | (1u << SP_REG_RIP);
		in.stack = whole;
		in.stack_lo = sp;
		in.stack_len = (size_t)got;
		n_ref = sp_unwind(uw, &in, ref, MAX_FRAMES);

		n = sp_probe_unwind(uw, getpid(), sp, pc, 0, staged, CAP, pcs,
		                    MAX_FRAMES, &res);
		assert_int_equal(n, n_ref);
		assert_memory_equal(pcs, ref, (size_t)n * 8);
		assert_true(res.copied <= (size_t)got);
		assert_true(res.want_end > sp);
		/* With the hint it gave: one copy, the same frames. */
		n = sp_probe_unwind(uw, getpid(), sp, pc, res.want_end, staged,
		                    CAP, pcs, MAX_FRAMES, &res2);
		assert_int_equal(n, n_ref);
		assert_memory_equal(pcs, ref, (size_t)n * 8);
		if (res.want_end - sp < CAP)
			assert_int_equal(res2.copies, 1);
		/* A hint too low (sp's page only), or absurd: the same. */
		for (int h = 0; h < 2; h++) {
			n = sp_probe_unwind(uw, getpid(), sp, pc,
			                    h ? sp + 8 : ~(uint64_t)0, staged,
			                    CAP, pcs, MAX_FRAMES, &res2);
			assert_int_equal(n, n_ref);
			assert_memory_equal(pcs, ref, (size_t)n * 8);
		}
		/* The unwind must have walked the recursion. */
		for (int i = 0; i < n; i++)
			recursed += pcs[i] > fn && pcs[i] < fn + 256;
		if (WALKS_RECURSION && frame * (size_t)b.depth + 4096 < CAP / 2)
			assert_true(recursed >= b.depth);
		/* Frames deeper than the first copy: a second one. */
		if (WALKS_RECURSION && frame * (size_t)b.depth > 8192 &&
		    frame * (size_t)b.depth < CAP / 2)
			assert_int_equal(res.copies, 2);
		one += res.copies == 1;
		two += res.copies == 2;

		assert_int_equal(write(b.pipe[1], "x", 1), 1);
		assert_int_equal(pthread_join(b.th, NULL), 0);
		close(b.pipe[0]);
		close(b.pipe[1]);
	}
	print_message("staged copies: %d threads with one copy, %d with two\n",
	              one, two);
	assert_true(one > 0 && (two > 0 || !WALKS_RECURSION));
	sp_unwinder_free(uw);
	sp_maps_free(maps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_first_len),
	    cmocka_unit_test(test_read_partial),
	    cmocka_unit_test(test_staged_equals_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
