/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the exact clock fit (lib/sync-fit.c) on small cases whose
 * answer is known by hand: Trace Compass's OneQemuKvm vmsync points and its
 * SyncTest sequences, one-way and contradictory points, degenerate inputs.
 */
#include <math.h>
#include <stdio.h>

#include <babeltrace2/babeltrace.h>

#include "lib/common.h"
#include "lib/sync.h"

#include "tap.h"

#define PT(g, h)                                \
	{                                       \
		.guest_ns = (g), .host_ns = (h) \
	}

static struct vmt_sync_fit fit_or_fail(const struct vmt_sync_point *upper, size_t upper_count,
				       const struct vmt_sync_point *lower, size_t lower_count,
				       int64_t span_begin, int64_t span_end, const char *what)
{
	struct vmt_sync_fit fit;
	enum vmt_status status = vmt_sync_fit_points(upper, upper_count, lower, lower_count,
						     span_begin, span_end, &fit);

	IS_I64(status, VMT_STATUS_OK, what);
	return fit;
}

/* Every upper point on or above the reported line, every lower one on or below. */
static bool line_is_feasible(const struct vmt_clock_line *line, const struct vmt_sync_point *upper,
			     size_t upper_count, const struct vmt_sync_point *lower,
			     size_t lower_count)
{
	for (size_t i = 0; i < upper_count; i++) {
		if (vmt_clock_line_apply(line, upper[i].guest_ns) > upper[i].host_ns) {
			return false;
		}
	}
	for (size_t i = 0; i < lower_count; i++) {
		if (vmt_clock_line_apply(line, lower[i].guest_ns) < lower[i].host_ns) {
			return false;
		}
	}
	return true;
}

/*
 * OneQemuKvm (peer-cases/tracecompass/README.md section 1): gh_guest at 40,
 * 190, 240 received by the host at 50, 200, 250; hg_host at 55, 205, 255
 * received by the guest at 65, 215, 265. The clocks are identical.
 */
static void test_one_qemu_kvm(void)
{
	static const struct vmt_sync_point upper[] = { PT(40, 50), PT(190, 200), PT(240, 250) };
	static const struct vmt_sync_point lower[] = { PT(65, 55), PT(215, 205), PT(265, 255) };
	/* Trace Compass's result (README section 1(e)); the truth is the identity. */
	const long double tc_alpha = 1.0126984L;
	const long double tc_beta = -1.9365079L;
	struct vmt_sync_fit fit = fit_or_fail(upper, 3, lower, 3, 10, 375, "OneQemuKvm: fit runs");
	long double our_error = 0;
	long double tc_error = 0;

	IS_I64(fit.status, VMT_SYNC_FIT_OK, "OneQemuKvm: status OK");
	OK(fit.slope_min <= 1 && fit.slope_max >= 1 && 0 >= 50 - 40 - 10 && 55 - 65 <= 0,
	   "OneQemuKvm: the region contains (1, 0)");
	OK(fabsl(fit.slope_min - (1 - 20.0L / 225)) < 1e-18L,
	   "OneQemuKvm: slope min 41/45 (%.10Lf)", fit.slope_min);
	OK(fabsl(fit.slope_max - (1 + 20.0L / 175)) < 1e-18L,
	   "OneQemuKvm: slope max 39/35 (%.10Lf)", fit.slope_max);
	OK(fit.line.slope == 1, "OneQemuKvm: centre slope is exactly 1");
	IS_I64(vmt_clock_line_offset_ns(&fit.line), 0, "OneQemuKvm: centre offset is 0");
	OK(fit.gap_ns == 20, "OneQemuKvm: gap 20 ns (10 each way)");
	/* Widest vertex: the line through (65, 55) and (240, 250), at g = 375: 25.43 ns. */
	IS_I64(fit.error_bound_ns, 26, "OneQemuKvm: error bound");
	for (int64_t g = 10; g <= 375; g++) {
		long double tc = tc_alpha * (long double) g + tc_beta;

		our_error =
			fmaxl(our_error, fabsl((long double) vmt_clock_line_apply(&fit.line, g) -
					       (long double) g));
		tc_error = fmaxl(tc_error, fabsl(tc - (long double) g));
	}
	OK(our_error == 0 && tc_error > 2.8L,
	   "OneQemuKvm: max error over the trace %.3Lf ns (Trace Compass: %.3Lf ns)", our_error,
	   tc_error);
}

