/*
 * controls.h - the production controls behind stillprof_controls_start
 * (controls.c): the control signal (control_signal.c), the writer thread
 * for periodic files and signal dumps (continuous.c), the Pyroscope push
 * thread (http_push.c) and the pull endpoint (http_serve.c).  Each runs
 * on its own thread with every signal blocked; none touches the
 * sampler's store: they take snapshots (snapshot.h).
 */
#ifndef SP_CONTROLS_H
#define SP_CONTROLS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "stillprof.h"

/* ---- control_signal.c ---- */

/* Parse "SIGUSR2", "USR1", "SIGRTMIN+3", "RTMAX-1" or a number; only
 * SIGUSR1, SIGUSR2 and the real-time signals are accepted (others have
 * meanings a profiler must not take over).  Returns 0 or -EINVAL. */
int sp_ctlsig_parse(const char *name, int *signo);

/* Receive signo through a signalfd in the sampler's epoll set (the
 * session must not be running): the sampler then pauses/resumes or
 * notifies the writer (snapshot.h).  Blocks signo in the calling thread.
 * Returns 0 or -errno. */
int sp_ctlsig_attach(stillprof_session *s, int signo, int action);
void sp_ctlsig_detach(stillprof_session *s);
/* Give the signal its default action back if attach set it to SIG_IGN
 * (detach does; a forked child that has no sampler calls it). */
void sp_ctlsig_restore(void);

/* ---- http_push.c ---- */

struct sp_push;
struct sp_push_stats {
	uint64_t sent, failed, dropped;
};

int sp_push_new(const char *url, const char *app, const char *labels,
                struct sp_push **out);
/* Takes body (sp_malloc'd); never blocks on the network. */
void sp_push_enqueue(struct sp_push *p, char *body, size_t len,
                     uint64_t from_s, uint64_t until_s, unsigned rate_hz);
/* One last attempt per queued profile, then join and free. */
void sp_push_free(struct sp_push *p, struct sp_push_stats *st);

/* ---- continuous.c ---- */

struct sp_writer;

/* Expand %p (pid), %t (UTC time, YYYYmmddTHHMMSS.mmmZ) and %% in pattern.
 * Returns 0, -EINVAL (another %x) or -ENAMETOOLONG. */
int sp_path_expand(const char *pattern, pid_t pid, uint64_t realtime_ns,
                   char *out, size_t len);

int sp_writer_start(stillprof_session *s,
                    const struct stillprof_control_options *o,
                    struct sp_push *push, struct sp_writer **out);
/* Write the last period (call after the session stopped), join, free. */
void sp_writer_stop(struct sp_writer *w);

/* ---- http_serve.c ---- */

struct sp_httpd;

int sp_httpd_start(stillprof_session *s, const char *spec, int allow_remote,
                   struct sp_httpd **out);
void sp_httpd_stop(struct sp_httpd *h);

#endif
