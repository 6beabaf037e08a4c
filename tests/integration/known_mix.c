/*
 * known_mix.c - a workload with a known CPU split, to compare profiles of
 * the two back-ends: the main thread repeats mix_a (5 units of work),
 * mix_b (3) and mix_c (2), i.e. 50/30/20 % of its CPU time.  A unit is
 * several milliseconds of CPU (a cycle tens), long against a 4 ms
 * scheduler tick, so tick-driven sampling cannot alias onto one phase.  A
 * second thread, mix_blocked, sits in poll() the whole time.
 *
 * usage: known_mix [SECONDS]   (default 3); prints "units N".
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline, noclone))
#define UNIT_STEPS 4000000

static atomic_int stop;
static volatile uint64_t sink;

NOINLINE static void mix_unit(void)
{
	uint64_t x = sink;

	for (int i = 0; i < UNIT_STEPS; i++)
		x = x * 6364136223846793005u + 1442695040888963407u;
	sink = x;
}

/* The asm after each call keeps the calls from becoming tail jumps, so
 * every mix_* frame stays on the stack. */
NOINLINE static void mix_a(void)
{
	for (int i = 0; i < 5; i++)
		mix_unit();
	__asm__ volatile("" ::: "memory");
}

NOINLINE static void mix_b(void)
{
	for (int i = 0; i < 3; i++)
		mix_unit();
	__asm__ volatile("" ::: "memory");
}

NOINLINE static void mix_c(void)
{
	for (int i = 0; i < 2; i++)
		mix_unit();
	__asm__ volatile("" ::: "memory");
}

NOINLINE static void *mix_blocked(void *arg)
{
	struct pollfd none = {.fd = -1};

	(void)arg;
	while (!atomic_load(&stop))
		poll(&none, 1, 20);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 3, end;
	long cycles = 0;
	pthread_t t;

	if (seconds <= 0 || seconds > 600) {
		fprintf(stderr, "usage: known_mix [SECONDS]\n");
		return 2;
	}
	if (pthread_create(&t, NULL, mix_blocked, NULL))
		return 1;
	end = now_s() + seconds;
	while (now_s() < end) {
		mix_a();
		mix_b();
		mix_c();
		cycles++;
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	printf("units %ld\n", cycles * 10);
	return 0;
}
