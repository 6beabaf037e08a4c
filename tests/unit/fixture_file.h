/*
 * fixture_file.h - load a file of tests/fixtures/ (found through $SRCDIR,
 * which the test harness sets) into a malloc'd buffer with one spare
 * byte.  Shared by the reader tests; include after cmocka.h.
 */
#ifndef FIXTURE_FILE_H
#define FIXTURE_FILE_H

#include <stdio.h>
#include <stdlib.h>

static unsigned char *load_fixture(const char *name, size_t *len)
{
	const char *dir = getenv("SRCDIR");
	char path[4096];
	unsigned char *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/tests/fixtures/%s", dir ? dir : ".",
	         name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (set SRCDIR)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

#endif
