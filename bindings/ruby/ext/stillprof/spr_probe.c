/*
 * spr_probe.c - does rb_postponed_job_trigger, called from a non-Ruby
 * thread, run the job on the thread holding the GVL?  (Ruby >= 3.3 only.)
 *
 * Ruby 3.3.0 sends such triggers to the main thread's execution context
 * (Ruby bug #20197, ruby/ruby#9633, fixed by 3.3.8 and 3.4): a sleeping
 * main thread (Puma's, or one in Thread#join) would then never run our
 * job.  This is the only place where behaviour is not found from the
 * build: it is found at run time, once per process, at the first start.
 *
 * The probe: a new Ruby thread spins (calling rb_thread_check_ints, which
 * runs postponed jobs) while the calling thread waits in Thread#join; once
 * the spinner holds the GVL, a plain pthread triggers a probe job every
 * millisecond.  Not affected: the job ran on a thread other than the main
 * one (the spinner) within 200 ms.  Affected: it ran on the main thread, or
 * not at all in time.  Then the ticker falls back to waking the parked
 * helper Ruby thread every tick (spr_idle.c), which samples every thread
 * with rb_profile_thread_frames once it gets the GVL.
 *
 * STILLPROF_RUBY_FORCE_HELPER=1 forces that fallback (tests, and users
 * stuck on an affected 3.3.x who want to be sure).
 */
#define _GNU_SOURCE 1
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ruby.h>
#include <ruby/debug.h>
#include <ruby/thread.h>

#include "spr.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static int result = SPR_PROBE_NOT_RUN;
static double probe_ms;

#ifdef HAVE_RB_POSTPONED_JOB_TRIGGER
static rb_postponed_job_handle_t h_probe = POSTPONED_JOB_HANDLE_INVALID;
static int spinning, ran, give_up;
static VALUE ran_on;

static void probe_job(void *arg)
{
	(void)arg;
	if (LOAD(&ran))
		return;
	ran_on = rb_thread_current();
	STORE(&ran, 1);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static VALUE spin(void *arg)
{
	int64_t end = now_ms() + 200;

	(void)arg;
	STORE(&spinning, 1);
	while (!LOAD(&ran) && now_ms() < end)
		rb_thread_check_ints(); /* runs pending postponed jobs */
	STORE(&give_up, 1);
	return Qnil;
}

static void *trigger_loop(void *arg)
{
	struct timespec ms = { 0, 1000000 };
	int i;

	(void)arg;
	/* wait (bounded) until the spinner holds the GVL */
	for (i = 0; i < 2000 && !LOAD(&spinning) && !LOAD(&give_up); i++)
		nanosleep(&ms, NULL);
	for (i = 0; i < 400 && !LOAD(&ran) && !LOAD(&give_up); i++) {
		rb_postponed_job_trigger(h_probe);
		nanosleep(&ms, NULL);
	}
	return NULL;
}

void spr_probe_init(void)
{
	h_probe = rb_postponed_job_preregister(0, probe_job, NULL);
}

static int probe(void)
{
	pthread_t pt;
	sigset_t all, old;
	VALUE th;
	int err;

	if (h_probe == POSTPONED_JOB_HANDLE_INVALID)
		return SPR_PROBE_AFFECTED;
	STORE(&spinning, 0);
	STORE(&ran, 0);
	STORE(&give_up, 0);
	ran_on = Qnil;
	th = rb_thread_create(spin, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&pt, NULL, trigger_loop, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		STORE(&give_up, 1);
		rb_funcall(th, rb_intern("join"), 0);
		return SPR_PROBE_AFFECTED;
	}
	/* releases the GVL: the spinner becomes the holder */
	rb_funcall(th, rb_intern("join"), 0);
	STORE(&give_up, 1);
	pthread_join(pt, NULL);
	/* a trigger still pending lands on some thread later: harmless,
	 * probe_job ignores it once ran is set */
	STORE(&ran, 1);
	RB_GC_GUARD(th);
	return ran_on != Qnil && ran_on != rb_thread_main() ?
	       SPR_PROBE_NOT_AFFECTED : SPR_PROBE_AFFECTED;
}
#else
void spr_probe_init(void) {}
#endif

int spr_probe_run(void)
{
	const char *force = getenv("STILLPROF_RUBY_FORCE_HELPER");

	if (result != SPR_PROBE_NOT_RUN)
		return result;
#ifdef HAVE_RB_POSTPONED_JOB_TRIGGER
	if (force && *force && strcmp(force, "0")) {
		result = SPR_PROBE_FORCED;
		return result;
	}
	{
		struct timespec a, b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		result = probe();
		clock_gettime(CLOCK_MONOTONIC, &b);
		probe_ms = (b.tv_sec - a.tv_sec) * 1e3 +
		           (b.tv_nsec - a.tv_nsec) / 1e6;
	}
#else
	/* < 3.3: register_one targets the last GVL holder (vm_trace.c); the
	 * 3.1/3.2 path has no helper-only mode */
	(void)force;
	result = SPR_PROBE_NOT_APPLICABLE;
#endif
	return result;
}

int spr_probe_helper_mode(void)
{
	return result == SPR_PROBE_AFFECTED || result == SPR_PROBE_FORCED;
}

const char *spr_probe_text(void)
{
	switch (result) {
	case SPR_PROBE_NOT_AFFECTED:
		return "not affected: rb_postponed_job_trigger ran on the GVL holder";
	case SPR_PROBE_AFFECTED:
		return "affected: trigger went to the main thread; parked helper "
		       "thread samples instead";
	case SPR_PROBE_FORCED:
		return "not probed: helper-thread fallback forced by "
		       "STILLPROF_RUBY_FORCE_HELPER";
	case SPR_PROBE_NOT_APPLICABLE:
		return "not applicable: no rb_postponed_job_trigger (Ruby < 3.3)";
	}
	return "not run";
}

double spr_probe_ms(void)
{
	return probe_ms;
}
