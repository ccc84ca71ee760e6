/* SPDX-License-Identifier: MIT */
/*
 * The exact offline fit of a guest clock to its host clock.
 *
 * Coordinates. Each point (g, h) becomes (x, y) = (g - g0, h - g - y0), where
 * g0 and y0 = h0 - g0 come from the first upper point: x is guest time since
 * the anchor, y the host-minus-guest offset relative to the anchor's. The
 * model `h = alpha*g + beta` becomes `y = eps*x + b` with eps = alpha - 1
 * (ppm, not ~1) and b the offset at the anchor. Both coordinates must stay
 * within +-2^61 ns (73 years), so every orientation test and every
 * comparison of two slopes is a difference of two products of integers
 * below 2^62 in magnitude: below 2^125, exact in `__int128`. 64-bit products
 * would overflow past ~3 s of span times ~3 s of offset.
 *
 * Region. An upper point says b <= y - eps*x, a lower point b >= y - eps*x.
 * At a given eps the feasible b form [L(eps), U(eps)], with U the minimum
 * over the upper points (attained on their lower convex hull) and L the
 * maximum over the lower points (their upper hull). The gap G = U - L is
 * concave and piecewise linear in eps, with breakpoints at the hull edge
 * slopes. Merging the two hulls by edge slope lists G's pieces in increasing
 * eps ("segments", each with one active point per hull). The feasible set is
 * the polygon {(eps, b) : G(eps) >= 0, L(eps) <= b <= U(eps)}. Each of its
 * vertices is a line through two constraint points (two on one hull, or one
 * upper and one lower point), and it is evaluated from those integer points.
 */
#define VMT_LOG_TAG "VMTRACE/SYNC-FIT"
#include "lib/log.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#include <glib.h>

#include "lib/sync.h"

/* Largest magnitude of an anchored coordinate (see the top comment). */
#define FIT_COORD_MAX ((int64_t) 1 << 61)

/*
 * Largest |alpha - 1| a clock pair can plausibly have: NTP slews each clock
 * by at most 500 ppm, so two of them by 1000 ppm relative to each other.
 */
#define FIT_PLAUSIBLE_EPS 1e-3L

struct fit_point {
	int64_t x;
	int64_t y;
};

/* The line through two points, `p.x < q.x`: a hull edge or a polygon vertex. */
struct fit_edge {
	struct fit_point p;
	struct fit_point q;
};

/* The exact value `num / den` of an eps, `den > 0`. */
struct fit_ratio {
	int64_t num;
	int64_t den;
};

/* The hull points active over one piece of G: indices into the hulls. */
struct fit_segment {
	size_t upper;
	size_t lower;
};

struct fit_work {
	int64_t g0;
	__int128 y0;
	/* Owned: the anchored upper points, then their lower hull (x increasing). */
	struct fit_point *upper;
	size_t upper_count;
	/* Owned: the anchored lower points, then their upper hull (x increasing). */
	struct fit_point *lower;
	size_t lower_count;
	/* Owned: G's pieces in increasing eps. */
	struct fit_segment *segments;
	size_t segment_count;
	/* Owned: `segment_count - 1` edges; the slope of `breaks[i]` ends segment i. */
	struct fit_edge *breaks;
	/*
	 * Owned: `segment_count - 1` flags; `has_twin[i]` when an upper and a
	 * lower hull edge of the same slope end segment i together. `breaks[i]`
	 * is then the upper one (a vertex on the U boundary) and `twins[i]` the
	 * lower one (a second vertex, on the L boundary, at the same eps).
	 */
	bool *has_twin;
	struct fit_edge *twins;
	/* The span's ends, anchored. */
	int64_t span_x[2];
};

/* Where G peaks and where it is non-negative. */
struct fit_shape {
	/* First segment where G stops increasing, or `segment_count` if none. */
	size_t top;
	/* G grows without bound on one side: there is no maximiser. */
	bool is_unbounded_above;
	/* Sign of G's maximum (+1 if unbounded above). */
	int max_sign;
	/* The feasible eps interval; without an end it is infinite that way. */
	bool has_lo;
	bool has_hi;
	/* The segments where the finite ends lie. */
	size_t lo_segment;
	size_t hi_segment;
};

