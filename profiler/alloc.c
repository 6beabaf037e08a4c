/*
 * alloc.c - the library's allocation wrappers.  All memory goes through
 * here so that tests can fail the Nth allocation and check every OOM path
 * (SQLite's fault-injection loops); size arithmetic is checked here once.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* 0 = off; otherwise the number of allocations left before one fails. */
static atomic_ulong fail_countdown;

static int should_fail(void)
{
	unsigned long n = atomic_load_explicit(&fail_countdown,
	                                       memory_order_relaxed);
	if (n == 0)
		return 0;
	if (n == 1) {
		atomic_store(&fail_countdown, 0);
		return 1;
	}
	atomic_fetch_sub(&fail_countdown, 1);
	return 0;
}

void sp_alloc_fail_at(unsigned long n)
{
	atomic_store(&fail_countdown, n);
}

void *sp_malloc(size_t len)
{
	if (should_fail())
		return NULL;
	return malloc(len ? len : 1);
}

void *sp_calloc(size_t n, size_t len)
{
	if (should_fail())
		return NULL;
	return calloc(n ? n : 1, len ? len : 1);
}

void *sp_reallocarray(void *p, size_t n, size_t len)
{
	size_t total;

	if (__builtin_mul_overflow(n, len, &total))
		return NULL;
	if (should_fail())
		return NULL;
	return realloc(p, total ? total : 1);
}

char *sp_strdup(const char *s)
{
	size_t len = strlen(s) + 1;
	char *d = sp_malloc(len);

	if (d)
		memcpy(d, s, len);
	return d;
}

void sp_free(void *p)
{
	free(p);
}

int sp_grow(void **arr, size_t *cap, size_t need, size_t len)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < need) {
		if (__builtin_mul_overflow(ncap, 2, &ncap))
			return -ENOMEM;
	}
	p = sp_reallocarray(*arr, ncap, len);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}
