/*
 * spr_ticker.c - when samples are taken, without any signal.
 *
 * A plain pthread (not a Ruby thread; every signal blocked) sleeps in
 * poll() on a timerfd and an eventfd.  Each tick it only does atomics and
 * one postponed-job registration: on Ruby 3.1/3.2
 * rb_postponed_job_register_one sets an interrupt flag on the thread that
 * last took the GVL, on >= 3.3 rb_postponed_job_trigger does the same for
 * a job preregistered in Init.  Nothing wakes or interrupts any thread: the
 * job runs on the GVL holder at its next safepoint (spr_ext.c) and takes
 * every tick since the previous job as samples of the stack it finds.
 *
 * GC: tracepoint hooks on the internal GC_ENTER/GC_END_MARK/GC_EXIT events
 * keep an atomic in-GC flag and phase; ticks during a GC become
 * (garbage collection)/(marking)/(sweeping) samples, recorded by a second
 * job after the GC (jobs never run inside GC).
 *
 * :cpu mode: the same ticker, but a tick counts only when the process CPU
 * clock (CLOCK_PROCESS_CPUTIME_ID) has advanced by an interval.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include <ruby.h>
#include <ruby/debug.h>
#include <ruby/vm.h>

#include "spr.h"

static pthread_t ticker;
static int ticker_on;
static int tfd = -1, efd = -1;
static int vm_dead;

/* Shared with the ticker thread: __atomic builtins only. */
static uint64_t ticks;         /* ticks outside GC, ever */
static uint64_t signals;       /* every tick (stackprof's overall_signals) */
static int pending;            /* a sample job is registered, not yet run */
static int helper_last;        /* the idle helper took the GVL last */
static int idle_consumed;      /* GVL: the helper took ticks since the last job */
static int in_gc, gc_phase;    /* from the GC hooks */
static uint64_t gc_ticks[2];   /* ticks seen in GC: marking, sweeping */
static int64_t gc_start_us;
static int t_mode, t_ignore_gc;
static int t_helper;           /* >= 3.3 fallback: wake the helper, no job */
static long t_interval;

static VALUE gc_tp = Qnil, obj_tp = Qnil;
static VALUE sym_state, sym_sweeping;

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_ACQ_REL)
#define XCHG(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)

static void sample_job(void *arg);
static void gc_job(void *arg);

#ifdef HAVE_RB_POSTPONED_JOB_PREREGISTER
static rb_postponed_job_handle_t h_sample = POSTPONED_JOB_HANDLE_INVALID;
static rb_postponed_job_handle_t h_gc = POSTPONED_JOB_HANDLE_INVALID;

static void trigger(int gc)
{
	rb_postponed_job_trigger(gc ? h_gc : h_sample);
}

const char *spr_ticker_backend(void)
{
	if (spr.helper_mode)
		return "timerfd thread + parked helper Ruby thread "
		       "(rb_postponed_job_trigger not used: Ruby bug #20197 "
		       "probe)";
	return "timerfd thread + rb_postponed_job_trigger";
}
#else
static void trigger(int gc)
{
	/* Async-signal-safe on <= 3.2; from a non-Ruby thread it flags the
	 * last GVL holder's ec (no signal).  Bug #19991 (a race with the VM
	 * flushing its own jobs) applies, as for stackprof. */
	rb_postponed_job_register_one(0, gc ? gc_job : sample_job, NULL);
}

const char *spr_ticker_backend(void)
{
	return "timerfd thread + rb_postponed_job_register_one";
}
#endif

uint64_t spr_ticker_ticks(void)
{
	return LOAD(&ticks);
}

uint64_t spr_ticker_signals(void)
{
	return LOAD(&signals);
}

