/*
 * value.c - the decoded-value tree of value.h: payload reference counts,
 * constructors, and the lookup helpers stackprof_read.c uses to walk a
 * dump without caring whether it came from Marshal (symbol keys) or JSON
 * (string keys).  Recursion in sp_value_fini is bounded by the readers'
 * depth limits.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "value.h"

void sp_value_fini(struct sp_value *v)
{
	size_t i;

	if (!v)
		return;
	switch (v->type) {
	case SP_VAL_STRING:
	case SP_VAL_SYMBOL:
		if (v->u.str && --v->u.str->refs == 0)
			sp_free(v->u.str);
		break;
	case SP_VAL_ARRAY:
		if (v->u.arr && --v->u.arr->refs == 0) {
			for (i = 0; i < v->u.arr->n; i++)
				sp_value_fini(&v->u.arr->items[i]);
			sp_free(v->u.arr->items);
			sp_free(v->u.arr);
		}
		break;
	case SP_VAL_HASH:
		if (v->u.hash && --v->u.hash->refs == 0) {
			for (i = 0; i < v->u.hash->n; i++) {
				sp_value_fini(&v->u.hash->pairs[i].key);
				sp_value_fini(&v->u.hash->pairs[i].val);
			}
			sp_free(v->u.hash->pairs);
			sp_free(v->u.hash);
		}
		break;
	default:
		break;
	}
	memset(v, 0, sizeof(*v));
}

struct sp_value sp_value_ref(const struct sp_value *v)
{
	switch (v->type) {
	case SP_VAL_STRING:
	case SP_VAL_SYMBOL:
		v->u.str->refs++;
		break;
	case SP_VAL_ARRAY:
		v->u.arr->refs++;
		break;
	case SP_VAL_HASH:
		v->u.hash->refs++;
		break;
	default:
		break;
	}
	return *v;
}

int sp_value_new_str(struct sp_value *out, int type, const void *data,
                     size_t len)
{
	struct sp_value_str *s;

	memset(out, 0, sizeof(*out));
	if (len > SIZE_MAX - sizeof(*s) - 1)
		return -ENOMEM;
	s = sp_malloc(sizeof(*s) + len + 1);
	if (!s)
		return SP_ERR(-ENOMEM);
	s->refs = 1;
	s->len = len;
	if (len)
		memcpy(s->data, data, len);
	s->data[len] = '\0';
	out->type = (uint8_t)type;
	out->u.str = s;
	return 0;
}

int sp_value_new_array(struct sp_value *out, size_t n)
{
	struct sp_value_arr *a;

	memset(out, 0, sizeof(*out));
	a = sp_calloc(1, sizeof(*a));
	if (!a)
		return SP_ERR(-ENOMEM);
	a->items = sp_calloc(n, sizeof(*a->items));
	if (!a->items) {
		sp_free(a);
		return SP_ERR(-ENOMEM);
	}
	a->refs = 1;
	a->n = n;
	out->type = SP_VAL_ARRAY;
	out->u.arr = a;
	return 0;
}

int sp_value_new_hash(struct sp_value *out, size_t n)
{
	struct sp_value_hash *h;

	memset(out, 0, sizeof(*out));
	h = sp_calloc(1, sizeof(*h));
	if (!h)
		return SP_ERR(-ENOMEM);
	h->pairs = sp_calloc(n, sizeof(*h->pairs));
	if (!h->pairs) {
		sp_free(h);
		return SP_ERR(-ENOMEM);
	}
	h->refs = 1;
	h->n = n;
	out->type = SP_VAL_HASH;
	out->u.hash = h;
	return 0;
}

const char *sp_value_str(const struct sp_value *v, size_t *len)
{
	if (!v || (v->type != SP_VAL_STRING && v->type != SP_VAL_SYMBOL))
		return NULL;
	if (len)
		*len = v->u.str->len;
	return v->u.str->data;
}

int sp_value_is(const struct sp_value *v, const char *s)
{
	size_t len;
	const char *d = sp_value_str(v, &len);

	return d && len == strlen(s) && !memcmp(d, s, len);
}

const struct sp_value *sp_value_get(const struct sp_value *v,
                                    const char *name)
{
	size_t i;

	if (!v || v->type != SP_VAL_HASH)
		return NULL;
	for (i = v->u.hash->n; i-- > 0;)
		if (sp_value_is(&v->u.hash->pairs[i].key, name))
			return &v->u.hash->pairs[i].val;
	return NULL;
}

/* Decimal digits with an optional '-', no leading '+', no spaces. */
static int parse_decimal(const char *s, size_t len, int *neg, uint64_t *mag)
{
	size_t i = 0;
	uint64_t m = 0;

	*neg = 0;
	if (len && s[0] == '-') {
		*neg = 1;
		i = 1;
	}
	if (i == len)
		return -EINVAL;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		if (m > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -ERANGE;
		m = m * 10 + (uint64_t)(s[i] - '0');
	}
	*mag = m;
	return 0;
}

