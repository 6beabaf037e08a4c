/*
 * probe_copy.c - a blocked thread's stack, copied a little at a time and
 * unwound (see probe_copy.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "probe_copy.h"
#include "unwind.h"

#define PAGE 4096u

size_t sp_probe_first_len(uint64_t sp, uint64_t hint_end, size_t cap)
{
	size_t len = PAGE - (size_t)(sp & (PAGE - 1));

	if (hint_end > sp) {
		/* Up to the end of the hint's page (at least sp's page). */
		uint64_t want = hint_end - sp;
		if (want > cap)
			return cap;
		len = ((size_t)((sp + want + PAGE - 1) & ~(uint64_t)(PAGE - 1)) -
		       (size_t)sp);
	} else if (len < SP_PROBE_FIRST_MIN) {
		/* Near the page end the frames above are surely needed: one
		 * copy of two pages is cheaper than two copies. */
		len += PAGE;
	}
	return len < cap ? len : cap;
}

ssize_t sp_probe_read(pid_t pid, void *dst, uint64_t src, size_t len)
{
	struct iovec local = {dst, len}, remote = {(void *)(uintptr_t)src, len};
	ssize_t got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	size_t to_page = PAGE - (size_t)(src & (PAGE - 1));

	if (got > 0)
		return got;
	if (got < 0 && errno != EFAULT)
		return -errno;
	/* Nothing copied: maybe the fault was on a later page and the
	 * kernel gave up on the whole request; the first page alone. */
	if (len <= to_page)
		return -EFAULT;
	local.iov_len = remote.iov_len = to_page;
	got = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	return got > 0 ? got : -EFAULT;
}

int sp_probe_unwind(struct sp_unwinder *uw, pid_t pid, uint64_t sp,
                    uint64_t pc, uint64_t hint_end, uint8_t *buf, size_t cap,
                    uint64_t *pcs, int max, struct sp_probe_copy_res *res)
{
	size_t want = sp_probe_first_len(sp, hint_end, cap);
	struct sp_uw_input in;
	ssize_t got = sp_probe_read(pid, buf, sp, want);
	int n;

	res->copies = 1;
	res->copied = 0;
	res->want_end = 0;
	if (got < 0)
		return (int)got;
	memset(&in, 0, sizeof(in));
	in.regs[SP_REG_RSP] = sp;
	in.regs[SP_REG_RIP] = pc;
	in.have = (1u << SP_REG_RSP) | (1u << SP_REG_RIP);
	in.stack = buf;
	in.stack_lo = sp;
	in.stack_len = (size_t)got;
	in.stack_asked = want;
	n = sp_unwind(uw, &in, pcs, max);
	if (sp_unwind_cut(uw, &in) && want < cap) {
		ssize_t more = sp_probe_read(pid, buf + want, sp + want,
		                             cap - want);
		res->copies = 2;
		if (more > 0) {
			in.stack_len += (size_t)more;
			n = sp_unwind(uw, &in, pcs, max);
		}
	}
	res->copied = in.stack_len;
	res->want_end = sp_unwind_want_end(uw);
	return n;
}
