/*
 * eh_frame_cfa.c - the CIE/FDE half of the CFI reader (eh_frame_cfa.h):
 * .eh_frame records copied out of the object before they are parsed, DW_EH_PE
 * pointer encodings, the CIE and its augmentations, and the call-frame
 * programs that build the CFA table row of a pc for the registers the
 * rules need (rbp, rsp, the return address).  Finding the FDE and
 * reducing the row to a rule is eh_frame.c's part.
 *
 * References: LSB 5.0 "Exception Frames" (.eh_frame, the 'z'
 * augmentation and DW_EH_PE_* pointer encodings); DWARF 5 section 6.4
 * (call frame instructions).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "eh_frame_cfa.h"
#include "maps.h"

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

/* An encoded pointer.  .eh_frame on x86-64 uses absptr or pcrel (relative
 * to the field itself); the other applications need bases we do not have,
 * and an indirect pc_begin makes no sense: both are "bad". */
uint64_t sp_eh_rd_encoded(struct sp_dwarf_reader *r, uintptr_t bias,
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
const uint8_t *sp_eh_seg_end(const struct sp_object *o, uintptr_t addr,
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
int sp_eh_read_record(const struct sp_object *o, uintptr_t addr,
                      struct sp_dwarf_reader *body, uintptr_t *bias,
                      uint8_t *buf, size_t cap)
{
	const uint8_t *end = sp_eh_seg_end(o, addr, 4);
	uint32_t len32;
	uint64_t len;
	uintptr_t start = addr + 4;

	if (!end || sp_maps_read(addr, &len32, 4))
		return -1;
	len = len32;
	if (len32 == 0xffffffffu) { /* 64-bit DWARF */
		if (!sp_eh_seg_end(o, addr, 12) ||
		    sp_maps_read(addr + 4, &len, 8))
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

int sp_eh_parse_cie(const struct sp_object *o, uintptr_t addr,
                    struct sp_eh_cie *cie, uint8_t *buf)
{
	struct sp_dwarf_reader r;
	uintptr_t bias;
	const char *aug;
	uint8_t version;

	if (sp_eh_read_record(o, addr, &r, &bias, buf, SP_EH_RECORD_MAX) ||
	    sp_dwarf_rd_fixed(&r, 4) != 0 || r.bad)
		return -1; /* not a CIE (.eh_frame CIE id is 0) */
	version = sp_eh_rd_u8(&r);
	if (r.bad || (version != 1 && version != 3 && version != 4))
		return -1;
	aug = sp_dwarf_rd_cstr(&r);
	if (!aug)
		return -1;
	if (version == 4 && (sp_eh_rd_u8(&r) != 8 || sp_eh_rd_u8(&r) != 0))
		return -1; /* address_size, segment_selector_size */
	memset(cie, 0, sizeof(*cie));
	cie->code_align = sp_dwarf_rd_uleb(&r);
	cie->data_align = sp_dwarf_rd_sleb(&r);
	cie->ra_reg = version == 1 ? sp_eh_rd_u8(&r) : sp_dwarf_rd_uleb(&r);
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
				cie->fde_enc = sp_eh_rd_u8(&a);
				break;
			case 'P': /* personality: skip it */
				penc = sp_eh_rd_u8(&a);
				if ((penc & 0x70) == DW_EH_PE_aligned)
					return -1;
				sp_eh_rd_encoded(&a, bias, penc & 0x0f);
				break;
			case 'L':
				sp_eh_rd_u8(&a);
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

#define REMEMBER_DEPTH 16

/* Our slot for DWARF register reg, or -1: rbx, r12..r15 etc. need not be
 * tracked to find pcs. */
static int slot(const struct sp_eh_cie *cie, uint64_t reg)
{
	if (reg == DW_REG_RBP)
		return SP_EH_SLOT_RBP;
	if (reg == DW_REG_RSP)
		return SP_EH_SLOT_RSP;
	if (reg == cie->ra_reg)
		return SP_EH_SLOT_RA;
	return -1;
}

static void set_rule(struct sp_eh_row *row, const struct sp_eh_cie *cie,
                     uint64_t reg, uint8_t how, int64_t off)
{
	int i = slot(cie, reg);

	if (i >= 0) {
		row->reg[i].how = how;
		row->reg[i].off = off;
	}
}

static void restore_rule(struct sp_eh_row *row, const struct sp_eh_row *init,
                         const struct sp_eh_cie *cie, uint64_t reg)
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
int sp_eh_run_program(struct sp_dwarf_reader *r, uintptr_t bias,
                      const struct sp_eh_cie *cie,
                      const struct sp_eh_row *init, uint64_t loc, uint64_t pc,
                      struct sp_eh_row *row)
{
	struct sp_eh_row stack[REMEMBER_DEPTH];
	int depth = 0;
	uint64_t reg, u;
	int64_t s;

	while (r->p < r->end && !r->bad) {
		uint8_t op = sp_eh_rd_u8(r);
		uint64_t delta = 0;

		switch (op & 0xc0) {
		case DW_CFA_advance_loc:
			delta = op & 0x3f;
			goto advance;
		case DW_CFA_offset:
			u = sp_dwarf_rd_uleb(r);
			set_rule(row, cie, op & 0x3f, SP_EH_REG_OFFSET,
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
			loc = sp_eh_rd_encoded(r, bias, cie->fde_enc);
			if (!r->bad && loc > pc)
				return 0;
			break;
		case DW_CFA_advance_loc1:
			delta = sp_eh_rd_u8(r);
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
			set_rule(row, cie, reg, SP_EH_REG_OFFSET,
			         (int64_t)(u * (uint64_t)cie->data_align));
			break;
		case DW_CFA_offset_extended_sf:
			reg = sp_dwarf_rd_uleb(r);
			s = sp_dwarf_rd_sleb(r);
			set_rule(row, cie, reg, SP_EH_REG_OFFSET,
			         (int64_t)((uint64_t)s * (uint64_t)cie->data_align));
			break;
		case DW_CFA_GNU_negative_offset_extended:
			reg = sp_dwarf_rd_uleb(r);
			u = sp_dwarf_rd_uleb(r);
			set_rule(row, cie, reg, SP_EH_REG_OFFSET,
			         -(int64_t)(u * (uint64_t)cie->data_align));
			break;
		case DW_CFA_restore_extended:
			restore_rule(row, init, cie, sp_dwarf_rd_uleb(r));
			break;
		case DW_CFA_undefined:
			reg = sp_dwarf_rd_uleb(r);
			set_rule(row, cie, reg, SP_EH_REG_UNDEF, 0);
			break;
		case DW_CFA_same_value:
			reg = sp_dwarf_rd_uleb(r);
			set_rule(row, cie, reg, SP_EH_REG_SAME, 0);
			break;
		case DW_CFA_register:
			reg = sp_dwarf_rd_uleb(r);
			sp_dwarf_rd_uleb(r);
			set_rule(row, cie, reg, SP_EH_REG_OTHER, 0);
			break;
		case DW_CFA_val_offset:
			reg = sp_dwarf_rd_uleb(r);
			sp_dwarf_rd_uleb(r);
			set_rule(row, cie, reg, SP_EH_REG_OTHER, 0);
			break;
		case DW_CFA_val_offset_sf:
			reg = sp_dwarf_rd_uleb(r);
			sp_dwarf_rd_sleb(r);
			set_rule(row, cie, reg, SP_EH_REG_OTHER, 0);
			break;
		case DW_CFA_expression:
		case DW_CFA_val_expression:
			reg = sp_dwarf_rd_uleb(r);
			sp_dwarf_skip(r, sp_dwarf_rd_uleb(r));
			set_rule(row, cie, reg, SP_EH_REG_OTHER, 0);
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
