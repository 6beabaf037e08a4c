/*
 * eintr_torture.c - a workload whose threads sit in blocking system calls
 * that a signal handler turns into EINTR (signal(7): never restarted, even
 * with SA_RESTART), and that count every EINTR they see.
 *
 * Each kind of call runs in its own named thread (pthread_setname_np), in a
 * loop of short timed waits, through a distinctive noinline chain such as
 * torture_poll_worker -> torture_poll_wait -> poll, so that a profile of the
 * run shows each blocked stack by name.  One more thread burns CPU.  With
 * --sigalrm USEC the program installs the classic process-wide timer that
 * stackprof's :wall mode uses (sigaction(SIGALRM, SA_RESTART|SA_SIGINFO) +
 * setitimer(ITIMER_REAL)), which is the baseline that must produce EINTRs;
 * --spread MS additionally passes the signal from worker to worker (see
 * spread_turns()) so that every kind of call gets some.  --spin-us USEC
 * makes every worker compute that long before each call (a thread that
 * runs, then blocks: the worst case for CPU-time-driven signals).
 *
 * Output: one "eintr KIND N calls M" line per kind (and "errors KIND N" for
 * failures other than EINTR or a timeout), then EINTR_TOTAL, CALLS_TOTAL,
 * ERRORS_TOTAL and SIGALRM_HANDLED lines.  Exit status: 0 when the run
 * completed, 1 when a call failed with something other than EINTR or a
 * timeout, 2 on a usage or setup error, 3 when a thread did not stop in
 * time.  The run always ends: every thread stops at the deadline, and the
 * joins themselves have a deadline.
 *
 * Build: gcc -O2 -g -Wall -Wextra -pthread eintr_torture.c -o eintr_torture
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "sigalrm_baseline.h"

#define NOINLINE __attribute__((noinline, noclone))

/* Every wait is this long: short enough for many calls per second, long
 * enough that a 1 ms timer signal usually lands inside the call. */
#define WAIT_MS 3

/* The listener keeps this many accepted connections open before closing the
 * oldest, so that a client waiting for a "greeting" waits its full timeout
 * instead of seeing EOF at once. */
#define N_HELD 64

enum kind {
	K_POLL,
	K_NANOSLEEP,
	K_EPOLL,
	K_SELECT,
	K_CONNECT,
	K_LISTEN,
	K_RECV,
	K_SEM,
	N_KINDS
};

struct counter {
	const char *name;
	atomic_long n_calls;
	atomic_long n_eintr;
	atomic_long n_errors;
};

static struct counter counters[N_KINDS] = {
	[K_POLL] = { .name = "poll" },
	[K_NANOSLEEP] = { .name = "nanosleep" },
	[K_EPOLL] = { .name = "epoll_wait" },
	[K_SELECT] = { .name = "select" },
	[K_CONNECT] = { .name = "connect_poll" },
	[K_LISTEN] = { .name = "accept_poll" },
	[K_RECV] = { .name = "recv_rcvtimeo" },
	[K_SEM] = { .name = "sem_timedwait" },
};

/* Shared fixtures, set up by main before any thread starts. */
static struct {
	_Atomic uint64_t deadline_ns;	/* main may pull it in on failure */
	int idle_pipe[2];	/* never written: poll/select/epoll wait on it */
	int epoll_fd;
	int recv_pair[2];	/* never written: recv with SO_RCVTIMEO */
	int listen_fd;
	struct sockaddr_in listen_addr;
	sem_t sem;		/* never posted */
	atomic_long n_sigalrm;
	int spread;		/* --spread: rotate SIGALRM among workers */
	long spin_us;		/* --spin-us: user-mode work before each call */
	atomic_int turn;	/* whose turn it is under --spread */
	_Atomic uint64_t cpu_sink;
} fx;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Account one call of KIND.  RC is the call's result, ERR its errno; the
 * values in OK_ERRS (terminated by 0) are expected outcomes, e.g. a timeout.
 */
