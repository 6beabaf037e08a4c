/*
 * test_stackprof_json.c - the stackprof result Hash as JSON, and json.c's
 * primitives.  Without Ruby: escaping, Ruby-style floats, the exact start
 * of the document, errors and the OOM loop.  With ruby on PATH: the text
 * is byte-identical to JSON.generate of the Marshal dump of the same
 * store (what `stackprof --json` prints), JSON.parse of it equals
 * Marshal.load of the dump after StackProf::Report.parse_json's key
 * conversion, and invalid UTF-8 still gives valid JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "writers_fixture.h"
#include "formats.h"
#include "writers.h"
#include "fd_sink_fixture.h"

/* NUL-terminated copy of a memory sink; frees the sink. */
static char *take(struct sp_sink *s)
{
	char *text = calloc(1, s->len + 1);

	assert_non_null(text);
	if (s->len)
		memcpy(text, s->buf, s->len);
	sp_sink_fini(s);
	return text;
}

static char *json_of(const struct sp_store *st,
                     const struct sp_stackprof_json_opts *o)
{
	struct sp_sink s;

	sp_sink_init_mem(&s);
	assert_int_equal(sp_stackprof_json_write(st, o, &s), 0);
	return take(&s);
}

static void check_str(const char *in, size_t len, const char *want)
{
	struct sp_sink s;
	char *out;

	sp_sink_init_mem(&s);
	sp_json_str(&s, in, len);
	out = take(&s);
	assert_string_equal(out, want);
	free(out);
}

