/*
 * stackprof_dump.c - writes a resolved store as the Hash that stackprof's
 * StackProf.results returns (format 1.2), Marshal-encoded: what
 * `stackprof FILE --text` and friends read.  The Hash itself (keys, order,
 * frames, raw records, deltas) is stackprof_layout.c's walk; this file
 * only maps its values onto the Marshal encoder.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "store.h"
#include "formats.h"
#include "stackprof_layout.h"

static void m_begin(void *ctx)
{
	struct sp_marshal *m = ctx;

	sp_marshal_init(m, m->sink);
}

static void m_hash(void *ctx, size_t n)
{
	sp_marshal_hash(ctx, n);
}

static void m_array(void *ctx, size_t n)
{
	sp_marshal_array(ctx, n);
}

static void m_sym(void *ctx, const char *s)
{
	sp_marshal_sym(ctx, s);
}

static void m_str(void *ctx, const char *s, size_t len)
{
	sp_marshal_str(ctx, s, len);
}

static void m_int(void *ctx, int64_t v)
{
	sp_marshal_int(ctx, v);
}

static void m_uint(void *ctx, uint64_t v)
{
	sp_marshal_uint(ctx, v);
}

static void m_float(void *ctx, double v)
{
	sp_marshal_float(ctx, v);
}

static void m_ints(void *ctx, const int64_t *v, size_t n)
{
	sp_marshal_ints(ctx, v, n);
}

static const struct sp_value_enc marshal_enc = {
	.begin = m_begin,
	.hash = m_hash,
	.array = m_array,
	.sym = m_sym,
	.str = m_str,
	.int64 = m_int,
	.uint64 = m_uint,
	.flt = m_float,
	.ints = m_ints,
};

int sp_stackprof_write(const struct sp_store *st,
                       const struct sp_stackprof_opts *o,
                       struct sp_sink *sink)
{
	struct sp_marshal m;
	int err;

	/* m_begin writes the 04 08 header, once the walk's checks and
	 * tables are done: a failed write leaves the sink empty. */
	memset(&m, 0, sizeof(m));
	m.sink = sink;
	err = sp_stackprof_layout_emit(st, o->raw, o->aggregate,
	                               &marshal_enc, &m);
	return err ? err : sink->err;
}
