/*
 * proc_parse.h - parsers of the /proc files the sampler reads, as pure
 * functions of a buffer (no I/O) so they can be unit-tested and fuzzed
 * (fuzz/fuzz_proc.c): a thread's stat start time, comm name, syscall
 * state, and a /proc/self/task directory entry name.  Every one takes
 * untrusted bytes: any content gives a value or an error, never a read
 * outside [buf, buf + len).
 */
#ifndef SP_PROC_PARSE_H
#define SP_PROC_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Field 22 (starttime) of /proc/.../stat, counted after the ")" that ends
 * the command name, which may itself hold spaces and parentheses.
 * Returns 0, -EINVAL or -ERANGE. */
int sp_parse_stat_starttime(const char *buf, size_t len, uint64_t *out);

/* /proc/.../comm: up to 15 bytes, the trailing newline and NULs removed,
 * into name[16] (always terminated). */
void sp_parse_comm(const char *buf, size_t len, char name[16]);

/* /proc/.../syscall: "running" -> 0; "-1 sp pc" (runnable in user mode)
 * -> 0; "nr a0..a5 sp pc" (blocked in syscall nr) -> 1 with *nr, *sp, *pc;
 * anything else -> -EINVAL. */
int sp_parse_syscall(const char *buf, size_t len, long *nr,
                     unsigned long *sp, unsigned long *pc);

/* A /proc/self/task entry: its tid, or 0 for "." / ".." / anything that
 * is not a whole positive decimal number. */
pid_t sp_parse_tid(const char *name);

#endif
