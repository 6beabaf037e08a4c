/*
 * test_sample_weight.c - the weights of perf samples from the event's
 * count (profiler/sample_weight.c): one interval per sample on time,
 * skipped timer expiries carried by the next sample, a grid whose phase
 * was first taken from a late sample, drift, a period change, credits,
 * the tail at close and the cap by the thread's CPU clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "sample_weight.h"

#define IV 100000u /* 100 us */

/* Deterministic lateness in [0, max). */
static uint64_t lcg(uint64_t *x, uint64_t max)
{
	*x = *x * 6364136223846793005ull + 1442695040888963407ull;
	return (*x >> 33) % max;
}

static void test_on_time(void **state)
{
	struct sp_weight w;
	uint64_t x = 1;
	(void)state;

	sp_weight_init(&w);
	/* The first period ends at iv: one interval. */
	assert_int_equal(sp_weight_next(&w, IV + 3000, IV), 1);
	/* Lateness varies from 0 to 90 % of a period: still one each. */
	for (uint64_t k = 2; k < 1000; k++)
		assert_int_equal(sp_weight_next(&w, k * IV + lcg(&x, IV * 9 / 10),
		                                IV), 1);
	assert_int_equal(w.given, 999);
}

static void test_skipped_periods(void **state)
{
	struct sp_weight w;
	(void)state;

	sp_weight_init(&w);
	assert_int_equal(sp_weight_next(&w, IV + 10, IV), 1);
	/* Due at 2 iv, taken 1.5 periods late: the expiry at 3 iv was
	 * skipped by the kernel, this sample stands for both. */
	assert_int_equal(sp_weight_next(&w, 3 * IV + IV / 2, IV), 2);
	/* The timer was forwarded to 4 iv. */
	assert_int_equal(sp_weight_next(&w, 4 * IV + 20, IV), 1);
	/* Five expiries without a sample (kernel mode, a lost record). */
	assert_int_equal(sp_weight_next(&w, 10 * IV + 5, IV), 6);
	assert_int_equal(w.given, 10);
}

/* The phase first seen was a late sample's: a later skipped period must
 * still be counted (rounding would keep losing it). */
static void test_late_reference(void **state)
{
	struct sp_weight w;
	uint64_t sum = 0;
	(void)state;

	sp_weight_init(&w);
	sum += sp_weight_next(&w, IV + IV * 7 / 10, IV);  /* 70 % late */
	sum += sp_weight_next(&w, 2 * IV + IV / 20, IV);  /* 5 % late */
	/* due 3 iv, 110 % late: 4 iv skipped */
	sum += sp_weight_next(&w, 4 * IV + IV / 10, IV);
	for (uint64_t k = 5; k <= 20; k++)
		sum += sp_weight_next(&w, k * IV + IV / 20, IV);
	assert_int_equal(sum, 20);
}

/* Random lateness, random skips: the weights add up to the periods due,
 * within one.  With `drift`, the count also runs on by that much per
 * sample outside the timer (through context switches), and the thread's
 * CPU clock, which does not, caps the weights. */
static void run_totals(uint64_t drift_per_sample)
{
	struct sp_weight w;
	uint64_t x = 7, due = 0, sum = 0, drift = 0, last = 0;

	sp_weight_init(&w);
	for (int i = 0; i < 20000; i++) {
		uint64_t late = lcg(&x, IV / 2), t, k;
		due++;
		/* One sample in eight is taken more than a period late. */
		if (lcg(&x, 8) == 0)
			late += IV + lcg(&x, 3 * IV);
		t = due * IV + drift + late;
		/* The kernel forwards the timer past t. */
		while ((due + 1) * IV + drift <= t)
			due++;
		k = sp_weight_next(&w, t, IV);
		if (k > 1 && drift_per_sample)
			k = sp_weight_trim(&w, k, 1, t - drift, IV);
		sum += k;
		drift += drift_per_sample;
		last = t;
	}
	sum += sp_weight_trim(&w, sp_weight_tail(&w, last, IV), 0,
	                      last - drift, IV);
	print_message("drift %llu: due %llu, given %llu\n",
	              (unsigned long long)drift_per_sample,
	              (unsigned long long)due, (unsigned long long)sum);
	assert_true(sum + 1 >= due && sum <= due + 1);
	assert_int_equal(sum, w.given);
}

static void test_totals(void **state)
{
	(void)state;
	run_totals(0);
	run_totals(IV / 50); /* 2 % */
}

