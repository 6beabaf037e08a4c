/*
 * store.h - the sample store: what the sampler captured, in the shape the
 * writers read.  Data flows one way: the sampling thread adds threads,
 * stacks (raw program counters, interned once) and samples; after the
 * sampler has stopped, sp_store_resolve() symbolizes every distinct pc into
 * frames; writers in formats/ then only read the resolved tables.
 *
 * Not thread-safe: only one thread (the sampling thread while running, the
 * owner of the session otherwise) touches a store at a time.
 */
#ifndef SP_STORE_H
#define SP_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sp_symbols;

/* Sample states (why the thread was sampled). */
enum sp_sample_state {
	SP_STATE_ONCPU = 0,   /* CPU clock sample: the thread was running */
	SP_STATE_OFFCPU = 1,  /* wall tick while the thread was blocked */
};

struct sp_thread {
	pid_t tid;
	char name[16];        /* comm (TASK_COMM_LEN), NUL terminated */
	uint64_t samples;     /* samples attributed to this thread */
	uint64_t start_ticks; /* start time (/proc stat), 0 if unknown */
};

/* One resolved frame: a function (or an unknown address in an object). */
struct sp_frame {
	uint64_t id;          /* stackprof frame id: even, >= 8, < 2^53 */
	char *name;           /* symbol, or "0x..." when unknown; never NULL */
	char *file;           /* source file from debug info, else object path;
	                       * never NULL (may be "") */
	char *object;         /* object path; never NULL (may be "") */
	int line;             /* first line of the function; 0 when unknown */
	uint64_t total_samples; /* filled by sp_store_resolve */
	uint64_t self_samples;
};

/* An interned stack of raw pcs, leaf first, and after resolution the frame
 * index and current source line of each pc (same length). */
struct sp_stack {
	uint32_t n;
	uint32_t hash_next;   /* chain in the intern table (index + 1, 0 = end) */
	uint64_t hash;
	uint64_t *pcs;        /* leaf first */
	uint32_t *frames;     /* resolved: index into store->frames, leaf first */
	int32_t *lines;       /* resolved: line of each pc, 0 when unknown */
};

struct sp_sample {
	uint32_t stack;       /* index into store->stacks */
	uint32_t thread;      /* index into store->threads */
	uint64_t t_ns;        /* CLOCK_MONOTONIC capture time */
	uint8_t state;        /* enum sp_sample_state */
};

/* Facts about the run that go into the profile's metadata. */
struct sp_run_info {
	int mode;                 /* enum stillprof_mode */
	unsigned interval_us;
	uint64_t start_ns;        /* CLOCK_MONOTONIC of the first start */
	uint64_t start_realtime_ns;
	uint64_t duration_ns;     /* sum of start..stop intervals */
	uint64_t missed_samples;
	const char *backend;      /* static string, e.g. "perf_event" (or
	                           * sp_store_strdup'd when read from a dump) */
	const char *guarantee;    /* static string (idem) */
	const char *mode_name;    /* NULL when recorded; the stackprof mode of
	                           * a dump read back ("cpu", "wall", "object",
	                           * "custom"), which writers should prefer */
	pid_t pid;

	/* Where samples went missing (all zero in a dump read back). */
	uint64_t lost_records;    /* perf ring overflows */
	uint64_t missed_ticks;    /* thread-ticks (samples) of ticks the
	                           * sampler was late for, not replayed */
	uint64_t offcpu_unknown;  /* wall ticks of an off-CPU thread whose
	                           * stack could not be read (tick_replay.c) */
	uint64_t dropped_stack_limit;  /* samples of a stack past max_stacks */
	uint64_t dropped_sample_limit; /* samples past max_samples */
	uint64_t truncated_samples;    /* samples whose stack hit max_depth */
	uint64_t folded_threads;  /* threads past max_threads: their samples
	                           * went to the "(other threads)" entry */
	uint64_t weighted_samples; /* on-CPU samples recorded as copies of a
	                            * sample standing for several intervals */
	uint64_t cut_samples;     /* kernel samples whose stack copy ended
	                           * before the unwind did: outer frames
	                           * missing (their thread's copy grows,
	                           * stack_copy.c) */
};

/* Bounds of a store being recorded into (0 = none; readers set none). */
struct sp_store_limits {
	uint64_t max_stacks;
	uint64_t max_samples;
	uint32_t max_depth;       /* only counted: the unwinder cuts */
	uint64_t max_threads;     /* thread entries, "(other threads)"
	                           * included */
};

/* The entry that stands for every thread past limits.max_threads (tid 0,
 * never found by tid). */
#define SP_OTHER_THREADS_NAME "(other threads)"

struct sp_store {
	struct sp_thread *threads;
	size_t n_threads, cap_threads;

	struct sp_stack *stacks;
	size_t n_stacks, cap_stacks;
	uint32_t *buckets;        /* intern hash table: stack index + 1 */
	size_t n_buckets;

