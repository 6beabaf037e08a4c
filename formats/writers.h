/*
 * writers.h - the profile writers besides the stackprof Marshal dump
 * (formats.h): stackprof's JSON form, gzipped pprof profile.proto and
 * collapsed (folded) stacks, plus the encoders they are built on (JSON
 * text, protobuf wire format, gzip).  Every writer reads a resolved
 * struct sp_store (sp_store_resolve) and nothing else; every writer
 * computes its tables before writing its first byte, so -ENOMEM or
 * -EINVAL leave the sink untouched.  Not thread-safe per store/sink.
 */
#ifndef SP_WRITERS_H
#define SP_WRITERS_H

#include <stddef.h>
#include <stdint.h>

struct sp_store;
struct sp_sink;

/* ---- stackprof_json.c ---- */

struct sp_stackprof_json_opts {
	int no_raw;        /* leave out the raw* keys (speedscope needs them) */
	int no_aggregate;  /* leave out frames' edges and lines */
};

/*
 * Write the stackprof result Hash as `stackprof --json` (Ruby's
 * JSON.generate) writes it: the Marshal dump's keys in the same order,
 * Symbol keys and values as strings ("mode":"wall"), Integer Hash keys
 * as decimal strings, version as 1.2.  o may be NULL (raw and aggregate).
 * Returns 0, the sink's error, -ENOMEM, or -EINVAL (store not resolved).
 */
int sp_stackprof_json_write(const struct sp_store *st,
                            const struct sp_stackprof_json_opts *o,
                            struct sp_sink *sink);

/* ---- pprof.c ---- */

struct sp_pprof_opts {
	int uncompressed;  /* raw protobuf instead of gzip (for debugging) */
};

/*
 * Write a pprof profile.proto, gzip-compressed: one Sample per (stack,
 * thread) with values [samples/count, wall|cpu/nanoseconds] and labels
 * thread_id (num) and thread_name (str).  o may be NULL.  Returns 0, the
 * sink's error, -ENOMEM, or -EINVAL (store not resolved).
 */
int sp_pprof_write(const struct sp_store *st, const struct sp_pprof_opts *o,
                   struct sp_sink *sink);

/* ---- collapsed.c ---- */

struct sp_collapsed_opts {
	int thread_root;   /* "NAME-TID" as the root frame of every stack */
};

/*
 * Write folded stacks, "root;...;leaf COUNT\n", one line per distinct
 * sequence of frame names (stacks that differ only in pcs or lines
 * merge), lines sorted bytewise.  ';' in a name becomes ':' and control
 * characters become '?', so every line parses.  o may be NULL.
 * Returns 0, the sink's error, -ENOMEM, or -EINVAL (store not resolved).
 */
int sp_collapsed_write(const struct sp_store *st,
                       const struct sp_collapsed_opts *o,
                       struct sp_sink *sink);

/* ---- speedscope.c ---- */

/*
 * Write speedscope's file format: a shared frame table and one "sampled"
 * profile per thread ("NAME (tid N)"), samples in time order, root
 * first.  Weights are microseconds: in wall mode the time since the
 * thread's previous sample (the interval for its first), in cpu mode the
 * interval; other modes weigh 1 (unit "none").  opts_unused is for
 * future options and may be NULL.  Returns 0, the sink's error, -ENOMEM,
 * or -EINVAL (store not resolved).
 */
int sp_speedscope_write(const struct sp_store *st, const void *opts_unused,
                        struct sp_sink *sink);

/* ---- flamegraph.c ---- */

/*
 * Write one self-contained HTML flame graph (icicle): the per-thread and
 * all-threads trees of frames (root first, self/total samples) as JSON
 * in the page and a small embedded renderer with tooltip, click to zoom,
 * search and a thread selector; nothing is loaded from the network.
 * opts is for future options and may be NULL.  Returns 0, the sink's
 * error, -ENOMEM, or -EINVAL (store not resolved).
 */
int sp_flamegraph_write(const struct sp_store *st, const void *opts,
                        struct sp_sink *sink);

/* ---- json.c: JSON text ---- */

/* Length of the valid UTF-8 sequence at s[0..len) (RFC 3629: no overlong
 * forms, no surrogates, <= U+10FFFF), or 0 when it is not one.  Shared by
 * the JSON writer (escaping) and the JSON reader (validation). */
size_t sp_utf8_seq(const unsigned char *s, size_t len);

/* A JSON string, quoted: '"', '\\' and control characters escaped, valid
 * UTF-8 copied, every byte of an invalid sequence written as U+FFFD, so
 * the output is valid JSON whatever the input. */
void sp_json_str(struct sp_sink *s, const char *str, size_t len);
void sp_json_int(struct sp_sink *s, int64_t v);
void sp_json_uint(struct sp_sink *s, uint64_t v);
/* A float as Ruby's JSON writes it (Float#to_s): "1.2", "100.0",
 * "1.0e+15", "1.0e-05"; JSON has no NaN or infinity: those are null. */
void sp_json_float(struct sp_sink *s, double v);

/* ---- protobuf.c: protobuf wire format into a growing buffer ---- */

/* The first allocation failure is latched in err; later calls are no-ops. */
struct sp_pb {
	uint8_t *buf;
	size_t len, cap;
	int err;
};

void sp_pb_init(struct sp_pb *pb);
void sp_pb_fini(struct sp_pb *pb);
/* Field keys: (field << 3) | wire type 0 (varint) or 2 (length-delimited). */
void sp_pb_varint(struct sp_pb *pb, uint64_t v);          /* bare varint */
void sp_pb_uint(struct sp_pb *pb, uint32_t field, uint64_t v);
/* int64 fields are two's complement varints (10 bytes when negative). */
void sp_pb_int(struct sp_pb *pb, uint32_t field, int64_t v);
void sp_pb_bytes(struct sp_pb *pb, uint32_t field, const void *data,
                 size_t len);
/* Open a length-delimited field (a nested message or a packed repeated
 * scalar): returns a mark for sp_pb_close, which writes the length. */
size_t sp_pb_open(struct sp_pb *pb, uint32_t field);
void sp_pb_close(struct sp_pb *pb, size_t mark);

/* ---- gzip.c: gzip stream (RFC 1952) into a sink ---- */

/*
 * Compress data[0..len) as one gzip member into sink.  zlib's memory
 * comes from sp_malloc.  Returns 0, the sink's error, or -ENOMEM.
 */
int sp_gzip_write(struct sp_sink *sink, const void *data, size_t len);

#endif
