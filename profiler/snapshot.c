/*
 * snapshot.c - profiles taken while the session runs: the sampler side of
 * a cut, the consumers' taps and cumulative store, and the session's
 * start/stop hooks (output is in snapshot_write.c).  snapshot.h explains
 * the design.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "session.h"
#include "snapshot.h"
#include "switch_sample.h"
#include "store.h"

/* How long a consumer waits for the sampler to answer a cut.  The
 * sampler answers between two events, so this only expires when it is
 * stuck; the consumer then works with what was cut before. */
#define CUT_TIMEOUT_MS 2000

struct sp_delta {
	struct sp_store *st;
	struct sp_delta *next;
};

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void futex_wake_all(atomic_uint *word)
{
	syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, INT_MAX,
	        NULL, NULL, 0);
}

int sp_snap_new(struct stillprof_session *s)
{
	struct sp_snap *n = sp_calloc(1, sizeof(*n));

	if (!n)
		return SP_ERR(-ENOMEM);
	pthread_mutex_init(&n->mu, NULL);
	n->cumulative = 1;
	n->sig_fd = n->notify_efd = n->cut_efd = -1;
	s->snap = n;
	return 0;
}

static void free_pending(struct sp_snap *n)
{
	struct sp_delta *d = atomic_exchange(&n->pending, NULL);

	while (d) {
		struct sp_delta *next = d->next;
		sp_store_free(d->st);
		sp_free(d);
		d = next;
	}
}

void sp_snap_free(struct stillprof_session *s)
{
	struct sp_snap *n = s->snap;

	if (!n)
		return;
	free_pending(n);
	while (n->taps) {
		struct sp_tap *t = n->taps;
		n->taps = t->next;
		sp_store_free(t->st);
		sp_free(t);
	}
	sp_store_free(n->acc);
	sp_store_free(n->tmpl);
	sp_close(n->cut_efd);
	sp_close(n->sig_fd);
	sp_close(n->notify_efd);
	pthread_mutex_destroy(&n->mu);
	sp_free(n);
	s->snap = NULL;
}

void sp_snap_set_cumulative(struct stillprof_session *s, int on)
{
	pthread_mutex_lock(&s->snap->mu);
	s->snap->cumulative = on;
	pthread_mutex_unlock(&s->snap->mu);
}

/* A fresh store with the run facts of old (no threads, no samples). */
static int fresh_store(const struct sp_store *old, struct sp_store **out)
{
	int err = sp_store_new(out);

	if (err)
		return err;
	(*out)->info.mode = old->info.mode;
	(*out)->info.interval_us = old->info.interval_us;
	(*out)->info.backend = old->info.backend;
	(*out)->info.guarantee = old->info.guarantee;
	(*out)->info.pid = old->info.pid;
	(*out)->info.start_ns = old->info.start_ns;
	(*out)->info.start_realtime_ns = old->info.start_realtime_ns;
	/* Every piece of the run keeps its bounds (and says so). */
	(*out)->limits = old->limits;
	return 0;
}

/* A segment ends: give it its own share of the sampler's loss counters
 * (a period's metadata then counts that period only) and start the next
 * share.  missed_samples covers every loss of the segment. */
static void close_segment(struct stillprof_session *s, struct sp_store *seg)
{
	struct sp_snap *n = s->snap;
	struct sp_run_info *in = &seg->info;

	in->lost_records = s->c.lost_records - n->lost_base;
	in->missed_ticks = s->c.missed_ticks - n->ticks_base;
	in->offcpu_unknown = s->c.offcpu_unknown - n->unknown_base;
	in->missed_samples = sp_lost_missed(s, in->lost_records) +
	                     in->missed_ticks +
	                     in->offcpu_unknown +
	                     in->dropped_stack_limit +
	                     in->dropped_sample_limit;
	n->lost_base = s->c.lost_records;
	n->ticks_base = s->c.missed_ticks;
	n->unknown_base = s->c.offcpu_unknown;
}

/* ---- sampler side ---- */

/*
 * Swap in a fresh segment.  The sampler's thread entries and cached stacks
 * hold indices into the store, so the fresh store gets the threads of the
 * registry (exited ones are left behind with the old segment) and the
 * cached stacks; nothing is changed until all of that succeeded.
 */
