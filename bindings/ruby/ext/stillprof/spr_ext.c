/*
 * spr_ext.c - Stillprof::Native, the C side of the gem: start/stop,
 * results, sample, running?, with stackprof 0.2.28's option handling and
 * error messages (research/stackprof-format.md section 4.1).  The Ruby
 * layer (lib/stillprof/stackprof.rb) adds run, out: and the StackProf
 * module around it.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <ruby.h>
#include <ruby/debug.h>

#include "spr.h"

static VALUE sym_mode, sym_interval, sym_raw, sym_aggregate, sym_ignore_gc,
    sym_metadata, sym_threads, sym_wall, sym_cpu, sym_object, sym_custom,
    sym_all, sym_current;
static int64_t seg_start_us;

static void state_mark(void *p)
{
	(void)p;
	spr_mark();
}

static const rb_data_type_t state_type = {
	.wrap_struct_name = "stillprof_state",
	.function = { .dmark = state_mark },
	.flags = RUBY_TYPED_FREE_IMMEDIATELY,
};

static VALUE opt(VALUE opts, VALUE key)
{
	return NIL_P(opts) ? Qnil : rb_hash_lookup(opts, key);
}

static int64_t realtime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Stillprof::Native.start(opts_hash) -> true, or false when running. */
static VALUE native_start(VALUE self, VALUE opts)
{
	VALUE mode_v, interval_v, metadata, threads;
	int mode;
	long interval;
	int err;

	(void)self;
	if (!NIL_P(opts))
		Check_Type(opts, T_HASH);
	if (spr.running)
		return Qfalse;
	mode_v = opt(opts, sym_mode);
	if (NIL_P(mode_v) || mode_v == sym_wall)
		mode = SPR_WALL;
	else if (mode_v == sym_cpu)
		mode = SPR_CPU;
	else if (mode_v == sym_object)
		mode = SPR_OBJECT;
	else if (mode_v == sym_custom)
		mode = SPR_CUSTOM;
	else
		rb_raise(rb_eArgError, "unknown profiler mode");
	interval_v = opt(opts, sym_interval);
	if (NIL_P(interval_v)) {
		interval = mode == SPR_OBJECT ? 1 : 1000;
		interval_v = LONG2NUM(interval);
	} else {
		interval = NUM2LONG(interval_v); /* TypeError as stackprof */
		if (interval < 1 || interval >= 1000000)
			rb_raise(rb_eArgError, "interval is a number of "
			         "microseconds between 1 and 1 million");
	}
	metadata = opt(opts, sym_metadata);
	if (RTEST(metadata)) {
		if (!RB_TYPE_P(metadata, T_HASH))
			rb_raise(rb_eArgError, "metadata should be a hash");
	} else {
		metadata = rb_hash_new();
	}
	threads = opt(opts, sym_threads);
	if (!NIL_P(threads) && threads != sym_all && threads != sym_current)
		rb_raise(rb_eArgError, "threads should be :all or :current");

	if (!spr.have_data) {
		/* data accumulate across start/stop until results */
		spr_reset();
		spr.have_data = 1;
		spr.start_us = spr_now_us();
		spr.start_realtime_us = realtime_us();
	}
	spr.mode = mode;
	spr.interval = interval;
	spr.interval_value = interval_v;
	spr.raw = RTEST(opt(opts, sym_raw));
	spr.aggregate = opt(opts, sym_aggregate) != Qfalse;
	spr.ignore_gc = RTEST(opt(opts, sym_ignore_gc));
	spr.all_threads = threads != sym_current;
	spr.metadata = metadata;
	spr.start_thread = rb_thread_current();
	spr.consumed_ticks = spr_ticker_ticks();
	spr.refresh_tick = 0;
	seg_start_us = spr_now_us();

	spr.helper_mode = 0;
	if (mode == SPR_WALL || mode == SPR_CPU) {
		/* >= 3.3: where do triggers land (bug #20197)?  Once. */
		spr_probe_run();
		spr.helper_mode = spr_probe_helper_mode();
	}
	spr.displaced = Qnil;
	spr.running = 1;
	if (mode == SPR_WALL || mode == SPR_CPU) {
		if (!spr.ignore_gc)
			spr_gc_hooks(1);
		spr_gvl_start();
		err = spr_ticker_start();
		if (!err && (mode == SPR_WALL || spr.helper_mode)) {
			err = spr_idle_start();
			if (err)
				spr_ticker_stop();
		}
		if (err) {
			spr.running = 0;
			spr_gc_hooks(0);
			spr_gvl_stop();
			rb_syserr_fail(-err, "stillprof: cannot start the "
			               "sampling thread");
		}
	} else if (mode == SPR_OBJECT) {
		spr_object_hook(1);
	}
	return Qtrue;
}

