/*
 * dwarf_line.h - the DWARF line table (.debug_line, versions 2 to 5) of one
 * object as a sorted array of rows for address lookup.  Only the address ->
 * (file, line) mapping is kept; columns, is_stmt and views are ignored.
 * Not thread-safe.
 */
#ifndef SP_DWARF_LINE_H
#define SP_DWARF_LINE_H

#include <stddef.h>
#include <stdint.h>

/* The sections a line table reads; all borrowed, and they must stay valid
 * until sp_dwarf_lines_free (file names point into them).  line_str (DWARF
 * 5 DW_FORM_line_strp) and str (DW_FORM_strp) may be NULL. */
struct sp_line_sections {
	const uint8_t *line;
	size_t line_len;
	const uint8_t *line_str;
	size_t line_str_len;
	const uint8_t *str;
	size_t str_len;
};

struct sp_dwarf_lines;

/*
 * Parse every unit of .debug_line.  A malformed unit is skipped (or ends
 * parsing when its length is unusable); what parsed before it is kept.
 * Returns 0 and *out, or -ENOMEM.
 */
int sp_dwarf_lines_new(const struct sp_line_sections *s,
                       struct sp_dwarf_lines **out);

/* NULL is a no-op. */
void sp_dwarf_lines_free(struct sp_dwarf_lines *dl);

size_t sp_dwarf_lines_n_rows(const struct sp_dwarf_lines *dl);

/*
 * Line and file of the instruction at ELF virtual address addr (the last
 * row at or below addr, within a sequence).  *file is an index for
 * sp_dwarf_lines_path (SP_LINE_NOFILE when the row names no valid file).
 * Returns 0 or -ENOENT.
 */
#define SP_LINE_NOFILE UINT32_MAX
int sp_dwarf_lines_lookup(const struct sp_dwarf_lines *dl, uint64_t addr,
                          uint32_t *file, int *line);

/*
 * Line of a function's entry: the first row in [start, start + size) (size
 * 0 means only start itself).  Returns 0 or -ENOENT.
 */
int sp_dwarf_lines_first_line(const struct sp_dwarf_lines *dl,
                              uint64_t start, uint64_t size, int *line);

/*
 * Full path of file index file: its name joined with its directory and,
 * where that is relative, the compilation directory.  Returns 0,
 * -ENOENT (no such file) or -ENAMETOOLONG (buf too small).
 */
int sp_dwarf_lines_path(const struct sp_dwarf_lines *dl, uint32_t file,
                        char *buf, size_t len);

#endif
