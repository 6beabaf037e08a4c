/*
 * backend_perf.c - the perf_event capture back-end: one software
 * task-clock event per thread (PERF_COUNT_SW_TASK_CLOCK, user registers and
 * a copy of the user stack per sample; context-switch records), read by
 * the sampling thread from each thread's ring (perf_records.c says what
 * the records mean).  This file owns the events and rings: attach and
 * detach, how often the sampler must pass for a ring, switch-heavy
 * threads sampled at a longer period (SP_SLOW_PERIOD_NS), and rings
 * opened again bigger when they overflow.  The kernel takes every sample
 * itself: no signal is ever sent to the sampled thread (we never set
 * F_SETSIG, O_ASYNC or attr.sigtrap).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "perf_records.h"
#include "perf_regs.h"
#include "sample_weight.h"
#include "session.h"
#include "store.h"
#include "switch_sample.h"
#include "tick_replay.h"
#include "unwind.h"

const char sp_perf_backend_name[] = "perf_event";
const char sp_perf_guarantee[] =
    "no signals: samples are taken by the kernel (perf_event task-clock) "
    "and blocked threads are read from /proc; no system call of the "
    "application is ever interrupted";

/* Ring size in pages; at 1 kHz with 8 KiB copies a busy thread fills
 * 8 MB/s, so 32 pages hold ~16 ms.  Rings are per thread and locked
 * memory: 256 threads take 32 MiB. */
#define SP_PERF_RING_PAGES 32
/* Busy threads get a bigger ring: the passes are paced by it (31 ms at
 * 1 kHz, see sp_perf_ring_wait_ns), so a small ring is polled and a busy
 * thread wakes us at its watermark, half a small ring; a ring found half
 * full there, or that lost records, is opened again with 1 MiB (62 ms at
 * 1 kHz, 12 ms at 10 kHz), once per thread, and is no longer polled.  On
 * a loaded 2-core machine the sampling thread can wait longer than a
 * small ring lasts at 10 kHz (1.5 ms: wall fidelity was 93 %), and at
 * 1 kHz the longer passes halve the sampler's CPU per sample. */
#define SP_PERF_RING_BIG_PAGES 256
/* Big rings at once: SP_PERF_BIG_PER_CPU per online CPU, within
 * [SP_PERF_BIG_MIN, SP_PERF_BIG_MAX] (16 MiB on 2 CPUs, at most 64 MiB):
 * a pool of hundreds of threads busy in turn would otherwise lock a MiB
 * each.  Past it a busy thread keeps its small, polled ring, which at
 * 10 kHz fills in 1.5 ms: 2 per CPU (4 here) lost ~1 400 records per
 * `spin 4 8` run at wall 10 kHz, with the main thread also holding one,
 * against ~90 with room for all. */
#define SP_PERF_BIG_PER_CPU 8
#define SP_PERF_BIG_MIN 16
#define SP_PERF_BIG_MAX 64
/* One sample's record, an upper bound: header, tid, time, registers and
 * the stack copy (of `copy` bytes) with its two sizes, plus slack for
 * more sample fields. */
#define SP_PERF_SAMPLE_BYTES(copy) ((size_t)(copy) + 256)

/* A ring of `pages` for copies of the default size holds as long for a
 * thread whose copy grew past it (stack_copy.c) when it is that many
 * times bigger: the passes and watermarks below stay right for it. */
static unsigned ring_pages(unsigned pages, uint32_t copy)
{
	return copy > SP_PERF_STACK_BYTES ? pages * (copy / SP_PERF_STACK_BYTES)
	                                  : pages;
}

