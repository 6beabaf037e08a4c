/*
 * marshal_read.c - a Ruby Marshal 4.8 decoder for the subset stackprof
 * dumps use (readers.h), into the value tree of value.h.  The rules follow
 * Ruby's marshal.c (r_long, r_object, r_symbol, r_entry) as summarised in
 * research/stackprof-format.md section 3.
 *
 * Object links ('@') index a table of every Hash, Array, String, Float and
 * Bignum in stream order, root = 0 (section 3.7); symbols have their own
 * table.  A link becomes a second reference to the same payload.  A link
 * to a container that is still being read (a recursive structure) is
 * refused: the tree stays acyclic, so reference counts free it.
 *
 * Input is untrusted: every read is bounds-checked, every count is checked
 * against the bytes left before anything is allocated for it, nesting is
 * limited, and each error names the byte offset where it was found.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "read_error.h"
#include "readers.h"

struct obj_entry {
	struct sp_value v;    /* a reference of its own */
	int done;             /* containers: all elements read */
};

struct mreader {
	const unsigned char *p;
	size_t len, pos;
	struct sp_value *syms;
	size_t n_syms, cap_syms;
	struct obj_entry *objs;
	size_t n_objs, cap_objs;
	int depth;
	struct sp_read_err err;
};

static size_t left(const struct mreader *r)
{
	return r->len - r->pos;
}

static int byte(struct mreader *r, int *c, const char *what)
{
	*c = 0; /* gcc cannot see that sp_read_bad() never returns 0 */
	if (!left(r))
		return sp_read_bad(&r->err, r->pos,
		                   "truncated: end of input in %s", what);
	*c = r->p[r->pos++];
	return 0;
}

/* Ruby's r_long: one byte for small values, else 1..4 little-endian
 * bytes, two's complement filled with ones for negative counts. */
static int read_long(struct mreader *r, int32_t *out, const char *what)
{
	size_t at = r->pos;
	int c, i, b, err;
	int64_t x;

	err = byte(r, &c, what);
	if (err)
		return err;
	c = (signed char)c;
	if (c == 0) {
		*out = 0;
		return 0;
	}
	if (c > 4) {
		*out = c - 5;
		return 0;
	}
	if (c < -4) {
		*out = c + 5;
		return 0;
	}
	if ((size_t)(c > 0 ? c : -c) > left(r))
		return sp_read_bad(&r->err, at, "truncated: %s needs %d more "
		                   "bytes, %zu left", what, c > 0 ? c : -c,
		                   left(r));
	if (c > 0) {
		x = 0;
		for (i = 0; i < c; i++)
			x |= (int64_t)r->p[r->pos++] << (8 * i);
	} else {
		x = -1;
		for (i = 0; i < -c; i++) {
			b = r->p[r->pos++];
			x &= ~((int64_t)0xff << (8 * i));
			x |= (int64_t)b << (8 * i);
		}
	}
	if (x > INT32_MAX || x < INT32_MIN)
		return sp_read_bad(&r->err, at,
		                   "packed long out of 32-bit range in %s",
		                   what);
	*out = (int32_t)x;
	return 0;
}

/* A length or count: non-negative, and each unit needs at least `unit`
 * bytes of what is left, so corrupt counts never drive allocations. */
static int read_count(struct mreader *r, size_t unit, size_t *out,
                      const char *what)
{
	size_t at = r->pos;
	int32_t n;
	int err = read_long(r, &n, what);

	if (err)
		return err;
	if (n < 0)
		return sp_read_bad(&r->err, at, "negative %s (%d)", what, n);
	if ((size_t)n > left(r) / unit)
		return sp_read_bad(&r->err, at, "truncated: %s %d exceeds the "
		                   "%zu bytes left", what, n, left(r));
	*out = (size_t)n;
	return 0;
}

/* Register v in the object table (a reference of its own). */
static int add_obj(struct mreader *r, const struct sp_value *v, int done,
                   size_t *idx)
{
	int err = sp_grow((void **)&r->objs, &r->cap_objs, r->n_objs + 1,
	                  sizeof(*r->objs));

	if (err)
		return sp_read_oom(&r->err, r->pos);
	r->objs[r->n_objs].v = sp_value_ref(v);
	r->objs[r->n_objs].done = done;
	if (idx)
		*idx = r->n_objs;
	r->n_objs++;
	return 0;
}

