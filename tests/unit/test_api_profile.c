/*
 * test_api_profile.c - the public profile API (api_profile.c): a profile
 * built from caller-supplied frames writes folded stacks with the exact
 * expected text, a stackprof dump, pprof and the HTML flame graph; bad
 * arguments are refused; a failed write leaves no file.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "slurp_file.h"
#include "stillprof.h"

static char dir[] = "/tmp/sp-api-profile.XXXXXX";

static char *slurp(const char *path, size_t *len)
{
	char *buf = slurp_file(path, len);

	assert_non_null(buf);
	return buf;
}

static stillprof_profile *make(void)
{
	stillprof_profile *p;
	uint32_t main_f, work_f, sleep_f, t1, t2, again;
	uint32_t s1[2], s2[2];
	int32_t l1[2] = {3, 10}, l2[2] = {0, 11};

	assert_int_equal(stillprof_profile_new(&p, STILLPROF_MODE_WALL, 1000), 0);
	assert_int_equal(stillprof_profile_add_frame(p, "<main>", "app.rb", 1, &main_f), 0);
	assert_int_equal(stillprof_profile_add_frame(p, "Object#work", "app.rb", 2, &work_f), 0);
	assert_int_equal(stillprof_profile_add_frame(p, "Kernel#sleep", "<cfunc>", 0, &sleep_f), 0);
	assert_int_equal(stillprof_profile_add_thread(p, 100, "main", &t1), 0);
	assert_int_equal(stillprof_profile_add_thread(p, 101, "worker", &t2), 0);
	assert_int_equal(stillprof_profile_add_thread(p, 100, "main", &again), 0);
	assert_int_equal(again, t1);
	s1[0] = work_f; s1[1] = main_f;
	s2[0] = sleep_f; s2[1] = main_f;
	for (int i = 0; i < 3; i++)
		assert_int_equal(stillprof_profile_add_sample(p, t1, s1, l1, 2,
		                 1000000000ull + i * 1000000ull, 0), 0);
	assert_int_equal(stillprof_profile_add_sample(p, t2, s2, l2, 2, 1000500000ull, 1), 0);
	assert_int_equal(stillprof_profile_add_sample(p, t2, s2, NULL, 2, 1001500000ull, 1), 0);
	return p;
}

static void test_writes_every_format(void **state)
{
	stillprof_profile *p = make();
	char path[256];
	char *text;
	size_t len;

	(void)state;
	snprintf(path, sizeof(path), "%s/p.folded", dir);
	assert_int_equal(stillprof_profile_write(p, path, STILLPROF_FORMAT_COLLAPSED), 0);
	text = slurp(path, &len);
	assert_non_null(strstr(text, "main-100;<main>;Object#work 3\n"));
	assert_non_null(strstr(text, "worker-101;<main>;Kernel#sleep 2\n"));
	free(text);

	snprintf(path, sizeof(path), "%s/p.dump", dir);
	assert_int_equal(stillprof_profile_write(p, path, STILLPROF_FORMAT_STACKPROF), 0);
	text = slurp(path, &len);
	assert_true(len > 2 && text[0] == 4 && text[1] == 8);
	assert_non_null(memmem(text, len, "Object#work", 11));
	free(text);

	snprintf(path, sizeof(path), "%s/p.pb.gz", dir);
	assert_int_equal(stillprof_profile_write(p, path, STILLPROF_FORMAT_PPROF), 0);
	text = slurp(path, &len);
	assert_true(len > 2 && (unsigned char)text[0] == 0x1f &&
	            (unsigned char)text[1] == 0x8b);
	free(text);

	snprintf(path, sizeof(path), "%s/p.html", dir);
	assert_int_equal(stillprof_profile_write(p, path, STILLPROF_FORMAT_FLAMEGRAPH_HTML), 0);
	text = slurp(path, &len);
	assert_non_null(strstr(text, "<html"));
	assert_non_null(strstr(text, "Kernel#sleep"));
	free(text);
	stillprof_profile_free(p);
}

static void test_bad_arguments(void **state)
{
	stillprof_profile *p;
	uint32_t f, frames[1] = {7};
	char path[256];
	struct stat sb;

	(void)state;
	assert_int_equal(stillprof_profile_new(&p, 5, 1000), STILLPROF_EBADMODE);
	assert_int_equal(stillprof_profile_new(&p, STILLPROF_MODE_CPU, 0), STILLPROF_EBADINTERVAL);
	assert_int_equal(stillprof_profile_new(&p, STILLPROF_MODE_CPU, 2000000), STILLPROF_EBADINTERVAL);
	assert_int_equal(stillprof_profile_new(&p, STILLPROF_MODE_CPU, 1000), 0);
	assert_int_equal(stillprof_profile_add_frame(p, NULL, "", 0, &f), -EINVAL);
	/* no thread 0 yet, then a frame handle out of range */
	assert_int_equal(stillprof_profile_add_sample(p, 0, frames, NULL, 1, 1, 0), -EINVAL);
	assert_int_equal(stillprof_profile_add_thread(p, 1, NULL, &f), 0);
	assert_int_equal(stillprof_profile_add_sample(p, 0, frames, NULL, 1, 1, 0), -EINVAL);
	assert_int_equal(stillprof_profile_write(p, NULL, STILLPROF_FORMAT_PPROF), -EINVAL);
	snprintf(path, sizeof(path), "%s/bad.out", dir);
	assert_int_equal(stillprof_profile_write(p, path, 42), STILLPROF_EBADFORMAT);
	assert_int_equal(stat(path, &sb), -1);
	snprintf(path, sizeof(path), "%s/no/such/dir/x.dump", dir);
	assert_true(stillprof_profile_write(p, path, STILLPROF_FORMAT_STACKPROF) < 0);
	stillprof_profile_free(p);
	stillprof_profile_free(NULL);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writes_every_format),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
