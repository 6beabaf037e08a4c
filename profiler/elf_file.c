/*
 * elf_file.c - a defensive ELF64 reader for the symbolizer: headers,
 * sections by name (zlib-compressed ones inflated), function symbols sorted
 * for address lookup, build-id and .gnu_debuglink.  DWARF parsing lives in
 * dwarf_line.c, the choice of files and caching in symbols.c.
 *
 * The files read are whatever the process has loaded or whatever sits in
 * /usr/lib/debug, so nothing in them is trusted: headers are copied out with
 * memcpy (no unaligned struct access), every offset and size is checked
 * against the image length with overflow-safe arithmetic, and every string
 * must be NUL-terminated inside its section.  Only little-endian x86-64
 * style ELF64 is accepted.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "elf_file.h"
#include "internal.h"

struct sp_elf {
	const uint8_t *data;
	size_t len;
	int mapped;            /* data came from our mmap: munmap on free */
	Elf64_Ehdr eh;
	Elf64_Shdr *sh;        /* copied section headers */
	size_t n_sh;
	const char *shstr;     /* section name string table */
	size_t shstr_len;
	struct sp_elf_func *funcs;
	size_t n_funcs;
};

/* Whether [off, off+size) lies inside an image of len bytes. */
static int in_bounds(size_t len, uint64_t off, uint64_t size)
{
	return off <= len && size <= len - off;
}

/* A NUL-terminated string at off inside tab, or NULL. */
static const char *str_at(const char *tab, size_t tab_len, uint64_t off)
{
	if (!tab || off >= tab_len)
		return NULL;
	if (!memchr(tab + off, '\0', tab_len - off))
		return NULL;
	return tab + off;
}

static int read_headers(struct sp_elf *e)
{
	Elf64_Shdr first;
	uint64_t n_sh, shstrndx, table_len;

	if (e->len < sizeof(Elf64_Ehdr))
		return -ENOEXEC;
	memcpy(&e->eh, e->data, sizeof(e->eh));
	if (memcmp(e->eh.e_ident, ELFMAG, SELFMAG) ||
	    e->eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    e->eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    e->eh.e_ident[EI_VERSION] != EV_CURRENT)
		return -ENOEXEC;
	if (e->eh.e_shoff == 0)
		return 0; /* no section headers: symbols and notes unavailable */
	if (e->eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    !in_bounds(e->len, e->eh.e_shoff, sizeof(Elf64_Shdr)))
		return -ENOEXEC;
	/* gABI extended numbering: counts that do not fit in the header
	 * live in section header 0. */
	memcpy(&first, e->data + e->eh.e_shoff, sizeof(first));
	n_sh = e->eh.e_shnum ? e->eh.e_shnum : first.sh_size;
	shstrndx = e->eh.e_shstrndx == SHN_XINDEX ? first.sh_link
	                                          : e->eh.e_shstrndx;
	if (n_sh == 0 || __builtin_mul_overflow(n_sh, sizeof(Elf64_Shdr),
	                                        &table_len) ||
	    !in_bounds(e->len, e->eh.e_shoff, table_len))
		return -ENOEXEC;
	e->sh = sp_malloc(table_len);
	if (!e->sh)
		return -ENOMEM;
	memcpy(e->sh, e->data + e->eh.e_shoff, table_len);
	e->n_sh = n_sh;
	if (shstrndx != SHN_UNDEF && shstrndx < n_sh) {
		const Elf64_Shdr *s = &e->sh[shstrndx];
		if (s->sh_type != SHT_NOBITS &&
		    in_bounds(e->len, s->sh_offset, s->sh_size)) {
			e->shstr = (const char *)e->data + s->sh_offset;
			e->shstr_len = s->sh_size;
		}
	}
	return 0;
}

int sp_elf_open_mem(const void *image, size_t len, struct sp_elf **out)
{
	struct sp_elf *e = sp_calloc(1, sizeof(*e));
	int err;

	if (!e)
		return -ENOMEM;
	e->data = image;
	e->len = len;
	err = read_headers(e);
	if (err) {
		sp_elf_free(e);
		return err;
	}
	*out = e;
	return 0;
}