static int cut(struct stillprof_session *s)
{
	struct sp_snap *n = s->snap;
	struct sp_store *old = s->store, *nw = NULL;
	struct sp_delta *d = NULL;
	uint32_t *idx = NULL;
	size_t nt = s->threads.n, i;
	uint64_t now = sp_now_ns();
	int err;

	if ((err = fresh_store(old, &nw)))
		goto fail;
	d = sp_calloc(1, sizeof(*d));
	idx = sp_calloc(nt * 3 + 1, sizeof(*idx));
	if (!d || !idx) {
		err = SP_ERR(-ENOMEM);
		goto fail;
	}
	for (i = 0; i < nt && !err; i++) {
		const struct sp_tstate *ts = s->threads.all[i];
		const struct sp_stack *k;

		/* A thread folded into "(other threads)" has no name
		 * of its own here: the next rescan gives it one. */
		err = sp_store_thread_new(
		    nw, ts->tid,
		    sp_store_thread_is_other(old, ts->store_thread)
		        ? NULL
		        : old->threads[ts->store_thread].name,
		    &idx[3 * i]);
		if (!err && ts->have_last_stack) {
			k = &old->stacks[ts->last_stack];
			err = sp_store_intern(nw, k->pcs, k->n, &idx[3 * i + 1]);
		}
		/* (A switch sample's stack not interned yet stays so.) */
		if (!err && ts->have_blocked_stack &&
		    ts->blocked_stack != SP_SWITCH_LAZY_STACK) {
			k = &old->stacks[ts->blocked_stack];
			err = sp_store_intern(nw, k->pcs, k->n, &idx[3 * i + 2]);
		}
	}
	if (err)
		goto fail;
	for (i = 0; i < nt; i++) {
		struct sp_tstate *ts = s->threads.all[i];

		ts->store_thread = idx[3 * i];
		ts->last_stack = idx[3 * i + 1];
		if (ts->blocked_stack != SP_SWITCH_LAZY_STACK)
			ts->blocked_stack = idx[3 * i + 2];
	}
	sp_free(idx);
	old->info.start_ns = n->seg_start_ns;
	old->info.start_realtime_ns = n->seg_start_real_ns;
	old->info.duration_ns = now - n->seg_start_ns;
	close_segment(s, old);
	n->seg_start_ns = now;
	n->seg_start_real_ns = realtime_ns();
	s->store = nw;
	d->st = old;
	/* Single producer: a plain CAS push; consumers take the whole list
	 * with an exchange, so there is no ABA. */
	d->next = atomic_load(&n->pending);
	while (!atomic_compare_exchange_weak(&n->pending, &d->next, d))
		;
	return 0;
fail:
	sp_free(idx);
	sp_free(d);
	sp_store_free(nw);
	n->cut_failures++;
	return err;
}

void sp_snap_on_event(struct stillprof_session *s, uint64_t tag)
{
	struct sp_snap *n = s->snap;
	uint64_t v;

	if (tag == SP_EV_CUT) {
		unsigned want;

		if (read(n->cut_efd, &v, sizeof(v)) < 0)
			return; /* spurious: nothing asked */
		want = atomic_load(&n->cut_req);
		/* Passes are up to 50 ms apart: without this a cut would
		 * miss the samples still in the rings. */
		sp_sampler_catch_up(s, sp_now_ns());
		cut(s);
		atomic_store(&n->cut_done, want);
		futex_wake_all(&n->cut_done);
		return;
	}
	if (tag == SP_EV_SIGNAL) {
		struct signalfd_siginfo si[8];
		ssize_t r;
		uint64_t one = 1;

		while ((r = read(n->sig_fd, si, sizeof(si))) > 0) {
			size_t k = (size_t)r / sizeof(si[0]);

			if (n->sig_action == SP_SIG_TOGGLE) {
				/* An odd number of signals flips the state. */
				if (k & 1)
					atomic_fetch_xor(&n->paused, 1);
				continue;
			}
			atomic_fetch_add(&n->dump_req, (unsigned)k);
			if (n->notify_efd >= 0 &&
			    write(n->notify_efd, &one, sizeof(one)) < 0)
				sp_debug("snapshot: notify: %s",
				         strerror(errno));
		}
	}
}

void sp_snap_sampler_exit(struct stillprof_session *s)
{
	struct sp_snap *n = s->snap;

	/* Nobody waits past the sampler's end: what the last cut missed is
	 * folded by sp_snap_after_stop. */
	atomic_store(&n->cut_done, atomic_load(&n->cut_req));
	futex_wake_all(&n->cut_done);
}

