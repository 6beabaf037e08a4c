/*
 * stackprof_json.c - the stackprof result Hash as JSON, byte for byte
 * what `stackprof --json` (JSON.generate) prints for the same Hash: Symbol
 * keys and values become strings, Integer Hash keys (frame ids, callee
 * ids, line numbers) decimal strings, no whitespace, one trailing newline.
 * speedscope recognises the result by its "mode", "frames" and
 * "raw_timestamp_deltas" keys; StackProf::Report.from_file reads it back
 * (parse_json turns digit-only keys into Integers again).
 *
 * The Hash is stackprof_layout.c's walk, shared with the Marshal dump;
 * this file is the JSON encoder for it.  The walk announces container
 * sizes, so the encoder closes a container after its last element and
 * the walk needs no "end" calls.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "formats.h"
#include "writers.h"
#include "stackprof_layout.h"
#include "numfmt.h"

/* Deepest nesting of the Hash: top -> frames -> frame -> lines -> [a, b]. */
#define MAX_DEPTH 8

struct level {
	char close;      /* '}' or ']' */
	int hash;
	size_t total;    /* values to come: elements, or 2 per pair */
	size_t done;
};

struct json_enc {
	struct sp_sink *sink;
	struct level stack[MAX_DEPTH];
	int depth;
	int err;
};

/* Separator before the next value; returns 1 when it is a Hash key. */
static int before(struct json_enc *j)
{
	struct level *l;

	if (!j->depth)
		return 0;
	l = &j->stack[j->depth - 1];
	if (l->hash && l->done % 2) {
		sp_sink_putc(j->sink, ':');
		return 0;
	}
	if (l->done)
		sp_sink_putc(j->sink, ',');
	return l->hash;
}

/* A value is complete: count it, and close every container it filled. */
static void after(struct json_enc *j)
{
	while (j->depth) {
		struct level *l = &j->stack[j->depth - 1];

		if (++l->done < l->total)
			return;
		sp_sink_putc(j->sink, l->close);
		j->depth--;
	}
}

static void open_container(struct json_enc *j, int hash, size_t n)
{
	struct level *l;

	if (before(j) && SP_NEVER(1)) {
		j->err = -EINVAL; /* the walk never uses containers as keys */
		return;
	}
	sp_sink_putc(j->sink, hash ? '{' : '[');
	if (!n) {
		sp_sink_putc(j->sink, hash ? '}' : ']');
		after(j);
		return;
	}
	if (SP_NEVER(j->depth == MAX_DEPTH)) {
		j->err = -EINVAL;
		return;
	}
	l = &j->stack[j->depth++];
	l->close = hash ? '}' : ']';
	l->hash = hash;
	l->total = hash ? 2 * n : n;
	l->done = 0;
}

static void j_hash(void *ctx, size_t n)
{
	open_container(ctx, 1, n);
}

static void j_array(void *ctx, size_t n)
{
	open_container(ctx, 0, n);
}

/* Symbols, as keys or values (:mode => :cpu), are JSON strings. */
static void j_sym(void *ctx, const char *s)
{
	struct json_enc *j = ctx;

	before(j);
	sp_json_str(j->sink, s, strlen(s));
	after(j);
}

static void j_str(void *ctx, const char *s, size_t len)
{
	struct json_enc *j = ctx;

	before(j);
	sp_json_str(j->sink, s, len);
	after(j);
}

/* JSON object keys are strings: Integer keys are quoted. */
static void j_int(void *ctx, int64_t v)
{
	struct json_enc *j = ctx;
	int key = before(j);

	if (key)
		sp_sink_putc(j->sink, '"');
	sp_json_int(j->sink, v);
	if (key)
		sp_sink_putc(j->sink, '"');
	after(j);
}

static void j_uint(void *ctx, uint64_t v)
{
	struct json_enc *j = ctx;
	int key = before(j);

	if (key)
		sp_sink_putc(j->sink, '"');
	sp_json_uint(j->sink, v);
	if (key)
		sp_sink_putc(j->sink, '"');
	after(j);
}

static void j_float(void *ctx, double v)
{
	struct json_enc *j = ctx;

	before(j);
	sp_json_float(j->sink, v);
	after(j);
}

/* A run of array elements: the separator decision is made once, then
 * "N,N,N" goes straight into the sink's buffer. */
static void j_ints(void *ctx, const int64_t *v, size_t n)
{
	struct json_enc *j = ctx;
	struct sp_sink *sink = j->sink;
	struct level *l;
	size_t i;

	if (!n)
		return;
	l = j->depth ? &j->stack[j->depth - 1] : NULL;
	if (SP_NEVER(!l || l->hash || l->total - l->done < n)) {
		j->err = -EINVAL; /* the walk only batches array elements */
		return;
	}
	for (i = 0; i < n;) {
		/* Room for a chunk of values: ',' and up to 20 characters
		 * each; then no check per value. */
		size_t k = n - i < 128 ? n - i : 128, end = i + k;
		char *p = sp_sink_room(sink, 21 * k), *p0 = p;

		if (!p) {
			for (; i < end; i++) {
				char tmp[21], *e;
				int sep = l->done + i > 0;

				tmp[0] = ',';
				e = sp_fmt_i64(tmp + sep, v[i]);
				sp_sink_write(sink, tmp, (size_t)(e - tmp));
			}
			continue;
		}
		if (!l->done && !i)
			p = sp_fmt_i64(p, v[i++]); /* the first: no ',' */
		for (; i < end; i++) {
			*p++ = ',';
			p = sp_fmt_i64(p, v[i]);
		}
		sink->len += (size_t)(p - p0);
	}
	/* The last n values were counted: close what they filled. */
	l->done += n - 1;
	after(j);
}

static const struct sp_value_enc json_enc_ops = {
	.hash = j_hash,
	.array = j_array,
	.sym = j_sym,
	.str = j_str,
	.int64 = j_int,
	.uint64 = j_uint,
	.flt = j_float,
	.ints = j_ints,
};

int sp_stackprof_json_write(const struct sp_store *st,
                            const struct sp_stackprof_json_opts *o,
                            struct sp_sink *sink)
{
	static const struct sp_stackprof_json_opts defaults;
	struct json_enc j;
	int err;

	if (!o)
		o = &defaults;
	memset(&j, 0, sizeof(j));
	j.sink = sink;
	err = sp_stackprof_layout_emit(st, !o->no_raw, !o->no_aggregate,
	                               &json_enc_ops, &j);
	if (err)
		return err;
	if (j.err)
		return SP_ERR(j.err);
	if (SP_NEVER(j.depth != 0))
		return SP_ERR(-EINVAL); /* the walk's counts were wrong */
	sp_sink_putc(sink, '\n'); /* stackprof's print_json uses puts */
	return sink->err;
}
