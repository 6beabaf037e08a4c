/*
 * store_merge.c - add the threads, stacks and samples of one unresolved
 * store to another.  Snapshots (snapshot.c) cut the sampler's store into
 * pieces while it runs; merging puts pieces back together for whoever
 * wants a longer span (the cumulative profile, a period, a pull request).
 */
#include <string.h>

#include "internal.h"
#include "store.h"

int sp_store_merge(struct sp_store *dst, const struct sp_store *src)
{
	uint32_t *tmap = NULL, *smap = NULL;
	uint8_t *claimed = NULL;
	size_t i, n_claim;
	int err = 0;

	if (!src->n_samples && !src->n_threads)
		return 0;
	tmap = sp_calloc(src->n_threads + 1, sizeof(*tmap));
	smap = sp_calloc(src->n_stacks + 1, sizeof(*smap));
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

		err = sp_store_thread(dst, t->tid, t->name, &tmap[i]);
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
	}
	for (i = 0; i < src->n_samples && !err; i++) {
		const struct sp_sample *sm = &src->samples[i];

		err = sp_store_add_sample(dst, smap[sm->stack],
		                          tmap[sm->thread], sm->t_ns,
		                          sm->state);
	}
	if (!err) {
		dst->info.missed_samples += src->info.missed_samples;
		dst->info.dropped_stack_limit += src->info.dropped_stack_limit;
		dst->info.dropped_sample_limit +=
		    src->info.dropped_sample_limit;
	}
out:
	sp_free(tmap);
	sp_free(smap);
	sp_free(claimed);
	return err;
}
