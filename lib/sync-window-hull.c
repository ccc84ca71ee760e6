/* SPDX-License-Identifier: MIT */
/*
 * Window sync: exact incremental hulls of the assigned events' constraints,
 * and the feasible polygon that predicts each next event's host-time band.
 *
 * The hulls are exact (integer points, 128-bit orientation tests), because
 * the final fit (lib/sync-fit.c) takes their vertices as its points: the
 * hull of the hull vertices is the hull of all points, so the fit is the
 * one of every assigned event. The polygon is in `long double`: it only
 * decides which window an event must be in, with a ns of slack, and a
 * band slightly too wide leaves an event unassigned, never misassigned.
 */
#define VMT_LOG_TAG "VMTRACE/SYNC-WINDOW"
#include "lib/log.h"

#include <math.h>
#include <stdlib.h>

#include <glib.h>

#include "lib/sync-window-internal.h"

/* The y the hull minimises: exits' lower hull as is, entries' upper hull mirrored. */
static int64_t hull_key(const struct sw_hull *hull, int64_t y)
{
	return hull->is_upper_hull ? -y : y;
}

static __int128 cross(const struct sw_hull *hull, const struct sw_point *o,
		      const struct sw_point *a, const struct sw_point *b)
{
	__int128 ay = hull_key(hull, a->y) - hull_key(hull, o->y);
	__int128 by = hull_key(hull, b->y) - hull_key(hull, o->y);

	return (__int128) (a->x - o->x) * by - ay * (__int128) (b->x - o->x);
}

void vmt_sync_window_hull_init(struct sw_hull *hull, bool is_upper_hull)
{
	hull->points = g_array_new(FALSE, FALSE, sizeof(struct sw_point));
	hull->is_upper_hull = is_upper_hull;
}

void vmt_sync_window_hull_fini(struct sw_hull *hull)
{
	g_clear_pointer(&hull->points, g_array_unref);
}

/*
 * Andrew's monotone chain, one point at a time: amortised O(1). Of several
 * points at one x only the tightest can bind; collinear points are dropped,
 * as the fit would drop them.
 */
void vmt_sync_window_hull_append(struct sw_hull *hull, struct sw_point point)
{
	GArray *points = hull->points;
	struct sw_point *last;

	if (points->len > 0) {
		last = &g_array_index(points, struct sw_point, points->len - 1);
		VMT_ASSERT_DBG(point.x >= last->x);
		if (last->x == point.x) {
			if (hull_key(hull, point.y) >= hull_key(hull, last->y)) {
				return;
			}
			g_array_set_size(points, points->len - 1);
		}
	}
	while (points->len >= 2 &&
	       cross(hull, &g_array_index(points, struct sw_point, points->len - 2),
		     &g_array_index(points, struct sw_point, points->len - 1), &point) <= 0) {
		g_array_set_size(points, points->len - 1);
	}
	g_array_append_val(points, point);
}

void vmt_sync_window_hull_copy(struct sw_hull *dst, const struct sw_hull *src)
{
	g_array_set_size(dst->points, 0);
	g_array_append_vals(dst->points, src->points->data, src->points->len);
	dst->is_upper_hull = src->is_upper_hull;
}

struct sw_point vmt_sync_window_point(const struct sw_estimator *est, uint32_t vcpu, uint64_t event,
				      int64_t host_ns)
{
	int64_t guest_ns = est->vcpus[vcpu].events[event];

	/* Host and guest times of one trace pair stay far within 2^62 ns of each other. */
	return (struct sw_point){
		.x = guest_ns - est->g0,
		.y = (int64_t) ((__int128) host_ns - guest_ns - est->y0),
		.vcpu = vcpu,
		.event = event,
	};
}

