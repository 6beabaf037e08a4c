/*
 * spr_record.c - the recorded profile: frames (keyed like stackprof: the
 * VALUE of a frame from rb_profile_frames, 1/3/5 for GC pseudo-frames),
 * threads, the run-length :raw buffer with its per-sample timestamps, and
 * the result Hash in stackprof's shape (format 1.2).
 *
 * Everything here runs on a Ruby thread holding the GVL.  Tables use
 * malloc (spr_map.c), never the Ruby heap, because the NEWOBJ hook records
 * too; Ruby objects are only created in spr_results_hash and for synthetic
 * frames (never from the NEWOBJ hook).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spr.h"

struct spr_profile spr;

int64_t spr_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct spr_frame *frame_add(uint64_t key, VALUE frame, VALUE name,
                                   VALUE file)
{
	struct spr_map_ent *e = spr_map_get(&spr.frame_index, key);
	struct spr_frame *f;

	if (!e)
		return NULL;
	if (e->a)
		return &spr.frames[e->a - 1];
	if (spr.n_frames == spr.cap_frames) {
		size_t cap = spr.cap_frames ? spr.cap_frames * 2 : 64;
		struct spr_frame *p = realloc(spr.frames, cap * sizeof(*p));

		if (!p) {
			/* leave no index entry pointing nowhere */
			e->a = 0;
			return NULL;
		}
		spr.frames = p;
		spr.cap_frames = cap;
	}
	f = &spr.frames[spr.n_frames];
	memset(f, 0, sizeof(*f));
	f->key = key;
	f->frame = frame;
	f->name = name;
	f->file = file;
	e->a = ++spr.n_frames;
	return f;
}

static struct spr_frame *frame_of(uint64_t key)
{
	struct spr_map_ent *e = spr_map_find(&spr.frame_index, key);

	return e && e->a ? &spr.frames[e->a - 1] : NULL;
}

int spr_frame_real(VALUE frame, uint64_t *key)
{
	*key = (uint64_t)frame;
	return frame_add(*key, frame, Qnil, Qnil) ? 0 : -ENOMEM;
}

int spr_frame_synthetic(VALUE name, VALUE file, uint64_t *key)
{
	VALUE k, id;

	if (NIL_P(spr.loc_ids))
		spr.loc_ids = rb_hash_new();
	k = rb_str_dup(NIL_P(file) ? rb_str_new_cstr("") : file);
	rb_str_cat(k, "\0", 1);
	rb_str_append(k, name);
	id = rb_hash_lookup(spr.loc_ids, k);
	if (!NIL_P(id)) {
		*key = NUM2ULL(id);
		return 0;
	}
	/* 2 mod 8: never an object address (8-aligned) nor 1/3/5 */
	*key = 2 + 8 * ++spr.next_synthetic;
	if (!frame_add(*key, Qnil, rb_str_dup(name),
	               NIL_P(file) ? rb_str_new_cstr("") : rb_str_dup(file)))
		return -ENOMEM;
	rb_hash_aset(spr.loc_ids, k, ULL2NUM(*key));
	return 0;
}

