/*
 * test_store.c - the sample store: stack interning, the thread table,
 * resolution into frames (with no symbolizer and with the fake one below),
 * frame ids, total/self counts under recursion, incremental resolve, and
 * allocation-failure loops.  Run under valgrind or ASan to see leaks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "store.h"
#include "symbols.h"

/* ---- a fake symbolizer: a few functions at fixed addresses ---- */

struct fake_fn {
	uint64_t start, end;
	const char *name, *file;
	int fn_line;
};

#define OBJ "/usr/lib/libfake.so"
static const struct fake_fn fake_fns[] = {
	{ 0x1000, 0x1100, "main", "/src/main.c", 10 },
	{ 0x1100, 0x1200, "fib", "/src/fib.c", 20 },
	{ 0x1200, 0x1300, "leaf", NULL, 30 },   /* no source file */
	{ 0x1300, 0x1400, "nolines", NULL, 0 },
};

/* Counts lookups so the test can see the pc cache work. */
static unsigned long fake_lookups;

int sp_symbols_lookup(struct sp_symbols *sy, uint64_t pc,
                      struct sp_symbol *out)
{
	size_t i;

	(void)sy;
	fake_lookups++;
	memset(out, 0, sizeof(*out));
	if (pc >= 0x9000 && pc < 0xa000) { /* object without symbols */
		out->object = OBJ;
		return 0;
	}
	for (i = 0; i < SP_ARRAY_LEN(fake_fns); i++) {
		const struct fake_fn *f = &fake_fns[i];

		if (pc >= f->start && pc < f->end) {
			out->name = f->name;
			out->object = OBJ;
			out->file = f->file;
			out->start = f->start;
			out->fn_line = f->fn_line;
			/* a line per 16 bytes */
			out->line = f->fn_line ? f->fn_line + (int)((pc - f->start) / 16) : 0;
			return 0;
		}
	}
	return -ENOENT;
}

#define FAKE_SYMS ((struct sp_symbols *)&fake_lookups)

static struct sp_store *new_store(void)
{
	struct sp_store *st;

	assert_int_equal(sp_store_new(&st), 0);
	assert_non_null(st);
	return st;
}

static uint32_t intern(struct sp_store *st, const uint64_t *pcs, uint32_t n)
{
	uint32_t idx = UINT32_MAX;

	assert_int_equal(sp_store_intern(st, pcs, n, &idx), 0);
	return idx;
}

static const struct sp_frame *frame_at(const struct sp_store *st,
                                       uint32_t stack, uint32_t k)
{
	assert_true(stack < st->n_stacks);
	assert_true(k < st->stacks[stack].n);
	assert_true(st->stacks[stack].frames[k] < st->n_frames);
	return &st->frames[st->stacks[stack].frames[k]];
}

static void test_store_interns_identical_stacks(void **state)
{
	struct sp_store *st = new_store();
	uint64_t a[] = { 1, 2, 3 }, a2[] = { 1, 2, 3 }, b[] = { 1, 2, 4 };
	uint64_t prefix[] = { 1, 2 };
	uint32_t ia, ib, ie;

	(void)state;
	ia = intern(st, a, 3);
	assert_int_equal(intern(st, a2, 3), ia);
	ib = intern(st, b, 3);
	assert_int_not_equal(ia, ib);
	assert_int_not_equal(intern(st, prefix, 2), ia);
	ie = intern(st, NULL, 0);
	assert_int_equal(intern(st, NULL, 0), ie);
	assert_int_equal(st->n_stacks, 4);
	assert_int_equal(st->stacks[ia].n, 3);
	assert_memory_equal(st->stacks[ia].pcs, a, sizeof(a));
	sp_store_free(st);
}

/* Far more stacks than the initial buckets: chains, growth, rehash. */
static void test_store_interns_many_stacks(void **state)
{
	enum { N = 50000 };
	struct sp_store *st = new_store();
	uint64_t pcs[4];
	uint32_t i, idx;

	(void)state;
	for (i = 0; i < N; i++) {
		pcs[0] = 0x400000 + i;
		pcs[1] = i % 97;
		pcs[2] = i / 7;
		pcs[3] = 42;
		assert_int_equal(intern(st, pcs, 1 + i % 4), i);
	}
	assert_int_equal(st->n_stacks, N);
	assert_true(st->n_buckets >= N);
	assert_int_equal(st->n_buckets & (st->n_buckets - 1), 0);
	for (i = 0; i < N; i++) {
		pcs[0] = 0x400000 + i;
		pcs[1] = i % 97;
		pcs[2] = i / 7;
		pcs[3] = 42;
		idx = intern(st, pcs, 1 + i % 4);
		assert_int_equal(idx, i);
	}
	assert_int_equal(st->n_stacks, N);
	sp_store_free(st);
}