/* The constraint point `hull` holds for an assigned event, or false (open exit). */
static bool event_point(const struct sw_estimator *est, const struct sw_hull *hull, uint32_t vcpu,
			uint64_t event, struct sw_point *point)
{
	const struct vmt_sync_window *window = &est->vcpus[vcpu].windows[est->states[vcpu][event]];
	int64_t host_ns = hull->is_upper_hull ? window->entry_ns : window->exit_ns;

	if (host_ns == VMT_SYNC_WINDOW_OPEN) {
		return false;
	}
	*point = vmt_sync_window_point(est, vcpu, event, host_ns);
	return true;
}

int vmt_sync_window_compare_points_by_x(const void *a, const void *b)
{
	const struct sw_point *pa = a, *pb = b;

	return (pa->x > pb->x) - (pa->x < pb->x);
}

/*
 * Collects the points of the assigned events with x in [x_from, x_to],
 * except one event, into `*out` (g_try_new'd; sorted by x). Returns false
 * if they cannot be held.
 */
static bool collect_range(const struct sw_estimator *est, const struct sw_hull *hull,
			  int64_t x_from, int64_t x_to, uint32_t skip_vcpu, uint64_t skip_event,
			  struct sw_point **out, size_t *count)
{
	int64_t g_from = x_from == INT64_MIN ? INT64_MIN : x_from + est->g0;
	int64_t g_to = x_to == INT64_MAX ? INT64_MAX : x_to + est->g0;
	size_t total = 0, n = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t v = 0; v < est->vcpu_count; v++) {
			const struct vmt_sync_window_vcpu *vcpu = &est->vcpus[v];

			for (size_t i = vmt_sync_window_first_event(vcpu, g_from);
			     i < vcpu->event_count && vcpu->events[i] <= g_to; i++) {
				struct sw_point point;

				if (est->states[v][i] >= SW_STATE_FIRST ||
				    (v == skip_vcpu && i == skip_event) ||
				    !event_point(est, hull, v, i, &point)) {
					continue;
				}
				if (pass == 0) {
					total++;
				} else {
					(*out)[n++] = point;
				}
			}
		}
		if (pass == 0 && !(*out = g_try_new(struct sw_point, MAX(total, 1)))) {
			return false;
		}
	}
	/* Each vCPU's run is sorted: a stable sort is not needed, the hull keeps the tightest. */
	qsort(*out, n, sizeof(**out), vmt_sync_window_compare_points_by_x);
	*count = n;
	return true;
}

enum vmt_status vmt_sync_window_hull_remove(const struct sw_estimator *est, struct sw_hull *hull,
					    size_t index, uint32_t skip_vcpu, uint64_t skip_event)
{
	struct vmt_log_ctx log = VMT_LOG_CTX_INIT_STANDALONE(BT_LOGGING_LEVEL_NONE);
	GArray *old = hull->points;
	int64_t x_from = index > 0 ? g_array_index(old, struct sw_point, index - 1).x : INT64_MIN;
	int64_t x_to = index + 1 < old->len ? g_array_index(old, struct sw_point, index + 1).x :
					      INT64_MAX;
	struct sw_point *range = NULL;
	size_t count = 0;

	if (!collect_range(est, hull, x_from, x_to, skip_vcpu, skip_event, &range, &count)) {
		vmt_log_append_cause(&log, VMT_LOG_TAG, __FILE__, __LINE__,
				     "Cannot allocate the window sync trim's points");
		return VMT_STATUS_MEMORY_ERROR;
	}
	/*
	 * Removing a vertex only changes the hull between its two neighbours,
	 * which stay vertices; the range includes them, so its hull starts and
	 * ends with them.
	 */
	hull->points = g_array_sized_new(FALSE, FALSE, sizeof(struct sw_point), old->len + 8);
	if (index > 1) {
		g_array_append_vals(hull->points, old->data, index - 1);
	}
	for (size_t i = 0; i < count; i++) {
		vmt_sync_window_hull_append(hull, range[i]);
	}
	if (index + 2 < old->len) {
		g_array_append_vals(hull->points, &g_array_index(old, struct sw_point, index + 2),
				    old->len - index - 2);
	}
	g_array_unref(old);
	g_free(range);
	return VMT_STATUS_OK;
}

