/*
 * dwarf_reader.h - a bounded little-endian cursor over untrusted DWARF
 * bytes, and the decoding of the DW_FORM attribute values that .debug_line
 * headers use.  Internal to the DWARF parsers (dwarf_line.c); nothing here
 * allocates.  Not thread-safe per reader; distinct readers are independent.
 */
#ifndef SP_DWARF_READER_H
#define SP_DWARF_READER_H

#include <stddef.h>
#include <stdint.h>

struct sp_line_sections;

/*
 * The bytes [p, end) still to be read.  The first read that would pass end
 * sets bad, which latches: every later read returns 0 (or NULL) and moves
 * nothing, so a parser may read a whole record and check bad once.  Callers
 * build readers directly ({start, end, 0}) and may narrow end or move p to a
 * checked position themselves.
 */
struct sp_dwarf_reader {
	const uint8_t *p, *end;
	int bad;
};

/*
 * An n-byte little-endian unsigned value (n <= 8 is decoded; larger n is
 * skipped and yields the low 8 bytes).  Returns 0 and sets bad when fewer
 * than n bytes remain.
 */
uint64_t sp_dwarf_rd_fixed(struct sp_dwarf_reader *r, size_t n);

/* ULEB128 / SLEB128.  Bits beyond 64 are dropped; running out of bytes sets
 * bad. */
uint64_t sp_dwarf_rd_uleb(struct sp_dwarf_reader *r);
int64_t sp_dwarf_rd_sleb(struct sp_dwarf_reader *r);

/*
 * A NUL-terminated string in place (borrowed from the section).  Returns
 * NULL and sets bad when no NUL comes before end.
 */
const char *sp_dwarf_rd_cstr(struct sp_dwarf_reader *r);

/* Skip n bytes; sets bad when fewer remain. */
void sp_dwarf_skip(struct sp_dwarf_reader *r, uint64_t n);

/*
 * Read one attribute of a DWARF 5 directory or file entry in form form
 * (off_size 4 or 8: the unit's offset size).  Strings come back in *str,
 * borrowed from s (NULL for forms we cannot resolve: strx needs
 * .debug_str_offsets and a CU base, strp_sup a supplementary file, and
 * for offsets out of bounds); numbers in *num.  Returns 0, or -1 for an
 * unknown form: the entry's size is then unknown and the unit must be
 * abandoned.  Truncation shows in r->bad, not in the return value.
 */
int sp_dwarf_rd_form(struct sp_dwarf_reader *r, uint64_t form,
                     size_t off_size, const struct sp_line_sections *s,
                     const char **str, uint64_t *num);

#endif
