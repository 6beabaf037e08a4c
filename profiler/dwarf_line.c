/*
 * dwarf_line.c - runs the .debug_line state machine of every unit (DWARF 2
 * to 5, "6.2 Line Number Information" of the DWARF 5 standard) and keeps
 * the emitted rows, per sequence, in one array sorted by address.  The
 * sections come from elf_file.c (already decompressed); symbols.c decides
 * which file they come from.
 *
 * The input is untrusted: every read goes through struct sp_dwarf_reader
 * (dwarf_reader.c, which also decodes DW_FORM values), which stops at the
 * end of its range and latches an error, and every index read from the data
 * (file, directory, string offset) is checked before use.
 */
#include <stdlib.h>
#include <string.h>

#include "dwarf_line.h"
#include "dwarf_reader.h"
#include "internal.h"

/* DWARF constants (DWARF 5 standard, section 7), kept local so that no
 * elfutils header is needed. */
enum {
	LNS_copy = 1, LNS_advance_pc, LNS_advance_line, LNS_set_file,
	LNS_set_column, LNS_negate_stmt, LNS_set_basic_block,
	LNS_const_add_pc, LNS_fixed_advance_pc, LNS_set_prologue_end,
	LNS_set_epilogue_begin, LNS_set_isa,
	LNE_end_sequence = 1, LNE_set_address, LNE_define_file,
	LNCT_path = 1, LNCT_directory_index,
};

/* file value of a row that ends a sequence (its address is one past the
 * sequence's last byte). */
#define ROW_END (UINT32_MAX - 1)

struct row {
	uint64_t addr;
	uint32_t file;         /* index into files, SP_LINE_NOFILE, ROW_END */
	int32_t line;
};

struct file_ent {
	const char *name, *dir, *comp_dir; /* dir, comp_dir may be NULL */
};

struct seq {
	uint64_t addr;
	size_t first, n_rows;
};

struct sp_dwarf_lines {
	struct row *rows;
	size_t n_rows, cap_rows;
	struct file_ent *files;
	size_t n_files, cap_files;
};

/* Per-unit header state. */
struct unit {
	int version;
	size_t off_size;
	uint8_t min_inst, line_range, opcode_base;
	int8_t line_base;
	const uint8_t *std_lens;  /* opcode_base - 1 operand counts */
	const char **dirs;        /* scratch, reused across units */
	size_t n_dirs, cap_dirs;
	size_t file_base, n_files; /* this unit's slice of dl->files */
};

static int add_file(struct sp_dwarf_lines *dl, struct unit *u,
                    const char *name, uint64_t dir)
{
	struct file_ent *f;

	if (sp_grow((void **)&dl->files, &dl->cap_files, dl->n_files + 1,
	            sizeof(*dl->files)))
		return -ENOMEM;
	f = &dl->files[dl->n_files++];
	f->name = name ? name : "";
	f->dir = dir < u->n_dirs ? u->dirs[dir] : NULL;
	f->comp_dir = u->n_dirs ? u->dirs[0] : NULL;
	u->n_files++;
	return 0;
}

static int add_dir(struct unit *u, const char *dir)
{
	if (sp_grow((void **)&u->dirs, &u->cap_dirs, u->n_dirs + 1,
	            sizeof(*u->dirs)))
		return -ENOMEM;
	u->dirs[u->n_dirs++] = dir;
	return 0;
}

/* DWARF 5 directory or file name table: a format description, then the
 * entries.  Returns 0, -ENOMEM or -EINVAL (unit unusable). */
