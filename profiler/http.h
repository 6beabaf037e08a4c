/*
 * http.h - the small HTTP/1.1 pieces the production controls share
 * (http_util.c): URL and listen-address parsing, connect/send/receive with
 * deadlines (every wait is bounded, nothing here can hang a thread), and
 * percent-encoding.  Used by http_push.c (client) and http_serve.c
 * (server); no TLS: a local agent (e.g. Grafana Alloy) can add it.
 */
#ifndef SP_HTTP_H
#define SP_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct sp_sink;

struct sp_url {
	char host[256];   /* without brackets for IPv6 literals */
	char port[8];
	char path[1024];  /* path and query, starts with '/' */
};

/* Parse "http://HOST[:PORT][/PATH]" (port 80 by default).  Returns 0 or
 * -EINVAL, -EPROTONOSUPPORT for https and other schemes. */
int sp_http_parse_url(const char *url, struct sp_url *out);

/* Connect to host:port (numeric or a name), waiting at most timeout_ms
 * for the name lookup and the connection together.
 * Returns a non-blocking O_CLOEXEC socket or -errno (-ETIMEDOUT). */
int sp_http_connect(const char *host, const char *port, int timeout_ms);

struct addrinfo;
/* http_resolve.c: resolve host:port (SOCK_STREAM) before the deadline
 * (CLOCK_MONOTONIC ns); numeric hosts need no lookup.  Returns 0 and a
 * list to freeaddrinfo, or -ETIMEDOUT, -EHOSTUNREACH, -ENOMEM. */
int sp_http_resolve(const char *host, const char *port, uint64_t deadline,
                    struct addrinfo **out);

/* Send all of buf before the deadline (CLOCK_MONOTONIC ns).  Returns 0
 * or -errno (-ETIMEDOUT). */
int sp_http_send(int fd, const void *buf, size_t len, uint64_t deadline);

/* Read up to the end of the header block ("\r\n\r\n") into buf (NUL
 * terminated) before the deadline.  Returns the header length, -EMSGSIZE
 * if it does not fit, -ECONNRESET on EOF before it, or -errno. */
int sp_http_recv_head(int fd, char *buf, size_t cap, uint64_t deadline);

/* Append s percent-encoded (RFC 3986 unreserved kept) to sink. */
void sp_http_put_escaped(struct sp_sink *sink, const char *s);

/*
 * Listen on "HOST:PORT" (IPv4, "[v6]:PORT", "localhost:PORT") or
 * "unix:/PATH".  Non-loopback addresses are refused with -EPERM unless
 * allow_remote.  A Unix socket is created with mode 0600 (a stale socket
 * at PATH is replaced, any other file is not).  Returns a listening
 * non-blocking O_CLOEXEC socket or -errno; *is_unix tells which.
 */
int sp_http_listen(const char *spec, int allow_remote, int *is_unix);

#endif