static int sign_of(__int128 value)
{
	return (value > 0) - (value < 0);
}

static __int128 cross(struct fit_point o, struct fit_point a, struct fit_point b)
{
	return (__int128) (a.x - o.x) * (b.y - o.y) - (__int128) (a.y - o.y) * (b.x - o.x);
}

static struct fit_ratio edge_ratio(struct fit_edge edge)
{
	return (struct fit_ratio){ .num = edge.q.y - edge.p.y, .den = edge.q.x - edge.p.x };
}

static int compare_ratios(struct fit_ratio a, struct fit_ratio b)
{
	return sign_of((__int128) a.num * b.den - (__int128) b.num * a.den);
}

/*
 * `(long double) value` without libgcc's `__floattixf`, which valgrind's x87
 * emulation gets wrong (it turns -5 into 0). Exact below 2^63; above, two
 * roundings (a few ulps, well inside the bound's margin).
 */
static long double i128_to_ld(__int128 value)
{
	if (value >= INT64_MIN && value <= INT64_MAX) {
		return (long double) (int64_t) value;
	}
	return ldexpl((long double) (int64_t) (value >> 64), 64) + (long double) (uint64_t) value;
}

static long double ratio_value(struct fit_ratio ratio)
{
	return (long double) ratio.num / (long double) ratio.den;
}

static int compare_points(const void *a, const void *b)
{
	const struct fit_point *pa = a;
	const struct fit_point *pb = b;

	if (pa->x != pb->x) {
		return pa->x < pb->x ? -1 : 1;
	}
	return (pa->y > pb->y) - (pa->y < pb->y);
}

/*
 * Turns `points` (sorted by x, then y) into their lower convex hull, in place,
 * and returns its size. Of several points at one x only the lowest can bind;
 * collinear points are dropped so that edge slopes strictly increase.
 */
static size_t build_lower_hull(struct fit_point *points, size_t count)
{
	size_t top = 0;

	for (size_t i = 0; i < count; i++) {
		if (top > 0 && points[top - 1].x == points[i].x) {
			continue;
		}
		while (top >= 2 && cross(points[top - 2], points[top - 1], points[i]) <= 0) {
			top--;
		}
		points[top++] = points[i];
	}
	return top;
}

static void negate_y(struct fit_point *points, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		points[i].y = -points[i].y;
	}
}

/*
 * Replaces `points` by their lower hull, or by their upper hull (the lower
 * hull of the points mirrored in y). Sorting is skipped for input already in
 * order, the usual case for exchanges read in time order.
 */
static size_t prepare_hull(struct fit_point *points, size_t count, bool is_upper_hull)
{
	bool is_sorted = true;

	if (is_upper_hull) {
		negate_y(points, count);
	}
	for (size_t i = 1; i < count && is_sorted; i++) {
		is_sorted = compare_points(&points[i - 1], &points[i]) <= 0;
	}
	if (!is_sorted) {
		qsort(points, count, sizeof(*points), compare_points);
	}
	count = build_lower_hull(points, count);
	if (is_upper_hull) {
		negate_y(points, count);
	}
	return count;
}

static bool anchor_x(const struct fit_work *w, int64_t guest_ns, int64_t *x)
{
	__int128 value = (__int128) guest_ns - w->g0;

	if (value < -FIT_COORD_MAX || value > FIT_COORD_MAX) {
		return false;
	}
	*x = (int64_t) value;
	return true;
}

static bool anchor_one(const struct fit_work *w, int64_t guest_ns, int64_t host_ns,
		       struct fit_point *out)
{
	__int128 y = (__int128) host_ns - guest_ns - w->y0;

	if (y < -FIT_COORD_MAX || y > FIT_COORD_MAX) {
		return false;
	}
	out->y = (int64_t) y;
	return anchor_x(w, guest_ns, &out->x);
}

