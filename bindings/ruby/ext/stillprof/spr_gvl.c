/*
 * spr_gvl.c - the GVL state of every thread, from Ruby's thread event
 * hooks (rb_internal_thread_add_event_hook, Ruby >= 3.2).
 *
 * Where the hooks run (read in Ruby 3.3.8's thread_pthread.c, not only in
 * the header): READY runs without the GVL under the scheduler lock, and on
 * 3.3 possibly on the native thread that wakes the target (thread_sched_
 * to_ready), so it must not read frames: rb_profile_frames would walk the
 * waker's stack.  SUSPENDED runs on the thread itself while it is still
 * sched->running (before the next thread is woken), yet the header says
 * "without the GVL".  RESUMED runs with the GVL.  So the hooks read no
 * frames at all: they store a state in a lock-free table (atomics only, no
 * allocation, no Ruby call).  Stacks of threads without the GVL are read by
 * the GVL holder with rb_profile_thread_frames (spr_threads.c): a thread
 * without the GVL cannot push or pop a Ruby frame, so that read is exact.
 *
 * Table: open addressing on the Thread VALUE, claimed with a CAS, never
 * freed while the hook is installed (4096 slots; beyond that a thread's
 * state is "unknown" and spr_threads.c falls back to Thread#stop?).
 * Installed at start, removed at stop: rb_internal_thread_remove_event_hook
 * takes the hooks' write lock, so no hook runs after it returns and the
 * table can be cleared.
 */
#include <stdint.h>
#include <string.h>

#include <ruby.h>
#include <ruby/thread.h>

#include "spr.h"

#ifdef HAVE_RB_INTERNAL_THREAD_ADD_EVENT_HOOK

#define SLOTS 4096
struct slot {
	VALUE th;  /* 0 = free */
	int state; /* SPR_*, or -1 unknown (exited) */
};
static struct slot slots[SLOTS];
static VALUE last_holder;  /* last thread that took the GVL (not the helper) */
static rb_internal_thread_event_hook_t *hook;
static uint64_t events;

static struct slot *slot_of(VALUE th, int add)
{
	size_t h = (size_t)(th >> 3) * 0x9E3779B97F4A7C15ull, i;

	for (i = 0; i < SLOTS; i++) {
		struct slot *s = &slots[(h + i) & (SLOTS - 1)];
		VALUE k = __atomic_load_n(&s->th, __ATOMIC_ACQUIRE), zero = 0;

		if (k == th)
			return s;
		if (k)
			continue;
		if (!add)
			return NULL;
		if (__atomic_compare_exchange_n(&s->th, &zero, th, 0,
		                                __ATOMIC_ACQ_REL,
		                                __ATOMIC_ACQUIRE) ||
		    zero == th)
			return s;
	}
	return NULL;
}

static void on_event(rb_event_flag_t ev,
                     const rb_internal_thread_event_data_t *data, void *arg)
{
	VALUE th;
	struct slot *s;
	int st;

	(void)arg;
#ifdef HAVE_RB_INTERNAL_THREAD_EVENT_DATA_T_THREAD
	/* >= 3.3: the hook may run on another native thread */
	th = data ? data->thread : Qnil;
#else
	/* 3.2: no payload; events run on the thread itself */
	(void)data;
	th = ruby_native_thread_p() ? rb_thread_current() : Qnil;
#endif
	if (NIL_P(th) || !th)
		return;
	switch (ev) {
	case RUBY_INTERNAL_THREAD_EVENT_RESUMED:
		st = SPR_RUNNING;
		if (th != spr_idle_thread())
			__atomic_store_n(&last_holder, th, __ATOMIC_RELEASE);
		break;
	case RUBY_INTERNAL_THREAD_EVENT_READY:
	case RUBY_INTERNAL_THREAD_EVENT_STARTED:
		st = SPR_GVL_WAIT;
		break;
	case RUBY_INTERNAL_THREAD_EVENT_SUSPENDED:
		st = SPR_BLOCKED;
		break;
	case RUBY_INTERNAL_THREAD_EVENT_EXITED:
		st = -1;
		break;
	default:
		return;
	}
	__atomic_add_fetch(&events, 1, __ATOMIC_RELAXED);
	s = slot_of(th, st >= 0);
	if (s)
		__atomic_store_n(&s->state, st, __ATOMIC_RELEASE);
}

void spr_gvl_start(void)
{
	if (hook)
		return;
	memset(slots, 0, sizeof(slots));
	last_holder = 0;
	hook = rb_internal_thread_add_event_hook(
	    on_event, RUBY_INTERNAL_THREAD_EVENT_STARTED |
	    RUBY_INTERNAL_THREAD_EVENT_READY |
	    RUBY_INTERNAL_THREAD_EVENT_RESUMED |
	    RUBY_INTERNAL_THREAD_EVENT_SUSPENDED |
	    RUBY_INTERNAL_THREAD_EVENT_EXITED, NULL);
}

void spr_gvl_stop(void)
{
	if (!hook)
		return;
	rb_internal_thread_remove_event_hook(hook);
	hook = NULL;
}

int spr_gvl_state(VALUE th)
{
	struct slot *s;

	if (!hook)
		return -1;
	s = slot_of(th, 0);
	return s ? __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) : -1;
}

VALUE spr_gvl_last_holder(void)
{
	VALUE v = hook ? __atomic_load_n(&last_holder, __ATOMIC_ACQUIRE) : 0;

	return v ? v : Qnil;
}

uint64_t spr_gvl_events(void)
{
	return __atomic_load_n(&events, __ATOMIC_RELAXED);
}

const char *spr_gvl_source(void)
{
	return "GVL hooks (rb_internal_thread_add_event_hook)";
}

#else /* no GVL hooks (Ruby < 3.2) */

void spr_gvl_start(void) {}
void spr_gvl_stop(void) {}
int spr_gvl_state(VALUE th) { (void)th; return -1; }
VALUE spr_gvl_last_holder(void) { return Qnil; }
uint64_t spr_gvl_events(void) { return 0; }

const char *spr_gvl_source(void)
{
	return "heuristic (Thread#stop?: a runnable thread without the GVL "
	       "counts as waiting for it)";
}

#endif
