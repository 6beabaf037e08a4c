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

#endif