size_t vmt_sync_points_reduce(struct vmt_sync_point *points, size_t count, bool are_upper,
			      struct vmt_sync_point anchor)
{
	struct fit_work w = { .g0 = anchor.guest_ns,
			      .y0 = (__int128) anchor.host_ns - anchor.guest_ns };
	struct fit_point *hull = count > 2 ? g_try_new(struct fit_point, count) : NULL;
	size_t hull_count, i;

	if (!hull) {
		return count;
	}
	for (i = 0; i < count; i++) {
		if (!anchor_one(&w, points[i].guest_ns, points[i].host_ns, &hull[i])) {
			g_free(hull);
			return count;
		}
	}
	/* The same hull as the fit's (prepare_hull), so the fit's result cannot change. */
	hull_count = prepare_hull(hull, count, !are_upper);
	if (hull_count + 1 < count) {
		for (i = 0; i < hull_count; i++) {
			int64_t guest_ns = hull[i].x + w.g0;

			points[i + 1] = (struct vmt_sync_point){
				.guest_ns = guest_ns,
				.host_ns = (int64_t) (hull[i].y + w.y0 + guest_ns),
			};
		}
		count = hull_count + 1;
	}
	g_free(hull);
	return count;
}

static enum vmt_status anchor_array(const struct fit_work *w, const struct vmt_sync_point *in,
				    size_t count, struct fit_point *out)
{
	struct vmt_log_ctx log = VMT_LOG_CTX_INIT_STANDALONE(BT_LOGGING_LEVEL_NONE);

	for (size_t i = 0; i < count; i++) {
		if (!anchor_one(w, in[i].guest_ns, in[i].host_ns, &out[i])) {
			vmt_log_append_cause(&log, VMT_LOG_TAG, __FILE__, __LINE__,
					     "Cannot fit a clock line: point too far from the "
					     "first one: guest-ns=%" PRId64 ", host-ns=%" PRId64
					     ", first-guest-ns=%" PRId64 ", limit-ns=%" PRId64,
					     in[i].guest_ns, in[i].host_ns, w->g0, FIT_COORD_MAX);
			return VMT_STATUS_ERROR;
		}
	}
	return VMT_STATUS_OK;
}

static enum vmt_status append_memory_cause(size_t count)
{
	struct vmt_log_ctx log = VMT_LOG_CTX_INIT_STANDALONE(BT_LOGGING_LEVEL_NONE);

	vmt_log_append_cause(&log, VMT_LOG_TAG, __FILE__, __LINE__,
			     "Cannot allocate the clock fit's work arrays: point-count=%zu", count);
	return VMT_STATUS_MEMORY_ERROR;
}

/* Anchors every point and the span; `span` is sorted. */
static enum vmt_status anchor_all(struct fit_work *w, const struct vmt_sync_point *upper,
				  const struct vmt_sync_point *lower, const int64_t span[2])
{
	struct vmt_log_ctx log = VMT_LOG_CTX_INIT_STANDALONE(BT_LOGGING_LEVEL_NONE);
	enum vmt_status status;

	w->g0 = upper[0].guest_ns;
	w->y0 = (__int128) upper[0].host_ns - upper[0].guest_ns;
	w->upper = g_try_new(struct fit_point, w->upper_count);
	w->lower = g_try_new(struct fit_point, w->lower_count);
	if (!w->upper || !w->lower) {
		return append_memory_cause(w->upper_count + w->lower_count);
	}
	status = anchor_array(w, upper, w->upper_count, w->upper);
	if (status == VMT_STATUS_OK) {
		status = anchor_array(w, lower, w->lower_count, w->lower);
	}
	for (int i = 0; i < 2 && status == VMT_STATUS_OK; i++) {
		if (!anchor_x(w, span[i], &w->span_x[i])) {
			vmt_log_append_cause(&log, VMT_LOG_TAG, __FILE__, __LINE__,
					     "Cannot fit a clock line: span end too far from the "
					     "first point: span-ns=%" PRId64
					     ", first-guest-ns=%" PRId64,
					     span[i], w->g0);
			status = VMT_STATUS_ERROR;
		}
	}
	return status;
}

