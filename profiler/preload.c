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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "controls.h"
#include "internal.h"

static stillprof_session *preload_session;
/* STILLPROF_CONTROL_SIGNAL/PERIOD/PUSH_URL/HTTP (controls.c); NULL when unused. */
static stillprof_controls *preload_controls;
static int preload_periodic;       /* the periods are the output */
static int preload_signal;         /* blocked by us in the constructor */
static pid_t preload_pid;
static char preload_out[4096];
/* STILLPROF_FORMAT: the formats to write at exit, and their paths. */
static int preload_formats[STILLPROF_FORMAT_COUNT];
static int n_preload_formats;
static char preload_paths[STILLPROF_FORMAT_COUNT][4096];
static char preload_written[STILLPROF_FORMAT_COUNT * 4100];

/* Parse "json,pprof" into preload_formats.  Returns 0 or -1 with a message
 * naming the bad entry in err. */
static int parse_formats(const char *list, char *err, size_t len)
{
	char buf[256], *save = NULL, *tok;

	n_preload_formats = 0;
	if (!list || !*list)
		return 0;
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		int f, dup = 0;
		if (stillprof_parse_format(tok, &f)) {
			snprintf(err, len, "STILLPROF_FORMAT=\"%s\": unknown "
			         "format '%s' (expected stackprof, json, "
			         "pprof, collapsed or speedscope)", list, tok);
			return -1;
		}
		for (int i = 0; i < n_preload_formats; i++)
			dup |= preload_formats[i] == f;
		if (!dup)
			preload_formats[n_preload_formats++] = f;
	}
	return 0;
}

/* One format: the output path as given.  Several: the path's known
 * extension is replaced by each format's (app.dump -> app.pb.gz ...). */
static void plan_paths(void)
{
	char stem[4096];
	size_t n;
	int own;

	if (n_preload_formats == 0)
		preload_formats[n_preload_formats++] =
		    stillprof_format_for_path(preload_out);
	own = stillprof_format_for_path(preload_out);
	snprintf(stem, sizeof(stem), "%s", preload_out);
	n = strlen(stem);
	if (own != STILLPROF_FORMAT_STACKPROF ||
	    (n > 5 && !strcmp(stem + n - 5, ".dump"))) {
		size_t k = strlen(stillprof_format_extension(own));
		if (n > k && !strcmp(stem + n - k,
		                     stillprof_format_extension(own)))
			stem[n - k] = '\0';
	}
	for (int i = 0; i < n_preload_formats; i++) {
		int f = preload_formats[i];
		if (n_preload_formats == 1 || f == own)
			snprintf(preload_paths[i], sizeof(preload_paths[i]),
			         "%s", preload_out);
		else
			snprintf(preload_paths[i], sizeof(preload_paths[i]),
			         "%.4000s%s", stem,
			         stillprof_format_extension(f));
	}
}

