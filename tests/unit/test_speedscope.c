/*
 * test_speedscope.c - speedscope's file format from the shared hand-made
 * store: the frame table, one profile per thread with its samples in
 * time order and wall or cpu weights, an empty and an unresolved store,
 * a parse by Ruby's JSON when ruby is installed, and the OOM loop.
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

static char *write_text(const struct sp_store *st)
{
	struct sp_sink s;
	char *text;

	sp_sink_init_mem(&s);
	assert_int_equal(sp_speedscope_write(st, NULL, &s), 0);
	text = calloc(1, s.len + 1);
	assert_non_null(text);
	if (s.len)
		memcpy(text, s.buf, s.len);
	sp_sink_fini(&s);
	return text;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle))) {
		n++;
		hay += strlen(needle);
	}
	return n;
}

/* Index of the frame named name in the frame table, as JSON text. */
static void frame_index(const struct sp_store *st, const char *name,
                        char *out, size_t cap)
{
	size_t i;

	for (i = 0; i < st->n_frames; i++) {
		if (!strcmp(st->frames[i].name, name)) {
			snprintf(out, cap, "%zu", i);
			return;
		}
	}
	fail_msg("no frame %s", name);
}

static void test_speedscope_wall(void **state)
{
	struct sp_store *st = fx_store();
	char *text, m[24], f[24], l[24], r[24], o[24], want[1024];
	(void)state;
	text = write_text(st);
	{
		static const char head[] =
		    "{\"$schema\":\"https://www.speedscope.app/file-format-"
		    "schema.json\",\"shared\":{\"frames\":[";

		assert_memory_equal(text, head, sizeof(head) - 1);
	}
	/* every resolved frame, escaped; the empty stack's "(unknown)" last */
	assert_non_null(strstr(text, "{\"name\":\"main\",\"file\":"
	                             "\"/src/main.c\",\"line\":10}"));
	assert_non_null(strstr(text, "{\"name\":\"<main>\",\"file\":"
	                             "\"/app/x.rb\",\"line\":1}"));
	assert_non_null(strstr(text, "{\"name\":\"odd;name \\\"q\\\"\\n\\\\\","
	                             "\"file\":\"" FX_LIBC "\"}"));
	assert_non_null(strstr(text, ",{\"name\":\"(unknown)\"}]}"));
	assert_int_equal(count(text, "{\"name\":"), (int)st->n_frames + 1);

	frame_index(st, "main", m, sizeof(m));
	frame_index(st, "fib", f, sizeof(f));
	frame_index(st, "leaf", l, sizeof(l));
	frame_index(st, "<main>", r, sizeof(r));
	frame_index(st, fx_odd_name, o, sizeof(o));
	/* main: A A2 A B A R, 1 ms apart */
	snprintf(want, sizeof(want),
	         "{\"type\":\"sampled\",\"name\":\"main (tid 1001)\","
	         "\"unit\":\"microseconds\",\"startValue\":0,\"endValue\":6000,"
	         "\"samples\":[[%s,%s,%s,%s],[%s,%s,%s,%s],[%s,%s,%s,%s],"
	         "[%s,%s],[%s,%s,%s,%s],[%s,%s]],",
	         m, f, f, l, m, f, f, l, m, f, f, l, m, f, m, f, f, l, m, r);
	assert_non_null(strstr(text, want));
	assert_non_null(strstr(text, "\"weights\":[1000,1000,1000,1000,1000,"
	                             "1000]}"));
	/* worker in time order: A E B(6500, recorded after E at 7000) E O O */
	snprintf(want, sizeof(want),
	         "{\"type\":\"sampled\",\"name\":\"worker (tid 1002)\","
	         "\"unit\":\"microseconds\",\"startValue\":0,\"endValue\":5000,"
	         "\"samples\":[[%s,%s,%s,%s],[%zu],[%s,%s],[%zu],[%s,%s],[%s,%s]],"
	         "\"weights\":[1000,1000,500,500,1000,1000]}",
	         m, f, f, l, st->n_frames, m, f, st->n_frames, m, o, m, o);
	assert_non_null(strstr(text, want));
	assert_int_equal(count(text, "\"type\":\"sampled\""), 2);
	assert_non_null(strstr(text, "],\"name\":\"stillprof wall profile "
	                             "(pid 4242)\",\"activeProfileIndex\":0,"
	                             "\"exporter\":\"stillprof "
	                             STILLPROF_VERSION "\"}\n"));
	free(text);
	sp_store_free(st);
}

