/*
 * store.c - the sample store (store.h): threads, interned stacks of raw
 * pcs, the sample sequence, and after the run the resolved frame table.
 *
 * The public struct sp_store is embedded at the start of a private one
 * (store_priv.h) that also holds the lookup tables the writers never read: a
 * tid index for threads, and two address maps used by sp_store_resolve
 * (looked-up pc -> frame and line, function key -> frame).  Symbolization
 * itself is symbols.c's job; this file only decides what a frame is.
 * Stacks that arrive already resolved (dump readers) are added by
 * store_import.c; the thread table is store_threads.c.
 *
 * Frame ids (stackprof's frames keys) are (index + 1) * 8: even, never the
 * GC pseudo-frame ids 1/3/5, >= 8, below 2^53 while there are fewer than
 * 2^50 frames (JavaScript readers parse ids as doubles), and stable for the
 * life of the store since frames are only ever appended.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store_priv.h"
#include "symbols.h"

/* Sample slots populated ahead of the writes, in bytes (~11 000 samples,
 * 5 s of two busy threads at 1 kHz): one system call instead of 64 page
 * faults, at most 256 KiB of memory before it is used. */
#define SP_SAMPLES_AHEAD (256u << 10)

static struct addr_slot *map_find(struct addr_map *m, uint64_t key,
                                  uint32_t kind)
{
	size_t mask, i;

	if (!m->n_slots)
		return NULL;
	mask = m->n_slots - 1;
	for (i = mix64(key ^ kind) & mask; m->slots[i].val; i = (i + 1) & mask)
		if (m->slots[i].key == key && m->slots[i].kind == kind)
			return &m->slots[i];
	return NULL;
}

/* Insert a key known to be absent.  Returns 0 or -ENOMEM. */
static int map_put(struct addr_map *m, uint64_t key, uint32_t kind,
                   uint32_t frame, int32_t line)
{
	size_t mask, i;

	/* Keep the load under 1/2 so probe runs stay short. */
	if ((m->n_used + 1) * 2 > m->n_slots) {
		size_t n = m->n_slots ? m->n_slots * 2 : 256, j;
		struct addr_slot *s = sp_calloc(n, sizeof(*s));

		if (!s)
			return SP_ERR(-ENOMEM);
		for (j = 0; j < m->n_slots; j++) {
			struct addr_slot *o = &m->slots[j];

			if (!o->val)
				continue;
			for (i = mix64(o->key ^ o->kind) & (n - 1); s[i].val;
			     i = (i + 1) & (n - 1))
				;
			s[i] = *o;
		}
		sp_free(m->slots);
		m->slots = s;
		m->n_slots = n;
	}
	mask = m->n_slots - 1;
	for (i = mix64(key ^ kind) & mask; m->slots[i].val; i = (i + 1) & mask)
		;
	m->slots[i].key = key;
	m->slots[i].kind = kind;
	m->slots[i].val = frame + 1;
	m->slots[i].line = line;
	m->n_used++;
	return 0;
}

int sp_store_new(struct sp_store **out)
{
	struct store_priv *p = sp_calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return SP_ERR(-ENOMEM);
	*out = &p->pub;
	return 0;
}

void sp_store_free(struct sp_store *st)
{
	struct store_priv *p;
	size_t i;

	if (!st)
		return;
	p = priv(st);
	for (i = 0; i < st->n_stacks; i++) {
		sp_free(st->stacks[i].pcs);
		sp_free(st->stacks[i].frames);
		sp_free(st->stacks[i].lines);
	}
	for (i = 0; i < st->n_frames; i++) {
		sp_free(st->frames[i].name);
		sp_free(st->frames[i].file);
		sp_free(st->frames[i].object);
	}
	sp_free(st->threads);
	sp_free(st->stacks);
	sp_free(st->buckets);
	sp_map_free(st->samples, st->cap_samples, sizeof(*st->samples));
	sp_free(st->frames);
	sp_free(p->pc_map.slots);
	sp_free(p->fn_map.slots);
	sp_free(p->tid_slots);
	for (i = 0; i < p->n_strs; i++)
		sp_free(p->strs[i]);
	sp_free(p->strs);
	sp_free(p);
}

