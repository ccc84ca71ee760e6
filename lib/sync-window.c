/* SPDX-License-Identifier: MIT */
/*
 * Window sync: seed assignment, forced assignment in one streaming pass,
 * the jackknife trim, the exact fit and the inside-window alarm (see
 * sync-window.h for the method; the seed is in sync-window-seed.c, hulls
 * and the feasible polygon in sync-window-hull.c).
 */
#define VMT_LOG_TAG "VMTRACE/SYNC-WINDOW"
#include "lib/log.h"

#include <math.h>
#include <string.h>

#include <glib.h>

#include "lib/sync-window-internal.h"

/* An assignment not yet confirmed by an exact polygon refresh. */
struct batch_item {
	uint32_t vcpu;
	uint64_t event;
};

/* The streaming pass's state besides the estimator. */
struct stream {
	struct sw_estimator *est; /* Weak. */
	GArray *batch; /* Owned: struct batch_item, since the last refresh. */
	/* The hulls at the last refresh, where a contradicting batch rolls back to. */
	struct sw_hull saved_exits;
	struct sw_hull saved_entries;
	/* Per vCPU: next event and end of the events being merged. */
	size_t *next; /* Owned. */
	size_t *end; /* Owned. */
	/* Per vCPU: the window found last (vmt_sync_window_first_after_from()). */
	size_t *hint; /* Owned. */
};

void vmt_sync_window_config_init(struct vmt_sync_window_config *config)
{
	*config = (struct vmt_sync_window_config){
		.search_ns = 50000000,
		.max_search_ns = 1000000000,
		.max_drift = 200e-6L,
		.tol_ns = 1000,
		.slice_events = 100,
		.slice_ns = 20000000,
		.min_seed_share = 0.9,
		.max_seed_pairs = 128000000,
		.refresh = 64,
		.assign_slack_ns = 2000,
		.trim_ns = 50,
		.trim_ratio = 16,
		.max_trims = 256,
		.min_inside_share = 0.999,
	};
}

const char *vmt_sync_window_status_describe(enum vmt_sync_window_status status)
{
	switch (status) {
	case VMT_SYNC_WINDOW_OK:
		return "";
	case VMT_SYNC_WINDOW_NO_EVENTS:
		return "no guest event on a vCPU that has host entry/exit windows";
	case VMT_SYNC_WINDOW_NO_PEAK:
		return "no clock offset within 1 s of the recorded clocks puts 90 % of the first "
		       "guest events inside their vCPU's host entry/exit windows (guest `cpu_id` not "
		       "the vCPU index, a trapping guest clocksource, or clocks farther off)";
	case VMT_SYNC_WINDOW_AMBIGUOUS:
		return "several clock offsets put the guest events inside host entry/exit windows "
		       "about equally well (too few guest events, or too few exits)";
	case VMT_SYNC_WINDOW_UNBOUNDED:
		return "the host entry/exit windows do not bound the clock's slope (too few exits)";
	case VMT_SYNC_WINDOW_INCONSISTENT:
		return "no clock line puts the assigned guest events inside their windows";
	case VMT_SYNC_WINDOW_FEW_INSIDE:
		return "the fitted clock puts fewer than 99.9 % of the guest events inside their "
		       "vCPU's host entry/exit windows, so its error bound is not trusted (near-edge "
		       "outliers, lost host events, or a guest `cpu_id` that is not the vCPU index)";
	}
	return "unknown window sync status";
}

double vmt_sync_window_inside_share(const struct vmt_sync_window_result *result)
{
	return result->event_count ? (double) result->inside_count / (double) result->event_count :
				     0;
}

/* Starts merging the events [next[v], end[v]) of every vCPU with windows. */
static void merge_init(struct stream *stream, const size_t *next, const size_t *end)
{
	for (uint32_t v = 0; v < stream->est->vcpu_count; v++) {
		stream->next[v] = next ? next[v] : 0;
		stream->end[v] = stream->est->vcpus[v].window_count ? end[v] : 0;
	}
}

