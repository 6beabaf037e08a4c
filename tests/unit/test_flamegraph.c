/*
 * test_flamegraph.c - the HTML flame graph of the shared hand-made store:
 * escaped names in the JSON blob and the thread options, the trees' counts,
 * no network references, an unresolved store, and the OOM loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "writers_fixture.h"
#include "formats.h"
#include "writers.h"

static char *write_html(const struct sp_store *st)
{
	struct sp_sink s;
	char *text;

	sp_sink_init_mem(&s);
	assert_int_equal(sp_flamegraph_write(st, NULL, &s), 0);
	text = calloc(1, s.len + 1);
	assert_non_null(text);
	if (s.len)
		memcpy(text, s.buf, s.len);
	sp_sink_fini(&s);
	return text;
}

static void assert_has(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("missing: %s", needle);
}

/* The JSON between the data script's tags. */
static char *json_of(const char *html)
{
	const char *open = "<script type=\"application/json\" id=\"fg-data\">";
	const char *b = strstr(html, open), *e;
	char *out;

	assert_non_null(b);
	b += strlen(open);
	e = strstr(b, "</script>");
	assert_non_null(e);
	out = calloc(1, (size_t)(e - b) + 1);
	assert_non_null(out);
	memcpy(out, b, (size_t)(e - b));
	return out;
}

static void test_flamegraph_html(void **state)
{
	struct sp_store *st = fx_store();
	char *html, *json;

	(void)state;
	html = write_html(st);
	assert_true(!strncmp(html, "<!DOCTYPE html>", 15));
	assert_has(html, "</html>\n");
	/* thread selector: all threads, then each thread */
	assert_has(html, "<select id=\"thread\">");
	assert_has(html, "<option value=\"0\">all threads - 12 samples"
	                 "</option>");
	assert_has(html, "<option value=\"1\">main (tid 1001) - 6 samples"
	                 "</option>");
	assert_has(html, "<option value=\"2\">worker (tid 1002) - 6 samples"
	                 "</option>");
	assert_has(html, "id=\"reset\"");
	assert_has(html, "id=\"search\"");
	assert_has(html, "fg-box");
	/* nothing from the network, no raw profile names in the markup */
	assert_null(strstr(html, "http://"));
	assert_null(strstr(html, "https://"));
	assert_null(strstr(html, "//cdn"));
	assert_null(strstr(html, "<main>"));

	json = json_of(html);
	assert_null(strchr(json, '<'));
	assert_null(strchr(json, '>'));
	/* names: '<' and '>' as \u escapes, JSON escapes for the odd one */
	assert_has(json, "[\"\\u003cmain\\u003e\",\"/app/x.rb\",1]");
	assert_has(json, "[\"odd;name \\\"q\\\"\\n\\\\\",\"" FX_LIBC "\",0]");
	assert_has(json, "[\"main\",\"/src/main.c\",10]");
	assert_has(json, "[\"(unknown)\",\"\",0]]");
	assert_has(json, "{\"name\":\"all threads\",\"tree\":[-1,12,0,[");
	assert_has(json, "{\"name\":\"main (tid 1001)\",\"tree\":[-1,6,0,[");
	assert_has(json, "{\"name\":\"worker (tid 1002)\",\"tree\":[-1,6,0,[");
	free(json);
	free(html);
	sp_store_free(st);
}

/* The trees' counts: in main's thread, main has total 6 with fib 5 (self
 * 1), fib;fib 4, leaf 4 (self 4), <main> 1. */
static void test_flamegraph_counts(void **state)
{
	struct sp_store *st = fx_store();
	char *html, *json, *t;
	uint32_t i, fmain = UINT32_MAX, ffib = UINT32_MAX, fleaf = UINT32_MAX;
	char want[160];

	(void)state;
	for (i = 0; i < st->n_frames; i++) {
		if (!strcmp(st->frames[i].name, "main"))
			fmain = i;
		else if (!strcmp(st->frames[i].name, "fib"))
			ffib = i;
		else if (!strcmp(st->frames[i].name, "leaf"))
			fleaf = i;
	}
	assert_true(fmain != UINT32_MAX && ffib != UINT32_MAX &&
	            fleaf != UINT32_MAX);
	html = write_html(st);
	json = json_of(html);
	t = strstr(json, "{\"name\":\"main (tid 1001)\"");
	assert_non_null(t);
	snprintf(want, sizeof(want), "[%u,6,0,[", fmain);
	assert_has(t, want);
	snprintf(want, sizeof(want), "[%u,5,1,[[%u,4,0,[[%u,4,4]]]]]",
	         ffib, ffib, fleaf);
	assert_has(t, want);
	/* all threads: main 10, (unknown) 2 (its frame is n_frames) */
	snprintf(want, sizeof(want), "[%zu,2,2]", st->n_frames);
	assert_has(json, want);
	snprintf(want, sizeof(want), "\"tree\":[-1,12,0,[");
	assert_has(json, want);
	free(json);
	free(html);
	sp_store_free(st);
}

static void test_flamegraph_empty_and_unresolved(void **state)
{
	struct sp_store *st;
	struct sp_sink s;
	char *html;

	(void)state;
	assert_int_equal(sp_store_new(&st), 0);
	html = write_html(st);
	assert_has(html, "\"views\":[{\"name\":\"all threads\","
	                 "\"tree\":[-1,0,0]}]");
	free(html);
	sp_store_free(st);

	st = fx_unresolved();
	sp_sink_init_mem(&s);
	assert_int_equal(sp_flamegraph_write(st, NULL, &s), -EINVAL);
	assert_int_equal(s.len, 0);
	sp_sink_fini(&s);
	sp_store_free(st);
}

static void test_flamegraph_oom_loop(void **state)
{
	struct sp_store *st = fx_store();

	(void)state;
	FX_ASSERT_OOM_LOOP(sp_flamegraph_write(st, NULL, fx_sink), 2);
	sp_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flamegraph_html),
		cmocka_unit_test(test_flamegraph_counts),
		cmocka_unit_test(test_flamegraph_empty_and_unresolved),
		cmocka_unit_test(test_flamegraph_oom_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
