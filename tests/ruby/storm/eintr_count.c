/*
 * eintr_count.c - LD_PRELOAD shim for the Ruby mysql2 storm test: counts
 * every EINTR that poll/ppoll/select/pselect/connect/recv/recvfrom/read
 * return in the process, and writes the counts to $EINTR_COUNT_OUT at
 * exit.  With $STORM_BIND_IP, an IPv4 TCP connect() to 127.0.0.1 first
 * binds the socket to that address: MariaDB keeps no host-cache entry for
 * 127.0.0.1 itself (see tests/integration/mysql_connect_storm.sh).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

enum { C_POLL, C_PPOLL, C_SELECT, C_PSELECT, C_CONNECT, C_RECV, C_RECVFROM,
       C_READ, C_N };
static const char *names[C_N] = { "poll", "ppoll", "select", "pselect",
	"connect", "recv", "recvfrom", "read" };
static unsigned long counts[C_N];

#define REAL(fn) \
	static __typeof__(fn) *real; \
	if (!real) \
		real = (__typeof__(fn) *)dlsym(RTLD_NEXT, #fn)

static void count(int which, long rc)
{
	if (rc < 0 && errno == EINTR)
		__atomic_add_fetch(&counts[which], 1, __ATOMIC_RELAXED);
}

int poll(struct pollfd *fds, nfds_t n, int timeout)
{
	REAL(poll);
	int rc = real(fds, n, timeout);
	count(C_POLL, rc);
	return rc;
}

int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
          const sigset_t *mask)
{
	REAL(ppoll);
	int rc = real(fds, n, ts, mask);
	count(C_PPOLL, rc);
	return rc;
}

int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
	REAL(select);
	int rc = real(n, r, w, e, tv);
	count(C_SELECT, rc);
	return rc;
}

int pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *ts,
            const sigset_t *mask)
{
	REAL(pselect);
	int rc = real(n, r, w, e, ts, mask);
	count(C_PSELECT, rc);
	return rc;
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	REAL(connect);
	const char *bind_ip = getenv("STORM_BIND_IP");
	int rc;

	if (bind_ip && sa && sa->sa_family == AF_INET &&
	    ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
	    htonl(INADDR_LOOPBACK)) {
		struct sockaddr_in me = { .sin_family = AF_INET };

		if (inet_pton(AF_INET, bind_ip, &me.sin_addr) == 1)
			bind(fd, (struct sockaddr *)&me, sizeof(me));
	}
	rc = real(fd, sa, len);
	count(C_CONNECT, rc);
	return rc;
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	REAL(recv);
	ssize_t rc = real(fd, buf, n, flags);
	count(C_RECV, rc);
	return rc;
}

ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *sa,
                 socklen_t *len)
{
	REAL(recvfrom);
	ssize_t rc = real(fd, buf, n, flags, sa, len);
	count(C_RECVFROM, rc);
	return rc;
}

ssize_t read(int fd, void *buf, size_t n)
{
	REAL(read);
	ssize_t rc = real(fd, buf, n);
	count(C_READ, rc);
	return rc;
}

__attribute__((destructor)) static void report(void)
{
	const char *path = getenv("EINTR_COUNT_OUT");
	unsigned long total = 0;
	FILE *f;
	int i;

	if (!path)
		return;
	f = fopen(path, "w");
	if (!f)
		return;
	for (i = 0; i < C_N; i++)
		total += counts[i];
	fprintf(f, "eintr_total %lu", total);
	for (i = 0; i < C_N; i++)
		fprintf(f, " %s %lu", names[i], counts[i]);
	fprintf(f, "\n");
	fclose(f);
}