void vmt_sync_window_polygon_init(struct sw_polygon *polygon)
{
	*polygon = (struct sw_polygon){ 0 };
	polygon->vertices = g_array_new(FALSE, FALSE, sizeof(struct sw_vertex));
	polygon->breaks = g_array_new(FALSE, FALSE, sizeof(long double));
	polygon->gaps = g_array_new(FALSE, FALSE, sizeof(long double));
}

void vmt_sync_window_polygon_fini(struct sw_polygon *polygon)
{
	g_clear_pointer(&polygon->vertices, g_array_unref);
	g_clear_pointer(&polygon->breaks, g_array_unref);
	g_clear_pointer(&polygon->gaps, g_array_unref);
}

/* The tightest bound of `hull` on b at `eps`: min over exits, max over entries. */
static long double bound_at(const struct sw_hull *hull, long double eps)
{
	long double best = hull->is_upper_hull ? -INFINITY : INFINITY;

	for (guint i = 0; i < hull->points->len; i++) {
		const struct sw_point *p = &g_array_index(hull->points, struct sw_point, i);
		long double b = (long double) p->y - eps * (long double) p->x;

		best = hull->is_upper_hull ? fmaxl(best, b) : fminl(best, b);
	}
	return best;
}

/*
 * Evaluates a hull's bound at non-decreasing eps in amortised O(1): the
 * binding vertex only moves one way (right along the exits' lower hull,
 * left along the entries' upper hull), and along a hull the bound is
 * unimodal, so a walk from the last binding vertex finds the new one.
 */
struct bound_walker {
	const struct sw_hull *hull; /* Weak. */
	guint index;
};

static void walker_init(struct bound_walker *walker, const struct sw_hull *hull)
{
	walker->hull = hull;
	walker->index = hull->is_upper_hull ? hull->points->len - 1 : 0;
}

static long double point_bound(const struct sw_point *p, long double eps)
{
	return (long double) p->y - eps * (long double) p->x;
}

static long double walker_bound(struct bound_walker *walker, long double eps)
{
	const struct sw_point *p =
		(const struct sw_point *) (const void *) walker->hull->points->data;
	guint len = walker->hull->points->len;
	guint i = walker->index;

	if (walker->hull->is_upper_hull) {
		while (i > 0 && point_bound(&p[i - 1], eps) >= point_bound(&p[i], eps)) {
			i--;
		}
	} else {
		while (i + 1 < len && point_bound(&p[i + 1], eps) <= point_bound(&p[i], eps)) {
			i++;
		}
	}
	walker->index = i;
	return point_bound(&p[i], eps);
}

static int compare_long_double(const void *a, const void *b)
{
	long double la = *(const long double *) a, lb = *(const long double *) b;

	return (la > lb) - (la < lb);
}

/* The hulls' edge slopes within the clamp, and the clamp's ends, sorted: where the gap bends. */
static void collect_breaks(GArray *breaks, const struct sw_hull *exits,
			   const struct sw_hull *entries)
{
	const struct sw_hull *hulls[2] = { exits, entries };
	long double ends[2] = { -SW_MAX_EPS, SW_MAX_EPS };

	g_array_set_size(breaks, 0);
	g_array_append_vals(breaks, ends, 2);
	for (int h = 0; h < 2; h++) {
		const GArray *points = hulls[h]->points;

		for (guint i = 1; i < points->len; i++) {
			const struct sw_point *p = &g_array_index(points, struct sw_point, i - 1);
			const struct sw_point *q = &g_array_index(points, struct sw_point, i);
			long double slope =
				(long double) (q->y - p->y) / (long double) (q->x - p->x);

			if (slope > -SW_MAX_EPS && slope < SW_MAX_EPS) {
				g_array_append_val(breaks, slope);
			}
		}
	}
	qsort(breaks->data, breaks->len, sizeof(long double), compare_long_double);
}