static void test_store_threads(void **state)
{
	struct sp_store *st = new_store();
	uint32_t a, b, c, i, idx;

	(void)state;
	assert_int_equal(sp_store_thread(st, 100, "main", &a), 0);
	assert_int_equal(sp_store_thread(st, 101, "worker", &b), 0);
	assert_int_not_equal(a, b);
	assert_int_equal(sp_store_thread(st, 100, "main", &c), 0);
	assert_int_equal(c, a);
	/* renamed with pthread_setname_np; NULL keeps the name */
	assert_int_equal(sp_store_thread(st, 101, "io-loop", &c), 0);
	assert_int_equal(c, b);
	assert_string_equal(st->threads[b].name, "io-loop");
	assert_int_equal(sp_store_thread(st, 101, NULL, &c), 0);
	assert_string_equal(st->threads[b].name, "io-loop");
	assert_int_equal(sp_store_thread(st, 102, "a-very-long-thread-name", &c), 0);
	assert_string_equal(st->threads[c].name, "a-very-long-thr");
	for (i = 0; i < 2000; i++)
		assert_int_equal(sp_store_thread(st, 5000 + i * 7, "t", &idx), 0);
	for (i = 0; i < 2000; i++) {
		assert_int_equal(sp_store_thread(st, 5000 + i * 7, "t", &idx), 0);
		assert_int_equal(idx, 3 + i);
		assert_int_equal(st->threads[idx].tid, 5000 + i * 7);
	}
	assert_int_equal(st->n_threads, 2003);
	sp_store_free(st);
}

static void check_frame_ids(const struct sp_store *st)
{
	size_t i, j;

	for (i = 0; i < st->n_frames; i++) {
		uint64_t id = st->frames[i].id;

		assert_true(id >= 8 && id % 2 == 0 && id < (UINT64_C(1) << 53));
		for (j = 0; j < i; j++)
			assert_true(st->frames[j].id != id);
	}
}

static void test_store_resolve_without_symbols(void **state)
{
	struct sp_store *st = new_store();
	uint64_t a[] = { 0x7f0000001234, 0x400100 }, b[] = { 0x400100 };
	uint32_t t, ia, ib, ie;

	(void)state;
	assert_int_equal(sp_store_thread(st, 1, "main", &t), 0);
	ia = intern(st, a, 2);
	ib = intern(st, b, 1);
	ie = intern(st, NULL, 0);
	assert_int_equal(sp_store_add_sample(st, ia, t, 10, SP_STATE_ONCPU), 0);
	assert_int_equal(sp_store_add_sample(st, ib, t, 20, SP_STATE_OFFCPU), 0);
	assert_int_equal(sp_store_add_sample(st, ie, t, 30, SP_STATE_ONCPU), 0);
	assert_int_equal(st->threads[t].samples, 3);
	assert_int_equal(sp_store_resolve(st, NULL), 0);
	assert_true(st->resolved);

	assert_string_equal(frame_at(st, ia, 0)->name, "0x7f0000001234");
	assert_string_equal(frame_at(st, ia, 0)->file, "");
	assert_int_equal(frame_at(st, ia, 0)->line, 0);
	/* the raw pc names a frame, as leaf or caller alike */
	assert_string_equal(frame_at(st, ia, 1)->name, "0x400100");
	assert_string_equal(frame_at(st, ib, 0)->name, "0x400100");
	assert_int_equal(st->stacks[ia].lines[0], 0);
	/* an unknown frame is keyed by its raw pc, leaf or caller alike */
	assert_ptr_equal(frame_at(st, ia, 1), frame_at(st, ib, 0));
	assert_int_equal(st->n_frames, 2);
	check_frame_ids(st);
	assert_int_equal(st->frames[0].id, 8);
	sp_store_free(st);
}

