/*
 * tick_replay.c - wall-mode off-CPU samples from the perf back-end's
 * switch records, exact at every tick even when the sampling thread runs
 * late.
 *
 * The ticks lie on a fixed grid (tick_base_ns + k * tick_ns, the
 * timerfd's absolute CLOCK_MONOTONIC schedule) and the SWITCH records
 * carry CLOCK_MONOTONIC timestamps too (attr.use_clockid), so the state of
 * a thread at any past tick is the state set by its last record before
 * that tick.  Each thread keeps `replay_ns`, the last tick accounted for:
 *
 *  - when a SWITCH record at time t is read (sp_replay_before), every tick
 *    in (replay_ns, t) is emitted with the state that held until t, then
 *    the record is applied;
 *  - at the end of each pass (sp_replay_pass), the ticks up to the pass's
 *    start are emitted with the state the thread is still in.
 *
 * A tick is emitted once and in time order, however late the sampler is,
 * instead of being counted missed.  Stacks: a blocked tick takes the stack
 * of its blocking episode, read by probe.c while the thread is still
 * blocked (an episode that ended before any pass saw it has no stack: its
 * ticks are dropped, counted in offcpu_unknown); a preempted tick takes the
 * thread's newest on-CPU sample before the preemption.
 */
#define _GNU_SOURCE
#include <unistd.h>

#include "internal.h"
#include "session.h"
#include "store.h"
#include "switch_sample.h"
#include "tick_replay.h"

uint64_t sp_tick_last_at_or_before(uint64_t base, uint64_t iv, uint64_t t)
{
	if (t < base)
		return base - iv; /* the grid's virtual tick -1 */
	return base + (t - base) / iv * iv;
}

uint64_t sp_tick_count(uint64_t done, uint64_t iv, uint64_t upto)
{
	return upto > done ? (upto - done) / iv : 0;
}

/* First use: no tick at or before the attach instant belongs to the
 * thread (it may not have existed then). */
static void replay_init(const struct stillprof_session *s,
                        struct sp_tstate *ts)
{
	if (!ts->replay_ns)
		ts->replay_ns = sp_tick_last_at_or_before(
		    s->tick_base_ns, s->tick_ns, ts->attach_ns);
}

/* Emit ticks (replay_ns, upto] with `stack`. */
static void emit(struct stillprof_session *s, struct sp_tstate *ts,
                 uint64_t upto, uint32_t stack)
{
	uint64_t n = sp_tick_count(ts->replay_ns, s->tick_ns, upto);

	/* A switch sample's stack is interned by its first tick. */
	if (n && stack == SP_SWITCH_LAZY_STACK &&
	    sp_switch_intern(s, ts, &stack)) {
		ts->replay_ns += n * s->tick_ns;
		s->c.offcpu_unknown += n;
		return;
	}
	for (; n > 0; n--) {
		ts->replay_ns += s->tick_ns;
		if (sp_session_record(s, ts, stack, ts->replay_ns,
		                      SP_STATE_OFFCPU) == 0)
			s->c.offcpu_samples++;
	}
}

/* Account ticks (replay_ns, upto] without a sample; `unknown`: the thread
 * was off-CPU then, but its stack cannot be known. */
static void skip(struct stillprof_session *s, struct sp_tstate *ts,
                 uint64_t upto, int unknown)
{
	uint64_t n = sp_tick_count(ts->replay_ns, s->tick_ns, upto);

	ts->replay_ns += n * s->tick_ns;
	if (unknown)
		s->c.offcpu_unknown += n;
}

static void note_episode(struct stillprof_session *s,
                         const struct sp_tstate *ts, uint64_t t_ns);

