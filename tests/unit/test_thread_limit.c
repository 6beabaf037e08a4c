/*
 * test_thread_limit.c - the bound on thread entries (max_threads): past it
 * threads share one "(other threads)" entry, their samples stay in the
 * profile and they are counted (metadata thread_limit); merged stores keep
 * the shared entry and every count; a real session under thread churn
 * keeps its thread table at the bound (heap figures printed with and
 * without the bound).  Also: each segment of a run (a period) carries its
 * own loss counters, not the whole run's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"
#include "session.h"
#include "snapshot.h"
#include "stillprof.h"
#include "store.h"
#include "sampling_fixture.h"

static void test_fold_past_the_bound(void **state)
{
	struct sp_store *st;
	uint64_t pc = 0x1000;
	uint32_t stack, idx[8], again;
	size_t cap;
	(void)state;

	assert_int_equal(sp_store_new(&st), 0);
	st->limits.max_threads = 4;
	assert_int_equal(sp_store_intern(st, &pc, 1, &stack), 0);
	for (int i = 0; i < 8; i++) {
		char name[16];
		snprintf(name, sizeof(name), "t%d", i);
		assert_int_equal(sp_store_thread_new(st, 100 + i, name, &idx[i]),
		                 0);
		assert_int_equal(sp_store_add_sample(st, stack, idx[i], 1, 0),
		                 0);
	}
	/* Three threads of their own, the fourth entry is the shared one. */
	assert_int_equal(st->n_threads, 4);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(st->threads[idx[i]].tid, 100 + i);
		assert_false(sp_store_thread_is_other(st, idx[i]));
	}
	for (int i = 3; i < 8; i++) {
		assert_int_equal(idx[i], idx[3]);
		assert_true(sp_store_thread_is_other(st, idx[i]));
	}
	assert_int_equal(st->threads[idx[3]].tid, 0);
	assert_string_equal(st->threads[idx[3]].name, SP_OTHER_THREADS_NAME);
	assert_int_equal(st->threads[idx[3]].samples, 5);
	assert_int_equal(st->info.folded_threads, 5);
	assert_int_equal(st->n_samples, 8); /* nothing dropped */
	/* Known threads are still found; the shared entry never by tid and
	 * never renamed; attach of a new thread past the bound folds too. */
	assert_int_equal(sp_store_thread(st, 101, "t1", &again), 0);
	assert_int_equal(again, idx[1]);
	sp_store_thread_rename(st, idx[3], "renamed");
	assert_string_equal(st->threads[idx[3]].name, SP_OTHER_THREADS_NAME);
	sp_store_thread_rename(st, idx[0], "renamed");
	assert_string_equal(st->threads[idx[0]].name, "renamed");
	assert_int_equal(sp_store_thread_attach(st, 999, "x", 12345, &again), 0);
	assert_int_equal(again, idx[3]);
	assert_int_equal(st->threads[idx[3]].start_ticks, 0);
	/* Thousands more: the table does not grow. */
	cap = st->cap_threads;
	for (int i = 0; i < 5000; i++)
		assert_int_equal(sp_store_thread_new(st, 1000 + i, "c", &again),
		                 0);
	assert_int_equal(st->n_threads, 4);
	assert_int_equal(st->cap_threads, cap);
	assert_int_equal(st->info.folded_threads, 5 + 1 + 5000);
	sp_store_free(st);
}

static void test_fold_one_entry_only(void **state)
{
	struct sp_store *st;
	uint32_t a, b;
	(void)state;

	assert_int_equal(sp_store_new(&st), 0);
	st->limits.max_threads = 1;
	assert_int_equal(sp_store_thread(st, 7, "a", &a), 0);
	assert_int_equal(sp_store_thread(st, 8, "b", &b), 0);
	assert_int_equal(a, b);
	assert_int_equal(st->n_threads, 1);
	assert_int_equal(st->info.folded_threads, 2);
	sp_store_free(st);
}

