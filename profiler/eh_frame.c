/*
 * eh_frame.c - reading x86-64 call-frame information for the fast unwinder
 * (unwind_cfi.c).  For one pc it finds the FDE through the object's
 * .eh_frame_hdr search table, parses the FDE and its CIE, runs their
 * call-frame programs up to the pc, and reduces the row to the compact rule
 * of eh_frame.h: CFA = rsp or rbp + offset (or the word there + m, and the
 * .plt entries' expression, see cfa_expression), return address at CFA + k,
 * rbp saved at CFA + k or unchanged.  Anything else (other expressions,
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

#include "dwarf_reader.h"
#include "eh_frame.h"
#include "maps.h"

/* DWARF register numbers (x86-64 psABI figure 3.36). */
#define DW_REG_RBP 6
#define DW_REG_RSP 7
#define DW_REG_RA 16

/* Pointer encodings (LSB 5.0, 10.5). */
#define DW_EH_PE_omit 0xff
#define DW_EH_PE_absptr 0x00
#define DW_EH_PE_uleb128 0x01
#define DW_EH_PE_udata2 0x02
#define DW_EH_PE_udata4 0x03
#define DW_EH_PE_udata8 0x04
#define DW_EH_PE_sleb128 0x09
#define DW_EH_PE_sdata2 0x0a
#define DW_EH_PE_sdata4 0x0b
#define DW_EH_PE_sdata8 0x0c
#define DW_EH_PE_pcrel 0x10
#define DW_EH_PE_aligned 0x50
#define DW_EH_PE_indirect 0x80

/* Call frame instructions (DWARF 5, 7.24). */
enum {
	DW_CFA_nop = 0x00,
	DW_CFA_set_loc = 0x01,
	DW_CFA_advance_loc1 = 0x02,
	DW_CFA_advance_loc2 = 0x03,
	DW_CFA_advance_loc4 = 0x04,
	DW_CFA_offset_extended = 0x05,
	DW_CFA_restore_extended = 0x06,
	DW_CFA_undefined = 0x07,
	DW_CFA_same_value = 0x08,
	DW_CFA_register = 0x09,
	DW_CFA_remember_state = 0x0a,
	DW_CFA_restore_state = 0x0b,
	DW_CFA_def_cfa = 0x0c,
	DW_CFA_def_cfa_register = 0x0d,
	DW_CFA_def_cfa_offset = 0x0e,
	DW_CFA_def_cfa_expression = 0x0f,
	DW_CFA_expression = 0x10,
	DW_CFA_offset_extended_sf = 0x11,
	DW_CFA_def_cfa_sf = 0x12,
	DW_CFA_def_cfa_offset_sf = 0x13,
	DW_CFA_val_offset = 0x14,
	DW_CFA_val_offset_sf = 0x15,
	DW_CFA_val_expression = 0x16,
	DW_CFA_GNU_args_size = 0x2e,
	DW_CFA_GNU_negative_offset_extended = 0x2f,
	DW_CFA_advance_loc = 0x40,
	DW_CFA_offset = 0x80,
	DW_CFA_restore = 0xc0
};

/* ------------------------------------------------------------------ */
/* Bounded reads of CFI, through the DWARF reader (dwarf_reader.c): a read
 * never goes past end; an overrun or an unsupported encoding sets bad,
 * which latches, and the values read are then ignored.  bias maps a
 * reader over a copy back to the object: address in the object - address
 * in the copy. */

static uint8_t rd_u8(struct sp_dwarf_reader *r)
{
	return (uint8_t)sp_dwarf_rd_fixed(r, 1);
}

/* An encoded pointer.  .eh_frame on x86-64 uses absptr or pcrel (relative
 * to the field itself); the other applications need bases we do not have,
 * and an indirect pc_begin makes no sense: both are "bad". */
