/*
 * config.c - session options: defaults, validation, and the STILLPROF_*
 * environment variables read by the LD_PRELOAD activation and the CLI.
 * Parsing is strict (whole string, range-checked) so a typo is an error,
 * never a silently different profile.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Store indices are 32-bit; samples are bounded by address space. */
#define SP_MAX_STACKS_LIMIT 4000000000ul
#define SP_MAX_SAMPLES_LIMIT (1ul << 40)
#define SP_MAX_THREADS_LIMIT 4000000000ul

void stillprof_options_init(struct stillprof_options *o)
{
	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	o->mode = STILLPROF_MODE_WALL;
	o->interval_us = 1000;
	o->raw = 1;
	o->max_depth = 128;
	o->out = NULL;
	o->backend = STILLPROF_BACKEND_AUTO;
	o->signal = 0; /* SIGRTMIN + STILLPROF_DEFAULT_SIGNAL_OFFSET */
	o->require_task_work = 0;
	o->max_stacks = STILLPROF_DEFAULT_MAX_STACKS;
	o->max_samples = STILLPROF_DEFAULT_MAX_SAMPLES;
	o->max_threads = STILLPROF_DEFAULT_MAX_THREADS;
}

static const char *const backend_names[] = {
    [STILLPROF_BACKEND_AUTO] = "auto",
    [STILLPROF_BACKEND_PERF] = "perf",
    [STILLPROF_BACKEND_SIGNAL] = "signal",
};

int stillprof_parse_backend(const char *s, int *backend)
{
	if (!s)
		return STILLPROF_EBADOPTION;
	for (int i = 0; i < (int)SP_ARRAY_LEN(backend_names); i++) {
		if (!strcmp(s, backend_names[i])) {
			*backend = i;
			return 0;
		}
	}
	if (!strcmp(s, "perf_event")) {
		*backend = STILLPROF_BACKEND_PERF;
		return 0;
	}
	return STILLPROF_EBADOPTION;
}

const char *stillprof_backend_name(int backend)
{
	if (backend < 0 || backend >= (int)SP_ARRAY_LEN(backend_names))
		return NULL;
	return backend_names[backend];
}

/* Signals the sampling signal may not be: uncatchable, synchronous
 * faults, job control, and the ones a process expects with their
 * default meaning.  Real-time signals below SIGRTMIN are glibc's. */
static int signal_usable(int sig)
{
	switch (sig) {
	case SIGKILL: case SIGSTOP: case SIGSEGV: case SIGBUS: case SIGFPE:
	case SIGILL: case SIGTRAP: case SIGABRT: case SIGSYS: case SIGCHLD:
	case SIGCONT: case SIGTSTP: case SIGTTIN: case SIGTTOU: case SIGINT:
	case SIGTERM: case SIGQUIT: case SIGHUP: case SIGPIPE:
		return 0;
	default:
		return sig > 0 && sig < NSIG &&
		       (sig < 32 || (sig >= SIGRTMIN && sig <= SIGRTMAX));
	}
}

/* "+N"/"-N" after a base name: a small offset, whole string. */
static int parse_offset(const char *s, int *off)
{
	char *end;
	long v;

	if (!*s) {
		*off = 0;
		return 0;
	}
	if ((*s != '+' && *s != '-') || !isdigit((unsigned char)s[1]))
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < -64 || v > 64)
		return -EINVAL;
	*off = (int)v;
	return 0;
}

int stillprof_parse_signal(const char *s, int *sig)
{
	static const struct {
		const char *name;
		int sig;
	} named[] = {{"PROF", SIGPROF}, {"VTALRM", SIGVTALRM},
	             {"USR1", SIGUSR1}, {"USR2", SIGUSR2}};
	int v = -1, off;

	if (!s || !*s)
		return STILLPROF_EBADOPTION;
	if (isdigit((unsigned char)s[0])) {
		char *end;
		long n;
		errno = 0;
		n = strtol(s, &end, 10);
		if (errno || *end || n <= 0 || n >= NSIG)
			return STILLPROF_EBADOPTION;
		v = (int)n;
	} else {
		if (!strncmp(s, "SIG", 3))
			s += 3;
		if (!strncmp(s, "RTMIN", 5) && !parse_offset(s + 5, &off))
			v = SIGRTMIN + off;
		else if (!strncmp(s, "RTMAX", 5) && !parse_offset(s + 5, &off))
			v = SIGRTMAX + off;
		for (size_t i = 0; v < 0 && i < SP_ARRAY_LEN(named); i++)
			if (!strcmp(s, named[i].name))
				v = named[i].sig;
	}
	if (!signal_usable(v))
		return STILLPROF_EBADOPTION;
	*sig = v;
	return 0;
}

