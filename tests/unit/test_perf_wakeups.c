/*
 * test_perf_wakeups.c - the perf back-end's wake-up policy (backend_perf.c):
 * a ring is drained by the periodic passes, polled for its watermark only
 * when the passes are too rare for it, and CPU mode passes as often as a
 * ring needs at 1 kHz.  The period arithmetic, and a live CPU-mode session
 * whose busy thread writes many rings' worth of samples: they must reach
 * the store, which only happens if the passes drain the ring on time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "internal.h"
#include "session.h"
#include "stillprof.h"
#include "sampling_fixture.h"

static unsigned tick_for(unsigned interval_us)
{
	static struct stillprof_session s;

	memset(&s, 0, sizeof(s));
	s.opts.interval_us = interval_us;
	return sp_perf_cpu_tick_us(&s, 10000);
}

static void test_cpu_tick(void **state)
{
	(void)state;
	/* 32 pages hold 15 samples of 8 KiB + registers: half of that */
	assert_int_equal(tick_for(1000), 7500);
	assert_int_equal(tick_for(500), 3750);
	/* rarer samples: the default period is short enough */
	assert_int_equal(tick_for(2000), 10000);
	assert_int_equal(tick_for(100000), 10000);
	/* a period under 2 ms would cost an idle process too much: the
	 * default, and the watermark wakes the sampler */
	assert_int_equal(tick_for(250), 10000);
	assert_int_equal(tick_for(100), 10000);
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Spins until it has had 300 ms of CPU time (at most 20 s of wall time
 * on a loaded machine). */
static void *cpu_thread(void *arg)
{
	uint64_t c0 = thread_cpu_ns(), t0 = mono_ns();

	(void)arg;
	while (thread_cpu_ns() - c0 < 300000000u &&
	       mono_ns() - t0 < 20000000000u)
		spin_for_test();
	return NULL;
}

static void test_cpu_mode_drains(void **state)
{
	struct stillprof_options o;
	struct stillprof_stats st;
	stillprof_session *s;
	pthread_t t;

	(void)state;
	if (!perf_usable())
		skip();
	stillprof_options_init(&o);
	o.mode = STILLPROF_MODE_CPU;
	o.interval_us = 1000;
	assert_int_equal(stillprof_session_new(&o, &s), 0);
	assert_int_equal(stillprof_session_start(s), 0);
	assert_int_equal(pthread_create(&t, NULL, cpu_thread, NULL), 0);
	pthread_join(t, NULL);
	assert_int_equal(stillprof_session_stop(s), 0);
	assert_int_equal(stillprof_session_stats(s, &st), 0);
	/* ~300 samples were taken; a ring holds 15, so more than 4 rings'
	 * worth in the store means the passes drained it while it ran
	 * (not polled, an undrained ring loses all but the first 15). */
	print_message("cpu mode, 300 ms busy: samples %llu, missed %llu\n",
	              (unsigned long long)st.samples,
	              (unsigned long long)st.missed_samples);
	assert_true(st.samples > 60);
	stillprof_session_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cpu_tick),
	    cmocka_unit_test(test_cpu_mode_drains),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
