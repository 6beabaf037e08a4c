/*
 * preload.c - activation through LD_PRELOAD (libstillprof_preload.so):
 * a constructor reads STILLPROF_* variables and starts a session before
 * main; a destructor stops it at exit and writes the dump.  Used by
 * `stillprof record`, and usable on its own:
 *
 *   LD_PRELOAD=.../libstillprof_preload.so STILLPROF_MODE=wall ./app
 *
 * Only the process the profiler was started for is profiled: when
 * STILLPROF_ROOT_PID names another pid (a child the program fork+exec'ed
 * inherits LD_PRELOAD), the library stays inactive.  Problems are reported
 * on stderr with a "stillprof:" prefix, but the program always runs: a
 * profiler must never stop its host.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static stillprof_session *preload_session;
static pid_t preload_pid;
static char preload_out[4096];

static void write_summary(const char *error)
{
	const char *path = getenv("STILLPROF_SUMMARY");
	struct stillprof_stats st;
	char buf[8192];
	int fd, n;

	if (!path || !*path)
		return;
	memset(&st, 0, sizeof(st));
	if (preload_session)
		stillprof_session_stats(preload_session, &st);
	n = snprintf(buf, sizeof(buf),
	             "samples=%llu\nmissed=%llu\nthreads=%llu\nbackend=%s\n"
	             "out=%s\nerror=%s\n",
	             (unsigned long long)st.samples,
	             (unsigned long long)st.missed_samples,
	             (unsigned long long)st.threads_seen,
	             st.backend ? st.backend : "none", preload_out,
	             error ? error : "");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	          0600);
	if (fd < 0)
		return;
	if (n > 0)
		(void)!write(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n
		                                              : sizeof(buf) - 1);
	sp_close(fd);
}

static void report(const char *what, const char *detail)
{
	char msg[1024];
	int n = snprintf(msg, sizeof(msg), "stillprof: %s%s%s\n", what,
	                 detail ? ": " : "", detail ? detail : "");
	if (n > 0)
		(void)!write(STDERR_FILENO, msg,
		             (size_t)n < sizeof(msg) ? (size_t)n
		                                     : sizeof(msg) - 1);
	write_summary(detail ? detail : what);
}

static void after_fork_child(void)
{
	/* The child has no sampling thread: forget the session (its memory
	 * and fds go away with exec or exit; nothing is written). */
	preload_session = NULL;
}

__attribute__((constructor)) static void stillprof_preload_init(void)
{
	struct stillprof_options o;
	const char *root = getenv("STILLPROF_ROOT_PID");
	char err[512];
	int rc;

	preload_pid = getpid();
	if (root && *root && atoi(root) != preload_pid)
		return;
	if (!root || !*root) {
		/* Activated by hand: mark this process as the root so the
		 * children that inherit LD_PRELOAD stay inactive. */
		char pid[16];
		snprintf(pid, sizeof(pid), "%d", (int)preload_pid);
		setenv("STILLPROF_ROOT_PID", pid, 1);
	}
	stillprof_options_init(&o);
	rc = stillprof_options_from_env(&o, err, sizeof(err));
	if (rc) {
		report("not profiling", err);
		return;
	}
	if (o.out)
		snprintf(preload_out, sizeof(preload_out), "%s", o.out);
	else
		snprintf(preload_out, sizeof(preload_out), "stillprof-%d.dump",
		         (int)preload_pid);
	o.out = preload_out;
	rc = stillprof_session_new(&o, &preload_session);
	if (rc) {
		report("not profiling", stillprof_strerror(rc));
		return;
	}
	rc = stillprof_session_start(preload_session);
	if (rc) {
		const char *why = stillprof_session_backend_error(
		    preload_session);
		snprintf(err, sizeof(err), "%s%s%s", stillprof_strerror(rc),
		         why ? ": " : "", why ? why : "");
		stillprof_session_free(preload_session);
		preload_session = NULL;
		report("not profiling", err);
		return;
	}
	pthread_atfork(NULL, NULL, after_fork_child);
}

__attribute__((destructor)) static void stillprof_preload_fini(void)
{
	char err[sizeof(preload_out) + 256];
	int rc;

	if (!preload_session || getpid() != preload_pid)
		return;
	stillprof_session_stop(preload_session);
	rc = stillprof_session_write(preload_session, NULL,
	                             STILLPROF_FORMAT_STACKPROF);
	if (rc) {
		snprintf(err, sizeof(err), "writing %s: %s", preload_out,
		         stillprof_strerror(rc));
		report("profile lost", err);
	} else {
		write_summary(NULL);
	}
	stillprof_session_free(preload_session);
	preload_session = NULL;
}
