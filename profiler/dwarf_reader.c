/*
 * dwarf_reader.c - the byte-level half of the DWARF parsing: fixed-size
 * and LEB128 numbers, in-place strings, and DW_FORM values (DWARF 5
 * standard, section 7.5.6), all read through struct sp_dwarf_reader so that
 * untrusted input can never move a read past the end of its range.  What the
 * values mean (unit headers, the line program) is left to dwarf_line.c.
 */
#include <string.h>

#include "dwarf_line.h"
#include "dwarf_reader.h"

/* DW_FORM codes (DWARF 5 standard, section 7.5.6), kept local so that no
 * elfutils header is needed. */
enum {
	FORM_block2 = 0x03, FORM_block4 = 0x04, FORM_data2 = 0x05,
	FORM_data4 = 0x06, FORM_data8 = 0x07, FORM_string = 0x08,
	FORM_block = 0x09, FORM_block1 = 0x0a, FORM_data1 = 0x0b,
	FORM_sdata = 0x0d, FORM_strp = 0x0e, FORM_udata = 0x0f,
	FORM_strx = 0x1a, FORM_strp_sup = 0x1d, FORM_data16 = 0x1e,
	FORM_line_strp = 0x1f, FORM_strx1 = 0x25, FORM_strx2, FORM_strx3,
	FORM_strx4,
};

uint64_t sp_dwarf_rd_fixed(struct sp_dwarf_reader *r, size_t n)
{
	uint64_t v = 0;

	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = 1;
		r->p = r->end;
		return 0;
	}
	for (size_t i = 0; i < n && i < 8; i++)
		v |= (uint64_t)r->p[i] << (8 * i); /* little-endian only */
	r->p += n;
	return v;
}

uint64_t sp_dwarf_rd_uleb(struct sp_dwarf_reader *r)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (!r->bad) {
		uint8_t b;
		if (r->p >= r->end) {
			r->bad = 1;
			break;
		}
		b = *r->p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	return v;
}

int64_t sp_dwarf_rd_sleb(struct sp_dwarf_reader *r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b = 0;

	while (!r->bad) {
		if (r->p >= r->end) {
			r->bad = 1;
			return 0;
		}
		b = *r->p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			break;
	}
	if (shift < 64 && (b & 0x40))
		v |= ~(uint64_t)0 << shift;
	return (int64_t)v;
}

const char *sp_dwarf_rd_cstr(struct sp_dwarf_reader *r)
{
	const uint8_t *nul;
	const char *s;

	if (r->bad)
		return NULL;
	nul = memchr(r->p, '\0', (size_t)(r->end - r->p));
	if (!nul) {
		r->bad = 1;
		r->p = r->end;
		return NULL;
	}
	s = (const char *)r->p;
	r->p = nul + 1;
	return s;
}

void sp_dwarf_skip(struct sp_dwarf_reader *r, uint64_t n)
{
	if (r->bad || (uint64_t)(r->end - r->p) < n) {
		r->bad = 1;
		r->p = r->end;
		return;
	}
	r->p += n;
}

/* A string at off of a string section, or NULL when out of bounds. */
static const char *sec_str(const uint8_t *sec, size_t len, uint64_t off)
{
	if (!sec || off >= len || !memchr(sec + off, '\0', len - off))
		return NULL;
	return (const char *)sec + off;
}

int sp_dwarf_rd_form(struct sp_dwarf_reader *r, uint64_t form,
                     size_t off_size, const struct sp_line_sections *s,
                     const char **str, uint64_t *num)
{
	*str = NULL;
	*num = 0;
	switch (form) {
	case FORM_string: *str = sp_dwarf_rd_cstr(r); break;
	case FORM_line_strp:
		*str = sec_str(s->line_str, s->line_str_len,
		               sp_dwarf_rd_fixed(r, off_size));
		break;
	case FORM_strp:
		*str = sec_str(s->str, s->str_len,
		               sp_dwarf_rd_fixed(r, off_size));
		break;
	case FORM_strp_sup: sp_dwarf_skip(r, off_size); break;
	case FORM_strx: sp_dwarf_rd_uleb(r); break;
	case FORM_strx1: sp_dwarf_skip(r, 1); break;
	case FORM_strx2: sp_dwarf_skip(r, 2); break;
	case FORM_strx3: sp_dwarf_skip(r, 3); break;
	case FORM_strx4: sp_dwarf_skip(r, 4); break;
	case FORM_udata: *num = sp_dwarf_rd_uleb(r); break;
	case FORM_sdata: *num = (uint64_t)sp_dwarf_rd_sleb(r); break;
	case FORM_data1: *num = sp_dwarf_rd_fixed(r, 1); break;
	case FORM_data2: *num = sp_dwarf_rd_fixed(r, 2); break;
	case FORM_data4: *num = sp_dwarf_rd_fixed(r, 4); break;
	case FORM_data8: *num = sp_dwarf_rd_fixed(r, 8); break;
	case FORM_data16: sp_dwarf_skip(r, 16); break;
	case FORM_block: sp_dwarf_skip(r, sp_dwarf_rd_uleb(r)); break;
	case FORM_block1: sp_dwarf_skip(r, sp_dwarf_rd_fixed(r, 1)); break;
	case FORM_block2: sp_dwarf_skip(r, sp_dwarf_rd_fixed(r, 2)); break;
	case FORM_block4: sp_dwarf_skip(r, sp_dwarf_rd_fixed(r, 4)); break;
	default: return -1;
	}
	return 0;
}
