/*
 * stackprof_read_file.c - the byte side of the stackprof reader
 * (readers.h): a dump's bytes, or the file holding them, decoded as
 * Marshal or JSON the way StackProf::Report.from_file tells them apart,
 * then turned into a store by stackprof_read.c.  Errors name the path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "readers.h"

int sp_stackprof_read_buf(const void *buf, size_t len, struct sp_store **out,
                          struct sp_stackprof_read_info *info, char *errbuf,
                          size_t errlen)
{
	const unsigned char *p = buf;
	struct sp_value v;
	int err;

	*out = NULL;
	/* StackProf::Report.from_file: "\x04\x08" is Marshal, else JSON. */
	if (len >= 2 && p[0] == 4 && p[1] == 8)
		err = sp_marshal_read(buf, len, &v, errbuf, errlen);
	else
		err = sp_json_read(buf, len, &v, errbuf, errlen);
	if (err)
		return err;
	err = sp_stackprof_from_value(&v, out, info, errbuf, errlen);
	sp_value_fini(&v);
	return err;
}

static int read_all(const char *path, unsigned char **data, size_t *len)
{
	unsigned char *buf = NULL;
	size_t n = 0, cap = 0;
	struct stat sb;
	ssize_t got;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		err = -EISDIR;
		goto out;
	}
	for (;;) {
		if (n == cap) {
			if (cap >= SP_READ_MAX_FILE) {
				err = -EFBIG;
				goto out;
			}
			err = sp_grow((void **)&buf, &cap, n + 65536, 1);
			if (err)
				goto out;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			err = -errno;
			goto out;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
out:
	sp_close(fd);
	if (err) {
		sp_free(buf);
		return err;
	}
	*data = buf;
	*len = n;
	return 0;
}

int sp_stackprof_read_file(const char *path, struct sp_store **out,
                           struct sp_stackprof_read_info *info, char *errbuf,
                           size_t errlen)
{
	unsigned char *data = NULL;
	char msg[512];
	size_t len = 0;
	int err;

	*out = NULL;
	err = read_all(path, &data, &len);
	if (err) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "%s: %s", path,
			         stillprof_strerror(err));
		return err;
	}
	msg[0] = '\0';
	err = sp_stackprof_read_buf(data, len, out, info, msg, sizeof(msg));
	sp_free(data);
	if (err && errbuf && errlen)
		snprintf(errbuf, errlen, "%s: %s", path,
		         msg[0] ? msg : stillprof_strerror(err));
	return err;
}
