/*
 * maps.c - the list of loaded objects, from dl_iterate_phdr.  The sampling
 * thread uses it to find the .eh_frame_hdr of the object holding a pc (for
 * DWARF unwinding) and to check that an address it is about to read lies in
 * a mapped segment.  Symbolization (symbols.c) maps a pc to its object here.
 *
 * dl_iterate_phdr takes the loader lock: fine on the sampling thread, which
 * never runs inside a signal handler.
 */
#define _GNU_SOURCE
#include <link.h>
#include <stdatomic.h>
#include <sys/uio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "maps.h"

/* .eh_frame_hdr pointer encodings (LSB "DWARF Extensions"). */
#define DW_EH_PE_omit 0xff
#define DW_EH_PE_udata4 0x03
#define DW_EH_PE_sdata4 0x0b
#define DW_EH_PE_udata8 0x04
#define DW_EH_PE_sdata8 0x0c
#define DW_EH_PE_absptr 0x00
#define DW_EH_PE_pcrel 0x10
#define DW_EH_PE_datarel 0x30

static int read_encoded(const uint8_t **pp, uint8_t enc, uintptr_t hdr,
                        uintptr_t *out)
{
	const uint8_t *p = *pp;
	uintptr_t base = 0;
	int64_t v;

	if (enc == DW_EH_PE_omit)
		return -EINVAL;
	if ((enc & 0x70) == DW_EH_PE_pcrel)
		base = (uintptr_t)p;
	else if ((enc & 0x70) == DW_EH_PE_datarel)
		base = hdr;
	switch (enc & 0x0f) {
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		memcpy(&v, p, 8);
		p += 8;
		break;
	case DW_EH_PE_udata4: {
		uint32_t u;
		memcpy(&u, p, 4);
		v = u;
		p += 4;
		break;
	}
	case DW_EH_PE_sdata4: {
		int32_t s;
		memcpy(&s, p, 4);
		v = s;
		p += 4;
		break;
	}
	default:
		return -EINVAL;
	}
	*out = base + (uintptr_t)v;
	*pp = p;
	return 0;
}

/* Parse the .eh_frame_hdr header to find its binary search table, which
 * libunwind's remote table search needs (datarel sdata4 pairs). */
static void parse_eh_frame_hdr(struct sp_object *o)
{
	const uint8_t *p = (const uint8_t *)o->eh_frame_hdr;
	uint8_t version = p[0], ptr_enc = p[1], cnt_enc = p[2], tbl_enc = p[3];
	uintptr_t eh_frame, count;

	p += 4;
	if (version != 1)
		return;
	if (read_encoded(&p, ptr_enc, o->eh_frame_hdr, &eh_frame) ||
	    read_encoded(&p, cnt_enc, o->eh_frame_hdr, &count))
		return;
	/* Only the datarel|sdata4 table is searchable by libunwind. */
	if (tbl_enc != (DW_EH_PE_datarel | DW_EH_PE_sdata4))
		return;
	o->eh_table = (uintptr_t)p;
	o->fde_count = count;
}

struct scan_ctx {
	struct sp_maps *m;
	int err;
	char exe[PATH_MAX];
};

static int add_object(struct dl_phdr_info *info, size_t size, void *data)
{
	struct scan_ctx *c = data;
	struct sp_maps *m = c->m;
	struct sp_object o;
	const char *name = info->dlpi_name;
	(void)size;

	memset(&o, 0, sizeof(o));
	o.base = info->dlpi_addr;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD) {
			uintptr_t lo = o.base + ph->p_vaddr;
			uintptr_t hi = lo + ph->p_memsz;
			if (o.n_segs < SP_MAPS_MAX_SEGS)
				o.segs[o.n_segs++] = (struct sp_segment){lo, hi};
			if (ph->p_flags & PF_X) {
				if (!o.text_lo || lo < o.text_lo)
					o.text_lo = lo;
				if (hi > o.text_hi)
					o.text_hi = hi;
			}
		} else if (ph->p_type == PT_GNU_EH_FRAME) {
			o.eh_frame_hdr = o.base + ph->p_vaddr;
		}
	}
	if (!o.text_lo)
		return 0;
	if (o.eh_frame_hdr)
		parse_eh_frame_hdr(&o);
	if (!name || !*name) {
		/* The main program is reported with an empty name. */
		name = c->exe;
	} else if (!strncmp(name, "linux-vdso", 10) ||
	           !strncmp(name, "linux-gate", 10)) {
		name = "[vdso]";
		o.is_vdso = 1;
	}
	o.path = sp_strdup(name);
	if (!o.path || sp_grow((void **)&m->objs, &m->cap_objs, m->n_objs + 1,
	                       sizeof(*m->objs))) {
		sp_free(o.path);
		c->err = -ENOMEM;
		return 1;
	}
	m->objs[m->n_objs++] = o;
	return 0;
}

