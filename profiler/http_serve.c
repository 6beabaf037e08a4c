/*
 * http_serve.c - the opt-in pull endpoint (STILLPROF_HTTP): answers
 * GET /debug/pprof/profile?seconds=N with a gzipped pprof of the next N
 * seconds (default 30, at most 3600), the URL `go tool pprof`, Parca and
 * Grafana Alloy scrape.  One thread with its own epoll set (the listening
 * socket and an eventfd for teardown); requests are served one at a time,
 * others wait in the listen backlog.
 *
 * Security: it binds loopback addresses only unless the caller opts in
 * (http_any_addr); a Unix socket is created 0600 and every peer's uid is
 * checked with SO_PEERCRED (only our own euid is served).  A request head
 * must arrive within 5 s and fit 8 KiB; the answer must be taken within
 * 10 s: a slow or hostile client cannot hold the thread longer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "controls.h"
#include "formats.h"
#include "http.h"
#include "internal.h"
#include "session.h"
#include "snapshot.h"
#include "store.h"

#define HEAD_TIMEOUT_MS 5000
#define SEND_TIMEOUT_MS 10000
#define MAX_SECONDS 3600
#define DEFAULT_SECONDS 30

enum { EV_STOP = 1, EV_LISTEN = 2 };

struct sp_httpd {
	stillprof_session *s;
	pthread_t thread;
	int lfd, is_unix, epfd, stop_efd;
	char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static void reply(int fd, int status, const char *reason,
                  const char *ctype, const void *body, size_t len)
{
	char head[512];
	uint64_t deadline = sp_now_ns() + SEND_TIMEOUT_MS * 1000000ull;
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
	                 status, reason, ctype, len);

	if (sp_http_send(fd, head, (size_t)n, deadline) == 0 && len)
		sp_http_send(fd, body, len, deadline);
}

static void reply_text(int fd, int status, const char *reason,
                       const char *text)
{
	reply(fd, status, reason, "text/plain; charset=utf-8", text,
	      strlen(text));
}

/* Wait ms or until stop is asked.  Returns 1 when asked to stop. */
static int wait_or_stop(struct sp_httpd *h, unsigned seconds)
{
	uint64_t deadline = sp_now_ns() + (uint64_t)seconds * 1000000000u;

	for (;;) {
		struct pollfd p = {.fd = h->stop_efd, .events = POLLIN};
		uint64_t now = sp_now_ns();
		int r;

		if (now >= deadline)
			return 0;
		r = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
		if (r > 0)
			return 1;
	}
}

/* seconds=N from the query, else the default; -1 when malformed. */
static long query_seconds(const char *q)
{
	long v = DEFAULT_SECONDS;

	while (q && *q) {
		if (!strncmp(q, "seconds=", 8)) {
			char *end;
			v = strtol(q + 8, &end, 10);
			if (end == q + 8 || (*end && *end != '&') || v < 1 ||
			    v > MAX_SECONDS)
				return -1;
		}
		q = strchr(q, '&');
		if (q)
			q++;
	}
	return v;
}

static void profile(struct sp_httpd *h, int fd, unsigned seconds)
{
	struct sp_tap *tap = NULL;
	struct sp_store *st = NULL;
	struct sp_sink m;
	int err;

	if ((err = sp_snap_tap_open(h->s, &tap))) {
		reply_text(fd, 500, "Internal Server Error",
		           stillprof_strerror(err));
		return;
	}
	if (wait_or_stop(h, seconds)) {
		sp_snap_tap_close(h->s, tap);
		reply_text(fd, 503, "Service Unavailable",
		           "the profiler is shutting down\n");
		return;
	}
	err = sp_snap_tap_take(h->s, tap, &st, NULL, NULL);
	sp_snap_tap_close(h->s, tap);
	if (!err)
		err = sp_snap_resolve(st);
	sp_sink_init_mem(&m);
	if (!err)
		err = sp_render_store(st, STILLPROF_FORMAT_PPROF, 0, &m);
	if (!err)
		err = m.err;
	if (err)
		reply_text(fd, 500, "Internal Server Error",
		           stillprof_strerror(err));
	else
		reply(fd, 200, "OK", "application/octet-stream", m.buf,
		      m.len);
	sp_sink_fini(&m);
	sp_store_free(st);
}

