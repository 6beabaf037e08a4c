/*
 * tick_replay.h - wall-mode ticks replayed exactly from switch records
 * (perf back-end; see tick_replay.c).
 */
#ifndef SP_TICK_REPLAY_H
#define SP_TICK_REPLAY_H

#include <stdint.h>

struct stillprof_session;
struct sp_tstate;

/* The grid is base + k * iv.  The latest tick at or before t (base - iv
 * when t < base). */
uint64_t sp_tick_last_at_or_before(uint64_t base, uint64_t iv, uint64_t t);
/* Ticks after `done` (a grid tick) and at or before `upto`. */
uint64_t sp_tick_count(uint64_t done, uint64_t iv, uint64_t upto);

/* A SWITCH record at t_ns is about to change ts's state: emit the ticks
 * before t_ns with the state that held until then (wall mode only). */
void sp_replay_before(struct stillprof_session *s, struct sp_tstate *ts,
                      uint64_t t_ns);
/* End of a pass that started at `now` (its records drained): emit the
 * ticks up to now with the state ts is still in, probing a blocked thread
 * once per episode.  May leave ticks for the next pass when a probe finds
 * that the thread ran meanwhile. */
void sp_replay_pass(struct stillprof_session *s, struct sp_tstate *ts,
                    uint64_t now);

/* Wall mode, perf: the period the sampling thread should wake at now
 * (s->wake_coarse_ns, s->wake_mid_ns or s->tick_ns), judged every
 * SP_WAKE_WINDOW_NS from the blocking episodes seen (see tick_replay.c).
 * Returns the new period, or 0 to keep the current one. */
uint64_t sp_replay_wake_period(struct stillprof_session *s, uint64_t now);
/* The coarse period for interval iv: a whole number of ticks, at least
 * SP_WAKE_COARSE_NS, longer up to wait_ns (how long the rings can wait
 * for a pass) but not past SP_WAKE_COARSE_MAX_NS (50 ms); the middle one
 * the same within SP_WAKE_MID_MAX_NS (10 ms). */
uint64_t sp_replay_coarse_ns(uint64_t iv, uint64_t wait_ns);
uint64_t sp_replay_mid_ns(uint64_t iv, uint64_t wait_ns);
/* Expected share of an off-CPU episode of d_ns a pass every coarse_ns
 * fails to probe although a pass every iv would have. */
double sp_replay_gain(uint64_t d_ns, uint64_t iv, uint64_t coarse_ns);

#endif
