/*
 * test_marshal_read.c - the Marshal 4.8 decoder (marshal_read.c) and the
 * value tree (value.c): every supported type from hand-made bytes, the
 * refused ones with their offsets, our own encoder's output read back for
 * many values, every fixture dump, truncation at every offset and random
 * byte flips of the fixtures (errors naming an offset, never a crash),
 * and an allocation-failure loop.
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
#include "formats.h"
#include "readers.h"
#include "fixture_file.h"

static const char *const fixtures[] = {
	"cpu-raw-0.2.28.dump", "object-raw-0.2.28.dump",
	"wall-raw-0.2.21.dump", "wall-raw-0.2.28.dump",
	"wall-raw-noaggregate-0.2.28.dump",
};

static char errbuf[512];

static int rd(const char *bytes, size_t len, struct sp_value *v)
{
	return sp_marshal_read(bytes, len, v, errbuf, sizeof(errbuf));
}

#define RD(lit, v) rd(lit, sizeof(lit) - 1, v)

static void test_marshal_read_scalars(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
		int64_t v;
	} ints[] = {
		{ "\x04\x08i\x00", 4, 0 },
		{ "\x04\x08i\x06", 4, 1 },
		{ "\x04\x08i\x7f", 4, 122 },
		{ "\x04\x08i\xfa", 4, -1 },
		{ "\x04\x08i\x80", 4, -123 },
		{ "\x04\x08i\x01\x7b", 5, 123 },
		{ "\x04\x08i\x01\xff", 5, 255 },
		{ "\x04\x08i\x02\x00\x01", 6, 256 },
		{ "\x04\x08i\x02\xe8\x03", 6, 1000 },
		{ "\x04\x08i\xff\x84", 5, -124 },
		{ "\x04\x08i\xff\x00", 5, -256 },
		{ "\x04\x08i\x04\xff\xff\xff\x3f", 8, (1 << 30) - 1 },
		{ "\x04\x08i\xfc\x00\x00\x00\xc0", 8, -(INT64_C(1) << 30) },
		{ "\x04\x08l+\x07\x00\x00\x00\x40", 9, INT64_C(1) << 30 },
		{ "\x04\x08l+\x08\x18\x22\x39\x43\xdd\x7f", 11,
		  INT64_C(140588292317720) },
		{ "\x04\x08l-\x08\x18\x22\x39\x43\xdd\x7f", 11,
		  -INT64_C(140588292317720) },
		{ "\x04\x08l-\x09\x00\x00\x00\x00\x00\x00\x00\x80", 13,
		  INT64_MIN },
	};
	struct sp_value v;
	size_t i;
	int64_t x;

	(void)state;
	for (i = 0; i < SP_ARRAY_LEN(ints); i++) {
		assert_int_equal(rd(ints[i].bytes, ints[i].len, &v), 0);
		assert_int_equal(v.type, SP_VAL_INT);
		assert_int_equal(sp_value_to_i64(&v, &x), 0);
		assert_true(x == ints[i].v);
		sp_value_fini(&v);
	}
	assert_int_equal(RD("\x04\x08" "0", &v), 0);
	assert_int_equal(v.type, SP_VAL_NIL);
	assert_int_equal(RD("\x04\x08T", &v), 0);
	assert_int_equal(v.type, SP_VAL_TRUE);
	assert_int_equal(RD("\x04\x08" "F", &v), 0);
	assert_int_equal(v.type, SP_VAL_FALSE);

	/* 2^64 - 1 is a UINT; 2^64 does not fit. */
	assert_int_equal(RD("\x04\x08l+\x09\xff\xff\xff\xff\xff\xff\xff\xff",
	                    &v), 0);
	assert_int_equal(v.type, SP_VAL_UINT);
	assert_true(v.u.u == UINT64_MAX);
	assert_int_equal(sp_value_to_i64(&v, &x), -ERANGE);
	assert_int_equal(RD("\x04\x08l+\x0a\x00\x00\x00\x00\x00\x00\x00\x00"
	                    "\x01\x00", &v), STILLPROF_EBADFORMAT);
	assert_non_null(strstr(errbuf, "offset 2"));
	assert_non_null(strstr(errbuf, "64 bits"));
	assert_int_equal(RD("\x04\x08l-\x09\x01\x00\x00\x00\x00\x00\x00\x80",
	                    &v), STILLPROF_EBADFORMAT);
}

