/*
 * http_util.c - the HTTP helpers of http.h: parsing, deadline-bounded
 * socket I/O, percent-encoding, and the loopback-only listener.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "formats.h"
#include "http.h"
#include "internal.h"

int sp_http_parse_url(const char *url, struct sp_url *out)
{
	const char *p, *host_end, *path;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!url)
		return -EINVAL;
	if (strncmp(url, "http://", 7) != 0)
		return strstr(url, "://") ? -EPROTONOSUPPORT : -EINVAL;
	p = url + 7;
	path = strchr(p, '/');
	if (!path)
		path = p + strlen(p);
	if (*p == '[') { /* [v6]:port */
		host_end = memchr(p, ']', (size_t)(path - p));
		if (!host_end)
			return -EINVAL;
		n = (size_t)(host_end - p - 1);
		if (n == 0 || n >= sizeof(out->host))
			return -EINVAL;
		memcpy(out->host, p + 1, n);
		p = host_end + 1;
	} else {
		host_end = memchr(p, ':', (size_t)(path - p));
		if (!host_end)
			host_end = path;
		n = (size_t)(host_end - p);
		if (n == 0 || n >= sizeof(out->host))
			return -EINVAL;
		memcpy(out->host, p, n);
		p = host_end;
	}
	if (*p == ':') {
		char *end;
		unsigned long port;

		p++;
		port = strtoul(p, &end, 10);
		if (end != path || end == p || port == 0 || port > 65535)
			return -EINVAL;
		snprintf(out->port, sizeof(out->port), "%lu", port);
	} else if (p != path) {
		return -EINVAL;
	} else {
		snprintf(out->port, sizeof(out->port), "80");
	}
	if (strlen(path) >= sizeof(out->path))
		return -EINVAL;
	snprintf(out->path, sizeof(out->path), "%s", *path ? path : "/");
	for (const char *c = out->path; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return -EINVAL; /* no header injection */
	for (const char *c = out->host; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == '/' || *c == '@')
			return -EINVAL;
	return 0;
}

static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = sp_now_ns();
		struct pollfd p = {.fd = fd, .events = events};
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

int sp_http_connect(const char *host, const char *port, int timeout_ms)
{
	struct addrinfo *ai = NULL, *a;
	uint64_t deadline = sp_now_ns() + (uint64_t)timeout_ms * 1000000u;
	int err;

	/* The lookup shares the connect deadline (http_resolve.c). */
	err = sp_http_resolve(host, port, deadline, &ai);
	if (err)
		return err;
	err = -EHOSTUNREACH;
	for (a = ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family,
		                a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		                a->ai_protocol);
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		if (fd < 0) {
			err = -errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			freeaddrinfo(ai);
			return fd;
		}
		if (errno != EINPROGRESS) {
			err = -errno;
			sp_close(fd);
			continue;
		}
		err = wait_fd(fd, POLLOUT, deadline);
		if (!err && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
		                       &len) == 0 && soerr == 0) {
			freeaddrinfo(ai);
			return fd;
		}
		if (!err)
			err = -(soerr ? soerr : ECONNREFUSED);
		sp_close(fd);
	}
	freeaddrinfo(ai);
	return err;
}

int sp_http_send(int fd, const void *buf, size_t len, uint64_t deadline)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if ((n = wait_fd(fd, POLLOUT, deadline)))
			return (int)n;
	}
	return 0;
}

int sp_http_recv_head(int fd, char *buf, size_t cap, uint64_t deadline)
{
	size_t len = 0;

	while (len + 1 < cap) {
		ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
		char *end;

		if (n > 0) {
			len += (size_t)n;
			buf[len] = '\0';
			end = strstr(buf, "\r\n\r\n");
			if (end)
				return (int)(end - buf) + 4;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if ((n = wait_fd(fd, POLLIN, deadline)))
			return (int)n;
	}
	return -EMSGSIZE;
}

void sp_http_put_escaped(struct sp_sink *sink, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
			sp_sink_putc(sink, c);
		else
			sp_sink_printf(sink, "%%%02X", c);
	}
}

/* ---- listener ---- */

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat sb;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path) || path[0] != '/')
		return -EINVAL;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* Replace a stale socket of ours; never remove anything else. */
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode) || sb.st_uid != geteuid())
			return -EEXIST;
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* Between bind and chmod the socket has the umask's mode; a peer
	 * that connects in that instant is still refused by the server's
	 * SO_PEERCRED check. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, 16) < 0) {
		err = -errno;
		sp_close(fd);
		return err;
	}
	return fd;
}

static int is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >>
		        24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a);
	}
	return 0;
}

int sp_http_listen(const char *spec, int allow_remote, int *is_unix)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	char host[256];
	const char *colon;
	int fd, one = 1, err;
	size_t n;

	*is_unix = 0;
	if (!spec || !*spec)
		return -EINVAL;
	if (!strncmp(spec, "unix:", 5)) {
		*is_unix = 1;
		return listen_unix(spec + 5);
	}
	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');
		if (!rb || rb[1] != ':')
			return -EINVAL;
		n = (size_t)(rb - spec - 1);
		colon = rb + 1;
		spec++;
	} else {
		colon = strrchr(spec, ':');
		if (!colon)
			return -EINVAL;
		n = (size_t)(colon - spec);
	}
	if (n == 0 || n >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, n);
	host[n] = '\0';
	{
		char *end;
		unsigned long port = strtoul(colon + 1, &end, 10);
		if (!colon[1] || *end || port > 65535)
			return -EINVAL;
	}
	hints.ai_flags = AI_NUMERICSERV;
	hints.ai_family = AF_UNSPEC;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai)
		return -EINVAL;
	if (!allow_remote && !is_loopback(ai->ai_addr)) {
		freeaddrinfo(ai);
		return -EPERM;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	            0);
	if (fd < 0) {
		err = -errno;
		freeaddrinfo(ai);
		return err;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0) {
		err = -errno;
		sp_close(fd);
		freeaddrinfo(ai);
		return err;
	}
	freeaddrinfo(ai);
	return fd;
}