static struct fit_edge upper_edge(const struct fit_work *w, size_t k)
{
	return (struct fit_edge){ .p = w->upper[k], .q = w->upper[k + 1] };
}

static struct fit_edge lower_edge(const struct fit_work *w, size_t m)
{
	return (struct fit_edge){ .p = w->lower[m - 1], .q = w->lower[m] };
}

/*
 * Lists G's pieces in increasing eps. At eps = -inf the leftmost upper hull
 * point and the rightmost lower hull point are active. As eps grows the
 * active upper point moves right at each lower-hull edge slope (increasing),
 * and the active lower point moves left at each upper-hull edge slope
 * (decreasing, so met in reverse order): a merge of two sorted lists. Two
 * edges of equal slope make one break where both active points move: the
 * polygon then has two vertices at that eps, one on each boundary, and both
 * edges are kept (the lower one as the break's twin).
 */
static enum vmt_status build_segments(struct fit_work *w)
{
	size_t max_count = w->upper_count + w->lower_count - 1;
	size_t k = 0;
	size_t m = w->lower_count - 1;
	size_t n = 0;

	w->segments = g_try_new(struct fit_segment, max_count);
	w->breaks = g_try_new(struct fit_edge, max_count);
	w->has_twin = g_try_new(bool, max_count);
	w->twins = g_try_new(struct fit_edge, max_count);
	if (!w->segments || !w->breaks || !w->has_twin || !w->twins) {
		return append_memory_cause(max_count);
	}
	for (;;) {
		bool has_upper = k + 1 < w->upper_count;
		bool has_lower = m > 0;
		int order;

		w->segments[n] = (struct fit_segment){ .upper = k, .lower = m };
		if (!has_upper && !has_lower) {
			break;
		}
		if (has_upper && has_lower) {
			order = compare_ratios(edge_ratio(upper_edge(w, k)),
					       edge_ratio(lower_edge(w, m)));
		} else {
			order = has_upper ? -1 : 1;
		}
		w->breaks[n] = order <= 0 ? upper_edge(w, k) : lower_edge(w, m);
		w->has_twin[n] = order == 0;
		if (order == 0) {
			w->twins[n] = lower_edge(w, m);
		}
		k += order <= 0 ? 1 : 0;
		m -= order >= 0 ? 1 : 0;
		n++;
	}
	w->segment_count = n + 1;
	return VMT_STATUS_OK;
}

/* Sign of G's slope on segment `i`: lower active x minus upper active x. */
static int slope_sign(const struct fit_work *w, size_t i)
{
	int64_t upper_x = w->upper[w->segments[i].upper].x;
	int64_t lower_x = w->lower[w->segments[i].lower].x;

	return (lower_x > upper_x) - (lower_x < upper_x);
}

/* Exact sign of G at the end of segment `i` (the slope of `breaks[i]`). */
static int sign_at_break(const struct fit_work *w, size_t i)
{
	struct fit_point a = w->upper[w->segments[i].upper];
	struct fit_point b = w->lower[w->segments[i].lower];
	struct fit_ratio eps = edge_ratio(w->breaks[i]);

	/* G(eps) * den = (a.y - b.y) * den - num * (a.x - b.x). */
	return sign_of((__int128) (a.y - b.y) * eps.den - (__int128) eps.num * (a.x - b.x));
}

/*
 * Where G crosses zero inside segment `i` (G not flat there): G is
 * (a.y - b.y) - eps * (a.x - b.x), and the vertex is the line through a and b.
 */
static struct fit_ratio root_in_segment(const struct fit_work *w, size_t i, struct fit_edge *vertex)
{
	struct fit_point a = w->upper[w->segments[i].upper];
	struct fit_point b = w->lower[w->segments[i].lower];
	bool is_upper_left = a.x < b.x;

	vertex->p = is_upper_left ? a : b;
	vertex->q = is_upper_left ? b : a;
	if (is_upper_left) {
		return (struct fit_ratio){ .num = b.y - a.y, .den = b.x - a.x };
	}
	return (struct fit_ratio){ .num = a.y - b.y, .den = a.x - b.x };
}

