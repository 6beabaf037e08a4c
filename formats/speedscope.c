/*
 * speedscope.c - speedscope's own file format
 * (https://www.speedscope.app/file-format-schema.json): one shared frame
 * table and one "sampled" profile per thread, "<name> (tid N)".
 *
 * Every sample carries a weight.  In wall mode it is the wall time the
 * sample stands for: the time since the previous sample of the same
 * thread, the interval for a thread's first sample (the same rule as the
 * stackprof raw_timestamp_deltas, stackprof_layout.c).  Samples are
 * written in time order per thread, so the weights are the differences
 * of consecutive timestamps and sum to last - first + interval.  In cpu
 * mode every sample is worth the interval; other modes (a dump of
 * stackprof's object or custom mode) weigh 1 with unit "none".
 *
 * A sample without any frame gets a "(unknown)" frame, as in collapsed.c,
 * appended to the frame table only when such a sample exists.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store.h"
#include "formats.h"
#include "writers.h"
#include "stackprof_layout.h"

enum weighting { W_WALL, W_CPU, W_ONE };

struct order {
	uint32_t thread;
	uint64_t t_ns;
	size_t i;          /* recording order breaks ties: a stable sort */
};

static int cmp_order(const void *pa, const void *pb)
{
	const struct order *a = pa, *b = pb;

	if (a->thread != b->thread)
		return a->thread < b->thread ? -1 : 1;
	if (a->t_ns != b->t_ns)
		return a->t_ns < b->t_ns ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

static void put_lit(struct sp_sink *s, const char *lit)
{
	sp_sink_write(s, lit, strlen(lit));
}

static void put_frame(struct sp_sink *s, const struct sp_frame *f)
{
	put_lit(s, "{\"name\":");
	sp_json_str(s, f->name, strlen(f->name));
	if (f->file[0]) {
		put_lit(s, ",\"file\":");
		sp_json_str(s, f->file, strlen(f->file));
	}
	if (f->line > 0) {
		put_lit(s, ",\"line\":");
		sp_json_int(s, f->line);
	}
	sp_sink_putc(s, '}');
}

/* One profile: thread ti, its samples ord[0..n) in time order. */
static void put_profile(struct sp_sink *s, const struct sp_store *st,
                        uint32_t ti, const struct order *ord, size_t n,
                        const uint64_t *weight, enum weighting wt,
                        size_t unknown_frame)
{
	const struct sp_thread *t = &st->threads[ti];
	char name[64];
	uint64_t sum = 0;
	size_t i;
	int len;

	for (i = 0; i < n; i++)
		sum += weight[i];
	len = snprintf(name, sizeof(name), "%.*s (tid %d)",
	               (int)strnlen(t->name, sizeof(t->name)), t->name,
	               (int)t->tid);
	put_lit(s, "{\"type\":\"sampled\",\"name\":");
	sp_json_str(s, name, (size_t)len);
	put_lit(s, wt == W_ONE ? ",\"unit\":\"none\"" :
	                         ",\"unit\":\"microseconds\"");
	put_lit(s, ",\"startValue\":0,\"endValue\":");
	sp_json_uint(s, sum);
	put_lit(s, ",\"samples\":[");
	for (i = 0; i < n; i++) {
		const struct sp_stack *k = &st->stacks[st->samples[ord[i].i].stack];
		uint32_t j;

		if (i)
			sp_sink_putc(s, ',');
		sp_sink_putc(s, '[');
		if (!k->n)
			sp_json_uint(s, unknown_frame);
		for (j = k->n; j-- > 0;) {
			sp_json_uint(s, k->frames[j]);
			if (j)
				sp_sink_putc(s, ',');
		}
		sp_sink_putc(s, ']');
	}
	put_lit(s, "],\"weights\":[");
	for (i = 0; i < n; i++) {
		if (i)
			sp_sink_putc(s, ',');
		sp_json_uint(s, weight[i]);
	}
	put_lit(s, "]}");
}

int sp_speedscope_write(const struct sp_store *st, const void *opts_unused,
                        struct sp_sink *sink)
{
	const char *mode = sp_stackprof_mode_name(st);
	enum weighting wt = !strcmp(mode, "wall") ? W_WALL :
	                    !strcmp(mode, "cpu") ? W_CPU : W_ONE;
	struct order *ord;
	uint64_t *weight;
	size_t i, n = 0, at;
	int unknown = 0, len;
	uint32_t ti;
	char name[80];

	(void)opts_unused;
	for (i = 0; i < st->n_stacks; i++)
		if (st->stacks[i].n && !st->stacks[i].frames)
			return SP_ERR(-EINVAL); /* sp_store_resolve first */
	ord = sp_reallocarray(NULL, st->n_samples ? st->n_samples : 1,
	                      sizeof(*ord));
	weight = sp_reallocarray(NULL, st->n_samples ? st->n_samples : 1,
	                         sizeof(*weight));
	if (!ord || !weight) {
		sp_free(ord);
		sp_free(weight);
		return SP_ERR(-ENOMEM);
	}
	for (i = 0; i < st->n_samples; i++) {
		const struct sp_sample *sm = &st->samples[i];

		if (sm->thread >= st->n_threads)
			continue;
		ord[n].thread = sm->thread;
		ord[n].t_ns = sm->t_ns;
		ord[n++].i = i;
		if (!st->stacks[sm->stack].n)
			unknown = 1;
	}
	qsort(ord, n, sizeof(*ord), cmp_order);
	for (i = 0; i < n; i++) {
		uint64_t us = ord[i].t_ns / 1000;

		if (wt == W_ONE)
			weight[i] = 1;
		else if (wt == W_CPU || !i || ord[i - 1].thread != ord[i].thread)
			weight[i] = st->info.interval_us;
		else
			weight[i] = us - ord[i - 1].t_ns / 1000;
	}

	put_lit(sink, "{\"$schema\":\"https://www.speedscope.app/"
	              "file-format-schema.json\",\"shared\":{\"frames\":[");
	for (i = 0; i < st->n_frames; i++) {
		if (i)
			sp_sink_putc(sink, ',');
		put_frame(sink, &st->frames[i]);
	}
	if (unknown)
		put_lit(sink, st->n_frames ? ",{\"name\":\"(unknown)\"}" :
		                             "{\"name\":\"(unknown)\"}");
	put_lit(sink, "]},\"profiles\":[");
	for (ti = 0, at = 0; ti < st->n_threads; ti++) {
		size_t end = at;

		while (end < n && ord[end].thread == ti)
			end++;
		if (ti)
			sp_sink_putc(sink, ',');
		put_profile(sink, st, ti, ord + at, end - at, weight + at, wt,
		            st->n_frames);
		at = end;
	}
	put_lit(sink, "],\"name\":");
	len = snprintf(name, sizeof(name), "stillprof %.32s profile (pid %d)",
	               mode, (int)st->info.pid);
	sp_json_str(sink, name, len > 0 ? (size_t)len : 0);
	if (st->n_threads)
		put_lit(sink, ",\"activeProfileIndex\":0");
	put_lit(sink, ",\"exporter\":\"stillprof " STILLPROF_VERSION "\"}\n");
	sp_free(ord);
	sp_free(weight);
	return sink->err;
}
