/*
 * switch_sample.c - wall mode's blocked stacks, taken by the kernel at the
 * moment a thread blocks.
 *
 * Without this, a blocked episode's stack is read by probe.c from another
 * thread: a pread of /proc/self/task/TID/syscall (lock_trace and
 * wait_task_inactive in the kernel) for sp and pc, then process_vm_readv
 * of the stack -- ~16 us of the sampling thread per episode, and a walk
 * from sp and pc alone stops at the first caller whose frame is found
 * through rbp.
 *
 * Here each thread gets a second perf event: a software context-switch
 * event sampling every switch (period 1), with all user registers (as they
 * were at the system call's entry) and 8 KiB of user stack, written into
 * the thread's task-clock ring (PERF_EVENT_IOC_SET_OUTPUT; same task,
 * cpu -1).  Both events carry PERF_SAMPLE_IDENTIFIER, so a sample's first
 * word says which event took it.  The switch event happens in kernel
 * mode: with exclude_kernel = 1 the kernel drops every one of them (tried
 * on 6.18), and exclude_kernel = 0 needs perf_event_paranoid <= 1 or
 * CAP_PERFMON -- probed once per start, the /proc probe otherwise.
 *
 * The kernel writes the switch sample just before the PERF_RECORD_SWITCH
 * record of the same switch-out (perf_event_task_sched_out: the software
 * event, then the switch record; seen in that order on 6.18).  The sample
 * is unwound when read and kept pending; if the next record is a
 * switch-out without PERF_RECORD_MISC_SWITCH_OUT_PREEMPT (the thread
 * blocked), its stack becomes the new episode's blocked stack, so
 * tick_replay.c never probes that episode; after a preemption it is
 * dropped.  Threads that switch too often for their ring (or more than
 * SP_SWITCH_ON times a second, backend_perf.c's switch-heavy mark) get
 * their switch event closed, judged at each window of backend_perf.c's
 * switch-rate limiter, or at once on a burst (closed, see set_on): each switch-out costs the
 * application thread a sample with an 8 KiB copy (~2.5 us measured in
 * this guest, most of it not the copy), and a ring holds 15 of them.
 * They fall back to the probe until they calm down.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "perf_records.h"
#include "perf_regs.h"
#include "session.h"
#include "store.h"
#include "switch_sample.h"
#include "tick_replay.h"
#include "unwind.h"

/* The unwound stack of the latest switch sample, until its SWITCH record
 * (one per session: the sampling thread drains one ring at a time). */
struct sp_switch_pending {
	pid_t tid;          /* 0: none */
	uint32_t n;
	uint64_t t_ns;
	uint64_t pcs[];     /* opts.max_depth */
};

/* Switch-outs per second above which a thread's switch event is turned
 * off (at most; less when its ring would not hold them, see max_rate),
 * and the share of that below which it is turned on again. */
#define SP_SWITCH_ON 500
#define SP_SWITCH_OFF_NUM 2
#define SP_SWITCH_OFF_DEN 5
/* Within a window of the limiter, more switch samples than max_rate for
 * this long turn the event off at once: the window (50 ms or more) would
 * close too late for a ring that a ping-pong fills in a millisecond. */
#define SP_SWITCH_BURST_NS (100u * 1000 * 1000)
/* An upper bound of one switch sample's record, with `copy` bytes of
 * stack: the thread's task-clock event's size (stack_copy.c). */
#define SP_SWITCH_SAMPLE_BYTES(copy) ((size_t)(copy) + 256)