int stillprof_parse_mode(const char *s, int *mode)
{
	if (!s)
		return STILLPROF_EBADMODE;
	if (!strcmp(s, "wall")) {
		*mode = STILLPROF_MODE_WALL;
		return 0;
	}
	if (!strcmp(s, "cpu")) {
		*mode = STILLPROF_MODE_CPU;
		return 0;
	}
	return STILLPROF_EBADMODE;
}

/* Parse a whole decimal number in [lo, hi]; leading/trailing blanks and
 * signs are refused so "1e3", " 5" or "-1" are errors. */
static int parse_range(const char *s, unsigned long lo, unsigned long hi,
                       unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -ERANGE;
	*out = v;
	return 0;
}

int stillprof_parse_interval(const char *s, unsigned *us)
{
	unsigned long v;

	if (parse_range(s, 1, 1000000, &v))
		return STILLPROF_EBADINTERVAL;
	*us = (unsigned)v;
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	if (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "yes") ||
	    !strcmp(s, "on")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "no") ||
	    !strcmp(s, "off")) {
		*out = 0;
		return 0;
	}
	return -EINVAL;
}

static int env_error(char *errbuf, size_t errlen, int err, const char *var,
                     const char *val, const char *expect)
{
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s=\"%s\": %s (expected %s)", var,
		         val, stillprof_strerror(err), expect);
	return err;
}

int sp_options_from_lookup(struct stillprof_options *opts,
                           const char *(*get)(void *ctx, const char *name),
                           void *ctx, char *errbuf, size_t errlen)
{
	struct stillprof_options o = *opts;
	const char *v;
	unsigned long depth;

	if ((v = get(ctx, "STILLPROF_MODE")) && *v &&
	    stillprof_parse_mode(v, &o.mode))
		return env_error(errbuf, errlen, STILLPROF_EBADMODE,
		                 "STILLPROF_MODE", v, "wall or cpu");
	if ((v = get(ctx, "STILLPROF_INTERVAL")) && *v &&
	    stillprof_parse_interval(v, &o.interval_us))
		return env_error(errbuf, errlen, STILLPROF_EBADINTERVAL,
		                 "STILLPROF_INTERVAL", v,
		                 "microseconds, 1..1000000");
	if ((v = get(ctx, "STILLPROF_RAW")) && *v && parse_bool(v, &o.raw))
		return env_error(errbuf, errlen, STILLPROF_EBADOPTION,
		                 "STILLPROF_RAW", v, "1/0, true/false");
	if ((v = get(ctx, "STILLPROF_MAX_DEPTH")) && *v) {
		if (parse_range(v, 1, 1024, &depth))
			return env_error(errbuf, errlen, STILLPROF_EBADOPTION,
			                 "STILLPROF_MAX_DEPTH", v, "1..1024");
		o.max_depth = (int)depth;
	}
	if ((v = get(ctx, "STILLPROF_MAX_STACKS")) && *v &&
	    parse_range(v, 0, SP_MAX_STACKS_LIMIT, &o.max_stacks))
		return env_error(errbuf, errlen, STILLPROF_EBADOPTION,
		                 "STILLPROF_MAX_STACKS", v,
		                 "0 (no bound) or a number of stacks");
	if ((v = get(ctx, "STILLPROF_MAX_SAMPLES")) && *v &&
	    parse_range(v, 0, SP_MAX_SAMPLES_LIMIT, &o.max_samples))
		return env_error(errbuf, errlen, STILLPROF_EBADOPTION,
		                 "STILLPROF_MAX_SAMPLES", v,
		                 "0 (no bound) or a number of samples");
	if ((v = get(ctx, "STILLPROF_MAX_THREADS")) && *v &&
	    parse_range(v, 0, SP_MAX_THREADS_LIMIT, &o.max_threads))
		return env_error(errbuf, errlen, STILLPROF_EBADOPTION,
		                 "STILLPROF_MAX_THREADS", v,
		                 "0 (no bound) or a number of threads");
	if ((v = get(ctx, "STILLPROF_OUT")) && *v)
		o.out = v;
	if ((v = getenv("STILLPROF_BACKEND")) && *v &&
	    stillprof_parse_backend(v, &o.backend))
		return env_error(errbuf, errlen, STILLPROF_EBADOPTION,
		                 "STILLPROF_BACKEND", v, "auto, perf or signal");
	if ((v = getenv("STILLPROF_SIGNAL")) && *v &&
	    stillprof_parse_signal(v, &o.signal))
		return env_error(errbuf, errlen, STILLPROF_EBADOPTION,
		                 "STILLPROF_SIGNAL", v,
		                 "a free signal: SIGRTMIN+N, SIGPROF, a number");
	if ((v = getenv("STILLPROF_REQUIRE_TASK_WORK")) && *v &&
	    parse_bool(v, &o.require_task_work))
		return env_error(errbuf, errlen, STILLPROF_EBADOPTION,
		                 "STILLPROF_REQUIRE_TASK_WORK", v,
		                 "1/0, true/false");
	*opts = o;
	return 0;
}

