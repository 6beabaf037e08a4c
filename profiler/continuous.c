/*
 * continuous.c - the writer thread of the production controls: every
 * period it takes the samples of the period (a snapshot tap), writes them
 * to a file named from a pattern (%p pid, %t time), removes the files
 * beyond the last K it wrote, and hands a pprof of the period to the push
 * thread; on the control signal's "dump" it writes at once (the period so
 * far in continuous mode, else the cumulative profile).  The thread has
 * its own epoll set: a timerfd (the period), the eventfd the sampler
 * writes on a control signal, and an eventfd for stop.
 *
 * Files are written like every profile (formats/sink.c): a temporary
 * created O_EXCL|O_NOFOLLOW next to the target, then rename, so a symlink
 * planted in a shared directory is never followed and a reader never sees
 * half a file.  Only files this process wrote are ever removed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "controls.h"
#include "formats.h"
#include "internal.h"
#include "session.h"
#include "snapshot.h"
#include "store.h"

enum { EV_STOP = 1, EV_PERIOD = 2, EV_NOTIFY = 3 };

struct sp_writer {
	stillprof_session *s;
	pthread_t thread;
	int epfd, stop_efd, tfd;
	struct sp_tap *tap;        /* periodic: the current period */
	int write_files;           /* period_s > 0 */
	char *pattern;
	int format;
	unsigned keep;
	char **kept;               /* ring of the last `keep` files */
	size_t kept_next;
	unsigned dumps_seen;
	struct sp_push *push;
};

int sp_path_expand(const char *pattern, pid_t pid, uint64_t realtime_ns,
                   char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = pattern; *p; p++) {
		char tmp[64];
		const char *add = tmp;

		if (*p != '%') {
			tmp[0] = *p;
			tmp[1] = '\0';
		} else if (p[1] == 'p') {
			snprintf(tmp, sizeof(tmp), "%d", (int)pid);
			p++;
		} else if (p[1] == 't') {
			time_t t = (time_t)(realtime_ns / 1000000000u);
			struct tm tm;
			size_t k;

			gmtime_r(&t, &tm);
			k = strftime(tmp, sizeof(tmp), "%Y%m%dT%H%M%S", &tm);
			snprintf(tmp + k, sizeof(tmp) - k, ".%03uZ",
			         (unsigned)(realtime_ns / 1000000u % 1000u));
			p++;
		} else if (p[1] == '%') {
			add = "%";
			p++;
		} else {
			return -EINVAL;
		}
		if (o + strlen(add) >= len)
			return -ENAMETOOLONG;
		memcpy(out + o, add, strlen(add));
		o += strlen(add);
	}
	out[o] = '\0';
	return 0;
}

/* The pattern of the files: the option's, else stillprof-%p[-%t].EXT;
 * periodic files need %t, inserted before the extension if missing. */