/* Where the gap, linear between breaks `i` and `i + 1`, crosses zero. */
static long double root_between(const long double *eps, const long double *gap, guint i)
{
	return eps[i] + (eps[i + 1] - eps[i]) * (-gap[i] / (gap[i + 1] - gap[i]));
}

/*
 * Appends the vertex at `eps`, unless the last one is already there (a
 * root on a break, or at the clamp): a repeated vertex is a flat step in
 * the sampled band functions, where optimum_vertex()'s local search would
 * stop short of the optimum.
 */
static void add_vertex(struct sw_polygon *polygon, struct bound_walker walkers[2], long double eps,
		       long double slack_ns)
{
	struct sw_vertex vertex = { eps, walker_bound(&walkers[1], eps) - slack_ns,
				    walker_bound(&walkers[0], eps) + slack_ns };
	guint len = polygon->vertices->len;

	if (len && g_array_index(polygon->vertices, struct sw_vertex, len - 1).eps >= eps) {
		return;
	}
	g_array_append_val(polygon->vertices, vertex);
}

/*
 * The gap U(eps) - L(eps) is concave and linear between breaks, so its
 * maximum is at a break and the feasible eps form one interval, whose ends
 * are roots between a negative and a non-negative break. The polygon's
 * vertices are at the ends and at the breaks between them. `slack_ns`
 * relaxes every constraint by that much (the gap grows by twice it).
 */
void vmt_sync_window_polygon_build(struct sw_polygon *polygon, const struct sw_hull *exits,
				   const struct sw_hull *entries, int64_t slack_ns)
{
	long double slack = (long double) slack_ns;
	struct bound_walker walkers[2];
	guint n, top = 0, lo, hi;
	long double *eps, *gap;

	g_array_set_size(polygon->vertices, 0);
	polygon->is_bounded = exits->points->len > 0 && entries->points->len > 0;
	polygon->is_feasible = false;
	if (!polygon->is_bounded) {
		return;
	}
	collect_breaks(polygon->breaks, exits, entries);
	n = polygon->breaks->len;
	eps = (long double *) (void *) polygon->breaks->data;
	g_array_set_size(polygon->gaps, n);
	gap = (long double *) (void *) polygon->gaps->data;
	walker_init(&walkers[0], exits);
	walker_init(&walkers[1], entries);
	for (guint i = 0; i < n; i++) {
		gap[i] = walker_bound(&walkers[0], eps[i]) - walker_bound(&walkers[1], eps[i]) +
			 2 * slack;
		top = gap[i] > gap[top] ? i : top;
	}
	polygon->gap = gap[top];
	polygon->gap_eps = eps[top];
	polygon->gap_b = (bound_at(exits, eps[top]) + bound_at(entries, eps[top])) / 2;
	polygon->is_feasible = gap[top] >= 0;
	if (!polygon->is_feasible) {
		return;
	}
	for (lo = top; lo > 0 && gap[lo - 1] >= 0; lo--) {
	}
	for (hi = top; hi + 1 < n && gap[hi + 1] >= 0; hi++) {
	}
	walker_init(&walkers[0], exits);
	walker_init(&walkers[1], entries);
	add_vertex(polygon, walkers, lo > 0 ? root_between(eps, gap, lo - 1) : eps[0], slack);
	for (guint i = lo; i <= hi; i++) {
		add_vertex(polygon, walkers, eps[i], slack);
	}
	add_vertex(polygon, walkers, hi + 1 < n ? root_between(eps, gap, hi) : eps[n - 1], slack);
}

/* What the band search minimises: the low end, or minus the high end. */
static inline long double vertex_cost(const struct sw_vertex *v, bool is_lo, long double x)
{
	return is_lo ? v->lo + v->eps * x : -(v->hi + v->eps * x);
}

