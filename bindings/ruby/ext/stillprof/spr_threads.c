/*
 * spr_threads.c - stacks of the threads that do not hold the GVL.
 *
 * Ruby >= 3.3: rb_profile_thread_frames reads them as frame VALUEs, like
 * the holder's own stack, refreshed at every job (no allocation).
 * On Ruby 3.1/3.2 no public API reads another thread's frames as
 * rb_profile_frames VALUEs.  The GVL holder's job reads them with
 * Thread#backtrace_locations instead: a thread without the GVL cannot
 * push or pop Ruby frames, so what the holder reads is consistent, and
 * nothing runs on (or is sent to) the target thread.  Frames become
 * synthetic ids keyed by (path, label); the stack is cached and emitted on
 * every tick, refreshed every ~10 ms (spr_ticker.c).
 *
 * State: Thread#stop? is true for a thread that sleeps or blocks (Ruby
 * marks blocking regions THREAD_STOPPED), false for a runnable thread that
 * is not the holder, i.e. one waiting for the GVL.  A thread running C code
 * without the GVL counts as blocked: a heuristic, documented as such.
 * With GVL hooks (>= 3.2, spr_gvl.c) the state is exact instead.
 */
#define _GNU_SOURCE 1
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "spr.h"
#include <ruby/debug.h>

static ID id_list, id_alive_p, id_stop_p, id_backtrace_locations, id_label,
    id_absolute_path, id_path, id_lineno, id_native_thread_id;

static void ids(void)
{
	if (id_list)
		return;
	id_list = rb_intern("list");
	id_alive_p = rb_intern("alive?");
	id_stop_p = rb_intern("stop?");
	id_backtrace_locations = rb_intern("backtrace_locations");
	id_label = rb_intern("label");
	id_absolute_path = rb_intern("absolute_path");
	id_path = rb_intern("path");
	id_lineno = rb_intern("lineno");
	id_native_thread_id = rb_intern("native_thread_id");
}

/* State of a thread that does not hold the GVL: from the GVL hooks when
 * they know it (>= 3.2), else the Thread#stop? heuristic. */
static int state_of(VALUE th)
{
	int st = spr_gvl_state(th);

	if (st == SPR_RUNNING || st == SPR_GVL_WAIT) {
		/* RUNNING for a non-holder: a hook raced with us; the thread
		 * a helper-only sampler displaced was running (spr_ticker.c) */
		return th == spr.displaced ? SPR_RUNNING : SPR_GVL_WAIT;
	}
	if (st == SPR_BLOCKED)
		return st;
	return RTEST(rb_funcall(th, id_stop_p, 0)) ? SPR_BLOCKED :
	                                           SPR_GVL_WAIT;
}

/* Room for n frames in t's cached stack (its arrays hold at least
 * depth + 1 entries); -1 when out of memory (the stack stays uncached). */
static int room_for(struct spr_thread *t, long n)
{
	uint64_t *k;
	int32_t *l;

	if (n <= t->depth && t->keys)
		return 0;
	k = realloc(t->keys, (n + 1) * sizeof(*k));
	if (!k)
		return -1;
	t->keys = k;
	l = realloc(t->lines, (n + 1) * sizeof(*l));
	if (!l)
		return -1;
	t->lines = l;
	return 0;
}

#ifdef HAVE_RB_PROFILE_THREAD_FRAMES
/* >= 3.3: the frames themselves, as for the holder's own stack (full
 * labels, method entries as ids); no allocation. */
static void read_frames(VALUE th, struct spr_thread *t)
{
	static VALUE buf[SPR_MAX_DEPTH];
	static int lines[SPR_MAX_DEPTH];
	int n, i;

	t->cached = 0;
	n = rb_profile_thread_frames(th, 0, SPR_MAX_DEPTH, buf, lines);
	if (room_for(t, n))
		return;
	t->depth = 0;
	for (i = 0; i < n; i++) {
		if (spr_frame_real(buf[i], &t->keys[t->depth]))
			return;
		t->lines[t->depth++] = lines[i];
	}
	t->cached = t->depth > 0;
}

int spr_threads_exact(void)
{
	return 1;
}
#else
int spr_threads_exact(void)
{
	return 0;
}
#endif

