/*
 * json_read.c - a strict RFC 8259 JSON parser (readers.h) into the value
 * tree of value.h, for the stackprof JSON form (`stackprof --json`,
 * JSON.generate of StackProf.results).  Objects keep their members in
 * text order; strings are checked UTF-8 with every escape decoded.
 *
 * Input is untrusted: every error names the byte offset, nesting is
 * limited to SP_READ_MAX_DEPTH, and containers are collected on a growable
 * scratch stack, so memory stays proportional to the input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "read_error.h"
#include "readers.h"
#include "writers.h"

struct jreader {
	const unsigned char *p;
	size_t len, pos;
	int depth;
	/* scratch stack of finished values not yet in their container */
	struct sp_value *stack;
	size_t n_stack, cap_stack;
	/* scratch bytes of the string being decoded */
	char *buf;
	size_t cap_buf;
	struct sp_read_err err;
};

/* Describe the byte at pos for messages. */
static int unexpected(struct jreader *r, const char *expected)
{
	if (r->pos >= r->len)
		return sp_read_bad(&r->err, r->pos,
		                   "truncated: end of input, expected %s",
		                   expected);
	if (r->p[r->pos] >= 0x20 && r->p[r->pos] < 0x7f)
		return sp_read_bad(&r->err, r->pos, "expected %s, found '%c'",
		                   expected, r->p[r->pos]);
	return sp_read_bad(&r->err, r->pos, "expected %s, found byte 0x%02x",
	                   expected, r->p[r->pos]);
}

static void skip_ws(struct jreader *r)
{
	while (r->pos < r->len &&
	       (r->p[r->pos] == ' ' || r->p[r->pos] == '\t' ||
	        r->p[r->pos] == '\n' || r->p[r->pos] == '\r'))
		r->pos++;
}

static int push(struct jreader *r, const struct sp_value *v)
{
	if (sp_grow((void **)&r->stack, &r->cap_stack, r->n_stack + 1,
	            sizeof(*r->stack)))
		return sp_read_oom(&r->err, r->pos);
	r->stack[r->n_stack++] = *v;
	return 0;
}

static int put_byte(struct jreader *r, size_t *n, unsigned char c)
{
	if (sp_grow((void **)&r->buf, &r->cap_buf, *n + 1, 1))
		return sp_read_oom(&r->err, r->pos);
	r->buf[(*n)++] = (char)c;
	return 0;
}

static int put_utf8(struct jreader *r, size_t *n, uint32_t cp)
{
	int err = 0;

	if (cp < 0x80)
		return put_byte(r, n, (unsigned char)cp);
	if (cp < 0x800) {
		err = put_byte(r, n, (unsigned char)(0xc0 | cp >> 6));
	} else if (cp < 0x10000) {
		err = put_byte(r, n, (unsigned char)(0xe0 | cp >> 12));
		if (!err)
			err = put_byte(r, n, 0x80 | ((cp >> 6) & 0x3f));
	} else {
		err = put_byte(r, n, (unsigned char)(0xf0 | cp >> 18));
		if (!err)
			err = put_byte(r, n, 0x80 | ((cp >> 12) & 0x3f));
		if (!err)
			err = put_byte(r, n, 0x80 | ((cp >> 6) & 0x3f));
	}
	if (!err)
		err = put_byte(r, n, 0x80 | (cp & 0x3f));
	return err;
}

