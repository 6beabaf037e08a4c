/*
 * test_perf_wakeups.c - the perf back-end's wake-up policy (backend_perf.c):
 * a ring is drained by the periodic passes, polled for its watermark only
 * when the passes are too rare for it, a busy thread's ring grows (within
 * a budget), and CPU mode passes every 31 ms at 1 kHz, as often as a big
 * ring needs at higher rates.  The period arithmetic, and a live CPU-mode
 * session whose busy thread writes many rings' worth of samples: they
 * must reach the store, which only happens if the ring is drained on
 * time.  And a ring that is not polled must not wake the sampling thread
 * at all (counted by the kernel: the thread's voluntary context switches).
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
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "session.h"
#include "stillprof.h"
#include "sampling_fixture.h"

static unsigned tick_for(unsigned interval_us)
{
	static struct stillprof_session s;

	memset(&s, 0, sizeof(s));
	s.opts.interval_us = interval_us;
	return sp_perf_cpu_tick_us(&s, sp_backend_perf.cpu_tick_us);
}

static void test_cpu_tick(void **state)
{
	(void)state;
	/* A big ring (1 MiB) holds 124 samples of 8 KiB + registers: a
	 * quarter of that at 1, 5 and 10 kHz */
	assert_int_equal(tick_for(1000), 31000);
	assert_int_equal(tick_for(200), 6200);
	assert_int_equal(tick_for(100), 3100);
	/* rarer samples: the default period (50 ms) is short enough */
	assert_int_equal(tick_for(2000), 50000);
	assert_int_equal(tick_for(100000), 50000);
	/* a period under 2 ms would cost an idle process too much: the
	 * default, and the watermark wakes the sampler */
	assert_int_equal(tick_for(50), 50000);
	assert_int_equal(tick_for(10), 50000);
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

/* A started session in mode at interval_us (the caller skips first when
 * perf is unusable). */
static stillprof_session *start_session(int mode, unsigned interval_us)
{
	struct stillprof_options o;
	stillprof_session *s;

	stillprof_options_init(&o);
	o.mode = mode;
	o.interval_us = interval_us;
	assert_int_equal(stillprof_session_new(&o, &s), 0);
	assert_int_equal(stillprof_session_start(s), 0);
	return s;
}

static void test_cpu_mode_drains(void **state)
{
	struct stillprof_stats st;
	stillprof_session *s;
	pthread_t t;

	(void)state;
	if (!perf_usable())
		skip();
	s = start_session(STILLPROF_MODE_CPU, 1000);
	assert_int_equal(pthread_create(&t, NULL, cpu_thread, NULL), 0);
	pthread_join(t, NULL);
	assert_int_equal(stillprof_session_stop(s), 0);
	assert_int_equal(stillprof_session_stats(s, &st), 0);
	/* ~300 samples were taken; a small ring holds 15, so more than 4
	 * rings' worth in the store means it was drained while it ran
	 * (polled until its watermark grew it; an undrained ring loses all
	 * but the first 15). */
	print_message("cpu mode, 300 ms busy: samples %llu, missed %llu\n",
	              (unsigned long long)st.samples,
	              (unsigned long long)st.missed_samples);
	assert_true(st.samples > 60);
	stillprof_session_free(s);
}

/* The tids of this process, into tids[] (at most max); returns the count. */
static int list_tids(pid_t *tids, int max)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) && n < max)
		if (e->d_name[0] != '.')
			tids[n++] = (pid_t)atoi(e->d_name);
	closedir(d);
	return n;
}

static long voluntary_switches(pid_t tid)
{
	char path[64], line[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "voluntary_ctxt_switches:", 24))
			v = atol(line + 24);
	fclose(f);
	assert_true(v >= 0);
	return v;
}

/* Two busy threads at 1 kHz in CPU mode (passes every 31 ms) for 1 s: the
 * sampling thread may block once per pass.  Their small rings (7.5 ms of
 * samples) are polled until the first watermark gives them big ones,
 * which are not: a ring in the epoll set would add a wake-up per half
 * ring of samples, ~133 a second per busy thread with a small ring (perf
 * wakes its waiters without poll flags, so even an EPOLLHUP-only item
 * wakes epoll_wait). */
