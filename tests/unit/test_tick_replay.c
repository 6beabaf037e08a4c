/*
 * test_tick_replay.c - wall ticks the sampling thread was late for are
 * replayed exactly from the switch records (profiler/tick_replay.c): the
 * grid arithmetic, and a real session whose sampling thread is held still
 * for 150 ms (by holding its fork mutex, which it takes for every batch)
 * while one thread stays blocked and another is woken in the middle.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"
#include "session.h"
#include "stillprof.h"
#include "store.h"
#include "tick_replay.h"

static void test_grid(void **state)
{
	(void)state;
	/* base 1000, interval 100 */
	assert_int_equal(sp_tick_last_at_or_before(1000, 100, 1000), 1000);
	assert_int_equal(sp_tick_last_at_or_before(1000, 100, 1099), 1000);
	assert_int_equal(sp_tick_last_at_or_before(1000, 100, 1100), 1100);
	assert_int_equal(sp_tick_last_at_or_before(1000, 100, 999), 900);
	assert_int_equal(sp_tick_last_at_or_before(1000, 100, 5), 900);
	assert_int_equal(sp_tick_count(1000, 100, 1000), 0);
	assert_int_equal(sp_tick_count(1000, 100, 1099), 0);
	assert_int_equal(sp_tick_count(1000, 100, 1100), 1);
	assert_int_equal(sp_tick_count(1000, 100, 1550), 5);
	assert_int_equal(sp_tick_count(1000, 100, 900), 0);
	/* ticks strictly before a record at 1300: 1100, 1200 */
	assert_int_equal(sp_tick_count(1000, 100, 1300 - 1), 2);
}

/* When the sampling thread may wake less often than every tick. */
static void test_wake_period(void **state)
{
	struct stillprof_session *s = calloc(1, sizeof(*s));
	const uint64_t ms = 1000000;
	(void)state;

	assert_non_null(s);
	assert_int_equal(sp_replay_coarse_ns(1 * ms, 0), 4 * ms);
	assert_int_equal(sp_replay_coarse_ns(3 * ms, 0), 6 * ms);
	assert_int_equal(sp_replay_coarse_ns(10 * ms, 0), 10 * ms);
	assert_int_equal(sp_replay_coarse_ns(100000, 0), 4 * ms);
	/* longer when the rings can wait: whole ticks within the wait */
	assert_int_equal(sp_replay_coarse_ns(1 * ms, 7500000), 7 * ms);
	assert_int_equal(sp_replay_coarse_ns(100000, 750000), 4 * ms);
	/* a big ring at 1 kHz (31 ms of wait) sets it; never past 50 ms,
	 * and the middle period never past 10 ms */
	assert_int_equal(sp_replay_coarse_ns(1 * ms, 31 * ms), 31 * ms);
	assert_int_equal(sp_replay_coarse_ns(1 * ms, 75 * ms), 50 * ms);
	assert_int_equal(sp_replay_coarse_ns(3 * ms, 75 * ms), 48 * ms);
	assert_int_equal(sp_replay_coarse_ns(10 * ms, 75 * ms), 50 * ms);
	assert_int_equal(sp_replay_mid_ns(1 * ms, 75 * ms), 10 * ms);
	assert_int_equal(sp_replay_mid_ns(3 * ms, 75 * ms), 9 * ms);
	assert_int_equal(sp_replay_mid_ns(10 * ms, 75 * ms), 10 * ms);
	assert_int_equal(sp_replay_mid_ns(1 * ms, 7500000), 7 * ms);
	/* a 2 ms block: always seen by 1 ms passes, half the time by 4 ms */
	assert_true(sp_replay_gain(2 * ms, ms, 4 * ms) > 0.49 &&
	            sp_replay_gain(2 * ms, ms, 4 * ms) < 0.51);
	/* long blocks are seen either way; microsecond ones nearly never */
	assert_true(sp_replay_gain(10 * ms, ms, 4 * ms) == 0.0);
	assert_true(sp_replay_gain(6000, ms, 4 * ms) < 0.005);
	assert_true(sp_replay_gain(2 * ms, 10 * ms, 10 * ms) == 0.0);

	s->tick_ns = ms;
	s->tick_base_ns = 1000 * ms;
	s->wake_ns = ms;
	s->wake_coarse_ns = sp_replay_coarse_ns(ms, 75 * ms);
	s->wake_mid_ns = sp_replay_mid_ns(ms, 75 * ms);
	s->threads.n = 4;
	assert_int_equal(sp_replay_wake_period(s, 2000 * ms), 0); /* start */
	assert_int_equal(sp_replay_wake_period(s, 2100 * ms), 0); /* early */
	/* quiet window: coarse */
	assert_int_equal(sp_replay_wake_period(s, 2200 * ms), 50 * ms);
	s->wake_ns = 50 * ms;
	assert_int_equal(sp_replay_wake_period(s, 2400 * ms), 0); /* same */
	/* 200 ms x 4 threads = 800 thread-ticks; 20 at risk is 2.5 %; the
	 * limit is 0.2 %, 1.6 ticks */
	s->wake_risk = 20;
	s->wake_risk_mid = 1;
	assert_int_equal(sp_replay_wake_period(s, 2600 * ms), 10 * ms);
	s->wake_ns = 10 * ms;
	s->wake_risk = 20;
	s->wake_risk_mid = 2;
	assert_int_equal(sp_replay_wake_period(s, 2800 * ms), ms);
	s->wake_ns = ms;
	/* the risks are per window */
	assert_int_equal(sp_replay_wake_period(s, 3000 * ms), 50 * ms);
	free(s);
}

