/*
 * spr.h - the stillprof Ruby extension: shared state of the profiler.
 *
 * One profiler per process, as in stackprof.  Threads:
 *  - the ticker (spr_ticker.c): a plain pthread, every signal blocked,
 *    woken by a timerfd and stopped through an eventfd.  It calls no Ruby
 *    API except postponed-job registration/trigger and only touches the
 *    atomic counters below.  It never sends a signal.
 *  - Ruby threads holding the GVL (postponed jobs, the NEWOBJ hook,
 *    StackProf.sample, results): they alone touch the recorded tables, so
 *    those need no lock.
 */
#ifndef SPR_H
#define SPR_H

#include <stdint.h>
#include <stddef.h>
#include <ruby.h>

enum spr_mode { SPR_WALL, SPR_CPU, SPR_OBJECT, SPR_CUSTOM };

/* GVL state of the sampled thread (per raw record). */
enum spr_state { SPR_RUNNING = 0, SPR_GVL_WAIT = 1, SPR_BLOCKED = 2 };

#define SPR_MAX_DEPTH 2048
/* GC pseudo-frames: the VALUEs of INT2FIX(0), (1), (2), as in stackprof. */
#define SPR_GC_FRAME 1
#define SPR_MARKING_FRAME 3
#define SPR_SWEEPING_FRAME 5

/* ---- spr_map.c: uint64 -> two uint64 counters (open addressing) ---- */
struct spr_map_ent {
	uint64_t key; /* 0 = empty */
	uint64_t a, b;
};
struct spr_map {
	struct spr_map_ent *ents;
	size_t n, cap; /* cap is 0 or a power of two */
};
/* Find or insert key (!= 0); NULL when out of memory. */
struct spr_map_ent *spr_map_get(struct spr_map *m, uint64_t key);
struct spr_map_ent *spr_map_find(const struct spr_map *m, uint64_t key);
void spr_map_free(struct spr_map *m);

struct spr_vec { /* growable int64 array (malloc only: usable in hooks) */
	int64_t *v;
	size_t n, cap;
};
int spr_vec_push(struct spr_vec *v, int64_t x);
void spr_vec_free(struct spr_vec *v);

/* ---- frames and threads (spr_record.c) ---- */
struct spr_frame {
	uint64_t key;      /* the frame VALUE, a GC id, or a synthetic id */
	VALUE frame;       /* rb_profile_frames VALUE, or Qnil */
	VALUE name, file;  /* synthetic frames only (Qnil otherwise) */
	uint64_t total, self, seen_at;
	struct spr_map edges; /* callee key -> a */
	struct spr_map lines; /* line -> a = total, b = self */
};

struct spr_thread {
	VALUE thread;      /* the Thread (marked until results) */
	long tid;          /* native thread id, 0 when unknown */
	VALUE name;        /* String or Qnil */
	uint64_t samples;
	uint64_t states[3];
	int64_t last_us;    /* capture time of its previous sample */
	/* stack cached by the last refresh (threads other than the holder),
	 * leaf first */
	uint64_t *keys;
	int32_t *lines;
	int depth;
	int state;
	int cached;        /* keys/lines hold a stack */
};

struct spr_profile {
	/* options of the latest start */
	int mode;
	VALUE interval_value; /* as passed (Integer, Float) or nil */
	long interval;        /* µs (cpu/wall) or allocations (object) */
	int raw, aggregate, ignore_gc, all_threads;
	VALUE metadata;
	VALUE start_thread;

	int running;
	int have_data;        /* tables exist (until results) */

	/* recorded, touched only under the GVL */
	struct spr_map frame_index;   /* key -> index + 1 into frames */
	struct spr_frame *frames;
	size_t n_frames, cap_frames;
	struct spr_thread *threads;
	size_t n_threads, cap_threads;
	VALUE loc_ids;                /* Hash "path\0label" -> synthetic key */
	uint64_t next_synthetic;

	uint64_t samples, gc_samples, missed, delayed, allocations;
	uint64_t sample_no;           /* records, for total_samples dedup */
	struct spr_vec rawv, raw_lines, timestamps, deltas;
	struct spr_vec rec_threads, rec_states; /* one per raw record */
	size_t last_rec;              /* position of the last raw record */
	int have_last_rec;
	int64_t last_sample_us;       /* end of the previous recording */
	int64_t start_us, start_realtime_us, duration_us;
	uint64_t consumed_ticks;      /* ticks turned into samples */
	uint64_t refresh_tick;        /* tick of the last other-thread refresh */
	uint64_t jobs;                /* jobs that ran */
	uint64_t idle_jobs;           /* idle-helper runs that sampled */
	int helper_mode;              /* >= 3.3 fallback: helper samples */
	VALUE displaced;              /* helper mode: the holder it replaced */
};

