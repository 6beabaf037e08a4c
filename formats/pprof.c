/*
 * pprof.c - writes a resolved store as a pprof profile.proto (the format
 * of `go tool pprof`, Pyroscope, Parca, speedscope), gzip-compressed.
 * The message layout follows google/pprof proto/profile.proto; field
 * numbers are spelled out below.  research/ecosystem.md section 1 has the
 * reasons for the choices:
 *
 *  - sample_type [samples/count, wall/nanoseconds] (cpu/nanoseconds in
 *    CPU mode): the count first by convention, the time second, already
 *    multiplied by the period, and named by default_sample_type.  A dump
 *    read back in object or custom mode has no time: count only.
 *  - One Sample per (stack, thread), labels "thread id" and "thread name"
 *    (the keys Datadog uses),
 *    so `-tagfocus "thread name=X"` and `-tagroot "thread name"` work.
 *  - One Location per distinct (pc, function, line), with the pc as its
 *    address; one Function per store frame; one Mapping per object file
 *    (address ranges unknown here, so 0; has_functions keeps pprof from
 *    trying to symbolize).
 *  - Function.system_name is left empty for frames with no object (Ruby
 *    frames read from a stackprof dump) and for .rb files: pprof takes
 *    name == system_name containing '<' or "::" for demangled C++ and
 *    strips it, so "<main>" would print as "<unknown>".
 *
 * The whole message is built in memory (protobuf.c), then gzipped into
 * the sink (gzip.c); the string table goes last, once every string is
 * interned.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store.h"
#include "formats.h"
#include "writers.h"
#include "stackprof_layout.h"

/* profile.proto field numbers */
enum {
	PROFILE_SAMPLE_TYPE = 1, PROFILE_SAMPLE = 2, PROFILE_MAPPING = 3,
	PROFILE_LOCATION = 4, PROFILE_FUNCTION = 5, PROFILE_STRING_TABLE = 6,
	PROFILE_TIME_NANOS = 9, PROFILE_DURATION_NANOS = 10,
	PROFILE_PERIOD_TYPE = 11, PROFILE_PERIOD = 12, PROFILE_COMMENT = 13,
	PROFILE_DEFAULT_SAMPLE_TYPE = 14,
	VALUE_TYPE_TYPE = 1, VALUE_TYPE_UNIT = 2,
	SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3,
	LABEL_KEY = 1, LABEL_STR = 2, LABEL_NUM = 3,
	MAPPING_ID = 1, MAPPING_FILENAME = 5, MAPPING_HAS_FUNCTIONS = 7,
	MAPPING_HAS_FILENAMES = 8, MAPPING_HAS_LINE_NUMBERS = 9,
	LOCATION_ID = 1, LOCATION_MAPPING_ID = 2, LOCATION_ADDRESS = 3,
	LOCATION_LINE = 4,
	LINE_FUNCTION_ID = 1, LINE_LINE = 2,
	FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_SYSTEM_NAME = 3,
	FUNCTION_FILENAME = 4, FUNCTION_START_LINE = 5,
};

/* Frame index of the synthetic "(unknown)" function of empty stacks. */
#define UNKNOWN_FRAME UINT32_MAX

/* Open-addressing index: slots hold entry index + 1, 0 = free. */
struct ht {
	uint32_t *slots;
	size_t mask;
};

struct str {
	const char *s;
	size_t len;
	uint64_t hash;
};

struct loc {
	uint64_t pc;
	uint32_t frame;
	int32_t line;
	uint64_t hash;
};

struct pprof {
	const struct sp_store *st;
	struct sp_pb pb;
	int err;
	struct str *strs;
	size_t n_strs, cap_strs;
	struct ht str_ht;
	struct loc *locs;
	size_t n_locs, cap_locs;
	struct ht loc_ht;
	uint32_t *frame_map;   /* mapping id of each frame, 0 = none */
	uint64_t *keys;        /* stack << 32 | thread of every sample */
};

static uint64_t hash_bytes(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * UINT64_C(0x100000001b3); /* FNV-1a */
	return h;
}

#define HASH_SEED UINT64_C(0xcbf29ce484222325)

/* Make room for one more entry (load <= 1/2): a larger table gets the n
 * entries re-inserted by the uint64_t hash each holds at hash_off.
 * Returns 0 or -ENOMEM (table unchanged). */