void sp_replay_before(struct stillprof_session *s, struct sp_tstate *ts,
                      uint64_t t_ns)
{
	uint64_t upto;

	if (s->opts.mode != STILLPROF_MODE_WALL || !t_ns)
		return;
	replay_init(s, ts);
	upto = t_ns - 1; /* ticks strictly before the record */
	if (ts->run_state == SP_RUN_BLOCKED)
		note_episode(s, ts, t_ns);
	if (sp_tick_count(ts->replay_ns, s->tick_ns, upto) == 0)
		return;
	switch (ts->run_state) {
	case SP_RUN_BLOCKED:
		if (ts->have_blocked_stack &&
		    ts->probed_episode == ts->episode)
			emit(s, ts, upto, ts->blocked_stack);
		else
			skip(s, ts, upto, 1); /* over before any probe */
		break;
	case SP_RUN_PREEMPTED:
		if (ts->have_last_stack)
			emit(s, ts, upto, ts->last_stack);
		else
			skip(s, ts, upto, 1);
		break;
	default:
		/* On CPU (the perf samples cover it), or state unknown
		 * before the first record. */
		skip(s, ts, upto, 0);
		break;
	}
}

void sp_replay_pass(struct stillprof_session *s, struct sp_tstate *ts,
                    uint64_t now)
{
	uint64_t upto;
	uint32_t stack;
	int r;

	replay_init(s, ts);
	upto = sp_tick_last_at_or_before(s->tick_base_ns, s->tick_ns, now);
	if (sp_tick_count(ts->replay_ns, s->tick_ns, upto) == 0)
		return;
	switch (ts->run_state) {
	case SP_RUN_UNKNOWN:
		/* No switch since attach: it may have been blocked since
		 * before profiling started. */
		if (sp_probe_first(s, ts, &stack) <= 0) {
			skip(s, ts, upto, 0);
			return;
		}
		emit(s, ts, upto, stack);
		return;
	case SP_RUN_BLOCKED:
		if (!ts->have_blocked_stack ||
		    ts->probed_episode != ts->episode) {
			r = sp_probe_blocked(s, ts, &stack);
			if (r == 0)
				return; /* it ran: the next records tell */
			if (r < 0) {
				skip(s, ts, upto, 1);
				return;
			}
			ts->probed_episode = ts->episode;
			ts->have_blocked_stack = 1;
			ts->blocked_stack = stack;
		}
		emit(s, ts, upto, ts->blocked_stack);
		return;
	case SP_RUN_PREEMPTED:
		/* A thread preempted and then exited leaves no further
		 * record until its EXIT record (test_thread_churn caught a
		 * sample after a thread's end): emit only while it lives. */
		if (ts->have_last_stack && sp_thread_alive(ts))
			emit(s, ts, upto, ts->last_stack);
		else
			skip(s, ts, upto, 1);
		return;
	default:
		skip(s, ts, upto, 0);
		return;
	}
}

/*
 * How often to wake.  With exact replay, a pass is needed only to drain
 * the rings before they fill (their watermark wakes us anyway) and to
 * probe each blocking episode while it lasts: an episode of length d is
 * seen by a pass every w with probability min(1, d / w).  Waking every
 * tick costs the sampling thread a wake-up, an epoll_wait and a timerfd
 * read per tick (most of its CPU time); waking less often loses the
 * stacks of episodes a finer pass would have caught.  Each ended episode
 * adds its ticks times that difference to a risk per candidate period
 * (the coarse one and a middle one); every window the period becomes the
 * longest whose risk is under SP_WAKE_RISK_MAX of all thread-ticks, else
 * the tick.  The statistic does not depend on the current period, so the
 * choice does not flap.
 */
#define SP_WAKE_COARSE_NS (4u * 1000 * 1000)
/* A wake-up costs the sampling thread 13-30 us of CPU in this paravirtual
 * guest whatever it then does (a bare clock_nanosleep loop: 16-31 us per
 * wake-up at 7.5 ms), more than ten samples' work: when the rings can wait
 * longer (busy threads get big rings, backend_perf.c), so do we: at 1 kHz
 * as long as a big ring allows, 31 ms.  Sampler CPU per on-CPU sample,
 * 2 busy threads at 1 kHz, alternating runs: 7 ms passes 2.3-3.0 us,
 * 20 ms 1.3-2.2 us (cpu mode); 20 ms -> 31 ms: medians 2.07 -> 1.80 us
 * wall, 2.42 -> 1.64 us cpu (5 runs each, steady-state windows).  Threads
 * blocking often with no switch samples keep the probe's latency at the
 * middle period. */