static void test_unpolled_rings_do_not_wake(void **state)
{
	stillprof_session *s;
	pid_t before[64], after[64], sampler = 0;
	int nb, na;
	long v0, v1;
	uint64_t t0, t1, tick_ns;
	pthread_t t[2];

	(void)state;
	if (!perf_usable())
		skip();
	nb = list_tids(before, 64);
	s = start_session(STILLPROF_MODE_CPU, 1000);
	na = list_tids(after, 64);
	for (int i = 0; i < na; i++) {
		int old = 0;
		for (int j = 0; j < nb; j++)
			old |= after[i] == before[j];
		if (!old)
			sampler = after[i];
	}
	assert_true(sampler > 0 && na == nb + 1);
	atomic_store(&stop_flag, 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, busy_thread,
		                                NULL), 0);
	sleep_ms(200); /* attached, rings filling */
	v0 = voluntary_switches(sampler);
	t0 = mono_ns();
	sleep_ms(1000);
	v1 = voluntary_switches(sampler);
	t1 = mono_ns();
	tick_ns = s->tick_ns;
	atomic_store(&stop_flag, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(stillprof_session_stop(s), 0);
	stillprof_session_free(s);
	{
		/* One pass per period, plus slack for the stop and a
		 * rescan. */
		long passes = (long)((t1 - t0) / tick_ns);
		print_message("sampler blocked %ld times in %.2f s (%ld passes)\n",
		              v1 - v0, (double)(t1 - t0) / 1e9, passes);
		assert_true(v1 - v0 <= passes + passes / 4 + 10);
	}
}

/* Holding the fork mutex stops the sampling thread's passes (it takes it
 * for every batch, as test_tick_replay does). */
static void hold_sampler(stillprof_session *s, int ms)
{
	pthread_mutex_lock(&s->fork_mu);
	sleep_ms(ms);
	pthread_mutex_unlock(&s->fork_mu);
}

/* A busy thread at 10 kHz fills a 32-page ring in 1.5 ms: a drain finds
 * it half full or records lost (the sampler is also held 20 ms), and the
 * thread's ring is made bigger.  The samples go on after the swap, from
 * the new event. */
static void test_ring_grows(void **state)
{
	stillprof_session *s;
	uint64_t lost_after_grow, c0;
	pthread_t t;

	(void)state;
	if (!perf_usable())
		skip();
	s = start_session(STILLPROF_MODE_WALL, 100);
	atomic_store(&stop_flag, 0);
	assert_int_equal(pthread_create(&t, NULL, busy_thread, NULL), 0);
	sleep_ms(100);
	hold_sampler(s, 20);
	sleep_ms(100); /* a pass or two: grown by now */
	assert_int_equal(s->c.rings_grown, 1);
	assert_int_equal(s->c.ring_grow_failures, 0);
	lost_after_grow = s->c.lost_records;
	c0 = s->c.oncpu_samples;
	sleep_ms(300);
	atomic_store(&stop_flag, 1);
	pthread_join(t, NULL);
	assert_int_equal(stillprof_session_stop(s), 0);
	print_message("grown %llu, lost %llu (%llu after growth), on-CPU "
	              "samples %llu (%llu after growth)\n",
	              (unsigned long long)s->c.rings_grown,
	              (unsigned long long)s->c.lost_records,
	              (unsigned long long)(s->c.lost_records - lost_after_grow),
	              (unsigned long long)s->c.oncpu_samples,
	              (unsigned long long)(s->c.oncpu_samples - c0));
	/* The bigger event samples: ~300 ms at 10 kHz (less on a loaded
	 * machine, the thread gets less CPU; never none). */
	assert_true(s->c.oncpu_samples - c0 > 300);
	stillprof_session_free(s);
}

/* Big rings are budgeted (SP_PERF_BIG_PER_CPU): with room for one, of two
 * busy threads one gets it and the other keeps its small ring, polled, so
 * its watermark wakes the sampler in time. */