/* The next event in guest time over all vCPUs; false when none is left. */
static bool merge_next(struct stream *stream, uint32_t *vcpu, uint64_t *event)
{
	const struct sw_estimator *est = stream->est;
	bool has_event = false;

	for (uint32_t v = 0; v < est->vcpu_count; v++) {
		if (stream->next[v] < stream->end[v] &&
		    (!has_event ||
		     est->vcpus[v].events[stream->next[v]] < est->vcpus[*vcpu].events[*event])) {
			*vcpu = v;
			*event = stream->next[v];
			has_event = true;
		}
	}
	if (has_event) {
		stream->next[*vcpu]++;
	}
	return has_event;
}

/* Adds the constraints of event `event` of `vcpu` in window `window`. */
static void add_constraints(struct sw_estimator *est, uint32_t vcpu, uint64_t event,
			    uint32_t window)
{
	const struct vmt_sync_window *w = &est->vcpus[vcpu].windows[window];

	est->states[vcpu][event] = window;
	if (w->exit_ns != VMT_SYNC_WINDOW_OPEN) {
		vmt_sync_window_hull_append(&est->exits,
					    vmt_sync_window_point(est, vcpu, event, w->exit_ns));
	}
	vmt_sync_window_hull_append(&est->entries,
				    vmt_sync_window_point(est, vcpu, event, w->entry_ns));
}

static void assign(struct stream *stream, uint32_t vcpu, uint64_t event, uint32_t window)
{
	struct batch_item item = { vcpu, event };

	add_constraints(stream->est, vcpu, event, window);
	g_array_append_val(stream->batch, item);
}

/*
 * Replays the batch one event at a time from the saved hulls, refusing
 * (as violations) the events that would empty the polygon: the batch was
 * checked against a polygon up to `refresh` assignments old, which only
 * bounds the exact one from outside.
 */
static void replay_batch(struct stream *stream)
{
	struct sw_estimator *est = stream->est;

	vmt_sync_window_hull_copy(&est->exits, &stream->saved_exits);
	vmt_sync_window_hull_copy(&est->entries, &stream->saved_entries);
	for (guint i = 0; i < stream->batch->len; i++) {
		const struct batch_item *item = &g_array_index(stream->batch, struct batch_item, i);

		add_constraints(est, item->vcpu, item->event, est->states[item->vcpu][item->event]);
		vmt_sync_window_polygon_build(&est->polygon, &est->exits, &est->entries,
					      est->config->assign_slack_ns);
		if (est->polygon.is_bounded && !est->polygon.is_feasible) {
			vmt_sync_window_hull_copy(&est->exits, &stream->saved_exits);
			vmt_sync_window_hull_copy(&est->entries, &stream->saved_entries);
			est->states[item->vcpu][item->event] = SW_STATE_VIOLATION;
			est->result->violation_count++;
		} else {
			vmt_sync_window_hull_copy(&stream->saved_exits, &est->exits);
			vmt_sync_window_hull_copy(&stream->saved_entries, &est->entries);
		}
	}
}

/* Rebuilds the (relaxed) polygon from the hulls, and confirms the batch. */
static void refresh(struct stream *stream)
{
	struct sw_estimator *est = stream->est;
	int64_t slack_ns = est->config->assign_slack_ns;

	vmt_sync_window_polygon_build(&est->polygon, &est->exits, &est->entries, slack_ns);
	if (est->polygon.is_bounded && !est->polygon.is_feasible) {
		replay_batch(stream);
		vmt_sync_window_polygon_build(&est->polygon, &est->exits, &est->entries, slack_ns);
	}
	vmt_sync_window_hull_copy(&stream->saved_exits, &est->exits);
	vmt_sync_window_hull_copy(&stream->saved_entries, &est->entries);
	g_array_set_size(stream->batch, 0);
}

/*
 * The window of `vcpu` that meets [lo_ns, hi_ns]: its index, or
 * SW_STATE_VIOLATION if none does, or SW_STATE_PENDING if several do.
 */