static void test_speedscope_cpu(void **state)
{
	struct sp_store *st = fx_store();
	char *text;

	(void)state;
	st->info.mode = STILLPROF_MODE_CPU;
	text = write_text(st);
	assert_int_equal(count(text, "\"endValue\":6000,"), 2);
	assert_int_equal(count(text, "\"weights\":[1000,1000,1000,1000,1000,"
	                             "1000]}"), 2);
	assert_non_null(strstr(text, "\"stillprof cpu profile (pid 4242)\""));
	free(text);
	sp_store_free(st);
}

static void test_speedscope_empty_and_unresolved(void **state)
{
	struct sp_store *st;
	struct sp_sink s;
	char *text;

	(void)state;
	assert_int_equal(sp_store_new(&st), 0);
	text = write_text(st);
	assert_non_null(strstr(text, "\"shared\":{\"frames\":[]},"
	                             "\"profiles\":[],\"name\":"));
	assert_null(strstr(text, "activeProfileIndex"));
	free(text);
	sp_store_free(st);

	st = fx_unresolved();
	sp_sink_init_mem(&s);
	assert_int_equal(sp_speedscope_write(st, NULL, &s), -EINVAL);
	assert_int_equal(s.len, 0);
	sp_sink_fini(&s);
	sp_store_free(st);
}

/* Ruby's JSON parses it and finds the schema's keys and types. */
static void test_speedscope_ruby_parses(void **state)
{
	static const char script[] =
	    "require 'json'\n"
	    "d = JSON.parse(File.read(ARGV[0]))\n"
	    "d['$schema'] == 'https://www.speedscope.app/file-format-schema"
	    ".json' or abort 'schema'\n"
	    "fr = d['shared']['frames']\n"
	    "fr.all? { |f| f['name'].is_a?(String) && "
	    "(!f.key?('file') || f['file'].is_a?(String)) && "
	    "(!f.key?('line') || f['line'].is_a?(Integer)) } or abort 'frames'\n"
	    "fr.any? { |f| f['name'] == \"odd;name \\\"q\\\"\\n\\\\\" } "
	    "or abort 'odd'\n"
	    "ps = d['profiles']\n"
	    "ps.size == 2 or abort 'profiles'\n"
	    "ps.each { |p| p['type'] == 'sampled' && p['unit'] == "
	    "'microseconds' && p['startValue'] == 0 && "
	    "p['samples'].size == 6 && p['weights'].size == 6 && "
	    "p['weights'].sum == p['endValue'] && "
	    "p['samples'].all? { |s| s.is_a?(Array) && !s.empty? && "
	    "s.all? { |i| i.is_a?(Integer) && i < fr.size } } or abort "
	    "p['name'] }\n"
	    "ps.map { |p| p['name'] } == ['main (tid 1001)', "
	    "'worker (tid 1002)'] or abort 'names'\n"
	    "d['activeProfileIndex'] == 0 or abort 'active'\n"
	    "d['name'].is_a?(String) && d['exporter'].is_a?(String) "
	    "or abort 'name'\n";
	char dir[] = "/tmp/test_speedscope.XXXXXX", json[64], rb[64], cmd[256];
	struct sp_store *st;
	char *text;
	FILE *f;

	(void)state;
	if (system("command -v ruby >/dev/null 2>&1") != 0)
		skip();
	st = fx_store();
	text = write_text(st);
	assert_non_null(mkdtemp(dir));
	snprintf(json, sizeof(json), "%s/p.json", dir);
	snprintf(rb, sizeof(rb), "%s/check.rb", dir);
	f = fopen(json, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	f = fopen(rb, "w");
	assert_non_null(f);
	fputs(script, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "ruby -rjson %s %s", rb, json);
	assert_int_equal(system(cmd), 0);
	unlink(json);
	unlink(rb);
	rmdir(dir);
	free(text);
	sp_store_free(st);
}

static void test_speedscope_oom_loop(void **state)
{
	struct sp_store *st = fx_store();

	(void)state;
	FX_ASSERT_OOM_LOOP(sp_speedscope_write(st, NULL, fx_sink), 2);
	sp_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_speedscope_wall),
		cmocka_unit_test(test_speedscope_cpu),
		cmocka_unit_test(test_speedscope_empty_and_unresolved),
		cmocka_unit_test(test_speedscope_ruby_parses),
		cmocka_unit_test(test_speedscope_oom_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
