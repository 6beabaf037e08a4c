/*
 * test_stackprof_dump.c - the stackprof dump writer on a small hand-made
 * profile (two threads, recursion, an empty stack, out-of-order samples):
 * byte-level checks that need nothing, then Ruby's view of the dump (keys,
 * raw records, counts, edges, lines) and Ruby's re-dump byte identity when
 * ruby is on PATH.  Also the sink and sp_write_file_atomic.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "store.h"
#include "symbols.h"
#include "formats.h"
#include "writers_fixture.h"
#include "slurp_file.h"

static const struct sp_stackprof_opts full = { .raw = 1, .aggregate = 1 };

static void write_mem(const struct sp_store *st,
                      const struct sp_stackprof_opts *o, struct sp_sink *s)
{
	sp_sink_init_mem(s);
	assert_int_equal(sp_stackprof_write(st, o, s), 0);
}

static int contains(const struct sp_sink *s, const void *needle, size_t len)
{
	return memmem(s->buf, s->len, needle, len) != NULL;
}

static void test_stackprof_header_and_version(void **state)
{
	static const unsigned char head[] = {
		0x04, 0x08, '{', 12 + 5, ':', 7 + 5, 'v', 'e', 'r', 's', 'i',
		'o', 'n', 'f', 3 + 5, '1', '.', '2', ':', 4 + 5, 'm', 'o', 'd',
		'e', ':', 4 + 5, 'w', 'a', 'l', 'l',
	};
	struct sp_store *st = fx_store_parts(FX_EMPTY);
	struct sp_stackprof_opts noraw = { .raw = 0, .aggregate = 1 };
	struct sp_sink s;

	(void)state;
	write_mem(st, &full, &s);
	assert_true(s.len > sizeof(head));
	assert_memory_equal(s.buf, head, sizeof(head));
	assert_true(contains(&s, ":\x08raw[", 6));
	sp_sink_fini(&s);

	write_mem(st, &noraw, &s);
	assert_int_equal((unsigned char)s.buf[3], 8 + 5); /* 8 pairs */
	assert_false(contains(&s, ":\x08raw", 5));
	sp_sink_fini(&s);

	st->info.mode = STILLPROF_MODE_CPU;
	write_mem(st, &full, &s);
	assert_true(contains(&s, ":\x09mode:\x08" "cpu", 10));
	sp_sink_fini(&s);
	sp_store_free(st);
}

/* Encode `ints` as a Marshal Array, for finding it in a dump. */
static void array_bytes(struct sp_sink *s, const int64_t *v, size_t n)
{
	struct sp_marshal m;
	size_t i;

	sp_sink_init_mem(s);
	sp_marshal_init(&m, s);
	sp_marshal_array(&m, n);
	for (i = 0; i < n; i++)
		sp_marshal_int(&m, v[i]);
}

/* Run-length records: same thread + frames + lines merge (A and A2 too),
 * the same stack later or on another thread does not; ids root first. */
static void test_stackprof_raw_records(void **state)
{
	/* ids: leaf 8, fib 16, main 24, (unknown) 32 */
	static const int64_t raw[] = {
		4, 24, 16, 16, 8, 3,  2, 24, 16, 1,  4, 24, 16, 16, 8, 1,
		4, 24, 16, 16, 8, 1,  1, 32, 2,      2, 24, 16, 1,
	};
	static const int64_t lines[] = {
		4, 14, 24, 24, 31, 3,  2, 14, 22, 1,  4, 14, 24, 24, 31, 1,
		4, 14, 24, 24, 31, 1,  1, 0, 2,       2, 14, 22, 1,
	};
	/* Per thread: a thread's first sample stands for one interval;
	 * a step back in time (6500 after 7000 on t2) is 0. */
	static const int64_t deltas[] = {
		1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 0,
	};
	static const int64_t threads[] = { 1001, 1001, 1001, 1002, 1002, 1002 };
	struct sp_store *st = fx_store_parts(FX_EMPTY);
	struct sp_sink s, want;

	(void)state;
	write_mem(st, &full, &s);
	array_bytes(&want, raw, SP_ARRAY_LEN(raw));
	assert_true(contains(&s, want.buf + 2, want.len - 2));
	sp_sink_fini(&want);
	array_bytes(&want, lines, SP_ARRAY_LEN(lines));
	assert_true(contains(&s, want.buf + 2, want.len - 2));
	sp_sink_fini(&want);
	array_bytes(&want, deltas, SP_ARRAY_LEN(deltas));
	assert_true(contains(&s, want.buf + 2, want.len - 2));
	sp_sink_fini(&want);
	array_bytes(&want, threads, SP_ARRAY_LEN(threads));
	assert_true(contains(&s, want.buf + 2, want.len - 2));
	sp_sink_fini(&want);
	sp_sink_fini(&s);
	sp_store_free(st);
}

