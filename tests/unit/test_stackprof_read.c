/*
 * test_stackprof_read.c - stackprof results back into a store
 * (stackprof_read.c, store_import.c): every fixture gives the per-frame
 * self/total the gem wrote (what `stackprof --text` prints), JSON and
 * Marshal forms give the same store, our writer's dump reads back with its
 * threads, raw stacks, lines and timestamps, dumps without :raw or with
 * short :raw are rebuilt, bad dumps are refused with a message, and an
 * allocation-failure loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "store.h"
#include "formats.h"
#include "readers.h"
#include "fixture_file.h"

static const char *const fixtures[] = {
	"cpu-raw-0.2.28.dump", "object-raw-0.2.28.dump",
	"wall-raw-0.2.21.dump", "wall-raw-0.2.28.dump",
	"wall-raw-noaggregate-0.2.28.dump", "cpu-raw-0.2.28.json",
	"wall-raw-0.2.28.json",
};

static char errbuf[512];

static int decode(const unsigned char *buf, size_t len, struct sp_value *v)
{
	if (len >= 2 && buf[0] == 4 && buf[1] == 8)
		return sp_marshal_read(buf, len, v, errbuf, sizeof(errbuf));
	return sp_json_read(buf, len, v, errbuf, sizeof(errbuf));
}

static const struct sp_frame *frame_by_id(const struct sp_store *st,
                                          uint64_t id)
{
	size_t i;

	for (i = 0; i < st->n_frames; i++)
		if (st->frames[i].id == id)
			return &st->frames[i];
	return NULL;
}

static struct sp_store *read_text(const char *json,
                                  struct sp_stackprof_read_info *info)
{
	struct sp_store *st = NULL;
	int err = sp_stackprof_read_buf(json, strlen(json), &st, info, errbuf,
	                                sizeof(errbuf));

	if (err)
		fail_msg("%s: %d %s", json, err, errbuf);
	return st;
}

/* ---- the gem's fixtures ---- */

static void test_stackprof_read_fixtures_match_frames(void **state)
{
	struct sp_stackprof_read_info info;
	struct sp_store *st;
	struct sp_value v;
	unsigned char *buf;
	size_t i, k, len;
	uint64_t id, self, total, samples;

	(void)state;
	for (i = 0; i < SP_ARRAY_LEN(fixtures); i++) {
		const struct sp_value *frames;

		buf = load_fixture(fixtures[i], &len);
		assert_int_equal(decode(buf, len, &v), 0);
		if (sp_stackprof_read_buf(buf, len, &st, &info, errbuf,
		                          sizeof(errbuf)))
			fail_msg("%s: %s", fixtures[i], errbuf);
		assert_true(st->resolved);
		assert_true(info.from_raw);
		assert_false(info.per_thread);
		assert_int_equal(st->n_threads, 1);
		assert_string_equal(st->threads[0].name, "main");
		assert_int_equal(sp_value_to_u64(sp_value_get(&v, "samples"),
		                                 &samples), 0);
		assert_int_equal(st->n_samples, samples);
		assert_true(sp_value_is(sp_value_get(&v, "mode"),
		                        st->info.mode_name));
		frames = sp_value_get(&v, "frames");
		assert_int_equal(st->n_frames, sp_value_len(frames));
		for (k = 0; k < sp_value_len(frames); k++) {
			const struct sp_value *f = &frames->u.hash->pairs[k].val;
			const struct sp_frame *sf;

			assert_int_equal(sp_value_to_u64(
			    &frames->u.hash->pairs[k].key, &id), 0);
			sf = frame_by_id(st, id);
			assert_non_null(sf);
			sp_value_to_u64(sp_value_get(f, "samples"), &self);
			sp_value_to_u64(sp_value_get(f, "total_samples"),
			                &total);
			if (sf->self_samples != self ||
			    sf->total_samples != total)
				fail_msg("%s: %s self %llu/%llu total %llu/"
				         "%llu", fixtures[i], sf->name,
				         (unsigned long long)sf->self_samples,
				         (unsigned long long)self,
				         (unsigned long long)sf->total_samples,
				         (unsigned long long)total);
			assert_true(sp_value_is(sp_value_get(f, "name"),
			                        sf->name));
		}
		/* timestamps: µs in the dump, ns in the store */
		for (k = 0; k < st->n_samples; k++) {
			sp_value_to_u64(sp_value_at(sp_value_get(&v,
			    "raw_sample_timestamps"), k), &id);
			assert_true(st->samples[k].t_ns == id * 1000);
		}
		sp_value_fini(&v);
		sp_store_free(st);
		free(buf);
	}
}