static int watch(int epfd, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	if (fd >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int sp_snap_watch(struct stillprof_session *s)
{
	int err = watch(s->epfd, s->snap->cut_efd, SP_EV_CUT);

	if (!err)
		err = watch(s->epfd, s->snap->sig_fd, SP_EV_SIGNAL);
	return err;
}

/* ---- consumers ---- */

static struct sp_delta *take_pending(struct sp_snap *n)
{
	struct sp_delta *d = atomic_exchange(&n->pending, NULL), *r = NULL;

	while (d) { /* LIFO -> cut order */
		struct sp_delta *next = d->next;
		d->next = r;
		r = d;
		d = next;
	}
	return r;
}

/* Give one segment to every tap and to acc; frees or keeps it. */
static void distribute(struct sp_snap *n, struct sp_store *seg)
{
	for (struct sp_tap *t = n->taps; t; t = t->next) {
		if (sp_store_merge(t->st, seg) == 0)
			t->st->info.duration_ns += seg->info.duration_ns;
		else
			t->lost++;
	}
	if (!n->cumulative) {
		sp_store_free(seg);
		return;
	}
	if (!n->acc) {
		/* The first segment of the session becomes acc itself;
		 * acc's duration counts finished runs (api.c adds each). */
		seg->info.duration_ns = 0;
		n->acc = seg;
		return;
	}
	if (sp_store_merge(n->acc, seg))
		sp_warn("snapshot: no memory to keep a segment");
	sp_store_free(seg);
}

void sp_snap_drain_locked(struct sp_snap *n)
{
	struct sp_delta *d = take_pending(n);

	while (d) {
		struct sp_delta *next = d->next;
		distribute(n, d->st);
		sp_free(d);
		d = next;
	}
}

/* Ask the running sampler for a cut and wait for it (mu held, so stop
 * cannot clear `live` meanwhile).  Returns 0, -ETIMEDOUT or -errno. */
int sp_snap_cut_locked(struct stillprof_session *s)
{
	struct sp_snap *n = s->snap;
	uint64_t one = 1, deadline;
	unsigned want;

	if (!atomic_load(&n->live))
		return 0;
	want = atomic_fetch_add(&n->cut_req, 1) + 1;
	if (write(n->cut_efd, &one, sizeof(one)) < 0)
		return SP_ERR(-errno);
	deadline = sp_now_ns() + CUT_TIMEOUT_MS * 1000000ull;
	for (;;) {
		unsigned done = atomic_load(&n->cut_done);
		uint64_t now = sp_now_ns();
		struct timespec ts;

		if ((int)(done - want) >= 0)
			break;
		if (now >= deadline)
			return SP_ERR(-ETIMEDOUT);
		ts.tv_sec = (time_t)((deadline - now) / 1000000000u);
		ts.tv_nsec = (long)((deadline - now) % 1000000000u);
		syscall(SYS_futex, (unsigned *)&n->cut_done,
		        FUTEX_WAIT_PRIVATE, done, &ts, NULL, 0);
	}
	n->last_cut_ns = sp_now_ns();
	return 0;
}

int sp_snap_tap_open(struct stillprof_session *s, struct sp_tap **out)
{
	struct sp_snap *n = s->snap;
	struct sp_tap *t = sp_calloc(1, sizeof(*t));
	int err;

	if (!t)
		return SP_ERR(-ENOMEM);
	pthread_mutex_lock(&n->mu);
	/* Cut first: the tap starts now, not at the previous cut. */
	sp_snap_cut_locked(s);
	sp_snap_drain_locked(n);
	err = n->tmpl ? fresh_store(n->tmpl, &t->st) : sp_store_new(&t->st);
	if (!err) {
		t->st->info.duration_ns = 0;
		t->from_realtime_ns = realtime_ns();
		t->from_ns = sp_now_ns();
		t->next = n->taps;
		n->taps = t;
	}
	pthread_mutex_unlock(&n->mu);
	if (err) {
		sp_free(t);
		return err;
	}
	*out = t;
	return 0;
}

int sp_snap_tap_take(struct stillprof_session *s, struct sp_tap *t,
                     struct sp_store **out, uint64_t *from_ns,
                     uint64_t *until_ns)
{
	struct sp_snap *n = s->snap;
	struct sp_store *nw = NULL;
	int err;

	pthread_mutex_lock(&n->mu);
	err = sp_snap_cut_locked(s);
	if (err)
		sp_warn("snapshot: %s; the profile ends at the previous cut",
		        stillprof_strerror(err));
	sp_snap_drain_locked(n);
	err = fresh_store(t->st, &nw);
	if (!err) {
		nw->info.duration_ns = 0;
		/* The profile starts where the tap did. */
		t->st->info.start_ns = t->from_ns;
		t->st->info.start_realtime_ns = t->from_realtime_ns;
		*out = t->st;
		if (from_ns)
			*from_ns = t->from_realtime_ns;
		t->st = nw;
		t->from_realtime_ns = realtime_ns();
		t->from_ns = sp_now_ns();
		if (until_ns)
			*until_ns = t->from_realtime_ns;
	}
	pthread_mutex_unlock(&n->mu);
	return err;
}

void sp_snap_tap_close(struct stillprof_session *s, struct sp_tap *t)
{
	struct sp_snap *n = s->snap;
	struct sp_tap **p;

	if (!t)
		return;
	pthread_mutex_lock(&n->mu);
	for (p = &n->taps; *p; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			break;
		}
	pthread_mutex_unlock(&n->mu);
	sp_store_free(t->st);
	sp_free(t);
}

/* ---- session life cycle ---- */

int sp_snap_before_start(struct stillprof_session *s)
{
	struct sp_snap *n = s->snap;
	struct sp_store *nw;
	int err = 0;

	pthread_mutex_lock(&n->mu);
	/* Like the sampler's own fds, the cut eventfd lives from start to
	 * stop: an idle session holds no fd. */
	if (n->cut_efd < 0) {
		n->cut_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (n->cut_efd < 0) {
			err = SP_ERR(-errno);
			pthread_mutex_unlock(&n->mu);
			return err;
		}
	}
	/* The facts of the run, for the stores consumers create. */
	if (!n->tmpl && (err = sp_store_new(&n->tmpl))) {
		pthread_mutex_unlock(&n->mu);
		return err;
	}
	n->tmpl->info = s->store->info;
	n->tmpl->limits = s->store->limits;
	if (s->store->n_samples || s->store->n_threads) {
		/* A restart: what the idle store holds was given to the
		 * taps at stop; in cumulative mode it becomes acc. */
		err = fresh_store(s->store, &nw);
		if (!err) {
			if (n->cumulative && SP_ALWAYS(!n->acc))
				n->acc = s->store;
			else
				sp_store_free(s->store);
			s->store = nw;
		}
	}
	n->seg_start_ns = n->run_start_ns = sp_now_ns();
	n->seg_start_real_ns = realtime_ns();
	n->lost_base = s->c.lost_records;
	n->ticks_base = s->c.missed_ticks;
	n->unknown_base = s->c.offcpu_unknown;
	atomic_store(&n->cut_done, atomic_load(&n->cut_req));
	pthread_mutex_unlock(&n->mu);
	return err;
}

void sp_snap_after_start(struct stillprof_session *s)
{
	atomic_store(&s->snap->live, 1);
}

void sp_snap_before_stop(struct stillprof_session *s)
{
	/* Under mu: a consumer that saw live == 1 has finished its wait. */
	pthread_mutex_lock(&s->snap->mu);
	atomic_store(&s->snap->live, 0);
	pthread_mutex_unlock(&s->snap->mu);
}

void sp_snap_after_stop(struct stillprof_session *s)
{
	struct sp_snap *n = s->snap;
	struct sp_store *seg = s->store;
	uint64_t now = sp_now_ns();

	pthread_mutex_lock(&n->mu);
	sp_close(n->cut_efd);
	n->cut_efd = -1;
	sp_snap_drain_locked(n);
	/* The last segment: to the taps (as distribute does), then acc.
	 * The sampler has been joined: its counters are final. */
	seg->info.duration_ns = now - n->seg_start_ns;
	close_segment(s, seg);
	for (struct sp_tap *t = n->taps; t; t = t->next) {
		if (sp_store_merge(t->st, seg) == 0)
			t->st->info.duration_ns += seg->info.duration_ns;
		else
			t->lost++;
	}
	seg->info.duration_ns = 0;
	if (n->acc) {
		if (sp_store_merge(n->acc, seg))
			sp_warn("snapshot: no memory to keep the last segment");
		sp_store_free(seg);
		s->store = n->acc;
		n->acc = NULL;
	}
	/* Not cumulative and no acc: s->store keeps the last segment only
	 * (the taps have it); a restart drops it. */
	pthread_mutex_unlock(&n->mu);
}

/* In a fork()ed child (fork.c's handler): the session is dead there, so
 * its fds go at once (close only: async-signal-safe). */
void sp_snap_forget_fds(struct sp_snap *n)
{
	if (!n)
		return;
	sp_close(n->cut_efd);
	sp_close(n->sig_fd);
	sp_close(n->notify_efd);
	n->sig_fd = n->notify_efd = n->cut_efd = -1;
}
