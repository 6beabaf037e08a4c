/*
 * unwind_cfi.c - the fast path of stack unwinding.  It keeps the compact
 * per-pc rules that eh_frame.c computes from .eh_frame in a fixed-size
 * cache (negative results too), and steps frames with them, so a repeated
 * unwind is a cache lookup and one or two reads of the stack copy per
 * frame.  Finding and interpreting the CFI is left to eh_frame.c.
 *
 * A frame whose rule failed is reported back to unwind.c, which hands the
 * stack to libunwind.  The walk stops by itself only where libunwind stops
 * too, so the two produce the same pcs (with one deliberate exception,
 * described in unwind.c).
 */
#include <stdint.h>
#include <string.h>

#include "eh_frame.h"
#include "internal.h"
#include "maps.h"
#include "unwind_cfi.h"

/*
 * The cache: 2-way set-associative, keyed by the pc the rule was computed
 * for (the leaf's pc, or a return address - 1).  16 bytes an entry, 32K
 * entries: 512 KiB, enough for the hot code of large programs.
 */
#define CACHE_SET_BITS 14
#define CACHE_SETS (1u << CACHE_SET_BITS)
#define CACHE_WAYS 2

/* The cache's size above assumes this. */
_Static_assert(sizeof(struct sp_eh_rule) == 16, "rule cache entry size");

struct sp_cfi {
	struct sp_eh_rule (*sets)[CACHE_WAYS];
	struct sp_cfi_stats st;
	int past_end; /* this walk wanted a word at or above the copy's end */
	uint64_t want_end; /* end of the highest stack word it wanted */
};

