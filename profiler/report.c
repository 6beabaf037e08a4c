/*
 * report.c - `stillprof report FILE [--text] [--thread TID|NAME]
 * [--limit N]` (report.h).  Reading the dump is formats/stackprof_read.c's
 * job; this file parses the command line, narrows the store to the chosen
 * threads and prints the text view, a top table laid out like
 * `stackprof --text` (lib/stackprof/report.rb print_text) so the two can
 * be compared line by line, plus the back-end and thread list that only
 * stillprof dumps carry.  --json, --pprof, --collapsed, --speedscope and
 * --flamegraph write the same (narrowed) store through formats/writers.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "store.h"
#include "formats.h"
#include "readers.h"
#include "writers.h"
#include "report.h"

#define DEFAULT_LIMIT 30

/* File outputs: option, writer.  Each writes through a temporary file
 * renamed into place (sp_write_file_atomic). */
enum {
	OUT_JSON, OUT_PPROF, OUT_COLLAPSED, OUT_SPEEDSCOPE, OUT_FLAMEGRAPH,
	N_OUTPUTS
};
static const char *const file_outputs[N_OUTPUTS] = {
	"--json", "--pprof", "--collapsed", "--speedscope", "--flamegraph",
};

static int write_json(struct sp_sink *sink, void *st)
{
	return sp_stackprof_json_write(st, NULL, sink);
}

static int write_pprof(struct sp_sink *sink, void *st)
{
	return sp_pprof_write(st, NULL, sink);
}

static int write_collapsed(struct sp_sink *sink, void *st)
{
	struct sp_collapsed_opts o = {.thread_root = 1};
	return sp_collapsed_write(st, &o, sink);
}

static int write_speedscope(struct sp_sink *sink, void *st)
{
	return sp_speedscope_write(st, NULL, sink);
}

static int write_flamegraph(struct sp_sink *sink, void *st)
{
	return sp_flamegraph_write(st, NULL, sink);
}

static sp_write_fn *const writers[N_OUTPUTS] = {
	write_json, write_pprof, write_collapsed, write_speedscope,
	write_flamegraph,
};

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: stillprof report FILE [--text] [--json OUT] "
	        "[--pprof OUT] [--collapsed OUT]\n"
	        "                        [--speedscope OUT] [--flamegraph OUT] "
	        "[--thread TID|NAME]\n"
	        "                        [--limit N]\n"
	        "\n"
	        "Reads a stackprof dump (written by stillprof or by the "
	        "stackprof gem;\nMarshal or JSON) and prints its top frames "
	        "by self samples.\n"
	        "  --text      top table like `stackprof --text` (default "
	        "without file outputs)\n"
	        "  --json      write the stackprof JSON (`stackprof --json`, "
	        "speedscope)\n"
	        "  --pprof     write a gzipped pprof profile (go tool pprof)\n"
	        "  --collapsed write folded stacks, thread as root frame "
	        "(flamegraph.pl)\n"
	        "  --speedscope write speedscope's format, one profile per "
	        "thread\n"
	        "  --flamegraph write a self-contained HTML flame graph "
	        "(no network)\n"
	        "  --thread    only the samples of the thread with this tid "
	        "or name\n"
	        "  --limit     number of frames shown (default %d, 0 = all)\n",
	        DEFAULT_LIMIT);
}

/* ---- narrowing to threads ---- */

static int copy_info(struct sp_store *dst, const struct sp_store *src)
{
	const struct sp_run_info *in = &src->info;
	int err = 0;

	dst->info = *in;
	/* The source's strings may die with it: the copy owns its own. */
	dst->info.backend = dst->info.guarantee = dst->info.mode_name = NULL;
	if (in->backend)
		err = sp_store_strdup(dst, in->backend, &dst->info.backend);
	if (!err && in->guarantee)
		err = sp_store_strdup(dst, in->guarantee, &dst->info.guarantee);
	if (!err && in->mode_name)
		err = sp_store_strdup(dst, in->mode_name, &dst->info.mode_name);
	return err;
}

int sp_report_select_threads(const struct sp_store *src, const uint8_t *keep,
                             struct sp_store **out)
{
	uint32_t *frame_map = NULL, *stack_map = NULL, *thread_map = NULL;
	uint32_t *frames = NULL, idx;
	struct sp_store *dst = NULL;
	size_t i, max_n = 0;
	uint32_t k;
	int err;

