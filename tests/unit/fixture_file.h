/*
 * fixture_file.h - load a file of tests/fixtures/ (found through $SRCDIR,
 * which the test harness sets) into a malloc'd buffer with one spare
 * byte, and check a value reader under allocation failures.  Shared by
 * the reader tests; include after cmocka.h and readers.h.
 */
#ifndef FIXTURE_FILE_H
#define FIXTURE_FILE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slurp_file.h"

static unsigned char *load_fixture(const char *name, size_t *len)
{
	const char *dir = getenv("SRCDIR");
	char path[4096];
	char *buf;

	snprintf(path, sizeof(path), "%s/tests/fixtures/%s", dir ? dir : ".",
	         name);
	buf = slurp_file(path, len);
	if (!buf)
		fail_msg("cannot open %s (set SRCDIR)", path);
	return (unsigned char *)buf;
}

/*
 * Fail the 1st, 2nd, ... allocation of `read` (sp_marshal_read or
 * sp_json_read) on the fixture `name` until it succeeds: every failure
 * must be -ENOMEM with "out of memory" in the message and leave the value
 * nil, and more than min_fails allocations must have been exercised.
 */
static inline void assert_reader_oom_loop(int (*read)(const void *, size_t,
                                                      struct sp_value *, char *,
                                                      size_t),
                                          const char *name,
                                          unsigned long min_fails)
{
	struct sp_value v;
	char err_msg[512];
	unsigned char *buf;
	size_t len;
	unsigned long n;
	int err;

	buf = load_fixture(name, &len);
	for (n = 1;; n++) {
		sp_alloc_fail_at(n);
		err = read(buf, len, &v, err_msg, sizeof(err_msg));
		sp_alloc_fail_at(0);
		if (!err)
			break;
		assert_int_equal(err, -ENOMEM);
		assert_non_null(strstr(err_msg, "out of memory"));
		assert_int_equal(v.type, SP_VAL_NIL);
	}
	assert_true(n > min_fails);
	sp_value_fini(&v);
	free(buf);
}

#endif