static uint32_t find_window(struct stream *stream, uint32_t v, int64_t lo_ns, int64_t hi_ns)
{
	const struct vmt_sync_window_vcpu *vcpu = &stream->est->vcpus[v];
	size_t first = vmt_sync_window_first_after_from(vcpu, lo_ns, &stream->hint[v]);

	if (first == vcpu->window_count || vcpu->windows[first].entry_ns > hi_ns) {
		return SW_STATE_VIOLATION;
	}
	if (first + 1 < vcpu->window_count && vcpu->windows[first + 1].entry_ns <= hi_ns) {
		return SW_STATE_PENDING;
	}
	return (uint32_t) first;
}

/*
 * Step 2: a slice event is assigned to the window that meets the coarse
 * line's band, +- (half the peak width + tol + the rate's uncertainty over
 * the slice), when exactly one does.
 */
static void assign_seed(struct stream *stream, const struct sw_seed *seed, size_t *slice_end)
{
	struct sw_estimator *est = stream->est;
	int64_t b = seed->b_lo + (seed->b_hi - seed->b_lo) / 2;
	int64_t half = (seed->b_hi - seed->b_lo) / 2 + est->config->tol_ns + 1 +
		       (int64_t) ceill(seed->eps_spread * (long double) seed->slice_end_x);
	uint32_t vcpu;
	uint64_t event;

	for (uint32_t v = 0; v < est->vcpu_count; v++) {
		slice_end[v] = vmt_sync_window_first_event(&est->vcpus[v],
							   est->g0 + seed->slice_end_x + 1);
	}
	merge_init(stream, NULL, slice_end);
	while (merge_next(stream, &vcpu, &event)) {
		int64_t x = est->vcpus[vcpu].events[event] - est->g0;
		int64_t s = est->g0 + x + (int64_t) llroundl(seed->eps * (long double) x) + b;
		uint32_t window = find_window(stream, vcpu, s - half, s + half);

		if (window < SW_STATE_FIRST) {
			assign(stream, vcpu, event, window);
		}
	}
	refresh(stream);
}

/*
 * Step 3: every later event, in guest time order, against the polygon's
 * band. The polygon is refreshed every `refresh` assignments; in between
 * it is a little wider than exact, which can only leave an event pending.
 */
static void propagate(struct stream *stream, const size_t *slice_end)
{
	struct sw_estimator *est = stream->est;
	size_t *end = g_new(size_t, est->vcpu_count);
	uint32_t vcpu;
	uint64_t event;

	for (uint32_t v = 0; v < est->vcpu_count; v++) {
		end[v] = est->vcpus[v].event_count;
	}
	merge_init(stream, slice_end, end);
	while (merge_next(stream, &vcpu, &event)) {
		int64_t lo, hi;
		uint32_t window;

		vmt_sync_window_polygon_band(est, est->vcpus[vcpu].events[event], &lo, &hi);
		window = find_window(stream, vcpu, lo, hi);
		if (window < SW_STATE_FIRST) {
			assign(stream, vcpu, event, window);
		} else if (window == SW_STATE_VIOLATION) {
			est->states[vcpu][event] = SW_STATE_VIOLATION;
			est->result->violation_count++;
		}
		if (stream->batch->len >= est->config->refresh) {
			refresh(stream);
		}
	}
	refresh(stream);
	g_free(end);
}

static void stream_init(struct stream *stream, struct sw_estimator *est)
{
	stream->est = est;
	stream->batch = g_array_new(FALSE, FALSE, sizeof(struct batch_item));
	stream->next = g_new(size_t, MAX(est->vcpu_count, 1));
	stream->end = g_new(size_t, MAX(est->vcpu_count, 1));
	stream->hint = g_new0(size_t, MAX(est->vcpu_count, 1));
	vmt_sync_window_hull_init(&stream->saved_exits, false);
	vmt_sync_window_hull_init(&stream->saved_entries, true);
}

