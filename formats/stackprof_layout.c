/*
 * stackprof_layout.c - the stackprof result Hash (StackProf.results,
 * format 1.2) of a resolved store, emitted value by value through an
 * encoder (stackprof_layout.h): the Marshal dump and the JSON form share
 * this walk.  Key order and presence follow research/stackprof-format.md
 * sections 1 and 2.4.
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
#include "stackprof_layout.h"

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

struct walk {
	const struct sp_store *st;
	const struct sp_value_enc *enc;
	void *ctx;
	uint64_t n_empty;      /* samples whose stack has no frame */
	uint64_t unknown_id;   /* id of "(unknown)" when n_empty > 0 */
	int raw;               /* the raw* keys are written */
	struct edge *edges;
	size_t n_edges;
	struct line_weight *lines;
	size_t n_lines;
	uint64_t *prev_us;     /* raw: per-thread previous timestamp */
	uint64_t *rec_start;   /* raw: bit i set when sample i starts a record */
	int64_t *ids;          /* raw: frame id by frame index, contiguous */
	size_t n_records;
	size_t nb;             /* integers pending in batch */
	int64_t batch[1024];
};

/* Shorthands: the walk reads like the Hash it writes. */
#define HASH(w, n) (w)->enc->hash((w)->ctx, (n))
#define ARRAY(w, n) (w)->enc->array((w)->ctx, (n))
#define SYM(w, s) (w)->enc->sym((w)->ctx, (s))
#define STR(w, s, len) (w)->enc->str((w)->ctx, (s), (len))
#define CSTR(w, s) STR(w, (s), strlen(s))
#define INT(w, v) (w)->enc->int64((w)->ctx, (v))
#define UINT(w, v) (w)->enc->uint64((w)->ctx, (v))

const char *sp_stackprof_mode_name(const struct sp_store *st)
{
	if (st->info.mode_name && st->info.mode_name[0])
		return st->info.mode_name;
	return st->info.mode == STILLPROF_MODE_CPU ? "cpu" : "wall";
}

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

/* Mark the first sample of every raw record, once: the raw arrays and
 * :raw_threads walk the records five times. */
static int find_records(struct walk *w)
{
	const struct sp_store *st = w->st;
	size_t i, start = 0;

	w->rec_start = sp_calloc(st->n_samples / 64 + 1, sizeof(uint64_t));
	if (!w->rec_start)
		return SP_ERR(-ENOMEM);
	for (i = 0; i < st->n_samples; i++) {
		if (i && same_record(st, start, i))
			continue;
		w->rec_start[i / 64] |= UINT64_C(1) << (i % 64);
		w->n_records++;
		start = i;
	}
	return 0;
}

/* End (exclusive) of the raw record that starts at sample i. */
static size_t record_end(const struct walk *w, size_t i)
{
	size_t n = w->st->n_samples, k = (i + 1) / 64;
	uint64_t bits;

	if (i + 1 >= n)
		return n;
	bits = w->rec_start[k] & (~UINT64_C(0) << ((i + 1) % 64));
	while (!bits) {
		if (++k > (n - 1) / 64)
			return n;
		bits = w->rec_start[k];
	}
	i = k * 64 + (size_t)__builtin_ctzll(bits);
	return i < n ? i : n;
}

/* Batched array elements (enc->ints); flush before anything that is not
 * one of them. */
static void flush_ints(struct walk *w)
{
	size_t i;

	if (!w->nb)
		return;
	if (w->enc->ints)
		w->enc->ints(w->ctx, w->batch, w->nb);
	else
		for (i = 0; i < w->nb; i++)
			w->enc->int64(w->ctx, w->batch[i]);
	w->nb = 0;
}

