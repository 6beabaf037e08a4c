/*
 * sink.c - the byte sink every writer in formats/ writes through (an fd
 * behind a buffer, or a growing memory buffer; the first error is latched
 * so writers need not check each call), and sp_write_file_atomic(), which
 * puts a profile in place with temporary file + fsync + rename so that a
 * reader never sees half a profile and a failure keeps the old one.
 */
#define _GNU_SOURCE /* sync_file_range */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "formats.h"

/* Buffer of an fd sink; allocated on the first write.  256 KiB: a raw
 * profile is hundreds of MB, and each write(2) costs a few µs. */
#define FD_BUF_LEN (256 * 1024)

/* The atomic writer fsyncs at the end; a 200 MB profile then waits for
 * the disk for a third of a second after the last byte (bench/writer).
 * Handing every few MB to writeback as soon as it is written lets the
 * disk work while the encoder formats the rest. */
#define WRITEBACK_STEP (8u << 20)

void sp_sink_init_fd(struct sp_sink *s, int fd)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
}

void sp_sink_init_mem(struct sp_sink *s)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

/* write(2) all of data: retry EINTR and short writes (the fd is ours). */
static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* cannot happen for regular files */
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Start writeback of what was written since the last call, every
 * WRITEBACK_STEP bytes.  Only a hint: fsync still makes the data durable,
 * so failures (a pipe: ESPIPE) are ignored. */
static void kick_writeback(struct sp_sink *s, size_t n)
{
	s->written += n;
	if (!s->early_writeback || s->written - s->kicked < WRITEBACK_STEP)
		return;
	if (sync_file_range(s->fd, (off64_t)s->kicked,
	                    (off64_t)(s->written - s->kicked),
	                    SYNC_FILE_RANGE_WRITE) < 0)
		s->early_writeback = 0;
	s->kicked = s->written;
}

static void fd_flush_buf(struct sp_sink *s)
{
	int err = write_all(s->fd, s->buf, s->len);

	if (!err)
		kick_writeback(s, s->len);
	s->len = 0;
	if (err && !s->err)
		s->err = err;
}

void sp_sink_write(struct sp_sink *s, const void *data, size_t len)
{
	if (s->err || len == 0)
		return;
	if (s->fd < 0) {
		size_t need;

		if (__builtin_add_overflow(s->len, len, &need) ||
		    sp_grow((void **)&s->buf, &s->cap, need, 1) < 0) {
			s->err = SP_ERR(-ENOMEM);
			return;
		}
		memcpy(s->buf + s->len, data, len);
		s->len += len;
		return;
	}
	if (!s->buf) {
		/* No memory for a buffer is not an error for an fd sink: it
		 * just writes through, slower. */
		s->buf = sp_malloc(FD_BUF_LEN);
		s->cap = s->buf ? FD_BUF_LEN : 0;
	}
	if (s->len + len > s->cap) {
		fd_flush_buf(s);
		if (s->err)
			return;
	}
	if (len >= s->cap) {
		int err = write_all(s->fd, data, len);

		if (err)
			s->err = err;
		else
			kick_writeback(s, len);
		return;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
}

void sp_sink_putc(struct sp_sink *s, int c)
{
	unsigned char b = (unsigned char)c;

	/* The common case of the encoders: one byte into room we have. */
	if (!s->err && s->len < s->cap) {
		s->buf[s->len++] = (char)b;
		return;
	}
	sp_sink_write(s, &b, 1);
}

char *sp_sink_reserve(struct sp_sink *s, size_t n)
{
	if (s->err)
		return NULL;
	if (s->cap - s->len >= n)
		return s->buf + s->len;
	if (s->fd < 0) {
		size_t need;

		if (__builtin_add_overflow(s->len, n, &need) ||
		    sp_grow((void **)&s->buf, &s->cap, need, 1) < 0) {
			s->err = SP_ERR(-ENOMEM);
			return NULL;
		}
		return s->buf + s->len;
	}
	if (!s->buf) {
		s->buf = sp_malloc(FD_BUF_LEN);
		s->cap = s->buf ? FD_BUF_LEN : 0;
	}
	if (s->len)
		fd_flush_buf(s);
	return !s->err && s->cap >= n ? s->buf : NULL;
}

void sp_sink_printf(struct sp_sink *s, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	if (s->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		s->err = -EINVAL;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		sp_sink_write(s, small, (size_t)n);
	} else {
		char *big = sp_malloc((size_t)n + 1);

		if (!big) {
			s->err = SP_ERR(-ENOMEM);
			return;
		}
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		sp_sink_write(s, big, (size_t)n);
		sp_free(big);
	}
}

/* For fd sinks this also releases the buffer (a later write allocates it
 * again), so a caller that flushes leaks nothing even without fini. */
int sp_sink_flush(struct sp_sink *s)
{
	if (s->fd >= 0) {
		if (!s->err && s->len)
			fd_flush_buf(s);
		sp_free(s->buf);
		s->buf = NULL;
		s->len = s->cap = 0;
	}
	return s->err;
}

void sp_sink_fini(struct sp_sink *s)
{
	sp_free(s->buf);
	s->buf = NULL;
	s->len = s->cap = 0;
}

/* ---- atomic file writer ---- */

/* Random suffix for the temporary name; getrandom never blocks here
 * (GRND_NONBLOCK), and O_EXCL makes a predictable fallback safe anyway. */
static void random_suffix(char out[7])
{
	static const char abc[] = "abcdefghijklmnopqrstuvwxyz"
	                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char r[6];
	int i;

	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		uint64_t x = sp_now_ns() ^ ((uint64_t)getpid() << 32);

		for (i = 0; i < 6; i++, x >>= 8)
			r[i] = (unsigned char)x;
	}
	for (i = 0; i < 6; i++)
		out[i] = abc[r[i] % (sizeof(abc) - 1)];
	out[6] = '\0';
}

