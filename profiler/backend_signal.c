/*
 * backend_signal.c - the fallback capture back-end, for machines where
 * perf_event_open is denied (perf_event_paranoid >= 3, container seccomp).
 *
 * On-CPU samples: one POSIX CPU-time timer per thread, created by the
 * sampling thread on that thread's CPU clock ((~tid << 3) | 6, the
 * per-thread CPUCLOCK_SCHED clock) with SIGEV_THREAD_ID aimed at it.  Such
 * a timer only advances while its thread consumes CPU, so a thread blocked
 * in a system call is never signaled.  On kernels with
 * CONFIG_POSIX_CPU_TIMERS_TASK_WORK (kcap.c) the expiry is handled as task
 * work on return to user mode, after the interrupted syscall's result is
 * final: the handler cannot turn a blocking call into EINTR.  Resolution
 * is the scheduler tick: one signal per tick at most, whose si_overrun says
 * how many intervals it stands for (its weight).
 *
 * The handler only records (sigslot.c: registers and up to 8 KiB of stack
 * into a per-thread lock-free slot).  The sampling thread unwinds the copy
 * with the perf path's unwinder, interns and records it.
 *
 * Wall mode: there are no switch records, so at each tick the sampling
 * thread reads the thread's CPU clock; a thread whose clock did not move
 * and that /proc/self/task/TID/stat says is sleeping is blocked, and its
 * stack comes from the /proc probe (probe.c), once per blocking episode.
 *
 * The handler is installed once per signal and never removed while the
 * library is loaded (the library pins itself): a late signal of a deleted
 * timer finds a stale token and does nothing.  A signal that already has
 * an application handler is refused at start; an application that
 * replaces ours later is detected and the timers are stopped.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "kcap.h"
#include "session.h"
#include "sigslot.h"
#include "store.h"
#include "unwind.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

/* CPU mode drains at this period: the 4-sample rings fill in 16 ms at a
 * 250 Hz tick. */
#define SP_SIG_CPU_TICK_US 4000
/* How often the sampling thread checks that our handler is still the one
 * installed. */
#define SP_SIG_CHECK_NS (100u * 1000 * 1000)
/* One signal may stand for this many intervals at most (a thread that ran
 * a long time in the kernel without returning to user mode). */
#define SP_SIG_MAX_WEIGHT 100000u

/* Measured on the development VM (README, "Back-ends"); quoted in every
 * profile's guarantee so a reader knows the evidence. */
#define SP_SIG_MEASURED                                                       \
	"measured on Linux 6.18 x86-64, HZ=250: 0 EINTR in 269202 blocking "    \
	"calls (eintr_torture, 30 s runs at 1000 us and 100 us, with and "      \
	"without 500 us of CPU right before each call; 11244 timer signals "    \
	"reached the blocking threads), against 285279 EINTR per million "      \
	"calls at 1000 us and 677498 at 100 us under a process-wide SIGALRM "   \
	"timer in the same run"

struct sp_sig_thread {
	timer_t timer;
	int have_timer;
	uint32_t token;          /* sigslot token, 0: none */
	int stat_fd;             /* /proc/self/task/TID/stat, bound to it */
	uint64_t cpu_ns;         /* its CPU clock at the last state check */
	uint64_t check_ns;       /* when that was */
	uint64_t dropped_seen;   /* slot's dropped counter already counted */
	uint64_t signals;        /* samples taken (before weighting) */
	uint64_t range_miss_ns;  /* last failed stack-mapping lookup */
	uint64_t wait_ns;        /* wall mode: time spent runnable but not
	                          * running, not yet sampled */
	int blocked_since_sample; /* blocked after its last on-CPU sample:
	                           * the blocked stack is the newer one */
};

static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	(void)sig;
	/* Only our timers' signals carry a token; kill/sigqueue are
	 * ignored. */
	if (si && si->si_code == SI_TIMER)
		sp_sigslot_record((uint32_t)si->si_value.sival_int,
		                  si->si_overrun, uc);
	errno = saved;
}

static int handler_is_ours(const struct sigaction *sa)
{
	return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == on_signal;
}