extern struct spr_profile spr;

/* Record one stack (leaf first, n >= 0) of thread t, weight samples.
 * now_us: when it was captured.  Returns 0 or -ENOMEM. */
int spr_record(const uint64_t *keys, const int32_t *lines, int n,
               size_t thread, int state, uint64_t weight, int64_t now_us,
               int gc);
/* Frame key of a VALUE from rb_profile_frames (adds it). */
int spr_frame_real(VALUE frame, uint64_t *key);
/* Frame key of a synthetic frame (name, file), e.g. from a
 * Thread::Backtrace::Location. */
/* Add a GC pseudo-frame (SPR_*_FRAME). */
int spr_frame_gc(uint64_t key);
int spr_frame_synthetic(VALUE name, VALUE file, uint64_t *key);
/* Index of thread th in spr.threads (adds it). */
int spr_thread_index(VALUE th, size_t *idx);
void spr_reset(void);      /* free every table (after results) */
void spr_mark(void);       /* GC marking of every VALUE we hold */
VALUE spr_results_hash(void);
int64_t spr_now_us(void);

/* Sample the calling thread's own stack (rb_profile_frames). */
int spr_sample_current(uint64_t weight, int64_t now_us, int state);

/* ---- spr_threads.c: stacks of threads other than the GVL holder ---- */
/* Refresh the cached stack and state of every other live thread (or of
 * only `only` when not Qnil) with Thread#backtrace_locations. */
void spr_threads_refresh(VALUE current, VALUE only);
/* No thread but the idle helper can run Ruby code (all sleep or block). */
int spr_threads_all_stopped(void);
/* Other threads' frames are exact (rb_profile_thread_frames, >= 3.3):
 * cheap enough to refresh at every job. */
int spr_threads_exact(void);
/* Emit each other thread's cached stack with weight n. */
void spr_threads_emit(VALUE current, VALUE only, uint64_t n, int64_t now_us);

/* ---- spr_ticker.c ---- */
int spr_ticker_start(void);   /* 0 or -errno */
void spr_ticker_stop(void);
void spr_ticker_init(void);   /* Init: preregister jobs, atfork */
void spr_ticker_after_fork(void);
uint64_t spr_ticker_ticks(void);
uint64_t spr_ticker_signals(void);
const char *spr_ticker_backend(void);
void spr_gc_hooks(int on);
void spr_object_hook(int on);
void spr_ticker_idle_job(void); /* idle helper, with the GVL */
void spr_ticker_helper_ran(void); /* idle helper took the GVL */

/* ---- spr_idle.c: the helper Ruby thread used while nobody holds the GVL */
int spr_idle_start(void);     /* GVL held; 0 or -errno */
void spr_idle_stop(void);     /* GVL held, after spr_ticker_stop */
void spr_idle_wake(void);     /* ticker thread */
void spr_idle_forget(void);   /* fork child, VM exit */
VALUE spr_idle_thread(void);  /* the helper Thread, or Qnil */

/* ---- spr_gvl.c: GVL state from thread event hooks (Ruby >= 3.2) ---- */
void spr_gvl_start(void);     /* GVL held; no-op without hooks */
void spr_gvl_stop(void);      /* GVL held; no hook runs after it */
int spr_gvl_state(VALUE th);  /* SPR_*, or -1 when unknown */
VALUE spr_gvl_last_holder(void); /* last GVL taker but the helper, or Qnil */
uint64_t spr_gvl_events(void);
const char *spr_gvl_source(void);

/* ---- spr_probe.c: Ruby bug #20197 probe (Ruby >= 3.3) ---- */
enum {
	SPR_PROBE_NOT_RUN, SPR_PROBE_NOT_AFFECTED, SPR_PROBE_AFFECTED,
	SPR_PROBE_FORCED, SPR_PROBE_NOT_APPLICABLE
};
void spr_probe_init(void);    /* Init: preregister the probe job */
int spr_probe_run(void);      /* GVL held; once per process */
int spr_probe_helper_mode(void); /* sample from the helper thread only */
const char *spr_probe_text(void);
double spr_probe_ms(void);

/* ---- spr_export.c ---- */
void spr_export_init(VALUE mNative);

#endif
