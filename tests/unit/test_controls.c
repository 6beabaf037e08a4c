/*
 * test_controls.c - the parsers and checks of the production controls:
 * control signal names (only USR1/USR2/real-time), path patterns (%p, %t,
 * %%, refusal of others and of overflow), push URLs (http only, ports,
 * no header injection), listen addresses (loopback only unless opted in,
 * Unix socket 0600, no clobbering of a non-socket file), the environment
 * parser's messages, and the C API's refusals (signal while running).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "controls.h"
#include "http.h"
#include "internal.h"
#include "stillprof.h"

static void test_signal_names(void **state)
{
	int sig = 0;
	(void)state;

	assert_int_equal(sp_ctlsig_parse("SIGUSR2", &sig), 0);
	assert_int_equal(sig, SIGUSR2);
	assert_int_equal(sp_ctlsig_parse("USR1", &sig), 0);
	assert_int_equal(sig, SIGUSR1);
	assert_int_equal(sp_ctlsig_parse("SIGRTMIN", &sig), 0);
	assert_int_equal(sig, SIGRTMIN);
	assert_int_equal(sp_ctlsig_parse("SIGRTMIN+3", &sig), 0);
	assert_int_equal(sig, SIGRTMIN + 3);
	assert_int_equal(sp_ctlsig_parse("RTMAX-1", &sig), 0);
	assert_int_equal(sig, SIGRTMAX - 1);
	assert_int_equal(sp_ctlsig_parse("12", &sig), 0);
	assert_int_equal(sig, 12);
	sig = -1;
	assert_int_equal(sp_ctlsig_parse("SIGKILL", &sig), -EINVAL);
	assert_int_equal(sp_ctlsig_parse("SIGTERM", &sig), -EINVAL);
	assert_int_equal(sp_ctlsig_parse("9", &sig), -EINVAL);
	assert_int_equal(sp_ctlsig_parse("SIGRTMIN+99", &sig), -EINVAL);
	assert_int_equal(sp_ctlsig_parse("SIGRTMIN+", &sig), -EINVAL);
	assert_int_equal(sp_ctlsig_parse("SIGRTMIN-1", &sig), -EINVAL);
	assert_int_equal(sp_ctlsig_parse("SIGRTMAX+1", &sig), -EINVAL);
	assert_int_equal(sp_ctlsig_parse("", &sig), -EINVAL);
	assert_int_equal(sp_ctlsig_parse("usr2", &sig), -EINVAL);
	assert_int_equal(sig, -1);
}

static void test_path_patterns(void **state)
{
	char out[64];
	/* 2026-11-23 14:34:22.123 UTC */
	uint64_t t = 1795444462123000000ull;
	(void)state;

	assert_int_equal(sp_path_expand("/tmp/p-%p-%t.pb.gz", 42, t, out,
	                                sizeof(out)), 0);
	assert_string_equal(out, "/tmp/p-42-20261123T143422.123Z.pb.gz");
	assert_int_equal(sp_path_expand("100%%-%p", 7, t, out, sizeof(out)), 0);
	assert_string_equal(out, "100%-7");
	assert_int_equal(sp_path_expand("x%d", 7, t, out, sizeof(out)),
	                 -EINVAL);
	assert_int_equal(sp_path_expand("x%", 7, t, out, sizeof(out)),
	                 -EINVAL);
	assert_int_equal(sp_path_expand("%t%t", 7, t, out, 40),
	                 -ENAMETOOLONG);
}

static void test_urls(void **state)
{
	struct sp_url u;
	(void)state;

	assert_int_equal(sp_http_parse_url("http://127.0.0.1:4040/ingest", &u),
	                 0);
	assert_string_equal(u.host, "127.0.0.1");
	assert_string_equal(u.port, "4040");
	assert_string_equal(u.path, "/ingest");
	assert_int_equal(sp_http_parse_url("http://[::1]:9/a?b=c", &u), 0);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.port, "9");
	assert_string_equal(u.path, "/a?b=c");
	assert_int_equal(sp_http_parse_url("http://agent", &u), 0);
	assert_string_equal(u.port, "80");
	assert_string_equal(u.path, "/");
	assert_int_equal(sp_http_parse_url("https://x/ingest", &u),
	                 -EPROTONOSUPPORT);
	assert_int_equal(sp_http_parse_url("x:4040/ingest", &u), -EINVAL);
	assert_int_equal(sp_http_parse_url("http://x:0/", &u), -EINVAL);
	assert_int_equal(sp_http_parse_url("http://x:65536/", &u), -EINVAL);
	assert_int_equal(sp_http_parse_url("http://x:12a/", &u), -EINVAL);
	assert_int_equal(sp_http_parse_url("http://:80/", &u), -EINVAL);
	assert_int_equal(sp_http_parse_url("http://u@x/", &u), -EINVAL);
	assert_int_equal(sp_http_parse_url("http://x/a b", &u), -EINVAL);
	assert_int_equal(sp_http_parse_url("http://x/a\r\nX: y", &u), -EINVAL);
}

