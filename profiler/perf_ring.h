/*
 * perf_ring.h - a per-thread perf_event fd and its mmap'ed ring buffer:
 * opening the event, reading records (head with acquire, tail with
 * release, wrapped records copied to a scratch buffer), and closing.
 */
#ifndef SP_PERF_RING_H
#define SP_PERF_RING_H

#include <linux/perf_event.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sp_perf_ring {
	int fd;                           /* -1 when closed */
	struct perf_event_mmap_page *meta;
	char *data;
	size_t data_len;                  /* power of two */
	size_t map_len;
};

/* Callback per record; rec points at the header, valid for the call. */
typedef void sp_perf_record_fn(const struct perf_event_header *rec,
                               void *ctx);

/*
 * Open attr for tid (cpu = -1, CLOEXEC) and map a ring of data_pages
 * pages (power of two); retries smaller rings down to 2 pages when the
 * locked-memory limit refuses the size asked.  Returns 0 or -errno (the
 * perf_event_open or mmap error).
 */
int sp_perf_ring_open(struct sp_perf_ring *r, struct perf_event_attr *attr,
                      pid_t tid, unsigned data_pages);
int sp_perf_ring_enable(struct sp_perf_ring *r);
int sp_perf_ring_disable(struct sp_perf_ring *r);
/* Read all available records.  Returns the number of records read. */
size_t sp_perf_ring_drain(struct sp_perf_ring *r, sp_perf_record_fn *fn,
                          void *ctx);
void sp_perf_ring_close(struct sp_perf_ring *r);

#endif
