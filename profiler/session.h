/*
 * session.h - the state of a profiling session, shared by api.c (public
 * entry points), sampler.c (the sampling thread), backend_perf.c (perf
 * events) and probe.c (blocked threads).  While the sampling thread runs it
 * alone touches everything below `owned by the sampling thread`; the
 * application thread calling stop only writes `stop` and the eventfd.
 */
#ifndef SP_SESSION_H
#define SP_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "stillprof.h"
#include "threads.h"

/* epoll tags: the loop's own fds, or a perf fd tagged with its tid. */
#define SP_EV_STOP 1ull
#define SP_EV_TICK 2ull
#define SP_EV_THREAD (1ull << 32)

struct sp_store;
struct sp_maps;
struct stillprof_session;

/* A capture back-end, as the sampling loop sees it (backend.c). */
struct sp_backend {
	const char *name;          /* metadata "backend" (static) */
	int (*attach)(struct stillprof_session *s, pid_t tid);
	void (*detach)(struct stillprof_session *s, struct sp_tstate *ts);
	/* Each tick, per thread: take its samples and, in wall mode, set
	 * run_state (and episode) for the tick just past.  A back-end that
	 * finds the thread gone clears ts->live; the loop then detaches it. */
	void (*drain)(struct stillprof_session *s, struct sp_tstate *ts);
	unsigned cpu_tick_us;      /* drain period in CPU mode */
	unsigned rescan_ms;        /* /proc/self/task rescan period */
};
struct sp_unwinder;
struct sp_symbols;
struct sp_uw_input;
struct sp_snap;

struct sp_counters {
	uint64_t oncpu_samples;
	uint64_t offcpu_samples;
	uint64_t weighted_samples; /* on-CPU samples recorded as copies: a
	                            * kernel sample or signal standing for
	                            * several intervals */
	uint64_t lost_records;     /* PERF_RECORD_LOST */
	uint64_t rings_grown;      /* perf rings made bigger (backend_perf.c) */
	uint64_t ring_grow_failures;
	uint64_t ring_grow_refused; /* threads refused a big ring: budget */
	uint64_t copy_resizes;     /* stack copies resized (stack_copy.c) */
	uint64_t copy_resize_failures;
	uint64_t cut_samples;      /* on-CPU samples whose stack copy ended
	                            * before their unwind did */
	uint64_t missed_ticks;
	uint64_t offcpu_unknown;   /* wall ticks off-CPU with no stack known
	                            * (tick_replay.c) */
	uint64_t unwinds;
	uint64_t unwind_ns;
	uint64_t probes;
	uint64_t probe_ns;
	uint64_t probe_torn;       /* copies discarded: the thread ran */
	uint64_t attach_failures;
	uint64_t threads_seen;
	uint64_t sampler_cpu_ns;
	/* switch_sample.c */
	uint64_t switch_stacks;    /* blocked episodes whose stack came
	                            * from a context-switch sample */
	uint64_t switch_preempt;   /* switch samples of preemptions
	                            * (dropped) */
	uint64_t switch_disabled;  /* switch events turned off for a
	                            * switch-heavy thread */
	uint64_t switch_attach_failures;
};

struct stillprof_session {
	struct stillprof_options opts;
	char *out_path;            /* owned copy of opts.out */
	pid_t owner_pid;           /* a forked child must not touch us */
	int running;
	pthread_t thread;
	atomic_int stop;           /* set by stop(), read by the loop */
	int stop_efd;              /* eventfd: wakes the loop */
	int tick_tfd;              /* timerfd: the sampling tick */
	int epfd;
	int thread_err;            /* error that made the sampler stop */
	char backend_err[256];     /* why perf could not be used */
	const struct sp_backend *be; /* chosen at start (backend.c) */
	char backend_reason[320];  /* why that one */
	char guarantee[1536];      /* what it guarantees */
	char meta_guarantee[1920]; /* "reason; guarantee": the metadata text */
	int sig;                   /* signal back-end: its signal */
	int task_work;             /* signal back-end: enum sp_kcap_state */
	uint64_t sig_check_ns;     /* last check that our handler is in place */
	int sig_lost;              /* the application replaced our handler */
	uint64_t started_ns;
	uint64_t tick_ns;          /* tick period */
	uint64_t tick_base_ns;     /* first expiration (CLOCK_MONOTONIC) */
	/* wall mode, perf: the timerfd fires every wake_ns (tick_ns, or a
	 * multiple when no probe needs the finer passes: tick_replay.c) */
	uint64_t wake_ns;
	uint64_t wake_coarse_ns;   /* the longest period (sp_replay_coarse_ns) */
	uint64_t wake_mid_ns;      /* the middle one (sp_replay_mid_ns) */
	uint64_t wake_window_ns;   /* start of the current judging window */
	double wake_risk;          /* ticks coarse passes would leave
	                            * without a stack, in the window */
	double wake_risk_mid;      /* the same for the middle period */
	size_t big_rings;          /* perf rings grown (backend_perf.c) */
	size_t big_rings_max;      /* at once; 0 until first needed */
	struct sp_snap *snap;      /* snapshots while running (snapshot.h) */

	/* owned by the sampling thread while running */
	pid_t sampler_tid;
	/* The sampling thread's CPU clock, read by stats while it runs;
	 * sampler_clock_ok 0 if pthread_getcpuclockid failed. */
	clockid_t sampler_clock;
	int sampler_clock_ok;
	struct sp_store *store;
	struct sp_maps *maps;
	struct sp_unwinder *uw;
	struct sp_threads threads;
	uint64_t last_scan_ns;
	uint32_t scan_gen;         /* counts rescans (sampler.c) */
	uint64_t *pcs;             /* scratch: max_depth pcs */
	uint8_t *probe_buf;        /* scratch: copied stack of a blocked thread */
	/* switch_sample.c: blocked stacks from context-switch samples (set
	 * at each start), and the latest sample's unwound stack */
	int switch_samples;
	struct sp_switch_pending *switch_pending;
	struct sp_counters c;