/* Finds the peak of G (concave: its slope decreases at every break). */
static void find_top(const struct fit_work *w, struct fit_shape *shape)
{
	size_t i = 0;

	while (i < w->segment_count && slope_sign(w, i) > 0) {
		i++;
	}
	shape->top = i;
	if (i == w->segment_count || (i == 0 && slope_sign(w, 0) < 0)) {
		shape->is_unbounded_above = true;
		shape->max_sign = 1;
	} else if (slope_sign(w, i) == 0) {
		/* A plateau: upper and lower active points at one x. */
		shape->max_sign = sign_of((__int128) w->upper[w->segments[i].upper].y -
					  w->lower[w->segments[i].lower].y);
	} else {
		shape->max_sign = sign_at_break(w, i - 1);
	}
}

/*
 * Finds the feasible eps interval around the peak (G >= 0 there): the last
 * break left of the peak where G < 0, and the first one right of it.
 */
static void find_ends(const struct fit_work *w, struct fit_shape *shape)
{
	size_t last = w->segment_count - 1;
	size_t j;

	shape->has_lo = slope_sign(w, 0) > 0;
	shape->lo_segment = 0;
	for (j = shape->top; j >= 2; j--) {
		if (sign_at_break(w, j - 2) < 0) {
			shape->has_lo = true;
			shape->lo_segment = j - 1;
			break;
		}
	}
	shape->has_hi = slope_sign(w, last) < 0;
	shape->hi_segment = last;
	for (j = shape->top; j < last; j++) {
		if (sign_at_break(w, j) < 0) {
			shape->has_hi = true;
			shape->hi_segment = j;
			break;
		}
	}
}

/* Clamps eps = 0 (equal clock rates) into [lo, hi]. */
static long double clamp_zero(bool has_lo, struct fit_ratio lo, bool has_hi, struct fit_ratio hi)
{
	if (has_lo && lo.num > 0) {
		return ratio_value(lo);
	}
	if (has_hi && hi.num < 0) {
		return ratio_value(hi);
	}
	return 0;
}

/*
 * The centre's eps. We take the max-margin line: the eps where the feasible
 * b gap G is widest, with b in the middle of that gap. It is the line
 * farthest (in host ns) from the nearest constraint: it depends only on the
 * tightest exchanges (the hull vertices), not on how many points crowd one
 * part of the trace (a centroid or least squares would), and with equal
 * minimum delays both ways it lands on the truth. In window-sync.md's
 * measurements it beat the centroid (11/18 ns against 24/17 ns max error);
 * Trace Compass's average of the two extreme lines only approximates it.
 * A flat peak (upper and lower points at the same guest time, as window
 * sync makes) is halved. Without a peak on one side (the points do not
 * bound the slope) nothing tells the rates apart, so we prefer equal rates:
 * eps = 0 clamped into the peak (or feasible) interval.
 */
static long double choose_eps(const struct fit_work *w, const struct fit_shape *shape)
{
	struct fit_edge vertex;
	struct fit_ratio lo = { 0, 1 };
	struct fit_ratio hi = { 0, 1 };
	size_t top = shape->top;

	if (shape->is_unbounded_above) {
		if (shape->has_lo) {
			lo = root_in_segment(w, shape->lo_segment, &vertex);
		}
		if (shape->has_hi) {
			hi = root_in_segment(w, shape->hi_segment, &vertex);
		}
		return clamp_zero(shape->has_lo, lo, shape->has_hi, hi);
	}
	if (slope_sign(w, top) < 0) {
		return ratio_value(edge_ratio(w->breaks[top - 1]));
	}
	if (top > 0 && top + 1 < w->segment_count) {
		return (ratio_value(edge_ratio(w->breaks[top - 1])) +
			ratio_value(edge_ratio(w->breaks[top]))) /
		       2;
	}
	if (top > 0) {
		lo = edge_ratio(w->breaks[top - 1]);
	}
	if (top + 1 < w->segment_count) {
		hi = edge_ratio(w->breaks[top]);
	}
	return clamp_zero(top > 0, lo, top + 1 < w->segment_count, hi);
}