/*
 * Wake-ups.  The kernel wakes a ring's poller each time another watermark
 * of bytes has been *written* (not when the fill reaches it: draining does
 * not delay the next one), so a polled busy thread costs the sampling
 * thread a wake-up per half ring (~8 samples at 1 kHz) whatever the
 * periodic passes do -- and a wake-up, with its context switch, costs
 * more than several samples in a paravirtual guest.  So a ring is polled
 * for EPOLLIN only when the passes are too rare for it: when the longest
 * pass period exceeds half the time the ring takes to fill at one sample
 * per interval (the slack the watermark at half a ring gave).  Otherwise
 * the ring stays out of the epoll set (see attach).  In CPU mode the pass
 * period is chosen to fit (sp_perf_cpu_tick_us).
 */
static uint64_t ring_safe_ns(const struct stillprof_session *s,
                             size_t data_len, uint32_t copy)
{
	uint64_t iv = (uint64_t)s->opts.interval_us * 1000u;

	return data_len / SP_PERF_SAMPLE_BYTES(copy) * iv / 2;
}

/* CPU mode passes every tick_us (50 ms), or as often as a big ring needs
 * when that is not too often (SP_PERF_CPU_TICK_MIN_US: at 10 kHz every
 * 3.1 ms).  At higher rates an idle process would pay the short period
 * all the time: the pass stays at tick_us and the watermark wakes us. */
#define SP_PERF_CPU_TICK_MIN_US 2000

/* A big ring is not polled: the passes alone empty it, so they come
 * within a quarter of the time it holds, half of what the watermark of a
 * polled ring allows: the rest is slack for a sampling thread that waits
 * for a CPU.  At 1 kHz that is 31 ms, the passes' period; at 10 kHz
 * 3.1 ms, and wall passes stay at their 4 ms minimum as before big rings
 * paced them. */
uint64_t sp_perf_ring_wait_ns(const struct stillprof_session *s)
{
	return ring_safe_ns(s, (size_t)SP_PERF_RING_BIG_PAGES * 4096u,
	                    SP_PERF_STACK_BYTES) / 2;
}

unsigned sp_perf_cpu_tick_us(const struct stillprof_session *s,
                             unsigned tick_us)
{
	uint64_t safe_us = sp_perf_ring_wait_ns(s) / 1000u;

	if (safe_us < SP_PERF_CPU_TICK_MIN_US || safe_us >= tick_us)
		return tick_us;
	return (unsigned)safe_us;
}

uint64_t sp_perf_pass_max_ns(const struct stillprof_session *s)
{
	uint64_t coarse;

	if (s->opts.mode != STILLPROF_MODE_WALL)
		return s->tick_ns;
	coarse = s->wake_coarse_ns;
	return coarse > s->tick_ns ? coarse : s->tick_ns;
}

/*
 * Switch-heavy threads.  A sampling task-clock event owns an hrtimer that
 * the kernel cancels at every switch-out and re-arms at every switch-in;
 * with a period shorter than the scheduler tick that timer is usually the
 * CPU's earliest, so each switch reprograms the timer hardware (~8 us in a
 * paravirtual guest: a ping-pong ran 3-4x slower).  A thread that blocks
 * (switches out voluntarily; preemptions are not counted, see
 * PERF_RECORD_SWITCH below) more than SP_SWITCHY_ON times a second gets a
 * period of at least SP_SLOW_PERIOD_NS (a whole multiple k of the
 * interval; its timer then mostly sits behind the tick) and each of its
 * samples is recorded about k times (sample_weight.c), so totals stay
 * unbiased; it returns to the normal period below SP_SWITCHY_OFF.
 * CPU-bound threads keep full resolution however often they are
 * preempted.  Rates are judged over windows of SP_SWITCH_WINDOW_NS
 * (short, since a new thread pays the full cost until its first window
 * closes).
 */
#define SP_SWITCH_WINDOW_NS (50u * 1000 * 1000)
#define SP_SWITCHY_ON 500
#define SP_SWITCHY_OFF 200
#define SP_SLOW_PERIOD_NS (32u * 1000 * 1000)

