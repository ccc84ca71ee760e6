/* SPDX-License-Identifier: MIT */
/*
 * Window sync, step 1: the coarse, robust seed.
 *
 * For a clock rate eps, each (slice event x, window [E, X)) pair allows the
 * offsets b in [E - g0 - x(1 + eps), X - g0 - x(1 + eps)). The windows of
 * one vCPU are disjoint, so at any b the number of intervals covering it is
 * the number of slice events inside a window: a sweep over the sorted
 * endpoints gives that count as a function of b, and its peak is the
 * coarse line. The sweep runs for a grid of rates whose step shears the
 * slice by at most 2 tol_ns from one rate to the next.
 *
 * This is the only step that maximises a count, so it is the one that can
 * be fooled by aliases (windows come at a rough period); the ambiguity
 * check refuses a peak that does not stand out, and more events are the
 * cure. After it, assignments are forced by exact constraints.
 */
#define VMT_LOG_TAG "VMTRACE/SYNC-WINDOW"
#include "lib/log.h"

#include <math.h>

#include <glib.h>

#include "lib/sync-window-internal.h"

/* A maximal offset range [lo, hi) over which the count is constant. */
struct run {
	int64_t lo;
	int64_t hi;
	uint64_t count;
};

/* What one rate of the grid saw: the best run, its hill, the best run outside it. */
struct sweep {
	long double eps;
	/* For the rate picked from the grid: how far off the rate may be (see pick_rate()). */
	long double eps_spread;
	struct run best;
	int64_t hill_lo;
	int64_t hill_hi;
	uint64_t second;
	int64_t second_at;
};

/* The slice: the events with x <= end_x, every `stride`-th of each vCPU. */
struct slice {
	int64_t end_x;
	uint64_t stride;
	uint64_t event_count;
	int64_t search_ns;
};

/*
 * Endpoints are 32-bit keys 2(b + bias) (an interval ends at b) and
 * 2(b + bias) + 1 (one starts at b), bias = search_ns + 1: sorted, ends come
 * first at equal b, so touching intervals never count twice. Offsets lie
 * in [-bias, bias], so keys fit 32 bits up to SW_MAX_SEARCH_NS.
 */
#define SW_MAX_SEARCH_NS 1000000000

static int64_t key_offset(uint32_t key, int64_t bias)
{
	return (int64_t) (key >> 1) - bias;
}

/*
 * LSD radix sort, 11 bits a pass: the sweep sorts millions of keys per
 * rate, where qsort's comparator calls cost 20 times more. Returns the
 * sorted array, `keys` or `tmp`.
 */
static uint32_t *radix_sort(uint32_t *keys, uint32_t *tmp, size_t count)
{
	for (int shift = 0; shift < 32; shift += 11) {
		size_t offsets[2048] = { 0 }, sum = 0;
		uint32_t *swap;

		for (size_t i = 0; i < count; i++) {
			offsets[(keys[i] >> shift) & 2047]++;
		}
		for (size_t d = 0; d < 2048; d++) {
			size_t n = offsets[d];

			offsets[d] = sum;
			sum += n;
		}
		for (size_t i = 0; i < count; i++) {
			tmp[offsets[(keys[i] >> shift) & 2047]++] = keys[i];
		}
		swap = keys;
		keys = tmp;
		tmp = swap;
	}
	return keys;
}

static size_t first_entry_from(const struct vmt_sync_window_vcpu *vcpu, int64_t host_ns)
{
	size_t lo = 0, hi = vcpu->window_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (vcpu->windows[mid].entry_ns >= host_ns) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	return lo;
}

/* Number of slice events of vCPU `v` (before striding). */
static size_t slice_end(const struct sw_estimator *est, uint32_t v, int64_t end_x)
{
	return vmt_sync_window_first_event(&est->vcpus[v], est->g0 + end_x + 1);
}

/*
 * Counts the (slice event, window) pairs at rate `eps` whose offset
 * interval meets [-search_ns, search_ns]; when `keys` is not NULL, also
 * writes their endpoints (clamped just outside the range).
 */
