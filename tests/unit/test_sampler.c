/*
 * test_sampler.c - the sampler's life cycle with the real perf_event
 * back-end: start/stop any number of times without leaking an fd, every
 * thread sampled (busy, blocked, created after start, exited meanwhile),
 * blocked stacks resolved by function name, no EINTR, correct errors, and
 * a clear refusal when perf_event_open is denied (simulated with seccomp).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "maps.h"
#include "session.h"
#include "stillprof.h"
#include "store.h"
#include "symbols.h"
#include "sampling_fixture.h"

static atomic_long eintr_seen;
static int pipe_fds[2];

__attribute__((noinline)) static int blocked_in_poll(void)
{
	struct pollfd p = {.fd = pipe_fds[0], .events = POLLIN};
	int r = poll(&p, 1, 5);
	if (r < 0 && errno == EINTR)
		atomic_fetch_add(&eintr_seen, 1);
	return r;
}

static void *blocked_thread(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "blocked");
	while (!atomic_load(&stop_flag))
		blocked_in_poll();
	return NULL;
}

static void *short_lived_thread(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "short");
	for (int i = 0; i < 20; i++)
		spin_for_test();
	return NULL;
}

/* scripts/sanitize.sh valgrind: the kernel samples valgrind's own JIT
 * registers, so sampled stacks name no function of ours there. */
static int under_valgrind(void)
{
	const char *v = getenv("STILLPROF_UNDER_VALGRIND");
	return v && *v == '1';
}

static void test_sampler_start_stop_cycles_leak_nothing(void **state)
{
	struct stillprof_options o;
	stillprof_session *s;
	int fds_before;
	(void)state;

	if (!perf_usable())
		skip();
	fds_before = count_fds();
	stillprof_options_init(&o);
	assert_int_equal(stillprof_session_new(&o, &s), 0);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(stillprof_session_start(s), 0);
		assert_true(stillprof_session_running(s));
		assert_int_equal(stillprof_session_start(s), STILLPROF_ERUNNING);
		assert_int_equal(stillprof_session_stop(s), 0);
		assert_int_equal(stillprof_session_stop(s), STILLPROF_ENOTRUNNING);
		assert_false(stillprof_session_running(s));
		/* The loop's and the perf fds are all closed after stop. */
		assert_int_equal(count_fds(), fds_before);
	}
	stillprof_session_free(s);
	assert_int_equal(count_fds(), fds_before);
}

/* Does a frame named `frame` appear in a sample of thread `thread`? */
static int thread_has_frame(struct sp_store *st, const char *thread,
                            const char *frame)
{
	for (size_t i = 0; i < st->n_samples; i++) {
		const struct sp_sample *smp = &st->samples[i];
		const struct sp_stack *stk = &st->stacks[smp->stack];
		if (strcmp(st->threads[smp->thread].name, thread))
			continue;
		for (uint32_t f = 0; f < stk->n; f++)
			if (same_function(st->frames[stk->frames[f]].name, frame))
				return 1;
	}
	return 0;
}

static uint64_t thread_samples(struct sp_store *st, const char *name)
{
	for (size_t i = 0; i < st->n_threads; i++)
		if (!strcmp(st->threads[i].name, name))
			return st->threads[i].samples;
	return 0;
}

