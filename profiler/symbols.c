/*
 * symbols.c - pc -> function, object, source file and line (symbols.h).
 * Loaded objects come from maps.c; ELF reading from elf_file.c; line tables
 * from dwarf_line.c.  This file chooses which file supplies what (the
 * object itself or its separate debug file), caches per object and per pc,
 * and owns the strings it hands out.
 *
 * Per object (keyed by path, loaded the first time one of its pcs is looked
 * up): function symbols from .symtab, else the debug file's .symtab, else
 * .dynsym; the line table from the object's .debug_line, else the debug
 * file's.  The debug file is found the way gdb does ("Debugging Information
 * in Separate Files"): /usr/lib/debug/.build-id/xx/rest.debug, then the
 * .gnu_debuglink name in the object's directory, its .debug/ subdirectory
 * and /usr/lib/debug/<directory>/.
 *
 * Results are cached per pc: a profile repeats the same few thousand pcs
 * millions of times.  A cached pc is assumed to keep its meaning: an object
 * unloaded and another loaded at the same address is not detected.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "dwarf_line.h"
#include "elf_file.h"
#include "internal.h"
#include "maps.h"
#include "symbols.h"

#define DEBUG_ROOT "/usr/lib/debug"

struct obj_syms {
	char *path;
	int loaded;            /* loading done (maybe with nothing found) */
	struct sp_elf *elf;    /* the object, or the vDSO image */
	struct sp_elf *dbg;    /* separate debug file, or NULL */
	struct sp_elf *sym_elf;          /* whichever holds the symbols */
	struct sp_dwarf_lines *lines;    /* NULL without .debug_line */
	struct sp_elf_data line, line_str, str; /* what lines points into */
};

struct pc_ent {
	uint64_t pc;           /* 0 = empty slot: pc 0 is never in an object */
	struct sp_symbol sym;
};

/* __cxa_demangle from the C++ ABI (libstdc++/libc++). */
typedef char *cxa_demangle_fn(const char *mangled, char *buf, size_t *len,
                              int *status);

struct sp_symbols {
	struct sp_maps *maps;
	struct obj_syms *objs;
	size_t n_objs, cap_objs;
	struct pc_ent *pcs;    /* open addressing, power-of-two capacity */
	size_t n_pcs, cap_pcs;
	char **strs;           /* interned strings, open addressing */
	size_t n_strs, cap_strs;
	cxa_demangle_fn *demangle;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */

	while (*s)
		h = (h ^ (uint8_t)*s++) * 0x100000001b3u;
	return h;
}

/* Double an open-addressing table when it is half full.  rehash moves the
 * entries; the old array is freed by the caller. */
static int strs_grow(struct sp_symbols *sy)
{
	size_t cap = sy->cap_strs ? sy->cap_strs * 2 : 64;
	char **t;

	if (sy->n_strs + 1 <= sy->cap_strs / 2)
		return 0;
	t = sp_calloc(cap, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < sy->cap_strs; i++) {
		size_t j;
		if (!sy->strs[i])
			continue;
		j = hash_str(sy->strs[i]) & (cap - 1);
		while (t[j])
			j = (j + 1) & (cap - 1);
		t[j] = sy->strs[i];
	}
	sp_free(sy->strs);
	sy->strs = t;
	sy->cap_strs = cap;
	return 0;
}

/* A copy of s owned by sy and valid until sp_symbols_free, or NULL. */
static const char *intern(struct sp_symbols *sy, const char *s)
{
	size_t j;

	if (strs_grow(sy))
		return NULL;
	j = hash_str(s) & (sy->cap_strs - 1);
	while (sy->strs[j]) {
		if (!strcmp(sy->strs[j], s))
			return sy->strs[j];
		j = (j + 1) & (sy->cap_strs - 1);
	}
	sy->strs[j] = sp_strdup(s);
	if (!sy->strs[j])
		return NULL;
	sy->n_strs++;
	return sy->strs[j];
}

static size_t pc_slot(uint64_t pc, size_t cap)
{
	return (size_t)((pc * 0x9e3779b97f4a7c15u) >> 20) & (cap - 1);
}

static const struct sp_symbol *pc_get(const struct sp_symbols *sy,
                                      uint64_t pc)
{
	size_t j;

	if (!sy->cap_pcs)
		return NULL;
	for (j = pc_slot(pc, sy->cap_pcs); sy->pcs[j].pc;
	     j = (j + 1) & (sy->cap_pcs - 1))
		if (sy->pcs[j].pc == pc)
			return &sy->pcs[j].sym;
	return NULL;
}

