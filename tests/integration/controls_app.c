/*
 * controls_app.c - the program the production-control tests profile
 * (controls.sh): the main thread spins in controls_busy(), a "sleeper"
 * thread blocks in nanosleep, and a new short-lived thread is created
 * every 20 ms for the whole run (threads created after the profiler
 * started, which must inherit the blocked control signal).  It writes
 * DIR/ready once running and exits 0 when DIR/stop appears (or after
 * 60 s), writing DIR/done with the number of threads it created.
 *
 * CONTROLS_APP_UNBLOCK=SIG: one more thread unblocks signal number SIG
 * (a program that does not play by the rules).  CONTROLS_APP_FORK=SIG: at
 * start, fork a child that writes DIR/child "blocked=B ignored=I" for
 * signal SIG and exits.
 *
 *   controls_app DIR
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t sink;
static volatile int done;

__attribute__((noinline)) static void controls_busy(void)
{
	uint64_t x = sink;
	for (int i = 0; i < 200000; i++)
		x = x * 6364136223846793005ull + 1;
	sink = x;
}

static void *sleeper(void *arg)
{
	struct timespec ts = {0, 5 * 1000 * 1000};
	(void)arg;
	while (!done)
		nanosleep(&ts, NULL);
	return NULL;
}

static void *unblocker(void *arg)
{
	sigset_t set;
	struct timespec ts = {0, 5 * 1000 * 1000};

	sigemptyset(&set);
	sigaddset(&set, (int)(intptr_t)arg);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	while (!done)
		nanosleep(&ts, NULL);
	return NULL;
}

static void fork_child(const char *dir, int sig)
{
	pid_t pid = fork();

	if (pid == 0) {
		sigset_t cur;
		struct sigaction sa;
		char path[4096];
		FILE *f;

		pthread_sigmask(SIG_BLOCK, NULL, &cur);
		sigaction(sig, NULL, &sa);
		snprintf(path, sizeof(path), "%s/child", dir);
		f = fopen(path, "w");
		if (f) {
			fprintf(f, "blocked=%d ignored=%d\n",
			        sigismember(&cur, sig),
			        sa.sa_handler == SIG_IGN);
			fclose(f);
		}
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static void *short_lived(void *arg)
{
	(void)arg;
	for (int i = 0; i < 5; i++)
		controls_busy();
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void touch(const char *dir, const char *name, long value)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(2);
	}
	fprintf(f, "%ld\n", value);
	fclose(f);
}

int main(int argc, char **argv)
{
	char stop[4096];
	pthread_t sl, ub;
	const char *unblock = getenv("CONTROLS_APP_UNBLOCK");
	const char *forksig = getenv("CONTROLS_APP_FORK");
	double t0 = now_s(), last = 0;
	long created = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: controls_app DIR\n");
		return 2;
	}
	snprintf(stop, sizeof(stop), "%s/stop", argv[1]);
	pthread_create(&sl, NULL, sleeper, NULL);
	if (unblock)
		pthread_create(&ub, NULL, unblocker,
		               (void *)(intptr_t)atoi(unblock));
	if (forksig)
		fork_child(argv[1], atoi(forksig));
	touch(argv[1], "ready", (long)getpid());
	while (access(stop, F_OK) != 0 && now_s() - t0 < 60) {
		controls_busy();
		if (now_s() - last >= 0.02) {
			pthread_t t;
			if (pthread_create(&t, NULL, short_lived, NULL) == 0) {
				pthread_detach(t);
				created++;
			}
			last = now_s();
		}
	}
	done = 1;
	pthread_join(sl, NULL);
	if (unblock)
		pthread_join(ub, NULL);
	touch(argv[1], "done", created);
	return 0;
}
