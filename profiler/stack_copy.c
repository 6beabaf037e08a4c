/*
 * stack_copy.c - the size of each thread's user-stack copy.
 *
 * Every thread starts at perf's default (SP_PERF_STACK_BYTES, 8 KiB).  A
 * stack deeper than its copy loses its outer frames in every sample: a
 * thread 24 frames of 480 bytes deep had 0 whole stacks of 1 790
 * (test_stack_copy).  So a cut sample doubles the thread's copy, up to
 * SP_COPY_MAX; what its ring already holds is cut too (one drain's
 * worth, 8-42 samples in seven runs of that test), then its stacks are
 * whole.  Each cut sample is counted (stillprof_stats.cut_samples,
 * metadata cut_samples).  Context-switch samples (switch_sample.c) copy
 * as much as the thread's task-clock event and are cut, counted and grow
 * it the same way: a thread 24 frames deep blocked in poll had 5 whole
 * stacks of 499 before, 491-497 of ~500 after (one cut switch sample).
 * The /proc probe, which reads up to 32 KiB, is no way out for them: it
 * has sp and pc only, and a realigned frame's CFA needs rbp (under ASan
 * it gave 2 frames).
 *
 * Copies never shrink below the default.  Shrinking each thread to twice
 * what its samples needed (1-2 KiB for `spin 4 8`) was built and
 * measured: 12 alternating rounds of `spin 4 8` at wall 1 kHz, +5.98 %
 * with 8 KiB copies against +5.87 % with shrunk ones (spread of single
 * runs ±2 points): no gain to set against the samples it would cut when
 * a shrunk thread later went deeper.
 */
#include <string.h>

#include "stack_copy.h"

void sp_copy_init(struct sp_stack_copy *c)
{
	memset(c, 0, sizeof(*c));
	c->bytes = SP_PERF_STACK_BYTES;
}

uint32_t sp_copy_after_cut(const struct sp_stack_copy *c, uint32_t asked)
{
	uint32_t want;

	/* A record taken before the copy last grew says nothing about the
	 * size it has now; a failed resize is not tried again. */
	if (c->fixed || asked < c->bytes)
		return 0;
	want = asked >= SP_COPY_MAX / 2 ? SP_COPY_MAX : asked * 2;
	return want > c->bytes ? want : 0;
}

void sp_copy_done(struct sp_stack_copy *c, uint32_t bytes, int applied)
{
	if (applied)
		c->bytes = bytes;
	else
		c->fixed = 1;
}