static void fill_attr(struct perf_event_attr *a, uint32_t copy)
{
	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);
	a->type = PERF_TYPE_SOFTWARE;
	a->config = PERF_COUNT_SW_CONTEXT_SWITCHES;
	a->sample_period = 1; /* every switch */
	a->sample_type = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID |
	                 PERF_SAMPLE_TIME | PERF_SAMPLE_REGS_USER |
	                 PERF_SAMPLE_STACK_USER;
	a->sample_regs_user = SP_PERF_REGS_MASK;
	a->sample_stack_user = copy;
	/* The event fires in the scheduler: excluding the kernel drops it
	 * all.  This is what needs the privilege. */
	a->exclude_kernel = 0;
	a->exclude_hv = 1;
	a->exclude_callchain_kernel = 1;
	/* SET_OUTPUT wants the ring's clock. */
	a->use_clockid = 1;
	a->clockid = CLOCK_MONOTONIC;
	/* Enabled at once (one ioctl less per thread): until SET_OUTPUT
	 * gives it a ring, its samples go nowhere. */
	a->disabled = 0;
}

static int open_event(pid_t tid, uint32_t copy)
{
	struct perf_event_attr a;

	fill_attr(&a, copy);
	return (int)syscall(SYS_perf_event_open, &a, tid, -1, -1,
	                    PERF_FLAG_FD_CLOEXEC);
}

static void append(char *buf, size_t len, const char *text)
{
	size_t used = strnlen(buf, len);

	if (used + 1 < len)
		snprintf(buf + used, len - used, "%s", text);
}

void sp_switch_probe(struct stillprof_session *s)
{
	const char *env = getenv("STILLPROF_SWITCH_SAMPLES");
	const char *why;
	int fd;

	s->switch_samples = 0;
	if (s->opts.mode != STILLPROF_MODE_WALL)
		return;
	if (env && !strcmp(env, "0")) {
		why = "; blocked stacks: proc_probe (read from /proc; "
		      "context-switch samples turned off by "
		      "STILLPROF_SWITCH_SAMPLES=0)";
	} else if ((fd = open_event(0, SP_PERF_STACK_BYTES)) < 0) {
		int err = -errno;
		sp_info("switch samples: %s: blocked stacks from /proc",
		        stillprof_errname(err));
		why = "; blocked stacks: proc_probe (read from /proc; "
		      "context-switch samples need CAP_PERFMON or "
		      "kernel.perf_event_paranoid <= 1)";
	} else {
		sp_close(fd);
		if (!s->switch_pending)
			s->switch_pending = sp_calloc(
			    1, sizeof(*s->switch_pending) +
			           (size_t)s->opts.max_depth * sizeof(uint64_t));
		if (s->switch_pending) {
			s->switch_samples = 1;
			why = "; blocked stacks: switch_samples (taken by the "
			      "kernel as each thread blocks; read from /proc "
			      "for switch-heavy threads)";
		} else {
			why = "; blocked stacks: proc_probe (read from /proc)";
		}
	}
	append(s->guarantee, sizeof(s->guarantee), why);
}

const char *sp_switch_mode_name(const struct stillprof_session *s)
{
	if (!s->be || s->be != &sp_backend_perf ||
	    s->opts.mode != STILLPROF_MODE_WALL)
		return NULL;
	return s->switch_samples ? "switch_samples" : "proc_probe";
}

void sp_switch_free(struct stillprof_session *s)
{
	sp_free(s->switch_pending);
	s->switch_pending = NULL;
}

void sp_switch_attach(struct stillprof_session *s, struct sp_tstate *ts)
{
	uint64_t id;
	int fd, err;

	if (!s->switch_samples || ts->ring.fd < 0 || ts->switch_fd >= 0)
		return;
	fd = open_event(ts->tid, ts->copy.bytes);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, ts->ring.fd) < 0 ||
	    ioctl(fd, PERF_EVENT_IOC_ID, &id) < 0) {
		err = -errno;
		sp_close(fd);
		goto fail;
	}
	ts->switch_fd = fd;
	ts->switch_id = id;
	ts->switch_on = 1;
	return;
fail:
	if (err != -ESRCH) {
		s->c.switch_attach_failures++;
		sp_debug("switch samples: tid=%d: %s", (int)ts->tid,
		         stillprof_errname(err));
	}
}

