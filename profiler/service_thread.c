/*
 * service_thread.c - starting and waking stillprof's own threads (the
 * sampler, the periodic writer, the push and HTTP threads).  Each one is
 * woken through an eventfd in its epoll set, never by a signal.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

int sp_thread_spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int err;

	/* The new thread inherits a full mask: no signal of the
	 * application (process-directed, or its control signal) is ever
	 * delivered to it, so no application handler runs on it and none of
	 * its calls is interrupted. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -err;
}

void sp_eventfd_kick(int efd, const char *who)
{
	uint64_t one = 1;

	/* Adding 1 cannot block: the counter is far from overflow. */
	if (write(efd, &one, sizeof(one)) < 0)
		sp_warn("%s: eventfd write: %s", who, strerror(errno));
}