int sp_cfi_new(struct sp_cfi **out)
{
	struct sp_cfi *c = sp_calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->sets = sp_calloc(CACHE_SETS, sizeof(*c->sets));
	if (!c->sets) {
		sp_cfi_free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

void sp_cfi_free(struct sp_cfi *c)
{
	if (!c)
		return;
	sp_free(c->sets);
	sp_free(c);
}

void sp_cfi_flush(struct sp_cfi *c)
{
	memset(c->sets, 0, CACHE_SETS * sizeof(*c->sets));
	c->st.flushes++;
}

void sp_cfi_get_stats(const struct sp_cfi *c, struct sp_cfi_stats *out)
{
	*out = c->st;
}

int sp_cfi_past_end(const struct sp_cfi *c)
{
	return c->past_end;
}

uint64_t sp_cfi_want_end(const struct sp_cfi *c)
{
	return c->want_end;
}

static const struct sp_eh_rule *lookup(struct sp_cfi *c,
                                       struct sp_maps *maps, uint64_t pc)
{
	struct sp_eh_rule *set = c->sets[(pc * 0x9e3779b97f4a7c15ull) >>
	                           (64 - CACHE_SET_BITS)];

	struct sp_eh_rule *hit = NULL;

	c->st.lookups++;
	if (set[0].pc == pc && set[0].flags)
		hit = &set[0];
	else if (set[1].pc == pc && set[1].flags)
		hit = &set[1];
	/* "No object" is not final: the pc may be in an object loaded
	 * since, and sp_maps_find rescans (at most every 10 ms) to see. */
	if (hit && !((hit->flags & SP_EH_FAIL) &&
	             hit->aux == SP_CFI_NO_OBJECT && sp_maps_find(maps, pc)))
		return hit;
	c->st.misses++;
	if (hit) {
		sp_eh_frame_compute(maps, pc, hit);
		return hit;
	}
	/* The most recent entry goes to way 0, the older to way 1. */
	set[1] = set[0];
	sp_eh_frame_compute(maps, pc, &set[0]);
	return &set[0];
}

/* An 8-byte read of the stack copy; 0 if it is not all inside.  A word
 * that ends past the copy is noted: a longer copy might have held it
 * (probe.c copies little first and more only then). */
static int read_stack(struct sp_cfi *c, const struct sp_uw_input *in,
                      uint64_t addr, uint64_t *val)
{
	if (addr < in->stack_lo)
		return 0;
	if (addr + 8 > c->want_end)
		c->want_end = addr + 8;
	if (in->stack_len < 8 || addr - in->stack_lo > in->stack_len - 8) {
		c->past_end = 1;
		return 0;
	}
	memcpy(val, in->stack + (addr - in->stack_lo), 8);
	return 1;
}

int sp_cfi_unwind(struct sp_cfi *c, struct sp_maps *maps,
                  const struct sp_uw_input *in, uint64_t *pcs, int max,
                  int *n_frames, enum sp_cfi_why *why)
{
	uint64_t rip = in->regs[SP_REG_RIP], rsp = in->regs[SP_REG_RSP];
	uint64_t rbp = in->regs[SP_REG_RBP], lookup_pc = rip;
	int rbp_known = !!(in->have & (1u << SP_REG_RBP));
	int n = 0;

	c->past_end = 0;
	c->want_end = 0;
	pcs[n++] = rip;
	if (!(in->have & (1u << SP_REG_RSP))) {
		*why = SP_CFI_NO_REGS;
		return SP_CFI_FALLBACK;
	}
	while (n < max) {
		const struct sp_eh_rule *ru = lookup(c, maps, lookup_pc);
		uint64_t cfa, ra, addr, v = 0;

		if (ru->flags & SP_EH_FAIL) {
			if (ru->aux == SP_CFI_NO_OBJECT && n > 1)
				break; /* see unwind.c */
			*why = (enum sp_cfi_why)ru->aux;
			return SP_CFI_FALLBACK;
		}
		if (ru->flags & SP_EH_END)
			break;
		if ((ru->flags & SP_EH_LEAF_ONLY) && n > 1) {
			*why = SP_CFI_UNSUPPORTED;
			return SP_CFI_FALLBACK;
		}
		if (ru->flags & SP_EH_CFA_RBP) {
			/* Unknown means never given, or its save slot is
			 * outside the copy; every earlier frame had plain
			 * rules, so libunwind's rbp is the same register or
			 * slot, its read fails, and it stops here as well. */
			if (!rbp_known) {
				c->st.rbp_stops++;
				break;
			}
			cfa = rbp + (uint64_t)(int64_t)ru->cfa_off;
		} else {
			cfa = rsp + (uint64_t)(int64_t)ru->cfa_off;
		}
		if (ru->flags & SP_EH_CFA_DEREF) {
			/* Outside the copy (OpenSSL's "rsp-8,deref" reads
			 * below rsp): libunwind's read fails, and it stops
			 * here too, unless the word is in an object. */
			if (!read_stack(c, in, cfa, &v)) {
				if (!sp_maps_find_data(maps, cfa, 8))
					break;
				*why = SP_CFI_BAD_STEP;
				return SP_CFI_FALLBACK;
			}
			cfa = v + ru->aux;
		}
		/* A frame always lies above the callee's: otherwise the
		 * registers or the stack are not what the CFI expects. */
		if (cfa <= rsp) {
			*why = SP_CFI_BAD_STEP;
			return SP_CFI_FALLBACK;
		}
		/* libunwind stops as well when it cannot read the return
		 * address (end of the copy); its access_mem also serves
		 * the objects' segments, so a stack placed in an object's
		 * .bss is left to it. */
		addr = cfa + (uint64_t)(8 * (int64_t)ru->ra_off8);
		if (!read_stack(c, in, addr, &ra)) {
			if (!sp_maps_find_data(maps, addr, 8))
				break;
			*why = SP_CFI_BAD_STEP;
			return SP_CFI_FALLBACK;
		}
		if (ru->flags & SP_EH_BP_SAVED) {
			addr = cfa + (uint64_t)(8 * (int64_t)ru->bp_off8);
			rbp_known = read_stack(c, in, addr, &v);
			rbp = v;
			if (!rbp_known && sp_maps_find_data(maps, addr, 8)) {
				*why = SP_CFI_BAD_STEP;
				return SP_CFI_FALLBACK;
			}
		}
		rsp = cfa;
		rip = ra;
		if (rip == 0)
			break;
		pcs[n++] = rip;
		/* The call is the instruction before the return address:
		 * it may be the last one of its function. */
		lookup_pc = rip - 1;
	}
	*n_frames = n;
	return SP_CFI_DONE;
}