static void clear_objects(struct sp_maps *m)
{
	for (size_t i = 0; i < m->n_objs; i++)
		sp_free(m->objs[i].path);
	m->n_objs = 0;
}

int sp_maps_refresh(struct sp_maps *m)
{
	struct scan_ctx c = {.m = m};
	ssize_t n = readlink("/proc/self/exe", c.exe, sizeof(c.exe) - 1);

	c.exe[n > 0 ? n : 0] = '\0';
	clear_objects(m);
	dl_iterate_phdr(add_object, &c);
	m->rescans++;
	m->last_rescan_ns = sp_now_ns();
	return c.err;
}

int sp_maps_new(struct sp_maps **out)
{
	struct sp_maps *m = sp_calloc(1, sizeof(*m));
	int err;

	if (!m)
		return -ENOMEM;
	err = sp_maps_refresh(m);
	if (err) {
		sp_maps_free(m);
		return err;
	}
	*out = m;
	return 0;
}

void sp_maps_free(struct sp_maps *m)
{
	if (!m)
		return;
	clear_objects(m);
	sp_free(m->objs);
	sp_free(m);
}

static const struct sp_object *find_text(const struct sp_maps *m,
                                         uintptr_t pc)
{
	for (size_t i = 0; i < m->n_objs; i++)
		if (pc >= m->objs[i].text_lo && pc < m->objs[i].text_hi)
			return &m->objs[i];
	return NULL;
}

const struct sp_object *sp_maps_find(struct sp_maps *m, uintptr_t pc)
{
	const struct sp_object *o = find_text(m, pc);

	/* An unknown pc may belong to an object dlopen'ed since the last
	 * scan; rescanning is a loader-lock walk, so rate-limit it. */
	if (!o && sp_now_ns() - m->last_rescan_ns > 10 * 1000 * 1000) {
		if (sp_maps_refresh(m) == 0)
			o = find_text(m, pc);
	}
	return o;
}

const struct sp_object *sp_maps_find_data(const struct sp_maps *m,
                                          uintptr_t addr, size_t len)
{
	if (addr + len < addr)
		return NULL;
	for (size_t i = 0; i < m->n_objs; i++) {
		const struct sp_object *o = &m->objs[i];
		for (int j = 0; j < o->n_segs; j++)
			if (addr >= o->segs[j].lo && addr + len <= o->segs[j].hi)
				return o;
	}
	return NULL;
}

/* 0: not tried yet, 1: process_vm_readv works, 2: refused (seccomp). */
static atomic_int safe_read_mode;

int sp_maps_read(uintptr_t addr, void *buf, size_t len)
{
	struct iovec l = {buf, len}, r = {(void *)addr, len};
	ssize_t n;

	if (atomic_load_explicit(&safe_read_mode, memory_order_relaxed) == 2) {
		memcpy(buf, (const void *)addr, len);
		return 0;
	}
	n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
	if (n == (ssize_t)len) {
		atomic_store_explicit(&safe_read_mode, 1, memory_order_relaxed);
		return 0;
	}
	if (n < 0 && (errno == EPERM || errno == ENOSYS) &&
	    atomic_load(&safe_read_mode) == 0) {
		/* A sandbox refuses the call: read directly, as before
		 * this existed (a dlclose race can then crash). */
		sp_warn("maps: process_vm_readv refused (%s): unwind tables "
		        "are read directly", strerror(errno));
		atomic_store(&safe_read_mode, 2);
		memcpy(buf, (const void *)addr, len);
		return 0;
	}
	return -EFAULT;
}
