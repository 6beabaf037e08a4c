/*
 * fuzz_stackprof_read.c - libFuzzer target for the whole dump reader
 * (decoder, then the stackprof Hash into a store), Marshal or JSON by the
 * first two bytes.
 */
#include <stddef.h>
#include <stdint.h>

#include "readers.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_stackprof_read_info info;
	struct sp_store *st = NULL;
	char err[256];

	if (sp_stackprof_read_buf(data, size, &st, &info, err, sizeof(err)) == 0)
		sp_store_free(st);
	return 0;
}