static void stream_fini(struct stream *stream)
{
	vmt_sync_window_hull_fini(&stream->saved_exits);
	vmt_sync_window_hull_fini(&stream->saved_entries);
	g_array_unref(stream->batch);
	g_free(stream->next);
	g_free(stream->end);
	g_free(stream->hint);
}

static void assign_all(struct sw_estimator *est, const struct sw_seed *seed)
{
	struct stream stream;
	size_t *slice_end = g_new(size_t, MAX(est->vcpu_count, 1));

	stream_init(&stream, est);
	assign_seed(&stream, seed, slice_end);
	propagate(&stream, slice_end);
	stream_fini(&stream);
	g_free(slice_end);
}

/* Merges every event of the vCPUs with windows. */
static void merge_all(struct stream *stream)
{
	for (uint32_t v = 0; v < stream->est->vcpu_count; v++) {
		stream->next[v] = 0;
		stream->end[v] =
			stream->est->vcpus[v].window_count ? stream->est->vcpus[v].event_count : 0;
	}
}

/*
 * Adds the constraints of the `batch` events (assigned out of guest time
 * order) to `hull`: the hull of its vertices and the new points is the
 * hull of every assigned event, so only those are sorted and re-appended.
 */
static void add_out_of_order(struct sw_estimator *est, struct sw_hull *hull, const GArray *batch)
{
	GArray *points = g_array_sized_new(FALSE, FALSE, sizeof(struct sw_point),
					   hull->points->len + batch->len);

	g_array_append_vals(points, hull->points->data, hull->points->len);
	for (guint i = 0; i < batch->len; i++) {
		const struct batch_item *item = &g_array_index(batch, struct batch_item, i);
		const struct vmt_sync_window *w =
			&est->vcpus[item->vcpu].windows[est->states[item->vcpu][item->event]];
		int64_t host_ns = hull->is_upper_hull ? w->entry_ns : w->exit_ns;
		struct sw_point point;

		if (host_ns != VMT_SYNC_WINDOW_OPEN) {
			point = vmt_sync_window_point(est, item->vcpu, item->event, host_ns);
			g_array_append_val(points, point);
		}
	}
	qsort(points->data, points->len, sizeof(struct sw_point),
	      vmt_sync_window_compare_points_by_x);
	g_array_set_size(hull->points, 0);
	for (guint i = 0; i < points->len; i++) {
		vmt_sync_window_hull_append(hull, g_array_index(points, struct sw_point, i));
	}
	g_array_unref(points);
}

/*
 * Step 3b: the relaxed polygon leaves events near an edge pending, and
 * they are the tightest constraints. Against the exact polygon (after the
 * trim) some of them meet one window only: they are assigned, unless
 * together they empty the polygon (then an outlier is among them, and none
 * is kept).
 */
static void rescan(struct sw_estimator *est)
{
	struct stream stream;
	uint32_t vcpu;
	uint64_t event;

	stream_init(&stream, est);
	vmt_sync_window_polygon_build(&est->polygon, &est->exits, &est->entries, 0);
	merge_all(&stream);
	while (est->polygon.is_bounded && merge_next(&stream, &vcpu, &event)) {
		int64_t lo, hi;
		uint32_t window;
		struct batch_item item = { vcpu, event };

		if (est->states[vcpu][event] != SW_STATE_PENDING) {
			continue;
		}
		vmt_sync_window_polygon_band(est, est->vcpus[vcpu].events[event], &lo, &hi);
		window = find_window(&stream, vcpu, lo, hi);
		if (window < SW_STATE_FIRST) {
			est->states[vcpu][event] = window;
			g_array_append_val(stream.batch, item);
		}
	}
	if (stream.batch->len) {
		vmt_sync_window_hull_copy(&stream.saved_exits, &est->exits);
		vmt_sync_window_hull_copy(&stream.saved_entries, &est->entries);
		add_out_of_order(est, &est->exits, stream.batch);
		add_out_of_order(est, &est->entries, stream.batch);
		vmt_sync_window_polygon_build(&est->polygon, &est->exits, &est->entries, 0);
	}
	if (stream.batch->len && est->polygon.is_bounded && !est->polygon.is_feasible) {
		for (guint i = 0; i < stream.batch->len; i++) {
			const struct batch_item *it =
				&g_array_index(stream.batch, struct batch_item, i);

			est->states[it->vcpu][it->event] = SW_STATE_PENDING;
		}
		vmt_sync_window_hull_copy(&est->exits, &stream.saved_exits);
		vmt_sync_window_hull_copy(&est->entries, &stream.saved_entries);
		vmt_sync_window_polygon_build(&est->polygon, &est->exits, &est->entries, 0);
	}
	stream_fini(&stream);
}

