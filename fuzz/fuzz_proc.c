/*
 * fuzz_proc.c - libFuzzer target for the /proc parsers (proc_parse.c):
 * the first byte picks the parser, the rest is the file content.  The
 * buffer is copied to an exact-size allocation so that ASan catches a
 * read one byte past the end (the kernel's files are not NUL-terminated
 * when read with read(2)).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proc_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, name[16];
	uint64_t start;
	long nr;
	unsigned long sp, pc;

	if (size < 1)
		return 0;
	buf = malloc(size - 1 ? size - 1 : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	switch (data[0] % 4) {
	case 0:
		sp_parse_stat_starttime(buf, size - 1, &start);
		break;
	case 1:
		sp_parse_comm(buf, size - 1, name);
		if (strlen(name) > 15)
			abort();
		break;
	case 2:
		if (sp_parse_syscall(buf, size - 1, &nr, &sp, &pc) == 1 &&
		    nr < 0)
			abort();
		break;
	default: {
		/* A directory entry name is NUL-terminated. */
		char *z = malloc(size);
		if (z) {
			memcpy(z, data + 1, size - 1);
			z[size - 1] = '\0';
			if (sp_parse_tid(z) < 0)
				abort();
			free(z);
		}
		break;
	}
	}
	free(buf);
	return 0;
}