static void test_sampler_samples_every_thread(void **state)
{
	struct stillprof_options o;
	stillprof_session *s;
	struct sp_maps *maps;
	struct sp_symbols *syms;
	pthread_t busy, blocked, late, brief;
	struct stillprof_stats st;
	(void)state;

	if (!perf_usable())
		skip();
	atomic_store(&stop_flag, 0);
	atomic_store(&eintr_seen, 0);
	assert_int_equal(pipe2(pipe_fds, O_CLOEXEC), 0);
	pthread_create(&busy, NULL, busy_thread, NULL);
	pthread_create(&blocked, NULL, blocked_thread, NULL);
	sleep_ms(20);
	stillprof_options_init(&o);
	assert_int_equal(stillprof_session_new(&o, &s), 0);
	assert_int_equal(stillprof_session_start(s), 0);
	/* Created after start: found through the FORK record or a rescan. */
	pthread_create(&late, NULL, busy_thread, NULL);
	pthread_create(&brief, NULL, short_lived_thread, NULL);
	pthread_join(brief, NULL);
	sleep_ms(400);
	assert_int_equal(stillprof_session_stop(s), 0);
	atomic_store(&stop_flag, 1);
	pthread_join(busy, NULL);
	pthread_join(blocked, NULL);
	pthread_join(late, NULL);

	assert_int_equal(stillprof_session_stats(s, &st), 0);
	assert_string_equal(st.backend, "perf_event");
	assert_true(st.oncpu_samples > 0);
	assert_true(st.offcpu_samples > 0);
	assert_true(st.threads_seen >= 4);
	assert_int_equal(atomic_load(&eintr_seen), 0);
	{
		/* A program built against the first header passes a struct
		 * that ends at `backend`: nothing past it is written. */
		size_t old_size = offsetof(struct stillprof_stats, backend) +
		                  sizeof(char *);
		unsigned char buf[sizeof(st) + 32];
		struct stillprof_stats *p = (struct stillprof_stats *)buf;

		memset(buf, 0xA5, sizeof(buf));
		assert_int_equal(stillprof_session_stats_sized(s, p, old_size),
		                 0);
		assert_int_equal(p->samples, st.samples);
		assert_string_equal(p->backend, "perf_event");
		for (size_t i = old_size; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0xA5);
		/* A newer, bigger struct: the fields we do not know are 0. */
		memset(buf, 0xA5, sizeof(buf));
		assert_int_equal(stillprof_session_stats_sized(s, p, sizeof(buf)),
		                 0);
		assert_int_equal(p->weighted_samples, st.weighted_samples);
		for (size_t i = sizeof(st); i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0);
		/* Smaller than any struct there ever was. */
		assert_int_equal(stillprof_session_stats_sized(s, p, 8), -EINVAL);
	}

	if (under_valgrind()) {
		stillprof_session_free(s);
		close(pipe_fds[0]);
		close(pipe_fds[1]);
		return;
	}
	assert_int_equal(sp_maps_new(&maps), 0);
	assert_int_equal(sp_symbols_new(maps, &syms), 0);
	assert_int_equal(sp_store_resolve(s->store, syms), 0);
	/* ~400 samples each at 1 kHz; demand a fraction (noisy VM). */
	assert_true(thread_samples(s->store, "busy") > 40);
	assert_true(thread_samples(s->store, "blocked") > 40);
	assert_true(thread_has_frame(s->store, "busy", "spin_for_test"));
	assert_true(thread_has_frame(s->store, "busy", "busy_thread"));
	/* The blocked stack, read without interrupting the thread. */
	assert_true(thread_has_frame(s->store, "blocked", "blocked_in_poll"));
	assert_true(thread_has_frame(s->store, "blocked", "blocked_thread"));
	assert_true(thread_has_frame(s->store, "blocked", "poll"));
	sp_symbols_free(syms);
	sp_maps_free(maps);
	stillprof_session_free(s);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
}

/* While a session runs, stats give the sampling thread's CPU up to now
 * (a caller can measure it over a window of the run); after stop the
 * total keeps it, and the next run adds to it. */
static void test_sampler_stats_live_sampler_cpu(void **state)
{
	struct stillprof_options o;
	stillprof_session *s;
	struct stillprof_stats a, b, c, d;
	pthread_t busy;
	(void)state;

	if (!perf_usable())
		skip();
	atomic_store(&stop_flag, 0);
	pthread_create(&busy, NULL, busy_thread, NULL);
	stillprof_options_init(&o);
	o.interval_us = 200; /* 5 kHz: the sampler works every pass */
	assert_int_equal(stillprof_session_new(&o, &s), 0);
	assert_int_equal(stillprof_session_start(s), 0);
	sleep_ms(100);
	assert_int_equal(stillprof_session_stats(s, &a), 0);
	sleep_ms(300);
	assert_int_equal(stillprof_session_stats(s, &b), 0);
	assert_true(a.sampler_cpu_ns > 0);
	assert_true(b.samples > a.samples);
	assert_true(b.sampler_cpu_ns > a.sampler_cpu_ns);
	assert_int_equal(stillprof_session_stop(s), 0);
	assert_int_equal(stillprof_session_stats(s, &c), 0);
	assert_true(c.sampler_cpu_ns >= b.sampler_cpu_ns);
	assert_int_equal(stillprof_session_start(s), 0);
	sleep_ms(100);
	assert_int_equal(stillprof_session_stats(s, &d), 0);
	assert_true(d.sampler_cpu_ns > c.sampler_cpu_ns);
	assert_int_equal(stillprof_session_stop(s), 0);
	atomic_store(&stop_flag, 1);
	pthread_join(busy, NULL);
	printf("# sampler CPU: %llu ns after 100 ms, %llu after 400 ms, "
	       "%llu at stop\n", (unsigned long long)a.sampler_cpu_ns,
	       (unsigned long long)b.sampler_cpu_ns,
	       (unsigned long long)c.sampler_cpu_ns);
	stillprof_session_free(s);
}