static void test_stackprof_read_fixture_details(void **state)
{
	struct sp_stackprof_read_info info;
	struct sp_store *st;
	const struct sp_stack *s;
	unsigned char *buf;
	size_t len, i;

	(void)state;
	/* cpu: first record root..leaf lines 0 9 0 9 17 0 19 8 0 8 */
	buf = load_fixture("cpu-raw-0.2.28.dump", &len);
	assert_int_equal(sp_stackprof_read_buf(buf, len, &st, &info, errbuf,
	                                       sizeof(errbuf)), 0);
	free(buf);
	assert_string_equal(st->info.mode_name, "cpu");
	assert_int_equal(st->info.mode, STILLPROF_MODE_CPU);
	assert_int_equal(st->info.interval_us, 1000);
	assert_int_equal(info.dump_gc_samples, 1);
	assert_true(info.version == 1.2);
	s = &st->stacks[st->samples[0].stack];
	assert_int_equal(s->n, 10);
	assert_null(s->pcs);
	assert_int_equal(s->lines[0], 8);
	assert_int_equal(s->lines[2], 8);
	assert_int_equal(s->lines[9], 0);
	assert_string_equal(st->frames[s->frames[0]].name,
	                    "Worker#alloc_heavy");
	assert_string_equal(st->frames[s->frames[9]].name, "<main>");
	/* the GC pseudo-frames keep their ids */
	assert_string_equal(frame_by_id(st, 1)->name, "(garbage collection)");
	assert_string_equal(frame_by_id(st, 3)->name, "(marking)");
	sp_store_free(st);

	/* 0.2.21 has no :raw_lines: every line 0 */
	buf = load_fixture("wall-raw-0.2.21.dump", &len);
	assert_int_equal(sp_stackprof_read_buf(buf, len, &st, &info, errbuf,
	                                       sizeof(errbuf)), 0);
	free(buf);
	assert_int_equal(st->info.missed_samples, 1);
	for (i = 0; i < st->n_stacks; i++)
		if (st->stacks[i].n)
			assert_int_equal(st->stacks[i].lines[0], 0);
	sp_store_free(st);

	/* object mode keeps its name; the store's enum says wall */
	buf = load_fixture("object-raw-0.2.28.dump", &len);
	assert_int_equal(sp_stackprof_read_buf(buf, len, &st, &info, errbuf,
	                                       sizeof(errbuf)), 0);
	free(buf);
	assert_string_equal(st->info.mode_name, "object");
	assert_int_equal(st->n_samples, 119);
	sp_store_free(st);
}

static void test_stackprof_read_json_equals_marshal(void **state)
{
	static const char *const pairs[][2] = {
		{ "cpu-raw-0.2.28.dump", "cpu-raw-0.2.28.json" },
		{ "wall-raw-0.2.28.dump", "wall-raw-0.2.28.json" },
	};
	struct sp_store *a, *b;
	unsigned char *buf;
	size_t i, k, len;
	uint32_t j;

	(void)state;
	for (i = 0; i < SP_ARRAY_LEN(pairs); i++) {
		buf = load_fixture(pairs[i][0], &len);
		assert_int_equal(sp_stackprof_read_buf(buf, len, &a, NULL,
		                                       errbuf, sizeof(errbuf)),
		                 0);
		free(buf);
		buf = load_fixture(pairs[i][1], &len);
		assert_int_equal(sp_stackprof_read_buf(buf, len, &b, NULL,
		                                       errbuf, sizeof(errbuf)),
		                 0);
		free(buf);
		assert_int_equal(a->n_frames, b->n_frames);
		for (k = 0; k < a->n_frames; k++) {
			assert_true(a->frames[k].id == b->frames[k].id);
			assert_string_equal(a->frames[k].name,
			                    b->frames[k].name);
			assert_string_equal(a->frames[k].file,
			                    b->frames[k].file);
			assert_int_equal(a->frames[k].line, b->frames[k].line);
			assert_true(a->frames[k].self_samples ==
			            b->frames[k].self_samples);
		}
		assert_int_equal(a->n_samples, b->n_samples);
		for (k = 0; k < a->n_samples; k++) {
			const struct sp_stack *sa, *sb;

			sa = &a->stacks[a->samples[k].stack];
			sb = &b->stacks[b->samples[k].stack];
			assert_true(a->samples[k].t_ns == b->samples[k].t_ns);
			assert_int_equal(sa->n, sb->n);
			for (j = 0; j < sa->n; j++) {
				assert_int_equal(sa->frames[j], sb->frames[j]);
				assert_int_equal(sa->lines[j], sb->lines[j]);
			}
		}
		assert_string_equal(a->info.mode_name, b->info.mode_name);
		sp_store_free(a);
		sp_store_free(b);
	}
}

