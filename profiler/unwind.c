/*
 * unwind.c - DWARF unwinding of a copied user stack.  Cached CFI rules
 * (unwind_cfi.c) step the frames they can describe; the rest goes to
 * libunwind's remote API, in the manner of Linux perf's
 * unwind-libunwind-local.c: our own accessors serve memory reads from the
 * stack copy (or, for unwind tables and code, from the loaded objects of
 * this very process) and registers from the captured register set.  The
 * target thread is never touched.
 *
 * Unwind tables come from each object's mapped .eh_frame_hdr (maps.c); the
 * table search is libunwind's exported but undeclared
 * dwarf_search_unwind_table, the same entry point perf uses.
 *
 * Hand-over: when the fast path meets a frame it cannot step, libunwind
 * redoes the whole stack from the captured registers.  Continuing from
 * that frame instead would save the frames already found, but libunwind
 * takes a remote cursor's first pc as a leaf: a return address would have
 * to be passed as pc - 1, which changes rip-based expressions (.plt CFA)
 * and its "ip and cfa unchanged" stop; and only rsp, rip and rbp would be
 * known there.  Redoing keeps the result exactly libunwind's; such stacks
 * are rare (signal frames, code without CFI, garbage), see the stats.
 *
 * One deliberate difference from libunwind alone, on both paths: a return
 * address in no loaded object ends the stack.  libunwind 1.6 would try its
 * "bad function pointer" fixup there, which reads the *leaf's* rsp (its
 * loc[RSP] is not updated on x86-64), so it only makes sense for the leaf.
 */
#include <libunwind.h>
#include <string.h>

#include "internal.h"
#include "maps.h"
#include "unwind.h"
#include "unwind_cfi.h"

_Static_assert(SP_UW_FALLBACK_KINDS == SP_CFI_WHY_COUNT,
               "sp_unwind_stats.fallbacks has one entry per sp_cfi_why");

extern int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as,
                                              unw_word_t ip,
                                              unw_dyn_info_t *di,
                                              unw_proc_info_t *pi,
                                              int need_unwind_info,
                                              void *arg);

struct sp_unwinder {
	unw_addr_space_t as;
	struct sp_maps *maps;
	struct sp_cfi *cfi;
	uint64_t maps_rescans; /* maps->rescans when maps_sig was taken */
	uint64_t maps_sig;
	struct sp_unwind_stats st;
	int past_end; /* a word at or above the copy's end was wanted */
	uint64_t want_end; /* end of the highest stack word wanted */
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
	/* Some libunwind paths use *val even after an error: never leave
	 * it undefined (memcheck saw that on garbage stacks). */
	*val = 0;
	if (addr >= in->stack_lo && addr + 8 > a->uw->want_end &&
	    addr + 8 > addr && addr < in->stack_lo + (1u << 24))
		a->uw->want_end = addr + 8; /* (not the objects' tables) */
	if (addr >= in->stack_lo && addr + 8 <= in->stack_lo + in->stack_len &&
	    addr + 8 > addr) {
		memcpy(val, in->stack + (addr - in->stack_lo), 8);
		return 0;
	}
	/* Even when an object serves it (its tables may lie above a thread
	 * stack): sp_unwind_past_end must never miss a word a longer copy
	 * would have supplied. */
	if (addr >= in->stack_lo)
		a->uw->past_end = 1;
	/* Anything else must be unwind tables or code of a loaded object:
	 * our own address space, so a direct read of a mapped segment. */
	if (sp_maps_find_data(a->uw->maps, addr, 8) &&
	    sp_maps_read((uintptr_t)addr, val, 8) == 0)
		return 0; /* (a dlclose since the rescan gives EFAULT) */
	return -UNW_EINVAL;
}

static int acc_access_reg(unw_addr_space_t as, unw_regnum_t reg,
                          unw_word_t *val, int write, void *arg)
{
	struct uw_arg *a = arg;
	(void)as;

	if (!write)
		*val = 0; /* as in acc_access_mem */
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

/* What identifies the set of loaded objects: their ranges and tables. */
static uint64_t maps_signature(const struct sp_maps *m)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a over the words */

	for (size_t i = 0; i < m->n_objs; i++) {
		const struct sp_object *o = &m->objs[i];
		uint64_t w[4] = {o->base, o->text_lo, o->text_hi,
		                 o->eh_frame_hdr};
		for (int j = 0; j < 4; j++)
			h = (h ^ w[j]) * 1099511628211ull;
	}
	return h ^ m->n_objs;
}

/* Cached rules are keyed by pc alone: after a rescan that found objects
 * gone or moved (dlclose, dlopen), they may describe other code. */
static void check_maps(struct sp_unwinder *uw)
{
	uint64_t sig;

	if (uw->maps->rescans == uw->maps_rescans)
		return;
	uw->maps_rescans = uw->maps->rescans;
	sig = maps_signature(uw->maps);
	if (sig != uw->maps_sig) {
		uw->maps_sig = sig;
		sp_unwinder_flush(uw);
	}
}