static void sig_name(int sig, char *buf, size_t len)
{
	if (sig >= SIGRTMIN && sig <= SIGRTMAX)
		snprintf(buf, len, "SIGRTMIN+%d", sig - SIGRTMIN);
	else
		snprintf(buf, len, "SIG%s", sigabbrev_np(sig) ? sigabbrev_np(sig)
		                                              : "?");
}

/* Keep this library mapped for as long as the process lives: a handler
 * in unmapped code would crash on the next late signal. */
static void pin_library(void)
{
	Dl_info di;

	if (dladdr((void *)on_signal, &di) && di.dli_fname &&
	    !dlopen(di.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE))
		sp_warn("signal: cannot pin %s: %s", di.dli_fname, dlerror());
}

static int install_handler(struct stillprof_session *s, const char *name)
{
	struct sigaction sa, old;
	int err = 0;

	pthread_mutex_lock(&install_lock);
	if (sigaction(s->sig, NULL, &old) < 0) {
		err = -errno;
		snprintf(s->backend_err, sizeof(s->backend_err),
		         "signal back-end: sigaction(%d): %s", s->sig,
		         strerror(errno));
	} else if (!handler_is_ours(&old)) {
		if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) {
			err = STILLPROF_ESIGBUSY;
			snprintf(s->backend_err, sizeof(s->backend_err),
			         "signal back-end: signal %d (%s) is %s by the "
			         "application; pick a free one with --signal / "
			         "STILLPROF_SIGNAL", s->sig, name,
			         !(old.sa_flags & SA_SIGINFO) &&
			                 old.sa_handler == SIG_IGN
			             ? "ignored"
			             : "handled");
		} else {
			memset(&sa, 0, sizeof(sa));
			sa.sa_sigaction = on_signal;
			/* SA_RESTART: calls that can restart do; SA_ONSTACK:
			 * a thread on a small stack with an alternate one
			 * set up keeps its stack intact. */
			sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
			sigemptyset(&sa.sa_mask);
			pin_library();
			if (sigaction(s->sig, &sa, NULL) < 0) {
				err = -errno;
				snprintf(s->backend_err, sizeof(s->backend_err),
				         "signal back-end: sigaction(%d): %s",
				         s->sig, strerror(errno));
			}
		}
	}
	pthread_mutex_unlock(&install_lock);
	return err;
}

int sp_sig_prepare(struct stillprof_session *s, int install)
{
	struct sp_kcap kc;
	char name[32];
	int err;

	s->sig = s->opts.signal ? s->opts.signal
	                        : SIGRTMIN + STILLPROF_DEFAULT_SIGNAL_OFFSET;
	sig_name(s->sig, name, sizeof(name));
	sp_kcap_detect(&kc, NULL);
	s->task_work = kc.task_work;
	if (kc.task_work != SP_KCAP_PRESENT && s->opts.require_task_work) {
		snprintf(s->backend_err, sizeof(s->backend_err),
		         "signal back-end refused (require_task_work): %.200s",
		         kc.source);
		return STILLPROF_ENOTASKWORK;
	}
	if (install && (err = install_handler(s, name)))
		return err;
	s->sig_lost = 0;
	s->sig_check_ns = sp_now_ns();
	if (kc.task_work == SP_KCAP_PRESENT)
		snprintf(s->guarantee, sizeof(s->guarantee),
		         "signals only to running threads: per-thread CPU-time "
		         "timers send signal %d (%s) to a thread only while it "
		         "consumes CPU, and this kernel delivers it on return "
		         "to user mode after a system call's result is final "
		         "(%s), so no blocking call is interrupted (%s); "
		         "blocked threads are read from /proc and never "
		         "signaled; resolution: the scheduler tick (about 250 "
		         "samples/s per thread at HZ=250), each sample weighted "
		         "by the intervals it covers",
		         s->sig, name, kc.source, SP_SIG_MEASURED);
	else
		snprintf(s->guarantee, sizeof(s->guarantee),
		         "WEAKER: per-thread CPU-time timers send signal %d "
		         "(%s) to running threads, but this kernel may handle "
		         "the expiry in the tick interrupt (%s): a thread "
		         "caught in the kernel just before it sleeps can see "
		         "a blocking call fail with EINTR (rare; use "
		         "--require-task-work to refuse); blocked threads are "
		         "read from /proc and never signaled; resolution: the "
		         "scheduler tick",
		         s->sig, name, kc.source);
	return 0;
}