static int pc_put(struct sp_symbols *sy, uint64_t pc,
                  const struct sp_symbol *sym)
{
	size_t j;

	if (sy->n_pcs + 1 > sy->cap_pcs / 2) {
		size_t cap = sy->cap_pcs ? sy->cap_pcs * 2 : 256;
		struct pc_ent *t = sp_calloc(cap, sizeof(*t));

		if (!t)
			return -ENOMEM;
		for (size_t i = 0; i < sy->cap_pcs; i++) {
			if (!sy->pcs[i].pc)
				continue;
			j = pc_slot(sy->pcs[i].pc, cap);
			while (t[j].pc)
				j = (j + 1) & (cap - 1);
			t[j] = sy->pcs[i];
		}
		sp_free(sy->pcs);
		sy->pcs = t;
		sy->cap_pcs = cap;
	}
	j = pc_slot(pc, sy->cap_pcs);
	while (sy->pcs[j].pc)
		j = (j + 1) & (sy->cap_pcs - 1);
	sy->pcs[j].pc = pc;
	sy->pcs[j].sym = *sym;
	sy->n_pcs++;
	return 0;
}

int sp_symbols_new(struct sp_maps *maps, struct sp_symbols **out)
{
	struct sp_symbols *sy = sp_calloc(1, sizeof(*sy));

	if (!sy)
		return -ENOMEM;
	sy->maps = maps;
	/* Looked up at run time rather than linked: libstillprof is C and is
	 * preloaded into C programs too, where pulling in libstdc++ would
	 * only cost memory and start-up time.  A process with C++ frames has
	 * libstdc++ loaded already, so the demangler is there exactly when
	 * there is something to demangle; without it names stay mangled. */
	sy->demangle = (cxa_demangle_fn *)dlsym(RTLD_DEFAULT, "__cxa_demangle");
	*out = sy;
	return 0;
}

static void obj_fini(struct obj_syms *o)
{
	sp_dwarf_lines_free(o->lines);
	sp_free(o->line.owned);
	sp_free(o->line_str.owned);
	sp_free(o->str.owned);
	sp_elf_free(o->dbg);
	sp_elf_free(o->elf);
	sp_free(o->path);
	memset(o, 0, sizeof(*o));
}

void sp_symbols_free(struct sp_symbols *sy)
{
	if (!sy)
		return;
	for (size_t i = 0; i < sy->n_objs; i++)
		obj_fini(&sy->objs[i]);
	for (size_t i = 0; i < sy->cap_strs; i++)
		sp_free(sy->strs[i]);
	sp_free(sy->strs);
	sp_free(sy->objs);
	sp_free(sy->pcs);
	sp_free(sy);
}

/* Open path as a debug file for e if it matches: same build-id when both
 * have one, else the .gnu_debuglink CRC when crc is given.  Returns 0 and
 * *out, -ENOMEM, or another error meaning "not this one". */
static int open_debug(const struct sp_elf *e, const char *path,
                      const uint32_t *crc, struct sp_elf **out)
{
	const uint8_t *id, *did;
	size_t id_len, did_len;
	struct sp_elf *d;
	int err = sp_elf_open(path, &d);

	if (err)
		return err;
	if (!sp_elf_build_id(e, &id, &id_len) &&
	    !sp_elf_build_id(d, &did, &did_len)) {
		if (id_len != did_len || memcmp(id, did, id_len))
			err = -ESTALE;
	} else if (crc && sp_elf_crc32(d) != *crc) {
		err = -ESTALE;
	}
	if (err) {
		sp_debug("symbols: %s does not match its object", path);
		sp_elf_free(d);
		return err;
	}
	*out = d;
	return 0;
}

static int find_by_build_id(const struct sp_elf *e, struct sp_elf **out)
{
	char path[PATH_MAX];
	const uint8_t *id;
	size_t id_len, pos;

	if (sp_elf_build_id(e, &id, &id_len) || id_len < 2 || id_len > 64)
		return -ENOENT;
	pos = (size_t)snprintf(path, sizeof(path), DEBUG_ROOT "/.build-id/"
	                       "%02x/", id[0]);
	for (size_t i = 1; i < id_len; i++)
		pos += (size_t)snprintf(path + pos, sizeof(path) - pos, "%02x",
		                        id[i]);
	snprintf(path + pos, sizeof(path) - pos, ".debug");
	return open_debug(e, path, NULL, out);
}

