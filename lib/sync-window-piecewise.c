/* SPDX-License-Identifier: MIT */
/*
 * The piecewise window fit: bisects the guest's span into segments where
 * the clock is not linear, fits each with the window estimator, and joins
 * the segments' lines into a continuous, increasing map with an error bound.
 * The design (split rule, joins, bound) is in sync-piecewise.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "lib/sync-piecewise.h"

/* Deepest bisection: 2^40 ns is 18 minutes of 1 ns segments, far below any minimum. */
#define MAX_DEPTH 40

/* A guest-time segment [begin_ns, end_ns) and its fit. */
struct segment {
	int64_t begin_ns;
	int64_t end_ns;
	/* Its events: how many, the first and the last (guest ns). */
	uint64_t event_count;
	int64_t first_ns;
	int64_t last_ns;
	/* Where it would be split (find_split()), 0 if it cannot be; set by fit_segment(). */
	int64_t split_ns;
	struct vmt_sync_window_result fit;
};

struct piecewise_work {
	const struct vmt_sync_window_vcpu *vcpus; /* Borrowed. */
	size_t vcpu_count;
	struct vmt_sync_window_vcpu *slice; /* Owned: `vcpu_count` views into `vcpus`. */
	const struct vmt_sync_piecewise_config *config; /* Borrowed. */
	GArray *leaves; /* Owned: struct segment, in time order. */
	uint64_t fit_count;
};

void vmt_sync_piecewise_config_init(struct vmt_sync_piecewise_config *config)
{
	config->window = NULL;
	config->min_segment_ns = 500000000;
	config->min_segment_events = 1000;
	config->split_gain_ns = 200;
}

