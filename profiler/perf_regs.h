/*
 * perf_regs.h - the user registers and stack bytes every sampling perf
 * event of ours asks for (backend_perf.c's task-clock event and
 * switch_sample.c's context-switch event), and the mapping of perf's
 * register numbers to the unwinder's DWARF ones.
 */
#ifndef SP_PERF_REGS_H
#define SP_PERF_REGS_H

#include <asm/perf_regs.h>
#include <stdint.h>

#include "unwind.h"

/* User registers we ask for, in perf's bit order.  DS/ES/FS/GS must stay
 * out (EINVAL on x86-64); FLAGS/CS/SS are useless for unwinding. */
#define SP_PERF_REGS_MASK                                                      \
	((1ull << PERF_REG_X86_AX) | (1ull << PERF_REG_X86_BX) |               \
	 (1ull << PERF_REG_X86_CX) | (1ull << PERF_REG_X86_DX) |               \
	 (1ull << PERF_REG_X86_SI) | (1ull << PERF_REG_X86_DI) |               \
	 (1ull << PERF_REG_X86_BP) | (1ull << PERF_REG_X86_SP) |               \
	 (1ull << PERF_REG_X86_IP) | (1ull << PERF_REG_X86_R8) |               \
	 (1ull << PERF_REG_X86_R9) | (1ull << PERF_REG_X86_R10) |              \
	 (1ull << PERF_REG_X86_R11) | (1ull << PERF_REG_X86_R12) |             \
	 (1ull << PERF_REG_X86_R13) | (1ull << PERF_REG_X86_R14) |             \
	 (1ull << PERF_REG_X86_R15))

/* Bytes of user stack copied per sample when a thread is attached: perf's
 * own --call-graph dwarf default.  stack_copy.c grows the copy of a
 * thread whose samples it cuts (each cut sample is counted). */
#define SP_PERF_STACK_BYTES 8192

static inline int sp_perf_to_dwarf(int perf_reg)
{
	switch (perf_reg) {
	case PERF_REG_X86_AX: return SP_REG_RAX;
	case PERF_REG_X86_BX: return SP_REG_RBX;
	case PERF_REG_X86_CX: return SP_REG_RCX;
	case PERF_REG_X86_DX: return SP_REG_RDX;
	case PERF_REG_X86_SI: return SP_REG_RSI;
	case PERF_REG_X86_DI: return SP_REG_RDI;
	case PERF_REG_X86_BP: return SP_REG_RBP;
	case PERF_REG_X86_SP: return SP_REG_RSP;
	case PERF_REG_X86_IP: return SP_REG_RIP;
	default:
		if (perf_reg >= PERF_REG_X86_R8 && perf_reg <= PERF_REG_X86_R15)
			return SP_REG_R8 + (perf_reg - PERF_REG_X86_R8);
		return -1;
	}
}

#endif