void sp_switch_close(struct sp_tstate *ts)
{
	if (ts->switch_fd < 0)
		return;
	sp_close(ts->switch_fd); /* closing stops it: no ioctl needed */
	ts->switch_fd = -1;
	ts->switch_on = 0;
	/* switch_id stays: its samples may still be in the ring. */
}

void sp_switch_detach(struct sp_tstate *ts)
{
	sp_switch_close(ts);
	sp_free(ts->switch_pcs);
	ts->switch_pcs = NULL;
	ts->switch_n = ts->switch_cap = 0;
}

void sp_switch_reattach(struct stillprof_session *s, struct sp_tstate *ts)
{
	if (ts->switch_fd < 0)
		return; /* none, or closed for the switch rate: stays so */
	sp_switch_close(ts);
	sp_switch_attach(s, ts);
}

int sp_switch_intern(struct stillprof_session *s, struct sp_tstate *ts,
                     uint32_t *stack)
{
	int err = sp_store_intern(s->store, ts->switch_pcs, ts->switch_n,
	                          stack);

	if (!err)
		ts->blocked_stack = *stack;
	return err;
}

/* Blocking switch-outs per tick interval above which a thread pays more
 * for switch samples than the probe would cost: a switch sample costs the
 * thread ~9 us at every blocking (256 waking threads) and the sampling
 * thread an unwind, a probe ~16 us of the sampling thread but only for an
 * episode a tick falls in -- and a thread blocking n times per interval
 * has at most 1/n of its episodes with a tick. */
#define SP_SWITCH_PER_TICK 2

/* A polled ring's watermark wakes the sampling thread at half the ring,
 * so for it the wait between passes is not the bound: it keeps the rate
 * it had when passes were at most 20 ms apart (~350 a second for a small
 * ring at 1 kHz) instead of falling with longer passes. */
#define SP_SWITCH_POLLED_WAIT_NS (20u * 1000 * 1000)

/* Switch samples a thread may produce per second: SP_SWITCH_ON, or fewer
 * when half its ring would not hold those of the longest wait between two
 * passes (a ring that overflows loses switch records too), or when the
 * ticks are rare (SP_SWITCH_PER_TICK). */
static uint64_t max_rate(const struct stillprof_session *s,
                         const struct sp_tstate *ts)
{
	uint64_t pass = sp_perf_pass_max_ns(s); /* (wall mode) */
	uint64_t fit =
	    ts->ring.data_len / 2 / SP_SWITCH_SAMPLE_BYTES(ts->copy.bytes);
	uint64_t most = SP_SWITCH_ON;

	if (ts->ring_polled && pass > SP_SWITCH_POLLED_WAIT_NS)
		pass = SP_SWITCH_POLLED_WAIT_NS;
	if (s->tick_ns &&
	    SP_SWITCH_PER_TICK * 1000000000u / s->tick_ns < most)
		most = SP_SWITCH_PER_TICK * 1000000000u / s->tick_ns;
	if (!pass)
		return most;
	fit = fit * 1000000000u / pass;
	return fit < most ? fit : most;
}

static uint64_t burst_max(const struct stillprof_session *s,
                          const struct sp_tstate *ts)
{
	return max_rate(s, ts) * SP_SWITCH_BURST_NS / 1000000000u;
}

/* Off means closed, not disabled: a disabled event stays in the thread's
 * perf context, which the kernel walks at every context switch (a pinned
 * pipe ping-pong ran 1.53-1.57x slower with the event disabled, 1.50-1.53x
 * without it).  Its identifier is kept: samples it wrote before are still
 * in the ring until the next drain, and it is opened again (new
 * identifier) only after a drain. */
static void set_on(struct stillprof_session *s, struct sp_tstate *ts, int on)
{
	if (on == ts->switch_on)
		return;
	if (!on) {
		if (ts->switch_fd < 0)
			return;
		sp_switch_close(ts);
		ts->switch_rate_off = 1;
		s->c.switch_disabled++;
	} else if (ts->switch_rate_off) {
		ts->switch_rate_off = 0;
		sp_switch_attach(s, ts);
	}
}

