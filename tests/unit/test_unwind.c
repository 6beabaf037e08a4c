/*
 * test_unwind.c - unwind.c and unwind_cfi.c: stacks of this very thread,
 * captured in-process (registers from inline asm, a copy of the stack
 * above rsp), unwound by sp_unwind (cached CFI rules, libunwind for the
 * rest) and by sp_unwind_libunwind; both must give the same pcs.  Chains
 * of frame-pointer (-O0) and frameless (-O2) functions, libc frames
 * (qsort), a signal frame, blocked-thread input (rsp and rip only),
 * truncated copies, random stack contents, random libc pcs, a leaf in
 * every FDE of libc, libcrypto (if installed) and this binary, a flush,
 * OOM in the constructor, and the cost of a 32-frame unwind on both paths
 * (printed, not asserted).
 *
 * Build with -O0 -g: the a -> b -> c chain keeps frame pointers, and the
 * optimize attributes below give the -O2 frames.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "internal.h"
#include "maps.h"
#include "unwind.h"
#include "unwind_cfi.h"

#define CAPTURE_BYTES (32 * 1024)
#define MAX_FRAMES 128
#define DEPTH 28 /* recursion: with the frames around it, > 32 frames */

#define O2_NOFP                                                             \
	__attribute__((noinline, noipa, optimize("O2", "omit-frame-pointer")))

struct capture {
	struct sp_uw_input in;
	uint8_t buf[CAPTURE_BYTES];
};

static struct capture cap;
static uintptr_t stack_hi;         /* end of this thread's stack mapping */
static uintptr_t ras[DEPTH + 8];   /* return addresses recorded on the way */
static struct sp_maps *maps;
static struct sp_unwinder *uw;

/* Under memcheck, the raw copy reads dead stack below live frames, as
 * the kernel's perf stack copy does: say so instead of reporting it. */
#if defined(__has_include) && __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#else
#define VALGRIND_DISABLE_ERROR_REPORTING
#define VALGRIND_ENABLE_ERROR_REPORTING
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

/* A plain copy of raw stack, redzones included: not memcpy, which ASan
 * checks. */
__attribute__((no_sanitize("address"))) static void copy_raw(
    uint8_t *dst, const uint8_t *src, size_t len)
{
	VALGRIND_DISABLE_ERROR_REPORTING;
	for (size_t i = 0; i < len; i++)
		dst[i] = ((const volatile uint8_t *)src)[i];
	VALGRIND_ENABLE_ERROR_REPORTING;
	VALGRIND_MAKE_MEM_DEFINED(dst, len);
}

/* Copy the stack above rsp: called after the registers were taken, from
 * a frame below them, so the copied region is the one they describe. */
__attribute__((noinline)) static void save_stack(struct capture *c,
                                                 uint64_t rip, uint64_t rsp,
                                                 uint64_t rbp)
{
	size_t len = stack_hi - rsp < CAPTURE_BYTES ? stack_hi - rsp
	                                            : CAPTURE_BYTES;

	memset(&c->in, 0, sizeof(c->in));
	copy_raw(c->buf, (const uint8_t *)(uintptr_t)rsp, len);
	c->in.regs[SP_REG_RIP] = rip;
	c->in.regs[SP_REG_RSP] = rsp;
	c->in.regs[SP_REG_RBP] = rbp;
	c->in.have = (1u << SP_REG_RIP) | (1u << SP_REG_RSP) |
	             (1u << SP_REG_RBP);
	c->in.stack = c->buf;
	c->in.stack_lo = rsp;
	c->in.stack_len = len;
}

/* rip, rsp and rbp at one instruction (the movq after the leaq), then the
 * stack copy.  The empty asm after the call keeps it from being a tail
 * call, which would reuse the frame being copied. */