static void test_merge_keeps_other_and_counts(void **state)
{
	struct sp_store *src, *dst;
	uint64_t pcs[2] = {0x1000, 0x2000};
	uint32_t s0, s1, t[4], d;
	(void)state;

	assert_int_equal(sp_store_new(&src), 0);
	src->limits.max_threads = 3;
	assert_int_equal(sp_store_intern(src, pcs, 1, &s0), 0);
	assert_int_equal(sp_store_intern(src, pcs + 1, 1, &s1), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(sp_store_thread_new(src, 10 + i, "s", &t[i]),
		                 0);
		assert_int_equal(sp_store_add_sample(src, i & 1 ? s1 : s0, t[i],
		                                     (uint64_t)i, 0),
		                 0);
	}
	/* 10, 11 own entries; 12, 13 folded. */
	assert_int_equal(src->info.folded_threads, 2);
	src->info.lost_records = 3;
	src->info.missed_ticks = 4;
	src->info.offcpu_unknown = 5;
	src->info.missed_samples = 12;

	assert_int_equal(sp_store_new(&dst), 0);
	dst->limits.max_threads = 2;
	dst->limits.max_stacks = 1;
	assert_int_equal(sp_store_thread_new(dst, 50, "d", &d), 0);
	assert_int_equal(sp_store_merge(dst, src), 0);
	/* dst: 50, then "(other threads)" for 10, 11 and src's shared one. */
	assert_int_equal(dst->n_threads, 2);
	assert_true(sp_store_thread_is_other(dst, 1));
	assert_int_equal(dst->info.folded_threads, 2 + 2);
	/* One stack fits: the samples of the other are dropped, each
	 * counted, and the merge still succeeds. */
	assert_int_equal(dst->n_stacks, 1);
	assert_int_equal(dst->n_samples, 2);
	assert_int_equal(dst->info.dropped_stack_limit, 2);
	assert_int_equal(dst->threads[1].samples, 2);
	assert_int_equal(dst->info.lost_records, 3);
	assert_int_equal(dst->info.missed_ticks, 4);
	assert_int_equal(dst->info.offcpu_unknown, 5);
	assert_int_equal(dst->info.missed_samples, 12 + 2);
	sp_store_free(dst);
	sp_store_free(src);
}

static void test_options(void **state)
{
	struct stillprof_options o;
	stillprof_session *s;
	char err[256];
	(void)state;

	stillprof_options_init(&o);
	assert_int_equal(o.max_threads, STILLPROF_DEFAULT_MAX_THREADS);
	setenv("STILLPROF_MAX_THREADS", "64", 1);
	assert_int_equal(stillprof_options_from_env(&o, err, sizeof(err)), 0);
	assert_int_equal(o.max_threads, 64);
	setenv("STILLPROF_MAX_THREADS", "lots", 1);
	assert_int_equal(stillprof_options_from_env(&o, err, sizeof(err)),
	                 STILLPROF_EBADOPTION);
	assert_non_null(strstr(err, "STILLPROF_MAX_THREADS"));
	assert_int_equal(o.max_threads, 64);
	unsetenv("STILLPROF_MAX_THREADS");
	assert_int_equal(sp_check_limit_option("STILLPROF_MAX_THREADS", "0",
	                                       err, sizeof(err)),
	                 0);
	assert_int_equal(sp_check_limit_option("STILLPROF_MAX_THREADS",
	                                       "99999999999", err, sizeof(err)),
	                 STILLPROF_EBADOPTION);
	o.max_threads = 5000000000ul;
	assert_int_equal(stillprof_session_new(&o, &s), STILLPROF_EBADOPTION);
}

/* ---- a real session under churn ---- */