static uint64_t cputime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *ticker_main(void *arg)
{
	struct pollfd p[2];
	uint64_t cpu_last = cputime_ns(), since = 0;
	/* While a job waits on a thread that blocked without the GVL,
	 * re-register every ~10 ms: that moves the flag to the current
	 * holder.  Not every tick, to register as rarely as possible. */
	uint64_t reflag = t_interval >= 10000 ? 1 : 10000 / t_interval;

	(void)arg;
	p[0].fd = tfd;
	p[0].events = POLLIN;
	p[1].fd = efd;
	p[1].events = POLLIN;
	for (;;) {
		uint64_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN) ||
		    read(tfd, &n, sizeof(n)) != sizeof(n))
			continue;
		if (LOAD(&vm_dead))
			break;
		if (t_mode == SPR_CPU) {
			uint64_t now = cputime_ns(), iv = t_interval * 1000u;

			n = (now - cpu_last) / iv;
			if (!n)
				continue;
			cpu_last += n * iv;
		}
		ADD(&signals, n);
		if (t_helper) {
			/* >= 3.3 with triggers misrouted (bug #20197): the
			 * helper takes the ticks when it gets the GVL */
			if (!t_ignore_gc && LOAD(&in_gc))
				ADD(&gc_ticks[LOAD(&gc_phase)], n);
			else
				ADD(&ticks, n);
			spr_idle_wake();
			continue;
		}
		if (!t_ignore_gc && LOAD(&in_gc)) {
			int64_t zero = 0;

			ADD(&gc_ticks[LOAD(&gc_phase)], n);
			__atomic_compare_exchange_n(&gc_start_us, &zero,
			                            spr_now_us(), 0,
			                            __ATOMIC_ACQ_REL,
			                            __ATOMIC_ACQUIRE);
			trigger(1);
			continue;
		}
		ADD(&ticks, n);
		if (!XCHG(&pending, 1)) {
			since = 0;
			trigger(0);
		} else if ((since += n) >= reflag) {
			/* the job waited ~10 ms: the flag may sit on a thread
			 * that blocked, or nobody holds the GVL at all.  Move
			 * the flag, and wake the idle helper (spr_idle.c). */
			since = 0;
			trigger(0);
			if (t_mode == SPR_WALL)
				spr_idle_wake();
		} else if (LOAD(&helper_last)) {
			/* the flag sits on the parked helper (the last GVL
			 * holder): move it every tick, so that the first
			 * thread to wake runs the job within a tick */
			trigger(0);
		}
	}
	return NULL;
}

int spr_ticker_start(void)
{
	struct itimerspec its;
	sigset_t all, old;
	int err;

	if (ticker_on)
		return 0;
	t_mode = spr.mode;
	t_interval = spr.interval;
	t_ignore_gc = spr.ignore_gc;
	t_helper = spr.helper_mode;
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	efd = eventfd(0, EFD_CLOEXEC);
	if (tfd < 0 || efd < 0) {
		err = -errno;
		goto fail;
	}
	memset(&its, 0, sizeof(its));
	its.it_interval.tv_sec = spr.interval / 1000000;
	its.it_interval.tv_nsec = (spr.interval % 1000000) * 1000;
	its.it_value = its.it_interval;
	if (timerfd_settime(tfd, 0, &its, NULL) < 0) {
		err = -errno;
		goto fail;
	}
	/* The thread inherits a full mask: no signal is ever delivered to
	 * it, so it never steals one from Ruby's trap handlers. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&ticker, NULL, ticker_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto fail;
	ticker_on = 1;
	return 0;
fail:
	if (tfd >= 0)
		close(tfd);
	if (efd >= 0)
		close(efd);
	tfd = efd = -1;
	return err;
}

void spr_ticker_stop(void)
{
	uint64_t one = 1;

	if (!ticker_on)
		return;
	/* The ticker never needs the GVL, so joining while holding it
	 * cannot deadlock. */
	if (write(efd, &one, sizeof(one)) != sizeof(one))
		STORE(&vm_dead, 1); /* cannot happen; make it exit anyway */
	pthread_join(ticker, NULL);
	close(tfd);
	close(efd);
	tfd = efd = -1;
	ticker_on = 0;
}