static void test_marshal_read_floats(void **state)
{
	struct sp_value v;

	(void)state;
	assert_int_equal(RD("\x04\x08" "f\x08" "1.2", &v), 0);
	assert_int_equal(v.type, SP_VAL_FLOAT);
	assert_true(v.u.f == 1.2);
	assert_int_equal(RD("\x04\x08" "f\x08inf", &v), 0);
	assert_true(isinf(v.u.f) && v.u.f > 0);
	assert_int_equal(RD("\x04\x08" "f\x09-inf", &v), 0);
	assert_true(isinf(v.u.f) && v.u.f < 0);
	assert_int_equal(RD("\x04\x08" "f\x08nan", &v), 0);
	assert_true(isnan(v.u.f));
	assert_int_equal(RD("\x04\x08" "f\x07-0", &v), 0);
	assert_true(v.u.f == 0 && signbit(v.u.f));
	assert_int_equal(RD("\x04\x08" "f\x0b" "1.5e-7", &v), 0);
	assert_true(v.u.f == 1.5e-7);
	/* Old Rubies: NUL, then mantissa bytes. */
	assert_int_equal(RD("\x04\x08" "f\x0b" "1.2\x00\x33\x33", &v), 0);
	assert_true(v.u.f == 1.2);
	assert_int_equal(RD("\x04\x08" "f\x08" "1.x", &v),
	                 STILLPROF_EBADFORMAT);
	assert_non_null(strstr(errbuf, "offset 2"));
	assert_int_equal(RD("\x04\x08" "f\x00", &v), STILLPROF_EBADFORMAT);
}

static void test_marshal_read_strings_and_symbols(void **state)
{
	struct sp_value v;
	size_t len;
	const struct sp_value *e;

	(void)state;
	/* binary */
	assert_int_equal(RD("\x04\x08\"\x08" "a\x00" "b", &v), 0);
	assert_int_equal(v.type, SP_VAL_STRING);
	assert_int_equal(v.enc, SP_ENC_BINARY);
	assert_memory_equal(sp_value_str(&v, &len), "a\0b", 3);
	assert_int_equal(len, 3);
	sp_value_fini(&v);
	/* UTF-8, US-ASCII, other encoding */
	assert_int_equal(RD("\x04\x08I\"\x07\xc3\xa9\x06:\x06" "ET", &v), 0);
	assert_int_equal(v.enc, SP_ENC_UTF8);
	assert_string_equal(sp_value_str(&v, NULL), "\xc3\xa9");
	sp_value_fini(&v);
	assert_int_equal(RD("\x04\x08I\"\x06" "a\x06:\x06" "EF", &v), 0);
	assert_int_equal(v.enc, SP_ENC_ASCII);
	sp_value_fini(&v);
	assert_int_equal(RD("\x04\x08I\"\x06" "a\x06:\x0d" "encoding\"\x0e"
	                    "Shift_JIS", &v), 0);
	assert_int_equal(v.enc, SP_ENC_OTHER);
	sp_value_fini(&v);
	/* symbols, links, and a symbol with an encoding wrapper */
	assert_int_equal(RD("\x04\x08[\x08:\x06" "a:\x06" "b;\x00", &v), 0);
	assert_int_equal(sp_value_len(&v), 3);
	assert_int_equal(sp_value_at(&v, 0)->type, SP_VAL_SYMBOL);
	assert_true(sp_value_is(sp_value_at(&v, 2), "a"));
	assert_true(sp_value_at(&v, 0)->u.str == sp_value_at(&v, 2)->u.str);
	sp_value_fini(&v);
	assert_int_equal(RD("\x04\x08I:\x07\xc3\xa9\x06:\x06" "ET", &v), 0);
	assert_int_equal(v.type, SP_VAL_SYMBOL);
	sp_value_fini(&v);
	assert_int_equal(RD("\x04\x08;\x00", &v), STILLPROF_EBADFORMAT);
	assert_non_null(strstr(errbuf, "offset 2: symbol link 0"));
	/* a hash keyed by symbols and integers */
	assert_int_equal(RD("\x04\x08{\x07:\x06" "ai\x06i\x07[\x00", &v), 0);
	assert_int_equal(sp_value_get(&v, "a")->u.i, 1);
	e = sp_value_get_int(&v, 2);
	assert_non_null(e);
	assert_int_equal(e->type, SP_VAL_ARRAY);
	assert_null(sp_value_get(&v, "b"));
	sp_value_fini(&v);
}

