/*
 * gzip.c - one gzip member (RFC 1952) into a sink, through zlib: deflate
 * with windowBits 15 + 16, which makes zlib write the gzip header and
 * trailer itself (zlib.h, deflateInit2).  pprof's profile.proto files are
 * gzipped on disk (google/pprof proto/README.md).
 */
#include <errno.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"
#include "formats.h"
#include "writers.h"

#define GZIP_WINDOW_BITS (15 + 16)
#define CHUNK 16384

/* zlib's allocations go through alloc.c, so OOM tests reach them. */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	return sp_reallocarray(NULL, items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
	(void)opaque;
	sp_free(p);
}

int sp_gzip_write(struct sp_sink *sink, const void *data, size_t len)
{
	unsigned char out[CHUNK];
	const unsigned char *p = data;
	z_stream z;
	int rc, flush;

	memset(&z, 0, sizeof(z));
	z.zalloc = z_alloc;
	z.zfree = z_free;
	/* deflateInit2 allocates every buffer deflate uses, so once it has
	 * succeeded nothing else can run out of memory. */
	rc = deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
	                  GZIP_WINDOW_BITS, 8, Z_DEFAULT_STRATEGY);
	if (rc != Z_OK)
		return SP_ERR(rc == Z_MEM_ERROR ? -ENOMEM : -EINVAL);
	do {
		/* avail_in is a uInt: feed large inputs in slices. */
		z.next_in = (unsigned char *)p;
		z.avail_in = len > CHUNK * 64 ? CHUNK * 64 : (uInt)len;
		p += z.avail_in;
		len -= z.avail_in;
		flush = len ? Z_NO_FLUSH : Z_FINISH;
		do {
			z.next_out = out;
			z.avail_out = sizeof(out);
			rc = deflate(&z, flush);
			if (rc == Z_STREAM_ERROR) {
				deflateEnd(&z);
				return SP_ERR(-EINVAL);
			}
			sp_sink_write(sink, out, sizeof(out) - z.avail_out);
		} while (z.avail_out == 0);
	} while (flush != Z_FINISH);
	deflateEnd(&z);
	return sink->err;
}
