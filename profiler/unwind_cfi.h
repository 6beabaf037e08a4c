/*
 * unwind_cfi.h - the fast unwinder: .eh_frame CFI reduced to one compact
 * rule per pc (CFA = rsp/rbp + k, return address and saved rbp at fixed
 * CFA offsets), cached in a fixed-size table, so that a repeated unwind
 * costs a table lookup and two reads of the stack copy per frame.  Frames
 * it cannot describe that way are left to libunwind (unwind.c).  Runs on
 * the sampling thread only; not thread-safe.
 */
#ifndef SP_UNWIND_CFI_H
#define SP_UNWIND_CFI_H

#include <stdint.h>

#include "unwind.h"

struct sp_maps;
struct sp_cfi;

/* Why the fast unwinder handed a stack to libunwind. */
enum sp_cfi_why {
	SP_CFI_NOINFO,      /* no .eh_frame_hdr, no FDE for pc, or CFI
	                     * that does not parse */
	SP_CFI_UNSUPPORTED, /* expression or register rules for rsp, rbp or
	                     * the return address; CFA on another register;
	                     * signal frame ('S'); rbp marked undefined */
	SP_CFI_BAD_STEP,    /* the CFA would not move up the stack, or a
	                     * word it needs is outside the stack copy but
	                     * inside an object (libunwind reads those) */
	SP_CFI_NO_REGS,     /* the input lacks rsp */
	SP_CFI_NO_OBJECT,   /* the leaf pc is in no loaded object (JIT code,
	                     * a bad function pointer); a return address
	                     * outside every object ends the stack instead */
	SP_CFI_WHY_COUNT
};

enum {
	SP_CFI_DONE,     /* the stack ended as libunwind would end it */
	SP_CFI_FALLBACK  /* leave this stack to libunwind */
};

struct sp_cfi_stats {
	uint64_t lookups;   /* rule lookups, one per frame stepped */
	uint64_t misses;    /* of which parsed the CFI */
	uint64_t flushes;
	uint64_t rbp_stops; /* stacks ended at an rbp-based CFA, rbp unknown */
};

/*
 * Allocate a rule cache.  Returns 0 and *out, or -ENOMEM.  Free it with
 * sp_cfi_free (NULL is a no-op).
 */
int sp_cfi_new(struct sp_cfi **out);
void sp_cfi_free(struct sp_cfi *c);

/* Forget every cached rule (after objects were unloaded or replaced). */
void sp_cfi_flush(struct sp_cfi *c);

/*
 * Unwind in's stack, leaf first, into pcs (at most max > 0 entries; pcs[0]
 * is rip, which must be valid and nonzero).  Sets *n_frames to the number
 * written.  Returns SP_CFI_DONE when the walk ended where libunwind ends
 * it: undefined return address, return address 0 or outside the stack
 * copy, max frames, or an rbp-based CFA while rbp is unknown (libunwind's
 * read of rbp fails there too); or at a return address in no loaded
 * object.  Returns SP_CFI_FALLBACK and *why when a frame needs libunwind;
 * pcs then holds partial results only.  Reads only the stack copy and the
 * mapped segments of objects in maps; may rescan maps (sp_maps_find).
 */
int sp_cfi_unwind(struct sp_cfi *c, struct sp_maps *maps,
                  const struct sp_uw_input *in, uint64_t *pcs, int max,
                  int *n_frames, enum sp_cfi_why *why);

void sp_cfi_get_stats(const struct sp_cfi *c, struct sp_cfi_stats *out);

/* After sp_cfi_unwind: 1 if the walk wanted a stack word at or above the
 * end of the copy (a longer copy might give more frames), else 0. */
int sp_cfi_past_end(const struct sp_cfi *c);
/* After sp_cfi_unwind: the end of the highest stack word (at or above
 * stack_lo) the walk wanted, inside the copy or not; 0 if none. */
uint64_t sp_cfi_want_end(const struct sp_cfi *c);

#endif