int sp_elf_open(const char *path, struct sp_elf **out)
{
	struct sp_elf *e = NULL;
	struct stat st;
	void *map;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto err_out;
	}
	/* Directories, devices and FIFOs are not ELF files; mmap of an empty
	 * file fails, so reject short files before mapping. */
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr) ||
	    (uint64_t)st.st_size > SIZE_MAX) {
		err = -ENOEXEC;
		goto err_out;
	}
	/* A private read-only mapping costs only address space; a file
	 * truncated while mapped would SIGBUS, but loaded objects and debug
	 * files are replaced by rename, never rewritten in place. */
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		err = -errno;
		goto err_out;
	}
	sp_close(fd);
	fd = -1;
	e = sp_calloc(1, sizeof(*e));
	if (!e) {
		munmap(map, (size_t)st.st_size);
		return -ENOMEM;
	}
	e->data = map;
	e->len = (size_t)st.st_size;
	e->mapped = 1;
	err = read_headers(e);
	if (err)
		goto err_out;
	*out = e;
	return 0;
err_out:
	sp_close(fd);
	sp_elf_free(e);
	return err;
}

void sp_elf_free(struct sp_elf *e)
{
	if (!e)
		return;
	if (e->mapped)
		munmap((void *)e->data, e->len);
	sp_free(e->sh);
	sp_free(e->funcs);
	sp_free(e);
}

int sp_elf_is_dyn(const struct sp_elf *e)
{
	return e->eh.e_type == ET_DYN;
}

static const Elf64_Shdr *find_section(const struct sp_elf *e,
                                      const char *name)
{
	for (size_t i = 1; i < e->n_sh; i++) {
		const char *n = str_at(e->shstr, e->shstr_len, e->sh[i].sh_name);
		if (n && !strcmp(n, name))
			return &e->sh[i];
	}
	return NULL;
}

int sp_elf_has_section(const struct sp_elf *e, const char *name)
{
	const Elf64_Shdr *s = find_section(e, name);

	return s && s->sh_type != SHT_NOBITS && s->sh_size > 0;
}

/* zlib allocates through our wrappers so OOM tests reach its failures. */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
	(void)opaque;
	return sp_calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
	(void)opaque;
	sp_free(p);
}

static int inflate_section(const uint8_t *src, size_t src_len,
                           struct sp_elf_data *out)
{
	Elf64_Chdr ch;
	z_stream zs;
	uint8_t *buf;
	int zerr, err = 0;

	if (src_len < sizeof(ch))
		return -ENOEXEC;
	memcpy(&ch, src, sizeof(ch));
	if (ch.ch_type != ELFCOMPRESS_ZLIB)
		return -ENOTSUP;
	src += sizeof(ch);
	src_len -= sizeof(ch);
	/* Deflate expands at most ~1032:1, so a larger claimed size is a
	 * corrupt header; uInt bounds the one-shot inflate below. */
	if (ch.ch_size == 0 || ch.ch_size > UINT_MAX || src_len > UINT_MAX ||
	    ch.ch_size / 1100 > src_len)
		return -ENOEXEC;
	buf = sp_malloc(ch.ch_size);
	if (!buf)
		return -ENOMEM;
	memset(&zs, 0, sizeof(zs));
	zs.zalloc = z_alloc;
	zs.zfree = z_free;
	zerr = inflateInit(&zs);
	if (zerr != Z_OK) {
		sp_free(buf);
		return zerr == Z_MEM_ERROR ? -ENOMEM : -ENOEXEC;
	}
	zs.next_in = (Bytef *)src;
	zs.avail_in = (uInt)src_len;
	zs.next_out = buf;
	zs.avail_out = (uInt)ch.ch_size;
	zerr = inflate(&zs, Z_FINISH);
	if (zerr == Z_MEM_ERROR)
		err = -ENOMEM;
	else if (zerr != Z_STREAM_END || zs.total_out != ch.ch_size)
		err = -ENOEXEC;
	inflateEnd(&zs);
	if (err) {
		sp_free(buf);
		return err;
	}
	out->data = buf;
	out->len = ch.ch_size;
	out->owned = buf;
	return 0;
}

int sp_elf_section(const struct sp_elf *e, const char *name,
                   struct sp_elf_data *out)
{
	const Elf64_Shdr *s = find_section(e, name);
	const uint8_t *p;

	memset(out, 0, sizeof(*out));
	if (!s || s->sh_type == SHT_NOBITS)
		return -ENOENT;
	if (!in_bounds(e->len, s->sh_offset, s->sh_size))
		return -ENOEXEC;
	p = e->data + s->sh_offset;
	if (s->sh_flags & SHF_COMPRESSED)
		return inflate_section(p, s->sh_size, out);
	out->data = p;
	out->len = s->sh_size;
	return 0;
}

/* A candidate symbol while loading: the extra fields choose among aliases
 * and bound zero-size symbols. */
struct cand {
	uint64_t addr, size, sec_end;
	const char *name;
	int rank;
};