static void fill_attr(const struct stillprof_session *s,
                      struct perf_event_attr *a, unsigned pages,
                      uint32_t copy)
{
	memset(a, 0, sizeof(*a));
	a->size = sizeof(*a);
	a->type = PERF_TYPE_SOFTWARE;
	a->config = PERF_COUNT_SW_TASK_CLOCK;
	/* task-clock counts nanoseconds of the thread's CPU time. */
	a->sample_period = (uint64_t)s->opts.interval_us * 1000u;
	/* READ: the count (CPU ns) with each sample weights it by the
	 * periods it stands for (sample_weight.c). */
	/* IDENTIFIER: tells its samples from switch_sample.c's. */
	a->sample_type = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID |
	                 PERF_SAMPLE_TIME |
	                 PERF_SAMPLE_READ | PERF_SAMPLE_REGS_USER |
	                 PERF_SAMPLE_STACK_USER;
	a->sample_regs_user = SP_PERF_REGS_MASK;
	a->sample_stack_user = copy; /* per thread: stack_copy.c */
	/* Mandatory at perf_event_paranoid 2; samples landing in the kernel
	 * are dropped, so time inside syscalls is not on-CPU time here. */
	a->exclude_kernel = 1;
	a->exclude_hv = 1;
	a->exclude_callchain_kernel = 1;
	a->sample_id_all = 1;
	a->use_clockid = 1;
	a->clockid = CLOCK_MONOTONIC; /* comparable with clock_gettime */
	a->disabled = 1;
	a->task = 1; /* FORK records: attach new threads at once */
	/* COMM records: a new thread names itself right after it starts,
	 * before any rescan (every 1 s) would read the name. */
	a->comm = 1;
	/* Switch records: off-CPU state in wall mode, and in both modes the
	 * switch rate that puts a thread on the slow period (below). */
	a->context_switch = 1;
	a->watermark = 1;
	a->wakeup_watermark = pages * 4096 / 2;
}

/* Explain why perf_event_open failed, for the user. */
static void describe_denial(struct stillprof_session *s, int err)
{
	char buf[64] = "";
	const char *seccomp = "unknown";
	FILE *f = fopen("/proc/sys/kernel/perf_event_paranoid", "re");
	char line[128];
	int paranoid = -100;

	if (f) {
		if (fgets(buf, sizeof(buf), f))
			paranoid = atoi(buf);
		fclose(f);
	}
	f = fopen("/proc/self/status", "re");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "Seccomp:", 8)) {
				int mode = atoi(line + 8);
				seccomp = mode == 0 ? "off"
				          : mode == 1 ? "strict" : "filter";
			}
		}
		fclose(f);
	}
	if (err == -ENOSYS)
		snprintf(s->backend_err, sizeof(s->backend_err),
		         "perf_event_open: ENOSYS (kernel without perf events, "
		         "or a seccomp filter returning ENOSYS; seccomp=%s)",
		         seccomp);
	else if (paranoid > 2)
		snprintf(s->backend_err, sizeof(s->backend_err),
		         "perf_event_open: %s, kernel.perf_event_paranoid=%d "
		         "(needs <= 2, or CAP_PERFMON)",
		         stillprof_errname(err), paranoid);
	else
		snprintf(s->backend_err, sizeof(s->backend_err),
		         "perf_event_open: %s (%s), perf_event_paranoid=%d, "
		         "seccomp=%s%s",
		         stillprof_errname(err), stillprof_strerror(err),
		         paranoid, seccomp,
		         !strcmp(seccomp, "filter")
		             ? " (a container seccomp profile blocks it)"
		             : "");
}

int sp_perf_probe(struct stillprof_session *s)
{
	struct perf_event_attr a;
	int fd;

	fill_attr(s, &a, SP_PERF_RING_PAGES, SP_PERF_STACK_BYTES);
	fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1,
	                  PERF_FLAG_FD_CLOEXEC);
	if (fd < 0) {
		int err = -errno;
		describe_denial(s, err);
		return err == -EACCES || err == -EPERM || err == -ENOSYS
		           ? STILLPROF_EPERFDENIED
		           : err;
	}
	sp_close(fd);
	s->backend_err[0] = '\0';
	return 0;
}