static const char *env_get(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

int stillprof_options_from_env(struct stillprof_options *opts, char *errbuf,
                               size_t errlen)
{
	return sp_options_from_lookup(opts, env_get, NULL, errbuf, errlen);
}

/* Check one of the bound variables (STILLPROF_MAX_DEPTH, _STACKS,
 * _SAMPLES, _THREADS) as the environment parser would: the CLI uses it to refuse a
 * bad flag before it runs anything. */
int sp_check_limit_option(const char *var, const char *val, char *errbuf,
                          size_t errlen)
{
	unsigned long v, lo = 0, hi = SP_MAX_SAMPLES_LIMIT;
	const char *expect = "0 (no bound) or a number of samples";

	if (!strcmp(var, "STILLPROF_MAX_DEPTH")) {
		lo = 1;
		hi = 1024;
		expect = "1..1024";
	} else if (!strcmp(var, "STILLPROF_MAX_STACKS")) {
		hi = SP_MAX_STACKS_LIMIT;
		expect = "0 (no bound) or a number of stacks";
	} else if (!strcmp(var, "STILLPROF_MAX_THREADS")) {
		hi = SP_MAX_THREADS_LIMIT;
		expect = "0 (no bound) or a number of threads";
	}
	if (parse_range(val, lo, hi, &v))
		return env_error(errbuf, errlen, STILLPROF_EBADOPTION, var,
		                 val ? val : "", expect);
	return 0;
}

/* Validate a full option set (used by stillprof_session_new). */
int sp_options_check(const struct stillprof_options *o)
{
	if (o->mode != STILLPROF_MODE_WALL && o->mode != STILLPROF_MODE_CPU)
		return STILLPROF_EBADMODE;
	if (o->interval_us < 1 || o->interval_us > 1000000)
		return STILLPROF_EBADINTERVAL;
	if (o->max_depth < 1 || o->max_depth > 1024)
		return STILLPROF_EBADOPTION;
	if (!stillprof_backend_name(o->backend))
		return STILLPROF_EBADOPTION;
	if (o->signal != 0 && !signal_usable(o->signal))
		return STILLPROF_EBADOPTION;
	if (o->max_stacks > SP_MAX_STACKS_LIMIT ||
	    o->max_samples > SP_MAX_SAMPLES_LIMIT ||
	    o->max_threads > SP_MAX_THREADS_LIMIT)
		return STILLPROF_EBADOPTION;
	return 0;
}
