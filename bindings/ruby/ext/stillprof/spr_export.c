/*
 * spr_export.c - Stillprof::Native.write_profile(hash, path, format): any
 * stackprof result Hash with :raw (ours, or one read back from a dump) into
 * pprof, speedscope, collapsed stacks, JSON, a stackprof dump or the HTML
 * flame graph, through libstillprof's public profile API
 * (stillprof_profile_*).  Built only when extconf.rb finds libstillprof;
 * otherwise the method raises NotImplementedError.
 */
#include <stdlib.h>
#include <string.h>

#include "spr.h"

#ifdef HAVE_STILLPROF_PROFILE_NEW
#include <stillprof.h>

struct export {
	stillprof_profile *p;
	VALUE hash;
	uint32_t *frames;
	int32_t *lines;
};

static void check(int err, const char *what)
{
	if (err)
		rb_raise(rb_eRuntimeError, "stillprof: %s: %s", what,
		         stillprof_strerror(err));
}

static VALUE fetch(VALUE h, const char *key)
{
	return rb_hash_lookup(h, ID2SYM(rb_intern(key)));
}

static VALUE str_or_empty(VALUE v)
{
	return RB_TYPE_P(v, T_STRING) ? v : rb_str_new_cstr("");
}

static VALUE build(VALUE arg)
{
	struct export *x = (struct export *)arg;
	VALUE h = x->hash, frames = fetch(h, "frames"), raw = fetch(h, "raw");
	VALUE raw_lines = fetch(h, "raw_lines");
	VALUE ts = fetch(h, "raw_sample_timestamps");
	VALUE meta = fetch(h, "metadata"), rec_tids = Qnil, rec_states = Qnil;
	VALUE handles = rb_hash_new(), thread_handles = rb_hash_new();
	VALUE names = rb_hash_new(), ids, iv = fetch(h, "interval");
	long i, rec = 0, k = 0;
	unsigned interval = 1000;
	int mode = fetch(h, "mode") == ID2SYM(rb_intern("cpu")) ?
	           STILLPROF_MODE_CPU : STILLPROF_MODE_WALL;

	if (!RB_TYPE_P(frames, T_HASH) || !RB_TYPE_P(raw, T_ARRAY))
		rb_raise(rb_eArgError, "profile has no :raw samples "
		         "(profile with raw: true)");
	if (RB_INTEGER_TYPE_P(iv) || RB_FLOAT_TYPE_P(iv)) {
		double d = NUM2DBL(iv);

		if (d >= 1 && d <= 1000000)
			interval = (unsigned)d;
	}
	check(stillprof_profile_new(&x->p, mode, interval), "new profile");
	ids = rb_funcall(frames, rb_intern("keys"), 0);
	for (i = 0; i < RARRAY_LEN(ids); i++) {
		VALUE id = RARRAY_AREF(ids, i), f = rb_hash_lookup(frames, id);
		VALUE line = fetch(f, "line");
		uint32_t hd;

		check(stillprof_profile_add_frame(x->p,
		      StringValueCStr(*(VALUE[]){str_or_empty(fetch(f, "name"))}),
		      StringValueCStr(*(VALUE[]){str_or_empty(fetch(f, "file"))}),
		      FIXNUM_P(line) ? FIX2INT(line) : 0, &hd), "frame");
		rb_hash_aset(handles, id, UINT2NUM(hd));
	}
	if (RB_TYPE_P(meta, T_HASH)) {
		VALUE th = fetch(meta, "threads");

		rec_tids = fetch(meta, "raw_threads");
		rec_states = fetch(meta, "raw_states");
		if (RB_TYPE_P(th, T_ARRAY))
			for (i = 0; i < RARRAY_LEN(th); i++) {
				VALUE t = RARRAY_AREF(th, i);

				if (RB_TYPE_P(t, T_HASH))
					rb_hash_aset(names, fetch(t, "tid"),
					             fetch(t, "name"));
			}
	}
	x->frames = malloc(sizeof(*x->frames) * (RARRAY_LEN(raw) + 1));
	x->lines = malloc(sizeof(*x->lines) * (RARRAY_LEN(raw) + 1));
	if (!x->frames || !x->lines)
		rb_raise(rb_eNoMemError, "stillprof: out of memory");
	for (i = 0; i < RARRAY_LEN(raw); rec++) {
		long len = NUM2LONG(RARRAY_AREF(raw, i)), j, count;
		VALUE tid = RB_TYPE_P(rec_tids, T_ARRAY) && rec < RARRAY_LEN(rec_tids) ?
		            RARRAY_AREF(rec_tids, rec) : INT2FIX(0);
		VALUE st = RB_TYPE_P(rec_states, T_ARRAY) && rec < RARRAY_LEN(rec_states) ?
		           RARRAY_AREF(rec_states, rec) : Qnil;
		VALUE th = rb_hash_lookup(thread_handles, tid), name;
		int off = !NIL_P(st) && st != ID2SYM(rb_intern("running"));

		if (len < 0 || i + len + 1 >= RARRAY_LEN(raw))
			rb_raise(rb_eArgError, "malformed :raw at %ld", i);
		if (NIL_P(th)) {
			uint32_t hd;

			name = rb_hash_lookup(names, tid);
			check(stillprof_profile_add_thread(x->p, NUM2INT(tid),
			      RB_TYPE_P(name, T_STRING) ? StringValueCStr(name) : "",
			      &hd), "thread");
			th = UINT2NUM(hd);
			rb_hash_aset(thread_handles, tid, th);
		}
		for (j = 0; j < len; j++) { /* root first -> leaf first */
			VALUE hd = rb_hash_lookup(handles, RARRAY_AREF(raw, i + 1 + j));
			VALUE ln = RB_TYPE_P(raw_lines, T_ARRAY) &&
			           i + 1 + j < RARRAY_LEN(raw_lines) ?
			           RARRAY_AREF(raw_lines, i + 1 + j) : INT2FIX(0);

			if (NIL_P(hd))
				rb_raise(rb_eArgError, ":raw id without a frame");
			x->frames[len - 1 - j] = NUM2UINT(hd);
			x->lines[len - 1 - j] = FIXNUM_P(ln) ? FIX2INT(ln) : 0;
		}
		count = NUM2LONG(RARRAY_AREF(raw, i + 1 + len));
		for (j = 0; j < count; j++, k++) {
			VALUE t = RB_TYPE_P(ts, T_ARRAY) && k < RARRAY_LEN(ts) ?
			          RARRAY_AREF(ts, k) : LONG2NUM(k);

			check(stillprof_profile_add_sample(x->p, NUM2UINT(th),
			      x->frames, x->lines, (uint32_t)len,
			      NUM2ULL(t) * 1000, off), "sample");
		}
		i += len + 2;
	}
	return Qnil;
}