/* ---- stacks ---- */

/* A word at a time, then the depth: one multiply per frame (byte-wise
 * FNV-1a took eight, a chain of 256 for a 32-frame stack, and interning
 * was ~8 % of the sampling thread's CPU time).  The high bits are folded
 * down at each step: the bucket index is the low bits. */
static uint64_t stack_hash(const uint64_t *pcs, uint32_t n)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	uint32_t i;

	for (i = 0; i < n; i++) {
		h = (h ^ pcs[i]) * UINT64_C(0x9e3779b97f4a7c15);
		h ^= h >> 29;
	}
	h = (h ^ n) * UINT64_C(0xbf58476d1ce4e5b9);
	return h ^ (h >> 31);
}

int sp_store_buckets_grow(struct sp_store *st)
{
	size_t n = st->n_buckets ? st->n_buckets * 2 : 1024, i;
	uint32_t *b = sp_calloc(n, sizeof(*b));

	if (!b)
		return SP_ERR(-ENOMEM);
	for (i = 0; i < st->n_stacks; i++) {
		size_t k = st->stacks[i].hash & (n - 1);

		st->stacks[i].hash_next = b[k];
		b[k] = (uint32_t)i + 1;
	}
	sp_free(st->buckets);
	st->buckets = b;
	st->n_buckets = n;
	return 0;
}

int sp_store_intern(struct sp_store *st, const uint64_t *pcs, uint32_t n,
                    uint32_t *idx)
{
	uint64_t h = stack_hash(pcs, n);
	struct sp_stack *s;
	uint32_t i;
	size_t k;
	int err;

	if (st->n_buckets) {
		for (i = st->buckets[h & (st->n_buckets - 1)]; i;
		     i = st->stacks[i - 1].hash_next) {
			s = &st->stacks[i - 1];
			/* pcs == NULL: a stack added by sp_store_add_resolved. */
			if (s->hash == h && s->n == n &&
			    (n == 0 || (s->pcs && !memcmp(s->pcs, pcs,
			                                  n * sizeof(*pcs))))) {
				*idx = i - 1;
				return 0;
			}
		}
	}
	if (st->limits.max_stacks && st->n_stacks >= st->limits.max_stacks) {
		st->info.dropped_stack_limit++;
		return -ENOSPC;
	}
	if (st->n_stacks >= UINT32_MAX - 1)
		return SP_ERR(-ENOMEM);
	err = sp_grow((void **)&st->stacks, &st->cap_stacks, st->n_stacks + 1,
	              sizeof(*st->stacks));
	if (err)
		return SP_ERR(err);
	/* Load factor 1: chains average one stack. */
	if (st->n_stacks + 1 > st->n_buckets) {
		err = sp_store_buckets_grow(st);
		if (err)
			return err;
	}
	s = &st->stacks[st->n_stacks];
	memset(s, 0, sizeof(*s));
	if (n) {
		s->pcs = sp_reallocarray(NULL, n, sizeof(*pcs));
		if (!s->pcs)
			return SP_ERR(-ENOMEM);
		memcpy(s->pcs, pcs, n * sizeof(*pcs));
	}
	s->n = n;
	s->hash = h;
	k = h & (st->n_buckets - 1);
	s->hash_next = st->buckets[k];
	st->buckets[k] = (uint32_t)st->n_stacks + 1;
	*idx = (uint32_t)st->n_stacks++;
	st->resolved = 0;
	return 0;
}