	struct sp_sample *samples; /* sp_map_grow'n (alloc.c) */
	size_t n_samples, cap_samples;
	size_t samples_ready; /* samples[0..ready) are populated */

	/* resolved (sp_store_resolve) */
	struct sp_frame *frames;
	size_t n_frames, cap_frames;
	int resolved;

	struct sp_run_info info;
	struct sp_store_limits limits;
};

int sp_store_new(struct sp_store **out);
void sp_store_free(struct sp_store *st);

/* Find or add the thread tid; renames it if name differs (a thread may
 * call pthread_setname_np while profiled).  *idx is its index.  A new
 * thread past limits.max_threads gets the "(other threads)" entry
 * (counted in info.folded_threads), as in the _new and _attach calls
 * below.  Returns 0 or -ENOMEM. */
int sp_store_thread(struct sp_store *st, pid_t tid, const char *name,
                    uint32_t *idx);

/* Add a new entry for tid even if one exists: the kernel has reused the
 * tid of an exited thread for a new one.  Later sp_store_thread calls for
 * tid find the new entry.  Returns 0 or -ENOMEM. */
int sp_store_thread_new(struct sp_store *st, pid_t tid, const char *name,
                        uint32_t *idx);

/* The entry of a thread being attached: the newest entry for tid if it
 * has the same start time (the same thread, attached again after a
 * stop/start), else a new entry (a reused tid).  start 0 (unknown) always
 * adds an entry.  Returns 0 or -ENOMEM. */
int sp_store_thread_attach(struct sp_store *st, pid_t tid, const char *name,
                           uint64_t start, uint32_t *idx);

/* Rename entry idx (a thread seen again by a rescan); the "(other
 * threads)" entry keeps its name. */
void sp_store_thread_rename(struct sp_store *st, uint32_t idx,
                            const char *name);

/* Is idx the "(other threads)" entry? */
int sp_store_thread_is_other(const struct sp_store *st, uint32_t idx);

/* The "(other threads)" entry, added if missing even under the bound
 * (merging a store that has one).  Returns 0 or -ENOMEM. */
int sp_store_thread_other(struct sp_store *st, uint32_t *idx);

/* Intern a stack of n pcs (leaf first; n may be 0).  *idx is its index; an
 * identical stack returns the same index.  Returns 0, -ENOMEM, or -ENOSPC
 * when a new stack would pass limits.max_stacks (counted in
 * info.dropped_stack_limit: the caller drops the sample). */
int sp_store_intern(struct sp_store *st, const uint64_t *pcs, uint32_t n,
                    uint32_t *idx);

/*
 * Intern a stack that is already resolved (read from a dump): n frame
 * indices into st->frames and their current lines, both leaf first (n may
 * be 0).  Identical frames and lines give the same index; such a stack
 * never equals a stack of pcs and has pcs == NULL.  sp_store_resolve does
 * not symbolize it but counts its samples, so call sp_store_resolve (syms
 * may be NULL) after adding samples.  Returns 0, -ENOMEM, or -EINVAL for
 * a frame index out of range.
 */
int sp_store_add_resolved(struct sp_store *st, const uint32_t *frames,
                          const int32_t *lines, uint32_t n, uint32_t *idx);

/* Copy s into storage the store owns and frees in sp_store_free, e.g. for
 * info.backend read from a dump.  Returns 0 or -ENOMEM. */
int sp_store_strdup(struct sp_store *st, const char *s, const char **out);

/* Append a sample.  Returns 0, -ENOMEM, or -ENOSPC past
 * limits.max_samples (counted in info.dropped_sample_limit). */
int sp_store_add_sample(struct sp_store *st, uint32_t stack, uint32_t thread,
                        uint64_t t_ns, int state);

/* Symbolize every pc of every stack through syms (may be NULL: names become
 * hex addresses) and fill frames, per-stack frames/lines, and the frames'
 * total/self counts.  Idempotent: a second call re-resolves only new stacks;
 * stacks from sp_store_add_resolved are only counted.
 * Returns 0 or -ENOMEM. */
int sp_store_resolve(struct sp_store *st, struct sp_symbols *syms);

/* Add a frame directly (used by tests and by resolve).  name/file/object
 * are copied.  *idx is the frame's index.  Returns 0 or -ENOMEM. */
int sp_store_add_frame(struct sp_store *st, const char *name,
                       const char *file, const char *object, int line,
                       uint32_t *idx);

/* store_merge.c: add src's threads (by tid; a tid src lists twice gets
 * two entries), stacks (re-interned) and samples to dst, and its missed
 * samples count.  src must be unresolved (raw pcs).  Returns 0 or
 * -ENOMEM, after which dst may hold part of src. */
int sp_store_merge(struct sp_store *dst, const struct sp_store *src);

#endif
