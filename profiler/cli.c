/*
 * cli.c - the `stillprof` command.
 *
 *   stillprof record [--mode wall|cpu] [--interval US] [--out FILE]
 *                    [--raw|--no-raw] [--backend auto|perf|signal]
 *                    [--signal SIG] [--require-task-work] [bounds]
 *                    [production controls] -- COMMAND [ARGS...]
 *
 * runs COMMAND with libstillprof_preload.so in LD_PRELOAD and the options
 * in STILLPROF_* variables, waits for it, prints what was recorded and
 * exits with COMMAND's status.  Everything that can be checked before
 * COMMAND runs is checked first (options, output directory, perf access,
 * the command itself), so a bad invocation never runs an unprofiled
 * program and never leaves a half-written file.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "report.h"
#include "session.h"

#ifndef SP_PKGLIBDIR
#define SP_PKGLIBDIR "/usr/local/lib/stillprof"
#endif
#define SP_PRELOAD_NAME "libstillprof_preload.so"

/* Production-control flags: each sets its STILLPROF_* variable for the
 * child (controls.c reads them) and is checked here first. */
static const struct {
	const char *flag, *var;
	int has_arg;
} ctl_flags[] = {
	{"--control-signal", "STILLPROF_CONTROL_SIGNAL", 1},
	{"--signal-action", "STILLPROF_SIGNAL_ACTION", 1},
	{"--period", "STILLPROF_PERIOD", 1},
	{"--keep", "STILLPROF_KEEP", 1},
	{"--push-url", "STILLPROF_PUSH_URL", 1},
	{"--app", "STILLPROF_APP", 1},
	{"--labels", "STILLPROF_LABELS", 1},
	{"--http", "STILLPROF_HTTP", 1},
	{"--http-any-addr", "STILLPROF_HTTP_ANY_ADDR", 0},
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: stillprof record [--mode wall|cpu] [--interval US] "
	        "[--out FILE] [--raw|--no-raw]\n"
	        "                        [--format F]... [--backend B] "
	        "[--signal SIG]\n"
	        "                        [--require-task-work] [--max-depth N] "
	        "[--max-stacks N]\n"
	        "                        [--max-samples N] [--max-threads N]\n"
	        "                        [--control-signal SIG] "
	        "[--signal-action dump|toggle]\n"
	        "                        [--period S] [--keep K] "
	        "[--push-url URL] [--app NAME]\n"
	        "                        [--labels k=v,...] [--http ADDR] "
	        "[--http-any-addr]\n"
	        "                        -- COMMAND [ARGS...]\n"
	        "       stillprof report FILE [--text] [--thread TID|NAME] "
	        "[--limit N]\n"
	        "       stillprof --version\n"
	        "\n"
	        "record   run COMMAND under the sampling profiler and write a "
	        "stackprof dump\n"
	        "         --mode      wall (default: on- and off-CPU time) "
	        "or cpu\n"
	        "         --interval  sampling interval in microseconds, "
	        "1..1000000 (default 1000)\n"
	        "         --out       output file (default "
	        "stillprof-PID.dump)\n"
	        "         --raw       keep every sample (default); --no-raw "
	        "to drop :raw arrays\n"
	        "         --format    stackprof, json, pprof, collapsed or "
	        "speedscope (repeatable;\n"
	        "                     default: from the --out extension, "
	        "else stackprof)\n"
	        "         --backend   auto (default: perf_event if it opens, "
	        "else signal),\n"
	        "                     perf, or signal (per-thread CPU-time "
	        "timers)\n"
	        "         --signal    the signal back-end's signal (default "
	        "SIGRTMIN+3)\n"
	        "         --require-task-work  refuse the signal back-end on "
	        "kernels without\n"
	        "                     CONFIG_POSIX_CPU_TIMERS_TASK_WORK\n"
	        "         --max-depth, --max-stacks, --max-samples  memory "
	        "bounds (frames per\n"
	        "                     stack, distinct stacks, samples; "
	        "0 = no bound): what they\n"
	        "                     drop is counted in missed_samples\n"
	        "         --max-threads  thread entries kept (default 16384, "
	        "0 = no bound):\n"
	        "                     threads past it share one \"(other "
	        "threads)\" entry\n"
	        "         --control-signal  SIGUSR1, SIGUSR2 or SIGRTMIN+N: "
	        "on it, --signal-action\n"
	        "                     dump (default: write the profile so "
	        "far) or toggle (pause)\n"
	        "         --period    write a profile every S seconds (%%p "
	        "pid, %%t time in --out);\n"
	        "                     --keep K keeps the last K files\n"
	        "         --push-url  POST each period as pprof to "
	        "http://HOST:PORT/ingest\n"
	        "                     (Pyroscope), named --app "
	        "{--labels}\n"
	        "         --http      serve /debug/pprof/profile on "
	        "127.0.0.1:PORT, [::1]:PORT or\n"
	        "                     unix:/PATH (--http-any-addr: allow "
	        "other addresses)\n"
	        "report   print a top table of a stackprof dump (Marshal or "
	        "JSON, from\n"
	        "         stillprof or the stackprof gem); --thread narrows "
	        "to one thread\n");
}