/* The hull's points as fit points (guest ns, host ns): a new array. */
static struct vmt_sync_point *hull_to_fit_points(const struct sw_estimator *est,
						 const struct sw_hull *hull)
{
	struct vmt_sync_point *points = g_new(struct vmt_sync_point, MAX(hull->points->len, 1));

	for (guint i = 0; i < hull->points->len; i++) {
		const struct sw_point *p = &g_array_index(hull->points, struct sw_point, i);

		points[i].guest_ns = p->x + est->g0;
		points[i].host_ns = points[i].guest_ns + p->y + est->y0;
	}
	return points;
}

/*
 * Step 4: the exact fit of lib/sync.h. The hull vertices stand for every
 * assigned event: the fit would reduce them to the same hulls.
 */
static enum vmt_status fit_hulls_over(struct sw_estimator *est, const struct sw_hull *exits,
				      const struct sw_hull *entries, int64_t span_begin,
				      int64_t span_end, struct vmt_sync_fit *fit)
{
	struct vmt_sync_point *upper = hull_to_fit_points(est, exits);
	struct vmt_sync_point *lower = hull_to_fit_points(est, entries);
	enum vmt_status status;

	status = vmt_sync_fit_points(upper, exits->points->len, lower, entries->points->len,
				     span_begin, span_end, fit);
	g_free(upper);
	g_free(lower);
	return status;
}

static enum vmt_status fit_hulls(struct sw_estimator *est, int64_t span_begin, int64_t span_end)
{
	return fit_hulls_over(est, &est->exits, &est->entries, span_begin, span_end,
			      &est->result->fit);
}

/* A fit of two hulls for its gap only (the span does not change the gap). */
static enum vmt_status fit_points_of(struct sw_estimator *est, const struct sw_hull *exits,
				     const struct sw_hull *entries, struct vmt_sync_fit *fit)
{
	return fit_hulls_over(est, exits, entries, est->g0, est->g0, fit);
}

/*
 * The fit gaps of the assigned events before and after `split_ns`: their
 * hulls, built in one pass in guest time order, through the exact fit.
 */
static enum vmt_status split_gaps(struct sw_estimator *est, int64_t split_ns, long double gaps[2])
{
	struct sw_hull exits[2], entries[2];
	struct vmt_sync_fit fit;
	struct stream stream;
	uint32_t vcpu;
	uint64_t event;
	enum vmt_status status = VMT_STATUS_OK;

	for (int side = 0; side < 2; side++) {
		vmt_sync_window_hull_init(&exits[side], false);
		vmt_sync_window_hull_init(&entries[side], true);
	}
	stream_init(&stream, est);
	merge_all(&stream);
	while (merge_next(&stream, &vcpu, &event)) {
		int side = est->vcpus[vcpu].events[event] >= split_ns;
		uint32_t state = est->states[vcpu][event];
		const struct vmt_sync_window *w;

		if (state >= SW_STATE_FIRST) {
			continue;
		}
		w = &est->vcpus[vcpu].windows[state];
		if (w->exit_ns != VMT_SYNC_WINDOW_OPEN) {
			vmt_sync_window_hull_append(
				&exits[side], vmt_sync_window_point(est, vcpu, event, w->exit_ns));
		}
		vmt_sync_window_hull_append(&entries[side],
					    vmt_sync_window_point(est, vcpu, event, w->entry_ns));
	}
	stream_fini(&stream);
	for (int side = 0; side < 2; side++) {
		if (status == VMT_STATUS_OK) {
			status = fit_points_of(est, &exits[side], &entries[side], &fit);
		}
		gaps[side] = status == VMT_STATUS_OK && fit.status == VMT_SYNC_FIT_OK ? fit.gap_ns :
											NAN;
		vmt_sync_window_hull_fini(&exits[side]);
		vmt_sync_window_hull_fini(&entries[side]);
	}
	return status;
}