static void refresh_one(VALUE th)
{
	struct spr_thread *t;
	VALUE locs;
	size_t idx;
	long n, i;

	if (!RTEST(rb_funcall(th, id_alive_p, 0)) || spr_thread_index(th, &idx))
		return;
	t = &spr.threads[idx];
	if (!t->tid && rb_respond_to(th, id_native_thread_id)) {
		VALUE nt = rb_funcall(th, id_native_thread_id, 0);

		t->tid = NIL_P(nt) ? 0 : NUM2LONG(nt);
	}
	t->state = state_of(th);
#ifdef HAVE_RB_PROFILE_THREAD_FRAMES
	read_frames(th, t);
	return;
#endif
	locs = rb_funcall(th, id_backtrace_locations, 2, INT2FIX(0),
	                  INT2FIX(SPR_MAX_DEPTH));
	t->cached = 0;
	if (!RB_TYPE_P(locs, T_ARRAY))
		return;
	n = RARRAY_LEN(locs);
	if (room_for(t, n))
		return;
	t->depth = 0;
	for (i = 0; i < n; i++) {
		VALUE loc = RARRAY_AREF(locs, i);
		VALUE label = rb_funcall(loc, id_label, 0);
		VALUE path = rb_funcall(loc, id_absolute_path, 0);
		VALUE line = rb_funcall(loc, id_lineno, 0);
		int cfunc = 0;

		if (NIL_P(path))
			path = rb_funcall(loc, id_path, 0);
		if (NIL_P(label))
			continue;
		/* A C function's location is its caller's: same path and
		 * line as the next (outer) location.  Call it "<cfunc>" as
		 * rb_profile_frames does, so spr_results can name it. */
		if (i + 1 < n) {
			VALUE up = RARRAY_AREF(locs, i + 1);
			VALUE up_path = rb_funcall(up, id_absolute_path, 0);

			if (NIL_P(up_path))
				up_path = rb_funcall(up, id_path, 0);
			cfunc = rb_equal(rb_funcall(up, id_lineno, 0), line) &&
			        rb_equal(up_path, path);
		}
		if (spr_frame_synthetic(label,
		                        cfunc ? rb_str_new_cstr("<cfunc>") : path,
		                        &t->keys[t->depth]))
			return;
		t->lines[t->depth++] = cfunc || !FIXNUM_P(line) ? 0 :
		                                                FIX2INT(line);
	}
	t->cached = t->depth > 0;
	RB_GC_GUARD(locs);
}

void spr_threads_refresh(VALUE current, VALUE only)
{
	VALUE list;
	long i;

	ids();
	if (!NIL_P(only)) {
		if (only != current)
			refresh_one(only);
		return;
	}
	list = rb_funcall(rb_cThread, id_list, 0);
	for (i = 0; i < RARRAY_LEN(list); i++) {
		VALUE th = RARRAY_AREF(list, i);

		if (th != current && th != spr_idle_thread())
			refresh_one(th);
	}
	RB_GC_GUARD(list);
}

int spr_threads_all_stopped(void)
{
	VALUE list;
	long i;
	int all = 1;

	ids();
	list = rb_funcall(rb_cThread, id_list, 0);
	for (i = 0; all && i < RARRAY_LEN(list); i++) {
		VALUE th = RARRAY_AREF(list, i);

		if (th != spr_idle_thread() &&
		    !RTEST(rb_funcall(th, id_stop_p, 0)))
			all = 0;
	}
	RB_GC_GUARD(list);
	return all;
}

void spr_threads_emit(VALUE current, VALUE only, uint64_t n, int64_t now_us)
{
	size_t i;

	ids();
	for (i = 0; i < spr.n_threads; i++) {
		struct spr_thread *t = &spr.threads[i];

		if (t->thread == current || !t->cached ||
		    t->thread == spr_idle_thread() ||
		    (!NIL_P(only) && t->thread != only))
			continue;
		if (!RTEST(rb_funcall(t->thread, id_alive_p, 0))) {
			t->cached = 0;
			continue;
		}
		/* with GVL hooks: the state now, not at the last refresh */
		if (spr_gvl_state(t->thread) >= 0)
			t->state = state_of(t->thread);
		spr_record(t->keys, t->lines, t->depth, i, t->state, n, now_us,
		           0);
	}
}

int spr_sample_current(uint64_t weight, int64_t now_us, int state)
{
	static VALUE buf[SPR_MAX_DEPTH];
	static int lines[SPR_MAX_DEPTH];
	static uint64_t keys[SPR_MAX_DEPTH];
	static int32_t lines32[SPR_MAX_DEPTH];
	size_t t;
	int n, i;

	/* rb_profile_frames allocates nothing; the VALUEs in buf are safe
	 * until the next allocation, and spr_frame_real (malloc only) pins
	 * them through spr_mark before any can happen. */
	n = rb_profile_frames(0, SPR_MAX_DEPTH, buf, lines);
	for (i = 0; i < n; i++) {
		if (spr_frame_real(buf[i], &keys[i]))
			return -1;
		lines32[i] = lines[i];
	}
	if (spr_thread_index(rb_thread_current(), &t))
		return -1;
	if (!spr.threads[t].tid)
		spr.threads[t].tid = (long)syscall(SYS_gettid);
	return spr_record(keys, lines32, n, t, state, weight, now_us, 0);
}
