/*
 * sampler.c - the sampling thread.  It owns one epoll set: an eventfd
 * (stop/wake), a timerfd (the tick) and the perf fds of the sampled
 * threads.  Capture goes through the back-end chosen at start (s->be:
 * backend.c; perf_event or the signal fallback).  Each tick it drains every thread's ring (on-CPU samples and
 * context-switch records) and, in wall mode, records one off-CPU sample
 * for each thread that is blocked, with the stack of its blocking episode
 * (read once per episode by probe.c).
 *
 * It is created with every signal blocked, never calls a blocking function
 * of the application and never takes a lock an application thread can
 * hold.  Stop = set `stop`, write the eventfd, join: closing an fd would
 * not wake an epoll waiter.  All fds are closed after the join, by the
 * thread that created them.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "internal.h"
#include "maps.h"
#include "session.h"
#include "snapshot.h"
#include "store.h"
#include "tick_replay.h"
#include "unwind.h"

/* Rescanning /proc/self/task: with perf, FORK records attach new threads at
 * once, the rescan catches threads created by unsampled threads (e.g. one
 * whose attach failed) and refreshes names set after creation.  Each
 * back-end says how often (rescan_ms): a rescan reads two /proc files per
 * thread, which at 100 ms was a third of the sampler's CPU with 256 idle
 * threads (bench/sampler_cost), so perf (FORK records) rescans every 1 s;
 * the signal back-end has no FORK records and finds new threads only by
 * rescanning. */

int sp_session_record(struct stillprof_session *s, struct sp_tstate *ts,
                      uint32_t stack, uint64_t t_ns, int state)
{
	/* Paused by the control signal (snapshot.h): drop, uncounted. */
	if (atomic_load(&s->snap->paused))
		return -EAGAIN;
	/* The store counts the thread's samples itself. */
	return sp_store_add_sample(s->store, stack, ts->store_thread, t_ns,
	                           state);
}

static int attach_cb(pid_t tid, void *ctx)
{
	struct stillprof_session *s = ctx;
	struct sp_tstate *ts = sp_threads_find(&s->threads, tid);

	if (ts && !sp_thread_alive(ts)) {
		/* The tid was reused: finish the old thread's entry, then
		 * attach the new thread as a thread of its own. */
		s->be->detach(s, ts);
		ts = NULL;
	}
	if (ts) {
		char name[16];
		ts->scan_gen = s->scan_gen;
		/* Names are often set right after creation: refresh. */
		if (sp_thread_read_name(tid, name) == 0 && sp_thread_alive(ts))
			sp_store_thread_rename(s->store, ts->store_thread,
			                       name);
		return 0;
	}
	/* Errors for one thread must not stop the scan. */
	s->be->attach(s, tid);
	return 0;
}

/* A thread the listing no longer shows has exited.  Its EXIT record
 * usually said so already; this catches one whose record was lost with a
 * full ring (the perf back-end does not watch rings for EPOLLHUP). */
static void rescan(struct stillprof_session *s)
{
	s->scan_gen++;
	if (sp_threads_scan(attach_cb, s) == 0)
		for (size_t i = 0; i < s->threads.n; i++)
			if (s->threads.all[i]->scan_gen != s->scan_gen)
				s->threads.all[i]->live = 0;
	s->last_scan_ns = sp_now_ns();
}

/*
 * The state a thread was in at the tick instant `tick_ns`, from its switch
 * records (drained just now, a little after the tick).  Judging by the
 * latest record alone would be biased: waking the sampling thread itself
 * preempts a busy thread right after every tick.
 */
static int state_at(const struct sp_tstate *ts, uint64_t tick_ns)
{
	switch (ts->run_state) {
	case SP_RUN_BLOCKED:
	case SP_RUN_PREEMPTED:
		if (ts->switch_out_ns < tick_ns)
			return ts->run_state;
		/* Switched out after the tick: it was running then, unless
		 * it had only just come back (then: the period before). */
		return SP_RUN_ONCPU;
	case SP_RUN_ONCPU:
		if (ts->switch_in_ns > tick_ns && ts->switch_out_ns < tick_ns)
			return ts->off_state; /* came back after the tick */
		return SP_RUN_ONCPU;
	default:
		return ts->run_state;
	}
}

