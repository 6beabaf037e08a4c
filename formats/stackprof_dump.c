/*
 * stackprof_dump.c - writes a resolved store as the Hash that stackprof's
 * StackProf.results returns (format 1.2), Marshal-encoded: what
 * `stackprof FILE --text` and friends read.  Key order and presence follow
 * research/stackprof-format.md sections 1 and 2.4.
 *
 * Two choices of ours, both so that the arrays stay consistent:
 *
 *  - A sample whose stack has no frame at all (the unwinder got nothing)
 *    is written as a one-frame stack "(unknown)", a synthetic frame whose id
 *    follows the store's ids.  stackprof would count such a sample in
 *    :samples but leave it out of :raw while keeping its timestamps, which
 *    shifts speedscope's wall-time weights (it sums the next `count`
 *    deltas for each record).
 *  - Raw records are per thread: consecutive samples merge only when they
 *    have the same thread, frames and lines.  :metadata => :raw_threads is
 *    an Array with one tid per :raw record, in record order, so a reader
 *    can attribute every record (and, through the counts, every timestamp)
 *    to a thread; :metadata => :threads lists {tid, name, samples}.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store.h"
#include "formats.h"

/* Caller -> callee weight, once per occurrence on a stack. */
struct edge {
	uint32_t caller, callee;
	uint64_t count;
};

/* A frame's weight on one line: every occurrence, and as the leaf. */
struct line_weight {
	uint32_t frame;
	int32_t line;
	uint64_t total, self;
};

struct dump {
	const struct sp_store *st;
	const struct sp_stackprof_opts *o;
	struct sp_marshal m;
	uint64_t n_empty;      /* samples whose stack has no frame */
	uint64_t unknown_id;   /* id of "(unknown)" when n_empty > 0 */
	int raw;               /* the raw* keys are written */
	struct edge *edges;
	size_t n_edges;
	struct line_weight *lines;
	size_t n_lines;
};

/* Samples i and j belong in one raw record. */
static int same_record(const struct sp_store *st, size_t i, size_t j)
{
	const struct sp_sample *a = &st->samples[i], *b = &st->samples[j];
	const struct sp_stack *sa, *sb;

	if (a->thread != b->thread)
		return 0;
	if (a->stack == b->stack)
		return 1;
	/* Different pcs can still be the same functions on the same lines
	 * (two call sites on one line, say): stackprof would merge those. */
	sa = &st->stacks[a->stack];
	sb = &st->stacks[b->stack];
	return sa->n == sb->n &&
	       (sa->n == 0 ||
	        (!memcmp(sa->frames, sb->frames, sa->n * sizeof(*sa->frames)) &&
	         !memcmp(sa->lines, sb->lines, sa->n * sizeof(*sa->lines))));
}

/* End (exclusive) of the raw record that starts at sample i. */
static size_t record_end(const struct sp_store *st, size_t i)
{
	size_t j = i + 1;

	while (j < st->n_samples && same_record(st, i, j))
		j++;
	return j;
}

static int cmp_edge(const void *pa, const void *pb)
{
	const struct edge *a = pa, *b = pb;

	if (a->caller != b->caller)
		return a->caller < b->caller ? -1 : 1;
	if (a->callee != b->callee)
		return a->callee < b->callee ? -1 : 1;
	return 0;
}

static int cmp_line(const void *pa, const void *pb)
{
	const struct line_weight *a = pa, *b = pb;

	if (a->frame != b->frame)
		return a->frame < b->frame ? -1 : 1;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	return 0;
}

/*
 * Build the sorted, merged :edges and :lines tables from the samples per
 * stack.  Everything is allocated before the first byte is written, so
 * running out of memory never leaves half a dump in the sink.
 */
