/*
 * http_push.c - push profiles to a Pyroscope-compatible /ingest endpoint
 * (POST /ingest?name=APP{LABELS}&from=S&until=S&format=pprof&sampleRate=HZ
 * &spyName=stillprof, body: the gzipped pprof) from a thread of its own.
 *
 * The writer thread only enqueues (never waits on the network); the push
 * thread sends with a connect timeout and an I/O timeout and retries a
 * failed send (network error or 5xx) a bounded number of times with a
 * growing pause.  The queue is bounded: when the receiver is down for
 * long, the oldest profile is dropped and counted.  At stop every queued
 * profile gets one more attempt without retries, so exit is bounded.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "controls.h"
#include "formats.h"
#include "http.h"
#include "internal.h"

#define PUSH_QUEUE_MAX 8
#define PUSH_CONNECT_MS 2000
#define PUSH_IO_MS 5000
#define PUSH_RETRIES 2         /* after the first attempt */
#define PUSH_BACKOFF_MS 1000   /* doubled at each retry */
/* Stop waits at most this long for the push thread: a post in flight
 * (at most PUSH_CONNECT_MS + PUSH_IO_MS, the name lookup included) and
 * then one try per queued profile while time is left; the rest is
 * counted as failed. */
#define PUSH_STOP_MS 10000

struct push_item {
	char *body;
	size_t len;
	uint64_t from_s, until_s;
	unsigned rate_hz;
};

struct sp_push {
	struct sp_url url;
	char *name;               /* APP{labels}, not yet escaped */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct push_item q[PUSH_QUEUE_MAX];
	size_t head, n;
	int stopping;
	uint64_t stop_by;         /* CLOCK_MONOTONIC ns: give up at */
	uint64_t sent, failed, dropped;
};

/* One POST.  Returns 0 (2xx), 1 (retry: network error or 5xx) or -1
 * (the receiver refused it: 4xx, do not retry). */
static int post(struct sp_push *p, const struct push_item *it,
                uint64_t limit)
{
	struct sp_sink req;
	char head[2048];
	uint64_t deadline, now = sp_now_ns();
	int fd, r, status = 0, connect_ms = PUSH_CONNECT_MS;

	sp_sink_init_mem(&req);
	sp_sink_printf(&req, "POST %s%cname=", p->url.path,
	               strchr(p->url.path, '?') ? '&' : '?');
	sp_http_put_escaped(&req, p->name);
	sp_sink_printf(&req,
	               "&from=%llu&until=%llu&format=pprof&sampleRate=%u"
	               "&spyName=stillprof HTTP/1.1\r\n"
	               "Host: %s%s%s:%s\r\n"
	               "User-Agent: stillprof/" STILLPROF_VERSION "\r\n"
	               "Content-Type: application/octet-stream\r\n"
	               "Content-Length: %zu\r\nConnection: close\r\n\r\n",
	               (unsigned long long)it->from_s,
	               (unsigned long long)it->until_s, it->rate_hz,
	               strchr(p->url.host, ':') ? "[" : "", p->url.host,
	               strchr(p->url.host, ':') ? "]" : "", p->url.port,
	               it->len);
	if (req.err) {
		sp_sink_fini(&req);
		return 1;
	}
	if (limit) { /* stopping: within what is left */
		if (now >= limit) {
			sp_sink_fini(&req);
			return 1;
		}
		if ((limit - now) / 1000000u < (uint64_t)connect_ms)
			connect_ms = (int)((limit - now) / 1000000u) + 1;
	}
	fd = sp_http_connect(p->url.host, p->url.port, connect_ms);
	if (fd < 0) {
		sp_warn("push: connect %s:%s: %s", p->url.host, p->url.port,
		        strerror(-fd));
		sp_sink_fini(&req);
		return 1;
	}
	deadline = sp_now_ns() + PUSH_IO_MS * 1000000ull;
	if (limit && deadline > limit)
		deadline = limit;
	r = sp_http_send(fd, req.buf, req.len, deadline);
	if (!r)
		r = sp_http_send(fd, it->body, it->len, deadline);
	sp_sink_fini(&req);
	if (!r)
		r = sp_http_recv_head(fd, head, sizeof(head), deadline);
	sp_close(fd);
	if (r < 0) {
		sp_warn("push: %s", strerror(-r));
		return 1;
	}
	if (sscanf(head, "HTTP/1.%*d %d", &status) != 1)
		return 1;
	if (status >= 200 && status < 300)
		return 0;
	sp_warn("push: the receiver answered %d", status);
	return status >= 500 ? 1 : -1;
}

/* Sleep ms unless stop is asked (mu held). */
static void pause_locked(struct sp_push *p, unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (!p->stopping &&
	       pthread_cond_timedwait(&p->cv, &p->mu, &ts) == 0)
		;
}

static void *push_main(void *arg)
{
	struct sp_push *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct push_item it;
		int r = 1;

		while (!p->n && !p->stopping)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!p->n)
			break; /* stopping and drained */
		it = p->q[p->head];
		p->head = (p->head + 1) % PUSH_QUEUE_MAX;
		p->n--;
		for (unsigned a = 0, wait = PUSH_BACKOFF_MS;; a++, wait *= 2) {
			uint64_t limit = p->stopping ? p->stop_by : 0;

			pthread_mutex_unlock(&p->mu);
			r = post(p, &it, limit);
			pthread_mutex_lock(&p->mu);
			if (r <= 0 || a >= PUSH_RETRIES || p->stopping)
				break;
			pause_locked(p, wait);
		}
		if (r == 0)
			p->sent++;
		else
			p->failed++;
		sp_free(it.body);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int sp_push_new(const char *url, const char *app, const char *labels,
                struct sp_push **out)
{
	struct sp_push *p = sp_calloc(1, sizeof(*p));
	size_t n;
	int err;

	if (!p)
		return SP_ERR(-ENOMEM);
	err = sp_http_parse_url(url, &p->url);
	if (err) {
		sp_free(p);
		return err;
	}
	n = strlen(app) + (labels ? strlen(labels) : 0) + 3;
	p->name = sp_malloc(n);
	if (!p->name) {
		sp_free(p);
		return SP_ERR(-ENOMEM);
	}
	if (labels && *labels)
		snprintf(p->name, n, "%s{%s}", app, labels);
	else
		snprintf(p->name, n, "%s", app);
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	err = sp_thread_spawn(&p->thread, push_main, p);
	if (err) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		sp_free(p->name);
		sp_free(p);
		return err;
	}
	*out = p;
	return 0;
}

void sp_push_enqueue(struct sp_push *p, char *body, size_t len,
                     uint64_t from_s, uint64_t until_s, unsigned rate_hz)
{
	struct push_item it = {body, len, from_s, until_s, rate_hz};

	pthread_mutex_lock(&p->mu);
	if (p->n == PUSH_QUEUE_MAX) {
		sp_free(p->q[p->head].body);
		p->head = (p->head + 1) % PUSH_QUEUE_MAX;
		p->n--;
		p->dropped++;
		sp_warn("push: receiver too slow, dropped the oldest profile");
	}
	p->q[(p->head + p->n) % PUSH_QUEUE_MAX] = it;
	p->n++;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void sp_push_free(struct sp_push *p, struct sp_push_stats *st)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stopping = 1;
	p->stop_by = sp_now_ns() + PUSH_STOP_MS * 1000000ull;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	if (st) {
		st->sent = p->sent;
		st->failed = p->failed;
		st->dropped = p->dropped;
	}
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	sp_free(p->name);
	sp_free(p);
}