/* Wall mode: one sample per tick for every thread that is off-CPU. */
static void sample_offcpu(struct stillprof_session *s, uint64_t tick_ns,
                          uint64_t missed_ticks)
{
	for (size_t i = 0; i < s->threads.n; i++) {
		struct sp_tstate *ts = s->threads.all[i];
		uint32_t stack;
		int r;

		/* Attached after the tick (the sampler woke late): the
		 * thread may not have existed at that instant. */
		if (ts->attach_ns > tick_ns)
			continue;
		switch (state_at(ts, tick_ns)) {
		case SP_RUN_UNKNOWN:
			/* Never switched since attach: it may have been
			 * blocked since before profiling started. */
			if (sp_probe_first(s, ts, &stack) <= 0)
				continue;
			break;
		case SP_RUN_BLOCKED:
			if (!ts->have_blocked_stack ||
			    ts->probed_episode != ts->episode) {
				/* Only a thread still blocked can be read. */
				if (ts->run_state != SP_RUN_BLOCKED)
					continue;
				r = sp_probe_blocked(s, ts, &stack);
				if (r <= 0)
					continue; /* ran again, or gone */
				ts->probed_episode = ts->episode;
				ts->have_blocked_stack = 1;
				ts->blocked_stack = stack;
			}
			stack = ts->blocked_stack;
			break;
		case SP_RUN_PREEMPTED:
			/* Runnable but waiting for a CPU: its user stack is
			 * where the last on-CPU sample saw it (at most one
			 * interval of CPU time earlier). */
			if (!ts->have_last_stack)
				continue;
			/* A thread preempted and then exited leaves no
			 * further record (its event goes at exit) until
			 * its EXIT record: check it still lives (the churn
			 * test caught a sample after the thread's end). */
			if (!sp_thread_alive(ts))
				continue;
			stack = ts->last_stack;
			break;
		default:
			continue; /* on CPU: covered by the perf samples */
		}
		if (sp_session_record(s, ts, stack, tick_ns, SP_STATE_OFFCPU) == 0)
			s->c.offcpu_samples++;
		s->c.missed_ticks += missed_ticks;
	}
}

