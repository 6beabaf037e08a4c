/*
 * value.h - a small decoded-value tree, the common output of the Marshal
 * reader (marshal_read.c) and the JSON reader (json_read.c), read by
 * stackprof_read.c.
 *
 * A struct sp_value is a 16-byte handle.  Scalars (nil, booleans, integers,
 * floats) live in it; strings, symbols, arrays and hashes point to a
 * reference-counted payload, so that a Marshal object link ('@') is a second
 * handle to the same payload rather than a copy (links cannot form cycles:
 * the reader refuses links to objects it has not finished).  Not
 * thread-safe: one tree belongs to one thread.
 */
#ifndef SP_VALUE_H
#define SP_VALUE_H

#include <stddef.h>
#include <stdint.h>

enum sp_value_type {
	SP_VAL_NIL = 0,
	SP_VAL_TRUE,
	SP_VAL_FALSE,
	SP_VAL_INT,     /* u.i: Fixnum, Bignum that fits int64, JSON integer */
	SP_VAL_UINT,    /* u.u: a Bignum in (INT64_MAX, UINT64_MAX] */
	SP_VAL_FLOAT,   /* u.f */
	SP_VAL_STRING,  /* u.str */
	SP_VAL_SYMBOL,  /* u.str (Marshal only) */
	SP_VAL_ARRAY,   /* u.arr */
	SP_VAL_HASH,    /* u.hash: pairs in stream order */
};

/* String encodings, from Marshal's E / encoding ivars; JSON is UTF-8. */
enum sp_value_enc {
	SP_ENC_BINARY = 0,  /* no ivar: ASCII-8BIT */
	SP_ENC_UTF8,        /* E => true */
	SP_ENC_ASCII,       /* E => false (US-ASCII) */
	SP_ENC_OTHER,       /* :encoding => "name" */
};

struct sp_value_str {
	size_t refs;
	size_t len;
	char data[];        /* len bytes plus a NUL (data may contain NULs) */
};

struct sp_value;

struct sp_value_arr {
	size_t refs;
	size_t n;
	struct sp_value *items;
};

struct sp_value_pair;

struct sp_value_hash {
	size_t refs;
	size_t n;
	struct sp_value_pair *pairs;
};

struct sp_value {
	uint8_t type;       /* enum sp_value_type */
	uint8_t enc;        /* enum sp_value_enc, strings only */
	union {
		int64_t i;
		uint64_t u;
		double f;
		struct sp_value_str *str;
		struct sp_value_arr *arr;
		struct sp_value_hash *hash;
	} u;
};

struct sp_value_pair {
	struct sp_value key, val;
};

/* Release v's reference to its payload (recursively when it was the last)
 * and make v nil.  NULL and scalars are fine. */
void sp_value_fini(struct sp_value *v);

/* A second handle to v's payload (a Marshal object link). */
struct sp_value sp_value_ref(const struct sp_value *v);

/* New payloads with refs = 1: a string/symbol of len bytes (copied), an
 * array of n nil items, a hash of n nil pairs.  Return 0 or -ENOMEM (and
 * leave *out nil). */
int sp_value_new_str(struct sp_value *out, int type, const void *data,
                     size_t len);
int sp_value_new_array(struct sp_value *out, size_t n);
int sp_value_new_hash(struct sp_value *out, size_t n);

/* ---- lookup: every helper takes NULL and wrong types, giving NULL/-EINVAL */

/* The value of the last pair whose key is a symbol or a string equal to
 * name (Marshal dumps have symbol keys, their JSON form string keys; the
 * last pair wins, as in Ruby).  NULL when v is no hash or has no such key. */
const struct sp_value *sp_value_get(const struct sp_value *v,
                                    const char *name);

/* The value of the last pair whose key is the integer key, or a string of
 * its decimal digits (JSON object keys).  NULL when absent. */
const struct sp_value *sp_value_get_int(const struct sp_value *v,
                                        int64_t key);

/* Element i of an array, NULL when out of range or not an array. */
const struct sp_value *sp_value_at(const struct sp_value *v, size_t i);

/* Number of items (array) or pairs (hash); 0 for anything else. */
size_t sp_value_len(const struct sp_value *v);

/* Bytes of a string or symbol (NUL-terminated; *len may be NULL), or NULL. */
const char *sp_value_str(const struct sp_value *v, size_t *len);

/* 1 when v is a string or symbol equal to s. */
int sp_value_is(const struct sp_value *v, const char *s);

/* Integer value: SP_VAL_INT/UINT, or a string of decimal digits with an
 * optional '-' (JSON keys).  Returns 0, -EINVAL (not an integer) or
 * -ERANGE (does not fit). */
int sp_value_to_i64(const struct sp_value *v, int64_t *out);
int sp_value_to_u64(const struct sp_value *v, uint64_t *out);

/* Number as a double (integers converted).  Returns 0 or -EINVAL. */
int sp_value_to_double(const struct sp_value *v, double *out);

#endif