static VALUE cleanup(VALUE arg)
{
	struct export *x = (struct export *)arg;

	free(x->frames);
	free(x->lines);
	return Qnil;
}

static VALUE write_profile(VALUE self, VALUE hash, VALUE path, VALUE format)
{
	struct export x = { NULL, hash, NULL, NULL };
	int fmt, err, state = 0;

	(void)self;
	Check_Type(hash, T_HASH);
	FilePathValue(path);
	if (NIL_P(format)) {
		const char *p = StringValueCStr(path);
		size_t n = strlen(p);

		fmt = n > 5 && !strcmp(p + n - 5, ".html") ?
		      STILLPROF_FORMAT_FLAMEGRAPH_HTML :
		      stillprof_format_for_path(p);
	} else {
		const char *f = StringValueCStr(*(VALUE[]){rb_String(format)});

		if (!strcmp(f, "html") || !strcmp(f, "flamegraph"))
			fmt = STILLPROF_FORMAT_FLAMEGRAPH_HTML;
		else if (stillprof_parse_format(f, &fmt))
			rb_raise(rb_eArgError, "unknown format %s", f);
	}
	rb_ensure(build, (VALUE)&x, cleanup, (VALUE)&x);
	(void)state;
	err = stillprof_profile_write(x.p, StringValueCStr(path), fmt);
	stillprof_profile_free(x.p);
	if (err)
		rb_raise(rb_eIOError, "stillprof: cannot write %s: %s",
		         StringValueCStr(path), stillprof_strerror(err));
	return path;
}
#else
static VALUE write_profile(VALUE self, VALUE hash, VALUE path, VALUE format)
{
	rb_raise(rb_eNotImpError, "stillprof: built without libstillprof: "
	         "only stackprof dumps (see bindings/ruby/README.md)");
	return Qnil;
}
#endif

void spr_export_init(VALUE mNative)
{
	rb_define_singleton_method(mNative, "write_profile", write_profile, 3);
}