static void account(enum kind kind, int rc, int err, const int *ok_errs)
{
	struct counter *c = &counters[kind];

	atomic_fetch_add(&c->n_calls, 1);
	if (rc >= 0)
		return;
	if (err == EINTR) {
		atomic_fetch_add(&c->n_eintr, 1);
		return;
	}
	for (; ok_errs && *ok_errs; ok_errs++)
		if (err == *ok_errs)
			return;
	if (atomic_fetch_add(&c->n_errors, 1) < 3)
		fprintf(stderr, "eintr_torture: %s: %s\n", c->name,
			strerror(err));
}

/* Per-thread: this worker's place in the --spread rotation, and whether it
 * has SIGALRM unblocked right now. */
static __thread int my_turn = -1;
static __thread int alrm_open;

static void set_alrm_open(int open)
{
	sigset_t set;

	if (open == alrm_open)
		return;
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(open ? SIG_UNBLOCK : SIG_BLOCK, &set, NULL);
	alrm_open = open;
}

/*
 * Name the calling worker and take its place TURN in the --spread rotation
 * (-1: never in it).  main blocks SIGALRM before creating the workers (see
 * main); without --spread every worker unblocks it here.
 */
static void worker_start(const char *name, int turn)
{
	pthread_setname_np(pthread_self(), name);
	my_turn = turn;
	alrm_open = 0;
	if (!fx.spread)
		set_alrm_open(1);
}

/* The loop condition of every worker: 0 once the deadline has passed.  With
 * --spread it also opens SIGALRM in this thread only while it is its turn. */
static int keep_going(void)
{
	/* --spin-us: burn CPU in user mode right before the next blocking
	 * call, so that a signal driven by the thread's own CPU time (the
	 * signal back-end) can land just before a syscall is entered. */
	if (fx.spin_us > 0) {
		uint64_t until = now_ns() + (uint64_t)fx.spin_us * 1000u;
		while (now_ns() < until)
			atomic_fetch_add(&fx.cpu_sink, 1);
	}
	if (fx.spread)
		set_alrm_open(my_turn >= 0 &&
			      atomic_load(&fx.turn) == my_turn);
	return now_ns() < atomic_load(&fx.deadline_ns);
}

/* ---- poll ---------------------------------------------------------------- */

NOINLINE static void torture_poll_wait(void)
{
	struct pollfd pfd = { .fd = fx.idle_pipe[0], .events = POLLIN };
	int rc = poll(&pfd, 1, WAIT_MS);

	account(K_POLL, rc, errno, NULL);
}

NOINLINE static void *torture_poll_worker(void *arg)
{
	(void)arg;
	worker_start("tor-poll", K_POLL);
	while (keep_going())
		torture_poll_wait();
	return NULL;
}

/* ---- nanosleep ----------------------------------------------------------- */

NOINLINE static void torture_nanosleep_wait(void)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = WAIT_MS * 1000000L };
	int rc = nanosleep(&ts, NULL);

	account(K_NANOSLEEP, rc, errno, NULL);
}

NOINLINE static void *torture_nanosleep_worker(void *arg)
{
	(void)arg;
	worker_start("tor-nanosleep", K_NANOSLEEP);
	while (keep_going())
		torture_nanosleep_wait();
	return NULL;
}

/* ---- epoll_wait ---------------------------------------------------------- */

NOINLINE static void torture_epoll_wait(void)
{
	struct epoll_event ev;
	int rc = epoll_wait(fx.epoll_fd, &ev, 1, WAIT_MS);

	account(K_EPOLL, rc, errno, NULL);
}

NOINLINE static void *torture_epoll_worker(void *arg)
{
	(void)arg;
	worker_start("tor-epoll", K_EPOLL);
	while (keep_going())
		torture_epoll_wait();
	return NULL;
}

/* ---- select -------------------------------------------------------------- */

NOINLINE static void torture_select_wait(void)
{
	fd_set rd;
	struct timeval tv = { .tv_sec = 0, .tv_usec = WAIT_MS * 1000 };
	int rc;

	FD_ZERO(&rd);
	FD_SET(fx.idle_pipe[0], &rd);
	rc = select(fx.idle_pipe[0] + 1, &rd, NULL, NULL, &tv);
	account(K_SELECT, rc, errno, NULL);
}