static uint64_t foreach_pair(const struct sw_estimator *est, const struct slice *slice,
			     long double eps, uint32_t *keys)
{
	int64_t r = slice->search_ns;
	uint64_t pairs = 0;

	for (uint32_t v = 0; v < est->vcpu_count; v++) {
		const struct vmt_sync_window_vcpu *vcpu = &est->vcpus[v];
		size_t end = vcpu->window_count ? slice_end(est, v, slice->end_x) : 0;

		for (size_t i = 0; i < end; i += slice->stride) {
			int64_t x = vcpu->events[i] - est->g0;
			int64_t s = est->g0 + x + (int64_t) llroundl(eps * (long double) x);
			size_t first = vmt_sync_window_first_after(vcpu, s - r);
			size_t last = first_entry_from(vcpu, s + r);

			for (size_t w = first; keys && w < last; w++) {
				const struct vmt_sync_window *win = &vcpu->windows[w];
				int64_t lo = MAX(win->entry_ns - s, -r - 1);
				int64_t hi = win->exit_ns == VMT_SYNC_WINDOW_OPEN ?
						     r + 1 :
						     MIN(win->exit_ns - s, r + 1);

				keys[2 * (pairs + w - first)] = (uint32_t) (2 * (lo + r + 1) + 1);
				keys[2 * (pairs + w - first) + 1] = (uint32_t) (2 * (hi + r + 1));
			}
			pairs += last > first ? last - first : 0;
		}
	}
	return pairs;
}

/* Walks the runs of the sorted endpoints. */
struct run_cursor {
	const uint32_t *keys;
	size_t key_count;
	int64_t bias;
	size_t pos;
	int64_t count;
};

/* Net count change of the endpoints at the next offset; `*end` is past them. */
static int64_t group_delta(const struct run_cursor *c, size_t *end)
{
	int64_t b = key_offset(c->keys[c->pos], c->bias), delta = 0;
	size_t pos = c->pos;

	for (; pos < c->key_count && key_offset(c->keys[pos], c->bias) == b; pos++) {
		delta += (c->keys[pos] & 1) ? 1 : -1;
	}
	*end = pos;
	return delta;
}

/* Advances to the next run; offsets where the count does not change do not split it. */
static bool next_run(struct run_cursor *c, struct run *run)
{
	size_t end;

	if (c->pos >= c->key_count) {
		return false;
	}
	run->lo = key_offset(c->keys[c->pos], c->bias);
	c->count += group_delta(c, &end);
	c->pos = end;
	while (c->pos < c->key_count && group_delta(c, &end) == 0) {
		c->pos = end;
	}
	run->hi = c->pos < c->key_count ? key_offset(c->keys[c->pos], c->bias) : run->lo + 1;
	run->count = (uint64_t) MAX(c->count, 0);
	return true;
}

/*
 * Reads the peak off the sorted endpoints: the best run (widest among the
 * highest), its hill (the runs around it at >= 80 % of its height), and
 * the best run outside the hill: a distinct competitor.
 */
static void analyse_runs(const uint32_t *keys, size_t key_count, int64_t bias, struct sweep *sweep)
{
	struct run_cursor c = { keys, key_count, bias, 0, 0 };
	struct run run, best = { 0, 0, 0 };
	int64_t streak_lo = INT64_MIN;
	uint64_t threshold;
	bool is_in_hill = false;

	long double area = 0, span = 0, base;

	while (next_run(&c, &run)) {
		if (run.count > best.count ||
		    (run.count == best.count && run.hi - run.lo > best.hi - best.lo)) {
			best = run;
		}
		area += (long double) run.count * (long double) (run.hi - run.lo);
		span += (long double) (run.hi - run.lo);
	}
	sweep->best = best;
	sweep->hill_lo = best.lo;
	sweep->hill_hi = best.hi;
	/*
	 * The hill is 80 % of the way from the count at a random offset (the
	 * vCPUs' guest-mode duty times the events) up to the peak: at 99 % duty
	 * every offset counts 99 % of the events, and 80 % of the peak would
	 * make the whole range one hill, hiding a distinct equal peak.
	 */
	base = span > 0 ? area / span : 0;
	threshold = (uint64_t) ceill(base + 0.8L * ((long double) best.count - base));
	c = (struct run_cursor){ keys, key_count, bias, 0, 0 };
	while (next_run(&c, &run) && !(is_in_hill && run.count < threshold)) {
		if (run.count < threshold) {
			streak_lo = INT64_MIN;
		} else if (streak_lo == INT64_MIN) {
			streak_lo = run.lo;
		}
		if (run.lo == best.lo) {
			is_in_hill = true;
			sweep->hill_lo = streak_lo;
		}
		sweep->hill_hi = is_in_hill ? run.hi : sweep->hill_hi;
	}
	sweep->second = 0;
	c = (struct run_cursor){ keys, key_count, bias, 0, 0 };
	while (next_run(&c, &run)) {
		if ((run.hi <= sweep->hill_lo || run.lo >= sweep->hill_hi) &&
		    run.count > sweep->second) {
			sweep->second = run.count;
			sweep->second_at = run.lo + (run.hi - run.lo) / 2;
		}
	}
}

