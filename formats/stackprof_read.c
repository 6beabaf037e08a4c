/*
 * stackprof_read.c - a stackprof result (StackProf.results as Marshal, or
 * its JSON form) back into a resolved struct sp_store (readers.h), so that
 * every writer and `stillprof report` work on dumps written by the gem or
 * by stillprof alike.  Layout: research/stackprof-format.md section 1.
 *
 * The store is rebuilt from the samples, not from the frames' counters:
 * each :raw record (len, ids root..leaf, count) becomes an interned stack
 * (leaf first) repeated count times, and sp_store_resolve recomputes every
 * frame's total/self exactly as the gem counted them (once per sample
 * under recursion).  A dump without :raw (raw off, or a merged report)
 * only has per-frame counters: each frame's self samples become a
 * one-frame stack repeated that many times, which keeps every frame's
 * SAMPLES and the overall totals but loses the callers' TOTAL.
 *
 * Both key styles are read through value.h's helpers: symbols in Marshal,
 * strings in JSON (where frame ids and line numbers are decimal strings
 * and :mode is a string).  Bytes and files: stackprof_read_file.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store.h"
#include "readers.h"

struct id_entry {
	uint64_t id;
	uint32_t frame;
};

struct rd {
	const struct sp_value *root, *meta;
	struct sp_store *st;
	struct sp_stackprof_read_info *info;
	struct id_entry *ids;       /* sorted by id */
	size_t n_ids;
	uint64_t cap;               /* most samples we accept */
	uint64_t last_ns;           /* time of the previous sample */
	size_t n_times;             /* samples given a time so far */
	const struct sp_value *ts, *deltas;
	char *errbuf;
	size_t errlen;
};

