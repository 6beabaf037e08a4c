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
 * The protocol layout follows the MySQL client/server protocol
 * documentation (Protocol::HandshakeV10, Protocol::SSLRequest,
 * Protocol::HandshakeResponse41, Native Authentication).  This file holds
 * the whole client; the server and its setup live in mysql_connect_storm.sh.
 *
 * Output: "connects_ok X failures Y host_blocked Z errors W" plus detail
 * lines.  Exit status: 0 when the run completed (whatever the counts), 1
 * when an attempt failed for a reason other than EINTR or host blocking,
 * 2 on a usage or setup error.
 *
 * Build: gcc -O2 -g -Wall -Wextra -pthread mysql_connect_storm.c \
 *            -o mysql_connect_storm -lssl -lcrypto
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#define NOINLINE __attribute__((noinline, noclone))

/* Capability flags (include/mysql_com.h). */
#define CLIENT_LONG_PASSWORD		0x00000001u
#define CLIENT_LONG_FLAG		0x00000004u
#define CLIENT_PROTOCOL_41		0x00000200u
#define CLIENT_SSL			0x00000800u
#define CLIENT_TRANSACTIONS		0x00002000u
#define CLIENT_SECURE_CONNECTION	0x00008000u
#define CLIENT_MULTI_RESULTS		0x00020000u
#define CLIENT_PLUGIN_AUTH		0x00080000u

#define CLIENT_CAPS (CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | \
		     CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_TRANSACTIONS | \
		     CLIENT_SECURE_CONNECTION | CLIENT_MULTI_RESULTS | \
		     CLIENT_PLUGIN_AUTH)

#define ER_HOST_IS_BLOCKED	1129
#define CHARSET_UTF8_GENERAL	33
#define MAX_PACKET		(16u << 20)
#define SCRAMBLE_LEN		20
#define NATIVE_PLUGIN		"mysql_native_password"

/* Results of one attempt other than 0 (connected and quit cleanly). */
#define R_EINTR		(-1)	/* a wait returned EINTR: the failure */
#define R_BLOCKED	(-2)	/* the server answered 1129 */
#define R_ERROR		(-3)	/* anything else */

enum step { S_CONNECT, S_GREETING, S_TLS, S_AUTH, S_QUIT, N_STEPS };

static const char *const step_names[N_STEPS] = {
	"connect", "greeting", "tls", "auth", "quit"
};