/*
 * Index of the vertex minimising `lo + eps * x` (`is_lo`) or maximising
 * `hi + eps * x`, from `start`. Over the vertices (eps increasing) this
 * is a sampled convex (concave) function of eps, so a local search finds the
 * global optimum; the streaming pass asks in increasing x, where the optimum
 * moves little, which makes it O(1) per event instead of a scan.
 */
static guint optimum_vertex(const GArray *vertices, bool is_lo, long double x, guint start)
{
	const struct sw_vertex *v = (const struct sw_vertex *) (const void *) vertices->data;
	guint i = MIN(start, vertices->len - 1);

	while (i > 0 && vertex_cost(&v[i - 1], is_lo, x) < vertex_cost(&v[i], is_lo, x)) {
		i--;
	}
	while (i + 1 < vertices->len &&
	       vertex_cost(&v[i + 1], is_lo, x) < vertex_cost(&v[i], is_lo, x)) {
		i++;
	}
	return i;
}

/* floor() and ceil() of a value well within int64_t, without libm's calls. */
static int64_t floor_to_int(long double value)
{
	int64_t t = (int64_t) value;

	return (long double) t > value ? t - 1 : t;
}

static int64_t ceil_to_int(long double value)
{
	int64_t t = (int64_t) value;

	return (long double) t < value ? t + 1 : t;
}

void vmt_sync_window_polygon_band(struct sw_estimator *est, int64_t guest_ns, int64_t *lo_ns,
				  int64_t *hi_ns)
{
	struct sw_polygon *polygon = &est->polygon;
	long double x = (long double) (guest_ns - est->g0);
	const struct sw_vertex *v;

	if (!polygon->is_bounded || !polygon->is_feasible) {
		*lo_ns = INT64_MIN;
		*hi_ns = INT64_MAX;
		return;
	}
	v = (const struct sw_vertex *) (const void *) polygon->vertices->data;
	polygon->lo_index = optimum_vertex(polygon->vertices, true, x, polygon->lo_index);
	polygon->hi_index = optimum_vertex(polygon->vertices, false, x, polygon->hi_index);
	/* The offsets are small: round them, then add the large times exactly. */
	*lo_ns = guest_ns + est->y0 +
		 floor_to_int(v[polygon->lo_index].lo + v[polygon->lo_index].eps * x) - 1;
	*hi_ns = guest_ns + est->y0 +
		 ceil_to_int(v[polygon->hi_index].hi + v[polygon->hi_index].eps * x) + 1;
}

size_t vmt_sync_window_first_after(const struct vmt_sync_window_vcpu *vcpu, int64_t host_ns)
{
	size_t lo = 0, hi = vcpu->window_count;

	/* Windows are disjoint and sorted, so their exits are sorted too. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (vcpu->windows[mid].exit_ns > host_ns) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	return lo;
}

/* Steps walked from the hint before a binary search takes over. */
#define SW_HINT_STEPS 8

size_t vmt_sync_window_first_after_from(const struct vmt_sync_window_vcpu *vcpu, int64_t host_ns,
					size_t *hint)
{
	size_t i = MIN(*hint, vcpu->window_count);

	if (i > 0 && vcpu->windows[i - 1].exit_ns > host_ns) {
		/* Behind the hint (the band moved back at a refresh). */
		i = vmt_sync_window_first_after(vcpu, host_ns);
	} else {
		for (int step = 0; i < vcpu->window_count && vcpu->windows[i].exit_ns <= host_ns;
		     step++) {
			if (step == SW_HINT_STEPS) {
				struct vmt_sync_window_vcpu rest = *vcpu;

				rest.windows += i;
				rest.window_count -= i;
				i += vmt_sync_window_first_after(&rest, host_ns);
				break;
			}
			i++;
		}
	}
	*hint = i;
	return i;
}

size_t vmt_sync_window_first_event(const struct vmt_sync_window_vcpu *vcpu, int64_t guest_ns)
{
	size_t lo = 0, hi = vcpu->event_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (vcpu->events[mid] >= guest_ns) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	return lo;
}