static void test_marshal_read_object_links(void **state)
{
	struct sp_value v;

	(void)state;
	/* [s, s]: the array is object 0, the string 1 (section 3.7). */
	assert_int_equal(RD("\x04\x08[\x07I\"\x06x\x06:\x06" "ET@\x06", &v),
	                 0);
	assert_true(sp_value_at(&v, 0)->u.str == sp_value_at(&v, 1)->u.str);
	assert_int_equal(sp_value_at(&v, 1)->enc, SP_ENC_UTF8);
	assert_int_equal(sp_value_at(&v, 0)->u.str->refs, 2);
	sp_value_fini(&v);
	/* floats and bignums are objects too; fixnums and symbols not */
	assert_int_equal(RD("\x04\x08[\x0bi\x06:\x06" "af\x06" "1l+\x07\x00"
	                    "\x00\x00\x40@\x06@\x07", &v), 0);
	assert_true(sp_value_at(&v, 4)->u.f == 1.0);
	assert_true(sp_value_at(&v, 5)->u.i == INT64_C(1) << 30);
	sp_value_fini(&v);
	/* a link to the array being read: recursive, refused */
	assert_int_equal(RD("\x04\x08[\x06@\x00", &v), STILLPROF_EBADFORMAT);
	assert_non_null(strstr(errbuf, "offset 4"));
	assert_non_null(strstr(errbuf, "recursive"));
	assert_int_equal(RD("\x04\x08[\x06@\x07", &v), STILLPROF_EBADFORMAT);
	assert_non_null(strstr(errbuf, "object link @2"));
}

static void test_marshal_read_refuses_with_offsets(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
		const char *msg;
	} cases[] = {
		{ "", 0, "offset 0: truncated" },
		{ "\x04", 1, "offset 0: truncated" },
		{ "\x04\x09" "0", 3, "offset 0: not a Marshal 4.8" },
		{ "\x03\x08" "0", 3, "offset 0: not a Marshal 4.8" },
		{ "\x04\x08", 2, "offset 2: truncated" },
		{ "\x04\x08o:\x09Test\x00", 11, "offset 2: unsupported Marshal "
		  "type 'o' (Object)" },
		{ "\x04\x08[\x06}\x00" "0", 7, "offset 4: unsupported Marshal "
		  "type '}' (Hash with a default value)" },
		{ "\x04\x08[\x07" "0/\x06" "a\x00", 9, "offset 5: unsupported "
		  "Marshal type '/'" },
		{ "\x04\x08\x01", 3, "offset 2: unknown Marshal type byte 0x01" },
		{ "\x04\x08[\x7f", 4, "offset 3: truncated: array length 122" },
		{ "\x04\x08{\x07i\x06", 5, "offset 3: truncated: hash size" },
		{ "\x04\x08\"\x0a" "ab", 6, "offset 3: truncated: string "
		  "length" },
		{ "\x04\x08[\xfa", 4, "offset 3: negative array length" },
		{ "\x04\x08i\x03\x01", 5, "offset 3: truncated: fixnum" },
		{ "\x04\x08l*\x06\x00\x00", 7, "offset 3: bignum sign" },
		{ "\x04\x08I\"\x06" "a\x06i\x06T", 9, "offset 7: expected a "
		  "symbol" },
	};
	struct sp_value v;
	size_t i;

	(void)state;
	for (i = 0; i < SP_ARRAY_LEN(cases); i++) {
		errbuf[0] = '\0';
		assert_int_equal(rd(cases[i].bytes, cases[i].len, &v),
		                 STILLPROF_EBADFORMAT);
		if (!strstr(errbuf, cases[i].msg))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, errbuf,
			         cases[i].msg);
		assert_int_equal(v.type, SP_VAL_NIL);
	}
}

static void test_marshal_read_depth_limit(void **state)
{
	unsigned char buf[2 + 2 * 200 + 1];
	struct sp_value v;
	size_t i, n = 2;

	(void)state;
	buf[0] = 4;
	buf[1] = 8;
	for (i = 0; i < 200; i++) {
		buf[n++] = '[';
		buf[n++] = 6;
	}
	buf[n++] = '0';
	assert_int_equal(sp_marshal_read(buf, n, &v, errbuf, sizeof(errbuf)),
	                 STILLPROF_EBADFORMAT);
	assert_non_null(strstr(errbuf, "nesting deeper than"));
	/* SP_READ_MAX_DEPTH levels are fine */
	n = 2;
	for (i = 0; i < SP_READ_MAX_DEPTH - 1; i++) {
		buf[n++] = '[';
		buf[n++] = 6;
	}
	buf[n++] = '0';
	assert_int_equal(sp_marshal_read(buf, n, &v, errbuf, sizeof(errbuf)),
	                 0);
	sp_value_fini(&v);
}

