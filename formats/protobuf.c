/*
 * protobuf.c - the protobuf wire format, as much of it as profile.proto
 * needs: varints (wire type 0) and length-delimited fields (wire type 2)
 * for strings, nested messages and packed repeated scalars, written into
 * a growing buffer.  No zigzag (profile.proto has no sint fields) and no
 * fixed-width types.  See protobuf.dev/programming-guides/encoding.
 *
 * A nested message's length is known only once it is written, so
 * sp_pb_open reserves one byte for it and sp_pb_close moves the body when
 * the length needs more: lengths stay minimal varints, and the moves only
 * touch the small messages (Sample, Location, ...) pprof nests.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "formats.h"
#include "writers.h"

#define WIRE_VARINT 0
#define WIRE_LEN 2

void sp_pb_init(struct sp_pb *pb)
{
	memset(pb, 0, sizeof(*pb));
}

void sp_pb_fini(struct sp_pb *pb)
{
	sp_free(pb->buf);
	memset(pb, 0, sizeof(*pb));
}

/* Room for n more bytes; latches -ENOMEM. */
static int reserve(struct sp_pb *pb, size_t n)
{
	void *buf = pb->buf;
	int err;

	if (pb->err)
		return pb->err;
	if (n > SIZE_MAX - pb->len) {
		pb->err = SP_ERR(-ENOMEM);
		return pb->err;
	}
	if (pb->len + n <= pb->cap)
		return 0;
	err = sp_grow(&buf, &pb->cap, pb->len + n, 1);
	if (err) {
		pb->err = SP_ERR(err);
		return err;
	}
	pb->buf = buf;
	return 0;
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Store v as a varint at p (varint_len(v) bytes). */
static void put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p = (uint8_t)v;
}

void sp_pb_varint(struct sp_pb *pb, uint64_t v)
{
	size_t n = varint_len(v);

	if (reserve(pb, n))
		return;
	put_varint(pb->buf + pb->len, v);
	pb->len += n;
}

static void key(struct sp_pb *pb, uint32_t field, int wire)
{
	sp_pb_varint(pb, (uint64_t)field << 3 | (uint64_t)wire);
}

void sp_pb_uint(struct sp_pb *pb, uint32_t field, uint64_t v)
{
	key(pb, field, WIRE_VARINT);
	sp_pb_varint(pb, v);
}

void sp_pb_int(struct sp_pb *pb, uint32_t field, int64_t v)
{
	sp_pb_uint(pb, field, (uint64_t)v);
}

void sp_pb_bytes(struct sp_pb *pb, uint32_t field, const void *data,
                 size_t len)
{
	key(pb, field, WIRE_LEN);
	sp_pb_varint(pb, len);
	if (reserve(pb, len))
		return;
	if (len)
		memcpy(pb->buf + pb->len, data, len);
	pb->len += len;
}

size_t sp_pb_open(struct sp_pb *pb, uint32_t field)
{
	key(pb, field, WIRE_LEN);
	if (reserve(pb, 1))
		return 0;
	pb->buf[pb->len++] = 0; /* the length, for now */
	return pb->len;
}

void sp_pb_close(struct sp_pb *pb, size_t mark)
{
	size_t body, n;

	if (pb->err || SP_NEVER(mark == 0 || mark > pb->len))
		return;
	body = pb->len - mark;
	n = varint_len(body);
	if (n > 1) {
		if (reserve(pb, n - 1))
			return;
		memmove(pb->buf + mark + n - 1, pb->buf + mark, body);
		pb->len += n - 1;
	}
	put_varint(pb->buf + mark - 1, body);
}
