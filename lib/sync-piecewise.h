/* SPDX-License-Identifier: MIT */
/*
 * Piecewise clock maps, and the piecewise window fit that builds them.
 *
 * Why: NTP (or chrony) slews CLOCK_MONOTONIC by changing its rate, by a few
 * ppm and up to 500 ppm, at each update (the kernel once a second). Over a
 * long trace, the guest-to-host relation is then not one line: the window
 * constraints of lib/sync-window.h contradict each other (INCONSISTENT), or
 * the feasible band of the one line shrinks and no longer contains the truth
 * everywhere. Window sync then fits the trace in segments and joins them.
 *
 * Segments (sync-window-piecewise.c). The guest's span is bisected, in guest
 * time, from the whole span down, and `vmt_sync_window_estimate()` runs on
 * each half (the vCPU event arrays are sliced by binary search; the windows
 * are given whole). A segment is split when it can be (it lasts at least
 * twice `min_segment_ns`, and each half holds `min_segment_events` events)
 * and either its own fit failed (not OK: INCONSISTENT, FEW_INSIDE, ...) or
 * both halves fit and both have a feasible band (`gap_ns`) wider than the
 * segment's by more than `split_gain_ns`. A clock that bends by d within a
 * segment narrows the segment's band by about d, and each half gains about
 * 3/4 of it. For a linear clock the halves gain only by chance, when the
 * tightest upper and lower constraints fall in different halves: a few ns
 * with dense events, but hundreds of ns with sparse ones (the simulator's
 * margins spread by 0.8 and 2.5 µs per window), which is why both halves
 * must gain (one gaining is common chance) and why the threshold is 200 ns
 * (with "one half", or 50 ns, a linear-looking trace was cut down to the
 * minimum, and shorter segments have wider bounds: their slope is less
 * known). Bending that stays below the threshold is harmless: the band of
 * a segment still contains the truth while the bending is under half the
 * smallest window margin (then the best line, shifted by the margin minus
 * the bending, stays feasible on both sides). The segment length thus adapts to the data:
 * tens of seconds and more for the slow NTP corrections of a settled clock,
 * down to `min_segment_ns` where the rate swings fast. A split is undone
 * when a half cannot be fitted at all (its subtree has no usable fit) and
 * the segment itself fitted. The minimum (0.5 s and 1,000 events by
 * default) keeps ten times the seed's slice (window-sync.md §2: 100 events,
 * 20 ms) in every segment, and window-sync.md §4 measured 50-130 ns errors
 * and 2.5-3.2 µs bounds on 100 ms (1,200 events); window-sync.md §5's
 * 10-60 s is what a segment may grow to, not what it must be.
 *
 * Pieces are used only when there are two segments or more; otherwise the
 * result is exactly the single line of `vmt_sync_window_estimate()` over the
 * whole span (always so for a trace shorter than twice the minimum).
 *
 * Joins. At the boundary J between segments i and i+1 the two centre lines
 * give c_i(J) and c_{i+1}(J); the knot H is their midpoint. Interior pieces
 * are the lines between consecutive knots; the first and last pieces keep
 * their segment's slope through their only knot. The map is continuous at
 * every knot (each piece is stored from its left knot, and evaluating the
 * previous piece at J gives H exactly), and strictly increasing in real
 * terms (every piece's slope is positive; the join fails otherwise and the
 * single line is used), so never back in time in integers either.
 *
 * Bound. Within segment i, any feasible line l of the segment's fit stays
 * within B_i (the fit's bound over its events' span) of the centre c_i; out
 * to the boundaries (beyond the first or last event, by d) within B_i +
 * (slope_max - slope_min) * d. The piece p and c_i are both lines, so
 * |p - c_i| is largest at the piece's ends: at the knots, where it is
 * |H - c_i(J)|. Hence |p - truth| <= B_i + extension + max knot deviation,
 * plus 2 ns for roundings (stored lines, knots). This uses the triangle
 * inequality, not the band's two edges: sync-fit.c computes the bound as
 * the largest |vertex line - centre| at the span's ends (a maximum of
 * functions linear in g, so convex: the upper band edge is convex, the
 * lower concave, and the distance of any line to them peaks at an end), but
 * only reports the maximum over both edges and both ends, so the edges at a
 * knot are not known separately. As for one line, the bound assumes the
 * clock is linear within each segment; the split rule keeps the bending
 * inside a segment well below the window margins.
 *
 * Conversion. `vmt_clock_pieces_apply()` keeps the index of the piece it
 * used last: guest events of all streams arrive in near time order, so the
 * next time is nearly always in that piece or the next one (two
 * comparisons); only a jump searches (binary search).
 */
