/*
 * test_pprof.c - protobuf.c's wire encoding (varints, negative int64,
 * nested and packed fields), gzip.c (inflated back with zlib), and the
 * pprof writer: its output is gunzipped and decoded (pprof_decode.h),
 * then checked for the string table, sample types, per (stack,
 * thread) samples with their labels and values, locations, functions
 * (system_name only for native frames), mappings and the scalars.
 * Errors and the OOM loop too.  `go tool pprof` is checked by
 * tests/integration/pprof_go_tool.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "writers_fixture.h"
#include "formats.h"
#include "writers.h"
#include "pprof_decode.h"

/* ---- protobuf.c ---- */

static void check_bytes(const struct sp_pb *pb, const void *want, size_t n)
{
	assert_int_equal(pb->err, 0);
	assert_int_equal(pb->len, n);
	assert_memory_equal(pb->buf, want, n);
}

static void test_protobuf_varints(void **state)
{
	static const uint8_t want[] = {
		0x00, 0x01, 0x7f, 0x80, 0x01, 0xac, 0x02,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
		0x08, 0x96, 0x01,                 /* field 1 = 150 */
		0x10, 0xff, 0xff, 0xff, 0xff, 0xff, /* field 2 = -1 */
		0xff, 0xff, 0xff, 0xff, 0x01,
		0x80, 0x01, 0x05,                 /* field 16 = 5 */
		0x32, 0x03, 'a', 'b', 'c',        /* field 6 = "abc" */
		0x3a, 0x00,                       /* field 7 = "" */
	};
	struct sp_pb pb;

	(void)state;
	sp_pb_init(&pb);
	sp_pb_varint(&pb, 0);
	sp_pb_varint(&pb, 1);
	sp_pb_varint(&pb, 127);
	sp_pb_varint(&pb, 128);
	sp_pb_varint(&pb, 300);
	sp_pb_varint(&pb, UINT64_MAX);
	sp_pb_uint(&pb, 1, 150);
	sp_pb_int(&pb, 2, -1);
	sp_pb_uint(&pb, 16, 5);
	sp_pb_bytes(&pb, 6, "abc", 3);
	sp_pb_bytes(&pb, 7, NULL, 0);
	check_bytes(&pb, want, sizeof(want));
	sp_pb_fini(&pb);
}

/* A nested message whose length needs two bytes moves its body; the
 * enclosing length accounts for it. */
static void test_protobuf_nesting(void **state)
{
	struct sp_pb pb;
	size_t outer, inner, i;
	uint8_t want[3 + 3 + 200 + 2 + 2];

	(void)state;
	sp_pb_init(&pb);
	outer = sp_pb_open(&pb, 2);
	inner = sp_pb_open(&pb, 1);
	for (i = 0; i < 200; i++)
		sp_pb_varint(&pb, i % 100);
	sp_pb_close(&pb, inner);
	inner = sp_pb_open(&pb, 3); /* empty */
	sp_pb_close(&pb, inner);
	sp_pb_uint(&pb, 4, 1);
	sp_pb_close(&pb, outer);

	/* 0x12 len(207)=cf 01 | 0x0a len(200)=c8 01 body | 0x1a 00 | 20 01 */
	want[0] = 0x12, want[1] = 0xcf, want[2] = 0x01;
	want[3] = 0x0a, want[4] = 0xc8, want[5] = 0x01;
	for (i = 0; i < 200; i++)
		want[6 + i] = (uint8_t)(i % 100);
	want[206] = 0x1a, want[207] = 0x00;
	want[208] = 0x20, want[209] = 0x01;
	check_bytes(&pb, want, 210);
	sp_pb_fini(&pb);
}

static void test_protobuf_oom_latches(void **state)
{
	struct sp_pb pb;
	size_t mark;

	(void)state;
	sp_pb_init(&pb);
	sp_alloc_fail_at(1);
	mark = sp_pb_open(&pb, 1);
	sp_alloc_fail_at(0);
	assert_int_equal(pb.err, -ENOMEM);
	sp_pb_uint(&pb, 2, 3);       /* no-ops from now on */
	sp_pb_close(&pb, mark);
	assert_int_equal(pb.len, 0);
	sp_pb_fini(&pb);
}

/* ---- gzip.c ---- */

