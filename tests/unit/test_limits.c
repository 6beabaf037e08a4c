/*
 * test_limits.c - the memory bounds of a recording: max_stacks,
 * max_samples and max_depth refuse, cut and count, never lose silently;
 * their STILLPROF_* variables and range checks; and a real session whose
 * bounds are hit reports what was dropped in missed_samples and in the
 * profile's metadata.
 */
#define _GNU_SOURCE
#include <errno.h>
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

#include "session.h"
#include "stillprof.h"
#include "store.h"
#include "sampling_fixture.h"

static void test_limits_store_max_stacks(void **state)
{
	struct sp_store *st;
	uint64_t pcs[3] = {0x1000, 0x2000, 0x3000};
	uint32_t idx, thr;
	(void)state;

	assert_int_equal(sp_store_new(&st), 0);
	st->limits.max_stacks = 2;
	assert_int_equal(sp_store_thread(st, 1, "t", &thr), 0);
	assert_int_equal(sp_store_intern(st, pcs, 1, &idx), 0);
	assert_int_equal(sp_store_intern(st, pcs, 2, &idx), 0);
	/* A third distinct stack is refused and counted ... */
	assert_int_equal(sp_store_intern(st, pcs, 3, &idx), -ENOSPC);
	assert_int_equal(sp_store_intern(st, pcs + 1, 1, &idx), -ENOSPC);
	assert_int_equal(st->info.dropped_stack_limit, 2);
	assert_int_equal(st->n_stacks, 2);
	/* ... while the known ones are still found. */
	assert_int_equal(sp_store_intern(st, pcs, 2, &idx), 0);
	assert_int_equal(idx, 1);
	assert_int_equal(sp_store_add_sample(st, idx, thr, 1, 0), 0);
	assert_int_equal(st->info.dropped_stack_limit, 2);
	sp_store_free(st);
}

