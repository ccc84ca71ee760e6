/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the vmsync exchange matcher (lib/sync-match.c): any arrival
 * order, duplicates, unmatched halves, several VMs reusing `cnt` values,
 * the OneQemuKvm events end to end through the fit, and a long trace's
 * points kept in bounded memory with the fit unchanged.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "lib/common.h"
#include "lib/sync.h"

#include "tap.h"

struct event {
	enum vmt_sync_event_kind kind;
	uint64_t vm_uid;
	uint64_t cnt;
	int64_t ns;
};

static uint64_t next_random(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * UINT64_C(0x2545f4914f6cdd1d);
}

static void shuffle_events(uint64_t *state, struct event *events, size_t count)
{
	for (size_t i = count; i > 1; i--) {
		size_t j = next_random(state) % i;
		struct event tmp = events[i - 1];

		events[i - 1] = events[j];
		events[j] = tmp;
	}
}

static int compare_points(const void *a, const void *b)
{
	const struct vmt_sync_point *pa = a;
	const struct vmt_sync_point *pb = b;

	if (pa->guest_ns != pb->guest_ns) {
		return pa->guest_ns < pb->guest_ns ? -1 : 1;
	}
	return (pa->host_ns > pb->host_ns) - (pa->host_ns < pb->host_ns);
}

/* Is `got` (any order) the same multiset as `expected` (sorted)? */
static bool same_points(const struct vmt_sync_point *got, size_t got_count,
			const struct vmt_sync_point *expected, size_t expected_count)
{
	struct vmt_sync_point *sorted;
	bool is_same;

	if (got_count != expected_count) {
		return false;
	}
	if (got_count == 0) {
		return true;
	}
	sorted = g_memdup2(got, got_count * sizeof(*got));
	qsort(sorted, got_count, sizeof(*sorted), compare_points);
	is_same = memcmp(sorted, expected, got_count * sizeof(*got)) == 0;
	g_free(sorted);
	return is_same;
}

enum { VM_COUNT = 4, EXCHANGES = 50 };

static const uint64_t vm_uids[VM_COUNT] = { 123456, 0, UINT64_MAX, 7 };

/*
 * The four events of exchange `i` of VM `v`, in their own clocks: the guest
 * sends gh(c) at g, the host receives it at h, replies hg(c+1) at h + 3 and
 * the guest receives that at g + 20. All VMs use the same `cnt` values.
 */
static void exchange_events(size_t v, size_t i, struct event out[4])
{
	uint64_t cnt = 1 + 4 * i;
	int64_t g = 1000000 * (int64_t) v + 100 * (int64_t) i;
	int64_t h = g + 5000 + 7 * (int64_t) v;

	out[0] = (struct event){ VMT_SYNC_GH_GUEST, vm_uids[v], cnt, g };
	out[1] = (struct event){ VMT_SYNC_GH_HOST, vm_uids[v], cnt, h };
	out[2] = (struct event){ VMT_SYNC_HG_HOST, vm_uids[v], cnt + 1, h + 3 };
	out[3] = (struct event){ VMT_SYNC_HG_GUEST, vm_uids[v], cnt + 1, g + 20 };
}

static void expected_points(size_t v, struct vmt_sync_point *upper, struct vmt_sync_point *lower)
{
	for (size_t i = 0; i < EXCHANGES; i++) {
		struct event e[4];

		exchange_events(v, i, e);
		upper[i] = (struct vmt_sync_point){ .guest_ns = e[0].ns, .host_ns = e[1].ns };
		lower[i] = (struct vmt_sync_point){ .guest_ns = e[3].ns, .host_ns = e[2].ns };
	}
	qsort(upper, EXCHANGES, sizeof(*upper), compare_points);
	qsort(lower, EXCHANGES, sizeof(*lower), compare_points);
}

static void feed(struct vmt_sync_matcher *matcher, const struct event *events, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		vmt_sync_matcher_add(matcher, events[i].kind, events[i].vm_uid, events[i].cnt,
				     events[i].ns);
	}
}

