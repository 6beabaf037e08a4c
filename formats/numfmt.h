/*
 * numfmt.h - decimal integers written straight into a buffer, for the
 * JSON writers' hot loops (a raw stackprof profile is mostly integers:
 * ~55 million of them for 1 M samples).  Two digits per step from a
 * table; no division by a variable, no printf.  Internal to formats/.
 */
#ifndef SP_NUMFMT_H
#define SP_NUMFMT_H

#include <stdint.h>
#include <string.h>

/* "00" "01" ... "99" (json.c). */
extern const char sp_digits2[200];

/* Number of decimal digits of v (1..20). */
static inline unsigned sp_u64_ndigits(uint64_t v)
{
	unsigned n = 1;

	while (v >= 10000) {
		v /= 10000;
		n += 4;
	}
	return n + (v >= 10) + (v >= 100) + (v >= 1000);
}

/* Write v's digits at p (up to 20 bytes, no NUL); returns the end. */
static inline char *sp_fmt_u64(char *p, uint64_t v)
{
	char *end = p + sp_u64_ndigits(v), *q = end;

	while (v >= 100) {
		q -= 2;
		memcpy(q, sp_digits2 + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10) {
		q -= 2;
		memcpy(q, sp_digits2 + 2 * v, 2);
	} else {
		*--q = (char)('0' + v);
	}
	return end;
}

/* Signed: up to 20 bytes ('-' and 19 digits). */
static inline char *sp_fmt_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		/* -(v+1)+1 avoids overflowing on INT64_MIN. */
		return sp_fmt_u64(p, (uint64_t)(-(v + 1)) + 1);
	}
	return sp_fmt_u64(p, (uint64_t)v);
}

#endif
