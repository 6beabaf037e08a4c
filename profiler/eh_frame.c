/*
 * eh_frame.c - reading x86-64 call-frame information for the fast unwinder
 * (unwind_cfi.c).  For one pc it finds the FDE through the object's
 * .eh_frame_hdr search table, parses the FDE and its CIE, runs their
 * call-frame programs up to the pc (those two steps: eh_frame_cfa.c), and
 * reduces the row to the compact rule of eh_frame.h: CFA = rsp or rbp +
 * offset (or the word there + m, and the .plt entries' expression, see
 * cfa_expression), return address at CFA + k, rbp saved at CFA + k or
 * unchanged.  Anything else (other expressions,
 * register or expression rules for rbp or the return address, signal
 * frames, CFA on another register, code without CFI) becomes a failed rule
 * that says why.  Caching the rules and stepping frames with them is left
 * to unwind_cfi.c; this file runs only on its cache misses.
 *
 * References: LSB 5.0 "Exception Frames" (.eh_frame, .eh_frame_hdr, the
 * 'z' augmentation and DW_EH_PE_* pointer encodings); DWARF 5 section 6.4
 * (call frame instructions); x86-64 psABI 3.6.2 (DWARF register numbers:
 * rbp 6, rsp 7, return address 16).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "eh_frame.h"
#include "eh_frame_cfa.h"
#include "maps.h"

/* Entry i of the search table; a failed read (object gone) ends the
 * search with no FDE. */
static int32_t table_at(uintptr_t table, uint64_t i, int *bad)
{
	int32_t v = 0;

	if (sp_maps_read(table + 4 * i, &v, 4))
		*bad = 1;
	return v;
}

/* The FDE that may cover pc: the last search-table entry whose initial
 * location is <= pc (the table is sorted; entries are datarel sdata4
 * pairs, as maps.c checked).  Returns its address, or 0. */
static uintptr_t find_fde(const struct sp_object *o, uint64_t pc)
{
	uintptr_t t = o->eh_table;
	int64_t rel = (int64_t)(pc - o->eh_frame_hdr);
	uint64_t n = o->fde_count, lo = 0, hi = n;

	if (!t || n == 0 || n > SIZE_MAX / 8 ||
	    !sp_eh_seg_end(o, o->eh_table, (size_t)n * 8))
		return 0;
	int bad = 0;
	int32_t fde;

	while (hi - lo > 1 && !bad) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (table_at(t, 2 * mid, &bad) <= rel)
			lo = mid;
		else
			hi = mid;
	}
	if (table_at(t, 2 * lo, &bad) > rel)
		return 0;
	fde = table_at(t, 2 * lo + 1, &bad);
	if (bad)
		return 0;
	return o->eh_frame_hdr + (uintptr_t)(int64_t)fde;
}

/* DWARF expression operations (DWARF 5, 7.7.1). */
#define DW_OP_deref 0x06
#define DW_OP_and 0x1a
#define DW_OP_plus 0x22
#define DW_OP_plus_uconst 0x23
#define DW_OP_shl 0x24
#define DW_OP_ge 0x2a
#define DW_OP_lit0 0x30
#define DW_OP_lit31 0x4f
#define DW_OP_breg0 0x70

/*
 * The two CFA expressions common enough to deserve a rule:
 *  - binutils' .plt entries, rsp + a + ((rip + b) & 15 >= n ? 8 : 0)
 *    (breg7 a; breg16 b; lit15; and; lit n; ge; lit3; shl; plus): for a
 *    given rip a constant offset, so computed for a leaf at pc
 *    (SP_EH_LEAF_ONLY: a caller's rip is its return address, not pc);
 *  - OpenSSL perlasm's ".cfi_cfa_expression %rsp+k,deref,+m", for
 *    functions that keep their caller's rsp in the frame:
 *    *(rsp or rbp + k) + m (breg7/breg6 k; deref; plus_uconst m).
 * On a match sets row's cfa_reg and cfa_off and ru's flags and aux, and
 * returns 0; otherwise -1 (libunwind evaluates the rest).
 */
static int cfa_expression(struct sp_eh_row *row, uint64_t pc,
                          struct sp_eh_rule *ru)
{
	struct sp_dwarf_reader r = {row->expr, row->expr + row->expr_len, 0};
	uint8_t op = sp_eh_rd_u8(&r);
	uint64_t reg = (uint64_t)op - DW_OP_breg0, m;
	int64_t k = sp_dwarf_rd_sleb(&r), b;
	uint8_t n;

	if (r.bad || op < DW_OP_breg0 ||
	    (reg != DW_REG_RSP && reg != DW_REG_RBP))
		return -1;
	op = sp_eh_rd_u8(&r);
	if (op == DW_OP_deref) {
		if (sp_eh_rd_u8(&r) != DW_OP_plus_uconst)
			return -1;
		m = sp_dwarf_rd_uleb(&r);
		if (r.bad || r.p != r.end || m > UINT8_MAX)
			return -1;
		row->cfa_reg = reg;
		row->cfa_off = k;
		ru->flags |= SP_EH_CFA_DEREF;
		ru->aux = (uint8_t)m;
		return 0;
	}
	if (reg != DW_REG_RSP || op != DW_OP_breg0 + DW_REG_RA)
		return -1;
	b = sp_dwarf_rd_sleb(&r);
	if (sp_eh_rd_u8(&r) != DW_OP_lit0 + 15 || sp_eh_rd_u8(&r) != DW_OP_and)
		return -1;
	n = sp_eh_rd_u8(&r);
	if (n < DW_OP_lit0 || n > DW_OP_lit31 ||
	    sp_eh_rd_u8(&r) != DW_OP_ge || sp_eh_rd_u8(&r) != DW_OP_lit0 + 3 ||
	    sp_eh_rd_u8(&r) != DW_OP_shl || sp_eh_rd_u8(&r) != DW_OP_plus ||
	    r.bad || r.p != r.end)
		return -1;
	row->cfa_reg = DW_REG_RSP;
	row->cfa_off = k + ((((pc + (uint64_t)b) & 15) >=
	                     (uint64_t)(n - DW_OP_lit0)) ? 8 : 0);
	ru->flags |= SP_EH_LEAF_ONLY;
	return 0;
}

