/*
 * test_collapsed.c - folded stacks from the shared hand-made store: the
 * exact text with and without the thread as root frame, name escaping,
 * an empty store, an unresolved store, and the OOM loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "writers_fixture.h"
#include "formats.h"
#include "writers.h"

static char *write_text(const struct sp_store *st,
                        const struct sp_collapsed_opts *o)
{
	struct sp_sink s;
	char *text;

	sp_sink_init_mem(&s);
	assert_int_equal(sp_collapsed_write(st, o, &s), 0);
	text = calloc(1, s.len + 1);
	assert_non_null(text);
	if (s.len)
		memcpy(text, s.buf, s.len);
	sp_sink_fini(&s);
	return text;
}

/* Pcs and lines of one function merge (A and A2), so do threads; ';'
 * and '\n' in a name cannot break a line. */
static void test_collapsed_merges_by_names(void **state)
{
	struct sp_store *st = fx_store();
	char *text;

	(void)state;
	text = write_text(st, NULL);
	assert_string_equal(text, "(unknown) 2\n"
	                          "main;<main> 1\n"
	                          "main;fib 2\n"
	                          "main;fib;fib;leaf 5\n"
	                          "main;odd:name \"q\"?\\ 2\n");
	free(text);
	sp_store_free(st);
}

static void test_collapsed_thread_root(void **state)
{
	struct sp_collapsed_opts o = { .thread_root = 1 };
	struct sp_store *st = fx_store();
	char *text;

	(void)state;
	text = write_text(st, &o);
	assert_string_equal(text, "main-1001;main;<main> 1\n"
	                          "main-1001;main;fib 1\n"
	                          "main-1001;main;fib;fib;leaf 4\n"
	                          "worker-1002;(unknown) 2\n"
	                          "worker-1002;main;fib 1\n"
	                          "worker-1002;main;fib;fib;leaf 1\n"
	                          "worker-1002;main;odd:name \"q\"?\\ 2\n");
	free(text);
	sp_store_free(st);
}

static void test_collapsed_empty_and_unresolved(void **state)
{
	struct sp_store *st;
	struct sp_sink s;
	char *text;

	(void)state;
	assert_int_equal(sp_store_new(&st), 0);
	text = write_text(st, NULL);
	assert_string_equal(text, "");
	free(text);
	sp_store_free(st);

	st = fx_unresolved();
	sp_sink_init_mem(&s);
	assert_int_equal(sp_collapsed_write(st, NULL, &s), -EINVAL);
	assert_int_equal(s.len, 0);
	sp_sink_fini(&s);
	sp_store_free(st);
}

static void test_collapsed_oom_loop(void **state)
{
	struct sp_collapsed_opts o = { .thread_root = 1 };
	struct sp_store *st = fx_store();

	(void)state;
	FX_ASSERT_OOM_LOOP(sp_collapsed_write(st, &o, fx_sink), 2);
	sp_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_collapsed_merges_by_names),
		cmocka_unit_test(test_collapsed_thread_root),
		cmocka_unit_test(test_collapsed_empty_and_unresolved),
		cmocka_unit_test(test_collapsed_oom_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