/* Open path's directory; *base points at the last component. */
static int open_parent(const char *path, char *dir, size_t dir_len,
                       const char **base)
{
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash) {
		snprintf(dir, dir_len, ".");
		*base = path;
	} else {
		size_t n = (size_t)(slash - path);

		if (n == 0)
			n = 1; /* "/name": the root directory */
		if (n >= dir_len)
			return -ENAMETOOLONG;
		memcpy(dir, path, n);
		dir[n] = '\0';
		*base = slash + 1;
	}
	/* "dir/" or "." or "..": the target itself is a directory. */
	if (!**base || !strcmp(*base, ".") || !strcmp(*base, ".."))
		return -EISDIR;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fd;
}

int sp_write_file_atomic(const char *path, sp_write_fn *fn, void *ctx)
{
	char dir[4096], tmp[NAME_MAX + 1], suffix[7];
	const char *base;
	struct sp_sink sink;
	struct stat sb;
	int dfd, fd = -1, err, tries;

	if (!path || !*path)
		return -EINVAL;
	dfd = open_parent(path, dir, sizeof(dir), &base);
	if (dfd < 0)
		return SP_ERR(dfd);
	/* rename(2) would refuse too, but only after all the writing. */
	if (fstatat(dfd, base, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(sb.st_mode)) {
		err = -EISDIR;
		goto out;
	}
	/*
	 * ".NAME.XXXXXX": hidden, in the same directory (rename(2) is atomic
	 * only within one file system), NAME cut so the result fits NAME_MAX.
	 * Mode 0600 (then the umask): a profile shows function names, file
	 * paths and thread names of the host program and is often written
	 * to a shared directory such as /tmp; its owner can chmod it.
	 * O_EXCL | O_NOFOLLOW: a name planted by another user (file or
	 * symlink) is never opened; rename(2) then replaces a symlink at the
	 * final name itself, never the file it points to.
	 */
	for (tries = 0; tries < 100; tries++) {
		random_suffix(suffix);
		snprintf(tmp, sizeof(tmp), ".%.*s.%s", NAME_MAX - 8, base,
		         suffix);
		fd = openat(dfd, tmp,
		            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		            0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	if (fd < 0) {
		err = -errno;
		goto out;
	}

	sp_sink_init_fd(&sink, fd);
	sink.early_writeback = 1;
	err = fn(&sink, ctx);
	if (!err)
		err = sp_sink_flush(&sink);
	sp_sink_fini(&sink);
	if (!err) {
		/* Data before name: without fsync a crash after rename can
		 * leave an empty file under the final name (ext4, xfs). */
		while (fsync(fd) < 0) {
			if (errno != EINTR) {
				err = -errno;
				break;
			}
		}
	}
	/* close(2) can report a deferred write error (NFS). */
	if (close(fd) < 0 && !err && errno != EINTR)
		err = -errno;
	if (!err && renameat(dfd, tmp, dfd, base) < 0)
		err = -errno;
	if (err) {
		unlinkat(dfd, tmp, 0);
		goto out;
	}
	/* Make the rename itself durable; the new file is in place already,
	 * so a failure here is only worth a message. */
	if (fsync(dfd) < 0)
		sp_debug("write: fsync of directory %s: %s", dir,
		         strerror(errno));
out:
	sp_close(dfd);
	return err ? SP_ERR(err) : 0;
}