/*
 * Moves `eps` to the nearest slope within FIT_PLAUSIBLE_EPS of 1, if the
 * feasible range has one. A few points over a short span leave slopes like
 * -0.1 or 2 feasible, and the widest gap may be there: a line that runs
 * backwards is never the better guess. G is concave, so the nearest
 * plausible slope is also the widest gap among plausible slopes. The region
 * and the error bound are unchanged: the bound covers every feasible line.
 */
static long double prefer_plausible(const struct fit_work *w, const struct fit_shape *shape,
				    long double eps)
{
	struct fit_edge vertex;
	long double lo = -FIT_PLAUSIBLE_EPS;
	long double hi = FIT_PLAUSIBLE_EPS;

	if (shape->has_lo) {
		lo = fmaxl(lo, ratio_value(root_in_segment(w, shape->lo_segment, &vertex)));
	}
	if (shape->has_hi) {
		hi = fminl(hi, ratio_value(root_in_segment(w, shape->hi_segment, &vertex)));
	}
	if (lo > hi) {
		return eps;
	}
	return fminl(fmaxl(eps, lo), hi);
}

/* U(eps) and L(eps), the feasible b range at `eps`, over the hulls. */
static void envelope_at(const struct fit_work *w, long double eps, long double *u, long double *l)
{
	*u = INFINITY;
	*l = -INFINITY;
	for (size_t i = 0; i < w->upper_count; i++) {
		*u = fminl(*u, (long double) w->upper[i].y - eps * (long double) w->upper[i].x);
	}
	for (size_t i = 0; i < w->lower_count; i++) {
		*l = fmaxl(*l, (long double) w->lower[i].y - eps * (long double) w->lower[i].x);
	}
}

/* Is `a - b` exactly representable (Knuth's TwoSum error is zero)? */
static bool is_exact_difference(long double a, long double b)
{
	long double sum = a - b;
	long double b_virtual = sum - a;
	long double a_virtual = sum - b_virtual;

	return (a - a_virtual) + (-b - b_virtual) == 0;
}

/*
 * |vertex(x) - centre(x)| for the line through `edge` and the centre
 * `c + eps * (x - x_ref)`, plus a margin covering the few `long double`
 * roundings (each below 2^-63 relative: 2^-58 is a wide safety factor). The
 * margin is dropped when every step was exact, so that a hand-checkable
 * integer distance is not rounded up to the next ns.
 */
static long double vertex_distance(struct fit_edge edge, int64_t x, int64_t c, long double eps,
				   int64_t x_ref)
{
	int64_t den = edge.q.x - edge.p.x;
	__int128 num =
		(__int128) (edge.p.y - c) * den + (__int128) (edge.q.y - edge.p.y) * (x - edge.p.x);
	bool is_exact = num % den == 0 && num / den > INT64_MIN && num / den < INT64_MAX;
	long double vertex = is_exact ? i128_to_ld(num / den) : i128_to_ld(num) / den;
	long double centre = eps * (long double) (x - x_ref);
	long double distance = fabsl(vertex - centre);
	long double margin = ldexpl(fabsl(vertex) + fabsl(centre), -58);

	/* Only worth proving exactness when the margin would cross an integer. */
	if (margin == 0 || ceill(distance) == ceill(distance + margin)) {
		return distance + margin;
	}
	is_exact = is_exact && fmal(eps, (long double) (x - x_ref), -centre) == 0 &&
		   is_exact_difference(vertex, centre);
	return is_exact ? distance : distance + margin;
}

/* The largest distance between the centre and `vertex` at the span's ends. */
static long double span_distance(const struct fit_work *w, struct fit_edge vertex, int64_t c,
				 long double eps, int64_t x_ref)
{
	return fmaxl(vertex_distance(vertex, w->span_x[0], c, eps, x_ref),
		     vertex_distance(vertex, w->span_x[1], c, eps, x_ref));
}

