/*
 * mysql_connect_storm.c - a connection storm against a MySQL/MariaDB server
 * that treats EINTR the way libmysqlclient 5.x did: as a failure.
 *
 * Each connection follows the old client's steps: non-blocking connect()
 * and poll() with a timeout, the server greeting read with poll()+recv(), an
 * SSLRequest, the TLS handshake (OpenSSL, non-blocking, poll() on WANT_READ
 * and WANT_WRITE), a HandshakeResponse with mysql_native_password, the OK
 * packet, COM_QUIT, close.  A poll() that returns EINTR at any step closes
 * the half-open connection at once and the connection is retried: that is
 * what made the server count a handshake error per retry and, after
 * max_connect_errors in a row, answer error 1129 "Host ... is blocked".  A
 * thread that gets 1129 stops, as the application did.
 *
 * --sigalrm USEC installs stackprof's :wall timer (process-wide ITIMER_REAL,
 * SIGALRM with SA_RESTART) as the baseline.  --processes N forks N copies,
 * each with its own timer, as in the incident's N application processes.
 * --source IP binds the client side: MariaDB keeps no host cache entry, so
 * counts no errors and never blocks, for a client at exactly 127.0.0.1
 * (sql/hostname.cc, is_ip_loopback()), so the test uses 127.0.0.2.
 *
 * The protocol side of an attempt (connect, greeting, TLS, auth, quit, and
 * the packet framing) lives in mysql_proto.c; this file holds the driver:
 * options, the SIGALRM baseline, the worker threads and processes, the
 * retries and the counts.  The server and its setup live in
 * mysql_connect_storm.sh.
 *
 * Output: "connects_ok X failures Y host_blocked Z errors W" plus detail
 * lines.  Exit status: 0 when the run completed (whatever the counts), 1
 * when an attempt failed for a reason other than EINTR or host blocking,
 * 2 on a usage or setup error.
 *
 * Build: gcc -O2 -g -Wall -Wextra -pthread mysql_connect_storm.c \
 *            mysql_proto.c -o mysql_connect_storm -lssl -lcrypto
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "mysql_proto.h"
#include "sigalrm_baseline.h"

static struct {
	struct storm_target tgt;
	long n_per_thread;
	long n_threads;
	long max_attempts;	/* per connection */
	uint64_t deadline_ns;
	struct stats *st;	/* shared with the --processes children */
} g = {
	.tgt = {
		.user = "storm",
		.password = "storm",
		.timeout_ms = 10000,
	},
	.n_per_thread = 150,
	.n_threads = 4,
	.max_attempts = 50,
};

