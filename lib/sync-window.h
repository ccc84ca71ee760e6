/* SPDX-License-Identifier: MIT */
/*
 * Window sync: fits a guest clock to its host clock with no sync event at
 * all, from the constraint that every guest event of vCPU n happened while
 * the host's vCPU n thread was in guest mode, inside one of its
 * `[kvm_x86_entry, kvm_x86_exit)` windows (docs/window-sync.md of the
 * shared folder).
 *
 * Steps:
 *
 * 1. Seed (robust, coarse): on a slice of the first guest events (>= 100
 *    events and >= 20 ms, at most 200 of them swept), a sweep over
 *    host-minus-guest offsets counts how many events fall inside a window,
 *    for a grid of clock rates (+-200 ppm, a step shearing the slice by
 *    2 µs). Among the rates that tie for the most events, the middle one is
 *    taken (busy vCPUs make several tie). The best peak must beat every
 *    distinct one (outside its hill at 80 % height) by 3 events and 4
 *    standard deviations of a chance count (window-sync.md's 5 % cannot be
 *    met by vCPUs in guest mode more than 95 % of the time); otherwise the
 *    slice is doubled. The offset search starts at +-50 ms around the
 *    recorded clocks and widens (x4, up to +-1 s) while no offset puts 90 %
 *    of the slice inside windows.
 * 2. Seed assignment: a slice event whose band around the coarse line (half
 *    the peak's width, plus 1 µs, plus the rate's uncertainty over the
 *    slice) meets exactly one window of its vCPU is assigned to it.
 * 3. Forced assignment, one streaming pass in guest time order: the
 *    assigned events bound the feasible (alpha, beta) polygon, which predicts
 *    a host-time band for the next event. If exactly one window of its vCPU
 *    meets the band, the event must lie in it and is assigned (two more
 *    constraints); if none does it is a violation (an outlier); if several
 *    do it stays unassigned. While assigning, every constraint is relaxed by
 *    2 µs, so that near-edge outliers cannot steer the polygon away from
 *    the truth (without it, 1 % of them derailed whole traces); after the
 *    trim (5), the unassigned events are tried again against the exact
 *    polygon, which recovers the tightest ones.
 * 4. Fit: the exact hull fit of lib/sync.h over the assigned events, each one
 *    an upper point (g, exit) and a lower point (g, entry): max-margin
 *    centre, and the fit's guaranteed bound as the error band.
 * 5. Trim (optional; near-edge outliers): genuine events crowd the window
 *    edges (every window samples the same minimal gaps), so the slacks of a
 *    side's tightest constraints are closely spaced; events that stand
 *    apart from that crowd on its tight side (by > 50 ns and > 16 times the
 *    crowd's spacing) are dropped one by one, the polygon recomputed each
 *    time. window-sync.md's jackknife (drop the binding event if that
 *    widens the gap by 200 ns) was tried first: a few outliers on one side
 *    mask each other, and none of them widens the gap alone.
 * 6. Alarm: the share of all guest events that the fitted line puts inside a
 *    window of their vCPU. Below 99.9 % the bound is not trusted (many
 *    near-edge outliers, lost host events, a guest `cpu_id` that is not the
 *    vCPU index, a trapping guest clocksource); window-sync.md measured
 *    99.85 % with 1 % of the events corrupted.
 *
 * Memory: the caller holds every window (16 bytes) and every guest event
 * time (8 bytes); the estimator adds 4 bytes per guest event (its
 * assignment), the seed sweep's endpoints (16 bytes per (slice event,
 * window) pair of one rate within the offset search range: ~100 k pairs at
 * +-50 ms; at +-1 s with 10 k windows/s, ~4 M pairs, 64 MB), and hulls and
 * polygons of a few dozen points. The hulls are built incrementally, so
 * the points of assigned events are never stored.
 *
 * Time: the streaming part is O(n) (amortised O(1) hull appends and band
 * searches, a polygon refresh every 64 assignments); the trim scans the
 * events once per round (one round on clean traces). The seed sweeps at
 * most `max_seed_pairs` (event, window) pairs over all its rates, a rate
 * counting at least its slice events, and at most 262144 rates per grid.
 */
#ifndef VMTRACE_LIB_SYNC_WINDOW_H
#define VMTRACE_LIB_SYNC_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"
#include "lib/sync.h"

/* The `exit_ns` of a window that was still open when the host trace ended. */
#define VMT_SYNC_WINDOW_OPEN INT64_MAX

/* One guest-mode window of a vCPU thread: [entry_ns, exit_ns), host ns from origin. */
struct vmt_sync_window {
	int64_t entry_ns;
	/* VMT_SYNC_WINDOW_OPEN when the trace ends in guest mode: no upper bound. */
	int64_t exit_ns;
};

/* What the estimator reads about one vCPU index of the guest. */
struct vmt_sync_window_vcpu {
	/* Borrowed: sorted by entry, disjoint (each exit <= the next entry). */
	const struct vmt_sync_window *windows;
	size_t window_count;
	/* Borrowed: recorded guest ns from origin of the events with this `cpu_id`, sorted. */
	const int64_t *events;
	size_t event_count;
};

