/*
 * collapsed.c - folded stacks (Brendan Gregg's stackcollapse format):
 * "root;caller;leaf COUNT", one line per distinct stack of frame names,
 * what flamegraph.pl, inferno, speedscope, the Firefox Profiler and
 * Pyroscope's /ingest read (research/ecosystem.md section 2.1).
 *
 * The parsers split frames on ';' and take the count after the last
 * space, and speedscope wants an integer count: names have ';' replaced
 * by ':' and control characters (a newline would end the line) by '?'.
 * Stacks are aggregated by names, so pcs and lines of one function merge;
 * lines are sorted bytewise so equal stores give equal files.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store.h"
#include "formats.h"
#include "writers.h"

struct line {
	const char *s;     /* text without the count, in the text buffer */
	size_t len;
	uint64_t count;
};

struct collapse {
	const struct sp_store *st;
	int thread_root;
	char *text;        /* NULL: only measure */
	size_t len;
};

/* Append s (n bytes) made safe for one field of a folded line. */
static void put(struct collapse *c, const char *s, size_t n)
{
	size_t i;

	if (c->text) {
		for (i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)s[i];

			c->text[c->len + i] = ch == ';' ? ':' :
			                      ch < 0x20 || ch == 0x7f ? '?' :
			                      (char)ch;
		}
	}
	c->len += n;
}

static void put_c(struct collapse *c, const char *s)
{
	put(c, s, strlen(s));
}

/* Append the text of stack si (on thread ti), root first. */
static void render(struct collapse *c, uint32_t si, uint32_t ti)
{
	const struct sp_stack *s = &c->st->stacks[si];
	uint32_t k;

	if (c->thread_root) {
		const struct sp_thread *t = &c->st->threads[ti];
		char tid[24];
		int n = snprintf(tid, sizeof(tid), "-%d;", (int)t->tid);

		put(c, t->name, strnlen(t->name, sizeof(t->name)));
		if (c->text)
			memcpy(c->text + c->len, tid, (size_t)n);
		c->len += (size_t)n;
	}
	if (!s->n)
		put_c(c, "(unknown)");
	for (k = s->n; k-- > 0;) {
		put_c(c, c->st->frames[s->frames[k]].name);
		if (k) {
			if (c->text)
				c->text[c->len] = ';';
			c->len++;
		}
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_line(const void *pa, const void *pb)
{
	const struct line *a = pa, *b = pb;
	int r = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);

	if (r)
		return r;
	return a->len < b->len ? -1 : a->len > b->len;
}

/*
 * Sort the samples by (stack, thread) (thread 0 when threads are not
 * shown), count each group, and render the groups' text twice: once to
 * size the buffer, once to fill it.
 */
static int collect(struct collapse *c, uint64_t *keys, struct line **out,
                   size_t *n_out)
{
	const struct sp_store *st = c->st;
	struct line *lines;
	size_t i, j, n = 0, pass;

	for (i = 0; i < st->n_samples; i++)
		keys[i] = (uint64_t)st->samples[i].stack << 32 |
		          (c->thread_root ? st->samples[i].thread : 0);
	qsort(keys, st->n_samples, sizeof(*keys), cmp_u64);
	for (i = 0; i < st->n_samples; i++)
		n += !i || keys[i] != keys[i - 1];
	lines = sp_calloc(n ? n : 1, sizeof(*lines));
	if (!lines)
		return SP_ERR(-ENOMEM);
	for (pass = 0; pass < 2; pass++) {
		size_t k = 0;

		c->len = 0;
		for (i = 0; i < st->n_samples; i = j) {
			j = i + 1;
			while (j < st->n_samples && keys[j] == keys[i])
				j++;
			size_t start = c->len;

			render(c, (uint32_t)(keys[i] >> 32), (uint32_t)keys[i]);
			lines[k].s = c->text ? c->text + start : NULL;
			lines[k].len = c->len - start;
			lines[k++].count = j - i;
		}
		if (!pass) {
			c->text = sp_malloc(c->len ? c->len : 1);
			if (!c->text) {
				sp_free(lines);
				return SP_ERR(-ENOMEM);
			}
		}
	}
	*out = lines;
	*n_out = n;
	return 0;
}

int sp_collapsed_write(const struct sp_store *st,
                       const struct sp_collapsed_opts *o,
                       struct sp_sink *sink)
{
	struct collapse c = { .st = st, .thread_root = o && o->thread_root };
	struct line *lines = NULL;
	uint64_t *keys;
	size_t i, j, n = 0;
	int err;

	for (i = 0; i < st->n_stacks; i++)
		if (st->stacks[i].n && !st->stacks[i].frames)
			return SP_ERR(-EINVAL); /* sp_store_resolve first */
	keys = sp_reallocarray(NULL, st->n_samples ? st->n_samples : 1,
	                       sizeof(*keys));
	if (!keys)
		return SP_ERR(-ENOMEM);
	err = collect(&c, keys, &lines, &n);
	sp_free(keys);
	if (err)
		return err;
	qsort(lines, n, sizeof(*lines), cmp_line);
	for (i = 0; i < n; i = j) {
		uint64_t count = lines[i].count;

		for (j = i + 1; j < n && !cmp_line(&lines[i], &lines[j]); j++)
			count += lines[j].count;
		sp_sink_write(sink, lines[i].s, lines[i].len);
		sp_sink_printf(sink, " %" PRIu64 "\n", count);
	}
	sp_free(lines);
	sp_free(c.text);
	return sink->err;
}