#define CAPTURE(c)                                                          \
	do {                                                                \
		uint64_t rip_, rsp_, rbp_;                                  \
		__asm__ volatile("leaq 0(%%rip), %0\n\t"                    \
		                 "movq %%rsp, %1\n\t"                       \
		                 "movq %%rbp, %2"                           \
		                 : "=r"(rip_), "=r"(rsp_), "=r"(rbp_));     \
		save_stack((c), rip_, rsp_, rbp_);                          \
		__asm__ volatile("" ::: "memory");                          \
	} while (0)

/* a -> b -> c with frame pointers (this file is -O0). */
__attribute__((noinline, noipa)) static void fp_c(struct capture *c)
{
	ras[0] = (uintptr_t)__builtin_return_address(0);
	CAPTURE(c);
}

__attribute__((noinline, noipa)) static void fp_b(struct capture *c)
{
	ras[1] = (uintptr_t)__builtin_return_address(0);
	fp_c(c);
	__asm__ volatile("" ::: "memory"); /* no tail call */
}

__attribute__((noinline, noipa)) static void fp_a(struct capture *c)
{
	ras[2] = (uintptr_t)__builtin_return_address(0);
	fp_b(c);
	__asm__ volatile("" ::: "memory");
}

/* A frameless recursion, as in bench/overhead.c. */
O2_NOFP static uint64_t descend(struct capture *c, int depth, uint64_t x)
{
	uint64_t r;

	ras[depth] = (uintptr_t)__builtin_return_address(0);
	if (depth == 0) {
		CAPTURE(c);
		return x;
	}
	r = descend(c, depth - 1, x + (uint64_t)depth);
	__asm__ volatile("" ::: "memory"); /* no tail call: keep the frame */
	return r ^ (uint64_t)depth;
}

/* Called by qsort: libc frames between the capture and the test. */
static int captured_in_qsort;

O2_NOFP static int cmp_and_capture(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	if (!captured_in_qsort) {
		captured_in_qsort = 1;
		CAPTURE(&cap);
	}
	return (x > y) - (x < y);
}

O2_NOFP static void on_sigusr1(int sig)
{
	(void)sig;
	CAPTURE(&cap);
}

/* sp_unwind (its rule cache warm from earlier tests) against libunwind
 * alone, uncached (see unwind.h), which must agree. */
static int unwind_both(const struct sp_uw_input *in, uint64_t *fast,
                       uint64_t *slow)
{
	int n_fast = sp_unwind(uw, in, fast, MAX_FRAMES);
	int n_slow = sp_unwind_libunwind(uw, in, slow, MAX_FRAMES, 1);

	if (n_fast != n_slow || memcmp(fast, slow, (size_t)n_fast * 8)) {
		print_message("fast %d frames, libunwind %d:\n", n_fast, n_slow);
		for (int i = 0; i < n_fast || i < n_slow; i++)
			print_message("  %2d %#18llx %#18llx\n", i,
			              (unsigned long long)(i < n_fast ? fast[i] : 0),
			              (unsigned long long)(i < n_slow ? slow[i] : 0));
	}
	assert_int_equal(n_fast, n_slow);
	assert_memory_equal(fast, slow, (size_t)n_fast * 8);
	return n_fast;
}

static int in_some_object(uint64_t pc)
{
	for (size_t i = 0; i < maps->n_objs; i++)
		if (pc >= maps->objs[i].text_lo && pc < maps->objs[i].text_hi)
			return 1;
	return 0;
}

/* As unwind_both, except where sp_unwind stops on purpose: at a return
 * address in no object, where libunwind tries a fixup meant for leaves
 * (unwind.c).  There the fast path's pcs must be a prefix of libunwind's. */
static int unwind_both_garbage(const struct sp_uw_input *in, uint64_t *fast,
                               uint64_t *slow)
{
	int n_fast = sp_unwind(uw, in, fast, MAX_FRAMES);
	int n_slow = sp_unwind_libunwind(uw, in, slow, MAX_FRAMES, 1);

	if (n_fast < n_slow && n_fast > 1 && !in_some_object(fast[n_fast - 1])) {
		assert_memory_equal(fast, slow, (size_t)n_fast * 8);
		return n_fast;
	}
	return unwind_both(in, fast, slow);
}

