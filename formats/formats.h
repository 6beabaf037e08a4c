/*
 * formats.h - output side of stillprof: a buffered sink that latches its
 * first error, the atomic file writer (temporary file + rename), the Ruby
 * Marshal 4.8 encoder and the stackprof dump writer.  Writers only read a
 * resolved struct sp_store (profiler/store.h).
 */
#ifndef SP_FORMATS_H
#define SP_FORMATS_H

#include <stddef.h>
#include <stdint.h>

struct sp_store;

/* ---- sink.c ---- */

/* A byte sink: writes to an fd through a buffer, or grows a memory buffer.
 * The first error is latched in err; later writes are no-ops. */
struct sp_sink {
	int fd;              /* -1 for a memory sink */
	char *buf;
	size_t len, cap;
	int err;             /* 0 or the first -errno */
	/* fd sinks of the atomic writer: bytes written so far, and how many
	 * of them were handed to writeback early (see sink.c). */
	int early_writeback;
	uint64_t written, kicked;
};

void sp_sink_init_fd(struct sp_sink *s, int fd);   /* fd is borrowed */
void sp_sink_init_mem(struct sp_sink *s);
void sp_sink_write(struct sp_sink *s, const void *data, size_t len);
void sp_sink_putc(struct sp_sink *s, int c);
/* Room for n bytes (n <= 4096) at s->buf + s->len, for encoders that
 * format in place and then add what they wrote to s->len; NULL when the
 * sink has failed or has no buffer (then use sp_sink_write). */
char *sp_sink_reserve(struct sp_sink *s, size_t n);
/* The same, inline when the buffer has the room already. */
static inline char *sp_sink_room(struct sp_sink *s, size_t n)
{
	return !s->err && s->cap - s->len >= n ? s->buf + s->len
	                                       : sp_sink_reserve(s, n);
}
void sp_sink_printf(struct sp_sink *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Flush an fd sink and release its buffer (a later write allocates a new
 * one).  Returns s->err. */
int sp_sink_flush(struct sp_sink *s);
/* Free the sink's buffer (memory sinks: the data; fd sinks: the write
 * buffer, without flushing it). */
void sp_sink_fini(struct sp_sink *s);

typedef int sp_write_fn(struct sp_sink *sink, void *ctx);

/*
 * Write a file atomically: create a temporary file ".NAME.XXXXXX"
 * (O_EXCL|O_NOFOLLOW|O_CLOEXEC, mode 0600 minus the umask, which is the
 * final file's mode; see sink.c) in path's directory, run fn on a sink over
 * it, flush, fsync, rename over path, fsync the directory.  On any failure
 * the temporary file is removed and an existing file at path is untouched.
 * Returns 0, the writer's error (fn's non-zero return, else the sink's), or
 * -errno of the failing call: -EINVAL (empty path), -EISDIR (path is or
 * ends like a directory), -ENOENT/-ENOTDIR (no such directory), ...
 */
int sp_write_file_atomic(const char *path, sp_write_fn *fn, void *ctx);

/* ---- marshal_write.c: Ruby Marshal 4.8 encoder ---- */

#define SP_MARSHAL_MAX_SYMBOLS 256

struct sp_marshal {
	struct sp_sink *sink;
	/* symbol table: symbols get indices in order of first use */
	const char *syms[SP_MARSHAL_MAX_SYMBOLS];
	size_t n_syms;
};

/* Writes the 04 08 header. */
void sp_marshal_init(struct sp_marshal *m, struct sp_sink *sink);
void sp_marshal_nil(struct sp_marshal *m);
void sp_marshal_bool(struct sp_marshal *m, int v);
/* Integer: Fixnum 'i' when -2^30 <= v < 2^30, else Bignum 'l'. */
void sp_marshal_int(struct sp_marshal *m, int64_t v);
void sp_marshal_uint(struct sp_marshal *m, uint64_t v);
/* n Integers in a row (Array elements): the same bytes as n calls of
 * sp_marshal_int, written in one loop. */
void sp_marshal_ints(struct sp_marshal *m, const int64_t *v, size_t n);
/* Float with Ruby's shortest round-trip text ("1.2", "1", "inf"). */
void sp_marshal_float(struct sp_marshal *m, double v);
/* String: UTF-8 (I ... :E T) when the bytes are valid UTF-8, else binary. */
void sp_marshal_str(struct sp_marshal *m, const char *s, size_t len);
void sp_marshal_cstr(struct sp_marshal *m, const char *s);
/* Symbol (full the first time, ';' link afterwards).  s must stay valid
 * until the encoder is done (string literals in practice). */
void sp_marshal_sym(struct sp_marshal *m, const char *s);
/* Array/Hash headers: the caller then writes n elements / n key-value pairs. */
void sp_marshal_array(struct sp_marshal *m, size_t n);
void sp_marshal_hash(struct sp_marshal *m, size_t n_pairs);

/* ---- stackprof_dump.c ---- */

struct sp_stackprof_opts {
	int raw;        /* emit :raw, :raw_lines, :raw_sample_timestamps,
	                 * :raw_timestamp_deltas (when samples exist) */
	int aggregate;  /* emit :edges and :lines */
};

/* Write the stackprof result Hash (format 1.2) of a resolved store as
 * Marshal.  Returns the sink's error (0 on success) or -ENOMEM. */
int sp_stackprof_write(const struct sp_store *st,
                       const struct sp_stackprof_opts *o,
                       struct sp_sink *sink);

#endif