static uint64_t rd_encoded(struct sp_dwarf_reader *r, uintptr_t bias,
                           uint8_t enc)
{
	uintptr_t field = (uintptr_t)r->p + bias; /* in the object */
	uint64_t v;

	switch (enc & 0x0f) {
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		v = sp_dwarf_rd_fixed(r, 8);
		break;
	case DW_EH_PE_uleb128:
		v = sp_dwarf_rd_uleb(r);
		break;
	case DW_EH_PE_sleb128:
		v = (uint64_t)sp_dwarf_rd_sleb(r);
		break;
	case DW_EH_PE_udata2:
		v = sp_dwarf_rd_fixed(r, 2);
		break;
	case DW_EH_PE_sdata2:
		v = (uint64_t)(int64_t)(int16_t)sp_dwarf_rd_fixed(r, 2);
		break;
	case DW_EH_PE_udata4:
		v = sp_dwarf_rd_fixed(r, 4);
		break;
	case DW_EH_PE_sdata4:
		v = (uint64_t)(int64_t)(int32_t)sp_dwarf_rd_fixed(r, 4);
		break;
	default:
		r->bad = 1;
		return 0;
	}
	if (enc == DW_EH_PE_omit || (enc & DW_EH_PE_indirect))
		r->bad = 1;
	else if ((enc & 0x70) == DW_EH_PE_pcrel)
		v += field;
	else if ((enc & 0x70) != 0)
		r->bad = 1;
	return v;
}

/* End of o's PT_LOAD segment holding [addr, addr + len), or NULL.  Every
 * CFI read stays inside the segment of the object the pc belongs to. */
static const uint8_t *seg_end(const struct sp_object *o, uintptr_t addr,
                              size_t len)
{
	if (addr + len < addr)
		return NULL;
	for (int i = 0; i < o->n_segs; i++)
		if (addr >= o->segs[i].lo && addr + len <= o->segs[i].hi)
			return (const uint8_t *)o->segs[i].hi;
	return NULL;
}

/* A length-prefixed .eh_frame record at addr, copied into buf (cap
 * bytes) before it is parsed: the object may be dlclose'd at any instant,
 * and sp_maps_read fails instead of faulting.  *body = the copy of its
 * contents after the length field (*bias maps it back to the object).
 * Returns 0, or -1 if it is a terminator, overruns, does not fit buf or
 * is gone. */
static int read_record(const struct sp_object *o, uintptr_t addr,
                       struct sp_dwarf_reader *body, uintptr_t *bias,
                       uint8_t *buf, size_t cap)
{
	const uint8_t *end = seg_end(o, addr, 4);
	uint32_t len32;
	uint64_t len;
	uintptr_t start = addr + 4;

	if (!end || sp_maps_read(addr, &len32, 4))
		return -1;
	len = len32;
	if (len32 == 0xffffffffu) { /* 64-bit DWARF */
		if (!seg_end(o, addr, 12) || sp_maps_read(addr + 4, &len, 8))
			return -1;
		start = addr + 12;
	}
	if (len == 0 || len > (uint64_t)((uintptr_t)end - start) || len > cap ||
	    sp_maps_read(start, buf, (size_t)len))
		return -1;
	*body = (struct sp_dwarf_reader){buf, buf + len, 0};
	*bias = start - (uintptr_t)buf;
	return 0;
}

/* Records longer than this are left to libunwind (rare: functions with
 * very long call-frame programs). */
#define SP_EH_RECORD_MAX 4096

/* ------------------------------------------------------------------ */
/* CIE, FDE and the call-frame program. */

struct cie {
	uint64_t code_align;
	int64_t data_align;
	uint64_t ra_reg;
	uint8_t fde_enc;
	int has_z;
	int signal;
	struct sp_dwarf_reader insn;
	uintptr_t insn_bias;  /* of insn's copy, for rd_encoded */
};

static int parse_cie(const struct sp_object *o, uintptr_t addr,
                     struct cie *cie, uint8_t *buf)
{
	struct sp_dwarf_reader r;
	uintptr_t bias;
	const char *aug;
	uint8_t version;