/* Does every VM get exactly its own points? */
static bool has_all_points(const struct vmt_sync_matcher *matcher)
{
	for (size_t v = 0; v < VM_COUNT; v++) {
		struct vmt_sync_point upper[EXCHANGES], lower[EXCHANGES];
		const struct vmt_sync_point *got_upper, *got_lower;
		size_t upper_count, lower_count;

		expected_points(v, upper, lower);
		if (!vmt_sync_matcher_borrow_points(matcher, vm_uids[v], &got_upper, &upper_count,
						    &got_lower, &lower_count) ||
		    !same_points(got_upper, upper_count, upper, EXCHANGES) ||
		    !same_points(got_lower, lower_count, lower, EXCHANGES)) {
			return false;
		}
	}
	return true;
}

static size_t all_events(struct event *events)
{
	size_t count = 0;

	for (size_t v = 0; v < VM_COUNT; v++) {
		for (size_t i = 0; i < EXCHANGES; i++) {
			exchange_events(v, i, &events[count]);
			count += 4;
		}
	}
	return count;
}

/* Random interleavings, and each side read entirely before the other. */
static void test_any_order(void)
{
	struct event events[VM_COUNT * EXCHANGES * 4];
	size_t count = all_events(events);
	uint64_t state = 42;
	bool is_ok = true;

	for (int round = 0; round < 200 && is_ok; round++) {
		struct vmt_sync_matcher *matcher = vmt_sync_matcher_create();

		shuffle_events(&state, events, count);
		feed(matcher, events, count);
		is_ok = has_all_points(matcher) && vmt_sync_matcher_unmatched_count(matcher) == 0 &&
			vmt_sync_matcher_duplicate_count(matcher) == 0;
		vmt_sync_matcher_destroy(matcher);
	}
	OK(is_ok, "200 random arrival orders give every VM exactly its points");
	for (int guest_first = 0; guest_first < 2; guest_first++) {
		struct vmt_sync_matcher *matcher = vmt_sync_matcher_create();

		for (int pass = 0; pass < 2; pass++) {
			for (size_t i = 0; i < count; i++) {
				bool is_guest = events[i].kind == VMT_SYNC_GH_GUEST ||
						events[i].kind == VMT_SYNC_HG_GUEST;

				bool is_guest_pass = (pass == 0) == (guest_first == 1);

				if (is_guest == is_guest_pass) {
					feed(matcher, &events[i], 1);
				}
			}
		}
		OK(has_all_points(matcher) && vmt_sync_matcher_unmatched_count(matcher) == 0,
		   "%s trace read entirely first", guest_first ? "guest" : "host");
		vmt_sync_matcher_destroy(matcher);
	}
}

/*
 * Duplicates while the first copy waits are counted and dropped: the first
 * event of a key is kept even if the copy carries another time.
 */
static void test_duplicates(void)
{
	struct event events[VM_COUNT * EXCHANGES * 4];
	size_t count = all_events(events);
	struct vmt_sync_matcher *matcher = vmt_sync_matcher_create();
	uint64_t duplicates = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < count; i++) {
			bool is_guest = events[i].kind == VMT_SYNC_GH_GUEST ||
					events[i].kind == VMT_SYNC_HG_GUEST;
			struct event copy = events[i];

			if (is_guest != (pass == 0)) {
				continue;
			}
			feed(matcher, &events[i], 1);
			/* Guest events come first: every third one is seen again, later. */
			if (is_guest && i % 3 == 0) {
				copy.ns += 999;
				feed(matcher, &copy, 1);
				duplicates++;
			}
		}
	}
	IS_I64((int64_t) vmt_sync_matcher_duplicate_count(matcher), (int64_t) duplicates,
	       "every copy of a waiting half is counted");
	OK(has_all_points(matcher), "the first copy of each key is the one matched");
	vmt_sync_matcher_destroy(matcher);
}