static void fail(struct sp_eh_rule *ru, enum sp_cfi_why why)
{
	ru->flags = SP_EH_VALID | SP_EH_FAIL;
	ru->aux = (uint8_t)why;
}

static int fits_off8(int64_t off)
{
	return off % 8 == 0 && off / 8 >= INT8_MIN && off / 8 <= INT8_MAX;
}

void sp_eh_frame_compute(struct sp_maps *maps, uint64_t pc,
                         struct sp_eh_rule *ru)
{
	const struct sp_object *o = sp_maps_find(maps, pc);
	struct sp_dwarf_reader fde, prog;
	struct sp_eh_cie cie;
	struct sp_eh_row none, init, row;
	uintptr_t fde_addr, fde_bias, cie_field;
	const struct sp_eh_reg *ra, *bp;
	uint64_t id, pc_begin, pc_range;
	/* Copies of the FDE and its CIE: the parsed rows point into them. */
	uint8_t fde_buf[SP_EH_RECORD_MAX], cie_buf[SP_EH_RECORD_MAX];

	memset(ru, 0, sizeof(*ru));
	ru->pc = pc;
	if (!o) {
		fail(ru, SP_CFI_NO_OBJECT);
		return;
	}
	if (!(fde_addr = find_fde(o, pc)) ||
	    sp_eh_read_record(o, fde_addr, &fde, &fde_bias, fde_buf,
	                      sizeof(fde_buf))) {
		fail(ru, SP_CFI_NOINFO);
		return;
	}
	cie_field = (uintptr_t)fde.p + fde_bias;
	id = sp_dwarf_rd_fixed(&fde, 4);
	/* The CIE pointer counts back from its own field (LSB 10.6.1.1). */
	if (fde.bad || id == 0 || id > cie_field ||
	    sp_eh_parse_cie(o, cie_field - id, &cie, cie_buf)) {
		fail(ru, SP_CFI_NOINFO);
		return;
	}
	pc_begin = sp_eh_rd_encoded(&fde, fde_bias, cie.fde_enc);
	pc_range = sp_eh_rd_encoded(&fde, fde_bias, cie.fde_enc & 0x0f);
	if (cie.has_z)
		sp_dwarf_skip(&fde, sp_dwarf_rd_uleb(&fde));
	if (fde.bad || pc < pc_begin || pc - pc_begin >= pc_range) {
		fail(ru, SP_CFI_NOINFO);
		return;
	}
	if (cie.signal || cie.ra_reg != DW_REG_RA) {
		fail(ru, SP_CFI_UNSUPPORTED);
		return;
	}
	memset(&none, 0, sizeof(none)); /* every register: same value */
	init = none;
	prog = cie.insn;
	if (sp_eh_run_program(&prog, cie.insn_bias, &cie, &none, 0, UINT64_MAX,
	                      &init)) {
		fail(ru, SP_CFI_NOINFO);
		return;
	}
	row = init;
	if (sp_eh_run_program(&fde, fde_bias, &cie, &init, pc_begin, pc,
	                      &row)) {
		fail(ru, SP_CFI_NOINFO);
		return;
	}
	ra = &row.reg[SP_EH_SLOT_RA];
	bp = &row.reg[SP_EH_SLOT_RBP];
	if (ra->how == SP_EH_REG_UNDEF) {
		/* DWARF 5, 6.4.4: the outermost frame (_start, clone3). */
		ru->flags = SP_EH_VALID | SP_EH_END;
		return;
	}
	ru->flags = SP_EH_VALID;
	if (row.cfa_defined && row.cfa_expr &&
	    cfa_expression(&row, pc, ru) == 0)
		row.cfa_expr = 0; /* ru has the CFA part, row.cfa_* too */
	if (!row.cfa_defined || row.cfa_expr ||
	    (row.cfa_reg != DW_REG_RSP && row.cfa_reg != DW_REG_RBP) ||
	    row.cfa_off < INT32_MIN || row.cfa_off > INT32_MAX ||
	    row.reg[SP_EH_SLOT_RSP].how != SP_EH_REG_SAME ||
	    ra->how != SP_EH_REG_OFFSET ||
	    !fits_off8(ra->off) ||
	    (bp->how != SP_EH_REG_SAME && bp->how != SP_EH_REG_OFFSET) ||
	    (bp->how == SP_EH_REG_OFFSET && !fits_off8(bp->off))) {
		/* An undefined rbp is here too: libunwind 1.6 ends the
		 * stack there, and it should decide. */
		fail(ru, SP_CFI_UNSUPPORTED);
		return;
	}
	ru->cfa_off = (int32_t)row.cfa_off;
	ru->ra_off8 = (int8_t)(ra->off / 8);
	if (row.cfa_reg == DW_REG_RBP)
		ru->flags |= SP_EH_CFA_RBP;
	if (bp->how == SP_EH_REG_OFFSET) {
		ru->flags |= SP_EH_BP_SAVED;
		ru->bp_off8 = (int8_t)(bp->off / 8);
	}
}
