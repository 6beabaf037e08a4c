/*
 * marshal_write.c - a Ruby Marshal 4.8 encoder, just large enough for
 * stackprof dumps: nil, booleans, Integers (Fixnum/Bignum), Floats,
 * Strings (UTF-8 or binary), Symbols with links, Arrays and Hashes.
 *
 * It never emits object links ('@'): every String, Float and Bignum is
 * written in full, which is what Marshal.dump(Marshal.load(x)) produces for
 * distinct objects, so no object table is kept.  Errors (short writes, no
 * memory) are latched in the sink; these functions return nothing.
 *
 * Encoding rules: research/stackprof-format.md section 3 and Ruby's
 * marshal.c (w_long, w_object, w_float).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"

/* A few bytes straight into the sink's buffer when they fit: integers are
 * most of a raw dump, and a memcpy call per 2-5 bytes showed in profiles
 * (bench/writer). */
static inline void put_few(struct sp_sink *s, const unsigned char *b,
                           size_t n)
{
	if (!s->err && s->cap - s->len >= n) {
		char *d = s->buf + s->len;
		for (size_t i = 0; i < n; i++)
			d[i] = (char)b[i];
		s->len += n;
		return;
	}
	sp_sink_write(s, b, n);
}

/* Ruby's w_long: the "packed long" used for Fixnums and every length,
 * count and index.  Only 32-bit values fit; callers check the range. */
static void put_long(struct sp_marshal *m, int32_t v)
{
	unsigned char buf[5];
	int n = 0;

	if (v == 0) {
		sp_sink_putc(m->sink, 0);
		return;
	}
	if (v > 0 && v < 123) {
		sp_sink_putc(m->sink, v + 5);
		return;
	}
	if (v < 0 && v > -124) {
		sp_sink_putc(m->sink, (v - 5) & 0xff);
		return;
	}
	/* Little-endian two's complement, stopping as soon as what is left is
	 * 0 (positive) or -1 (negative): the fewest bytes. */
	{
		int64_t x = v;

		for (n = 1; n <= 4; n++) {
			buf[n] = (unsigned char)(x & 0xff);
			x >>= 8; /* arithmetic shift on gcc: keeps the sign */
			if ((v > 0 && x == 0) || (v < 0 && x == -1))
				break;
		}
	}
	if (n > 4)
		n = 4;
	buf[0] = (unsigned char)(v < 0 ? -n : n);
	put_few(m->sink, buf, (size_t)n + 1);
}

/* A length or count: packed longs are signed 32-bit. */
static void put_len(struct sp_marshal *m, size_t len)
{
	if (len > INT32_MAX) {
		if (!m->sink->err)
			m->sink->err = -EOVERFLOW;
		return;
	}
	put_long(m, (int32_t)len);
}

static void put_bytes(struct sp_marshal *m, const void *s, size_t len)
{
	put_len(m, len);
	sp_sink_write(m->sink, s, len);
}

void sp_marshal_init(struct sp_marshal *m, struct sp_sink *sink)
{
	static const unsigned char header[2] = { 4, 8 };

	m->sink = sink;
	m->n_syms = 0;
	sp_sink_write(sink, header, sizeof(header));
}

void sp_marshal_nil(struct sp_marshal *m)
{
	sp_sink_putc(m->sink, '0');
}

void sp_marshal_bool(struct sp_marshal *m, int v)
{
	sp_sink_putc(m->sink, v ? 'T' : 'F');
}

/* Bignum: 'l', sign, number of 16-bit words, magnitude little-endian. */
static void put_bignum(struct sp_marshal *m, int negative, uint64_t mag)
{
	unsigned char buf[8];
	size_t n = 0;

	while (mag) {
		buf[n++] = (unsigned char)(mag & 0xff);
		mag >>= 8;
	}
	if (n & 1)
		buf[n++] = 0; /* whole 16-bit words */
	sp_sink_putc(m->sink, 'l');
	sp_sink_putc(m->sink, negative ? '-' : '+');
	put_long(m, (int32_t)(n / 2));
	put_few(m->sink, buf, n);
}

/* Ruby writes 'i' only inside the 31-bit Fixnum range of 32-bit builds,
 * even on 64-bit Ruby (marshal.c w_object: "if (RSHIFT(num, 31) ..."). */
#define FIXNUM_MIN (-(INT64_C(1) << 30))
#define FIXNUM_MAX ((INT64_C(1) << 30) - 1)