static void test_stackprof_empty_profile(void **state)
{
	struct sp_store *st;
	struct sp_sink s;

	(void)state;
	assert_int_equal(sp_store_new(&st), 0);
	assert_int_equal(sp_store_resolve(st, NULL), 0);
	write_mem(st, &full, &s);
	/* no samples: no raw keys even with raw on; frames {} */
	assert_int_equal((unsigned char)s.buf[3], 8 + 5);
	assert_true(contains(&s, ":\x0b" "frames{\x00", 9));
	sp_sink_fini(&s);
	sp_store_free(st);
}

static void test_stackprof_requires_resolve(void **state)
{
	static const uint64_t pc[] = { 0x1000 };
	struct sp_store *st;
	struct sp_sink s;
	uint32_t t, k;

	(void)state;
	assert_int_equal(sp_store_new(&st), 0);
	assert_int_equal(sp_store_thread(st, 1, "x", &t), 0);
	assert_int_equal(sp_store_intern(st, pc, 1, &k), 0);
	assert_int_equal(sp_store_add_sample(st, k, t, 1, 0), 0);
	sp_sink_init_mem(&s);
	assert_int_equal(sp_stackprof_write(st, &full, &s), -EINVAL);
	assert_int_equal(s.len, 0);
	sp_sink_fini(&s);
	sp_store_free(st);
}

static void test_stackprof_oom_loop(void **state)
{
	struct sp_store *st = fx_store_parts(FX_EMPTY);
	struct sp_sink s, ref;
	unsigned long n;
	int err;

	(void)state;
	write_mem(st, &full, &ref);
	for (n = 1;; n++) {
		sp_sink_init_mem(&s);
		sp_alloc_fail_at(n);
		err = sp_stackprof_write(st, &full, &s);
		sp_alloc_fail_at(0);
		if (!err)
			break;
		assert_int_equal(err, -ENOMEM);
		sp_sink_fini(&s);
	}
	assert_true(n > 3);
	assert_int_equal(s.len, ref.len);
	assert_memory_equal(s.buf, ref.buf, s.len);
	sp_sink_fini(&s);
	sp_sink_fini(&ref);
	sp_store_free(st);
}

/* ---- through Ruby ---- */

static int have_ruby(void)
{
	return system("command -v ruby >/dev/null 2>&1") == 0;
}

struct write_ctx {
	const struct sp_store *st;
	const struct sp_stackprof_opts *o;
};

static int write_dump(struct sp_sink *sink, void *arg)
{
	struct write_ctx *c = arg;

	return sp_stackprof_write(c->st, c->o, sink);
}