/* The mapping of our own address space that holds addr, if writable:
 * the stack the handler may copy from up to its end. */
static int find_stack_mapping(uint64_t addr, uint64_t *lo, uint64_t *hi)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	int found = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &a, &b, perms) != 3)
			continue;
		if (addr >= a && addr < b) {
			if (perms[0] == 'r' && perms[1] == 'w') {
				*lo = a;
				*hi = b;
				found = 0;
			}
			break;
		}
	}
	fclose(f);
	return found;
}

static void learn_range(struct sp_sig_slot *sl, struct sp_sig_thread *st,
                        uint64_t sp, uint64_t now)
{
	uint64_t lo = 0, hi = 0;

	/* Inside the known range already (the copy was only short because
	 * the stack ends there), or looked up in vain recently. */
	if (sp >= atomic_load(&sl->stack_lo) && sp < atomic_load(&sl->stack_hi))
		return;
	if (st->range_miss_ns && now - st->range_miss_ns < SP_SIG_CHECK_NS)
		return;
	if (find_stack_mapping(sp, &lo, &hi) == 0)
		sp_sigslot_set_range(sl, lo, hi);
	else
		st->range_miss_ns = now;
}

static void record_sample(struct stillprof_session *s, struct sp_tstate *ts,
                          struct sp_sig_slot *sl,
                          const struct sp_sig_sample *e)
{
	struct sp_sig_thread *st = ts->sig;
	struct sp_uw_input in;
	uint64_t t0 = sp_now_ns(), iv = (uint64_t)s->opts.interval_us * 1000u;
	uint32_t stack, w = e->weight < SP_SIG_MAX_WEIGHT ? e->weight
	                                                  : SP_SIG_MAX_WEIGHT;
	uint64_t done = 0;
	int n;

	memset(&in, 0, sizeof(in));
	memcpy(in.regs, e->regs, sizeof(in.regs));
	in.have = (1u << SP_REG_COUNT) - 1;
	in.stack = e->stack;
	in.stack_lo = e->regs[SP_REG_RSP];
	in.stack_len = e->stack_len;
	if (e->stack_len < SP_SIGSLOT_STACK)
		learn_range(sl, st, e->regs[SP_REG_RSP], t0);
	n = sp_backend_unwind(s, &in, s->pcs);
	st->signals++;
	st->blocked_since_sample = 0;
	if (sp_store_intern(s->store, s->pcs, (uint32_t)n, &stack))
		return;
	ts->have_last_stack = 1;
	ts->last_stack = stack;
	/* A signal that covers w intervals of CPU time is w samples, spread
	 * back over the time it stands for. */
	for (uint32_t k = 0; k < w; k++) {
		uint64_t back = (uint64_t)(w - 1 - k) * iv;
		uint64_t t = e->t_ns > back ? e->t_ns - back : e->t_ns;
		if (sp_session_record(s, ts, stack, t, SP_STATE_ONCPU) == 0)
			done++;
	}
	s->c.oncpu_samples += done;
	if (done > 1) {
		s->c.weighted_samples += done - 1;
		s->store->info.weighted_samples += done - 1;
	}
}

static void consume(struct stillprof_session *s, struct sp_tstate *ts)
{
	struct sp_sig_thread *st = ts->sig;
	struct sp_sig_slot *sl = st ? sp_sigslot_get(st->token) : NULL;
	const struct sp_sig_sample *e;
	uint64_t dropped;

	if (!sl)
		return;
	while ((e = sp_sigslot_peek(sl))) {
		record_sample(s, ts, sl, e);
		sp_sigslot_pop(sl);
	}
	dropped = atomic_load(&sl->dropped);
	s->c.lost_records += dropped - st->dropped_seen;
	st->dropped_seen = dropped;
}

static void stop_timer(struct sp_sig_thread *st)
{
	if (st->have_timer) {
		timer_delete(st->timer);
		st->have_timer = 0;
	}
}