	*out = NULL;
	err = sp_store_new(&dst);
	if (err)
		return err;
	/* index + 1 in the new store; 0 = not used by the kept threads */
	frame_map = sp_calloc(src->n_frames, sizeof(*frame_map));
	stack_map = sp_calloc(src->n_stacks, sizeof(*stack_map));
	thread_map = sp_calloc(src->n_threads, sizeof(*thread_map));
	if (!frame_map || !stack_map || !thread_map) {
		err = SP_ERR(-ENOMEM);
		goto out;
	}
	err = copy_info(dst, src);
	for (i = 0; !err && i < src->n_threads; i++) {
		if (!keep[i])
			continue;
		err = sp_store_thread_new(dst, src->threads[i].tid,
		                          src->threads[i].name, &idx);
		thread_map[i] = idx + 1;
	}
	/* Frames in source order, so ids and their order survive. */
	for (i = 0; !err && i < src->n_samples; i++) {
		const struct sp_stack *s = &src->stacks[src->samples[i].stack];

		if (!keep[src->samples[i].thread])
			continue;
		for (k = 0; k < s->n; k++)
			frame_map[s->frames[k]] = 1;
		if (s->n > max_n)
			max_n = s->n;
	}
	for (i = 0; !err && i < src->n_frames; i++) {
		const struct sp_frame *f = &src->frames[i];

		if (!frame_map[i])
			continue;
		err = sp_store_add_frame(dst, f->name, f->file, f->object,
		                         f->line, &idx);
		if (!err) {
			dst->frames[idx].id = f->id;
			frame_map[i] = idx + 1;
		}
	}
	if (!err) {
		frames = sp_reallocarray(NULL, max_n ? max_n : 1,
		                         sizeof(*frames));
		if (!frames)
			err = SP_ERR(-ENOMEM);
	}
	for (i = 0; !err && i < src->n_samples; i++) {
		const struct sp_sample *sm = &src->samples[i];
		const struct sp_stack *s = &src->stacks[sm->stack];

		if (!keep[sm->thread])
			continue;
		if (!stack_map[sm->stack]) {
			for (k = 0; k < s->n; k++)
				frames[k] = frame_map[s->frames[k]] - 1;
			err = sp_store_add_resolved(dst, frames, s->lines, s->n,
			                            &idx);
			if (err)
				break;
			stack_map[sm->stack] = idx + 1;
		}
		err = sp_store_add_sample(dst, stack_map[sm->stack] - 1,
		                          thread_map[sm->thread] - 1, sm->t_ns,
		                          sm->state);
	}
	if (!err)
		err = sp_store_resolve(dst, NULL);
out:
	sp_free(frame_map);
	sp_free(stack_map);
	sp_free(thread_map);
	sp_free(frames);
	if (err) {
		sp_store_free(dst);
		return err;
	}
	*out = dst;
	return 0;
}

/* ---- the text view ---- */

/* stackprof's GC pseudo-frames (research/stackprof-format.md 1.5). */
static int is_gc_frame(const struct sp_frame *f)
{
	return !f->file[0] && (!strcmp(f->name, "(garbage collection)") ||
	                       !strcmp(f->name, "(marking)") ||
	                       !strcmp(f->name, "(sweeping)"));
}

/* Samples taken in the GC: stacks holding a GC pseudo-frame.  With :raw
 * every GC stack is rooted at "(garbage collection)"; without it the
 * marking/sweeping leaves stand alone, and this still counts them all. */
static uint64_t gc_samples(const struct sp_store *st)
{
	uint64_t n = 0;
	size_t i;
	uint32_t k;

	for (i = 0; i < st->n_samples; i++) {
		const struct sp_stack *s = &st->stacks[st->samples[i].stack];

		for (k = 0; k < s->n; k++) {
			if (is_gc_frame(&st->frames[s->frames[k]])) {
				n++;
				break;
			}
		}
	}
	return n;
}

static const struct sp_store *sort_store;

