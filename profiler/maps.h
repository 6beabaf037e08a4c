/*
 * maps.h - the objects (executable, shared libraries, vDSO) loaded in this
 * process, from dl_iterate_phdr: load bias, PT_LOAD segments, executable
 * range and .eh_frame_hdr search table.  The unwinder uses it to find unwind
 * tables and to validate memory reads; the symbolizer to map a pc to an
 * object and an ELF virtual address.  Used only by the sampling thread (or
 * the session owner after stop): not thread-safe.
 */
#ifndef SP_MAPS_H
#define SP_MAPS_H

#include <stddef.h>
#include <stdint.h>

#define SP_MAPS_MAX_SEGS 8

struct sp_segment {
	uintptr_t lo, hi;
};

struct sp_object {
	char *path;            /* absolute path of the file; the main
	                        * executable is resolved via /proc/self/exe;
	                        * "[vdso]" for the vDSO */
	uintptr_t base;        /* load bias: runtime address - ELF vaddr */
	uintptr_t text_lo, text_hi; /* executable PT_LOAD range */
	uintptr_t eh_frame_hdr;     /* runtime address, 0 if none */
	uintptr_t eh_table;         /* binary search table in it, 0 if none */
	uint64_t fde_count;
	struct sp_segment segs[SP_MAPS_MAX_SEGS];
	int n_segs;
	int is_vdso;
};

struct sp_maps {
	struct sp_object *objs;
	size_t n_objs, cap_objs;
	uint64_t rescans;
	uint64_t last_rescan_ns;
};

int sp_maps_new(struct sp_maps **out);
void sp_maps_free(struct sp_maps *m);

/* Re-read the list of loaded objects.  Returns 0 or -ENOMEM. */
int sp_maps_refresh(struct sp_maps *m);

/* Object whose executable range holds pc, or NULL.  An unknown pc triggers
 * one rescan (rate-limited to one per 10 ms, for dlopen'ed objects). */
const struct sp_object *sp_maps_find(struct sp_maps *m, uintptr_t pc);

/* Object whose any PT_LOAD segment holds [addr, addr+len), or NULL. */
const struct sp_object *sp_maps_find_data(const struct sp_maps *m,
                                          uintptr_t addr, size_t len);

/*
 * Copy len bytes at addr of this process into buf without faulting: the
 * object an address belonged to at the last rescan may have been
 * dlclose'd since (process_vm_readv reports EFAULT instead of SIGSEGV).
 * Every read of an object's memory by the sampler (unwind tables, the
 * libunwind accessor) goes through here.  Returns 0 or -EFAULT.  Where a
 * sandbox refuses process_vm_readv it falls back to a direct copy.
 */
int sp_maps_read(uintptr_t addr, void *buf, size_t len);

#endif