static void test_big_ring_budget(void **state)
{
	struct stillprof_stats st;
	stillprof_session *s;
	uint64_t grown, refused, failed;
	size_t big;
	pthread_t t[2];

	(void)state;
	if (!perf_usable())
		skip();
	s = start_session(STILLPROF_MODE_CPU, 1000);
	pthread_mutex_lock(&s->fork_mu); /* the sampler's, for every batch */
	s->big_rings_max = 1;
	pthread_mutex_unlock(&s->fork_mu);
	atomic_store(&stop_flag, 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, busy_thread,
		                                NULL), 0);
	sleep_ms(400);
	pthread_mutex_lock(&s->fork_mu);
	grown = s->c.rings_grown;
	refused = s->c.ring_grow_refused;
	failed = s->c.ring_grow_failures;
	big = s->big_rings;
	pthread_mutex_unlock(&s->fork_mu);
	atomic_store(&stop_flag, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(stillprof_session_stop(s), 0);
	assert_int_equal(stillprof_session_stats(s, &st), 0);
	print_message("budget 1: grown %llu, refused %llu, big rings %zu "
	              "(%zu after stop), lost records %llu, on-CPU samples "
	              "%llu, missed %llu\n",
	              (unsigned long long)grown, (unsigned long long)refused,
	              big, s->big_rings,
	              (unsigned long long)s->c.lost_records,
	              (unsigned long long)st.oncpu_samples,
	              (unsigned long long)st.missed_samples);
	assert_int_equal(grown, 1);
	assert_int_equal(refused, 1);
	assert_int_equal(failed, 0);
	assert_int_equal(big, 1);
	assert_int_equal(s->big_rings, 0); /* freed at detach */
	assert_int_equal(st.missed_samples, 0);
	stillprof_session_free(s);
}

static atomic_uint_fast64_t spun_cpu_ns;

/* busy_thread's loop, then publishes its CPU time. */
static void *spin_and_count(void *arg)
{
	uint64_t c0 = thread_cpu_ns();

	(void)arg;
	while (!atomic_load(&stop_flag))
		spin_for_test();
	atomic_store(&spun_cpu_ns, thread_cpu_ns() - c0);
	return NULL;
}

/* CPU mode at 10 kHz with the sampler held 30 ms: records are lost, but
 * the next sample's count carries their intervals, so the samples still
 * match the thread's CPU time and none is counted missed (it would be
 * counted twice). */
static void test_cpu_mode_lost_records_not_missed(void **state)
{
	struct stillprof_stats st;
	stillprof_session *s;
	double expected;
	pthread_t t;

	(void)state;
	if (!perf_usable())
		skip();
	s = start_session(STILLPROF_MODE_CPU, 100);
	atomic_store(&stop_flag, 0);
	assert_int_equal(pthread_create(&t, NULL, spin_and_count, NULL), 0);
	sleep_ms(100);
	hold_sampler(s, 30);
	sleep_ms(200);
	atomic_store(&stop_flag, 1);
	pthread_join(t, NULL);
	assert_int_equal(stillprof_session_stop(s), 0);
	assert_int_equal(stillprof_session_stats(s, &st), 0);
	expected = (double)atomic_load(&spun_cpu_ns) / 100000.0;
	print_message("cpu 10 kHz, held 30 ms: lost records %llu, missed %llu, "
	              "on-CPU samples %llu (weighted %llu) for %.0f expected\n",
	              (unsigned long long)s->c.lost_records,
	              (unsigned long long)st.missed_samples,
	              (unsigned long long)st.oncpu_samples,
	              (unsigned long long)st.weighted_samples, expected);
	assert_true(s->c.lost_records > 0);
	assert_int_equal(st.missed_samples, 0);
	/* The busy thread's samples (the main thread adds a few). */
	assert_true((double)st.oncpu_samples > 0.9 * expected);
	assert_true((double)st.oncpu_samples < 1.1 * expected + 50);
	stillprof_session_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cpu_tick),
	    cmocka_unit_test(test_cpu_mode_drains),
	    cmocka_unit_test(test_unpolled_rings_do_not_wake),
	    cmocka_unit_test(test_ring_grows),
	    cmocka_unit_test(test_big_ring_budget),
	    cmocka_unit_test(test_cpu_mode_lost_records_not_missed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
