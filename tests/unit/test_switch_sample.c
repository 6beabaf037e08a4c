/*
 * test_switch_sample.c - wall mode's blocked stacks from context-switch
 * samples (profiler/switch_sample.c): a thread blocking in read(2) on a
 * pipe in an rbp-based frame (this file is built with -O0) gets its
 * blocked stacks from the kernel's sample of each switch-out, and they
 * reach the caller above the rbp frame that a walk from sp and pc alone
 * (the /proc probe) cannot step; with STILLPROF_SWITCH_SAMPLES=0 the
 * probe reads them; a thread switching thousands of times a second gets
 * its switch event turned off.  The first and last need the privilege
 * (root, CAP_PERFMON or perf_event_paranoid <= 1): skipped without it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"
#include "session.h"
#include "stillprof.h"
#include "store.h"

/* Episodes the blocking thread goes through, one byte each. */
#define EPISODES 12

static int pipe_fd[2];

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The pc at which the blocker waits (right after its syscall
 * instruction) and the return address into blk_outer: the pcs its
 * blocked stacks should hold. */
static uintptr_t mid_pc, outer_ra;

/* Blocks in read(2) itself (no libc wrapper, which would save rbp on the
 * stack): the thread's user pc is here, in a frame whose CFA is found
 * through rbp (alloca forces it at any optimization level), so a walk
 * from sp and pc alone cannot find its caller. */
__attribute__((noinline)) static long blk_mid(int n)
{
	volatile char *pad = __builtin_alloca(16 + (size_t)(n & 1));
	char c;
	long got = 0;

	pad[0] = 0;
	outer_ra = (uintptr_t)__builtin_return_address(0);
	for (int i = 0; i < n; i++) {
		long r = SYS_read;
		uintptr_t after;
		__asm__ volatile("syscall\n"
		                 "1:\n\t"
		                 "lea 1b(%%rip), %1"
		                 : "+a"(r), "=r"(after)
		                 : "D"((long)pipe_fd[0]), "S"(&c), "d"(1L)
		                 : "rcx", "r11", "memory");
		mid_pc = after;
		if (r == 1)
			got++;
	}
	return got + pad[0];
}

__attribute__((noinline)) static long blk_outer(int n)
{
	long r = blk_mid(n);

	__asm__ volatile("" ::: "memory");
	return r + 1;
}

static void *blocker(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "blocker");
	blk_outer(EPISODES);
	return NULL;
}

/* pc is where (pc, the return address) or just before. */
static int pc_is(uint64_t pc, uintptr_t want)
{
	return want && (pc == want || pc + 1 == want);
}

struct found {
	uint64_t offcpu;   /* the blocker's off-CPU samples */
	uint64_t with_mid; /* of which blk_mid is on the stack */
	uint64_t with_outer;
};

static struct found scan(struct sp_store *st)
{
	struct found f = {0, 0, 0};
	uint32_t t = UINT32_MAX;

	for (size_t i = 0; i < st->n_threads; i++)
		if (!strcmp(st->threads[i].name, "blocker"))
			t = (uint32_t)i;
	assert_true(t != UINT32_MAX);
	for (size_t i = 0; i < st->n_samples; i++) {
		const struct sp_sample *x = &st->samples[i];
		const struct sp_stack *k;
		int mid = 0, outer = 0;

		if (x->thread != t || x->state != SP_STATE_OFFCPU)
			continue;
		k = &st->stacks[x->stack];
		for (uint32_t j = 0; j < k->n; j++) {
			mid |= pc_is(k->pcs[j], mid_pc);
			outer |= pc_is(k->pcs[j], outer_ra);
		}
		f.offcpu++;
		f.with_mid += mid;
		f.with_outer += outer;
	}
	print_message("blocker: %llu off-CPU samples, %llu with blk_mid, "
	              "%llu with blk_outer\n",
	              (unsigned long long)f.offcpu,
	              (unsigned long long)f.with_mid,
	              (unsigned long long)f.with_outer);
	return f;
}

/* Start a wall session at 1 kHz, feed the blocker EPISODES bytes 25 ms
 * apart, stop.  Returns 0, or STILLPROF_EPERFDENIED (nothing left). */
/* A wall-mode perf session at 1 kHz, created and started: returns the
 * start's result (the session is freed when it failed, which may only be
 * because perf is denied here). */
static int start_wall(stillprof_session **out)
{
	struct stillprof_options o;
	int err;

	stillprof_options_init(&o);
	o.mode = STILLPROF_MODE_WALL;
	o.interval_us = 1000;
	o.backend = STILLPROF_BACKEND_PERF;
	assert_int_equal(stillprof_session_new(&o, out), 0);
	err = stillprof_session_start(*out);
	if (err) {
		stillprof_session_free(*out);
		*out = NULL;
		assert_int_equal(err, STILLPROF_EPERFDENIED);
	}
	return err;
}

static int run_blocker(stillprof_session **out, struct stillprof_stats *st)
{
	stillprof_session *s;
	pthread_t t;
	int err;

	assert_int_equal(pipe2(pipe_fd, O_CLOEXEC), 0);
	assert_int_equal(pthread_create(&t, NULL, blocker, NULL), 0);
	err = start_wall(&s);
	if (err == 0)
		sleep_ms(30); /* blocked before attach: the probe's first look */
	for (int i = 0; i < EPISODES; i++) {
		assert_int_equal(write(pipe_fd[1], "x", 1), 1);
		sleep_ms(25);
	}
	pthread_join(t, NULL);
	if (err == 0) {
		assert_int_equal(stillprof_session_stop(s), 0);
		assert_int_equal(stillprof_session_stats(s, st), 0);
	}
	close(pipe_fd[0]);
	close(pipe_fd[1]);
	if (err)
		return err;
	*out = s;
	return 0;
}

