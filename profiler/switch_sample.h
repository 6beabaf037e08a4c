/*
 * switch_sample.h - wall mode's blocked stacks taken by the kernel at the
 * moment a thread blocks (a sampling context-switch event per thread,
 * writing into its task-clock ring); the /proc probe (probe.c) is the
 * fallback.  See switch_sample.c.
 */
#ifndef SP_SWITCH_SAMPLE_H
#define SP_SWITCH_SAMPLE_H

#include <linux/perf_event.h>
#include <stdint.h>

struct stillprof_session;
struct sp_tstate;

/* Once per start, perf back-end: are context-switch samples allowed here
 * (they need the kernel events of perf_event_paranoid <= 1 or
 * CAP_PERFMON) and wanted (wall mode; STILLPROF_SWITCH_SAMPLES=0 turns
 * them off, for tests and diagnosis)?  Sets s->switch_samples and appends
 * "blocked stacks: ..." to s->guarantee (wall mode). */
void sp_switch_probe(struct stillprof_session *s);
/* "switch_samples", "proc_probe", or NULL (CPU mode, signal back-end). */
const char *sp_switch_mode_name(const struct stillprof_session *s);
void sp_switch_free(struct stillprof_session *s);

/* Open ts's context-switch event into its ring (ts->ring open), enabled.
 * On failure ts keeps the /proc probe only (nothing left open). */
void sp_switch_attach(struct stillprof_session *s, struct sp_tstate *ts);
/* Close it (the ring may still hold its samples: they stay recognized)
 * and free ts's saved stack. */
void sp_switch_detach(struct sp_tstate *ts);
/* Only close it: fork's child handler. */
void sp_switch_close(struct sp_tstate *ts);
/* ts's ring was opened again (a new fd): point the event at it. */
void sp_switch_reattach(struct stillprof_session *s, struct sp_tstate *ts);

/* ts->blocked_stack of an episode whose stack came from a switch sample
 * and is not interned yet: only an episode that gets a tick is (most
 * blocking episodes are shorter than an interval, and interning them all
 * would fill the store with stacks that have no sample). */
#define SP_SWITCH_LAZY_STACK UINT32_MAX
/* Intern ts's lazy blocked stack into the current store; ts->blocked_stack
 * becomes its index.  Returns 0 or -errno. */
int sp_switch_intern(struct stillprof_session *s, struct sp_tstate *ts,
                     uint32_t *stack);

/* Every record of ts's ring, before the back-end looks at it: returns 1
 * for a context-switch sample (taken: unwound, pending until its SWITCH
 * record), 0 for anything else (a task-clock sample, a record). */
int sp_switch_record(struct stillprof_session *s, struct sp_tstate *ts,
                     const struct perf_event_header *h);
/* ts has just switched out at t_ns (its episode count already moved on
 * when `blocking`): a blocking switch-out takes the pending sample's
 * stack as the new episode's, so no probe is needed for it. */
void sp_switch_out(struct stillprof_session *s, struct sp_tstate *ts,
                   int blocking, uint64_t t_ns);
/* The switch-rate limiter's verdict for ts (switch-outs per second over
 * its last window): a switch-heavy thread's event is closed (each
 * switch-out copies 8 KiB in the thread itself and fills its ring), and
 * enabled again once it calms down. */
void sp_switch_rate(struct stillprof_session *s, struct sp_tstate *ts,
                    uint64_t rate);

#endif