static inline void put_int(struct walk *w, int64_t v)
{
	w->batch[w->nb++] = v;
	if (w->nb == SP_ARRAY_LEN(w->batch))
		flush_ints(w);
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

/* Build the sorted, merged :edges and :lines tables from the samples per
 * stack. */
static int aggregate(struct walk *w)
{
	const struct sp_store *st = w->st;
	uint64_t *per_stack;
	size_t n_edges = 0, n_lines = 0, i, o;
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
	w->edges = sp_reallocarray(NULL, n_edges, sizeof(*w->edges));
	w->lines = sp_reallocarray(NULL, n_lines, sizeof(*w->lines));
	if (!w->edges || !w->lines) {
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
			struct edge *e = &w->edges[w->n_edges++];

			e->caller = s->frames[k];
			e->callee = s->frames[k - 1];
			e->count = c;
		}
		for (k = 0; k < s->n; k++) {
			struct line_weight *l;

			if (s->lines[k] <= 0)
				continue; /* stackprof keeps lines > 0 only */
			l = &w->lines[w->n_lines++];
			l->frame = s->frames[k];
			l->line = s->lines[k];
			l->total = c;
			l->self = k == 0 ? c : 0;
		}
	}
	sp_free(per_stack);

	qsort(w->edges, w->n_edges, sizeof(*w->edges), cmp_edge);
	for (i = 0, o = 0; i < w->n_edges; i++) {
		if (o && !cmp_edge(&w->edges[o - 1], &w->edges[i]))
			w->edges[o - 1].count += w->edges[i].count;
		else
			w->edges[o++] = w->edges[i];
	}
	w->n_edges = o;
	qsort(w->lines, w->n_lines, sizeof(*w->lines), cmp_line);
	for (i = 0, o = 0; i < w->n_lines; i++) {
		if (o && !cmp_line(&w->lines[o - 1], &w->lines[i])) {
			w->lines[o - 1].total += w->lines[i].total;
			w->lines[o - 1].self += w->lines[i].self;
		} else {
			w->lines[o++] = w->lines[i];
		}
	}
	w->n_lines = o;
	return 0;
}

static void emit_threads(struct walk *w)
{
	const struct sp_store *st = w->st;
	size_t i;

	ARRAY(w, st->n_threads);
	for (i = 0; i < st->n_threads; i++) {
		const struct sp_thread *t = &st->threads[i];

		HASH(w, 3);
		SYM(w, "tid");
		INT(w, t->tid);
		SYM(w, "name");
		STR(w, t->name, strnlen(t->name, sizeof(t->name)));
		SYM(w, "samples");
		UINT(w, t->samples);
	}
}

/* stillprof's own facts; stackprof's tools ignore :metadata. */
static void emit_metadata(struct walk *w)
{
	const struct sp_store *st = w->st;
	const struct sp_run_info *in = &st->info;
	uint64_t oncpu = 0;
	size_t i;

	for (i = 0; i < st->n_samples; i++)
		oncpu += st->samples[i].state == SP_STATE_ONCPU;

	/* Stores recorded by a session carry their bounds: say what they
	 * were and what every loss counter holds (dumps read back, and the
	 * writers' tests, have none). */
	int bounded = st->limits.max_stacks || st->limits.max_samples ||
	              st->limits.max_depth || st->limits.max_threads;

	HASH(w, (w->raw ? 13 : 12) + (bounded ? 2 : 0));
	SYM(w, "stillprof_version");
	CSTR(w, STILLPROF_VERSION);
	SYM(w, "backend");
	CSTR(w, in->backend ? in->backend : "");
	SYM(w, "guarantee");
	CSTR(w, in->guarantee ? in->guarantee : "");
	SYM(w, "pid");
	INT(w, in->pid);
	/* Wall-clock start in µs since the epoch, and the same instant on
	 * CLOCK_MONOTONIC (the clock of :raw_sample_timestamps), so readers
	 * can put samples on a calendar. */
	SYM(w, "start_time");
	UINT(w, in->start_realtime_ns / 1000);
	SYM(w, "start_monotonic");
	UINT(w, in->start_ns / 1000);
	SYM(w, "duration_ns");
	UINT(w, in->duration_ns);
	SYM(w, "oncpu_samples");
	UINT(w, oncpu);
	SYM(w, "offcpu_samples");
	UINT(w, st->n_samples - oncpu);
	/* Of oncpu_samples, the copies of samples that stood for several
	 * intervals (sample_weight.c): the rest were taken. */
	SYM(w, "weighted_samples");
	UINT(w, in->weighted_samples);
	/* Samples whose stack copy ended before the unwind did: their
	 * outer frames are missing (stack_copy.c). */
	SYM(w, "cut_samples");
	UINT(w, in->cut_samples);
	SYM(w, "threads");
	emit_threads(w);
	if (bounded) {
		SYM(w, "limits");
		HASH(w, 4);
		SYM(w, "max_depth");
		UINT(w, st->limits.max_depth);
		SYM(w, "max_stacks");
		UINT(w, st->limits.max_stacks);
		SYM(w, "max_samples");
		UINT(w, st->limits.max_samples);
		SYM(w, "max_threads");
		UINT(w, st->limits.max_threads);
		SYM(w, "dropped");
		HASH(w, 7);
		SYM(w, "lost_records");
		UINT(w, in->lost_records);
		SYM(w, "missed_ticks");
		UINT(w, in->missed_ticks);
		SYM(w, "offcpu_unknown");
		UINT(w, in->offcpu_unknown);
		SYM(w, "stack_limit");
		UINT(w, in->dropped_stack_limit);
		SYM(w, "sample_limit");
		UINT(w, in->dropped_sample_limit);
		SYM(w, "truncated_stacks");
		UINT(w, in->truncated_samples);
		SYM(w, "thread_limit"); /* threads in "(other threads)" */
		UINT(w, in->folded_threads);
	}
	if (w->raw) {
		SYM(w, "raw_threads");
		ARRAY(w, w->n_records);
		for (i = 0; i < st->n_samples; i = record_end(w, i))
			put_int(w, st->threads[st->samples[i].thread].tid);
		flush_ints(w);
	}
}

