/*
 * test_signal_backend.c - the parts of the signal back-end that can be
 * tested in-process: kernel-config parsing and detection (kcap.c), the
 * slot protocol between handler and sampling thread (sigslot.c: tokens,
 * generations, ring full, stack-copy bounds), and the session-level rules:
 * a signal the application already handles is refused, an application
 * that replaces our handler later stops on-CPU sampling and says so, and
 * real timer signals give weighted on-CPU samples of a busy thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <cmocka.h>

#include "kcap.h"
#include "sigslot.h"
#include "stillprof.h"

static volatile uint64_t sink;

static void test_kcap_config_lines(void **state)
{
	(void)state;
	assert_int_equal(sp_kcap_config_line(
	                     "CONFIG_POSIX_CPU_TIMERS_TASK_WORK=y\n"),
	                 SP_KCAP_PRESENT);
	assert_int_equal(sp_kcap_config_line(
	                     "CONFIG_POSIX_CPU_TIMERS_TASK_WORK=y"),
	                 SP_KCAP_PRESENT);
	assert_int_equal(sp_kcap_config_line(
	                     "# CONFIG_POSIX_CPU_TIMERS_TASK_WORK is not set\n"),
	                 SP_KCAP_ABSENT);
	assert_int_equal(sp_kcap_config_line(
	                     "CONFIG_POSIX_CPU_TIMERS_TASK_WORK=n\n"),
	                 SP_KCAP_ABSENT);
	/* The HAVE_ option only says the arch could; other lines say
	 * nothing. */
	assert_int_equal(sp_kcap_config_line(
	                     "CONFIG_HAVE_POSIX_CPU_TIMERS_TASK_WORK=y\n"), -1);
	assert_int_equal(sp_kcap_config_line(
	                     "CONFIG_POSIX_CPU_TIMERS_TASK_WORKX=y\n"), -1);
	assert_int_equal(sp_kcap_config_line("CONFIG_HZ=250\n"), -1);
	assert_int_equal(sp_kcap_config_line("\n"), -1);
}