static int ht_reserve(struct ht *t, size_t n, const void *entries,
                      size_t stride, size_t hash_off)
{
	size_t n_slots = t->slots ? t->mask + 1 : 0, want = 64, i;
	uint32_t *slots;

	if (2 * (n + 1) <= n_slots)
		return 0;
	while (want < 2 * (n + 1))
		want *= 2;
	slots = sp_calloc(want, sizeof(*slots));
	if (!slots)
		return SP_ERR(-ENOMEM);
	for (i = 0; i < n; i++) {
		const char *e = (const char *)entries + i * stride;
		uint64_t h;
		size_t j;

		memcpy(&h, e + hash_off, sizeof(h));
		for (j = h & (want - 1); slots[j]; j = (j + 1) & (want - 1))
			;
		slots[j] = (uint32_t)i + 1;
	}
	sp_free(t->slots);
	t->slots = slots;
	t->mask = want - 1;
	return 0;
}

/* String table index of s[0..len); entry 0 is "" (profile.proto). */
static int64_t intern(struct pprof *p, const char *s, size_t len)
{
	uint64_t h = hash_bytes(HASH_SEED, s, len);
	struct str *e;
	size_t j;
	void *arr = p->strs;

	if (p->err)
		return 0;
	if ((p->err = ht_reserve(&p->str_ht, p->n_strs, p->strs,
	                         sizeof(*p->strs),
	                         offsetof(struct str, hash))))
		return 0;
	for (j = h & p->str_ht.mask; p->str_ht.slots[j];
	     j = (j + 1) & p->str_ht.mask) {
		e = &p->strs[p->str_ht.slots[j] - 1];
		if (e->hash == h && e->len == len && !memcmp(e->s, s, len))
			return p->str_ht.slots[j] - 1;
	}
	if ((p->err = sp_grow(&arr, &p->cap_strs, p->n_strs + 1,
	                      sizeof(*p->strs))))
		return 0;
	p->strs = arr;
	e = &p->strs[p->n_strs];
	e->s = s;
	e->len = len;
	e->hash = h;
	p->str_ht.slots[j] = (uint32_t)++p->n_strs;
	return (int64_t)p->n_strs - 1;
}

static int64_t intern_c(struct pprof *p, const char *s)
{
	return intern(p, s, strlen(s));
}

/* Location id (1-based) of pc in frame at line. */
static uint64_t location(struct pprof *p, uint64_t pc, uint32_t frame,
                         int32_t line)
{
	uint64_t h = HASH_SEED;
	struct loc *e;
	size_t j;
	void *arr = p->locs;

	h = hash_bytes(h, &pc, sizeof(pc));
	h = hash_bytes(h, &frame, sizeof(frame));
	h = hash_bytes(h, &line, sizeof(line));
	if (p->err)
		return 0;
	if ((p->err = ht_reserve(&p->loc_ht, p->n_locs, p->locs,
	                         sizeof(*p->locs),
	                         offsetof(struct loc, hash))))
		return 0;
	for (j = h & p->loc_ht.mask; p->loc_ht.slots[j];
	     j = (j + 1) & p->loc_ht.mask) {
		e = &p->locs[p->loc_ht.slots[j] - 1];
		if (e->pc == pc && e->frame == frame && e->line == line)
			return p->loc_ht.slots[j];
	}
	if ((p->err = sp_grow(&arr, &p->cap_locs, p->n_locs + 1,
	                      sizeof(*p->locs))))
		return 0;
	p->locs = arr;
	e = &p->locs[p->n_locs];
	e->pc = pc;
	e->frame = frame;
	e->line = line;
	e->hash = h;
	p->loc_ht.slots[j] = (uint32_t)++p->n_locs;
	return p->n_locs;
}

static const char *mode_of(const struct sp_store *st, int *timed)
{
	const char *m = sp_stackprof_mode_name(st);

	*timed = !strcmp(m, "cpu") || !strcmp(m, "wall");
	return m;
}

