/*
 * perf_records.c - what the records in a thread's perf ring mean (the
 * perf back-end's reading side; backend_perf.c owns the events and
 * rings).  SAMPLE: unwind, intern, record it once per interval it stands
 * for (sample_weight.c); SWITCH: the on/off-CPU state wall mode replays
 * (tick_replay.c) and the switch rate; FORK: attach the new thread at
 * once; COMM: its new name; EXIT: the thread is gone; LOST: counted.
 * Context-switch samples go to switch_sample.c first.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "perf_records.h"
#include "perf_regs.h"
#include "sample_weight.h"
#include "session.h"
#include "stack_copy.h"
#include "store.h"
#include "switch_sample.h"
#include "tick_replay.h"
#include "unwind.h"

/* One sample may stand for this many intervals at most (as the signal
 * back-end's SP_SIG_MAX_WEIGHT); the rest count as missed. */
#define SP_PERF_MAX_WEIGHT 100000u

/* Record one sample of ts k times; `taken`: its first copy is a sample the
 * kernel took (else all are copies of an earlier one).  Counts them. */
static void record_k(struct stillprof_session *s, struct sp_tstate *ts,
                     uint32_t stack, uint64_t t_ns, uint64_t k, int taken)
{
	uint64_t done = 0;

	if (k > SP_PERF_MAX_WEIGHT) {
		s->c.missed_ticks += k - SP_PERF_MAX_WEIGHT;
		k = SP_PERF_MAX_WEIGHT;
	}
	for (; k > 0; k--)
		if (sp_session_record(s, ts, stack, t_ns, SP_STATE_ONCPU) == 0)
			done++;
	s->c.oncpu_samples += done;
	if (taken && done)
		done--;
	s->c.weighted_samples += done;
	s->store->info.weighted_samples += done;
}

void sp_perf_close_weight(struct stillprof_session *s, struct sp_tstate *ts)
{
	uint64_t count, k, cpu, iv = (uint64_t)s->opts.interval_us * 1000u;

	if (read(ts->ring.fd, &count, sizeof(count)) != sizeof(count))
		return;
	k = sp_weight_tail(&ts->cw, count, iv);
	/* An exited thread's clock cannot be read: its tail is untrimmed. */
	if (k && (cpu = sp_perf_thread_cpu_ns(ts->tid)))
		k = sp_weight_trim(&ts->cw, k, 0, cpu, iv);
	if (k && ts->have_last_stack && ts->cw.last_t_ns)
		record_k(s, ts, ts->last_stack, ts->cw.last_t_ns, k, 0);
}


/*
 * The kernel wrote a sample's record on the thread's CPU, so each of its
 * lines is a cache miss here, and the unwind takes them one after the
 * other (each return address gives the next frame): on the sampling
 * thread at 1 kHz, perf annotate put about 40 % of its time in the loads
 * of the first register, of the copy's dyn_size (the record's last word)
 * and of each frame's return address.  Asked for together first, the
 * misses overlap (unwind time per 32-frame stack, medians of alternating
 * runs: 413 -> 318 ns and 510 -> 256 ns).  p: the registers' ABI word,
 * as for sp_perf_read_user; stack_need: how far above rsp the thread's
 * previous unwind read.
 * Prefetches never fault, so a record cut short costs nothing more.
 */
void sp_perf_prefetch_user(const char *p, const char *end, size_t stack_need)
{
	const char *last = p + 8 + 8 * __builtin_popcountll(SP_PERF_REGS_MASK) +
	                   8 + stack_need;

	if (last > end)
		last = end;
	for (; p < last; p += 64)
		__builtin_prefetch(p);
	__builtin_prefetch(end - 8);
}

int sp_perf_read_user(const char *p, const char *end,
                      struct sp_uw_input *in)
{
	uint64_t abi, size, dyn = 0;

