/*
 * sigalrm_baseline.h - the scheme stillprof replaces, for the tests'
 * baselines: a process-wide setitimer(ITIMER_REAL) whose SIGALRM handler
 * is installed with SA_RESTART, exactly as stackprof's :wall mode does.
 * Blocking calls that are never restarted (poll, nanosleep, epoll_wait,
 * recv with SO_RCVTIMEO, sem_timedwait...) then fail with EINTR.
 */
#ifndef SIGALRM_BASELINE_H
#define SIGALRM_BASELINE_H

#include <stdatomic.h>

/* Start the timer at `usec`; every handled signal increments *handled
 * (may point into shared memory).  Returns 0 or -errno. */
int baseline_sigalrm_start(long usec, atomic_long *handled);
void baseline_sigalrm_stop(void);

#endif