static const struct sp_frame *frame_named(const struct sp_store *st,
                                          const char *name)
{
	size_t i;

	for (i = 0; i < st->n_frames; i++)
		if (!strcmp(st->frames[i].name, name))
			return &st->frames[i];
	fail_msg("no frame %s", name);
	return NULL;
}

static void test_store_resolve_with_symbols(void **state)
{
	struct sp_store *st = new_store();
	/* leaf in fib at 0x1120; fib called from main; main's call is the
	 * last instruction of main, so the return address 0x1100 is fib's
	 * first byte and only pc - 1 finds main. */
	uint64_t a[] = { 0x1120, 0x1100 };
	uint64_t b[] = { 0x1230, 0x1141, 0x1100 }; /* leaf <- fib <- main */
	uint64_t c[] = { 0x9010, 0x1310, 0x5 };    /* no symbol; unknown */
	uint32_t t, ia, ib, ic;
	const struct sp_frame *f;

	(void)state;
	assert_int_equal(sp_store_thread(st, 1, "main", &t), 0);
	ia = intern(st, a, 2);
	ib = intern(st, b, 3);
	ic = intern(st, c, 3);
	assert_int_equal(sp_store_add_sample(st, ia, t, 1, 0), 0);
	assert_int_equal(sp_store_add_sample(st, ib, t, 2, 0), 0);
	assert_int_equal(sp_store_add_sample(st, ic, t, 3, 0), 0);
	assert_int_equal(sp_store_resolve(st, FAKE_SYMS), 0);

	assert_string_equal(frame_at(st, ia, 0)->name, "fib");
	assert_string_equal(frame_at(st, ia, 1)->name, "main");
	assert_int_equal(st->stacks[ia].lines[0], 20 + 2);
	assert_int_equal(st->stacks[ia].lines[1], 10 + 15); /* 0x10ff */
	/* fib at 0x1120 (leaf) and 0x1141 (caller) is one frame */
	assert_ptr_equal(frame_at(st, ib, 1), frame_at(st, ia, 0));
	assert_int_equal(st->stacks[ib].lines[1], 20 + 4);
	f = frame_named(st, "fib");
	assert_string_equal(f->file, "/src/fib.c");
	assert_string_equal(f->object, OBJ);
	assert_int_equal(f->line, 20);
	f = frame_named(st, "leaf");
	assert_string_equal(f->file, OBJ); /* no source: the object */
	assert_int_equal(f->line, 30);
	assert_string_equal(frame_at(st, ic, 0)->name, "0x9010 (libfake.so)");
	assert_string_equal(frame_at(st, ic, 0)->file, OBJ);
	assert_string_equal(frame_at(st, ic, 1)->name, "nolines");
	assert_int_equal(frame_at(st, ic, 1)->line, 0);
	assert_string_equal(frame_at(st, ic, 2)->name, "0x5");
	assert_int_equal(st->n_frames, 6);
	check_frame_ids(st);
	sp_store_free(st);
}