/* Maps a SyncTest row to a point: t1 is the guest (reference), t2 the host. */
struct tc_row {
	bool is_t1_sender;
	int64_t send;
	int64_t recv;
	enum vmt_sync_fit_status expected;
	bool is_bounded;
};

/*
 * Trace Compass's testFullyIncremental sequence (sync-fully-incremental-cases.csv).
 * INCOMPLETE is our ONE_WAY; APPROXIMATE (one line without an anchor) is an
 * OK fit whose slope is open on one side (no bound); ACCURATE is a bounded
 * OK fit; FAIL is INCONSISTENT. Row 2 is INCOMPLETE for Trace Compass, whose
 * lines need two points; for us one point of each kind is a fit with an
 * open slope.
 *
 * Row 9 (t1 7 -> t2 4) is where we differ in substance: Trace Compass still
 * says ACCURATE (0.375, 1.625), but the points already contradict each
 * other. Upper (7, 4) with lower (6, 4) gives 7a + b <= 4 <= 6a + b, so
 * a <= 0; upper (1, 3) with lower (6, 4) gives 6a + b >= 4 >= a + b + 1, so
 * a >= 0.2. Its incremental hulls only notice at row 10 (FAIL).
 */
static void test_trace_compass_sequence(void)
{
	static const struct tc_row rows[] = {
		{ false, 1, 1, VMT_SYNC_FIT_ONE_WAY, false },
		{ true, 1, 3, VMT_SYNC_FIT_OK, false },
		{ false, 2, 3, VMT_SYNC_FIT_OK, false },
		{ true, 3, 5, VMT_SYNC_FIT_OK, true },
		{ true, 4, 8, VMT_SYNC_FIT_OK, true },
		{ false, 4, 5, VMT_SYNC_FIT_OK, true },
		{ false, 4, 6, VMT_SYNC_FIT_OK, true },
		{ true, 6, 7, VMT_SYNC_FIT_OK, true },
		{ true, 7, 4, VMT_SYNC_FIT_INCONSISTENT, false },
		{ false, 7, 3, VMT_SYNC_FIT_INCONSISTENT, false },
	};
	struct vmt_sync_point upper[10];
	struct vmt_sync_point lower[10];
	size_t upper_count = 0;
	size_t lower_count = 0;

	for (size_t i = 0; i < VMT_ARRAY_SIZE(rows); i++) {
		struct vmt_sync_fit fit;

		if (rows[i].is_t1_sender) {
			upper[upper_count++] =
				(struct vmt_sync_point) PT(rows[i].send, rows[i].recv);
		} else {
			lower[lower_count++] =
				(struct vmt_sync_point) PT(rows[i].recv, rows[i].send);
		}
		fit = fit_or_fail(upper, upper_count, lower, lower_count, 1, 7,
				  "SyncTest: fit runs");
		IS_I64(fit.status, rows[i].expected, "SyncTest: status after each row");
		IS_I64(fit.error_bound_ns >= 0, rows[i].is_bounded,
		       "SyncTest: bounded after each row");
		if (fit.status == VMT_SYNC_FIT_OK) {
			OK(line_is_feasible(&fit.line, upper, upper_count, lower, lower_count),
			   "SyncTest: row %zu: the centre satisfies every constraint", i + 1);
		}
	}
}

/*
 * A polygon by hand, SyncTest's row-4 shape stretched to ppm slopes. Anchored
 * at g = 10000 (x = g - 10000, y = h - g): upper (0, 2), (20000, 2), lower
 * (0, 0), (20000, -1). U(e) = 2 - 20000e (e >= 0), 2 (e <= 0); L(e) = 0
 * (e >= -5e-5), -1 - 20000e (e <= -5e-5). So G = 2 on [-5e-5, 0]: centre
 * e = -2.5e-5, b = 1 (h = 10001 at g = 10000, 30000.5 at 30000).
 * Feasible e in [-1.5e-4, 1e-4]. Over the span [10000, 30000] the vertices
 * (e, b) = (-1.5e-4, 2), (0, 2), (1e-4, 0), (-5e-5, 0) are 1 and 1.5 from
 * the centre at the two ends: bound 2.
 */