static void test_unmatched_and_directions(void)
{
	struct vmt_sync_matcher *matcher = vmt_sync_matcher_create();
	const struct vmt_sync_point *upper, *lower;
	size_t upper_count, lower_count;

	/* A PV-spinlock kick seen as vmsync: small vm_uid (APIC id), cnt 0, never matched. */
	vmt_sync_matcher_add(matcher, VMT_SYNC_GH_HOST, 3, 0, 500);
	/* gh and hg with the same cnt are different messages. */
	vmt_sync_matcher_add(matcher, VMT_SYNC_GH_GUEST, 99, 7, 1000);
	vmt_sync_matcher_add(matcher, VMT_SYNC_HG_HOST, 99, 7, 1100);
	/* A guest send whose host half was lost. */
	vmt_sync_matcher_add(matcher, VMT_SYNC_GH_GUEST, 99, 11, 2000);
	IS_I64((int64_t) vmt_sync_matcher_unmatched_count(matcher), 4, "four halves wait");
	OK(!vmt_sync_matcher_borrow_points(matcher, 99, &upper, &upper_count, &lower,
					   &lower_count) &&
		   upper_count == 0 && lower_count == 0,
	   "no point without a match");
	OK(!vmt_sync_matcher_borrow_points(matcher, 12345, &upper, &upper_count, &lower,
					   &lower_count),
	   "unknown vm_uid: no points");
	vmt_sync_matcher_add(matcher, VMT_SYNC_HG_GUEST, 99, 7, 1150);
	OK(vmt_sync_matcher_borrow_points(matcher, 99, &upper, &upper_count, &lower,
					  &lower_count) &&
		   upper_count == 0 && lower_count == 1 && lower[0].guest_ns == 1150 &&
		   lower[0].host_ns == 1100,
	   "hg(7) matches hg(7) only: one lower point (1150, 1100)");
	/* A copy after its key matched waits as a new half (cnt wrap-around matches again). */
	vmt_sync_matcher_add(matcher, VMT_SYNC_HG_GUEST, 99, 7, 1150);
	IS_I64((int64_t) vmt_sync_matcher_unmatched_count(matcher), 4, "a late copy waits");
	IS_I64((int64_t) vmt_sync_matcher_duplicate_count(matcher), 0,
	       "a late copy is no duplicate");
	vmt_sync_matcher_destroy(matcher);
	vmt_sync_matcher_destroy(NULL);
}

/* OneQemuKvm's vmsync events, host trace first, then fitted. */
static void test_one_qemu_kvm(void)
{
	static const struct event events[] = {
		{ VMT_SYNC_GH_HOST, 123456, 1, 50 },   { VMT_SYNC_HG_HOST, 123456, 2, 55 },
		{ VMT_SYNC_GH_HOST, 123456, 3, 200 },  { VMT_SYNC_HG_HOST, 123456, 4, 205 },
		{ VMT_SYNC_GH_HOST, 123456, 5, 250 },  { VMT_SYNC_HG_HOST, 123456, 6, 255 },
		{ VMT_SYNC_GH_GUEST, 123456, 1, 40 },  { VMT_SYNC_HG_GUEST, 123456, 2, 65 },
		{ VMT_SYNC_GH_GUEST, 123456, 3, 190 }, { VMT_SYNC_HG_GUEST, 123456, 4, 215 },
		{ VMT_SYNC_GH_GUEST, 123456, 5, 240 }, { VMT_SYNC_HG_GUEST, 123456, 6, 265 },
	};
	struct vmt_sync_matcher *matcher = vmt_sync_matcher_create();
	const struct vmt_sync_point *upper, *lower;
	size_t upper_count, lower_count;
	struct vmt_sync_fit fit;

	feed(matcher, events, G_N_ELEMENTS(events));
	OK(vmt_sync_matcher_borrow_points(matcher, 123456, &upper, &upper_count, &lower,
					  &lower_count) &&
		   upper_count == 3 && lower_count == 3,
	   "OneQemuKvm: three exchanges");
	IS_I64(vmt_sync_fit_points(upper, upper_count, lower, lower_count, 10, 375, &fit),
	       VMT_STATUS_OK, "OneQemuKvm: fit runs");
	OK(fit.status == VMT_SYNC_FIT_OK && fit.line.slope == 1 &&
		   vmt_clock_line_offset_ns(&fit.line) == 0 && fit.error_bound_ns == 26,
	   "OneQemuKvm: identity, bound 26 ns");
	vmt_sync_matcher_destroy(matcher);
}

