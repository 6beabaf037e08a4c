/*
 * json.c - the JSON text primitives the JSON writers share: strings
 * (escaped, always valid UTF-8) and numbers (integers, and floats spelled
 * the way Ruby's JSON generator spells them).  Structure (commas, nesting)
 * is the caller's.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"
#include "writers.h"
#include "numfmt.h"

/* Length of the valid UTF-8 sequence at s[0..len) (RFC 3629: no overlong
 * forms, no surrogates, <= U+10FFFF), or 0 when it is not one. */
size_t sp_utf8_seq(const unsigned char *s, size_t len)
{
	unsigned c = s[0];
	size_t n, k;
	uint32_t cp;

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
	if (len <= n)
		return 0;
	for (k = 1; k <= n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n + 1;
}

void sp_json_str(struct sp_sink *s, const char *str, size_t len)
{
	const unsigned char *p = (const unsigned char *)str;
	size_t i = 0, run = 0; /* p[run..i) is pending plain text */

	sp_sink_putc(s, '"');
	while (i < len) {
		unsigned c = p[i];
		const char *esc = NULL;
		char u[8];
		size_t n;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0x80 && (n = sp_utf8_seq(p + i, len - i))) {
			i += n;
			continue;
		}
		sp_sink_write(s, p + run, i - run);
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			/* Ruby would refuse invalid UTF-8; a profile should
			 * still load, with the bad bytes visible. */
			snprintf(u, sizeof(u), "\\u%04x",
			         c < 0x80 ? c : 0xfffd);
			esc = u;
		}
		sp_sink_write(s, esc, strlen(esc));
		run = ++i;
	}
	sp_sink_write(s, p + run, i - run);
	sp_sink_putc(s, '"');
}

const char sp_digits2[200] =
	"0001020304050607080910111213141516171819"
	"2021222324252627282930313233343536373839"
	"4041424344454647484950515253545556575859"
	"6061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

/* Decimal digits by hand, straight into the sink's buffer: integers are
 * most of a raw profile's bytes, and printf's format parsing made it ~4x
 * slower (bench/writer). */
void sp_json_uint(struct sp_sink *s, uint64_t v)
{
	char buf[20], *p = sp_sink_room(s, sizeof(buf));

	if (p) {
		s->len += (size_t)(sp_fmt_u64(p, v) - p);
		return;
	}
	sp_sink_write(s, buf, (size_t)(sp_fmt_u64(buf, v) - buf));
}

void sp_json_int(struct sp_sink *s, int64_t v)
{
	char buf[20], *p = sp_sink_room(s, sizeof(buf));

	if (p) {
		s->len += (size_t)(sp_fmt_i64(p, v) - p);
		return;
	}
	sp_sink_write(s, buf, (size_t)(sp_fmt_i64(buf, v) - buf));
}

/* Shortest decimal digits of v (> 0, finite) that read back as v, and the
 * decimal exponent: v = 0.DIGITS * 10^*decpt. */
static void shortest(double v, char *digits, int *decpt)
{
	char buf[40], *e;
	int prec;
	size_t n = 0, i;

	for (prec = 0; prec < 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*e", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (prec == 17)
		snprintf(buf, sizeof(buf), "%.*e", prec, v);
	e = strchr(buf, 'e');
	for (i = 0; buf + i < e; i++)
		if (buf[i] != '.')
			digits[n++] = buf[i];
	while (n > 1 && digits[n - 1] == '0')
		n--;
	digits[n] = '\0';
	*decpt = atoi(e + 1) + 1;
}

void sp_json_float(struct sp_sink *s, double v)
{
	char digits[24];
	int decpt, n, i;

	if (!isfinite(v)) {
		sp_sink_write(s, "null", 4);
		return;
	}
	if (v == 0) {
		sp_sink_printf(s, signbit(v) ? "-0.0" : "0.0");
		return;
	}
	if (v < 0) {
		sp_sink_putc(s, '-');
		v = -v;
	}
	shortest(v, digits, &decpt);
	n = (int)strlen(digits);
	/* Ruby's Float#to_s: plain decimal for 1e-4 <= v < 1e15, else
	 * d.ddde+XX with at least two exponent digits. */
	if (decpt > -4 && decpt < 16) {
		if (decpt <= 0) {
			sp_sink_write(s, "0.", 2);
			for (i = decpt; i < 0; i++)
				sp_sink_putc(s, '0');
			sp_sink_write(s, digits, (size_t)n);
		} else if (decpt >= n) {
			sp_sink_write(s, digits, (size_t)n);
			for (i = n; i < decpt; i++)
				sp_sink_putc(s, '0');
			sp_sink_write(s, ".0", 2);
		} else {
			sp_sink_write(s, digits, (size_t)decpt);
			sp_sink_putc(s, '.');
			sp_sink_write(s, digits + decpt, (size_t)(n - decpt));
		}
		return;
	}
	sp_sink_putc(s, digits[0]);
	sp_sink_putc(s, '.');
	if (n > 1)
		sp_sink_write(s, digits + 1, (size_t)(n - 1));
	else
		sp_sink_putc(s, '0');
	sp_sink_printf(s, "e%c%02d", decpt - 1 < 0 ? '-' : '+',
	               abs(decpt - 1));
}