static int read_value(struct mreader *r, struct sp_value *out);

/* ':' (new symbol) or ';' (link), possibly wrapped in 'I' with an
 * encoding ivar for non-ASCII symbols. */
static int read_symbol(struct mreader *r, struct sp_value *out)
{
	size_t at = r->pos, len;
	int32_t idx;
	int c, err;

	err = byte(r, &c, "symbol");
	if (err)
		return err;
	if (c == ';') {
		err = read_long(r, &idx, "symbol link");
		if (err)
			return err;
		if (idx < 0 || (size_t)idx >= r->n_syms)
			return sp_read_bad(&r->err, at,
			                   "symbol link %d, only %zu symbols "
			                   "defined", idx, r->n_syms);
		*out = sp_value_ref(&r->syms[idx]);
		return 0;
	}
	if (c == 'I') {
		struct sp_value sym, k, v;
		size_t n, i;

		if (++r->depth > SP_READ_MAX_DEPTH)
			return sp_read_bad(&r->err, at,
			                   "nesting deeper than %d",
			                   SP_READ_MAX_DEPTH);
		/* read_symbol leaves its output untouched on failure:
		 * start from nil so the cleanup below is always valid
		 * (found by fuzz/fuzz_marshal_read). */
		memset(&sym, 0, sizeof(sym));
		err = read_symbol(r, &sym);
		if (!err)
			err = read_count(r, 2, &n, "ivar count");
		for (i = 0; !err && i < n; i++) {
			memset(&k, 0, sizeof(k));
			memset(&v, 0, sizeof(v));
			err = read_symbol(r, &k);
			if (!err)
				err = read_value(r, &v);
			sp_value_fini(&k);
			sp_value_fini(&v);
		}
		r->depth--;
		if (err) {
			sp_value_fini(&sym);
			return err;
		}
		*out = sym;
		return 0;
	}
	if (c != ':')
		return sp_read_bad(&r->err, at, "expected a symbol (':' or "
		                   "';'), found 0x%02x", c);
	err = read_count(r, 1, &len, "symbol length");
	if (err)
		return err;
	err = sp_grow((void **)&r->syms, &r->cap_syms, r->n_syms + 1,
	              sizeof(*r->syms));
	if (err)
		return sp_read_oom(&r->err, r->pos);
	err = sp_value_new_str(out, SP_VAL_SYMBOL, r->p + r->pos, len);
	if (err)
		return sp_read_oom(&r->err, r->pos);
	r->pos += len;
	r->syms[r->n_syms++] = sp_value_ref(out);
	return 0;
}

/* 'l': sign, count of 16-bit words, magnitude little-endian. */
static int read_bignum(struct mreader *r, size_t at, struct sp_value *out)
{
	uint64_t mag = 0;
	size_t words, i;
	int sign, err;

	err = byte(r, &sign, "bignum sign");
	if (err)
		return err;
	if (sign != '+' && sign != '-')
		return sp_read_bad(&r->err, r->pos - 1,
		                   "bignum sign 0x%02x (not + or -)", sign);
	err = read_count(r, 2, &words, "bignum length");
	if (err)
		return err;
	for (i = 0; i < words * 2; i++) {
		unsigned b = r->p[r->pos + i];

		if (i >= 8 && b)
			return sp_read_bad(&r->err, at,
			                   "bignum wider than 64 bits");
		if (i < 8)
			mag |= (uint64_t)b << (8 * i);
	}
	r->pos += words * 2;
	memset(out, 0, sizeof(*out));
	if (sign == '-') {
		if (mag > (uint64_t)INT64_MAX + 1)
			return sp_read_bad(&r->err, at,
			                   "negative bignum below -2^63");
		out->type = SP_VAL_INT;
		out->u.i = mag ? -(int64_t)(mag - 1) - 1 : 0;
	} else if (mag > (uint64_t)INT64_MAX) {
		out->type = SP_VAL_UINT;
		out->u.u = mag;
	} else {
		out->type = SP_VAL_INT;
		out->u.i = (int64_t)mag;
	}
	return add_obj(r, out, 1, NULL);
}