int sp_value_to_i64(const struct sp_value *v, int64_t *out)
{
	uint64_t mag;
	int neg, err;

	if (!v)
		return -EINVAL;
	switch (v->type) {
	case SP_VAL_INT:
		*out = v->u.i;
		return 0;
	case SP_VAL_UINT:
		return -ERANGE;
	case SP_VAL_STRING:
		err = parse_decimal(v->u.str->data, v->u.str->len, &neg, &mag);
		if (err)
			return err;
		if (neg) {
			if (mag > (uint64_t)INT64_MAX + 1)
				return -ERANGE;
			*out = mag ? -(int64_t)(mag - 1) - 1 : 0;
		} else {
			if (mag > (uint64_t)INT64_MAX)
				return -ERANGE;
			*out = (int64_t)mag;
		}
		return 0;
	default:
		return -EINVAL;
	}
}

int sp_value_to_u64(const struct sp_value *v, uint64_t *out)
{
	uint64_t mag;
	int neg, err;

	if (!v)
		return -EINVAL;
	switch (v->type) {
	case SP_VAL_INT:
		if (v->u.i < 0)
			return -ERANGE;
		*out = (uint64_t)v->u.i;
		return 0;
	case SP_VAL_UINT:
		*out = v->u.u;
		return 0;
	case SP_VAL_STRING:
		err = parse_decimal(v->u.str->data, v->u.str->len, &neg, &mag);
		if (err)
			return err;
		if (neg && mag)
			return -ERANGE;
		*out = mag;
		return 0;
	default:
		return -EINVAL;
	}
}

int sp_value_to_double(const struct sp_value *v, double *out)
{
	if (!v)
		return -EINVAL;
	switch (v->type) {
	case SP_VAL_INT:
		*out = (double)v->u.i;
		return 0;
	case SP_VAL_UINT:
		*out = (double)v->u.u;
		return 0;
	case SP_VAL_FLOAT:
		*out = v->u.f;
		return 0;
	default:
		return -EINVAL;
	}
}

const struct sp_value *sp_value_get_int(const struct sp_value *v,
                                        int64_t key)
{
	size_t i;
	int64_t k;

	if (!v || v->type != SP_VAL_HASH)
		return NULL;
	for (i = v->u.hash->n; i-- > 0;) {
		const struct sp_value *kv = &v->u.hash->pairs[i].key;

		if ((kv->type == SP_VAL_INT || kv->type == SP_VAL_STRING) &&
		    !sp_value_to_i64(kv, &k) && k == key)
			return &v->u.hash->pairs[i].val;
	}
	return NULL;
}

const struct sp_value *sp_value_at(const struct sp_value *v, size_t i)
{
	if (!v || v->type != SP_VAL_ARRAY || i >= v->u.arr->n)
		return NULL;
	return &v->u.arr->items[i];
}

size_t sp_value_len(const struct sp_value *v)
{
	if (!v)
		return 0;
	if (v->type == SP_VAL_ARRAY)
		return v->u.arr->n;
	if (v->type == SP_VAL_HASH)
		return v->u.hash->n;
	return 0;
}