	if (read_record(o, addr, &r, &bias, buf, SP_EH_RECORD_MAX) ||
	    sp_dwarf_rd_fixed(&r, 4) != 0 || r.bad)
		return -1; /* not a CIE (.eh_frame CIE id is 0) */
	version = rd_u8(&r);
	if (r.bad || (version != 1 && version != 3 && version != 4))
		return -1;
	aug = sp_dwarf_rd_cstr(&r);
	if (!aug)
		return -1;
	if (version == 4 && (rd_u8(&r) != 8 || rd_u8(&r) != 0))
		return -1; /* address_size, segment_selector_size */
	memset(cie, 0, sizeof(*cie));
	cie->code_align = sp_dwarf_rd_uleb(&r);
	cie->data_align = sp_dwarf_rd_sleb(&r);
	cie->ra_reg = version == 1 ? rd_u8(&r) : sp_dwarf_rd_uleb(&r);
	cie->fde_enc = DW_EH_PE_absptr;
	if (aug[0] == 'z') {
		uint64_t alen = sp_dwarf_rd_uleb(&r);
		struct sp_dwarf_reader a = {r.p, r.p, 0};

		sp_dwarf_skip(&r, alen);
		a.end = r.p;
		cie->has_z = 1;
		for (const char *ch = aug + 1; *ch && !a.bad; ch++) {
			uint8_t penc;
			switch (*ch) {
			case 'R':
				cie->fde_enc = rd_u8(&a);
				break;
			case 'P': /* personality: skip it */
				penc = rd_u8(&a);
				if ((penc & 0x70) == DW_EH_PE_aligned)
					return -1;
				rd_encoded(&a, bias, penc & 0x0f);
				break;
			case 'L':
				rd_u8(&a);
				break;
			case 'S':
				cie->signal = 1;
				break;
			default: /* unknown: its data cannot be skipped */
				return -1;
			}
		}
		if (a.bad)
			return -1;
	} else if (aug[0]) {
		return -1; /* pre-'z' augmentations such as "eh" */
	}
	if (r.bad || cie->code_align == 0)
		return -1;
	cie->insn = r;
	cie->insn_bias = bias;
	return 0;
}

enum { R_SAME, R_UNDEF, R_OFFSET, R_OTHER };

struct reg_rule {
	uint8_t how;
	int64_t off; /* R_OFFSET: saved at CFA + off */
};

/* The rows of the CFA table for the three registers we track. */
enum { T_RBP, T_RSP, T_RA, T_COUNT };

struct row {
	uint64_t cfa_reg;
	int64_t cfa_off;
	int cfa_defined, cfa_expr;
	const uint8_t *expr; /* cfa_expr: the DWARF expression */
	uint64_t expr_len;
	struct reg_rule reg[T_COUNT];
};

#define REMEMBER_DEPTH 16

/* Our slot for DWARF register reg, or -1: rbx, r12..r15 etc. need not be
 * tracked to find pcs. */
static int slot(const struct cie *cie, uint64_t reg)
{
	if (reg == DW_REG_RBP)
		return T_RBP;
	if (reg == DW_REG_RSP)
		return T_RSP;
	if (reg == cie->ra_reg)
		return T_RA;
	return -1;
}

static void set_rule(struct row *row, const struct cie *cie, uint64_t reg,
                     uint8_t how, int64_t off)
{
	int i = slot(cie, reg);

	if (i >= 0) {
		row->reg[i].how = how;
		row->reg[i].off = off;
	}
}

static void restore_rule(struct row *row, const struct row *init,
                         const struct cie *cie, uint64_t reg)
{
	int i = slot(cie, reg);

	if (i >= 0)
		row->reg[i] = init->reg[i];
}

/*
 * Run the call-frame program in r (bias: of its copy) on row, from
 * location loc, up to and including the instructions that take effect at
 * pc (a row's rules hold for loc <= pc < the next advance).  init is the
 * row after the CIE's initial instructions, for DW_CFA_restore.  Returns
 * 0, or -1 on a bad or unknown instruction.
 */
static int run_program(struct sp_dwarf_reader *r, uintptr_t bias,
                       const struct cie *cie,
                       const struct row *init, uint64_t loc, uint64_t pc,
                       struct row *row)
{
	struct row stack[REMEMBER_DEPTH];
	int depth = 0;
	uint64_t reg, u;
	int64_t s;