/* Among aliases at one address prefer the name a user would call: global
 * or weak over local (libc's __GI_* hidden aliases), then fewer leading
 * underscores (libc exports poll as a weak alias of __poll, the vDSO
 * clock_gettime as one of __vdso_clock_gettime). */
static int alias_rank(const Elf64_Sym *s, const char *name)
{
	int rank = ELF64_ST_BIND(s->st_info) == STB_LOCAL ? 1000 : 0;

	while (*name == '_' && rank % 1000 < 999) {
		rank++;
		name++;
	}
	return rank;
}

static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	size_t lx, ly;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	lx = strlen(x->name);
	ly = strlen(y->name);
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(x->name, y->name);
}

static const Elf64_Shdr *find_type(const struct sp_elf *e, uint32_t type)
{
	for (size_t i = 1; i < e->n_sh; i++)
		if (e->sh[i].sh_type == type)
			return &e->sh[i];
	return NULL;
}

static int collect(const struct sp_elf *e, const Elf64_Shdr *tab,
                   struct cand **out, size_t *n_out)
{
	const Elf64_Shdr *strs;
	const char *strtab;
	struct cand *c;
	size_t n_syms, n = 0;

	if (tab->sh_link == 0 || tab->sh_link >= e->n_sh ||
	    (tab->sh_entsize && tab->sh_entsize != sizeof(Elf64_Sym)) ||
	    !in_bounds(e->len, tab->sh_offset, tab->sh_size))
		return -ENOEXEC;
	strs = &e->sh[tab->sh_link];
	if (strs->sh_type == SHT_NOBITS ||
	    !in_bounds(e->len, strs->sh_offset, strs->sh_size))
		return -ENOEXEC;
	strtab = (const char *)e->data + strs->sh_offset;
	n_syms = tab->sh_size / sizeof(Elf64_Sym);
	c = sp_reallocarray(NULL, n_syms, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < n_syms; i++) {
		Elf64_Sym s;
		const char *name;
		int type;

		memcpy(&s, e->data + tab->sh_offset + i * sizeof(s),
		       sizeof(s));
		type = ELF64_ST_TYPE(s.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) ||
		    s.st_shndx == SHN_UNDEF || s.st_shndx >= SHN_LORESERVE ||
		    s.st_value == 0)
			continue;
		name = str_at(strtab, strs->sh_size, s.st_name);
		if (!name || !*name)
			continue;
		c[n].addr = s.st_value;
		c[n].size = s.st_size;
		c[n].name = name;
		c[n].rank = alias_rank(&s, name);
		c[n].sec_end = 0;
		if (s.st_shndx < e->n_sh) {
			const Elf64_Shdr *sec = &e->sh[s.st_shndx];
			if (sec->sh_addr + sec->sh_size >= sec->sh_addr)
				c[n].sec_end = sec->sh_addr + sec->sh_size;
		}
		n++;
	}
	*out = c;
	*n_out = n;
	return 0;
}

int sp_elf_load_funcs(struct sp_elf *e, int use_dynsym)
{
	const Elf64_Shdr *tab = NULL;
	struct cand *c;
	size_t n, n_out = 0;
	int err;

	if (!use_dynsym)
		tab = find_type(e, SHT_SYMTAB);
	if (!tab)
		tab = find_type(e, SHT_DYNSYM);
	if (!tab)
		return -ENOENT;
	err = collect(e, tab, &c, &n);
	if (err)
		return err;
	qsort(c, n, sizeof(*c), cmp_cand);
	/* Keep the preferred alias per address (sorted first), with the
	 * largest size any alias declares. */
	for (size_t i = 0; i < n; i++) {
		if (n_out && c[n_out - 1].addr == c[i].addr) {
			if (c[i].size > c[n_out - 1].size)
				c[n_out - 1].size = c[i].size;
			continue;
		}
		c[n_out++] = c[i];
	}
	sp_free(e->funcs);
	e->n_funcs = 0;
	e->funcs = sp_reallocarray(NULL, n_out, sizeof(*e->funcs));
	if (!e->funcs) {
		sp_free(c);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_out; i++) {
		uint64_t size = c[i].size, end = c[i].sec_end;

		/* Size 0 (hand-written assembly without .size): assume the
		 * function runs to the next symbol or its section's end. */
		if (size == 0) {
			if (i + 1 < n_out && (!end || c[i + 1].addr < end))
				end = c[i + 1].addr;
			size = end > c[i].addr ? end - c[i].addr : 1;
		}
		if (c[i].addr + size < c[i].addr)
			size = UINT64_MAX - c[i].addr;
		e->funcs[i] = (struct sp_elf_func){c[i].addr, size, c[i].name};
	}
	e->n_funcs = n_out;
	sp_free(c);
	return 0;
}

