/*
 * stackprof_layout.h - the stackprof result Hash (format 1.2) as a walk
 * over a resolved store that calls an encoder for every value.  The
 * Marshal writer (stackprof_dump.c) and the JSON writer (stackprof_json.c)
 * are two encoders of the same walk, so they cannot disagree on keys,
 * order, frames, edges, lines, raw records or deltas.  Internal to
 * formats/.
 */
#ifndef SP_STACKPROF_LAYOUT_H
#define SP_STACKPROF_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

struct sp_store;

/*
 * One encoder.  Containers announce their size up front (Marshal needs
 * it); the walk then emits exactly n elements, or n key-value pairs with
 * the key first.  Hash keys are syms (stackprof's Symbol keys) or
 * integers (frame ids, callee ids, line numbers).  Errors are the
 * encoder's business: it latches them, e.g. in its sink.
 */
struct sp_value_enc {
	/* Called once, after every check and table, before the first value
	 * (may be NULL): an encoder's header goes here. */
	void (*begin)(void *ctx);
	void (*hash)(void *ctx, size_t n_pairs);
	void (*array)(void *ctx, size_t n);
	void (*sym)(void *ctx, const char *s);
	void (*str)(void *ctx, const char *s, size_t len);
	void (*int64)(void *ctx, int64_t v);
	void (*uint64)(void *ctx, uint64_t v);
	void (*flt)(void *ctx, double v);
	/* n Integers that are consecutive elements of the innermost Array
	 * (never Hash keys), each within int64.  The big raw arrays (~55 M
	 * integers for 1 M samples) come through here in batches, so that
	 * an encoder formats them in one loop instead of one indirect call
	 * and one separator decision each.  May be NULL: the walk then
	 * calls int64 per value. */
	void (*ints)(void *ctx, const int64_t *v, size_t n);
};

/*
 * Walk st (resolved) and emit the result Hash through enc.  raw: the
 * raw* keys (when the store has samples); aggregate: frames' :edges and
 * :lines.  Every table is computed before the first value is emitted, so
 * running out of memory never leaves half a Hash behind.  The strings
 * passed to enc->sym/str stay valid until the store is freed.
 * Returns 0, -ENOMEM, or -EINVAL when st is not resolved.
 */
int sp_stackprof_layout_emit(const struct sp_store *st, int raw,
                             int aggregate, const struct sp_value_enc *enc,
                             void *ctx);

/* The :mode of a store: the mode read from a dump when there is one, else
 * "cpu" or "wall" from the recorded mode.  A static or store-owned string. */
const char *sp_stackprof_mode_name(const struct sp_store *st);

#endif