int sp_store_add_sample(struct sp_store *st, uint32_t stack, uint32_t thread,
                        uint64_t t_ns, int state)
{
	struct sp_sample *sm;
	int err;

	if (SP_NEVER(stack >= st->n_stacks || thread >= st->n_threads))
		return SP_ERR(-EINVAL);
	if (st->limits.max_samples &&
	    st->n_samples >= st->limits.max_samples) {
		st->info.dropped_sample_limit++;
		return -ENOSPC;
	}
	err = sp_map_grow((void **)&st->samples, &st->cap_samples,
	                  st->n_samples + 1, st->limits.max_samples,
	                  sizeof(*st->samples));
	if (err)
		return SP_ERR(err);
	if (st->n_samples >= st->samples_ready) {
		/* The next SP_SAMPLES_AHEAD bytes at once (alloc.c says
		 * why); pages already written survive an mremap. */
		size_t from = st->n_samples * sizeof(*st->samples);
		size_t to = from + SP_SAMPLES_AHEAD;
		size_t cap = st->cap_samples * sizeof(*st->samples);

		sp_map_prefault(st->samples, from, to < cap ? to : cap);
		st->samples_ready = (to < cap ? to : cap) /
		                    sizeof(*st->samples);
	}
	if (st->limits.max_depth && st->stacks[stack].n >= st->limits.max_depth)
		st->info.truncated_samples++;
	sm = &st->samples[st->n_samples++];
	sm->stack = stack;
	sm->thread = thread;
	sm->t_ns = t_ns;
	sm->state = (uint8_t)state;
	st->threads[thread].samples++;
	st->resolved = 0; /* the frames' counts are stale */
	return 0;
}

/* ---- frames and resolution ---- */

int sp_store_add_frame(struct sp_store *st, const char *name,
                       const char *file, const char *object, int line,
                       uint32_t *idx)
{
	struct sp_frame *f;
	int err;

	if (st->n_frames >= UINT32_MAX - 1)
		return SP_ERR(-ENOMEM);
	err = sp_grow((void **)&st->frames, &st->cap_frames, st->n_frames + 1,
	              sizeof(*st->frames));
	if (err)
		return SP_ERR(err);
	f = &st->frames[st->n_frames];
	memset(f, 0, sizeof(*f));
	f->name = sp_strdup(name ? name : "");
	f->file = sp_strdup(file ? file : "");
	f->object = sp_strdup(object ? object : "");
	if (!f->name || !f->file || !f->object) {
		sp_free(f->name);
		sp_free(f->file);
		sp_free(f->object);
		return SP_ERR(-ENOMEM);
	}
	f->line = line;
	f->id = ((uint64_t)st->n_frames + 1) * 8;
	*idx = (uint32_t)st->n_frames++;
	return 0;
}

static const char *basename_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/*
 * The frame of pc (a leaf, or a return address when caller is set) and the
 * line of that pc.  A function the symbolizer knows is one frame whatever
 * pc inside it was sampled; an unknown pc is a frame of its own, named by
 * its address (and object when known).
 */
static int frame_of(struct store_priv *p, struct sp_symbols *syms,
                    uint64_t pc, int caller, uint32_t *frame, int32_t *line)
{
	struct sp_store *st = &p->pub;
	struct sp_symbol sym;
	struct addr_slot *slot;
	/* A return address is the instruction after the call, which may be
	 * the first one of the next function or line: look up the call. */
	uint64_t addr = caller ? pc - 1 : pc;
	uint64_t key;
	uint32_t kind;
	char hex[300];
	int err = -ENOENT;

	slot = map_find(&p->pc_map, addr, caller ? PC_CALLER : PC_LEAF);
	if (slot) {
		*frame = slot->val - 1;
		*line = slot->line;
		return 0;
	}
	memset(&sym, 0, sizeof(sym));
	if (syms)
		err = sp_symbols_lookup(syms, addr, &sym);
	if (err == -ENOMEM)
		return SP_ERR(err);
	if (err < 0)
		memset(&sym, 0, sizeof(sym)); /* unknown, not fatal */
	if (!sym.object)
		sym.object = "";

	if (sym.name && sym.start) {
		key = sym.start;
		kind = FN_START;
	} else {
		key = pc;
		kind = FN_PC;
	}
	slot = map_find(&p->fn_map, key, kind);
	if (slot) {
		*frame = slot->val - 1;
	} else {
		const char *name = sym.name;

		if (!name) {
			if (*sym.object)
				snprintf(hex, sizeof(hex), "0x%llx (%s)",
				         (unsigned long long)pc,
				         basename_of(sym.object));
			else
				snprintf(hex, sizeof(hex), "0x%llx",
				         (unsigned long long)pc);
			name = hex;
		}
		err = sp_store_add_frame(st, name,
		                         sym.file ? sym.file : sym.object,
		                         sym.object, sym.name ? sym.fn_line : 0,
		                         frame);
		if (err)
			return err;
		err = map_put(&p->fn_map, key, kind, *frame, 0);
		if (err) {
			/* Nothing refers to the frame just appended: drop it
			 * rather than leave an orphan in the table. */
			struct sp_frame *f = &st->frames[--st->n_frames];

			sp_free(f->name);
			sp_free(f->file);
			sp_free(f->object);
			return err;
		}
	}
	*line = sym.line;
	/* On failure the frame stays, known to fn_map: a later resolve
	 * finds and reuses it. */
	return map_put(&p->pc_map, addr, caller ? PC_CALLER : PC_LEAF, *frame,
	               *line);
}