static enum vmt_status sweep_rate(const struct sw_estimator *est, const struct slice *slice,
				  long double eps, struct sweep *sweep)
{
	struct vmt_log_ctx log = VMT_LOG_CTX_INIT_STANDALONE(BT_LOGGING_LEVEL_NONE);
	uint64_t pairs = foreach_pair(est, slice, eps, NULL);
	uint32_t *keys = g_try_new(uint32_t, 2 * MAX(pairs, 1));
	uint32_t *tmp = g_try_new(uint32_t, 2 * MAX(pairs, 1));
	enum vmt_status status = VMT_STATUS_OK;

	if (!keys || !tmp) {
		vmt_log_append_cause(
			&log, VMT_LOG_TAG, __FILE__, __LINE__,
			"Cannot allocate the window sync seed's endpoints: pairs=%" PRIu64, pairs);
		status = VMT_STATUS_MEMORY_ERROR;
		goto end;
	}
	foreach_pair(est, slice, eps, keys);
	*sweep = (struct sweep){ .eps = eps };
	analyse_runs(radix_sort(keys, tmp, 2 * pairs), 2 * pairs, slice->search_ns + 1, sweep);

end:
	g_free(keys);
	g_free(tmp);
	return status;
}

/*
 * The best rate's strongest distinct competitor, over the whole grid. A
 * peak of another rate is the same peak if it lies within the best hill
 * widened by the shear between the two rates over the slice.
 */
static uint64_t distinct_second(const struct sweep *sweeps, size_t count, size_t top,
				const struct slice *slice, int64_t tol_ns)
{
	const struct sweep *best = &sweeps[top];
	uint64_t second = best->second;

	for (size_t k = 0; k < count; k++) {
		long double shear = fabsl(sweeps[k].eps - best->eps) * (long double) slice->end_x;
		int64_t margin = (int64_t) ceill(shear) + tol_ns;
		int64_t at = sweeps[k].best.lo + (sweeps[k].best.hi - sweeps[k].best.lo) / 2;

		if (k == top) {
			continue;
		}
		if (at < best->hill_lo - margin || at >= best->hill_hi + margin) {
			second = MAX(second, sweeps[k].best.count);
		}
		at = sweeps[k].second_at;
		if (sweeps[k].second &&
		    (at < best->hill_lo - margin || at >= best->hill_hi + margin)) {
			second = MAX(second, sweeps[k].second);
		}
	}
	return second;
}

/*
 * The grid rate to seed from. On busy vCPUs (long windows, short exits)
 * several rates put every slice event inside windows, and the widest
 * plateau among them is no likelier than the others: the truth lies within
 * the range of rates that tie, so the middle one is taken, and its
 * `eps_spread` (half the range plus half a step) says how far off it may be.
 */
static size_t pick_rate(struct sweep *sweeps, size_t count, long double step)
{
	size_t first = 0, last = 0, top = 0;

	for (size_t k = 1; k < count; k++) {
		if (sweeps[k].best.count > sweeps[first].best.count) {
			first = last = k;
		} else if (sweeps[k].best.count == sweeps[first].best.count) {
			last = k;
		}
	}
	top = first;
	for (size_t k = first; k <= last; k++) {
		size_t mid = first + (last - first) / 2;

		if (sweeps[k].best.count == sweeps[first].best.count &&
		    (k > mid ? k - mid : mid - k) < (top > mid ? top - mid : mid - top)) {
			top = k;
		}
	}
	sweeps[top].eps_spread = (sweeps[last].eps - sweeps[first].eps) / 2 + step / 2;
	return top;
}

