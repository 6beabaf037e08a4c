/*
 * spin.c - the CPU-bound workload of the overhead and fidelity rows.  It
 * does a fixed amount of work (so profiled and unprofiled runs compare by
 * time) in THREADS worker threads named spin-N, each computing at the
 * bottom of a DEPTH-frame call chain.  It links nothing of stillprof: the
 * profilers under test are attached from outside (LD_PRELOAD, perf).
 *
 *   spin THREADS DEPTH UNITS     UNITS work units per thread
 *   spin --calibrate SECONDS     units one thread does in SECONDS
 *
 * prints one line:
 *
 *   spin wall_ns=W cpu_ns=C thr_cpu_ns=T thr_user_ns=U thr_wall_ns=L
 *
 * W: wall time of the work phase; C: CPU time of the whole process over it
 * (all threads, a profiler's own threads too); T, U, L: sums over the
 * workers of their CPU time, user CPU time and lifetime, from which the
 * expected sample counts follow.
 *
 * SPIN_KERNEL_FLOOR=HZ: every worker opens, for itself, a task-clock
 * sampling event at HZ that records the instruction pointer only and is
 * never read (its ring fills; the kernel still takes every sample): what
 * any perf_event profiler pays here for the timer interrupts and the
 * hrtimer work at each context switch, before copying a stack or waking
 * a reader.  bench/run prints it as the overhead's floor.
 */
#define _GNU_SOURCE
#include <linux/perf_event.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "floor_event.h"

#define MAX_THREADS 64

static int depth;
static long units;
static volatile uint64_t sink;
static long floor_hz; /* SPIN_KERNEL_FLOOR */

struct worker {
	pthread_t t;
	int id;
	uint64_t cpu_ns, user_ns, wall_ns;
};

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t tv_ns(struct timeval tv)
{
	return (uint64_t)tv.tv_sec * 1000000000u + (uint64_t)tv.tv_usec * 1000u;
}

__attribute__((noinline)) uint64_t spin_leaf(uint64_t x)
{
	for (int i = 0; i < 20000; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	return x;
}

/* Recursion builds the call chain; the asm keeps it from becoming a loop. */
__attribute__((noinline)) uint64_t spin_descend(int d, uint64_t x)
{
	uint64_t r;
	if (d <= 0)
		return spin_leaf(x);
	r = spin_descend(d - 1, x + (uint64_t)d);
	__asm__ volatile("" ::: "memory");
	return r ^ (uint64_t)d;
}

/* The calling thread's IP-only task-clock event at floor_hz
 * (floor_event.h); *ring: 256 KiB (~10 s of samples before it is full). */
static int open_floor_event(void **ring, size_t *len)
{
	int fd = bench_floor_event_open((uint64_t)floor_hz, 64, ring, len);

	if (fd < 0 || !*ring) {
		perror("spin: perf_event_open/mmap (SPIN_KERNEL_FLOOR)");
		exit(1);
	}
	return fd;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t x = (uint64_t)w->id + 1, t0 = clock_ns(CLOCK_MONOTONIC);
	char name[16];
	struct rusage ru;
	void *ring = NULL;
	size_t len = 0;
	int fd = floor_hz > 0 ? open_floor_event(&ring, &len) : -1;

	snprintf(name, sizeof(name), "spin-%d", w->id);
	pthread_setname_np(pthread_self(), name);
	/* main, start_thread, clone3, worker_main: DEPTH counts them too */
	for (long i = 0; i < units; i++)
		x = spin_descend(depth - 5, x);
	sink = x;
	w->wall_ns = clock_ns(CLOCK_MONOTONIC) - t0;
	w->cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	getrusage(RUSAGE_THREAD, &ru);
	w->user_ns = tv_ns(ru.ru_utime);
	if (fd >= 0) {
		munmap(ring, len);
		close(fd);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static struct worker w[MAX_THREADS];
	uint64_t t0, c0, wall, thr_cpu = 0, thr_user = 0, thr_wall = 0;
	int threads;

	if (argc == 3 && !strcmp(argv[1], "--calibrate")) {
		double secs = atof(argv[2]);
		uint64_t x = 1;
		long n = 0;
		t0 = clock_ns(CLOCK_MONOTONIC);
		while (clock_ns(CLOCK_MONOTONIC) - t0 < 200000000u) {
			x = spin_descend(4, x);
			n++;
		}
		sink = x;
		printf("%ld\n", (long)((double)n * secs / 0.2));
		return 0;
	}
	if (argc != 4 || (threads = atoi(argv[1])) < 1 ||
	    threads > MAX_THREADS || (depth = atoi(argv[2])) < 5 ||
	    depth > 1000 || (units = atol(argv[3])) < 1) {
		fprintf(stderr, "usage: spin THREADS(1..64) DEPTH(5..1000) "
		                "UNITS | spin --calibrate SECONDS\n");
		return 2;
	}
	if (getenv("SPIN_KERNEL_FLOOR") &&
	    ((floor_hz = atol(getenv("SPIN_KERNEL_FLOOR"))) < 1 ||
	     floor_hz > 100000)) {
		fprintf(stderr, "spin: SPIN_KERNEL_FLOOR: 1..100000 (Hz)\n");
		return 2;
	}
	t0 = clock_ns(CLOCK_MONOTONIC);
	c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	for (int i = 0; i < threads; i++) {
		w[i].id = i;
		if (pthread_create(&w[i].t, NULL, worker_main, &w[i])) {
			perror("spin: pthread_create");
			return 1;
		}
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].t, NULL);
		thr_cpu += w[i].cpu_ns;
		thr_user += w[i].user_ns;
		thr_wall += w[i].wall_ns;
	}
	wall = clock_ns(CLOCK_MONOTONIC) - t0;
	printf("spin wall_ns=%llu cpu_ns=%llu thr_cpu_ns=%llu thr_user_ns=%llu "
	       "thr_wall_ns=%llu\n", (unsigned long long)wall,
	       (unsigned long long)(clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0),
	       (unsigned long long)thr_cpu, (unsigned long long)thr_user,
	       (unsigned long long)thr_wall);
	return 0;
}