/* ---- the jobs (GVL holder, at a safepoint) ---- */

/* Turn the ticks since the previous job into samples.  own: the calling
 * thread is a profiled one (not the idle helper), so its own stack is
 * sampled with rb_profile_frames. */
/* A job running: refreshing stacks calls Ruby methods, and a method
 * call can check interrupts, i.e. run another job or switch threads
 * (the idle helper's run is not inside Ruby's job flush, which would mask
 * jobs).  A job finding this set leaves its ticks for the next one: the
 * tables and the static stack buffers are not reentrant.  GVL-protected. */
static int busy;

static void take_samples_locked(VALUE cur, int own, int idle_tail);

struct take_args {
	VALUE cur;
	int own, idle_tail;
};

static VALUE take_body(VALUE p)
{
	struct take_args *a = (struct take_args *)p;

	take_samples_locked(a->cur, a->own, a->idle_tail);
	return Qnil;
}

static VALUE take_done(VALUE p)
{
	(void)p;
	busy = 0;
	return Qnil;
}

static void take_samples(VALUE cur, int own, int idle_tail)
{
	struct take_args a = { cur, own, idle_tail };

	if (busy)
		return;
	busy = 1;
	/* a Ruby call inside may raise (e.g. Thread#raise delivered at its
	 * interrupt check): never leave busy set */
	rb_ensure(take_body, (VALUE)&a, take_done, Qnil);
}

static void take_samples_locked(VALUE cur, int own, int idle_tail)
{
	uint64_t t, n;
	int64_t now;

	if (!spr.running || (spr.mode != SPR_WALL && spr.mode != SPR_CPU))
		return;
	t = LOAD(&ticks);
	n = t - spr.consumed_ticks;
	if (!n)
		return;
	spr.consumed_ticks = t;
	now = spr_now_us();
	if (own && idle_tail && spr.mode == SPR_WALL && n > 2) {
		/* The idle helper ran last: every thread was stopped then,
		 * and this one took the GVL at most ~2 ticks ago (the flag
		 * follows it every tick).  The older ticks are the idle
		 * period's: its cached stacks, this thread's included. */
		uint64_t m = n - 2;

		spr_threads_emit(Qnil, spr.all_threads ? Qnil :
		                 spr.start_thread, m,
		                 now - 2 * (int64_t)spr.interval);
		n -= m;
	}
	if (own) {
		spr.jobs++;
		spr.delayed += n - 1;
	} else {
		spr.idle_jobs++;
	}
	if (spr.mode == SPR_CPU) {
		/* CPU time is the holder's: other threads are not running
		 * Ruby code */
		if (own) {
			spr_sample_current(n, now, SPR_RUNNING);
		} else if (spr.helper_mode && !NIL_P(spr.displaced) &&
		           (spr.all_threads ||
		            spr.displaced == spr.start_thread)) {
			/* the helper: the thread it took the GVL from */
			spr_threads_refresh(cur, spr.displaced);
			spr_threads_emit(cur, spr.displaced, n, now);
		}
		return;
	}
	if (spr.all_threads) {
		if (own)
			spr_sample_current(n, now, SPR_RUNNING);
		/* other threads' stacks cost an allocation per frame: refresh
		 * them every ~10 ms, emit the cache every tick.  The idle
		 * helper runs every ~10 ms anyway: it always refreshes. */
		if (!own || !spr.refresh_tick || spr_threads_exact() ||
		    (t - spr.refresh_tick) * (uint64_t)spr.interval >= 10000) {
			spr.refresh_tick = t;
			spr_threads_refresh(cur, Qnil);
		}
		spr_threads_emit(cur, Qnil, n, now);
	} else if (own && cur == spr.start_thread) {
		spr_sample_current(n, now, SPR_RUNNING);
	} else {
		/* stackprof samples only the thread that called start */
		spr_threads_refresh(cur, spr.start_thread);
		spr_threads_emit(cur, spr.start_thread, n, now);
	}
}

