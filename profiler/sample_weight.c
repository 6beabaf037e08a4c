/*
 * sample_weight.c - weights of perf samples from the event's count.
 *
 * A task-clock sampling event owns an hrtimer that fires every period of
 * the thread's CPU time.  When its interrupt comes late by a period or
 * more (a paravirtual guest takes tens of µs per timer interrupt, and a
 * preempted vCPU much longer), the kernel forwards the timer past the
 * missed expiries and takes one sample: the others are silently skipped.
 * An expiry that finds the thread in kernel mode takes no sample either
 * (exclude_kernel), and a full ring drops records (PERF_RECORD_LOST).
 * The count read with each sample says how much CPU time has passed, so
 * each sample is given the periods due since the previous one, as the
 * signal back-end weights a signal by its timer overruns.
 *
 * In count space the timer is due on a grid (k * iv from enable, the
 * timer being stopped and restarted with the remaining time around each
 * context switch) and every sample lands a little after a grid point:
 * lateness is never negative.  So `grid` estimates the last point
 * accounted for, and a sample at `count` stands for the grid points in
 * (grid, count].  Rounding instead would lose a skipped period for good
 * whenever the phase reference was itself a late sample.  The estimate
 * must not be later than the true grid (a sample then seems to stand for
 * no period: the true grid was earlier, and the estimate moves to it), and
 * should not fall far behind it (a sample late by less than a period would
 * seem to cover two): the grid drifts later by a little at every switch,
 * so after every SP_WEIGHT_WINDOW samples the estimate moves later by the
 * least lateness seen in the window.
 */
#include "sample_weight.h"

void sp_weight_init(struct sp_weight *w)
{
	w->grid = 0;
	w->owed = 0;
	w->min_late = UINT64_MAX;
	w->n_window = 0;
	w->last_t_ns = 0;
	w->given = 0;
	w->cpu_base = 0;
	w->resync = 0;
}

uint64_t sp_weight_next(struct sp_weight *w, uint64_t count, uint64_t iv)
{
	uint64_t k, late;

	if (!iv)
		return 1;
	if (w->resync) {
		w->resync = 0;
		k = 1;
		w->grid = count;
	} else if (count < w->grid + iv) {
		/* Before the next point of the estimated grid: the true
		 * grid is earlier (or the count went back, which a
		 * task-clock never does): it is here, this sample is one. */
		k = 1;
		w->grid = count;
	} else {
		k = (count - w->grid) / iv;
		w->grid += k * iv;
	}
	late = count - w->grid;
	if (late < w->min_late)
		w->min_late = late;
	if (++w->n_window >= SP_WEIGHT_WINDOW) {
		w->grid += w->min_late;
		w->min_late = UINT64_MAX;
		w->n_window = 0;
	}
	k += w->owed;
	w->owed = 0;
	w->given += k;
	return k;
}

uint64_t sp_weight_trim(struct sp_weight *w, uint64_t k, uint64_t least,
                        uint64_t cpu_ns, uint64_t iv)
{
	uint64_t allowed, cut;

	if (!iv || cpu_ns < w->cpu_base)
		return k;
	allowed = (cpu_ns - w->cpu_base) / iv + 1;
	if (w->given <= allowed || k <= least)
		return k;
	cut = w->given - allowed;
	if (cut > k - least)
		cut = k - least;
	w->given -= cut;
	return k - cut;
}

void sp_weight_resync(struct sp_weight *w)
{
	w->resync = 1;
}

void sp_weight_credit(struct sp_weight *w, uint64_t ns, uint64_t iv)
{
	if (iv)
		w->owed += ns / iv;
}

uint64_t sp_weight_tail(struct sp_weight *w, uint64_t count, uint64_t iv)
{
	uint64_t k = w->owed;

	if (iv && count > w->grid) {
		k += (count - w->grid) / iv;
		w->grid += (count - w->grid) / iv * iv;
	}
	w->owed = 0;
	w->given += k;
	return k;
}

void sp_weight_rephase(struct sp_weight *w, uint64_t count, uint64_t iv)
{
	if (iv && count > w->grid)
		w->owed += (count - w->grid) / iv;
	w->grid = count;
	w->min_late = UINT64_MAX;
	w->n_window = 0;
}
