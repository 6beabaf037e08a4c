/*
 * store_threads.c - the store's thread table (store.h): one entry per
 * thread seen, found by tid through an open-addressing index, an entry
 * for the threads beyond max_threads ("other"), and the start time that
 * tells a thread from a later one reusing its tid.  Growth makes room in
 * both tables before anything changes, so a failed allocation leaves the
 * store as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store_priv.h"

static size_t tid_slot(const struct store_priv *p, pid_t tid)
{
	size_t mask = p->n_tid_slots - 1;
	size_t i = mix64((uint64_t)(uint32_t)tid) & mask;

	while (p->tid_slots[i] &&
	       p->pub.threads[p->tid_slots[i] - 1].tid != tid)
		i = (i + 1) & mask;
	return i;
}

static int tid_index_grow(struct store_priv *p)
{
	size_t n = p->n_tid_slots ? p->n_tid_slots * 2 : 64, i, j;
	uint32_t *s = sp_calloc(n, sizeof(*s));

	if (!s)
		return SP_ERR(-ENOMEM);
	for (i = 0; i < p->pub.n_threads; i++) {
		pid_t tid = p->pub.threads[i].tid;
		if (i + 1 == p->other_thread)
			continue; /* never found by tid */
		j = mix64((uint64_t)(uint32_t)tid) & (n - 1);
		/* A later entry for a reused tid replaces the older one. */
		while (s[j] && p->pub.threads[s[j] - 1].tid != tid)
			j = (j + 1) & (n - 1);
		s[j] = (uint32_t)i + 1;
	}
	sp_free(p->tid_slots);
	p->tid_slots = s;
	p->n_tid_slots = n;
	return 0;
}

static void set_name(struct sp_thread *t, const char *name)
{
	if (name && strncmp(t->name, name, sizeof(t->name) - 1) != 0)
		snprintf(t->name, sizeof(t->name), "%s", name);
}

/* Room for one more entry in both tables, so a failure changes nothing
 * visible.  Returns 0 or -ENOMEM. */
static int thread_room(struct store_priv *p)
{
	struct sp_store *st = &p->pub;
	int err;

	if (st->n_threads >= UINT32_MAX - 1)
		return SP_ERR(-ENOMEM);
	err = sp_grow((void **)&st->threads, &st->cap_threads,
	              st->n_threads + 1, sizeof(*st->threads));
	if (err)
		return SP_ERR(err);
	if ((st->n_threads + 1) * 2 > p->n_tid_slots)
		return tid_index_grow(p);
	return 0;
}

int sp_store_thread_other(struct sp_store *st, uint32_t *idx)
{
	struct store_priv *p = priv(st);
	struct sp_thread *t;
	int err;

	if (p->other_thread) {
		*idx = p->other_thread - 1;
		return 0;
	}
	if ((err = thread_room(p)))
		return err;
	/* Not in the tid index: tid 0 is no thread of ours, and a lookup
	 * by tid must never land here. */
	t = &st->threads[st->n_threads];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", SP_OTHER_THREADS_NAME);
	*idx = (uint32_t)st->n_threads++;
	p->other_thread = *idx + 1;
	return 0;
}

int sp_store_thread_is_other(const struct sp_store *st, uint32_t idx)
{
	const struct store_priv *p = (const struct store_priv *)st;

	return p->other_thread && idx == p->other_thread - 1;
}

void sp_store_thread_rename(struct sp_store *st, uint32_t idx,
                            const char *name)
{
	if (idx < st->n_threads && !sp_store_thread_is_other(st, idx))
		set_name(&st->threads[idx], name);
}

static int store_thread(struct sp_store *st, pid_t tid, const char *name,
                        uint32_t *idx, int fresh)
{
	struct store_priv *p = priv(st);
	struct sp_thread *t;
	size_t slot;
	int err;

	if (p->n_tid_slots && !fresh) {
		slot = tid_slot(p, tid);
		if (p->tid_slots[slot]) {
			*idx = p->tid_slots[slot] - 1;
			set_name(&st->threads[*idx], name);
			return 0;
		}
	}
	/* Past the bound (the last entry is kept for it): the thread's
	 * samples are kept, under "(other threads)", and it is counted. */
	if (st->limits.max_threads &&
	    st->n_threads + !p->other_thread >= st->limits.max_threads) {
		err = sp_store_thread_other(st, idx);
		if (!err)
			st->info.folded_threads++;
		return err;
	}
	if ((err = thread_room(p)))
		return err;
	t = &st->threads[st->n_threads];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	set_name(t, name);
	/* A fresh entry for a reused tid takes over the tid's slot (index
	 * growth re-inserts in order, so the newest entry wins there too). */
	p->tid_slots[tid_slot(p, tid)] = (uint32_t)st->n_threads + 1;
	*idx = (uint32_t)st->n_threads++;
	return 0;
}

int sp_store_thread(struct sp_store *st, pid_t tid, const char *name,
                    uint32_t *idx)
{
	return store_thread(st, tid, name, idx, 0);
}

int sp_store_thread_new(struct sp_store *st, pid_t tid, const char *name,
                        uint32_t *idx)
{
	return store_thread(st, tid, name, idx, 1);
}

int sp_store_thread_attach(struct sp_store *st, pid_t tid, const char *name,
                           uint64_t start, uint32_t *idx)
{
	struct store_priv *p = priv(st);
	int err;

	if (start && p->n_tid_slots) {
		uint32_t e = p->tid_slots[tid_slot(p, tid)];
		if (e && st->threads[e - 1].start_ticks == start) {
			*idx = e - 1;
			set_name(&st->threads[*idx], name);
			return 0;
		}
	}
	err = store_thread(st, tid, name, idx, 1);
	if (!err && !sp_store_thread_is_other(st, *idx))
		st->threads[*idx].start_ticks = start;
	return err;
}