	memset(in, 0, sizeof(*in));
	if (p + 8 > end)
		return -1;
	memcpy(&abi, p, 8);
	p += 8;
	if (abi != PERF_SAMPLE_REGS_ABI_NONE) {
		/* The set bits of the mask, in perf's order. */
		for (uint64_t m = SP_PERF_REGS_MASK; m; m &= m - 1) {
			int dw = sp_perf_to_dwarf(__builtin_ctzll(m));
			if (p + 8 > end)
				return -1;
			memcpy(&in->regs[dw], p, 8);
			in->have |= 1u << dw;
			p += 8;
		}
	}
	if (p + 8 > end)
		return -1;
	memcpy(&size, p, 8);
	p += 8;
	if (size) {
		if (size > (size_t)(end - p) || (size_t)(end - p) - size < 8)
			return -1;
		in->stack = (const uint8_t *)p;
		memcpy(&dyn, p + size, 8);
	}
	in->stack_lo = in->regs[SP_REG_RSP];
	in->stack_len = dyn < size ? dyn : size;
	in->stack_asked = size;
	return abi != PERF_SAMPLE_REGS_ABI_NONE;
}

/* pid and tid of a FORK or EXIT record (they lead both); 0 if cut. */
static int task_record(const char *p, const char *end, pid_t *pid,
                       pid_t *tid)
{
	uint32_t v[4];

	if (p + 16 > end)
		return 0;
	memcpy(v, p, 16); /* pid, ppid, tid, ptid */
	*pid = (pid_t)v[0];
	*tid = (pid_t)v[2];
	return 1;
}

void sp_perf_note_cut(struct stillprof_session *s, struct sp_tstate *ts,
                      const struct sp_uw_input *in)
{
	uint32_t want;

	if (!sp_unwind_cut(s->uw, in))
		return;
	s->c.cut_samples++;
	s->store->info.cut_samples++;
	want = sp_copy_after_cut(&ts->copy, (uint32_t)in->stack_asked);
	if (want > ts->copy_want)
		ts->copy_want = want;
}

struct drain_ctx {
	struct stillprof_session *s;
	struct sp_tstate *ts;
	pid_t pid;
	uint64_t cpu_ns;           /* the thread's CPU clock, read at the
	                            * first weighted sample of the drain */
	int cpu_read;
	int lost;                  /* a LOST record was read */
};

static void handle_sample(struct drain_ctx *d, const char *p, const char *end)
{
	struct stillprof_session *s = d->s;
	struct sp_uw_input in;
	uint64_t t_ns, count, w;
	uint64_t iv = (uint64_t)s->opts.interval_us * 1000u;
	uint32_t stack;
	uint64_t want;
	int n;

	if (p + 40 > end)
		return;
	sp_perf_prefetch_user(p + 32, end, d->ts->sample_need);
	p += 16; /* identifier (switch_sample.c took the others), pid, tid */
	memcpy(&t_ns, p, 8);
	p += 8;
	memcpy(&count, p, 8); /* PERF_SAMPLE_READ, read_format 0 */
	p += 8;
	/* Every sample moves the grid on, even one that is not recorded. */
	w = sp_weight_next(&d->ts->cw, count, iv);
	if (w > 1) {
		/* Read once per drain, only when a weight is to be given:
		 * after every sample in the ring. */
		if (!d->cpu_read) {
			d->cpu_ns = sp_perf_thread_cpu_ns(d->ts->tid);
			d->cpu_read = 1;
		}
		if (d->cpu_ns)
			w = sp_weight_trim(&d->ts->cw, w, 1, d->cpu_ns, iv);
	}
	/* A kernel thread's sample has no user registers: nothing to
	 * unwind. */
	if (sp_perf_read_user(p, end, &in) <= 0)
		return;
	n = sp_backend_unwind(s, &in, s->pcs);
	want = sp_unwind_want_end(s->uw);
	d->ts->sample_need =
	    want <= in.stack_lo ? 0
	    : want - in.stack_lo < in.stack_len ? (uint32_t)(want - in.stack_lo)
	                                        : (uint32_t)in.stack_len;
	sp_perf_note_cut(s, d->ts, &in);
	if (sp_store_intern(s->store, s->pcs, (uint32_t)n, &stack))
		return;
	d->ts->have_last_stack = 1;
	d->ts->last_stack = stack;
	d->ts->cw.last_t_ns = t_ns;
	/* The sample stands for w intervals (a rate-limited thread's
	 * longer period, or periods the kernel took no sample for). */
	record_k(s, d->ts, stack, t_ns, w, 1);
}