static int pipe_a[2], pipe_b[2];
static atomic_uint_fast64_t woke_ns;

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static volatile uint64_t sink;

/* Blocked until main writes to its pipe. */
static void *stays_blocked(void *arg)
{
	struct pollfd p = {.fd = pipe_a[0], .events = POLLIN};
	(void)arg;
	pthread_setname_np(pthread_self(), "stays");
	poll(&p, 1, 10000);
	return NULL;
}

/* Blocked, woken during the stall, then busy for 300 ms. */
static void *woken(void *arg)
{
	struct pollfd p = {.fd = pipe_b[0], .events = POLLIN};
	uint64_t x = 1, end;
	(void)arg;
	pthread_setname_np(pthread_self(), "woken");
	poll(&p, 1, 10000);
	end = now_ns();
	atomic_store(&woke_ns, end);
	end += 300 * 1000000ull;
	while (now_ns() < end)
		for (int i = 0; i < 10000; i++)
			x = x * 6364136223846793005ull + 1;
	sink = x;
	return NULL;
}

static uint32_t thread_index(struct sp_store *st, const char *name)
{
	for (size_t i = 0; i < st->n_threads; i++)
		if (!strcmp(st->threads[i].name, name))
			return (uint32_t)i;
	fail_msg("no thread %s", name);
	return 0;
}

static void test_stalled_sampler_replays_ticks(void **state)
{
	struct stillprof_options o;
	stillprof_session *s;
	pthread_t a, b;
	uint64_t t0, t1, wake, woke, iv, first, n_want, n_stays = 0,
	         n_woken = 0, late_blocked = 0;
	uint32_t ta, tb, blocked_stack = UINT32_MAX;
	int err;
	(void)state;

	assert_int_equal(pipe2(pipe_a, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pipe_b, O_CLOEXEC), 0);
	pthread_create(&a, NULL, stays_blocked, NULL);
	pthread_create(&b, NULL, woken, NULL);
	sleep_ms(20);
	stillprof_options_init(&o);
	o.mode = STILLPROF_MODE_WALL;
	o.interval_us = 1000;
	o.backend = STILLPROF_BACKEND_PERF;
	assert_int_equal(stillprof_session_new(&o, &s), 0);
	err = stillprof_session_start(s);
	if (err == STILLPROF_EPERFDENIED) {
		stillprof_session_free(s);
		pthread_cancel(a);
		pthread_cancel(b);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		skip();
	}
	assert_int_equal(err, 0);
	/* Both threads blocked: probed at the first passes. */
	sleep_ms(100);
	/* Hold the sampling thread still. */
	pthread_mutex_lock(&s->fork_mu);
	t0 = now_ns();
	sleep_ms(60);
	wake = now_ns();
	assert_int_equal(write(pipe_b[1], "x", 1), 1);
	sleep_ms(90);
	t1 = now_ns();
	pthread_mutex_unlock(&s->fork_mu);
	sleep_ms(50);
	assert_int_equal(write(pipe_a[1], "x", 1), 1);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	assert_int_equal(stillprof_session_stop(s), 0);
	woke = atomic_load(&woke_ns);
	assert_true(woke > wake && woke < t1);

	ta = thread_index(s->store, "stays");
	tb = thread_index(s->store, "woken");
	iv = s->tick_ns;
	/* Grid ticks in (t0, t1). */
	first = sp_tick_last_at_or_before(s->tick_base_ns, iv, t0);
	n_want = sp_tick_count(first, iv, t1 - 1);
	assert_true(n_want >= 100);
	/* The blocked stack of "woken": its off-CPU samples before t0. */
	for (size_t i = 0; i < s->store->n_samples; i++) {
		const struct sp_sample *x = &s->store->samples[i];
		if (x->thread == tb && x->state == SP_STATE_OFFCPU &&
		    x->t_ns < t0)
			blocked_stack = x->stack;
	}
	assert_int_not_equal(blocked_stack, UINT32_MAX);
	for (size_t i = 0; i < s->store->n_samples; i++) {
		const struct sp_sample *x = &s->store->samples[i];
		if (x->state != SP_STATE_OFFCPU)
			continue;
		if (x->thread == ta && x->t_ns > t0 && x->t_ns < t1)
			n_stays++;
		/* blocked until after `wake` */
		if (x->thread == tb && x->t_ns > t0 && x->t_ns < wake)
			n_woken++;
		/* never reported blocked after it returned from poll */
		if (x->thread == tb && x->t_ns > woke &&
		    x->stack == blocked_stack)
			late_blocked++;
	}
	/* Every tick of the stall, once: none missed, none twice. */
	assert_int_equal(n_stays, n_want);
	assert_int_equal(n_woken, sp_tick_count(first, iv, wake - 1));
	assert_int_equal(late_blocked, 0);
	stillprof_session_free(s);
	for (int i = 0; i < 2; i++) {
		close(pipe_a[i]);
		close(pipe_b[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grid),
		cmocka_unit_test(test_wake_period),
		cmocka_unit_test(test_stalled_sampler_replays_ticks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