static int setup(void **state)
{
	pthread_attr_t a;
	void *addr;
	size_t size;
	(void)state;

	if (pthread_getattr_np(pthread_self(), &a) ||
	    pthread_attr_getstack(&a, &addr, &size))
		return -1;
	pthread_attr_destroy(&a);
	stack_hi = (uintptr_t)addr + size;
	if (sp_maps_new(&maps) || sp_unwinder_new(maps, &uw))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sp_unwinder_free(uw);
	sp_maps_free(maps);
	return 0;
}

static void test_unwind_frame_pointer_chain(void **state)
{
	uint64_t fast[MAX_FRAMES], slow[MAX_FRAMES];
	struct sp_unwind_stats st0, st1;
	int n;
	(void)state;

	fp_a(&cap);
	sp_unwinder_get_stats(uw, &st0);
	n = unwind_both(&cap.in, fast, slow);
	sp_unwinder_get_stats(uw, &st1);
	assert_true(n >= 5);
	assert_int_equal(fast[0], cap.in.regs[SP_REG_RIP]);
	assert_int_equal(fast[1], ras[0]); /* in fp_b */
	assert_int_equal(fast[2], ras[1]); /* in fp_a */
	assert_int_equal(fast[3], ras[2]); /* in this test */
	/* cmocka, main, __libc_start_call_main, _start: all have CFI. */
	assert_int_equal(st1.fast_stacks - st0.fast_stacks, 1);
}

static void test_unwind_frameless_recursion(void **state)
{
	uint64_t fast[MAX_FRAMES], slow[MAX_FRAMES];
	struct sp_unwind_stats st0, st1;
	int n;
	(void)state;

	descend(&cap, DEPTH, 1);
	sp_unwinder_get_stats(uw, &st0);
	n = unwind_both(&cap.in, fast, slow);
	sp_unwinder_get_stats(uw, &st1);
	assert_true(n >= DEPTH + 3);
	for (int d = 0; d <= DEPTH; d++)
		assert_int_equal(fast[1 + d], ras[d]);
	assert_int_equal(st1.fast_stacks - st0.fast_stacks, 1);
}

static void test_unwind_through_libc(void **state)
{
	uint64_t fast[MAX_FRAMES], slow[MAX_FRAMES];
	int v[64], n;
	(void)state;

	for (int i = 0; i < 64; i++)
		v[i] = (i * 37) % 64;
	captured_in_qsort = 0;
	qsort(v, 64, sizeof(int), cmp_and_capture);
	assert_true(captured_in_qsort);
	n = unwind_both(&cap.in, fast, slow);
	assert_true(n >= 5); /* cmp, msort..., qsort, this test, ... */
}

static void test_unwind_through_signal_frame(void **state)
{
	uint64_t fast[MAX_FRAMES], slow[MAX_FRAMES];
	struct sigaction sa, old;
	struct sp_unwind_stats st0, st1;
	int n;
	(void)state;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigusr1;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	raise(SIGUSR1);
	sigaction(SIGUSR1, &old, NULL);
	sp_unwinder_get_stats(uw, &st0);
	n = unwind_both(&cap.in, fast, slow);
	sp_unwinder_get_stats(uw, &st1);
	/* handler, __restore_rt, raise's frames, this test, ... */
	assert_true(n >= 5);
	/* __restore_rt's CFI is expressions in an 'S' CIE: libunwind's. */
	assert_int_equal(st1.fallbacks[SP_CFI_UNSUPPORTED] -
	                 st0.fallbacks[SP_CFI_UNSUPPORTED], 1);
}

