/*
 * eh_frame.h - the interface between the CFI reader (eh_frame.c) and the
 * fast unwinder (unwind_cfi.c): the compact rule that stands for one pc's
 * row of the .eh_frame CFA table, and the call that computes it.  A rule is
 * 16 bytes so that unwind_cfi.c can cache many of them; it holds only what
 * an x86-64 profiler needs to step a frame.  Internal; never installed.
 */
#ifndef SP_EH_FRAME_H
#define SP_EH_FRAME_H

#include <stdint.h>

#include "unwind_cfi.h"

struct sp_maps;

enum {
	SP_EH_VALID = 1,      /* the entry is in use */
	SP_EH_FAIL = 2,       /* no usable rule: aux says why */
	SP_EH_END = 4,        /* return address undefined: outermost frame */
	SP_EH_CFA_RBP = 8,    /* CFA = rbp + cfa_off, else rsp + cfa_off */
	SP_EH_BP_SAVED = 16,  /* caller's rbp at CFA + 8 * bp_off8 */
	SP_EH_CFA_DEREF = 32, /* CFA = *(rsp or rbp + cfa_off) + aux */
	SP_EH_LEAF_ONLY = 64  /* computed with rip = pc: not for callers */
};

struct sp_eh_rule {
	uint64_t pc;
	int32_t cfa_off;
	int8_t ra_off8;  /* return address at CFA + 8 * ra_off8 */
	int8_t bp_off8;
	uint8_t flags;
	uint8_t aux;     /* SP_EH_FAIL: enum sp_cfi_why; SP_EH_CFA_DEREF: the
	                  * constant added to the loaded value */
};

/*
 * Compute the rule for pc (the leaf's pc, or a return address - 1) from
 * the CFI of the object in maps that holds it, into *ru, which the caller
 * owns; every field is overwritten, ru->pc is set to pc and flags always
 * include SP_EH_VALID.  A failure is a rule too: SP_EH_FAIL with aux
 * SP_CFI_NO_OBJECT, SP_CFI_NOINFO or SP_CFI_UNSUPPORTED.  Reads only the
 * mapped segments of the object; may rescan maps (sp_maps_find), so it
 * runs on the sampling thread only.  Not thread-safe, not
 * async-signal-safe.
 */
void sp_eh_frame_compute(struct sp_maps *maps, uint64_t pc,
                         struct sp_eh_rule *ru);

#endif
