/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of piecewise clock maps (lib/sync-piecewise.c) and of the
 * piecewise window fit (lib/sync-window-piecewise.c): lookups with the
 * cached piece in any order, joins that are continuous and increasing, and
 * on synthetic guest clocks slewed like NTP does (the rate steps every
 * second along a triangle wave) with random windows and events, an error
 * bound that holds at every event; a linear clock gives exactly the single
 * line of `vmt_sync_window_estimate()`.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "lib/common.h"
#include "lib/sync-piecewise.h"
#include "lib/sync-window.h"

#include "tap.h"

#define HOST_START INT64_C(1710410400000000000)
#define VCPUS 2

/* A slewed guest clock: rate 1 + drift + a triangle of `slew_ppb` over `period_s` 1-s steps. */
struct clock_knobs {
	int64_t drift_ppb;
	int64_t slew_ppb;
	int64_t period_s;
	int64_t offset_ns;
	int64_t duration_ns;
	uint64_t seed;
};

/* Per vCPU: windows (host ns), events (guest ns) and their true host times. */
struct sim {
	GArray *windows[VCPUS];
	GArray *events[VCPUS];
	GArray *truth[VCPUS];
	struct vmt_sync_window_vcpu vcpus[VCPUS];
};

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int64_t rng_range(int64_t lo, int64_t hi)
{
	return lo + (int64_t) (rng_next() % (uint64_t) (hi - lo + 1));
}

/* The slewed rate (ppb) of 1-s step `k`, as tools/vmsim does it. */
static int64_t step_rate_ppb(const struct clock_knobs *k, int64_t step)
{
	int64_t q = 4 * (step % k->period_s), n = k->period_s;

	if (q < n) {
		return k->slew_ppb * q / n;
	}
	if (q < 3 * n) {
		return k->slew_ppb * (2 * n - q) / n;
	}
	return k->slew_ppb * (q - 4 * n) / n;
}

/* Guest ns at host time `t` (exact integral of the rate, rounded down). */
static int64_t guest_at(const struct clock_knobs *k, int64_t t)
{
	int64_t d = t - HOST_START;
	__int128 ppb_ns = (__int128) d * (1000000000 + k->drift_ppb);

	for (int64_t s = 0; s * 1000000000 < d; s++) {
		int64_t len = MIN(d - s * 1000000000, 1000000000);

		ppb_ns += (__int128) step_rate_ppb(k, s) * len;
	}
	return HOST_START - k->offset_ns + (int64_t) (ppb_ns / 1000000000);
}

/* One window [entry, exit) of vCPU `v` and its events, 0.4-0.7 µs and 1.5-3 µs from the edges. */
static void add_window(struct sim *sim, const struct clock_knobs *k, int v, int64_t entry,
		       int64_t exit)
{
	struct vmt_sync_window w = { entry, exit };
	int64_t lo = entry + 400 + rng_range(0, 300), hi = exit - 1500 - rng_range(0, 1500);

	g_array_append_val(sim->windows[v], w);
	for (int64_t t = lo; t <= hi; t += rng_range(40000, 160000)) {
		int64_t g = guest_at(k, t);

		g_array_append_val(sim->events[v], g);
		g_array_append_val(sim->truth[v], t);
	}
	if (hi > lo && rng_range(0, 1)) {
		int64_t g = guest_at(k, hi);

		g_array_append_val(sim->events[v], g);
		g_array_append_val(sim->truth[v], hi);
	}
}

static void sim_build(struct sim *sim, const struct clock_knobs *k)
{
	rng_state = k->seed;
	memset(sim, 0, sizeof(*sim));
	for (int v = 0; v < VCPUS; v++) {
		int64_t t = HOST_START + rng_range(0, 50000);

		sim->windows[v] = g_array_new(FALSE, FALSE, sizeof(struct vmt_sync_window));
		sim->events[v] = g_array_new(FALSE, FALSE, sizeof(int64_t));
		sim->truth[v] = g_array_new(FALSE, FALSE, sizeof(int64_t));
		while (t < HOST_START + k->duration_ns) {
			int64_t exit = t + rng_range(5000, 250000);

			add_window(sim, k, v, t, exit);
			t = exit + rng_range(2000, 400000);
		}
		sim->vcpus[v] = (struct vmt_sync_window_vcpu){
			.windows = (const struct vmt_sync_window *) (void *) sim->windows[v]->data,
			.window_count = sim->windows[v]->len,
			.events = (const int64_t *) (void *) sim->events[v]->data,
			.event_count = sim->events[v]->len,
		};
	}
}

static void sim_fini(struct sim *sim)
{
	for (int v = 0; v < VCPUS; v++) {
		g_array_unref(sim->windows[v]);
		g_array_unref(sim->events[v]);
		g_array_unref(sim->truth[v]);
	}
}

/* Lookups with the cache, forwards, backwards and at random, agree with the search. */
static void test_map_lookup(void)
{
	struct vmt_clock_piece pieces[3] = {
		{ INT64_MIN, { 1000, 5000, 1.0L }, 10, 1 },
		{ 2000, { 2000, 6000, 0.5L }, 10, 5 },
		{ 4000, { 4000, 7000, 2.0L }, 10, 2 },
	};
	struct vmt_clock_pieces *map = vmt_clock_pieces_create(pieces, 3);
	bool ok = true;

	rng_state = 7;
	for (int i = 0; i < 3000; i++) {
		int64_t g = i < 1000 ? i * 6 :
			    i < 2000 ? 12000 - (i - 1000) * 6 :
				       rng_range(-10, 7000);
		size_t p = vmt_clock_pieces_find(map, g);

		ok &= vmt_clock_pieces_apply(map, g) == vmt_clock_line_apply(&pieces[p].line, g);
		ok &= map->hint == p;
	}
	OK(ok, "cached lookups agree with the binary search");
	IS_I64((int64_t) vmt_clock_pieces_find(map, 1999), 0, "piece before the first begin");
	IS_I64((int64_t) vmt_clock_pieces_find(map, 2000), 1, "piece at its begin");
	IS_I64((int64_t) vmt_clock_pieces_main(map), 1, "main piece: most events");
	IS_I64(vmt_clock_pieces_error_bound_ns(map), 10, "largest bound");
	vmt_clock_pieces_destroy(map);
	vmt_clock_pieces_destroy(NULL);
}

