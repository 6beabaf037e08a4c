/*
 * stillprof.h - public API of libstillprof, a wall-clock and CPU sampling
 * profiler whose dedicated sampling thread never sends a signal to an
 * application thread.
 *
 * Conventions: every int function returns 0 on success or a negative error
 * code (-errno, or one of the STILLPROF_E* codes below); stillprof_strerror()
 * turns it into text.  Objects are created with _new and released with
 * _free; _free(NULL) is a no-op.  Strings handed out by the library are
 * owned by the library unless a function says otherwise.
 */
#ifndef STILLPROF_H
#define STILLPROF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STILLPROF_API __attribute__((visibility("default")))

#define STILLPROF_VERSION "0.1.0"

/* Library-specific error codes, outside errno's range. */
#define STILLPROF_ERRNO_MAP(XX)                                                \
	XX(ENOBACKEND, -4000, "no sampling back-end is available")                \
	XX(EBADFORMAT, -4001, "unknown or unsupported output format")             \
	XX(EBADMODE, -4002, "unknown mode (expected wall or cpu)")                \
	XX(EBADINTERVAL, -4003, "interval out of range (1..1000000 us)")          \
	XX(ERUNNING, -4004, "the session is running")                             \
	XX(ENOTRUNNING, -4005, "the session is not running")                      \
	XX(EPERFDENIED, -4006, "perf_event_open is denied")                       \
	XX(EDEAD, -4007, "the session belongs to the parent of a fork")           \
	XX(EBADOPTION, -4008, "invalid option value")                          \
	XX(ESIGBUSY, -4009, "the sampling signal already has a handler")          \
	XX(ENOTASKWORK, -4010, "the kernel delivers CPU-timer signals in the "    \
	                       "tick interrupt (no "                              \
	                       "CONFIG_POSIX_CPU_TIMERS_TASK_WORK)")

enum {
#define XX(name, val, msg) STILLPROF_##name = (val),
	STILLPROF_ERRNO_MAP(XX)
#undef XX
};

/* Text for an error code (static storage); never NULL. */
STILLPROF_API const char *stillprof_strerror(int err);
/* Symbolic name of an error code, e.g. "EPERFDENIED" or "ENOMEM". */
STILLPROF_API const char *stillprof_errname(int err);

enum stillprof_mode {
	STILLPROF_MODE_WALL = 0, /* on-CPU and off-CPU (blocked) time */
	STILLPROF_MODE_CPU = 1,  /* on-CPU time only */
};

/*
 * Capture back-ends.  AUTO uses perf_event when perf_event_open works and
 * the signal back-end otherwise; PERF and SIGNAL force one (a forced one
 * that cannot run makes start fail).
 *   perf_event: the kernel takes every sample, no signal is ever sent.
 *   signal:     per-thread CPU-time timers (timer_create on the thread's
 *               CPU clock, SIGEV_THREAD_ID): a signal reaches a thread only
 *               while it consumes CPU, on return to user mode; blocked
 *               threads are read from /proc, never signaled.  Resolution:
 *               the scheduler tick.
 */
enum stillprof_backend {
	STILLPROF_BACKEND_AUTO = 0,
	STILLPROF_BACKEND_PERF = 1,
	STILLPROF_BACKEND_SIGNAL = 2,
};

/* The signal back-end's default signal: SIGRTMIN+3 (a real-time signal,
 * so not SIGPROF, which gperftools, ITIMER_PROF users and language
 * runtimes own; glibc keeps the two below SIGRTMIN for itself). */
#define STILLPROF_DEFAULT_SIGNAL_OFFSET 3

enum stillprof_format {
	STILLPROF_FORMAT_STACKPROF = 0,  /* Ruby Marshal 4.8 stackprof dump */
	STILLPROF_FORMAT_JSON = 1,       /* the same Hash as stackprof --json */
	STILLPROF_FORMAT_PPROF = 2,      /* gzipped profile.proto */
	STILLPROF_FORMAT_COLLAPSED = 3,  /* folded stacks, thread as root */
	STILLPROF_FORMAT_SPEEDSCOPE = 4, /* speedscope file format */
	STILLPROF_FORMAT_COUNT
};

/* Parse a format name: "stackprof" (or "dump"), "json", "pprof",
 * "collapsed", "speedscope".  Returns 0 or STILLPROF_EBADFORMAT. */