static char *make_pattern(const struct stillprof_control_options *o)
{
	const char *ext = stillprof_format_extension(o->format);
	const char *base = o->out && *o->out ? o->out : "stillprof-%p";
	size_t n = strlen(base) + strlen(ext) + 8;
	char *p = sp_malloc(n);
	size_t bl = strlen(base), el = strlen(ext);

	if (!p)
		return NULL;
	if (o->out && *o->out && (!o->period_s || strstr(base, "%t")))
		snprintf(p, n, "%s", base);
	else if (o->out && *o->out && bl > el && !strcmp(base + bl - el, ext))
		snprintf(p, n, "%.*s-%%t%s", (int)(bl - el), base, ext);
	else if (o->out && *o->out)
		snprintf(p, n, "%s-%%t", base);
	else
		snprintf(p, n, "%s%s%s", base, o->period_s ? "-%t" : "", ext);
	return p;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct render {
	const struct sp_store *st;
	int format, raw;
};

static int render_cb(struct sp_sink *sink, void *arg)
{
	struct render *r = arg;

	return sp_render_store(r->st, r->format, r->raw, sink);
}

/* Remember path; remove the file written `keep` writes ago. */
static void rotate(struct sp_writer *w, const char *path)
{
	char *old;

	if (!w->keep)
		return;
	old = w->kept[w->kept_next];
	if (old && strcmp(old, path) != 0 && unlink(old) < 0 &&
	    errno != ENOENT)
		sp_warn("continuous: removing %s: %s", old, strerror(errno));
	sp_free(old);
	w->kept[w->kept_next] = sp_strdup(path);
	w->kept_next = (w->kept_next + 1) % w->keep;
}

static void push_store(struct sp_writer *w, const struct sp_store *st,
                       uint64_t from_ns, uint64_t until_ns)
{
	struct sp_sink m;
	unsigned hz = 1000000u / w->s->opts.interval_us;

	sp_sink_init_mem(&m);
	if (sp_render_store(st, STILLPROF_FORMAT_PPROF, 0, &m) || m.err) {
		sp_sink_fini(&m);
		return;
	}
	/* The push thread owns the buffer from here. */
	sp_push_enqueue(w->push, m.buf, m.len, from_ns / 1000000000u,
	                (until_ns + 999999999u) / 1000000000u, hz ? hz : 1);
}

/* End the current period: write it (continuous mode) and/or push it. */
static void period(struct sp_writer *w)
{
	struct sp_store *st = NULL;
	uint64_t from = 0, until = 0;
	char path[4096];
	int err;

	if (sp_snap_tap_take(w->s, w->tap, &st, &from, &until))
		return;
	if (!st->n_samples && !st->info.duration_ns) {
		/* The session did not run in this period (e.g. its start
		 * failed): no file for nothing. */
		sp_store_free(st);
		return;
	}
	err = sp_snap_resolve(st);
	if (err)
		sp_warn("continuous: symbolizing: %s", stillprof_strerror(err));
	if (!err && w->write_files) {
		struct render r = {st, w->format, w->s->opts.raw};

		err = sp_path_expand(w->pattern, getpid(), until, path,
		                     sizeof(path));
		if (!err)
			err = sp_write_file_atomic(path, render_cb, &r);
		if (err)
			sp_warn("continuous: writing %s: %s", w->pattern,
			        stillprof_strerror(err));
		else
			rotate(w, path);
	}
	if (!err && w->push && st->n_samples)
		push_store(w, st, from, until);
	sp_store_free(st);
}

static void dump(struct sp_writer *w)
{
	char path[4096];
	int err;

	if (w->write_files) {
		period(w); /* continuous: end the period early */
		return;
	}
	err = sp_path_expand(w->pattern, getpid(), realtime_ns(), path,
	                     sizeof(path));
	if (!err)
		err = sp_snap_write_now(w->s, path, w->format);
	if (err)
		sp_warn("signal dump to %s: %s", w->pattern,
		        stillprof_strerror(err));
}

static void *writer_main(void *arg)
{
	struct sp_writer *w = arg;
	struct sp_snap *n = w->s->snap;
	struct epoll_event evs[4];

	for (;;) {
		int k = epoll_wait(w->epfd, evs, 4, -1), stop = 0;
		uint64_t v;

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			break;
		for (int i = 0; i < k; i++) {
			switch (evs[i].data.u32) {
			case EV_STOP:
				stop = 1;
				break;
			case EV_PERIOD:
				if (read(w->tfd, &v, sizeof(v)) > 0)
					period(w);
				break;
			case EV_NOTIFY:
				if (read(n->notify_efd, &v, sizeof(v)) > 0 &&
				    atomic_load(&n->dump_req) !=
				        w->dumps_seen) {
					w->dumps_seen =
					    atomic_load(&n->dump_req);
					dump(w);
				}
				break;
			}
		}
		if (stop)
			break;
	}
	return NULL;
}

static int watch(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};

	if (fd >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

static void writer_free(struct sp_writer *w)
{
	if (w->tap)
		sp_snap_tap_close(w->s, w->tap);
	sp_close(w->epfd);
	sp_close(w->stop_efd);
	sp_close(w->tfd);
	for (unsigned i = 0; w->kept && i < w->keep; i++)
		sp_free(w->kept[i]);
	sp_free(w->kept);
	sp_free(w->pattern);
	sp_free(w);
}

int sp_writer_start(stillprof_session *s,
                    const struct stillprof_control_options *o,
                    struct sp_push *push, struct sp_writer **out)
{
	struct sp_writer *w = sp_calloc(1, sizeof(*w));
	unsigned tick = o->period_s ? o->period_s
	                            : (push ? o->push_period_s : 0);
	int err;

	if (!w)
		return SP_ERR(-ENOMEM);
	w->s = s;
	w->epfd = w->stop_efd = w->tfd = -1;
	w->write_files = o->period_s > 0;
	w->format = o->format;
	w->keep = o->period_s ? o->keep : 0;
	w->push = push;
	w->dumps_seen = atomic_load(&s->snap->dump_req);
	w->pattern = make_pattern(o);
	if (!w->pattern || (w->keep &&
	                    !(w->kept = sp_calloc(w->keep, sizeof(char *))))) {
		err = SP_ERR(-ENOMEM);
		goto fail;
	}
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->epfd < 0 || w->stop_efd < 0)
		goto fail_errno;
	if ((err = watch(w->epfd, w->stop_efd, EV_STOP)) ||
	    (err = watch(w->epfd, s->snap->notify_efd, EV_NOTIFY)))
		goto fail;
	if (tick) {
		struct itimerspec its = {{tick, 0}, {tick, 0}};

		w->tfd = timerfd_create(CLOCK_MONOTONIC,
		                        TFD_CLOEXEC | TFD_NONBLOCK);
		if (w->tfd < 0 || timerfd_settime(w->tfd, 0, &its, NULL) < 0)
			goto fail_errno;
		if ((err = watch(w->epfd, w->tfd, EV_PERIOD)))
			goto fail;
		if ((err = sp_snap_tap_open(s, &w->tap)))
			goto fail;
	}
	err = sp_thread_spawn(&w->thread, writer_main, w);
	if (err)
		goto fail;
	*out = w;
	return 0;
fail_errno:
	err = SP_ERR(-errno);
fail:
	writer_free(w);
	return err;
}

void sp_writer_stop(struct sp_writer *w)
{
	if (!w)
		return;
	sp_eventfd_kick(w->stop_efd, "continuous");
	pthread_join(w->thread, NULL);
	/* The last (partial) period, after the session stopped. */
	if (w->tap)
		period(w);
	writer_free(w);
}