static void write_summary(const char *error)
{
	const char *path = getenv("STILLPROF_SUMMARY");
	struct stillprof_stats st;
	char buf[8192];
	const char *reason = stillprof_session_backend_reason(preload_session);
	const char *guar = stillprof_session_guarantee(preload_session);
	int fd, n;

	if (!path || !*path)
		return;
	memset(&st, 0, sizeof(st));
	if (preload_session)
		stillprof_session_stats(preload_session, &st);
	n = snprintf(buf, sizeof(buf),
	             "samples=%llu\nmissed=%llu\nthreads=%llu\nbackend=%s\n"
	             "out=%s\nerror=%s\nbackend_reason=%s\nguarantee=%s\n",
	             (unsigned long long)st.samples,
	             (unsigned long long)st.missed_samples,
	             (unsigned long long)st.threads_seen,
	             st.backend ? st.backend : "none", preload_written,
	             error ? error : "", reason ? reason : "",
	             guar ? guar : "");
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

/* Undo our block of the control signal in this thread. */
static void after_fork_child_unblock(void)
{
	sigset_t set;

	if (!preload_signal)
		return;
	sp_ctlsig_restore();
	sigemptyset(&set);
	sigaddset(&set, preload_signal);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	preload_signal = 0;
}

static void after_fork_child(void)
{
	/* The child has no sampling thread: forget the session (its memory
	 * and fds go away with exec or exit; nothing is written). */
	preload_session = NULL;
	preload_controls = NULL;
	/* A forked child (and whatever it execs) gets the control signal
	 * back: it has no sampler to read it. */
	sp_ctlsig_restore();
	after_fork_child_unblock();
}

/* Start the production controls before the session (the control signal
 * is blocked here, in the main thread before main, so every thread the
 * program creates inherits the mask).  Returns 0 or -1 with err set. */
static int start_controls(char *err, size_t len)
{
	struct stillprof_control_options co;
	sigset_t old;
	int rc;

	stillprof_control_options_init(&co);
	if (stillprof_control_options_from_env(&co, err, len))
		return -1;
	if (!co.signal && !co.period_s && !co.push_url && !co.http)
		return 0;
	/* Remember whether we block it, so a forked child can get it
	 * back (a block the program set itself is left alone). */
	pthread_sigmask(SIG_BLOCK, NULL, &old);
	if (co.signal && sigismember(&old, co.signal) != 1)
		preload_signal = co.signal;
	if (!co.out || !*co.out)
		co.out = preload_out;
	co.format = n_preload_formats ? preload_formats[0]
	                              : stillprof_format_for_path(preload_out);
	rc = stillprof_controls_start(preload_session, &co, &preload_controls,
	                              err, len);
	if (rc) {
		after_fork_child_unblock();
		return -1;
	}
	preload_periodic = co.period_s > 0;
	if (preload_periodic) /* for the summary `stillprof record` prints */
		snprintf(preload_written, sizeof(preload_written),
		         "%.4000s, a file every %u s", co.out, co.period_s);
	return 0;
}

__attribute__((constructor)) static void stillprof_preload_init(void)
{
	struct stillprof_options o;
	const char *root = getenv("STILLPROF_ROOT_PID");
	struct timespec now;
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
	if (parse_formats(getenv("STILLPROF_FORMAT"), err, sizeof(err))) {
		report("not profiling", err);
		return;
	}
	/* %p and %t (see controls.h) work in the exit dump's name too;
	 * periodic files expand them at every write. */
	clock_gettime(CLOCK_REALTIME, &now);
	if (o.out && sp_path_expand(o.out, preload_pid,
	                            (uint64_t)now.tv_sec * 1000000000u +
	                                (uint64_t)now.tv_nsec,
	                            preload_out, sizeof(preload_out))) {
		snprintf(err, sizeof(err), "STILLPROF_OUT=\"%s\": bad %% "
		         "sequence (%%p pid, %%t time, %%%% percent)", o.out);
		report("not profiling", err);
		return;
	}
	if (!o.out)
		snprintf(preload_out, sizeof(preload_out), "stillprof-%d%s",
		         (int)preload_pid,
		         stillprof_format_extension(n_preload_formats
		                                        ? preload_formats[0]
		                                        : STILLPROF_FORMAT_STACKPROF));
	o.out = preload_out;
	plan_paths();
	rc = stillprof_session_new(&o, &preload_session);
	if (rc) {
		report("not profiling", stillprof_strerror(rc));
		return;
	}
	if (start_controls(err, sizeof(err))) {
		stillprof_session_free(preload_session);
		preload_session = NULL;
		report("not profiling", err);
		return;
	}
	rc = stillprof_session_start(preload_session);
	if (rc) {
		stillprof_controls_stop(preload_controls);
		preload_controls = NULL;
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
	/* Writes and pushes the last period. */
	stillprof_controls_stop(preload_controls);
	preload_controls = NULL;
	rc = 0;
	for (int i = 0; i < n_preload_formats && !rc && !preload_periodic;
	     i++) {
		rc = stillprof_session_write(preload_session, preload_paths[i],
		                             preload_formats[i]);
		if (rc)
			snprintf(err, sizeof(err), "writing %.4000s: %s",
			         preload_paths[i], stillprof_strerror(rc));
		else
			snprintf(preload_written + strlen(preload_written),
			         sizeof(preload_written) - strlen(preload_written),
			         "%s%s", i ? ", " : "", preload_paths[i]);
	}
	if (rc) {
		report("profile lost", err);
	} else {
		write_summary(NULL);
	}
	stillprof_session_free(preload_session);
	preload_session = NULL;
}
