/*
 * snapshot.c - what a snapshot costs.  2 CPU-bound and 2 sleeping threads
 * are profiled (wall, 1 kHz); then, while they keep running:
 *
 *   cut round trip   a consumer asks for a cut and gets the segment
 *                    (sp_snap_tap_take: eventfd -> sampler swaps the store
 *                    -> futex wake -> merge into the tap), mean and max
 *                    over N takes spaced 10 ms apart;
 *   snapshot write   stillprof_session_snapshot of the whole profile so
 *                    far as pprof (cut, merge, symbolize, write), after
 *                    SECONDS of profiling;
 *   sampler CPU      the sampling thread's CPU time per second of the run
 *                    with the takes, to compare with `overhead`.
 *
 * Usage: snapshot [SECONDS (default 5)] [TAKES (default 200)]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "session.h"
#include "snapshot.h"
#include "stillprof.h"
#include "store.h"

static atomic_int stop;
static volatile uint64_t sink;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((noinline)) static void spin(void)
{
	uint64_t x = sink;
	for (int i = 0; i < 100000; i++)
		x = x * 6364136223846793005ull + 1;
	sink = x;
}

static void *busy(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		spin();
	return NULL;
}

static void *sleeper(void *arg)
{
	struct timespec ts = {0, 2 * 1000 * 1000};
	(void)arg;
	while (!atomic_load(&stop))
		nanosleep(&ts, NULL);
	return NULL;
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 5;
	int takes = argc > 2 ? atoi(argv[2]) : 200;
	struct stillprof_options o;
	struct stillprof_stats st;
	stillprof_session *s;
	struct sp_tap *tap;
	pthread_t th[4];
	uint64_t sum = 0, max = 0, t0, t1, run0, samples = 0;
	char path[] = "/tmp/stillprof-bench-XXXXXX.pb.gz";
	int fd, err;

	if (seconds < 1 || takes < 1) {
		fprintf(stderr, "usage: snapshot [SECONDS] [TAKES]\n");
		return 2;
	}
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, i < 2 ? busy : sleeper, NULL);
	stillprof_options_init(&o);
	if (stillprof_session_new(&o, &s) || sp_snap_tap_open(s, &tap) ||
	    (err = stillprof_session_start(s))) {
		fprintf(stderr, "snapshot: cannot profile\n");
		return 77;
	}
	run0 = now_ns();
	for (int i = 0; i < takes; i++) {
		struct sp_store *seg;
		struct timespec gap = {0, 10 * 1000 * 1000};

		nanosleep(&gap, NULL);
		t0 = now_ns();
		if (sp_snap_tap_take(s, tap, &seg, NULL, NULL))
			return 1;
		t1 = now_ns();
		samples += seg->n_samples;
		sp_store_free(seg);
		sum += t1 - t0;
		if (t1 - t0 > max)
			max = t1 - t0;
	}
	while (now_ns() - run0 < (uint64_t)seconds * 1000000000u)
		sleep(1);
	fd = mkstemps(path, 6);
	if (fd < 0)
		return 1;
	close(fd);
	t0 = now_ns();
	err = stillprof_session_snapshot(s, path, STILLPROF_FORMAT_PPROF);
	t1 = now_ns();
	unlink(path);
	if (err) {
		fprintf(stderr, "snapshot: %s\n", stillprof_strerror(err));
		return 1;
	}
	stillprof_session_stop(s);
	stillprof_session_stats(s, &st);
	atomic_store(&stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	printf("cut round trip:  mean %.1f us, max %.1f us over %d takes "
	       "(%llu samples taken)\n",
	       (double)sum / takes / 1e3, (double)max / 1e3, takes,
	       (unsigned long long)samples);
	printf("snapshot write:  %.1f ms for %llu samples, %llu stacks "
	       "(pprof, symbolized)\n",
	       (double)(t1 - t0) / 1e6, (unsigned long long)st.samples,
	       (unsigned long long)st.unique_stacks);
	printf("sampler CPU:     %.2f%% of one CPU over %d s\n",
	       100.0 * (double)st.sampler_cpu_ns / (double)st.duration_ns,
	       seconds);
	sp_snap_tap_close(s, tap);
	stillprof_session_free(s);
	return 0;
}