static void test_blocked_stacks_from_switch_samples(void **state)
{
	struct stillprof_stats st;
	stillprof_session *s;
	struct found f;
	(void)state;

	unsetenv("STILLPROF_SWITCH_SAMPLES");
	if (run_blocker(&s, &st))
		skip();
	assert_non_null(st.blocked_stacks);
	if (!strcmp(st.blocked_stacks, "proc_probe")) {
		/* Not allowed here (unprivileged, paranoid >= 2). */
		assert_int_equal(st.switch_stacks, 0);
		stillprof_session_free(s);
		skip();
	}
	assert_string_equal(st.blocked_stacks, "switch_samples");
	assert_non_null(strstr(stillprof_session_guarantee(s),
	                       "blocked stacks: switch_samples"));
	/* Every episode after the first (blocked before attach: probed)
	 * came with its switch-out; other threads (this one sleeping) add
	 * theirs. */
	assert_true(st.switch_stacks >= EPISODES - 2);
	f = scan(s->store);
	/* ~25 wall ticks per episode. */
	assert_true(f.offcpu >= 10 * EPISODES);
	/* The kernel's copy has every register: the rbp frame of blk_mid
	 * is stepped and blk_outer is reached, on (nearly) every sample. */
	assert_true(f.with_mid * 10 >= f.offcpu * 9);
	assert_true(f.with_outer * 10 >= f.offcpu * 8);
	stillprof_session_free(s);
}

static void test_forced_proc_probe(void **state)
{
	struct stillprof_stats st;
	stillprof_session *s;
	struct found f;
	(void)state;

	setenv("STILLPROF_SWITCH_SAMPLES", "0", 1);
	if (run_blocker(&s, &st)) {
		unsetenv("STILLPROF_SWITCH_SAMPLES");
		skip();
	}
	unsetenv("STILLPROF_SWITCH_SAMPLES");
	assert_non_null(st.blocked_stacks);
	assert_string_equal(st.blocked_stacks, "proc_probe");
	assert_non_null(strstr(stillprof_session_guarantee(s),
	                       "STILLPROF_SWITCH_SAMPLES=0"));
	assert_int_equal(st.switch_stacks, 0);
	/* The probe read the episodes instead. */
	assert_true(st.probes >= EPISODES - 2);
	f = scan(s->store);
	assert_true(f.offcpu >= 10 * EPISODES);
	assert_true(f.with_mid * 10 >= f.offcpu * 9);
	/* From sp and pc alone the walk ends at blk_mid's rbp frame: that
	 * is what the switch samples add (the test above).  A walk that
	 * learns to step it makes this fail: then the test above no longer
	 * shows the difference and needs another frame. */
	assert_true(f.with_outer * 10 < f.offcpu);
	stillprof_session_free(s);
}

/* Two threads bouncing a byte through two pipes: thousands of blocking
 * switch-outs a second each. */
static int ping[2], pong[2];
static atomic_int pp_stop;

static void *bouncer(void *arg)
{
	char c;
	int first = arg != NULL;

	for (int i = 0; i < 2000000 && !atomic_load(&pp_stop); i++) {
		if (first && write(ping[1], "x", 1) != 1)
			break;
		if (read(first ? pong[0] : ping[0], &c, 1) != 1)
			break;
		if (!first && write(pong[1], "x", 1) != 1)
			break;
	}
	return NULL;
}

static void test_switchy_thread_turns_off(void **state)
{
	struct stillprof_stats st;
	stillprof_session *s;
	pthread_t a, b;
	uint64_t end;
	(void)state;

	unsetenv("STILLPROF_SWITCH_SAMPLES");
	if (start_wall(&s))
		skip();
	if (!s->switch_samples) {
		stillprof_session_stop(s);
		stillprof_session_free(s);
		skip();
	}
	/* After the skips: they would leave the pipes open. */
	assert_int_equal(pipe2(ping, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pong, O_CLOEXEC), 0);
	atomic_store(&pp_stop, 0);
	pthread_create(&b, NULL, bouncer, NULL);
	pthread_create(&a, NULL, bouncer, (void *)1);
	end = now_ns() + 400 * 1000000ull;
	while (now_ns() < end)
		sleep_ms(20);
	atomic_store(&pp_stop, 1);
	/* Unblock whichever waits. */
	assert_int_equal(write(ping[1], "x", 1), 1);
	assert_int_equal(write(pong[1], "x", 1), 1);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	assert_int_equal(stillprof_session_stop(s), 0);
	assert_int_equal(stillprof_session_stats(s, &st), 0);
	/* Both bouncers were judged switch-heavy (a window is 50 ms). */
	assert_true(s->c.switch_disabled >= 2);
	stillprof_session_free(s);
	for (int i = 0; i < 2; i++) {
		close(ping[i]);
		close(pong[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_blocked_stacks_from_switch_samples),
	    cmocka_unit_test(test_forced_proc_probe),
	    cmocka_unit_test(test_switchy_thread_turns_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