/* Continuous at every join (the previous piece reaches the knot exactly), increasing. */
static void check_joins(const char *what, struct vmt_clock_pieces *map)
{
	bool ok = true;

	for (size_t i = 1; i < map->count; i++) {
		const struct vmt_clock_piece *prev = &map->pieces[i - 1], *next = &map->pieces[i];
		int64_t j = next->begin_guest_ns;

		ok &= vmt_clock_line_apply(&prev->line, j) == vmt_clock_line_apply(&next->line, j);
		ok &= prev->line.slope > 0 && next->line.slope > 0;
		ok &= vmt_clock_pieces_apply(map, j - 1) <= vmt_clock_pieces_apply(map, j);
	}
	OK(ok, "%s: %zu pieces join continuously and increase", what, map->count);
}

/* Every event within its piece's bound; returns the largest error, checks monotony. */
static int64_t check_events(const char *what, const struct sim *sim, struct vmt_clock_pieces *map)
{
	int64_t worst = 0, outside = 0, backwards = 0;

	for (int v = 0; v < VCPUS; v++) {
		int64_t last = INT64_MIN;

		for (guint i = 0; i < sim->events[v]->len; i++) {
			int64_t g = g_array_index(sim->events[v], int64_t, i);
			int64_t h = vmt_clock_pieces_apply(map, g);
			int64_t err = llabs(h - g_array_index(sim->truth[v], int64_t, i));
			size_t p = vmt_clock_pieces_find(map, g);

			worst = MAX(worst, err);
			outside += err > map->pieces[p].error_bound_ns;
			backwards += h < last;
			last = h;
		}
	}
	IS_I64(outside, 0, what);
	IS_I64(backwards, 0, "converted times never go back on a vCPU");
	return worst;
}

static void test_slewed(const char *what, const struct clock_knobs *k)
{
	struct sim sim;
	struct vmt_sync_piecewise_result result;
	int64_t worst;

	sim_build(&sim, k);
	OK(vmt_sync_window_estimate_piecewise(sim.vcpus, VCPUS, NULL, &result) == VMT_STATUS_OK,
	   "%s: estimate runs", what);
	OK(result.pieces && result.pieces->count > 1, "%s: fitted in pieces (%zu)", what,
	   result.pieces ? result.pieces->count : 0);
	if (result.pieces) {
		check_joins(what, result.pieces);
		worst = check_events(what, &sim, result.pieces);
		OK(worst <= 2000, "%s: max error %" PRId64 " ns <= 2 us", what, worst);
		OK(result.summary.status == VMT_SYNC_WINDOW_OK &&
			   result.summary.fit.error_bound_ns ==
				   vmt_clock_pieces_error_bound_ns(result.pieces),
		   "%s: summary OK with the largest bound (%" PRId64 " ns)", what,
		   result.summary.fit.error_bound_ns);
	}
	OK(result.whole.status != VMT_SYNC_WINDOW_OK, "%s: one line does not fit (%s)", what,
	   vmt_sync_window_status_describe(result.whole.status));
	vmt_sync_piecewise_result_fini(&result);
	sim_fini(&sim);
}

/* A linear clock: exactly the single line of the plain estimator, no pieces. */
static void test_linear(const char *what, const struct clock_knobs *k)
{
	struct sim sim;
	struct vmt_sync_piecewise_result result;
	struct vmt_sync_window_result single;

	sim_build(&sim, k);
	OK(vmt_sync_window_estimate(sim.vcpus, VCPUS, NULL, &single) == VMT_STATUS_OK &&
		   vmt_sync_window_estimate_piecewise(sim.vcpus, VCPUS, NULL, &result) ==
			   VMT_STATUS_OK,
	   "%s: estimates run", what);
	OK(!result.pieces, "%s: no pieces", what);
	OK(memcmp(&result.summary.fit, &single.fit, sizeof(single.fit)) == 0 &&
		   result.summary.status == single.status &&
		   result.summary.assigned_count == single.assigned_count,
	   "%s: the single line's result (bound %" PRId64 " ns)", what, single.fit.error_bound_ns);
	vmt_sync_piecewise_result_fini(&result);
	sim_fini(&sim);
}

int main(void)
{
	struct clock_knobs slewed = { .drift_ppb = 35000,
				      .slew_ppb = 5000,
				      .period_s = 8,
				      .offset_ns = -3200000,
				      .duration_ns = INT64_C(12000000000),
				      .seed = 11 };
	struct clock_knobs linear = slewed;

	test_map_lookup();
	test_slewed("slewed 5 ppm / 8 s", &slewed);
	slewed.slew_ppb = -12000;
	slewed.period_s = 16;
	slewed.drift_ppb = -20000;
	slewed.seed = 12;
	test_slewed("slewed -12 ppm / 16 s", &slewed);
	linear.slew_ppb = 0;
	test_linear("linear 12 s", &linear);
	linear.duration_ns = 800000000;
	test_linear("linear 0.8 s", &linear);
	return tap_done();
}