static void test_kcap_versions(void **state)
{
	(void)state;
	assert_int_equal(sp_kcap_from_version("5.9.0", "x86_64"),
	                 SP_KCAP_PRESENT);
	assert_int_equal(sp_kcap_from_version("6.18.44-fc-v769", "x86_64"),
	                 SP_KCAP_PRESENT);
	assert_int_equal(sp_kcap_from_version("5.8.18", "x86_64"),
	                 SP_KCAP_ABSENT);
	assert_int_equal(sp_kcap_from_version("4.19.0-21-amd64", "x86_64"),
	                 SP_KCAP_ABSENT);
	assert_int_equal(sp_kcap_from_version("6.1.0", "riscv64"),
	                 SP_KCAP_PRESENT);
	assert_int_equal(sp_kcap_from_version("6.0.9", "riscv64"),
	                 SP_KCAP_ABSENT);
	assert_int_equal(sp_kcap_from_version("6.6.0", "aarch64"),
	                 SP_KCAP_UNKNOWN);
	assert_int_equal(sp_kcap_from_version("garbage", "x86_64"),
	                 SP_KCAP_UNKNOWN);
	assert_int_equal(sp_kcap_from_version(NULL, "x86_64"),
	                 SP_KCAP_UNKNOWN);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_kcap_detect_files(void **state)
{
	char dir[] = "/tmp/sp-kcap-XXXXXX", yes[64], no[64], none[64], gz[80];
	char cmd[200];
	const char *p_yes[] = {"/nonexistent/config", yes, NULL};
	const char *p_no[] = {no, yes, NULL};
	const char *p_none[] = {none, NULL};
	const char *p_gz[] = {gz, NULL};
	const char *p_missing[] = {"/nonexistent/a", NULL};
	struct sp_kcap k;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(yes, sizeof(yes), "%s/yes", dir);
	snprintf(no, sizeof(no), "%s/no", dir);
	snprintf(none, sizeof(none), "%s/none", dir);
	snprintf(gz, sizeof(gz), "%s/config.gz", dir);
	write_file(yes, "CONFIG_HZ=250\nCONFIG_POSIX_CPU_TIMERS_TASK_WORK=y\n");
	write_file(no, "# CONFIG_POSIX_CPU_TIMERS_TASK_WORK is not set\n");
	write_file(none, "CONFIG_HZ=1000\n");
	snprintf(cmd, sizeof(cmd), "gzip -c %s > %s", yes, gz);
	assert_int_equal(system(cmd), 0);

	sp_kcap_detect(&k, p_yes);
	assert_int_equal(k.task_work, SP_KCAP_PRESENT);
	assert_non_null(strstr(k.source, yes));
	/* The first readable file decides. */
	sp_kcap_detect(&k, p_no);
	assert_int_equal(k.task_work, SP_KCAP_ABSENT);
	assert_non_null(strstr(k.source, "=n"));
	/* A full config without the option: the kernel lacks it. */
	sp_kcap_detect(&k, p_none);
	assert_int_equal(k.task_work, SP_KCAP_ABSENT);
	sp_kcap_detect(&k, p_gz);
	assert_int_equal(k.task_work, SP_KCAP_PRESENT);
	assert_non_null(strstr(k.source, "config.gz"));
	/* Nothing readable: the version decides and the source says so. */
	sp_kcap_detect(&k, p_missing);
	assert_non_null(strstr(k.source, "no kernel config readable"));
	assert_true(k.task_work == SP_KCAP_PRESENT ||
	            k.task_work == SP_KCAP_ABSENT ||
	            k.task_work == SP_KCAP_UNKNOWN);

	unlink(yes);
	unlink(no);
	unlink(none);
	unlink(gz);
	assert_int_equal(rmdir(dir), 0);
}

/* A context as the kernel would hand to the handler: registers of this
 * thread, with sp aimed at a buffer we control. */
static void fake_context(ucontext_t *uc, uint64_t sp, uint64_t ip)
{
	memset(uc, 0, sizeof(*uc));
	uc->uc_mcontext.gregs[REG_RSP] = (greg_t)sp;
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)ip;
	uc->uc_mcontext.gregs[REG_RBX] = 0x1234;
}

