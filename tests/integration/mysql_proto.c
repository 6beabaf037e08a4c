/*
 * mysql_proto.c - the client side of one MySQL/MariaDB connection as
 * libmysqlclient 5.x made it: non-blocking connect() and poll() with a
 * timeout, the server greeting read with poll()+recv(), an SSLRequest, the
 * TLS handshake (OpenSSL, non-blocking, poll() on WANT_READ and
 * WANT_WRITE), a HandshakeResponse with mysql_native_password, the OK
 * packet, COM_QUIT, close; also the packet framing (3-byte length, sequence
 * id) and the auth scramble.  A poll() that returns EINTR ends the attempt
 * with R_EINTR at once, which is the behaviour under test.  Retries,
 * counts, threads and options are left to mysql_connect_storm.c.
 *
 * The protocol layout follows the MySQL client/server protocol
 * documentation (Protocol::HandshakeV10, Protocol::SSLRequest,
 * Protocol::HandshakeResponse41, Native Authentication).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "mysql_proto.h"

/* Capability flags (include/mysql_com.h). */
#define CLIENT_LONG_PASSWORD		0x00000001u
#define CLIENT_LONG_FLAG		0x00000004u
#define CLIENT_PROTOCOL_41		0x00000200u
#define CLIENT_SSL			0x00000800u
#define CLIENT_TRANSACTIONS		0x00002000u
#define CLIENT_SECURE_CONNECTION	0x00008000u
#define CLIENT_MULTI_RESULTS		0x00020000u
#define CLIENT_PLUGIN_AUTH		0x00080000u

#define CLIENT_CAPS (CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | \
		     CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_TRANSACTIONS | \
		     CLIENT_SECURE_CONNECTION | CLIENT_MULTI_RESULTS | \
		     CLIENT_PLUGIN_AUTH)

#define ER_HOST_IS_BLOCKED	1129
#define CHARSET_UTF8_GENERAL	33
#define MAX_PACKET		(16u << 20)
#define NATIVE_PLUGIN		"mysql_native_password"

const char *const storm_step_names[N_STEPS] = {
	"connect", "greeting", "tls", "auth", "quit"
};

static int conn_error(struct conn *c, const char *what, int err)
{
	snprintf(c->err, sizeof(c->err), "%s: %s", what,
		 err ? strerror(err) : "protocol error");
	return R_ERROR;
}

/* ---- waiting and I/O: every wait is a poll() with a timeout --------------- */

/*
 * Wait until FD is ready for EVENTS.  Returns 0, R_EINTR when poll() was
 * interrupted (libmysqlclient 5.x's vio_io_wait() returned -1 then and the
 * connection attempt failed), or R_ERROR on a timeout.
 */
NOINLINE static int storm_wait(struct conn *c, short events)
{
	struct pollfd pfd = { .fd = c->fd, .events = events };
	int rc;

	rc = poll(&pfd, 1, (int)c->tgt->timeout_ms);
	if (rc < 0 && errno == EINTR)
		return R_EINTR;
	if (rc < 0)
		return conn_error(c, "poll", errno);
	if (rc == 0)
		return conn_error(c, "poll", ETIMEDOUT);
	return 0;
}

/* Map an OpenSSL result to a wait, or an error. */
static int ssl_retry(struct conn *c, int rc, const char *what)
{
	int ssl_err = SSL_get_error(c->ssl, rc);
	unsigned long e;

	if (ssl_err == SSL_ERROR_WANT_READ)
		return storm_wait(c, POLLIN);
	if (ssl_err == SSL_ERROR_WANT_WRITE)
		return storm_wait(c, POLLOUT);
	if (ssl_err == SSL_ERROR_ZERO_RETURN)
		return conn_error(c, what, ECONNRESET);
	if (ssl_err == SSL_ERROR_SYSCALL)
		return conn_error(c, what, errno ? errno : ECONNRESET);
	e = ERR_get_error();
	snprintf(c->err, sizeof(c->err), "%s: %s", what,
		 e ? ERR_reason_error_string(e) : "TLS error");
	ERR_clear_error();
	return R_ERROR;
}

