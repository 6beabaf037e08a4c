/*
 * test_dlclose.c - a library dlclose'd while the sampler still holds
 * samples (and cached maps) that point into it: the sampler must neither
 * crash nor hang.  The unwinder reads unwind tables through
 * sp_maps_read (process_vm_readv), which reports EFAULT for memory
 * unmapped since the last rescan instead of faulting.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "maps.h"
#include "stillprof.h"
#include "sampling_fixture.h"

#ifndef DLCLOSE_LIB
#error "DLCLOSE_LIB: path of the test library"
#endif

static void test_maps_read_reports_unmapped(void **state)
{
	static const char here[] = "readable";
	char buf[9];
	(void)state;

	assert_int_equal(sp_maps_read((uintptr_t)here, buf, 9), 0);
	assert_string_equal(buf, "readable");
	/* Page 0 is never mapped. */
	assert_int_equal(sp_maps_read(16, buf, 8), -EFAULT);
}

static void test_dlclose_while_sampling(void **state)
{
	struct stillprof_options o;
	struct stillprof_stats st;
	stillprof_session *s;
	int loops = 0;
	(void)state;

	if (!perf_usable())
		skip();
	alarm(120);
	stillprof_options_init(&o);
	o.mode = STILLPROF_MODE_CPU; /* rings drained every 10 ms: samples
	                              * of an unloaded library wait there */
	o.interval_us = 100;
	assert_int_equal(stillprof_session_new(&o, &s), 0);
	assert_int_equal(stillprof_session_start(s), 0);
	for (loops = 0; loops < 600; loops++) {
		void *h = dlopen(DLCLOSE_LIB, RTLD_NOW | RTLD_LOCAL);
		uint64_t (*work)(unsigned);

		assert_non_null(h);
		*(void **)&work = dlsym(h, "dlclose_lib_work");
		assert_non_null(work);
		work(200000 + (unsigned)loops * 97);
		assert_int_equal(dlclose(h), 0);
	}
	assert_int_equal(stillprof_session_stop(s), 0);
	assert_int_equal(stillprof_session_stats(s, &st), 0);
	printf("# %d dlopen/dlclose cycles sampled: %llu samples, %llu "
	       "unwinds\n", loops, (unsigned long long)st.samples,
	       (unsigned long long)st.unwinds);
	assert_true(st.samples > 0);
	/* The profile still resolves and writes (the library is gone:
	 * its frames are addresses). */
	assert_int_equal(stillprof_session_write(s, "/dev/null/x", 0) < 0, 1);
	stillprof_session_free(s);
	alarm(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_read_reports_unmapped),
		cmocka_unit_test(test_dlclose_while_sampling),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
