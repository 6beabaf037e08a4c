/*
 * kcap.c - detection of CONFIG_POSIX_CPU_TIMERS_TASK_WORK (see kcap.h).
 * A config file that exists but does not mention the option means the
 * option is absent (the file lists every option of the build).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <zlib.h>

#include "internal.h"
#include "kcap.h"

#define SP_KCAP_OPTION "CONFIG_POSIX_CPU_TIMERS_TASK_WORK"

int sp_kcap_config_line(const char *line)
{
	size_t n = strlen(SP_KCAP_OPTION);

	while (*line == ' ' || *line == '\t')
		line++;
	if (!strncmp(line, SP_KCAP_OPTION, n)) {
		line += n;
		if (*line != '=')
			return -1; /* a longer name */
		return line[1] == 'y' && (line[2] == '\0' || line[2] == '\n' ||
		                          line[2] == '\r')
		           ? SP_KCAP_PRESENT
		           : SP_KCAP_ABSENT;
	}
	if (line[0] == '#') {
		line++;
		while (*line == ' ')
			line++;
		if (!strncmp(line, SP_KCAP_OPTION, n) &&
		    !strncmp(line + n, " is not set", 11))
			return SP_KCAP_ABSENT;
	}
	return -1;
}

int sp_kcap_from_version(const char *release, const char *machine)
{
	int major = 0, minor = 0;
	int x86, riscv;

	if (!release || !machine ||
	    sscanf(release, "%d.%d", &major, &minor) != 2)
		return SP_KCAP_UNKNOWN;
	x86 = !strcmp(machine, "x86_64") || !strcmp(machine, "i686") ||
	      !strcmp(machine, "i586") || !strcmp(machine, "i386");
	riscv = !strncmp(machine, "riscv", 5);
	if (x86)
		return major > 5 || (major == 5 && minor >= 9) ? SP_KCAP_PRESENT
		                                               : SP_KCAP_ABSENT;
	if (riscv)
		return major > 6 || (major == 6 && minor >= 1) ? SP_KCAP_PRESENT
		                                               : SP_KCAP_ABSENT;
	/* arm64 and others: not inferred from the version (arm64 selects it
	 * in recent kernels; a config file settles it). */
	return SP_KCAP_UNKNOWN;
}

/* Scan one config file.  Returns the state, or -1 when unreadable. */
static int scan_config(const char *path)
{
	char line[512];
	int state = SP_KCAP_ABSENT;
	gzFile gz;

	/* gzopen reads an uncompressed file transparently. */
	gz = gzopen(path, "rb");
	if (!gz)
		return -1;
	while (gzgets(gz, line, sizeof(line))) {
		int r = sp_kcap_config_line(line);
		if (r >= 0) {
			state = r;
			break;
		}
	}
	/* A read error midway is not "absent". */
	if (!gzeof(gz) && state == SP_KCAP_ABSENT) {
		int errnum;
		gzerror(gz, &errnum);
		if (errnum != Z_OK && errnum != Z_STREAM_END) {
			gzclose(gz);
			return -1;
		}
	}
	gzclose(gz);
	return state;
}

void sp_kcap_detect(struct sp_kcap *out, const char *const *config_paths)
{
	struct utsname u;
	char boot[300];
	const char *defaults[3];
	int have_uname = uname(&u) == 0;

	if (!config_paths) {
		snprintf(boot, sizeof(boot), "/boot/config-%s",
		         have_uname ? u.release : "?");
		defaults[0] = boot;
		defaults[1] = "/proc/config.gz";
		defaults[2] = NULL;
		config_paths = defaults;
	}
	for (size_t i = 0; config_paths[i]; i++) {
		int r = scan_config(config_paths[i]);
		if (r < 0)
			continue;
		out->task_work = r;
		snprintf(out->source, sizeof(out->source), "%s=%s in %s",
		         SP_KCAP_OPTION, r == SP_KCAP_PRESENT ? "y" : "n",
		         config_paths[i]);
		return;
	}
	out->task_work = have_uname ? sp_kcap_from_version(u.release, u.machine)
	                            : SP_KCAP_UNKNOWN;
	snprintf(out->source, sizeof(out->source),
	         "no kernel config readable; %s %s %s",
	         have_uname ? u.machine : "?", have_uname ? u.release : "?",
	         out->task_work == SP_KCAP_PRESENT  ? "selects it"
	         : out->task_work == SP_KCAP_ABSENT ? "predates it"
	                                            : "is not known to select it");
}
