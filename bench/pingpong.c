/*
 * pingpong.c - context-switch cost of profiling.  Two threads pass one
 * byte back and forth over two pipes, so every round trip is two
 * blocking reads and two wake-ups: the workload where per-thread sampling
 * events cost most (each switch cancels and re-arms their timers).  Rounds
 * alternate unprofiled and profiled (stillprof in this process, wall mode
 * unless told otherwise), and the program prints one line:
 *
 *   pingpong base_rt_s=MEDIAN prof_rt_s=MEDIAN ratio=MEDIAN_OF_ROUND_RATIOS
 *            samples=N expected=E
 *
 * (E: two threads times the profiled time over the interval; in cpu mode
 * only on-CPU time is sampled, so N < E there by design.)
 * ratio = base / profiled round trips per second (1.0 = free).  With PIN=1
 * in the environment both threads share CPU 0, so every switch is a
 * thread-to-thread switch on one CPU.
 *
 * Usage: pingpong [ROUNDS] [SECONDS_PER_RUN] [INTERVAL_US] [wall|cpu]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stillprof.h"

static int ping[2], pong[2];
static atomic_int stop_flag;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pin_if_asked(void)
{
	const char *p = getenv("PIN");
	cpu_set_t set;

	if (!p || strcmp(p, "1"))
		return;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* The echo side: returns every byte until it reads 'q'. */
static void *echo(void *arg)
{
	char c;

	(void)arg;
	pin_if_asked();
	while (read(ping[0], &c, 1) == 1 && c != 'q')
		if (write(pong[1], &c, 1) != 1)
			break;
	return NULL;
}

/* Round trips per second over `secs` seconds. */
static double run(double secs)
{
	pthread_t t;
	uint64_t n = 0, t0, end;
	char c = 'p';

	pthread_create(&t, NULL, echo, NULL);
	t0 = now_ns();
	end = t0 + (uint64_t)(secs * 1e9);
	do {
		/* check the clock every 256 round trips only */
		for (int i = 0; i < 256; i++) {
			if (write(ping[1], &c, 1) != 1 ||
			    read(pong[0], &c, 1) != 1)
				goto out;
		}
		n += 256;
	} while (now_ns() < end && !atomic_load(&stop_flag));
out:
	c = 'q';
	if (write(ping[1], &c, 1) != 1)
		perror("pingpong: write");
	pthread_join(t, NULL);
	return (double)n * 1e9 / (double)(now_ns() - t0);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	double secs = argc > 2 ? atof(argv[2]) : 1.0;
	unsigned iv = argc > 3 ? (unsigned)atoi(argv[3]) : 1000;
	const char *mode = argc > 4 ? argv[4] : "wall";
	double base[32], prof[32], ratio[32];
	struct stillprof_options o;
	uint64_t samples = 0, expected = 0;

	if (rounds < 1 || rounds > 32 || secs <= 0 || iv < 1) {
		fprintf(stderr, "usage: pingpong [ROUNDS 1..32] [SECONDS] "
		                "[INTERVAL_US] [wall|cpu]\n");
		return 2;
	}
	if (pipe2(ping, O_CLOEXEC) || pipe2(pong, O_CLOEXEC)) {
		perror("pingpong: pipe2");
		return 1;
	}
	pin_if_asked();
	stillprof_options_init(&o);
	if (stillprof_parse_mode(mode, &o.mode)) {
		fprintf(stderr, "pingpong: bad mode %s\n", mode);
		return 2;
	}
	o.interval_us = iv;
	run(0.1); /* warm-up */
	for (int r = 0; r < rounds; r++) {
		stillprof_session *s;
		struct stillprof_stats st;
		int err;

		base[r] = run(secs);
		if ((err = stillprof_session_new(&o, &s)) ||
		    (err = stillprof_session_start(s))) {
			fprintf(stderr, "pingpong: cannot profile: %s\n",
			        stillprof_strerror(err));
			return 77;
		}
		prof[r] = run(secs);
		stillprof_session_stop(s);
		stillprof_session_stats(s, &st);
		samples += st.samples;
		/* two threads (main and echo), one sample per interval each */
		expected += 2 * st.duration_ns / ((uint64_t)iv * 1000u);
		stillprof_session_free(s);
		ratio[r] = base[r] / prof[r];
	}
	qsort(base, (size_t)rounds, sizeof(double), cmp);
	qsort(prof, (size_t)rounds, sizeof(double), cmp);
	qsort(ratio, (size_t)rounds, sizeof(double), cmp);
	printf("pingpong base_rt_s=%.0f prof_rt_s=%.0f ratio=%.3f "
	       "samples=%llu expected=%llu\n", base[rounds / 2],
	       prof[rounds / 2], ratio[rounds / 2],
	       (unsigned long long)samples, (unsigned long long)expected);
	return 0;
}