static void sample_job(void *arg)
{
	VALUE cur = rb_thread_current();

	(void)arg;
	/* the flag can land on the idle helper (the last GVL holder) */
	if (cur == spr_idle_thread()) {
		spr_ticker_idle_job();
		return;
	}
	STORE(&helper_last, 0);
	STORE(&pending, 0);
	take_samples(cur, 1, idle_consumed);
	idle_consumed = 0;
}

void spr_ticker_helper_ran(void)
{
	/* the helper took the GVL: a flag set from now on may land on it */
	STORE(&helper_last, 1);
}

static void gc_job_locked(void);

/* >= 3.3 fallback (spr_probe.c): the helper runs every job, the GC one
 * too, whatever the other threads do.  Ticks that waited for the GVL (a
 * CPU-bound holder keeps it up to Ruby's 100 ms quantum) are charged to
 * the stacks found now: the holder's did not change while it waited. */
static void helper_job(void)
{
	VALUE cur = rb_thread_current();

	if (!spr.running || busy)
		return;
	busy = 1;
	gc_job_locked();
	busy = 0;
	/* the thread the helper took the GVL from was running until then */
	spr.displaced = spr_gvl_last_holder();
	take_samples(cur, 0, 0);
	spr.displaced = Qnil;
}

void spr_ticker_idle_job(void)
{
	uint64_t before = spr.consumed_ticks;

	STORE(&helper_last, 1);
	if (spr.helper_mode) {
		helper_job();
		return;
	}
	if (!spr.running || spr.mode != SPR_WALL)
		return;
	/* A runnable thread will reach a safepoint and run the job with its
	 * own stack: the pending ticks are its, leave them.  Only when every
	 * thread sleeps or blocks do the cached stacks stand for them. */
	if (!spr_threads_all_stopped())
		return;
	take_samples(rb_thread_current(), 0, 0);
	if (spr.consumed_ticks != before)
		idle_consumed = 1;
}

static void gc_job(void *arg)
{
	(void)arg;
	if (busy)
		return; /* its ticks stay counted for the next GC's job */
	busy = 1;
	gc_job_locked();
	busy = 0;
}

static void gc_job_locked(void)
{
	uint64_t m = XCHG(&gc_ticks[0], 0), s = XCHG(&gc_ticks[1], 0);
	int64_t start = XCHG(&gc_start_us, 0);
	static const uint64_t mark[2] = { SPR_MARKING_FRAME, SPR_GC_FRAME };
	static const uint64_t sweep[2] = { SPR_SWEEPING_FRAME, SPR_GC_FRAME };
	static const int32_t zero[2];
	size_t t;
	VALUE cur;

	if (!spr.running || spr.ignore_gc || !(m + s))
		return;
	/* GC work is charged to the thread that ran it, or to the profiled
	 * thread with threads: :current or when the idle helper (never in
	 * the results) ran it */
	cur = rb_thread_current();
	if (!spr.all_threads || cur == spr_idle_thread())
		cur = spr.start_thread;
	if (spr_thread_index(cur, &t))
		return;
	if (!spr.threads[t].tid && cur == rb_thread_current())
		spr.threads[t].tid = (long)syscall(SYS_gettid);
	if (!start)
		start = spr_now_us();
	if (spr_frame_gc(SPR_GC_FRAME) || spr_frame_gc(SPR_MARKING_FRAME) ||
	    spr_frame_gc(SPR_SWEEPING_FRAME))
		return;
	if (m)
		spr_record(mark, zero, 2, t, SPR_RUNNING, m, start, 1);
	if (s)
		spr_record(sweep, zero, 2, t, SPR_RUNNING, s, start, 1);
}

/* ---- GC and allocation hooks ---- */

