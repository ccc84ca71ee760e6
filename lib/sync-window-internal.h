/* SPDX-License-Identifier: MIT */
/*
 * Private parts of window sync, shared by sync-window.c (assignment, trim,
 * result), sync-window-seed.c (the coarse seed) and sync-window-hull.c
 * (exact hulls and the feasible polygon).
 *
 * Coordinates. g0 is the first guest event's time. A guest event at g has
 * x = g - g0. Host times h become s = h - g0 in the seed, and offsets
 * y = (h - g) - y0 in the hulls, with y0 the seed's offset, so that every
 * anchored value stays small. A clock line is y = b + eps * x, that is
 * h = g + eps * (g - g0) + b + y0 (alpha = 1 + eps).
 */
#ifndef VMTRACE_LIB_SYNC_WINDOW_INTERNAL_H
#define VMTRACE_LIB_SYNC_WINDOW_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "lib/status.h"
#include "lib/sync-window.h"

/* Per-event states beside a window index (window indexes are below SW_STATE_FIRST). */
#define SW_STATE_PENDING UINT32_MAX
#define SW_STATE_VIOLATION (UINT32_MAX - 1)
#define SW_STATE_TRIMMED (UINT32_MAX - 2)
#define SW_STATE_FIRST (UINT32_MAX - 2)

/*
 * Largest |eps| the polygon admits: two NTP-slewed clocks differ by at most
 * 1000 ppm. It keeps the polygon bounded while the data leave the slope
 * open; the final fit does not use it.
 */
#define SW_MAX_EPS 1e-3L

/*
 * Most rates one seed grid sweeps (each holds one 96-byte sweep): the grid
 * has ~2 max_drift / tol_ns * slice span rates, 262 k at the defaults for a
 * slice of about 22 minutes. A wider grid is over budget, like one with too
 * many pairs (sync-window-seed.c).
 */
#define SW_MAX_SEED_RATES 262144

/* One constraint point of an assigned event, anchored, with its event. */
struct sw_point {
	int64_t x;
	int64_t y;
	uint32_t vcpu;
	uint64_t event;
};

/*
 * The hull of one kind of constraint, kept incrementally (points come in x
 * order). Exit points bound the line from above: their lower hull counts.
 * Entry points bound it from below: their upper hull.
 */
struct sw_hull {
	GArray *points; /* Owned: struct sw_point, x strictly increasing. */
	bool is_upper_hull;
};

/* A vertex of the feasible polygon's boundary: at `eps`, b lies in [lo, hi]. */
struct sw_vertex {
	long double eps;
	long double lo;
	long double hi;
};

/* The feasible (eps, b) polygon of the hulls, with eps clamped to SW_MAX_EPS. */
struct sw_polygon {
	/* Both hulls have points: the polygon is bounded (else every band is infinite). */
	bool is_bounded;
	/* Non-empty (meaningful when bounded). */
	bool is_feasible;
	/* The widest b gap over eps, where, and its middle (meaningful when bounded). */
	long double gap;
	long double gap_eps;
	long double gap_b;
	GArray *vertices; /* Owned: struct sw_vertex, eps increasing. */
	/* The vertices that gave the last band's ends: where the next search starts. */
	guint lo_index;
	guint hi_index;
	GArray *breaks; /* Owned: scratch, long double eps where the gap bends. */
	GArray *gaps; /* Owned: scratch, long double gap at each break. */
};

/* The seed: a coarse line and the slice of events it was found on. */
struct sw_seed {
	long double eps;
	/* How far the true rate may be from `eps`. */
	long double eps_spread;
	/* The best offset run [b_lo, b_hi) of s - x * (1 + eps), s = h - g0. */
	int64_t b_lo;
	int64_t b_hi;
	/* Events with x <= slice_end_x form the slice. */
	int64_t slice_end_x;
	uint64_t slice_event_count;
	uint64_t best_count;
	uint64_t second_count;
	int64_t search_ns;
	/* Rates swept over every attempt of this search: its work, bounded by the budget. */
	uint64_t rates_swept;
};

