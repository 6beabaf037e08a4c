/*
 * threads.h - the thread registry of a running session: one entry per
 * thread of the process being sampled, with its perf ring, its off-CPU
 * state (from context-switch records) and the cached stack of its current
 * blocking episode.  Owned and used by the sampling thread only.
 */
#ifndef SP_THREADS_H
#define SP_THREADS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "perf_ring.h"
#include "sample_weight.h"
#include "stack_copy.h"

struct sp_sig_thread;

enum sp_run_state {
	SP_RUN_UNKNOWN = 0,  /* attached, no switch record seen yet */
	SP_RUN_ONCPU,        /* last switch record: switched in */
	SP_RUN_BLOCKED,      /* switched out voluntarily (sleep, syscall) */
	SP_RUN_PREEMPTED,    /* switched out while runnable */
};

enum sp_ring_grown {
	SP_RING_SMALL = 0,    /* not grown yet */
	SP_RING_GROWN,        /* made bigger, or that failed: not again */
	SP_RING_AT_BUDGET,    /* refused, all big rings in use: again later */
};

struct sp_tstate {
	pid_t tid;
	int live;                /* 0 once the thread has exited */
	uint32_t store_thread;   /* index in the store's thread table */
	struct sp_perf_ring ring; /* fd < 0 when no perf event is open */
	int ring_polled;         /* ring.fd is in the sampler's epoll set */
	int ring_grown;          /* enum sp_ring_grown (backend_perf.c,
	                          * SP_PERF_RING_BIG_PAGES) */
	int ring_big;            /* ring is a big one, counted in
	                          * the session's big_rings */
	uint32_t scan_gen;       /* last rescan that listed the thread */
	int syscall_fd;          /* /proc/self/task/TID/syscall, kept open: a
	                          * read fails with ESRCH once the thread has
	                          * exited, so a reused tid is never probed */
	int run_state;           /* enum sp_run_state */
	uint64_t switch_out_ns;  /* time of the last switch-out */
	uint64_t switch_in_ns;   /* time of the last switch-in */
	int off_state;           /* state of the last off-CPU period
	                          * (BLOCKED or PREEMPTED), kept after the
	                          * switch-in that ended it */
	uint64_t episode;        /* counts blocking episodes */
	uint64_t probed_episode; /* episode the cached stack belongs to */
	int have_blocked_stack;
	uint32_t blocked_stack;  /* store stack index */
	int have_last_stack;
	uint32_t last_stack;     /* stack of the latest on-CPU sample */
	uint64_t probe_failures;
	uint64_t probe_hint_end; /* probe_copy.c: end of the stack the last
	                          * probe's unwind wanted (0: none yet) */
	uint32_t sample_need;    /* bytes above rsp the last perf sample's
	                          * unwind read (perf_records.c prefetches) */
	struct sp_stack_copy copy; /* its perf event's stack copy size */
	uint32_t copy_want;      /* the size to open it again with at the
	                          * end of the drain (0: keep) */
	struct sp_sig_thread *sig; /* signal back-end state (backend_signal.c) */
	uint64_t attach_ns;      /* CLOCK_MONOTONIC when the entry was added:
	                          * no tick before it may sample the thread */
	/* switch-rate limiting (backend_perf.c): switch-outs counted since
	 * window_ns; weight = the factor the period was raised by for a
	 * switch-heavy thread (1 otherwise); samples are weighted by cw */
	uint64_t window_ns;
	uint32_t window_switches;
	uint32_t weight;
	struct sp_weight cw;     /* intervals per perf sample, from the
	                          * event's count (sample_weight.c) */
	uint64_t diag_attach_cpu;
	uint64_t replay_ns;      /* last wall tick accounted (tick_replay.c) */
	/* switch_sample.c: the context-switch sampling event (-1: none), its
	 * sample identifier, whether it is enabled, and the last episode
	 * whose stack it gave */
	int switch_fd;
	int switch_on;
	int switch_rate_off;     /* closed for its switch rate, to reopen */
	uint64_t switch_id;
	uint64_t switch_episode;
	uint64_t *switch_pcs;    /* the lazy blocked stack (see
	                          * SP_SWITCH_LAZY_STACK) */
	uint32_t switch_n, switch_cap;
	uint32_t switch_burst;   /* switch samples since the limiter's window
	                          * began */
};

struct sp_threads {
	struct sp_tstate **all;  /* entries, live and exited-but-unfreed */
	size_t n, cap;
	int32_t *index;          /* open-addressing tid -> position in all */
	size_t n_index;          /* power of two */
};

int sp_threads_init(struct sp_threads *t);
void sp_threads_fini(struct sp_threads *t);   /* frees entries; fds must
                                               * already be closed */
struct sp_tstate *sp_threads_find(struct sp_threads *t, pid_t tid);
/* Add a new entry for tid (must not exist).  Returns 0 or -ENOMEM. */
int sp_threads_add(struct sp_threads *t, pid_t tid, struct sp_tstate **out);
/* Remove and free an entry whose fds are closed. */
void sp_threads_remove(struct sp_threads *t, struct sp_tstate *ts);

/* Read a thread's name from /proc/self/task/TID/comm into name[16].
 * Returns 0 or -errno (ENOENT once it has exited). */
int sp_thread_read_name(pid_t tid, char name[16]);

/* The start time of a thread (clock ticks since boot, /proc stat field
 * 22): with the tid, it names one thread for the life of the system.
 * Returns 0 or -errno (proc_parse.c parses). */
int sp_thread_read_start(pid_t tid, uint64_t *start);

/* Open /proc/self/task/TID/FILE read-only, close-on-exec: the fd stays
 * bound to that thread (reads fail with ESRCH once it is gone, even if the
 * tid is reused).  Returns the fd or -1 with errno set. */
int sp_thread_open_file(pid_t tid, const char *file);

/* Is the thread this entry was attached to still alive?  Its syscall file
 * (opened at attach) fails with ESRCH once that thread is gone, even if
 * the tid has been handed to a new thread since.  1 without that fd. */
int sp_thread_alive(const struct sp_tstate *ts);

/* CPU time of a thread of this process in ns, UINT64_MAX if it is gone. */
uint64_t sp_thread_cpu_ns(pid_t tid);

/* Call fn for each tid listed in /proc/self/task.  Returns 0 or -errno. */
int sp_threads_scan(int (*fn)(pid_t tid, void *ctx), void *ctx);

#endif