static int read_v5_table(struct sp_dwarf_lines *dl, struct unit *u,
                         struct sp_dwarf_reader *r,
                         const struct sp_line_sections *s, int is_files)
{
	uint64_t ctype[255], form[255], count;
	unsigned n_fmt = (unsigned)sp_dwarf_rd_fixed(r, 1);

	for (unsigned i = 0; i < n_fmt; i++) {
		ctype[i] = sp_dwarf_rd_uleb(r);
		form[i] = sp_dwarf_rd_uleb(r);
	}
	count = sp_dwarf_rd_uleb(r);
	/* Every form takes at least one byte, which bounds count. */
	if (r->bad || (count && !n_fmt) ||
	    count > (uint64_t)(r->end - r->p))
		return -EINVAL;
	for (uint64_t i = 0; i < count; i++) {
		const char *path = NULL;
		uint64_t dir = 0;
		int err;

		for (unsigned k = 0; k < n_fmt; k++) {
			const char *str;
			uint64_t num;
			if (sp_dwarf_rd_form(r, form[k], u->off_size, s,
			                     &str, &num))
				return -EINVAL;
			if (ctype[k] == LNCT_path)
				path = str;
			else if (ctype[k] == LNCT_directory_index)
				dir = num;
		}
		if (r->bad)
			return -EINVAL;
		err = is_files ? add_file(dl, u, path, dir) : add_dir(u, path);
		if (err)
			return err;
	}
	return 0;
}

/* DWARF 2-4 include_directories and file_names.  Directory 0 is the
 * compilation directory, which only .debug_info knows: left NULL. */
static int read_v4_tables(struct sp_dwarf_lines *dl, struct unit *u,
                          struct sp_dwarf_reader *r)
{
	const char *s;
	int err = add_dir(u, NULL);

	while (!err && (s = sp_dwarf_rd_cstr(r)) && *s)
		err = add_dir(u, s);
	while (!err && (s = sp_dwarf_rd_cstr(r)) && *s) {
		uint64_t dir = sp_dwarf_rd_uleb(r);
		sp_dwarf_rd_uleb(r); /* modification time */
		sp_dwarf_rd_uleb(r); /* length */
		err = add_file(dl, u, s, dir);
	}
	if (err)
		return err;
	return r->bad ? -EINVAL : 0;
}

static int add_row(struct sp_dwarf_lines *dl, uint64_t addr, uint32_t file,
                   int64_t line)
{
	if (sp_grow((void **)&dl->rows, &dl->cap_rows, dl->n_rows + 1,
	            sizeof(*dl->rows)))
		return -ENOMEM;
	if (line < 0 || line > INT32_MAX)
		line = 0;
	dl->rows[dl->n_rows++] = (struct row){addr, file, (int32_t)line};
	return 0;
}

struct seqs {
	struct seq *v;
	size_t n, cap;
};

/* Run the line number program in r, appending rows and sequences. */
static int run_program(struct sp_dwarf_lines *dl, struct unit *u,
                       struct sp_dwarf_reader *r, struct seqs *sq)
{
	uint64_t addr = 0, file = 1;
	int64_t line = 1;
	size_t seq_first = dl->n_rows;
	int sorted = 1, err = 0;