struct sw_estimator {
	const struct vmt_sync_window_vcpu *vcpus; /* Weak: the caller's. */
	size_t vcpu_count;
	const struct vmt_sync_window_config *config; /* Weak. */
	struct vmt_sync_window_result *result; /* Weak. */
	int64_t g0;
	int64_t y0;
	/* Per vCPU, per event: a window index or an SW_STATE_*. */
	uint32_t **states; /* Owned: array of owned arrays. */
	/* Exit and entry constraints of the assigned events. */
	struct sw_hull exits;
	struct sw_hull entries;
	struct sw_polygon polygon;
};

/* Starts an empty hull of exit points (lower hull) or entry points (upper hull). */
void vmt_sync_window_hull_init(struct sw_hull *hull, bool is_upper_hull);
void vmt_sync_window_hull_fini(struct sw_hull *hull);

/* Appends `point` (x >= every x so far), dropping the points it hides. */
void vmt_sync_window_hull_append(struct sw_hull *hull, struct sw_point point);

/* Replaces `dst`'s points by a copy of `src`'s. */
void vmt_sync_window_hull_copy(struct sw_hull *dst, const struct sw_hull *src);

/* The anchored constraint point of event `event` of vCPU `vcpu` at host time `host_ns`. */
struct sw_point vmt_sync_window_point(const struct sw_estimator *est, uint32_t vcpu, uint64_t event,
				      int64_t host_ns);

/*
 * Replaces the hull's vertex `index` (removed with its event) by the hull of
 * the assigned events between its neighbours, skipping `skip_vcpu`'s event
 * `skip_event`. The result is the hull of the remaining assigned events.
 * Returns VMT_STATUS_MEMORY_ERROR if the range's points cannot be held.
 */
enum vmt_status vmt_sync_window_hull_remove(const struct sw_estimator *est, struct sw_hull *hull,
					    size_t index, uint32_t skip_vcpu, uint64_t skip_event);

void vmt_sync_window_polygon_init(struct sw_polygon *polygon);
void vmt_sync_window_polygon_fini(struct sw_polygon *polygon);

/* Rebuilds `polygon` from the two hulls, each constraint relaxed by `slack_ns`. */
void vmt_sync_window_polygon_build(struct sw_polygon *polygon, const struct sw_hull *exits,
				   const struct sw_hull *entries, int64_t slack_ns);

/*
 * The host-time band [*lo_ns, *hi_ns] that the polygon allows for guest
 * time `guest_ns`, widened by a ns for rounding; infinite when unbounded.
 */
void vmt_sync_window_polygon_band(struct sw_estimator *est, int64_t guest_ns, int64_t *lo_ns,
				  int64_t *hi_ns);

/*
 * Finds the seed (steps 1 and 2 of sync-window.h): sets `seed`, and
 * `*status` to OK, NO_PEAK or AMBIGUOUS. Returns VMT_STATUS_MEMORY_ERROR
 * (with a cause) if the sweep's endpoints cannot be held.
 */
enum vmt_status vmt_sync_window_seed_find(const struct sw_estimator *est, struct sw_seed *seed,
					  enum vmt_sync_window_status *status);

/* Step 5: the trim. Returns VMT_STATUS_MEMORY_ERROR (with a cause) if a hull cannot be rebuilt. */
enum vmt_status vmt_sync_window_trim(struct sw_estimator *est);

/* qsort() order of `struct sw_point` by x (guest time). */
int vmt_sync_window_compare_points_by_x(const void *a, const void *b);

/* Index of the first window of `vcpu` whose exit is after `host_ns` (window_count if none). */
size_t vmt_sync_window_first_after(const struct vmt_sync_window_vcpu *vcpu, int64_t host_ns);

/*
 * The same, starting from `*hint` (the previous answer; 0 at first) and
 * leaving the answer there: callers walk events in time order, so the
 * answer is usually the hint or a window or two later, without a search.
 */
size_t vmt_sync_window_first_after_from(const struct vmt_sync_window_vcpu *vcpu, int64_t host_ns,
					size_t *hint);

/* Index of the first event of `vcpu` at or after guest time `guest_ns`. */
size_t vmt_sync_window_first_event(const struct vmt_sync_window_vcpu *vcpu, int64_t guest_ns);

#endif /* VMTRACE_LIB_SYNC_WINDOW_INTERNAL_H */
