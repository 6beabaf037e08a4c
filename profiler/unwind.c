/*
 * unwind.c - DWARF unwinding of a copied user stack with libunwind's remote
 * API, in the manner of Linux perf's unwind-libunwind-local.c: our own
 * accessors serve memory reads from the stack copy (or, for unwind tables
 * and code, from the loaded objects of this very process) and registers
 * from the captured register set.  The target thread is never touched.
 *
 * Unwind tables come from each object's mapped .eh_frame_hdr (maps.c); the
 * table search is libunwind's exported but undeclared
 * dwarf_search_unwind_table, the same entry point perf uses.
 */
#include <libunwind.h>
#include <string.h>

#include "internal.h"
#include "maps.h"
#include "unwind.h"

extern int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as,
                                              unw_word_t ip,
                                              unw_dyn_info_t *di,
                                              unw_proc_info_t *pi,
                                              int need_unwind_info,
                                              void *arg);

struct sp_unwinder {
	unw_addr_space_t as;
	struct sp_maps *maps;
};

struct uw_arg {
	struct sp_unwinder *uw;
	const struct sp_uw_input *in;
};

static int acc_find_proc_info(unw_addr_space_t as, unw_word_t ip,
                              unw_proc_info_t *pi, int need, void *arg)
{
	struct uw_arg *a = arg;
	const struct sp_object *o = sp_maps_find(a->uw->maps, ip);
	unw_dyn_info_t di;

	if (!o || !o->eh_table)
		return -UNW_ENOINFO;
	memset(&di, 0, sizeof(di));
	di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	di.start_ip = o->text_lo;
	di.end_ip = o->text_hi;
	di.u.rti.segbase = o->eh_frame_hdr;
	di.u.rti.table_data = o->eh_table;
	/* Table entries are pairs of int32: table_len counts unw_words. */
	di.u.rti.table_len = o->fde_count * 8 / sizeof(unw_word_t);
	return _Ux86_64_dwarf_search_unwind_table(as, ip, &di, pi, need, arg);
}

static void acc_put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi,
                                void *arg)
{
	(void)as;
	(void)pi;
	(void)arg;
}

static int acc_get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr,
                                      void *arg)
{
	(void)as;
	(void)addr;
	(void)arg;
	return -UNW_ENOINFO;
}

static int acc_access_mem(unw_addr_space_t as, unw_word_t addr,
                          unw_word_t *val, int write, void *arg)
{
	struct uw_arg *a = arg;
	const struct sp_uw_input *in = a->in;
	(void)as;

	if (write)
		return -UNW_EINVAL;
	if (addr >= in->stack_lo && addr + 8 <= in->stack_lo + in->stack_len &&
	    addr + 8 > addr) {
		memcpy(val, in->stack + (addr - in->stack_lo), 8);
		return 0;
	}
	/* Anything else must be unwind tables or code of a loaded object:
	 * our own address space, so a direct read of a mapped segment. */
	if (sp_maps_find_data(a->uw->maps, addr, 8)) {
		memcpy(val, (const void *)(uintptr_t)addr, 8);
		return 0;
	}
	return -UNW_EINVAL;
}

static int acc_access_reg(unw_addr_space_t as, unw_regnum_t reg,
                          unw_word_t *val, int write, void *arg)
{
	struct uw_arg *a = arg;
	(void)as;

	/* libunwind's x86-64 numbering equals ours (DWARF order). */
	if (write || reg < 0 || reg >= SP_REG_COUNT ||
	    !(a->in->have & (1u << reg)))
		return -UNW_EBADREG;
	*val = a->in->regs[reg];
	return 0;
}

static int acc_access_fpreg(unw_addr_space_t as, unw_regnum_t reg,
                            unw_fpreg_t *val, int write, void *arg)
{
	(void)as;
	(void)reg;
	(void)val;
	(void)write;
	(void)arg;
	return -UNW_EBADREG;
}

static int acc_resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
	(void)as;
	(void)c;
	(void)arg;
	return -UNW_EINVAL;
}

static int acc_get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf,
                             size_t len, unw_word_t *off, void *arg)
{
	(void)as;
	(void)addr;
	(void)buf;
	(void)len;
	(void)off;
	(void)arg;
	return -UNW_ENOINFO;
}

static unw_accessors_t accessors = {
	.find_proc_info = acc_find_proc_info,
	.put_unwind_info = acc_put_unwind_info,
	.get_dyn_info_list_addr = acc_get_dyn_info_list_addr,
	.access_mem = acc_access_mem,
	.access_reg = acc_access_reg,
	.access_fpreg = acc_access_fpreg,
	.resume = acc_resume,
	.get_proc_name = acc_get_proc_name,
};

int sp_unwinder_new(struct sp_maps *maps, struct sp_unwinder **out)
{
	struct sp_unwinder *uw = sp_calloc(1, sizeof(*uw));

	if (!uw)
		return -ENOMEM;
	uw->maps = maps;
	uw->as = unw_create_addr_space(&accessors, 0);
	if (!uw->as) {
		sp_free(uw);
		return -ENOMEM;
	}
	/* A remote address space starts uncached; the global cache halves
	 * the cost of repeated unwinds through the same functions. */
	unw_set_caching_policy(uw->as, UNW_CACHE_GLOBAL);
	*out = uw;
	return 0;
}

void sp_unwinder_free(struct sp_unwinder *uw)
{
	if (!uw)
		return;
	unw_destroy_addr_space(uw->as);
	sp_free(uw);
}

void sp_unwinder_flush(struct sp_unwinder *uw)
{
	unw_flush_cache(uw->as, 0, 0);
}

int sp_unwind(struct sp_unwinder *uw, const struct sp_uw_input *in,
              uint64_t *pcs, int max)
{
	struct uw_arg arg = {uw, in};
	unw_cursor_t cur;
	int n = 0;

	if (max <= 0 || !(in->have & (1u << SP_REG_RIP)) || !in->regs[SP_REG_RIP])
		return 0;
	if (unw_init_remote(&cur, uw->as, &arg) < 0) {
		pcs[0] = in->regs[SP_REG_RIP];
		return 1;
	}
	do {
		unw_word_t ip;
		if (unw_get_reg(&cur, UNW_REG_IP, &ip) < 0 || ip == 0)
			break;
		pcs[n++] = ip;
	} while (n < max && unw_step(&cur) > 0);
	return n;
}
