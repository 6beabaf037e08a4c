/*
 * test_json_read.c - the strict JSON parser (json_read.c): valid texts of
 * every kind, invalid ones with the offset their error names, the fixture
 * JSON files (stackprof --json output), truncation at every offset, the
 * depth limit and an allocation-failure loop.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "readers.h"
#include "fixture_file.h"

static const char *const fixtures[] = {
	"cpu-raw-0.2.28.json", "wall-raw-0.2.28.json",
};

static char errbuf[512];

static int parse(const char *text, struct sp_value *v)
{
	return sp_json_read(text, strlen(text), v, errbuf, sizeof(errbuf));
}

static void test_json_read_scalars(void **state)
{
	struct sp_value v;
	int64_t x;

	(void)state;
	assert_int_equal(parse(" null ", &v), 0);
	assert_int_equal(v.type, SP_VAL_NIL);
	assert_int_equal(parse("true", &v), 0);
	assert_int_equal(v.type, SP_VAL_TRUE);
	assert_int_equal(parse("\tfalse\r\n", &v), 0);
	assert_int_equal(v.type, SP_VAL_FALSE);
	assert_int_equal(parse("0", &v), 0);
	assert_int_equal(v.type, SP_VAL_INT);
	assert_int_equal(v.u.i, 0);
	assert_int_equal(parse("-0", &v), 0);
	assert_int_equal(v.type, SP_VAL_INT);
	assert_int_equal(parse("140216844843480", &v), 0);
	assert_true(v.u.i == INT64_C(140216844843480));
	assert_int_equal(parse("9223372036854775807", &v), 0);
	assert_true(v.type == SP_VAL_INT && v.u.i == INT64_MAX);
	assert_int_equal(parse("-9223372036854775808", &v), 0);
	assert_true(v.type == SP_VAL_INT && v.u.i == INT64_MIN);
	/* out of int64: a double */
	assert_int_equal(parse("9223372036854775808", &v), 0);
	assert_int_equal(v.type, SP_VAL_FLOAT);
	assert_true(v.u.f == 9223372036854775808.0);
	assert_int_equal(parse("-99999999999999999999999", &v), 0);
	assert_int_equal(v.type, SP_VAL_FLOAT);
	assert_int_equal(parse("1.2", &v), 0);
	assert_true(v.type == SP_VAL_FLOAT && v.u.f == 1.2);
	assert_int_equal(parse("1E2", &v), 0);
	assert_true(v.type == SP_VAL_FLOAT && v.u.f == 100.0);
	assert_int_equal(parse("-1.5e-7", &v), 0);
	assert_true(v.u.f == -1.5e-7);
	assert_int_equal(parse("2e+3", &v), 0);
	assert_true(v.u.f == 2000.0);
	assert_int_equal(parse("1e999", &v), 0);
	assert_true(isinf(v.u.f));
	/* integral-looking strings convert, for frame-id keys */
	assert_int_equal(parse("\"-42\"", &v), 0);
	assert_int_equal(sp_value_to_i64(&v, &x), 0);
	assert_int_equal(x, -42);
	sp_value_fini(&v);
}

