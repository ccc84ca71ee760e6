/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of window sync's seed search (lib/sync-window-seed.c) through
 * its internal entry point: the work of the rate grid stays bounded on a
 * sparse guest whose span is huge and whose recorded clock is far from
 * every window (no candidate pair at any search range), and a plain input
 * still seeds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "lib/common.h"
#include "lib/sync-window-internal.h"

#include "tap.h"

/* Runs the seed search on one vCPU; returns its status, fills `seed`. */
static enum vmt_sync_window_status run_seed(const struct vmt_sync_window *windows,
					    size_t window_count, const int64_t *events,
					    size_t event_count, struct sw_seed *seed)
{
	struct vmt_sync_window_config config;
	struct vmt_sync_window_vcpu vcpu = { windows, window_count, events, event_count };
	struct sw_estimator est = { 0 };
	enum vmt_sync_window_status status = VMT_SYNC_WINDOW_NO_EVENTS;
	enum vmt_status ret;

	vmt_sync_window_config_init(&config);
	est.vcpus = &vcpu;
	est.vcpu_count = 1;
	est.config = &config;
	est.g0 = events[0];
	ret = vmt_sync_window_seed_find(&est, seed, &status);
	OK(ret == VMT_STATUS_OK, "seed search returns OK (got %d)", (int) ret);
	return status;
}

/*
 * A few guest events spread over `span_ns`, and windows far (> 1 s, the
 * widest search range) from every event's recorded time: no (event,
 * window) pair at any rate near 0. Before the grid was capped, the rate
 * grid had ~2e-7 * span rates: millions of sweeps for hours, an abort on
 * allocating one sweep per rate for years.
 */
static void check_sparse_no_pairs(const char *what, int64_t span_ns)
{
	int64_t events[4] = { 0, span_ns / 3, 2 * (span_ns / 3), span_ns };
	struct vmt_sync_window windows[8];
	struct sw_seed seed;
	enum vmt_sync_window_status status;

	/* Windows a minute before the first event: out of every search range. */
	for (size_t i = 0; i < G_N_ELEMENTS(windows); i++) {
		windows[i].entry_ns = -INT64_C(60000000000) + (int64_t) i * 1000000;
		windows[i].exit_ns = windows[i].entry_ns + 500000;
	}
	status = run_seed(windows, G_N_ELEMENTS(windows), events, G_N_ELEMENTS(events), &seed);
	OK(status == VMT_SYNC_WINDOW_NO_PEAK, "%s: no peak (got %d)", what, (int) status);
	/* At most four attempts (search ranges 50 ms .. 1 s), each at most one capped grid. */
	OK(seed.rates_swept <= 4 * (uint64_t) SW_MAX_SEED_RATES,
	   "%s: bounded work: %" PRIu64 " rates swept (cap %d per attempt)", what, seed.rates_swept,
	   SW_MAX_SEED_RATES);
}

static void test_sparse_hours_no_pairs(void)
{
	/* Three hours: ~2.2 M rates per attempt without the cap. */
	check_sparse_no_pairs("3 h span", INT64_C(3) * 3600 * 1000000000);
}

static void test_sparse_years_no_pairs(void)
{
	/* About three years: ~2e10 rates, a multi-terabyte allocation without the cap. */
	check_sparse_no_pairs("3 y span", INT64_C(100000000000000000));
}

/* A plain input (irregular windows, an event inside each, offset 1 ms) still seeds. */
static void test_plain_input_seeds(void)
{
	enum { N = 2000 };
	struct vmt_sync_window *windows = g_new(struct vmt_sync_window, N);
	int64_t *events = g_new(int64_t, N);
	struct sw_seed seed;
	enum vmt_sync_window_status status;

	uint64_t rng = 12345;
	int64_t entry = INT64_C(1000000000);

	for (size_t i = 0; i < N; i++) {
		/* Irregular spacing (50-150 us), so no shift by a period fits as well. */
		rng = rng * 6364136223846793005u + 1442695040888963407u;
		entry += 50000 + (int64_t) ((rng >> 33) % 100000);
		windows[i].entry_ns = entry;
		windows[i].exit_ns = entry + 45000;
		/* Recorded guest time: host time minus 1 ms, inside the window. */
		events[i] = windows[i].entry_ns + 20000 + (int64_t) (i % 13) * 2000 - 1000000;
	}
	status = run_seed(windows, N, events, N, &seed);
	OK(status == VMT_SYNC_WINDOW_OK, "plain input: seed found (got %d)", (int) status);
	OK(seed.rates_swept > 0 && seed.rates_swept <= SW_MAX_SEED_RATES,
	   "plain input: %" PRIu64 " rates swept", seed.rates_swept);
	OK(llabs(seed.b_lo + (seed.b_hi - seed.b_lo) / 2 - 1000000) <= 50000,
	   "plain input: offset run [%" PRId64 ", %" PRId64 ") is about 1 ms", seed.b_lo,
	   seed.b_hi);
	g_free(events);
	g_free(windows);
}

int main(void)
{
	test_plain_input_seeds();
	test_sparse_hours_no_pairs();
	test_sparse_years_no_pairs();
	return tap_done();
}
