/*
 * unwind.h - unwinding a thread's user stack from a copy of it (perf's
 * PERF_SAMPLE_STACK_USER, or a process_vm_readv copy for a blocked thread)
 * plus the registers captured with it: cached CFI rules first
 * (unwind_cfi.c), libunwind for the frames they cannot step.  Runs on the
 * sampling thread only.
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
	size_t stack_asked;         /* the copy's requested size (perf: its
	                             * record's; probe: the length read);
	                             * stack_len is shorter when the stack
	                             * ended first.  0: unknown. */
};

struct sp_unwinder;

/* Why a stack was finished by libunwind (enum sp_cfi_why). */
#define SP_UW_FALLBACK_KINDS 5

struct sp_unwind_stats {
	uint64_t stacks;       /* sp_unwind calls with a valid rip */
	uint64_t fast_stacks;  /* of which the CFI rules did alone */
	/* the others, by the reason the fast path gave up: no CFI, CFI it
	 * does not model, CFA not above sp, no rsp, leaf pc in no object */
	uint64_t fallbacks[SP_UW_FALLBACK_KINDS];
	uint64_t rbp_stops;    /* fast stacks ended by an unknown rbp */
	uint64_t rule_lookups, rule_misses, flushes;
};

/*
 * Create an unwinder over maps (borrowed: it must outlive the unwinder).
 * Returns 0 and *out, or -ENOMEM.  Free with sp_unwinder_free (NULL is a
 * no-op), which logs the statistics at info level.
 */
int sp_unwinder_new(struct sp_maps *maps, struct sp_unwinder **out);
void sp_unwinder_free(struct sp_unwinder *uw);

/*
 * Unwind: write up to max pcs into pcs, leaf first (pcs[0] = rip).  Returns
 * the number of frames (>= 1 when rip is valid, 0 otherwise).  Never reads
 * memory outside the stack copy and the mapped segments of loaded objects.
 */
int sp_unwind(struct sp_unwinder *uw, const struct sp_uw_input *in,
              uint64_t *pcs, int max);

/*
 * After sp_unwind: 1 if the walk wanted a stack word at or above the end
 * of in->stack (stack_lo + stack_len), else 0.  When 0, the result is the
 * same for any longer copy with the same first stack_len bytes: every
 * word the walk read was inside the copy or below stack_lo.  (The stack of
 * a blocked thread is copied a little first, then more only if needed.)
 */
int sp_unwind_past_end(const struct sp_unwinder *uw);

/*
 * After sp_unwind: 1 if a longer copy would have given more: the walk
 * wanted a word past the end of a copy that holds all in->stack_asked
 * bytes (a shorter one met the end of the stack's mapping: no more to be
 * had).  0 when stack_asked is 0.
 */
int sp_unwind_cut(const struct sp_unwinder *uw, const struct sp_uw_input *in);

/*
 * After sp_unwind: the end of the highest stack word the walk wanted (less
 * than 16 MiB above stack_lo: words further up are taken for unwind
 * tables), inside the copy or not; 0 if none.  A hint for the next copy
 * of the same thread's stack, whose outer frames stay where they are.
 */
uint64_t sp_unwind_want_end(const struct sp_unwinder *uw);

/*
 * The same with libunwind alone, for tests and comparisons.  uncached: do
 * without (and flush) libunwind's cache, whose entries are keyed by ip
 * alone, so that the leaf's row at ip X can be reused for a caller frame
 * whose return address is X (and the other way round): the reference for
 * a test of random stacks must be uncached to be deterministic.
 */
int sp_unwind_libunwind(struct sp_unwinder *uw, const struct sp_uw_input *in,
                        uint64_t *pcs, int max, int uncached);

/*
 * Flush cached unwind information: call after objects were unloaded.
 * sp_unwind also flushes by itself when a rescan of maps finds the set of
 * loaded objects changed.
 */
void sp_unwinder_flush(struct sp_unwinder *uw);

void sp_unwinder_get_stats(const struct sp_unwinder *uw,
                           struct sp_unwind_stats *out);

#endif