/* The application replaced our handler: our signals would now run its
 * code.  Stop every timer at once and say so in the profile. */
static void check_handler(struct stillprof_session *s, uint64_t now)
{
	struct sigaction cur;
	char name[32];

	if (s->sig_lost || now - s->sig_check_ns < SP_SIG_CHECK_NS)
		return;
	s->sig_check_ns = now;
	if (sigaction(s->sig, NULL, &cur) < 0 || handler_is_ours(&cur))
		return;
	s->sig_lost = 1;
	for (size_t i = 0; i < s->threads.n; i++)
		if (s->threads.all[i]->sig)
			stop_timer(s->threads.all[i]->sig);
	sig_name(s->sig, name, sizeof(name));
	sp_warn("signal back-end: the application installed its own handler "
	        "for signal %d (%s): on-CPU sampling stopped", s->sig, name);
	snprintf(s->guarantee + strlen(s->guarantee),
	         sizeof(s->guarantee) - strlen(s->guarantee),
	         "; ON-CPU SAMPLING STOPPED after %.1f s: the application "
	         "installed its own handler for signal %d",
	         (double)(now - s->started_ns) / 1e9, s->sig);
}

/* The scheduler state letter of /proc/self/task/TID/stat ('R', 'S', 'D',
 * ...), or -errno (ESRCH once the thread is gone). */
static int read_state(int fd)
{
	char buf[512];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char *p;

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	/* The name, in parentheses, may itself contain ") ". */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -EINVAL;
	return (unsigned char)p[2];
}

/* Wall mode: where the thread was at the tick just past, from its CPU
 * clock and, when that is not enough, its /proc state. */
static void update_state(struct stillprof_session *s, struct sp_tstate *ts,
                         struct sp_sig_thread *st, uint64_t now, uint64_t cpu)
{
	uint64_t ran = cpu - st->cpu_ns, elapsed = now - st->check_ns;
	uint64_t before = st->check_ns;
	int state, c;

	st->cpu_ns = cpu;
	st->check_ns = now;
	if (ran > 0 && ran * 10 >= elapsed * 9) {
		state = SP_RUN_ONCPU; /* ran (nearly) all along */
		st->wait_ns += elapsed - ran;
	} else if (ran == 0 && (ts->run_state == SP_RUN_BLOCKED ||
	                        ts->run_state == SP_RUN_PREEMPTED)) {
		state = ts->run_state; /* a thread that did not run cannot
		                        * have changed its state */
	} else {
		c = read_state(st->stat_fd);
		if (c < 0) {
			if (c == -ESRCH)
				ts->live = 0;
			return;
		}
		if (c == 'R') {
			state = ran ? SP_RUN_ONCPU : SP_RUN_PREEMPTED;
			if (ran && elapsed > ran)
				st->wait_ns += elapsed - ran;
		} else {
			state = SP_RUN_BLOCKED;
			st->wait_ns = 0;
		}
	}
	/* A runnable thread that shared its CPU: the timer samples cover
	 * the CPU time it got, and each tick's worth of time it waited for
	 * a CPU is one "preempted" sample (its last on-CPU stack), as the
	 * perf back-end's switch records give. */
	if (state == SP_RUN_ONCPU && st->wait_ns >= s->tick_ns) {
		st->wait_ns -= s->tick_ns;
		state = SP_RUN_PREEMPTED;
	}
	/* Ticks the sampling thread missed are missed for every thread:
	 * no backlog of waiting time is carried over them. */
	if (st->wait_ns > s->tick_ns)
		st->wait_ns = s->tick_ns;
	/* Waiting for a CPU since it was woken, without an on-CPU sample
	 * since: it is on its way out of the blocking call, whose stack is
	 * its newest known user stack (perf would still report it blocked:
	 * no switch-in yet).  Same episode, no new probe. */
	if (state == SP_RUN_PREEMPTED && st->blocked_since_sample &&
	    ts->have_blocked_stack) {
		ts->run_state = SP_RUN_BLOCKED;
		ts->switch_out_ns = before;
		return;
	}
	if (state == SP_RUN_BLOCKED) {
		st->blocked_since_sample = 1;
		if (ts->run_state != SP_RUN_BLOCKED || ran)
			ts->episode++; /* it ran, then blocked again */
	}
	ts->run_state = state;
	/* sampler.c's state_at compares switch times with the tick: the
	 * change happened after the previous check, before this tick. */
	if (state == SP_RUN_ONCPU) {
		ts->switch_in_ns = before;
	} else {
		ts->off_state = state;
		ts->switch_out_ns = before;
	}
}