void sp_marshal_int(struct sp_marshal *m, int64_t v)
{
	if (v >= FIXNUM_MIN && v <= FIXNUM_MAX) {
		sp_sink_putc(m->sink, 'i');
		put_long(m, (int32_t)v);
	} else if (v < 0) {
		/* -(v+1)+1 avoids overflowing on INT64_MIN. */
		put_bignum(m, 1, (uint64_t)(-(v + 1)) + 1);
	} else {
		put_bignum(m, 0, (uint64_t)v);
	}
}

/* One Integer at p (room for 12 bytes), as sp_marshal_int writes it;
 * returns the end, or NULL for a negative Bignum (left to
 * sp_marshal_int: no profile has one). */
static inline unsigned char *fmt_int(unsigned char *p, int64_t v)
{
	uint64_t x;
	unsigned n;

	if (v > FIXNUM_MAX) {
		/* Bignum: 'l', '+', 16-bit words (a packed long < 123), the
		 * magnitude little-endian in whole words. */
		x = (uint64_t)v;
		n = (unsigned)((64 - __builtin_clzll(x) + 15) / 16) * 2;
		*p++ = 'l';
		*p++ = '+';
		*p++ = (unsigned char)(n / 2 + 5);
		for (unsigned k = 0; k < n; k++, x >>= 8)
			*p++ = (unsigned char)x;
		return p;
	}
	if (v < FIXNUM_MIN)
		return NULL;
	*p++ = 'i';
	if (v == 0) {
		*p++ = 0;
		return p;
	}
	if (v > 0 && v < 123) {
		*p++ = (unsigned char)(v + 5);
		return p;
	}
	if (v < 0 && v > -124) {
		*p++ = (unsigned char)((v - 5) & 0xff);
		return p;
	}
	/* put_long's fewest little-endian two's complement bytes. */
	if (v > 0)
		n = v < 0x100 ? 1 : v < 0x10000 ? 2 : v < 0x1000000 ? 3 : 4;
	else
		n = v >= -0x100 ? 1 : v >= -0x10000 ? 2
		  : v >= -0x1000000 ? 3 : 4;
	*p++ = (unsigned char)(v < 0 ? 256 - n : n);
	x = (uint64_t)v;
	for (unsigned k = 0; k < n; k++, x >>= 8)
		*p++ = (unsigned char)x;
	return p;
}

void sp_marshal_ints(struct sp_marshal *m, const int64_t *v, size_t n)
{
	struct sp_sink *s = m->sink;
	size_t i;

	for (i = 0; i < n;) {
		/* Room for a chunk (12 bytes at most per value), then no
		 * check per value. */
		size_t k = n - i < 256 ? n - i : 256, end = i + k;
		unsigned char *p = (unsigned char *)sp_sink_room(s, 12 * k);
		unsigned char *p0 = p, *e;

		if (!p) {
			for (; i < end; i++) {
				unsigned char tmp[12];

				e = fmt_int(tmp, v[i]);
				if (e)
					sp_sink_write(s, tmp, (size_t)(e - tmp));
				else
					sp_marshal_int(m, v[i]);
			}
			continue;
		}
		for (; i < end; i++) {
			e = fmt_int(p, v[i]);
			if (!e)
				break; /* a negative Bignum: the slow way */
			p = e;
		}
		s->len += (size_t)(p - p0);
		if (i < end)
			sp_marshal_int(m, v[i++]);
	}
}

void sp_marshal_uint(struct sp_marshal *m, uint64_t v)
{
	if (v <= (uint64_t)FIXNUM_MAX)
		sp_marshal_int(m, (int64_t)v);
	else
		put_bignum(m, 0, v);
}

/*
 * Shortest decimal digits that read back as v (what Ruby's dtoa mode 0
 * gives): try 1..17 significant digits with %.*e and keep the first that
 * strtod maps back to v.  Writes the digits (no dot, no trailing zeros)
 * to digits and returns the decimal exponent as dtoa's decpt: the value is
 * 0.DIGITS * 10^decpt.  v must be finite, non-zero and positive.
 */