static void test_hand_polygon(void)
{
	static const struct vmt_sync_point upper[] = { PT(10000, 10002), PT(30000, 30002) };
	static const struct vmt_sync_point lower[] = { PT(10000, 10000), PT(30000, 29999) };
	struct vmt_sync_fit fit =
		fit_or_fail(upper, 2, lower, 2, 10000, 30000, "hand polygon: fit runs");

	IS_I64(fit.status, VMT_SYNC_FIT_OK, "hand polygon: OK");
	OK(fabsl(fit.slope_min - (1 - 1.5e-4L)) < 1e-18L &&
		   fabsl(fit.slope_max - (1 + 1e-4L)) < 1e-18L,
	   "hand polygon: slopes [%.10Lf, %.10Lf]", fit.slope_min, fit.slope_max);
	OK(fabsl(fit.line.slope - (1 - 2.5e-5L)) < 1e-18L, "hand polygon: centre slope 1 - 25 ppm");
	/* 10000 ns from the middle the centre is an integer: it is stored there. */
	IS_I64(fit.line.ref_guest_ns, 10000, "hand polygon: reference where the centre is 10001");
	IS_I64(fit.line.ref_host_ns, 10001, "hand polygon: reference host time");
	/* 30000.5 in exact arithmetic; the stored slope is 1 - 2.5e-5 to 1e-19. */
	OK(labs(vmt_clock_line_apply(&fit.line, 30000) - 30000) <= 1, "hand polygon: 30000.5");
	OK(fabsl(fit.gap_ns - 2) < 1e-12L, "hand polygon: gap 2");
	IS_I64(fit.error_bound_ns, 2, "hand polygon: bound ceil(1.5)");
}

/*
 * SyncTest's row 4 itself (seconds used as ns): upper (1, 3), (3, 5), lower
 * (1, 1), (3, 2). Its widest gap is at slope 0.75 (what Trace Compass
 * reports), a slope no clock has. The centre takes the nearest plausible
 * slope, 1 - 1000 ppm; the region and its bound stay those of the points.
 */
static void test_plausible_slope(void)
{
	static const struct vmt_sync_point upper[] = { PT(1, 3), PT(3, 5) };
	static const struct vmt_sync_point lower[] = { PT(1, 1), PT(3, 2) };
	struct vmt_sync_fit fit = fit_or_fail(upper, 2, lower, 2, 1, 3, "toy polygon: fit runs");

	IS_I64(fit.status, VMT_SYNC_FIT_OK, "toy polygon: OK");
	OK(fit.slope_min == -0.5L && fit.slope_max == 2, "toy polygon: slopes [%Lg, %Lg]",
	   fit.slope_min, fit.slope_max);
	OK(fit.line.slope == 1 - 1e-3L, "toy polygon: centre slope 1 - 1000 ppm, not 0.75");
	OK(line_is_feasible(&fit.line, upper, 2, lower, 2), "toy polygon: centre is feasible");
	OK(fit.error_bound_ns >= 2, "toy polygon: bound %" PRId64 " covers the whole region",
	   fit.error_bound_ns);
}

/* The hand polygon moved to 1.7e18 ns, with the host 3 hours behind. */
static void test_hand_polygon_far(void)
{
	const int64_t g = 1700000000000000000;
	const int64_t h = g - 3LL * 3600 * 1000000000;
	const struct vmt_sync_point upper[] = { PT(g + 10000, h + 10002),
						PT(g + 30000, h + 30002) };
	const struct vmt_sync_point lower[] = { PT(g + 10000, h + 10000),
						PT(g + 30000, h + 29999) };
	struct vmt_sync_fit fit =
		fit_or_fail(upper, 2, lower, 2, g + 10000, g + 30000, "far polygon: fit runs");
	long double beta;

	IS_I64(fit.status, VMT_SYNC_FIT_OK, "far polygon: OK");
	OK(fabsl(fit.line.slope - (1 - 2.5e-5L)) < 1e-18L, "far polygon: centre slope");
	IS_I64(vmt_clock_line_apply(&fit.line, g + 10000), h + 10001, "far polygon: centre");
	/* beta = ref_host - ref_guest - (slope - 1) * ref_guest, ~1e-5 ns accurate. */
	beta = (long double) (fit.line.ref_host_ns - fit.line.ref_guest_ns) -
	       (fit.line.slope - 1) * (long double) fit.line.ref_guest_ns;
	IS_I64(vmt_clock_line_offset_ns(&fit.line), (int64_t) floorl(beta + 0.5L),
	       "far polygon: offset beta at guest 0 (1.7e18 ns away)");
	IS_I64(fit.error_bound_ns, 2, "far polygon: bound 2 ns");
}