/*
 * Sweeps the rate grid over `slice`; `*best` and `*second` get the peak and
 * its strongest distinct competitor; `*rates_swept` grows by the rates
 * swept. `*is_over_budget` is set (and nothing swept) when the grid would
 * exceed the budget:
 * - more than SW_MAX_SEED_RATES rates (one sweep each is held);
 * - more than `max_seed_pairs` units of work, a rate costing its pairs
 *   (estimated at rate 0), but at least its slice events (each is looked up
 *   twice per rate even when it pairs with no window). Counting pairs alone
 *   let a grid without pairs (recorded clocks far off) be as wide as the
 *   slice span allows: millions of rates for a sparse guest spanning hours.
 */
static enum vmt_status sweep_grid(const struct sw_estimator *est, const struct slice *slice,
				  struct sweep *best, uint64_t *second, bool *is_over_budget,
				  uint64_t *rates_swept)
{
	const struct vmt_sync_window_config *config = est->config;
	long double step = slice->end_x > 0 ? 2.0L * (long double) config->tol_ns /
						      (long double) slice->end_x :
					      INFINITY;
	long double half_rates = isinf(step) ? 0 : ceill(config->max_drift / step);
	int64_t half;
	size_t count, top;
	uint64_t rate_cost;
	struct sweep *sweeps;
	enum vmt_status status = VMT_STATUS_OK;

	/* `!(<=)` also catches a NaN (tol_ns = 0 with max_drift = 0). */
	*is_over_budget = !(half_rates <= (long double) (SW_MAX_SEED_RATES / 2));
	if (*is_over_budget) {
		return VMT_STATUS_OK;
	}
	half = (int64_t) half_rates;
	count = (size_t) (2 * half + 1);
	rate_cost = MAX(MAX(foreach_pair(est, slice, 0, NULL), slice->event_count), 1);
	*is_over_budget = rate_cost > config->max_seed_pairs / count;
	if (*is_over_budget) {
		return VMT_STATUS_OK;
	}
	sweeps = g_new0(struct sweep, count);
	for (size_t k = 0; k < count && status == VMT_STATUS_OK; k++) {
		status = sweep_rate(est, slice, (long double) ((int64_t) k - half) * step,
				    &sweeps[k]);
		(*rates_swept)++;
	}
	if (status == VMT_STATUS_OK) {
		top = pick_rate(sweeps, count, isinf(step) ? 0 : step);
		*best = sweeps[top];
		*second = distinct_second(sweeps, count, top, slice, config->tol_ns);
	}
	g_free(sweeps);
	return status;
}

/* Number of events on vCPUs with windows at x <= end_x (before striding). */
static uint64_t count_slice(const struct sw_estimator *est, int64_t end_x)
{
	uint64_t count = 0;

	for (uint32_t v = 0; v < est->vcpu_count; v++) {
		count += est->vcpus[v].window_count ? slice_end(est, v, end_x) : 0;
	}
	return count;
}

/* The smallest slice end holding `events` events (the span if there are fewer). */
static int64_t end_for_events(const struct sw_estimator *est, uint64_t events, int64_t span)
{
	int64_t lo = 0, hi = span;

	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;

		if (count_slice(est, mid) >= events) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	return lo;
}

/* Sets the slice's event count and stride: at most `cap` events enter the sweep. */
static void size_slice(const struct sw_estimator *est, struct slice *slice, uint64_t cap)
{
	uint64_t total = count_slice(est, slice->end_x);

	slice->stride = MAX((total + cap - 1) / MAX(cap, 1), 1);
	slice->event_count = 0;
	for (uint32_t v = 0; v < est->vcpu_count; v++) {
		uint64_t n = est->vcpus[v].window_count ? slice_end(est, v, slice->end_x) : 0;

		slice->event_count += (n + slice->stride - 1) / slice->stride;
	}
}

