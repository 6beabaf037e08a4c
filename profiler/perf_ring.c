/*
 * perf_ring.c - perf_event fds and their ring buffers.  The consumer side
 * follows perf_event_open(2) and libbpf: load data_head with acquire
 * semantics before reading records, store data_tail with release semantics
 * after, and copy a record that wraps past the end of the data area into a
 * scratch buffer before handing it on.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "perf_ring.h"

/* Largest record we accept: perf caps a sample at 64 KiB (u16 size). */
static __thread char wrap_buf[65536];

int sp_perf_ring_open(struct sp_perf_ring *r, struct perf_event_attr *attr,
                      pid_t tid, unsigned data_pages)
{
	long page = sysconf(_SC_PAGESIZE);
	int fd, err = -EINVAL;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	fd = (int)syscall(SYS_perf_event_open, attr, tid, -1, -1,
	                  PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The ring is locked memory (perf_event_mlock_kb, then
	 * RLIMIT_MEMLOCK): with many threads the budget runs out, so retry
	 * with smaller rings before giving up on the thread. */
	for (unsigned pages = data_pages; pages >= 2; pages /= 2) {
		size_t len = (size_t)(pages + 1) * (size_t)page;
		void *m;

		if (pages < data_pages && attr->watermark) {
			/* The watermark is in bytes and the kernel clamps it
			 * to the ring: unscaled, a smaller ring would wake
			 * us only when full, and lose records.  It is read
			 * at open, so open again. */
			uint32_t wm = attr->wakeup_watermark;
			sp_close(fd);
			attr->wakeup_watermark =
			    (uint32_t)((uint64_t)wm * pages / data_pages);
			fd = (int)syscall(SYS_perf_event_open, attr, tid, -1,
			                  -1, PERF_FLAG_FD_CLOEXEC);
			attr->wakeup_watermark = wm;
			if (fd < 0)
				return -errno;
		}
		m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (m != MAP_FAILED) {
			r->fd = fd;
			r->meta = m;
			r->data = (char *)m + page;
			r->data_len = (size_t)pages * (size_t)page;
			r->map_len = len;
			return 0;
		}
		err = -errno;
		if (err != -EPERM && err != -ENOMEM)
			break;
	}
	sp_close(fd);
	return err;
}

int sp_perf_ring_enable(struct sp_perf_ring *r)
{
	if (ioctl(r->fd, PERF_EVENT_IOC_ENABLE, 0) < 0)
		return -errno;
	return 0;
}

int sp_perf_ring_disable(struct sp_perf_ring *r)
{
	if (r->fd >= 0 && ioctl(r->fd, PERF_EVENT_IOC_DISABLE, 0) < 0)
		return -errno;
	return 0;
}

size_t sp_perf_ring_drain(struct sp_perf_ring *r, sp_perf_record_fn *fn,
                          void *ctx)
{
	uint64_t head, tail;
	size_t n = 0, mask;

	if (r->fd < 0 || !r->meta)
		return 0;
	mask = r->data_len - 1;
	/* perf_event_open(2): read data_head, then an acquire barrier, then
	 * the records. */
	head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
	tail = r->meta->data_tail;
	if (tail == head)
		return 0; /* nothing new: leave the shared page clean */
	while (tail < head) {
		struct perf_event_header h;
		size_t off = (size_t)tail & mask;
		const struct perf_event_header *rec;

		if (off + sizeof(h) <= r->data_len) {
			memcpy(&h, r->data + off, sizeof(h));
		} else {
			size_t first = r->data_len - off;
			memcpy(&h, r->data + off, first);
			memcpy((char *)&h + first, r->data, sizeof(h) - first);
		}
		if (h.size < sizeof(h) || h.size > head - tail)
			break; /* corrupt or partial: stop, never overrun */
		if (off + h.size <= r->data_len) {
			rec = (const void *)(r->data + off);
		} else {
			size_t first = r->data_len - off;
			memcpy(wrap_buf, r->data + off, first);
			memcpy(wrap_buf + first, r->data, h.size - first);
			rec = (const void *)wrap_buf;
		}
		fn(rec, ctx);
		tail += h.size;
		n++;
	}
	/* Release: the kernel may reuse the space only after we are done. */
	__atomic_store_n(&r->meta->data_tail, head > tail ? tail : head,
	                 __ATOMIC_RELEASE);
	return n;
}

void sp_perf_ring_close(struct sp_perf_ring *r)
{
	if (r->meta)
		munmap(r->meta, r->map_len);
	sp_close(r->fd);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}