/* A point set and span for the brute-force check of the error bound. */
struct brute_case {
	const struct vmt_sync_point *upper;
	size_t upper_count;
	const struct vmt_sync_point *lower;
	size_t lower_count;
	int64_t span[2];
};

/* Does the line through `p` and `q` (`p.guest_ns < q.guest_ns`) satisfy every point? */
static bool brute_is_feasible(const struct brute_case *bc, struct vmt_sync_point p,
			      struct vmt_sync_point q)
{
	__int128 den = (__int128) q.guest_ns - p.guest_ns;

	for (size_t i = 0; i < bc->upper_count + bc->lower_count; i++) {
		bool is_upper = i < bc->upper_count;
		struct vmt_sync_point r = is_upper ? bc->upper[i] : bc->lower[i - bc->upper_count];
		/* (line(r.g) - r.h) * den, exactly. */
		__int128 diff = ((__int128) p.host_ns - r.host_ns) * den +
				((__int128) q.host_ns - p.host_ns) * (r.guest_ns - p.guest_ns);

		if (is_upper ? diff > 0 : diff < 0) {
			return false;
		}
	}
	return true;
}

/*
 * The largest |l(g) - line(g)| over every feasible line l through two
 * points (the region's vertices are among them) and both span ends, and
 * how many such lines there are.
 */
static long double brute_max_distance(const struct brute_case *bc,
				      const struct vmt_clock_line *line, size_t *vertex_count)
{
	size_t count = bc->upper_count + bc->lower_count;
	long double worst = 0;

	*vertex_count = 0;
	for (size_t i = 0; i < count; i++) {
		for (size_t j = 0; j < count; j++) {
			struct vmt_sync_point p =
				i < bc->upper_count ? bc->upper[i] : bc->lower[i - bc->upper_count];
			struct vmt_sync_point q =
				j < bc->upper_count ? bc->upper[j] : bc->lower[j - bc->upper_count];

			if (p.guest_ns >= q.guest_ns || !brute_is_feasible(bc, p, q)) {
				continue;
			}
			(*vertex_count)++;
			for (int e = 0; e < 2; e++) {
				int64_t g = bc->span[e];
				int64_t den = q.guest_ns - p.guest_ns;
				__int128 num =
					(__int128) p.host_ns * den +
					(__int128) (q.host_ns - p.host_ns) * (g - p.guest_ns);
				long double vertex = (long double) (int64_t) num / den;
				int64_t delta = g - line->ref_guest_ns;
				long double fitted = (long double) (line->ref_host_ns + delta) +
						     (line->slope - 1) * (long double) delta;

				worst = fmaxl(worst, fabsl(vertex - fitted));
			}
		}
	}
	return worst;
}

/*
 * An upper and a lower hull edge of the same slope (both flat here, with
 * identical clocks): at slope 1 the region spans offsets -5..0, so it has a
 * corner on each boundary. The line h = g - 5 is feasible; the bound must
 * cover its distance to the centre (3 ns from h = g - 2), not only that of
 * the corner on the upper boundary.
 */