static int shortest_digits(double v, char *digits, size_t cap)
{
	char buf[40];
	int prec, exp10 = 0;
	size_t n = 0;
	char *p, *e;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*e", prec - 1, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	/* buf is "d.ddde[+-]XX" (or "de[+-]XX" for one digit). */
	e = strchr(buf, 'e');
	if (e) {
		exp10 = atoi(e + 1);
		*e = '\0';
	}
	for (p = buf; *p && n + 1 < cap; p++)
		if (*p >= '0' && *p <= '9')
			digits[n++] = *p;
	while (n > 1 && digits[n - 1] == '0')
		n--;
	digits[n] = '\0';
	return exp10 + 1;
}

/* The text Ruby's marshal.c w_float writes: "inf", "-inf", "nan", "0",
 * "-0", else the shortest digits laid out as plain decimal when
 * -4 < decpt <= number of digits, else as d.ddde<exp>. */
static size_t float_text(double v, char *out, size_t cap)
{
	char digits[24];
	size_t len = 0, n_digits;
	int decpt;

	if (isnan(v))
		return (size_t)snprintf(out, cap, "nan");
	if (isinf(v))
		return (size_t)snprintf(out, cap, v < 0 ? "-inf" : "inf");
	if (v == 0.0)
		return (size_t)snprintf(out, cap, signbit(v) ? "-0" : "0");
	if (v < 0) {
		out[len++] = '-';
		v = -v;
	}
	decpt = shortest_digits(v, digits, sizeof(digits));
	n_digits = strlen(digits);
	if (decpt < -3 || decpt > (int)n_digits) {
		out[len++] = digits[0];
		if (n_digits > 1) {
			out[len++] = '.';
			memcpy(out + len, digits + 1, n_digits - 1);
			len += n_digits - 1;
		}
		len += (size_t)snprintf(out + len, cap - len, "e%d",
		                        decpt - 1);
	} else if (decpt > 0) {
		memcpy(out + len, digits, (size_t)decpt);
		len += (size_t)decpt;
		if (n_digits > (size_t)decpt) {
			out[len++] = '.';
			memcpy(out + len, digits + decpt,
			       n_digits - (size_t)decpt);
			len += n_digits - (size_t)decpt;
		}
	} else {
		out[len++] = '0';
		out[len++] = '.';
		memset(out + len, '0', (size_t)-decpt);
		len += (size_t)-decpt;
		memcpy(out + len, digits, n_digits);
		len += n_digits;
	}
	return len;
}

void sp_marshal_float(struct sp_marshal *m, double v)
{
	char text[64];
	size_t len = float_text(v, text, sizeof(text));

	sp_sink_putc(m->sink, 'f');
	put_bytes(m, text, len);
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF. */
static int valid_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i];
		size_t n, k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (len - i <= n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

void sp_marshal_str(struct sp_marshal *m, const char *s, size_t len)
{
	/* Binary (ASCII-8BIT) strings are a bare '"'.  UTF-8 ones carry one
	 * instance variable, E => true (marshal.c w_encoding). */
	int utf8 = valid_utf8((const unsigned char *)s, len);

	if (utf8)
		sp_sink_putc(m->sink, 'I');
	sp_sink_putc(m->sink, '"');
	put_bytes(m, s, len);
	if (utf8) {
		put_long(m, 1);
		sp_marshal_sym(m, "E");
		sp_marshal_bool(m, 1);
	}
}

void sp_marshal_cstr(struct sp_marshal *m, const char *s)
{
	sp_marshal_str(m, s, strlen(s));
}

void sp_marshal_sym(struct sp_marshal *m, const char *s)
{
	size_t i;

	for (i = 0; i < m->n_syms; i++) {
		if (m->syms[i] == s || !strcmp(m->syms[i], s)) {
			sp_sink_putc(m->sink, ';');
			put_long(m, (int32_t)i);
			return;
		}
	}
	/* A full table only costs size: the reader numbers every ':' it
	 * sees, so writing an untracked symbol in full keeps later links to
	 * the tracked ones valid. */
	if (m->n_syms < SP_MARSHAL_MAX_SYMBOLS)
		m->syms[m->n_syms++] = s;
	sp_sink_putc(m->sink, ':');
	put_bytes(m, s, strlen(s));
}

void sp_marshal_array(struct sp_marshal *m, size_t n)
{
	sp_sink_putc(m->sink, '[');
	put_len(m, n);
}

void sp_marshal_hash(struct sp_marshal *m, size_t n_pairs)
{
	sp_sink_putc(m->sink, '{');
	put_len(m, n_pairs);
}