/* ---- our encoder's output read back ---- */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_marshal_read_round_trips_writer(void **state)
{
	static const double floats[] = { 1.2, 0.0, -0.0, 1e100, 1.5e-7,
	                                 -3.25, 123456789.125, 1e-300 };
	static const char *const strs[] = { "", "Worker#run", "\xc3\xa9t\xc3\xa9",
	                                    "\xff\xfe bin", "<main>" };
	enum { N_INT = 600 };
	int64_t ints[N_INT];
	struct sp_marshal m;
	struct sp_sink s;
	struct sp_value v;
	const struct sp_value *a;
	size_t i, len;
	uint64_t big = UINT64_MAX - 5;
	int64_t x;
	double d;

	(void)state;
	for (i = 0; i < N_INT; i++) {
		uint64_t r = next_rand();
		int shift = (int)(r % 64);

		/* every magnitude: small, packed-long edges, bignums */
		ints[i] = (int64_t)(next_rand() >> shift) * (r & 1 ? -1 : 1);
	}
	ints[0] = INT64_MIN;
	ints[1] = INT64_MAX;
	ints[2] = (1 << 30) - 1;
	ints[3] = 1 << 30;
	ints[4] = -(INT64_C(1) << 30);
	ints[5] = -(INT64_C(1) << 30) - 1;

	sp_sink_init_mem(&s);
	sp_marshal_init(&m, &s);
	sp_marshal_hash(&m, 4);
	sp_marshal_sym(&m, "ints");
	sp_marshal_array(&m, N_INT);
	for (i = 0; i < N_INT; i++)
		sp_marshal_int(&m, ints[i]);
	sp_marshal_sym(&m, "floats");
	sp_marshal_array(&m, SP_ARRAY_LEN(floats) + 3);
	for (i = 0; i < SP_ARRAY_LEN(floats); i++)
		sp_marshal_float(&m, floats[i]);
	sp_marshal_float(&m, INFINITY);
	sp_marshal_float(&m, -INFINITY);
	sp_marshal_float(&m, NAN);
	sp_marshal_sym(&m, "strs");
	sp_marshal_array(&m, SP_ARRAY_LEN(strs) + 3);
	for (i = 0; i < SP_ARRAY_LEN(strs); i++)
		sp_marshal_cstr(&m, strs[i]);
	sp_marshal_nil(&m);
	sp_marshal_bool(&m, 1);
	sp_marshal_uint(&m, big);
	sp_marshal_sym(&m, "ints"); /* a symbol link as a key */
	sp_marshal_sym(&m, "floats");
	assert_int_equal(s.err, 0);

	assert_int_equal(sp_marshal_read(s.buf, s.len, &v, errbuf,
	                                 sizeof(errbuf)), 0);
	/* the last pair (ints => :floats) wins, as in Ruby */
	assert_true(sp_value_is(sp_value_get(&v, "ints"), "floats"));
	assert_int_equal(sp_value_get(&v, "ints")->type, SP_VAL_SYMBOL);
	a = &v.u.hash->pairs[0].val;
	assert_int_equal(sp_value_len(a), N_INT);
	for (i = 0; i < N_INT; i++) {
		assert_int_equal(sp_value_to_i64(sp_value_at(a, i), &x), 0);
		if (x != ints[i])
			fail_msg("int %zu: %lld != %lld", i, (long long)x,
			         (long long)ints[i]);
	}
	a = sp_value_get(&v, "floats");
	for (i = 0; i < SP_ARRAY_LEN(floats); i++) {
		assert_int_equal(sp_value_to_double(sp_value_at(a, i), &d), 0);
		assert_true(d == floats[i] &&
		            signbit(d) == signbit(floats[i]));
	}
	assert_true(isinf(sp_value_at(a, i)->u.f));
	assert_true(isnan(sp_value_at(a, i + 2)->u.f));
	a = sp_value_get(&v, "strs");
	for (i = 0; i < SP_ARRAY_LEN(strs); i++) {
		const char *t = sp_value_str(sp_value_at(a, i), &len);

		assert_int_equal(len, strlen(strs[i]));
		assert_memory_equal(t, strs[i], len);
	}
	assert_int_equal(sp_value_at(a, 1)->enc, SP_ENC_UTF8);
	assert_int_equal(sp_value_at(a, 3)->enc, SP_ENC_BINARY);
	assert_int_equal(sp_value_at(a, i)->type, SP_VAL_NIL);
	assert_int_equal(sp_value_at(a, i + 1)->type, SP_VAL_TRUE);
	assert_true(sp_value_at(a, i + 2)->u.u == big);
	assert_int_equal(sp_value_len(&v), 4);
	sp_value_fini(&v);
	sp_sink_fini(&s);
}