static void test_parallel_hull_edges(void)
{
	static const struct vmt_sync_point upper[] = { PT(560, 560), PT(769, 769) };
	static const struct vmt_sync_point lower[] = { PT(40, 35), PT(728, 723), PT(903, 898) };
	const struct brute_case bc = { upper, 2, lower, 3, { 617, 767 } };
	struct vmt_sync_fit fit = fit_or_fail(upper, 2, lower, 3, 617, 767, "parallel: fit runs");
	long double worst = 0;
	size_t vertex_count;

	IS_I64(fit.status, VMT_SYNC_FIT_OK, "parallel hull edges: OK");
	OK(line_is_feasible(&fit.line, upper, 2, lower, 3), "parallel hull edges: centre feasible");
	for (int64_t offset = -5; offset <= 0; offset++) {
		for (int e = 0; e < 2; e++) {
			int64_t g = bc.span[e];

			worst = fmaxl(worst,
				      fabsl((long double) (vmt_clock_line_apply(&fit.line, g) -
							   (g + offset))));
		}
	}
	OK(fit.error_bound_ns >= 3 && (long double) fit.error_bound_ns >= worst,
	   "parallel hull edges: bound %" PRId64 " covers h = g - 5 (%.3Lf ns away)",
	   fit.error_bound_ns, worst);
	worst = brute_max_distance(&bc, &fit.line, &vertex_count);
	OK(vertex_count > 0 && (long double) fit.error_bound_ns >= worst - 1e-9L &&
		   (long double) fit.error_bound_ns <= worst + 1,
	   "parallel hull edges: bound %" PRId64 " vs brute force %.6Lf over %zu vertices",
	   fit.error_bound_ns, worst, vertex_count);
}

/* splitmix64: deterministic across platforms. */
static uint64_t next_u64(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi]. */
static int64_t next_int(uint64_t *state, int64_t lo, int64_t hi)
{
	return lo + (int64_t) (next_u64(state) % (uint64_t) (hi - lo + 1));
}

/*
 * Random small cases against the brute force. The true line is
 * h = (num / den) * g + offset at guest times that are multiples of den; an
 * upper point adds a delay to h, a lower point subtracts one. Half of the
 * cases use one constant delay each way (with an occasional slower
 * message): equal rates then give flat hull edges of equal slope on both
 * sides. The others draw small delays, where equal edge slopes also occur.
 */
static void test_bound_brute_force(void)
{
	static const int64_t rates[][2] = { { 1, 1 }, { 1, 1 }, { 2, 1 }, { 1, 2 }, { 3, 2 } };
	enum { CASES = 20000, MAX_POINTS = 6 };
	uint64_t state = 42;
	size_t checked = 0;
	size_t parallel_checked = 0;
	size_t failures = 0;

	for (int n = 0; n < CASES; n++) {
		struct vmt_sync_point upper[MAX_POINTS];
		struct vmt_sync_point lower[MAX_POINTS];
		bool is_parallel = n % 2 == 0;
		size_t rate = is_parallel ? 0 : (size_t) next_int(&state, 0, 4);
		int64_t num = rates[rate][0];
		int64_t den = rates[rate][1];
		int64_t offset = next_int(&state, -20, 20);
		int64_t delay[2] = { next_int(&state, 0, 6), next_int(&state, 0, 6) };
		struct brute_case bc = {
			.upper = upper,
			.upper_count = (size_t) next_int(&state, 1, MAX_POINTS),
			.lower = lower,
			.lower_count = (size_t) next_int(&state, 1, MAX_POINTS),
		};
		struct vmt_sync_fit fit;
		long double worst;
		size_t vertex_count;

		for (size_t i = 0; i < bc.upper_count + bc.lower_count; i++) {
			bool is_upper = i < bc.upper_count;
			int64_t g = den * next_int(&state, 0, is_parallel ? 300 : 30);
			int64_t d = is_parallel ? delay[is_upper] : next_int(&state, 0, 4);
			struct vmt_sync_point p;

			if (is_parallel && next_int(&state, 0, 5) == 0) {
				d += next_int(&state, 1, 3);
			}
			p = (struct vmt_sync_point) PT(g, num * g / den + offset +
								  (is_upper ? d : -d));
			if (is_upper) {
				upper[i] = p;
			} else {
				lower[i - bc.upper_count] = p;
			}
		}
		bc.span[0] = next_int(&state, -10, is_parallel ? 300 : 30) * den;
		bc.span[1] = bc.span[0] + next_int(&state, 0, is_parallel ? 300 : 30) * den;
		if (vmt_sync_fit_points(upper, bc.upper_count, lower, bc.lower_count, bc.span[0],
					bc.span[1], &fit) != VMT_STATUS_OK) {
			failures++;
			continue;
		}
		if (fit.status != VMT_SYNC_FIT_OK || fit.error_bound_ns < 0) {
			continue;
		}
		worst = brute_max_distance(&bc, &fit.line, &vertex_count);
		checked++;
		parallel_checked += is_parallel;
		if (vertex_count > 0 && (long double) fit.error_bound_ns >= worst - 1e-9L &&
		    (long double) fit.error_bound_ns <= worst + 1 + 1e-9L) {
			continue;
		}
		if (failures++ < 5) {
			printf("# case %d: bound %" PRId64 ", brute force %.6Lf over %zu vertices, "
			       "span %" PRId64 "..%" PRId64 "\n",
			       n, fit.error_bound_ns, worst, vertex_count, bc.span[0], bc.span[1]);
			for (size_t i = 0; i < bc.upper_count; i++) {
				printf("#   upper (%" PRId64 ", %" PRId64 ")\n", upper[i].guest_ns,
				       upper[i].host_ns);
			}
			for (size_t i = 0; i < bc.lower_count; i++) {
				printf("#   lower (%" PRId64 ", %" PRId64 ")\n", lower[i].guest_ns,
				       lower[i].host_ns);
			}
		}
	}
	OK(checked > CASES / 4 && parallel_checked > CASES / 8,
	   "brute force: %zu bounded cases checked (%zu with constant delays)", checked,
	   parallel_checked);
	IS_I64((int64_t) failures, 0, "brute force: bound within [max vertex distance, +1 ns]");
}