	while (r->p < r->end && !r->bad) {
		uint8_t op = rd_u8(r);
		uint64_t delta = 0;

		switch (op & 0xc0) {
		case DW_CFA_advance_loc:
			delta = op & 0x3f;
			goto advance;
		case DW_CFA_offset:
			u = sp_dwarf_rd_uleb(r);
			set_rule(row, cie, op & 0x3f, R_OFFSET,
			         (int64_t)(u * (uint64_t)cie->data_align));
			continue;
		case DW_CFA_restore:
			restore_rule(row, init, cie, op & 0x3f);
			continue;
		}
		switch (op) {
		case DW_CFA_nop:
			break;
		case DW_CFA_set_loc:
			loc = rd_encoded(r, bias, cie->fde_enc);
			if (!r->bad && loc > pc)
				return 0;
			break;
		case DW_CFA_advance_loc1:
			delta = rd_u8(r);
			goto advance;
		case DW_CFA_advance_loc2:
			delta = sp_dwarf_rd_fixed(r, 2);
			goto advance;
		case DW_CFA_advance_loc4:
			delta = sp_dwarf_rd_fixed(r, 4);
			goto advance;
		case DW_CFA_offset_extended:
			reg = sp_dwarf_rd_uleb(r);
			u = sp_dwarf_rd_uleb(r);
			set_rule(row, cie, reg, R_OFFSET,
			         (int64_t)(u * (uint64_t)cie->data_align));
			break;
		case DW_CFA_offset_extended_sf:
			reg = sp_dwarf_rd_uleb(r);
			s = sp_dwarf_rd_sleb(r);
			set_rule(row, cie, reg, R_OFFSET,
			         (int64_t)((uint64_t)s * (uint64_t)cie->data_align));
			break;
		case DW_CFA_GNU_negative_offset_extended:
			reg = sp_dwarf_rd_uleb(r);
			u = sp_dwarf_rd_uleb(r);
			set_rule(row, cie, reg, R_OFFSET,
			         -(int64_t)(u * (uint64_t)cie->data_align));
			break;
		case DW_CFA_restore_extended:
			restore_rule(row, init, cie, sp_dwarf_rd_uleb(r));
			break;
		case DW_CFA_undefined:
			set_rule(row, cie, sp_dwarf_rd_uleb(r), R_UNDEF, 0);
			break;
		case DW_CFA_same_value:
			set_rule(row, cie, sp_dwarf_rd_uleb(r), R_SAME, 0);
			break;
		case DW_CFA_register:
			reg = sp_dwarf_rd_uleb(r);
			sp_dwarf_rd_uleb(r);
			set_rule(row, cie, reg, R_OTHER, 0);
			break;
		case DW_CFA_val_offset:
			reg = sp_dwarf_rd_uleb(r);
			sp_dwarf_rd_uleb(r);
			set_rule(row, cie, reg, R_OTHER, 0);
			break;
		case DW_CFA_val_offset_sf:
			reg = sp_dwarf_rd_uleb(r);
			sp_dwarf_rd_sleb(r);
			set_rule(row, cie, reg, R_OTHER, 0);
			break;
		case DW_CFA_expression:
		case DW_CFA_val_expression:
			reg = sp_dwarf_rd_uleb(r);
			sp_dwarf_skip(r, sp_dwarf_rd_uleb(r));
			set_rule(row, cie, reg, R_OTHER, 0);
			break;
		case DW_CFA_remember_state:
			if (depth == REMEMBER_DEPTH)
				return -1;
			stack[depth++] = *row;
			break;
		case DW_CFA_restore_state:
			/* Restores the CFA rule as well (DWARF 5, 6.4.2.4). */
			if (depth == 0)
				return -1;
			*row = stack[--depth];
			break;
		case DW_CFA_def_cfa:
			row->cfa_reg = sp_dwarf_rd_uleb(r);
			row->cfa_off = (int64_t)sp_dwarf_rd_uleb(r);
			row->cfa_defined = 1;
			row->cfa_expr = 0;
			break;
		case DW_CFA_def_cfa_sf:
			row->cfa_reg = sp_dwarf_rd_uleb(r);
			row->cfa_off = (int64_t)((uint64_t)sp_dwarf_rd_sleb(r) *
			                         (uint64_t)cie->data_align);
			row->cfa_defined = 1;
			row->cfa_expr = 0;
			break;
		case DW_CFA_def_cfa_register:
			row->cfa_reg = sp_dwarf_rd_uleb(r);
			row->cfa_expr = 0;
			break;
		case DW_CFA_def_cfa_offset:
			row->cfa_off = (int64_t)sp_dwarf_rd_uleb(r);
			break;
		case DW_CFA_def_cfa_offset_sf:
			row->cfa_off = (int64_t)((uint64_t)sp_dwarf_rd_sleb(r) *
			                         (uint64_t)cie->data_align);
			break;
		case DW_CFA_def_cfa_expression:
			row->expr_len = sp_dwarf_rd_uleb(r);
			row->expr = r->p;
			sp_dwarf_skip(r, row->expr_len);
			row->cfa_defined = 1;
			row->cfa_expr = 1;
			break;
		case DW_CFA_GNU_args_size:
			sp_dwarf_rd_uleb(r);
			break;
		default:
			return -1;
		}
		continue;
advance:
		loc += delta * cie->code_align;
		if (loc > pc)
			return 0;
	}
	return r->bad ? -1 : 0;
}

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
	    !seg_end(o, o->eh_table, (size_t)n * 8))
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
static int cfa_expression(struct row *row, uint64_t pc, struct sp_eh_rule *ru)
{
	struct sp_dwarf_reader r = {row->expr, row->expr + row->expr_len, 0};
	uint8_t op = rd_u8(&r);
	uint64_t reg = (uint64_t)op - DW_OP_breg0, m;
	int64_t k = sp_dwarf_rd_sleb(&r), b;
	uint8_t n;

	if (r.bad || op < DW_OP_breg0 ||
	    (reg != DW_REG_RSP && reg != DW_REG_RBP))
		return -1;
	op = rd_u8(&r);
	if (op == DW_OP_deref) {
		if (rd_u8(&r) != DW_OP_plus_uconst)
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
	if (rd_u8(&r) != DW_OP_lit0 + 15 || rd_u8(&r) != DW_OP_and)
		return -1;
	n = rd_u8(&r);
	if (n < DW_OP_lit0 || n > DW_OP_lit31 ||
	    rd_u8(&r) != DW_OP_ge || rd_u8(&r) != DW_OP_lit0 + 3 ||
	    rd_u8(&r) != DW_OP_shl || rd_u8(&r) != DW_OP_plus ||
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
	struct cie cie;
	struct row none, init, row;
	uintptr_t fde_addr, fde_bias, cie_field;
	const struct reg_rule *ra, *bp;
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
	    read_record(o, fde_addr, &fde, &fde_bias, fde_buf,
	                sizeof(fde_buf))) {
		fail(ru, SP_CFI_NOINFO);
		return;
	}
	cie_field = (uintptr_t)fde.p + fde_bias;
	id = sp_dwarf_rd_fixed(&fde, 4);
	/* The CIE pointer counts back from its own field (LSB 10.6.1.1). */
	if (fde.bad || id == 0 || id > cie_field ||
	    parse_cie(o, cie_field - id, &cie, cie_buf)) {
		fail(ru, SP_CFI_NOINFO);
		return;
	}
	pc_begin = rd_encoded(&fde, fde_bias, cie.fde_enc);
	pc_range = rd_encoded(&fde, fde_bias, cie.fde_enc & 0x0f);
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
	if (run_program(&prog, cie.insn_bias, &cie, &none, 0, UINT64_MAX,
	                &init)) {
		fail(ru, SP_CFI_NOINFO);
		return;
	}
	row = init;
	if (run_program(&fde, fde_bias, &cie, &init, pc_begin, pc, &row)) {
		fail(ru, SP_CFI_NOINFO);
		return;
	}
	ra = &row.reg[T_RA];
	bp = &row.reg[T_RBP];
	if (ra->how == R_UNDEF) {
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
	    row.reg[T_RSP].how != R_SAME || ra->how != R_OFFSET ||
	    !fits_off8(ra->off) ||
	    (bp->how != R_SAME && bp->how != R_OFFSET) ||
	    (bp->how == R_OFFSET && !fits_off8(bp->off))) {
		/* An undefined rbp is here too: libunwind 1.6 ends the
		 * stack there, and it should decide. */
		fail(ru, SP_CFI_UNSUPPORTED);
		return;
	}
	ru->cfa_off = (int32_t)row.cfa_off;
	ru->ra_off8 = (int8_t)(ra->off / 8);
	if (row.cfa_reg == DW_REG_RBP)
		ru->flags |= SP_EH_CFA_RBP;
	if (bp->how == R_OFFSET) {
		ru->flags |= SP_EH_BP_SAVED;
		ru->bp_off8 = (int8_t)(bp->off / 8);
	}
}
