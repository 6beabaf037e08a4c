/*
 * symbols.h - pc to function name, object, source file and line, with a
 * cache.  Reads the ELF files of the loaded objects (.symtab, else .dynsym;
 * .debug_line from the file itself or its separate debug file found by
 * build-id or .gnu_debuglink), never the debugged process's memory except
 * for the vDSO.  Used by one thread at a time (not thread-safe).
 */
#ifndef SP_SYMBOLS_H
#define SP_SYMBOLS_H

#include <stdint.h>

struct sp_maps;

struct sp_symbol {
	const char *name;      /* function name (C++ demangled when possible);
	                        * NULL when no symbol covers the pc */
	const char *object;    /* object path; "" when no object holds the pc */
	const char *file;      /* source file of the pc from debug info, or
	                        * NULL */
	uint64_t start;        /* runtime address of the function start, 0 when
	                        * unknown */
	int fn_line;           /* first line of the function (line of its start
	                        * address in the line table), 0 when unknown */
	int line;              /* line of the pc itself, 0 when unknown */
};

struct sp_symbols;

/* maps is borrowed (must outlive the symbols object). */
int sp_symbols_new(struct sp_maps *maps, struct sp_symbols **out);
void sp_symbols_free(struct sp_symbols *sy);

/*
 * Look up the exact runtime address pc (callers pass return address - 1 for
 * non-leaf frames).  Strings in *out stay valid until sp_symbols_free.
 * Returns 0 (fields may still be NULL/0 where unknown), -ENOENT when no
 * loaded object holds pc, or -ENOMEM.
 */
int sp_symbols_lookup(struct sp_symbols *sy, uint64_t pc,
                      struct sp_symbol *out);

#endif
