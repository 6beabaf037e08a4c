/*
 * test_config.c - option parsing: defaults, the STILLPROF_* environment,
 * and that every malformed value is refused with the right code and a
 * message naming the variable, leaving the options untouched.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stillprof.h"

static int clear_env(void **state)
{
	(void)state;
	unsetenv("STILLPROF_MODE");
	unsetenv("STILLPROF_INTERVAL");
	unsetenv("STILLPROF_RAW");
	unsetenv("STILLPROF_OUT");
	unsetenv("STILLPROF_MAX_DEPTH");
	unsetenv("STILLPROF_BACKEND");
	unsetenv("STILLPROF_SIGNAL");
	unsetenv("STILLPROF_REQUIRE_TASK_WORK");
	return 0;
}

static void test_config_defaults(void **state)
{
	struct stillprof_options o;
	(void)state;

	stillprof_options_init(&o);
	assert_int_equal(o.sz, sizeof(o));
	assert_int_equal(o.mode, STILLPROF_MODE_WALL);
	assert_int_equal(o.interval_us, 1000);
	assert_int_equal(o.raw, 1);
	assert_null(o.out);
	/* An empty environment changes nothing. */
	assert_int_equal(stillprof_options_from_env(&o, NULL, 0), 0);
	assert_int_equal(o.mode, STILLPROF_MODE_WALL);
	assert_int_equal(o.interval_us, 1000);
}

static void test_config_parses_mode(void **state)
{
	int m = -1;
	(void)state;

	assert_int_equal(stillprof_parse_mode("wall", &m), 0);
	assert_int_equal(m, STILLPROF_MODE_WALL);
	assert_int_equal(stillprof_parse_mode("cpu", &m), 0);
	assert_int_equal(m, STILLPROF_MODE_CPU);
	m = 42;
	assert_int_equal(stillprof_parse_mode("object", &m), STILLPROF_EBADMODE);
	assert_int_equal(stillprof_parse_mode("WALL", &m), STILLPROF_EBADMODE);
	assert_int_equal(stillprof_parse_mode("", &m), STILLPROF_EBADMODE);
	assert_int_equal(stillprof_parse_mode(NULL, &m), STILLPROF_EBADMODE);
	assert_int_equal(m, 42);
}

static void test_config_interval_range(void **state)
{
	static const char *bad[] = {"0", "1000001", "-5", " 5", "5 ", "1e3",
	                            "abc", "", "99999999999999999999", "+7"};
	unsigned us = 7;
	(void)state;

	assert_int_equal(stillprof_parse_interval("1", &us), 0);
	assert_int_equal(us, 1);
	assert_int_equal(stillprof_parse_interval("1000000", &us), 0);
	assert_int_equal(us, 1000000);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		us = 7;
		assert_int_equal(stillprof_parse_interval(bad[i], &us),
		                 STILLPROF_EBADINTERVAL);
		assert_int_equal(us, 7);
	}
}

static void test_config_reads_environment(void **state)
{
	struct stillprof_options o;
	(void)state;

	setenv("STILLPROF_MODE", "cpu", 1);
	setenv("STILLPROF_INTERVAL", "250", 1);
	setenv("STILLPROF_RAW", "false", 1);
	setenv("STILLPROF_OUT", "/tmp/x.dump", 1);
	setenv("STILLPROF_MAX_DEPTH", "64", 1);
	stillprof_options_init(&o);
	assert_int_equal(stillprof_options_from_env(&o, NULL, 0), 0);
	assert_int_equal(o.mode, STILLPROF_MODE_CPU);
	assert_int_equal(o.interval_us, 250);
	assert_int_equal(o.raw, 0);
	assert_string_equal(o.out, "/tmp/x.dump");
	assert_int_equal(o.max_depth, 64);
}

/* A bad value anywhere leaves every field as it was. */
static void expect_env_error(const char *var, const char *val, int code)
{
	struct stillprof_options o, before;
	char msg[256] = "";

	clear_env(NULL);
	setenv("STILLPROF_MODE", "cpu", 1); /* valid, must not be applied */
	setenv(var, val, 1);
	stillprof_options_init(&o);
	before = o;
	assert_int_equal(stillprof_options_from_env(&o, msg, sizeof(msg)),
	                 code);
	assert_memory_equal(&o, &before, sizeof(o));
	assert_non_null(strstr(msg, var));
	assert_non_null(strstr(msg, val));
}