static void test_empty_and_one_way(void)
{
	static const struct vmt_sync_point points[] = { PT(10, 20), PT(30, 41) };
	struct vmt_sync_fit fit = fit_or_fail(NULL, 0, NULL, 0, 0, 100, "no points: fit runs");

	IS_I64(fit.status, VMT_SYNC_FIT_NO_POINTS, "no points: NO_POINTS");
	IS_I64(fit.error_bound_ns, -1, "no points: no bound");
	OK(fit.line.slope == 1 && fit.line.ref_host_ns == 0, "no points: identity line");
	fit = fit_or_fail(points, 2, NULL, 0, 0, 100, "upper only: fit runs");
	IS_I64(fit.status, VMT_SYNC_FIT_ONE_WAY, "upper only: ONE_WAY");
	OK(fit.slope_min == -INFINITY && fit.slope_max == INFINITY, "upper only: slope unbounded");
	fit = fit_or_fail(NULL, 0, points, 1, 0, 100, "one lower point: fit runs");
	IS_I64(fit.status, VMT_SYNC_FIT_ONE_WAY, "one lower point: ONE_WAY");
	IS_I64((int64_t) fit.lower_count, 1, "one lower point: counted");
}

/*
 * Contradictions: a message received before it was sent (in any clock
 * relation), and the last SyncTest row in isolation with its neighbours.
 */
static void test_inconsistent(void)
{
	static const struct vmt_sync_point upper[] = { PT(100, 100) };
	static const struct vmt_sync_point lower[] = { PT(100, 110) };
	static const struct vmt_sync_point upper2[] = { PT(0, 10), PT(1000, 1010) };
	static const struct vmt_sync_point lower2[] = { PT(500, 1000) };
	struct vmt_sync_fit fit = fit_or_fail(upper, 1, lower, 1, 0, 200, "same-time: fit runs");

	IS_I64(fit.status, VMT_SYNC_FIT_INCONSISTENT, "same-time contradiction: INCONSISTENT");
	OK(fit.gap_ns == -10, "same-time contradiction: gap -10");
	IS_I64(vmt_clock_line_apply(&fit.line, 100), 105, "least-violating line: 5 ns each way");
	IS_I64(fit.error_bound_ns, -1, "INCONSISTENT: no bound");
	fit = fit_or_fail(upper2, 2, lower2, 1, 0, 1000, "lower above upper chord: fit runs");
	IS_I64(fit.status, VMT_SYNC_FIT_INCONSISTENT, "lower point above the upper chord");
	/* The chord is at 510 where the lower point needs 1000: 245 ns each way. */
	OK(fit.gap_ns == -490, "largest violation 245 ns (gap %Lg)", fit.gap_ns);
	IS_I64(vmt_clock_line_apply(&fit.line, 500), 755, "least-violating line at 755");
}

