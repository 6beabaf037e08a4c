/*
 * perf_records.h - reading a thread's perf ring (perf_records.c), and the
 * pieces of the perf back-end it shares with backend_perf.c and
 * switch_sample.c.
 */
#ifndef SP_PERF_RECORDS_H
#define SP_PERF_RECORDS_H

#include <stdint.h>
#include <sys/types.h>

#include "threads.h"
#include "unwind.h"

struct stillprof_session;

/* Hand every record in ts's ring to its handler; 1 if records were lost
 * (a PERF_RECORD_LOST was read), else 0. */
int sp_perf_drain_ring(struct stillprof_session *s, struct sp_tstate *ts);

/* ts's task-clock event is closing: the intervals since the thread's
 * latest sample (records lost at its end, or a credit no sample took) go
 * to that sample's stack and time; a partial interval is dropped. */
void sp_perf_close_weight(struct stillprof_session *s, struct sp_tstate *ts);

/* The user registers and stack of a sample body at p (from its
 * PERF_SAMPLE_REGS_USER word on; our SP_PERF_REGS_MASK) into *in, whose
 * stack points into the record.  Returns 1, 0 when the sample has no user
 * registers (a kernel thread's), -1 when the record is cut short. */
int sp_perf_read_user(const char *p, const char *end, struct sp_uw_input *in);
/* After the unwind of such a record (the unwinder's state still that
 * walk's): a copy that ended before the unwind did, and not because the
 * stack ended there, is a cut sample: its outer frames are missing.
 * Counted, and ts's copies grow at the end of the drain (stack_copy.c). */
void sp_perf_note_cut(struct stillprof_session *s, struct sp_tstate *ts,
                      const struct sp_uw_input *in);
/* Start loading the lines of such a record that the unwind will read. */
void sp_perf_prefetch_user(const char *p, const char *end, size_t stack_need);

/* backend_perf.c: attach a thread created while we sample (its FORK
 * record); its CPU time before the event counted goes to its first
 * sample. */
int sp_perf_attach_born(struct stillprof_session *s, pid_t tid);

/* CPU time a thread of ours has used, 0 if unknown (the weights treat 0
 * as "no clock"). */
static inline uint64_t sp_perf_thread_cpu_ns(pid_t tid)
{
	uint64_t ns = sp_thread_cpu_ns(tid);

	return ns == UINT64_MAX ? 0 : ns;
}

#endif