static void emit_frame(struct walk *w, const struct sp_frame *f,
                       const struct edge *e, size_t n_e,
                       const struct line_weight *l, size_t n_l)
{
	size_t i;

	UINT(w, f->id);
	HASH(w, 4 + (f->line != 0) + (n_e > 0) + (n_l > 0));
	SYM(w, "name");
	CSTR(w, f->name);
	SYM(w, "file");
	CSTR(w, f->file);
	if (f->line) { /* stackprof omits :line when it is 0 */
		SYM(w, "line");
		INT(w, f->line);
	}
	SYM(w, "total_samples");
	UINT(w, f->total_samples);
	SYM(w, "samples");
	UINT(w, f->self_samples);
	if (n_e) {
		SYM(w, "edges");
		HASH(w, n_e);
		for (i = 0; i < n_e; i++) {
			UINT(w, w->st->frames[e[i].callee].id);
			UINT(w, e[i].count);
		}
	}
	if (n_l) {
		SYM(w, "lines");
		HASH(w, n_l);
		for (i = 0; i < n_l; i++) {
			INT(w, l[i].line);
			ARRAY(w, 2);
			UINT(w, l[i].total);
			UINT(w, l[i].self);
		}
	}
}

static void emit_frames(struct walk *w)
{
	const struct sp_store *st = w->st;
	size_t i, e = 0, l = 0;

	HASH(w, st->n_frames + (w->n_empty > 0));
	/* edges and lines are sorted by frame index: walk them along. */
	for (i = 0; i < st->n_frames; i++) {
		size_t e0 = e, l0 = l;

		while (e < w->n_edges && w->edges[e].caller == i)
			e++;
		while (l < w->n_lines && w->lines[l].frame == i)
			l++;
		emit_frame(w, &st->frames[i], w->edges + e0, e - e0,
		           w->lines + l0, l - l0);
	}
	if (w->n_empty) {
		struct sp_frame unknown = {
			.id = w->unknown_id,
			.name = "(unknown)",
			.file = "",
			.total_samples = w->n_empty,
			.self_samples = w->n_empty,
		};

		emit_frame(w, &unknown, NULL, 0, NULL, 0);
	}
}

/* :raw (ids) or :raw_lines (lines): len, root..leaf, count per record.
 * Frame ids are < 2^53 and timestamps in µs < 2^54: all fit int64. */
static void emit_raw(struct walk *w, int lines)
{
	const struct sp_store *st = w->st;
	size_t i, j, n = 0;
	uint32_t k;

	for (i = 0; i < st->n_samples; i = record_end(w, i)) {
		uint32_t depth = st->stacks[st->samples[i].stack].n;

		n += (depth ? depth : 1) + 2;
	}
	ARRAY(w, n);
	for (i = 0; i < st->n_samples; i = j) {
		const struct sp_stack *s = &st->stacks[st->samples[i].stack];
		int64_t *b;

		j = record_end(w, i);
		if (!s->n) {
			put_int(w, 1);
			put_int(w, lines ? 0 : (int64_t)w->unknown_id);
			put_int(w, (int64_t)(j - i));
			continue;
		}
		if (s->n + 2 > SP_ARRAY_LEN(w->batch) - w->nb) {
			flush_ints(w);
			if (s->n + 2 > SP_ARRAY_LEN(w->batch)) {
				/* deeper than a batch: one by one */
				put_int(w, s->n);
				for (k = s->n; k-- > 0;)
					put_int(w, lines ? s->lines[k]
					                 : w->ids[s->frames[k]]);
				put_int(w, (int64_t)(j - i));
				continue;
			}
		}
		/* The whole record into the batch, no check per value. */
		b = w->batch + w->nb;
		*b++ = s->n;
		if (lines)
			for (k = s->n; k-- > 0;)
				*b++ = s->lines[k];
		else
			for (k = s->n; k-- > 0;)
				*b++ = w->ids[s->frames[k]];
		*b++ = (int64_t)(j - i);
		w->nb = (size_t)(b - w->batch);
		if (w->nb == SP_ARRAY_LEN(w->batch))
			flush_ints(w); /* put_int expects room */
	}
	flush_ints(w);
}

