/*
 * control_signal.c - the opt-in control signal (STILLPROF_CONTROL_SIGNAL).  It is
 * blocked in every thread and read through a signalfd that the sampling
 * thread watches in its epoll set, so no handler ever runs in an
 * application thread and no system call of the application is
 * interrupted.  A process-directed signal that every thread blocks stays
 * pending on the process until the signalfd read takes it.
 *
 * Blocking must happen before the application creates threads (they
 * inherit the mask): the LD_PRELOAD constructor does it before main; a
 * program using the C API must block the signal itself before its first
 * pthread_create (stillprof.h).  A thread that has it unblocked would
 * take the signal with its default action, which for SIGUSR1/2 and the
 * real-time signals terminates the process.  As a safety net, a signal
 * whose disposition is the default is set to SIG_IGN while attached: a
 * signal blocked in the thread it targets is still queued (the kernel
 * never discards a blocked signal as ignored) and reaches the signalfd,
 * while a stray thread that unblocked it discards it instead of dying.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>

#include "controls.h"
#include "internal.h"
#include "session.h"
#include "snapshot.h"

/* The signal we set to SIG_IGN (0 = none): restored by detach. */
static int ignored_by_us;

static int parse_offset(const char *s, int base, int sign, int *out)
{
	char *end;
	long v;

	if (!*s) {
		*out = base;
		return 0;
	}
	if (*s != (sign > 0 ? '+' : '-') || !s[1])
		return -EINVAL;
	v = strtol(s + 1, &end, 10);
	if (*end || v < 0 || v > 64)
		return -EINVAL;
	*out = base + sign * (int)v;
	return 0;
}

int sp_ctlsig_parse(const char *name, int *signo)
{
	const char *n = name;
	int sig = 0;

	if (!n || !*n)
		return -EINVAL;
	if (!strncmp(n, "SIG", 3))
		n += 3;
	if (!strcmp(n, "USR1")) {
		sig = SIGUSR1;
	} else if (!strcmp(n, "USR2")) {
		sig = SIGUSR2;
	} else if (!strncmp(n, "RTMIN", 5)) {
		if (parse_offset(n + 5, SIGRTMIN, 1, &sig))
			return -EINVAL;
	} else if (!strncmp(n, "RTMAX", 5)) {
		if (parse_offset(n + 5, SIGRTMAX, -1, &sig))
			return -EINVAL;
	} else if (n == name && *n >= '1' && *n <= '9') {
		char *end;
		long v = strtol(n, &end, 10);
		if (*end || v > 64)
			return -EINVAL;
		sig = (int)v;
	} else {
		return -EINVAL;
	}
	if (sig != SIGUSR1 && sig != SIGUSR2 &&
	    (sig < SIGRTMIN || sig > SIGRTMAX))
		return -EINVAL;
	*signo = sig;
	return 0;
}

int sp_ctlsig_attach(stillprof_session *s, int signo, int action)
{
	struct sp_snap *n = s->snap;
	sigset_t set;
	int fd, efd = -1, err;

	if (s->running)
		return STILLPROF_ERUNNING;
	sigemptyset(&set);
	sigaddset(&set, signo);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return SP_ERR(-errno);
	if (action == SP_SIG_DUMP) {
		efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (efd < 0) {
			err = -errno;
			sp_close(fd);
			return SP_ERR(err);
		}
	}
	sp_ctlsig_detach(s);
	{
		struct sigaction old, ign = {.sa_handler = SIG_IGN};

		if (sigaction(signo, NULL, &old) == 0 &&
		    !(old.sa_flags & SA_SIGINFO) &&
		    old.sa_handler == SIG_DFL &&
		    sigaction(signo, &ign, NULL) == 0)
			ignored_by_us = signo;
	}
	n->sig_fd = fd;
	n->notify_efd = efd;
	n->sig_action = action;
	return 0;
}

void sp_ctlsig_detach(stillprof_session *s)
{
	struct sp_snap *n = s->snap;

	if (s->running)
		return; /* the sampler watches them: closed at free */
	sp_ctlsig_restore();
	sp_close(n->sig_fd);
	sp_close(n->notify_efd);
	n->sig_fd = n->notify_efd = -1;
	atomic_store(&n->paused, 0);
}

void sp_ctlsig_restore(void)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL}, cur;

	/* Only if it is still our SIG_IGN: the program may have installed
	 * a handler since. */
	if (ignored_by_us && sigaction(ignored_by_us, NULL, &cur) == 0 &&
	    cur.sa_handler == SIG_IGN && !(cur.sa_flags & SA_SIGINFO))
		sigaction(ignored_by_us, &dfl, NULL);
	ignored_by_us = 0;
}