/* The counts, in memory shared across fork() for --processes. */
struct stats {
	atomic_long n_ok;
	atomic_long n_failures;
	atomic_long n_fail_step[N_STEPS];
	atomic_long n_blocked;
	atomic_long n_errors;
	atomic_long n_abandoned;
	atomic_long n_sigalrm;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- SIGALRM baseline (same as eintr_torture) ---------------------------- */

/* main blocks SIGALRM before creating the workers (see run_process). */
static void unblock_sigalrm(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}


/* ---- the workers: retries and counts ------------------------------------- */

NOINLINE static void *storm_worker(void *arg)
{
	struct conn c = { .tgt = &g.tgt, .fd = -1, .idx = (int)(intptr_t)arg };
	char name[16];
	long i, n_attempts;

	snprintf(name, sizeof(name), "storm-%d", c.idx);
	pthread_setname_np(pthread_self(), name);
	unblock_sigalrm();
	for (i = 0; i < g.n_per_thread && now_ns() < g.deadline_ns; i++) {
		for (n_attempts = 0;; n_attempts++) {
			enum step step;
			int rc;

			if (n_attempts == g.max_attempts ||
			    now_ns() >= g.deadline_ns) {
				atomic_fetch_add(&g.st->n_abandoned, 1);
				break;
			}
			rc = storm_attempt(&c, &step);
			if (rc == 0) {
				atomic_fetch_add(&g.st->n_ok, 1);
				break;
			}
			if (rc == R_EINTR) {
				atomic_fetch_add(&g.st->n_failures, 1);
				atomic_fetch_add(&g.st->n_fail_step[step], 1);
				continue;	/* retry at once, as the app did */
			}
			if (rc == R_BLOCKED) {
				atomic_fetch_add(&g.st->n_blocked, 1);
				fprintf(stderr, "%s: %s\n", name, c.err);
				return NULL;	/* fatal for the app */
			}
			if (atomic_fetch_add(&g.st->n_errors, 1) < 5)
				fprintf(stderr, "%s: %s: %s\n", name,
					storm_step_names[step], c.err);
			break;
		}
	}
	return NULL;
}

/*
 * Run the workers of this process: the baseline timer if asked, the
 * threads, the joins.  Returns 0, or 2 on a setup error.
 */
static int run_process(long sigalrm_usec)
{
	pthread_t tids[64];
	long i, n_started = 0;
	sigset_t set;
	int err;

	/* As in eintr_torture: main only joins, so it blocks SIGALRM and
	 * the kernel gives the signal to a worker. */
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (sigalrm_usec > 0) {
		err = baseline_sigalrm_start(sigalrm_usec, &g.st->n_sigalrm);
		if (err) {
			fprintf(stderr, "mysql_connect_storm: sigalrm: %s\n",
				strerror(-err));
			return 2;
		}
	}
	for (i = 0; i < g.n_threads; i++) {
		err = pthread_create(&tids[i], NULL, storm_worker,
				     (void *)(intptr_t)i);
		if (err) {
			fprintf(stderr, "mysql_connect_storm: "
				"pthread_create: %s\n", strerror(err));
			break;
		}
		n_started++;
	}
	for (i = 0; i < n_started; i++)
		pthread_join(tids[i], NULL);
	if (sigalrm_usec > 0)
		baseline_sigalrm_stop();
	return n_started == g.n_threads ? 0 : 2;
}

/*
 * --processes N: N copies of run_process(), each with its own timer, as in
 * the incident (one SIGALRM timer per application process).  Returns the
 * worst exit status.
 */
static int run_processes(long n_procs, long sigalrm_usec)
{
	pid_t pids[64];
	long i, n_forked = 0;
	int worst = 0;

	fflush(NULL);
	for (i = 0; i < n_procs; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("mysql_connect_storm: fork");
			worst = 2;
			break;
		}
		if (pids[i] == 0)
			_exit(run_process(sigalrm_usec));
		n_forked++;
	}
	for (i = 0; i < n_forked; i++) {
		int rc = 2, status = 0;
		pid_t w;

		/* Children stop at g.deadline_ns themselves. */
		do
			w = waitpid(pids[i], &status, 0);
		while (w < 0 && errno == EINTR);
		if (w == pids[i] && WIFEXITED(status))
			rc = WEXITSTATUS(status);
		if (rc > worst)
			worst = rc;
	}
	return worst;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: mysql_connect_storm --port PORT [--host IP] "
		"[--source IP]\n"
		"         [--user U] [--password P] [--count N] "
		"[--threads N] [--processes N]\n"
		"         [--timeout MS] [--max-seconds S] "
		"[--sigalrm USEC]\n"
		"  --count is per thread; --threads is per process.\n");
}

static int parse_ip(const char *s, struct sockaddr_in *sin)
{
	sin->sin_family = AF_INET;
	return inet_pton(AF_INET, s, &sin->sin_addr) == 1 ? 0 : -1;
}