enum { LONG_EXCHANGES = 200000 };

/*
 * A long trace of exchanges with jittered delays: the matcher keeps a few
 * thousand of its 2 x 200,000 points, counts them all, and the fit of what
 * it keeps is the fit of every point.
 */
static void test_long_trace_bounded(void)
{
	struct vmt_sync_matcher *matcher = vmt_sync_matcher_create();
	GArray *all_upper = g_array_new(FALSE, FALSE, sizeof(struct vmt_sync_point));
	GArray *all_lower = g_array_new(FALSE, FALSE, sizeof(struct vmt_sync_point));
	const struct vmt_sync_point *upper, *lower;
	size_t upper_count, lower_count, peak = 0;
	uint64_t upper_total, lower_total, state = 42;
	struct vmt_sync_fit fit_kept, fit_all;

	for (size_t i = 0; i < LONG_EXCHANGES; i++) {
		/* 1 ms apart; guest clock +20 ppm and 3 ms behind; delays 2-10 us. */
		int64_t g = 1000000 * (int64_t) i, offset = 3000000 + g / 50000;
		int64_t d1 = 2000 + (int64_t) (next_random(&state) % 8000);
		int64_t d2 = 2000 + (int64_t) (next_random(&state) % 8000);
		struct vmt_sync_point up = { g, g + offset + d1 };
		struct vmt_sync_point down = { g + d1 + d2 + 500, g + offset + d1 + 500 };

		vmt_sync_matcher_add(matcher, VMT_SYNC_GH_GUEST, 9, 2 * i, up.guest_ns);
		vmt_sync_matcher_add(matcher, VMT_SYNC_GH_HOST, 9, 2 * i, up.host_ns);
		vmt_sync_matcher_add(matcher, VMT_SYNC_HG_HOST, 9, 2 * i + 1, down.host_ns);
		vmt_sync_matcher_add(matcher, VMT_SYNC_HG_GUEST, 9, 2 * i + 1, down.guest_ns);
		g_array_append_val(all_upper, up);
		g_array_append_val(all_lower, down);
		vmt_sync_matcher_borrow_points(matcher, 9, &upper, &upper_count, &lower,
					       &lower_count);
		peak = MAX(peak, upper_count + lower_count);
	}
	vmt_sync_matcher_point_counts(matcher, 9, &upper_total, &lower_total);
	IS_I64((int64_t) upper_total, LONG_EXCHANGES, "long trace: every upper point counted");
	IS_I64((int64_t) lower_total, LONG_EXCHANGES, "long trace: every lower point counted");
	OK(peak <= 20000, "long trace: at most %zu of %d points kept at once", peak,
	   2 * LONG_EXCHANGES);
	vmt_sync_fit_points(upper, upper_count, lower, lower_count, 0,
			    INT64_C(1000000) * LONG_EXCHANGES, &fit_kept);
	vmt_sync_fit_points((const struct vmt_sync_point *) (void *) all_upper->data,
			    all_upper->len,
			    (const struct vmt_sync_point *) (void *) all_lower->data,
			    all_lower->len, 0, INT64_C(1000000) * LONG_EXCHANGES, &fit_all);
	OK(fit_all.status == VMT_SYNC_FIT_OK && fit_kept.status == fit_all.status &&
		   fit_kept.line.ref_guest_ns == fit_all.line.ref_guest_ns &&
		   fit_kept.line.ref_host_ns == fit_all.line.ref_host_ns &&
		   fit_kept.line.slope == fit_all.line.slope &&
		   fit_kept.error_bound_ns == fit_all.error_bound_ns &&
		   fit_kept.gap_ns == fit_all.gap_ns,
	   "long trace: the kept points fit as all of them (bound %" PRId64 " ns)",
	   fit_all.error_bound_ns);
	g_array_free(all_upper, TRUE);
	g_array_free(all_lower, TRUE);
	vmt_sync_matcher_destroy(matcher);
}

int main(void)
{
	test_any_order();
	test_duplicates();
	test_unmatched_and_directions();
	test_one_qemu_kvm();
	test_long_trace_bounded();
	return tap_done();
}
