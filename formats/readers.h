/*
 * readers.h - the input side of formats/: decoders of Ruby Marshal 4.8
 * (marshal_read.c) and JSON (json_read.c) into the value tree of value.h,
 * and the stackprof result reader (stackprof_read.c) that turns such a
 * tree, or a dump file, into a resolved struct sp_store the writers and
 * `stillprof report` read.
 *
 * Every reader takes untrusted input: corrupt or truncated bytes give
 * STILLPROF_EBADFORMAT and a message naming the byte offset in errbuf
 * (which may be NULL), never a crash; nesting is limited to
 * SP_READ_MAX_DEPTH and no count is believed beyond what the remaining
 * bytes can hold.  Not thread-safe per call; no global state.
 */
#ifndef SP_READERS_H
#define SP_READERS_H

#include <stddef.h>
#include <stdint.h>

#include "value.h"

struct sp_store;

/* Arrays, hashes and ivar wrappers nested deeper than this are refused. */
#define SP_READ_MAX_DEPTH 128

/*
 * Decode one Marshal 4.8 stream (header 04 08) of buf[0..len) into *out
 * (the caller releases it with sp_value_fini).  Supported: nil, true,
 * false, Fixnum, Bignum (up to 64 bits), Float (incl. inf/-inf/nan),
 * String with E/encoding ivars, Symbol and symbol links, object links,
 * Array, Hash.  Trailing bytes after the root object are ignored, as
 * Marshal.load does (`stackprof --dump` appends a newline).
 * Returns 0, STILLPROF_EBADFORMAT (message in errbuf) or -ENOMEM.
 */
int sp_marshal_read(const void *buf, size_t len, struct sp_value *out,
                    char *errbuf, size_t errlen);

/*
 * Parse one JSON text (RFC 8259, strict: no comments, no trailing commas,
 * no NaN; a leading UTF-8 BOM is skipped) into *out.  Objects become hashes
 * with string keys; integers without fraction or exponent that fit int64
 * become SP_VAL_INT, other numbers SP_VAL_FLOAT; strings are checked UTF-8
 * (\u escapes and surrogate pairs decoded).  Returns 0,
 * STILLPROF_EBADFORMAT (message with the offset) or -ENOMEM.
 */
int sp_json_read(const void *buf, size_t len, struct sp_value *out,
                 char *errbuf, size_t errlen);

/* Facts of the dump that the store does not keep.  Filled by the stackprof
 * readers when the caller passes one. */
struct sp_stackprof_read_info {
	int per_thread;          /* samples were attributed to threads
	                          * through :metadata => :raw_threads */
	int from_raw;            /* samples rebuilt from :raw; 0: from the
	                          * frames' self counts (no TOTAL of callers) */
	uint64_t dump_samples;   /* :samples as written */
	uint64_t dump_gc_samples;
	int has_interval;        /* 0 when :interval is nil (custom mode) */
	double version;          /* :version, 0 when absent */
};

/* Samples a dump may expand to when no per-sample timestamp vouches for
 * them (counts in :raw or :samples of frames are only numbers). */
#define SP_STACKPROF_MAX_SAMPLES (UINT64_C(1) << 24)

/*
 * Build a new resolved store from the value tree of a stackprof result
 * (StackProf.results as Marshal, or its `stackprof --json` form):
 * frames keep their ids, names, files and first lines; :raw records become
 * samples (stacks leaf first, current lines from :raw_lines), with times
 * from :raw_sample_timestamps (µs), else from :raw_timestamp_deltas, else
 * interval steps; stillprof's :metadata :threads/:raw_threads attribute
 * records to threads, else everything is thread 0 "main".  Without :raw,
 * each frame with self samples becomes a one-frame stack repeated that
 * many times.  When :samples exceeds what :raw holds (stackprof leaves
 * samples with no frame out of :raw) the difference is added as empty
 * stacks, so totals and percentages match `stackprof --text`.
 * *out is freed with sp_store_free; info may be NULL.
 * Returns 0, STILLPROF_EBADFORMAT (message in errbuf) or -ENOMEM.
 */
int sp_stackprof_from_value(const struct sp_value *root,
                            struct sp_store **out,
                            struct sp_stackprof_read_info *info,
                            char *errbuf, size_t errlen);

/* Decode buf (Marshal when it starts with 04 08, like
 * StackProf::Report.from_file, else JSON) and build the store as above. */
int sp_stackprof_read_buf(const void *buf, size_t len, struct sp_store **out,
                          struct sp_stackprof_read_info *info, char *errbuf,
                          size_t errlen);

/* Read the whole file at path (at most SP_READ_MAX_FILE bytes) and call
 * sp_stackprof_read_buf.  Returns also -errno of open/read (message in
 * errbuf names the path) or -EFBIG. */
#define SP_READ_MAX_FILE (UINT64_C(1) << 31)
int sp_stackprof_read_file(const char *path, struct sp_store **out,
                           struct sp_stackprof_read_info *info, char *errbuf,
                           size_t errlen);

#endif