int main(int argc, char **argv)
{
	long port = 0, sigalrm_usec = 0, max_seconds = 120;
	long n_procs = 1, i;
	uint64_t t0;
	int i_arg, rc;

	if (parse_ip("127.0.0.1", &g.tgt.server))
		return 2;
	for (i_arg = 1; i_arg < argc; i_arg++) {
		const char *opt = argv[i_arg], *val;
		char *end = NULL;
		long *num = NULL;

		if (i_arg + 1 >= argc) {
			usage();
			return 2;
		}
		val = argv[++i_arg];
		if (!strcmp(opt, "--port"))
			num = &port;
		else if (!strcmp(opt, "--count"))
			num = &g.n_per_thread;
		else if (!strcmp(opt, "--threads"))
			num = &g.n_threads;
		else if (!strcmp(opt, "--processes"))
			num = &n_procs;
		else if (!strcmp(opt, "--timeout"))
			num = &g.tgt.timeout_ms;
		else if (!strcmp(opt, "--max-seconds"))
			num = &max_seconds;
		else if (!strcmp(opt, "--sigalrm"))
			num = &sigalrm_usec;
		else if (!strcmp(opt, "--user"))
			g.tgt.user = val;
		else if (!strcmp(opt, "--password"))
			g.tgt.password = val;
		else if (!strcmp(opt, "--host") &&
			 !parse_ip(val, &g.tgt.server))
			;
		else if (!strcmp(opt, "--source") &&
			 !parse_ip(val, &g.tgt.source))
			;
		else {
			usage();
			return 2;
		}
		if (num) {
			*num = strtol(val, &end, 10);
			if (*end || *num < 0) {
				usage();
				return 2;
			}
		}
	}
	if (port < 1 || port > 65535 || g.n_threads < 1 || g.n_threads > 64 ||
	    n_procs < 1 || n_procs > 64 || g.n_per_thread < 1 ||
	    g.tgt.timeout_ms < 1 || max_seconds < 1 || max_seconds > 3600 ||
	    sigalrm_usec > 10000000) {
		usage();
		return 2;
	}
	g.tgt.server.sin_port = htons((uint16_t)port);

	g.st = mmap(NULL, sizeof(*g.st), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g.st == MAP_FAILED) {
		perror("mysql_connect_storm: mmap");
		return 2;
	}
	/* A write to a connection the server dropped must fail, not kill us;
	 * libmysqlclient ignored SIGPIPE too (mysql_server_init()). */
	signal(SIGPIPE, SIG_IGN);
	g.tgt.ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (!g.tgt.ssl_ctx) {
		fprintf(stderr, "mysql_connect_storm: SSL_CTX_new failed\n");
		return 2;
	}
	/* libmysqlclient 5.x did not verify the server by default. */
	SSL_CTX_set_verify(g.tgt.ssl_ctx, SSL_VERIFY_NONE, NULL);

	t0 = now_ns();
	g.deadline_ns = t0 + (uint64_t)max_seconds * 1000000000u;
	if (n_procs > 1)
		rc = run_processes(n_procs, sigalrm_usec);
	else
		rc = run_process(sigalrm_usec);

	printf("connects_ok %ld failures %ld host_blocked %ld errors %ld\n",
	       atomic_load(&g.st->n_ok), atomic_load(&g.st->n_failures),
	       atomic_load(&g.st->n_blocked), atomic_load(&g.st->n_errors));
	printf("failures_by_step");
	for (i = 0; i < N_STEPS; i++)
		printf(" %s %ld", storm_step_names[i],
		       atomic_load(&g.st->n_fail_step[i]));
	printf("\n");
	printf("connects_wanted %ld abandoned %ld\n",
	       g.n_per_thread * g.n_threads * n_procs,
	       atomic_load(&g.st->n_abandoned));
	printf("sigalrm_handled %ld\n", atomic_load(&g.st->n_sigalrm));
	printf("elapsed_ms %llu\n",
	       (unsigned long long)((now_ns() - t0) / 1000000u));
	SSL_CTX_free(g.tgt.ssl_ctx);
	if (rc)
		return rc;
	return atomic_load(&g.st->n_errors) ? 1 : 0;
}
