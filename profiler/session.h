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
struct sp_unwinder;
struct sp_symbols;
struct sp_snap;

struct sp_counters {
	uint64_t oncpu_samples;
	uint64_t offcpu_samples;
	uint64_t lost_records;     /* PERF_RECORD_LOST */
	uint64_t missed_ticks;
	uint64_t unwinds;
	uint64_t unwind_ns;
	uint64_t probes;
	uint64_t probe_ns;
	uint64_t probe_torn;       /* copies discarded: the thread ran */
	uint64_t attach_failures;
	uint64_t threads_seen;
	uint64_t sampler_cpu_ns;
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
	uint64_t started_ns;
	uint64_t tick_ns;          /* tick period */
	uint64_t tick_base_ns;     /* first expiration (CLOCK_MONOTONIC) */
	struct sp_snap *snap;      /* snapshots while running (snapshot.h) */

	/* owned by the sampling thread while running */
	pid_t sampler_tid;
	struct sp_store *store;
	struct sp_maps *maps;
	struct sp_unwinder *uw;
	struct sp_threads threads;
	uint64_t last_scan_ns;
	uint64_t *pcs;             /* scratch: max_depth pcs */
	uint8_t *probe_buf;        /* scratch: copied stack of a blocked thread */
	struct sp_counters c;
};

/* sampler.c */
int sp_sampler_start(struct stillprof_session *s);
int sp_sampler_stop(struct stillprof_session *s);

/* backend_perf.c */
int sp_perf_probe(struct stillprof_session *s);
int sp_perf_attach(struct stillprof_session *s, pid_t tid);
void sp_perf_detach(struct stillprof_session *s, struct sp_tstate *ts);
void sp_perf_drain(struct stillprof_session *s, struct sp_tstate *ts);
extern const char sp_perf_backend_name[];
extern const char sp_perf_guarantee[];

/* probe.c: stack of a thread blocked in a system call; returns 1 and the
 * store stack index, 0 when the thread is running, -errno on failure. */
int sp_probe_blocked(struct stillprof_session *s, struct sp_tstate *ts,
                     uint32_t *stack);
size_t sp_probe_buf_len(void);

/* config.c */
int sp_options_check(const struct stillprof_options *o);

/* Record one sample of ts with a stack (shared by the perf and probe
 * paths). */
int sp_session_record(struct stillprof_session *s, struct sp_tstate *ts,
                      uint32_t stack, uint64_t t_ns, int state);

#endif
