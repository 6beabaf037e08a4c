/*
 * sample_weight.h - how many sampling intervals one perf sample stands
 * for, from the event's count (task-clock nanoseconds of the thread) read
 * with each sample (PERF_SAMPLE_READ).  See sample_weight.c.
 */
#ifndef SP_SAMPLE_WEIGHT_H
#define SP_SAMPLE_WEIGHT_H

#include <stdint.h>

/* Samples of the phase estimate per drift correction (sample_weight.c). */
#define SP_WEIGHT_WINDOW 32u

struct sp_weight {
	uint64_t grid;      /* count at the last period accounted for: the
	                     * estimated instant its timer was due */
	uint64_t owed;      /* periods accounted at a rephase, given to the
	                     * next sample */
	uint64_t min_late;  /* least lateness past grid in this window */
	uint32_t n_window;  /* samples in this window */
	uint64_t last_t_ns; /* time of the latest sample (0: none yet) */
	uint64_t given;     /* intervals given so far, credits included */
	uint64_t cpu_base;  /* thread CPU clock where given starts at 0 */
	int resync;         /* the next sample starts the grid again */
};

/* A fresh event: counting starts at 0 and its first period ends at iv. */
void sp_weight_init(struct sp_weight *w);

/*
 * The sample whose event count is `count` (ns): the number of intervals
 * of iv ns it stands for, at least 1 — the periods whose timer was due
 * since the previous sample's (those the kernel skipped when its timer
 * interrupt came more than a period late, or that fell in kernel mode, or
 * whose records were lost).  Remainders carry over to later samples.
 */
uint64_t sp_weight_next(struct sp_weight *w, uint64_t count, uint64_t iv);

/*
 * The kernel restarted the event's timer at `count` (a new period was
 * set): the grid starts again there.  The whole intervals since the last
 * period accounted for go to the next sample; the fraction is dropped.
 */
void sp_weight_rephase(struct sp_weight *w, uint64_t count, uint64_t iv);

/*
 * The task-clock count runs a little faster than the thread's CPU clock
 * (it goes on through each context switch: +0.2 to +5.6 % per thread
 * measured at 10 kHz, the more the more it was switched).  Cap k, a
 * weight just returned by sp_weight_next, so that the intervals given
 * since cpu_base stay within the thread's CPU time `cpu_ns` (its CPU clock
 * read after the sample) plus one; never below `least` (1 for a sample
 * the kernel took, 0 for sp_weight_tail's).
 */
uint64_t sp_weight_trim(struct sp_weight *w, uint64_t k, uint64_t least,
                        uint64_t cpu_ns, uint64_t iv);

/* Records were lost: the next sample counts once (plus any credit) and
 * the grid starts again at it; the intervals of the gap are not given. */
void sp_weight_resync(struct sp_weight *w);

/* CPU time the thread used before its event counted (ns): its whole
 * intervals go to the next sample. */
void sp_weight_credit(struct sp_weight *w, uint64_t ns, uint64_t iv);

/*
 * The event is closing with its final count: the whole intervals since the
 * latest sample (and any credit not given yet), which no sample will
 * carry.  Leaves nothing owed.
 */
uint64_t sp_weight_tail(struct sp_weight *w, uint64_t count, uint64_t iv);

#endif