	while (!err && r->p < r->end && !r->bad) {
		uint8_t op = (uint8_t)sp_dwarf_rd_fixed(r, 1);
		int emit = 0;

		if (op >= u->opcode_base) {
			unsigned adj = op - u->opcode_base;
			addr += (uint64_t)(adj / u->line_range) * u->min_inst;
			line += u->line_base + (int)(adj % u->line_range);
			emit = 1;
		} else if (op == 0) {
			uint64_t len = sp_dwarf_rd_uleb(r);
			const uint8_t *next = r->p + (len <= (uint64_t)
			                              (r->end - r->p) ? len : 0);
			uint8_t sub;

			if (len == 0 || len > (uint64_t)(r->end - r->p))
				break;
			sub = (uint8_t)sp_dwarf_rd_fixed(r, 1);
			if (sub == LNE_end_sequence) {
				uint64_t start = seq_first < dl->n_rows
				                 ? dl->rows[seq_first].addr
				                 : addr;
				err = add_row(dl, addr, ROW_END, 0);
				/* Address 0 (or -1/-2 for lld) marks code
				 * the linker discarded; keep such sequences
				 * out of the table, as unsorted ones. */
				if (!err && sorted && start != 0 &&
				    start < UINT64_MAX - 1 &&
				    dl->n_rows - seq_first > 1) {
					err = sp_grow((void **)&sq->v, &sq->cap,
					              sq->n + 1, sizeof(*sq->v));
					if (!err)
						sq->v[sq->n++] = (struct seq){
						    start, seq_first,
						    dl->n_rows - seq_first};
				}
				if (!err && (sq->n == 0 ||
				             sq->v[sq->n - 1].first != seq_first))
					dl->n_rows = seq_first;
				seq_first = dl->n_rows;
				addr = 0;
				file = 1;
				line = 1;
				sorted = 1;
			} else if (sub == LNE_set_address) {
				if (len - 1 == 8 || len - 1 == 4)
					addr = sp_dwarf_rd_fixed(r,
					           (size_t)(len - 1));
			} else if (sub == LNE_define_file && u->version < 5) {
				const char *name = sp_dwarf_rd_cstr(r);
				uint64_t dir = sp_dwarf_rd_uleb(r);
				/* Appending keeps the unit's files
				 * contiguous: units are parsed in turn. */
				if (name && !r->bad && dl->n_files ==
				    u->file_base + u->n_files)
					err = add_file(dl, u, name, dir);
			}
			r->p = next;
		} else {
			switch (op) {
			case LNS_copy: emit = 1; break;
			case LNS_advance_pc:
				addr += sp_dwarf_rd_uleb(r) * u->min_inst;
				break;
			case LNS_advance_line:
				line += sp_dwarf_rd_sleb(r);
				break;
			case LNS_set_file: file = sp_dwarf_rd_uleb(r); break;
			case LNS_const_add_pc:
				addr += (uint64_t)((255 - u->opcode_base) /
				                   u->line_range) * u->min_inst;
				break;
			case LNS_fixed_advance_pc:
				addr += sp_dwarf_rd_fixed(r, 2);
				break;
			default:
				/* Known ones without operands, and unknown
				 * ones: skip the ULEB operands the header
				 * declares. */
				for (unsigned i = 0; i < u->std_lens[op - 1]; i++)
					sp_dwarf_rd_uleb(r);
			}
		}
		if (emit && !r->bad) {
			uint32_t f = SP_LINE_NOFILE;
			/* DWARF 5 numbers files from 0, earlier from 1. */
			uint64_t idx = u->version >= 5 ? file : file - 1;
			if (idx < u->n_files)
				f = (uint32_t)(u->file_base + idx);
			if (dl->n_rows > seq_first &&
			    addr < dl->rows[dl->n_rows - 1].addr)
				sorted = 0;
			err = add_row(dl, addr, f, line);
		}
	}
	/* Rows after the last end_sequence have no end address: drop. */
	if (!err)
		dl->n_rows = seq_first;
	return err;
}

/* Parse the unit at r->p; on return r->p is at the next unit, or r->bad
 * when the unit length itself is unusable. */
static int parse_unit(struct sp_dwarf_lines *dl, struct sp_dwarf_reader *r,
                      const struct sp_line_sections *s, struct unit *u,
                      struct seqs *sq)
{
	struct sp_dwarf_reader ur, pr;
	uint64_t len = sp_dwarf_rd_fixed(r, 4), hdr_len;
	int err;

	u->off_size = 4;
	if (len == 0xffffffff) {
		len = sp_dwarf_rd_fixed(r, 8);
		u->off_size = 8;
	} else if (len >= 0xfffffff0) {
		r->bad = 1;
	}
	if (r->bad || len > (uint64_t)(r->end - r->p)) {
		r->bad = 1;
		return 0;
	}
	ur = (struct sp_dwarf_reader){r->p, r->p + len, 0};
	r->p += len;

