/*
 * api.c - the public entry points: argument checks, the session's life
 * cycle (new, start, stop, write, free) and its statistics.  Capture lives
 * in sampler.c and the back-end files; output in formats/.
 *
 * A session belongs to the process that created it: after fork() the
 * child has no sampling thread, so every entry point in a child refuses
 * (STILLPROF_EDEAD) and free only releases memory; fork.c has already
 * closed a running session's fds in the child.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "formats.h"
#include "internal.h"
#include "maps.h"
#include "session.h"
#include "snapshot.h"
#include "store.h"
#include "switch_sample.h"
#include "symbols.h"
#include "unwind.h"
#include "writers.h"

int stillprof_session_new(const struct stillprof_options *opts,
                          stillprof_session **out)
{
	struct stillprof_session *s;
	struct stillprof_options o;
	int err;

	if (!opts || !out)
		return -EINVAL;
	stillprof_options_init(&o);
	/* Copy what the caller's (possibly older, smaller) struct has. */
	memcpy(&o, opts, opts->sz && opts->sz < sizeof(o) ? opts->sz
	                                                    : sizeof(o));
	o.sz = sizeof(o);
	err = sp_options_check(&o);
	if (err)
		return err;
	s = sp_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->opts = o;
	s->epfd = s->stop_efd = s->tick_tfd = -1;
	s->owner_pid = getpid();
	pthread_mutex_init(&s->fork_mu, NULL);
	if (o.out && !(s->out_path = sp_strdup(o.out)))
		goto nomem;
	s->opts.out = s->out_path;
	s->pcs = sp_calloc((size_t)o.max_depth, sizeof(*s->pcs));
	s->probe_buf = sp_malloc(sp_probe_buf_len());
	if (!s->pcs || !s->probe_buf)
		goto nomem;
	err = sp_store_new(&s->store);
	if (!err)
		err = sp_snap_new(s);
	if (err)
		goto err_out;
	s->store->info.mode = o.mode;
	s->store->info.interval_us = o.interval_us;
	s->store->info.backend = sp_perf_backend_name;
	s->store->info.guarantee = sp_perf_guarantee;
	s->store->info.pid = s->owner_pid;
	s->store->limits.max_stacks = o.max_stacks;
	s->store->limits.max_samples = o.max_samples;
	s->store->limits.max_depth = (uint32_t)o.max_depth;
	s->store->limits.max_threads = o.max_threads;
	*out = s;
	return 0;
nomem:
	err = -ENOMEM;
err_out:
	stillprof_session_free(s);
	return err;
}

/* Every sample that was due and is not in the store: ring overflows,
 * late ticks, off-CPU ticks whose stack could not be read, and the
 * memory bounds. */
static uint64_t missed_samples(const struct stillprof_session *s)
{
	const struct sp_run_info *in = &s->store->info;

	return sp_lost_missed(s, s->c.lost_records) + s->c.missed_ticks +
	       s->c.offcpu_unknown +
	       in->dropped_stack_limit + in->dropped_sample_limit;
}

static int in_owner(const struct stillprof_session *s)
{
	return s->owner_pid == getpid();
}

/* Start and write need a session of this process that is not running. */
static int check_idle(const stillprof_session *s)
{
	if (!s)
		return -EINVAL;
	if (!in_owner(s))
		return STILLPROF_EDEAD;
	if (s->running)
		return STILLPROF_ERUNNING;
	return 0;
}

