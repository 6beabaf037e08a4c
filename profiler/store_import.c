/*
 * store_import.c - the sample store's entry points for profiles that arrive
 * already resolved (stackprof dumps read back by formats/stackprof_read.c):
 * interning stacks of frame indices and lines, which have no pcs, and
 * strings the store owns.  Frames themselves are added with
 * sp_store_add_frame (store.c); sp_store_resolve then only counts.
 */
#include <string.h>

#include "internal.h"
#include "store_priv.h"

/* FNV-1a over frame indices and lines, from a different basis than
 * stack_hash: a resolved stack never equals a stack of pcs. */
static uint64_t resolved_hash(const uint32_t *frames, const int32_t *lines,
                              uint32_t n)
{
	uint64_t h = UINT64_C(0x84222325cbf29ce4);
	uint32_t i;
	int b;

	for (i = 0; i < n; i++) {
		uint64_t x = (uint64_t)frames[i] << 32 | (uint32_t)lines[i];

		for (b = 0; b < 64; b += 8) {
			h ^= (x >> b) & 0xff;
			h *= UINT64_C(0x100000001b3);
		}
	}
	h ^= n;
	h *= UINT64_C(0x100000001b3);
	return h;
}

static int same_resolved(const struct sp_stack *s, uint64_t h,
                         const uint32_t *frames, const int32_t *lines,
                         uint32_t n)
{
	/* Only stacks without pcs: a pc stack's frames are its own. */
	return s->hash == h && s->n == n && !s->pcs &&
	       (n == 0 ||
	        (!memcmp(s->frames, frames, n * sizeof(*frames)) &&
	         !memcmp(s->lines, lines, n * sizeof(*lines))));
}

int sp_store_add_resolved(struct sp_store *st, const uint32_t *frames,
                          const int32_t *lines, uint32_t n, uint32_t *idx)
{
	uint64_t h;
	struct sp_stack *s;
	uint32_t i;
	size_t k;
	int err;

	for (i = 0; i < n; i++)
		if (SP_NEVER(frames[i] >= st->n_frames))
			return SP_ERR(-EINVAL);
	h = resolved_hash(frames, lines, n);
	if (st->n_buckets) {
		for (i = st->buckets[h & (st->n_buckets - 1)]; i;
		     i = st->stacks[i - 1].hash_next) {
			if (same_resolved(&st->stacks[i - 1], h, frames, lines,
			                  n)) {
				*idx = i - 1;
				return 0;
			}
		}
	}
	if (st->n_stacks >= UINT32_MAX - 1)
		return SP_ERR(-ENOMEM);
	err = sp_grow((void **)&st->stacks, &st->cap_stacks, st->n_stacks + 1,
	              sizeof(*st->stacks));
	if (err)
		return SP_ERR(err);
	if (st->n_stacks + 1 > st->n_buckets) {
		err = sp_store_buckets_grow(st);
		if (err)
			return err;
	}
	s = &st->stacks[st->n_stacks];
	memset(s, 0, sizeof(*s));
	if (n) {
		s->frames = sp_reallocarray(NULL, n, sizeof(*frames));
		s->lines = sp_reallocarray(NULL, n, sizeof(*lines));
		if (!s->frames || !s->lines) {
			sp_free(s->frames);
			sp_free(s->lines);
			s->frames = NULL;
			s->lines = NULL;
			return SP_ERR(-ENOMEM);
		}
		memcpy(s->frames, frames, n * sizeof(*frames));
		memcpy(s->lines, lines, n * sizeof(*lines));
	}
	s->n = n;
	s->hash = h;
	k = h & (st->n_buckets - 1);
	s->hash_next = st->buckets[k];
	st->buckets[k] = (uint32_t)st->n_stacks + 1;
	*idx = (uint32_t)st->n_stacks++;
	/* Nothing to symbolize, but the frames' counts need recomputing. */
	st->resolved = 0;
	return 0;
}

int sp_store_strdup(struct sp_store *st, const char *s, const char **out)
{
	struct store_priv *p = priv(st);
	char *copy;
	int err;

	err = sp_grow((void **)&p->strs, &p->cap_strs, p->n_strs + 1,
	              sizeof(*p->strs));
	if (err)
		return SP_ERR(err);
	copy = sp_strdup(s);
	if (!copy)
		return SP_ERR(-ENOMEM);
	p->strs[p->n_strs++] = copy;
	*out = copy;
	return 0;
}