static void test_json_strings(void **state)
{
	(void)state;
	check_str("", 0, "\"\"");
	check_str("a\"b\\c/", 6, "\"a\\\"b\\\\c/\"");
	check_str("\b\f\n\r\t\x01\x1f\x7f", 8,
	          "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"");
	check_str("nul\0x", 5, "\"nul\\u0000x\"");
	/* valid UTF-8 is copied: é, €, U+1F600 */
	check_str("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
	          "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	/* invalid: stray byte, truncated, overlong, surrogate, > U+10FFFF */
	check_str("a\xff" "b", 3, "\"a\\ufffdb\"");
	check_str("\xe2\x82", 2, "\"\\ufffd\\ufffd\"");
	check_str("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");
	check_str("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
	check_str("\xf4\x90\x80\x80", 4,
	          "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
}

static void test_json_numbers(void **state)
{
	/* What Ruby 3.1's JSON.generate prints for each. */
	static const struct {
		double v;
		const char *want;
	} floats[] = {
		{ 1.2, "1.2" }, { 100.0, "100.0" }, { 0.0, "0.0" },
		{ -0.0, "-0.0" }, { -2.5, "-2.5" }, { 1e20, "1.0e+20" },
		{ 1e14, "100000000000000.0" }, { 1e15, "1.0e+15" },
		{ 1.5e15, "1.5e+15" }, { 1e-5, "1.0e-05" },
		{ 0.0001, "0.0001" }, { 0.00012, "0.00012" },
		{ 0.1 + 0.2, "0.30000000000000004" },
		{ 123456789.123, "123456789.123" },
		{ 1e300 * 1e300, "null" },
	};
	struct sp_sink s;
	size_t i;
	char *out;

	(void)state;
	for (i = 0; i < SP_ARRAY_LEN(floats); i++) {
		sp_sink_init_mem(&s);
		sp_json_float(&s, floats[i].v);
		out = take(&s);
		assert_string_equal(out, floats[i].want);
		free(out);
	}
	sp_sink_init_mem(&s);
	sp_json_int(&s, INT64_MIN);
	sp_sink_putc(&s, ' ');
	sp_json_uint(&s, UINT64_MAX);
	out = take(&s);
	assert_string_equal(out, "-9223372036854775808 18446744073709551615");
	free(out);
}

/* Keys in the Marshal writer's order; ids as strings; mode a string. */
static void test_stackprof_json_document(void **state)
{
	static const char head[] =
	    "{\"version\":1.2,\"mode\":\"wall\",\"interval\":1000,"
	    "\"samples\":12,\"gc_samples\":0,\"missed_samples\":2,"
	    "\"metadata\":{\"stillprof_version\":\"" STILLPROF_VERSION "\","
	    "\"backend\":\"test\",\"guarantee\":\"none\",\"pid\":4242,"
	    "\"start_time\":1700000000123456,\"start_monotonic\":5000000,"
	    "\"duration_ns\":1000000000,\"oncpu_samples\":12,"
	    "\"offcpu_samples\":0,\"weighted_samples\":0,\"cut_samples\":0,"
	    "\"threads\":[{\"tid\":1001,\"name\":\"main\","
	    "\"samples\":6},{\"tid\":1002,\"name\":\"worker\",\"samples\":6}],"
	    "\"raw_threads\":[1001,1001,1001,1002,1002,1002,1001,1002]},"
	    "\"frames\":{\"8\":{\"name\":\"leaf\",\"file\":\"/usr/bin/app\","
	    "\"line\":30,\"total_samples\":5,\"samples\":5,"
	    "\"lines\":{\"31\":[5,5]}},";
	static const char tail[] =
	    "\"raw_timestamp_deltas\":[1000,1000,1000,1000,1000,1000,1000,1000,"
	    "0,1000,1000,1000]}\n";
	struct sp_stackprof_json_opts lean = { .no_raw = 1, .no_aggregate = 1 };
	struct sp_store *st = fx_store();
	char *out;

	(void)state;
	out = json_of(st, NULL);
	assert_memory_equal(out, head, sizeof(head) - 1);
	assert_true(strlen(out) > sizeof(tail));
	assert_string_equal(out + strlen(out) - (sizeof(tail) - 1), tail);
	free(out);

	out = json_of(st, &lean);
	assert_null(strstr(out, "\"raw"));
	assert_null(strstr(out, "\"edges\""));
	assert_null(strstr(out, "\"lines\""));
	assert_non_null(strstr(out, "\"frames\":{\"8\":{\"name\":\"leaf\""));
	free(out);

	st->info.mode = STILLPROF_MODE_CPU;
	out = json_of(st, NULL);
	assert_non_null(strstr(out, "\"mode\":\"cpu\""));
	free(out);
	st->info.mode_name = "object"; /* a dump read back wins */
	out = json_of(st, NULL);
	assert_non_null(strstr(out, "\"mode\":\"object\""));
	free(out);
	sp_store_free(st);
}

static void test_stackprof_json_empty_and_unresolved(void **state)
{
	struct sp_store *st;
	struct sp_sink s;
	char *out;

	(void)state;
	assert_int_equal(sp_store_new(&st), 0);
	assert_int_equal(sp_store_resolve(st, NULL), 0);
	out = json_of(st, NULL);
	assert_non_null(strstr(out, ",\"frames\":{}}\n"));
	assert_non_null(strstr(out, "\"threads\":[]}"));
	free(out);
	sp_store_free(st);

	st = fx_unresolved();
	sp_sink_init_mem(&s);
	assert_int_equal(sp_stackprof_json_write(st, NULL, &s), -EINVAL);
	assert_int_equal(s.len, 0);
	sp_sink_fini(&s);
	sp_store_free(st);
}

static void test_stackprof_json_oom_loop(void **state)
{
	struct sp_store *st = fx_store();

	(void)state;
	FX_ASSERT_OOM_LOOP(sp_stackprof_json_write(st, NULL, fx_sink), 3);
	sp_store_free(st);
}

/* ---- through Ruby ---- */

static int have_ruby_json(void)
{
	return system("ruby -rjson -e 1 >/dev/null 2>&1") == 0;
}

static void to_file(const struct sp_sink *s, char *path)
{
	FILE *f;

	strcpy(path, "/tmp/sp_json_test_XXXXXX");
	sp_close(mkstemp(path));
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(s->buf, 1, s->len, f), s->len);
	assert_int_equal(fclose(f), 0);
}

/* Run ruby -rjson CODE DUMP JSON; return its stdout. */
static char *ruby_on(const char *code, const char *dump, const char *json)
{
	char cmd[4096];
	size_t cap = 1 << 16, n = 0, r;
	char *out = malloc(cap);
	FILE *p;

	assert_non_null(out);
	snprintf(cmd, sizeof(cmd), "ruby -rjson -e '%s' %s %s", code, dump,
	         json);
	p = popen(cmd, "r");
	assert_non_null(p);
	while ((r = fread(out + n, 1, cap - 1 - n, p)) > 0)
		n += r;
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	return out;
}

/* Both files of one store under the options. */
static void write_both(const struct sp_store *st, int raw, int aggregate,
                       char *dump, char *json)
{
	struct sp_stackprof_opts mo = { .raw = raw, .aggregate = aggregate };
	struct sp_stackprof_json_opts jo = { .no_raw = !raw,
	                                     .no_aggregate = !aggregate };
	struct sp_sink s;

	sp_sink_init_mem(&s);
	assert_int_equal(sp_stackprof_write(st, &mo, &s), 0);
	to_file(&s, dump);
	sp_sink_fini(&s);
	sp_sink_init_mem(&s);
	assert_int_equal(sp_stackprof_json_write(st, &jo, &s), 0);
	to_file(&s, json);
	sp_sink_fini(&s);
}

/* parse_json's conversion (digit keys -> Integer, others -> Symbol),
 * applied everywhere, and Symbol values as Strings, on both sides. */
static const char compare_rb[] =
    "norm = lambda { |v| case v "
    "when Hash then v.map { |k, x| [k.is_a?(Integer) ? k : "
    "k =~ /\\A[0-9]*\\z/ ? k.to_i : k.to_sym, norm.(x)] }.to_h "
    "when Array then v.map { |x| norm.(x) } "
    "when Symbol then v.to_s else v end }; "
    "m = Marshal.load(File.binread(ARGV[0])); "
    "t = File.read(ARGV[1]); j = JSON.parse(t); "
    "raise \"differs\" unless norm.(m) == norm.(j); "
    "raise \"keys\" unless m.keys.map(&:to_s) == j.keys; "
    "if j[\"raw\"]; n = 0; i = 0; r = j[\"raw\"]; "
    "while i < r.size; n += r[i + r[i] + 1]; i += r[i] + 2; end; "
    "raise \"deltas\" unless n == j[\"samples\"] && "
    "n == j[\"raw_timestamp_deltas\"].size; end; "
    "raise \"bytes\" unless t == JSON.generate(m, max_nesting: false) + "
    "\"\\n\"; print \"same\"";

static void test_stackprof_json_ruby_equals_marshal(void **state)
{
	static const int variants[][2] = { { 1, 1 }, { 0, 1 }, { 1, 0 } };
	struct sp_store *st;
	char dump[64], json[64], *out;
	size_t i;

	(void)state;
	if (!have_ruby_json())
		skip();
	st = fx_store();
	for (i = 0; i < SP_ARRAY_LEN(variants); i++) {
		write_both(st, variants[i][0], variants[i][1], dump, json);
		out = ruby_on(compare_rb, dump, json);
		assert_string_equal(out, "same");
		free(out);
		unlink(dump);
		unlink(json);
	}
	sp_store_free(st);
}

/*
 * A store large enough for the batched raw arrays: 5000 samples of 3
 * threads over stacks 1..1500 frames deep (deeper than a batch), an empty
 * stack, lines of 0 and below, runs of equal samples (records of count >
 * 1) and µs timestamps past 2^30 (Bignums in Marshal).  JSON and Marshal
 * must still agree value for value, and the JSON must be Ruby's bytes.
 */
static struct sp_store *big_store(void)
{
	static uint32_t frames[1500];
	static int32_t lines[1500];
	uint32_t th[3], stk[40], idx;
	struct sp_store *st;
	uint64_t t = UINT64_C(259200) * 1000000000u;
	unsigned seed = 11;
	char name[32];
	size_t i;
	int k;

	assert_int_equal(sp_store_new(&st), 0);
	st->info.mode = STILLPROF_MODE_WALL;
	st->info.interval_us = 1000;
	st->info.start_ns = t;
	st->info.backend = "test";
	st->info.guarantee = "none";
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "t%zu", i);
		assert_int_equal(sp_store_thread(st, 100 + (int)i, name,
		                                 &th[i]), 0);
	}
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "f%zu", i);
		assert_int_equal(sp_store_add_frame(st, name, "/x.rb", "",
		                                    (int)i, &idx), 0);
	}
	for (k = 0; k < 40; k++) {
		uint32_t n = k == 0 ? 0 : k == 1 ? 1500 : k == 2 ? 1022
		             : 1 + (uint32_t)(rand_r(&seed) % 60);

		for (i = 0; i < n; i++) {
			frames[i] = (uint32_t)(rand_r(&seed) % 300);
			lines[i] = (int32_t)(rand_r(&seed) % 2000) - 5;
		}
		assert_int_equal(sp_store_add_resolved(st, frames, lines, n,
		                                       &stk[k]), 0);
	}
	for (i = 0; i < 5000; i++) {
		uint32_t r = (uint32_t)rand_r(&seed);

		t += 1000000u * (r % 3);
		assert_int_equal(sp_store_add_sample(st, stk[(r >> 4) % 40],
		                                     th[(r >> 12) % 3], t, 0),
		                 0);
		if (r % 5 == 0) /* a run: same thread and stack */
			assert_int_equal(sp_store_add_sample(
			    st, stk[(r >> 4) % 40], th[(r >> 12) % 3],
			    t + 10, 0), 0);
	}
	assert_int_equal(sp_store_resolve(st, NULL), 0);
	return st;
}