static int find_by_debuglink(const struct sp_elf *e, const char *obj_path,
                             struct sp_elf **out)
{
	/* prefix, then dir, then infix, then the name */
	static const char *const where[][2] = {
	    {"", "/"}, {"", "/.debug/"}, {DEBUG_ROOT, "/"}};
	char real[PATH_MAX], dir[PATH_MAX], path[PATH_MAX];
	const char *name, *slash;
	uint32_t crc;
	int err;

	if (sp_elf_debuglink(e, &name, &crc) || strchr(name, '/'))
		return -ENOENT;
	if (!realpath(obj_path, real))
		snprintf(real, sizeof(real), "%s", obj_path);
	slash = strrchr(real, '/');
	if (!slash)
		return -ENOENT;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - real), real);
	/* The debuglink may name the object itself (a file that carries its
	 * own debug info); opening it again would find nothing new. */
	if (!strcmp(slash + 1, name))
		return -ENOENT;
	for (size_t i = 0; i < SP_ARRAY_LEN(where); i++) {
		if (snprintf(path, sizeof(path), "%s%s%s%s", where[i][0], dir,
		             where[i][1], name) >= (int)sizeof(path))
			continue;
		err = open_debug(e, path, &crc, out);
		if (err == 0 || err == -ENOMEM)
			return err;
	}
	return -ENOENT;
}

static int open_vdso(const struct sp_object *so, struct sp_elf **out)
{
	uintptr_t image = (uintptr_t)getauxval(AT_SYSINFO_EHDR);
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);

	/* The kernel maps the whole vDSO file, but its section headers lie
	 * past the end of its PT_LOAD segment: bound the image by that
	 * segment rounded up to whole pages, which are mapped. */
	for (int i = 0; image && page && i < so->n_segs; i++) {
		uintptr_t hi = (so->segs[i].hi + page - 1) & ~(page - 1);
		if (image >= so->segs[i].lo && image < so->segs[i].hi)
			return sp_elf_open_mem((const void *)image, hi - image,
			                       out);
	}
	return -ENOENT;
}

/* Take the line table from the first of e, then dbg, with .debug_line. */
static int load_lines(struct obj_syms *o)
{
	struct sp_elf *src = o->elf;
	struct sp_line_sections s;
	int err;

	if (!src || !sp_elf_has_section(src, ".debug_line"))
		src = o->dbg;
	if (!src)
		return 0;
	err = sp_elf_section(src, ".debug_line", &o->line);
	if (err)
		return err == -ENOMEM ? err : 0;
	/* The string sections are optional: without them DW_FORM_strp names
	 * stay unresolved, but lines still work. */
	err = sp_elf_section(src, ".debug_line_str", &o->line_str);
	if (err == -ENOMEM)
		return err;
	err = sp_elf_section(src, ".debug_str", &o->str);
	if (err == -ENOMEM)
		return err;
	s = (struct sp_line_sections){o->line.data, o->line.len,
	                              o->line_str.data, o->line_str.len,
	                              o->str.data, o->str.len};
	return sp_dwarf_lines_new(&s, &o->lines);
}

/* Fill o (path already set).  Only -ENOMEM is an error: a missing or
 * corrupt file leaves o with whatever could be read, and it is not tried
 * again. */
static int load_object(struct obj_syms *o, const struct sp_object *so)
{
	int err;

	if (so->is_vdso)
		err = open_vdso(so, &o->elf);
	else
		err = sp_elf_open(o->path, &o->elf);
	if (err == -ENOMEM)
		return err;
	if (err) {
		sp_debug("symbols: %s: %s", o->path, stillprof_strerror(err));
		o->elf = NULL;
		return 0;
	}
	/* A separate debug file only when the object lacks something. */
	if (!sp_elf_has_section(o->elf, ".symtab") ||
	    !sp_elf_has_section(o->elf, ".debug_line")) {
		err = find_by_build_id(o->elf, &o->dbg);
		if (err && err != -ENOMEM && o->path[0] == '/')
			err = find_by_debuglink(o->elf, o->path, &o->dbg);
		if (err == -ENOMEM)
			return err;
		if (err)
			o->dbg = NULL;
	}
	o->sym_elf = o->elf;
	if (!sp_elf_has_section(o->elf, ".symtab") && o->dbg &&
	    sp_elf_has_section(o->dbg, ".symtab"))
		o->sym_elf = o->dbg;
	err = sp_elf_load_funcs(o->sym_elf, 0);
	if (err && o->sym_elf == o->dbg) {
		o->sym_elf = o->elf;
		err = sp_elf_load_funcs(o->sym_elf, 0);
	}
	if (err == -ENOMEM)
		return err;
	if (err)
		o->sym_elf = NULL;
	return load_lines(o);
}

