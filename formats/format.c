/*
 * format.c - the output formats by name and file extension, shared by the
 * C API, the LD_PRELOAD activation (STILLPROF_FORMAT) and the CLI
 * (--format, and the default a file name implies).
 */
#include <string.h>

#include "internal.h"

struct format_entry {
	const char *name;
	const char *ext;
};

/* Indexed by enum stillprof_format. */
static const struct format_entry formats[STILLPROF_FORMAT_COUNT] = {
	[STILLPROF_FORMAT_STACKPROF] = {"stackprof", ".dump"},
	[STILLPROF_FORMAT_JSON] = {"json", ".json"},
	[STILLPROF_FORMAT_PPROF] = {"pprof", ".pb.gz"},
	[STILLPROF_FORMAT_COLLAPSED] = {"collapsed", ".folded"},
	[STILLPROF_FORMAT_SPEEDSCOPE] = {"speedscope", ".speedscope.json"},
};

int stillprof_parse_format(const char *name, int *format)
{
	if (!name)
		return STILLPROF_EBADFORMAT;
	if (!strcmp(name, "dump")) {
		*format = STILLPROF_FORMAT_STACKPROF;
		return 0;
	}
	for (int i = 0; i < STILLPROF_FORMAT_COUNT; i++) {
		if (!strcmp(name, formats[i].name)) {
			*format = i;
			return 0;
		}
	}
	return STILLPROF_EBADFORMAT;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

int stillprof_format_for_path(const char *path)
{
	if (!path)
		return STILLPROF_FORMAT_STACKPROF;
	/* Longest suffix first: ".speedscope.json" is also ".json". */
	if (ends_with(path, ".speedscope.json"))
		return STILLPROF_FORMAT_SPEEDSCOPE;
	if (ends_with(path, ".pb.gz") || ends_with(path, ".pprof"))
		return STILLPROF_FORMAT_PPROF;
	if (ends_with(path, ".json"))
		return STILLPROF_FORMAT_JSON;
	if (ends_with(path, ".folded") || ends_with(path, ".collapsed"))
		return STILLPROF_FORMAT_COLLAPSED;
	return STILLPROF_FORMAT_STACKPROF;
}

const char *stillprof_format_name(int format)
{
	if (format < 0 || format >= STILLPROF_FORMAT_COUNT)
		return NULL;
	return formats[format].name;
}

const char *stillprof_format_extension(int format)
{
	if (format < 0 || format >= STILLPROF_FORMAT_COUNT)
		return NULL;
	return formats[format].ext;
}