static void test_sigslot_protocol(void **state)
{
	/* Two pages: one mapped page of "stack" followed by a PROT_NONE
	 * page, so a copy past the known end would crash the test. */
	uint8_t *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE,
	                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	const struct sp_sig_sample *e;
	struct sp_sig_slot *sl;
	ucontext_t uc;
	uint32_t tok, tok2;
	uint64_t sp;
	(void)state;

	assert_true(m != MAP_FAILED);
	assert_int_equal(mprotect(m + 2 * 4096, 4096, PROT_NONE), 0);
	for (int i = 0; i < 2 * 4096; i++)
		m[i] = (uint8_t)i;
	assert_int_equal(sp_sigslot_alloc(&tok), 0);
	sl = sp_sigslot_get(tok);
	assert_non_null(sl);
	assert_null(sp_sigslot_peek(sl));

	/* Unknown range: only up to the end of sp's page. */
	sp = (uint64_t)(uintptr_t)(m + 100);
	fake_context(&uc, sp, 0xabc);
	assert_int_equal(sp_sigslot_record(tok, 3, &uc), 1);
	e = sp_sigslot_peek(sl);
	assert_non_null(e);
	assert_int_equal(e->regs[SP_REG_RSP], sp);
	assert_int_equal(e->regs[SP_REG_RIP], 0xabc);
	assert_int_equal(e->regs[SP_REG_RBX], 0x1234);
	assert_int_equal(e->weight, 4); /* 1 + 3 overruns */
	assert_int_equal(e->stack_len, 4096 - 100);
	assert_memory_equal(e->stack, m + 100, e->stack_len);
	assert_true(e->t_ns > 0);
	sp_sigslot_pop(sl);
	assert_null(sp_sigslot_peek(sl));

	/* Known range [m, m + 2 pages): up to its end, never beyond. */
	sp_sigslot_set_range(sl, (uint64_t)(uintptr_t)m,
	                     (uint64_t)(uintptr_t)(m + 2 * 4096));
	sp = (uint64_t)(uintptr_t)(m + 4000);
	fake_context(&uc, sp, 0xdef);
	assert_int_equal(sp_sigslot_record(tok, 0, &uc), 1);
	e = sp_sigslot_peek(sl);
	assert_int_equal(e->weight, 1);
	assert_int_equal(e->stack_len, 2 * 4096 - 4000);
	assert_memory_equal(e->stack, m + 4000, e->stack_len);
	sp_sigslot_pop(sl);
	/* sp at the start of a long range: capped at SP_SIGSLOT_STACK. */
	sp_sigslot_set_range(sl, 0, (uint64_t)(uintptr_t)(m + 2 * 4096));
	fake_context(&uc, (uint64_t)(uintptr_t)m, 1);
	assert_int_equal(sp_sigslot_record(tok, 0, &uc), 1);
	assert_int_equal(sp_sigslot_peek(sl)->stack_len, SP_SIGSLOT_STACK);
	sp_sigslot_pop(sl);

	/* Ring full: samples beyond SP_SIGSLOT_RING are dropped with their
	 * weight counted; the ones kept come out in order. */
	for (int i = 0; i < SP_SIGSLOT_RING + 2; i++) {
		fake_context(&uc, (uint64_t)(uintptr_t)(m + 8), 100 + i);
		assert_int_equal(sp_sigslot_record(tok, 1, &uc),
		                 i < SP_SIGSLOT_RING ? 1 : 0);
	}
	assert_int_equal(atomic_load(&sl->dropped), 2 * 2);
	for (int i = 0; i < SP_SIGSLOT_RING; i++) {
		e = sp_sigslot_peek(sl);
		assert_non_null(e);
		assert_int_equal(e->regs[SP_REG_RIP], 100 + i);
		sp_sigslot_pop(sl);
	}
	assert_null(sp_sigslot_peek(sl));
	assert_int_equal(atomic_load(&sl->delivered), 3 + SP_SIGSLOT_RING + 2);

	/* A slot busy with another writer: drop, never wait. */
	atomic_store(&sl->busy, 1);
	assert_int_equal(sp_sigslot_record(tok, 0, &uc), 0);
	atomic_store(&sl->busy, 0);
	atomic_store(&sl->tail, atomic_load(&sl->head));

	/* Freed: the token is stale; a reused slot gets a new generation
	 * and the old token still does nothing. */
	sp_sigslot_free(tok);
	assert_null(sp_sigslot_get(tok));
	assert_int_equal(sp_sigslot_record(tok, 0, &uc), -1);
	assert_int_equal(sp_sigslot_alloc(&tok2), 0);
	assert_int_not_equal(tok2, tok);
	assert_non_null(sp_sigslot_get(tok2));
	assert_int_equal(sp_sigslot_record(tok, 0, &uc), -1);
	assert_null(sp_sigslot_peek(sp_sigslot_get(tok2)));
	/* Garbage tokens. */
	assert_int_equal(sp_sigslot_record(0, 0, &uc), -1);
	assert_int_equal(sp_sigslot_record(0xffffffffu, 0, &uc), -1);
	assert_null(sp_sigslot_get(0));
	sp_sigslot_free(tok2);
	munmap(m, 3 * 4096);
}

static void burn_cpu_ms(long ms)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	do {
		for (int i = 0; i < 100000; i++)
			sink = sink * 31 + (uint64_t)i;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000L +
	             (t.tv_nsec - t0.tv_nsec) / 1000000L < ms);
}

static void app_handler(int sig)
{
	(void)sig;
}