static void forget(struct stillprof_session *s)
{
	if (s->switch_pending)
		s->switch_pending->tid = 0;
}

/* Unwind a switch sample (after its identifier) into the pending slot. */
static void take(struct stillprof_session *s, struct sp_tstate *ts,
                 const char *p, const char *end)
{
	struct sp_switch_pending *pd = s->switch_pending;
	struct sp_uw_input in;
	uint64_t t_ns;
	int n;

	pd->tid = 0;
	if (p + 24 > end)
		return;
	p += 8; /* pid, tid: the ring is per thread */
	memcpy(&t_ns, p, 8);
	p += 8;
	if (sp_perf_read_user(p, end, &in) <= 0)
		return; /* no user registers: nothing to unwind */
	n = sp_backend_unwind(s, &in, pd->pcs);
	if (n <= 0)
		return; /* the probe may do better */
	/* A copy that ended before the unwind did lacks the outer frames:
	 * counted, and the thread's copies grow (the probe, which reads more
	 * stack, is no better: it has no rbp, and a realigned frame's CFA
	 * needs it). */
	sp_perf_note_cut(s, ts, &in);
	pd->n = (uint32_t)n;
	pd->t_ns = t_ns;
	pd->tid = ts->tid;
}

int sp_switch_record(struct stillprof_session *s, struct sp_tstate *ts,
                     const struct perf_event_header *h)
{
	const char *p = (const char *)(h + 1);
	const char *end = (const char *)h + h->size;
	uint64_t id;

	if (h->type == PERF_RECORD_SWITCH)
		return 0; /* sp_switch_out decides */
	/* Anything else between a sample and its switch record: the pair
	 * is broken (records lost), never match across it. */
	forget(s);
	if (h->type != PERF_RECORD_SAMPLE || !ts->switch_id || p + 8 > end)
		return 0;
	memcpy(&id, p, 8);
	if (id != ts->switch_id)
		return 0;
	if (s->switch_pending)
		take(s, ts, p + 8, end);
	if (++ts->switch_burst > burst_max(s, ts))
		set_on(s, ts, 0);
	return 1;
}

void sp_switch_out(struct stillprof_session *s, struct sp_tstate *ts,
                   int blocking, uint64_t t_ns)
{
	struct sp_switch_pending *pd = s->switch_pending;

	if (!pd || !pd->tid)
		return;
	if (pd->tid != ts->tid || pd->t_ns > t_ns) {
		pd->tid = 0;
		return;
	}
	pd->tid = 0;
	if (!blocking) {
		s->c.switch_preempt++; /* the last on-CPU sample serves */
		return;
	}
	if (pd->n > ts->switch_cap) {
		uint64_t *pcs = sp_reallocarray(ts->switch_pcs, pd->n,
		                                sizeof(*pcs));
		if (!pcs)
			return; /* the probe will do */
		ts->switch_pcs = pcs;
		ts->switch_cap = pd->n;
	}
	memcpy(ts->switch_pcs, pd->pcs, pd->n * sizeof(uint64_t));
	ts->switch_n = pd->n;
	ts->have_blocked_stack = 1;
	ts->blocked_stack = SP_SWITCH_LAZY_STACK;
	ts->probed_episode = ts->episode;
	ts->switch_episode = ts->episode;
	s->c.switch_stacks++;
}

void sp_switch_rate(struct stillprof_session *s, struct sp_tstate *ts,
                    uint64_t rate)
{
	uint64_t on = max_rate(s, ts);

	ts->switch_burst = 0;
	if (ts->switch_on)
		set_on(s, ts, rate <= on);
	else
		set_on(s, ts, rate * SP_SWITCH_OFF_DEN < on * SP_SWITCH_OFF_NUM);
}
