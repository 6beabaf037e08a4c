/*
 * sigslot.h - the hand-over between the signal back-end's handler (running
 * in an application thread) and the sampling thread: one preallocated slot
 * per sampled thread, holding a small ring of samples (user registers and a
 * copy of up to 8 KiB of stack above sp).
 *
 * The handler only copies: no malloc, no lock it could wait on, no syscall
 * but clock_gettime (vDSO).  Each slot is a single-producer single-consumer
 * ring: the handler (one thread; the signal is blocked while its handler
 * runs) advances `head`, the sampling thread advances `tail`.  A full ring
 * drops the sample and counts it.
 *
 * Slots are addressed by a 32-bit token carried in the timer's sigev_value
 * (slot index and generation).  Slot memory is never freed while the
 * library is loaded, so a late signal of a deleted timer can only ever
 * touch a slot, and the generation check makes it a no-op there.  Before a
 * slot is reset for a new thread the sampling thread waits for a handler
 * that may still be inside it (the `busy` flag, which the handler takes
 * with a compare-and-swap and never waits for).
 */
#ifndef SP_SIGSLOT_H
#define SP_SIGSLOT_H

#include <stdatomic.h>
#include <stdint.h>
#include <ucontext.h>

#include "unwind.h"

#define SP_SIGSLOT_RING 4          /* samples per thread between drains */
#define SP_SIGSLOT_STACK 8192      /* bytes of stack copied, as perf */
#define SP_SIGSLOT_INDEX_BITS 12
#define SP_SIGSLOT_MAX (1u << SP_SIGSLOT_INDEX_BITS) /* threads at once */

struct sp_sig_sample {
	uint64_t regs[SP_REG_COUNT];   /* DWARF order, all valid */
	uint64_t t_ns;                 /* CLOCK_MONOTONIC in the handler */
	uint32_t weight;               /* 1 + timer overruns: intervals of
	                                * CPU time this sample stands for */
	uint32_t stack_len;
	uint8_t stack[SP_SIGSLOT_STACK];
};

struct sp_sig_slot {
	_Atomic uint32_t gen;          /* owner's generation; 0: free */
	atomic_int busy;               /* a handler is writing */
	_Atomic uint32_t head;         /* written by the handler */
	_Atomic uint32_t tail;         /* written by the sampling thread */
	_Atomic uint64_t dropped;      /* weight of samples lost: ring full */
	_Atomic uint64_t delivered;    /* signals that reached the slot */
	/* The owner's stack mapping [lo, hi), learned by the sampling thread
	 * from the sps it sees (0, 0: unknown); a seqlock, since the two
	 * halves cannot be written at once: odd = being written. */
	_Atomic uint32_t range_seq;
	_Atomic uint64_t stack_lo, stack_hi;
	struct sp_sig_sample ring[SP_SIGSLOT_RING];
};

/* Take a free slot for a new thread.  Returns 0 with its token, or
 * -ENOMEM / -EMFILE (all SP_SIGSLOT_MAX in use).  Sampling threads only
 * (serialized by an internal mutex the handler never takes). */
int sp_sigslot_alloc(uint32_t *token);
/* Release: later signals carrying the token are ignored.  Waits (bounded)
 * for a handler still writing; a slot whose handler never finishes is
 * leaked rather than reused. */
void sp_sigslot_free(uint32_t token);
/* The slot of a live token, NULL otherwise (stale or out of range). */
struct sp_sig_slot *sp_sigslot_get(uint32_t token);

/* The handler's whole job: record the interrupted context uc (or only
 * regs/stack of it) into the slot of token.  Async-signal-safe.  Returns 1
 * recorded, 0 dropped (ring full or slot busy), -1 stale token. */
int sp_sigslot_record(uint32_t token, int overrun, const ucontext_t *uc);

/* Sampling thread: the oldest unread sample, or NULL; then pop it. */
const struct sp_sig_sample *sp_sigslot_peek(struct sp_sig_slot *sl);
void sp_sigslot_pop(struct sp_sig_slot *sl);

/* Publish the owner's stack mapping (0, 0 to forget it). */
void sp_sigslot_set_range(struct sp_sig_slot *sl, uint64_t lo, uint64_t hi);

#endif