/* ---- our writer, read back ---- */

#define T0 UINT64_C(7000000000)

/* Two threads, recursion, per-line stacks; all times whole µs. */
static struct sp_store *make_store(void)
{
	static const int32_t l1[] = { 12, 30, 30, 5 }, l2[] = { 13, 30, 30, 5 };
	static const int32_t l3[] = { 40, 5 };
	uint32_t fr[4], t1, t2, a, b, c, main_f, fib, leaf, k;
	struct sp_store *st;

	assert_int_equal(sp_store_new(&st), 0);
	st->info.mode = STILLPROF_MODE_CPU;
	st->info.interval_us = 250;
	st->info.missed_samples = 7;
	st->info.backend = "perf_event";
	st->info.guarantee = "no signals";
	st->info.pid = 4242;
	st->info.start_ns = T0;
	st->info.start_realtime_ns = UINT64_C(1700000000123456000);
	st->info.duration_ns = 123456789;
	assert_int_equal(sp_store_add_frame(st, "main", "/src/main.c", "/app",
	                                    3, &main_f), 0);
	assert_int_equal(sp_store_add_frame(st, "fib", "/src/fib.c", "/app",
	                                    28, &fib), 0);
	assert_int_equal(sp_store_add_frame(st, "leaf \xc3\xa9", "", "/app", 0,
	                                    &leaf), 0);
	assert_int_equal(sp_store_thread(st, 101, "worker", &t1), 0);
	assert_int_equal(sp_store_thread(st, 102, "poller", &t2), 0);
	fr[0] = leaf;
	fr[1] = fib;
	fr[2] = fib;
	fr[3] = main_f;
	assert_int_equal(sp_store_add_resolved(st, fr, l1, 4, &a), 0);
	assert_int_equal(sp_store_add_resolved(st, fr, l2, 4, &b), 0);
	assert_int_not_equal(a, b);
	assert_int_equal(sp_store_add_resolved(st, fr, l1, 4, &k), 0);
	assert_int_equal(k, a); /* interned by frames and lines */
	fr[0] = fib;
	fr[1] = main_f;
	assert_int_equal(sp_store_add_resolved(st, fr, l3, 2, &c), 0);
	for (k = 0; k < 40; k++) {
		uint32_t stack = k % 5 == 0 ? c : k % 3 == 0 ? b : a;

		assert_int_equal(sp_store_add_sample(st, stack, k % 4 ? t1 : t2,
		                                     T0 + 1000 * (k * 37 % 23),
		                                     SP_STATE_ONCPU), 0);
	}
	assert_int_equal(sp_store_resolve(st, NULL), 0);
	return st;
}

static void write_dump(const struct sp_store *st, int raw, struct sp_sink *s)
{
	struct sp_stackprof_opts o = { .raw = raw, .aggregate = 1 };

	sp_sink_init_mem(s);
	assert_int_equal(sp_stackprof_write(st, &o, s), 0);
}