STILLPROF_API int stillprof_parse_format(const char *name, int *format);
/* The format a file name implies by its extension (".pb.gz" pprof,
 * ".speedscope.json" speedscope, ".json" JSON, ".folded"/".collapsed"
 * collapsed), else STILLPROF_FORMAT_STACKPROF. */
STILLPROF_API int stillprof_format_for_path(const char *path);
/* Name ("pprof") and usual extension (".pb.gz") of a format; NULL when
 * the format is unknown. */
STILLPROF_API const char *stillprof_format_name(int format);
STILLPROF_API const char *stillprof_format_extension(int format);

enum stillprof_log_level {
	STILLPROF_LOG_ERROR = 0,
	STILLPROF_LOG_WARN = 1,
	STILLPROF_LOG_INFO = 2,
	STILLPROF_LOG_DEBUG = 3,
};

/*
 * Options of a session.  Initialise with stillprof_options_init() (defaults:
 * wall mode, 1000 us, raw on), then change fields.  `sz` lets the structure
 * grow without breaking callers: set by stillprof_options_init.
 */
struct stillprof_options {
	size_t sz;
	int mode;              /* enum stillprof_mode */
	unsigned interval_us;  /* 1..1000000 */
	int raw;               /* keep every sample (stackprof :raw arrays) */
	int max_depth;         /* frames kept per stack, 1..1024 (default 128) */
	const char *out;       /* output path used by stillprof_session_write(NULL) */
	/* Added in 0.2 (callers built earlier get the defaults): */
	int backend;           /* enum stillprof_backend (default AUTO) */
	int signal;            /* signal back-end's signal; 0: SIGRTMIN+3 */
	int require_task_work; /* refuse the signal back-end on kernels
	                        * without CONFIG_POSIX_CPU_TIMERS_TASK_WORK
	                        * (there a timer signal can interrupt a system
	                        * call); default 0: use it and say so */
	/* Memory bounds for long runs (0 = no bound).  A sample whose stack
	 * would be the (max_stacks+1)-th distinct one, or that comes after
	 * max_samples, is dropped and counted in missed_samples and in the
	 * profile's metadata; stacks deeper than max_depth are cut and
	 * counted.  Defaults: STILLPROF_DEFAULT_MAX_*. */
	unsigned long max_stacks;
	unsigned long max_samples;
	/* Thread entries kept (0 = no bound; default
	 * STILLPROF_DEFAULT_MAX_THREADS): threads seen past the bound share
	 * one entry named "(other threads)" (tid 0), so their samples stay
	 * in the profile, and are counted in the metadata (thread_limit). */
	unsigned long max_threads;
};

/* At most ~100 MB of stacks at the default max_depth (40 bytes + 16 per
 * frame once symbolized) and 96 MB of samples (24 bytes each): a bound
 * whatever the length of the run. */
#define STILLPROF_DEFAULT_MAX_STACKS 50000ul
#define STILLPROF_DEFAULT_MAX_SAMPLES 4000000ul
/* ~48 bytes each (entry and tid index): under 1 MB. */
#define STILLPROF_DEFAULT_MAX_THREADS 16384ul

STILLPROF_API void stillprof_options_init(struct stillprof_options *opts);

/*
 * Overlay STILLPROF_MODE, STILLPROF_INTERVAL, STILLPROF_RAW, STILLPROF_OUT,
 * STILLPROF_MAX_DEPTH, STILLPROF_MAX_STACKS, STILLPROF_MAX_SAMPLES,
 * STILLPROF_MAX_THREADS, STILLPROF_BACKEND, STILLPROF_SIGNAL and STILLPROF_REQUIRE_TASK_WORK
 * from the environment onto *opts.  Strings point into the environment.
 * Returns 0, STILLPROF_EBADMODE, STILLPROF_EBADINTERVAL or
 * STILLPROF_EBADOPTION; on error *opts is unchanged and, if errbuf is not
 * NULL, a message naming the variable is written there.
 */
STILLPROF_API int stillprof_options_from_env(struct stillprof_options *opts,
                                             char *errbuf, size_t errlen);

/* Parse "wall"/"cpu" and an interval string; used by the CLI and env. */
STILLPROF_API int stillprof_parse_mode(const char *s, int *mode);
STILLPROF_API int stillprof_parse_interval(const char *s, unsigned *us);
/* Parse "auto", "perf" (or "perf_event"), "signal".  Returns 0 or
 * STILLPROF_EBADOPTION (then *backend is unchanged). */
