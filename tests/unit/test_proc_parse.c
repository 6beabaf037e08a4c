/*
 * test_proc_parse.c - the /proc parsers on real and hostile content:
 * stat start time (names with spaces and parentheses, truncation),
 * comm trimming, syscall states, task entry names; plus the live files
 * of this very thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "proc_parse.h"
#include "threads.h"

#define S(x) (x), sizeof(x) - 1

static void test_proc_stat_starttime(void **state)
{
	uint64_t v = 7;
	(void)state;

	assert_int_equal(sp_parse_stat_starttime(S(
	    "23036 (cat) R 19359 19359 30784 0 -1 4194304 100 0 0 0 0 0 0 0 "
	    "20 0 1 0 1255406 3133440 390 18446744073709551615\n"), &v), 0);
	assert_int_equal(v, 1255406);
	/* A name with ") " inside: only the last ")" counts. */
	assert_int_equal(sp_parse_stat_starttime(S(
	    "5 (a) b (c)) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 0"), &v),
	    0);
	assert_int_equal(v, 42);
	/* Ends right after the field. */
	assert_int_equal(sp_parse_stat_starttime(S(
	    "5 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9"), &v), 0);
	assert_int_equal(v, 9);
	v = 7;
	assert_int_equal(sp_parse_stat_starttime(S("5 (x) S 1 1"), &v),
	                 -EINVAL);
	assert_int_equal(sp_parse_stat_starttime(S("no paren"), &v), -EINVAL);
	assert_int_equal(sp_parse_stat_starttime(S(""), &v), -EINVAL);
	assert_int_equal(sp_parse_stat_starttime(S(
	    "5 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 x 0"), &v), -EINVAL);
	assert_int_equal(sp_parse_stat_starttime(S(
	    "5 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
	    "99999999999999999999999 0"), &v), -ERANGE);
	assert_int_equal(v, 7);
}

static void test_proc_comm(void **state)
{
	char name[16];
	(void)state;

	sp_parse_comm(S("worker\n"), name);
	assert_string_equal(name, "worker");
	sp_parse_comm(S("0123456789abcdefXYZ"), name);
	assert_string_equal(name, "0123456789abcde");
	sp_parse_comm(S("\n"), name);
	assert_string_equal(name, "");
	sp_parse_comm("", 0, name);
	assert_string_equal(name, "");
}

static void test_proc_syscall(void **state)
{
	long nr = 99;
	unsigned long sp = 0, pc = 0;
	(void)state;

	assert_int_equal(sp_parse_syscall(S(
	    "7 0x3 0x7f8dea6ee000 0x20000 0x7f8dea77eb60 0xffffffff 0x0 "
	    "0x7ffece5d5b28 0x7f8dea8672ad\n"), &nr, &sp, &pc), 1);
	assert_int_equal(nr, 7);
	assert_int_equal(sp, 0x7ffece5d5b28ul);
	assert_int_equal(pc, 0x7f8dea8672adul);
	assert_int_equal(sp_parse_syscall(S("running\n"), &nr, &sp, &pc), 0);
	assert_int_equal(sp_parse_syscall(S("-1 0x7ffe 0x4011\n"), &nr, &sp,
	                                  &pc), 0);
	assert_int_equal(sp_parse_syscall(S("-2 0x1 0x2\n"), &nr, &sp, &pc),
	                 -EINVAL);
	assert_int_equal(sp_parse_syscall(S("7 0x3 0x4\n"), &nr, &sp, &pc),
	                 -EINVAL);
	assert_int_equal(sp_parse_syscall(S("7 0x3 0x7 0x2 0x7 0xf 0x0 0x1 "
	                                    "0xfffffffffffffffff\n"),
	                                  &nr, &sp, &pc),
	                 -EINVAL); /* 17 hex digits: past 64 bits */
	assert_int_equal(sp_parse_syscall(S("x"), &nr, &sp, &pc), -EINVAL);
	assert_int_equal(sp_parse_syscall("", 0, &nr, &sp, &pc), -EINVAL);
	assert_int_equal(nr, 7);
}

static void test_proc_tid(void **state)
{
	(void)state;
	assert_int_equal(sp_parse_tid("1234"), 1234);
	assert_int_equal(sp_parse_tid("."), 0);
	assert_int_equal(sp_parse_tid(".."), 0);
	assert_int_equal(sp_parse_tid(""), 0);
	assert_int_equal(sp_parse_tid("12a"), 0);
	assert_int_equal(sp_parse_tid("-5"), 0);
	assert_int_equal(sp_parse_tid("99999999999"), 0);
}

static void test_proc_live_files(void **state)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);
	uint64_t start = 0;
	char name[16], path[64], buf[256];
	long nr;
	unsigned long sp, pc;
	ssize_t n;
	int fd;
	(void)state;

	assert_int_equal(sp_thread_read_start(tid, &start), 0);
	assert_true(start > 0);
	assert_int_equal(sp_thread_read_name(tid, name), 0);
	assert_true(strlen(name) > 0);
	/* This thread reads its own syscall file: "running" or inside
	 * read(2) — either parses. */
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		skip();
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_true(n > 0);
	assert_true(sp_parse_syscall(buf, (size_t)n, &nr, &sp, &pc) >= 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_proc_stat_starttime),
		cmocka_unit_test(test_proc_comm),
		cmocka_unit_test(test_proc_syscall),
		cmocka_unit_test(test_proc_tid),
		cmocka_unit_test(test_proc_live_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
