/*
 * store_merge.c - add the threads, stacks and samples of one unresolved
 * store to another.  Snapshots (snapshot.c) cut the sampler's store into
 * pieces while it runs; merging puts pieces back together for whoever
 * wants a longer span (the cumulative profile, a period, a pull request).
 */
#include <string.h>

#include "internal.h"
#include "store.h"

/* src's loss counters into dst, plus `new_drops`: what dst's own bounds
 * dropped while src's samples were added.  Truncated stacks are counted
 * again by dst as the samples are added. */
static void add_counts(struct sp_store *dst, const struct sp_store *src,
                       uint64_t new_drops)
{
	struct sp_run_info *d = &dst->info;
	const struct sp_run_info *s = &src->info;

	d->missed_samples += s->missed_samples + new_drops;
	d->lost_records += s->lost_records;
	d->missed_ticks += s->missed_ticks;
	d->offcpu_unknown += s->offcpu_unknown;
	d->dropped_stack_limit += s->dropped_stack_limit;
	d->dropped_sample_limit += s->dropped_sample_limit;
	d->folded_threads += s->folded_threads;
	d->weighted_samples += s->weighted_samples;
	d->cut_samples += s->cut_samples;
}

int sp_store_merge(struct sp_store *dst, const struct sp_store *src)
{
	uint32_t *tmap = NULL, *smap = NULL;
	uint8_t *claimed = NULL;
	size_t i, n_claim;
	uint64_t drops;
	int err = 0;

	if (!src->n_samples && !src->n_threads) {
		add_counts(dst, src, 0);
		return 0;
	}
	tmap = sp_calloc(src->n_threads + 1, sizeof(*tmap));
	smap = sp_calloc(src->n_stacks + 1, sizeof(*smap));
	drops = dst->info.dropped_stack_limit + dst->info.dropped_sample_limit;
	/* dst thread entries already taken by an earlier src entry: a tid
	 * that appears twice in src was reused and needs its own entry. */
	n_claim = dst->n_threads + src->n_threads + 1;
	claimed = sp_calloc(n_claim, 1);
	if (!tmap || !smap || !claimed) {
		err = SP_ERR(-ENOMEM);
		goto out;
	}
	for (i = 0; i < src->n_threads && !err; i++) {
		const struct sp_thread *t = &src->threads[i];

		if (sp_store_thread_is_other(src, (uint32_t)i)) {
			/* Shared by design: never claimed. */
			err = sp_store_thread_other(dst, &tmap[i]);
			continue;
		}
		err = sp_store_thread(dst, t->tid, t->name, &tmap[i]);
		if (!err && sp_store_thread_is_other(dst, tmap[i]))
			continue; /* folded in dst (counted there) */
		if (!err && claimed[tmap[i]])
			err = sp_store_thread_new(dst, t->tid, t->name,
			                          &tmap[i]);
		if (!err)
			claimed[tmap[i]] = 1;
	}
	for (i = 0; i < src->n_stacks && !err; i++) {
		const struct sp_stack *k = &src->stacks[i];

		/* Only raw stacks are merged: resolved ones come from dumps,
		 * which are never cut. */
		if (SP_NEVER(!k->pcs && k->n))
			err = SP_ERR(-EINVAL);
		else
			err = sp_store_intern(dst, k->pcs, k->n, &smap[i]);
		if (err == -ENOSPC) {
			/* dst is full of stacks: this one's samples are
			 * dropped below, each counted (not the stack). */
			dst->info.dropped_stack_limit--;
			smap[i] = UINT32_MAX;
			err = 0;
		}
	}
	for (i = 0; i < src->n_samples && !err; i++) {
		const struct sp_sample *sm = &src->samples[i];

		if (smap[sm->stack] == UINT32_MAX) {
			dst->info.dropped_stack_limit++;
			continue;
		}
		err = sp_store_add_sample(dst, smap[sm->stack],
		                          tmap[sm->thread], sm->t_ns,
		                          sm->state);
		if (err == -ENOSPC)
			err = 0; /* past dst's max_samples: counted */
	}
	if (!err)
		add_counts(dst, src,
		           dst->info.dropped_stack_limit +
		               dst->info.dropped_sample_limit - drops);
out:
	sp_free(tmap);
	sp_free(smap);
	sp_free(claimed);
	return err;
}
