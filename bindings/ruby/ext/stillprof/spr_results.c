/*
 * spr_results.c - the Hash StackProf.results returns (stackprof 0.2.28,
 * format 1.2; research/stackprof-format.md section 1): keys in stackprof's
 * order, frames named with rb_profile_frame_full_label, :line omitted when
 * 0 (nil for C functions), :edges/:lines only when aggregating, the four
 * raw arrays only with raw: true and at least one sample.
 *
 * :metadata is the caller's Hash (a copy) followed by stillprof's own keys
 * (the caller's keys win): back-end, guarantee, threads and, with raw, the
 * thread and GVL state of every :raw record.
 */
#include <stdlib.h>

#include "spr.h"
#include <ruby/debug.h>

#ifndef STILLPROF_RUBY_VERSION
#define STILLPROF_RUBY_VERSION "0.1.0"
#endif

static VALUE sym(const char *s)
{
	return ID2SYM(rb_intern(s));
}

static VALUE frame_hash(const struct spr_frame *f)
{
	VALUE h = rb_hash_new(), name, file, line = INT2FIX(0);
	size_t i;

	switch (f->key) {
	case SPR_GC_FRAME:
		name = rb_str_new_cstr("(garbage collection)");
		file = rb_str_new_cstr("");
		break;
	case SPR_MARKING_FRAME:
		name = rb_str_new_cstr("(marking)");
		file = rb_str_new_cstr("");
		break;
	case SPR_SWEEPING_FRAME:
		name = rb_str_new_cstr("(sweeping)");
		file = rb_str_new_cstr("");
		break;
	default:
		if (NIL_P(f->frame)) {
			name = f->name;
			file = f->file;
		} else {
			name = rb_profile_frame_full_label(f->frame);
			file = rb_profile_frame_absolute_path(f->frame);
			if (NIL_P(file))
				file = rb_profile_frame_path(f->frame);
			line = rb_profile_frame_first_lineno(f->frame);
		}
	}
	rb_hash_aset(h, sym("name"), name);
	rb_hash_aset(h, sym("file"), file);
	if (line != INT2FIX(0))
		rb_hash_aset(h, sym("line"), line);
	rb_hash_aset(h, sym("total_samples"), ULL2NUM(f->total));
	rb_hash_aset(h, sym("samples"), ULL2NUM(f->self));
	if (spr.aggregate && f->edges.n) {
		VALUE e = rb_hash_new();

		for (i = 0; i < f->edges.cap; i++)
			if (f->edges.ents[i].key)
				rb_hash_aset(e, ULL2NUM(f->edges.ents[i].key),
				             ULL2NUM(f->edges.ents[i].a));
		rb_hash_aset(h, sym("edges"), e);
	}
	if (spr.aggregate && f->lines.n) {
		VALUE l = rb_hash_new();

		for (i = 0; i < f->lines.cap; i++) {
			const struct spr_map_ent *x = &f->lines.ents[i];

			if (x->key)
				rb_hash_aset(l, ULL2NUM(x->key),
				             rb_ary_new_from_args(2, ULL2NUM(x->a),
				                                  ULL2NUM(x->b)));
		}
		rb_hash_aset(h, sym("lines"), l);
	}
	return h;
}

static VALUE int_array(const struct spr_vec *v)
{
	VALUE a = rb_ary_new_capa((long)v->n);
	size_t i;

	for (i = 0; i < v->n; i++)
		rb_ary_push(a, LL2NUM(v->v[i]));
	return a;
}

static VALUE state_sym(int64_t s)
{
	return sym(s == SPR_RUNNING ? "running" :
	           s == SPR_GVL_WAIT ? "gvl_wait" : "blocked");
}