static VALUE native_stop(VALUE self)
{
	uint64_t t;

	(void)self;
	if (!spr.running)
		return Qfalse;
	spr.running = 0;
	spr_ticker_stop();
	spr_idle_stop();
	spr_gvl_stop();
	spr_gc_hooks(0);
	spr_object_hook(0);
	/* ticks no job turned into samples */
	t = spr_ticker_ticks();
	if (spr.mode == SPR_WALL || spr.mode == SPR_CPU)
		spr.missed += t - spr.consumed_ticks;
	spr.consumed_ticks = t;
	spr.duration_us += spr_now_us() - seg_start_us;
	return Qtrue;
}

static VALUE native_running_p(VALUE self)
{
	(void)self;
	return spr.running ? Qtrue : Qfalse;
}

static VALUE native_sample(VALUE self)
{
	(void)self;
	if (!spr.running)
		return Qfalse;
	spr_sample_current(1, spr_now_us(), SPR_RUNNING);
	return Qtrue;
}

/* The result Hash, or nil while running / when there is nothing; frees
 * everything, so a second call returns nil. */
static VALUE native_results(VALUE self)
{
	VALUE h;
	size_t i;

	(void)self;
	if (spr.running || !spr.have_data)
		return Qnil;
	for (i = 0; i < spr.n_threads; i++) {
		VALUE th = spr.threads[i].thread;

		spr.threads[i].name = rb_funcall(th, rb_intern("name"), 0);
		if (NIL_P(spr.threads[i].name) && th == rb_thread_main())
			spr.threads[i].name = rb_str_new_cstr("main");
	}
	h = spr_results_hash();
	spr_reset();
	spr.metadata = Qnil;
	spr.interval_value = Qnil;
	spr.start_thread = Qnil;
	return h;
}

static VALUE native_after_fork(VALUE self)
{
	(void)self;
	spr_ticker_after_fork();
	return Qnil;
}

static VALUE native_backend(VALUE self)
{
	(void)self;
	return rb_str_new_cstr(spr_ticker_backend());
}

/* Ticks the sampling thread counted since the extension was loaded (a
 * test hook; stackprof's overall_signals, but nothing is signalled). */
static VALUE native_ticks(VALUE self)
{
	(void)self;
	return ULL2NUM(spr_ticker_signals());
}

RUBY_FUNC_EXPORTED void Init_stillprof_ext(void)
{
	VALUE mStillprof = rb_define_module("Stillprof");
	VALUE mNative = rb_define_module_under(mStillprof, "Native");
	VALUE holder;

#define S(v, s) v = ID2SYM(rb_intern(s))
	S(sym_mode, "mode");
	S(sym_interval, "interval");
	S(sym_raw, "raw");
	S(sym_aggregate, "aggregate");
	S(sym_ignore_gc, "ignore_gc");
	S(sym_metadata, "metadata");
	S(sym_threads, "threads");
	S(sym_wall, "wall");
	S(sym_cpu, "cpu");
	S(sym_object, "object");
	S(sym_custom, "custom");
	S(sym_all, "all");
	S(sym_current, "current");
#undef S
	memset(&spr, 0, sizeof(spr));
	spr.metadata = spr.interval_value = spr.start_thread = Qnil;
	spr.loc_ids = Qnil;
	spr.displaced = Qnil;
	holder = TypedData_Wrap_Struct(rb_cObject, &state_type, &spr);
	rb_gc_register_mark_object(holder);
	spr_ticker_init();

	rb_define_singleton_method(mNative, "start", native_start, 1);
	rb_define_singleton_method(mNative, "stop", native_stop, 0);
	rb_define_singleton_method(mNative, "running?", native_running_p, 0);
	rb_define_singleton_method(mNative, "sample", native_sample, 0);
	rb_define_singleton_method(mNative, "results", native_results, 0);
	rb_define_singleton_method(mNative, "after_fork", native_after_fork,
	                           0);
	rb_define_singleton_method(mNative, "backend", native_backend, 0);
	rb_define_singleton_method(mNative, "ticks", native_ticks, 0);
	spr_export_init(mNative);
}
