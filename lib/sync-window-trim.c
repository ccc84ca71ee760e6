/* SPDX-License-Identifier: MIT */
/*
 * Window sync, step 5: trimming near-edge outliers.
 *
 * A guest event recorded just outside its window (an outlier within a few
 * µs of an edge) cannot be told apart from a genuine tight event by the
 * window constraint alone: it is assigned, and it cuts the feasible polygon
 * by its violation, so the band can exclude the truth. What tells them
 * apart is company. The minimal entry-to-event and event-to-exit gaps are
 * sampled by every window, so against the max-margin line the slacks of a
 * side's tightest genuine constraints are spread like a crowd's: spacings
 * of a few ns to tens of ns. Outliers stand apart from the crowd, on its
 * tight side. So each side's `SW_SCAN` tightest slacks are sorted, and if a
 * spacing among the tighter half exceeds both `trim_ns` and `trim_ratio`
 * times the mean spacing of the looser half, the events before it are a
 * separate group: the tightest of them is dropped, the polygon recomputed,
 * and the test repeated, up to `max_trims` times. While the polygon is
 * empty (relaxed assignment lets outliers in), an outlier is certainly
 * among the binding events: the tightest event of the side whose tightest
 * stands farthest from its next goes.
 *
 * window-sync.md's jackknife (drop the binding event when that widens the
 * gap by 200 ns) was tried first: a few outliers on one side mask each
 * other, and none of them widens the gap alone. A fixed "enough events
 * within 200 ns" rule was tried next: it trims genuine events of sparse
 * traces. Dropping constraints only widens the polygon, so a wrong drop
 * costs precision, never the bound's validity. Each round scans the
 * assigned events once (O(n)); clean traces need one round.
 */
#define VMT_LOG_TAG "VMTRACE/SYNC-WINDOW"
#include "lib/log.h"

#include <math.h>

#include <glib.h>

#include "lib/sync-window-internal.h"

/* Tightest slacks kept per side: outliers beyond half of them go undetected (the alarm rings). */
#define SW_SCAN 32

/* The tightest slacks of one side, ascending, and the event of the tightest. */
struct side_scan {
	long double slack[SW_SCAN];
	size_t count;
	size_t total;
	uint32_t vcpu;
	uint64_t event;
};

static void insert_slack(struct side_scan *scan, size_t keep, long double slack, uint32_t vcpu,
			 uint64_t event)
{
	size_t i;

	scan->total++;
	if (scan->count == keep && slack >= scan->slack[keep - 1]) {
		return;
	}
	i = scan->count < keep ? scan->count++ : keep - 1;
	for (; i > 0 && scan->slack[i - 1] > slack; i--) {
		scan->slack[i] = scan->slack[i - 1];
	}
	scan->slack[i] = slack;
	if (i == 0) {
		scan->vcpu = vcpu;
		scan->event = event;
	}
}

/* Slacks of one assigned event against the line b + eps * x (anchored). */
static void scan_event(const struct sw_estimator *est, uint32_t v, uint64_t i, size_t keep,
		       struct side_scan scans[2])
{
	const struct vmt_sync_window *w = &est->vcpus[v].windows[est->states[v][i]];
	int64_t g = est->vcpus[v].events[i];
	long double line = est->polygon.gap_b + est->polygon.gap_eps * (long double) (g - est->g0);

	if (w->exit_ns != VMT_SYNC_WINDOW_OPEN) {
		insert_slack(&scans[0], keep, (long double) (w->exit_ns - g - est->y0) - line, v,
			     i);
	}
	insert_slack(&scans[1], keep, line - (long double) (w->entry_ns - g - est->y0), v, i);
}

/*
 * Number of tightest events that stand apart from the side's crowd (see
 * the top comment), 0 if none or too few events to judge.
 */