STILLPROF_API int stillprof_parse_backend(const char *s, int *backend);
/* Name of a back-end choice ("auto", "perf", "signal"); NULL if unknown. */
STILLPROF_API const char *stillprof_backend_name(int backend);
/* Parse a signal for the signal back-end: a number, "SIGRTMIN+N" /
 * "RTMIN+N", "SIGRTMAX-N", "SIGPROF", "SIGVTALRM", "SIGUSR1/2".  Signals
 * the profiler must not take (SIGKILL, SIGSTOP, SIGSEGV, ..., glibc's
 * internal ones) are refused.  Returns 0 or STILLPROF_EBADOPTION. */
STILLPROF_API int stillprof_parse_signal(const char *s, int *sig);

typedef struct stillprof_session stillprof_session;

/*
 * Create a session (copies the options).  Nothing runs until start.
 * Returns 0 and *out, or -ENOMEM, STILLPROF_EBADMODE, STILLPROF_EBADINTERVAL.
 */
STILLPROF_API int stillprof_session_new(const struct stillprof_options *opts,
                                        stillprof_session **out);

/*
 * Start sampling every thread of the process (threads created later are
 * added as they appear).  Samples accumulate across start/stop pairs until
 * the session is freed.  Returns 0, STILLPROF_ERUNNING,
 * STILLPROF_EPERFDENIED (back-end perf forced and denied; see
 * stillprof_session_backend_error), STILLPROF_ESIGBUSY (the application
 * handles the signal back-end's signal), STILLPROF_ENOTASKWORK (refused by
 * require_task_work), or -errno.
 * Thread-safe with respect to the application's threads; do not call start
 * and stop on one session concurrently from two threads.
 */
STILLPROF_API int stillprof_session_start(stillprof_session *s);

/* Stop: wake the sampling thread, join it, close its fds.  A second stop is
 * a no-op returning STILLPROF_ENOTRUNNING. */
STILLPROF_API int stillprof_session_stop(stillprof_session *s);

STILLPROF_API int stillprof_session_running(const stillprof_session *s);

/* Why the back-end could not be opened (static or session-owned text), or
 * NULL if it opened. */
STILLPROF_API const char *stillprof_session_backend_error(const stillprof_session *s);

/* After a successful start: the back-end in use ("perf_event" or
 * "signal"), why it was chosen (e.g. "auto: perf_event_open: EACCES,
 * kernel.perf_event_paranoid=3"), and what it guarantees (the texts stored
 * in the profile's metadata).  Session-owned; NULL before the first
 * start. */
STILLPROF_API const char *stillprof_session_backend(const stillprof_session *s);
STILLPROF_API const char *stillprof_session_backend_reason(const stillprof_session *s);
STILLPROF_API const char *stillprof_session_guarantee(const stillprof_session *s);

struct stillprof_stats {
	uint64_t samples;         /* samples recorded */
	uint64_t missed_samples;  /* ticks or records lost, never replayed */
	uint64_t oncpu_samples;   /* from the CPU clock event */
	uint64_t offcpu_samples;  /* blocked-thread samples (wall mode) */
	uint64_t threads_seen;    /* distinct threads sampled or attached */
	uint64_t unique_stacks;
	uint64_t sampler_cpu_ns;  /* CPU time consumed by the sampling thread
	                           * (while it runs: up to now) */
	uint64_t unwind_ns;       /* time spent unwinding in the sampler
	                           * (one unwind in 16 is timed) */
	uint64_t unwinds;         /* stacks unwound */
	uint64_t duration_ns;     /* wall time between starts and stops */
	const char *backend;      /* e.g. "perf_event" (static storage) */
	uint64_t weighted_samples; /* of oncpu_samples, those recorded as
	                            * copies: one kernel sample (or signal)
	                            * stood for several intervals of CPU
	                            * time; oncpu_samples - weighted_samples
	                            * were taken */
	/* wall mode, perf_event: how blocked threads' stacks are read:
	 * "switch_samples" (the kernel copies the stack as the thread blocks;
	 * needs CAP_PERFMON or kernel.perf_event_paranoid <= 1) or
	 * "proc_probe" (the sampling thread reads /proc and the stack); NULL
	 * otherwise.  Static storage. */
	const char *blocked_stacks;
	uint64_t switch_stacks;   /* blocked episodes read from switch samples */
	uint64_t probes;          /* blocked episodes read through /proc */
	/* perf_event: kernel samples (on-CPU, or context-switch samples
	 * giving a blocked stack) whose copy of the user stack ended before
	 * the unwind did, so their outer frames are missing.  Each thread's
	 * copy starts at 8 KiB and doubles (to at most 32 KiB) after a cut
	 * sample: a deep thread has one ring's worth of cut samples per
	 * size it needs. */
	uint64_t cut_samples;
	uint64_t stack_copy_resizes; /* times a thread's copy grew */
};