/* A ring is in the epoll set only when its watermark must wake us
 * (see ring_safe_ns).  Registered, it would wake the sampling thread at
 * every watermark even when only EPOLLHUP is asked for: perf wakes its
 * waiters without poll flags, epoll always adds EPOLLHUP|EPOLLERR, so the
 * item is queued and epoll_wait wakes, finds no event and sleeps again --
 * one wasted switch per half ring (a busy thread at 1 kHz: 130 a second,
 * half of all the sampler's wake-ups in bench/sampler_cost).  An exited
 * thread is found by its EXIT record, or by the next rescan (sampler.c). */
static int watch_ring(struct stillprof_session *s, struct sp_tstate *ts)
{
	/* The tag is the tid, looked up again at dispatch: an entry
	 * detached earlier in the same batch is then absent. */
	struct epoll_event ev = {.events = EPOLLIN,
	                         .data.u64 = SP_EV_THREAD | (uint32_t)ts->tid};

	if (s->epfd < 0 || sp_perf_pass_max_ns(s) <=
	                       ring_safe_ns(s, ts->ring.data_len, ts->copy.bytes))
		return 0;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, ts->ring.fd, &ev) < 0)
		return -errno;
	ts->ring_polled = 1;
	return 0;
}

/* Attach tid; `born`: a thread created while we sample (FORK record), whose
 * CPU time before its event counted belongs in the profile. */
static int attach(struct stillprof_session *s, pid_t tid, int born)
{
	struct perf_event_attr a;
	struct sp_tstate *ts;
	char name[16];
	uint64_t before = 0;
	int err = sp_backend_attach_begin(s, tid, &ts);

	if (err <= 0)
		return err;
	sp_weight_init(&ts->cw);
	sp_copy_init(&ts->copy);
	fill_attr(s, &a, SP_PERF_RING_PAGES, ts->copy.bytes);
	err = sp_perf_ring_open(&ts->ring, &a, tid, SP_PERF_RING_PAGES);
	if (err) {
		if (err != -ESRCH) {
			s->c.attach_failures++;
			sp_warn("perf: attach tid=%d: %s", (int)tid,
			        stillprof_strerror(err));
		}
		goto fail;
	}
	sp_switch_attach(s, ts);
	err = watch_ring(s, ts);
	if (err)
		goto fail;
	before = sp_perf_thread_cpu_ns(tid);
	err = sp_perf_ring_enable(&ts->ring);
	if (err)
		goto fail;
	/* A new thread runs until the FORK record in its creator's ring is
	 * read (up to a drain period: 4-12 ms of CPU measured in cpu mode
	 * at 1 kHz): those intervals go to its first sample.  Any other
	 * thread's CPU time counts from here. */
	if (born)
		sp_weight_credit(&ts->cw, before,
		                 (uint64_t)s->opts.interval_us * 1000u);
	else
		ts->cw.cpu_base = before;
	/* A new thread often names itself at once: a rename between the
	 * read above and the enable left no COMM record. */
	if (born && sp_thread_read_name(tid, name) == 0)
		sp_store_thread_rename(s->store, ts->store_thread, name);
	s->c.threads_seen++;
	return 0;
fail:
	sp_perf_detach(s, ts);
	return err == -ESRCH ? 0 : err;
}

int sp_perf_attach(struct stillprof_session *s, pid_t tid)
{
	return attach(s, tid, 0);
}

int sp_perf_attach_born(struct stillprof_session *s, pid_t tid)
{
	return attach(s, tid, 1);
}