/*
 * `line` at `guest_ns`, to within a ns: the drift term (slope - 1) * delta
 * is small, so a double holds it to far below a ns over years, and the
 * large times add exactly. The alarm needs no more, and it runs per event.
 */
static int64_t apply_line_fast(const struct vmt_clock_line *line, double drift, int64_t guest_ns)
{
	int64_t delta = guest_ns - line->ref_guest_ns;

	return line->ref_host_ns + delta + (int64_t) llround(drift * (double) delta);
}

/* Step 6: events the line puts inside a window of their vCPU, and the assignment counts. */
static void count_events(struct sw_estimator *est)
{
	struct vmt_sync_window_result *result = est->result;
	double drift = (double) (result->fit.line.slope - 1);

	for (uint32_t v = 0; v < est->vcpu_count; v++) {
		const struct vmt_sync_window_vcpu *vcpu = &est->vcpus[v];
		size_t hint = 0;

		for (size_t i = 0; vcpu->window_count && i < vcpu->event_count; i++) {
			int64_t host_ns =
				apply_line_fast(&result->fit.line, drift, vcpu->events[i]);
			size_t w = vmt_sync_window_first_after_from(vcpu, host_ns, &hint);

			result->inside_count += w < vcpu->window_count &&
						vcpu->windows[w].entry_ns <= host_ns;
			result->assigned_count += est->states[v][i] < SW_STATE_FIRST;
		}
	}
}

static enum vmt_status finish(struct sw_estimator *est)
{
	struct vmt_sync_window_result *result = est->result;
	int64_t span_begin = INT64_MAX, span_end = INT64_MIN;
	enum vmt_status status;

	for (uint32_t v = 0; v < est->vcpu_count; v++) {
		const struct vmt_sync_window_vcpu *vcpu = &est->vcpus[v];

		if (vcpu->event_count) {
			span_begin = MIN(span_begin, vcpu->events[0]);
			span_end = MAX(span_end, vcpu->events[vcpu->event_count - 1]);
		}
	}
	status = fit_hulls(est, span_begin, span_end);
	if (status != VMT_STATUS_OK) {
		return status;
	}
	count_events(est);
	if (result->fit.status == VMT_SYNC_FIT_INCONSISTENT) {
		result->status = VMT_SYNC_WINDOW_INCONSISTENT;
	} else if (result->fit.status != VMT_SYNC_FIT_OK || result->fit.error_bound_ns < 0) {
		result->status = VMT_SYNC_WINDOW_UNBOUNDED;
	} else if (vmt_sync_window_inside_share(result) < est->config->min_inside_share) {
		result->status = VMT_SYNC_WINDOW_FEW_INSIDE;
	} else {
		result->status = VMT_SYNC_WINDOW_OK;
	}
	return VMT_STATUS_OK;
}

/* Counts the events, finds g0 and allocates the per-event states. */
static enum vmt_status init_estimator(struct sw_estimator *est)
{
	struct vmt_log_ctx log = VMT_LOG_CTX_INIT_STANDALONE(BT_LOGGING_LEVEL_NONE);
	struct vmt_sync_window_result *result = est->result;