#define SP_WAKE_COARSE_MAX_NS (50u * 1000 * 1000)
#define SP_WAKE_MID_MAX_NS (10u * 1000 * 1000)
#define SP_WAKE_WINDOW_NS (200u * 1000 * 1000)
#define SP_WAKE_RISK_MAX 0.002

static uint64_t longest_ns(uint64_t iv, uint64_t wait_ns, uint64_t cap_ns)
{
	uint64_t k = (SP_WAKE_COARSE_NS + iv - 1) / iv, most;

	if (!k)
		k = 1;
	most = (wait_ns < cap_ns ? wait_ns : cap_ns) / iv;
	return (most > k ? most : k) * iv;
}

uint64_t sp_replay_coarse_ns(uint64_t iv, uint64_t wait_ns)
{
	return longest_ns(iv, wait_ns, SP_WAKE_COARSE_MAX_NS);
}

uint64_t sp_replay_mid_ns(uint64_t iv, uint64_t wait_ns)
{
	return longest_ns(iv, wait_ns, SP_WAKE_MID_MAX_NS);
}

double sp_replay_gain(uint64_t d_ns, uint64_t iv, uint64_t coarse_ns)
{
	double fine = d_ns >= iv ? 1.0 : (double)d_ns / (double)iv;
	double coarse = d_ns >= coarse_ns ? 1.0
	                                  : (double)d_ns / (double)coarse_ns;

	return fine > coarse ? fine - coarse : 0.0;
}

/* An episode that started at ts->switch_out_ns ends at t_ns. */
static void note_episode(struct stillprof_session *s,
                         const struct sp_tstate *ts, uint64_t t_ns)
{
	uint64_t iv = s->tick_ns, coarse = s->wake_coarse_ns, n;

	if (coarse <= iv || t_ns <= ts->switch_out_ns)
		return;
	/* Its stack came with its switch-out (switch_sample.c): no pass
	 * was needed to see it. */
	if (ts->switch_episode == ts->episode &&
	    ts->probed_episode == ts->episode)
		return;
	n = sp_tick_count(sp_tick_last_at_or_before(s->tick_base_ns, iv,
	                                            ts->switch_out_ns),
	                  iv, t_ns - 1);
	if (!n)
		return;
	s->wake_risk += (double)n * sp_replay_gain(t_ns - ts->switch_out_ns,
	                                           iv, coarse);
	s->wake_risk_mid += (double)n *
	                    sp_replay_gain(t_ns - ts->switch_out_ns, iv,
	                                   s->wake_mid_ns);
}

uint64_t sp_replay_wake_period(struct stillprof_session *s, uint64_t now)
{
	uint64_t iv = s->tick_ns, coarse = s->wake_coarse_ns, want;
	double most;

	if (!s->wake_window_ns || now < s->wake_window_ns) {
		s->wake_window_ns = now;
		s->wake_risk = s->wake_risk_mid = 0;
		return 0;
	}
	if (now - s->wake_window_ns < SP_WAKE_WINDOW_NS || coarse <= iv)
		return 0;
	most = SP_WAKE_RISK_MAX * (double)(now - s->wake_window_ns) /
	       (double)iv * (double)(s->threads.n ? s->threads.n : 1);
	want = s->wake_risk <= most                                  ? coarse
	       : s->wake_risk_mid <= most && s->wake_mid_ns > iv ? s->wake_mid_ns
	                                                           : iv;
	s->wake_window_ns = now;
	s->wake_risk = s->wake_risk_mid = 0;
	return want == s->wake_ns ? 0 : want;
}