static int io_read(struct conn *c, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n;
		int rc;

		if (c->ssl) {
			n = SSL_read(c->ssl, p, (int)len);
			if (n <= 0) {
				rc = ssl_retry(c, (int)n, "SSL_read");
				if (rc)
					return rc;
				continue;
			}
		} else {
			n = recv(c->fd, p, len, MSG_DONTWAIT);
			if (n == 0)
				return conn_error(c, "recv", ECONNRESET);
			if (n < 0) {
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					return conn_error(c, "recv", errno);
				rc = storm_wait(c, POLLIN);
				if (rc)
					return rc;
				continue;
			}
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int io_write(struct conn *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n;
		int rc;

		if (c->ssl) {
			n = SSL_write(c->ssl, p, (int)len);
			if (n <= 0) {
				rc = ssl_retry(c, (int)n, "SSL_write");
				if (rc)
					return rc;
				continue;
			}
		} else {
			n = send(c->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0) {
				if (errno != EAGAIN && errno != EWOULDBLOCK)
					return conn_error(c, "send", errno);
				rc = storm_wait(c, POLLOUT);
				if (rc)
					return rc;
				continue;
			}
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read one packet (payloads < 16 MiB only); sets *LEN. */
static int packet_read(struct conn *c, uint8_t *buf, size_t cap, size_t *len)
{
	uint8_t hdr[4];
	size_t n;
	int rc;

	rc = io_read(c, hdr, sizeof(hdr));
	if (rc)
		return rc;
	n = hdr[0] | (size_t)hdr[1] << 8 | (size_t)hdr[2] << 16;
	if (n > cap)
		return conn_error(c, "packet too long", 0);
	c->seq = (uint8_t)(hdr[3] + 1);
	rc = io_read(c, buf, n);
	if (rc)
		return rc;
	*len = n;
	return 0;
}

static int packet_write(struct conn *c, const uint8_t *payload, size_t len)
{
	uint8_t buf[512];

	if (len + 4 > sizeof(buf))
		return conn_error(c, "packet too long", 0);
	buf[0] = (uint8_t)len;
	buf[1] = (uint8_t)(len >> 8);
	buf[2] = (uint8_t)(len >> 16);
	buf[3] = c->seq++;
	memcpy(buf + 4, payload, len);
	return io_write(c, buf, len + 4);
}

/* An ERR packet: 1129 means the host is blocked. */
static int err_packet(struct conn *c, const uint8_t *p, size_t len)
{
	unsigned code = len >= 3 ? p[1] | (unsigned)p[2] << 8 : 0;
	size_t skip = len > 9 && p[3] == '#' ? 9 : 3;

	snprintf(c->err, sizeof(c->err), "server error %u: %.*s", code,
		 len > skip ? (int)(len - skip) : 0, (const char *)p + skip);
	return code == ER_HOST_IS_BLOCKED ? R_BLOCKED : R_ERROR;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* ---- the connection steps ------------------------------------------------ */

NOINLINE static int storm_connect(struct conn *c)
{
	const struct storm_target *t = c->tgt;
	int so_err = 0, rc;
	socklen_t len = sizeof(so_err);

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return conn_error(c, "socket", errno);
	if (t->source.sin_family &&
	    bind(c->fd, (struct sockaddr *)&t->source, sizeof(t->source)) < 0)
		return conn_error(c, "bind", errno);
	if (connect(c->fd, (struct sockaddr *)&t->server,
		    sizeof(t->server)) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return conn_error(c, "connect", errno);
	rc = storm_wait(c, POLLOUT);
	if (rc)
		return rc;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &so_err, &len) < 0)
		return conn_error(c, "getsockopt", errno);
	if (so_err)
		return conn_error(c, "connect", so_err);
	return 0;
}

/* Protocol::HandshakeV10: keep the 20-byte scramble. */
NOINLINE static int storm_greeting(struct conn *c)
{
	uint8_t p[1024];
	size_t len, i;
	uint32_t caps;
	int rc;

	rc = packet_read(c, p, sizeof(p), &len);
	if (rc)
		return rc;
	if (len > 0 && p[0] == 0xff)
		return err_packet(c, p, len);
	if (len < 1 || p[0] != 10)
		return conn_error(c, "greeting", 0);
	i = 1;
	while (i < len && p[i])		/* server version */
		i++;
	i++;
	/* conn id 4, scramble 8, filler 1, caps 2, charset 1, status 2,
	 * caps 2, auth data length 1, reserved 10, scramble 12 + NUL */
	if (i + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10 + 13 > len)
		return conn_error(c, "greeting too short", 0);
	memcpy(c->scramble, p + i + 4, 8);
	caps = p[i + 13] | (uint32_t)p[i + 14] << 8 |
	       (uint32_t)p[i + 18] << 16 | (uint32_t)p[i + 19] << 24;
	memcpy(c->scramble + 8, p + i + 31, 12);
	if (!(caps & CLIENT_SSL))
		return conn_error(c, "server has no TLS", 0);
	if (!(caps & CLIENT_PROTOCOL_41) || !(caps & CLIENT_PLUGIN_AUTH))
		return conn_error(c, "server too old", 0);
	return 0;
}

/* The 32 bytes that start both the SSLRequest and the HandshakeResponse. */
static void client_caps(uint8_t *p)
{
	memset(p, 0, 32);
	put_u32(p, CLIENT_CAPS);
	put_u32(p + 4, MAX_PACKET);
	p[8] = CHARSET_UTF8_GENERAL;
}

/* Protocol::SSLRequest, then the TLS handshake. */
NOINLINE static int storm_tls(struct conn *c)
{
	uint8_t req[32];
	int rc;

	client_caps(req);
	rc = packet_write(c, req, sizeof(req));
	if (rc)
		return rc;
	c->ssl = SSL_new(c->tgt->ssl_ctx);
	if (!c->ssl || !SSL_set_fd(c->ssl, c->fd))
		return conn_error(c, "SSL_new", ENOMEM);
	for (;;) {
		rc = SSL_connect(c->ssl);
		if (rc == 1)
			return 0;
		rc = ssl_retry(c, rc, "SSL_connect");
		if (rc)
			return rc;
	}
}

/* SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))). */
static int native_password(const char *pw, const uint8_t *scramble,
			   uint8_t *out)
{
	uint8_t s1[EVP_MAX_MD_SIZE], s2[EVP_MAX_MD_SIZE], s3[EVP_MAX_MD_SIZE];
	uint8_t buf[SCRAMBLE_LEN + 20];
	int i;

	if (!EVP_Digest(pw, strlen(pw), s1, NULL, EVP_sha1(), NULL) ||
	    !EVP_Digest(s1, 20, s2, NULL, EVP_sha1(), NULL))
		return -1;
	memcpy(buf, scramble, SCRAMBLE_LEN);
	memcpy(buf + SCRAMBLE_LEN, s2, 20);
	if (!EVP_Digest(buf, sizeof(buf), s3, NULL, EVP_sha1(), NULL))
		return -1;
	for (i = 0; i < 20; i++)
		out[i] = s1[i] ^ s3[i];
	return 0;
}

/* Protocol::HandshakeResponse41 over TLS, then OK (or an auth switch). */
NOINLINE static int storm_auth(struct conn *c)
{
	uint8_t p[512], token[20];
	size_t len, user_len = strlen(c->tgt->user);
	int rc, n_switches = 0;

	if (user_len > 128)
		return conn_error(c, "user name too long", 0);
	client_caps(p);
	len = 32;
	memcpy(p + len, c->tgt->user, user_len + 1);
	len += user_len + 1;
	if (native_password(c->tgt->password, c->scramble, token))
		return conn_error(c, "sha1", 0);
	p[len++] = sizeof(token);
	memcpy(p + len, token, sizeof(token));
	len += sizeof(token);
	memcpy(p + len, NATIVE_PLUGIN, sizeof(NATIVE_PLUGIN));
	len += sizeof(NATIVE_PLUGIN);
	rc = packet_write(c, p, len);
	for (;;) {
		if (rc)
			return rc;
		rc = packet_read(c, p, sizeof(p), &len);
		if (rc)
			return rc;
		if (len > 0 && p[0] == 0x00)
			return 0;
		if (len > 0 && p[0] == 0xff)
			return err_packet(c, p, len);
		/* 0xfe: AuthSwitchRequest, plugin name NUL, new scramble. */
		if (len < 1 || p[0] != 0xfe || n_switches++ ||
		    len < 1 + sizeof(NATIVE_PLUGIN) + SCRAMBLE_LEN ||
		    memcmp(p + 1, NATIVE_PLUGIN, sizeof(NATIVE_PLUGIN)))
			return conn_error(c, "unexpected auth reply", 0);
		memcpy(c->scramble, p + 1 + sizeof(NATIVE_PLUGIN),
		       SCRAMBLE_LEN);
		if (native_password(c->tgt->password, c->scramble, token))
			return conn_error(c, "sha1", 0);
		rc = packet_write(c, token, sizeof(token));
	}
}

/* COM_QUIT, then close; the old client did not wait for the server. */
NOINLINE static int storm_quit(struct conn *c)
{
	static const uint8_t quit = 0x01;

	c->seq = 0;
	return packet_write(c, &quit, 1);
}

static void conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_set_quiet_shutdown(c->ssl, 1);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* One attempt: every step in order (contract in mysql_proto.h). */
NOINLINE int storm_attempt(struct conn *c, enum step *step)
{
	int (*const steps[N_STEPS])(struct conn *) = {
		storm_connect, storm_greeting, storm_tls, storm_auth,
		storm_quit,
	};
	int rc = 0;

	c->fd = -1;
	c->ssl = NULL;
	c->seq = 0;
	c->err[0] = 0;
	ERR_clear_error();	/* per-thread queue: drop the last attempt's */
	for (*step = 0; *step < N_STEPS; (*step)++) {
		rc = steps[*step](c);
		if (rc)
			break;
	}
	conn_close(c);
	return rc;
}