static int aggregate(struct dump *d)
{
	const struct sp_store *st = d->st;
	uint64_t *per_stack;
	size_t n_edges = 0, n_lines = 0, i, w;
	uint32_t k;

	per_stack = sp_calloc(st->n_stacks, sizeof(*per_stack));
	if (!per_stack)
		return SP_ERR(-ENOMEM);
	for (i = 0; i < st->n_samples; i++)
		per_stack[st->samples[i].stack]++;
	for (i = 0; i < st->n_stacks; i++) {
		if (!per_stack[i] || !st->stacks[i].n)
			continue;
		n_edges += st->stacks[i].n - 1;
		n_lines += st->stacks[i].n;
	}
	d->edges = sp_reallocarray(NULL, n_edges, sizeof(*d->edges));
	d->lines = sp_reallocarray(NULL, n_lines, sizeof(*d->lines));
	if (!d->edges || !d->lines) {
		sp_free(per_stack);
		return SP_ERR(-ENOMEM);
	}
	for (i = 0; i < st->n_stacks; i++) {
		const struct sp_stack *s = &st->stacks[i];
		uint64_t c = per_stack[i];

		if (!c)
			continue;
		/* Leaf first: frames[k] called frames[k - 1]. */
		for (k = 1; k < s->n; k++) {
			struct edge *e = &d->edges[d->n_edges++];

			e->caller = s->frames[k];
			e->callee = s->frames[k - 1];
			e->count = c;
		}
		for (k = 0; k < s->n; k++) {
			struct line_weight *l;

			if (s->lines[k] <= 0)
				continue; /* stackprof keeps lines > 0 only */
			l = &d->lines[d->n_lines++];
			l->frame = s->frames[k];
			l->line = s->lines[k];
			l->total = c;
			l->self = k == 0 ? c : 0;
		}
	}
	sp_free(per_stack);

	qsort(d->edges, d->n_edges, sizeof(*d->edges), cmp_edge);
	for (i = 0, w = 0; i < d->n_edges; i++) {
		if (w && !cmp_edge(&d->edges[w - 1], &d->edges[i]))
			d->edges[w - 1].count += d->edges[i].count;
		else
			d->edges[w++] = d->edges[i];
	}
	d->n_edges = w;
	qsort(d->lines, d->n_lines, sizeof(*d->lines), cmp_line);
	for (i = 0, w = 0; i < d->n_lines; i++) {
		if (w && !cmp_line(&d->lines[w - 1], &d->lines[i])) {
			d->lines[w - 1].total += d->lines[i].total;
			d->lines[w - 1].self += d->lines[i].self;
		} else {
			d->lines[w++] = d->lines[i];
		}
	}
	d->n_lines = w;
	return 0;
}

static void write_threads(struct dump *d)
{
	const struct sp_store *st = d->st;
	struct sp_marshal *m = &d->m;
	size_t i;

	sp_marshal_array(m, st->n_threads);
	for (i = 0; i < st->n_threads; i++) {
		const struct sp_thread *t = &st->threads[i];

		sp_marshal_hash(m, 3);
		sp_marshal_sym(m, "tid");
		sp_marshal_int(m, t->tid);
		sp_marshal_sym(m, "name");
		sp_marshal_str(m, t->name, strnlen(t->name, sizeof(t->name)));
		sp_marshal_sym(m, "samples");
		sp_marshal_uint(m, t->samples);
	}
}

static size_t count_records(const struct sp_store *st)
{
	size_t i, n = 0;

	for (i = 0; i < st->n_samples; i = record_end(st, i))
		n++;
	return n;
}

/* stillprof's own facts; stackprof's tools ignore :metadata. */
static void write_metadata(struct dump *d)
{
	const struct sp_store *st = d->st;
	const struct sp_run_info *in = &st->info;
	struct sp_marshal *m = &d->m;
	uint64_t oncpu = 0;
	size_t i;

	for (i = 0; i < st->n_samples; i++)
		oncpu += st->samples[i].state == SP_STATE_ONCPU;

	sp_marshal_hash(m, d->raw ? 11 : 10);
	sp_marshal_sym(m, "stillprof_version");
	sp_marshal_cstr(m, STILLPROF_VERSION);
	sp_marshal_sym(m, "backend");
	sp_marshal_cstr(m, in->backend ? in->backend : "");
	sp_marshal_sym(m, "guarantee");
	sp_marshal_cstr(m, in->guarantee ? in->guarantee : "");
	sp_marshal_sym(m, "pid");
	sp_marshal_int(m, in->pid);
	/* Wall-clock start in µs since the epoch, and the same instant on
	 * CLOCK_MONOTONIC (the clock of :raw_sample_timestamps), so readers
	 * can put samples on a calendar. */
	sp_marshal_sym(m, "start_time");
	sp_marshal_uint(m, in->start_realtime_ns / 1000);
	sp_marshal_sym(m, "start_monotonic");
	sp_marshal_uint(m, in->start_ns / 1000);
	sp_marshal_sym(m, "duration_ns");
	sp_marshal_uint(m, in->duration_ns);
	sp_marshal_sym(m, "oncpu_samples");
	sp_marshal_uint(m, oncpu);
	sp_marshal_sym(m, "offcpu_samples");
	sp_marshal_uint(m, st->n_samples - oncpu);
	sp_marshal_sym(m, "threads");
	write_threads(d);
	if (d->raw) {
		sp_marshal_sym(m, "raw_threads");
		sp_marshal_array(m, count_records(st));
		for (i = 0; i < st->n_samples; i = record_end(st, i))
			sp_marshal_int(m,
			               st->threads[st->samples[i].thread].tid);
	}
}

