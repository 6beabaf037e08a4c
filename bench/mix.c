/*
 * mix.c - the known-mix workload of the accuracy row.  One thread repeats
 * cycles of about 10 ms: mix_a() computes for 50 % of the cycle, mix_b()
 * for 30 %, mix_block() waits in poll() for the remaining 20 %.  Cycle
 * lengths are randomised (7..13 ms) so that no sampling rate can lock onto
 * the phases.  The program measures the truth itself and prints it:
 *
 *   mix wall_a=.. wall_b=.. wall_block=.. cpu_a=.. cpu_b=..
 *
 * (percent of the run's wall time spent in each function, and percent of
 * the thread's CPU time spent in mix_a and mix_b).  A profiler's shares
 * are compared with these.  No stillprof code is linked in.
 *
 * Usage: mix SECONDS
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile uint64_t sink;

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Compute until the monotonic clock reaches `until`.  A macro, so the
 * leaf frame is mix_a or mix_b itself, also in symbolizers that name
 * inlined functions (profilers with weak unwinding still attribute by the
 * leaf); ~2 us between clock reads keeps the time in the vDSO small. */
#define BURN(until, k)                                                          \
	do {                                                                   \
		uint64_t x_ = sink;                                            \
		do {                                                           \
			for (int i_ = 0; i_ < 2000; i_++)                      \
				x_ = x_ * 6364136223846793005ull + (k);    \
		} while (clock_ns(CLOCK_MONOTONIC) < (until));                 \
		sink = x_;                                                     \
	} while (0)

__attribute__((noinline)) void mix_a(uint64_t ns)
{
	uint64_t until = clock_ns(CLOCK_MONOTONIC) + ns;

	BURN(until, 1442695040888963407ull);
}

/* Another constant: identical bodies could be folded into one function. */
__attribute__((noinline)) void mix_b(uint64_t ns)
{
	uint64_t until = clock_ns(CLOCK_MONOTONIC) + ns;

	BURN(until, 1013904223ull);
}

/* Block for ns (whole milliseconds, poll's unit, then the rest). */
__attribute__((noinline)) void mix_block(uint64_t ns)
{
	uint64_t until = clock_ns(CLOCK_MONOTONIC) + ns, now;

	while ((now = clock_ns(CLOCK_MONOTONIC)) + 1000000u <= until)
		poll(NULL, 0, (int)((until - now) / 1000000u));
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 0;
	uint64_t t_start, end, wall[3] = {0}, cpu[3] = {0}, total, cpu_total;
	unsigned seed = 12345;

	if (secs <= 0 || secs > 3600) {
		fprintf(stderr, "usage: mix SECONDS\n");
		return 2;
	}
	t_start = clock_ns(CLOCK_MONOTONIC);
	cpu_total = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	end = t_start + (uint64_t)(secs * 1e9);
	while (clock_ns(CLOCK_MONOTONIC) < end) {
		uint64_t cycle = 7000000u + (uint64_t)(rand_r(&seed) % 6000) * 1000u;
		uint64_t w0, c0;

		for (int k = 0; k < 3; k++) {
			w0 = clock_ns(CLOCK_MONOTONIC);
			c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
			if (k == 0)
				mix_a(cycle / 2);
			else if (k == 1)
				mix_b(cycle * 3 / 10);
			else
				mix_block(cycle / 5);
			wall[k] += clock_ns(CLOCK_MONOTONIC) - w0;
			cpu[k] += clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
		}
	}
	total = clock_ns(CLOCK_MONOTONIC) - t_start;
	cpu_total = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_total;
	printf("mix wall_a=%.3f wall_b=%.3f wall_block=%.3f cpu_a=%.3f "
	       "cpu_b=%.3f\n", 100.0 * (double)wall[0] / (double)total,
	       100.0 * (double)wall[1] / (double)total,
	       100.0 * (double)wall[2] / (double)total,
	       100.0 * (double)cpu[0] / (double)cpu_total,
	       100.0 * (double)cpu[1] / (double)cpu_total);
	return 0;
}