static void test_limits_store_max_samples(void **state)
{
	struct sp_store *st;
	uint64_t pc = 0x1000;
	uint32_t idx, thr;
	(void)state;

	assert_int_equal(sp_store_new(&st), 0);
	st->limits.max_samples = 37;
	assert_int_equal(sp_store_thread(st, 1, "t", &thr), 0);
	assert_int_equal(sp_store_intern(st, &pc, 1, &idx), 0);
	for (int i = 0; i < 37; i++)
		assert_int_equal(sp_store_add_sample(st, idx, thr, (uint64_t)i, 0),
		                 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(sp_store_add_sample(st, idx, thr, 99, 0),
		                 -ENOSPC);
	assert_int_equal(st->n_samples, 37);
	assert_int_equal(st->info.dropped_sample_limit, 5);
	/* The array never grew past the bound. */
	assert_true(st->cap_samples <= 37);
	assert_int_equal(st->threads[thr].samples, 37);
	sp_store_free(st);
}

static void test_limits_store_counts_truncated(void **state)
{
	struct sp_store *st;
	uint64_t pcs[4] = {1, 2, 3, 4};
	uint32_t shallow, deep, thr;
	(void)state;

	assert_int_equal(sp_store_new(&st), 0);
	st->limits.max_depth = 4;
	assert_int_equal(sp_store_thread(st, 1, "t", &thr), 0);
	assert_int_equal(sp_store_intern(st, pcs, 3, &shallow), 0);
	assert_int_equal(sp_store_intern(st, pcs, 4, &deep), 0);
	assert_int_equal(sp_store_add_sample(st, shallow, thr, 1, 0), 0);
	assert_int_equal(sp_store_add_sample(st, deep, thr, 2, 0), 0);
	assert_int_equal(sp_store_add_sample(st, deep, thr, 3, 0), 0);
	assert_int_equal(st->info.truncated_samples, 2);
	sp_store_free(st);
}

static void test_limits_store_no_limits_by_default(void **state)
{
	struct sp_store *st;
	uint64_t pcs[1];
	uint32_t idx, thr;
	(void)state;

	/* Stores read from dumps have no bounds. */
	assert_int_equal(sp_store_new(&st), 0);
	assert_int_equal(sp_store_thread(st, 1, "t", &thr), 0);
	for (int i = 0; i < 3000; i++) {
		pcs[0] = (uint64_t)i + 1;
		assert_int_equal(sp_store_intern(st, pcs, 1, &idx), 0);
		assert_int_equal(sp_store_add_sample(st, idx, thr, 1, 0), 0);
	}
	assert_int_equal(st->info.dropped_stack_limit, 0);
	assert_int_equal(st->info.dropped_sample_limit, 0);
	sp_store_free(st);
}

static void test_limits_options_and_environment(void **state)
{
	struct stillprof_options o;
	stillprof_session *s;
	char err[256];
	(void)state;

	stillprof_options_init(&o);
	assert_int_equal(o.max_stacks, STILLPROF_DEFAULT_MAX_STACKS);
	assert_int_equal(o.max_samples, STILLPROF_DEFAULT_MAX_SAMPLES);
	setenv("STILLPROF_MAX_STACKS", "123", 1);
	setenv("STILLPROF_MAX_SAMPLES", "0", 1);
	assert_int_equal(stillprof_options_from_env(&o, err, sizeof(err)), 0);
	assert_int_equal(o.max_stacks, 123);
	assert_int_equal(o.max_samples, 0); /* no bound */
	setenv("STILLPROF_MAX_SAMPLES", "-5", 1);
	assert_int_equal(stillprof_options_from_env(&o, err, sizeof(err)),
	                 STILLPROF_EBADOPTION);
	assert_non_null(strstr(err, "STILLPROF_MAX_SAMPLES"));
	assert_int_equal(o.max_samples, 0); /* unchanged */
	setenv("STILLPROF_MAX_SAMPLES", "10", 1);
	setenv("STILLPROF_MAX_STACKS", "99999999999", 1);
	assert_int_equal(stillprof_options_from_env(&o, err, sizeof(err)),
	                 STILLPROF_EBADOPTION);
	assert_non_null(strstr(err, "STILLPROF_MAX_STACKS"));
	unsetenv("STILLPROF_MAX_STACKS");
	unsetenv("STILLPROF_MAX_SAMPLES");
	/* The CLI's check of a flag value. */
	assert_int_equal(sp_check_limit_option("STILLPROF_MAX_DEPTH", "0", err,
	                                       sizeof(err)),
	                 STILLPROF_EBADOPTION);
	assert_int_equal(sp_check_limit_option("STILLPROF_MAX_DEPTH", "16",
	                                       err, sizeof(err)),
	                 0);
	assert_int_equal(sp_check_limit_option("STILLPROF_MAX_STACKS", "1x",
	                                       err, sizeof(err)),
	                 STILLPROF_EBADOPTION);
	assert_int_equal(sp_check_limit_option("STILLPROF_MAX_SAMPLES", "7",
	                                       err, sizeof(err)),
	                 0);
	/* A session refuses bounds past what the store can index. */
	stillprof_options_init(&o);
	o.max_stacks = 5000000000ul;
	assert_int_equal(stillprof_session_new(&o, &s), STILLPROF_EBADOPTION);
	stillprof_options_init(&o);
	o.max_depth = 0;
	assert_int_equal(stillprof_session_new(&o, &s), STILLPROF_EBADOPTION);
}

/* ---- a real session past its bounds ---- */

/* Recursion gives deep stacks (past max_depth) and, through the depth
 * argument, many distinct ones (past max_stacks). */
__attribute__((noinline)) static uint64_t spin(void)
{
	uint64_t x = sink;
	for (int i = 0; i < 20000; i++)
		x = x * 6364136223846793005ull + 1;
	sink = x;
	return x;
}

__attribute__((noinline)) static uint64_t deep(int n)
{
	/* Used after the call: no tail-call or loop conversion at -O2. */
	volatile int pad = n;
	uint64_t r = n > 0 ? deep(n - 1) : spin();
	return r + (uint64_t)pad;
}

__attribute__((noinline)) static uint64_t wide_a(int n) { return deep(n) + 1; }
__attribute__((noinline)) static uint64_t wide_b(int n) { return deep(n) + 2; }

static void *busy(void *arg)
{
	unsigned k = 0;
	(void)arg;
	while (!atomic_load(&stop_flag)) {
		k++;
		if (k & 1)
			wide_a((int)(k % 40));
		else
			wide_b((int)(k % 40));
	}
	return NULL;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static uint64_t json_uint(const char *doc, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(doc, pat);
	assert_non_null(p);
	return strtoull(p + strlen(pat), NULL, 10);
}

static void test_limits_session_reports_drops(void **state)
{
	struct stillprof_options o;
	struct stillprof_stats stt;
	stillprof_session *s;
	pthread_t th[2];
	char dir[] = "/tmp/stillprof-limits-XXXXXX", path[128];
	char *doc;
	uint64_t dropped;
	(void)state;

	if (!perf_usable())
		skip();
	assert_non_null(mkdtemp(dir));
	stillprof_options_init(&o);
	o.mode = STILLPROF_MODE_CPU;
	o.interval_us = 200;
	o.max_depth = 8;
	o.max_stacks = 5;
	o.max_samples = 300;
	assert_int_equal(stillprof_session_new(&o, &s), 0);
	atomic_store(&stop_flag, 0);
	assert_int_equal(stillprof_session_start(s), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, busy, NULL), 0);
	/* ~15 000 samples due at 2 x 5 kHz of CPU time: far past both
	 * bounds even on a loaded machine.  (The store is not read while
	 * the sampler runs: it is the sampler's alone.) */
	usleep(1500 * 1000);
	atomic_store(&stop_flag, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(stillprof_session_stop(s), 0);
	assert_int_equal(stillprof_session_stats(s, &stt), 0);
	assert_true(s->store->n_samples <= 300);
	assert_true(s->store->n_stacks <= 5);
	for (size_t i = 0; i < s->store->n_stacks; i++)
		assert_true(s->store->stacks[i].n <= 8);
	dropped = s->store->info.dropped_stack_limit +
	          s->store->info.dropped_sample_limit;
	printf("# %llu samples kept, %llu dropped at the stack bound, %llu "
	       "at the sample bound, %llu truncated, missed %llu\n",
	       (unsigned long long)s->store->n_samples,
	       (unsigned long long)s->store->info.dropped_stack_limit,
	       (unsigned long long)s->store->info.dropped_sample_limit,
	       (unsigned long long)s->store->info.truncated_samples,
	       (unsigned long long)stt.missed_samples);
	/* Under valgrind the kernel samples its JIT: stacks are short. */
	if (!getenv("STILLPROF_UNDER_VALGRIND")) {
		assert_true(s->store->info.dropped_stack_limit > 0);
		assert_true(s->store->info.truncated_samples > 0);
	}
	assert_true(stt.missed_samples >= dropped);
	assert_int_equal(s->store->info.missed_samples, stt.missed_samples);
	/* The profile says it too. */
	snprintf(path, sizeof(path), "%s/out.json", dir);
	assert_int_equal(stillprof_session_write(s, path, STILLPROF_FORMAT_JSON),
	                 0);
	doc = slurp(path);
	assert_int_equal(json_uint(doc, "missed_samples"), stt.missed_samples);
	assert_int_equal(json_uint(doc, "max_depth"), 8);
	assert_int_equal(json_uint(doc, "max_stacks"), 5);
	assert_int_equal(json_uint(doc, "max_samples"), 300);
	assert_int_equal(json_uint(doc, "stack_limit"),
	                 s->store->info.dropped_stack_limit);
	assert_int_equal(json_uint(doc, "sample_limit"),
	                 s->store->info.dropped_sample_limit);
	assert_int_equal(json_uint(doc, "truncated_stacks"),
	                 s->store->info.truncated_samples);
	free(doc);
	unlink(path);
	stillprof_session_free(s);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits_store_max_stacks),
		cmocka_unit_test(test_limits_store_max_samples),
		cmocka_unit_test(test_limits_store_counts_truncated),
		cmocka_unit_test(test_limits_store_no_limits_by_default),
		cmocka_unit_test(test_limits_options_and_environment),
		cmocka_unit_test(test_limits_session_reports_drops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