static int resolve_stack(struct store_priv *p, struct sp_symbols *syms,
                         struct sp_stack *s)
{
	uint32_t k;
	int err;

	/* Stacks added by sp_store_add_resolved come with their frames. */
	if (!s->n || s->frames)
		return 0;
	s->frames = sp_reallocarray(NULL, s->n, sizeof(*s->frames));
	s->lines = sp_reallocarray(NULL, s->n, sizeof(*s->lines));
	if (!s->frames || !s->lines) {
		err = SP_ERR(-ENOMEM);
		goto fail;
	}
	for (k = 0; k < s->n; k++) {
		err = frame_of(p, syms, s->pcs[k], k > 0, &s->frames[k],
		               &s->lines[k]);
		if (err)
			goto fail;
	}
	return 0;
fail:
	sp_free(s->frames);
	sp_free(s->lines);
	s->frames = NULL;
	s->lines = NULL;
	return err;
}

/* Recompute every frame's total/self counts from all samples (cheap, and
 * right after samples were added to old stacks since the last resolve). */
static int count_samples(struct sp_store *st)
{
	uint64_t *per_stack = sp_calloc(st->n_stacks, sizeof(*per_stack));
	uint32_t *seen = sp_calloc(st->n_frames, sizeof(*seen));
	size_t i;
	uint32_t k;

	if (!per_stack || !seen) {
		sp_free(per_stack);
		sp_free(seen);
		return SP_ERR(-ENOMEM);
	}
	for (i = 0; i < st->n_samples; i++)
		per_stack[st->samples[i].stack]++;
	for (i = 0; i < st->n_frames; i++)
		st->frames[i].total_samples = st->frames[i].self_samples = 0;
	for (i = 0; i < st->n_stacks; i++) {
		const struct sp_stack *s = &st->stacks[i];

		if (!per_stack[i] || !s->n)
			continue;
		st->frames[s->frames[0]].self_samples += per_stack[i];
		/* Once per sample even under recursion: seen[] remembers the
		 * last stack (index + 1) that counted the frame. */
		for (k = 0; k < s->n; k++) {
			uint32_t f = s->frames[k];

			if (seen[f] == i + 1)
				continue;
			seen[f] = (uint32_t)i + 1;
			st->frames[f].total_samples += per_stack[i];
		}
	}
	sp_free(per_stack);
	sp_free(seen);
	return 0;
}

int sp_store_resolve(struct sp_store *st, struct sp_symbols *syms)
{
	struct store_priv *p = priv(st);
	int err;

	while (p->n_resolved < st->n_stacks) {
		err = resolve_stack(p, syms, &st->stacks[p->n_resolved]);
		if (err)
			return err;
		p->n_resolved++;
	}
	err = count_samples(st);
	if (err)
		return err;
	st->resolved = 1;
	return 0;
}
