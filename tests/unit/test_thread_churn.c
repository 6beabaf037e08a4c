/*
 * test_thread_churn.c - sampling at 1 kHz (wall mode) while threads are
 * created and exit at ~1 000 per second: no crash, and no sample given to
 * the wrong thread.  Each churn thread records its tid, and the creator
 * records a window that surely contains the thread's whole life (before
 * pthread_create .. after pthread_join returned and the tid is free:
 * see life_end).  Afterwards every sample of a churn tid must fall in
 * a window of that tid, and all samples of one store thread entry in the
 * *same* window: a reused tid (pid_max wraps in ~30 s here) must get an
 * entry of its own.
 *
 * STILLPROF_CHURN_SECONDS sets the duration (default 5; the figure
 * is 30), STILLPROF_CHURN_CREATORS the creating threads (default 4: one
 * creator's pthread_create + join is the limit on a loaded machine, not
 * the profiler); STILLPROF_CHURN_MAX_RATE=1 first measures the unpaced
 * ceiling with and without a session.  Figures are printed, not
 * asserted.
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
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"
#include "session.h"
#include "stillprof.h"
#include "store.h"
#include "sampling_fixture.h"

struct life {
	atomic_int tid;       /* written by the thread itself */
	uint64_t lo, hi;      /* creator: before create, after join */
	unsigned spin;        /* work units before and after the sleep */
	pthread_t th;
};

static void spin_units(unsigned n)
{
	uint64_t x = sink;
	for (unsigned i = 0; i < n * 1000; i++)
		x = x * 6364136223846793005ull + 1;
	sink = x;
}

static void *churn_thread(void *arg)
{
	struct life *l = arg;
	struct timespec nap = {0, 2 * 1000 * 1000};

	atomic_store(&l->tid, (int)syscall(SYS_gettid));
	spin_units(l->spin);
	/* Blocked across ticks: off-CPU samples with a probed stack. */
	while (nanosleep(&nap, &nap) < 0 && errno == EINTR)
		;
	spin_units(l->spin);
	return NULL;
}

