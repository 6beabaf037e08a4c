/*
 * unwind.h - unwinding a thread's user stack from a copy of it (perf's
 * PERF_SAMPLE_STACK_USER, or a process_vm_readv copy for a blocked thread)
 * plus the registers captured with it.  Runs on the sampling thread only.
 */
#ifndef SP_UNWIND_H
#define SP_UNWIND_H

#include <stddef.h>
#include <stdint.h>

struct sp_maps;

/* x86-64 registers in DWARF numbering order (libunwind's UNW_X86_64_*):
 * rax rdx rcx rbx rsi rdi rbp rsp r8..r15 rip. */
enum {
	SP_REG_RAX, SP_REG_RDX, SP_REG_RCX, SP_REG_RBX, SP_REG_RSI, SP_REG_RDI,
	SP_REG_RBP, SP_REG_RSP, SP_REG_R8, SP_REG_R9, SP_REG_R10, SP_REG_R11,
	SP_REG_R12, SP_REG_R13, SP_REG_R14, SP_REG_R15, SP_REG_RIP,
	SP_REG_COUNT
};

struct sp_uw_input {
	uint64_t regs[SP_REG_COUNT];
	uint32_t have;              /* bit i set: regs[i] is valid */
	const uint8_t *stack;       /* copy of [stack_lo, stack_lo + stack_len) */
	uint64_t stack_lo;
	size_t stack_len;
};

struct sp_unwinder;

int sp_unwinder_new(struct sp_maps *maps, struct sp_unwinder **out);
void sp_unwinder_free(struct sp_unwinder *uw);

/*
 * Unwind: write up to max pcs into pcs, leaf first (pcs[0] = rip).  Returns
 * the number of frames (>= 1 when rip is valid, 0 otherwise).  Never reads
 * memory outside the stack copy and the mapped segments of loaded objects.
 */
int sp_unwind(struct sp_unwinder *uw, const struct sp_uw_input *in,
              uint64_t *pcs, int max);

/* Flush cached unwind information (after dlclose). */
void sp_unwinder_flush(struct sp_unwinder *uw);

#endif
