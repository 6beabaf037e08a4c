/*
 * floor_event.h - the kernel's share of sampling, for the overhead
 * benches (bench/spin SPIN_KERNEL_FLOOR, bench/overhead): the calling
 * thread's own task-clock sampling event at `hz`, instruction pointer
 * only, ring mapped and never read.  It costs the timer interrupts and the
 * hrtimer work at every context switch -- the floor any per-thread
 * perf_event profiler pays on the machine, before it copies a stack or
 * wakes a reader.
 */
#ifndef STILLPROF_BENCH_FLOOR_EVENT_H
#define STILLPROF_BENCH_FLOOR_EVENT_H

#include <linux/perf_event.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Returns the event fd, or -1 with errno set.  *ring: the mapping of
 * 1 + data_pages pages (NULL if it failed), *len its size. */
static inline int bench_floor_event_open(uint64_t hz, size_t data_pages,
                                         void **ring, size_t *len)
{
	struct perf_event_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_TASK_CLOCK;
	a.sample_period = 1000000000u / hz;
	a.sample_type = PERF_SAMPLE_IP;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1,
	                  PERF_FLAG_FD_CLOEXEC);
	*ring = NULL;
	*len = 0;
	if (fd < 0)
		return -1;
	*len = (1 + data_pages) * (size_t)sysconf(_SC_PAGESIZE);
	*ring = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*ring == MAP_FAILED)
		*ring = NULL;
	return fd;
}

#endif