static void emit_timestamps(struct walk *w)
{
	const struct sp_store *st = w->st;
	uint64_t *prev = w->prev_us; /* 0 = no sample of that thread yet */
	size_t i;

	SYM(w, "raw_sample_timestamps");
	ARRAY(w, st->n_samples);
	for (i = 0; i < st->n_samples; i++)
		put_int(w, (int64_t)(st->samples[i].t_ns / 1000));
	flush_ints(w);

	/* A sample's delta is the wall time it stands for: the time since
	 * the previous sample of the same thread (the interval for a
	 * thread's first sample).  speedscope weights wall samples by these
	 * deltas; with one timeline shared by every thread, differences
	 * between consecutive samples of different threads would give
	 * samples taken at the same tick a weight of 0. */
	SYM(w, "raw_timestamp_deltas");
	ARRAY(w, st->n_samples);
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
		put_int(w, (int64_t)delta);
	}
	flush_ints(w);
}

int sp_stackprof_layout_emit(const struct sp_store *st, int raw,
                             int aggregate_on, const struct sp_value_enc *enc,
                             void *ctx)
{
	struct walk w;
	uint64_t max_id = 0;
	size_t i;
	int err = 0;

	memset(&w, 0, sizeof(w));
	w.st = st;
	w.enc = enc;
	w.ctx = ctx;
	for (i = 0; i < st->n_stacks; i++)
		if (st->stacks[i].n && !st->stacks[i].frames)
			return SP_ERR(-EINVAL); /* sp_store_resolve first */
	for (i = 0; i < st->n_frames; i++)
		if (st->frames[i].id > max_id)
			max_id = st->frames[i].id;
	for (i = 0; i < st->n_samples; i++)
		w.n_empty += st->stacks[st->samples[i].stack].n == 0;
	/* Next id in the store's (index + 1) * 8 scheme: even, not 1/3/5. */
	w.unknown_id = (max_id | 7) + 1;
	w.raw = raw && st->n_samples > 0;
	if (aggregate_on) {
		err = aggregate(&w);
		if (err)
			goto out;
	}
	if (w.raw) {
		w.prev_us = sp_calloc(st->n_threads ? st->n_threads : 1,
		                      sizeof(*w.prev_us));
		if (!w.prev_us) {
			err = SP_ERR(-ENOMEM);
			goto out;
		}
		err = find_records(&w);
		if (err)
			goto out;
		w.ids = sp_reallocarray(NULL, st->n_frames ? st->n_frames : 1,
		                        sizeof(*w.ids));
		if (!w.ids) {
			err = SP_ERR(-ENOMEM);
			goto out;
		}
		for (i = 0; i < st->n_frames; i++)
			w.ids[i] = (int64_t)st->frames[i].id;
	}

	if (enc->begin)
		enc->begin(ctx);
	HASH(&w, 8 + (w.raw ? 4 : 0));
	SYM(&w, "version");
	enc->flt(ctx, 1.2);
	SYM(&w, "mode");
	/* A Symbol in the Hash; the encoder decides how a mode value looks
	 * (JSON has no symbols: stackprof --json writes "cpu"). */
	SYM(&w, sp_stackprof_mode_name(st));
	SYM(&w, "interval");
	UINT(&w, st->info.interval_us);
	SYM(&w, "samples");
	UINT(&w, st->n_samples);
	SYM(&w, "gc_samples");
	INT(&w, 0);
	SYM(&w, "missed_samples");
	UINT(&w, st->info.missed_samples);
	SYM(&w, "metadata");
	emit_metadata(&w);
	SYM(&w, "frames");
	emit_frames(&w);
	if (w.raw) {
		SYM(&w, "raw");
		emit_raw(&w, 0);
		SYM(&w, "raw_lines");
		emit_raw(&w, 1);
		emit_timestamps(&w);
	}
out:
	sp_free(w.edges);
	sp_free(w.lines);
	sp_free(w.prev_us);
	sp_free(w.rec_start);
	sp_free(w.ids);
	return err;
}