static VALUE metadata(void)
{
	VALUE m = rb_hash_new(), threads = rb_ary_new();
	size_t i;

	if (RB_TYPE_P(spr.metadata, T_HASH))
		m = rb_hash_dup(spr.metadata);
#define ADD(k, v) do { \
		if (!RTEST(rb_funcall(m, rb_intern("key?"), 1, sym(k)))) \
			rb_hash_aset(m, sym(k), (v)); \
	} while (0)
	ADD("stillprof_version", rb_str_new_cstr(STILLPROF_RUBY_VERSION));
	ADD("backend", rb_str_new_cstr(spr_ticker_backend()));
	ADD("guarantee", rb_str_new_cstr(
	    "no signals: a timer pthread flags the GVL holder (postponed job); "
	    "stacks are read at Ruby safepoints; blocked threads are never "
	    "interrupted"));
	ADD("ruby_bug_20197", rb_str_new_cstr(spr_probe_text()));
	if (spr_probe_ms() > 0)
		ADD("probe_ms", DBL2NUM(spr_probe_ms()));
	ADD("gvl_states", rb_str_new_cstr(spr_gvl_source()));
	ADD("thread_frames", rb_str_new_cstr(spr_threads_exact() ?
	    "rb_profile_thread_frames (exact, every job)" :
	    "Thread#backtrace_locations (every ~10 ms)"));
	ADD("all_threads", spr.all_threads ? Qtrue : Qfalse);
	ADD("delayed_samples", ULL2NUM(spr.delayed));
	ADD("jobs", ULL2NUM(spr.jobs));
	ADD("idle_jobs", ULL2NUM(spr.idle_jobs));
	ADD("start_time", LL2NUM(spr.start_realtime_us));
	ADD("duration_us", LL2NUM(spr.duration_us));
	for (i = 0; i < spr.n_threads; i++) {
		const struct spr_thread *t = &spr.threads[i];
		VALUE h = rb_hash_new();

		rb_hash_aset(h, sym("tid"), LONG2NUM(t->tid));
		rb_hash_aset(h, sym("name"), t->name);
		rb_hash_aset(h, sym("samples"), ULL2NUM(t->samples));
		rb_hash_aset(h, sym("running"), ULL2NUM(t->states[SPR_RUNNING]));
		rb_hash_aset(h, sym("gvl_wait"),
		             ULL2NUM(t->states[SPR_GVL_WAIT]));
		rb_hash_aset(h, sym("blocked"), ULL2NUM(t->states[SPR_BLOCKED]));
		rb_ary_push(threads, h);
	}
	ADD("threads", threads);
	if (spr.raw && spr.samples) {
		VALUE rt = rb_ary_new(), rs = rb_ary_new();

		for (i = 0; i < spr.rec_threads.n; i++) {
			rb_ary_push(rt, LONG2NUM(
			    spr.threads[spr.rec_threads.v[i]].tid));
			rb_ary_push(rs, state_sym(spr.rec_states.v[i]));
		}
		ADD("raw_threads", rt);
		ADD("raw_states", rs);
	}
#undef ADD
	return m;
}

/* Key "file\0label" of a frame, as spr_frame_synthetic builds it. */
static VALUE loc_key(VALUE file, VALUE label)
{
	VALUE k = rb_str_dup(NIL_P(file) ? rb_str_new_cstr("") : file);

	rb_str_cat(k, "\0", 1);
	return rb_str_append(k, label);
}

static uint64_t remap_key(const struct spr_map *remap, uint64_t key)
{
	const struct spr_map_ent *e = spr_map_find(remap, key);

	return e ? e->a : key;
}

/* Merge map `from` into `into`, remapping keys (edges) or not (lines). */
static void merge_map(struct spr_map *into, const struct spr_map *from,
                      const struct spr_map *remap)
{
	size_t i;

	for (i = 0; i < from->cap; i++) {
		const struct spr_map_ent *x = &from->ents[i];
		struct spr_map_ent *e;

		if (!x->key)
			continue;
		e = spr_map_get(into, remap ? remap_key(remap, x->key) : x->key);
		if (e) {
			e->a += x->a;
			e->b += x->b;
		}
	}
}

/*
 * Frames read from other threads' Thread::Backtrace::Locations (synthetic)
 * that are the same method as a frame some thread sampled on itself (same
 * file and label, unambiguous) become that frame: one id, one name
 * (rb_profile_frame_full_label, e.g. "Thread#join" rather than "join").
 * A sample is all-real or all-synthetic, so totals add up exactly.
 */