	/* fork.c: held by the sampler while it handles a batch, taken by
	 * the prepare handler so the child sees a consistent table. */
	pthread_mutex_t fork_mu;
	struct stillprof_session *fork_next; /* registry of running ones */
	int fork_locked;           /* prepare got fork_mu */
	int child_clean;           /* the child closed the thread fds */
};

/* sampler.c */
int sp_sampler_start(struct stillprof_session *s);
/* CPU time of the running sampling thread so far; 0 if unreadable (it
 * has exited after an error: its time is then in c.sampler_cpu_ns). */
uint64_t sp_sampler_cpu_ns(const struct stillprof_session *s);
int sp_sampler_stop(struct stillprof_session *s);
/* On the sampling thread: drain every thread's samples and, in wall mode
 * (perf), emit the ticks up to now -- a pass without its timer, also run
 * before a snapshot cut so that the cut holds everything up to it. */
void sp_sampler_catch_up(struct stillprof_session *s, uint64_t now);

/* backend_perf.c */
int sp_perf_probe(struct stillprof_session *s);
int sp_perf_attach(struct stillprof_session *s, pid_t tid);
void sp_perf_detach(struct stillprof_session *s, struct sp_tstate *ts);
void sp_perf_drain(struct stillprof_session *s, struct sp_tstate *ts);
/* How long a new thread's ring can go undrained at one sample per
 * interval (half its capacity). */
uint64_t sp_perf_ring_wait_ns(const struct stillprof_session *s);
/* CPU mode's pass period: tick_us, or shorter when a ring would fill. */
unsigned sp_perf_cpu_tick_us(const struct stillprof_session *s,
                             unsigned tick_us);
/* The longest wait between two passes of the sampling thread. */
uint64_t sp_perf_pass_max_ns(const struct stillprof_session *s);
extern const char sp_perf_backend_name[];
extern const char sp_perf_guarantee[];

/* backend_signal.c */
extern const struct sp_backend sp_backend_signal;
/* Check that the signal back-end can run here (kernel capability, policy,
 * signal free) and, with install, install its handler.  Fills
 * s->guarantee, s->sig, s->task_work; on refusal s->backend_err. */
int sp_sig_prepare(struct stillprof_session *s, int install);

/* backend.c: pick the back-end by s->opts.backend (auto: perf_event if it
 * opens, else signal); fills s->be, backend_reason, guarantee.  install=0
 * only checks (the CLI, before COMMAND runs). */
extern const struct sp_backend sp_backend_perf;

/* Of `lost` perf records, how many are samples missing from the profile.
 * In CPU mode none: the thread's next sample carries the event's count,
 * so the intervals of lost samples are recorded with it as weighted
 * copies (sample_weight.c); counting them missed too would count them
 * twice.  In wall mode the next sample is not weighted by the gap (its
 * switch records were lost too), and the signal back-end's lost entries
 * are gone. */
static inline uint64_t sp_lost_missed(const struct stillprof_session *s,
                                      uint64_t lost)
{
	return s->be == &sp_backend_perf &&
	               s->opts.mode == STILLPROF_MODE_CPU
	           ? 0
	           : lost;
}
int sp_backend_select(struct stillprof_session *s, int install);
void sp_backend_describe(struct stillprof_session *s, struct sp_store *st);
/* The first half of every back-end's attach (backend.c).  Returns 1 with
 * *out set (new entry, store thread and syscall fd ready), 0 when there is
 * nothing to attach (the sampling thread, a known tid, a thread already
 * gone) or -errno (nothing left behind). */
int sp_backend_attach_begin(struct stillprof_session *s, pid_t tid,
                            struct sp_tstate **out);
/* A sample's stack unwound into pcs (at most opts.max_depth), counted in
 * the session's unwind statistics (backend.c).  Returns the frames. */
int sp_backend_unwind(struct stillprof_session *s,
                      const struct sp_uw_input *in, uint64_t *pcs);

/* probe.c: stack of a thread blocked in a system call; returns 1 and the
 * store stack index, 0 when the thread is running, -errno on failure. */
int sp_probe_blocked(struct stillprof_session *s, struct sp_tstate *ts,
                     uint32_t *stack);
size_t sp_probe_buf_len(void);
/* First look at a thread that has not switched since attach (it may have
 * been blocked since before profiling started): sp_probe_blocked, then the
 * thread's run state and, when blocked, its episode and stack are set. */
int sp_probe_first(struct stillprof_session *s, struct sp_tstate *ts,
                   uint32_t *stack);

/* fork.c: register a running session so that a fork()ed child closes
 * its fds at once (see fork.c). */
int sp_fork_register(struct stillprof_session *s);
void sp_fork_unregister(struct stillprof_session *s);

/* config.c */
int sp_options_check(const struct stillprof_options *o);
int sp_check_limit_option(const char *var, const char *val, char *errbuf,
                          size_t errlen);
/* stillprof_options_from_env with the variables from get() instead of
 * the environment (tests, fuzzing). */
int sp_options_from_lookup(struct stillprof_options *opts,
                           const char *(*get)(void *ctx, const char *name),
                           void *ctx, char *errbuf, size_t errlen);

/* Record one sample of ts with a stack (shared by the perf and probe
 * paths). */
int sp_session_record(struct stillprof_session *s, struct sp_tstate *ts,
                      uint32_t stack, uint64_t t_ns, int state);

#endif
