/*
 * snapshot_write.c - the consumer side of snapshots that produces output:
 * symbolizing a store off the sampling thread, rendering it in a format,
 * and stillprof_session_snapshot (the cumulative profile so far, written
 * without stopping).  snapshot.h explains the design.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "formats.h"
#include "internal.h"
#include "maps.h"
#include "session.h"
#include "snapshot.h"
#include "store.h"
#include "symbols.h"
#include "writers.h"

static int cmp_sample_time(const void *a, const void *b)
{
	const struct sp_sample *x = a, *y = b;

	if (x->t_ns != y->t_ns)
		return x->t_ns < y->t_ns ? -1 : 1;
	return x->thread < y->thread ? -1 : x->thread > y->thread;
}

int sp_snap_resolve(struct sp_store *st)
{
	struct sp_maps *maps = NULL;
	struct sp_symbols *syms = NULL;
	int err;

	qsort(st->samples, st->n_samples, sizeof(*st->samples),
	      cmp_sample_time);
	if ((err = sp_maps_new(&maps)))
		return err;
	sp_maps_refresh(maps);
	err = sp_symbols_new(maps, &syms);
	if (!err)
		err = sp_store_resolve(st, syms);
	sp_symbols_free(syms);
	sp_maps_free(maps);
	return err;
}

int sp_render_store(const struct sp_store *st, int format, int raw,
                    struct sp_sink *sink)
{
	switch (format) {
	case STILLPROF_FORMAT_JSON: {
		struct sp_stackprof_json_opts o = {.no_raw = !raw};
		return sp_stackprof_json_write(st, &o, sink);
	}
	case STILLPROF_FORMAT_PPROF:
		return sp_pprof_write(st, NULL, sink);
	case STILLPROF_FORMAT_COLLAPSED: {
		struct sp_collapsed_opts o = {.thread_root = 1};
		return sp_collapsed_write(st, &o, sink);
	}
	case STILLPROF_FORMAT_SPEEDSCOPE:
		return sp_speedscope_write(st, NULL, sink);
	default: {
		struct sp_stackprof_opts o = {.raw = raw, .aggregate = 1};
		return sp_stackprof_write(st, &o, sink);
	}
	}
}

struct render_ctx {
	const struct sp_store *st;
	int format, raw;
};

static int render_cb(struct sp_sink *sink, void *arg)
{
	struct render_ctx *r = arg;

	return sp_render_store(r->st, r->format, r->raw, sink);
}

int sp_snap_write_now(struct stillprof_session *s, const char *path,
                      int format)
{
	struct sp_snap *n = s->snap;
	struct render_ctx r;
	uint64_t dur;
	int err;

	pthread_mutex_lock(&n->mu);
	if (!atomic_load(&n->live)) {
		pthread_mutex_unlock(&n->mu);
		return STILLPROF_ENOTRUNNING;
	}
	if (!n->cumulative) {
		pthread_mutex_unlock(&n->mu);
		return -EOPNOTSUPP;
	}
	err = sp_snap_cut_locked(s);
	sp_snap_drain_locked(n);
	if (err || !n->acc) {
		pthread_mutex_unlock(&n->mu);
		return err ? err : SP_ERR(-EAGAIN);
	}
	/* acc's duration counts finished runs; add this one so far. */
	dur = n->acc->info.duration_ns;
	n->acc->info.duration_ns += n->last_cut_ns - n->run_start_ns;
	err = sp_snap_resolve(n->acc);
	r.st = n->acc;
	r.format = format;
	r.raw = s->opts.raw;
	if (!err)
		err = sp_write_file_atomic(path, render_cb, &r);
	n->acc->info.duration_ns = dur;
	pthread_mutex_unlock(&n->mu);
	return err;
}

int stillprof_session_snapshot(stillprof_session *s, const char *path,
                               int format)
{
	int err;

	if (!s)
		return -EINVAL;
	if (format < 0 || format >= STILLPROF_FORMAT_COUNT)
		return STILLPROF_EBADFORMAT;
	if (!path)
		path = s->out_path;
	if (!path || !*path)
		return -EINVAL;
	/* A forked child: snap->mu may be held by a thread that did not
	 * follow the fork. */
	if (s->owner_pid != getpid())
		return STILLPROF_EDEAD;
	err = sp_snap_write_now(s, path, format);
	/* Idle (or a child of a fork): the ordinary write. */
	if (err == STILLPROF_ENOTRUNNING)
		err = stillprof_session_write(s, path, format);
	return err;
}