static void test_gzip_round_trip(void **state)
{
	size_t n = 3 << 20, i, len;
	uint8_t *data = malloc(n), *back;
	struct sp_sink s;

	(void)state;
	assert_non_null(data);
	for (i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 2654435761u >> (i % 7 ? 24 : 3));
	sp_sink_init_mem(&s);
	assert_int_equal(sp_gzip_write(&s, data, n), 0);
	assert_memory_equal(s.buf, "\x1f\x8b\x08", 3); /* gzip, deflate */
	back = gunzip(s.buf, s.len, &len);
	assert_int_equal(len, n);
	assert_memory_equal(back, data, n);
	free(back);
	sp_sink_fini(&s);

	sp_sink_init_mem(&s); /* empty input: a valid empty member */
	assert_int_equal(sp_gzip_write(&s, NULL, 0), 0);
	back = gunzip(s.buf, s.len, &len);
	assert_int_equal(len, 0);
	free(back);
	sp_sink_fini(&s);

	sp_sink_init_mem(&s); /* zlib's own state comes from sp_malloc */
	sp_alloc_fail_at(1);
	assert_int_equal(sp_gzip_write(&s, data, 100), -ENOMEM);
	sp_alloc_fail_at(0);
	assert_int_equal(s.len, 0);
	sp_sink_fini(&s);
	free(data);
}

/* Write st through sp_pprof_write, gunzip and decode.  Returns the raw
 * protobuf (which d points into; free it). */