int spr_thread_index(VALUE th, size_t *idx)
{
	size_t i;
	struct spr_thread *t;

	for (i = 0; i < spr.n_threads; i++)
		if (spr.threads[i].thread == th) {
			*idx = i;
			return 0;
		}
	if (spr.n_threads == spr.cap_threads) {
		size_t cap = spr.cap_threads ? spr.cap_threads * 2 : 8;
		struct spr_thread *p = realloc(spr.threads, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		spr.threads = p;
		spr.cap_threads = cap;
	}
	t = &spr.threads[spr.n_threads];
	memset(t, 0, sizeof(*t));
	t->thread = th;
	t->name = Qnil;
	*idx = spr.n_threads++;
	return 0;
}

/* The last raw record has exactly this thread, frames and lines. */
static int same_as_last(const uint64_t *keys, const int32_t *lines, int n,
                        size_t thread, int state)
{
	size_t p = spr.last_rec, r = spr.rec_threads.n - 1;
	int i;

	if (!spr.have_last_rec || (size_t)spr.rec_threads.v[r] != thread ||
	    spr.rec_states.v[r] != state || spr.rawv.v[p] != n)
		return 0;
	/* stored root first */
	for (i = 0; i < n; i++)
		if ((uint64_t)spr.rawv.v[p + 1 + i] != keys[n - 1 - i] ||
		    spr.raw_lines.v[p + 1 + i] != lines[n - 1 - i])
			return 0;
	return 1;
}

static int record_raw(const uint64_t *keys, const int32_t *lines, int n,
                      size_t thread, int state, uint64_t weight)
{
	int i, err = 0;

	if (same_as_last(keys, lines, n, thread, state)) {
		spr.rawv.v[spr.last_rec + 1 + n] += weight;
		spr.raw_lines.v[spr.last_rec + 1 + n] += weight;
		return 0;
	}
	spr.last_rec = spr.rawv.n;
	spr.have_last_rec = 1;
	err |= spr_vec_push(&spr.rawv, n);
	err |= spr_vec_push(&spr.raw_lines, n);
	for (i = n - 1; i >= 0; i--) {
		err |= spr_vec_push(&spr.rawv, (int64_t)keys[i]);
		err |= spr_vec_push(&spr.raw_lines, lines[i]);
	}
	err |= spr_vec_push(&spr.rawv, (int64_t)weight);
	err |= spr_vec_push(&spr.raw_lines, (int64_t)weight);
	err |= spr_vec_push(&spr.rec_threads, (int64_t)thread);
	err |= spr_vec_push(&spr.rec_states, state);
	return err ? -ENOMEM : 0;
}

int spr_record(const uint64_t *keys, const int32_t *lines, int n,
               size_t thread, int state, uint64_t weight, int64_t now_us,
               int gc)
{
	struct spr_thread *t = &spr.threads[thread];
	uint64_t i, step;
	int k;

	if (!weight)
		return 0;
	if (n <= 0) {
		/* stackprof counts such a sample but leaves it out of :raw;
		 * we drop it so that the raw arrays stay consistent */
		spr.missed += weight;
		return 0;
	}
	spr.sample_no++;
	spr.samples += weight;
	if (gc)
		spr.gc_samples += weight;
	t->samples += weight;
	t->states[state] += weight;
	for (k = 0; k < n; k++) {
		struct spr_frame *f = frame_of(keys[k]);

		if (!f)
			return -ENOMEM;
		if (f->seen_at != spr.sample_no) {
			f->total += weight;
			f->seen_at = spr.sample_no;
		}
		if (k == 0)
			f->self += weight;
		if (spr.aggregate) {
			struct spr_map_ent *e;

			if (k > 0) {
				e = spr_map_get(&f->edges, keys[k - 1]);
				if (!e)
					return -ENOMEM;
				e->a += weight;
			}
			if (lines[k] > 0) {
				e = spr_map_get(&f->lines, (uint64_t)lines[k]);
				if (!e)
					return -ENOMEM;
				e->a += weight;
				if (k == 0)
					e->b += weight;
			}
		}
	}
	if (!spr.raw)
		return 0;
	if (record_raw(keys, lines, n, thread, state, weight))
		return -ENOMEM;
	/* weight > 1: ticks that waited for a safepoint; they stand one
	 * interval apart, ending now.  Deltas are per thread: the wall time
	 * each sample stands for in its own thread. */
	step = spr.mode == SPR_WALL || spr.mode == SPR_CPU ?
	       (uint64_t)spr.interval : 0;
	for (i = 0; i < weight; i++) {
		int64_t ts = now_us - (int64_t)((weight - 1 - i) * step);
		int64_t d;

		if (i == 0) {
			int64_t prev = t->last_us ? t->last_us : spr.start_us;

			d = ts - prev;
			if (d < 0)
				d = 0;
		} else {
			d = (int64_t)step;
		}
		if (spr_vec_push(&spr.timestamps, ts) ||
		    spr_vec_push(&spr.deltas, d))
			return -ENOMEM;
	}
	t->last_us = now_us;
	return 0;
}

void spr_mark(void)
{
	size_t i;

	rb_gc_mark(spr.metadata);
	rb_gc_mark(spr.interval_value);
	rb_gc_mark(spr.start_thread);
	rb_gc_mark(spr.loc_ids);
	/* rb_gc_mark pins: frame VALUEs stay valid as ids */
	for (i = 0; i < spr.n_frames; i++) {
		rb_gc_mark(spr.frames[i].frame);
		rb_gc_mark(spr.frames[i].name);
		rb_gc_mark(spr.frames[i].file);
	}
	for (i = 0; i < spr.n_threads; i++) {
		rb_gc_mark(spr.threads[i].thread);
		rb_gc_mark(spr.threads[i].name);
	}
}

void spr_reset(void)
{
	size_t i;

	for (i = 0; i < spr.n_frames; i++) {
		spr_map_free(&spr.frames[i].edges);
		spr_map_free(&spr.frames[i].lines);
	}
	for (i = 0; i < spr.n_threads; i++) {
		free(spr.threads[i].keys);
		free(spr.threads[i].lines);
	}
	free(spr.frames);
	free(spr.threads);
	spr_map_free(&spr.frame_index);
	spr_vec_free(&spr.rawv);
	spr_vec_free(&spr.raw_lines);
	spr_vec_free(&spr.timestamps);
	spr_vec_free(&spr.deltas);
	spr_vec_free(&spr.rec_threads);
	spr_vec_free(&spr.rec_states);
	spr.frames = NULL;
	spr.threads = NULL;
	spr.n_frames = spr.cap_frames = spr.n_threads = spr.cap_threads = 0;
	spr.loc_ids = Qnil;
	spr.next_synthetic = 0;
	spr.samples = spr.gc_samples = spr.missed = spr.delayed = 0;
	spr.allocations = spr.sample_no = spr.jobs = spr.idle_jobs = 0;
	spr.have_last_rec = 0;
	spr.last_rec = 0;
	spr.duration_us = 0;
	spr.have_data = 0;
}

int spr_frame_gc(uint64_t key)
{
	return frame_add(key, Qnil, Qnil, Qnil) ? 0 : -ENOMEM;
}