static int ctl_flag(const char *a)
{
	for (int k = 0; k < (int)SP_ARRAY_LEN(ctl_flags); k++)
		if (!strcmp(a, ctl_flags[k].flag))
			return k;
	return -1;
}

static int file_exists(const char *p)
{
	return access(p, R_OK) == 0;
}

/* Find the preload module: $STILLPROF_PRELOAD_LIB, next to this binary
 * (build tree: .libs/), ../lib/stillprof/, then the configured path. */
static int find_preload(char *out, size_t len)
{
	const char *env = getenv("STILLPROF_PRELOAD_LIB");
	char exe[PATH_MAX], *dir;
	ssize_t n;

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return file_exists(out) ? 0 : -ENOENT;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		dir = dirname(exe);
		snprintf(out, len, "%s/.libs/%s", dir, SP_PRELOAD_NAME);
		if (file_exists(out))
			return 0;
		snprintf(out, len, "%s/%s", dir, SP_PRELOAD_NAME);
		if (file_exists(out))
			return 0;
		snprintf(out, len, "%s/../lib/stillprof/%s", dir,
		         SP_PRELOAD_NAME);
		if (file_exists(out))
			return 0;
	}
	snprintf(out, len, "%s/%s", SP_PKGLIBDIR, SP_PRELOAD_NAME);
	return file_exists(out) ? 0 : -ENOENT;
}

/* The directory of the output must exist and accept a new file: try to
 * create (and remove) a temporary file there, exactly as the writer will. */
static int check_out_dir(const char *out, char *why, size_t len)
{
	char copy[PATH_MAX], tmp[PATH_MAX + 32];
	struct stat st;
	int fd;

	if (snprintf(copy, sizeof(copy), "%s", out) >= (int)sizeof(copy)) {
		snprintf(why, len, "output path too long");
		return -ENAMETOOLONG;
	}
	if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(why, len, "%s is a directory", out);
		return -EISDIR;
	}
	snprintf(tmp, sizeof(tmp), "%s/.stillprof-check-XXXXXX",
	         dirname(copy));
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		int err = -errno;
		snprintf(why, len, "cannot write in the directory of %s: %s",
		         out, strerror(errno));
		return err;
	}
	sp_close(fd);
	unlink(tmp);
	return 0;
}

/* Resolve COMMAND like execvp would, so "not found" is reported before
 * anything runs. */
static int find_command(const char *cmd)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (strchr(cmd, '/'))
		return access(cmd, X_OK) == 0 ? 0 : -errno;
	if (!path)
		path = "/usr/bin:/bin";
	while (*path) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n,
		         n ? path : ".", cmd);
		if (access(buf, X_OK) == 0) {
			struct stat st;
			if (stat(buf, &st) == 0 && S_ISREG(st.st_mode))
				return 0;
		}
		path += n + (end ? 1 : 0);
		if (!end)
			break;
	}
	return -ENOENT;
}

/* The back-end choice is checked in this process (same kernel, same
 * seccomp as the child inherits), so a forced back-end that cannot run is
 * reported before COMMAND runs, and the fallback is announced. */