static void fill_seed(struct sw_seed *seed, const struct slice *slice, const struct sweep *best,
		      uint64_t second)
{
	seed->eps = best->eps;
	seed->eps_spread = best->eps_spread;
	seed->b_lo = best->best.lo;
	seed->b_hi = best->best.hi;
	seed->slice_end_x = slice->end_x;
	seed->slice_event_count = slice->event_count;
	seed->best_count = best->best.count;
	seed->second_count = second;
	seed->search_ns = slice->search_ns;
}

/*
 * Is the peak unambiguous? A wrong offset still puts each event inside some
 * window with probability d, the vCPUs' guest-mode duty, so a competitor
 * counts about d * n +- sqrt(n d (1 - d)). The peak must beat the best
 * distinct one by 4 of those deviations (d estimated as second / best), and
 * by 3 events. (window-sync.md asks for 5 % instead, which no slice size
 * can meet on vCPUs in guest mode more than 95 % of the time.)
 */
static bool stands_out(uint64_t best, uint64_t second)
{
	double d = best ? (double) second / (double) best : 0;
	double deviation = sqrt((double) best * d * (1 - d));

	return best >= second + 3 && (double) (best - second) >= 4 * deviation;
}

/*
 * Tries one search range: doubles the slice (and the events it samples)
 * while the peak is ambiguous. `*status` is OK, AMBIGUOUS, or NO_PEAK when
 * the best offset leaves too many slice events outside windows.
 */
static enum vmt_status try_range(const struct sw_estimator *est, int64_t search_ns, int64_t span,
				 struct sw_seed *seed, enum vmt_sync_window_status *status)
{
	const struct vmt_sync_window_config *config = est->config;
	struct slice slice = { .search_ns = search_ns };
	uint64_t cap = 2 * config->slice_events, second = 0;
	struct sweep best = { 0 };
	enum vmt_status ret;
	bool is_over_budget;

	slice.end_x =
		MIN(MAX(config->slice_ns, end_for_events(est, config->slice_events, span)), span);
	for (bool has_swept = false;; has_swept = true) {
		size_slice(est, &slice, cap);
		ret = sweep_grid(est, &slice, &best, &second, &is_over_budget, &seed->rates_swept);
		if (ret != VMT_STATUS_OK || is_over_budget) {
			/* Past the budget: the range cannot be searched, or the peak stays ambiguous. */
			*status = has_swept ? VMT_SYNC_WINDOW_AMBIGUOUS : VMT_SYNC_WINDOW_NO_PEAK;
			return ret;
		}
		fill_seed(seed, &slice, &best, second);
		if ((double) best.best.count <
		    config->min_seed_share * (double) slice.event_count) {
			*status = VMT_SYNC_WINDOW_NO_PEAK;
			return VMT_STATUS_OK;
		}
		*status = stands_out(best.best.count, second) ? VMT_SYNC_WINDOW_OK :
								VMT_SYNC_WINDOW_AMBIGUOUS;
		if (*status == VMT_SYNC_WINDOW_OK || slice.end_x >= span) {
			return VMT_STATUS_OK;
		}
		slice.end_x = slice.end_x > span / 2 ? span : 2 * slice.end_x;
		cap *= 2;
	}
}

enum vmt_status vmt_sync_window_seed_find(const struct sw_estimator *est, struct sw_seed *seed,
					  enum vmt_sync_window_status *status)
{
	const struct vmt_sync_window_config *config = est->config;
	int64_t max_search_ns = MIN(config->max_search_ns, SW_MAX_SEARCH_NS);
	int64_t span = 0, search_ns = MIN(config->search_ns, max_search_ns);
	enum vmt_status ret;

	for (uint32_t v = 0; v < est->vcpu_count; v++) {
		const struct vmt_sync_window_vcpu *vcpu = &est->vcpus[v];

		if (vcpu->event_count && vcpu->window_count) {
			span = MAX(span, vcpu->events[vcpu->event_count - 1] - est->g0);
		}
	}
	*seed = (struct sw_seed){ 0 };
	for (;;) {
		ret = try_range(est, search_ns, span, seed, status);
		/* Too few events inside windows may mean the recorded clocks are farther off. */
		if (ret != VMT_STATUS_OK || *status != VMT_SYNC_WINDOW_NO_PEAK ||
		    search_ns >= max_search_ns) {
			return ret;
		}
		search_ns = MIN(4 * search_ns, max_search_ns);
	}
}
