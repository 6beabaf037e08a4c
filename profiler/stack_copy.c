/*
 * stack_copy.c - the size of each thread's user-stack copy.
 *
 * Why per thread and moving: the kernel copies sample_stack_user bytes
 * above the stack pointer in every sampling interrupt, on the sampled
 * thread's CPU, into a ring the sampler reads much later (cold lines).
 * On the 2-vCPU guest of the README, `spin 4 8` at 1 kHz: a bare
 * IP-only event cost +5.4 %, the same event with 8 KiB copies +5.9 %,
 * with 1 KiB copies +5.3 %; stillprof built with 4 KiB copies +6.1 %
 * against +7.0 % with 8 KiB.  Most threads need far less than 8 KiB (a
 * few hundred bytes for a loop 8 calls deep), while a deep stack needs
 * more than 8 KiB and was cut at perf's default, its outer frames lost.
 *
 * Policy: start at SP_PERF_STACK_BYTES.  After a window of at least
 * SP_COPY_WINDOW_NS and SP_COPY_WINDOW_SAMPLES samples, shrink to the
 * power of two holding twice the most any of them needed (not below the
 * floor).  A cut sample (the unwind wanted a word past a full copy)
 * grows the copy at once: back to the default from below it, doubled
 * from there up to SP_COPY_MAX, and the new size becomes the floor, so a
 * thread pays at most one cut per size it needed (each counted by the
 * caller) and is never shrunk into a cut twice.
 */
#include <string.h>

#include "stack_copy.h"

void sp_copy_init(struct sp_stack_copy *c)
{
	memset(c, 0, sizeof(*c));
	c->bytes = SP_PERF_STACK_BYTES;
	c->floor = SP_COPY_MIN;
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = SP_COPY_MIN;

	while (p < n && p < SP_COPY_MAX)
		p <<= 1;
	return p;
}

static void new_window(struct sp_stack_copy *c, uint64_t now_ns)
{
	c->window_ns = now_ns;
	c->need_max = 0;
	c->samples = 0;
}

uint32_t sp_copy_note(struct sp_stack_copy *c, uint32_t asked, uint32_t need,
                      int cut, uint64_t now_ns)
{
	uint32_t want;

	if (c->fixed)
		return 0;
	if (cut) {
		/* A record taken before the copy last grew says nothing
		 * about the size it has now. */
		if (asked < c->bytes)
			return 0;
		want = asked < SP_PERF_STACK_BYTES ? SP_PERF_STACK_BYTES
		                                   : asked * 2;
		if (want > SP_COPY_MAX)
			want = SP_COPY_MAX;
		return want > c->bytes ? want : 0;
	}
	if (!c->window_ns)
		new_window(c, now_ns);
	if (need > c->need_max)
		c->need_max = need;
	c->samples++;
	if (now_ns - c->window_ns < SP_COPY_WINDOW_NS ||
	    c->samples < SP_COPY_WINDOW_SAMPLES)
		return 0;
	want = pow2_at_least(2 * c->need_max);
	if (want < c->floor)
		want = c->floor;
	new_window(c, now_ns);
	return want < c->bytes ? want : 0;
}

void sp_copy_done(struct sp_stack_copy *c, uint32_t bytes, int applied)
{
	if (!applied) {
		c->fixed = 1;
		return;
	}
	if (bytes > c->bytes)
		c->floor = bytes; /* only a cut grows the copy */
	c->bytes = bytes;
	new_window(c, 0); /* the next sample starts one */
}