NOINLINE static void *torture_select_worker(void *arg)
{
	(void)arg;
	worker_start("tor-select", K_SELECT);
	while (keep_going())
		torture_select_wait();
	return NULL;
}

/* ---- non-blocking connect + poll, the libmysqlclient 5.x pattern ---------- */

/* Wait for FD to become ready for EVENTS; returns poll's result. */
NOINLINE static int torture_connect_wait(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int rc = poll(&pfd, 1, WAIT_MS);

	account(K_CONNECT, rc, errno, NULL);
	return rc;
}

NOINLINE static void torture_connect_once(void)
{
	static const int ok_errs[] = { EINPROGRESS, 0 };
	int fd, rc;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		account(K_CONNECT, -1, errno, NULL);
		usleep(WAIT_MS * 1000);
		return;
	}
	rc = connect(fd, (struct sockaddr *)&fx.listen_addr,
		     sizeof(fx.listen_addr));
	if (rc < 0 && errno != EINPROGRESS) {
		account(K_CONNECT, rc, errno, ok_errs);
	} else {
		/* Connection established (loopback: almost at once)... */
		if (torture_connect_wait(fd, POLLOUT) > 0)
			/* ...then wait for a greeting that never comes. */
			torture_connect_wait(fd, POLLIN);
	}
	close(fd);
}

NOINLINE static void *torture_connect_worker(void *arg)
{
	(void)arg;
	worker_start("tor-connect", K_CONNECT);
	while (keep_going())
		torture_connect_once();
	return NULL;
}

/* ---- the loopback listener the connect worker talks to ------------------- */

NOINLINE static int torture_accept_wait(void)
{
	struct pollfd pfd = { .fd = fx.listen_fd, .events = POLLIN };
	int rc = poll(&pfd, 1, WAIT_MS);

	account(K_LISTEN, rc, errno, NULL);
	return rc;
}

