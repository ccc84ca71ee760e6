/* SPDX-License-Identifier: MIT */
/*
 * Clock synchronization math: exchange matching, the exact offline fit of
 * a guest clock to its host clock, and the resulting clock transform.
 *
 * All times are ns from the origin of their own clock (Unix epoch for
 * LTTng traces). The model is `t_host = alpha * t_guest + beta`. Each
 * constraint is a point (guest time g, host time h) that bounds the line
 * from one side:
 *
 * - an *upper* point says the line passes at or below it: the guest sent a
 *   message at g that the host received at h, so `alpha*g + beta <= h`;
 * - a *lower* point says the line passes at or above it: the host sent at h
 *   and the guest received at g, so `alpha*g + beta >= h`.
 *
 * A guest event inside a host vCPU window [entry, exit) gives one point of
 * each kind (window sync). The feasible (alpha, beta) region is the convex
 * polygon cut out by the lower convex hull of the upper points and the upper
 * convex hull of the lower points; orientation tests use 128-bit integers.
 */
#ifndef VMTRACE_LIB_SYNC_H
#define VMTRACE_LIB_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "lib/status.h"

struct vmt_sync_point {
	int64_t guest_ns;
	int64_t host_ns;
};

/*
 * A line `host = slope * (guest - ref_guest_ns) + ref_host_ns`. Anchoring
 * at a reference point keeps the products small enough for exact-to-the-ns
 * evaluation over days of trace.
 */
struct vmt_clock_line {
	int64_t ref_guest_ns;
	int64_t ref_host_ns;
	long double slope;
};

enum vmt_sync_fit_status {
	/* Both kinds of points, and a non-empty feasible region. */
	VMT_SYNC_FIT_OK,
	/* No point at all. */
	VMT_SYNC_FIT_NO_POINTS,
	/* Points of one kind only: the region is unbounded. */
	VMT_SYNC_FIT_ONE_WAY,
	/* The constraints contradict each other: the region is empty. */
	VMT_SYNC_FIT_INCONSISTENT,
};

struct vmt_sync_fit {
	enum vmt_sync_fit_status status;
	/* The centre of the feasible region (valid when status is OK). */
	struct vmt_clock_line line;
	/*
	 * Largest |line(g) - l(g)| over every feasible line l and every g in
	 * the span given to the fit, rounded up to the ns: a bound on the
	 * conversion error of any guest time in the span (status OK only).
	 *
	 * -1 when unknown: for every status but OK, and for OK when the points
	 * do not bound the slope (all at one guest time, or every upper point
	 * at or before, or at or after, every lower point): no bound exists.
	 * `vmt_clock_line_apply()` adds at most 0.5 ns of rounding to it.
	 */
	int64_t error_bound_ns;
	/*
	 * Feasible slope range (status OK only; an end the points leave open is
	 * -INFINITY or INFINITY). For NO_POINTS and ONE_WAY both are infinite;
	 * for INCONSISTENT both are the reported line's slope.
	 */
	long double slope_min;
	long double slope_max;
	/* Number of upper and lower points the fit used. */
	uint64_t upper_count;
	uint64_t lower_count;
	/*
	 * Width of the feasible host-time band at the centre's slope (ns): the
	 * centre line is `gap_ns / 2` from the nearest constraint. Negative for
	 * INCONSISTENT, where `-gap_ns / 2` is the largest violation of the
	 * reported line; INFINITY for NO_POINTS and ONE_WAY.
	 */
	long double gap_ns;
};

/* Evaluates `line` at `guest_ns`, rounding to the nearest ns; monotonic in `guest_ns`. */
int64_t vmt_clock_line_apply(const struct vmt_clock_line *line, int64_t guest_ns);

/* The line's `beta`: its value at guest time 0, rounded to the nearest ns. */
int64_t vmt_clock_line_offset_ns(const struct vmt_clock_line *line);

/* Writes the slope as a decimal string with 21 significant digits into `buf` (>= 32 bytes). */
void vmt_clock_line_format_slope(const struct vmt_clock_line *line, char *buf, size_t size);

/* The identity line (slope 1, no offset). */
struct vmt_clock_line vmt_clock_line_identity(void);