#ifndef VMTRACE_LIB_SYNC_PIECEWISE_H
#define VMTRACE_LIB_SYNC_PIECEWISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/status.h"
#include "lib/sync-window.h"
#include "lib/sync.h"

/* One piece of a piecewise-linear clock map. */
struct vmt_clock_piece {
	/*
	 * Recorded guest ns from origin where the piece starts; it ends where the
	 * next one starts. The first piece also covers every earlier time, the
	 * last one every later time.
	 */
	int64_t begin_guest_ns;
	/* Host ns of a guest time in the piece. */
	struct vmt_clock_line line;
	/* Bound on the conversion error within the piece (ns), -1 if unknown. */
	int64_t error_bound_ns;
	/* Guest events of the piece's segment (which piece summarises the map). */
	uint64_t event_count;
};

/* A continuous, increasing, piecewise-linear map from guest to host time. */
struct vmt_clock_pieces {
	struct vmt_clock_piece *pieces; /* Owned: `count` pieces, by increasing begin. */
	size_t count;
	/*
	 * The piece used last, a cache for vmt_clock_pieces_apply(): changed
	 * through const holders of the map, which is safe because Babeltrace
	 * runs a graph in one thread and any value is a correct start.
	 */
	size_t hint;
};

/*
 * Copies `count` (>= 1) pieces, sorted by strictly increasing begin, into a
 * new map (the caller owns it). Aborts on allocation failure, like GLib.
 */
struct vmt_clock_pieces *vmt_clock_pieces_create(const struct vmt_clock_piece *pieces,
						 size_t count);

/* Frees `map` (NULL allowed). */
void vmt_clock_pieces_destroy(struct vmt_clock_pieces *map);

/* Index of the piece that converts `guest_ns` (binary search). */
size_t vmt_clock_pieces_find(const struct vmt_clock_pieces *map, int64_t guest_ns);

/*
 * Converts `guest_ns` to host ns with its piece, rounding to the nearest ns;
 * non-decreasing in `guest_ns`. O(1) for times near the previous call's.
 */
int64_t vmt_clock_pieces_apply(struct vmt_clock_pieces *map, int64_t guest_ns);

/* Index of the piece whose segment held the most events (the first of equals). */
size_t vmt_clock_pieces_main(const struct vmt_clock_pieces *map);

/* The largest bound of the pieces, -1 if one is unknown. */
int64_t vmt_clock_pieces_error_bound_ns(const struct vmt_clock_pieces *map);

/* Tuning of the piecewise window fit; see the file comment. */
struct vmt_sync_piecewise_config {
	/* The estimator's tuning for every segment; NULL: its defaults. Borrowed. */
	const struct vmt_sync_window_config *window;
	/* A segment is split only into halves at least this long ... */
	int64_t min_segment_ns;
	/* ... each holding at least this many events. */
	uint64_t min_segment_events;
	/* Band widening (ns) of both halves over their segment's that makes the split worth it. */
	int64_t split_gain_ns;
};

/* Fills `config` with the defaults: 0.5 s, 1,000 events, 200 ns. */
void vmt_sync_piecewise_config_init(struct vmt_sync_piecewise_config *config);

struct vmt_sync_piecewise_result {
	/* The single line over all the events: `vmt_sync_window_estimate()`'s result. */
	struct vmt_sync_window_result whole;
	/*
	 * The pieces when they are used (two or more), else NULL. Owned by the
	 * result until the caller takes it (vmt_sync_piecewise_result_fini()).
	 */
	struct vmt_clock_pieces *pieces;
	/*
	 * What callers read as "the" result: `whole` without pieces; with pieces,
	 * an OK result whose line is the main piece's, whose bound is the largest
	 * of the pieces', and whose counts add the segments' (seed: the first
	 * segment's).
	 */
	struct vmt_sync_window_result summary;
	/* Segments fitted in all (estimator runs), for logs. */
	uint64_t fit_count;
};

/*
 * Fits the guest clock from its vCPUs like `vmt_sync_window_estimate()`
 * (same arguments, borrowed), piecewise where the clock is not linear.
 * `config` may be NULL (defaults). Returns VMT_STATUS_OK with the outcome in
 * `result` (to be finished with vmt_sync_piecewise_result_fini()), or the
 * estimator's error (with its cause) when a segment cannot be estimated.
 */
enum vmt_status vmt_sync_window_estimate_piecewise(const struct vmt_sync_window_vcpu *vcpus,
						   size_t vcpu_count,
						   const struct vmt_sync_piecewise_config *config,
						   struct vmt_sync_piecewise_result *result);

/* Frees the pieces the result still owns. */
void vmt_sync_piecewise_result_fini(struct vmt_sync_piecewise_result *result);

#endif /* VMTRACE_LIB_SYNC_PIECEWISE_H */
