/*
 * sampling_fixture.h - what the tests of a live session share
 * (test_sampler.c, test_lifecycle.c, test_snapshot.c, test_limits.c,
 * test_dlclose.c, test_thread_churn.c, test_thread_limit.c,
 * test_stack_copy.c): whether perf_event sessions can start here, a
 * spinning thread whose stack names known functions, how a frame's name
 * matches a function, and the fd count and sleep the leak and timing
 * checks use.  Included once per test program, after <cmocka.h> and
 * "stillprof.h"; a program uses what it needs (hence the unused
 * attributes).
 */
#ifndef SAMPLING_FIXTURE_H
#define SAMPLING_FIXTURE_H

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* Set to make busy_thread (and each test's own loops) return. */
__attribute__((unused)) static atomic_int stop_flag;
/* Per thread: the spinning threads must not race on it (TSan). */
__attribute__((unused)) static __thread volatile uint64_t sink;

/* 1 when a default session starts (perf_event_open allowed): the tests
 * that need real samples skip otherwise. */
__attribute__((unused)) static int perf_usable(void)
{
	struct stillprof_options o;
	stillprof_session *s;
	int err;

	stillprof_options_init(&o);
	if (stillprof_session_new(&o, &s))
		return 0;
	err = stillprof_session_start(s);
	stillprof_session_free(s);
	return err == 0;
}

/* Open fds of this process ("." entries aside). */
__attribute__((unused)) static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

__attribute__((unused)) static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A leaf the samples must name: noinline keeps its own frame. */
__attribute__((noinline, unused)) static void spin_for_test(void)
{
	uint64_t x = sink;
	for (int i = 0; i < 100000; i++)
		x = x * 6364136223846793005ull + 1;
	sink = x;
}

/* Thread "busy": spins in spin_for_test until stop_flag. */
__attribute__((unused)) static void *busy_thread(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "busy");
	while (!atomic_load(&stop_flag))
		spin_for_test();
	return NULL;
}

/* Is the frame named `name` the function `frame`?  GCC clones keep the
 * name with a suffix ("blocked_in_poll.isra.0"). */
__attribute__((unused)) static int same_function(const char *name,
                                                 const char *frame)
{
	size_t n = strlen(frame);
	return !strncmp(name, frame, n) && (name[n] == '\0' || name[n] == '.');
}

#endif
