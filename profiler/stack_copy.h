/*
 * stack_copy.h - how many bytes of user stack the kernel copies with each
 * perf sample of one thread (perf_event_attr.sample_stack_user).  The
 * copy is paid by the sampled thread, in the sampling interrupt; a copy
 * shorter than the stack the unwind needs cuts the sample's outer frames.
 * See stack_copy.c for the policy and the measurements behind it.
 */
#ifndef SP_STACK_COPY_H
#define SP_STACK_COPY_H

#include <stdint.h>

#include "perf_regs.h" /* SP_PERF_STACK_BYTES: where every thread starts */

#define SP_COPY_MIN 1024u
#define SP_COPY_MAX 32768u
/* A thread's copy shrinks only after a window this long with at least
 * SP_COPY_WINDOW_SAMPLES samples, all of which fit in half the smaller
 * size. */
#define SP_COPY_WINDOW_NS (1000ull * 1000 * 1000)
#define SP_COPY_WINDOW_SAMPLES 64u

struct sp_stack_copy {
	uint32_t bytes;      /* the size the thread's event copies */
	uint32_t floor;      /* never shrink below it: raised by cuts */
	uint32_t need_max;   /* most bytes an unwind read in this window */
	uint32_t samples;    /* samples in this window */
	uint64_t window_ns;  /* start of this window (0: none yet) */
	int fixed;           /* a resize failed: keep this size */
};

/* A new thread: SP_PERF_STACK_BYTES, floor SP_COPY_MIN. */
void sp_copy_init(struct sp_stack_copy *c);

/*
 * One on-CPU sample of the thread, taken with a copy of `asked` bytes
 * (the record's own size: records of an earlier size may still be in the
 * ring), whose unwind read `need` bytes above the stack pointer; `cut`:
 * it wanted a word past a copy that the stack's end did not shorten.
 * Returns the size the thread's event should be opened with now, or 0 to
 * keep the current one.
 */
uint32_t sp_copy_note(struct sp_stack_copy *c, uint32_t asked, uint32_t need,
                      int cut, uint64_t now_ns);

/* The event was opened again with `bytes` (applied = 1), or that failed
 * (applied = 0: the thread keeps its size from then on). */
void sp_copy_done(struct sp_stack_copy *c, uint32_t bytes, int applied);

#endif
