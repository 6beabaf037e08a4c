/*
 * fd_sink_fixture.h - a writer's bytes through an fd sink must equal its
 * bytes through a memory sink.  Two passes over a temporary file: the fd
 * sink with its own buffer, then with an 8-byte buffer, which makes every
 * sp_sink_room fail (the path of a sink that could not get its buffer).
 * Used by test_marshal_write.c and test_stackprof_json.c; included after
 * <cmocka.h> and "formats.h".
 */
#ifndef FD_SINK_FIXTURE_H
#define FD_SINK_FIXTURE_H

#include <stdlib.h>
#include <unistd.h>

/* Writes the content under test into s; pass 1 is the tiny buffer. */
typedef void fx_sink_write_fn(struct sp_sink *s, int pass, void *ctx);

__attribute__((unused)) static void
fx_fd_sink_matches(const struct sp_sink *ref, fx_sink_write_fn *fn, void *ctx)
{
	for (int pass = 0; pass < 2; pass++) {
		char path[] = "/tmp/sp_fd_sink_XXXXXX";
		int fd = mkstemp(path);
		char *back = malloc(ref->len + 1);
		struct sp_sink s;

		assert_true(fd >= 0);
		assert_non_null(back);
		sp_sink_init_fd(&s, fd);
		if (pass) {
			s.buf = sp_malloc(8);
			assert_non_null(s.buf);
			s.cap = 8;
		}
		fn(&s, pass, ctx);
		assert_int_equal(sp_sink_flush(&s), 0);
		sp_sink_fini(&s);
		assert_int_equal(pread(fd, back, ref->len + 1, 0),
		                 (ssize_t)ref->len);
		assert_memory_equal(back, ref->buf, ref->len);
		free(back);
		close(fd);
		unlink(path);
	}
}

#endif