/* Run fn in a child (signal handlers and timers stay out of the test
 * process); the child's exit status is the result. */
static void in_child(int (*fn)(void))
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int busy_signal_refused(void)
{
	struct stillprof_options o;
	stillprof_session *s;
	const char *why;

	signal(SIGRTMIN + 5, app_handler);
	stillprof_options_init(&o);
	o.backend = STILLPROF_BACKEND_SIGNAL;
	o.signal = SIGRTMIN + 5;
	if (stillprof_session_new(&o, &s))
		return 1;
	if (stillprof_session_start(s) != STILLPROF_ESIGBUSY)
		return 2;
	why = stillprof_session_backend_error(s);
	if (!why || !strstr(why, "SIGRTMIN+5") || !strstr(why, "application"))
		return 3;
	/* The application's handler is untouched. */
	if (signal(SIGRTMIN + 5, SIG_DFL) != app_handler)
		return 4;
	/* A free signal works, in the same process. */
	stillprof_session_free(s);
	o.signal = SIGRTMIN + 6;
	if (stillprof_session_new(&o, &s) || stillprof_session_start(s))
		return 5;
	stillprof_session_free(s);
	return 0;
}

static void test_signal_in_use_is_refused(void **state)
{
	(void)state;
	in_child(busy_signal_refused);
}

static int weighted_samples(void)
{
	struct stillprof_options o;
	struct stillprof_stats st;
	struct sigaction sa;
	stillprof_session *s;

	stillprof_options_init(&o);
	o.backend = STILLPROF_BACKEND_SIGNAL;
	o.mode = STILLPROF_MODE_CPU;
	o.interval_us = 100;
	if (stillprof_session_new(&o, &s) || stillprof_session_start(s))
		return 1;
	if (strcmp(stillprof_session_backend(s), "signal") ||
	    !strstr(stillprof_session_guarantee(s), "SIGRTMIN+3"))
		return 2;
	burn_cpu_ms(400);
	if (stillprof_session_stop(s))
		return 3;
	stillprof_session_stats(s, &st);
	/* 400 ms of CPU at 100 us: ~4000 samples from ~100 signals (one per
	 * tick), each weighted by its overruns.  Loose bounds: the point is
	 * that weights are applied (far more samples than signals) and not
	 * wildly off. */
	if (st.oncpu_samples < 1000 || st.oncpu_samples > 8000 ||
	    st.unwinds == 0 || st.oncpu_samples < 4 * st.unwinds) {
		fprintf(stderr, "oncpu %llu unwinds %llu\n",
		        (unsigned long long)st.oncpu_samples,
		        (unsigned long long)st.unwinds);
		return 4;
	}
	/* Our handler stays installed after stop (late signals must not
	 * kill the process). */
	if (sigaction(SIGRTMIN + 3, NULL, &sa) || !(sa.sa_flags & SA_SIGINFO))
		return 5;
	raise(SIGRTMIN + 3); /* not from our timer: ignored */

	/* Restart, then the application takes the signal over: sampling
	 * stops and the guarantee text says so. */
	if (stillprof_session_start(s))
		return 6;
	burn_cpu_ms(50);
	signal(SIGRTMIN + 3, app_handler);
	burn_cpu_ms(300);
	stillprof_session_stop(s);
	if (!strstr(stillprof_session_guarantee(s), "ON-CPU SAMPLING STOPPED"))
		return 7;
	stillprof_session_free(s);
	return 0;
}

static void test_signal_weighted_samples_and_takeover(void **state)
{
	(void)state;
	in_child(weighted_samples);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kcap_config_lines),
		cmocka_unit_test(test_kcap_versions),
		cmocka_unit_test(test_kcap_detect_files),
		cmocka_unit_test(test_sigslot_protocol),
		cmocka_unit_test(test_signal_in_use_is_refused),
		cmocka_unit_test(test_signal_weighted_samples_and_takeover),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
