/*
 * threads.c - the registry of sampled threads: a table of entries and a
 * tid -> entry hash, plus /proc/self/task discovery and thread names.
 * Thread ids are only ever used to open a thread's perf event and its
 * /proc files at attach time; afterwards every access goes through fds
 * that stay bound to the original thread, so a reused tid is harmless.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "proc_parse.h"
#include "threads.h"

int sp_threads_init(struct sp_threads *t)
{
	memset(t, 0, sizeof(*t));
	t->n_index = 64;
	t->index = sp_malloc(t->n_index * sizeof(*t->index));
	if (!t->index)
		return -ENOMEM;
	memset(t->index, 0xff, t->n_index * sizeof(*t->index));
	return 0;
}

void sp_threads_fini(struct sp_threads *t)
{
	for (size_t i = 0; i < t->n; i++)
		sp_free(t->all[i]);
	sp_free(t->all);
	sp_free(t->index);
	memset(t, 0, sizeof(*t));
}

static size_t slot_of(const struct sp_threads *t, pid_t tid)
{
	return ((uint32_t)tid * 2654435761u) & (t->n_index - 1);
}

/* Rebuild the hash from the table (after growth or removal). */
static int rehash(struct sp_threads *t, size_t n_index)
{
	int32_t *idx = sp_malloc(n_index * sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	memset(idx, 0xff, n_index * sizeof(*idx));
	sp_free(t->index);
	t->index = idx;
	t->n_index = n_index;
	for (size_t i = 0; i < t->n; i++) {
		size_t s = slot_of(t, t->all[i]->tid);
		while (t->index[s] >= 0)
			s = (s + 1) & (t->n_index - 1);
		t->index[s] = (int32_t)i;
	}
	return 0;
}

struct sp_tstate *sp_threads_find(struct sp_threads *t, pid_t tid)
{
	size_t s = slot_of(t, tid);

	while (t->index[s] >= 0) {
		struct sp_tstate *ts = t->all[t->index[s]];
		if (ts->tid == tid)
			return ts;
		s = (s + 1) & (t->n_index - 1);
	}
	return NULL;
}

int sp_threads_add(struct sp_threads *t, pid_t tid, struct sp_tstate **out)
{
	struct sp_tstate *ts;
	size_t s;

	/* Keep the load factor under 1/2 so probes stay short. */
	if ((t->n + 1) * 2 > t->n_index && rehash(t, t->n_index * 2))
		return -ENOMEM;
	if (sp_grow((void **)&t->all, &t->cap, t->n + 1, sizeof(*t->all)))
		return -ENOMEM;
	ts = sp_calloc(1, sizeof(*ts));
	if (!ts)
		return -ENOMEM;
	ts->tid = tid;
	ts->live = 1;
	ts->ring.fd = -1;
	ts->syscall_fd = -1;
	ts->switch_fd = -1;
	ts->attach_ns = sp_now_ns();
	t->all[t->n] = ts;
	s = slot_of(t, tid);
	while (t->index[s] >= 0)
		s = (s + 1) & (t->n_index - 1);
	t->index[s] = (int32_t)t->n;
	t->n++;
	*out = ts;
	return 0;
}

void sp_threads_remove(struct sp_threads *t, struct sp_tstate *ts)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->all[i] != ts)
			continue;
		t->all[i] = t->all[--t->n];
		sp_free(ts);
		/* Positions moved: rebuild the hash in place (no
		 * allocation, so removal cannot fail). */
		memset(t->index, 0xff, t->n_index * sizeof(*t->index));
		for (size_t j = 0; j < t->n; j++) {
			size_t s = slot_of(t, t->all[j]->tid);
			while (t->index[s] >= 0)
				s = (s + 1) & (t->n_index - 1);
			t->index[s] = (int32_t)j;
		}
		return;
	}
}

int sp_thread_open_file(pid_t tid, const char *file)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/%s", (int)tid, file);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* One read of a small /proc/self/task/TID file: bytes read or -errno. */
static ssize_t read_task_file(pid_t tid, const char *file, char *buf,
                              size_t len)
{
	int fd = sp_thread_open_file(tid, file);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len);
	if (n < 0)
		n = -errno;
	sp_close(fd);
	return n;
}

int sp_thread_read_name(pid_t tid, char name[16])
{
	char buf[16];
	ssize_t n = read_task_file(tid, "comm", buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	sp_parse_comm(buf, (size_t)n, name);
	return 0;
}

int sp_thread_read_start(pid_t tid, uint64_t *start)
{
	char buf[1024];
	ssize_t n = read_task_file(tid, "stat", buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	return sp_parse_stat_starttime(buf, (size_t)n, start);
}

int sp_thread_alive(const struct sp_tstate *ts)
{
	char c;

	return ts->syscall_fd < 0 || pread(ts->syscall_fd, &c, 1, 0) >= 0 ||
	       errno != ESRCH;
}

uint64_t sp_thread_cpu_ns(pid_t tid)
{
	/* The clock id pthread_getcpuclockid computes from a tid. */
	clockid_t clk = (clockid_t)((~(unsigned)tid << 3) | 6);
	struct timespec t;

	if (clock_gettime(clk, &t))
		return UINT64_MAX;
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

int sp_threads_scan(int (*fn)(pid_t tid, void *ctx), void *ctx)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int err = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		pid_t tid = sp_parse_tid(e->d_name);
		if (tid <= 0)
			continue;
		err = fn(tid, ctx);
		if (err)
			break;
	}
	closedir(d);
	return err;
}
