/*
 * writers_fixture.h - the hand-made profile the writer tests share
 * (test_pprof.c, test_collapsed.c, test_stackprof_json.c, ...): a fake
 * symbolizer and a store with two threads, recursion, two pcs of one
 * line, an empty stack, a Ruby-looking frame without an object, and a
 * native frame whose name needs escaping.  Included once per test
 * program (it defines sp_symbols_lookup).
 */
#ifndef WRITERS_FIXTURE_H
#define WRITERS_FIXTURE_H

#include <string.h>

#include "internal.h"
#include "store.h"
#include "symbols.h"

#define FX_LIBC "/lib/x86_64-linux-gnu/libc.so.6"

/* Names of the odd frame: plain (JSON-safe, Marshal-identical) or with an
 * invalid UTF-8 byte. */
static const char *fx_odd_name = "odd;name \"q\"\n\\";

int sp_symbols_lookup(struct sp_symbols *sy, uint64_t pc,
                      struct sp_symbol *out)
{
	static const struct {
		uint64_t start;
		const char *name, *file, *object;
		int fn_line;
	} fns[] = {
		{ 0x1000, "main", "/src/main.c", "/usr/bin/app", 10 },
		{ 0x1100, "fib", "/src/fib.c", "/usr/bin/app", 20 },
		{ 0x1200, "leaf", NULL, "/usr/bin/app", 30 },
		{ 0x1300, "<main>", "/app/x.rb", "", 1 },
		{ 0x1400, NULL, NULL, FX_LIBC, 0 }, /* name: fx_odd_name */
	};
	size_t i;

	(void)sy;
	memset(out, 0, sizeof(*out));
	for (i = 0; i < SP_ARRAY_LEN(fns); i++) {
		if (pc >= fns[i].start && pc < fns[i].start + 0x100) {
			out->name = fns[i].name ? fns[i].name : fx_odd_name;
			out->file = fns[i].file;
			out->object = fns[i].object;
			out->start = fns[i].start;
			out->fn_line = fns[i].fn_line;
			out->line = !fns[i].fn_line ? 0 :
			    fns[i].fn_line + (int)(pc - fns[i].start) / 16;
			return 0;
		}
	}
	return -ENOENT;
}

#define FX_SYMS ((struct sp_symbols *)1)
#define FX_START_NS UINT64_C(5000000000)
#define FX_N_SAMPLES 12

/* Optional parts of the store (fx_store has them all). */
#define FX_EMPTY 1u   /* E E on worker */
#define FX_ODD 2u     /* R on main, O O on worker, and their stacks */
#define FX_ALL (FX_EMPTY | FX_ODD)

/*
 * Samples (leaf first):  A = leaf <- fib <- fib <- main,  A2 = A at
 * another pc of the same line,  B = fib <- main,  E = no frame,
 * R = <main> <- main,  O = odd <- main.
 *   main (1001):   A A2 A B A R
 *   worker (1002): A E E B O O    (B's timestamp is before E's)
 */
static struct sp_store *fx_store_parts(unsigned parts)
{
	static const uint64_t A[] = { 0x1210, 0x1150, 0x1150, 0x1050 };
	static const uint64_t A2[] = { 0x1211, 0x1150, 0x1150, 0x1050 };
	static const uint64_t B[] = { 0x1120, 0x1050 };
	static const uint64_t R[] = { 0x1310, 0x1050 };
	static const uint64_t O[] = { 0x1400, 0x1050 };
	struct sp_store *st;
	uint32_t t1, t2, a, a2, b, e, r = 0, o = 0;

