/*
 * controls_api.c - every production control at once through the C API
 * (controls_api.sh): a session with the control signal (dump), a push URL
 * (pushed every second) and a pull endpoint, 2 busy threads; "periodic"
 * adds 1 s periods keeping 2 files.  For 4 s it asks for a cumulative
 * snapshot every second (refused with -EOPNOTSUPP in periodic mode, which
 * keeps no cumulative profile) and sends itself the control signal every
 * 0.7 s, while the test pulls a profile over HTTP.  Then stop, controls
 * stop, free.  Built normally it checks that the controls work together;
 * in a sanitizer build it is their race test.
 *
 *   controls_api periodic|cumulative OUT_PATTERN PUSH_URL HTTP SNAPSHOT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stillprof.h"

static atomic_int stop;
static atomic_ulong sink;

__attribute__((noinline)) static void api_busy(void)
{
	unsigned long x = atomic_load_explicit(&sink, memory_order_relaxed);
	for (int i = 0; i < 100000; i++)
		x = x * 6364136223846793005ul + 1;
	atomic_store_explicit(&sink, x, memory_order_relaxed);
}

static void *busy(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		api_busy();
	return NULL;
}

int main(int argc, char **argv)
{
	struct stillprof_options o;
	struct stillprof_control_options c;
	stillprof_session *s;
	stillprof_controls *ctl;
	pthread_t t[2];
	char err[256];
	int rc, snaps = 0, want, periodic;

	if (argc != 6) {
		fprintf(stderr, "usage: controls_api periodic|cumulative OUT "
		                "PUSH_URL HTTP SNAP\n");
		return 2;
	}
	periodic = !strcmp(argv[1], "periodic");
	argv++;
	want = periodic ? -EOPNOTSUPP : 0;
	stillprof_options_init(&o);
	stillprof_control_options_init(&c);
	c.signal = SIGUSR2;
	c.period_s = periodic ? 1 : 0;
	c.keep = 2;
	c.push_period_s = 1;
	c.out = argv[1];
	c.format = STILLPROF_FORMAT_PPROF;
	c.push_url = argv[2];
	c.http = argv[3];
	if (stillprof_session_new(&o, &s))
		return 1;
	/* Before any thread: the signal is blocked in this one and
	 * inherited by the others. */
	rc = stillprof_controls_start(s, &c, &ctl, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "controls: %s\n", err);
		return 1;
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, busy, NULL);
	rc = stillprof_session_start(s);
	if (rc) {
		fprintf(stderr, "start: %s\n", stillprof_strerror(rc));
		return 77;
	}
	printf("running\n");
	fflush(stdout);
	for (int i = 1; i <= 40; i++) {
		struct timespec ts = {0, 100 * 1000 * 1000};

		nanosleep(&ts, NULL);
		if (i % 10 == 0 &&
		    stillprof_session_snapshot(s, argv[4],
		                               STILLPROF_FORMAT_COLLAPSED) == want)
			snaps++;
		if (i % 7 == 0)
			kill(getpid(), SIGUSR2);
	}
	rc = stillprof_session_stop(s);
	stillprof_controls_stop(ctl);
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	stillprof_session_free(s);
	printf("snapshots=%d stop=%d\n", snaps, rc);
	return snaps == 4 && rc == 0 ? 0 : 1;
}