/* ---- fixtures ---- */

static void test_marshal_read_fixtures(void **state)
{
	struct sp_value v;
	size_t i, len;
	unsigned char *buf;
	double version;

	(void)state;
	for (i = 0; i < SP_ARRAY_LEN(fixtures); i++) {
		buf = load_fixture(fixtures[i], &len);
		if (sp_marshal_read(buf, len, &v, errbuf, sizeof(errbuf)))
			fail_msg("%s: %s", fixtures[i], errbuf);
		assert_int_equal(sp_value_to_double(sp_value_get(&v, "version"),
		                                    &version), 0);
		assert_true(version == 1.2);
		assert_int_equal(sp_value_get(&v, "frames")->type, SP_VAL_HASH);
		assert_true(sp_value_is(sp_value_get(
		    sp_value_get(&v, "metadata"), "app"), "demo"));
		sp_value_fini(&v);
		free(buf);
	}
}

static void test_marshal_read_truncation_and_flips(void **state)
{
	struct sp_value v;
	size_t i, k, len, flips = 0, errors = 0;
	unsigned char *buf, *copy;
	int err;

	(void)state;
	for (i = 0; i < SP_ARRAY_LEN(fixtures); i++) {
		buf = load_fixture(fixtures[i], &len);
		copy = malloc(len);
		assert_non_null(copy);
		for (k = 0; k < len; k++) {
			/* an exact-size copy, so ASan sees any overread */
			unsigned char *p = malloc(k ? k : 1);

			memcpy(p, buf, k);
			errbuf[0] = '\0';
			err = sp_marshal_read(p, k, &v, errbuf, sizeof(errbuf));
			free(p);
			if (err != STILLPROF_EBADFORMAT ||
			    !strstr(errbuf, "offset "))
				fail_msg("%s cut at %zu: %d \"%s\"",
				         fixtures[i], k, err, errbuf);
			assert_int_equal(v.type, SP_VAL_NIL);
		}
		for (k = 0; k < 3000; k++) {
			size_t n = 1 + next_rand() % 3, j;

			memcpy(copy, buf, len);
			for (j = 0; j < n; j++)
				copy[2 + next_rand() % (len - 2)] ^=
				    (unsigned char)(1u << (next_rand() % 8));
			errbuf[0] = '\0';
			err = sp_marshal_read(copy, len, &v, errbuf,
			                      sizeof(errbuf));
			flips++;
			if (err) {
				errors++;
				if (err != STILLPROF_EBADFORMAT ||
				    !strstr(errbuf, "offset "))
					fail_msg("%s flip: %d \"%s\"",
					         fixtures[i], err, errbuf);
			}
			sp_value_fini(&v);
		}
		free(copy);
		free(buf);
	}
	print_message("  %zu flipped inputs, %zu refused\n", flips, errors);
	assert_true(errors > 0);
}

static void test_marshal_read_oom_loop(void **state)
{
	(void)state;
	assert_reader_oom_loop(sp_marshal_read, "wall-raw-0.2.28.dump", 50);
}

/* Regression (fuzz/fuzz_marshal_read): an ivar key written as 'I' around
 * something that is not a symbol freed an uninitialised value. */
static void test_marshal_read_fuzz_ivar_symbol_crash(void **state)
{
	static const unsigned char in[] = {0x04, 0x08, 'I', '"', 0x06, 'a',
	                                   0x06, 'I', '0'};
	struct sp_value v;
	char err[256] = "";
	(void)state;

	assert_int_equal(sp_marshal_read(in, sizeof(in), &v, err, sizeof(err)),
	                 STILLPROF_EBADFORMAT);
	assert_non_null(strstr(err, "offset"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marshal_read_scalars),
		cmocka_unit_test(test_marshal_read_fuzz_ivar_symbol_crash),
		cmocka_unit_test(test_marshal_read_floats),
		cmocka_unit_test(test_marshal_read_strings_and_symbols),
		cmocka_unit_test(test_marshal_read_object_links),
		cmocka_unit_test(test_marshal_read_refuses_with_offsets),
		cmocka_unit_test(test_marshal_read_depth_limit),
		cmocka_unit_test(test_marshal_read_round_trips_writer),
		cmocka_unit_test(test_marshal_read_fixtures),
		cmocka_unit_test(test_marshal_read_truncation_and_flips),
		cmocka_unit_test(test_marshal_read_oom_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
