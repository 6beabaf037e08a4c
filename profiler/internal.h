/*
 * internal.h - declarations shared by the files of libstillprof that are not
 * part of the public API: allocation wrappers (alloc.c), logging (log.c),
 * small time helpers, and the error-origin macro.  Never installed.
 */
#ifndef SP_INTERNAL_H
#define SP_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "stillprof.h"

#define SP_HIDDEN __attribute__((visibility("hidden")))

/* Defensive checks (SQLite's ALWAYS/NEVER): assert in debug builds, still
 * evaluated and tested in release builds. */
#ifdef NDEBUG
#define SP_ALWAYS(x) (x)
#define SP_NEVER(x) (x)
#else
#include <assert.h>
#define SP_ALWAYS(x) ((x) ? 1 : (assert(0), 0))
#define SP_NEVER(x) ((x) ? (assert(0), 1) : 0)
#endif

#define SP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* alloc.c: every allocation of the library goes through these, so a test
 * can fail the Nth call (sp_alloc_fail_at) and check the OOM paths. */
void *sp_malloc(size_t len);
void *sp_calloc(size_t n, size_t len);
void *sp_reallocarray(void *p, size_t n, size_t len);
char *sp_strdup(const char *s);
void sp_free(void *p);
/* Fail the n-th allocation from now on (1 = the next one); 0 disables. */
void sp_alloc_fail_at(unsigned long n);

/* Grow *arr (of *cap elements of size len) to hold at least need elements.
 * Returns 0 or -ENOMEM; *arr is untouched on failure. */
int sp_grow(void **arr, size_t *cap, size_t need, size_t len);

/* The same for arrays that grow large in the sampling thread (alloc.c):
 * in a mapping of their own, grown by mremap, never past max elements
 * (0: no bound).  Freed by sp_map_free with the same cap and len. */
int sp_map_grow(void **arr, size_t *cap, size_t need, size_t max,
                size_t len);
void sp_map_free(void *arr, size_t cap, size_t len);
/* Populate the pages of bytes [from, to) of such an array now, in one
 * system call, rather than by a page fault each as they are written. */
void sp_map_prefault(void *arr, size_t from, size_t to);

/* log.c: silent unless STILLPROF_LOG is set or a callback is installed. */
void sp_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define sp_warn(...) sp_log(STILLPROF_LOG_WARN, __VA_ARGS__)
#define sp_info(...) sp_log(STILLPROF_LOG_INFO, __VA_ARGS__)
#define sp_debug(...) sp_log(STILLPROF_LOG_DEBUG, __VA_ARGS__)

/* Origin of an error: logs file:line at debug level, evaluates to e. */
#define SP_ERR(e) sp_err_at((e), __FILE__, __LINE__)
int sp_err_at(int err, const char *file, int line);

/* Close an fd we own; preserves errno, ignores fd < 0. */
void sp_close(int fd);

/* service_thread.c: start one of our own threads with every signal
 * blocked (0 or -errno), and wake one through its eventfd. */
int sp_thread_spawn(pthread_t *t, void *(*fn)(void *), void *arg);
void sp_eventfd_kick(int efd, const char *who);

static inline uint64_t sp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
