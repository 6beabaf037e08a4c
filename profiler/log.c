/*
 * log.c - diagnostics.  The library is preloaded into other people's
 * processes, so it is silent unless the user installs a callback or sets
 * STILLPROF_LOG (to a level: error, warn, info, debug; any other value
 * means warn).  Messages go to stderr with a "stillprof: " prefix.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static stillprof_log_fn *log_fn;
static void *log_ctx;

void stillprof_set_log(stillprof_log_fn *fn, void *ctx)
{
	log_fn = fn;
	log_ctx = ctx;
}

static int env_level(void)
{
	const char *v = getenv("STILLPROF_LOG");

	if (!v || !*v)
		return -1;
	if (!strcmp(v, "error"))
		return STILLPROF_LOG_ERROR;
	if (!strcmp(v, "info"))
		return STILLPROF_LOG_INFO;
	if (!strcmp(v, "debug"))
		return STILLPROF_LOG_DEBUG;
	return STILLPROF_LOG_WARN;
}

void sp_log(int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int saved = errno;

	if (!log_fn && level > env_level()) {
		errno = saved;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_fn) {
		log_fn(level, msg, log_ctx);
	} else {
		/* One write(2) so lines of concurrent threads do not mix. */
		char line[sizeof(msg) + 16];
		int n = snprintf(line, sizeof(line), "stillprof: %s\n", msg);
		if (n > 0)
			(void)!write(STDERR_FILENO, line,
			             (size_t)n < sizeof(line) ? (size_t)n
			                                      : sizeof(line) - 1);
	}
	errno = saved;
}

int sp_err_at(int err, const char *file, int line)
{
	if (err)
		sp_debug("error %s at %s:%d", stillprof_errname(err), file,
		         line);
	return err;
}

void sp_close(int fd)
{
	int saved = errno;

	if (fd >= 0)
		close(fd);
	errno = saved;
}
