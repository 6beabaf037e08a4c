/*
 * read_error.h - the error messages of the byte-level readers
 * (json_read.c, marshal_read.c): every refusal names the reader and the
 * byte offset, in the caller's errbuf, which may be NULL.  One helper, so
 * that both readers word their messages alike.
 */
#ifndef SP_READ_ERROR_H
#define SP_READ_ERROR_H

#include <stddef.h>

struct sp_read_err {
	const char *what;   /* message prefix: "json", "marshal" */
	char *buf;          /* caller's buffer, may be NULL */
	size_t len;
};

/* Point e at the caller's buffer and clear it. */
void sp_read_err_init(struct sp_read_err *e, const char *what, char *buf,
                      size_t len);

/* "<what>: offset <off>: <message>" into the buffer; returns
 * STILLPROF_EBADFORMAT. */
int sp_read_bad(const struct sp_read_err *e, size_t off, const char *fmt,
                ...) __attribute__((format(printf, 3, 4)));

/* "<what>: out of memory at offset <off>"; returns -ENOMEM. */
int sp_read_oom(const struct sp_read_err *e, size_t off);

#endif
