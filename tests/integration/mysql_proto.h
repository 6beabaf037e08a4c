/*
 * mysql_proto.h - one connection attempt of the MySQL/MariaDB test client
 * in mysql_connect_storm.c, done the way libmysqlclient 5.x did it: every
 * wait a poll() with a timeout, and an EINTR from that poll() a failure.
 * mysql_proto.c holds the steps (connect, greeting, TLS, auth, quit) and
 * the packet framing under them; the driver owns the threads, options and
 * counts, and says where to connect through struct storm_target.
 */
#ifndef MYSQL_PROTO_H
#define MYSQL_PROTO_H

#include <netinet/in.h>
#include <stdint.h>

#include <openssl/ssl.h>

/* Each step stays its own frame, so a profile shows where a thread waits;
 * mysql_connect_storm.sh looks for storm_wait in the dump. */
#define NOINLINE __attribute__((noinline, noclone))

#define SCRAMBLE_LEN		20

/* Results of one attempt other than 0 (connected and quit cleanly). */
#define R_EINTR		(-1)	/* a wait returned EINTR: the failure */
#define R_BLOCKED	(-2)	/* the server answered 1129 */
#define R_ERROR		(-3)	/* anything else */

enum step { S_CONNECT, S_GREETING, S_TLS, S_AUTH, S_QUIT, N_STEPS };

/* "connect", "greeting", ...: the steps' names, for the report. */
extern const char *const storm_step_names[N_STEPS];

/* Where and as whom to connect; set up before the workers start and
 * read-only after. */
struct storm_target {
	struct sockaddr_in server;
	struct sockaddr_in source;	/* sin_family 0: let the kernel pick */
	const char *user;
	const char *password;
	long timeout_ms;	/* per wait, like connect_timeout */
	SSL_CTX *ssl_ctx;
};

/* One connection being made. */
struct conn {
	const struct storm_target *tgt;
	int fd;
	SSL *ssl;
	int idx;			/* the worker's number */
	uint8_t seq;			/* packet sequence id */
	uint8_t scramble[SCRAMBLE_LEN];
	char err[160];			/* why it failed, for R_ERROR */
};

/*
 * One attempt: every step in order, then close.  c->tgt must be set; the
 * rest of *c is reset here.  Returns 0 or an R_ code; *step is the step
 * that failed, and c->err says why for R_BLOCKED and R_ERROR.  Thread-safe
 * for distinct c (OpenSSL's error queue is per thread).
 */
int storm_attempt(struct conn *c, enum step *step);

#endif