static void handle_record(const struct perf_event_header *h, void *ctx)
{
	struct drain_ctx *d = ctx;
	const char *p = (const char *)(h + 1);
	const char *end = (const char *)h + h->size;
	struct sp_tstate *ts = d->ts;

	if (sp_switch_record(d->s, ts, h))
		return;
	switch (h->type) {
	case PERF_RECORD_SAMPLE:
		handle_sample(d, p, end);
		break;
	case PERF_RECORD_SWITCH: {
		uint64_t t_ns;
		if (p + 16 > end)
			break;
		memcpy(&t_ns, p + 8, 8); /* sample_id: pid, tid, time */
		/* Wall ticks before this switch had the state before it. */
		sp_replay_before(d->s, ts, t_ns);
		if (h->misc & PERF_RECORD_MISC_SWITCH_OUT) {
			if (h->misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT) {
				ts->run_state = SP_RUN_PREEMPTED;
			} else {
				ts->run_state = SP_RUN_BLOCKED;
				ts->episode++;
				/* Only blocking counts for the switch rate:
				 * preemptions of a busy thread (under load, or
				 * by our own wake-ups at 10 kHz) put spin
				 * threads on the 32 ms period, 320 intervals
				 * per sample at 10 kHz. */
				ts->window_switches++;
			}
			ts->switch_out_ns = t_ns;
			ts->off_state = ts->run_state;
			sp_switch_out(d->s, ts,
			              ts->run_state == SP_RUN_BLOCKED, t_ns);
		} else {
			ts->run_state = SP_RUN_ONCPU;
			ts->switch_in_ns = t_ns;
		}
		break;
	}
	case PERF_RECORD_FORK: {
		pid_t pid, tid;
		/* A thread of ours was created: attach before its first
		 * tick.  (A fork()ed child has another pid: ignore it.) */
		if (task_record(p, end, &pid, &tid) && pid == d->pid)
			sp_perf_attach_born(d->s, tid);
		break;
	}
	case PERF_RECORD_COMM: {
		uint32_t pid, tid;
		struct sp_tstate *t;
		char name[16];
		size_t n;
		if (p + 8 >= end)
			break;
		n = (size_t)(end - p) - 8;
		memcpy(&pid, p, 4);
		memcpy(&tid, p + 4, 4);
		/* comm is NUL-terminated, padded to 8 (sample_id follows). */
		if (n > sizeof(name) - 1)
			n = sizeof(name) - 1;
		memcpy(name, p + 8, n);
		name[n] = '\0';
		if ((pid_t)pid == d->pid &&
		    !(h->misc & PERF_RECORD_MISC_COMM_EXEC) &&
		    (t = sp_threads_find(&d->s->threads, (pid_t)tid)))
			sp_store_thread_rename(d->s->store, t->store_thread,
			                       name);
		break;
	}
	case PERF_RECORD_EXIT: {
		pid_t pid, tid;
		/* The thread itself has exited: the loop detaches it before
		 * the off-CPU pass, which would otherwise charge a late tick
		 * to a dead thread (the 30 s churn test caught two). */
		if (task_record(p, end, &pid, &tid) && pid == d->pid &&
		    tid == ts->tid)
			ts->live = 0;
		break;
	}
	case PERF_RECORD_LOST: {
		uint64_t lost;
		if (p + 16 > end)
			break;
		memcpy(&lost, p + 8, 8);
		d->s->c.lost_records += lost;
		d->lost = 1;
		/* Wall mode: switch records of the gap are lost too, and the
		 * replay keeps the state before it (a preempted thread stays
		 * off-CPU until its next record): weighting the next sample
		 * by the gap's CPU time would count that time twice. */
		if (d->s->opts.mode == STILLPROF_MODE_WALL)
			sp_weight_resync(&ts->cw);
		break;
	}
	default:
		break;
	}
}

int sp_perf_drain_ring(struct stillprof_session *s, struct sp_tstate *ts)
{
	struct drain_ctx d = {s, ts, s->owner_pid, 0, 0, 0};

	sp_perf_ring_drain(&ts->ring, handle_record, &d);
	return d.lost;
}