int sp_unwinder_new(struct sp_maps *maps, struct sp_unwinder **out)
{
	struct sp_unwinder *uw = sp_calloc(1, sizeof(*uw));
	int err = -ENOMEM;

	if (!uw)
		return -ENOMEM;
	uw->maps = maps;
	uw->maps_rescans = maps->rescans;
	uw->maps_sig = maps_signature(maps);
	uw->as = unw_create_addr_space(&accessors, 0);
	if (!uw->as)
		goto err_out;
	/* A remote address space starts uncached; the global cache halves
	 * the cost of repeated unwinds through the same functions. */
	unw_set_caching_policy(uw->as, UNW_CACHE_GLOBAL);
	if ((err = sp_cfi_new(&uw->cfi)))
		goto err_out;
	*out = uw;
	return 0;

err_out:
	sp_unwinder_free(uw);
	return err;
}

void sp_unwinder_free(struct sp_unwinder *uw)
{
	struct sp_unwind_stats st;

	if (!uw)
		return;
	if (uw->cfi && uw->st.stacks) {
		const uint64_t *f;
		sp_unwinder_get_stats(uw, &st);
		f = st.fallbacks;
		sp_info("unwind: %llu stacks, %llu by CFI rules alone "
		        "(%llu ended at an unknown rbp); libunwind did %llu "
		        "(no CFI %llu, unsupported CFI %llu, bad step %llu, "
		        "no rsp %llu, leaf in no object %llu); "
		        "%llu rule misses in %llu lookups",
		        (unsigned long long)st.stacks,
		        (unsigned long long)st.fast_stacks,
		        (unsigned long long)st.rbp_stops,
		        (unsigned long long)(st.stacks - st.fast_stacks),
		        (unsigned long long)f[SP_CFI_NOINFO],
		        (unsigned long long)f[SP_CFI_UNSUPPORTED],
		        (unsigned long long)f[SP_CFI_BAD_STEP],
		        (unsigned long long)f[SP_CFI_NO_REGS],
		        (unsigned long long)f[SP_CFI_NO_OBJECT],
		        (unsigned long long)st.rule_misses,
		        (unsigned long long)st.rule_lookups);
	}
	if (uw->as)
		unw_destroy_addr_space(uw->as);
	sp_cfi_free(uw->cfi);
	sp_free(uw);
}

void sp_unwinder_flush(struct sp_unwinder *uw)
{
	unw_flush_cache(uw->as, 0, 0);
	sp_cfi_flush(uw->cfi);
}

void sp_unwinder_get_stats(const struct sp_unwinder *uw,
                           struct sp_unwind_stats *out)
{
	struct sp_cfi_stats cs;

	*out = uw->st;
	sp_cfi_get_stats(uw->cfi, &cs);
	out->rule_lookups = cs.lookups;
	out->rule_misses = cs.misses;
	out->flushes = cs.flushes;
	out->rbp_stops = cs.rbp_stops;
}

static int run_libunwind(struct sp_unwinder *uw, const struct sp_uw_input *in,
                         uint64_t *pcs, int max, int stop_outside);

int sp_unwind(struct sp_unwinder *uw, const struct sp_uw_input *in,
              uint64_t *pcs, int max)
{
	enum sp_cfi_why why;
	int n, done;

	uw->past_end = 0;
	uw->want_end = 0;
	if (max <= 0 || !(in->have & (1u << SP_REG_RIP)) || !in->regs[SP_REG_RIP])
		return 0;
	check_maps(uw);
	uw->st.stacks++;
	done = sp_cfi_unwind(uw->cfi, uw->maps, in, pcs, max, &n, &why);
	uw->past_end = sp_cfi_past_end(uw->cfi);
	uw->want_end = sp_cfi_want_end(uw->cfi);
	if (done == SP_CFI_DONE) {
		uw->st.fast_stacks++;
		return n;
	}
	uw->st.fallbacks[why]++;
	return run_libunwind(uw, in, pcs, max, 1);
}

int sp_unwind_past_end(const struct sp_unwinder *uw)
{
	/* After a fallback the fast path's partial walk counts too: it is
	 * harmless (a longer copy, then the same result). */
	return uw->past_end;
}

int sp_unwind_cut(const struct sp_unwinder *uw, const struct sp_uw_input *in)
{
	return in->stack_asked && in->stack_len >= in->stack_asked &&
	       uw->past_end;
}

uint64_t sp_unwind_want_end(const struct sp_unwinder *uw)
{
	return uw->want_end;
}

/* libunwind's walk.  With stop_outside, a pc after the first that lies in
 * no loaded object is the last one (see the file comment). */
static int run_libunwind(struct sp_unwinder *uw, const struct sp_uw_input *in,
                         uint64_t *pcs, int max, int stop_outside)
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
		if (stop_outside && n > 1 && !sp_maps_find(uw->maps, ip))
			break;
	} while (n < max && unw_step(&cur) > 0);
	return n;
}

int sp_unwind_libunwind(struct sp_unwinder *uw, const struct sp_uw_input *in,
                        uint64_t *pcs, int max, int uncached)
{
	int n;

	uw->past_end = 0;
	uw->want_end = 0;
	if (!uncached)
		return run_libunwind(uw, in, pcs, max, 0);
	/* Each policy change flushes libunwind's cache. */
	unw_set_caching_policy(uw->as, UNW_CACHE_NONE);
	n = run_libunwind(uw, in, pcs, max, 0);
	unw_set_caching_policy(uw->as, UNW_CACHE_GLOBAL);
	return n;
}