static void write_frame(struct dump *d, const struct sp_frame *f,
                        const struct edge *e, size_t n_e,
                        const struct line_weight *l, size_t n_l)
{
	struct sp_marshal *m = &d->m;
	size_t i;

	sp_marshal_uint(m, f->id);
	sp_marshal_hash(m, 4 + (f->line != 0) + (n_e > 0) + (n_l > 0));
	sp_marshal_sym(m, "name");
	sp_marshal_cstr(m, f->name);
	sp_marshal_sym(m, "file");
	sp_marshal_cstr(m, f->file);
	if (f->line) { /* stackprof omits :line when it is 0 */
		sp_marshal_sym(m, "line");
		sp_marshal_int(m, f->line);
	}
	sp_marshal_sym(m, "total_samples");
	sp_marshal_uint(m, f->total_samples);
	sp_marshal_sym(m, "samples");
	sp_marshal_uint(m, f->self_samples);
	if (n_e) {
		sp_marshal_sym(m, "edges");
		sp_marshal_hash(m, n_e);
		for (i = 0; i < n_e; i++) {
			sp_marshal_uint(m, d->st->frames[e[i].callee].id);
			sp_marshal_uint(m, e[i].count);
		}
	}
	if (n_l) {
		sp_marshal_sym(m, "lines");
		sp_marshal_hash(m, n_l);
		for (i = 0; i < n_l; i++) {
			sp_marshal_int(m, l[i].line);
			sp_marshal_array(m, 2);
			sp_marshal_uint(m, l[i].total);
			sp_marshal_uint(m, l[i].self);
		}
	}
}

static void write_frames(struct dump *d)
{
	const struct sp_store *st = d->st;
	struct sp_marshal *m = &d->m;
	size_t i, e = 0, l = 0;

	sp_marshal_hash(m, st->n_frames + (d->n_empty > 0));
	/* edges and lines are sorted by frame index: walk them along. */
	for (i = 0; i < st->n_frames; i++) {
		size_t e0 = e, l0 = l;

		while (e < d->n_edges && d->edges[e].caller == i)
			e++;
		while (l < d->n_lines && d->lines[l].frame == i)
			l++;
		write_frame(d, &st->frames[i], d->edges + e0, e - e0,
		            d->lines + l0, l - l0);
	}
	if (d->n_empty) {
		struct sp_frame unknown = {
			.id = d->unknown_id,
			.name = "(unknown)",
			.file = "",
			.total_samples = d->n_empty,
			.self_samples = d->n_empty,
		};

		write_frame(d, &unknown, NULL, 0, NULL, 0);
	}
}

/* :raw (ids) or :raw_lines (lines): len, root..leaf, count per record. */
static void write_raw(struct dump *d, int lines)
{
	const struct sp_store *st = d->st;
	struct sp_marshal *m = &d->m;
	size_t i, j, n = 0;
	uint32_t k;

	for (i = 0; i < st->n_samples; i = record_end(st, i)) {
		uint32_t depth = st->stacks[st->samples[i].stack].n;

		n += (depth ? depth : 1) + 2;
	}
	sp_marshal_array(m, n);
	for (i = 0; i < st->n_samples; i = j) {
		const struct sp_stack *s = &st->stacks[st->samples[i].stack];

		j = record_end(st, i);
		if (!s->n) {
			sp_marshal_int(m, 1);
			if (lines)
				sp_marshal_int(m, 0);
			else
				sp_marshal_uint(m, d->unknown_id);
		} else {
			sp_marshal_int(m, s->n);
			for (k = s->n; k-- > 0;) {
				if (lines)
					sp_marshal_int(m, s->lines[k]);
				else
					sp_marshal_uint(
					    m, st->frames[s->frames[k]].id);
			}
		}
		sp_marshal_uint(m, j - i);
	}
}

