/*
 * spr_map.c - a uint64-keyed hash table and a growable int64 array, both
 * on plain malloc.  Ruby's st_table allocates through ruby_xmalloc, which
 * may start a GC; these tables are also filled from the NEWOBJ hook, where
 * a GC must not start.
 */
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "spr.h"

static size_t slot(uint64_t key, size_t cap)
{
	key ^= key >> 33;
	key *= UINT64_C(0xff51afd7ed558ccd);
	key ^= key >> 33;
	return (size_t)key & (cap - 1);
}

struct spr_map_ent *spr_map_find(const struct spr_map *m, uint64_t key)
{
	size_t i;

	if (!m->cap)
		return NULL;
	for (i = slot(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->ents[i].key == key)
			return &m->ents[i];
		if (!m->ents[i].key)
			return NULL;
	}
}

static int grow(struct spr_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16, i;
	struct spr_map_ent *e = calloc(cap, sizeof(*e));

	if (!e)
		return -ENOMEM;
	for (i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->ents[i].key)
			continue;
		for (j = slot(m->ents[i].key, cap); e[j].key;
		     j = (j + 1) & (cap - 1))
			;
		e[j] = m->ents[i];
	}
	free(m->ents);
	m->ents = e;
	m->cap = cap;
	return 0;
}

struct spr_map_ent *spr_map_get(struct spr_map *m, uint64_t key)
{
	struct spr_map_ent *e = spr_map_find(m, key);
	size_t i;

	if (e)
		return e;
	/* keep the load under 1/2 */
	if ((m->n + 1) * 2 > m->cap && grow(m))
		return NULL;
	for (i = slot(key, m->cap); m->ents[i].key; i = (i + 1) & (m->cap - 1))
		;
	m->ents[i].key = key;
	m->ents[i].a = m->ents[i].b = 0;
	m->n++;
	return &m->ents[i];
}

void spr_map_free(struct spr_map *m)
{
	free(m->ents);
	memset(m, 0, sizeof(*m));
}

int spr_vec_push(struct spr_vec *v, int64_t x)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		int64_t *p = realloc(v->v, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		v->v = p;
		v->cap = cap;
	}
	v->v[v->n++] = x;
	return 0;
}

void spr_vec_free(struct spr_vec *v)
{
	free(v->v);
	memset(v, 0, sizeof(*v));
}