/*
 * Fill *st; while the session runs, any thread may call it (not
 * concurrently with start or stop).  The struct grows at its end from
 * release to release: size is the caller's sizeof(struct stillprof_stats),
 * and at most that many bytes are written, so a program built against an
 * older header keeps working with a newer library.  Call it through the
 * macro, which passes the size.
 */
STILLPROF_API int stillprof_session_stats_sized(const stillprof_session *s,
                                                struct stillprof_stats *st,
                                                size_t size);
#define stillprof_session_stats(s, st)                                         \
	stillprof_session_stats_sized((s), (st), sizeof(*(st)))

/*
 * Write the collected profile to path (or opts.out when path is NULL) in
 * `format` (enum stillprof_format).  The file is written to a temporary file in the same directory,
 * then renamed: a failure leaves nothing behind and keeps an existing file.
 * Must not be called while running.  Returns 0, STILLPROF_ERUNNING,
 * STILLPROF_EBADFORMAT, -EINVAL (no path) or -errno of the failing call.
 */
STILLPROF_API int stillprof_session_write(stillprof_session *s,
                                          const char *path, int format);

/*
 * Write the profile collected so far without stopping: the sampling thread
 * swaps in a fresh store at its next wake-up (it never waits for this
 * call), and the calling thread merges, symbolizes and writes the samples
 * up to that instant, atomically like stillprof_session_write.  Samples
 * keep accumulating; a later snapshot or write contains these ones too.
 * Any thread may call it while the session runs, even while another
 * thread stops it.  When the session is not running this is
 * stillprof_session_write (which must not race with start).  Returns 0,
 * STILLPROF_EBADFORMAT, -EINVAL (no path), -ETIMEDOUT (the sampler did
 * not answer within 2 s), -EOPNOTSUPP (continuous mode keeps no
 * cumulative profile), STILLPROF_EDEAD (in a child of fork) or -errno
 * of the write.
 */
STILLPROF_API int stillprof_session_snapshot(stillprof_session *s,
                                             const char *path, int format);

/* Stop if needed and free everything.  NULL is a no-op. */
STILLPROF_API void stillprof_session_free(stillprof_session *s);

/*
 * Production controls: a control signal, periodic profiles, a push to a
 * Pyroscope-compatible /ingest endpoint and a pull endpoint serving
 * /debug/pprof/profile?seconds=N.  Each runs on a thread of its own with
 * every signal blocked and works from snapshots (see
 * stillprof_session_snapshot), so neither the application nor the
 * sampling thread ever waits for a disk or a network.
 */
enum stillprof_signal_action {
	STILLPROF_SIGNAL_DUMP = 0,    /* write the profile now */
	STILLPROF_SIGNAL_TOGGLE = 1,  /* pause / resume recording */
};

struct stillprof_control_options {
	size_t sz;
	int signal;            /* control signal (SIGUSR1, SIGUSR2, SIGRTMIN..
	                        * SIGRTMAX); 0 = none (default) */
	int signal_action;     /* enum stillprof_signal_action */
	unsigned period_s;     /* write a profile every N s; 0 = off */
	unsigned keep;         /* keep the last K periodic files; 0 = all */
	const char *out;       /* path pattern of the files written: %p pid,
	                        * %t UTC time, %% '%'; NULL = default */
	int format;            /* enum stillprof_format of those files */
	const char *push_url;  /* http://HOST:PORT/ingest; NULL = no push */
	const char *app;       /* application name; NULL = program name */
	const char *labels;    /* "k=v,k=v" added to the pushed name */
	unsigned push_period_s; /* push period when period_s is 0 (10) */
	const char *http;      /* "127.0.0.1:PORT", "[::1]:PORT" or
	                        * "unix:/PATH"; NULL = no pull endpoint */
	int http_any_addr;     /* allow a non-loopback address */
};

typedef struct stillprof_controls stillprof_controls;

STILLPROF_API void stillprof_control_options_init(
    struct stillprof_control_options *o);