static int write_timestamps(struct dump *d)
{
	const struct sp_store *st = d->st;
	struct sp_marshal *m = &d->m;
	uint64_t *prev;
	size_t i;

	/* Per-thread previous timestamp (µs); 0 = no sample yet. */
	prev = sp_calloc(st->n_threads ? st->n_threads : 1, sizeof(*prev));
	if (!prev)
		return -ENOMEM;
	sp_marshal_sym(m, "raw_sample_timestamps");
	sp_marshal_array(m, st->n_samples);
	for (i = 0; i < st->n_samples; i++)
		sp_marshal_uint(m, st->samples[i].t_ns / 1000);

	/* A sample's delta is the wall time it stands for: the time since
	 * the previous sample of the same thread (the interval for a
	 * thread's first sample).  speedscope weights wall samples by these
	 * deltas; with one timeline shared by every thread, differences
	 * between consecutive samples of different threads would give
	 * samples taken at the same tick a weight of 0. */
	sp_marshal_sym(m, "raw_timestamp_deltas");
	sp_marshal_array(m, st->n_samples);
	for (i = 0; i < st->n_samples; i++) {
		uint64_t us = st->samples[i].t_ns / 1000;
		uint32_t t = st->samples[i].thread;
		uint64_t delta = st->info.interval_us;

		if (t < st->n_threads) {
			if (prev[t])
				delta = us > prev[t] ? us - prev[t] : 0;
			if (us > prev[t])
				prev[t] = us;
		}
		sp_marshal_uint(m, delta);
	}
	sp_free(prev);
	return 0;
}

int sp_stackprof_write(const struct sp_store *st,
                       const struct sp_stackprof_opts *o,
                       struct sp_sink *sink)
{
	struct dump d;
	struct sp_marshal *m = &d.m;
	uint64_t max_id = 0;
	size_t i;
	int err = 0;

	memset(&d, 0, sizeof(d));
	d.st = st;
	d.o = o;
	for (i = 0; i < st->n_stacks; i++)
		if (st->stacks[i].n && !st->stacks[i].frames)
			return SP_ERR(-EINVAL); /* sp_store_resolve first */
	for (i = 0; i < st->n_frames; i++)
		if (st->frames[i].id > max_id)
			max_id = st->frames[i].id;
	for (i = 0; i < st->n_samples; i++)
		d.n_empty += st->stacks[st->samples[i].stack].n == 0;
	/* Next id in the store's (index + 1) * 8 scheme: even, not 1/3/5. */
	d.unknown_id = (max_id | 7) + 1;
	d.raw = o->raw && st->n_samples > 0;
	if (o->aggregate) {
		err = aggregate(&d);
		if (err)
			goto out;
	}

	sp_marshal_init(m, sink);
	sp_marshal_hash(m, 8 + (d.raw ? 4 : 0));
	sp_marshal_sym(m, "version");
	sp_marshal_float(m, 1.2);
	sp_marshal_sym(m, "mode");
	sp_marshal_sym(m, st->info.mode == STILLPROF_MODE_CPU ? "cpu" : "wall");
	sp_marshal_sym(m, "interval");
	sp_marshal_uint(m, st->info.interval_us);
	sp_marshal_sym(m, "samples");
	sp_marshal_uint(m, st->n_samples);
	sp_marshal_sym(m, "gc_samples");
	sp_marshal_int(m, 0);
	sp_marshal_sym(m, "missed_samples");
	sp_marshal_uint(m, st->info.missed_samples);
	sp_marshal_sym(m, "metadata");
	write_metadata(&d);
	sp_marshal_sym(m, "frames");
	write_frames(&d);
	if (d.raw) {
		sp_marshal_sym(m, "raw");
		write_raw(&d, 0);
		sp_marshal_sym(m, "raw_lines");
		write_raw(&d, 1);
		err = write_timestamps(&d);
		if (err)
			goto out;
	}
	err = sink->err;
out:
	sp_free(d.edges);
	sp_free(d.lines);
	return err;
}