/* Run ruby code on the dump at path; return its stdout (malloc'd). */
static char *ruby_on(const char *path, const char *code)
{
	char cmd[4096];
	size_t cap = 1 << 16, n = 0, r;
	char *out = malloc(cap);
	FILE *p;

	assert_non_null(out);
	snprintf(cmd, sizeof(cmd), "ruby -e '%s' %s", code, path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while ((r = fread(out + n, 1, cap - 1 - n, p)) > 0)
		n += r;
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	return out;
}

static void dump_to_file(const struct sp_store *st,
                         const struct sp_stackprof_opts *o, char *path)
{
	struct write_ctx c = { st, o };

	strcpy(path, "/tmp/sp_dump_test_XXXXXX");
	sp_close(mkstemp(path));
	assert_int_equal(sp_write_file_atomic(path, write_dump, &c), 0);
}

/* A canonical summary: keys, records with names, frames with counts. */
static const char summary_rb[] =
    "d = Marshal.load(File.binread(ARGV[0])); fr = d[:frames]; "
    "puts d.keys.join(\",\"); puts d[:metadata].keys.join(\",\"); "
    "m = d[:metadata]; "
    "puts [d[:version], d[:mode], d[:interval], d[:samples], "
    "d[:gc_samples], d[:missed_samples], m[:pid], m[:backend], "
    "m[:start_time], m[:threads]].inspect; "
    "if (raw = d[:raw]); rl = d[:raw_lines]; i = 0; k = 0; "
    "raise \"shape\" unless rl.size == raw.size; "
    "while i < raw.size; n = raw[i]; c = raw[i + n + 1]; "
    "raise \"rl\" unless rl[i] == n && rl[i + n + 1] == c; "
    "puts \"rec #{m[:raw_threads][k]} \" + "
    "raw[i + 1, n].map { |x| fr.fetch(x)[:name] }.join(\";\") + "
    "\" #{rl[i + 1, n].join(\",\")} x#{c}\"; i += n + 2; k += 1; end; "
    "puts \"sizes #{d[:raw_sample_timestamps].size} "
    "#{d[:raw_timestamp_deltas].size} #{m[:raw_threads].size == k}\"; end; "
    "fr.sort.each { |id, f| e = (f[:edges] || {}).map { |x, v| "
    "[fr[x][:name], v] }.sort; "
    "puts \"#{id} #{f[:name]} #{f[:file]} #{f[:line].inspect} "
    "#{f[:total_samples]}/#{f[:samples]} #{e.inspect} "
    "#{f[:lines].to_a.sort.inspect}\" }";

static void test_stackprof_ruby_summary(void **state)
{
	static const char want[] =
	    "version,mode,interval,samples,gc_samples,missed_samples,metadata,"
	    "frames,raw,raw_lines,raw_sample_timestamps,raw_timestamp_deltas\n"
	    "stillprof_version,backend,guarantee,pid,start_time,"
	    "start_monotonic,duration_ns,oncpu_samples,offcpu_samples,"
	    "weighted_samples,cut_samples,threads,raw_threads\n"
	    "[1.2, :wall, 1000, 9, 0, 2, 4242, \"test\", 1700000000123456, "
	    "[{:tid=>1001, :name=>\"main\", :samples=>5}, "
	    "{:tid=>1002, :name=>\"worker\", :samples=>4}]]\n"
	    "rec 1001 main;fib;fib;leaf 14,24,24,31 x3\n"
	    "rec 1001 main;fib 14,22 x1\n"
	    "rec 1001 main;fib;fib;leaf 14,24,24,31 x1\n"
	    "rec 1002 main;fib;fib;leaf 14,24,24,31 x1\n"
	    "rec 1002 (unknown) 0 x2\n"
	    "rec 1002 main;fib 14,22 x1\n"
	    "sizes 9 9 true\n"
	    "8 leaf /usr/bin/app 30 5/5 [] [[31, [5, 5]]]\n"
	    "16 fib /src/fib.c 20 7/2 [[\"fib\", 5], [\"leaf\", 5]] "
	    "[[22, [2, 2]], [24, [10, 0]]]\n"
	    "24 main /src/main.c 10 7/0 [[\"fib\", 7]] [[14, [7, 0]]]\n"
	    "32 (unknown)  nil 2/2 [] []\n";
	struct sp_store *st;
	char path[64], *out;

	(void)state;
	if (!have_ruby())
		skip();
	st = fx_store_parts(FX_EMPTY);
	dump_to_file(st, &full, path);
	out = ruby_on(path, summary_rb);
	assert_string_equal(out, want);
	free(out);
	unlink(path);
	sp_store_free(st);
}

static void test_stackprof_ruby_no_aggregate(void **state)
{
	struct sp_stackprof_opts o = { .raw = 1, .aggregate = 0 };
	struct sp_store *st;
	char path[64], *out;

	(void)state;
	if (!have_ruby())
		skip();
	st = fx_store_parts(0);
	dump_to_file(st, &o, path);
	out = ruby_on(path, "d = Marshal.load(File.binread(ARGV[0])); "
	                    "puts d[:frames].values.map { |f| f.keys.join(\",\") }");
	assert_string_equal(out, "name,file,line,total_samples,samples\n"
	                         "name,file,line,total_samples,samples\n"
	                         "name,file,line,total_samples,samples\n");
	free(out);
	unlink(path);
	sp_store_free(st);
}

/* Ruby's Marshal.dump of what it loaded is byte-identical to our dump. */
static void test_stackprof_ruby_redump_identical(void **state)
{
	struct sp_store *st;
	struct sp_sink s;
	char path[64], *out;
	size_t n;

	(void)state;
	if (!have_ruby())
		skip();
	st = fx_store_parts(FX_EMPTY);
	write_mem(st, &full, &s);
	dump_to_file(st, &full, path);
	out = ruby_on(path, "print Marshal.dump(Marshal.load("
	                    "File.binread(ARGV[0]))).unpack1(\"H*\")");
	n = strlen(out);
	assert_int_equal(n, 2 * s.len);
	for (size_t i = 0; i < s.len; i++) {
		char hex[3];

		snprintf(hex, sizeof(hex), "%02x", (unsigned char)s.buf[i]);
		if (memcmp(out + 2 * i, hex, 2))
			fail_msg("re-dump differs at byte %zu", i);
	}
	free(out);
	unlink(path);
	sp_sink_fini(&s);
	sp_store_free(st);
}

/* ---- sink and atomic file writer ---- */

static int write_hello(struct sp_sink *s, void *arg)
{
	(void)arg;
	sp_sink_printf(s, "hello %d\n", 42);
	return 0;
}

static int write_big(struct sp_sink *s, void *arg)
{
	size_t i;

	(void)arg;
	for (i = 0; i < 100000; i++)
		sp_sink_printf(s, "%zu,", i);
	sp_sink_write(s, arg, 300000); /* larger than the buffer */
	return 0;
}

static int write_then_fail(struct sp_sink *s, void *arg)
{
	(void)arg;
	sp_sink_printf(s, "partial");
	return -EPROTO;
}

static char *read_all(const char *path, size_t *len)
{
	char *buf = slurp_file(path, len);

	assert_non_null(buf);
	return buf;
}

static int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void test_sink_write_file_atomic(void **state)
{
	char dir[] = "/tmp/sp_sink_XXXXXX", path[128], sub[128], *buf;
	char *big = calloc(1, 300000);
	struct stat sb;
	mode_t um;
	size_t len;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out.dump", dir);

	/* success: content, mode 0600 minus umask, no temporary left */
	assert_int_equal(sp_write_file_atomic(path, write_hello, NULL), 0);
	buf = read_all(path, &len);
	assert_string_equal(buf, "hello 42\n");
	free(buf);
	um = umask(0);
	umask(um);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600 & ~um);
	assert_int_equal(dir_entries(dir), 1);

	/* writer failure: its error, old file untouched, no temporary */
	assert_int_equal(sp_write_file_atomic(path, write_then_fail, NULL),
	                 -EPROTO);
	buf = read_all(path, &len);
	assert_string_equal(buf, "hello 42\n");
	free(buf);
	assert_int_equal(dir_entries(dir), 1);

	/* large output through the fd buffer and around it */
	assert_int_equal(sp_write_file_atomic(path, write_big, big), 0);
	buf = read_all(path, &len);
	assert_int_equal(len, 588890 + 300000);
	assert_memory_equal(buf, "0,1,2,", 6);
	free(buf);

	/* errors */
	snprintf(sub, sizeof(sub), "%s/nope/out.dump", dir);
	assert_int_equal(sp_write_file_atomic(sub, write_hello, NULL), -ENOENT);
	assert_int_equal(sp_write_file_atomic(dir, write_hello, NULL), -EISDIR);
	snprintf(sub, sizeof(sub), "%s/", dir);
	assert_int_equal(sp_write_file_atomic(sub, write_hello, NULL), -EISDIR);
	assert_int_equal(sp_write_file_atomic("", write_hello, NULL), -EINVAL);
	snprintf(sub, sizeof(sub), "%s/out.dump/x", dir);
	assert_int_equal(sp_write_file_atomic(sub, write_hello, NULL), -ENOTDIR);
	assert_int_equal(dir_entries(dir), 1);

	/* a symlink planted at the path (shared directory) is replaced,
	 * never followed: its target keeps its content */
	{
		char victim[160], *v;
		int fd;

		snprintf(victim, sizeof(victim), "%s/victim", dir);
		fd = open(victim, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "keep", 4), 4);
		close(fd);
		unlink(path);
		assert_int_equal(symlink(victim, path), 0);
		assert_int_equal(sp_write_file_atomic(path, write_hello, NULL), 0);
		assert_int_equal(lstat(path, &sb), 0);
		assert_true(S_ISREG(sb.st_mode));
		v = read_all(victim, &len);
		assert_string_equal(v, "keep");
		free(v);
		/* a dangling symlink too: nothing is created at its target */
		unlink(path);
		snprintf(sub, sizeof(sub), "%s/created", dir);
		assert_int_equal(symlink(sub, path), 0);
		assert_int_equal(sp_write_file_atomic(path, write_hello, NULL), 0);
		assert_int_equal(access(sub, F_OK), -1);
		assert_int_equal(lstat(path, &sb), 0);
		assert_true(S_ISREG(sb.st_mode));
		assert_int_equal(dir_entries(dir), 2);
		unlink(victim);
	}

	unlink(path);
	rmdir(dir);
	free(big);
}