NOINLINE static void *torture_listen_worker(void *arg)
{
	int held[N_HELD];
	unsigned n_accepted = 0;
	int i;

	(void)arg;
	worker_start("tor-listen", K_LISTEN);
	for (i = 0; i < N_HELD; i++)
		held[i] = -1;
	while (keep_going()) {
		int fd;

		if (torture_accept_wait() <= 0)
			continue;
		fd = accept4(fx.listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		i = n_accepted++ % N_HELD;
		if (held[i] >= 0)
			close(held[i]);
		held[i] = fd;
	}
	for (i = 0; i < N_HELD; i++)
		if (held[i] >= 0)
			close(held[i]);
	return NULL;
}

/* ---- recv with SO_RCVTIMEO ----------------------------------------------- */

NOINLINE static void torture_recv_wait(void)
{
	static const int ok_errs[] = { EAGAIN, EWOULDBLOCK, 0 };
	char c;
	ssize_t rc = recv(fx.recv_pair[0], &c, 1, 0);

	account(K_RECV, rc < 0 ? -1 : 0, errno, ok_errs);
}

NOINLINE static void *torture_recv_worker(void *arg)
{
	(void)arg;
	worker_start("tor-recv", K_RECV);
	while (keep_going())
		torture_recv_wait();
	return NULL;
}

/* ---- sem_timedwait ------------------------------------------------------- */

NOINLINE static void torture_sem_wait(void)
{
	static const int ok_errs[] = { ETIMEDOUT, 0 };
	struct timespec ts;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += WAIT_MS * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	rc = sem_timedwait(&fx.sem, &ts);
	account(K_SEM, rc, errno, ok_errs);
}

NOINLINE static void *torture_sem_worker(void *arg)
{
	(void)arg;
	worker_start("tor-semwait", K_SEM);
	while (keep_going())
		torture_sem_wait();
	return NULL;
}

/* ---- CPU-bound thread ---------------------------------------------------- */

/* 200 000 steps of a 64-bit LCG: a short burst of pure CPU between two
 * deadline checks. */
NOINLINE static uint64_t torture_cpu_spin(uint64_t seed)
{
	uint64_t x = seed;
	int i;

	for (i = 0; i < 200000; i++)
		x = x * 6364136223846793005u + 1442695040888963407u;
	return x;
}

NOINLINE static void *torture_cpu_worker(void *arg)
{
	uint64_t x = 1;

	(void)arg;
	worker_start("tor-cpu", -1);
	while (keep_going())
		x = torture_cpu_spin(x);
	atomic_store(&fx.cpu_sink, x);	/* keep the loop alive */
	return NULL;
}

/* ---- setup ---------------------------------------------------------------- */

static int fixtures_init(void)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct timeval tv = { .tv_sec = 0, .tv_usec = WAIT_MS * 1000 };
	socklen_t len = sizeof(fx.listen_addr);

	if (pipe2(fx.idle_pipe, O_CLOEXEC) < 0)
		return -errno;
	fx.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (fx.epoll_fd < 0)
		return -errno;
	ev.data.fd = fx.idle_pipe[0];
	if (epoll_ctl(fx.epoll_fd, EPOLL_CTL_ADD, fx.idle_pipe[0], &ev) < 0)
		return -errno;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		       fx.recv_pair) < 0)
		return -errno;
	if (setsockopt(fx.recv_pair[0], SOL_SOCKET, SO_RCVTIMEO, &tv,
		       sizeof(tv)) < 0)
		return -errno;
	if (sem_init(&fx.sem, 0, 0) < 0)
		return -errno;

	fx.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
			      SOCK_CLOEXEC, 0);
	if (fx.listen_fd < 0)
		return -errno;
	memset(&fx.listen_addr, 0, sizeof(fx.listen_addr));
	fx.listen_addr.sin_family = AF_INET;
	fx.listen_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fx.listen_addr.sin_port = 0;	/* ephemeral */
	if (bind(fx.listen_fd, (struct sockaddr *)&fx.listen_addr,
		 sizeof(fx.listen_addr)) < 0)
		return -errno;
	if (listen(fx.listen_fd, 128) < 0)
		return -errno;
	if (getsockname(fx.listen_fd, (struct sockaddr *)&fx.listen_addr,
			&len) < 0)
		return -errno;
	return 0;
}

/*
 * --spread: the kernel gives a process-wide signal to the thread that took
 * the previous one whenever that thread can take it (signal->curr_target in
 * complete_signal()), so a plain run shows EINTR in one or two kinds only.
 * To prove that every kind can be hit, pass the turn to the next blocking
 * worker every MS milliseconds; only the worker whose turn it is keeps
 * SIGALRM unblocked (keep_going()).  Runs in main until the deadline.
 */
static void spread_turns(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000L };

	while (now_ns() < atomic_load(&fx.deadline_ns)) {
		/* main has SIGALRM blocked: no EINTR to handle here. */
		nanosleep(&ts, NULL);
		atomic_store(&fx.turn, (atomic_load(&fx.turn) + 1) % N_KINDS);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: eintr_torture [--seconds N] [--sigalrm USEC "
		"[--spread MS]] [--spin-us USEC]\n");
}

static void *(*const workers[])(void *) = {
	torture_poll_worker,
	torture_nanosleep_worker,
	torture_epoll_worker,
	torture_select_worker,
	torture_listen_worker,
	torture_connect_worker,
	torture_recv_worker,
	torture_sem_worker,
	torture_cpu_worker,
};

#define N_WORKERS (sizeof(workers) / sizeof(workers[0]))

