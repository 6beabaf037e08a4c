/*
 * demo.c - the bundled example for `stillprof record`: a small server-like
 * program with threads that compute and threads that wait.
 *
 *   cruncher-1, cruncher-2  CPU-bound (hash_block <- crunch_loop)
 *   poller                  poll(2) on a pipe with a 20 ms timeout
 *   sleeper                 nanosleep(2) of 15 ms between short bursts
 *   client                  connect(2)+recv(2) to a loopback echo server
 *   server                  accept(2)/recv(2) on 127.0.0.1
 *
 * It runs for `demo [SECONDS]` (default 2) and prints how many blocking
 * calls failed with EINTR: under stillprof that is always 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop;
static atomic_long eintr_count;
static int pipe_fds[2];
static int listen_fd;
static struct sockaddr_in server_addr;
static volatile uint64_t sink;

static void note_eintr(int r)
{
	if (r < 0 && errno == EINTR)
		atomic_fetch_add(&eintr_count, 1);
}

__attribute__((noinline)) static uint64_t hash_block(uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 100000; i++)
		x = (x ^ (x >> 29)) * 0xbf58476d1ce4e5b9ull + (uint64_t)i;
	return x;
}

__attribute__((noinline)) static void *crunch_loop(void *arg)
{
	uint64_t x = (uintptr_t)arg;
	pthread_setname_np(pthread_self(), arg ? "cruncher-2" : "cruncher-1");
	while (!atomic_load(&stop))
		x = hash_block(x);
	sink = x;
	return NULL;
}

__attribute__((noinline)) static int wait_for_input(void)
{
	struct pollfd p = {.fd = pipe_fds[0], .events = POLLIN};
	int r = poll(&p, 1, 20);
	note_eintr(r);
	return r;
}

__attribute__((noinline)) static void *poll_loop(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "poller");
	while (!atomic_load(&stop))
		wait_for_input();
	return NULL;
}

__attribute__((noinline)) static void take_a_nap(void)
{
	struct timespec ts = {0, 15 * 1000 * 1000};
	note_eintr(nanosleep(&ts, NULL));
}

__attribute__((noinline)) static void *sleep_loop(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "sleeper");
	while (!atomic_load(&stop)) {
		take_a_nap();
		sink += hash_block(sink) & 1;
	}
	return NULL;
}

__attribute__((noinline)) static void serve_one(int fd)
{
	char buf[64];
	ssize_t n;
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		(void)!send(fd, buf, (size_t)n, MSG_NOSIGNAL);
	note_eintr((int)n);
}

__attribute__((noinline)) static void *server_loop(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "server");
	for (;;) {
		int fd = accept(listen_fd, NULL, NULL);
		if (fd < 0) {
			note_eintr(fd);
			if (atomic_load(&stop))
				break;
			continue;
		}
		serve_one(fd);
		close(fd);
		if (atomic_load(&stop))
			break;
	}
	return NULL;
}

__attribute__((noinline)) static int fetch_reply(int fd)
{
	char buf[64];
	struct timespec ts = {0, 10 * 1000 * 1000};
	/* The server answers at once; the sleep makes the client spend its
	 * time waiting in recv for the next reply, like a slow backend. */
	nanosleep(&ts, NULL);
	if (send(fd, "ping", 4, MSG_NOSIGNAL) != 4)
		return -1;
	ssize_t n = recv(fd, buf, sizeof(buf), 0);
	note_eintr((int)n);
	return (int)n;
}

__attribute__((noinline)) static void *client_loop(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "client");
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&server_addr,
	                      sizeof(server_addr)) < 0) {
		perror("demo: connect");
		return NULL;
	}
	while (!atomic_load(&stop))
		if (fetch_reply(fd) <= 0)
			break;
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2.0;
	pthread_t t[6];
	socklen_t len = sizeof(server_addr);
	struct timespec ts;

	if (seconds <= 0 || seconds > 3600) {
		fprintf(stderr, "usage: demo [SECONDS (0..3600]]\n");
		return 2;
	}
	if (pipe(pipe_fds) < 0)
		return 1;
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&server_addr, 0, sizeof(server_addr));
	server_addr.sin_family = AF_INET;
	server_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (listen_fd < 0 ||
	    bind(listen_fd, (struct sockaddr *)&server_addr, len) < 0 ||
	    listen(listen_fd, 4) < 0 ||
	    getsockname(listen_fd, (struct sockaddr *)&server_addr, &len) < 0) {
		perror("demo: listen on 127.0.0.1");
		return 1;
	}
	pthread_create(&t[0], NULL, crunch_loop, NULL);
	pthread_create(&t[1], NULL, crunch_loop, (void *)1);
	pthread_create(&t[2], NULL, poll_loop, NULL);
	pthread_create(&t[3], NULL, sleep_loop, NULL);
	pthread_create(&t[4], NULL, server_loop, NULL);
	pthread_create(&t[5], NULL, client_loop, NULL);
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	atomic_store(&stop, 1);
	shutdown(listen_fd, SHUT_RDWR); /* wakes accept (close would not) */
	for (int i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	printf("demo: done, %ld blocking calls failed with EINTR\n",
	       atomic_load(&eintr_count));
	return 0;
}
