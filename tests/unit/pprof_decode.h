/*
 * pprof_decode.h - test side of test_pprof.c: gunzip with zlib and a
 * small profile.proto decoder, written from the .proto rather than from
 * our encoder, so the two can disagree.  It keeps the fields the writer
 * sets, accepts packed and unpacked repeated scalars, and fails the test
 * on a wire type or Profile field it does not expect.  Fixed capacities:
 * enough for the hand-made stores of the tests.
 */
#ifndef PPROF_DECODE_H
#define PPROF_DECODE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Inflate a gzip member (windowBits 31 accepts only gzip). */
static uint8_t *gunzip(const void *data, size_t len, size_t *out_len)
{
	size_t cap = 1 << 16;
	uint8_t *out = malloc(cap);
	z_stream z;
	int rc;

	assert_non_null(out);
	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 31), Z_OK);
	z.next_in = (Bytef *)data;
	z.avail_in = (uInt)len;
	do {
		if (z.total_out == cap) {
			cap *= 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		z.next_out = out + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out);
		rc = inflate(&z, Z_NO_FLUSH);
		assert_true(rc == Z_OK || rc == Z_STREAM_END);
	} while (rc != Z_STREAM_END);
	assert_int_equal(z.avail_in, 0);
	*out_len = z.total_out;
	inflateEnd(&z);
	return out;
}

#define D_MAX 64

struct d_str {
	const char *s;
	size_t len;
};

struct d_sample {
	uint64_t locs[16];
	size_t n_locs;
	uint64_t values[4];
	size_t n_values;
	int64_t label_key[4], label_str[4], label_num[4];
	size_t n_labels;
};

struct d_location {
	uint64_t id, mapping_id, address, function_id;
	int64_t line;
};

struct d_function {
	uint64_t id;
	int64_t name, system_name, filename, start_line;
};

struct d_mapping {
	uint64_t id, has_functions;
	int64_t filename;
};

struct d_profile {
	struct d_str strs[D_MAX];
	size_t n_strs;
	int64_t sample_type[4][2];   /* type, unit */
	size_t n_sample_types;
	struct d_sample samples[D_MAX];
	size_t n_samples;
	struct d_location locs[D_MAX];
	size_t n_locs;
	struct d_function fns[D_MAX];
	size_t n_fns;
	struct d_mapping maps[D_MAX];
	size_t n_maps;
	int64_t time_nanos, duration_nanos, period, default_sample_type;
	int64_t period_type[2];
	int64_t comments[4];
	size_t n_comments;
};

struct rd {
	const uint8_t *p, *end;
};

static uint64_t rd_varint(struct rd *r)
{
	uint64_t v = 0;
	int shift = 0;

	for (;;) {
		assert_true(r->p < r->end && shift < 64);
		v |= (uint64_t)(*r->p & 0x7f) << shift;
		shift += 7;
		if (!(*r->p++ & 0x80))
			return v;
	}
}

/* Next field of r: its number, and *v (varint) or *sub (bytes);
 * *len_delimited says which. */
static uint32_t rd_field(struct rd *r, uint64_t *v, struct rd *sub,
                         int *len_delimited)
{
	uint64_t key = rd_varint(r), len;

	*len_delimited = (key & 7) == 2;
	switch (key & 7) {
	case 0:
		*v = rd_varint(r);
		break;
	case 2:
		len = rd_varint(r);
		assert_true(len <= (uint64_t)(r->end - r->p));
		sub->p = r->p;
		sub->end = r->p + len;
		r->p += len;
		break;
	default:
		fail_msg("unexpected wire type %d", (int)(key & 7));
	}
	return (uint32_t)(key >> 3);
}

/* A repeated varint field: packed (a run of varints) or one value. */
static void rd_repeated(struct rd *sub, uint64_t v, int packed,
                        uint64_t *out, size_t *n, size_t cap)
{
	if (!packed) {
		assert_true(*n < cap);
		out[(*n)++] = v;
		return;
	}
	while (sub->p < sub->end) {
		assert_true(*n < cap);
		out[(*n)++] = rd_varint(sub);
	}
}

/* A message of varint fields only: v[field] for fields 1..n. */
static void rd_flat(struct rd m, uint64_t *v, size_t n)
{
	struct rd sub;
	uint64_t x = 0;
	int ld;

	while (m.p < m.end) {
		uint32_t f = rd_field(&m, &x, &sub, &ld);

		if (!ld && f >= 1 && f <= n)
			v[f - 1] = x;
	}
}