static void test_stackprof_json_ruby_big(void **state)
{
	struct sp_store *st;
	char dump[64], json[64], *out;

	(void)state;
	if (!have_ruby_json())
		skip();
	st = big_store();
	write_both(st, 1, 1, dump, json);
	out = ruby_on(compare_rb, dump, json);
	assert_string_equal(out, "same");
	free(out);
	/* the cases the store is for really are in the dump */
	out = ruby_on("m = Marshal.load(File.binread(ARGV[0])); "
	              "r = m[:raw]; i = 0; d = []; c = 0; "
	              "while i < r.size; d << r[i]; "
	              "c += 1 if r[i + r[i] + 1] > 1; i += r[i] + 2; end; "
	              "print [d.max, d.include?(1), c > 0, "
	              "m[:raw_lines].min < 0, "
	              "m[:raw_sample_timestamps].min > 2**30].inspect",
	              dump, json);
	assert_string_equal(out, "[1500, true, true, true, true]");
	free(out);
	unlink(dump);
	unlink(json);
	sp_store_free(st);
}

/* fx_fd_sink_matches' writer: the whole profile. */
static void write_json(struct sp_sink *s, int pass, void *ctx)
{
	(void)pass;
	assert_int_equal(sp_stackprof_json_write(ctx, NULL, s), 0);
}