static void *short_life(void *arg)
{
	uint64_t x = sink, until = sp_now_ns() + 2000000; /* ~2 ms */
	(void)arg;
	while (sp_now_ns() < until)
		for (int i = 0; i < 1000; i++)
			x = x * 6364136223846793005ull + 1;
	sink = x;
	return NULL;
}

/* n threads, 8 at a time. */
static void churn(int n)
{
	pthread_t th[8];

	for (int i = 0; i < n; i += 8) {
		for (int k = 0; k < 8; k++)
			assert_int_equal(
			    pthread_create(&th[k], NULL, short_life, NULL), 0);
		for (int k = 0; k < 8; k++)
			pthread_join(th[k], NULL);
	}
}

static size_t heap_used(void)
{
	return mallinfo2().uordblks;
}

/* Run: warm-up churn, then `more` threads; return the heap growth over
 * the second part and leave the stopped session in *out. */
static long churn_run(unsigned long max_threads, int more,
                      stillprof_session **out)
{
	struct stillprof_options o;
	stillprof_session *s;
	size_t before;

	stillprof_options_init(&o);
	o.max_threads = max_threads;
	/* Small bounds on stacks and samples: reached in the warm-up, so
	 * what grows after it is the thread table alone. */
	o.max_stacks = 50;
	o.max_samples = 200;
	o.raw = 1;
	assert_int_equal(stillprof_session_new(&o, &s), 0);
	assert_int_equal(stillprof_session_start(s), 0);
	churn(200);
	before = heap_used();
	churn(more);
	assert_int_equal(stillprof_session_stop(s), 0);
	*out = s;
	return (long)heap_used() - (long)before;
}

static void test_session_under_churn(void **state)
{
	stillprof_session *s;
	char dir[] = "/tmp/stillprof-tlimit-XXXXXX", path[128];
	uint64_t sum = 0;
	long grow_capped, grow_free;
	size_t free_entries;
	FILE *f;
	char *doc;
	long n;
	(void)state;

	if (!perf_usable())
		skip();
	alarm(300);
	grow_free = churn_run(0, 800, &s);
	free_entries = s->store->n_threads;
	stillprof_session_free(s);
	grow_capped = churn_run(16, 800, &s);
	printf("# 800 threads after a 200-thread warm-up: heap %+ld bytes "
	       "with max_threads 0 (%zu entries), +%ld with max_threads 16 "
	       "(%zu entries, %llu threads folded)\n",
	       grow_free, free_entries, grow_capped, s->store->n_threads,
	       (unsigned long long)s->store->info.folded_threads);
	assert_true(s->store->n_threads <= 16);
	assert_true(s->store->info.folded_threads > 0);
	assert_true(free_entries > 16);
	/* Every sample is attributed to an entry and counted there. */
	for (size_t i = 0; i < s->store->n_threads; i++)
		sum += s->store->threads[i].samples;
	assert_int_equal(sum, s->store->n_samples);
	/* The profile says so. */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.json", dir);
	assert_int_equal(
	    stillprof_session_write(s, path, STILLPROF_FORMAT_JSON), 0);
	f = fopen(path, "re");
	assert_non_null(f);
	doc = calloc(1, 1 << 22);
	assert_non_null(doc);
	n = (long)fread(doc, 1, (1 << 22) - 1, f);
	fclose(f);
	assert_true(n > 0);
	{
		char want[64];
		snprintf(want, sizeof(want), "\"thread_limit\":%llu",
		         (unsigned long long)s->store->info.folded_threads);
		assert_non_null(strstr(doc, want));
		assert_non_null(strstr(doc, "\"max_threads\":16"));
		assert_non_null(strstr(doc, "\"(other threads)\""));
	}
	free(doc);
	unlink(path);
	rmdir(dir);
	stillprof_session_free(s);
	alarm(0);
}

/* Each period (a tap's take) and the store left at stop carry the loss
 * counts of their own span, not the session's since its creation. */