/*
 * Overlay STILLPROF_CONTROL_SIGNAL, STILLPROF_SIGNAL_ACTION, STILLPROF_PERIOD,
 * STILLPROF_KEEP, STILLPROF_OUT, STILLPROF_FORMAT (first entry),
 * STILLPROF_PUSH_URL, STILLPROF_APP, STILLPROF_LABELS, STILLPROF_HTTP and
 * STILLPROF_HTTP_ANY_ADDR.  Strings point into the environment.  Returns
 * 0 or STILLPROF_EBADOPTION with a message naming the variable.
 */
STILLPROF_API int stillprof_control_options_from_env(
    struct stillprof_control_options *o, char *errbuf, size_t errlen);

/*
 * Start the controls of a session; with a control signal the session
 * must not be running yet.  THE SIGNAL MUST BE BLOCKED IN EVERY THREAD:
 * this call blocks it in the calling thread, so call it before creating
 * any thread (threads inherit the mask); a thread that has it unblocked
 * would be killed by it.  With period_s, the session keeps no cumulative
 * profile (each period is written and dropped; stillprof_session_write
 * after stop has the last period only).  Returns 0, STILLPROF_ERUNNING,
 * STILLPROF_EBADOPTION, -EPERM (a non-loopback address without
 * http_any_addr) or -errno, with a message in errbuf.
 */
STILLPROF_API int stillprof_controls_start(
    stillprof_session *s, const struct stillprof_control_options *o,
    stillprof_controls **out, char *errbuf, size_t errlen);

/* Stop the controls: call after stillprof_session_stop and before
 * stillprof_session_free (the threads use the session).  Writes and
 * pushes the last period, stops the threads (bounded by the push
 * timeouts: 2 s connect, name lookup included, and 5 s I/O; the push
 * thread gets at most 10 s in all).  NULL is a no-op. */
STILLPROF_API void stillprof_controls_stop(stillprof_controls *c);

/* Log callback; NULL restores the default (stderr when STILLPROF_LOG is set,
 * else silent). */
typedef void stillprof_log_fn(int level, const char *msg, void *ctx);
STILLPROF_API void stillprof_set_log(stillprof_log_fn *fn, void *ctx);

/* ---- profiles whose frames the caller supplies (api_profile.c) ----
 * For language bindings that sample their own stacks (the Ruby gem): add
 * frames and threads, then samples as stacks of frame handles, and write
 * the profile in any output format. */
typedef struct stillprof_profile stillprof_profile;

/* Not an enum stillprof_format: only profiles write it (for now). */
#define STILLPROF_FORMAT_FLAMEGRAPH_HTML 100

/* mode: enum stillprof_mode; interval_us: 1..1000000.  Returns 0,
 * STILLPROF_EBADMODE, STILLPROF_EBADINTERVAL or -ENOMEM. */
STILLPROF_API int stillprof_profile_new(stillprof_profile **out, int mode,
                                        unsigned interval_us);
/* A frame: name and file are copied (file may be NULL or ""), line is the
 * first line (0 when unknown).  *frame is its handle. */
STILLPROF_API int stillprof_profile_add_frame(stillprof_profile *p,
                                              const char *name,
                                              const char *file, int line,
                                              uint32_t *frame);
/* A thread (tid, name may be NULL); *thread is its handle.  The same tid
 * returns the same handle. */
STILLPROF_API int stillprof_profile_add_thread(stillprof_profile *p,
                                               pid_t tid, const char *name,
                                               uint32_t *thread);
/* One sample of thread: n frame handles, leaf first, and the current line
 * of each (lines may be NULL), taken at t_ns (CLOCK_MONOTONIC), off_cpu
 * non-zero when the thread was not running.  Returns 0, -ENOMEM, or
 * -EINVAL for a bad handle. */
STILLPROF_API int stillprof_profile_add_sample(stillprof_profile *p,
                                               uint32_t thread,
                                               const uint32_t *frames,
                                               const int32_t *lines,
                                               uint32_t n, uint64_t t_ns,
                                               int off_cpu);
/* Write atomically (as stillprof_session_write) in format (enum
 * stillprof_format or STILLPROF_FORMAT_FLAMEGRAPH_HTML).  Returns 0,
 * STILLPROF_EBADFORMAT, -EINVAL (no path) or -errno. */
STILLPROF_API int stillprof_profile_write(stillprof_profile *p,
                                          const char *path, int format);
STILLPROF_API void stillprof_profile_free(stillprof_profile *p);

#ifdef __cplusplus
}
#endif
#endif