static size_t count_separated(const struct sw_estimator *est, const struct side_scan *scan)
{
	size_t m = scan->count, half = m / 2;
	long double spacing, threshold;

	if (m < 8) {
		return 0;
	}
	spacing = (scan->slack[m - 1] - scan->slack[half]) / (long double) (m - 1 - half);
	threshold = fmaxl((long double) est->config->trim_ns,
			  (long double) est->config->trim_ratio * spacing);
	for (size_t j = half; j-- > 0;) {
		if (scan->slack[j + 1] - scan->slack[j] > threshold) {
			return j + 1;
		}
	}
	return 0;
}

/* How far the side's tightest stands from its next, for choosing while the polygon is empty. */
static long double first_spacing(const struct side_scan *scan)
{
	return scan->count >= 2 ? scan->slack[1] - scan->slack[0] : -INFINITY;
}

/* Scans every assigned event's slacks: exits into `scans[0]`, entries into `scans[1]`. */
static void scan_all(const struct sw_estimator *est, size_t keep, struct side_scan scans[2])
{
	for (uint32_t v = 0; v < est->vcpu_count; v++) {
		for (size_t i = 0; est->vcpus[v].window_count && i < est->vcpus[v].event_count;
		     i++) {
			if (est->states[v][i] < SW_STATE_FIRST) {
				scan_event(est, v, i, keep, scans);
			}
		}
	}
}

/* Finds the event to drop into `*vcpu`, `*event` (see the top comment); false if none. */
static bool find_outlier(const struct sw_estimator *est, uint32_t *vcpu, uint64_t *event)
{
	struct side_scan scans[2] = { { .count = 0 }, { .count = 0 } };
	size_t separated[2];
	int side = -1;

	scan_all(est, SW_SCAN, scans);
	for (int s = 0; s < 2; s++) {
		separated[s] = count_separated(est, &scans[s]);
		if (separated[s] && (side < 0 || scans[s].slack[0] < scans[side].slack[0])) {
			side = s;
		}
	}
	if (side < 0 && !est->polygon.is_feasible && (scans[0].count || scans[1].count)) {
		side = first_spacing(&scans[0]) >= first_spacing(&scans[1]) && scans[0].count ? 0 :
												1;
	}
	if (side < 0) {
		return false;
	}
	*vcpu = scans[side].vcpu;
	*event = scans[side].event;
	return true;
}

/* Index of the vertex of `hull` that holds (vcpu, event), or the hull's length. */
static size_t find_vertex(const struct sw_hull *hull, uint32_t vcpu, uint64_t event)
{
	for (guint i = 0; i < hull->points->len; i++) {
		const struct sw_point *p = &g_array_index(hull->points, struct sw_point, i);

		if (p->vcpu == vcpu && p->event == event) {
			return i;
		}
	}
	return hull->points->len;
}

/* Drops one event: its state, and its points from the hulls. */
static enum vmt_status drop_event(struct sw_estimator *est, uint32_t vcpu, uint64_t event)
{
	struct sw_hull *hulls[2] = { &est->exits, &est->entries };
	enum vmt_status status = VMT_STATUS_OK;

	/* Marked first: the hulls are rebuilt from the events still assigned. */
	est->states[vcpu][event] = SW_STATE_TRIMMED;
	for (int h = 0; h < 2 && status == VMT_STATUS_OK; h++) {
		size_t index = find_vertex(hulls[h], vcpu, event);

		if (index < hulls[h]->points->len) {
			status = vmt_sync_window_hull_remove(est, hulls[h], index, vcpu, event);
		}
	}
	est->result->trimmed_count++;
	return status;
}

enum vmt_status vmt_sync_window_trim(struct sw_estimator *est)
{
	const struct vmt_sync_window_config *config = est->config;
	enum vmt_status status = VMT_STATUS_OK;

	while (config->trim_ns > 0 && est->result->trimmed_count < config->max_trims &&
	       status == VMT_STATUS_OK) {
		uint32_t vcpu;
		uint64_t event;

		vmt_sync_window_polygon_build(&est->polygon, &est->exits, &est->entries, 0);
		if (!est->polygon.is_bounded || !find_outlier(est, &vcpu, &event)) {
			break;
		}
		status = drop_event(est, vcpu, event);
	}
	vmt_sync_window_polygon_build(&est->polygon, &est->exits, &est->entries, 0);
	return status;
}
