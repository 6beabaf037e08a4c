/*
 * proc_parse.c - the /proc parsers of proc_parse.h.  Bounded by len,
 * never by a NUL the kernel (or a fuzzer) did not put there.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "proc_parse.h"

int sp_parse_stat_starttime(const char *buf, size_t len, uint64_t *out)
{
	const char *p = NULL, *end = buf + len;
	uint64_t v = 0;
	int field = 2; /* the ")" closes field 2 */

	for (size_t i = len; i > 0; i--)
		if (buf[i - 1] == ')') {
			p = buf + i;
			break;
		}
	if (!p)
		return -EINVAL;
	for (;;) {
		/* Each field is preceded by one space. */
		if (p >= end || *p != ' ')
			return -EINVAL;
		p++;
		if (++field == 22)
			break;
		while (p < end && *p != ' ')
			p++;
	}
	if (p >= end || *p < '0' || *p > '9')
		return -EINVAL;
	while (p < end && *p >= '0' && *p <= '9') {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p++ - '0');
	}
	if (p < end && *p != ' ' && *p != '\n')
		return -EINVAL;
	*out = v;
	return 0;
}

void sp_parse_comm(const char *buf, size_t len, char name[16])
{
	if (len > 15)
		len = 15;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\0'))
		len--;
	memcpy(name, buf, len);
	name[len] = '\0';
}

/* One field: optional '-', then hex (with or without 0x) or decimal as
 * given by base; advances *pp past it and one following blank. */
static int field(const char **pp, const char *end, int base,
                 unsigned long *out, int *neg)
{
	const char *p = *pp;
	unsigned long v = 0;
	int digits = 0;

	*neg = 0;
	if (p < end && *p == '-') {
		*neg = 1;
		p++;
	}
	if (base == 16 && end - p >= 2 && p[0] == '0' &&
	    (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	for (; p < end; p++) {
		int d;
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		if (v > (ULONG_MAX - (unsigned long)d) / (unsigned long)base)
			return -ERANGE;
		v = v * (unsigned long)base + (unsigned long)d;
		digits++;
	}
	if (!digits)
		return -EINVAL;
	if (p < end && *p != ' ' && *p != '\n' && *p != '\0')
		return -EINVAL;
	while (p < end && *p == ' ')
		p++;
	*pp = p;
	*out = v;
	return 0;
}

int sp_parse_syscall(const char *buf, size_t len, long *nr,
                     unsigned long *sp, unsigned long *pc)
{
	const char *p = buf, *end = buf + len;
	unsigned long v[9];
	int neg, n;

	if (len >= 7 && !memcmp(buf, "running", 7))
		return 0;
	if (field(&p, end, 10, &v[0], &neg) || (neg && v[0] != 1) ||
	    v[0] > LONG_MAX)
		return -EINVAL;
	if (neg)
		return 0; /* "-1 sp pc": runnable in user mode, not blocked */
	for (n = 1; n < 9; n++)
		if (field(&p, end, 16, &v[n], &neg) || neg)
			return -EINVAL;
	*nr = (long)v[0];
	*sp = v[7];
	*pc = v[8];
	return 1;
}

pid_t sp_parse_tid(const char *name)
{
	long v = 0;

	if (!*name)
		return 0;
	for (const char *p = name; *p; p++) {
		if (*p < '0' || *p > '9' || v > (INT_MAX - 9) / 10)
			return 0;
		v = v * 10 + (*p - '0');
	}
	return (pid_t)v;
}
