/*
 * alloc.c - the library's allocation wrappers.  All memory goes through
 * here so that tests can fail the Nth allocation and check every OOM path
 * (SQLite's fault-injection loops); size arithmetic is checked here once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

/*
 * Arrays that grow to tens of MiB in the sampling thread (the store's
 * samples) live in mappings of their own.  Growing one is an mremap,
 * which moves page tables instead of copying: realloc copies a block
 * that glibc keeps on its heap, and every page of the copy is faulted in
 * again.  The pages about to be filled are populated in batches
 * (sp_map_prefault): in this project's paravirtual test guest one page
 * fault cost the sampling thread 12 us, populating 2.5-3 us a page, and
 * faults were 12 % of its CPU at 1 kHz (perf on the sampling thread,
 * `sampler_cost 2 32 20 1000 cpu busy`).  Sizes are whole pages; *cap
 * counts the elements that fit in them.
 */
static size_t page_round(size_t bytes)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (bytes + pg - 1) / pg * pg;
}

int sp_map_grow(void **arr, size_t *cap, size_t need, size_t max,
                size_t len)
{
	size_t ncap = *cap ? *cap : 16, old_bytes, bytes;
	void *p;

	if (need <= *cap)
		return 0; /* every sample: nothing else before this */
	old_bytes = page_round(*cap * len);
	while (ncap < need)
		if (__builtin_mul_overflow(ncap, 2, &ncap))
			return -ENOMEM;
	if (max && ncap > max)
		ncap = max > need ? max : need; /* never past the bound */
	if (__builtin_mul_overflow(ncap, len, &bytes) || should_fail())
		return -ENOMEM;
	bytes = page_round(bytes);
	if (*arr)
		p = mremap(*arr, old_bytes, bytes, MREMAP_MAYMOVE);
	else
		p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	*arr = p;
	*cap = bytes / len;
	if (max && *cap > max)
		*cap = max;
	return 0;
}

void sp_map_free(void *arr, size_t cap, size_t len)
{
	if (arr)
		munmap(arr, page_round(cap * len));
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* Set when the kernel does not know MADV_POPULATE_WRITE: pages are then
 * faulted in one at a time, as without this. */
static atomic_int prefault_unsupported;

void sp_map_prefault(void *arr, size_t from, size_t to)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = ((uintptr_t)arr + from) / pg * pg;
	uintptr_t hi = page_round((uintptr_t)arr + to);

	if (hi <= lo || atomic_load_explicit(&prefault_unsupported,
	                                     memory_order_relaxed))
		return;
	if (madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE) < 0 &&
	    errno == EINVAL)
		atomic_store(&prefault_unsupported, 1);
}
