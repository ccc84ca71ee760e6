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
	 */
	int64_t error_bound_ns;
	/* Feasible slope range (status OK only). */
	long double slope_min;
	long double slope_max;
	/* Number of upper and lower points the fit used. */
	uint64_t upper_count;
	uint64_t lower_count;
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
 */
enum vmt_status vmt_sync_fit_points(const struct vmt_sync_point *upper, size_t upper_count,
				    const struct vmt_sync_point *lower, size_t lower_count,
				    int64_t span_begin_ns, int64_t span_end_ns,
				    struct vmt_sync_fit *fit);

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
 * until the next add or destroy). Returns false if none matched.
 */
bool vmt_sync_matcher_borrow_points(const struct vmt_sync_matcher *matcher, uint64_t vm_uid,
				    const struct vmt_sync_point **upper, size_t *upper_count,
				    const struct vmt_sync_point **lower, size_t *lower_count);

/* Number of events whose key was already seen (kept out of the fit). */
uint64_t vmt_sync_matcher_duplicate_count(const struct vmt_sync_matcher *matcher);

#endif /* VMTRACE_LIB_SYNC_H */