/* Four hex digits after "\u" at pos. */
static int hex4(struct jreader *r, uint32_t *out)
{
	uint32_t v = 0;
	int i, c;

	if (r->len - r->pos < 4)
		return sp_read_bad(&r->err, r->pos, "truncated \\u escape");
	for (i = 0; i < 4; i++) {
		c = r->p[r->pos + i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return sp_read_bad(&r->err, r->pos + i,
			                   "bad hex digit in \\u escape");
	}
	r->pos += 4;
	*out = v;
	return 0;
}


/* A string starting at the opening quote. */
static int parse_string(struct jreader *r, struct sp_value *out)
{
	size_t start = r->pos, n = 0, seq, at;
	uint32_t cp, lo;
	int err, c;

	r->pos++;
	for (;;) {
		if (r->pos >= r->len)
			return sp_read_bad(&r->err, start,
			                   "truncated: unterminated string");
		c = r->p[r->pos];
		if (c == '"') {
			r->pos++;
			break;
		}
		if (c < 0x20)
			return sp_read_bad(&r->err, r->pos,
			                   "control character 0x%02x in string",
			                   c);
		if (c >= 0x80) {
			seq = sp_utf8_seq(r->p + r->pos, r->len - r->pos);
			if (!seq)
				return sp_read_bad(&r->err, r->pos,
				                   "invalid UTF-8 in string");
			while (seq--) {
				err = put_byte(r, &n, r->p[r->pos++]);
				if (err)
					return err;
			}
			continue;
		}
		if (c != '\\') {
			err = put_byte(r, &n, (unsigned char)c);
			if (err)
				return err;
			r->pos++;
			continue;
		}
		at = r->pos++;
		if (r->pos >= r->len)
			return sp_read_bad(&r->err, at, "truncated escape");
		c = r->p[r->pos++];
		switch (c) {
		case '"': case '\\': case '/':
			err = put_byte(r, &n, (unsigned char)c);
			break;
		case 'b': err = put_byte(r, &n, '\b'); break;
		case 'f': err = put_byte(r, &n, '\f'); break;
		case 'n': err = put_byte(r, &n, '\n'); break;
		case 'r': err = put_byte(r, &n, '\r'); break;
		case 't': err = put_byte(r, &n, '\t'); break;
		case 'u':
			err = hex4(r, &cp);
			if (err)
				return err;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return sp_read_bad(&r->err, at,
				                   "lone low surrogate \\u%04x",
				                   cp);
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (r->len - r->pos < 2 ||
				    r->p[r->pos] != '\\' ||
				    r->p[r->pos + 1] != 'u')
					return sp_read_bad(&r->err, at,
					                   "high surrogate "
					                   "\\u%04x without a "
					                   "low one", cp);
				r->pos += 2;
				err = hex4(r, &lo);
				if (err)
					return err;
				if (lo < 0xdc00 || lo > 0xdfff)
					return sp_read_bad(&r->err, at,
					                   "high surrogate "
					                   "\\u%04x followed "
					                   "by \\u%04x",
					                   cp, lo);
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
			}
			err = put_utf8(r, &n, cp);
			break;
		default:
			return sp_read_bad(&r->err, at, "invalid escape '\\%c'",
			                   c >= 0x20 && c < 0x7f ? c : '?');
		}
		if (err)
			return err;
	}
	if (sp_value_new_str(out, SP_VAL_STRING, r->buf, n))
		return sp_read_oom(&r->err, r->pos);
	out->enc = SP_ENC_UTF8;
	return 0;
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* number = [ "-" ] int [ frac ] [ exp ] (RFC 8259 section 6). */
static int parse_number(struct jreader *r, struct sp_value *out)
{
	size_t start = r->pos, i = r->pos;
	int integral = 1;
	char small[64], *text, *end;
	uint64_t mag = 0;
	int overflow = 0, neg = 0;

	if (i < r->len && r->p[i] == '-') {
		neg = 1;
		i++;
	}
	if (i >= r->len || !is_digit(r->p[i])) {
		r->pos = i;
		return unexpected(r, "a digit");
	}
	if (r->p[i] == '0') {
		i++;
		if (i < r->len && is_digit(r->p[i]))
			return sp_read_bad(&r->err, i - 1,
			                   "number with a leading zero");
	} else {
		while (i < r->len && is_digit(r->p[i])) {
			unsigned d = r->p[i] - '0';

			if (mag > (UINT64_MAX - d) / 10)
				overflow = 1;
			else
				mag = mag * 10 + d;
			i++;
		}
	}
	if (i < r->len && r->p[i] == '.') {
		integral = 0;
		i++;
		if (i >= r->len || !is_digit(r->p[i])) {
			r->pos = i;
			return unexpected(r, "a digit after '.'");
		}
		while (i < r->len && is_digit(r->p[i]))
			i++;
	}
	if (i < r->len && (r->p[i] == 'e' || r->p[i] == 'E')) {
		integral = 0;
		i++;
		if (i < r->len && (r->p[i] == '+' || r->p[i] == '-'))
			i++;
		if (i >= r->len || !is_digit(r->p[i])) {
			r->pos = i;
			return unexpected(r, "a digit in the exponent");
		}
		while (i < r->len && is_digit(r->p[i]))
			i++;
	}
	r->pos = i;
	memset(out, 0, sizeof(*out));
	if (integral && !overflow &&
	    mag <= (uint64_t)INT64_MAX + (uint64_t)neg) {
		out->type = SP_VAL_INT;
		out->u.i = neg ? (mag ? -(int64_t)(mag - 1) - 1 : 0)
		               : (int64_t)mag;
		return 0;
	}
	/* strtod needs a NUL-terminated copy; the CLI never calls setlocale,
	 * so the decimal point is '.'. */
	text = i - start < sizeof(small) ? small : sp_malloc(i - start + 1);
	if (!text)
		return sp_read_oom(&r->err, r->pos);
	memcpy(text, r->p + start, i - start);
	text[i - start] = '\0';
	out->type = SP_VAL_FLOAT;
	out->u.f = strtod(text, &end);
	if (text != small)
		sp_free(text);
	return 0;
}

static int literal(struct jreader *r, const char *word, int type,
                   struct sp_value *out)
{
	size_t n = strlen(word);

	if (r->len - r->pos < n || memcmp(r->p + r->pos, word, n))
		return unexpected(r, "a JSON value");
	r->pos += n;
	memset(out, 0, sizeof(*out));
	out->type = (uint8_t)type;
	return 0;
}

static int parse_value(struct jreader *r, struct sp_value *out);

/* '[' or '{' at pos: elements go on the scratch stack, then move into
 * one exactly-sized payload. */
static int parse_container(struct jreader *r, struct sp_value *out)
{
	int object = r->p[r->pos] == '{';
	size_t start = r->pos, base = r->n_stack, n, i;
	struct sp_value v;
	int err = 0;

	if (++r->depth > SP_READ_MAX_DEPTH)
		return sp_read_bad(&r->err, start, "nesting deeper than %d",
		                   SP_READ_MAX_DEPTH);
	r->pos++;
	skip_ws(r);
	if (r->pos < r->len && r->p[r->pos] == (object ? '}' : ']')) {
		r->pos++;
	} else {
		for (;;) {
			skip_ws(r);
			if (object) {
				if (r->pos >= r->len || r->p[r->pos] != '"') {
					err = unexpected(r, "a string key");
					break;
				}
				memset(&v, 0, sizeof(v));
				err = parse_string(r, &v);
				if (!err) {
					err = push(r, &v);
					if (err)
						sp_value_fini(&v);
				}
				if (err)
					break;
				skip_ws(r);
				if (r->pos >= r->len || r->p[r->pos] != ':') {
					err = unexpected(r, "':'");
					break;
				}
				r->pos++;
			}
			err = parse_value(r, &v);
			if (err)
				break;
			err = push(r, &v);
			if (err) {
				sp_value_fini(&v);
				break;
			}
			skip_ws(r);
			if (r->pos < r->len && r->p[r->pos] == ',') {
				r->pos++;
				continue;
			}
			if (r->pos < r->len &&
			    r->p[r->pos] == (object ? '}' : ']')) {
				r->pos++;
				break;
			}
			err = unexpected(r, object ? "',' or '}'"
			                           : "',' or ']'");
			break;
		}
	}
	r->depth--;
	n = r->n_stack - base;
	if (!err) {
		if (object)
			err = sp_value_new_hash(out, n / 2);
		else
			err = sp_value_new_array(out, n);
		if (err)
			err = sp_read_oom(&r->err, r->pos);
	}
	if (!err) {
		for (i = 0; i < n; i++) {
			if (object && i % 2 == 0)
				out->u.hash->pairs[i / 2].key = r->stack[base + i];
			else if (object)
				out->u.hash->pairs[i / 2].val = r->stack[base + i];
			else
				out->u.arr->items[i] = r->stack[base + i];
		}
	} else {
		for (i = 0; i < n; i++)
			sp_value_fini(&r->stack[base + i]);
	}
	r->n_stack = base;
	return err;
}

static int parse_value(struct jreader *r, struct sp_value *out)
{
	memset(out, 0, sizeof(*out));
	skip_ws(r);
	if (r->pos >= r->len)
		return unexpected(r, "a JSON value");
	switch (r->p[r->pos]) {
	case '{':
	case '[':
		return parse_container(r, out);
	case '"':
		return parse_string(r, out);
	case 't':
		return literal(r, "true", SP_VAL_TRUE, out);
	case 'f':
		return literal(r, "false", SP_VAL_FALSE, out);
	case 'n':
		return literal(r, "null", SP_VAL_NIL, out);
	default:
		if (r->p[r->pos] == '-' || is_digit(r->p[r->pos]))
			return parse_number(r, out);
		return unexpected(r, "a JSON value");
	}
}

int sp_json_read(const void *buf, size_t len, struct sp_value *out,
                 char *errbuf, size_t errlen)
{
	struct jreader r;
	int err;

	memset(&r, 0, sizeof(r));
	memset(out, 0, sizeof(*out));
	r.p = buf;
	r.len = len;
	sp_read_err_init(&r.err, "json", errbuf, errlen);
	/* RFC 8259 section 8.1: a parser MAY ignore a byte order mark. */
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		r.pos = 3;
	err = parse_value(&r, out);
	if (!err) {
		skip_ws(&r);
		if (r.pos < r.len)
			err = unexpected(&r, "end of input");
	}
	sp_free(r.stack);
	sp_free(r.buf);
	if (err)
		sp_value_fini(out);
	return err;
}