/* A switch-heavy thread's period goes to 4 iv and back. */
static void test_rephase(void **state)
{
	struct sp_weight w;
	(void)state;

	sp_weight_init(&w);
	assert_int_equal(sp_weight_next(&w, IV + 10, IV), 1);
	assert_int_equal(sp_weight_next(&w, 2 * IV + 10, IV), 1);
	/* PERIOD set at 2.5 iv: the timer restarts there. */
	sp_weight_rephase(&w, 2 * IV + IV / 2, IV);
	assert_int_equal(sp_weight_next(&w, 6 * IV + IV / 2 + 30, IV), 4);
	assert_int_equal(sp_weight_next(&w, 10 * IV + IV / 2 + 5, IV), 4);
	/* Back to iv at 13.7 iv: three whole intervals are owed. */
	sp_weight_rephase(&w, 13 * IV + IV * 7 / 10, IV);
	assert_int_equal(sp_weight_next(&w, 14 * IV + IV * 7 / 10 + 5, IV), 4);
	assert_int_equal(sp_weight_next(&w, 15 * IV + IV * 7 / 10 + 5, IV), 1);
}

static void test_credit_and_tail(void **state)
{
	struct sp_weight w;
	(void)state;

	sp_weight_init(&w);
	/* 7.5 intervals of CPU before the event counted. */
	sp_weight_credit(&w, 7 * IV + IV / 2, IV);
	assert_int_equal(sp_weight_next(&w, IV + 10, IV), 8);
	assert_int_equal(sp_weight_next(&w, 2 * IV + 10, IV), 1);
	/* Closing at 2.9 iv: nothing whole is left. */
	assert_int_equal(sp_weight_tail(&w, 2 * IV + IV * 9 / 10, IV), 0);
	/* Records lost at the end: the periods due at 3 iv .. 8 iv. */
	assert_int_equal(sp_weight_tail(&w, 8 * IV + IV / 10, IV), 6);
	assert_int_equal(sp_weight_tail(&w, 8 * IV + IV / 5, IV), 0);
	/* A credit nobody took comes out at the tail. */
	sp_weight_credit(&w, 3 * IV, IV);
	assert_int_equal(sp_weight_tail(&w, 8 * IV + IV / 5, IV), 3);
	assert_int_equal(w.given, 18);
}

/* After lost records (wall mode) the gap is not given. */
static void test_resync(void **state)
{
	struct sp_weight w;
	(void)state;

	sp_weight_init(&w);
	assert_int_equal(sp_weight_next(&w, IV + 10, IV), 1);
	sp_weight_resync(&w);
	assert_int_equal(sp_weight_next(&w, 9 * IV + 40, IV), 1);
	/* The grid starts again at the resync sample. */
	assert_int_equal(sp_weight_next(&w, 10 * IV + 45, IV), 1);
	assert_int_equal(sp_weight_next(&w, 12 * IV + 50, IV), 2);
	/* A credit still comes with the next sample. */
	sp_weight_resync(&w);
	sp_weight_credit(&w, 2 * IV, IV);
	assert_int_equal(sp_weight_next(&w, 20 * IV, IV), 3);
	assert_int_equal(w.given, 8);
}

/* The count ran ahead of the thread's CPU clock: weights are capped. */
static void test_trim(void **state)
{
	struct sp_weight w;
	uint64_t k;
	(void)state;

	sp_weight_init(&w);
	w.cpu_base = 50 * IV; /* attached after 50 intervals of CPU */
	for (uint64_t i = 1; i <= 10; i++)
		assert_int_equal(sp_weight_next(&w, i * IV + 1, IV), 1);
	/* The count says 6 more, the CPU clock only 3.5 more. */
	k = sp_weight_next(&w, 16 * IV + 1, IV);
	assert_int_equal(k, 6);
	/* allowed: 13 + 1 */
	k = sp_weight_trim(&w, k, 1, 63 * IV + IV / 2, IV);
	assert_int_equal(k, 4);
	assert_int_equal(w.given, 14);
	/* Over the budget already: a taken sample still counts once. */
	k = sp_weight_next(&w, 18 * IV + 1, IV);
	assert_int_equal(k, 2);
	assert_int_equal(sp_weight_trim(&w, k, 1, 63 * IV + IV / 2, IV), 1);
	/* ... and a tail can be cut to nothing. */
	k = sp_weight_tail(&w, 20 * IV + 1, IV);
	assert_int_equal(k, 2);
	assert_int_equal(sp_weight_trim(&w, k, 0, 63 * IV + IV / 2, IV), 0);
	/* Within the budget: untouched. */
	k = sp_weight_tail(&w, 23 * IV + 1, IV);
	assert_int_equal(sp_weight_trim(&w, k, 0, 80 * IV, IV), 3);
	/* A clock before the base (no reading) changes nothing. */
	assert_int_equal(sp_weight_trim(&w, 9, 1, 10, IV), 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_on_time),
	    cmocka_unit_test(test_skipped_periods),
	    cmocka_unit_test(test_late_reference),
	    cmocka_unit_test(test_totals),
	    cmocka_unit_test(test_rephase),
	    cmocka_unit_test(test_credit_and_tail),
	    cmocka_unit_test(test_trim),
	    cmocka_unit_test(test_resync),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