static void sig_drain(struct stillprof_session *s, struct sp_tstate *ts)
{
	struct sp_sig_thread *st = ts->sig;
	uint64_t now, cpu;

	if (!st)
		return;
	consume(s, ts);
	now = sp_now_ns();
	check_handler(s, now);
	cpu = sp_thread_cpu_ns(ts->tid);
	if (cpu == UINT64_MAX) {
		ts->live = 0; /* the clock of an exited thread is invalid */
		return;
	}
	if (s->opts.mode == STILLPROF_MODE_WALL)
		update_state(s, ts, st, now, cpu);
}

static void sig_detach(struct stillprof_session *s, struct sp_tstate *ts)
{
	struct sp_sig_thread *st = ts->sig;

	if (st) {
		stop_timer(st);
		consume(s, ts); /* what arrived before the timer died */
		if (st->token)
			sp_sigslot_free(st->token);
		sp_close(st->stat_fd);
		sp_debug("signal: tid %d: %llu signals", (int)ts->tid,
		         (unsigned long long)st->signals);
		sp_free(st);
		ts->sig = NULL;
	}
	sp_close(ts->syscall_fd);
	ts->syscall_fd = -1;
	sp_threads_remove(&s->threads, ts);
}

static int start_timer(struct stillprof_session *s, pid_t tid,
                       struct sp_sig_thread *st)
{
	struct sigevent sev;
	struct itimerspec its;
	clockid_t clk = (clockid_t)((~(unsigned)tid << 3) | 6);
	unsigned us = s->opts.interval_us;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = s->sig;
	sev.sigev_value.sival_int = (int)st->token;
	sev.sigev_notify_thread_id = tid;
	if (timer_create(clk, &sev, &st->timer) < 0)
		/* EINVAL: the thread has exited (its clock is gone). */
		return errno == EINVAL ? -ESRCH : -errno;
	st->have_timer = 1;
	its.it_interval.tv_sec = us / 1000000;
	its.it_interval.tv_nsec = (long)(us % 1000000) * 1000;
	its.it_value = its.it_interval;
	if (timer_settime(st->timer, 0, &its, NULL) < 0)
		return -errno;
	return 0;
}

static int sig_attach(struct stillprof_session *s, pid_t tid)
{
	struct sp_tstate *ts;
	struct sp_sig_thread *st;
	int err = sp_backend_attach_begin(s, tid, &ts);

	if (err <= 0)
		return err;
	st = sp_calloc(1, sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		goto fail;
	}
	ts->sig = st;
	st->stat_fd = sp_thread_open_file(tid, "stat");
	st->check_ns = sp_now_ns();
	st->cpu_ns = sp_thread_cpu_ns(tid);
	if (st->cpu_ns == UINT64_MAX) {
		err = -ESRCH;
		goto fail;
	}
	if (!s->sig_lost) {
		/* The slot exists before the timer can fire. */
		err = sp_sigslot_alloc(&st->token);
		if (!err)
			err = start_timer(s, tid, st);
		if (err) {
			if (err != -ESRCH) {
				s->c.attach_failures++;
				sp_warn("signal: attach tid=%d: %s", (int)tid,
				        stillprof_strerror(err));
			}
			goto fail;
		}
	}
	s->c.threads_seen++;
	return 0;
fail:
	sig_detach(s, ts);
	return err == -ESRCH ? 0 : err;
}

const struct sp_backend sp_backend_signal = {
    .name = "signal",
    .attach = sig_attach,
    .detach = sig_detach,
    .drain = sig_drain,
    .cpu_tick_us = SP_SIG_CPU_TICK_US,
    /* no FORK records: new threads are found by rescans only */
    .rescan_ms = 100,
};