int main(int argc, char **argv)
{
	pthread_t tids[N_WORKERS];
	long seconds = 3, sigalrm_usec = 0, spread_ms = 0;
	long eintr_total = 0, calls_total = 0, errors_total = 0;
	struct timespec join_by;
	sigset_t set;
	size_t n_started, i;
	int err, i_arg, stuck = 0, failed = 0;

	for (i_arg = 1; i_arg < argc; i_arg++) {
		char *end = NULL;

		if (!strcmp(argv[i_arg], "--seconds") && i_arg + 1 < argc)
			seconds = strtol(argv[++i_arg], &end, 10);
		else if (!strcmp(argv[i_arg], "--sigalrm") && i_arg + 1 < argc)
			sigalrm_usec = strtol(argv[++i_arg], &end, 10);
		else if (!strcmp(argv[i_arg], "--spread") && i_arg + 1 < argc)
			spread_ms = strtol(argv[++i_arg], &end, 10);
		else if (!strcmp(argv[i_arg], "--spin-us") && i_arg + 1 < argc)
			fx.spin_us = strtol(argv[++i_arg], &end, 10);
		else {
			usage();
			return 2;
		}
		if (*end || seconds < 1 || seconds > 600 ||
		    sigalrm_usec < 0 || sigalrm_usec > 10000000 ||
		    spread_ms < 0 || spread_ms > 10000 ||
		    fx.spin_us < 0 || fx.spin_us > 100000) {
			usage();
			return 2;
		}
	}

	err = fixtures_init();
	if (err) {
		fprintf(stderr, "eintr_torture: setup: %s\n", strerror(-err));
		return 2;
	}

	/*
	 * ITIMER_REAL's SIGALRM is sent to the thread group leader, and the
	 * kernel hands it to the leader whenever the leader can take it
	 * (complete_signal() in kernel/signal.c).  Our main thread only waits
	 * in pthread_join, so it blocks SIGALRM and the kernel picks a worker
	 * instead, as in a process whose main thread does the work.  Workers
	 * unblock it in worker_start().
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	fx.spread = spread_ms > 0;
	fx.deadline_ns = now_ns() + (uint64_t)seconds * 1000000000u;
	for (n_started = 0; n_started < N_WORKERS; n_started++) {
		err = pthread_create(&tids[n_started], NULL,
				     workers[n_started], NULL);
		if (err) {
			fprintf(stderr, "eintr_torture: pthread_create: %s\n",
				strerror(err));
			atomic_store(&fx.deadline_ns, 0); /* stop the others */
			failed = 1;
			break;
		}
	}
	if (sigalrm_usec > 0 && !failed) {
		err = baseline_sigalrm_start(sigalrm_usec, &fx.n_sigalrm);
		if (err) {
			fprintf(stderr, "eintr_torture: sigalrm: %s\n",
				strerror(-err));
			atomic_store(&fx.deadline_ns, 0);
			failed = 1;
		}
	}

	if (fx.spread && !failed)
		spread_turns(spread_ms);

	/* Joins have their own deadline, so the run is bounded even if a
	 * thread hangs in a call. */
	clock_gettime(CLOCK_REALTIME, &join_by);
	join_by.tv_sec += seconds + 10;
	for (i = 0; i < n_started; i++) {
		if (pthread_timedjoin_np(tids[i], NULL, &join_by)) {
			fprintf(stderr, "eintr_torture: worker %zu did not "
				"stop\n", i);
			stuck = 1;
		}
	}
	if (sigalrm_usec > 0)
		baseline_sigalrm_stop();
	if (stuck) {
		fflush(stdout);
		_exit(3);
	}
	if (failed)
		return 2;

	for (i = 0; i < N_KINDS; i++) {
		struct counter *c = &counters[i];
		long n_eintr = atomic_load(&c->n_eintr);
		long n_calls = atomic_load(&c->n_calls);
		long n_errors = atomic_load(&c->n_errors);

		printf("eintr %s %ld calls %ld\n", c->name, n_eintr, n_calls);
		if (n_errors)
			printf("errors %s %ld\n", c->name, n_errors);
		eintr_total += n_eintr;
		calls_total += n_calls;
		errors_total += n_errors;
	}
	printf("EINTR_TOTAL %ld\n", eintr_total);
	printf("CALLS_TOTAL %ld\n", calls_total);
	printf("ERRORS_TOTAL %ld\n", errors_total);
	printf("SIGALRM_HANDLED %ld\n", atomic_load(&fx.n_sigalrm));
	return errors_total ? 1 : 0;
}
