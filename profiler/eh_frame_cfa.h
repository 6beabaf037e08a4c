/*
 * eh_frame_cfa.h - between the two halves of the CFI reader: eh_frame.c
 * (find the FDE through .eh_frame_hdr, reduce its row to a rule) and
 * eh_frame_cfa.c (copy .eh_frame records, parse the CIE, run the
 * call-frame programs to the row of a pc).  Internal to those two files.
 */
#ifndef SP_EH_FRAME_CFA_H
#define SP_EH_FRAME_CFA_H

#include <stddef.h>
#include <stdint.h>

#include "dwarf_reader.h"

struct sp_object;

/* DWARF register numbers (x86-64 psABI figure 3.36). */
#define DW_REG_RBP 6
#define DW_REG_RSP 7
#define DW_REG_RA 16

/* Records longer than this are left to libunwind (rare: functions with
 * very long call-frame programs). */
#define SP_EH_RECORD_MAX 4096

struct sp_eh_cie {
	uint64_t code_align;
	int64_t data_align;
	uint64_t ra_reg;
	uint8_t fde_enc;
	int has_z;
	int signal;
	struct sp_dwarf_reader insn;
	uintptr_t insn_bias;  /* of insn's copy, for sp_eh_rd_encoded */
};

enum { SP_EH_REG_SAME, SP_EH_REG_UNDEF, SP_EH_REG_OFFSET, SP_EH_REG_OTHER };

struct sp_eh_reg {
	uint8_t how;
	int64_t off; /* SP_EH_REG_OFFSET: saved at CFA + off */
};

/* The rows of the CFA table for the three registers we track. */
enum { SP_EH_SLOT_RBP, SP_EH_SLOT_RSP, SP_EH_SLOT_RA, SP_EH_SLOTS };

struct sp_eh_row {
	uint64_t cfa_reg;
	int64_t cfa_off;
	int cfa_defined, cfa_expr;
	const uint8_t *expr; /* cfa_expr: the DWARF expression */
	uint64_t expr_len;
	struct sp_eh_reg reg[SP_EH_SLOTS];
};

/* One byte (0 once r is bad). */
static inline uint8_t sp_eh_rd_u8(struct sp_dwarf_reader *r)
{
	return (uint8_t)sp_dwarf_rd_fixed(r, 1);
}

/* An encoded pointer (DW_EH_PE_*) at r; bias maps r's copy back to the
 * object, for pcrel.  Unsupported encodings set r->bad. */
uint64_t sp_eh_rd_encoded(struct sp_dwarf_reader *r, uintptr_t bias,
                          uint8_t enc);

/* End of o's PT_LOAD segment holding [addr, addr + len), or NULL. */
const uint8_t *sp_eh_seg_end(const struct sp_object *o, uintptr_t addr,
                             size_t len);

/* Copy the .eh_frame record at addr into buf (cap bytes); *body reads its
 * contents after the length field, *bias maps them back to the object.
 * Returns 0, or -1 for a terminator, an overrun, a record over cap or an
 * object that is gone. */
int sp_eh_read_record(const struct sp_object *o, uintptr_t addr,
                      struct sp_dwarf_reader *body, uintptr_t *bias,
                      uint8_t *buf, size_t cap);

/* Parse the CIE at addr (copied into buf, SP_EH_RECORD_MAX bytes) into
 * *cie.  Returns 0, or -1 when it is no CIE or not one we can use. */
int sp_eh_parse_cie(const struct sp_object *o, uintptr_t addr,
                    struct sp_eh_cie *cie, uint8_t *buf);

/* Run a call-frame program on row up to pc (see eh_frame_cfa.c).
 * Returns 0, or -1 on a bad or unknown instruction. */
int sp_eh_run_program(struct sp_dwarf_reader *r, uintptr_t bias,
                      const struct sp_eh_cie *cie,
                      const struct sp_eh_row *init, uint64_t loc,
                      uint64_t pc, struct sp_eh_row *row);

#endif