/* A blocked thread: only rsp and rip, from /proc/self/task/TID/syscall. */
static void test_unwind_rsp_rip_only(void **state)
{
	uint64_t fast[MAX_FRAMES], slow[MAX_FRAMES];
	struct sp_unwind_stats st0, st1;
	struct sp_uw_input in;
	int n;
	(void)state;

	descend(&cap, DEPTH, 1);
	in = cap.in;
	in.have = (1u << SP_REG_RSP) | (1u << SP_REG_RIP);
	sp_unwinder_get_stats(uw, &st0);
	n = unwind_both(&in, fast, slow);
	sp_unwinder_get_stats(uw, &st1);
	/* The frameless frames need no rbp; this test's frame (-O0, CFA
	 * based on rbp, which nobody saved) is as far as one can go, for
	 * libunwind too; the fast path knows it and stops there. */
	assert_true(n >= DEPTH + 2);
	assert_int_equal(st1.fast_stacks - st0.fast_stacks, 1);
#ifndef __OPTIMIZE__
	assert_int_equal(n, DEPTH + 2);
	assert_int_equal(st1.rbp_stops - st0.rbp_stops, 1);
#endif

	fp_a(&cap);
	in = cap.in;
	in.have = (1u << SP_REG_RSP) | (1u << SP_REG_RIP);
	n = unwind_both(&in, fast, slow);
	assert_true(n >= 1);
}