/*
 * The error bound of the centre `c + eps * (x - x_ref)` (anchored) over the
 * span: the distance to a feasible line is convex over the polygon and
 * linear in x, so its maximum is at a vertex and at a span end. The
 * vertices are the two ends of the eps range and the breaks between them,
 * two at a break where both boundaries bend (an upper and a lower hull edge
 * of the same slope).
 */
static int64_t bound_over_span(const struct fit_work *w, const struct fit_shape *shape, int64_t c,
			       long double eps, int64_t x_ref)
{
	struct fit_edge vertex;
	long double distance;

	root_in_segment(w, shape->lo_segment, &vertex);
	distance = span_distance(w, vertex, c, eps, x_ref);
	root_in_segment(w, shape->hi_segment, &vertex);
	distance = fmaxl(distance, span_distance(w, vertex, c, eps, x_ref));
	for (size_t i = shape->lo_segment; i < shape->hi_segment; i++) {
		distance = fmaxl(distance, span_distance(w, w->breaks[i], c, eps, x_ref));
		if (w->has_twin[i]) {
			distance = fmaxl(distance, span_distance(w, w->twins[i], c, eps, x_ref));
		}
	}
	/* Only absurd slopes (far beyond 1 +- 1) get near the `int64_t` range. */
	if (!(distance < 0x1p62L)) {
		return INT64_MAX;
	}
	return (int64_t) ceill(distance);
}

/*
 * The anchored guest time where the centre line is stored. The stored line
 * goes through an integer point, so rounding its host time shifts the line
 * by up to 0.5 ns; near the middle of the span there is usually an x where
 * the centre is within |eps|/2 of an integer (the centre's fraction moves by
 * eps per ns), and storing it there makes the shift negligible.
 */
static int64_t choose_ref_x(const struct fit_work *w, long double eps, long double b)
{
	int64_t x_mid = w->span_x[0] + (w->span_x[1] - w->span_x[0]) / 2;
	long double value = b + eps * (long double) x_mid;
	long double step = eps == 0 ? 0 : -(value - floorl(value + 0.5L)) / eps;
	long double shift = floorl(step + 0.5L);
	__int128 ref_guest;

	/* Stay within 2^40 ns (18 minutes) of the middle, and in range. */
	if (!(fabsl(shift) <= 0x1p40L)) {
		return x_mid;
	}
	ref_guest = (__int128) w->g0 + x_mid + (int64_t) shift;
	if (ref_guest < INT64_MIN || ref_guest > INT64_MAX) {
		return x_mid;
	}
	return x_mid + (int64_t) shift;
}

/*
 * Stores the centre `y = b + eps * x` (anchored) as an integer reference
 * point plus a slope. The error bound is computed on the stored line, so it
 * includes the rounding of the reference point.
 */
static enum vmt_status store_line(const struct fit_work *w, long double eps, long double b,
				  struct vmt_sync_fit *fit, int64_t *c, int64_t *x_ref)
{
	struct vmt_log_ctx log = VMT_LOG_CTX_INIT_STANDALONE(BT_LOGGING_LEVEL_NONE);
	long double centre;
	__int128 ref_host;

	*x_ref = choose_ref_x(w, eps, b);
	centre = floorl(b + eps * (long double) *x_ref + 0.5L);
	if (!(fabsl(centre) <= (long double) FIT_COORD_MAX)) {
		vmt_log_append_cause(
			&log, VMT_LOG_TAG, __FILE__, __LINE__,
			"Cannot represent the fitted clock line: slope=%Lg, offset-ns=%Lg", 1 + eps,
			centre);
		return VMT_STATUS_ERROR;
	}
	*c = (int64_t) centre;
	fit->line.ref_guest_ns = (int64_t) (w->g0 + *x_ref);
	ref_host = (__int128) fit->line.ref_guest_ns + w->y0 + *c;
	if (ref_host < INT64_MIN || ref_host > INT64_MAX) {
		vmt_log_append_cause(
			&log, VMT_LOG_TAG, __FILE__, __LINE__,
			"Cannot represent the fitted clock line: ref-guest-ns=%" PRId64,
			fit->line.ref_guest_ns);
		return VMT_STATUS_ERROR;
	}
	fit->line.ref_host_ns = (int64_t) ref_host;
	fit->line.slope = 1 + eps;
	return VMT_STATUS_OK;
}