static void test_config_rejects_bad_environment(void **state)
{
	(void)state;
	expect_env_error("STILLPROF_MODE", "object", STILLPROF_EBADMODE);
	expect_env_error("STILLPROF_INTERVAL", "0", STILLPROF_EBADINTERVAL);
	expect_env_error("STILLPROF_INTERVAL", "2000000", STILLPROF_EBADINTERVAL);
	expect_env_error("STILLPROF_INTERVAL", "fast", STILLPROF_EBADINTERVAL);
	expect_env_error("STILLPROF_RAW", "maybe", STILLPROF_EBADOPTION);
	expect_env_error("STILLPROF_MAX_DEPTH", "0", STILLPROF_EBADOPTION);
	expect_env_error("STILLPROF_MAX_DEPTH", "5000", STILLPROF_EBADOPTION);
	expect_env_error("STILLPROF_BACKEND", "ptrace", STILLPROF_EBADOPTION);
	expect_env_error("STILLPROF_BACKEND", "Auto", STILLPROF_EBADOPTION);
	expect_env_error("STILLPROF_SIGNAL", "SIGKILL", STILLPROF_EBADOPTION);
	expect_env_error("STILLPROF_SIGNAL", "33", STILLPROF_EBADOPTION);
	expect_env_error("STILLPROF_REQUIRE_TASK_WORK", "2",
	                 STILLPROF_EBADOPTION);
}

static void test_config_backend(void **state)
{
	struct stillprof_options o;
	stillprof_session *s = NULL;
	int b = 42;
	(void)state;

	stillprof_options_init(&o);
	assert_int_equal(o.backend, STILLPROF_BACKEND_AUTO);
	assert_int_equal(o.signal, 0);
	assert_int_equal(o.require_task_work, 0);
	assert_int_equal(stillprof_parse_backend("auto", &b), 0);
	assert_int_equal(b, STILLPROF_BACKEND_AUTO);
	assert_int_equal(stillprof_parse_backend("perf", &b), 0);
	assert_int_equal(b, STILLPROF_BACKEND_PERF);
	assert_int_equal(stillprof_parse_backend("perf_event", &b), 0);
	assert_int_equal(b, STILLPROF_BACKEND_PERF);
	assert_int_equal(stillprof_parse_backend("signal", &b), 0);
	assert_int_equal(b, STILLPROF_BACKEND_SIGNAL);
	b = 42;
	assert_int_equal(stillprof_parse_backend("", &b), STILLPROF_EBADOPTION);
	assert_int_equal(stillprof_parse_backend("signals", &b),
	                 STILLPROF_EBADOPTION);
	assert_int_equal(stillprof_parse_backend(NULL, &b),
	                 STILLPROF_EBADOPTION);
	assert_int_equal(b, 42);
	for (int i = 0; i <= STILLPROF_BACKEND_SIGNAL; i++) {
		assert_int_equal(stillprof_parse_backend(
		                     stillprof_backend_name(i), &b), 0);
		assert_int_equal(b, i);
	}
	assert_null(stillprof_backend_name(3));
	assert_null(stillprof_backend_name(-1));

	setenv("STILLPROF_BACKEND", "signal", 1);
	setenv("STILLPROF_SIGNAL", "SIGRTMIN+5", 1);
	setenv("STILLPROF_REQUIRE_TASK_WORK", "yes", 1);
	assert_int_equal(stillprof_options_from_env(&o, NULL, 0), 0);
	assert_int_equal(o.backend, STILLPROF_BACKEND_SIGNAL);
	assert_int_equal(o.signal, SIGRTMIN + 5);
	assert_int_equal(o.require_task_work, 1);

	/* session_new validates what the C API sets directly. */
	stillprof_options_init(&o);
	o.backend = 3;
	assert_int_equal(stillprof_session_new(&o, &s), STILLPROF_EBADOPTION);
	stillprof_options_init(&o);
	o.signal = SIGSEGV;
	assert_int_equal(stillprof_session_new(&o, &s), STILLPROF_EBADOPTION);
	assert_null(s);
}