static void test_degenerate(void)
{
	static const struct vmt_sync_point same_u[] = { PT(500, 700), PT(500, 720) };
	static const struct vmt_sync_point same_l[] = { PT(500, 600), PT(500, 650) };
	static const struct vmt_sync_point point[] = { PT(-4000, 9000) };
	static const struct vmt_sync_point line_u[] = { PT(0, 0), PT(1000, 1001) };
	struct vmt_sync_fit fit = fit_or_fail(same_u, 2, same_l, 2, 0, 1000, "one time: fit runs");

	IS_I64(fit.status, VMT_SYNC_FIT_OK, "all points at one guest time: OK");
	IS_I64(fit.error_bound_ns, -1, "all points at one guest time: no bound");
	OK(fit.line.slope == 1 && fit.slope_min == -INFINITY && fit.slope_max == INFINITY,
	   "all points at one guest time: slope 1 preferred, range open");
	IS_I64(vmt_clock_line_apply(&fit.line, 500), 675, "all at one time: middle of [650, 700]");
	fit = fit_or_fail(point, 1, point, 1, -5000, 5000, "identical points: fit runs");
	IS_I64(fit.status, VMT_SYNC_FIT_OK, "one identical point of each kind: OK");
	OK(fit.gap_ns == 0, "identical points: gap 0");
	IS_I64(vmt_clock_line_apply(&fit.line, -4000), 9000, "identical points: through the point");
	fit = fit_or_fail(line_u, 2, line_u, 2, 0, 1000, "exact line: fit runs");
	IS_I64(fit.status, VMT_SYNC_FIT_OK, "two exact exchanges: OK");
	OK(fit.slope_min == fit.slope_max && fit.line.slope == fit.slope_min,
	   "two exact exchanges: one slope %.21Lg", fit.line.slope);
	/* The stored slope 1.001L is not 1.001: the true distance is ~1e-16 ns. */
	IS_I64(fit.error_bound_ns, 1, "two exact exchanges: bound rounds 1e-16 ns up");
	IS_I64(vmt_clock_line_apply(&fit.line, 1000), 1001, "two exact exchanges: exact line");
}

static void test_range_errors(void)
{
	static const struct vmt_sync_point far_u[] = { PT(0, 0), PT(INT64_MAX, INT64_MAX) };
	static const struct vmt_sync_point near_l[] = { PT(5, 4) };
	static const struct vmt_sync_point wild_l[] = { PT(INT64_MAX, INT64_MIN) };
	struct vmt_sync_fit fit;
	const bt_error *error;

	IS_I64(vmt_sync_fit_points(far_u, 2, near_l, 1, 0, 10, &fit), VMT_STATUS_ERROR,
	       "points 2^63 ns apart: error");
	error = bt_current_thread_take_error();
	OK(error && bt_error_get_cause_count(error) == 1, "the error has a cause");
	bt_error_release(error);
	IS_I64(vmt_sync_fit_points(far_u, 1, wild_l, 1, 0, 10, &fit), VMT_STATUS_ERROR,
	       "offset 2^64 ns from the first: error");
	bt_current_thread_clear_error();
	IS_I64(vmt_sync_fit_points(far_u, 1, near_l, 1, INT64_MIN, INT64_MAX, &fit),
	       VMT_STATUS_ERROR, "unbounded span: error");
	bt_current_thread_clear_error();
	fit = fit_or_fail(far_u, 1, near_l, 1, 10, 0, "reversed span: fit runs");
	IS_I64(fit.status, VMT_SYNC_FIT_OK, "reversed span: swapped");
}

int main(void)
{
	test_one_qemu_kvm();
	test_trace_compass_sequence();
	test_hand_polygon();
	test_hand_polygon_far();
	test_plausible_slope();
	test_parallel_hull_edges();
	test_bound_brute_force();
	test_empty_and_one_way();
	test_inconsistent();
	test_degenerate();
	test_range_errors();
	return tap_done();
}
