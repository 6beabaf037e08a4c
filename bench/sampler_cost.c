/*
 * sampler_cost.c - what the sampling thread itself costs.  THREADS
 * threads run at the bottom of a DEPTH-frame call chain while stillprof
 * (in this process) samples them for SECONDS; the session's statistics
 * give the sampling thread's CPU time and the samples it took:
 *
 *   sampler_cost samples=N ns_per_sample=X core_pct=Y unwind_ns=Z
 *                offcpu=O missed=M fixed_us=F app_pct=A app_base_pct=B
 *                blocked_stacks=K switch_stacks=S probes=P
 *
 * ns_per_sample: sampler CPU / samples; ns_per_oncpu: sampler CPU / on-CPU
 * samples (the unwound stacks; in wall mode the other samples are the
 * blocked threads' replayed ticks, main's among them); core_pct: sampler
 * CPU / wall time (share of one core); unwind_ns: mean time of one unwind.
 * These are steady-state costs, measured over a window of one run: after
 * a warm-up start/stop (unwind tables, first symbol look-ups), a run
 * starts, settles for SECONDS/4 (attaching every thread, growing the busy
 * threads' rings), and the live statistics are read at the start and end
 * of the next SECONDS.  The run's start/stop cost is printed apart as
 * fixed_us: its whole sampler CPU less the window's rate times its
 * samples.  (A first version took the difference of a short and a long
 * run; the fixed cost, 1-20 ms and as noisy, moved the result by 2x.)
 * samples, offcpu, missed: of the window.  app_pct: the CPU of the
 * process less the sampling thread's during the window, in % of one
 * core, and app_base_pct the same over SECONDS/2 without profiling (what
 * sampling costs the application threads themselves).  blocked_stacks:
 * how blocked stacks were read (wall mode); switch_stacks, probes:
 * episodes read each way in the window.
 *
 * Workers are `busy` (compute all the time), `server` (compute ~50 us,
 * then sleep 20 ms: a pool of threads that wake often) or `idle` (sleep
 * 1 s at a time: a pool waiting for work).
 *
 * Usage: sampler_cost THREADS DEPTH SECONDS INTERVAL_US wall|cpu
 *                     busy|server|idle
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stillprof.h"

#define MAX_THREADS 1024

static int depth, server; /* server: 0 busy, 1 server, 2 idle */
static atomic_int running = 1;
static volatile uint64_t sink;