/* Fills `fit` for an outcome without a fitted line. */
static void fill_without_line(struct vmt_sync_fit *fit, enum vmt_sync_fit_status status)
{
	fit->status = status;
	fit->line = vmt_clock_line_identity();
	fit->error_bound_ns = -1;
	fit->slope_min = -INFINITY;
	fit->slope_max = INFINITY;
	fit->gap_ns = INFINITY;
}

/* Fits the centre and, when the region is bounded, its error bound. */
static enum vmt_status solve(const struct fit_work *w, struct vmt_sync_fit *fit)
{
	struct fit_shape shape = { 0 };
	struct fit_edge vertex;
	long double eps, u, l;
	int64_t c, x_ref;
	enum vmt_status status;

	find_top(w, &shape);
	if (shape.max_sign >= 0) {
		find_ends(w, &shape);
	}
	eps = choose_eps(w, &shape);
	if (shape.max_sign >= 0) {
		eps = prefer_plausible(w, &shape, eps);
	}
	envelope_at(w, eps, &u, &l);
	status = store_line(w, eps, (u + l) / 2, fit, &c, &x_ref);
	if (status != VMT_STATUS_OK) {
		return status;
	}
	fit->gap_ns = u - l;
	fit->error_bound_ns = -1;
	fit->slope_min = fit->line.slope;
	fit->slope_max = fit->line.slope;
	if (shape.max_sign < 0) {
		fit->status = VMT_SYNC_FIT_INCONSISTENT;
		return VMT_STATUS_OK;
	}
	fit->status = VMT_SYNC_FIT_OK;
	/* At a feasible end the exact gap is 0; rounding eps may give -1e-12. */
	fit->gap_ns = fmaxl(fit->gap_ns, 0);
	fit->slope_min = shape.has_lo ?
				 1 + ratio_value(root_in_segment(w, shape.lo_segment, &vertex)) :
				 -INFINITY;
	fit->slope_max = shape.has_hi ?
				 1 + ratio_value(root_in_segment(w, shape.hi_segment, &vertex)) :
				 INFINITY;
	if (shape.has_lo && shape.has_hi) {
		fit->error_bound_ns = bound_over_span(w, &shape, c, fit->line.slope - 1, x_ref);
	}
	return VMT_STATUS_OK;
}

enum vmt_status vmt_sync_fit_points(const struct vmt_sync_point *upper, size_t upper_count,
				    const struct vmt_sync_point *lower, size_t lower_count,
				    int64_t span_begin_ns, int64_t span_end_ns,
				    struct vmt_sync_fit *fit)
{
	struct fit_work w = { .upper_count = upper_count, .lower_count = lower_count };
	int64_t span[2] = { MIN(span_begin_ns, span_end_ns), MAX(span_begin_ns, span_end_ns) };
	enum vmt_status status;

	*fit = (struct vmt_sync_fit){ .upper_count = upper_count, .lower_count = lower_count };
	if (upper_count == 0 || lower_count == 0) {
		fill_without_line(fit, upper_count + lower_count == 0 ? VMT_SYNC_FIT_NO_POINTS :
									VMT_SYNC_FIT_ONE_WAY);
		return VMT_STATUS_OK;
	}
	status = anchor_all(&w, upper, lower, span);
	if (status != VMT_STATUS_OK) {
		goto end;
	}
	w.upper_count = prepare_hull(w.upper, w.upper_count, false);
	w.lower_count = prepare_hull(w.lower, w.lower_count, true);
	status = build_segments(&w);
	if (status != VMT_STATUS_OK) {
		goto end;
	}
	status = solve(&w, fit);
end:
	if (status != VMT_STATUS_OK) {
		fill_without_line(fit, VMT_SYNC_FIT_NO_POINTS);
	}
	g_free(w.upper);
	g_free(w.lower);
	g_free(w.segments);
	g_free(w.breaks);
	g_free(w.has_twin);
	g_free(w.twins);
	return status;
}
