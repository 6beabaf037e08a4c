/*
 * spr_idle.c - samples while no Ruby thread holds the GVL.
 *
 * The sample job runs only on a GVL holder at a safepoint: while every
 * Ruby thread sleeps or blocks, no job runs and the ticks of that period
 * would belong to no stack.  A helper Ruby thread, created at start in
 * :wall mode, parks in rb_thread_call_without_gvl on an eventfd.  When the
 * job has not run for ~10 ms the ticker writes that eventfd; the helper
 * takes the GVL, turns the pending ticks into samples of every other
 * thread's stack (Thread#backtrace_locations, state from Thread#stop?) and
 * parks again.  Its unblock function only writes the eventfd: with
 * RUBY_UBF_IO Ruby would wake it with a signal.  The helper never samples
 * itself and is left out of every thread list (spr_threads.c).
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <ruby.h>
#include <ruby/thread.h>

#include "spr.h"

static int hfd = -1;     /* the helper's eventfd (ticker writes it) */
static int stopping;     /* atomic: helper must exit */
static int parked;       /* atomic: helper reached its first park */
static VALUE helper = Qnil;
static ID id_join;

static void poke(int fd)
{
	uint64_t one = 1;

	/* a full counter (cannot happen) still leaves the fd readable */
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return;
}

static void *park(void *arg)
{
	struct pollfd p;
	uint64_t n;

	(void)arg;
	p.fd = hfd;
	p.events = POLLIN;
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	if (read(hfd, &n, sizeof(n)) < 0)
		n = 0; /* EAGAIN: raced with another reader; harmless */
	return NULL;
}

static void unpark(void *arg)
{
	(void)arg;
	poke(hfd);
}

static VALUE helper_main(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stopping, __ATOMIC_ACQUIRE)) {
		/* holding the GVL now: the ticker must move job flags off
		 * this thread once it parks */
		spr_ticker_helper_ran();
		__atomic_store_n(&parked, 1, __ATOMIC_RELEASE);
		/* interrupts (Thread#kill, VM exit) are checked on return */
		rb_thread_call_without_gvl(park, NULL, unpark, NULL);
		spr_ticker_helper_ran();
		if (__atomic_load_n(&stopping, __ATOMIC_ACQUIRE))
			break;
		spr_ticker_idle_job();
	}
	return Qnil;
}

VALUE spr_idle_thread(void)
{
	return helper;
}

int spr_idle_start(void)
{
	if (!NIL_P(helper))
		return 0;
	if (!id_join) {
		id_join = rb_intern("join");
		rb_gc_register_address(&helper);
	}
	hfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (hfd < 0)
		return -errno;
	__atomic_store_n(&stopping, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&parked, 0, __ATOMIC_RELEASE);
	helper = rb_thread_create(helper_main, NULL);
	rb_funcall(helper, rb_intern("name="), 1,
	           rb_str_new_cstr("stillprof-idle"));
#ifdef HAVE_RB_POSTPONED_JOB_TRIGGER
	/* Ruby 3.3 (thread_pthread.c, ruby_thread_set_native): a new native
	 * thread makes itself the "running" ec before it has the GVL, so
	 * triggers would wait on the helper until the caller's time quantum
	 * (100 ms) ends.  Let it run to its park now: the caller takes the
	 * GVL back and is the target again.  Bounded. */
	{
		int i;

		for (i = 0; i < 1000 &&
		     !__atomic_load_n(&parked, __ATOMIC_ACQUIRE); i++)
			rb_thread_schedule();
	}
#endif
	return 0;
}

void spr_idle_wake(void)
{
	/* ticker thread: a plain write, no Ruby API */
	poke(__atomic_load_n(&hfd, __ATOMIC_ACQUIRE));
}

void spr_idle_stop(void)
{
	VALUE th = helper;
	int fd = hfd;

	if (NIL_P(th))
		return;
	__atomic_store_n(&stopping, 1, __ATOMIC_RELEASE);
	poke(fd);
	/* with the GVL: join releases it while the helper finishes */
	rb_funcall(th, id_join, 0);
	helper = Qnil;
	__atomic_store_n(&hfd, -1, __ATOMIC_RELEASE);
	close(fd);
}

void spr_idle_forget(void)
{
	/* fork child: the helper thread does not exist here */
	if (hfd >= 0)
		close(hfd);
	hfd = -1;
	helper = Qnil;
}