	u->version = (int)sp_dwarf_rd_fixed(&ur, 2);
	if (u->version < 2 || u->version > 5)
		return 0;
	if (u->version >= 5) {
		uint64_t addr_size = sp_dwarf_rd_fixed(&ur, 1);
		sp_dwarf_rd_fixed(&ur, 1); /* segment_selector_size */
		if (addr_size != 8 && addr_size != 4)
			return 0;
	}
	hdr_len = sp_dwarf_rd_fixed(&ur, u->off_size);
	if (ur.bad || hdr_len > (uint64_t)(ur.end - ur.p))
		return 0;
	pr = (struct sp_dwarf_reader){ur.p + hdr_len, ur.end, 0};
	ur.end = ur.p + hdr_len;
	u->min_inst = (uint8_t)sp_dwarf_rd_fixed(&ur, 1);
	if (u->version >= 4)
		/* maximum_operations_per_instruction: 1 on x86,
		 * op_index unused */
		sp_dwarf_rd_fixed(&ur, 1);
	sp_dwarf_rd_fixed(&ur, 1); /* default_is_stmt */
	u->line_base = (int8_t)sp_dwarf_rd_fixed(&ur, 1);
	u->line_range = (uint8_t)sp_dwarf_rd_fixed(&ur, 1);
	u->opcode_base = (uint8_t)sp_dwarf_rd_fixed(&ur, 1);
	u->std_lens = ur.p;
	sp_dwarf_skip(&ur, u->opcode_base ? u->opcode_base - 1u : 0);
	if (ur.bad || u->line_range == 0 || u->opcode_base == 0)
		return 0;
	u->n_dirs = 0;
	u->n_files = 0;
	u->file_base = dl->n_files;
	if (u->version >= 5) {
		err = read_v5_table(dl, u, &ur, s, 0);
		if (!err)
			err = read_v5_table(dl, u, &ur, s, 1);
	} else {
		err = read_v4_tables(dl, u, &ur);
	}
	if (err == -EINVAL) {
		dl->n_files = u->file_base;
		return 0;
	}
	if (err)
		return err;
	return run_program(dl, u, &pr, sq);
}

static int cmp_seq(const void *a, const void *b)
{
	const struct seq *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->first < y->first ? -1 : x->first > y->first;
}

/* Put the sequences in address order.  Units usually come in link order,
 * so the copy is often avoided. */