static void test_sampler_write_errors(void **state)
{
	struct stillprof_options o;
	stillprof_session *s;
	char path[] = "/tmp/stillprof-test-XXXXXX";
	char file[64], buf[2];
	struct stat sb;
	int fd;
	(void)state;

	if (!perf_usable())
		skip();
	assert_non_null(mkdtemp(path));
	snprintf(file, sizeof(file), "%s/out.dump", path);
	stillprof_options_init(&o);
	assert_int_equal(stillprof_session_new(&o, &s), 0);
	assert_int_equal(stillprof_session_write(s, NULL, 0), -EINVAL);
	assert_int_equal(stillprof_session_start(s), 0);
	spin_for_test();
	assert_int_equal(stillprof_session_write(s, file, 0), STILLPROF_ERUNNING);
	assert_int_equal(stillprof_session_stop(s), 0);
	assert_int_equal(stillprof_session_write(s, file, 99), STILLPROF_EBADFORMAT);
	assert_int_equal(stillprof_session_write(s, "/nonexistent-dir/x.dump", 0),
	                 -ENOENT);
	assert_int_equal(stillprof_session_write(s, file, 0), 0);
	fd = open(file, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, 2), 2);
	assert_int_equal(buf[0], 4);
	assert_int_equal(buf[1], 8);
	close(fd);
	assert_int_equal(stat(file, &sb), 0);
	/* Writing twice works (resolve is incremental). */
	assert_int_equal(stillprof_session_write(s, file, 0), 0);
	stillprof_session_free(s);
	unlink(file);
	assert_int_equal(rmdir(path), 0); /* no temporary file left */
}

/* seccomp: perf_event_open fails with EACCES, as in a container. */
static void deny_perf_event_open(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_perf_event_open, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		_exit(77);
}

static void test_sampler_refuses_when_perf_denied(void **state)
{
	int status;
	pid_t pid;
	(void)state;

	if (under_valgrind())
		skip(); /* valgrind does not run seccomp filters */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct stillprof_options o;
		stillprof_session *s;
		const char *why;

		deny_perf_event_open();
		stillprof_options_init(&o);
		o.backend = STILLPROF_BACKEND_PERF; /* auto would fall back */
		if (stillprof_session_new(&o, &s))
			_exit(1);
		if (stillprof_session_start(s) != STILLPROF_EPERFDENIED)
			_exit(2);
		why = stillprof_session_backend_error(s);
		if (!why || !strstr(why, "perf_event_open") ||
		    !strstr(why, "EACCES") || !strstr(why, "seccomp"))
			_exit(3);
		if (stillprof_session_running(s))
			_exit(4);
		stillprof_session_free(s);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The same denial under `auto`: the signal back-end runs, says why, and
 * samples a busy thread. */
static void test_sampler_auto_falls_back_when_perf_denied(void **state)
{
	int status;
	pid_t pid;
	(void)state;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct stillprof_options o;
		struct stillprof_stats st;
		stillprof_session *s;
		const char *why;
		struct timespec t0, t;

		deny_perf_event_open();
		stillprof_options_init(&o);
		o.mode = STILLPROF_MODE_CPU;
		if (stillprof_session_new(&o, &s))
			_exit(1);
		if (stillprof_session_start(s))
			_exit(2);
		if (!stillprof_session_backend(s) ||
		    strcmp(stillprof_session_backend(s), "signal"))
			_exit(3);
		why = stillprof_session_backend_reason(s);
		if (!why || !strstr(why, "auto") || !strstr(why, "EACCES"))
			_exit(4);
		if (stillprof_session_backend_error(s))
			_exit(5); /* it did open */
		/* Burn 300 ms of CPU (bounded by the clock, not a count). */
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
		do {
			for (int i = 0; i < 100000; i++)
				sink = sink * 31 + (uint64_t)i;
			clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
		} while ((t.tv_sec - t0.tv_sec) * 1000000000L +
		             (t.tv_nsec - t0.tv_nsec) < 300000000L);
		if (stillprof_session_stop(s))
			_exit(6);
		stillprof_session_stats(s, &st);
		if (st.oncpu_samples == 0 || strcmp(st.backend, "signal"))
			_exit(7);
		stillprof_session_free(s);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sampler_start_stop_cycles_leak_nothing),
		cmocka_unit_test(test_sampler_samples_every_thread),
		cmocka_unit_test(test_sampler_stats_live_sampler_cpu),
		cmocka_unit_test(test_sampler_write_errors),
		cmocka_unit_test(test_sampler_refuses_when_perf_denied),
		cmocka_unit_test(test_sampler_auto_falls_back_when_perf_denied),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
