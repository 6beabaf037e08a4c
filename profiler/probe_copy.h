/*
 * probe_copy.h - copying and unwinding the stack of a blocked thread of
 * this process, a little at a time: most blocked stacks are shallow, and
 * on a paravirtual guest every page process_vm_readv pins and copies
 * costs (the whole 32 KiB made 40 % of the sampler's time with 256
 * threads waking every 20 ms).  The first copy runs from sp to the page
 * end that holds the highest word the thread's previous unwind wanted (a
 * thread's outer frames stay put), or without that hint to the end of
 * sp's page (one more page if that is short); the rest, up to the cap, is
 * copied only when the unwind wanted a word past what it had
 * (sp_unwind_past_end), so the frames are exactly those of a copy of the
 * whole cap, whatever the hint.
 *
 * Whether the thread ran during the copies is the caller's check
 * (probe.c), made after this returns: it covers every copy.
 */
#ifndef SP_PROBE_COPY_H
#define SP_PROBE_COPY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sp_unwinder;

/* Below this many bytes to the end of sp's page, the first copy takes
 * the next page too. */
#define SP_PROBE_FIRST_MIN 2048

/* Length of the first copy of a stack at sp, at most cap; hint_end: the
 * previous unwind's sp_unwind_want_end, or 0. */
size_t sp_probe_first_len(uint64_t sp, uint64_t hint_end, size_t cap);

/*
 * Copy [src, src + len) of process pid's memory to dst.  A fault part way
 * gives a partial copy (a stack ends before the cap); a fault on the
 * first page of a multi-page request is retried for that page alone.
 * Returns the bytes copied (> 0) or -EFAULT (or another -errno).
 */
ssize_t sp_probe_read(pid_t pid, void *dst, uint64_t src, size_t len);

struct sp_probe_copy_res {
	size_t copied;     /* bytes copied */
	int copies;        /* copies made: 1 or 2 */
	uint64_t want_end; /* sp_unwind_want_end of the last unwind: the
	                    * hint for the thread's next probe */
};

/*
 * Copy the stack at sp into buf (cap bytes) and unwind it from sp and pc
 * into pcs (at most max); hint_end as for sp_probe_first_len.  Returns the
 * number of frames (>= 1) or -errno (the first copy failed); *res.
 */
int sp_probe_unwind(struct sp_unwinder *uw, pid_t pid, uint64_t sp,
                    uint64_t pc, uint64_t hint_end, uint8_t *buf, size_t cap,
                    uint64_t *pcs, int max, struct sp_probe_copy_res *res);

#endif