static void value_type(struct pprof *p, uint32_t field, const char *type,
                       const char *unit)
{
	size_t mark = sp_pb_open(&p->pb, field);

	sp_pb_int(&p->pb, VALUE_TYPE_TYPE, intern_c(p, type));
	sp_pb_int(&p->pb, VALUE_TYPE_UNIT, intern_c(p, unit));
	sp_pb_close(&p->pb, mark);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* One Sample: stack si on thread ti, seen count times. */
static void sample(struct pprof *p, uint32_t si, uint32_t ti, uint64_t count,
                   int timed)
{
	const struct sp_stack *s = &p->st->stacks[si];
	const struct sp_thread *t = &p->st->threads[ti];
	struct sp_pb *pb = &p->pb;
	size_t mark, inner;
	uint32_t k;

	mark = sp_pb_open(pb, PROFILE_SAMPLE);
	inner = sp_pb_open(pb, SAMPLE_LOCATION_ID); /* packed, leaf first */
	if (!s->n)
		sp_pb_varint(pb, location(p, 0, UNKNOWN_FRAME, 0));
	for (k = 0; k < s->n; k++)
		sp_pb_varint(pb, location(p, s->pcs ? s->pcs[k] : 0,
		                          s->frames[k], s->lines[k]));
	sp_pb_close(pb, inner);
	inner = sp_pb_open(pb, SAMPLE_VALUE);
	sp_pb_varint(pb, count);
	if (timed)
		sp_pb_varint(pb, count * p->st->info.interval_us * 1000);
	sp_pb_close(pb, inner);
	inner = sp_pb_open(pb, SAMPLE_LABEL);
	sp_pb_int(pb, LABEL_KEY, intern_c(p, "thread id"));
	sp_pb_int(pb, LABEL_NUM, t->tid);
	sp_pb_close(pb, inner);
	/* str 0 ("") would make pprof read a numeric label: no name, no
	 * label. */
	if (t->name[0]) {
		inner = sp_pb_open(pb, SAMPLE_LABEL);
		sp_pb_int(pb, LABEL_KEY, intern_c(p, "thread name"));
		sp_pb_int(pb, LABEL_STR,
		          intern(p, t->name,
		                 strnlen(t->name, sizeof(t->name))));
		sp_pb_close(pb, inner);
	}
	sp_pb_close(pb, mark);
}

static int samples(struct pprof *p, int timed)
{
	const struct sp_store *st = p->st;
	size_t i, j;

	p->keys = sp_reallocarray(NULL, st->n_samples, sizeof(*p->keys));
	if (!p->keys && st->n_samples)
		return SP_ERR(-ENOMEM);
	for (i = 0; i < st->n_samples; i++)
		p->keys[i] = (uint64_t)st->samples[i].stack << 32 |
		             st->samples[i].thread;
	qsort(p->keys, st->n_samples, sizeof(*p->keys), cmp_u64);
	for (i = 0; i < st->n_samples && !p->err; i = j) {
		j = i + 1;
		while (j < st->n_samples && p->keys[j] == p->keys[i])
			j++;
		sample(p, (uint32_t)(p->keys[i] >> 32), (uint32_t)p->keys[i],
		       j - i, timed);
	}
	return p->err;
}

/* Mapping per distinct object, in frame order; fills frame_map. */
static int mappings(struct pprof *p)
{
	const struct sp_store *st = p->st;
	uint32_t *by_str, n_maps = 0;
	size_t i;

	p->frame_map = sp_calloc(st->n_frames + 1, sizeof(*p->frame_map));
	if (!p->frame_map)
		return SP_ERR(-ENOMEM);
	for (i = 0; i < st->n_frames; i++)
		if (st->frames[i].object[0])
			p->frame_map[i] =
			    (uint32_t)intern_c(p, st->frames[i].object);
	if (p->err)
		return p->err;
	by_str = sp_calloc(p->n_strs, sizeof(*by_str));
	if (!by_str)
		return SP_ERR(-ENOMEM);
	for (i = 0; i < st->n_frames; i++) {
		uint32_t sidx = p->frame_map[i];
		size_t mark;

		if (!sidx)
			continue;
		if (!by_str[sidx]) {
			by_str[sidx] = ++n_maps;
			mark = sp_pb_open(&p->pb, PROFILE_MAPPING);
			sp_pb_uint(&p->pb, MAPPING_ID, n_maps);
			sp_pb_int(&p->pb, MAPPING_FILENAME, sidx);
			sp_pb_uint(&p->pb, MAPPING_HAS_FUNCTIONS, 1);
			sp_pb_uint(&p->pb, MAPPING_HAS_FILENAMES, 1);
			sp_pb_uint(&p->pb, MAPPING_HAS_LINE_NUMBERS, 1);
			sp_pb_close(&p->pb, mark);
		}
		p->frame_map[i] = by_str[sidx];
	}
	sp_free(by_str);
	return 0;
}

static void locations(struct pprof *p)
{
	struct sp_pb *pb = &p->pb;
	size_t i, mark, line;

	for (i = 0; i < p->n_locs; i++) {
		const struct loc *l = &p->locs[i];
		int unknown = l->frame == UNKNOWN_FRAME;

		mark = sp_pb_open(pb, PROFILE_LOCATION);
		sp_pb_uint(pb, LOCATION_ID, i + 1);
		if (!unknown && p->frame_map[l->frame])
			sp_pb_uint(pb, LOCATION_MAPPING_ID,
			           p->frame_map[l->frame]);
		if (l->pc)
			sp_pb_uint(pb, LOCATION_ADDRESS, l->pc);
		line = sp_pb_open(pb, LOCATION_LINE);
		sp_pb_uint(pb, LINE_FUNCTION_ID,
		           unknown ? p->st->n_frames + 1 : l->frame + 1u);
		if (l->line > 0)
			sp_pb_int(pb, LINE_LINE, l->line);
		sp_pb_close(pb, line);
		sp_pb_close(pb, mark);
	}
}

/* Interpreted frames must not look like raw symbols (see the top). */
static int native_name(const struct sp_frame *f)
{
	size_t n = strlen(f->file);

	if (!f->object[0] || !strcmp(f->file, "<cfunc>"))
		return 0;
	return !(n >= 3 && !strcmp(f->file + n - 3, ".rb"));
}

static void function(struct pprof *p, uint64_t id, const struct sp_frame *f)
{
	struct sp_pb *pb = &p->pb;
	size_t mark = sp_pb_open(pb, PROFILE_FUNCTION);
	int64_t name = intern_c(p, f->name);

	sp_pb_uint(pb, FUNCTION_ID, id);
	sp_pb_int(pb, FUNCTION_NAME, name);
	if (native_name(f))
		sp_pb_int(pb, FUNCTION_SYSTEM_NAME, name);
	if (f->file[0])
		sp_pb_int(pb, FUNCTION_FILENAME, intern_c(p, f->file));
	if (f->line > 0)
		sp_pb_int(pb, FUNCTION_START_LINE, f->line);
	sp_pb_close(pb, mark);
}

static void functions(struct pprof *p)
{
	static const struct sp_frame unknown = {
		.name = "(unknown)", .file = "", .object = "",
	};
	size_t i;

	for (i = 0; i < p->st->n_frames; i++)
		function(p, i + 1, &p->st->frames[i]);
	for (i = 0; i < p->n_locs; i++) {
		if (p->locs[i].frame == UNKNOWN_FRAME) {
			function(p, p->st->n_frames + 1, &unknown);
			break;
		}
	}
}

/* Provenance lines `go tool pprof` prints above every report. */
static void comments(struct pprof *p, const char *mode, char *buf,
                     size_t len)
{
	const struct sp_run_info *in = &p->st->info;

	snprintf(buf, len,
	         "stillprof %s mode=%s interval=%uus backend=%s guarantee=%s "
	         "pid=%d missed_samples=%llu",
	         STILLPROF_VERSION, mode, in->interval_us,
	         in->backend ? in->backend : "",
	         in->guarantee ? in->guarantee : "", (int)in->pid,
	         (unsigned long long)in->missed_samples);
	sp_pb_int(&p->pb, PROFILE_COMMENT, intern_c(p, buf));
}

static int build(struct pprof *p)
{
	const struct sp_store *st = p->st;
	struct sp_pb *pb = &p->pb;
	char comment[512];
	const char *mode;
	int timed, err;
	size_t i;

	intern(p, "", 0);
	mode = mode_of(st, &timed);
	value_type(p, PROFILE_SAMPLE_TYPE, "samples", "count");
	if (timed)
		value_type(p, PROFILE_SAMPLE_TYPE, mode, "nanoseconds");
	if ((err = samples(p, timed)) || (err = mappings(p)))
		return err;
	locations(p);
	functions(p);
	if (st->info.start_realtime_ns)
		sp_pb_int(pb, PROFILE_TIME_NANOS,
		          (int64_t)st->info.start_realtime_ns);
	if (st->info.duration_ns)
		sp_pb_int(pb, PROFILE_DURATION_NANOS,
		          (int64_t)st->info.duration_ns);
	if (timed) {
		value_type(p, PROFILE_PERIOD_TYPE, mode, "nanoseconds");
		sp_pb_int(pb, PROFILE_PERIOD,
		          (int64_t)st->info.interval_us * 1000);
		sp_pb_int(pb, PROFILE_DEFAULT_SAMPLE_TYPE, intern_c(p, mode));
	}
	comments(p, mode, comment, sizeof(comment));
	if (p->err)
		return p->err;
	for (i = 0; i < p->n_strs; i++)
		sp_pb_bytes(pb, PROFILE_STRING_TABLE, p->strs[i].s,
		            p->strs[i].len);
	return pb->err;
}

int sp_pprof_write(const struct sp_store *st, const struct sp_pprof_opts *o,
                   struct sp_sink *sink)
{
	struct pprof p;
	size_t i;
	int err;

	for (i = 0; i < st->n_stacks; i++)
		if (st->stacks[i].n && !st->stacks[i].frames)
			return SP_ERR(-EINVAL); /* sp_store_resolve first */
	memset(&p, 0, sizeof(p));
	p.st = st;
	sp_pb_init(&p.pb);
	err = build(&p);
	if (!err && o && o->uncompressed) {
		sp_sink_write(sink, p.pb.buf, p.pb.len);
		err = sink->err;
	} else if (!err) {
		err = sp_gzip_write(sink, p.pb.buf, p.pb.len);
	}
	sp_pb_fini(&p.pb);
	sp_free(p.strs);
	sp_free(p.str_ht.slots);
	sp_free(p.locs);
	sp_free(p.loc_ht.slots);
	sp_free(p.frame_map);
	sp_free(p.keys);
	return err;
}
