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
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "proc_parse.h"
#include "session.h"
#include "store.h"
#include "unwind.h"

/* Bytes of a blocked thread's stack we copy: blocked stacks are stable, so
 * a generous copy costs only memcpy. */
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

/* CPU time of another thread of this process (clock id from its tid, as
 * pthread_getcpuclockid computes it). */
static uint64_t thread_cpu_ns(pid_t tid)
{
	clockid_t clk = (clockid_t)((~(unsigned)tid << 3) | 6);
	struct timespec ts;

	if (clock_gettime(clk, &ts))
		return UINT64_MAX;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int sp_probe_blocked(struct stillprof_session *s, struct sp_tstate *ts,
                     uint32_t *stack)
{
	struct syscall_state a, b;
	struct sp_uw_input in;
	struct iovec local, remote;
	uint64_t t0 = sp_now_ns(), cpu0, cpu1, head0 = 0;
	struct perf_event_mmap_page *meta;
	ssize_t got;
	int r, n;

	if (ts->syscall_fd < 0)
		return -EBADF;
	meta = ts->ring.fd >= 0 ? ts->ring.meta : NULL;
	if (meta) {
		head0 = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
		if (meta->data_tail != head0)
			meta = NULL; /* not drained: check the clock */
	}
	cpu0 = meta ? 0 : thread_cpu_ns(ts->tid);
	r = read_syscall(ts->syscall_fd, &a);
	if (r <= 0)
		return r;
	local.iov_base = s->probe_buf;
	local.iov_len = SP_PROBE_STACK_BYTES;
	remote.iov_base = (void *)a.sp;
	remote.iov_len = SP_PROBE_STACK_BYTES;
	/* A partial copy is normal: the stack ends before 32 KiB. */
	got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	if (got <= 0) {
		/* The first page may be the last one mapped: copy up to
		 * the page end only. */
		size_t to_page = 4096 - (a.sp & 4095);
		local.iov_len = remote.iov_len = to_page;
		got = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
		if (got <= 0)
			return -EFAULT;
	}
	if (meta) {
		if (__atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE) !=
		    head0) {
			/* A record: it may have run, the copy may be torn. */
			s->c.probe_torn++;
			return 0;
		}
	} else {
		cpu1 = thread_cpu_ns(ts->tid);
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
	memset(&in, 0, sizeof(in));
	in.regs[SP_REG_RSP] = a.sp;
	in.regs[SP_REG_RIP] = a.pc;
	in.have = (1u << SP_REG_RSP) | (1u << SP_REG_RIP);
	in.stack = s->probe_buf;
	in.stack_lo = a.sp;
	in.stack_len = (size_t)got;
	n = sp_unwind(s->uw, &in, s->pcs, s->opts.max_depth);
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