/* 'f': text; Ruby writes "inf", "-inf", "nan" or strtod-able digits (old
 * Rubies append a NUL and mantissa bytes, which we ignore). */
static int read_float(struct mreader *r, size_t at, struct sp_value *out)
{
	char text[64], *end;
	size_t len, n;
	double d;
	int err;

	err = read_count(r, 1, &len, "float length");
	if (err)
		return err;
	n = strnlen((const char *)r->p + r->pos, len);
	if (n == 0 || n >= sizeof(text))
		return sp_read_bad(&r->err, at, "float text of %zu bytes", n);
	memcpy(text, r->p + r->pos, n);
	text[n] = '\0';
	r->pos += len;
	if (!strcmp(text, "nan"))
		d = NAN;
	else if (!strcmp(text, "inf"))
		d = INFINITY;
	else if (!strcmp(text, "-inf"))
		d = -INFINITY;
	else {
		/* The CLI never calls setlocale: strtod reads '.' here. */
		d = strtod(text, &end);
		if (*end || text[0] == ' ')
			return sp_read_bad(&r->err, at,
			                   "float text \"%s\" is not a number",
			                   text);
	}
	memset(out, 0, sizeof(*out));
	out->type = SP_VAL_FLOAT;
	out->u.f = d;
	return add_obj(r, out, 1, NULL);
}

/* 'I': an object followed by instance variables.  For strings, E and
 * encoding give the encoding; other ivars are read and dropped. */
static int read_ivar(struct mreader *r, struct sp_value *out)
{
	size_t obj_idx = r->n_objs, n, i;
	struct sp_value k, v;
	int err;

	err = read_value(r, out);
	if (err)
		return err;
	err = read_count(r, 2, &n, "ivar count");
	for (i = 0; !err && i < n; i++) {
		memset(&k, 0, sizeof(k));
		memset(&v, 0, sizeof(v));
		err = read_symbol(r, &k);
		if (!err)
			err = read_value(r, &v);
		if (!err && out->type == SP_VAL_STRING) {
			if (sp_value_is(&k, "E"))
				out->enc = v.type == SP_VAL_TRUE ? SP_ENC_UTF8
				                                 : SP_ENC_ASCII;
			else if (sp_value_is(&k, "encoding"))
				out->enc = SP_ENC_OTHER;
		}
		sp_value_fini(&k);
		sp_value_fini(&v);
	}
	if (err)
		return err;
	/* Links to the string must see its encoding too. */
	if (out->type == SP_VAL_STRING && obj_idx < r->n_objs &&
	    r->objs[obj_idx].v.type == SP_VAL_STRING &&
	    r->objs[obj_idx].v.u.str == out->u.str)
		r->objs[obj_idx].v.enc = out->enc;
	return 0;
}

static int read_array(struct mreader *r, struct sp_value *out)
{
	size_t n, i, idx;
	int err;

	err = read_count(r, 1, &n, "array length");
	if (err)
		return err;
	if (sp_value_new_array(out, n))
		return sp_read_oom(&r->err, r->pos);
	err = add_obj(r, out, 0, &idx);
	for (i = 0; !err && i < n; i++)
		err = read_value(r, &out->u.arr->items[i]);
	if (!err)
		r->objs[idx].done = 1;
	return err;
}

static int read_hash(struct mreader *r, struct sp_value *out)
{
	size_t n, i, idx;
	int err;

	err = read_count(r, 2, &n, "hash size");
	if (err)
		return err;
	if (sp_value_new_hash(out, n))
		return sp_read_oom(&r->err, r->pos);
	err = add_obj(r, out, 0, &idx);
	for (i = 0; !err && i < n; i++) {
		err = read_value(r, &out->u.hash->pairs[i].key);
		if (!err)
			err = read_value(r, &out->u.hash->pairs[i].val);
	}
	if (!err)
		r->objs[idx].done = 1;
	return err;
}

