/*
 * snapshot.h - profiles taken while the session runs.
 *
 * Data flows one way: capture -> store -> writer.  The sampling thread owns
 * the store it appends to (the "segment").  Any other thread that wants
 * the samples collected so far asks for a cut: it bumps cut_req and writes
 * an eventfd in the sampler's epoll set; the sampler, between two events,
 * puts a fresh store in place (same live threads, cached stacks
 * re-interned), pushes the old segment on a lock-free list and bumps
 * cut_done (a futex word the requester sleeps on).  The sampler never takes
 * a lock and never waits for a consumer.
 *
 * Consumers (application threads calling stillprof_session_snapshot, the
 * continuous writer, the HTTP server) serialise on snap->mu.  Under it they
 * drain the list: every segment is merged into each open tap (a store that
 * collects what was cut since the tap was opened or last taken) and, in
 * cumulative mode, into acc (everything cut since the session began), then
 * freed.  Symbol resolution and writing happen on the consumer's thread.
 *
 * While the session is idle, s->store holds the whole profile and acc is
 * NULL: start moves a non-empty store into acc, stop merges the last
 * segment into the taps and into acc and puts acc back in s->store, so
 * stillprof_session_write sees every sample.
 */
#ifndef SP_SNAPSHOT_H
#define SP_SNAPSHOT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct stillprof_session;
struct sp_store;
struct sp_sink;

/* epoll tags in the sampler's set (next to SP_EV_STOP/SP_EV_TICK). */
#define SP_EV_CUT 3ull
#define SP_EV_SIGNAL 4ull

/* What the control signal does (STILLPROF_SIGNAL_ACTION). */
enum sp_sig_action {
	SP_SIG_DUMP = 0,    /* write the profile so far (see continuous.c) */
	SP_SIG_TOGGLE = 1,  /* pause / resume sampling */
};

struct sp_delta;

struct sp_tap {
	struct sp_store *st;       /* what was cut since open / last take */
	uint64_t from_realtime_ns; /* wall clock of the tap's start */
	uint64_t from_ns;          /* CLOCK_MONOTONIC of the same instant */
	uint64_t lost;             /* segments not merged (ENOMEM) */
	struct sp_tap *next;
};

struct sp_snap {
	pthread_mutex_t mu;        /* consumers only, never the sampler */
	struct sp_store *acc;      /* cumulative mode: cut segments */
	int cumulative;            /* keep acc (default 1) */
	struct sp_tap *taps;
	_Atomic(struct sp_delta *) pending; /* pushed by the sampler */
	atomic_uint cut_req;       /* cuts asked for */
	atomic_uint cut_done;      /* futex word: cuts done (or given up) */
	atomic_int live;           /* a sampler runs and answers cuts */
	int cut_efd;               /* eventfd watched by the sampler */
	/* control signal (control_signal.c) */
	int sig_fd;                /* signalfd, -1 when not configured */
	int sig_action;            /* enum sp_sig_action */
	int notify_efd;            /* sampler -> control thread: dump now */
	atomic_uint dump_req;      /* dumps asked for by the signal */
	atomic_int paused;         /* toggled off by the signal */
	/* segment bookkeeping, owned by the sampler while running */
	uint64_t seg_start_ns, seg_start_real_ns;
	uint64_t lost_base, ticks_base, unknown_base; /* counters at the
	                                               * segment's start */
	uint64_t run_start_ns;     /* start of the current run */
	uint64_t last_cut_ns;      /* time of the latest cut (under mu) */
	uint64_t cut_failures;     /* sampler side: cuts that found no memory */
	struct sp_store *tmpl;     /* run facts for fresh stores (under mu):
	                            * consumers never read s->store */
};

/* Session life cycle (api.c, sampler.c). */
int sp_snap_new(struct stillprof_session *s);
void sp_snap_free(struct stillprof_session *s);
int sp_snap_before_start(struct stillprof_session *s);
void sp_snap_after_start(struct stillprof_session *s);
void sp_snap_before_stop(struct stillprof_session *s);
void sp_snap_after_stop(struct stillprof_session *s);
/* fork.c, in a child: close the dead session's snapshot fds. */
void sp_snap_forget_fds(struct sp_snap *n);
int sp_snap_watch(struct stillprof_session *s);     /* sampler start */
void sp_snap_on_event(struct stillprof_session *s, uint64_t tag); /* sampler */
void sp_snap_sampler_exit(struct stillprof_session *s);          /* sampler */

/* Cumulative mode on (default) or off: off, nothing but the open taps
 * keeps cut segments (continuous mode, where a days-long run must not
 * grow without bound). */
void sp_snap_set_cumulative(struct stillprof_session *s, int on);

/* Taps: any thread but the sampler.  take returns (caller frees) what
 * was cut since open or the last take, after asking for a cut when the
 * session runs; from_ns and until_ns get the span's wall clock. */
int sp_snap_tap_open(struct stillprof_session *s, struct sp_tap **out);
int sp_snap_tap_take(struct stillprof_session *s, struct sp_tap *t,
                     struct sp_store **out, uint64_t *from_ns,
                     uint64_t *until_ns);
void sp_snap_tap_close(struct stillprof_session *s, struct sp_tap *t);

/* Under mu (snapshot_write.c): ask the running sampler for a cut and wait
 * for it (0, -ETIMEDOUT, -errno; 0 at once when it is not running), and
 * hand the cut segments to the taps and acc. */
int sp_snap_cut_locked(struct stillprof_session *s);
void sp_snap_drain_locked(struct sp_snap *n);

/* Write the cumulative profile so far (cut, merge, resolve, write, all
 * under mu).  STILLPROF_ENOTRUNNING when the sampler is not running,
 * -EOPNOTSUPP when not cumulative. */
int sp_snap_write_now(struct stillprof_session *s, const char *path,
                      int format);

/* Resolve a store taken off the sampler (own maps and symbols) and sort
 * its samples by time.  Returns 0 or -errno. */
int sp_snap_resolve(struct sp_store *st);

/* Render a resolved store in a format (enum stillprof_format). */
int sp_render_store(const struct sp_store *st, int format, int raw,
                    struct sp_sink *sink);

#endif