static void test_config_signal_names(void **state)
{
	static const char *bad[] = {"", "0", "65", "-1", "SIGKILL", "STOP",
	                            "SIGSEGV", "SIGRTMIN+x", "RTMIN+", "32",
	                            "SIGRTMIN-1", "SIGRTMAX+1", "SIGFOO",
	                            "SIGRTMIN 3", "3x", "SIGINT", "SIGCHLD"};
	int sig = 7;
	(void)state;

	assert_int_equal(stillprof_parse_signal("SIGRTMIN+3", &sig), 0);
	assert_int_equal(sig, SIGRTMIN + 3);
	assert_int_equal(stillprof_parse_signal("RTMIN", &sig), 0);
	assert_int_equal(sig, SIGRTMIN);
	assert_int_equal(stillprof_parse_signal("SIGRTMAX-2", &sig), 0);
	assert_int_equal(sig, SIGRTMAX - 2);
	assert_int_equal(stillprof_parse_signal("SIGPROF", &sig), 0);
	assert_int_equal(sig, SIGPROF);
	assert_int_equal(stillprof_parse_signal("VTALRM", &sig), 0);
	assert_int_equal(sig, SIGVTALRM);
	assert_int_equal(stillprof_parse_signal("40", &sig), 0);
	assert_int_equal(sig, 40);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sig = 7;
		assert_int_equal(stillprof_parse_signal(bad[i], &sig),
		                 STILLPROF_EBADOPTION);
		assert_int_equal(sig, 7);
	}
	assert_int_equal(stillprof_parse_signal(NULL, &sig),
	                 STILLPROF_EBADOPTION);
}

static void test_config_session_new_validates(void **state)
{
	struct stillprof_options o;
	stillprof_session *s = NULL;
	(void)state;

	stillprof_options_init(&o);
	o.mode = 7;
	assert_int_equal(stillprof_session_new(&o, &s), STILLPROF_EBADMODE);
	assert_null(s);
	stillprof_options_init(&o);
	o.interval_us = 0;
	assert_int_equal(stillprof_session_new(&o, &s), STILLPROF_EBADINTERVAL);
	o.interval_us = 1000001;
	assert_int_equal(stillprof_session_new(&o, &s), STILLPROF_EBADINTERVAL);
	assert_null(s);
	assert_int_equal(stillprof_session_new(NULL, &s), -EINVAL);
}

static void test_config_error_text(void **state)
{
	(void)state;
	assert_string_equal(stillprof_errname(STILLPROF_EPERFDENIED),
	                    "EPERFDENIED");
	assert_string_equal(stillprof_errname(-ENOMEM), "ENOMEM");
	assert_non_null(strstr(stillprof_strerror(STILLPROF_EBADINTERVAL),
	                       "1..1000000"));
	assert_non_null(stillprof_strerror(-12345));
}

static void test_config_formats(void **state)
{
	int f = -1;
	(void)state;

	assert_int_equal(stillprof_parse_format("pprof", &f), 0);
	assert_int_equal(f, STILLPROF_FORMAT_PPROF);
	assert_int_equal(stillprof_parse_format("dump", &f), 0);
	assert_int_equal(f, STILLPROF_FORMAT_STACKPROF);
	f = 42;
	assert_int_equal(stillprof_parse_format("html5", &f),
	                 STILLPROF_EBADFORMAT);
	assert_int_equal(stillprof_parse_format(NULL, &f), STILLPROF_EBADFORMAT);
	assert_int_equal(f, 42);
	assert_int_equal(stillprof_format_for_path("a/b.pb.gz"),
	                 STILLPROF_FORMAT_PPROF);
	assert_int_equal(stillprof_format_for_path("x.speedscope.json"),
	                 STILLPROF_FORMAT_SPEEDSCOPE);
	assert_int_equal(stillprof_format_for_path("x.json"),
	                 STILLPROF_FORMAT_JSON);
	assert_int_equal(stillprof_format_for_path("x.folded"),
	                 STILLPROF_FORMAT_COLLAPSED);
	assert_int_equal(stillprof_format_for_path("x.dump"),
	                 STILLPROF_FORMAT_STACKPROF);
	assert_int_equal(stillprof_format_for_path("noext"),
	                 STILLPROF_FORMAT_STACKPROF);
	for (int i = 0; i < STILLPROF_FORMAT_COUNT; i++) {
		assert_int_equal(stillprof_parse_format(stillprof_format_name(i),
		                                        &f), 0);
		assert_int_equal(f, i);
		assert_int_equal(stillprof_format_for_path(
		                     stillprof_format_extension(i)), i);
	}
	assert_null(stillprof_format_name(STILLPROF_FORMAT_COUNT));
	assert_null(stillprof_format_extension(-1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_config_defaults, clear_env),
		cmocka_unit_test(test_config_parses_mode),
		cmocka_unit_test(test_config_interval_range),
		cmocka_unit_test_setup(test_config_reads_environment, clear_env),
		cmocka_unit_test(test_config_rejects_bad_environment),
		cmocka_unit_test(test_config_session_new_validates),
		cmocka_unit_test(test_config_error_text),
		cmocka_unit_test(test_config_formats),
		cmocka_unit_test_setup(test_config_backend, clear_env),
		cmocka_unit_test(test_config_signal_names),
	};
	return cmocka_run_group_tests(tests, clear_env, NULL);
}