static uint8_t *pprof_of(const struct sp_store *st, struct d_profile *d)
{
	struct sp_pprof_opts raw = { .uncompressed = 1 };
	struct sp_sink s, u;
	uint8_t *pb;
	size_t len;

	sp_sink_init_mem(&s);
	assert_int_equal(sp_pprof_write(st, NULL, &s), 0);
	pb = gunzip(s.buf, s.len, &len);
	sp_sink_fini(&s);
	/* uncompressed: the same message */
	sp_sink_init_mem(&u);
	assert_int_equal(sp_pprof_write(st, &raw, &u), 0);
	assert_int_equal(u.len, len);
	assert_memory_equal(u.buf, pb, len);
	sp_sink_fini(&u);
	decode(pb, len, d);
	return pb;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_pprof_profile(void **state)
{
	/* "tid thread root;...;leaf count", per decoded Sample */
	static const char *want[] = {
		"1001 main main;<main> 1",
		"1001 main main;fib 1",
		"1001 main main;fib;fib;leaf 1", /* A2 */
		"1001 main main;fib;fib;leaf 3", /* A */
		"1002 worker (unknown) 2",
		"1002 worker main;fib 1",
		"1002 worker main;fib;fib;leaf 1",
		"1002 worker main;odd;name \"q\"\n\\ 2",
	};
	struct sp_store *st = fx_store();
	struct d_profile *d = calloc(1, sizeof(*d));
	char *got[D_MAX];
	int64_t total[2] = { 0, 0 };
	uint8_t *pb;
	size_t i, k, leaf, rb, odd;

	(void)state;
	assert_non_null(d);
	pb = pprof_of(st, d);

	assert_true(d->n_strs > 0 && d->strs[0].len == 0);
	assert_int_equal(d->n_sample_types, 2);
	assert_string_equal(S(d, d->sample_type[0][0]), "samples");
	assert_string_equal(S(d, d->sample_type[0][1]), "count");
	assert_string_equal(S(d, d->sample_type[1][0]), "wall");
	assert_string_equal(S(d, d->sample_type[1][1]), "nanoseconds");
	assert_string_equal(S(d, d->period_type[0]), "wall");
	assert_string_equal(S(d, d->period_type[1]), "nanoseconds");
	assert_string_equal(S(d, d->default_sample_type), "wall");
	assert_int_equal(d->period, 1000000);
	assert_int_equal(d->time_nanos, 1700000000123456789);
	assert_int_equal(d->duration_nanos, 1000000000);
	assert_int_equal(d->n_comments, 1);
	assert_non_null(strstr(S(d, d->comments[0]), "mode=wall"));

	/* one Sample per (stack, thread), labelled, values [n, n * period] */
	assert_int_equal(d->n_samples, SP_ARRAY_LEN(want));
	for (i = 0; i < d->n_samples; i++) {
		char buf[512];
		int64_t tid = 0;
		const char *tname = "";
		size_t len = 0;

		assert_int_equal(d->samples[i].n_values, 2);
		assert_int_equal(d->samples[i].values[1],
		                 d->samples[i].values[0] * 1000000);
		total[0] += d->samples[i].values[0];
		total[1] += d->samples[i].values[1];
		assert_int_equal(d->samples[i].n_labels, 2);
		for (k = 0; k < 2; k++) {
			const char *key = S(d, d->samples[i].label_key[k]);

			if (!strcmp(key, "thread id")) {
				tid = d->samples[i].label_num[k];
				assert_int_equal(d->samples[i].label_str[k], 0);
			} else {
				assert_string_equal(key, "thread name");
				tname = S(d, d->samples[i].label_str[k]);
			}
		}
		len += (size_t)snprintf(buf, sizeof(buf), "%d %s ", (int)tid,
		                        tname);
		for (k = d->samples[i].n_locs; k-- > 0;) {
			size_t l = find_loc(d, d->samples[i].locs[k]);
			size_t f = find_fn(d, d->locs[l].function_id);

			len += (size_t)snprintf(buf + len, sizeof(buf) - len,
			                        "%s%s", S(d, d->fns[f].name),
			                        k ? ";" : "");
		}
		snprintf(buf + len, sizeof(buf) - len, " %d",
		         (int)d->samples[i].values[0]);
		got[i] = strdup(buf);
	}
	qsort(got, d->n_samples, sizeof(*got), cmp_str);
	for (i = 0; i < d->n_samples; i++) {
		assert_string_equal(got[i], want[i]);
		free(got[i]);
	}
	assert_int_equal(total[0], FX_N_SAMPLES);
	assert_int_equal(total[1], FX_N_SAMPLES * 1000000);

	/* functions: native ones keep system_name, the Ruby-looking one
	 * without an object does not */
	leaf = fn_named(d, "leaf");
	assert_int_equal(d->fns[leaf].system_name, d->fns[leaf].name);
	assert_string_equal(S(d, d->fns[leaf].filename), "/usr/bin/app");
	assert_int_equal(d->fns[leaf].start_line, 30);
	rb = fn_named(d, "<main>");
	assert_int_equal(d->fns[rb].system_name, 0);
	assert_string_equal(S(d, d->fns[rb].filename), "/app/x.rb");
	odd = fn_named(d, "odd;name \"q\"\n\\");
	assert_int_equal(d->fns[odd].start_line, 0);
	assert_int_equal(d->fns[fn_named(d, "(unknown)")].system_name, 0);

	/* mappings: one per object, has_functions */
	assert_int_equal(d->n_maps, 2);
	assert_string_equal(S(d, d->maps[0].filename), "/usr/bin/app");
	assert_string_equal(S(d, d->maps[1].filename), FX_LIBC);
	assert_int_equal(d->maps[0].has_functions, 1);

	/* locations: the pc as address, the line, the object's mapping;
	 * A and A2 differ in the leaf pc only */
	for (i = 0, k = 0; i < d->n_locs; i++) {
		if (d->locs[i].function_id != d->fns[leaf].id)
			continue;
		k++;
		assert_true(d->locs[i].address == 0x1210 ||
		            d->locs[i].address == 0x1211);
		assert_int_equal(d->locs[i].line, 31);
		assert_int_equal(d->locs[i].mapping_id, d->maps[0].id);
	}
	assert_int_equal(k, 2);
	for (i = 0; i < d->n_locs; i++)
		if (d->locs[i].function_id == d->fns[rb].id)
			assert_int_equal(d->locs[i].mapping_id, 0);
	free(pb);
	free(d);
	sp_store_free(st);
}

static void test_pprof_modes(void **state)
{
	struct sp_store *st = fx_store();
	struct d_profile *d = calloc(1, sizeof(*d));
	uint8_t *pb;

	(void)state;
	assert_non_null(d);
	st->info.mode = STILLPROF_MODE_CPU;
	pb = pprof_of(st, d);
	assert_string_equal(S(d, d->sample_type[1][0]), "cpu");
	assert_string_equal(S(d, d->period_type[0]), "cpu");
	assert_string_equal(S(d, d->default_sample_type), "cpu");
	free(pb);

	/* a dump read back in object mode: counts, no time */
	st->info.mode_name = "object";
	pb = pprof_of(st, d);
	assert_int_equal(d->n_sample_types, 1);
	assert_int_equal(d->samples[0].n_values, 1);
	assert_int_equal(d->period, 0);
	free(pb);
	free(d);
	sp_store_free(st);
}

static void test_pprof_empty_and_unresolved(void **state)
{
	struct d_profile *d = calloc(1, sizeof(*d));
	struct sp_store *st;
	struct sp_sink s;
	uint8_t *pb;

	(void)state;
	assert_non_null(d);
	assert_int_equal(sp_store_new(&st), 0);
	assert_int_equal(sp_store_resolve(st, NULL), 0);
	pb = pprof_of(st, d);
	assert_int_equal(d->n_samples, 0);
	assert_int_equal(d->n_sample_types, 2);
	assert_int_equal(d->strs[0].len, 0);
	free(pb);
	sp_store_free(st);

	st = fx_unresolved();
	sp_sink_init_mem(&s);
	assert_int_equal(sp_pprof_write(st, NULL, &s), -EINVAL);
	assert_int_equal(s.len, 0);
	sp_sink_fini(&s);
	sp_store_free(st);
	free(d);
}

static void test_pprof_oom_loop(void **state)
{
	struct sp_store *st = fx_store();

	(void)state;
	FX_ASSERT_OOM_LOOP(sp_pprof_write(st, NULL, fx_sink), 5);
	sp_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_protobuf_varints),
		cmocka_unit_test(test_protobuf_nesting),
		cmocka_unit_test(test_protobuf_oom_latches),
		cmocka_unit_test(test_gzip_round_trip),
		cmocka_unit_test(test_pprof_profile),
		cmocka_unit_test(test_pprof_modes),
		cmocka_unit_test(test_pprof_empty_and_unresolved),
		cmocka_unit_test(test_pprof_oom_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