/*
 * Fits the feasible region of `upper` and `lower` points (borrowed; any
 * order) and its centre. `span_begin_ns`..`span_end_ns` (guest times) is
 * where the error bound must hold, typically the guest trace's time range.
 * Returns VMT_STATUS_MEMORY_ERROR on allocation failure, else VMT_STATUS_OK
 * with the outcome in `fit->status`.
 *
 * The centre is the max-margin line: the slope where the feasible offset
 * band is widest, with the offset in its middle. When the points leave the
 * slope open it is the slope nearest to 1 among the widest (or feasible)
 * ones. Its slope is kept within 1000 ppm of 1 (what two NTP-slewed clocks
 * can reach) whenever the region allows one, so that a few points over a
 * short span cannot produce a line that runs backwards; the region and the
 * bound are those of the points alone. For INCONSISTENT, `fit->line` is the
 * line that minimises the largest violation (for diagnostics); for
 * NO_POINTS and ONE_WAY it is the identity.
 *
 * Guest times and host-minus-guest offsets must each stay within 2^61 ns
 * (73 years) of the first upper point's, and so must the span's ends; else
 * the fit appends an error cause and returns VMT_STATUS_ERROR (as it does if
 * the fitted line cannot be stored, which takes absurd slopes).
 */
enum vmt_status vmt_sync_fit_points(const struct vmt_sync_point *upper, size_t upper_count,
				    const struct vmt_sync_point *lower, size_t lower_count,
				    int64_t span_begin_ns, int64_t span_end_ns,
				    struct vmt_sync_fit *fit);

/*
 * Keeps of `points` only what vmt_sync_fit_points() uses, so that a long
 * trace's points need not all stay in memory: `points[0]`, then the
 * vertices of the hull the fit takes (the lower hull of upper points,
 * `are_upper`, or the upper hull of lower points), by guest time. The fit
 * of the kept points is the fit of all of them (but for its counts), as
 * long as `anchor` is the first upper point (the fit's origin) and stays
 * so. Returns the new count; keeps every point when one is more than 2^61
 * ns from `anchor` (the fit will fail on it), when memory runs out, or
 * when nothing would be dropped.
 */
size_t vmt_sync_points_reduce(struct vmt_sync_point *points, size_t count, bool are_upper,
			      struct vmt_sync_point anchor);

/* The four vmsync events, and where the hypercall-only variant gets them. */
enum vmt_sync_event_kind {
	/* Guest `vmsync_gh_guest`: guest-to-host message sent. */
	VMT_SYNC_GH_GUEST,
	/* Host `vmsync_gh_host`, or `kvm_x86_hypercall` nr 5: received. */
	VMT_SYNC_GH_HOST,
	/* Host `vmsync_hg_host`, or the hypercall thread's next entry: sent. */
	VMT_SYNC_HG_HOST,
	/* Guest `vmsync_hg_guest`: host-to-guest message received. */
	VMT_SYNC_HG_GUEST,
};

/*
 * Matches vmsync halves by (vm_uid, cnt, direction), in any arrival order,
 * and keeps the matched pairs per vm_uid as upper (guest-to-host) and lower
 * (host-to-guest) points. Only the first event of each key is kept.
 */
struct vmt_sync_matcher;

struct vmt_sync_matcher *vmt_sync_matcher_create(void);
void vmt_sync_matcher_destroy(struct vmt_sync_matcher *matcher);

/* Records one half-exchange seen at `ns` (ns from origin of the emitting machine's clock). */
void vmt_sync_matcher_add(struct vmt_sync_matcher *matcher, enum vmt_sync_event_kind kind,
			  uint64_t vm_uid, uint64_t cnt, int64_t ns);

/*
 * Borrows the matched points of `vm_uid` (arrays owned by the matcher, valid
 * until the next add or destroy), reduced as vmt_sync_points_reduce() does:
 * what the fit needs, not every point. Returns false if none matched.
 */
bool vmt_sync_matcher_borrow_points(const struct vmt_sync_matcher *matcher, uint64_t vm_uid,
				    const struct vmt_sync_point **upper, size_t *upper_count,
				    const struct vmt_sync_point **lower, size_t *lower_count);

/* Number of upper and lower points matched for `vm_uid`, all of them (0 if none). */
void vmt_sync_matcher_point_counts(const struct vmt_sync_matcher *matcher, uint64_t vm_uid,
				   uint64_t *upper_count, uint64_t *lower_count);

/* Number of events whose key was already seen (kept out of the fit). */
uint64_t vmt_sync_matcher_duplicate_count(const struct vmt_sync_matcher *matcher);

/*
 * Number of halves still waiting for their other half. A key leaves the
 * table once matched (memory stays proportional to what is pending), so an
 * event whose key matched earlier waits here as a new half: a legitimate
 * `cnt` wrap-around then matches again.
 */
uint64_t vmt_sync_matcher_unmatched_count(const struct vmt_sync_matcher *matcher);

#endif /* VMTRACE_LIB_SYNC_H */
