/*
 * kcap.h - does this kernel deliver CPU-timer signals on return to user
 * mode (CONFIG_POSIX_CPU_TIMERS_TASK_WORK)?  That is what makes the signal
 * back-end unable to interrupt a system call: the expiry is handled as task
 * work after the syscall's result is final, instead of in the tick
 * interrupt, which can catch a thread in the kernel just before it sleeps.
 *
 * Sources, best first: /boot/config-$(uname -r), /proc/config.gz, then the
 * kernel version and architecture (x86 selects it since 5.9, riscv since
 * 6.1; elsewhere the version alone says nothing).
 */
#ifndef SP_KCAP_H
#define SP_KCAP_H

#include <stddef.h>

enum sp_kcap_state {
	SP_KCAP_ABSENT = 0,
	SP_KCAP_PRESENT = 1,
	SP_KCAP_UNKNOWN = 2,
};

struct sp_kcap {
	int task_work;        /* enum sp_kcap_state */
	char source[320];     /* where that came from, for the metadata */
};

/* One line of a kernel .config: SP_KCAP_PRESENT for
 * "CONFIG_POSIX_CPU_TIMERS_TASK_WORK=y", SP_KCAP_ABSENT for "# ... is not
 * set", -1 for any other line. */
int sp_kcap_config_line(const char *line);

/* From a kernel release ("5.10.0-23-amd64") and machine ("x86_64"). */
int sp_kcap_from_version(const char *release, const char *machine);

/* Detect for the running kernel.  config_paths (NULL-terminated, NULL for
 * the defaults) lets tests point at their own files; a path ending in .gz
 * is read through zlib. */
void sp_kcap_detect(struct sp_kcap *out, const char *const *config_paths);

#endif