static void test_listen(void **state)
{
	char dir[] = "/tmp/stillprof-listen-XXXXXX", path[96], spec[128];
	struct stat sb;
	int fd, is_unix;
	(void)state;

	assert_int_equal(sp_http_listen("0.0.0.0:0", 0, &is_unix), -EPERM);
	assert_int_equal(sp_http_listen("[::]:0", 0, &is_unix), -EPERM);
	assert_int_equal(sp_http_listen("127.0.0.1", 0, &is_unix), -EINVAL);
	assert_int_equal(sp_http_listen("127.0.0.1:x", 0, &is_unix), -EINVAL);
	fd = sp_http_listen("127.0.0.1:0", 0, &is_unix);
	assert_true(fd >= 0);
	assert_int_equal(is_unix, 0);
	close(fd);
	fd = sp_http_listen("0.0.0.0:0", 1, &is_unix);
	assert_true(fd >= 0);
	close(fd);

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	snprintf(spec, sizeof(spec), "unix:%s", path);
	fd = sp_http_listen(spec, 0, &is_unix);
	assert_true(fd >= 0);
	assert_int_equal(is_unix, 1);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	close(fd);
	/* A stale socket of ours is replaced... */
	fd = sp_http_listen(spec, 0, &is_unix);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	/* ...any other file is not. */
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sp_http_listen(spec, 0, &is_unix), -EEXIST);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	unlink(path);
	assert_int_equal(sp_http_listen("unix:relative", 0, &is_unix),
	                 -EINVAL);
	rmdir(dir);
}

static void test_env(void **state)
{
	struct stillprof_control_options o;
	char err[256];
	(void)state;

	stillprof_control_options_init(&o);
	setenv("STILLPROF_CONTROL_SIGNAL", "SIGRTMIN+1", 1);
	setenv("STILLPROF_SIGNAL_ACTION", "toggle", 1);
	setenv("STILLPROF_PERIOD", "60", 1);
	setenv("STILLPROF_KEEP", "5", 1);
	setenv("STILLPROF_OUT", "/tmp/x-%t.pb.gz", 1);
	setenv("STILLPROF_PUSH_URL", "http://127.0.0.1:4040/ingest", 1);
	setenv("STILLPROF_HTTP", "127.0.0.1:6060", 1);
	assert_int_equal(stillprof_control_options_from_env(&o, err,
	                                                    sizeof(err)), 0);
	assert_int_equal(o.signal, SIGRTMIN + 1);
	assert_int_equal(o.signal_action, STILLPROF_SIGNAL_TOGGLE);
	assert_int_equal(o.period_s, 60);
	assert_int_equal(o.keep, 5);
	assert_int_equal(o.format, STILLPROF_FORMAT_PPROF);
	assert_string_equal(o.push_url, "http://127.0.0.1:4040/ingest");
	assert_string_equal(o.http, "127.0.0.1:6060");

	setenv("STILLPROF_PERIOD", "-1", 1);
	assert_int_equal(stillprof_control_options_from_env(&o, err,
	                                                    sizeof(err)),
	                 STILLPROF_EBADOPTION);
	assert_non_null(strstr(err, "STILLPROF_PERIOD=\"-1\""));
	setenv("STILLPROF_PERIOD", "1", 1);
	setenv("STILLPROF_SIGNAL_ACTION", "restart", 1);
	assert_int_equal(stillprof_control_options_from_env(&o, err,
	                                                    sizeof(err)),
	                 STILLPROF_EBADOPTION);
	assert_non_null(strstr(err, "dump or toggle"));
	unsetenv("STILLPROF_SIGNAL_ACTION");
	setenv("STILLPROF_LABELS", "a=}", 1);
	assert_int_equal(stillprof_control_options_from_env(&o, err,
	                                                    sizeof(err)),
	                 STILLPROF_EBADOPTION);
	unsetenv("STILLPROF_LABELS");
	setenv("STILLPROF_PUSH_URL", "https://x/ingest", 1);
	assert_int_equal(stillprof_control_options_from_env(&o, err,
	                                                    sizeof(err)),
	                 STILLPROF_EBADOPTION);
	assert_non_null(strstr(err, "local agent"));
	const char *vars[] = {"STILLPROF_CONTROL_SIGNAL", "STILLPROF_PERIOD",
	                      "STILLPROF_KEEP", "STILLPROF_OUT",
	                      "STILLPROF_PUSH_URL", "STILLPROF_HTTP"};
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

static void test_api_refusals(void **state)
{
	struct stillprof_options so;
	struct stillprof_control_options o;
	stillprof_session *s;
	stillprof_controls *c = NULL;
	char err[256];
	(void)state;

	stillprof_options_init(&so);
	assert_int_equal(stillprof_session_new(&so, &s), 0);
	stillprof_control_options_init(&o);
	o.format = 99;
	assert_int_equal(stillprof_controls_start(s, &o, &c, err, sizeof(err)),
	                 STILLPROF_EBADFORMAT);
	stillprof_control_options_init(&o);
	o.http = "10.1.2.3:6060";
	assert_int_equal(stillprof_controls_start(s, &o, &c, err, sizeof(err)),
	                 -EPERM);
	assert_non_null(strstr(err, "not a loopback address"));
	assert_null(c);
	/* Nothing configured: a no-op handle. */
	stillprof_control_options_init(&o);
	assert_int_equal(stillprof_controls_start(s, &o, &c, err, sizeof(err)),
	                 0);
	stillprof_controls_stop(c);
	if (stillprof_session_start(s) == 0) {
		o.signal = SIGUSR2;
		assert_int_equal(stillprof_controls_start(s, &o, &c, err,
		                                          sizeof(err)),
		                 STILLPROF_ERUNNING);
		stillprof_session_stop(s);
	}
	stillprof_controls_stop(NULL);
	stillprof_session_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signal_names),
		cmocka_unit_test(test_path_patterns),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_api_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