/* Tuning; `vmt_sync_window_config_init()` gives window-sync.md's values. */
struct vmt_sync_window_config {
	/* First and widest +- range of the offset search around the recorded clocks. */
	int64_t search_ns;
	int64_t max_search_ns;
	/* +- range of the clock rate grid (alpha - 1). */
	long double max_drift;
	/* Shear allowed between two grid rates over the slice (sets the grid step). */
	int64_t tol_ns;
	/* Smallest seed slice: at least this many events and this guest time. */
	uint64_t slice_events;
	int64_t slice_ns;
	/* Share of the slice events the best offset must put inside windows. */
	double min_seed_share;
	/* Largest number of (event, window) pairs over one seed attempt's rate grid. */
	uint64_t max_seed_pairs;
	/* Assignments between two exact refreshes of the feasible polygon. */
	uint64_t refresh;
	/* Relaxation of every constraint while assigning (robustness to near-edge outliers). */
	int64_t assign_slack_ns;
	/*
	 * Trim: the tightest events of a side are dropped while they stand apart
	 * from the side's crowd by more than `trim_ns` and `trim_ratio` times the
	 * crowd's spacing (sync-window-trim.c); 0 disables the trim. At most
	 * `max_trims` events.
	 */
	int64_t trim_ns;
	uint64_t trim_ratio;
	uint64_t max_trims;
	/* Share of events inside windows below which the result is not trusted. */
	double min_inside_share;
	/*
	 * When not 0: after an OK fit, also the feasible gap of the assigned
	 * events before and after this guest time (`split_gap_ns`), which tells
	 * whether fitting the two halves apart would gain (lib/sync-piecewise.h)
	 * without running the estimator on them.
	 */
	int64_t split_guest_ns;
};

enum vmt_sync_window_status {
	/* A fit with a finite error bound, and enough events inside windows. */
	VMT_SYNC_WINDOW_OK,
	/* No guest event on a vCPU index that has windows. */
	VMT_SYNC_WINDOW_NO_EVENTS,
	/* No offset within the search range puts enough seed events inside windows. */
	VMT_SYNC_WINDOW_NO_PEAK,
	/* Two distinct offsets fit the seed about equally well, up to the largest slice. */
	VMT_SYNC_WINDOW_AMBIGUOUS,
	/* The assigned events do not bound the clock's slope (too few exits): no error bound. */
	VMT_SYNC_WINDOW_UNBOUNDED,
	/* The assigned events' constraints contradict each other (exact fit). */
	VMT_SYNC_WINDOW_INCONSISTENT,
	/*
	 * The fitted line puts too few guest events inside windows
	 * (`inside_count`): the line may still be close, its bound is not trusted.
	 */
	VMT_SYNC_WINDOW_FEW_INSIDE,
};

struct vmt_sync_window_result {
	enum vmt_sync_window_status status;
	/* The final fit (meaningful for OK and FEW_INSIDE; UNBOUNDED has no bound). */
	struct vmt_sync_fit fit;
	/* Every guest event given, and those on vCPU indexes without windows. */
	uint64_t event_count;
	uint64_t no_window_count;
	/* Events assigned to a window (and kept), found outside every window, trimmed. */
	uint64_t assigned_count;
	uint64_t violation_count;
	uint64_t trimmed_count;
	/* Events the fitted line puts inside a window of their vCPU. */
	uint64_t inside_count;
	/* Seed: slice events, best and best distinct count, slice span, search range. */
	uint64_t seed_event_count;
	uint64_t seed_best_count;
	uint64_t seed_second_count;
	int64_t seed_span_ns;
	int64_t seed_search_ns;
	/* Seed: the coarse line's rate (alpha - 1) and host-minus-guest offset at the first event. */
	long double seed_eps;
	int64_t seed_offset_ns;
	/*
	 * With `split_guest_ns`: the fit gap (`fit.gap_ns`) of the events this
	 * fit assigned before it and after it; NAN where not computed or not
	 * bounded.
	 */
	long double split_gap_ns[2];
};

/* Fills `config` with the defaults (window-sync.md §2). */
void vmt_sync_window_config_init(struct vmt_sync_window_config *config);

/*
 * Estimates the clock line of one guest from its vCPUs (`vcpu_count`
 * entries indexed by vCPU index = guest `cpu_id`; borrowed). `config` may be
 * NULL (defaults). The error bound holds over the guest events' span.
 * Returns VMT_STATUS_OK with the outcome in `result->status`, or
 * VMT_STATUS_MEMORY_ERROR (with a cause) when a buffer sized by the input
 * cannot be allocated, or VMT_STATUS_ERROR (with a cause) when the fit
 * cannot represent the times (beyond 73 years apart).
 */
enum vmt_status vmt_sync_window_estimate(const struct vmt_sync_window_vcpu *vcpus,
					 size_t vcpu_count,
					 const struct vmt_sync_window_config *config,
					 struct vmt_sync_window_result *result);

/* A sentence fragment saying why `result` is not usable ("" for OK), for causes and warnings. */
const char *vmt_sync_window_status_describe(enum vmt_sync_window_status status);

/* Share of the events inside windows, 0 when there is none. */
double vmt_sync_window_inside_share(const struct vmt_sync_window_result *result);

#endif /* VMTRACE_LIB_SYNC_WINDOW_H */
