/*
 * writer.c - speed and memory of the writers.  Builds a store the way a
 * long wall-mode session of a service leaves it (SAMPLES raw samples over 8
 * threads, 5 000 distinct stacks 8..40 frames deep over 2 000 functions,
 * time-ordered), then writes it once per format, each in a child process
 * forked from the filled store, and prints per format:
 *
 *   writer format=F seconds=S cpu_s=C bytes=B peak_mb=P extra_mb=E
 *
 * S: the atomic file write (temporary file, fsync, rename) as
 * stillprof_session_write does it; C: the child's CPU time (user + system)
 * over the same span, so S - C is roughly the wait for the disk at fsync;
 * P: the child's peak RSS (store included); E: P minus the RSS of the
 * filled store, i.e. what the writer itself needs.  A first line gives the store:
 *
 *   writer store samples=N rss_mb=R bytes_per_sample=X
 *
 * (X: RSS growth of the store while filling it, per sample: the raw-mode
 * memory cost of one sample.)
 *
 * Usage: writer DIR [SAMPLES [FORMAT...]]   (stackprof, json, pprof)
 * WRITER_KEEP=1 keeps DIR/writer.FORMAT (to compare two builds' output
 * byte for byte); by default each file is removed after measuring.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "store.h"
#include "formats.h"
#include "writers.h"

#define N_FUNCS 2000
#define N_STACKS 5000
#define N_THREADS 8

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time (user + system) of this process so far. */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident set size now, in bytes (from /proc/self/statm). */
static long rss_bytes(void)
{
	long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f) {
		if (fscanf(f, "%ld %ld", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * sysconf(_SC_PAGESIZE);
}

static int build(struct sp_store *st, size_t n_samples)
{
	uint32_t frames[64], th[N_THREADS], stacks_idx[N_STACKS];
	int32_t lines[64];
	unsigned seed = 7;
	char name[64], file[64];
	uint64_t t;
	int err = 0;

	st->info.mode = STILLPROF_MODE_WALL;
	st->info.interval_us = 1000;
	/* Fixed clocks and pid, so that two builds write the same bytes
	 * (WRITER_KEEP); three days of uptime make the µs timestamps
	 * Bignums in Marshal, as on a real server. */
	st->info.start_ns = t = UINT64_C(259200) * 1000000000u;
	st->info.start_realtime_ns = UINT64_C(1795000000) * 1000000000u;
	st->info.duration_ns = (uint64_t)n_samples / N_THREADS * 1000000u;
	st->info.backend = "synthetic";
	st->info.guarantee = "none";
	st->info.pid = 4242;
	for (int i = 0; i < N_THREADS && !err; i++) {
		snprintf(name, sizeof(name), "worker-%d", i);
		err = sp_store_thread(st, 1000 + i, name, &th[i]);
	}
	for (int i = 0; i < N_FUNCS && !err; i++) {
		uint32_t idx;
		snprintf(name, sizeof(name), "App::Module%d#method_%d", i % 50, i);
		snprintf(file, sizeof(file), "/srv/app/lib/module_%d.c", i % 50);
		err = sp_store_add_frame(st, name, file, "/srv/app/bin/app",
		                         10 + i, &idx);
	}
	for (int s = 0; s < N_STACKS && !err; s++) {
		uint32_t n = 8 + (uint32_t)(rand_r(&seed) % 33);
		for (uint32_t k = 0; k < n; k++) {
			/* shared roots, varied leaves: like real call trees */
			frames[k] = k >= n - 4 ? (n - 1 - k)
			            : (uint32_t)(rand_r(&seed) % N_FUNCS);
			lines[k] = 10 + (int32_t)frames[k] + (int32_t)(k % 7);
		}
		err = sp_store_add_resolved(st, frames, lines, n, &stacks_idx[s]);
	}
	for (size_t i = 0; i < n_samples && !err; i++) {
		/* skewed: a few hot stacks, a long tail */
		uint32_t r = (uint32_t)rand_r(&seed);
		uint32_t s = r % 4 ? r % 200 : r % N_STACKS;
		if (i % N_THREADS == 0)
			t += 1000000u;
		err = sp_store_add_sample(st, stacks_idx[s], th[i % N_THREADS],
		                          t + i % N_THREADS, (int)(r >> 20) & 1);
	}
	return err ? err : sp_store_resolve(st, NULL);
}

struct job {
	const struct sp_store *st;
	const char *format;
};

static int write_cb(struct sp_sink *sink, void *arg)
{
	struct job *j = arg;

	if (!strcmp(j->format, "stackprof")) {
		struct sp_stackprof_opts o = {.raw = 1, .aggregate = 1};
		return sp_stackprof_write(j->st, &o, sink);
	}
	if (!strcmp(j->format, "json"))
		return sp_stackprof_json_write(j->st, NULL, sink);
	return sp_pprof_write(j->st, NULL, sink);
}

int main(int argc, char **argv)
{
	static const char *formats[] = {"stackprof", "json", "pprof"};
	size_t n = argc > 2 ? (size_t)atol(argv[2]) : 1000000;
	struct sp_store *st;
	long rss0, rss1;
	int err;

	if (argc < 2 || n < 1) {
		fprintf(stderr, "usage: writer DIR [SAMPLES [FORMAT...]]\n");
		return 2;
	}
	rss0 = rss_bytes();
	if ((err = sp_store_new(&st)) || (err = build(st, n))) {
		fprintf(stderr, "writer: build: %s\n", stillprof_strerror(err));
		return 1;
	}
	rss1 = rss_bytes();
	printf("writer store samples=%zu rss_mb=%.1f bytes_per_sample=%.1f\n",
	       n, (double)rss1 / 1048576.0, (double)(rss1 - rss0) / (double)n);
	fflush(stdout);
	for (size_t f = 0; f < SP_ARRAY_LEN(formats); f++) {
		char path[4096];
		struct job j = {st, formats[f]};
		struct rusage ru;
		struct stat sb;
		int status, wanted = argc <= 3;
		pid_t pid;

		for (int a = 3; a < argc; a++)
			wanted |= !strcmp(argv[a], formats[f]);
		if (!wanted)
			continue;
		snprintf(path, sizeof(path), "%s/writer.%s", argv[1], formats[f]);
		fflush(stdout); /* or the child would print it again */
		pid = fork();
		if (pid == 0) {
			double t0 = now_s(), c0 = cpu_s(), secs, cpu;
			err = sp_write_file_atomic(path, write_cb, &j);
			secs = now_s() - t0;
			cpu = cpu_s() - c0;
			if (err) {
				fprintf(stderr, "writer: %s: %s\n", path,
				        stillprof_strerror(err));
				_exit(1);
			}
			printf("writer format=%s seconds=%.3f cpu_s=%.3f ",
			       formats[f], secs, cpu);
			fflush(stdout);
			_exit(0);
		}
		if (pid < 0 || wait4(pid, &status, 0, &ru) != pid ||
		    !WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "writer: %s failed\n", formats[f]);
			return 1;
		}
		if (stat(path, &sb) < 0)
			sb.st_size = 0;
		printf("bytes=%lld peak_mb=%.1f extra_mb=%.1f\n",
		       (long long)sb.st_size, (double)ru.ru_maxrss / 1024.0,
		       ((double)ru.ru_maxrss * 1024.0 - (double)rss1) / 1048576.0);
		if (!getenv("WRITER_KEEP"))
			unlink(path);
	}
	sp_store_free(st);
	return 0;
}