static void test_unwind_truncated_copies(void **state)
{
	uint64_t fast[MAX_FRAMES], slow[MAX_FRAMES], full[MAX_FRAMES];
	struct sp_uw_input in;
	int n_full;
	(void)state;

	descend(&cap, DEPTH, 1);
	n_full = sp_unwind(uw, &cap.in, full, MAX_FRAMES);
	in = cap.in;
	for (size_t len = 0; len <= cap.in.stack_len; len += 4) {
		int n;
		in.stack_len = len;
		n = unwind_both(&in, fast, slow);
		assert_true(n >= 1 && n <= n_full);
		assert_memory_equal(fast, full, (size_t)n * 8);
		/* Not past the end: the whole copy gives the same. */
		n = sp_unwind(uw, &in, fast, MAX_FRAMES);
		if (!sp_unwind_past_end(uw)) {
			assert_int_equal(n, n_full);
			assert_memory_equal(fast, full, (size_t)n * 8);
		}
		/* A stack cut inside the frames wants more. */
		if (n < n_full)
			assert_true(sp_unwind_past_end(uw));
	}
	/* The whole copy, but room for 3 pcs only. */
	assert_int_equal(sp_unwind(uw, &cap.in, fast, 3), 3);
	assert_memory_equal(fast, full, 3 * 8);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Random stack contents, with real return addresses planted here and
 * there so that some walks go several frames deep.  Bounded: every call
 * returns at most MAX_FRAMES pcs; and both paths agree. */
static void test_unwind_garbage_stack(void **state)
{
	static uint8_t junk[8192];
	uint64_t fast[MAX_FRAMES], slow[MAX_FRAMES], seed = 0x9e3779b97f4a7c15u;
	uint64_t real[DEPTH + 8], part[MAX_FRAMES];
	struct sp_uw_input in;
	int long_walks = 0, same_short = 0, k;
	(void)state;

	descend(&cap, DEPTH, 1);
	for (int d = 0; d <= DEPTH; d++)
		real[d] = ras[d];
	real[DEPTH + 1] = cap.in.regs[SP_REG_RIP];
	for (int iter = 0; iter < 3000; iter++) {
		uint64_t lo = 0x7ff000000000ull + (xorshift(&seed) & 0xfffff000u);
		uint64_t ra_odds = iter % 2 ? 5 : 2; /* 1 in 5, 1 in 2 */
		int n;

		for (size_t i = 0; i < sizeof(junk); i += 8) {
			uint64_t w = xorshift(&seed);
			if (w % ra_odds == 0)
				w = real[(w >> 8) % (DEPTH + 2)];
			else if (w % 5 == 1)
				w = lo + (w % sizeof(junk)); /* plausible rbp */
			memcpy(junk + i, &w, 8);
		}
		memset(&in, 0, sizeof(in));
		in.regs[SP_REG_RSP] = lo;
		in.regs[SP_REG_RBP] = lo + (xorshift(&seed) % sizeof(junk));
		in.regs[SP_REG_RIP] = iter % 3 ? real[xorshift(&seed) %
		                                      (DEPTH + 2)]
		                               : xorshift(&seed) | 1;
		in.have = (1u << SP_REG_RSP) | (1u << SP_REG_RIP);
		if (iter % 2)
			in.have |= 1u << SP_REG_RBP;
		in.stack = junk;
		in.stack_lo = lo;
		in.stack_len = xorshift(&seed) % (sizeof(junk) + 1);
		n = unwind_both_garbage(&in, fast, slow);
		assert_true(n >= 1 && n <= MAX_FRAMES);
		long_walks += n > 3;
		/* A shorter copy that the walk did not read past gives the
		 * same frames (probe_copy.c relies on it), on either path. */
		in.stack_len = xorshift(&seed) % (in.stack_len + 1);
		k = sp_unwind(uw, &in, part, MAX_FRAMES);
		if (!sp_unwind_past_end(uw)) {
			assert_int_equal(k, n);
			assert_memory_equal(part, fast, (size_t)n * 8);
			same_short++;
		}
	}
	print_message("garbage stacks: %d cut copies not read past the "
	              "end\n", same_short);
	print_message("garbage stacks: %d of 3000 walks went past 3 frames\n",
	              long_walks);
}

/* Random pcs anywhere in libc's text, on stacks made of more such pcs and
 * of plausible rbp values: a walk through the CFI rows of many FDEs, with
 * rbp known or not, compared with libunwind. */
static void test_unwind_random_libc_pcs(void **state)
{
	static uint8_t junk[4096];
	const struct sp_object *libc = NULL;
	uint64_t fast[MAX_FRAMES], slow[MAX_FRAMES], seed = 0x2545f4914f6cdd1du;
	struct sp_unwind_stats st0, st1;
	struct sp_uw_input in;
	int frames = 0;
	(void)state;

	for (size_t i = 0; i < maps->n_objs; i++)
		if (strstr(maps->objs[i].path, "/libc.so"))
			libc = &maps->objs[i];
	if (!libc)
		skip();
	sp_unwinder_get_stats(uw, &st0);
	for (int iter = 0; iter < 2000; iter++) {
		uint64_t lo = 0x7ff100000000ull + (xorshift(&seed) & 0xfffff000u);
		uint64_t text = libc->text_hi - libc->text_lo;

		for (size_t i = 0; i < sizeof(junk); i += 8) {
			uint64_t w = xorshift(&seed);
			w = w % 3 ? libc->text_lo + (w >> 8) % text
			          : lo + (w >> 8) % sizeof(junk);
			memcpy(junk + i, &w, 8);
		}
		memset(&in, 0, sizeof(in));
		in.regs[SP_REG_RSP] = lo;
		in.regs[SP_REG_RBP] = lo + (xorshift(&seed) % sizeof(junk));
		in.regs[SP_REG_RIP] = libc->text_lo + xorshift(&seed) % text;
		in.have = (1u << SP_REG_RSP) | (1u << SP_REG_RIP);
		if (iter % 2)
			in.have |= 1u << SP_REG_RBP;
		in.stack = junk;
		in.stack_lo = lo;
		in.stack_len = sizeof(junk);
		frames += unwind_both_garbage(&in, fast, slow);
	}
	sp_unwinder_get_stats(uw, &st1);
	print_message("random libc pcs: %d frames in 2000 walks, %llu of %llu "
	              "stacks without libunwind\n", frames,
	              (unsigned long long)(st1.fast_stacks - st0.fast_stacks),
	              (unsigned long long)(st1.stacks - st0.stacks));
}

/* Leaf pcs in every FDE of an object (first byte, last bytes before the
 * next FDE, one at random) on random stacks: every CFA program of the
 * object runs to completion somewhere; compared with libunwind. */
static int sweep_fdes(const struct sp_object *o, uint64_t *seed)
{
	static uint8_t junk[4096];
	uint64_t fast[MAX_FRAMES], slow[MAX_FRAMES];
	uint64_t text = o->text_hi - o->text_lo;
	struct sp_uw_input in;
	int walks = 0;

	for (uint64_t i = 0; i < o->fde_count; i++) {
		int32_t loc, next;
		uint64_t start, end;

		memcpy(&loc, (const void *)(o->eh_table + 8 * i), 4);
		if (i + 1 < o->fde_count)
			memcpy(&next, (const void *)(o->eh_table + 8 * i + 8), 4);
		else
			next = loc + 64;
		start = o->eh_frame_hdr + (uint64_t)(int64_t)loc;
		end = o->eh_frame_hdr + (uint64_t)(int64_t)next;
		if (end <= start)
			continue;
		for (int j = 0; j < 4; j++) {
			uint64_t lo = 0x7ff200000000ull +
			              (xorshift(seed) & 0xfffff000u);
			uint64_t pcs4[4] = {start, end - 1, end - 2,
			                    start + xorshift(seed) % (end - start)};

			for (size_t b = 0; b < sizeof(junk); b += 8) {
				uint64_t w = xorshift(seed);
				w = w % 3 ? lo + (w >> 8) % sizeof(junk)
				          : o->text_lo + (w >> 8) % text;
				memcpy(junk + b, &w, 8);
			}
			memset(&in, 0, sizeof(in));
			in.regs[SP_REG_RIP] = pcs4[j];
			in.regs[SP_REG_RSP] = lo;
			in.regs[SP_REG_RBP] = lo + xorshift(seed) % sizeof(junk);
			in.have = (1u << SP_REG_RSP) | (1u << SP_REG_RIP) |
			          (1u << SP_REG_RBP);
			in.stack = junk;
			in.stack_lo = lo;
			in.stack_len = sizeof(junk);
			unwind_both_garbage(&in, fast, slow);
			walks++;
			if (j == 0) {
				/* An FDE starts here: the leaf's rule must
				 * come from it (max 2: the leaf's step only). */
				struct sp_unwind_stats a, b;
				sp_unwinder_get_stats(uw, &a);
				sp_unwind(uw, &in, fast, 2);
				sp_unwinder_get_stats(uw, &b);
				assert_int_equal(b.fallbacks[SP_CFI_NOINFO],
				                 a.fallbacks[SP_CFI_NOINFO]);
			}
		}
	}
	return walks;
}

static void test_unwind_every_fde_as_leaf(void **state)
{
	/* OpenSSL's perlasm frames use CFA expressions: load libcrypto if
	 * it is installed. */
	void *crypto = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
	uint64_t seed = 0x5851f42d4c957f2du;
	struct sp_unwind_stats st0, st1;
	int walks = 0;
	(void)state;

	sp_maps_refresh(maps);
	sp_unwinder_get_stats(uw, &st0);
	for (size_t i = 0; i < maps->n_objs; i++) {
		const struct sp_object *o = &maps->objs[i];
		if (strstr(o->path, "/libc.so") ||
		    strstr(o->path, "/libcrypto.so") ||
		    strstr(o->path, "test_unwind"))
			walks += sweep_fdes(o, &seed);
	}
	sp_unwinder_get_stats(uw, &st1);
	print_message("every FDE: %d leaf walks%s, %llu of %llu stacks "
	              "without libunwind\n", walks,
	              crypto ? " (with libcrypto)" : "",
	              (unsigned long long)(st1.fast_stacks - st0.fast_stacks),
	              (unsigned long long)(st1.stacks - st0.stacks));
	if (crypto)
		dlclose(crypto);
	sp_maps_refresh(maps);
	sp_unwinder_flush(uw);
}

static void test_unwind_flush(void **state)
{
	uint64_t a[MAX_FRAMES], b[MAX_FRAMES];
	struct sp_unwind_stats st0, st1;
	int n;
	(void)state;

	descend(&cap, DEPTH, 1);
	n = sp_unwind(uw, &cap.in, a, MAX_FRAMES);
	sp_unwinder_get_stats(uw, &st0);
	sp_unwinder_flush(uw);
	assert_int_equal(sp_unwind(uw, &cap.in, b, MAX_FRAMES), n);
	assert_memory_equal(a, b, (size_t)n * 8);
	sp_unwinder_get_stats(uw, &st1);
	assert_int_equal(st1.flushes, st0.flushes + 1);
	assert_true(st1.rule_misses > st0.rule_misses);
	/* Warm again: no more misses. */
	sp_unwind(uw, &cap.in, b, MAX_FRAMES);
	sp_unwinder_get_stats(uw, &st0);
	sp_unwind(uw, &cap.in, b, MAX_FRAMES);
	sp_unwinder_get_stats(uw, &st1);
	assert_int_equal(st1.rule_misses, st0.rule_misses);
}

static void test_unwind_new_oom(void **state)
{
	struct sp_unwinder *u = NULL;
	int err = -ENOMEM;
	(void)state;

	for (unsigned long n = 1; err == -ENOMEM && n < 100; n++) {
		sp_alloc_fail_at(n);
		err = sp_unwinder_new(maps, &u);
		sp_alloc_fail_at(0);
		assert_true(err == 0 || err == -ENOMEM);
	}
	assert_int_equal(err, 0);
	sp_unwinder_free(u);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Printed, not asserted: this machine is shared and noisy. */
static void test_unwind_cost(void **state)
{
	uint64_t pcs[32], t0, fast_ns, slow_ns;
	int fast_n = 20000, slow_n = 200;
	(void)state;

	descend(&cap, DEPTH, 1);
	assert_int_equal(sp_unwind(uw, &cap.in, pcs, 32), 32);
	t0 = now_ns();
	for (int i = 0; i < fast_n; i++)
		sp_unwind(uw, &cap.in, pcs, 32);
	fast_ns = (now_ns() - t0) / (uint64_t)fast_n;
	/* Cached, as sp_unwind uses it for the frames it hands over. */
	assert_int_equal(sp_unwind_libunwind(uw, &cap.in, pcs, 32, 0), 32);
	t0 = now_ns();
	for (int i = 0; i < slow_n; i++)
		sp_unwind_libunwind(uw, &cap.in, pcs, 32, 0);
	slow_ns = (now_ns() - t0) / (uint64_t)slow_n;
	print_message("32-frame unwind: CFI rules %llu ns, libunwind %llu ns\n",
	              (unsigned long long)fast_ns,
	              (unsigned long long)slow_ns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unwind_frame_pointer_chain),
	    cmocka_unit_test(test_unwind_frameless_recursion),
	    cmocka_unit_test(test_unwind_through_libc),
	    cmocka_unit_test(test_unwind_through_signal_frame),
	    cmocka_unit_test(test_unwind_rsp_rip_only),
	    cmocka_unit_test(test_unwind_truncated_copies),
	    cmocka_unit_test(test_unwind_garbage_stack),
	    cmocka_unit_test(test_unwind_random_libc_pcs),
	    cmocka_unit_test(test_unwind_every_fde_as_leaf),
	    cmocka_unit_test(test_unwind_flush),
	    cmocka_unit_test(test_unwind_new_oom),
	    cmocka_unit_test(test_unwind_cost),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