static int check_backend(const struct stillprof_options *opts, char *why,
                         size_t len)
{
	stillprof_session *s;
	int err;

	err = stillprof_session_new(opts, &s);
	if (err) {
		snprintf(why, len, "%s", stillprof_strerror(err));
		return err;
	}
	err = sp_backend_select(s, 0);
	if (err)
		snprintf(why, len, "%s", s->backend_err[0] ? s->backend_err
		                                           : stillprof_strerror(err));
	else if (s->be != &sp_backend_perf && opts->backend ==
	                                         STILLPROF_BACKEND_AUTO)
		fprintf(stderr, "stillprof: perf_event unavailable, falling "
		        "back to the signal back-end (%s)\n", s->backend_reason);
	stillprof_session_free(s);
	return err;
}

static void read_summary(const char *path, char *samples, char *threads,
                         char *backend, char *out, char *error,
                         char *reason, char *guarantee, size_t len)
{
	FILE *f = fopen(path, "re");
	char line[4200];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *eq = strchr(line, '=');
		char *dst = NULL;
		if (!eq)
			continue;
		*eq = '\0';
		eq[strcspn(eq + 1, "\n") + 1] = '\0';
		if (!strcmp(line, "samples"))
			dst = samples;
		else if (!strcmp(line, "threads"))
			dst = threads;
		else if (!strcmp(line, "backend"))
			dst = backend;
		else if (!strcmp(line, "out"))
			dst = out;
		else if (!strcmp(line, "error"))
			dst = error;
		else if (!strcmp(line, "backend_reason"))
			dst = reason;
		else if (!strcmp(line, "guarantee"))
			dst = guarantee;
		if (dst)
			snprintf(dst, len, "%s", eq + 1);
	}
	fclose(f);
}

