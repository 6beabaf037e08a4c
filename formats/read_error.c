/*
 * read_error.c - error messages of the byte-level readers (read_error.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"
#include "read_error.h"

void sp_read_err_init(struct sp_read_err *e, const char *what, char *buf,
                      size_t len)
{
	e->what = what;
	e->buf = buf;
	e->len = len;
	if (buf && len)
		buf[0] = '\0';
}

int sp_read_bad(const struct sp_read_err *e, size_t off, const char *fmt,
                ...)
{
	va_list ap;
	int n;

	if (e->buf && e->len) {
		n = snprintf(e->buf, e->len, "%s: offset %zu: ", e->what, off);
		if (n >= 0 && (size_t)n < e->len) {
			va_start(ap, fmt);
			vsnprintf(e->buf + n, e->len - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return STILLPROF_EBADFORMAT;
}

int sp_read_oom(const struct sp_read_err *e, size_t off)
{
	if (e->buf && e->len)
		snprintf(e->buf, e->len, "%s: out of memory at offset %zu",
		         e->what, off);
	return SP_ERR(-ENOMEM);
}