static void rd_sample(struct rd m, struct d_sample *s)
{
	struct rd sub;
	uint64_t x = 0, label[4];
	int ld;

	while (m.p < m.end) {
		switch (rd_field(&m, &x, &sub, &ld)) {
		case 1:
			rd_repeated(&sub, x, ld, s->locs, &s->n_locs, 16);
			break;
		case 2:
			rd_repeated(&sub, x, ld, s->values, &s->n_values, 4);
			break;
		case 3:
			assert_true(ld && s->n_labels < 4);
			memset(label, 0, sizeof(label));
			rd_flat(sub, label, 4);
			s->label_key[s->n_labels] = (int64_t)label[0];
			s->label_str[s->n_labels] = (int64_t)label[1];
			s->label_num[s->n_labels++] = (int64_t)label[2];
			break;
		}
	}
}

static void rd_location(struct rd m, struct d_location *l)
{
	struct rd sub;
	uint64_t x = 0, line[3];
	int ld;

	while (m.p < m.end) {
		switch (rd_field(&m, &x, &sub, &ld)) {
		case 1: l->id = x; break;
		case 2: l->mapping_id = x; break;
		case 3: l->address = x; break;
		case 4: /* Line: function_id, line */
			memset(line, 0, sizeof(line));
			rd_flat(sub, line, 3);
			l->function_id = line[0];
			l->line = (int64_t)line[1];
			break;
		}
	}
}

static void decode(const uint8_t *buf, size_t len, struct d_profile *d)
{
	struct rd r = { buf, buf + len }, m;
	uint64_t v = 0, f[10];
	uint32_t field;
	int ld;

	memset(d, 0, sizeof(*d));
	while (r.p < r.end) {
		field = rd_field(&r, &v, &m, &ld);
		memset(f, 0, sizeof(f));
		switch (field) {
		case 1: /* sample_type: ValueType */
			assert_true(d->n_sample_types < 4);
			rd_flat(m, f, 2);
			d->sample_type[d->n_sample_types][0] = (int64_t)f[0];
			d->sample_type[d->n_sample_types++][1] = (int64_t)f[1];
			break;
		case 2:
			rd_sample(m, &d->samples[d->n_samples++]);
			break;
		case 3: /* Mapping */
			rd_flat(m, f, 10);
			d->maps[d->n_maps].id = f[0];
			d->maps[d->n_maps].filename = (int64_t)f[4];
			d->maps[d->n_maps++].has_functions = f[6];
			break;
		case 4:
			rd_location(m, &d->locs[d->n_locs++]);
			break;
		case 5: /* Function */
			rd_flat(m, f, 5);
			d->fns[d->n_fns].id = f[0];
			d->fns[d->n_fns].name = (int64_t)f[1];
			d->fns[d->n_fns].system_name = (int64_t)f[2];
			d->fns[d->n_fns].filename = (int64_t)f[3];
			d->fns[d->n_fns++].start_line = (int64_t)f[4];
			break;
		case 6:
			assert_true(ld && d->n_strs < D_MAX);
			d->strs[d->n_strs].s = (const char *)m.p;
			d->strs[d->n_strs++].len = (size_t)(m.end - m.p);
			break;
		case 9: d->time_nanos = (int64_t)v; break;
		case 10: d->duration_nanos = (int64_t)v; break;
		case 11:
			rd_flat(m, f, 2);
			d->period_type[0] = (int64_t)f[0];
			d->period_type[1] = (int64_t)f[1];
			break;
		case 12: d->period = (int64_t)v; break;
		case 13:
			assert_true(d->n_comments < 4);
			d->comments[d->n_comments++] = (int64_t)v;
			break;
		case 14: d->default_sample_type = (int64_t)v; break;
		default:
			fail_msg("unexpected Profile field %u", field);
		}
		assert_true(d->n_samples < D_MAX && d->n_locs < D_MAX &&
		            d->n_fns < D_MAX && d->n_maps < D_MAX);
	}
}

/* String i of the table, NUL-terminated (one of 4 rotating buffers). */
static const char *S(const struct d_profile *d, int64_t i)
{
	static char buf[4][256];
	static int k;
	char *b = buf[k++ % 4];

	assert_true(i >= 0 && (size_t)i < d->n_strs);
	assert_true(d->strs[i].len < 256);
	memcpy(b, d->strs[i].s, d->strs[i].len);
	b[d->strs[i].len] = '\0';
	return b;
}

static size_t find_loc(const struct d_profile *d, uint64_t id)
{
	size_t i;

	for (i = 0; i < d->n_locs; i++)
		if (d->locs[i].id == id)
			return i;
	fail_msg("no location %llu", (unsigned long long)id);
	return 0;
}

static size_t find_fn(const struct d_profile *d, uint64_t id)
{
	size_t i;

	for (i = 0; i < d->n_fns; i++)
		if (d->fns[i].id == id)
			return i;
	fail_msg("no function %llu", (unsigned long long)id);
	return 0;
}

static size_t fn_named(const struct d_profile *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->n_fns; i++)
		if (!strcmp(S(d, d->fns[i].name), name))
			return i;
	fail_msg("no function %s", name);
	return 0;
}

#endif