static int bad(struct rd *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int bad(struct rd *r, const char *fmt, ...)
{
	va_list ap;

	if (r->errbuf && r->errlen) {
		va_start(ap, fmt);
		vsnprintf(r->errbuf, r->errlen, fmt, ap);
		va_end(ap);
	}
	return STILLPROF_EBADFORMAT;
}

static uint64_t get_u64(const struct sp_value *v, uint64_t dflt)
{
	uint64_t x;
	double d;

	if (!sp_value_to_u64(v, &x))
		return x;
	/* A Float interval (sentry-ruby passes 1e6/101) is rounded. */
	if (v && v->type == SP_VAL_FLOAT && !sp_value_to_double(v, &d) &&
	    d >= 0 && d < 1.8e19)
		return (uint64_t)(d + 0.5);
	return dflt;
}

static int cmp_id(const void *pa, const void *pb)
{
	const struct id_entry *a = pa, *b = pb;

	return a->id < b->id ? -1 : a->id > b->id;
}

static int frame_of_id(struct rd *r, uint64_t id, uint32_t *frame)
{
	struct id_entry key = { .id = id }, *e;

	e = bsearch(&key, r->ids, r->n_ids, sizeof(*r->ids), cmp_id);
	if (!e)
		return -ENOENT;
	*frame = e->frame;
	return 0;
}

/* Frames keep their ids when every key is an integer (a dump); a merged
 * report's SHA-256 keys get store ids, and no :raw can refer to them. */
static int read_frames(struct rd *r)
{
	const struct sp_value *frames = sp_value_get(r->root, "frames");
	size_t n = sp_value_len(frames), i;
	int keep_ids = 1, err;
	uint64_t id;

	if (!frames || frames->type != SP_VAL_HASH)
		return bad(r, "not a stackprof result: no :frames Hash");
	for (i = 0; i < n; i++)
		if (sp_value_to_u64(&frames->u.hash->pairs[i].key, &id))
			keep_ids = 0;
	r->ids = sp_calloc(n, sizeof(*r->ids));
	if (!r->ids)
		return SP_ERR(-ENOMEM);
	for (i = 0; i < n; i++) {
		const struct sp_value *k = &frames->u.hash->pairs[i].key;
		const struct sp_value *f = &frames->u.hash->pairs[i].val;
		const char *name = sp_value_str(sp_value_get(f, "name"), NULL);
		const char *file = sp_value_str(sp_value_get(f, "file"), NULL);
		int64_t line = 0;
		uint32_t idx;

		if (f->type != SP_VAL_HASH)
			return bad(r, "frame %zu of :frames is not a Hash", i);
		if (sp_value_to_i64(sp_value_get(f, "line"), &line) ||
		    line < INT_MIN || line > INT_MAX)
			line = 0; /* nil for C functions, absent when 0 */
		err = sp_store_add_frame(r->st, name ? name : "(unknown)",
		                         file ? file : "", "", (int)line, &idx);
		if (err)
			return err;
		if (keep_ids) {
			sp_value_to_u64(k, &id);
			r->st->frames[idx].id = id;
			r->ids[r->n_ids].id = id;
			r->ids[r->n_ids++].frame = idx;
		}
	}
	qsort(r->ids, r->n_ids, sizeof(*r->ids), cmp_id);
	for (i = 1; i < r->n_ids; i++)
		if (r->ids[i].id == r->ids[i - 1].id)
			return bad(r, "frame id %llu appears twice in :frames",
			           (unsigned long long)r->ids[i].id);
	return 0;
}

static int copy_str(struct rd *r, const struct sp_value *v, const char **out)
{
	const char *s = sp_value_str(v, NULL);

	return s ? sp_store_strdup(r->st, s, out) : 0;
}

static int read_info(struct rd *r)
{
	struct sp_run_info *in = &r->st->info;
	const struct sp_value *v;
	double version;
	int err;

	v = sp_value_get(r->root, "mode");
	err = copy_str(r, v, &in->mode_name);
	if (err)
		return err;
	in->mode = sp_value_is(v, "cpu") ? STILLPROF_MODE_CPU
	                                 : STILLPROF_MODE_WALL;
	v = sp_value_get(r->root, "interval");
	r->info->has_interval = v && v->type != SP_VAL_NIL;
	in->interval_us = (unsigned)(get_u64(v, 0) > UINT_MAX ? UINT_MAX
	                                                      : get_u64(v, 0));
	in->missed_samples = get_u64(sp_value_get(r->root, "missed_samples"), 0);
	r->info->dump_samples = get_u64(sp_value_get(r->root, "samples"), 0);
	r->info->dump_gc_samples =
	    get_u64(sp_value_get(r->root, "gc_samples"), 0);
	if (!sp_value_to_double(sp_value_get(r->root, "version"), &version))
		r->info->version = version;

	/* stillprof's own facts (stackprof_dump.c write_metadata). */
	r->meta = sp_value_get(r->root, "metadata");
	err = copy_str(r, sp_value_get(r->meta, "backend"), &in->backend);
	if (!err)
		err = copy_str(r, sp_value_get(r->meta, "guarantee"),
		               &in->guarantee);
	if (err)
		return err;
	in->pid = (pid_t)get_u64(sp_value_get(r->meta, "pid"), 0);
	in->start_realtime_ns =
	    get_u64(sp_value_get(r->meta, "start_time"), 0) * 1000;
	in->start_ns = get_u64(sp_value_get(r->meta, "start_monotonic"), 0) *
	               1000;
	in->duration_ns = get_u64(sp_value_get(r->meta, "duration_ns"), 0);
	return 0;
}

/* Check every :raw record (length, known frame ids, count) and count the
 * records and the samples they hold. */
static int scan_raw(struct rd *r, const struct sp_value *raw,
                    size_t *n_records, uint64_t *n_samples)
{
	size_t n = sp_value_len(raw), pos = 0, k;
	uint64_t total = 0, count, id;
	int64_t len;
	uint32_t frame;

	*n_records = 0;
	while (pos < n) {
		if (sp_value_to_i64(sp_value_at(raw, pos), &len) || len < 0 ||
		    (uint64_t)len + 2 > n - pos || len > UINT32_MAX)
			return bad(r, ":raw element %zu: bad record length",
			           pos);
		for (k = 0; k < (size_t)len; k++) {
			if (sp_value_to_u64(sp_value_at(raw, pos + 1 + k), &id))
				return bad(r, ":raw element %zu: frame id is "
				           "not an Integer", pos + 1 + k);
			if (frame_of_id(r, id, &frame))
				return bad(r, ":raw element %zu: frame id %llu "
				           "is not in :frames", pos + 1 + k,
				           (unsigned long long)id);
		}
		if (sp_value_to_u64(sp_value_at(raw, pos + 1 + (size_t)len),
		                    &count))
			return bad(r, ":raw element %zu: bad sample count",
			           pos + 1 + (size_t)len);
		total += count;
		if (count > r->cap || total > r->cap)
			return bad(r, ":raw holds more than %llu samples",
			           (unsigned long long)r->cap);
		pos += (size_t)len + 2;
		(*n_records)++;
	}
	*n_samples = total;
	return 0;
}

/* :raw_lines is usable when it has :raw's shape with Integer lines. */
static int lines_match(const struct sp_value *raw, const struct sp_value *rl)
{
	size_t n = sp_value_len(raw), i;
	int64_t a, b;

	if (!rl || rl->type != SP_VAL_ARRAY || sp_value_len(rl) != n)
		return 0;
	for (i = 0; i < n; i++)
		if (sp_value_to_i64(sp_value_at(rl, i), &b))
			return 0;
	/* Same len fields: walk :raw's records. */
	for (i = 0; i < n; i += (size_t)a + 2) {
		sp_value_to_i64(sp_value_at(raw, i), &a);
		sp_value_to_i64(sp_value_at(rl, i), &b);
		if (a != b)
			return 0;
	}
	return 1;
}

/* Time of the next sample: its timestamp (µs), else the previous time
 * plus its delta, else plus the interval. */
static uint64_t next_time(struct rd *r)
{
	size_t k = r->n_times++;
	uint64_t us, t;

	if (!sp_value_to_u64(sp_value_at(r->ts, k), &us) &&
	    us <= UINT64_MAX / 1000) {
		t = us * 1000;
	} else if (!sp_value_to_u64(sp_value_at(r->deltas, k), &us) &&
	           us <= UINT64_MAX / 1000) {
		t = (k ? r->last_ns : r->st->info.start_ns) + us * 1000;
	} else {
		t = (k ? r->last_ns : r->st->info.start_ns) +
		    (uint64_t)(r->st->info.interval_us ? r->st->info.interval_us
		                                       : 1000) * 1000;
	}
	r->last_ns = t;
	return t;
}

static int add_samples(struct rd *r, uint32_t stack, uint32_t thread,
                       uint64_t count)
{
	uint64_t i;
	int err;

	for (i = 0; i < count; i++) {
		err = sp_store_add_sample(r->st, stack, thread, next_time(r),
		                          SP_STATE_ONCPU);
		if (err)
			return err;
	}
	return 0;
}

/* 1 when :metadata => :raw_threads has one Integer tid per :raw record
 * (stackprof_dump.c writes it), so samples can be attributed. */
static int read_threads(struct rd *r, size_t n_records)
{
	const struct sp_value *rt = sp_value_get(r->meta, "raw_threads");
	size_t i;
	int64_t tid;

	if (!rt || rt->type != SP_VAL_ARRAY || sp_value_len(rt) != n_records)
		return 0;
	for (i = 0; i < n_records; i++)
		if (sp_value_to_i64(sp_value_at(rt, i), &tid) ||
		    tid < INT_MIN || tid > INT_MAX)
			return 0;
	return 1;
}

static int add_threads(struct rd *r)
{
	const struct sp_value *list = sp_value_get(r->meta, "threads");
	size_t i;
	uint32_t idx;
	int64_t tid;
	int err;

	/* A tid listed twice (reused by the kernel) is one thread here:
	 * :raw_threads cannot tell the two apart. */
	for (i = 0; i < sp_value_len(list); i++) {
		const struct sp_value *t = sp_value_at(list, i);

		if (sp_value_to_i64(sp_value_get(t, "tid"), &tid) ||
		    tid < INT_MIN || tid > INT_MAX)
			continue;
		err = sp_store_thread(r->st, (pid_t)tid,
		                      sp_value_str(sp_value_get(t, "name"), NULL),
		                      &idx);
		if (err)
			return err;
	}
	return 0;
}

static int build_from_raw(struct rd *r, const struct sp_value *raw)
{
	const struct sp_value *rl = sp_value_get(r->root, "raw_lines");
	const struct sp_value *rt = sp_value_get(r->meta, "raw_threads");
	size_t n = sp_value_len(raw), pos, rec, k, max_len = 0;
	int use_lines = lines_match(raw, rl);
	uint32_t *frames = NULL, stack, thread = 0;
	int32_t *lines = NULL;
	int64_t len, line, tid;
	uint64_t id, count;
	int err = 0;

	for (pos = 0; pos < n; pos += (size_t)len + 2) {
		sp_value_to_i64(sp_value_at(raw, pos), &len);
		if ((size_t)len > max_len)
			max_len = (size_t)len;
	}
	frames = sp_reallocarray(NULL, max_len, sizeof(*frames));
	lines = sp_reallocarray(NULL, max_len, sizeof(*lines));
	if (!frames || !lines) {
		err = SP_ERR(-ENOMEM);
		goto out;
	}
	if (!r->info->per_thread) {
		err = sp_store_thread(r->st, 0, "main", &thread);
		if (err)
			goto out;
	}
	for (pos = 0, rec = 0; pos < n; pos += (size_t)len + 2, rec++) {
		sp_value_to_i64(sp_value_at(raw, pos), &len);
		/* Root first in the dump, leaf first in the store. */
		for (k = 0; k < (size_t)len; k++) {
			size_t at = pos + 1 + k, to = (size_t)len - 1 - k;

			sp_value_to_u64(sp_value_at(raw, at), &id);
			frame_of_id(r, id, &frames[to]);
			lines[to] = 0;
			if (use_lines &&
			    !sp_value_to_i64(sp_value_at(rl, at), &line) &&
			    line >= INT32_MIN && line <= INT32_MAX)
				lines[to] = (int32_t)line;
		}
		sp_value_to_u64(sp_value_at(raw, pos + 1 + (size_t)len),
		                &count);
		err = sp_store_add_resolved(r->st, frames, lines,
		                            (uint32_t)len, &stack);
		if (!err && r->info->per_thread) {
			sp_value_to_i64(sp_value_at(rt, rec), &tid);
			err = sp_store_thread(r->st, (pid_t)tid, NULL, &thread);
		}
		if (!err)
			err = add_samples(r, stack, thread, count);
		if (err)
			goto out;
	}
out:
	sp_free(frames);
	sp_free(lines);
	return err;
}

/* No :raw: every frame's self samples as a one-frame stack. */
static int build_from_frames(struct rd *r)
{
	const struct sp_value *frames = sp_value_get(r->root, "frames");
	uint64_t total = 0, self;
	uint32_t thread, stack, f;
	int32_t line = 0;
	size_t i;
	int err;

	for (i = 0; i < sp_value_len(frames); i++) {
		self = get_u64(sp_value_get(&frames->u.hash->pairs[i].val,
		                            "samples"), 0);
		total += self;
		if (self > r->cap || total > r->cap)
			return bad(r, ":frames count more than %llu samples",
			           (unsigned long long)r->cap);
	}
	err = sp_store_thread(r->st, 0, "main", &thread);
	for (i = 0; !err && i < sp_value_len(frames); i++) {
		self = get_u64(sp_value_get(&frames->u.hash->pairs[i].val,
		                            "samples"), 0);
		if (!self)
			continue;
		f = (uint32_t)i; /* frames were added in :frames order */
		err = sp_store_add_resolved(r->st, &f, &line, 1, &stack);
		if (!err)
			err = add_samples(r, stack, thread, self);
	}
	return err;
}

int sp_stackprof_from_value(const struct sp_value *root,
                            struct sp_store **out,
                            struct sp_stackprof_read_info *info,
                            char *errbuf, size_t errlen)
{
	struct sp_stackprof_read_info local;
	const struct sp_value *raw;
	struct rd r;
	size_t n_records = 0;
	uint64_t n_raw = 0, pad;
	uint32_t stack, thread;
	int err;

	*out = NULL;
	memset(&r, 0, sizeof(r));
	memset(&local, 0, sizeof(local));
	r.info = info ? info : &local;
	memset(r.info, 0, sizeof(*r.info));
	r.root = root;
	r.errbuf = errbuf;
	r.errlen = errlen;
	if (errbuf && errlen)
		errbuf[0] = '\0';
	if (!root || root->type != SP_VAL_HASH)
		return bad(&r, "not a stackprof result: the top-level value "
		           "is not a Hash");
	err = sp_store_new(&r.st);
	if (err)
		return err;
	err = read_frames(&r);
	if (!err)
		err = read_info(&r);
	if (err)
		goto fail;

	/* Counts are only numbers; timestamps are bytes in the input, so a
	 * profile with one per sample may be as large as it says. */
	r.ts = sp_value_get(root, "raw_sample_timestamps");
	r.deltas = sp_value_get(root, "raw_timestamp_deltas");
	r.cap = SP_STACKPROF_MAX_SAMPLES;
	if (sp_value_len(r.ts) > r.cap)
		r.cap = sp_value_len(r.ts);
	raw = sp_value_get(root, "raw");
	if (raw && raw->type == SP_VAL_ARRAY && sp_value_len(raw) > 0) {
		err = scan_raw(&r, raw, &n_records, &n_raw);
		if (err)
			goto fail;
		r.info->from_raw = 1;
		r.info->per_thread = read_threads(&r, n_records);
		if (r.info->per_thread)
			err = add_threads(&r);
		if (!err)
			err = build_from_raw(&r, raw);
	} else {
		err = build_from_frames(&r);
	}
	if (err)
		goto fail;

	/* stackprof counts samples without a frame in :samples only. */
	if (r.info->dump_samples > r.st->n_samples &&
	    r.info->dump_samples <= r.cap) {
		pad = r.info->dump_samples - r.st->n_samples;
		err = sp_store_add_resolved(r.st, NULL, NULL, 0, &stack);
		if (!err)
			err = r.st->n_threads
			          ? 0
			          : sp_store_thread(r.st, 0, "main", &thread);
		if (!err)
			err = add_samples(&r, stack, 0, pad);
		if (err)
			goto fail;
	}
	if (r.st->n_samples) {
		if (!r.st->info.start_ns)
			r.st->info.start_ns = r.st->samples[0].t_ns;
		if (!r.st->info.duration_ns &&
		    r.last_ns > r.st->samples[0].t_ns)
			r.st->info.duration_ns =
			    r.last_ns - r.st->samples[0].t_ns;
	}
	err = sp_store_resolve(r.st, NULL);
	if (err)
		goto fail;
	sp_free(r.ids);
	*out = r.st;
	return 0;
fail:
	sp_free(r.ids);
	sp_store_free(r.st);
	return err;
}