static void sleep_until(uint64_t t)
{
	uint64_t now = sp_now_ns();
	struct timespec ts;

	if (now >= t)
		return;
	ts.tv_sec = (time_t)((t - now) / 1000000000u);
	ts.tv_nsec = (long)((t - now) % 1000000000u);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static const struct life *sort_base;

static int by_tid(const void *a, const void *b)
{
	const struct life *x = &sort_base[*(const size_t *)a];
	const struct life *y = &sort_base[*(const size_t *)b];
	int tx = atomic_load(&x->tid), ty = atomic_load(&y->tid);

	if (tx != ty)
		return tx < ty ? -1 : 1;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* The life of tid that contains t: its index, -1 if tid is one of ours
 * but no life contains t, -2 if tid is not a churn thread.  `order` holds
 * the lives sorted by tid. */
static int window_of(const struct life *lives, const size_t *order,
                     size_t n, pid_t tid, uint64_t t)
{
	size_t lo = 0, hi = n;
	int found = 0;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (atomic_load(&lives[order[mid]].tid) < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && atomic_load(&lives[order[lo]].tid) == tid; lo++) {
		const struct life *l = &lives[order[lo]];
		found = 1;
		if (t >= l->lo && t <= l->hi)
			return (int)order[lo];
	}
	return found ? -1 : -2;
}

/* Creators: creator k makes lives k, k + C, k + 2C, ... (C creators),
 * each at t0 + index * period (period 0: as fast as it can, until the
 * deadline), keeping at most 64 / C of its own alive. */
struct creator {
	struct life *lives;
	size_t n, k, c;
	uint64_t t0, period_ns, deadline;
	int light;              /* threads do no work (ceiling runs) */
	size_t made;            /* lives this creator started */
	pthread_t th;
	/* The creator's own life: it is sampled too, and a creator that
	 * finishes early may hand its tid to a churn thread. */
	atomic_int tid;
	uint64_t lo, hi;
};

/* The end of a joined thread's life: when its tid is free again.  The
 * kernel clears the tid and wakes the joiner early in the thread's exit
 * (exit_mm), which then takes the mmap lock -- contended while threads
 * are created and freed -- and can block there for milliseconds, off CPU
 * and rightly sampled (the ASan CI run saw 23 such samples in an exit
 * after its join had returned).  Bounded: a tid handed out again at once
 * (a pid_max wrap) only widens the window. */
static uint64_t life_end(const struct life *l)
{
	pid_t pid = getpid(), tid = (pid_t)atomic_load(&l->tid);
	struct timespec nap = {0, 50 * 1000};

	for (int i = 0; i < 4000; i++) {
		if (syscall(SYS_tgkill, pid, tid, 0) < 0 && errno == ESRCH)
			break;
		nanosleep(&nap, NULL);
	}
	return sp_now_ns();
}

static void join_life(struct life *l)
{
	if (pthread_join(l->th, NULL) != 0)
		abort(); /* not a cmocka assert: a creator thread */
	l->hi = life_end(l);
}

static void *creator_main(void *arg)
{
	struct creator *c = arg;
	size_t live_max = 64 / c->c ? 64 / c->c : 1;
	size_t joined = 0; /* in this creator's own sequence */

	atomic_store(&c->tid, (int)syscall(SYS_gettid));

	for (size_t i = c->k; i < c->n; i += c->c) {
		struct life *l = &c->lives[i];

		if (c->period_ns)
			sleep_until(c->t0 + (uint64_t)i * c->period_ns);
		else if (sp_now_ns() >= c->deadline)
			break;
		while (c->made - joined >= live_max)
			join_life(&c->lives[c->k + c->c * joined++]);
		/* Every 8th thread works ~1.5 ms: on-CPU samples too. */
		l->spin = c->light ? 0 : i % 8 == 0 ? 1500 : 100;
		l->lo = sp_now_ns();
		if (pthread_create(&l->th, NULL, churn_thread, l) != 0)
			abort();
		c->made++;
		while (joined < c->made &&
		       pthread_tryjoin_np(c->lives[c->k + c->c * joined].th,
		                          NULL) == 0) {
			struct life *done = &c->lives[c->k + c->c * joined++];
			done->hi = life_end(done);
		}
	}
	while (joined < c->made)
		join_life(&c->lives[c->k + c->c * joined++]);
	return NULL;
}

/* Run the churn with `nc` creators; returns the lives started (a prefix
 * of each creator's sequence). */
static size_t run_churn(struct creator *cr, struct life *lives, size_t n,
                        size_t nc, uint64_t period_ns, uint64_t deadline,
                        uint64_t *t0)
{
	size_t made = 0;

	assert_true(nc >= 1 && nc <= 16);
	*t0 = sp_now_ns();
	for (size_t k = 0; k < nc; k++) {
		cr[k] = (struct creator){.lives = lives, .n = n, .k = k,
		                         .c = nc, .t0 = *t0,
		                         .period_ns = period_ns,
		                         .light = !period_ns,
		                         .deadline = deadline};
		cr[k].lo = sp_now_ns();
		assert_int_equal(
		    pthread_create(&cr[k].th, NULL, creator_main, &cr[k]), 0);
	}
	for (size_t k = 0; k < nc; k++) {
		pthread_join(cr[k].th, NULL);
		cr[k].hi = sp_now_ns();
		made += cr[k].made;
	}
	return made;
}

/* As many threads (no work, a 2 ms sleep) as nc creators can start and
 * join in `ms`: the ceiling of the machine, with or without a session
 * running. */
static double max_rate(size_t nc, unsigned ms, stillprof_session *s)
{
	size_t n = 200000, made;
	struct creator cr[16];
	struct life *lives = calloc(n, sizeof(*lives));
	uint64_t t0, t1;

	assert_non_null(lives);
	if (s)
		assert_int_equal(stillprof_session_start(s), 0);
	made = run_churn(cr, lives, n, nc, 0,
	                 sp_now_ns() + (uint64_t)ms * 1000000u, &t0);
	t1 = sp_now_ns();
	if (s)
		assert_int_equal(stillprof_session_stop(s), 0);
	free(lives);
	return (double)made / ((double)(t1 - t0) / 1e9);
}

static void test_thread_churn_no_misattribution(void **state)
{
	const char *env = getenv("STILLPROF_CHURN_SECONDS");
	const char *cenv = getenv("STILLPROF_CHURN_CREATORS");
	int secs = env && *env ? atoi(env) : 5;
	size_t nc = cenv && *cenv ? (size_t)atoi(cenv) : 4;
	struct creator cr[16];
	size_t n = (size_t)secs * 1000, made;
	struct life *lives;
	struct stillprof_options o;
	struct stillprof_stats st;
	stillprof_session *s;
	uint64_t t0, t_end, churn_samples = 0, wrong = 0, split = 0;
	size_t threads_with_samples = 0, reused = 0;
	int *entry_life;
	size_t *order;
	(void)state;

	if (!perf_usable())
		skip();
	assert_true(secs >= 1 && secs <= 600);
	assert_true(nc >= 1 && nc <= 16);
	alarm((unsigned)secs * 4 + 120);
	lives = calloc(n, sizeof(*lives));
	assert_non_null(lives);
	stillprof_options_init(&o);
	o.mode = STILLPROF_MODE_WALL;
	o.interval_us = 1000;
	assert_int_equal(stillprof_session_new(&o, &s), 0);
	if (getenv("STILLPROF_CHURN_MAX_RATE")) {
		/* The ceiling, same process, same creators: unprofiled,
		 * then profiled (a session of its own), 1 s each. */
		stillprof_session *m;
		double off, on;

		assert_int_equal(stillprof_session_new(&o, &m), 0);
		struct stillprof_stats ms;
		uint64_t u0, u1;
		size_t un;

		/* The paced churn below, unprofiled. */
		un = run_churn(cr, lives, n, nc, 1000000u, 0, &u0);
		u1 = sp_now_ns();
		printf("# paced, %zu creators, no profiler: %zu threads in "
		       "%.2f s (%.0f/s)\n", nc, un, (double)(u1 - u0) / 1e9,
		       (double)un / ((double)(u1 - u0) / 1e9));
		memset(lives, 0, n * sizeof(*lives));
		off = max_rate(nc, 1000, NULL);
		on = max_rate(nc, 1000, m);
		assert_int_equal(stillprof_session_stats(m, &ms), 0);
		stillprof_session_free(m);
		printf("# unpaced, %zu creators: %.0f threads/s without the "
		       "profiler, %.0f/s with it (sampler CPU %.0f%% of the "
		       "run, %llu threads attached)\n", nc, off, on,
		       100.0 * (double)ms.sampler_cpu_ns /
		           (double)ms.duration_ns,
		       (unsigned long long)ms.threads_seen);
	}
	assert_int_equal(stillprof_session_start(s), 0);
	/* One thread per millisecond over all creators. */
	made = run_churn(cr, lives, n, nc, 1000000u, 0, &t0);
	assert_int_equal(made, n);
	t_end = sp_now_ns();
	assert_int_equal(stillprof_session_stop(s), 0);
	assert_int_equal(stillprof_session_stats(s, &st), 0);

	order = malloc(n * sizeof(*order));
	assert_non_null(order);
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	sort_base = lives;
	qsort(order, n, sizeof(*order), by_tid);
	/* Each store entry must stay within one life. */
	entry_life = malloc(s->store->n_threads * sizeof(*entry_life));
	assert_non_null(entry_life);
	for (size_t i = 0; i < s->store->n_threads; i++)
		entry_life[i] = -2; /* no churn sample yet */
	for (size_t i = 0; i < s->store->n_samples; i++) {
		const struct sp_sample *sm = &s->store->samples[i];
		pid_t tid = s->store->threads[sm->thread].tid;
		int w = window_of(lives, order, n, tid, sm->t_ns);

		for (size_t k = 0; k < nc && w != -2; k++)
			if (atomic_load(&cr[k].tid) == tid &&
			    sm->t_ns >= cr[k].lo && sm->t_ns <= cr[k].hi)
				w = -2; /* a creator, not a churn thread */
		if (w == -2)
			continue; /* main thread, or not one of ours */
		churn_samples++;
		if (w < 0) {
			if (wrong < 5) {
				int k = window_of(lives, order, n, tid, 0);
				for (size_t j = 0; j < n; j++)
					if (atomic_load(&lives[j].tid) == tid)
						k = (int)j;
				printf("# tid %d sampled at +%.3f ms (%s): in "
				       "no life of that tid (+%.3f..+%.3f)\n",
				       (int)tid,
				       (double)(sm->t_ns - t0) / 1e6,
				       sm->state ? "off-CPU" : "on-CPU",
				       (double)(lives[k].lo - t0) / 1e6,
				       (double)(lives[k].hi - t0) / 1e6);
			}
			wrong++;
			continue;
		}
		if (entry_life[sm->thread] == -2) {
			entry_life[sm->thread] = w;
			threads_with_samples++;
		} else if (entry_life[sm->thread] != w) {
			split++;
		}
	}
	/* How often the kernel handed a tid out again during the run. */
	for (size_t i = 1; i < n; i++)
		reused += atomic_load(&lives[order[i]].tid) ==
		          atomic_load(&lives[order[i - 1]].tid);
	printf("# %zu creators: %zu threads in %.2f s (%.0f/s), %llu threads "
	       "seen by the sampler, %zu store entries; %llu samples in all, %llu of "
	       "churn threads (%zu threads); tids reused %zu times; "
	       "%llu samples outside their thread's life, %llu in an entry "
	       "mixing two lives; missed %llu\n",
	       nc, made, (double)(t_end - t0) / 1e9,
	       (double)made / ((double)(t_end - t0) / 1e9),
	       (unsigned long long)st.threads_seen, s->store->n_threads,
	       (unsigned long long)st.samples,
	       (unsigned long long)churn_samples, threads_with_samples,
	       reused, (unsigned long long)wrong, (unsigned long long)split,
	       (unsigned long long)st.missed_samples);
	assert_int_equal(wrong, 0);
	assert_int_equal(split, 0);
	/* The run did sample the churn (else the checks above are empty). */
	assert_true(churn_samples > 0);
	assert_true(threads_with_samples > 0);
	free(entry_life);
	free(order);
	stillprof_session_free(s);
	free(lives);
	alarm(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thread_churn_no_misattribution),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
