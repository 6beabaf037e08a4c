/*
 * dlclose_lib.c - a library test_dlclose.c loads and unloads in a loop
 * while it is sampled: its code and unwind tables vanish under the
 * sampler.  Several frames deep so the unwinder needs its tables.
 */
#include <stdint.h>

static volatile uint64_t sink;

__attribute__((noinline)) static uint64_t leaf(unsigned n)
{
	uint64_t x = sink;
	for (unsigned i = 0; i < n; i++)
		x = x * 6364136223846793005ull + 1;
	sink = x;
	return x;
}

__attribute__((noinline)) static uint64_t mid(unsigned n)
{
	volatile char pad[64];
	pad[0] = (char)n;
	return leaf(n) + (uint64_t)pad[0];
}

__attribute__((visibility("default"))) uint64_t dlclose_lib_work(unsigned n)
{
	volatile char pad[32];
	pad[0] = 1;
	return mid(n) + (uint64_t)pad[0];
}
