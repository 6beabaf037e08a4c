/*
 * make_dump.c - writes a realistic synthetic profile for stackprof_cli.sh
 * and pprof_go_tool.sh: three threads (a request loop, a recursive fib
 * worker, a worker blocked in read_socket), 210 wall-mode samples over 70
 * ticks, unknown pcs and empty stacks.  Symbols come from the fake
 * sp_symbols_lookup below, so no real binary is involved.  The same store
 * goes to every format, so the formats can be compared with each other.
 *
 *   make_dump OUT                       a stackprof dump
 *   make_dump (--format FORMAT OUT)...  the same store in several formats
 *
 * and prints "NAME TOTAL SELF" per function on stdout.
 * FORMAT: stackprof (default; Marshal, raw and aggregate on), json
 * (stackprof --json form), pprof (gzipped profile.proto), collapsed,
 * collapsed-threads (thread as root frame).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "store.h"
#include "symbols.h"
#include "formats.h"
#include "writers.h"

#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"

static const struct {
	uint64_t start;
	const char *name, *file, *object;
	int line;
} fns[] = {
	{ 0x401000, "main", "/src/app/main.c", "/usr/bin/app", 12 },
	{ 0x401100, "run_server", "/src/app/server.c", "/usr/bin/app", 40 },
	{ 0x401200, "handle_request", "/src/app/server.c", "/usr/bin/app", 88 },
	{ 0x401300, "parse_json", "/src/app/json.c", "/usr/bin/app", 7 },
	{ 0x401400, "compute_hash", "/src/app/hash.c", "/usr/bin/app", 21 },
	{ 0x401500, "worker_main", "/src/app/worker.c", "/usr/bin/app", 5 },
	{ 0x401600, "fib", "/src/app/worker.c", "/usr/bin/app", 30 },
	{ 0x7f0000010000, "read_socket", NULL, LIBC, 0 },
};

int sp_symbols_lookup(struct sp_symbols *sy, uint64_t pc,
                      struct sp_symbol *out)
{
	size_t i;

	(void)sy;
	memset(out, 0, sizeof(*out));
	for (i = 0; i < SP_ARRAY_LEN(fns); i++) {
		if (pc >= fns[i].start && pc < fns[i].start + 0x100) {
			out->name = fns[i].name;
			out->file = fns[i].file;
			out->object = fns[i].object;
			out->start = fns[i].start;
			out->fn_line = fns[i].line;
			out->line = fns[i].line ?
			    fns[i].line + (int)((pc - fns[i].start) / 16) : 0;
			return 0;
		}
	}
	return -ENOENT;
}

static int add(struct sp_store *st, uint32_t thread, uint64_t t_ns,
               int state, const uint64_t *pcs, uint32_t n)
{
	uint32_t idx;
	int err = sp_store_intern(st, pcs, n, &idx);

	return err ? err : sp_store_add_sample(st, idx, thread, t_ns, state);
}

static int build(struct sp_store *st)
{
	struct timespec rt;
	uint32_t t1, t2, t3;
	uint64_t pcs[16], t;
	int k, d, err = 0;

	clock_gettime(CLOCK_REALTIME, &rt);
	st->info.mode = STILLPROF_MODE_WALL;
	st->info.interval_us = 1000;
	st->info.start_ns = sp_now_ns();
	st->info.start_realtime_ns =
	    (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
	st->info.duration_ns = 70 * 1000000;
	st->info.missed_samples = 3;
	st->info.backend = "synthetic";
	st->info.guarantee = "none";
	st->info.pid = getpid();
	if ((err = sp_store_thread(st, 4000, "main", &t1)) ||
	    (err = sp_store_thread(st, 4001, "worker-1", &t2)) ||
	    (err = sp_store_thread(st, 4002, "worker-2", &t3)))
		return err;

	for (k = 0; k < 70 && !err; k++) {
		t = st->info.start_ns + (uint64_t)(k + 1) * 1000000;
		/* main: parse_json (two lines) or compute_hash, on CPU */
		pcs[0] = k % 3 == 2 ? 0x401420 : 0x401310 + (k % 2) * 0x10;
		pcs[1] = 0x401240;
		pcs[2] = 0x401150;
		pcs[3] = 0x401060;
		err = add(st, t1, t, SP_STATE_ONCPU, pcs, 4);
		/* worker-1: fib recursion 2..5 deep */
		for (d = 0; d < 2 + k % 4; d++)
			pcs[d] = d ? 0x401650 : 0x401620;
		pcs[d] = 0x401540;
		if (!err)
			err = add(st, t2, t + 10000, SP_STATE_ONCPU, pcs,
			          (uint32_t)d + 1);
		/* worker-2: blocked in libc; then an unknown pc, and two
		 * stacks the unwinder got nothing for */
		pcs[0] = k < 60 ? 0x7f0000010010 : 0x7f00dead0000;
		pcs[1] = 0x401560;
		if (!err)
			err = add(st, t3, t + 20000,
			          k < 60 ? SP_STATE_OFFCPU : SP_STATE_ONCPU, pcs,
			          k == 60 || k == 61 ? 0 : 2);
	}
	return err;
}

struct ctx {
	struct sp_store *st;
	const char *format;
};

static int write_fn(struct sp_sink *sink, void *arg)
{
	static const struct sp_stackprof_opts dump = { .raw = 1,
	                                               .aggregate = 1 };
	static const struct sp_collapsed_opts threads = { .thread_root = 1 };
	struct ctx *c = arg;

	if (!strcmp(c->format, "stackprof"))
		return sp_stackprof_write(c->st, &dump, sink);
	if (!strcmp(c->format, "json"))
		return sp_stackprof_json_write(c->st, NULL, sink);
	if (!strcmp(c->format, "pprof"))
		return sp_pprof_write(c->st, NULL, sink);
	if (!strcmp(c->format, "collapsed"))
		return sp_collapsed_write(c->st, NULL, sink);
	if (!strcmp(c->format, "collapsed-threads"))
		return sp_collapsed_write(c->st, &threads, sink);
	return -EINVAL;
}

int main(int argc, char **argv)
{
	struct ctx c = { .format = "stackprof" };
	int err, i;

	if (argc < 2 || (argc > 2 && (argc - 1) % 3)) {
		fprintf(stderr, "usage: %s OUT | %s (--format stackprof|json|"
		        "pprof|collapsed|collapsed-threads OUT)...\n",
		        argv[0], argv[0]);
		return 2;
	}
	err = sp_store_new(&c.st);
	if (!err)
		err = build(c.st);
	if (!err)
		err = sp_store_resolve(c.st, (struct sp_symbols *)&c);
	/* One store, every requested file: they describe the same run. */
	for (i = argc == 2 ? 1 : 3; !err && i < argc; i += 3) {
		if (argc > 2 && strcmp(argv[i - 2], "--format"))
			err = -EINVAL;
		if (argc > 2)
			c.format = argv[i - 1];
		if (!err)
			err = sp_write_file_atomic(argv[i], write_fn, &c);
		if (err)
			break;
	}
	if (err) {
		fprintf(stderr, "make_dump: %s (%s): %s\n",
		        i < argc ? argv[i] : "-", c.format,
		        stillprof_strerror(err));
		sp_store_free(c.st);
		return 1;
	}
	/* Expected per-function counts, by construction (see build). */
	printf("main 70 0\nrun_server 70 0\nhandle_request 70 0\n"
	       "parse_json 47 47\ncompute_hash 23 23\nworker_main 138 0\n"
	       "fib 70 70\nread_socket 60 60\n0x7f00dead0000 8 8\n");
	sp_store_free(c.st);
	return 0;
}