	est->g0 = INT64_MAX;
	est->states = g_new0(uint32_t *, MAX(est->vcpu_count, 1));
	for (uint32_t v = 0; v < est->vcpu_count; v++) {
		const struct vmt_sync_window_vcpu *vcpu = &est->vcpus[v];

		result->event_count += vcpu->event_count;
		if (!vcpu->window_count) {
			result->no_window_count += vcpu->event_count;
		} else if (vcpu->event_count) {
			est->g0 = MIN(est->g0, vcpu->events[0]);
		}
		est->states[v] = g_try_new(uint32_t, MAX(vcpu->event_count, 1));
		if (!est->states[v] || vcpu->window_count >= SW_STATE_FIRST) {
			vmt_log_append_cause(
				&log, VMT_LOG_TAG, __FILE__, __LINE__,
				"Cannot allocate window sync's event states: vcpu=%" PRIu32
				", events=%zu, windows=%zu",
				v, vcpu->event_count, vcpu->window_count);
			return VMT_STATUS_MEMORY_ERROR;
		}
		/* SW_STATE_PENDING is all ones. */
		memset(est->states[v], 0xff, MAX(vcpu->event_count, 1) * sizeof(uint32_t));
	}
	return VMT_STATUS_OK;
}

static void fini_estimator(struct sw_estimator *est)
{
	for (uint32_t v = 0; est->states && v < est->vcpu_count; v++) {
		g_free(est->states[v]);
	}
	g_free(est->states);
	vmt_sync_window_hull_fini(&est->exits);
	vmt_sync_window_hull_fini(&est->entries);
	vmt_sync_window_polygon_fini(&est->polygon);
}

static void note_seed(struct vmt_sync_window_result *result, const struct sw_seed *seed)
{
	result->seed_event_count = seed->slice_event_count;
	result->seed_best_count = seed->best_count;
	result->seed_second_count = seed->second_count;
	result->seed_span_ns = seed->slice_end_x;
	result->seed_search_ns = seed->search_ns;
	result->seed_eps = seed->eps;
	result->seed_offset_ns = seed->b_lo + (seed->b_hi - seed->b_lo) / 2;
}

enum vmt_status vmt_sync_window_estimate(const struct vmt_sync_window_vcpu *vcpus,
					 size_t vcpu_count,
					 const struct vmt_sync_window_config *config,
					 struct vmt_sync_window_result *result)
{
	struct vmt_sync_window_config defaults;
	struct sw_estimator est = { .vcpus = vcpus, .vcpu_count = vcpu_count, .result = result };
	struct sw_seed seed;
	enum vmt_status status;

	if (!config) {
		vmt_sync_window_config_init(&defaults);
		config = &defaults;
	}
	est.config = config;
	*result = (struct vmt_sync_window_result){ .status = VMT_SYNC_WINDOW_NO_EVENTS,
						   .split_gap_ns = { NAN, NAN } };
	result->fit.error_bound_ns = -1;
	result->fit.line = vmt_clock_line_identity();
	vmt_sync_window_hull_init(&est.exits, false);
	vmt_sync_window_hull_init(&est.entries, true);
	vmt_sync_window_polygon_init(&est.polygon);
	status = init_estimator(&est);
	if (status != VMT_STATUS_OK || est.g0 == INT64_MAX) {
		goto end;
	}
	status = vmt_sync_window_seed_find(&est, &seed, &result->status);
	note_seed(result, &seed);
	if (status != VMT_STATUS_OK || result->status != VMT_SYNC_WINDOW_OK) {
		goto end;
	}
	est.y0 = result->seed_offset_ns;
	assign_all(&est, &seed);
	status = vmt_sync_window_trim(&est);
	if (status == VMT_STATUS_OK) {
		rescan(&est);
		status = vmt_sync_window_trim(&est);
	}
	if (status == VMT_STATUS_OK) {
		status = finish(&est);
	}
	if (status == VMT_STATUS_OK && config->split_guest_ns &&
	    result->status == VMT_SYNC_WINDOW_OK) {
		status = split_gaps(&est, config->split_guest_ns, result->split_gap_ns);
	}

end:
	fini_estimator(&est);
	return status;
}