/* Wake every `wake` ns from the next tick on (tick_replay.c decides). */
static void set_wake(struct stillprof_session *s, uint64_t wake, uint64_t now)
{
	uint64_t next = sp_tick_last_at_or_before(s->tick_base_ns, s->tick_ns,
	                                          now) + s->tick_ns;
	struct itimerspec its;

	its.it_interval.tv_sec = (time_t)(wake / 1000000000u);
	its.it_interval.tv_nsec = (long)(wake % 1000000000u);
	its.it_value.tv_sec = (time_t)(next / 1000000000u);
	its.it_value.tv_nsec = (long)(next % 1000000000u);
	if (timerfd_settime(s->tick_tfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		s->wake_ns = wake;
}

void sp_sampler_catch_up(struct stillprof_session *s, uint64_t now)
{
	for (size_t i = 0; i < s->threads.n; i++)
		s->be->drain(s, s->threads.all[i]);
	/* Threads found gone: by the back-end (perf: the EXIT record), by
	 * the rescan, or (a polled perf ring) by POLLHUP. */
	for (size_t i = s->threads.n; i-- > 0;)
		if (!s->threads.all[i]->live)
			s->be->detach(s, s->threads.all[i]);
	/* perf: switch records give the state at every past tick, so every
	 * tick since the last pass is emitted exactly (tick_replay.c). */
	if (s->opts.mode == STILLPROF_MODE_WALL && s->be == &sp_backend_perf)
		for (size_t i = 0; i < s->threads.n; i++)
			sp_replay_pass(s, s->threads.all[i], now);
}

static void on_tick(struct stillprof_session *s)
{
	uint64_t exp = 0, now;

	/* Drain the expiration count; more than one means we fell behind:
	 * the perf back-end replays those ticks (tick_replay.c), the signal
	 * back-end counts them as missed. */
	if (read(s->tick_tfd, &exp, sizeof(exp)) != sizeof(exp))
		return;
	now = sp_now_ns();
	if (now - s->last_scan_ns >= (uint64_t)s->be->rescan_ms * 1000000u)
		rescan(s);
	sp_sampler_catch_up(s, now);
	if (s->opts.mode == STILLPROF_MODE_WALL && s->be == &sp_backend_perf) {
		uint64_t wake = sp_replay_wake_period(s, now);
		if (wake)
			set_wake(s, wake, now);
		return;
	}
	/* The timer runs on an absolute grid: the instant of the latest
	 * expiration is computable without a syscall. */
	if (s->opts.mode == STILLPROF_MODE_WALL && now >= s->tick_base_ns) {
		uint64_t iv = s->tick_ns;
		uint64_t tick = s->tick_base_ns +
		                (now - s->tick_base_ns) / iv * iv;
		sample_offcpu(s, tick, exp > 1 ? exp - 1 : 0);
	}
}

static void on_thread_event(struct stillprof_session *s, uint64_t tag,
                            uint32_t events)
{
	struct sp_tstate *ts = sp_threads_find(&s->threads,
	                                       (pid_t)(uint32_t)tag);

	if (!ts)
		return; /* detached earlier in this batch */
	s->be->drain(s, ts);
	if (events & (EPOLLHUP | EPOLLERR)) {
		/* The thread exited: the final records are drained by
		 * detach, which also frees the entry.  Its name is the one
		 * the last rescan read: reading it now by tid could reach a
		 * new thread that reuses the tid. */
		s->be->detach(s, ts);
	}
}

static void *sampler_main(void *arg)
{
	struct stillprof_session *s = arg;
	struct epoll_event evs[64];
	struct timespec cpu;

	s->sampler_tid = (pid_t)syscall(SYS_gettid);
	while (!atomic_load(&s->stop)) {
		int n = epoll_wait(s->epfd, evs, (int)SP_ARRAY_LEN(evs), -1);
		if (n < 0) {
			if (errno == EINTR)
				continue; /* our own fd set: just retry */
			s->thread_err = -errno;
			break;
		}
		/* fork.c: a fork waits for the end of the batch. */
		pthread_mutex_lock(&s->fork_mu);
		for (int i = 0; i < n && !atomic_load(&s->stop); i++) {
			uint64_t tag = evs[i].data.u64;
			if (tag == SP_EV_STOP)
				break; /* the stop flag is checked above */
			if (tag == SP_EV_TICK)
				on_tick(s);
			else if (tag & SP_EV_THREAD)
				on_thread_event(s, tag, evs[i].events);
			else
				sp_snap_on_event(s, tag);
		}
		pthread_mutex_unlock(&s->fork_mu);
	}
	sp_snap_sampler_exit(s);
	/* Final pass: names, then stop every event and drain the rest. */
	pthread_mutex_lock(&s->fork_mu);
	rescan(s);
	/* The ticks since the last pass, up to the stop. */
	if (s->opts.mode == STILLPROF_MODE_WALL && s->be == &sp_backend_perf)
		sp_sampler_catch_up(s, sp_now_ns());
	while (s->threads.n > 0)
		s->be->detach(s, s->threads.all[s->threads.n - 1]);
	pthread_mutex_unlock(&s->fork_mu);
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0)
		s->c.sampler_cpu_ns += (uint64_t)cpu.tv_sec * 1000000000u +
		                       (uint64_t)cpu.tv_nsec;
	return NULL;
}

static int add_watch(int epfd, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

static void close_loop_fds(struct stillprof_session *s)
{
	sp_close(s->tick_tfd);
	sp_close(s->stop_efd);
	sp_close(s->epfd);
	s->tick_tfd = s->stop_efd = s->epfd = -1;
}

int sp_sampler_start(struct stillprof_session *s)
{
	struct itimerspec its;
	unsigned tick_us = s->opts.interval_us;
	uint64_t wait_ns;
	int err;

	s->epfd = s->stop_efd = s->tick_tfd = -1;
	atomic_store(&s->stop, 0);
	s->thread_err = 0;
	err = sp_backend_select(s, 1);
	if (err)
		return err;
	sp_backend_describe(s, s->store);
	if (sp_threads_init(&s->threads))
		return -ENOMEM;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0)
		goto err_errno;
	s->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_efd < 0)
		goto err_errno;
	s->tick_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->tick_tfd < 0)
		goto err_errno;
	if ((err = add_watch(s->epfd, s->stop_efd, SP_EV_STOP)) ||
	    (err = add_watch(s->epfd, s->tick_tfd, SP_EV_TICK)) ||
	    (err = sp_snap_watch(s)))
		goto err_out;
	if (s->opts.mode == STILLPROF_MODE_CPU)
		tick_us = s->be == &sp_backend_perf
		              ? sp_perf_cpu_tick_us(s, s->be->cpu_tick_us)
		              : s->be->cpu_tick_us;
	its.it_interval.tv_sec = tick_us / 1000000;
	its.it_interval.tv_nsec = (long)(tick_us % 1000000) * 1000;
	s->tick_ns = (uint64_t)tick_us * 1000u;
	s->tick_base_ns = sp_now_ns() + s->tick_ns;
	s->wake_ns = s->tick_ns;
	wait_ns = s->be == &sp_backend_perf ? sp_perf_ring_wait_ns(s) : 0;
	s->wake_coarse_ns = sp_replay_coarse_ns(s->tick_ns, wait_ns);
	s->wake_mid_ns = sp_replay_mid_ns(s->tick_ns, wait_ns);
	s->wake_window_ns = 0;
	s->wake_risk = s->wake_risk_mid = 0;
	s->big_rings = s->big_rings_max = 0;
	its.it_value.tv_sec = (time_t)(s->tick_base_ns / 1000000000u);
	its.it_value.tv_nsec = (long)(s->tick_base_ns % 1000000000u);
	/* Attach the threads that exist now before returning, so the
	 * region right after start is sampled; later ones come from FORK
	 * records and rescans. */
	s->sampler_tid = 0;
	rescan(s);
	if (timerfd_settime(s->tick_tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		goto err_errno;
	err = sp_thread_spawn(&s->thread, sampler_main, s);
	if (err)
		goto err_out;
	/* The clock, not the pthread_t: stats may read it after the thread
	 * has exited (clock_gettime then fails), never a joined handle. */
	s->sampler_clock_ok = !pthread_getcpuclockid(s->thread,
	                                             &s->sampler_clock);
	return 0;
err_errno:
	err = -errno;
err_out:
	while (s->threads.n > 0)
		s->be->detach(s, s->threads.all[s->threads.n - 1]);
	close_loop_fds(s);
	sp_threads_fini(&s->threads);
	return err;
}

uint64_t sp_sampler_cpu_ns(const struct stillprof_session *s)
{
	struct timespec cpu;

	if (!s->sampler_clock_ok || clock_gettime(s->sampler_clock, &cpu))
		return 0;
	return (uint64_t)cpu.tv_sec * 1000000000u + (uint64_t)cpu.tv_nsec;
}

int sp_sampler_stop(struct stillprof_session *s)
{
	atomic_store(&s->stop, 1);
	sp_eventfd_kick(s->stop_efd, "sampler");
	pthread_join(s->thread, NULL);
	close_loop_fds(s);
	sp_threads_fini(&s->threads);
	return s->thread_err;
}