int stillprof_session_start(stillprof_session *s)
{
	struct timespec rt;
	uint64_t started;
	int err, first = 0;

	if ((err = check_idle(s)))
		return err;
	/* Maps and unwinder live across starts: their caches stay warm. */
	if (!s->maps && (err = sp_maps_new(&s->maps)))
		return err;
	if (!s->uw && (err = sp_unwinder_new(s->maps, &s->uw)))
		return err;
	if ((err = sp_snap_before_start(s)))
		return err;
	/* Before the sampler runs: from its start on, s->store is its own
	 * (a snapshot may swap it at once).  The back-end chosen, and why,
	 * reach the store's metadata in sp_sampler_start, before the thread. */
	started = sp_now_ns();
	if (!s->store->info.start_ns) {
		first = 1;
		s->store->info.start_ns = started;
		clock_gettime(CLOCK_REALTIME, &rt);
		s->store->info.start_realtime_ns =
		    (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
	}
	err = sp_sampler_start(s);
	if (err) {
		if (first)
			s->store->info.start_ns =
			    s->store->info.start_realtime_ns = 0;
		sp_snap_after_stop(s); /* puts the idle store back */
		return err;
	}
	sp_snap_after_start(s);
	/* Only fails if pthread_atfork could not register (ENOMEM): the
	 * child then keeps the fds until exec (all O_CLOEXEC). */
	if (sp_fork_register(s))
		sp_warn("fork: cannot register the session");
	s->running = 1;
	s->started_ns = started;
	return 0;
}

int stillprof_session_stop(stillprof_session *s)
{
	int err;

	if (!s)
		return -EINVAL;
	if (!in_owner(s))
		return STILLPROF_EDEAD;
	if (!s->running)
		return STILLPROF_ENOTRUNNING;
	sp_snap_before_stop(s);
	err = sp_sampler_stop(s);
	sp_fork_unregister(s);
	sp_snap_after_stop(s);
	s->running = 0;
	sp_backend_describe(s, s->store);
	s->store->info.duration_ns += sp_now_ns() - s->started_ns;
	/* Where the samples went, for STILLPROF_LOG=debug. */
	sp_debug("stop: oncpu %llu (weighted %llu), offcpu %llu, lost "
	         "records %llu, missed ticks %llu, offcpu unknown %llu, "
	         "stack copies resized %llu (failed %llu), cut samples %llu",
	         (unsigned long long)s->c.oncpu_samples,
	         (unsigned long long)s->c.weighted_samples,
	         (unsigned long long)s->c.offcpu_samples,
	         (unsigned long long)s->c.lost_records,
	         (unsigned long long)s->c.missed_ticks,
	         (unsigned long long)s->c.offcpu_unknown,
	         (unsigned long long)s->c.copy_resizes,
	         (unsigned long long)s->c.copy_resize_failures,
	         (unsigned long long)s->c.cut_samples);
	/* The store's loss counters (lost_records, missed_ticks,
	 * missed_samples) are those of the segments it holds
	 * (snapshot.c): the whole session, or in continuous mode the last
	 * period only. */
	return err;
}

int stillprof_session_running(const stillprof_session *s)
{
	return s && s->running && in_owner(s);
}

const char *stillprof_session_backend_error(const stillprof_session *s)
{
	return s && s->backend_err[0] ? s->backend_err : NULL;
}

const char *stillprof_session_backend(const stillprof_session *s)
{
	return s && s->be ? s->be->name : NULL;
}

const char *stillprof_session_backend_reason(const stillprof_session *s)
{
	return s && s->be ? s->backend_reason : NULL;
}

const char *stillprof_session_guarantee(const stillprof_session *s)
{
	return s && s->be ? s->guarantee : NULL;
}

int stillprof_session_stats_sized(const stillprof_session *s,
                                  struct stillprof_stats *out, size_t size)
{
	struct stillprof_stats full, *st = &full;

	/* The oldest struct ended at `backend`. */
	if (!s || !out ||
	    size < offsetof(struct stillprof_stats, backend) + sizeof(char *))
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	/* The memory-bound drops live in the store, which is the sampler's
	 * while it runs: they join the count at stop. */
	st->missed_samples = s->running
	                         ? sp_lost_missed(s, s->c.lost_records) +
	                               s->c.missed_ticks + s->c.offcpu_unknown
	                         : missed_samples(s);
	st->oncpu_samples = s->c.oncpu_samples;
	st->weighted_samples = s->c.weighted_samples;
	st->offcpu_samples = s->c.offcpu_samples;
	/* Every sample the sampler recorded, including those handed to
	 * snapshots (continuous mode keeps only the last period). */
	st->samples = s->c.oncpu_samples + s->c.offcpu_samples;
	if (s->running) {
		/* The sampler swaps s->store at snapshots (snapshot.c):
		 * counters only while it runs. */
		st->threads_seen = s->c.threads_seen;
	} else {
		st->threads_seen = s->store->n_threads;
		st->unique_stacks = s->store->n_stacks;
	}
	/* A running sampling thread's CPU so far, so that a caller can
	 * measure it over a window of the run (bench/sampler_cost). */
	st->sampler_cpu_ns = s->c.sampler_cpu_ns +
	                     (s->running ? sp_sampler_cpu_ns(s) : 0);
	st->unwind_ns = s->c.unwind_ns;
	st->unwinds = s->c.unwinds;
	st->duration_ns = s->store->info.duration_ns;
	st->backend = s->be ? s->be->name : NULL;
	st->blocked_stacks = sp_switch_mode_name(s);
	st->switch_stacks = s->c.switch_stacks;
	st->probes = s->c.probes;
	st->cut_samples = s->c.cut_samples;
	st->stack_copy_resizes = s->c.copy_resizes;
	memcpy(out, st, size < sizeof(*st) ? size : sizeof(*st));
	if (size > sizeof(*st)) /* a newer header: its fields are unknown */
		memset((char *)out + sizeof(*st), 0, size - sizeof(*st));
	return 0;
}

static int cmp_sample_time(const void *a, const void *b)
{
	const struct sp_sample *x = a, *y = b;

	if (x->t_ns != y->t_ns)
		return x->t_ns < y->t_ns ? -1 : 1;
	return x->thread < y->thread ? -1 : x->thread > y->thread;
}

struct write_ctx {
	struct stillprof_session *s;
	int format;
};

static int write_cb(struct sp_sink *sink, void *arg)
{
	struct write_ctx *w = arg;

	return sp_render_store(w->s->store, w->format, w->s->opts.raw, sink);
}

int stillprof_session_write(stillprof_session *s, const char *path,
                            int format)
{
	struct sp_symbols *syms = NULL;
	struct write_ctx w = {s, format};
	int err;

	if ((err = check_idle(s)))
		return err;
	if (format < 0 || format >= STILLPROF_FORMAT_COUNT)
		return STILLPROF_EBADFORMAT;
	if (!path)
		path = s->out_path;
	if (!path || !*path)
		return -EINVAL;
	/* Rings are drained per thread, so samples arrive grouped by
	 * thread: order them by time for the raw timestamp arrays. */
	if (s->store->n_samples > 1) /* samples is NULL when there are
	                              * none: qsort(NULL, 0) is undefined */
		qsort(s->store->samples, s->store->n_samples,
		      sizeof(*s->store->samples), cmp_sample_time);
	if (!s->maps && (err = sp_maps_new(&s->maps)))
		return err;
	sp_maps_refresh(s->maps);
	err = sp_symbols_new(s->maps, &syms);
	if (err)
		return err;
	err = sp_store_resolve(s->store, syms);
	if (!err)
		err = sp_write_file_atomic(path, write_cb, &w);
	sp_symbols_free(syms);
	return err;
}

void stillprof_session_free(stillprof_session *s)
{
	if (!s)
		return;
	if (s->running && in_owner(s))
		stillprof_session_stop(s);
	else if (s->running && s->child_clean)
		sp_threads_fini(&s->threads); /* fds closed by fork.c */
	if (in_owner(s))
		pthread_mutex_destroy(&s->fork_mu);
	sp_unwinder_free(s->uw);
	sp_maps_free(s->maps);
	sp_store_free(s->store);
	sp_snap_free(s);
	sp_free(s->pcs);
	sp_free(s->probe_buf);
	sp_switch_free(s);
	sp_free(s->out_path);
	sp_free(s);
}