static int sort_sequences(struct sp_dwarf_lines *dl, struct seqs *sq)
{
	struct row *rows;
	size_t n = 0;
	int in_order = 1;

	for (size_t i = 1; i < sq->n; i++)
		if (cmp_seq(&sq->v[i - 1], &sq->v[i]) > 0)
			in_order = 0;
	if (in_order)
		return 0;
	qsort(sq->v, sq->n, sizeof(*sq->v), cmp_seq);
	rows = sp_reallocarray(NULL, dl->n_rows, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	for (size_t i = 0; i < sq->n; i++) {
		memcpy(rows + n, dl->rows + sq->v[i].first,
		       sq->v[i].n_rows * sizeof(*rows));
		n += sq->v[i].n_rows;
	}
	sp_free(dl->rows);
	dl->rows = rows;
	dl->cap_rows = dl->n_rows;
	return 0;
}

int sp_dwarf_lines_new(const struct sp_line_sections *s,
                       struct sp_dwarf_lines **out)
{
	struct sp_dwarf_lines *dl = sp_calloc(1, sizeof(*dl));
	struct sp_dwarf_reader r = {s->line, s->line + s->line_len, 0};
	struct unit u;
	struct seqs sq = {0};
	int err = 0;

	if (!dl)
		return -ENOMEM;
	memset(&u, 0, sizeof(u));
	while (!err && s->line && r.p < r.end && !r.bad)
		err = parse_unit(dl, &r, s, &u, &sq);
	if (!err)
		err = sort_sequences(dl, &sq);
	sp_free(u.dirs);
	sp_free(sq.v);
	if (err) {
		sp_dwarf_lines_free(dl);
		return err;
	}
	*out = dl;
	return 0;
}

void sp_dwarf_lines_free(struct sp_dwarf_lines *dl)
{
	if (!dl)
		return;
	sp_free(dl->rows);
	sp_free(dl->files);
	sp_free(dl);
}

size_t sp_dwarf_lines_n_rows(const struct sp_dwarf_lines *dl)
{
	return dl->n_rows;
}

/* Index of the first row with address > addr. */
static size_t upper_bound(const struct sp_dwarf_lines *dl, uint64_t addr)
{
	size_t lo = 0, hi = dl->n_rows;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (dl->rows[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int sp_dwarf_lines_lookup(const struct sp_dwarf_lines *dl, uint64_t addr,
                          uint32_t *file, int *line)
{
	size_t i = upper_bound(dl, addr);
	const struct row *row;

	/* The last row at or below addr; an end row there means addr is in
	 * a gap between sequences. */
	if (i == 0)
		return -ENOENT;
	row = &dl->rows[i - 1];
	if (row->file == ROW_END)
		return -ENOENT;
	*file = row->file;
	*line = row->line;
	return 0;
}

int sp_dwarf_lines_first_line(const struct sp_dwarf_lines *dl,
                              uint64_t start, uint64_t size, int *line)
{
	size_t lo = 0, hi = dl->n_rows;
	uint64_t end = start + (size ? size : 1);

	if (end < start)
		end = UINT64_MAX;
	while (lo < hi) { /* first row with address >= start */
		size_t mid = lo + (hi - lo) / 2;
		if (dl->rows[mid].addr < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Skip the end of a sequence that stops where the function starts. */
	while (lo < dl->n_rows && dl->rows[lo].addr < end) {
		if (dl->rows[lo].file != ROW_END && dl->rows[lo].line > 0) {
			*line = dl->rows[lo].line;
			return 0;
		}
		lo++;
	}
	return -ENOENT;
}

static int append(char *buf, size_t len, size_t *pos, const char *s)
{
	size_t n = strlen(s);

	if (n >= len - *pos)
		return -ENAMETOOLONG;
	memcpy(buf + *pos, s, n + 1);
	*pos += n;
	return 0;
}

/* Drop "." components, empty ones and "dir/.." pairs in place, as
 * compilers leave them ("./io/../sysdeps/x.c" from glibc).  Lexical, so a
 * symlinked dir/.. could differ; the result is for display. */
static void normalize(char *path)
{
	int abs = path[0] == '/';
	char *start = path + abs, *out = start, *p = start;
	size_t n_kept = 0; /* components in out that ".." may remove */

	/* out never passes p: it holds a subsequence of what p consumed. */
	while (*p) {
		char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		char *next = slash ? slash + 1 : p + n;
		int dotdot = n == 2 && p[0] == '.' && p[1] == '.';

		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* "//" and "/./" */
		} else if (dotdot && n_kept) {
			while (out > start && out[-1] != '/')
				out--;
			if (out > start)
				out--;
			n_kept--;
		} else if (!(dotdot && abs)) { /* "/.." is "/" */
			if (out > start)
				*out++ = '/';
			memmove(out, p, n);
			out += n;
			if (!dotdot)
				n_kept++;
		}
		p = next;
	}
	if (out == path)
		*out++ = '.';
	*out = '\0';
}

int sp_dwarf_lines_path(const struct sp_dwarf_lines *dl, uint32_t file,
                        char *buf, size_t len)
{
	const struct file_ent *f;
	const char *parts[3];
	size_t n_parts = 0, pos = 0;

	if (file >= dl->n_files || len == 0)
		return -ENOENT;
	f = &dl->files[file];
	if (f->name[0] != '/') {
		if (f->dir && f->dir[0] != '/' && f->comp_dir &&
		    f->comp_dir != f->dir)
			parts[n_parts++] = f->comp_dir;
		if (f->dir && f->dir[0])
			parts[n_parts++] = f->dir;
		else if (!f->dir && f->comp_dir)
			parts[n_parts++] = f->comp_dir;
	}
	parts[n_parts++] = f->name;
	buf[0] = '\0';
	for (size_t i = 0; i < n_parts; i++) {
		size_t l = strlen(parts[i]);
		if (!l)
			continue;
		if (pos && buf[pos - 1] != '/' && append(buf, len, &pos, "/"))
			return -ENAMETOOLONG;
		if (append(buf, len, &pos, parts[i]))
			return -ENAMETOOLONG;
	}
	normalize(buf);
	return 0;
}