static void serve(struct sp_httpd *h, int fd)
{
	char head[8192], method[8], target[2048];
	uint64_t deadline = sp_now_ns() + HEAD_TIMEOUT_MS * 1000000ull;
	const char *q;
	long seconds;
	int r;

	/* The head is read before any answer, even a refusal: closing a
	 * socket with unread data resets it, and the client would see a
	 * reset instead of the status. */
	r = sp_http_recv_head(fd, head, sizeof(head), deadline);
	if (r < 0) {
		if (r == -EMSGSIZE)
			reply_text(fd, 431, "Request Header Fields Too Large",
			           "request head too large\n");
		return;
	}
	if (h->is_unix) {
		struct ucred cr;
		socklen_t len = sizeof(cr);

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0 ||
		    cr.uid != geteuid()) {
			reply_text(fd, 403, "Forbidden", "wrong user\n");
			return;
		}
	}
	if (sscanf(head, "%7s %2047s HTTP/1.", method, target) != 2) {
		reply_text(fd, 400, "Bad Request", "bad request line\n");
		return;
	}
	q = strchr(target, '?');
	if (strncmp(target, "/debug/pprof/profile", 20) != 0 ||
	    (target[20] && target[20] != '?')) {
		reply_text(fd, 404, "Not Found",
		           "only /debug/pprof/profile?seconds=N\n");
		return;
	}
	if (strcmp(method, "GET") != 0) {
		reply_text(fd, 405, "Method Not Allowed", "GET only\n");
		return;
	}
	seconds = query_seconds(q ? q + 1 : NULL);
	if (seconds < 0) {
		reply_text(fd, 400, "Bad Request", "seconds: 1..3600\n");
		return;
	}
	profile(h, fd, (unsigned)seconds);
}

static void *httpd_main(void *arg)
{
	struct sp_httpd *h = arg;
	struct epoll_event evs[2];

	for (;;) {
		int k = epoll_wait(h->epfd, evs, 2, -1), stop = 0;

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			break;
		for (int i = 0; i < k; i++) {
			int fd;

			if (evs[i].data.u32 == EV_STOP) {
				stop = 1;
				continue;
			}
			fd = accept4(h->lfd, NULL, NULL,
			             SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd < 0)
				continue;
			serve(h, fd);
			sp_close(fd);
		}
		if (stop)
			break;
	}
	return NULL;
}

static void httpd_free(struct sp_httpd *h)
{
	sp_close(h->lfd);
	sp_close(h->epfd);
	sp_close(h->stop_efd);
	if (h->unix_path[0])
		unlink(h->unix_path);
	sp_free(h);
}

int sp_httpd_start(stillprof_session *s, const char *spec, int allow_remote,
                   struct sp_httpd **out)
{
	struct sp_httpd *h = sp_calloc(1, sizeof(*h));
	struct epoll_event ev = {.events = EPOLLIN};
	int err;

	if (!h)
		return SP_ERR(-ENOMEM);
	h->s = s;
	h->epfd = h->stop_efd = -1;
	h->lfd = sp_http_listen(spec, allow_remote, &h->is_unix);
	if (h->lfd < 0) {
		err = h->lfd;
		h->lfd = -1;
		goto fail;
	}
	if (h->is_unix)
		snprintf(h->unix_path, sizeof(h->unix_path), "%s", spec + 5);
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	h->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->epfd < 0 || h->stop_efd < 0)
		goto fail_errno;
	ev.data.u32 = EV_STOP;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->stop_efd, &ev) < 0)
		goto fail_errno;
	ev.data.u32 = EV_LISTEN;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, h->lfd, &ev) < 0)
		goto fail_errno;
	err = sp_thread_spawn(&h->thread, httpd_main, h);
	if (err)
		goto fail;
	*out = h;
	return 0;
fail_errno:
	err = SP_ERR(-errno);
fail:
	httpd_free(h);
	return err;
}

void sp_httpd_stop(struct sp_httpd *h)
{
	if (!h)
		return;
	/* The eventfd stays readable: it ends a profile wait too. */
	sp_eventfd_kick(h->stop_efd, "http");
	pthread_join(h->thread, NULL);
	httpd_free(h);
}