static struct {
	struct sockaddr_in server;
	struct sockaddr_in source;	/* sin_family 0: let the kernel pick */
	const char *user;
	const char *password;
	long n_per_thread;
	long n_threads;
	long timeout_ms;	/* per wait, like connect_timeout */
	long max_attempts;	/* per connection */
	uint64_t deadline_ns;
	SSL_CTX *ssl_ctx;
	struct stats *st;	/* shared with the --processes children */
} g = {
	.user = "storm",
	.password = "storm",
	.n_per_thread = 150,
	.n_threads = 4,
	.timeout_ms = 10000,
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

/* One connection being made. */
struct conn {
	int fd;
	SSL *ssl;
	int idx;			/* the worker's number */
	uint8_t seq;			/* packet sequence id */
	uint8_t scramble[SCRAMBLE_LEN];
	char err[160];			/* why it failed, for R_ERROR */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int conn_error(struct conn *c, const char *what, int err)
{
	snprintf(c->err, sizeof(c->err), "%s: %s", what,
		 err ? strerror(err) : "protocol error");
	return R_ERROR;
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

static void on_sigalrm(int sig, siginfo_t *info, void *uctx)
{
	(void)sig;
	(void)info;
	(void)uctx;
	atomic_fetch_add(&g.st->n_sigalrm, 1);
}

static int sigalrm_start(long usec)
{
	struct sigaction sa;
	struct itimerval it;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigalrm;
	sa.sa_flags = SA_RESTART | SA_SIGINFO;
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

static void sigalrm_stop(void)
{
	struct itimerval it;

	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
}

/* ---- waiting and I/O: every wait is a poll() with a timeout --------------- */

/*
 * Wait until FD is ready for EVENTS.  Returns 0, R_EINTR when poll() was
 * interrupted (libmysqlclient 5.x's vio_io_wait() returned -1 then and the
 * connection attempt failed), or R_ERROR on a timeout.
 */
NOINLINE static int storm_wait(struct conn *c, short events)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };
	int rc;

	rc = poll(&pfd, 1, (int)g.timeout_ms);
	if (rc < 0 && errno == EINTR)
		return R_EINTR;
	if (rc < 0)
		return conn_error(c, "poll", errno);
	if (rc == 0)
		return conn_error(c, "poll", ETIMEDOUT);
	return 0;
}

/* Map an OpenSSL result to a wait, or an error. */
static int ssl_retry(struct conn *c, int rc, const char *what)
{
	int ssl_err = SSL_get_error(c->ssl, rc);
	unsigned long e;

	if (ssl_err == SSL_ERROR_WANT_READ)
		return storm_wait(c, POLLIN);
	if (ssl_err == SSL_ERROR_WANT_WRITE)
		return storm_wait(c, POLLOUT);
	if (ssl_err == SSL_ERROR_ZERO_RETURN)
		return conn_error(c, what, ECONNRESET);
	if (ssl_err == SSL_ERROR_SYSCALL)
		return conn_error(c, what, errno ? errno : ECONNRESET);
	e = ERR_get_error();
	snprintf(c->err, sizeof(c->err), "%s: %s", what,
		 e ? ERR_reason_error_string(e) : "TLS error");
	ERR_clear_error();
	return R_ERROR;
}

static int io_read(struct conn *c, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n;
		int rc;

		if (c->ssl) {
			n = SSL_read(c->ssl, p, (int)len);
			if (n <= 0) {
				rc = ssl_retry(c, (int)n, "SSL_read");
				if (rc)
					return rc;
				continue;
			}
		} else {
			n = recv(c->fd, p, len, MSG_DONTWAIT);
			if (n == 0)
				return conn_error(c, "recv", ECONNRESET);
			if (n < 0) {
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					return conn_error(c, "recv", errno);
				rc = storm_wait(c, POLLIN);
				if (rc)
					return rc;
				continue;
			}
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int io_write(struct conn *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n;
		int rc;

		if (c->ssl) {
			n = SSL_write(c->ssl, p, (int)len);
			if (n <= 0) {
				rc = ssl_retry(c, (int)n, "SSL_write");
				if (rc)
					return rc;
				continue;
			}
		} else {
			n = send(c->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0) {
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					return conn_error(c, "send", errno);
				rc = storm_wait(c, POLLOUT);
				if (rc)
					return rc;
				continue;
			}
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read one packet (payloads < 16 MiB only); sets *LEN. */
static int packet_read(struct conn *c, uint8_t *buf, size_t cap, size_t *len)
{
	uint8_t hdr[4];
	size_t n;
	int rc;

	rc = io_read(c, hdr, sizeof(hdr));
	if (rc)
		return rc;
	n = hdr[0] | (size_t)hdr[1] << 8 | (size_t)hdr[2] << 16;
	if (n > cap)
		return conn_error(c, "packet too long", 0);
	c->seq = (uint8_t)(hdr[3] + 1);
	rc = io_read(c, buf, n);
	if (rc)
		return rc;
	*len = n;
	return 0;
}

static int packet_write(struct conn *c, const uint8_t *payload, size_t len)
{
	uint8_t buf[512];

	if (len + 4 > sizeof(buf))
		return conn_error(c, "packet too long", 0);
	buf[0] = (uint8_t)len;
	buf[1] = (uint8_t)(len >> 8);
	buf[2] = (uint8_t)(len >> 16);
	buf[3] = c->seq++;
	memcpy(buf + 4, payload, len);
	return io_write(c, buf, len + 4);
}

/* An ERR packet: 1129 means the host is blocked. */
static int err_packet(struct conn *c, const uint8_t *p, size_t len)
{
	unsigned code = len >= 3 ? p[1] | (unsigned)p[2] << 8 : 0;
	size_t skip = len > 9 && p[3] == '#' ? 9 : 3;

	snprintf(c->err, sizeof(c->err), "server error %u: %.*s", code,
		 len > skip ? (int)(len - skip) : 0, (const char *)p + skip);
	return code == ER_HOST_IS_BLOCKED ? R_BLOCKED : R_ERROR;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* ---- the connection steps ------------------------------------------------ */

NOINLINE static int storm_connect(struct conn *c)
{
	int so_err = 0, rc;
	socklen_t len = sizeof(so_err);

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return conn_error(c, "socket", errno);
	if (g.source.sin_family &&
	    bind(c->fd, (struct sockaddr *)&g.source, sizeof(g.source)) < 0)
		return conn_error(c, "bind", errno);
	if (connect(c->fd, (struct sockaddr *)&g.server,
		    sizeof(g.server)) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return conn_error(c, "connect", errno);
	rc = storm_wait(c, POLLOUT);
	if (rc)
		return rc;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &so_err, &len) < 0)
		return conn_error(c, "getsockopt", errno);
	if (so_err)
		return conn_error(c, "connect", so_err);
	return 0;
}

/* Protocol::HandshakeV10: keep the 20-byte scramble. */
NOINLINE static int storm_greeting(struct conn *c)
{
	uint8_t p[1024];
	size_t len, i;
	uint32_t caps;
	int rc;

	rc = packet_read(c, p, sizeof(p), &len);
	if (rc)
		return rc;
	if (len > 0 && p[0] == 0xff)
		return err_packet(c, p, len);
	if (len < 1 || p[0] != 10)
		return conn_error(c, "greeting", 0);
	i = 1;
	while (i < len && p[i])		/* server version */
		i++;
	i++;
	/* conn id 4, scramble 8, filler 1, caps 2, charset 1, status 2,
	 * caps 2, auth data length 1, reserved 10, scramble 12 + NUL */
	if (i + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10 + 13 > len)
		return conn_error(c, "greeting too short", 0);
	memcpy(c->scramble, p + i + 4, 8);
	caps = p[i + 13] | (uint32_t)p[i + 14] << 8 |
	       (uint32_t)p[i + 18] << 16 | (uint32_t)p[i + 19] << 24;
	memcpy(c->scramble + 8, p + i + 31, 12);
	if (!(caps & CLIENT_SSL))
		return conn_error(c, "server has no TLS", 0);
	if (!(caps & CLIENT_PROTOCOL_41) || !(caps & CLIENT_PLUGIN_AUTH))
		return conn_error(c, "server too old", 0);
	return 0;
}

/* The 32 bytes that start both the SSLRequest and the HandshakeResponse. */
static void client_caps(uint8_t *p)
{
	memset(p, 0, 32);
	put_u32(p, CLIENT_CAPS);
	put_u32(p + 4, MAX_PACKET);
	p[8] = CHARSET_UTF8_GENERAL;
}

/* Protocol::SSLRequest, then the TLS handshake. */
NOINLINE static int storm_tls(struct conn *c)
{
	uint8_t req[32];
	int rc;

	client_caps(req);
	rc = packet_write(c, req, sizeof(req));
	if (rc)
		return rc;
	c->ssl = SSL_new(g.ssl_ctx);
	if (!c->ssl || !SSL_set_fd(c->ssl, c->fd))
		return conn_error(c, "SSL_new", ENOMEM);
	for (;;) {
		rc = SSL_connect(c->ssl);
		if (rc == 1)
			return 0;
		rc = ssl_retry(c, rc, "SSL_connect");
		if (rc)
			return rc;
	}
}

/* SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))). */
static int native_password(const char *pw, const uint8_t *scramble,
			   uint8_t *out)
{
	uint8_t s1[EVP_MAX_MD_SIZE], s2[EVP_MAX_MD_SIZE], s3[EVP_MAX_MD_SIZE];
	uint8_t buf[SCRAMBLE_LEN + 20];
	int i;

	if (!EVP_Digest(pw, strlen(pw), s1, NULL, EVP_sha1(), NULL) ||
	    !EVP_Digest(s1, 20, s2, NULL, EVP_sha1(), NULL))
		return -1;
	memcpy(buf, scramble, SCRAMBLE_LEN);
	memcpy(buf + SCRAMBLE_LEN, s2, 20);
	if (!EVP_Digest(buf, sizeof(buf), s3, NULL, EVP_sha1(), NULL))
		return -1;
	for (i = 0; i < 20; i++)
		out[i] = s1[i] ^ s3[i];
	return 0;
}

/* Protocol::HandshakeResponse41 over TLS, then OK (or an auth switch). */
NOINLINE static int storm_auth(struct conn *c)
{
	uint8_t p[512], token[20];
	size_t len, user_len = strlen(g.user);
	int rc, n_switches = 0;

	if (user_len > 128)
		return conn_error(c, "user name too long", 0);
	client_caps(p);
	len = 32;
	memcpy(p + len, g.user, user_len + 1);
	len += user_len + 1;
	if (native_password(g.password, c->scramble, token))
		return conn_error(c, "sha1", 0);
	p[len++] = sizeof(token);
	memcpy(p + len, token, sizeof(token));
	len += sizeof(token);
	memcpy(p + len, NATIVE_PLUGIN, sizeof(NATIVE_PLUGIN));
	len += sizeof(NATIVE_PLUGIN);
	rc = packet_write(c, p, len);
	for (;;) {
		if (rc)
			return rc;
		rc = packet_read(c, p, sizeof(p), &len);
		if (rc)
			return rc;
		if (len > 0 && p[0] == 0x00)
			return 0;
		if (len > 0 && p[0] == 0xff)
			return err_packet(c, p, len);
		/* 0xfe: AuthSwitchRequest, plugin name NUL, new scramble. */
		if (len < 1 || p[0] != 0xfe || n_switches++ ||
		    len < 1 + sizeof(NATIVE_PLUGIN) + SCRAMBLE_LEN ||
		    memcmp(p + 1, NATIVE_PLUGIN, sizeof(NATIVE_PLUGIN)))
			return conn_error(c, "unexpected auth reply", 0);
		memcpy(c->scramble, p + 1 + sizeof(NATIVE_PLUGIN),
		       SCRAMBLE_LEN);
		if (native_password(g.password, c->scramble, token))
			return conn_error(c, "sha1", 0);
		rc = packet_write(c, token, sizeof(token));
	}
}

/* COM_QUIT, then close; the old client did not wait for the server. */
NOINLINE static int storm_quit(struct conn *c)
{
	static const uint8_t quit = 0x01;

	c->seq = 0;
	return packet_write(c, &quit, 1);
}

static void conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_set_quiet_shutdown(c->ssl, 1);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/*
 * One attempt: every step in order.  Returns 0 or an R_ code; *STEP is the
 * step that failed.
 */
NOINLINE static int storm_attempt(struct conn *c, enum step *step)
{
	int (*const steps[N_STEPS])(struct conn *) = {
		storm_connect, storm_greeting, storm_tls, storm_auth,
		storm_quit,
	};
	int rc = 0;

	c->fd = -1;
	c->ssl = NULL;
	c->seq = 0;
	c->err[0] = 0;
	ERR_clear_error();	/* per-thread queue: drop the last attempt's */
	for (*step = 0; *step < N_STEPS; (*step)++) {
		rc = steps[*step](c);
		if (rc)
			break;
	}
	conn_close(c);
	return rc;
}

NOINLINE static void *storm_worker(void *arg)
{
	struct conn c = { .fd = -1, .idx = (int)(intptr_t)arg };
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
					step_names[step], c.err);
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
		err = sigalrm_start(sigalrm_usec);
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
		sigalrm_stop();
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

	if (parse_ip("127.0.0.1", &g.server))
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
			num = &g.timeout_ms;
		else if (!strcmp(opt, "--max-seconds"))
			num = &max_seconds;
		else if (!strcmp(opt, "--sigalrm"))
			num = &sigalrm_usec;
		else if (!strcmp(opt, "--user"))
			g.user = val;
		else if (!strcmp(opt, "--password"))
			g.password = val;
		else if (!strcmp(opt, "--host") && !parse_ip(val, &g.server))
			;
		else if (!strcmp(opt, "--source") && !parse_ip(val, &g.source))
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
	    g.timeout_ms < 1 || max_seconds < 1 || max_seconds > 3600 ||
	    sigalrm_usec > 10000000) {
		usage();
		return 2;
	}
	g.server.sin_port = htons((uint16_t)port);

	g.st = mmap(NULL, sizeof(*g.st), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g.st == MAP_FAILED) {
		perror("mysql_connect_storm: mmap");
		return 2;
	}
	/* A write to a connection the server dropped must fail, not kill us;
	 * libmysqlclient ignored SIGPIPE too (mysql_server_init()). */
	signal(SIGPIPE, SIG_IGN);
	g.ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (!g.ssl_ctx) {
		fprintf(stderr, "mysql_connect_storm: SSL_CTX_new failed\n");
		return 2;
	}
	/* libmysqlclient 5.x did not verify the server by default. */
	SSL_CTX_set_verify(g.ssl_ctx, SSL_VERIFY_NONE, NULL);

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
		printf(" %s %ld", step_names[i],
		       atomic_load(&g.st->n_fail_step[i]));
	printf("\n");
	printf("connects_wanted %ld abandoned %ld\n",
	       g.n_per_thread * g.n_threads * n_procs,
	       atomic_load(&g.st->n_abandoned));
	printf("sigalrm_handled %ld\n", atomic_load(&g.st->n_sigalrm));
	printf("elapsed_ms %llu\n",
	       (unsigned long long)((now_ns() - t0) / 1000000u));
	SSL_CTX_free(g.ssl_ctx);
	if (rc)
		return rc;
	return atomic_load(&g.st->n_errors) ? 1 : 0;
}