size_t sp_elf_n_funcs(const struct sp_elf *e)
{
	return e->n_funcs;
}

const struct sp_elf_func *sp_elf_lookup(const struct sp_elf *e,
                                        uint64_t vaddr)
{
	size_t lo = 0, hi = e->n_funcs;

	/* Last function starting at or below vaddr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (e->funcs[mid].addr <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Usually the nearest one holds vaddr; look a little further back
	 * for a large function enclosing smaller symbols (local labels in
	 * hand-written assembly). */
	for (size_t i = lo, k = 0; i > 0 && k < 16; i--, k++) {
		const struct sp_elf_func *f = &e->funcs[i - 1];
		if (vaddr - f->addr < f->size)
			return f;
	}
	return NULL;
}

/* Search a run of notes for NT_GNU_BUILD_ID. */
static int scan_notes(const uint8_t *p, size_t len, const uint8_t **id,
                      size_t *id_len)
{
	size_t off = 0;

	while (len - off >= 12) {
		uint32_t namesz, descsz, type;
		size_t name_off, desc_off, next;

		memcpy(&namesz, p + off, 4);
		memcpy(&descsz, p + off + 4, 4);
		memcpy(&type, p + off + 8, 4);
		name_off = off + 12;
		/* Sizes are padded to 4 bytes (gABI, 64-bit GNU notes). */
		desc_off = name_off + (((size_t)namesz + 3) & ~(size_t)3);
		if (desc_off > len || desc_off < name_off)
			return -ENOENT;
		next = desc_off + (((size_t)descsz + 3) & ~(size_t)3);
		if (next > len || next < desc_off)
			return -ENOENT;
		if (type == NT_GNU_BUILD_ID && namesz == 4 &&
		    !memcmp(p + name_off, "GNU", 4) && descsz > 0) {
			*id = p + desc_off;
			*id_len = descsz;
			return 0;
		}
		off = next;
	}
	return -ENOENT;
}

int sp_elf_build_id(const struct sp_elf *e, const uint8_t **id, size_t *len)
{
	for (size_t i = 1; i < e->n_sh; i++) {
		const Elf64_Shdr *s = &e->sh[i];
		if (s->sh_type == SHT_NOTE &&
		    in_bounds(e->len, s->sh_offset, s->sh_size) &&
		    !scan_notes(e->data + s->sh_offset, s->sh_size, id, len))
			return 0;
	}
	/* Without section headers the note is still in a PT_NOTE segment. */
	if (e->n_sh == 0 && e->eh.e_phentsize == sizeof(Elf64_Phdr)) {
		for (size_t i = 0; i < e->eh.e_phnum; i++) {
			uint64_t off = e->eh.e_phoff + i * sizeof(Elf64_Phdr);
			Elf64_Phdr ph;

			if (!in_bounds(e->len, off, sizeof(ph)))
				break;
			memcpy(&ph, e->data + off, sizeof(ph));
			if (ph.p_type == PT_NOTE &&
			    in_bounds(e->len, ph.p_offset, ph.p_filesz) &&
			    !scan_notes(e->data + ph.p_offset, ph.p_filesz, id,
			                len))
				return 0;
		}
	}
	return -ENOENT;
}

int sp_elf_debuglink(const struct sp_elf *e, const char **name,
                     uint32_t *crc)
{
	struct sp_elf_data d;
	const char *end;
	size_t crc_off;
	int err = sp_elf_section(e, ".gnu_debuglink", &d);

	if (err)
		return err;
	/* Layout: file name, NUL, padding to 4, CRC-32 (gdb manual,
	 * "Debugging Information in Separate Files"). */
	end = d.len ? memchr(d.data, '\0', d.len) : NULL;
	if (!end || end == (const char *)d.data) {
		err = -ENOEXEC;
		goto out;
	}
	crc_off = (((size_t)(end - (const char *)d.data)) + 4) & ~(size_t)3;
	if (!in_bounds(d.len, crc_off, 4) || d.owned) {
		/* A compressed debuglink would need the buffer to outlive
		 * this call; no toolchain produces one. */
		err = -ENOEXEC;
		goto out;
	}
	*name = (const char *)d.data;
	memcpy(crc, d.data + crc_off, 4);
out:
	sp_free(d.owned);
	return err;
}

uint32_t sp_elf_crc32(const struct sp_elf *e)
{
	return (uint32_t)crc32_z(0, e->data, e->len);
}