static void test_stackprof_read_round_trips_writer(void **state)
{
	struct sp_stackprof_read_info info;
	struct sp_store *st = make_store(), *back;
	struct sp_sink s;
	size_t i;
	uint32_t k;

	(void)state;
	/* resolve left the frames of resolved stacks alone, and counted */
	assert_true(st->frames[1].total_samples == 40);
	write_dump(st, 1, &s);
	assert_int_equal(sp_stackprof_read_buf(s.buf, s.len, &back, &info,
	                                       errbuf, sizeof(errbuf)), 0);
	assert_true(info.per_thread);
	assert_true(info.from_raw);
	assert_int_equal(back->n_threads, 2);
	for (i = 0; i < 2; i++) {
		assert_int_equal(back->threads[i].tid, st->threads[i].tid);
		assert_string_equal(back->threads[i].name, st->threads[i].name);
		assert_true(back->threads[i].samples == st->threads[i].samples);
	}
	assert_int_equal(back->n_samples, st->n_samples);
	for (i = 0; i < st->n_samples; i++) {
		const struct sp_sample *x = &st->samples[i], *y =
		    &back->samples[i];
		const struct sp_stack *sx = &st->stacks[x->stack];
		const struct sp_stack *sy = &back->stacks[y->stack];

		assert_true(x->t_ns == y->t_ns);
		assert_int_equal(st->threads[x->thread].tid,
		                 back->threads[y->thread].tid);
		assert_int_equal(sx->n, sy->n);
		for (k = 0; k < sx->n; k++) {
			assert_true(st->frames[sx->frames[k]].id ==
			            back->frames[sy->frames[k]].id);
			assert_int_equal(sx->lines[k], sy->lines[k]);
		}
	}
	assert_int_equal(back->n_frames, st->n_frames);
	for (i = 0; i < st->n_frames; i++) {
		const struct sp_frame *f = frame_by_id(back, st->frames[i].id);

		assert_non_null(f);
		assert_string_equal(f->name, st->frames[i].name);
		assert_string_equal(f->file, st->frames[i].file);
		assert_int_equal(f->line, st->frames[i].line);
		assert_true(f->self_samples == st->frames[i].self_samples);
		assert_true(f->total_samples == st->frames[i].total_samples);
	}
	assert_string_equal(back->info.mode_name, "cpu");
	assert_int_equal(back->info.mode, STILLPROF_MODE_CPU);
	assert_int_equal(back->info.interval_us, 250);
	assert_true(back->info.missed_samples == 7);
	assert_string_equal(back->info.backend, "perf_event");
	assert_string_equal(back->info.guarantee, "no signals");
	assert_int_equal(back->info.pid, 4242);
	assert_true(back->info.start_ns == T0);
	assert_true(back->info.start_realtime_ns ==
	            UINT64_C(1700000000123456000));
	assert_true(back->info.duration_ns == 123456789);
	sp_store_free(back);
	sp_sink_fini(&s);

	/* raw off: the frames' self counts, one-frame stacks */
	write_dump(st, 0, &s);
	assert_int_equal(sp_stackprof_read_buf(s.buf, s.len, &back, &info,
	                                       errbuf, sizeof(errbuf)), 0);
	assert_false(info.from_raw);
	assert_false(info.per_thread);
	assert_int_equal(back->n_samples, st->n_samples);
	for (i = 0; i < st->n_frames; i++) {
		const struct sp_frame *f = frame_by_id(back, st->frames[i].id);

		assert_true(f->self_samples == st->frames[i].self_samples);
		assert_true(f->total_samples == f->self_samples);
	}
	sp_store_free(back);
	sp_sink_fini(&s);
	sp_store_free(st);
}

/* ---- shapes the gem can write, and bad dumps ---- */