/* total once per sample even under recursion; self for the leaf only. */
static void test_store_counts_recursion(void **state)
{
	struct sp_store *st = new_store();
	uint64_t rec[] = { 0x1110, 0x1150, 0x1150, 0x1150, 0x1050 };
	uint64_t other[] = { 0x1210, 0x1150, 0x1050 };
	uint32_t t, ir, io;
	int i;

	(void)state;
	assert_int_equal(sp_store_thread(st, 1, "main", &t), 0);
	ir = intern(st, rec, 5);
	io = intern(st, other, 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(sp_store_add_sample(st, ir, t, i, 0), 0);
	assert_int_equal(sp_store_add_sample(st, io, t, 9, 0), 0);
	assert_int_equal(sp_store_resolve(st, FAKE_SYMS), 0);
	assert_int_equal(frame_named(st, "fib")->total_samples, 4);
	assert_int_equal(frame_named(st, "fib")->self_samples, 3);
	assert_int_equal(frame_named(st, "main")->total_samples, 4);
	assert_int_equal(frame_named(st, "main")->self_samples, 0);
	assert_int_equal(frame_named(st, "leaf")->total_samples, 1);
	assert_int_equal(frame_named(st, "leaf")->self_samples, 1);
	/* idempotent: nothing new, same counts */
	assert_int_equal(sp_store_resolve(st, FAKE_SYMS), 0);
	assert_int_equal(frame_named(st, "fib")->total_samples, 4);
	sp_store_free(st);
}

/* A second run after resolve: old ids stay, new stacks get frames, counts
 * cover all samples. */
static void test_store_resolve_incremental(void **state)
{
	struct sp_store *st = new_store();
	uint64_t a[] = { 0x1110, 0x1050 }, b[] = { 0x1210, 0x1050 };
	uint64_t fib_id, main_id;
	unsigned long lookups;
	uint32_t t, ia, ib;

	(void)state;
	assert_int_equal(sp_store_thread(st, 1, "main", &t), 0);
	ia = intern(st, a, 2);
	assert_int_equal(sp_store_add_sample(st, ia, t, 1, 0), 0);
	assert_int_equal(sp_store_resolve(st, FAKE_SYMS), 0);
	fib_id = frame_named(st, "fib")->id;
	main_id = frame_named(st, "main")->id;
	assert_int_equal(frame_named(st, "main")->total_samples, 1);

	ib = intern(st, b, 2);
	assert_false(st->resolved);
	assert_int_equal(sp_store_add_sample(st, ib, t, 2, 0), 0);
	assert_int_equal(sp_store_add_sample(st, ia, t, 3, 0), 0);
	lookups = fake_lookups;
	assert_int_equal(sp_store_resolve(st, FAKE_SYMS), 0);
	/* only the new leaf pc was looked up; main's return address is cached */
	assert_int_equal(fake_lookups - lookups, 1);
	assert_int_equal(frame_named(st, "fib")->id, fib_id);
	assert_int_equal(frame_named(st, "main")->id, main_id);
	assert_int_equal(frame_named(st, "main")->total_samples, 3);
	assert_int_equal(frame_named(st, "fib")->total_samples, 2);
	assert_int_equal(frame_named(st, "leaf")->self_samples, 1);
	sp_store_free(st);
}

static void test_store_add_frame(void **state)
{
	struct sp_store *st = new_store();
	uint32_t a, b;

	(void)state;
	assert_int_equal(sp_store_add_frame(st, "f", "/f.c", "/bin/x", 3, &a), 0);
	assert_int_equal(sp_store_add_frame(st, "g", NULL, NULL, 0, &b), 0);
	assert_int_equal(st->frames[a].id, 8);
	assert_int_equal(st->frames[b].id, 16);
	assert_string_equal(st->frames[b].file, "");
	assert_string_equal(st->frames[b].object, "");
	sp_store_free(st);
}

/* Everything a session does with a store; returns the first error. */
static int scenario(int resolve)
{
	struct sp_store *st = NULL;
	uint64_t pcs[6];
	uint32_t t, idx, i;
	int err;

	err = sp_store_new(&st);
	if (err)
		return err;
	for (i = 0; i < 1500; i++) {
		err = sp_store_thread(st, 100 + (pid_t)(i % 70), "worker", &t);
		if (err)
			goto out;
		pcs[0] = 0x1000 + (i % 0x400);      /* several functions */
		pcs[1] = 0x1150;
		pcs[2] = i % 3 ? 0x9000 + i : 0x1050; /* unknown pcs too */
		pcs[3] = 0x1050;
		err = sp_store_intern(st, pcs, 1 + i % 4, &idx);
		if (err)
			goto out;
		err = sp_store_add_sample(st, idx, t, i, i % 2);
		if (err)
			goto out;
	}
	if (resolve)
		err = sp_store_resolve(st, FAKE_SYMS);
out:
	sp_store_free(st);
	return err;
}

static void test_store_oom_loop(void **state)
{
	unsigned long n;
	int err;

	(void)state;
	for (n = 1;; n++) {
		sp_alloc_fail_at(n);
		err = scenario(1);
		sp_alloc_fail_at(0);
		if (!err)
			break;
		assert_int_equal(err, -ENOMEM);
	}
	assert_true(n > 20);
	print_message("store OOM loop: %lu allocation points\n", n - 1);
}

/* resolve failing at any allocation, then retried, ends like a clean one */
static void test_store_resolve_retry_after_oom(void **state)
{
	struct sp_store *ref = new_store(), *st;
	uint64_t pcs[3];
	uint32_t t, idx, i;
	unsigned long n;
	int err, fails = 0;

	(void)state;
	for (n = 1;; n++) {
		st = new_store();
		for (i = 0; i < 300; i++) {
			pcs[0] = 0x1000 + i * 3;
			pcs[1] = 0x9000 + i % 5;
			pcs[2] = 0x1050;
			assert_int_equal(sp_store_thread(st, 1, "m", &t), 0);
			idx = intern(st, pcs, 3);
			assert_int_equal(sp_store_add_sample(st, idx, t, i, 0), 0);
			if (n == 1) {
				assert_int_equal(sp_store_thread(ref, 1, "m", &t), 0);
				idx = intern(ref, pcs, 3);
				assert_int_equal(sp_store_add_sample(ref, idx, t, i, 0), 0);
			}
		}
		if (n == 1)
			assert_int_equal(sp_store_resolve(ref, FAKE_SYMS), 0);
		sp_alloc_fail_at(n);
		err = sp_store_resolve(st, FAKE_SYMS);
		sp_alloc_fail_at(0);
		if (!err) {
			sp_store_free(st);
			break;
		}
		fails++;
		assert_int_equal(err, -ENOMEM);
		assert_false(st->resolved);
		assert_int_equal(sp_store_resolve(st, FAKE_SYMS), 0);
		/* same frames, ids and counts as the clean run */
		assert_int_equal(st->n_frames, ref->n_frames);
		for (i = 0; i < st->n_frames; i++) {
			assert_string_equal(st->frames[i].name, ref->frames[i].name);
			assert_int_equal(st->frames[i].id, ref->frames[i].id);
			assert_int_equal(st->frames[i].total_samples,
			                 ref->frames[i].total_samples);
			assert_int_equal(st->frames[i].self_samples,
			                 ref->frames[i].self_samples);
		}
		for (i = 0; i < st->n_stacks; i++)
			assert_memory_equal(st->stacks[i].frames,
			                    ref->stacks[i].frames,
			                    st->stacks[i].n * sizeof(uint32_t));
		sp_store_free(st);
	}
	assert_true(fails > 10);
	sp_store_free(ref);
}

/* A reused tid is a new thread: its own entry, and lookups find it,
 * also after the tid index has grown. */
static void test_store_reused_tid_gets_new_entry(void **state)
{
	struct sp_store *st;
	uint32_t old_idx, new_idx, idx;
	(void)state;

	assert_int_equal(sp_store_new(&st), 0);
	assert_int_equal(sp_store_thread(st, 4242, "old", &old_idx), 0);
	assert_int_equal(sp_store_thread_new(st, 4242, "new", &new_idx), 0);
	assert_int_not_equal(old_idx, new_idx);
	assert_int_equal(sp_store_thread(st, 4242, "new", &idx), 0);
	assert_int_equal(idx, new_idx);
	assert_string_equal(st->threads[old_idx].name, "old");
	for (pid_t t = 1; t < 300; t++) /* force index growth */
		assert_int_equal(sp_store_thread(st, 10000 + t, "x", &idx), 0);
	assert_int_equal(sp_store_thread(st, 4242, "new", &idx), 0);
	assert_int_equal(idx, new_idx);
	assert_int_equal(st->n_threads, 2 + 299);
	sp_store_free(st);
}

/* Samples far past one mapping's first sizes (several mremaps, which may
 * move the array, and the batches populated ahead) keep every value in
 * order; a bound that doubling would pass is taken exactly. */
static void test_store_many_samples_survive_growth(void **state)
{
	enum { N = 400000, BOUND = 300001 };
	struct sp_store *st;
	uint64_t pcs[2] = {0x1000, 0x1100};
	uint32_t stk[2], thr[3];
	(void)state;

	for (int bounded = 0; bounded < 2; bounded++) {
		size_t want = bounded ? BOUND : N;
		st = new_store();
		st->limits.max_samples = bounded ? BOUND : 0;
		stk[0] = intern(st, pcs, 1);
		stk[1] = intern(st, pcs, 2);
		for (int t = 0; t < 3; t++)
			assert_int_equal(sp_store_thread(st, 100 + t, "w",
			                                 &thr[t]), 0);
		for (uint32_t i = 0; i < N; i++) {
			int err = sp_store_add_sample(st, stk[i & 1],
			                              thr[i % 3],
			                              1000u * i + 7, i & 3);
			assert_int_equal(err, i < want ? 0 : -ENOSPC);
		}
		assert_int_equal(st->n_samples, want);
		assert_true(st->cap_samples >= want);
		assert_true(st->samples_ready <= st->cap_samples);
		if (bounded) {
			assert_int_equal(st->cap_samples, BOUND);
			assert_int_equal(st->info.dropped_sample_limit,
			                 N - BOUND);
		}
		for (uint32_t i = 0; i < want; i++) {
			const struct sp_sample *sm = &st->samples[i];
			assert_int_equal(sm->stack, stk[i & 1]);
			assert_int_equal(sm->thread, thr[i % 3]);
			assert_int_equal(sm->t_ns, 1000u * i + 7);
			assert_int_equal(sm->state, i & 3);
		}
		sp_store_free(st);
	}
}

/* sp_map_grow: contents kept, whole pages used, the bound kept, and a
 * failure (injected, or a size that overflows) leaves the array as it
 * was; sp_map_prefault leaves the contents alone. */
static void test_map_grow(void **state)
{
	uint32_t *a = NULL, *before;
	size_t cap = 0, cap_before;
	(void)state;

	assert_int_equal(sp_map_grow((void **)&a, &cap, 10, 0, sizeof(*a)), 0);
	assert_non_null(a);
	assert_true(cap >= 10 && cap * sizeof(*a) % 4096 == 0);
	for (uint32_t i = 0; i < cap; i++)
		a[i] = i * 3u;
	for (size_t need = cap + 1; need < (4u << 20); need *= 3) {
		size_t old = cap;
		assert_int_equal(sp_map_grow((void **)&a, &cap, need, 0,
		                             sizeof(*a)), 0);
		assert_true(cap >= need);
		sp_map_prefault(a, old * sizeof(*a), cap * sizeof(*a));
		for (uint32_t i = 0; i < old; i++)
			assert_int_equal(a[i], i * 3u);
		for (size_t i = old; i < cap; i++) {
			assert_int_equal(a[i], 0); /* fresh pages */
			a[i] = (uint32_t)i * 3u;
		}
	}
	before = a;
	cap_before = cap;
	assert_int_equal(sp_map_grow((void **)&a, &cap, cap, 0, sizeof(*a)), 0);
	assert_ptr_equal(a, before); /* nothing to do */
	sp_alloc_fail_at(1);
	assert_int_equal(sp_map_grow((void **)&a, &cap, cap + 1, 0,
	                             sizeof(*a)), -ENOMEM);
	sp_alloc_fail_at(0);
	assert_int_equal(sp_map_grow((void **)&a, &cap, SIZE_MAX / 2, 0,
	                             sizeof(*a)), -ENOMEM);
	assert_ptr_equal(a, before);
	assert_int_equal(cap, cap_before);
	assert_int_equal(a[cap - 1], (uint32_t)(cap - 1) * 3u);
	/* A bound below the doubling is taken as it is. */
	assert_int_equal(sp_map_grow((void **)&a, &cap, cap + 1, cap + 5,
	                             sizeof(*a)), 0);
	assert_int_equal(cap, cap_before + 5);
	assert_int_equal(a[cap_before - 1], (uint32_t)(cap_before - 1) * 3u);
	sp_map_free(a, cap, sizeof(*a));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_interns_identical_stacks),
		cmocka_unit_test(test_store_interns_many_stacks),
		cmocka_unit_test(test_store_threads),
		cmocka_unit_test(test_store_reused_tid_gets_new_entry),
		cmocka_unit_test(test_store_resolve_without_symbols),
		cmocka_unit_test(test_store_resolve_with_symbols),
		cmocka_unit_test(test_store_counts_recursion),
		cmocka_unit_test(test_store_resolve_incremental),
		cmocka_unit_test(test_store_add_frame),
		cmocka_unit_test(test_store_oom_loop),
		cmocka_unit_test(test_store_resolve_retry_after_oom),
		cmocka_unit_test(test_store_many_samples_survive_growth),
		cmocka_unit_test(test_map_grow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
