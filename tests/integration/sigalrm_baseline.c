/*
 * sigalrm_baseline.c - stackprof's :wall timer, for the tests' "this is
 * what fails without stillprof" halves.  See sigalrm_baseline.h.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>

#include "sigalrm_baseline.h"

static atomic_long *handled_count;

static void on_sigalrm(int sig, siginfo_t *info, void *uctx)
{
	(void)sig;
	(void)info;
	(void)uctx;
	if (handled_count)
		atomic_fetch_add(handled_count, 1); /* lock-free: signal-safe */
}

int baseline_sigalrm_start(long usec, atomic_long *handled)
{
	struct sigaction sa;
	struct itimerval it;

	handled_count = handled;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigalrm;
	sa.sa_flags = SA_RESTART | SA_SIGINFO; /* what stackprof sets */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		return -errno;
	it.it_interval.tv_sec = usec / 1000000;
	it.it_interval.tv_usec = usec % 1000000;
	it.it_value = it.it_interval;
	if (setitimer(ITIMER_REAL, &it, NULL) < 0)
		return -errno;
	return 0;
}

void baseline_sigalrm_stop(void)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
}