static void gc_event(VALUE tpval, void *data)
{
	rb_event_flag_t f =
	    rb_tracearg_event_flag(rb_tracearg_from_tracepoint(tpval));

	(void)data;
	if (f == RUBY_INTERNAL_EVENT_GC_ENTER) {
		/* No allocation here: the symbols were interned in Init. */
		VALUE st = rb_gc_latest_gc_info(sym_state);

		STORE(&gc_phase, st == sym_sweeping ? 1 : 0);
		STORE(&in_gc, 1);
	} else if (f == RUBY_INTERNAL_EVENT_GC_END_MARK) {
		STORE(&gc_phase, 1);
	} else if (f == RUBY_INTERNAL_EVENT_GC_EXIT) {
		STORE(&in_gc, 0);
	}
}

void spr_gc_hooks(int on)
{
	if (NIL_P(gc_tp)) {
		gc_tp = rb_tracepoint_new(0, RUBY_INTERNAL_EVENT_GC_ENTER |
		                          RUBY_INTERNAL_EVENT_GC_END_MARK |
		                          RUBY_INTERNAL_EVENT_GC_EXIT,
		                          gc_event, NULL);
		rb_gc_register_mark_object(gc_tp);
	}
	if (on)
		rb_tracepoint_enable(gc_tp);
	else
		rb_tracepoint_disable(gc_tp);
	if (!on)
		STORE(&in_gc, 0);
}

static void newobj_event(VALUE tpval, void *data)
{
	(void)tpval;
	(void)data;
	if (!spr.running)
		return;
	/* stackprof: every interval-th allocation, sampled right here
	 * (rb_profile_frames allocates nothing; our tables use malloc) */
	if (++spr.allocations % (uint64_t)spr.interval == 0)
		spr_sample_current(1, spr_now_us(), SPR_RUNNING);
	else
		spr.missed++;
}

void spr_object_hook(int on)
{
	if (NIL_P(obj_tp)) {
		obj_tp = rb_tracepoint_new(0, RUBY_INTERNAL_EVENT_NEWOBJ,
		                           newobj_event, NULL);
		rb_gc_register_mark_object(obj_tp);
	}
	if (on)
		rb_tracepoint_enable(obj_tp);
	else
		rb_tracepoint_disable(obj_tp);
}

/* ---- life cycle ---- */

static void atfork_child(void)
{
	/* The ticker thread does not exist in the child: forget it without
	 * joining.  Ruby-level state is reset by spr_ticker_after_fork. */
	spr_idle_forget();
	if (ticker_on) {
		close(tfd);
		close(efd);
		tfd = efd = -1;
		ticker_on = 0;
	}
	pending = 0;
	helper_last = 0;
	idle_consumed = 0;
}

void spr_ticker_after_fork(void)
{
	/* Called in the child with the GVL (Process._fork hook): stop
	 * profiling, keep the data (stackprof does the same). */
	if (spr.running) {
		spr.running = 0;
		spr_gc_hooks(0);
		if (spr.mode == SPR_OBJECT)
			spr_object_hook(0);
	}
}

static void vm_at_exit(ruby_vm_t *vm)
{
	(void)vm;
	STORE(&vm_dead, 1);
	spr_ticker_stop();
	/* Ruby killed the helper with the other threads (its unblock
	 * function woke it): only its fd is left */
	spr_idle_forget();
}

void spr_ticker_init(void)
{
	sym_state = ID2SYM(rb_intern("state"));
	sym_sweeping = ID2SYM(rb_intern("sweeping"));
	/* interns the GC info symbols now, not inside a GC hook */
	rb_gc_latest_gc_info(sym_state);
#ifdef HAVE_RB_POSTPONED_JOB_PREREGISTER
	h_sample = rb_postponed_job_preregister(0, sample_job, NULL);
	h_gc = rb_postponed_job_preregister(0, gc_job, NULL);
	if (h_sample == POSTPONED_JOB_HANDLE_INVALID ||
	    h_gc == POSTPONED_JOB_HANDLE_INVALID)
		rb_raise(rb_eRuntimeError, "stillprof: no postponed job slot");
#endif
	spr_probe_init();
	pthread_atfork(NULL, NULL, atfork_child);
	ruby_vm_at_exit(vm_at_exit);
}