/* The same bytes through an fd sink, buffered, and with a buffer smaller
 * than a chunk of integers (sp_sink_room fails every time: the path of a
 * sink that could not get its buffer). */
static void test_stackprof_json_fd_sinks(void **state)
{
	struct sp_store *st = big_store();
	struct sp_sink ref;

	(void)state;
	sp_sink_init_mem(&ref);
	assert_int_equal(sp_stackprof_json_write(st, NULL, &ref), 0);
	fx_fd_sink_matches(&ref, write_json, st);
	sp_sink_fini(&ref);
	sp_store_free(st);
}

/* Ruby refuses to generate JSON from invalid UTF-8; we write U+FFFD. */
static void test_stackprof_json_ruby_invalid_utf8(void **state)
{
	struct sp_store *st;
	char dump[64], json[64], *out;

	(void)state;
	if (!have_ruby_json())
		skip();
	fx_odd_name = "bad\xff\xfe name";
	st = fx_store();
	fx_odd_name = "odd;name \"q\"\n\\";
	write_both(st, 1, 1, dump, json);
	out = ruby_on("j = JSON.parse(File.read(ARGV[1])); "
	              "print j[\"frames\"].values.map { |f| f[\"name\"] }"
	              ".grep(/bad/).first.unpack(\"U*\").inspect",
	              dump, json);
	assert_string_equal(out, "[98, 97, 100, 65533, 65533, 32, 110, 97, "
	                         "109, 101]");
	free(out);
	unlink(dump);
	unlink(json);
	sp_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_strings),
		cmocka_unit_test(test_json_numbers),
		cmocka_unit_test(test_stackprof_json_document),
		cmocka_unit_test(test_stackprof_json_empty_and_unresolved),
		cmocka_unit_test(test_stackprof_json_oom_loop),
		cmocka_unit_test(test_stackprof_json_ruby_equals_marshal),
		cmocka_unit_test(test_stackprof_json_ruby_invalid_utf8),
		cmocka_unit_test(test_stackprof_json_ruby_big),
		cmocka_unit_test(test_stackprof_json_fd_sinks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