static int cmd_record(int argc, char **argv)
{
	const char *mode_s = "wall", *interval_s = "1000", *out = NULL;
	const char *backend_s = NULL, *signal_s = NULL;
	struct stillprof_options chk;
	int require_task_work = 0;
	char preload[PATH_MAX], why[1024], summary[PATH_MAX];
	char ld[2 * PATH_MAX], env_buf[PATH_MAX + 64], abs_out[PATH_MAX];
	char cwd[PATH_MAX];
	unsigned interval;
	struct stillprof_control_options co;
	int mode, raw = 1, i, k, err, status, sfd, fmt, first_fmt = -1;
	char formats[256] = "";
	pid_t pid;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "--mode") && i + 1 < argc) {
			mode_s = argv[++i];
		} else if (!strcmp(a, "--interval") && i + 1 < argc) {
			interval_s = argv[++i];
		} else if (!strcmp(a, "--out") && i + 1 < argc) {
			out = argv[++i];
		} else if (!strcmp(a, "--backend") && i + 1 < argc) {
			backend_s = argv[++i];
		} else if (!strcmp(a, "--signal") && i + 1 < argc) {
			signal_s = argv[++i];
		} else if (!strcmp(a, "--require-task-work")) {
			require_task_work = 1;
		} else if (!strcmp(a, "--raw")) {
			raw = 1;
		} else if (!strcmp(a, "--no-raw")) {
			raw = 0;
		} else if (!strcmp(a, "--format") && i + 1 < argc) {
			const char *f = argv[++i];
			if (stillprof_parse_format(f, &fmt)) {
				fprintf(stderr, "stillprof: --format '%s': "
				        "expected stackprof, json, pprof, "
				        "collapsed or speedscope\n", f);
				return 2;
			}
			if (first_fmt < 0)
				first_fmt = fmt;
			if (strlen(formats) + strlen(f) + 2 < sizeof(formats))
				snprintf(formats + strlen(formats),
				         sizeof(formats) - strlen(formats), "%s%s",
				         formats[0] ? "," : "", f);
		} else if ((!strcmp(a, "--max-depth") ||
		            !strcmp(a, "--max-stacks") ||
		            !strcmp(a, "--max-samples") ||
		            !strcmp(a, "--max-threads")) && i + 1 < argc) {
			/* --max-stacks -> STILLPROF_MAX_STACKS, for the
			 * child through the environment. */
			char var[32], *c;
			snprintf(var, sizeof(var), "STILLPROF_%s", a + 2);
			for (c = var; *c; c++)
				*c = *c == '-' ? '_' : (char)toupper(*c);
			if (sp_check_limit_option(var, argv[++i], why,
			                          sizeof(why))) {
				fprintf(stderr, "stillprof: %s: %s\n", a, why);
				return 2;
			}
			setenv(var, argv[i], 1);
		} else if ((k = ctl_flag(a)) >= 0) {
			if (ctl_flags[k].has_arg &&
			    (i + 1 >= argc || !strcmp(argv[i + 1], "--"))) {
				fprintf(stderr, "stillprof: %s needs a value\n",
				        a);
				return 2;
			}
			setenv(ctl_flags[k].var,
			       ctl_flags[k].has_arg ? argv[++i] : "1", 1);
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (a[0] == '-') {
			fprintf(stderr, "stillprof: unknown or incomplete "
			                "option '%s'\n", a);
			usage(stderr);
			return 2;
		} else {
			break; /* COMMAND without "--" */
		}
	}
	if (i >= argc) {
		fprintf(stderr, "stillprof: record: no COMMAND given\n");
		usage(stderr);
		return 2;
	}
	if (stillprof_parse_mode(mode_s, &mode)) {
		fprintf(stderr, "stillprof: --mode '%s': expected wall or cpu\n",
		        mode_s);
		return 2;
	}
	if (stillprof_parse_interval(interval_s, &interval)) {
		fprintf(stderr, "stillprof: --interval '%s': expected "
		                "microseconds in 1..1000000\n", interval_s);
		return 2;
	}
	if (out && !*out) {
		fprintf(stderr, "stillprof: --out: empty file name\n");
		return 2;
	}
	/* The control flags (and variables inherited from the caller) as
	 * the child will read them. */
	stillprof_control_options_init(&co);
	if (stillprof_control_options_from_env(&co, why, sizeof(why))) {
		const char *flag = "option";
		for (k = 0; k < (int)SP_ARRAY_LEN(ctl_flags); k++)
			if (!strncmp(why, ctl_flags[k].var,
			             strlen(ctl_flags[k].var)) &&
			    why[strlen(ctl_flags[k].var)] == '=')
				flag = ctl_flags[k].flag;
		fprintf(stderr, "stillprof: %s: %s\n", flag, why);
		return 2;
	}
	stillprof_options_init(&chk);
	chk.mode = mode;
	chk.interval_us = interval;
	chk.require_task_work = require_task_work;
	if (backend_s && stillprof_parse_backend(backend_s, &chk.backend)) {
		fprintf(stderr, "stillprof: --backend '%s': expected auto, "
		                "perf or signal\n", backend_s);
		return 2;
	}
	if (signal_s && stillprof_parse_signal(signal_s, &chk.signal)) {
		fprintf(stderr, "stillprof: --signal '%s': expected a free "
		                "signal (SIGRTMIN+N, SIGPROF, a number)\n",
		        signal_s);
		return 2;
	}
	/* COMMAND may change directory before it exits: a relative output
	 * path is made absolute here, where it was checked. */
	if (out && out[0] != '/') {
		if (!getcwd(cwd, sizeof(cwd)) ||
		    snprintf(abs_out, sizeof(abs_out), "%s/%s", cwd, out) >=
		        (int)sizeof(abs_out)) {
			fprintf(stderr, "stillprof: --out: path too long\n");
			return 2;
		}
		out = abs_out;
	}
	if (out && check_out_dir(out, why, sizeof(why))) {
		fprintf(stderr, "stillprof: --out: %s\n", why);
		return 2;
	}
	if (!out && check_out_dir("./x", why, sizeof(why))) {
		fprintf(stderr, "stillprof: current directory: %s\n", why);
		return 2;
	}
	if (find_command(argv[i])) {
		fprintf(stderr, "stillprof: %s: command not found\n", argv[i]);
		return 127;
	}
	if (find_preload(preload, sizeof(preload))) {
		fprintf(stderr, "stillprof: cannot find %s (set "
		                "STILLPROF_PRELOAD_LIB)\n", SP_PRELOAD_NAME);
		return 2;
	}
	if ((err = check_backend(&chk, why, sizeof(why)))) {
		fprintf(stderr, "stillprof: cannot profile: %s\n", why);
		return 2;
	}
	{
		const char *tmpdir = getenv("TMPDIR");
		snprintf(summary, sizeof(summary), "%s/stillprof-summary-XXXXXX",
		         tmpdir && *tmpdir ? tmpdir : "/tmp");
	}
	sfd = mkostemp(summary, O_CLOEXEC);
	if (sfd < 0) {
		fprintf(stderr, "stillprof: summary file: %s\n", strerror(errno));
		return 2;
	}
	sp_close(sfd);

	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "stillprof: fork: %s\n", strerror(errno));
		unlink(summary);
		return 2;
	}
	if (pid == 0) {
		const char *old = getenv("LD_PRELOAD");
		if (old && *old)
			snprintf(ld, sizeof(ld), "%s:%s", preload, old);
		else
			snprintf(ld, sizeof(ld), "%s", preload);
		setenv("LD_PRELOAD", ld, 1);
		setenv("STILLPROF_MODE", mode_s, 1);
		setenv("STILLPROF_INTERVAL", interval_s, 1);
		setenv("STILLPROF_RAW", raw ? "1" : "0", 1);
		setenv("STILLPROF_SUMMARY", summary, 1);
		/* The command line decides: nothing inherited overrides it. */
		setenv("STILLPROF_BACKEND",
		       stillprof_backend_name(chk.backend), 1);
		if (signal_s)
			setenv("STILLPROF_SIGNAL", signal_s, 1);
		else
			unsetenv("STILLPROF_SIGNAL");
		setenv("STILLPROF_REQUIRE_TASK_WORK",
		       require_task_work ? "1" : "0", 1);
		snprintf(env_buf, sizeof(env_buf), "%d", (int)getpid());
		setenv("STILLPROF_ROOT_PID", env_buf, 1);
		if (formats[0])
			setenv("STILLPROF_FORMAT", formats, 1);
		else
			unsetenv("STILLPROF_FORMAT");
		if (out) {
			setenv("STILLPROF_OUT", out, 1);
		} else {
			if (!getcwd(cwd, sizeof(cwd)))
				snprintf(cwd, sizeof(cwd), ".");
			snprintf(env_buf, sizeof(env_buf), "%s/stillprof-%d%s",
			         cwd, (int)getpid(),
			         stillprof_format_extension(
			             first_fmt < 0 ? STILLPROF_FORMAT_STACKPROF
			                           : first_fmt));
			setenv("STILLPROF_OUT", env_buf, 1);
		}
		execvp(argv[i], argv + i);
		fprintf(stderr, "stillprof: %s: %s\n", argv[i], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	/* Like system(3): the terminal's ^C and ^\ are for COMMAND; we wait
	 * for it and report. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "stillprof: waitpid: %s\n",
			        strerror(errno));
			unlink(summary);
			return 2;
		}
	}
	{
		char samples[4200] = "0", threads[4200] = "0";
		char backend[4200] = "none", path[4200] = "", error[4200] = "";
		char reason[4200] = "", guarantee[4200] = "";
		read_summary(summary, samples, threads, backend, path, error,
		             reason, guarantee, sizeof(path));
		unlink(summary);
		if (error[0])
			fprintf(stderr, "stillprof: error: %s\n", error);
		else if (!path[0])
			fprintf(stderr, "stillprof: no profile written (the "
			                "program ended without running exit "
			                "handlers?)\n");
		else {
			if (reason[0])
				fprintf(stderr, "stillprof: back-end %s (%s); "
				        "guarantee: %s\n", backend, reason,
				        guarantee);
			fprintf(stderr,
			        "stillprof: %s samples, %s threads, back-end %s, "
			        "written to %s\n",
			        samples, threads, backend, path);
		}
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "record"))
		return cmd_record(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "report"))
		return sp_report_main(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "--version")) {
		printf("stillprof %s\n", STILLPROF_VERSION);
		return 0;
	}
	if (argc >= 2 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
