/*
 * slurp_file.h - a whole file into a malloc'd, NUL-terminated buffer for
 * the unit tests (fixtures, files a test wrote).  Include after cmocka.h.
 */
#ifndef SLURP_FILE_H
#define SLURP_FILE_H

#include <stdio.h>
#include <stdlib.h>

/* The bytes of path plus a NUL (*len excludes it), or NULL when path
 * cannot be opened; a failed read fails the test. */
__attribute__((unused)) static char *slurp_file(const char *path,
                                                size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

#endif