static void test_json_read_strings(void **state)
{
	struct sp_value v;
	size_t len;

	(void)state;
	assert_int_equal(parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", &v), 0);
	assert_string_equal(sp_value_str(&v, NULL), "a\"b\\c/d\b\f\n\r\t");
	assert_int_equal(v.enc, SP_ENC_UTF8);
	sp_value_fini(&v);
	assert_int_equal(parse("\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\\u0000x\"",
	                       &v), 0);
	assert_memory_equal(sp_value_str(&v, &len),
	                    "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\0x", 12);
	assert_int_equal(len, 12);
	sp_value_fini(&v);
	assert_int_equal(parse("\"\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80\"", &v), 0);
	assert_string_equal(sp_value_str(&v, NULL),
	                    "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80");
	sp_value_fini(&v);
	assert_int_equal(parse("\xef\xbb\xbf\"bom\"", &v), 0);
	assert_string_equal(sp_value_str(&v, NULL), "bom");
	sp_value_fini(&v);
}

static void test_json_read_containers(void **state)
{
	struct sp_value v;
	const struct sp_value *f;

	(void)state;
	assert_int_equal(parse("[]", &v), 0);
	assert_int_equal(v.type, SP_VAL_ARRAY);
	assert_int_equal(sp_value_len(&v), 0);
	sp_value_fini(&v);
	assert_int_equal(parse(" { } ", &v), 0);
	assert_int_equal(v.type, SP_VAL_HASH);
	sp_value_fini(&v);
	assert_int_equal(parse("{\"mode\":\"cpu\",\"frames\":{\"8\":{\"name\":"
	                       "\"main\",\"line\":null}},\"raw\":[1, 8 ,3],"
	                       "\"mode\":\"wall\"}", &v), 0);
	assert_int_equal(sp_value_len(&v), 4);
	assert_true(sp_value_is(sp_value_get(&v, "mode"), "wall")); /* last */
	f = sp_value_get_int(sp_value_get(&v, "frames"), 8);
	assert_non_null(f);
	assert_true(sp_value_is(sp_value_get(f, "name"), "main"));
	assert_int_equal(sp_value_get(f, "line")->type, SP_VAL_NIL);
	assert_int_equal(sp_value_at(sp_value_get(&v, "raw"), 2)->u.i, 3);
	assert_null(sp_value_at(sp_value_get(&v, "raw"), 3));
	sp_value_fini(&v);
}

static void test_json_read_refuses_with_offsets(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{ "", "offset 0: truncated" },
		{ "   ", "offset 3: truncated" },
		{ "nul", "offset 0: expected a JSON value" },
		{ "[1,]", "offset 3: expected a JSON value, found ']'" },
		{ "[1 2]", "offset 3: expected ',' or ']', found '2'" },
		{ "{\"a\" 1}", "offset 5: expected ':'" },
		{ "{\"a\":1,}", "offset 7: expected a string key" },
		{ "{a:1}", "offset 1: expected a string key" },
		{ "01", "offset 0: number with a leading zero" },
		{ "-", "offset 1: truncated" },
		{ "1.", "offset 2: truncated: end of input, expected a digit" },
		{ ".5", "offset 0: expected a JSON value" },
		{ "1e", "offset 2: truncated" },
		{ "+1", "offset 0: expected a JSON value, found '+'" },
		{ "NaN", "offset 0" },
		{ "\"abc", "offset 0: truncated: unterminated string" },
		{ "\"a\tb\"", "offset 2: control character 0x09" },
		{ "\"\\x\"", "offset 1: invalid escape '\\x'" },
		{ "\"\\u12g4\"", "offset 5: bad hex digit" },
		{ "\"\\ud800\"", "offset 1: high surrogate \\ud800 without" },
		{ "\"\\ud800\\u0041\"", "offset 1: high surrogate \\ud800 "
		  "followed by \\u0041" },
		{ "\"\\udc00\"", "offset 1: lone low surrogate" },
		{ "\"\xc3\"", "offset 1: invalid UTF-8" },
		{ "\"\xc0\xaf\"", "offset 1: invalid UTF-8" },
		{ "\"\xed\xa0\x80\"", "offset 1: invalid UTF-8" },
		{ "[1] x", "offset 4: expected end of input, found 'x'" },
		{ "// c\n1", "offset 0" },
		{ "\x01", "offset 0: expected a JSON value, found byte 0x01" },
	};
	struct sp_value v;
	size_t i;

	(void)state;
	for (i = 0; i < SP_ARRAY_LEN(cases); i++) {
		errbuf[0] = '\0';
		assert_int_equal(parse(cases[i].text, &v), STILLPROF_EBADFORMAT);
		if (!strstr(errbuf, cases[i].msg))
			fail_msg("case %zu (%s): \"%s\" lacks \"%s\"", i,
			         cases[i].text, errbuf, cases[i].msg);
		assert_int_equal(v.type, SP_VAL_NIL);
	}
}

static void test_json_read_depth_limit(void **state)
{
	char deep[600];
	struct sp_value v;
	int i;

	(void)state;
	for (i = 0; i < 300; i++) {
		deep[i] = '[';
		deep[599 - i] = ']';
	}
	assert_int_equal(sp_json_read(deep, sizeof(deep), &v, errbuf,
	                              sizeof(errbuf)), STILLPROF_EBADFORMAT);
	assert_non_null(strstr(errbuf, "offset 128: nesting deeper than"));
	assert_int_equal(sp_json_read(deep + 300 - SP_READ_MAX_DEPTH,
	                              2 * SP_READ_MAX_DEPTH, &v, errbuf,
	                              sizeof(errbuf)), 0);
	sp_value_fini(&v);
}

static void test_json_read_fixtures_and_truncation(void **state)
{
	struct sp_value v;
	unsigned char *buf, *p;
	size_t i, k, len;
	int err;

	(void)state;
	for (i = 0; i < SP_ARRAY_LEN(fixtures); i++) {
		buf = load_fixture(fixtures[i], &len);
		if (sp_json_read(buf, len, &v, errbuf, sizeof(errbuf)))
			fail_msg("%s: %s", fixtures[i], errbuf);
		assert_true(sp_value_is(sp_value_get(&v, "mode"), "cpu") ||
		            sp_value_is(sp_value_get(&v, "mode"), "wall"));
		assert_true(sp_value_len(sp_value_get(&v, "raw")) > 0);
		assert_int_equal(sp_value_len(sp_value_get(&v, "raw")),
		                 sp_value_len(sp_value_get(&v, "raw_lines")));
		sp_value_fini(&v);
		/* every proper prefix of the object is an error (the file
		 * ends with "}\n": stop before the closing brace) */
		while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
			len--;
		for (k = 0; k < len; k++) {
			p = malloc(k ? k : 1);
			memcpy(p, buf, k);
			errbuf[0] = '\0';
			err = sp_json_read(p, k, &v, errbuf, sizeof(errbuf));
			free(p);
			if (err != STILLPROF_EBADFORMAT ||
			    !strstr(errbuf, "offset "))
				fail_msg("%s cut at %zu: %d \"%s\"",
				         fixtures[i], k, err, errbuf);
		}
		free(buf);
	}
}

static void test_json_read_oom_loop(void **state)
{
	(void)state;
	assert_reader_oom_loop(sp_json_read, "wall-raw-0.2.28.json", 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_read_scalars),
		cmocka_unit_test(test_json_read_strings),
		cmocka_unit_test(test_json_read_containers),
		cmocka_unit_test(test_json_read_refuses_with_offsets),
		cmocka_unit_test(test_json_read_depth_limit),
		cmocka_unit_test(test_json_read_fixtures_and_truncation),
		cmocka_unit_test(test_json_read_oom_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