static void test_sink_fd_errors(void **state)
{
	struct sp_sink s;
	int fd;

	(void)state;
	/* ENOSPC latched at flush; later writes are no-ops */
	fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		skip();
	sp_sink_init_fd(&s, fd);
	sp_sink_printf(&s, "x");
	assert_int_equal(sp_sink_flush(&s), -ENOSPC);
	sp_sink_printf(&s, "y");
	assert_int_equal(s.err, -ENOSPC);
	sp_sink_fini(&s);
	close(fd);

	/* a bad fd */
	sp_sink_init_fd(&s, 1000);
	sp_sink_write(&s, "abc", 3);
	assert_int_equal(sp_sink_flush(&s), -EBADF);
	sp_sink_fini(&s);

	/* no memory for the buffer: writes go straight through */
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	sp_sink_init_fd(&s, fd);
	sp_alloc_fail_at(1);
	sp_sink_write(&s, "abc", 3);
	sp_alloc_fail_at(0);
	assert_int_equal(s.err, 0);
	assert_null(s.buf);
	assert_int_equal(sp_sink_flush(&s), 0);
	sp_sink_fini(&s);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stackprof_header_and_version),
		cmocka_unit_test(test_stackprof_raw_records),
		cmocka_unit_test(test_stackprof_empty_profile),
		cmocka_unit_test(test_stackprof_requires_resolve),
		cmocka_unit_test(test_stackprof_oom_loop),
		cmocka_unit_test(test_stackprof_ruby_summary),
		cmocka_unit_test(test_stackprof_ruby_no_aggregate),
		cmocka_unit_test(test_stackprof_ruby_redump_identical),
		cmocka_unit_test(test_sink_write_file_atomic),
		cmocka_unit_test(test_sink_fd_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
