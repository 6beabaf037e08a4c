/*
 * fuzz_json_read.c - libFuzzer target for the JSON reader (see
 * fuzz_marshal_read.c).
 */
#include <stddef.h>
#include <stdint.h>

#include "readers.h"
#include "value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_value v;
	char err[256];

	if (sp_json_read(data, size, &v, err, sizeof(err)) == 0)
		sp_value_fini(&v);
	return 0;
}
