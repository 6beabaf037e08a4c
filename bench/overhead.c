/*
 * overhead.c - the core benchmark.  A CPU-bound program with 4 worker
 * threads, each computing at the bottom of a 32-frame call chain, runs in
 * alternating rounds without and with stillprof (wall mode, 1 kHz), in the
 * same process, so the machine's state is the same for both.  It prints:
 *
 *   overhead         1 - (work rate profiled / work rate unprofiled)
 *   samples/expected samples recorded / (threads x duration / interval)
 *   sampler us/sample CPU time of the sampling thread per sample
 *   unwind us/stack  time to unwind one 32-frame stack
 *
 * Ratios, not timings, are the result: this machine is shared and noisy.
 * Usage: overhead [ROUNDS] [SECONDS_PER_ROUND] [WORKERS (default 4)]
 */
#define _GNU_SOURCE
#include <linux/perf_event.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "floor_event.h"
#include "stillprof.h"

#define MAX_WORKERS 16

static int workers = 4;
#define DEPTH 32

static atomic_int running;
static int kernel_floor; /* workers sample themselves, nobody reads */
static atomic_ulong work_done;
static volatile uint64_t sink;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((noinline)) static uint64_t leaf_work(uint64_t x)
{
	for (int i = 0; i < 20000; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	return x;
}

/* Recursion builds a 32-frame stack: the depth the target is stated for. */
__attribute__((noinline)) static uint64_t descend(int depth, uint64_t x)
{
	uint64_t r;
	if (depth == 0)
		return leaf_work(x);
	r = descend(depth - 1, x + (uint64_t)depth);
	__asm__ volatile("" ::: "memory"); /* no tail call: keep the frame */
	return r ^ (uint64_t)depth;
}

/* The kernel's own share, measured in the same run (floor_event.h). */
static int open_floor_event(void **ring, size_t *len)
{
	return bench_floor_event_open(1000, 8, ring, len);
}

static void *worker(void *arg)
{
	uint64_t x = (uintptr_t)arg;
	void *ring = NULL;
	size_t len = 0;
	int fd = kernel_floor ? open_floor_event(&ring, &len) : -1;

	while (atomic_load(&running)) {
		x = descend(DEPTH - 4, x);
		atomic_fetch_add(&work_done, 1);
	}
	sink = x;
	if (ring)
		munmap(ring, len);
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* Run the workers for `seconds` and return work units per second. */
static double run_round(double seconds)
{
	pthread_t t[MAX_WORKERS];
	struct timespec ts = {(time_t)seconds,
	                      (long)((seconds - (long)seconds) * 1e9)};
	uint64_t t0, w0;

	atomic_store(&running, 1);
	w0 = atomic_load(&work_done);
	t0 = now_ns();
	for (int i = 0; i < workers; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1));
	nanosleep(&ts, NULL);
	atomic_store(&running, 0);
	for (int i = 0; i < workers; i++)
		pthread_join(t[i], NULL);
	return (double)(atomic_load(&work_done) - w0) * 1e9 /
	       (double)(now_ns() - t0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 3;
	double secs = argc > 2 ? atof(argv[2]) : 2.0;
	double base[16], prof[16], ratio[16], floor_ratio[16];
	uint64_t samples = 0, expected = 0, sampler_ns = 0, unwind_ns = 0,
	         unwinds = 0, missed = 0;
	struct stillprof_options o;

	if (argc > 3)
		workers = atoi(argv[3]);
	if (rounds < 1 || rounds > 16 || secs <= 0 || workers < 1 ||
	    workers > MAX_WORKERS) {
		fprintf(stderr, "usage: overhead [ROUNDS 1..16] [SECONDS] "
		                "[WORKERS 1..16]\n");
		return 2;
	}
	stillprof_options_init(&o);
	o.mode = STILLPROF_MODE_WALL;
	o.interval_us = 1000;
	printf("%d CPU-bound workers, wall mode at 1 kHz, %d rounds of %.1f s\n",
	       workers, rounds, secs);
	run_round(0.2); /* warm up caches and the CPU frequency */
	for (int r = 0; r < rounds; r++) {
		stillprof_session *s;
		struct stillprof_stats st;
		int err;

		base[r] = run_round(secs);
		if ((err = stillprof_session_new(&o, &s)) ||
		    (err = stillprof_session_start(s))) {
			fprintf(stderr, "overhead: cannot profile: %s\n",
			        stillprof_strerror(err));
			return 77;
		}
		prof[r] = run_round(secs);
		stillprof_session_stop(s);
		stillprof_session_stats(s, &st);
		samples += st.samples;
		missed += st.missed_samples;
		/* every worker plus the main thread (blocked in nanosleep) */
		expected += (uint64_t)((double)(workers + 1) *
		                       (double)st.duration_ns / 1e6);
		sampler_ns += st.sampler_cpu_ns;
		unwind_ns += st.unwind_ns;
		unwinds += st.unwinds;
		stillprof_session_free(s);
		kernel_floor = 1;
		floor_ratio[r] = run_round(secs) / base[r];
		kernel_floor = 0;
		ratio[r] = prof[r] / base[r];
		printf("round %d: unprofiled %.1f/s profiled %.1f/s ratio %.4f "
		       "(kernel sampling alone %.4f)\n",
		       r + 1, base[r], prof[r], ratio[r], floor_ratio[r]);
	}
	qsort(ratio, (size_t)rounds, sizeof(double), cmp_double);
	qsort(floor_ratio, (size_t)rounds, sizeof(double), cmp_double);
	printf("overhead (median of %d rounds): %.2f %%   (target <= 1 %%)\n",
	       rounds, (1.0 - ratio[rounds / 2]) * 100.0);
	printf("  for comparison, the kernel's 1 kHz task-clock sampling alone: "
	       "%.2f %%\n", (1.0 - floor_ratio[rounds / 2]) * 100.0);
	printf("samples/expected: %llu/%llu = %.2f %%   (target >= 99 %%), "
	       "missed %llu\n",
	       (unsigned long long)samples, (unsigned long long)expected,
	       expected ? 100.0 * (double)samples / (double)expected : 0.0,
	       (unsigned long long)missed);
	printf("sampler CPU per sample: %.2f us\n",
	       samples ? (double)sampler_ns / 1e3 / (double)samples : 0.0);
	printf("unwind per %d-frame stack: %.2f us   (target <= 2 us)\n",
	       DEPTH, unwinds ? (double)unwind_ns / 1e3 / (double)unwinds : 0.0);
	return 0;
}