static void test_period_counts(void **state)
{
	struct stillprof_options o;
	stillprof_session *s;
	struct sp_tap *tap;
	struct sp_store *p1, *p2;
	uint64_t lost0 = 1000, ticks0 = 2000, unknown0 = 3000;
	uint64_t lost_t, ticks_t, unknown_t;
	(void)state;

	if (!perf_usable())
		skip();
	stillprof_options_init(&o);
	o.max_samples = 123456;
	assert_int_equal(stillprof_session_new(&o, &s), 0);
	sp_snap_set_cumulative(s, 0);
	/* Losses before this run (the session is idle: ours to set). */
	s->c.lost_records = lost0;
	s->c.missed_ticks = ticks0;
	s->c.offcpu_unknown = unknown0;
	assert_int_equal(stillprof_session_start(s), 0);
	assert_int_equal(sp_snap_tap_open(s, &tap), 0);
	/* The tap starts at the cut it made: the counts at that cut are its
	 * base (the cut replays the ticks up to it, and a tick of a thread
	 * whose stack could not be read, counted in offcpu_unknown, goes
	 * to the segment before the tap: one ASan CI run of three, 0 in 6
	 * reruns of that binary, when the base was the counts at start). */
	lost_t = s->snap->lost_base;
	ticks_t = s->snap->ticks_base;
	unknown_t = s->snap->unknown_base;
	assert_true(lost_t >= lost0 && ticks_t >= ticks0 &&
	            unknown_t >= unknown0);
	usleep(50 * 1000);
	assert_int_equal(sp_snap_tap_take(s, tap, &p1, NULL, NULL), 0);
	usleep(50 * 1000);
	assert_int_equal(stillprof_session_stop(s), 0);
	assert_int_equal(sp_snap_tap_take(s, tap, &p2, NULL, NULL), 0);
	printf("# period 1: lost %llu ticks %llu; period 2: lost %llu "
	       "ticks %llu; run: lost %llu ticks %llu\n",
	       (unsigned long long)p1->info.lost_records,
	       (unsigned long long)p1->info.missed_ticks,
	       (unsigned long long)p2->info.lost_records,
	       (unsigned long long)p2->info.missed_ticks,
	       (unsigned long long)(s->c.lost_records - lost0),
	       (unsigned long long)(s->c.missed_ticks - ticks0));
	/* The periods split the tap's losses between them exactly. */
	assert_int_equal(p1->info.lost_records + p2->info.lost_records,
	                 s->c.lost_records - lost_t);
	assert_int_equal(p1->info.missed_ticks + p2->info.missed_ticks,
	                 s->c.missed_ticks - ticks_t);
	assert_int_equal(p1->info.offcpu_unknown + p2->info.offcpu_unknown,
	                 s->c.offcpu_unknown - unknown_t);
	for (int i = 0; i < 2; i++) {
		const struct sp_store *p = i ? p2 : p1;
		assert_int_equal(p->info.missed_samples,
		                 p->info.lost_records + p->info.missed_ticks +
		                     p->info.offcpu_unknown +
		                     p->info.dropped_stack_limit +
		                     p->info.dropped_sample_limit);
		/* Periods carry the session's bounds (metadata limits). */
		assert_int_equal(p->limits.max_samples, 123456);
		assert_int_equal(p->limits.max_threads,
		                 STILLPROF_DEFAULT_MAX_THREADS);
	}
	/* Not cumulative: the store left is the last segment, with its
	 * own counts. */
	assert_int_equal(s->store->info.lost_records, p2->info.lost_records);
	assert_int_equal(s->store->info.missed_ticks, p2->info.missed_ticks);
	sp_store_free(p1);
	sp_store_free(p2);
	sp_snap_tap_close(s, tap);
	stillprof_session_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold_past_the_bound),
		cmocka_unit_test(test_fold_one_entry_only),
		cmocka_unit_test(test_merge_keeps_other_and_counts),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_session_under_churn),
		cmocka_unit_test(test_period_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
