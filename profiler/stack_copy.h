/*
 * stack_copy.h - how many bytes of user stack the kernel copies with each
 * perf sample of one thread (perf_event_attr.sample_stack_user).  A copy
 * shorter than the stack the unwind needs cuts the sample's outer frames;
 * a thread whose samples are cut gets a bigger copy.  See stack_copy.c.
 */
#ifndef SP_STACK_COPY_H
#define SP_STACK_COPY_H

#include <stdint.h>

#include "perf_regs.h" /* SP_PERF_STACK_BYTES: where every thread starts */

#define SP_COPY_MAX 32768u

struct sp_stack_copy {
	uint32_t bytes;      /* the size the thread's event copies */
	int fixed;           /* a resize failed: keep this size */
};

/* A new thread: SP_PERF_STACK_BYTES. */
void sp_copy_init(struct sp_stack_copy *c);

/*
 * A sample of the thread (on-CPU or context-switch) was cut: its unwind
 * wanted a word past a copy of `asked` bytes (the record's own size:
 * records of an earlier size may still be in the ring) that the stack's
 * end did not shorten.
 * Returns the size the thread's event should be opened with now, or 0 to
 * keep the current one.
 */
uint32_t sp_copy_after_cut(const struct sp_stack_copy *c, uint32_t asked);

/* The event was opened again with `bytes` (applied = 1), or that failed
 * (applied = 0: the thread keeps its size from then on). */
void sp_copy_done(struct sp_stack_copy *c, uint32_t bytes, int applied);

#endif