static void unify_synthetic(void)
{
	VALUE by_loc = rb_hash_new();
	struct spr_map remap = { 0 };
	size_t i;

	for (i = 0; i < spr.n_frames; i++) {
		const struct spr_frame *f = &spr.frames[i];
		VALUE file, label, k;

		if (NIL_P(f->frame))
			continue;
		file = rb_profile_frame_absolute_path(f->frame);
		if (NIL_P(file))
			file = rb_profile_frame_path(f->frame);
		label = rb_profile_frame_label(f->frame);
		if (NIL_P(label)) /* C functions have no iseq label */
			label = rb_profile_frame_method_name(f->frame);
		if (NIL_P(label))
			continue;
		k = loc_key(file, label);
		rb_hash_aset(by_loc, k, NIL_P(rb_hash_lookup(by_loc, k)) ?
		             ULL2NUM(f->key) : Qfalse); /* false: ambiguous */
	}
	for (i = 0; i < spr.n_frames; i++) {
		const struct spr_frame *f = &spr.frames[i];
		VALUE real;
		struct spr_map_ent *e;

		if (!NIL_P(f->frame) || NIL_P(f->name))
			continue;
		real = rb_hash_lookup(by_loc, loc_key(f->file, f->name));
		if (!RTEST(real))
			continue;
		e = spr_map_get(&remap, f->key);
		if (e)
			e->a = NUM2ULL(real);
	}
	if (!remap.n) {
		spr_map_free(&remap);
		return;
	}
	for (i = 0; i < spr.n_frames; i++) {
		struct spr_frame *f = &spr.frames[i];
		struct spr_map edges = { 0 };
		uint64_t to = remap_key(&remap, f->key);

		/* callee keys first, in every frame */
		merge_map(&edges, &f->edges, &remap);
		spr_map_free(&f->edges);
		f->edges = edges;
		if (to != f->key) {
			struct spr_map_ent *idx =
			    spr_map_find(&spr.frame_index, to);
			struct spr_frame *r;

			if (!idx || !idx->a)
				continue;
			r = &spr.frames[idx->a - 1];
			r->total += f->total;
			r->self += f->self;
			merge_map(&r->edges, &f->edges, NULL);
			merge_map(&r->lines, &f->lines, NULL);
			f->total = f->self = 0; /* not written */
		}
	}
	/* :raw ids (records: len, ids..., count) */
	for (i = 0; i < spr.rawv.n; i += (size_t)spr.rawv.v[i] + 2) {
		int64_t k, len = spr.rawv.v[i];

		for (k = 1; k <= len; k++)
			spr.rawv.v[i + k] = (int64_t)remap_key(
			    &remap, (uint64_t)spr.rawv.v[i + k]);
	}
	spr_map_free(&remap);
	RB_GC_GUARD(by_loc);
}

VALUE spr_results_hash(void)
{
	VALUE h = rb_hash_new(), frames = rb_hash_new();
	static const char *modes[] = { "wall", "cpu", "object", "custom" };
	size_t i;

	unify_synthetic();
	rb_hash_aset(h, sym("version"), DBL2NUM(1.2));
	rb_hash_aset(h, sym("mode"), sym(modes[spr.mode]));
	rb_hash_aset(h, sym("interval"),
	             spr.mode == SPR_CUSTOM ? Qnil : spr.interval_value);
	rb_hash_aset(h, sym("samples"), ULL2NUM(spr.samples));
	rb_hash_aset(h, sym("gc_samples"), ULL2NUM(spr.gc_samples));
	rb_hash_aset(h, sym("missed_samples"), ULL2NUM(spr.missed));
	rb_hash_aset(h, sym("metadata"), metadata());
	for (i = 0; i < spr.n_frames; i++)
		if (spr.frames[i].total)
			rb_hash_aset(frames, ULL2NUM(spr.frames[i].key),
			             frame_hash(&spr.frames[i]));
	rb_hash_aset(h, sym("frames"), frames);
	if (spr.raw && spr.samples) {
		rb_hash_aset(h, sym("raw"), int_array(&spr.rawv));
		rb_hash_aset(h, sym("raw_lines"), int_array(&spr.raw_lines));
		rb_hash_aset(h, sym("raw_sample_timestamps"),
		             int_array(&spr.timestamps));
		rb_hash_aset(h, sym("raw_timestamp_deltas"),
		             int_array(&spr.deltas));
	}
	return h;
}
