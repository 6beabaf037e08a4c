/*
 * fork.c - what fork() does to running sessions.  The child of a fork has
 * no sampling thread, so a session is dead there (api.c refuses every call
 * with STILLPROF_EDEAD); this file makes the child also start *clean*:
 * the perf events, rings, epoll/eventfd/timerfd and /proc fds the parent's
 * sampler owns are closed (munmap'ed) in the child at once, instead of
 * staying open in a long-lived forked worker until it execs or exits.
 * Every fd is O_CLOEXEC as well, which covers posix_spawn/vfork, where no
 * atfork handler runs.
 *
 * The child may only walk a session's thread table if the sampling thread
 * was not changing it at the instant of the fork.  The sampler holds the
 * session's fork_mu while it handles a batch of events (never while it
 * waits in epoll_wait), and the prepare handler takes that mutex.  It
 * waits for it at most SP_FORK_WAIT_NS: a fork called with a lock the
 * sampler needs in its batch (the loader lock: fork from a library
 * constructor) must not deadlock.  Without the mutex the child closes only
 * the session's own loop fds; the thread fds then go at exec or exit.
 *
 * Registry lock order: sp_fork_mu, then a session's fork_mu.  The sampler
 * only ever takes its session's fork_mu.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <time.h>

#include "internal.h"
#include "session.h"
#include "switch_sample.h"
#include "snapshot.h"

#define SP_FORK_WAIT_NS (1000u * 1000 * 1000)

static pthread_mutex_t sp_fork_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t sp_fork_once = PTHREAD_ONCE_INIT;
static struct stillprof_session *sp_fork_list; /* running sessions */
static int sp_fork_atfork_err;

static void prepare(void)
{
	struct timespec until;

	pthread_mutex_lock(&sp_fork_mu);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += SP_FORK_WAIT_NS;
	until.tv_sec += until.tv_nsec / 1000000000;
	until.tv_nsec %= 1000000000;
	for (struct stillprof_session *s = sp_fork_list; s; s = s->fork_next)
		s->fork_locked =
		    pthread_mutex_timedlock(&s->fork_mu, &until) == 0;
}

static void parent(void)
{
	for (struct stillprof_session *s = sp_fork_list; s; s = s->fork_next)
		if (s->fork_locked) {
			s->fork_locked = 0;
			pthread_mutex_unlock(&s->fork_mu);
		}
	pthread_mutex_unlock(&sp_fork_mu);
}

/* Only close(2) and munmap(2) here: the child's copy of the session is
 * forgotten, its memory is released by stillprof_session_free. */
static void child(void)
{
	struct stillprof_session *s, *next;

	for (s = sp_fork_list; s; s = next) {
		next = s->fork_next;
		if (s->fork_locked) {
			for (size_t i = 0; i < s->threads.n; i++) {
				struct sp_tstate *ts = s->threads.all[i];
				sp_switch_close(ts);
				sp_perf_ring_close(&ts->ring);
				sp_close(ts->syscall_fd);
				ts->syscall_fd = -1;
			}
			s->child_clean = 1;
			s->fork_locked = 0;
			pthread_mutex_unlock(&s->fork_mu);
		}
		sp_snap_forget_fds(s->snap);
		sp_close(s->tick_tfd);
		sp_close(s->stop_efd);
		sp_close(s->epfd);
		s->tick_tfd = s->stop_efd = s->epfd = -1;
		s->fork_next = NULL;
	}
	/* The child's sessions are not running: a fork in the child must not
	 * touch them again. */
	sp_fork_list = NULL;
	pthread_mutex_unlock(&sp_fork_mu);
}

static void install(void)
{
	sp_fork_atfork_err = pthread_atfork(prepare, parent, child);
}

int sp_fork_register(struct stillprof_session *s)
{
	pthread_once(&sp_fork_once, install);
	if (sp_fork_atfork_err)
		return -sp_fork_atfork_err;
	pthread_mutex_lock(&sp_fork_mu);
	s->fork_next = sp_fork_list;
	sp_fork_list = s;
	pthread_mutex_unlock(&sp_fork_mu);
	return 0;
}

void sp_fork_unregister(struct stillprof_session *s)
{
	struct stillprof_session **p;

	pthread_mutex_lock(&sp_fork_mu);
	for (p = &sp_fork_list; *p; p = &(*p)->fork_next)
		if (*p == s) {
			*p = s->fork_next;
			break;
		}
	s->fork_next = NULL;
	pthread_mutex_unlock(&sp_fork_mu);
}