void sp_perf_detach(struct stillprof_session *s, struct sp_tstate *ts)
{
	sp_switch_close(ts); /* no more switch samples */
	if (ts->ring.fd >= 0) {
		sp_perf_ring_disable(&ts->ring);
		sp_perf_drain_ring(s, ts);
		sp_perf_close_weight(s, ts);
		if (ts->ring_polled)
			epoll_ctl(s->epfd, EPOLL_CTL_DEL, ts->ring.fd, NULL);
		ts->ring_polled = 0;
		sp_perf_ring_close(&ts->ring);
	}
	if (ts->ring_big) {
		ts->ring_big = 0;
		s->big_rings--;
	}
	/* After the drain, which may have saved a switch sample's stack. */
	sp_switch_detach(ts);
	sp_close(ts->syscall_fd);
	ts->syscall_fd = -1;
	sp_threads_remove(&s->threads, ts);
}

/* Raise or restore the sampling period of ts by its recent switch rate
 * (see SP_SLOW_PERIOD_NS).  Called right after its ring was drained, so
 * the samples taken at the old period were weighted with the old weight. */
static void limit_switch_rate(struct stillprof_session *s,
                              struct sp_tstate *ts)
{
	uint64_t now = sp_now_ns(), iv = (uint64_t)s->opts.interval_us * 1000u;
	uint64_t elapsed, rate, period;
	uint32_t k = (uint32_t)((SP_SLOW_PERIOD_NS + iv - 1) / iv), want;

	if (!ts->window_ns) {
		ts->window_ns = now;
		ts->window_switches = 0;
		return;
	}
	elapsed = now - ts->window_ns;
	if (elapsed < SP_SWITCH_WINDOW_NS)
		return;
	rate = (uint64_t)ts->window_switches * 1000000000u / elapsed;
	ts->window_ns = now;
	ts->window_switches = 0;
	sp_switch_rate(s, ts, rate);
	want = ts->weight > 1 ? (rate < SP_SWITCHY_OFF ? 1 : ts->weight)
	                      : (rate >= SP_SWITCHY_ON ? k : 1);
	if (k <= 1 || want == (ts->weight > 1 ? ts->weight : 1))
		return;
	period = iv * want;
	if (ioctl(ts->ring.fd, PERF_EVENT_IOC_PERIOD, &period) == 0) {
		uint64_t count;
		ts->weight = want;
		/* The kernel restarted the timer: its grid starts now. */
		if (read(ts->ring.fd, &count, sizeof(count)) == sizeof(count))
			sp_weight_rephase(&ts->cw, count, iv);
	}
}

static size_t big_rings_max(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = cpus > 0 ? (size_t)cpus * SP_PERF_BIG_PER_CPU : 0;

	return n < SP_PERF_BIG_MIN ? SP_PERF_BIG_MIN
	       : n > SP_PERF_BIG_MAX ? SP_PERF_BIG_MAX : n;
}

/*
 * Open ts's event again with a ring of `pages` and stack copies of `copy`
 * bytes.  The old event is stopped and drained first, so no record is
 * read twice and none is reordered; the thread runs unsampled for the few
 * microseconds between the two events.  The new event counts from 0: the
 * grid moves over, whole intervals the old one had counted since its last
 * period are owed to the next sample.  Returns 0, or -errno with the old
 * event kept (-ENOMEM: locked memory gave a ring under min_len).
 */