static void test_stackprof_read_rebuilds_samples(void **state)
{
	struct sp_stackprof_read_info info;
	struct sp_store *st;

	(void)state;
	/* stackprof counts frameless samples in :samples only: padded */
	st = read_text("{\"samples\":5,\"mode\":\"wall\",\"interval\":100,"
	               "\"frames\":{\"8\":{\"name\":\"a\",\"samples\":3,"
	               "\"total_samples\":3}},\"raw\":[1,8,3]}", &info);
	assert_int_equal(st->n_samples, 5);
	assert_int_equal(st->frames[0].self_samples, 3);
	assert_int_equal(st->stacks[st->samples[4].stack].n, 0);
	/* no timestamps: interval steps */
	assert_true(st->samples[0].t_ns == 100000);
	assert_true(st->samples[4].t_ns == 500000);
	sp_store_free(st);

	/* deltas only (stackprof 0.2.11 .. 0.2.17) */
	st = read_text("{\"frames\":{\"8\":{\"name\":\"a\"},\"16\":{\"name\":"
	               "\"b\",\"line\":7}},\"raw\":[2,16,8,2,1,16,1],"
	               "\"raw_timestamp_deltas\":[5,10,20]}", &info);
	assert_int_equal(st->n_samples, 3);
	assert_true(st->samples[0].t_ns == 5000);
	assert_true(st->samples[1].t_ns == 15000);
	assert_true(st->samples[2].t_ns == 35000);
	assert_int_equal(st->frames[1].total_samples, 3);
	assert_int_equal(st->frames[1].self_samples, 1);
	assert_int_equal(st->frames[1].line, 7);
	assert_int_equal(st->frames[0].self_samples, 2);
	sp_store_free(st);

	/* a merged report: SHA-256 keys, no :raw, custom mode's nil */
	st = read_text("{\"mode\":\"custom\",\"interval\":null,\"frames\":"
	               "{\"9f86d0\":{\"name\":\"x\",\"samples\":2,"
	               "\"total_samples\":4},\"e3b0c4\":{\"name\":\"y\","
	               "\"samples\":0,\"total_samples\":4}}}", &info);
	assert_false(info.has_interval);
	assert_false(info.from_raw);
	assert_int_equal(st->n_samples, 2);
	assert_true(st->frames[0].id == 8 && st->frames[1].id == 16);
	assert_int_equal(st->frames[0].self_samples, 2);
	assert_int_equal(st->frames[1].total_samples, 0);
	sp_store_free(st);

	/* an empty run: frames {} and no raw */
	st = read_text("{\"samples\":0,\"frames\":{}}", &info);
	assert_int_equal(st->n_samples, 0);
	sp_store_free(st);
}

static void test_stackprof_read_refuses_bad_dumps(void **state)
{
	static const struct {
		const char *json, *msg;
	} cases[] = {
		{ "[]", "not a stackprof result" },
		{ "{\"frames\":[]}", "no :frames Hash" },
		{ "{\"frames\":{\"8\":1}}", "frame 0 of :frames is not a Hash" },
		{ "{\"frames\":{\"8\":{},\"08\":{}}}", "frame id 8 appears "
		  "twice" },
		{ "{\"frames\":{\"8\":{}},\"raw\":[1,16,1]}", ":raw element 1: "
		  "frame id 16 is not in :frames" },
		{ "{\"frames\":{\"8\":{}},\"raw\":[5,8,1]}", ":raw element 0: "
		  "bad record length" },
		{ "{\"frames\":{\"8\":{}},\"raw\":[-1,8,1]}", ":raw element 0" },
		{ "{\"frames\":{\"8\":{}},\"raw\":[1,8,\"x\"]}", ":raw element "
		  "2: bad sample count" },
		{ "{\"frames\":{\"8\":{}},\"raw\":[1,\"a\",1]}", "frame id is "
		  "not an Integer" },
		{ "{\"frames\":{\"8\":{}},\"raw\":[1,8,99999999999]}",
		  ":raw holds more than" },
		{ "{\"frames\":{\"8\":{\"samples\":99999999999}}}",
		  ":frames count more than" },
	};
	struct sp_store *st;
	size_t i;

	(void)state;
	for (i = 0; i < SP_ARRAY_LEN(cases); i++) {
		errbuf[0] = '\0';
		assert_int_equal(sp_stackprof_read_buf(cases[i].json,
		                                       strlen(cases[i].json),
		                                       &st, NULL, errbuf,
		                                       sizeof(errbuf)),
		                 STILLPROF_EBADFORMAT);
		assert_null(st);
		if (!strstr(errbuf, cases[i].msg))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, errbuf,
			         cases[i].msg);
	}
	/* decoding errors keep their offsets */
	assert_int_equal(sp_stackprof_read_buf("{\"frames\":", 10, &st, NULL,
	                                       errbuf, sizeof(errbuf)),
	                 STILLPROF_EBADFORMAT);
	assert_non_null(strstr(errbuf, "json: offset 10"));
	assert_int_equal(sp_stackprof_read_file("/nonexistent/x.dump", &st,
	                                        NULL, errbuf, sizeof(errbuf)),
	                 -ENOENT);
	assert_non_null(strstr(errbuf, "/nonexistent/x.dump"));
}

