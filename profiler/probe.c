/*
 * probe.c - the stack of a thread that is blocked in a system call, read
 * without touching the thread: /proc/self/task/TID/syscall gives the
 * syscall number and the user sp and pc at syscall entry; the stack is
 * copied with process_vm_readv (which reports faults instead of crashing)
 * and unwound like a perf sample, from sp and pc alone.
 *
 * The copy is only trusted if the thread did not run meanwhile.  With a
 * perf ring that is proven by the ring itself: a thread cannot run again
 * without being switched in, and its switch-in record advances the ring's
 * data_head, so a head unchanged across the copy (with room in the ring
 * for that record: it was fully drained) means the thread never ran.  The
 * loads are ordered (acquire; x86-64 orders loads with loads, stores with
 * stores): a stack word the thread wrote after its switch-in implies that
 * the head we read afterwards shows the record.  That costs no system
 * call; without a ring (signal back-end) its CPU clock must not move and a
 * second read of the syscall file must give the same sp and pc.  The syscall file is read through an fd opened at attach
 * time, which fails with ESRCH once that thread is gone, so a recycled tid
 * is never probed.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "probe_copy.h"
#include "proc_parse.h"
#include "session.h"
#include "store.h"
#include "unwind.h"

/* Bytes of a blocked thread's stack we copy at most (probe_copy.c copies
 * the first page or two, the rest only when the unwind needs it). */
#define SP_PROBE_STACK_BYTES 32768

struct syscall_state {
	long nr;             /* -1: not in a system call */
	unsigned long sp, pc;
};

/* Returns 1 (blocked in a syscall, *st filled), 0 (running or runnable)
 * or -errno. */
static int read_syscall(int fd, struct syscall_state *st)
{
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);

	if (n < 0)
		return -errno;
	return sp_parse_syscall(buf, (size_t)n, &st->nr, &st->sp, &st->pc);
}

int sp_probe_blocked(struct stillprof_session *s, struct sp_tstate *ts,
                     uint32_t *stack)
{
	struct syscall_state a, b;
	uint64_t t0 = sp_now_ns(), cpu0, cpu1, head0 = 0;
	struct perf_event_mmap_page *meta;
	struct sp_probe_copy_res res;
	int r, n;

	if (ts->syscall_fd < 0)
		return -EBADF;
	meta = ts->ring.fd >= 0 ? ts->ring.meta : NULL;
	if (meta) {
		head0 = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
		if (meta->data_tail != head0)
			meta = NULL; /* not drained: check the clock */
	}
	cpu0 = meta ? 0 : sp_thread_cpu_ns(ts->tid);
	r = read_syscall(ts->syscall_fd, &a);
	if (r <= 0)
		return r;
	/* A thread in exit(2) never returns to user space, and once its
	 * joiner has woken its stack may already serve a new thread: there
	 * is no stack of its own to read. */
	if (a.nr == SYS_exit || a.nr == SYS_exit_group)
		return -ESRCH;
	/* Copies a little, more if the unwind wants it (probe_copy.c);
	 * the unwind of a torn copy is thrown away below.  owner_pid, not
	 * getpid(): that is one system call less per probe. */
	n = sp_probe_unwind(s->uw, s->owner_pid, a.sp, a.pc, ts->probe_hint_end,
	                    s->probe_buf, SP_PROBE_STACK_BYTES, s->pcs,
	                    s->opts.max_depth, &res);
	if (n < 0)
		return n;
	ts->probe_hint_end = res.want_end;
	/* The check covers every copy: it comes after the last. */
	if (meta) {
		if (__atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE) !=
		    head0) {
			/* A record: it may have run, the copy may be torn. */
			s->c.probe_torn++;
			return 0;
		}
	} else {
		cpu1 = sp_thread_cpu_ns(ts->tid);
		r = read_syscall(ts->syscall_fd, &b);
		if (r < 0)
			return r;
		if (r == 0 || cpu0 != cpu1 || cpu0 == UINT64_MAX ||
		    b.sp != a.sp || b.pc != a.pc) {
			/* It ran while we copied: the copy may be torn. */
			s->c.probe_torn++;
			return 0;
		}
	}
	r = sp_store_intern(s->store, s->pcs, (uint32_t)n, stack);
	s->c.probes++;
	s->c.probe_ns += sp_now_ns() - t0;
	return r ? r : 1;
}

size_t sp_probe_buf_len(void)
{
	return SP_PROBE_STACK_BYTES;
}

int sp_probe_first(struct stillprof_session *s, struct sp_tstate *ts,
                   uint32_t *stack)
{
	int r = sp_probe_blocked(s, ts, stack);

	if (r == 0)
		ts->run_state = SP_RUN_ONCPU;
	if (r <= 0)
		return r;
	ts->run_state = SP_RUN_BLOCKED;
	ts->off_state = SP_RUN_BLOCKED;
	ts->episode++;
	ts->probed_episode = ts->episode;
	ts->have_blocked_stack = 1;
	ts->blocked_stack = *stack;
	return 1;
}
