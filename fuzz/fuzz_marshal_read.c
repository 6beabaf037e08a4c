/*
 * fuzz_marshal_read.c - libFuzzer target: the Marshal 4.8 decoder must
 * reject any byte string without crashing, leaking or reading out of
 * bounds (run under ASan/UBSan by `make fuzz`).
 */
#include <stddef.h>
#include <stdint.h>

#include "readers.h"
#include "value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_value v;
	char err[256];

	if (sp_marshal_read(data, size, &v, err, sizeof(err)) == 0)
		sp_value_fini(&v);
	return 0;
}
