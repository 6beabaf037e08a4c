/*
 * api_profile.c - the public "profile" API: a store filled by the caller
 * with resolved frames and samples (store_import.c's path for dumps read
 * back), written by the same writers as a recorded session.  The Ruby gem
 * uses it to offer pprof, speedscope, collapsed stacks and the HTML flame
 * graph next to its stackprof Hash.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "store.h"
#include "formats.h"
#include "writers.h"

struct stillprof_profile {
	struct sp_store *store;
	int format;
};

int stillprof_profile_new(stillprof_profile **out, int mode,
                          unsigned interval_us)
{
	stillprof_profile *p;
	int err;

	if (mode != STILLPROF_MODE_WALL && mode != STILLPROF_MODE_CPU)
		return STILLPROF_EBADMODE;
	if (interval_us < 1 || interval_us > 1000000)
		return STILLPROF_EBADINTERVAL;
	p = sp_calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	err = sp_store_new(&p->store);
	if (err) {
		sp_free(p);
		return err;
	}
	p->store->info.mode = mode;
	p->store->info.interval_us = interval_us;
	p->store->info.pid = getpid();
	p->store->info.backend = "caller-supplied";
	p->store->info.guarantee = "";
	*out = p;
	return 0;
}

int stillprof_profile_add_frame(stillprof_profile *p, const char *name,
                                const char *file, int line, uint32_t *frame)
{
	if (!p || !name || !frame)
		return -EINVAL;
	return sp_store_add_frame(p->store, name, file ? file : "", "", line,
	                          frame);
}

int stillprof_profile_add_thread(stillprof_profile *p, pid_t tid,
                                 const char *name, uint32_t *thread)
{
	if (!p || !thread)
		return -EINVAL;
	return sp_store_thread(p->store, tid, name ? name : "", thread);
}

int stillprof_profile_add_sample(stillprof_profile *p, uint32_t thread,
                                 const uint32_t *frames, const int32_t *lines,
                                 uint32_t n, uint64_t t_ns, int off_cpu)
{
	int32_t *zero = NULL;
	uint32_t stack;
	int err;

	if (!p || (n && !frames) || thread >= p->store->n_threads)
		return -EINVAL;
	/* a caller's bad handle is an error, not a broken invariant */
	for (uint32_t i = 0; i < n; i++)
		if (frames[i] >= p->store->n_frames)
			return -EINVAL;
	if (n && !lines) {
		zero = sp_calloc(n, sizeof(*zero));
		if (!zero)
			return -ENOMEM;
		lines = zero;
	}
	err = sp_store_add_resolved(p->store, frames, lines, n, &stack);
	sp_free(zero);
	if (err)
		return err;
	if (!p->store->info.start_ns || t_ns < p->store->info.start_ns)
		p->store->info.start_ns = t_ns;
	return sp_store_add_sample(p->store, stack, thread, t_ns,
	                           off_cpu ? SP_STATE_OFFCPU : SP_STATE_ONCPU);
}

static int write_cb(struct sp_sink *sink, void *arg)
{
	stillprof_profile *p = arg;
	const struct sp_store *st = p->store;

	switch (p->format) {
	case STILLPROF_FORMAT_JSON:
		return sp_stackprof_json_write(st, NULL, sink);
	case STILLPROF_FORMAT_PPROF:
		return sp_pprof_write(st, NULL, sink);
	case STILLPROF_FORMAT_COLLAPSED: {
		struct sp_collapsed_opts o = {.thread_root = 1};
		return sp_collapsed_write(st, &o, sink);
	}
	case STILLPROF_FORMAT_SPEEDSCOPE:
		return sp_speedscope_write(st, NULL, sink);
	case STILLPROF_FORMAT_FLAMEGRAPH_HTML:
		return sp_flamegraph_write(st, NULL, sink);
	default: {
		struct sp_stackprof_opts o = {.raw = 1, .aggregate = 1};
		return sp_stackprof_write(st, &o, sink);
	}
	}
}

int stillprof_profile_write(stillprof_profile *p, const char *path,
                            int format)
{
	int err;

	if (!p)
		return -EINVAL;
	if ((format < 0 || format >= STILLPROF_FORMAT_COUNT) &&
	    format != STILLPROF_FORMAT_FLAMEGRAPH_HTML)
		return STILLPROF_EBADFORMAT;
	if (!path || !*path)
		return -EINVAL;
	/* resolved stacks need no symbols: this only counts */
	err = sp_store_resolve(p->store, NULL);
	if (err)
		return err;
	if (p->store->n_samples) {
		uint64_t last = p->store->samples[p->store->n_samples - 1].t_ns;

		p->store->info.duration_ns = last > p->store->info.start_ns ?
		                             last - p->store->info.start_ns : 0;
	}
	p->format = format;
	return sp_write_file_atomic(path, write_cb, p);
}

void stillprof_profile_free(stillprof_profile *p)
{
	if (!p)
		return;
	sp_store_free(p->store);
	sp_free(p);
}