__attribute__((noinline)) uint64_t cost_leaf(uint64_t x, int n)
{
	for (int i = 0; i < n; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	return x;
}

__attribute__((noinline)) uint64_t cost_descend(int d, uint64_t x)
{
	uint64_t r;
	if (d <= 0) {
		if (!server)
			return cost_leaf(x, 20000);
		x = cost_leaf(x, server == 1 ? 20000 : 1); /* ~50 us */
		struct timespec ts = {server == 1 ? 0 : 1,
		                      server == 1 ? 20 * 1000 * 1000 : 0};
		nanosleep(&ts, NULL);
		return x;
	}
	r = cost_descend(d - 1, x + (uint64_t)d);
	__asm__ volatile("" ::: "memory");
	return r ^ (uint64_t)d;
}

static void *worker(void *arg)
{
	uint64_t x = (uintptr_t)arg;

	/* main, start_thread, clone3, worker: DEPTH counts them too */
	while (atomic_load(&running))
		x = cost_descend(depth - 5, x);
	sink = x;
	return NULL;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t proc_cpu_ns(void)
{
	return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

static uint64_t mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static void sleep_s(double secs)
{
	struct timespec ts;

	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

/* One start/stop: `settle` seconds, then the window of `secs` between the
 * live statistics *a and *b (p[0]/p[1], t[0]/t[1]: process CPU and time
 * at each), *st: the statistics after the stop. */
static int run_once(stillprof_session *s, double settle, double secs,
                    struct stillprof_stats *a, struct stillprof_stats *b,
                    uint64_t *p, uint64_t *t, struct stillprof_stats *st)
{
	int err = stillprof_session_start(s);

	if (err)
		return err;
	sleep_s(settle);
	p[0] = proc_cpu_ns();
	t[0] = mono_ns();
	stillprof_session_stats(s, a);
	sleep_s(secs);
	stillprof_session_stats(s, b);
	p[1] = proc_cpu_ns();
	t[1] = mono_ns();
	stillprof_session_stop(s);
	return stillprof_session_stats(s, st);
}

int main(int argc, char **argv)
{
	static pthread_t t_workers[MAX_THREADS];
	struct stillprof_options o;
	struct stillprof_stats w, a, b, end;
	stillprof_session *s;
	double samples, oncpu, cpu, dur, fixed, app, app_base;
	uint64_t p[2], t[2];
	pthread_attr_t attr;
	int n, err;
	double secs;

	if (argc != 7 || (n = atoi(argv[1])) < 1 || n > MAX_THREADS ||
	    (depth = atoi(argv[2])) < 5 || depth > 1000 ||
	    (secs = atof(argv[3])) <= 0 || secs > 600) {
		fprintf(stderr, "usage: sampler_cost THREADS DEPTH SECONDS "
		                "INTERVAL_US wall|cpu busy|server|idle\n");
		return 2;
	}
	stillprof_options_init(&o);
	if (stillprof_parse_interval(argv[4], &o.interval_us) ||
	    stillprof_parse_mode(argv[5], &o.mode)) {
		fprintf(stderr, "sampler_cost: bad interval or mode\n");
		return 2;
	}
	o.max_depth = 1024;
	server = !strcmp(argv[6], "server") ? 1 : !strcmp(argv[6], "idle") ? 2 : 0;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (int i = 0; i < n; i++)
		if (pthread_create(&t_workers[i], &attr, worker,
		                   (void *)(uintptr_t)(i + 1))) {
			perror("sampler_cost: pthread_create");
			return 1;
		}
	if ((err = stillprof_session_new(&o, &s))) {
		fprintf(stderr, "sampler_cost: %s\n", stillprof_strerror(err));
		return 1;
	}
	/* Warm-up (unwind tables, symbols), then the measured run. */
	if ((err = run_once(s, 0.3, 0, &a, &b, p, t, &w)) ||
	    (err = run_once(s, secs / 4, secs, &a, &b, p, t, &end))) {
		fprintf(stderr, "sampler_cost: cannot profile: %s\n",
		        stillprof_strerror(err));
		return err == STILLPROF_EPERFDENIED ? 77 : 1;
	}
	/* The application threads' own CPU: the window's process CPU less
	 * the sampling thread's, against a run without profiling. */
	cpu = (double)(b.sampler_cpu_ns - a.sampler_cpu_ns);
	app = ((double)(p[1] - p[0]) - cpu) / (double)(t[1] - t[0]);
	{
		uint64_t p0 = proc_cpu_ns(), t0 = mono_ns();
		sleep_s(secs / 2);
		app_base = (double)(proc_cpu_ns() - p0) / (double)(mono_ns() - t0);
	}
	atomic_store(&running, 0);
	for (int i = 0; i < n; i++)
		pthread_join(t_workers[i], NULL);
	samples = (double)(b.samples - a.samples);
	oncpu = (double)(b.oncpu_samples - a.oncpu_samples);
	dur = (double)(t[1] - t[0]);
	fixed = (double)(end.sampler_cpu_ns - w.sampler_cpu_ns) -
	        (samples > 0 ? cpu / samples : 0) *
	            (double)(end.samples - w.samples);
	printf("sampler_cost samples=%llu ns_per_sample=%.0f ns_per_oncpu=%.0f "
	       "core_pct=%.2f "
	       "unwind_ns=%.0f offcpu=%llu missed=%llu fixed_us=%.0f "
	       "app_pct=%.2f app_base_pct=%.2f blocked_stacks=%s "
	       "switch_stacks=%llu probes=%llu\n",
	       (unsigned long long)(b.samples - a.samples),
	       samples > 0 ? cpu / samples : 0, oncpu > 0 ? cpu / oncpu : 0,
	       dur > 0 ? 100.0 * cpu / dur : 0,
	       b.unwinds > a.unwinds ? (double)(b.unwind_ns - a.unwind_ns) /
	                                   (double)(b.unwinds - a.unwinds) : 0,
	       (unsigned long long)(b.offcpu_samples - a.offcpu_samples),
	       (unsigned long long)(b.missed_samples - a.missed_samples),
	       fixed / 1e3, 100.0 * app, 100.0 * app_base,
	       b.blocked_stacks ? b.blocked_stacks : "none",
	       (unsigned long long)(b.switch_stacks - a.switch_stacks),
	       (unsigned long long)(b.probes - a.probes));
	stillprof_session_free(s);
	return 0;
}
