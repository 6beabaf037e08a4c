/*
 * fuzz_config.c - libFuzzer target for option parsing: the input is split
 * at NUL bytes into values for every STILLPROF_* variable (through
 * sp_options_from_lookup, so the process environment is never touched),
 * and each piece also goes through the single-value parsers (mode,
 * interval, format name, format by path, the bound flags).  Any input must
 * give a result or an error; an accepted option set must pass the same
 * checks stillprof_session_new applies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "stillprof.h"

static const char *const vars[] = {
	"STILLPROF_MODE", "STILLPROF_INTERVAL", "STILLPROF_RAW",
	"STILLPROF_MAX_DEPTH", "STILLPROF_MAX_STACKS", "STILLPROF_MAX_SAMPLES",
	"STILLPROF_OUT",
};
#define N_VARS (sizeof(vars) / sizeof(vars[0]))

struct pieces {
	const char *v[N_VARS];
};

static const char *get(void *ctx, const char *name)
{
	struct pieces *p = ctx;

	for (size_t i = 0; i < N_VARS; i++)
		if (!strcmp(name, vars[i]))
			return p->v[i];
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *s;
	struct pieces p = {{0}};
	struct stillprof_options o;
	char err[256];
	size_t k = 0;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (s = buf; k < N_VARS && s <= buf + size; s += strlen(s) + 1) {
		unsigned us;
		int m;

		p.v[k++] = s;
		stillprof_parse_mode(s, &m);
		if (stillprof_parse_interval(s, &us) == 0 &&
		    (us < 1 || us > 1000000))
			abort();
		stillprof_parse_format(s, &m);
		m = stillprof_format_for_path(s);
		if (m < 0 || m >= STILLPROF_FORMAT_COUNT)
			abort();
		sp_check_limit_option("STILLPROF_MAX_DEPTH", s, err, sizeof(err));
		sp_check_limit_option("STILLPROF_MAX_STACKS", s, err,
		                      sizeof(err));
		sp_check_limit_option("STILLPROF_MAX_SAMPLES", s, err,
		                      sizeof(err));
	}
	stillprof_options_init(&o);
	if (sp_options_from_lookup(&o, get, &p, err, sizeof(err)) == 0 &&
	    sp_options_check(&o) != 0)
		abort(); /* accepted from the environment, refused by new */
	free(buf);
	return 0;
}