/* Self samples descending, then total descending, then table order. */
static int cmp_rows(const void *pa, const void *pb)
{
	const struct sp_frame *a = &sort_store->frames[*(const uint32_t *)pa];
	const struct sp_frame *b = &sort_store->frames[*(const uint32_t *)pb];

	if (a->self_samples != b->self_samples)
		return a->self_samples > b->self_samples ? -1 : 1;
	if (a->total_samples != b->total_samples)
		return a->total_samples > b->total_samples ? -1 : 1;
	return *(const uint32_t *)pa < *(const uint32_t *)pb ? -1 : 1;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* st is the store shown (narrowed to filter's threads when filter is
 * set), all the whole profile: misses are only known process-wide. */
static int print_text(const struct sp_store *st, const struct sp_store *all,
                      const struct sp_stackprof_read_info *info,
                      const char *filter, size_t limit)
{
	uint64_t n = st->n_samples, missed = st->info.missed_samples;
	const char *mode = st->info.mode_name;
	uint32_t *rows;
	size_t n_rows = 0, i;
	char a[32], b[32];

	if (!mode)
		mode = st->info.mode == STILLPROF_MODE_CPU ? "cpu" : "wall";
	rows = sp_reallocarray(NULL, st->n_frames ? st->n_frames : 1,
	                       sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	for (i = 0; i < st->n_frames; i++)
		if (st->frames[i].total_samples)
			rows[n_rows++] = (uint32_t)i;
	sort_store = st;
	qsort(rows, n_rows, sizeof(*rows), cmp_rows);

	printf("==================================\n");
	if (info->has_interval)
		printf("  Mode: %s(%u)\n", mode, st->info.interval_us);
	else
		printf("  Mode: %s()\n", mode);
	if (filter)
		printf("  Samples: %llu of %llu (%.2f%% miss rate, all "
		       "threads)\n", (unsigned long long)n,
		       (unsigned long long)all->n_samples,
		       pct(missed, missed + all->n_samples));
	else
		printf("  Samples: %llu (%.2f%% miss rate)\n",
		       (unsigned long long)n, pct(missed, missed + n));
	printf("  GC: %llu (%.2f%%)\n", (unsigned long long)gc_samples(st),
	       pct(gc_samples(st), n));
	if (st->info.backend && st->info.backend[0]) {
		printf("  Back-end: %s", st->info.backend);
		if (st->info.guarantee && st->info.guarantee[0])
			printf(" (%s)", st->info.guarantee);
		printf("\n");
	}
	if (info->per_thread) {
		printf("  Threads%s%s:\n", filter ? " matching " : "",
		       filter ? filter : "");
		printf("  %10s  %-16s %10s\n", "TID", "NAME", "SAMPLES");
		for (i = 0; i < st->n_threads; i++)
			printf("  %10d  %-16s %10llu\n", (int)st->threads[i].tid,
			       st->threads[i].name,
			       (unsigned long long)st->threads[i].samples);
	}
	if (!info->from_raw && st->n_samples)
		printf("  (no :raw samples: TOTAL is known for leaf frames "
		       "only)\n");
	printf("==================================\n");
	printf("%10s    (pct)  %10s    (pct)     FRAME\n", "TOTAL", "SAMPLES");
	if (limit && n_rows > limit)
		n_rows = limit;
	for (i = 0; i < n_rows; i++) {
		const struct sp_frame *f = &st->frames[rows[i]];

		snprintf(a, sizeof(a), "(%2.1f%%)", pct(f->total_samples, n));
		snprintf(b, sizeof(b), "(%2.1f%%)", pct(f->self_samples, n));
		printf("%10llu %8s  %10llu %8s     %s\n",
		       (unsigned long long)f->total_samples, a,
		       (unsigned long long)f->self_samples, b, f->name);
	}
	sp_free(rows);
	return 0;
}

/* ---- command line ---- */

static int parse_limit(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > SIZE_MAX)
		return -EINVAL;
	*out = (size_t)v;
	return 0;
}

/* Mark the threads matching spec: a tid (all digits), else a name; all
 * threads of that name when several share it.  Returns how many. */
static size_t match_threads(const struct sp_store *st, const char *spec,
                            uint8_t *keep)
{
	size_t i, n = 0;
	char *end;
	long tid;

	errno = 0;
	tid = strtol(spec, &end, 10);
	if (*spec && !*end && !errno) {
		for (i = 0; i < st->n_threads; i++)
			if (st->threads[i].tid == tid)
				n += keep[i] = 1;
		if (n)
			return n;
	}
	for (i = 0; i < st->n_threads; i++)
		if (!strcmp(st->threads[i].name, spec))
			n += keep[i] = 1;
	return n;
}

int sp_report_main(int argc, char **argv)
{
	struct sp_stackprof_read_info info;
	struct sp_store *st = NULL, *narrow = NULL;
	const char *path = NULL, *thread = NULL;
	size_t limit = DEFAULT_LIMIT, j;
	uint8_t *keep = NULL;
	const char *outputs[N_OUTPUTS] = {NULL};
	char err_msg[600];
	int i, err, status = 1, text = 0, n_outputs = 0;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--text")) {
			text = 1;
			continue;
		} else if (!strcmp(a, "--thread") || !strcmp(a, "--limit")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "stillprof report: %s needs a "
				        "value\n", a);
				return 2;
			}
			if (a[2] == 't') {
				thread = argv[++i];
			} else if (parse_limit(argv[++i], &limit)) {
				fprintf(stderr, "stillprof report: bad --limit "
				        "'%s' (expected a count)\n", argv[i]);
				return 2;
			}
		} else if (a[0] == '-' && a[1]) {
			for (j = 0; j < N_OUTPUTS; j++)
				if (!strcmp(a, file_outputs[j]))
					break;
			if (j < N_OUTPUTS) {
				if (i + 1 >= argc || !argv[i + 1][0]) {
					fprintf(stderr, "stillprof report: %s "
					        "needs an output file\n", a);
					return 2;
				}
				n_outputs += !outputs[j];
				outputs[j] = argv[++i];
				continue;
			}
			fprintf(stderr, "stillprof report: unknown option "
			        "'%s'\n", a);
			usage(stderr);
			return 2;
		} else if (path) {
			fprintf(stderr, "stillprof report: one FILE only "
			        "('%s' and '%s')\n", path, a);
			return 2;
		} else {
			path = a;
		}
	}
	if (!path) {
		fprintf(stderr, "stillprof report: no FILE given\n");
		usage(stderr);
		return 2;
	}
	err_msg[0] = '\0';
	err = sp_stackprof_read_file(path, &st, &info, err_msg,
	                             sizeof(err_msg));
	if (err) {
		fprintf(stderr, "stillprof report: %s\n",
		        err_msg[0] ? err_msg : stillprof_strerror(err));
		return 1;
	}
	if (thread) {
		if (!info.per_thread) {
			fprintf(stderr, "stillprof report: %s has no "
			        "per-thread data (:raw_threads); --thread "
			        "needs a stillprof dump with raw samples\n",
			        path);
			goto out;
		}
		keep = sp_calloc(st->n_threads ? st->n_threads : 1, 1);
		if (!keep)
			goto oom;
		if (!match_threads(st, thread, keep)) {
			fprintf(stderr, "stillprof report: %s has no thread "
			        "'%s'; threads:", path, thread);
			for (j = 0; j < st->n_threads; j++)
				fprintf(stderr, " %d (%s)",
				        (int)st->threads[j].tid,
				        st->threads[j].name);
			fprintf(stderr, "\n");
			goto out;
		}
		err = sp_report_select_threads(st, keep, &narrow);
		if (err)
			goto oom;
	}
	for (j = 0; j < N_OUTPUTS; j++) {
		if (!outputs[j])
			continue;
		err = sp_write_file_atomic(outputs[j], writers[j],
		                           narrow ? narrow : st);
		if (err) {
			fprintf(stderr, "stillprof report: writing %s: %s\n",
			        outputs[j], stillprof_strerror(err));
			goto out;
		}
	}
	if (text || !n_outputs) {
		err = print_text(narrow ? narrow : st, st, &info, thread,
		                 limit);
		if (err)
			goto oom;
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "stillprof report: writing the report: %s\n",
		        strerror(errno));
		goto out;
	}
	status = 0;
	goto out;
oom:
	fprintf(stderr, "stillprof report: %s\n", stillprof_strerror(-ENOMEM));
out:
	sp_free(keep);
	sp_store_free(narrow);
	sp_store_free(st);
	return status;
}
