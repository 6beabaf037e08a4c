/*
 * error.c - error codes to text.  stillprof's own codes (STILLPROF_E*,
 * from -4000) come from the X-macro table in stillprof.h; anything else is
 * a negative errno.
 */
#define _GNU_SOURCE
#include <string.h>

#include "internal.h"

const char *stillprof_strerror(int err)
{
	switch (err) {
#define XX(name, val, msg)                                                     \
	case (val):                                                            \
		return msg;
		STILLPROF_ERRNO_MAP(XX)
#undef XX
	case 0:
		return "success";
	default:
		/* strerror's table is static in glibc; negative errno in. */
		return err < 0 ? strerror(-err) : "unknown error";
	}
}

const char *stillprof_errname(int err)
{
	switch (err) {
#define XX(name, val, msg)                                                     \
	case (val):                                                            \
		return #name;
		STILLPROF_ERRNO_MAP(XX)
#undef XX
	case 0:
		return "OK";
	default: {
		const char *n = err < 0 ? strerrorname_np(-err) : NULL;
		return n ? n : "EUNKNOWN";
	}
	}
}