/* The cache entry for the object so, loaded on first use.  Returns 0 and
 * *out or -ENOMEM; on -ENOMEM nothing is cached so a later call retries. */
static int get_object(struct sp_symbols *sy, const struct sp_object *so,
                      struct obj_syms **out)
{
	struct obj_syms *o = NULL;
	int err;

	for (size_t i = 0; i < sy->n_objs; i++) {
		if (!strcmp(sy->objs[i].path, so->path)) {
			o = &sy->objs[i];
			break;
		}
	}
	if (!o) {
		if (sp_grow((void **)&sy->objs, &sy->cap_objs, sy->n_objs + 1,
		            sizeof(*sy->objs)))
			return -ENOMEM;
		o = &sy->objs[sy->n_objs];
		memset(o, 0, sizeof(*o));
		o->path = sp_strdup(so->path);
		if (!o->path)
			return -ENOMEM;
		sy->n_objs++;
	}
	if (!o->loaded) {
		err = load_object(o, so);
		if (err) {
			char *path = o->path;
			o->path = NULL;
			obj_fini(o);
			o->path = path;
			return err;
		}
		o->loaded = 1;
	}
	*out = o;
	return 0;
}

static const char *func_name(struct sp_symbols *sy, const char *name)
{
	const char *at = strchr(name, '@');
	char *d;
	const char *s;
	int status = -1;

	/* A .symtab (e.g. glibc's debug file) names versioned definitions
	 * "clock_nanosleep@@GLIBC_2.17": users know the plain name. */
	if (at && at != name) {
		char plain[256];
		size_t n = (size_t)(at - name);
		if (n < sizeof(plain)) {
			memcpy(plain, name, n);
			plain[n] = '\0';
			name = intern(sy, plain);
			if (!name)
				return NULL;
		}
	}
	if (!sy->demangle || strncmp(name, "_Z", 2))
		return name; /* mapped file or interned: stable */
	d = sy->demangle(name, NULL, NULL, &status);
	if (!d || status != 0) {
		free(d); /* __cxa_demangle allocates with malloc */
		return name;
	}
	s = intern(sy, d);
	free(d);
	return s;
}

static int resolve(struct sp_symbols *sy, uint64_t pc,
                   struct sp_symbol *out)
{
	const struct sp_object *so = sp_maps_find(sy->maps, (uintptr_t)pc);
	const struct sp_elf_func *f = NULL;
	struct obj_syms *o;
	uint64_t vaddr;
	uint32_t file;
	int err, line;

	memset(out, 0, sizeof(*out));
	out->object = "";
	if (!so)
		return -ENOENT;
	err = get_object(sy, so, &o);
	if (err)
		return err;
	out->object = o->path;
	/* base is the load bias (0 for non-PIE executables). */
	vaddr = pc - so->base;
	if (o->sym_elf)
		f = sp_elf_lookup(o->sym_elf, vaddr);
	if (f) {
		out->name = func_name(sy, f->name);
		if (!out->name)
			return -ENOMEM;
		out->start = f->addr + so->base;
	}
	if (!o->lines)
		return 0;
	if (f && !sp_dwarf_lines_first_line(o->lines, f->addr, f->size,
	                                     &line))
		out->fn_line = line;
	if (!sp_dwarf_lines_lookup(o->lines, vaddr, &file, &line)) {
		char path[PATH_MAX];
		out->line = line;
		if (!sp_dwarf_lines_path(o->lines, file, path, sizeof(path))) {
			out->file = intern(sy, path);
			if (!out->file)
				return -ENOMEM;
		}
	}
	return 0;
}

int sp_symbols_lookup(struct sp_symbols *sy, uint64_t pc,
                      struct sp_symbol *out)
{
	const struct sp_symbol *hit = pc_get(sy, pc);
	int err;

	if (hit) {
		*out = *hit;
		return 0;
	}
	err = resolve(sy, pc, out);
	if (!err)
		err = pc_put(sy, pc, out);
	if (err == -ENOMEM) {
		memset(out, 0, sizeof(*out));
		out->object = "";
	}
	return err;
}