	assert_int_equal(sp_store_new(&st), 0);
	st->info.mode = STILLPROF_MODE_WALL;
	st->info.interval_us = 1000;
	st->info.start_ns = FX_START_NS;
	st->info.start_realtime_ns = UINT64_C(1700000000123456789);
	st->info.duration_ns = 1000000000;
	st->info.missed_samples = 2;
	st->info.backend = "test";
	st->info.guarantee = "none";
	st->info.pid = 4242;
	assert_int_equal(sp_store_thread(st, 1001, "main", &t1), 0);
	assert_int_equal(sp_store_thread(st, 1002, "worker", &t2), 0);
	assert_int_equal(sp_store_intern(st, A, 4, &a), 0);
	assert_int_equal(sp_store_intern(st, A2, 4, &a2), 0);
	assert_int_equal(sp_store_intern(st, B, 2, &b), 0);
	assert_int_equal(sp_store_intern(st, NULL, 0, &e), 0);
	if (parts & FX_ODD) {
		assert_int_equal(sp_store_intern(st, R, 2, &r), 0);
		assert_int_equal(sp_store_intern(st, O, 2, &o), 0);
	}
#define FX_ADD(stack, thread, us)                                              \
	assert_int_equal(sp_store_add_sample(st, stack, thread,              \
	                                     FX_START_NS + (us) * 1000, 0), 0)
	FX_ADD(a, t1, 1000);
	FX_ADD(a2, t1, 2000);
	FX_ADD(a, t1, 3000);
	FX_ADD(b, t1, 4000);
	FX_ADD(a, t1, 5000);
	FX_ADD(a, t2, 5000);
	if (parts & FX_EMPTY) {
		FX_ADD(e, t2, 6000);
		FX_ADD(e, t2, 7000);
	}
	FX_ADD(b, t2, 6500);
	if (parts & FX_ODD) {
		FX_ADD(r, t1, 6000);
		FX_ADD(o, t2, 8000);
		FX_ADD(o, t2, 9000);
	}
#undef FX_ADD
	assert_int_equal(sp_store_resolve(st, FX_SYMS), 0);
	return st;
}

__attribute__((unused)) static struct sp_store *fx_store(void)
{
	return fx_store_parts(FX_ALL);
}

/* A store with one pc interned but not resolved. */
__attribute__((unused)) static struct sp_store *fx_unresolved(void)
{
	static const uint64_t pc[] = { 0x1000 };
	struct sp_store *st;
	uint32_t t, k;

	assert_int_equal(sp_store_new(&st), 0);
	assert_int_equal(sp_store_thread(st, 1, "x", &t), 0);
	assert_int_equal(sp_store_intern(st, pc, 1, &k), 0);
	assert_int_equal(sp_store_add_sample(st, k, t, 1, 0), 0);
	return st;
}

/*
 * Fail the 1st, 2nd, ... allocation of CALL (a writer call whose sink is
 * `fx_sink`) until it succeeds.  Every failed run must return -ENOMEM
 * (part of the text may be in the sink: the memory sink's own growth
 * fails too), the run that succeeds must write exactly what an
 * undisturbed run writes, and more than MIN_FAILS allocations must have
 * been exercised (so the loop cannot pass by never failing).
 */
#define FX_ASSERT_OOM_LOOP(CALL, MIN_FAILS)                                    \
	do {                                                                   \
		struct sp_sink fx_ref, fx_s, *fx_sink = &fx_ref;               \
		unsigned long fx_n;                                            \
		int fx_err;                                                    \
		sp_sink_init_mem(&fx_ref);                                     \
		assert_int_equal((CALL), 0);                                   \
		fx_sink = &fx_s;                                               \
		for (fx_n = 1;; fx_n++) {                                      \
			sp_sink_init_mem(&fx_s);                               \
			sp_alloc_fail_at(fx_n);                                \
			fx_err = (CALL);                                       \
			sp_alloc_fail_at(0);                                   \
			if (!fx_err)                                           \
				break;                                         \
			assert_int_equal(fx_err, -ENOMEM);                     \
			sp_sink_fini(&fx_s);                                   \
		}                                                              \
		assert_true(fx_n > (MIN_FAILS));                               \
		assert_int_equal(fx_s.len, fx_ref.len);                        \
		assert_memory_equal(fx_s.buf, fx_ref.buf, fx_s.len);           \
		sp_sink_fini(&fx_s);                                           \
		sp_sink_fini(&fx_ref);                                         \
	} while (0)


#endif