static void test_stackprof_read_pc_and_resolved_stacks_mix(void **state)
{
	static const uint64_t pcs[] = { 0x1234 };
	static const int32_t line = 0;
	struct sp_store *st;
	uint32_t f, t, a, b, c;

	(void)state;
	assert_int_equal(sp_store_new(&st), 0);
	assert_int_equal(sp_store_thread(st, 1, "m", &t), 0);
	assert_int_equal(sp_store_intern(st, pcs, 1, &a), 0);
	assert_int_equal(sp_store_add_sample(st, a, t, 1, 0), 0);
	assert_int_equal(sp_store_resolve(st, NULL), 0);
	/* a resolved stack of the same frame is another stack */
	f = st->stacks[a].frames[0];
	assert_int_equal(sp_store_add_resolved(st, &f, &line, 1, &b), 0);
	assert_int_not_equal(a, b);
	assert_int_equal(sp_store_intern(st, pcs, 1, &c), 0);
	assert_int_equal(c, a);
	assert_int_equal(sp_store_add_sample(st, b, t, 2, 0), 0);
	assert_false(st->resolved);
	assert_int_equal(sp_store_resolve(st, NULL), 0);
	assert_int_equal(st->frames[f].self_samples, 2);
	assert_int_equal(sp_store_add_resolved(st, &f, &line, 0, &c), 0);
	sp_store_free(st);
}

static void test_stackprof_read_oom_loop(void **state)
{
	struct sp_store *st = make_store(), *back;
	struct sp_sink s;
	unsigned char *buf;
	size_t len, i;
	unsigned long n;
	int err;

	(void)state;
	write_dump(st, 1, &s);
	sp_store_free(st);
	for (i = 0; i < 2; i++) {
		buf = i ? load_fixture("wall-raw-0.2.28.json", &len) : NULL;
		for (n = 1;; n++) {
			sp_alloc_fail_at(n);
			err = sp_stackprof_read_buf(i ? buf : (void *)s.buf,
			                            i ? len : s.len, &back, NULL,
			                            errbuf, sizeof(errbuf));
			sp_alloc_fail_at(0);
			if (!err)
				break;
			assert_int_equal(err, -ENOMEM);
			assert_null(back);
		}
		assert_true(n > 20);
		sp_store_free(back);
		free(buf);
	}
	sp_sink_fini(&s);
}

/* Corrupt dumps through the whole pipeline: decoded or refused, never a
 * crash (ASan in CI), and never more samples than the cap allows. */
static void test_stackprof_read_survives_flips(void **state)
{
	static const char *const names[] = { "wall-raw-0.2.28.dump",
	                                     "cpu-raw-0.2.28.json" };
	uint64_t rng = 0x2545f4914f6cdd1du;
	struct sp_store *st;
	unsigned char *buf, *copy;
	size_t i, k, j, len, refused = 0;
	int err;

	(void)state;
	for (i = 0; i < SP_ARRAY_LEN(names); i++) {
		buf = load_fixture(names[i], &len);
		copy = malloc(len);
		assert_non_null(copy);
		for (k = 0; k < 1500; k++) {
			memcpy(copy, buf, len);
			for (j = 0; j < 2; j++) {
				rng ^= rng << 13;
				rng ^= rng >> 7;
				rng ^= rng << 17;
				copy[2 + rng % (len - 2)] ^=
				    (unsigned char)(1u << (rng >> 40) % 8);
			}
			err = sp_stackprof_read_buf(copy, len, &st, NULL,
			                            errbuf, sizeof(errbuf));
			if (err) {
				assert_int_equal(err, STILLPROF_EBADFORMAT);
				assert_null(st);
				refused++;
				continue;
			}
			assert_true(st->n_samples <= SP_STACKPROF_MAX_SAMPLES);
			sp_store_free(st);
		}
		free(copy);
		free(buf);
	}
	print_message("  %zu of 3000 corrupt dumps refused\n", refused);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stackprof_read_fixtures_match_frames),
		cmocka_unit_test(test_stackprof_read_fixture_details),
		cmocka_unit_test(test_stackprof_read_json_equals_marshal),
		cmocka_unit_test(test_stackprof_read_round_trips_writer),
		cmocka_unit_test(test_stackprof_read_rebuilds_samples),
		cmocka_unit_test(test_stackprof_read_refuses_bad_dumps),
		cmocka_unit_test(test_stackprof_read_pc_and_resolved_stacks_mix),
		cmocka_unit_test(test_stackprof_read_survives_flips),
		cmocka_unit_test(test_stackprof_read_oom_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