static const char *unsupported(int c)
{
	switch (c) {
	case 'o': return "Object";
	case 'c': return "Class";
	case 'm': return "Module";
	case 'M': return "old-style Module";
	case 'e': return "extended object";
	case 'u': return "_dump user data";
	case 'U': return "marshal_dump user object";
	case 'd': return "Data object";
	case 'S': return "Struct";
	case 'C': return "user subclass of a core class";
	case '/': return "Regexp";
	case '}': return "Hash with a default value";
	default: return NULL;
	}
}

static int read_value(struct mreader *r, struct sp_value *out)
{
	size_t at = r->pos, len;
	const char *what;
	int32_t idx;
	int c, err;

	memset(out, 0, sizeof(*out));
	err = byte(r, &c, "object");
	if (err)
		return err;
	if (++r->depth > SP_READ_MAX_DEPTH) {
		r->depth--;
		return sp_read_bad(&r->err, at, "nesting deeper than %d",
		                   SP_READ_MAX_DEPTH);
	}
	switch (c) {
	case '0':
		out->type = SP_VAL_NIL;
		break;
	case 'T':
		out->type = SP_VAL_TRUE;
		break;
	case 'F':
		out->type = SP_VAL_FALSE;
		break;
	case 'i':
		err = read_long(r, &idx, "fixnum");
		out->type = SP_VAL_INT;
		out->u.i = idx;
		break;
	case 'l':
		err = read_bignum(r, at, out);
		break;
	case 'f':
		err = read_float(r, at, out);
		break;
	case '"':
		err = read_count(r, 1, &len, "string length");
		if (err)
			break;
		if (sp_value_new_str(out, SP_VAL_STRING, r->p + r->pos, len)) {
			err = sp_read_oom(&r->err, r->pos);
			break;
		}
		r->pos += len;
		err = add_obj(r, out, 1, NULL);
		break;
	case ':':
	case ';':
		r->pos = at; /* read_symbol reads the type byte itself */
		err = read_symbol(r, out);
		break;
	case 'I':
		err = read_ivar(r, out);
		break;
	case '[':
		err = read_array(r, out);
		break;
	case '{':
		err = read_hash(r, out);
		break;
	case '@':
		err = read_long(r, &idx, "object link");
		if (err)
			break;
		if (idx < 0 || (size_t)idx >= r->n_objs)
			err = sp_read_bad(&r->err, at,
			                  "object link @%d, only %zu objects "
			                  "so far", idx, r->n_objs);
		else if (!r->objs[idx].done)
			err = sp_read_bad(&r->err, at,
			                  "object link @%d to an object still "
			                  "being read (recursive structure)",
			                  idx);
		else
			*out = sp_value_ref(&r->objs[idx].v);
		break;
	default:
		what = unsupported(c);
		if (what)
			err = sp_read_bad(&r->err, at,
			                  "unsupported Marshal type '%c' (%s)",
			                  c, what);
		else
			err = sp_read_bad(&r->err, at,
			                  "unknown Marshal type byte 0x%02x",
			                  c);
		break;
	}
	r->depth--;
	return err;
}

int sp_marshal_read(const void *buf, size_t len, struct sp_value *out,
                    char *errbuf, size_t errlen)
{
	struct mreader r;
	size_t i;
	int err;

	memset(&r, 0, sizeof(r));
	memset(out, 0, sizeof(*out));
	r.p = buf;
	r.len = len;
	sp_read_err_init(&r.err, "marshal", errbuf, errlen);
	if (len < 2)
		return sp_read_bad(&r.err, 0, "truncated: no Marshal header");
	/* Ruby loads minor versions up to its own (8). */
	if (r.p[0] != 4 || r.p[1] > 8)
		return sp_read_bad(&r.err, 0, "not a Marshal 4.8 stream "
		                   "(header %02x %02x)", r.p[0], r.p[1]);
	r.pos = 2;
	err = read_value(&r, out);
	for (i = 0; i < r.n_syms; i++)
		sp_value_fini(&r.syms[i]);
	for (i = 0; i < r.n_objs; i++)
		sp_value_fini(&r.objs[i].v);
	sp_free(r.syms);
	sp_free(r.objs);
	if (err)
		sp_value_fini(out);
	return err;
}
