/*
 * elf_file.h - read-only access to one ELF64 image: a file mapped with mmap
 * or an image already in memory (the vDSO).  Section lookup by name (with
 * decompression of SHF_COMPRESSED sections), the function symbols of
 * .symtab or .dynsym sorted for lookup by ELF virtual address, the GNU
 * build-id and .gnu_debuglink.  Every offset and size read from the image is
 * bounds-checked: a corrupt file yields -ENOEXEC, never a crash.  Not
 * thread-safe.
 */
#ifndef SP_ELF_FILE_H
#define SP_ELF_FILE_H

#include <stddef.h>
#include <stdint.h>

/* One function symbol; name points into the image (valid until free). */
struct sp_elf_func {
	uint64_t addr;         /* ELF virtual address */
	uint64_t size;         /* never 0 after loading (see elf_file.c) */
	const char *name;
};

struct sp_elf;

/* A section's contents.  owned is non-NULL when the data was decompressed
 * into a buffer the caller must release with sp_free(owned). */
struct sp_elf_data {
	const uint8_t *data;
	size_t len;
	void *owned;
};

/*
 * Map the file at path (O_CLOEXEC, PROT_READ) and validate its headers.
 * Returns 0 and *out, -ENOEXEC (not a valid ELF64 little-endian file),
 * -ENOMEM, or -errno of open/fstat/mmap.
 */
int sp_elf_open(const char *path, struct sp_elf **out);

/*
 * Use an ELF image that is already mapped (e.g. the vDSO at
 * getauxval(AT_SYSINFO_EHDR)); image must stay mapped for len bytes until
 * sp_elf_free.  Same returns as sp_elf_open.
 */
int sp_elf_open_mem(const void *image, size_t len, struct sp_elf **out);

/* Unmap and free; NULL is a no-op. */
void sp_elf_free(struct sp_elf *e);

/* ET_DYN (PIE or shared object) rather than ET_EXEC. */
int sp_elf_is_dyn(const struct sp_elf *e);

/* Whether the image has a section called name holding data in the file
 * (not SHT_NOBITS, as in the stripped halves of separate debug files). */
int sp_elf_has_section(const struct sp_elf *e, const char *name);

/*
 * Contents of the section called name, decompressed if SHF_COMPRESSED
 * (ELFCOMPRESS_ZLIB only).  Returns 0, -ENOENT (no such section or
 * SHT_NOBITS), -ENOEXEC (out of bounds or bad compressed data), -ENOTSUP
 * (other compression) or -ENOMEM.
 */
int sp_elf_section(const struct sp_elf *e, const char *name,
                   struct sp_elf_data *out);

/*
 * Read the function symbols (STT_FUNC, STT_GNU_IFUNC) of .symtab, or of
 * .dynsym when there is no .symtab (use_dynsym = 1 forces .dynsym), into a
 * table sorted by address; symbols of size 0 extend to the next symbol or
 * the end of their section.  Returns 0, -ENOENT (no such table), -ENOEXEC
 * or -ENOMEM; calling it again reloads.
 */
int sp_elf_load_funcs(struct sp_elf *e, int use_dynsym);

/* Number of functions loaded by sp_elf_load_funcs. */
size_t sp_elf_n_funcs(const struct sp_elf *e);

/* The function whose [addr, addr+size) holds vaddr, or NULL. */
const struct sp_elf_func *sp_elf_lookup(const struct sp_elf *e,
                                        uint64_t vaddr);

/* GNU build-id (NT_GNU_BUILD_ID note).  Returns 0 or -ENOENT. */
int sp_elf_build_id(const struct sp_elf *e, const uint8_t **id,
                    size_t *len);

/* .gnu_debuglink file name and CRC-32.  Returns 0, -ENOENT or -ENOEXEC. */
int sp_elf_debuglink(const struct sp_elf *e, const char **name,
                     uint32_t *crc);

/* CRC-32 of the whole image (what .gnu_debuglink stores). */
uint32_t sp_elf_crc32(const struct sp_elf *e);

#endif
