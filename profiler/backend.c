/*
 * backend.c - choosing the capture back-end at start.  `auto` takes
 * perf_event when a test event opens (no signal at all), else the signal
 * back-end (per-thread CPU-time timers), and records why, so the CLI and
 * every profile's metadata say which one ran and what it guarantees.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "session.h"
#include "store.h"
#include "switch_sample.h"
#include "unwind.h"

/* Wall mode drains every tick or coarser (tick_replay.c); CPU mode only
 * needs to empty the rings: as rarely as big rings allow (31 ms at 1 kHz),
 * since each wake-up costs the sampling thread more than ten samples'
 * work (backend_perf.c, SP_PERF_RING_BIG_PAGES), and at most every 50 ms
 * at low rates (stats and rescans follow the passes). */
#define SP_PERF_CPU_TICK_US 50000

const struct sp_backend sp_backend_perf = {
    .name = sp_perf_backend_name,
    .attach = sp_perf_attach,
    .detach = sp_perf_detach,
    .drain = sp_perf_drain,
    .cpu_tick_us = SP_PERF_CPU_TICK_US,
    /* FORK records attach new threads; rescans are the safety net */
    .rescan_ms = 1000,
};

int sp_backend_select(struct stillprof_session *s, int install)
{
	int want = s->opts.backend, err;
	char perf_why[sizeof(s->backend_err)];

	s->be = NULL;
	s->backend_reason[0] = s->guarantee[0] = '\0';
	if (want != STILLPROF_BACKEND_SIGNAL) {
		err = sp_perf_probe(s);
		if (!err) {
			s->be = &sp_backend_perf;
			snprintf(s->backend_reason, sizeof(s->backend_reason),
			         "%s: perf_event_open works",
			         want == STILLPROF_BACKEND_AUTO ? "auto"
			                                        : "forced");
			snprintf(s->guarantee, sizeof(s->guarantee), "%s",
			         sp_perf_guarantee);
			sp_switch_probe(s); /* wall: how blocked stacks are read */
			return 0;
		}
		if (want == STILLPROF_BACKEND_PERF)
			return err; /* backend_err says why */
		if (!s->backend_err[0])
			snprintf(s->backend_err, sizeof(s->backend_err),
			         "perf_event_open: %s", stillprof_strerror(err));
		snprintf(perf_why, sizeof(perf_why), "%s", s->backend_err);
		snprintf(s->backend_reason, sizeof(s->backend_reason),
		         "auto: %s", perf_why);
	} else {
		snprintf(s->backend_reason, sizeof(s->backend_reason),
		         "forced (backend signal)");
	}
	s->backend_err[0] = '\0';
	err = sp_sig_prepare(s, install);
	if (err) {
		if (want == STILLPROF_BACKEND_AUTO) {
			char sig_why[sizeof(s->backend_err)];
			snprintf(sig_why, sizeof(sig_why), "%s", s->backend_err);
			snprintf(s->backend_err, sizeof(s->backend_err),
			         "%.120s; fallback: %.120s", perf_why, sig_why);
		}
		return err;
	}
	s->be = &sp_backend_signal;
	sp_info("back-end signal: %s", s->backend_reason);
	return 0;
}

int sp_backend_attach_begin(struct stillprof_session *s, pid_t tid,
                            struct sp_tstate **out)
{
	struct sp_tstate *ts;
	char name[16] = "";
	uint64_t start;
	int err;

	if (tid == s->sampler_tid || sp_threads_find(&s->threads, tid))
		return 0;
	err = sp_threads_add(&s->threads, tid, &ts);
	if (err)
		return err;
	if (sp_thread_read_name(tid, name) == -ENOENT) {
		/* Gone before we could look: nothing to sample. */
		sp_threads_remove(&s->threads, ts);
		return 0;
	}
	/* A tid seen before is the same thread only if its start time is
	 * (attached again after stop/start); else the old one has exited
	 * and this one gets its own entry, samples and name. */
	if (sp_thread_read_start(tid, &start))
		start = 0;
	err = sp_store_thread_attach(s->store, tid, name, start,
	                             &ts->store_thread);
	if (err) {
		sp_threads_remove(&s->threads, ts);
		return err;
	}
	ts->scan_gen = s->scan_gen; /* listed, or just born */
	/* probe.c reads it; stays bound to this thread, not to the tid. */
	ts->syscall_fd = sp_thread_open_file(tid, "syscall");
	*out = ts;
	return 1;
}

/* The metadata: the back-end's name, and why it was chosen followed by
 * what it guarantees.  Set before the sampling thread starts (the store
 * is its own from then on) and again at stop, on the final store, since
 * the signal back-end may amend its guarantee while running. */
void sp_backend_describe(struct stillprof_session *s, struct sp_store *st)
{
	snprintf(s->meta_guarantee, sizeof(s->meta_guarantee), "%s; %s",
	         s->backend_reason, s->guarantee);
	st->info.backend = s->be ? s->be->name : NULL;
	st->info.guarantee = s->meta_guarantee;
}

/* Timing every unwind took two clock reads a sample, ~6 % of the
 * sampling thread's CPU at 1 kHz in a paravirtual guest (perf on the
 * sampling thread): one unwind in SP_UNWIND_TIMED_EVERY is timed and
 * stands for the others, so unwind_ns is an estimate, unbiased as long as
 * the stacks do not repeat with that period. */
#define SP_UNWIND_TIMED_EVERY 16

int sp_backend_unwind(struct stillprof_session *s,
                      const struct sp_uw_input *in, uint64_t *pcs)
{
	uint64_t t0;
	int n;

	if (s->c.unwinds++ % SP_UNWIND_TIMED_EVERY)
		return sp_unwind(s->uw, in, pcs, s->opts.max_depth);
	t0 = sp_now_ns();
	n = sp_unwind(s->uw, in, pcs, s->opts.max_depth);
	s->c.unwind_ns += (sp_now_ns() - t0) * SP_UNWIND_TIMED_EVERY;
	return n;
}