static int reopen(struct stillprof_session *s, struct sp_tstate *ts,
                  unsigned pages, uint32_t copy, size_t min_len)
{
	uint64_t iv = (uint64_t)s->opts.interval_us * 1000u, count;
	struct perf_event_attr a;
	struct sp_perf_ring ring;
	int err, have_count;

	fill_attr(s, &a, pages, copy);
	a.sample_period = iv * (ts->weight > 1 ? ts->weight : 1);
	err = sp_perf_ring_open(&ring, &a, ts->tid, pages);
	if (err)
		return err; /* EPERM: locked memory; ESRCH: thread gone */
	if (ring.data_len < min_len) {
		sp_perf_ring_close(&ring);
		return -ENOMEM;
	}
	/* The thread goes unsampled from here to the enable: a drain
	 * and two system calls. */
	sp_perf_ring_disable(&ts->ring);
	sp_perf_drain_ring(s, ts);
	have_count = read(ts->ring.fd, &count, sizeof(count)) == sizeof(count);
	err = sp_perf_ring_enable(&ring);
	if (err) {
		sp_perf_ring_enable(&ts->ring);
		sp_perf_ring_close(&ring);
		return err;
	}
	if (have_count)
		sp_weight_rephase(&ts->cw, count, iv);
	sp_weight_rephase(&ts->cw, 0, iv);
	if (ts->ring_polled)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, ts->ring.fd, NULL);
	ts->ring_polled = 0;
	sp_perf_ring_close(&ts->ring);
	ts->ring = ring;
	sp_copy_done(&ts->copy, copy, 1);
	/* Its samples go to the new ring, with copies of the new size. */
	sp_switch_reattach(s, ts);
	/* Unwatched, the ring is still drained by the passes. */
	if (watch_ring(s, ts))
		s->c.ring_grow_failures++;
	return 0;
}

/* Open ts's event again with a big ring (SP_PERF_RING_BIG_PAGES). */
static void grow_ring(struct stillprof_session *s, struct sp_tstate *ts)
{
	if (!s->big_rings_max)
		s->big_rings_max = big_rings_max();
	if (s->big_rings >= s->big_rings_max) {
		/* Tried again when another big ring is freed. */
		if (ts->ring_grown != SP_RING_AT_BUDGET)
			s->c.ring_grow_refused++;
		ts->ring_grown = SP_RING_AT_BUDGET;
		return;
	}
	ts->ring_grown = SP_RING_GROWN; /* once: a failure is not retried */
	if (reopen(s, ts, ring_pages(SP_PERF_RING_BIG_PAGES, ts->copy.bytes),
	           ts->copy.bytes, ts->ring.data_len + 1)) {
		s->c.ring_grow_failures++;
		return;
	}
	s->c.rings_grown++;
	ts->ring_big = 1;
	s->big_rings++;
}

/* Give ts's samples the bigger stack copy stack_copy.c asked for, with a
 * ring as much bigger (ring_pages), in full; when that cannot be had the
 * thread keeps its size. */
static void resize_copy(struct stillprof_session *s, struct sp_tstate *ts)
{
	uint32_t copy = ts->copy_want;
	unsigned pages = ring_pages(
	    ts->ring_big ? SP_PERF_RING_BIG_PAGES : SP_PERF_RING_PAGES, copy);
	int err;

	ts->copy_want = 0; /* (the drain in reopen may ask again) */
	err = reopen(s, ts, pages, copy, (size_t)pages * 4096u);
	sp_debug("perf: tid %d: stack copy %u bytes%s", (int)ts->tid, copy,
	         err ? ": failed" : "");
	if (err) {
		sp_copy_done(&ts->copy, copy, 0);
		s->c.copy_resize_failures++;
	} else {
		s->c.copy_resizes++;
	}
}

void sp_perf_drain(struct stillprof_session *s, struct sp_tstate *ts)
{
	uint64_t fill = 0;
	int lost;

	if (ts->ring.meta)
		fill = __atomic_load_n(&ts->ring.meta->data_head,
		                       __ATOMIC_ACQUIRE) -
		       ts->ring.meta->data_tail;
	lost = sp_perf_drain_ring(s, ts);
	if (ts->ring.fd < 0)
		return;
	limit_switch_rate(s, ts);
	/* Not in the final drain: the event is about to close. */
	if (!ts->live || atomic_load(&s->stop))
		return;
	if (ts->ring_grown != SP_RING_GROWN &&
	    (lost || fill >= ts->ring.data_len / 2))
		grow_ring(s, ts);
	if (ts->copy_want <= ts->copy.bytes)
		ts->copy_want = 0; /* asked for by records older than it */
	if (ts->copy_want)
		resize_copy(s, ts);
}