/* First index of the sorted `times` at or after `ns`. */
static size_t lower_bound(const int64_t *times, size_t count, int64_t ns)
{
	size_t lo = 0, hi = count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (times[mid] < ns) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

/*
 * Points `work->slice` at the events of [begin_ns, end_ns) (windows whole:
 * the estimator looks them up by time) and fills the segment's event counts.
 */
static void slice_segment(struct piecewise_work *work, struct segment *seg)
{
	seg->event_count = 0;
	seg->first_ns = INT64_MAX;
	seg->last_ns = INT64_MIN;
	for (size_t v = 0; v < work->vcpu_count; v++) {
		const struct vmt_sync_window_vcpu *all = &work->vcpus[v];
		size_t lo = lower_bound(all->events, all->event_count, seg->begin_ns);
		size_t hi = lower_bound(all->events, all->event_count, seg->end_ns);

		work->slice[v] = *all;
		work->slice[v].events = all->events + lo;
		work->slice[v].event_count = hi - lo;
		if (hi > lo && all->window_count) {
			seg->event_count += hi - lo;
			seg->first_ns = MIN(seg->first_ns, all->events[lo]);
			seg->last_ns = MAX(seg->last_ns, all->events[hi - 1]);
		}
	}
}

static bool find_split(const struct piecewise_work *work, const struct segment *seg,
		       int64_t *middle_ns);

/*
 * Fits `seg`; where it could be split, the fit also measures the gaps of
 * its assigned events on either side of the middle (split_gap_ns), so that
 * refine() fits the halves only when they may gain.
 */
static enum vmt_status fit_segment(struct piecewise_work *work, struct segment *seg)
{
	struct vmt_sync_window_config config;
	int64_t middle_ns;

	slice_segment(work, seg);
	seg->split_ns = find_split(work, seg, &middle_ns) ? middle_ns : 0;
	if (work->config->window) {
		config = *work->config->window;
	} else {
		vmt_sync_window_config_init(&config);
	}
	config.split_guest_ns = seg->split_ns;
	work->fit_count++;
	return vmt_sync_window_estimate(work->slice, work->vcpu_count, &config, &seg->fit);
}

/* A fit that a piece can use: OK with a finite bound and a finite slope range. */
static bool is_usable(const struct segment *seg)
{
	return seg->fit.status == VMT_SYNC_WINDOW_OK && seg->fit.fit.error_bound_ns >= 0 &&
	       seg->fit.fit.slope_max - seg->fit.fit.slope_min < 1;
}

/* Counts the events of [begin_ns, end_ns) on vCPUs with windows. */
static uint64_t count_events(const struct piecewise_work *work, int64_t begin_ns, int64_t end_ns)
{
	uint64_t count = 0;

	for (size_t v = 0; v < work->vcpu_count; v++) {
		const struct vmt_sync_window_vcpu *all = &work->vcpus[v];

		if (all->window_count) {
			count += lower_bound(all->events, all->event_count, end_ns) -
				 lower_bound(all->events, all->event_count, begin_ns);
		}
	}
	return count;
}

/* The middle of `seg` when both halves are big enough to be segments, else false. */
static bool find_split(const struct piecewise_work *work, const struct segment *seg,
		       int64_t *middle_ns)
{
	const struct vmt_sync_piecewise_config *config = work->config;
	int64_t middle = seg->first_ns + (seg->last_ns - seg->first_ns) / 2;

	if (seg->last_ns - seg->first_ns < 2 * config->min_segment_ns ||
	    seg->event_count < 2 * config->min_segment_events) {
		return false;
	}
	*middle_ns = middle;
	return count_events(work, seg->begin_ns, middle) >= config->min_segment_events &&
	       count_events(work, middle, seg->end_ns) >= config->min_segment_events;
}

/*
 * Can the halves of `seg` gain at all? The gaps of the events `seg`'s fit
 * assigned on either side are what the halves would fit (same windows), so
 * when one of them does not exceed the segment's by `split_gain_ns`, the
 * split cannot be better and the halves need no fit: a linear clock costs
 * one estimator run, not three or more.
 */
static bool may_gain(const struct piecewise_work *work, const struct segment *seg)
{
	const struct vmt_sync_window_result *fit = &seg->fit;
	long double needed = fit->fit.gap_ns + (long double) work->config->split_gain_ns;

	if (!is_usable(seg) || isnan(fit->split_gap_ns[0]) || isnan(fit->split_gap_ns[1])) {
		return true;
	}
	return fit->split_gap_ns[0] > needed && fit->split_gap_ns[1] > needed;
}

/* Does splitting `seg` into `left` and `right` fit the clock better (file comment)? */
static bool is_split_better(const struct piecewise_work *work, const struct segment *seg,
			    const struct segment *left, const struct segment *right)
{
	long double gain;

	if (!is_usable(seg)) {
		return true;
	}
	if (!is_usable(left) || !is_usable(right)) {
		return false;
	}
	gain = fminl(left->fit.fit.gap_ns, right->fit.fit.gap_ns) - seg->fit.fit.gap_ns;
	return gain > (long double) work->config->split_gain_ns;
}

static enum vmt_status refine(struct piecewise_work *work, const struct segment *seg, int depth,
			      bool *is_done);

/* Refines both halves; undoes them (keeping `seg` if usable) unless both succeed. */
static enum vmt_status refine_halves(struct piecewise_work *work, const struct segment *seg,
				     const struct segment *halves, int depth, bool *is_done)
{
	guint mark = work->leaves->len;
	bool is_left_done = false, is_right_done = false;
	enum vmt_status status = refine(work, &halves[0], depth + 1, &is_left_done);

	if (status == VMT_STATUS_OK && is_left_done) {
		status = refine(work, &halves[1], depth + 1, &is_right_done);
	}
	if (status != VMT_STATUS_OK || (is_left_done && is_right_done)) {
		*is_done = status == VMT_STATUS_OK;
		return status;
	}
	g_array_set_size(work->leaves, mark);
	if (is_usable(seg)) {
		g_array_append_val(work->leaves, *seg);
		*is_done = true;
	}
	return VMT_STATUS_OK;
}

/*
 * Appends to `work->leaves` the segments that fit `seg`'s span (itself, or
 * the refinements of its halves) and sets `*is_done`; appends nothing and
 * clears it when no usable fit covers the span.
 */
static enum vmt_status refine(struct piecewise_work *work, const struct segment *seg, int depth,
			      bool *is_done)
{
	struct segment halves[2];
	int64_t middle_ns = seg->split_ns;
	enum vmt_status status;

	*is_done = false;
	if (depth >= MAX_DEPTH || !middle_ns || !may_gain(work, seg)) {
		if (is_usable(seg)) {
			g_array_append_val(work->leaves, *seg);
			*is_done = true;
		}
		return VMT_STATUS_OK;
	}
	halves[0] = (struct segment){ .begin_ns = seg->begin_ns, .end_ns = middle_ns };
	halves[1] = (struct segment){ .begin_ns = middle_ns, .end_ns = seg->end_ns };
	status = fit_segment(work, &halves[0]);
	if (status == VMT_STATUS_OK) {
		status = fit_segment(work, &halves[1]);
	}
	if (status != VMT_STATUS_OK) {
		return status;
	}
	if (!is_split_better(work, seg, &halves[0], &halves[1])) {
		if (is_usable(seg)) {
			g_array_append_val(work->leaves, *seg);
			*is_done = true;
		}
		return VMT_STATUS_OK;
	}
	return refine_halves(work, seg, halves, depth, is_done);
}

/* The floor of the mean of two ns values, without overflow. */
static int64_t midpoint(int64_t a, int64_t b)
{
	return (int64_t) (((__int128) a + b) >> 1);
}

/*
 * How far the bound of `seg` must reach beyond its events' span to cover
 * [from_ns, to_ns): the feasible lines part from the centre by at most the
 * slope range per ns.
 */
static int64_t extension_ns(const struct segment *seg, int64_t from_ns, int64_t to_ns)
{
	const struct vmt_sync_fit *fit = &seg->fit.fit;
	int64_t outside = MAX(MAX(seg->first_ns - from_ns, to_ns - seg->last_ns), 0);

	return (int64_t) ceill((fit->slope_max - fit->slope_min) * (long double) outside);
}

/* Knot `k` (k >= 1) between leaves k-1 and k, and the two centres' distances to it. */
struct knot {
	int64_t guest_ns;
	int64_t host_ns;
	int64_t left_dev_ns;
	int64_t right_dev_ns;
};

static void make_knots(const struct segment *leaves, size_t count, struct knot *knots)
{
	for (size_t k = 1; k < count; k++) {
		int64_t j = leaves[k].begin_ns;
		int64_t left = vmt_clock_line_apply(&leaves[k - 1].fit.fit.line, j);
		int64_t right = vmt_clock_line_apply(&leaves[k].fit.fit.line, j);

		knots[k].guest_ns = j;
		knots[k].host_ns = midpoint(left, right);
		knots[k].left_dev_ns = llabs(knots[k].host_ns - left);
		knots[k].right_dev_ns = llabs(knots[k].host_ns - right);
	}
}

/* The line of piece `i` of `count`: between its knots, or its segment's slope at the ends. */
static bool piece_line(const struct segment *leaves, const struct knot *knots, size_t i,
		       size_t count, struct vmt_clock_line *line)
{
	const struct knot *from = &knots[i == 0 ? 1 : i];

	line->ref_guest_ns = from->guest_ns;
	line->ref_host_ns = from->host_ns;
	line->slope = leaves[i].fit.fit.line.slope;
	if (i > 0 && i + 1 < count) {
		const struct knot *to = &knots[i + 1];

		line->slope = (long double) (to->host_ns - from->host_ns) /
			      (long double) (to->guest_ns - from->guest_ns);
	}
	/* Not `> 0` alone: a NaN slope must fail too. */
	return line->slope > 0 && line->slope < 2;
}

/* The bound of piece `i`: its segment's, extended to the knots, plus the knot deviations. */
static int64_t piece_bound(const struct segment *leaves, const struct knot *knots, size_t i,
			   size_t count)
{
	const struct segment *seg = &leaves[i];
	int64_t from = i > 0 ? knots[i].guest_ns : seg->first_ns;
	int64_t to = i + 1 < count ? knots[i + 1].guest_ns : seg->last_ns + 1;
	int64_t dev = MAX(i > 0 ? knots[i].right_dev_ns : 0,
			  i + 1 < count ? knots[i + 1].left_dev_ns : 0);

	/* 2 ns: the roundings of the centres at the knots and of the piece's evaluation. */
	return seg->fit.fit.error_bound_ns + extension_ns(seg, from, to) + dev + 2;
}

/* Joins the leaves into pieces; false when a piece would not increase. */
static bool join_leaves(const struct segment *leaves, size_t count,
			struct vmt_clock_pieces **pieces)
{
	struct knot *knots = g_new0(struct knot, count);
	struct vmt_clock_piece *out = g_new0(struct vmt_clock_piece, count);
	bool ok = true;

	make_knots(leaves, count, knots);
	for (size_t i = 0; i < count && ok; i++) {
		out[i].begin_guest_ns = i == 0 ? INT64_MIN : knots[i].guest_ns;
		out[i].event_count = leaves[i].event_count;
		ok = piece_line(leaves, knots, i, count, &out[i].line);
		out[i].error_bound_ns = piece_bound(leaves, knots, i, count);
	}
	*pieces = ok ? vmt_clock_pieces_create(out, count) : NULL;
	g_free(out);
	g_free(knots);
	return ok;
}

/* The pieces as one window result (see `summary` in sync-piecewise.h). */
static void summarize(const struct segment *leaves, const struct vmt_clock_pieces *pieces,
		      struct vmt_sync_piecewise_result *result)
{
	struct vmt_sync_window_result *sum = &result->summary;
	size_t main = vmt_clock_pieces_main(pieces);

	*sum = leaves[0].fit;
	sum->fit = leaves[main].fit.fit;
	sum->fit.line = pieces->pieces[main].line;
	sum->fit.error_bound_ns = vmt_clock_pieces_error_bound_ns(pieces);
	sum->event_count = result->whole.event_count;
	sum->no_window_count = result->whole.no_window_count;
	sum->assigned_count = sum->violation_count = sum->trimmed_count = sum->inside_count = 0;
	for (size_t i = 0; i < pieces->count; i++) {
		sum->assigned_count += leaves[i].fit.assigned_count;
		sum->violation_count += leaves[i].fit.violation_count;
		sum->trimmed_count += leaves[i].fit.trimmed_count;
		sum->inside_count += leaves[i].fit.inside_count;
	}
}

/* The span of all the events (on vCPUs with windows) as the root segment. */
static void init_root(const struct piecewise_work *work, struct segment *root)
{
	root->begin_ns = INT64_MAX;
	root->end_ns = INT64_MIN;
	for (size_t v = 0; v < work->vcpu_count; v++) {
		const struct vmt_sync_window_vcpu *all = &work->vcpus[v];

		if (all->event_count) {
			root->begin_ns = MIN(root->begin_ns, all->events[0]);
			root->end_ns = MAX(root->end_ns, all->events[all->event_count - 1]);
		}
	}
	if (root->begin_ns > root->end_ns) {
		root->begin_ns = root->end_ns = 0;
	}
	/* Half-open; the last event is far below INT64_MAX (ns from origin). */
	root->end_ns = root->end_ns < INT64_MAX ? root->end_ns + 1 : INT64_MAX;
}

/* Bisects and joins after the whole-span fit `root`; leaves `result` alone unless it works. */
static enum vmt_status fit_pieces(struct piecewise_work *work, const struct segment *root,
				  struct vmt_sync_piecewise_result *result)
{
	bool is_done = false;
	enum vmt_status status = refine(work, root, 0, &is_done);
	const struct segment *leaves = (const struct segment *) (const void *) work->leaves->data;

	if (status != VMT_STATUS_OK || !is_done || work->leaves->len < 2) {
		return status;
	}
	if (join_leaves(leaves, work->leaves->len, &result->pieces)) {
		summarize(leaves, result->pieces, result);
	}
	return VMT_STATUS_OK;
}

enum vmt_status vmt_sync_window_estimate_piecewise(const struct vmt_sync_window_vcpu *vcpus,
						   size_t vcpu_count,
						   const struct vmt_sync_piecewise_config *config,
						   struct vmt_sync_piecewise_result *result)
{
	struct vmt_sync_piecewise_config defaults;
	struct piecewise_work work = { .vcpus = vcpus, .vcpu_count = vcpu_count };
	struct segment root = { 0 };
	enum vmt_status status;

	if (!config) {
		vmt_sync_piecewise_config_init(&defaults);
		config = &defaults;
	}
	memset(result, 0, sizeof(*result));
	work.config = config;
	work.slice = g_new0(struct vmt_sync_window_vcpu, MAX(vcpu_count, 1));
	work.leaves = g_array_new(FALSE, FALSE, sizeof(struct segment));
	init_root(&work, &root);
	status = fit_segment(&work, &root);
	result->whole = root.fit;
	result->summary = root.fit;
	if (status == VMT_STATUS_OK) {
		status = fit_pieces(&work, &root, result);
	}
	result->fit_count = work.fit_count;
	g_array_free(work.leaves, TRUE);
	g_free(work.slice);
	return status;
}

void vmt_sync_piecewise_result_fini(struct vmt_sync_piecewise_result *result)
{
	g_clear_pointer(&result->pieces, vmt_clock_pieces_destroy);
}
