/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the clock lines (lib/sync-line.c): exact rounding,
 * monotonicity, saturation, the offset and the slope's text.
 */
#include <math.h>
#include <string.h>

#include "lib/sync.h"

#include "tap.h"

/* xorshift64*: deterministic, good enough for test inputs. */
static uint64_t next_random(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * UINT64_C(0x2545f4914f6cdd1d);
}

static void test_identity_and_exact_values(void)
{
	struct vmt_clock_line identity = vmt_clock_line_identity();
	struct vmt_clock_line half = { .ref_guest_ns = 0, .ref_host_ns = 0, .slope = 0.5L };
	struct vmt_clock_line line = { .ref_guest_ns = 1000, .ref_host_ns = 5000, .slope = 1.5L };
	char buf[32];

	IS_I64(vmt_clock_line_apply(&identity, 1700000000123456789), 1700000000123456789,
	       "identity keeps the value");
	IS_I64(vmt_clock_line_offset_ns(&identity), 0, "identity offset");
	/* Trace Compass's TsTransformTest value: 1361657893526374091 * 0.5. */
	IS_I64(vmt_clock_line_apply(&half, 1361657893526374091), 680828946763187046,
	       "half of an odd value rounds half up (.5 -> up)");
	IS_I64(vmt_clock_line_apply(&half, -3), -1, "-1.5 rounds half up to -1");
	IS_I64(vmt_clock_line_apply(&half, -5), -2, "-2.5 rounds half up to -2");
	IS_I64(vmt_clock_line_apply(&line, 1001), 5002, "5001.5 rounds to 5002");
	IS_I64(vmt_clock_line_apply(&line, 999), 4999, "4998.5 rounds to 4999");
	IS_I64(vmt_clock_line_apply(&line, 997), 4996, "4995.5 rounds to 4996");
	IS_I64(vmt_clock_line_offset_ns(&line), 3500, "offset is the value at guest 0");
	vmt_clock_line_format_slope(&identity, buf, sizeof(buf));
	IS_STR(buf, "1.00000000000000000000", "identity slope text has 21 digits");
	vmt_clock_line_format_slope(&half, buf, sizeof(buf));
	IS_STR(buf, "0.500000000000000000000", "slope below 1 keeps 21 significant digits");
}

/*
 * The offset of a line whose reference point is 1.7e18 ns from guest 0,
 * with slope 1 + 3 * 2^-22: slope * g = g + q + r / 2^22 exactly, where
 * 3g = q * 2^22 + r, so the rounded value is known without floating point.
 */
static void test_exact_offset(void)
{
	int64_t g = 1700000000000000001;
	struct vmt_clock_line line = {
		.ref_guest_ns = g,
		.ref_host_ns = 1700000000003200000,
		.slope = 1 + 3 * 0x1p-22L,
	};
	__int128 three_g = (__int128) g * 3;
	int64_t q = (int64_t) (three_g >> 22);
	int64_t r = (int64_t) (three_g & ((1 << 22) - 1));

	IS_I64(vmt_clock_line_offset_ns(&line), line.ref_host_ns - g - q - (r > (1 << 21) ? 1 : 0),
	       "offset of a line referenced 1.7e18 ns away is exact");
}

/*
 * A slope of 1 + 35 ppm, three days from the reference point: the product is
 * 2.6e14 and its `long double` value is within 2e-5 ns of exact, so as long
 * as its fraction is not near one half it rounds like the exact value.
 */
static void test_far_from_reference(void)
{
	struct vmt_clock_line line = {
		.ref_guest_ns = 1700000000000000000,
		.ref_host_ns = 1700000000003200000,
		.slope = 1.000035L,
	};
	int64_t delta = 86400LL * 1000000000LL * 3;
	long double product = line.slope * (long double) delta;
	long double fraction = product - floorl(product);

	OK(fabsl(fraction - 0.5L) > 1e-3L, "reference product is conclusive (fraction %.6Lf)",
	   fraction);
	IS_I64(vmt_clock_line_apply(&line, line.ref_guest_ns + delta),
	       line.ref_host_ns + (int64_t) floorl(product + 0.5L), "three days after");
	IS_I64(vmt_clock_line_apply(&line, line.ref_guest_ns - delta),
	       line.ref_host_ns + (int64_t) floorl(-product + 0.5L), "three days before");
}

static void test_saturation(void)
{
	struct vmt_clock_line line = { .ref_guest_ns = 0,
				       .ref_host_ns = INT64_MAX - 10,
				       .slope = 2.0L };
	struct vmt_clock_line bad = { .ref_guest_ns = 0, .ref_host_ns = 42, .slope = NAN };
	struct vmt_clock_line huge = { .ref_guest_ns = 0, .ref_host_ns = 0, .slope = 1e30L };
	struct vmt_clock_line tiny = { .ref_guest_ns = 0, .ref_host_ns = 7, .slope = 1e-30L };

	IS_I64(vmt_clock_line_apply(&line, INT64_MAX), INT64_MAX, "saturates above");
	IS_I64(vmt_clock_line_apply(&line, INT64_MIN), INT64_MIN, "saturates below");
	IS_I64(vmt_clock_line_apply(&bad, 5), 42, "a NaN slope gives the reference host time");
	IS_I64(vmt_clock_line_apply(&huge, 5), INT64_MAX, "an absurd slope saturates");
	IS_I64(vmt_clock_line_apply(&huge, -5), INT64_MIN, "an absurd slope saturates below");
	IS_I64(vmt_clock_line_apply(&tiny, INT64_MAX), 7, "a tiny slope is flat");
}

/* Monotonic over random slopes, references and inputs, including neighbours. */
static void test_monotonic(void)
{
	uint64_t state = 0x9e3779b97f4a7c15;
	bool is_monotonic = true;
	bool is_close = true;

	for (int round = 0; round < 20000 && is_monotonic; round++) {
		struct vmt_clock_line line = {
			.ref_guest_ns = (int64_t) (next_random(&state) >> 3),
			.ref_host_ns = (int64_t) (next_random(&state) >> 3),
			.slope = 1 +
				 ((long double) (next_random(&state) % 2000001) - 1000000) * 1e-9L,
		};
		int64_t g = line.ref_guest_ns + (int64_t) (next_random(&state) % 2000000000001) -
			    1000000000000;
		int64_t step = (int64_t) (next_random(&state) % 3);
		int64_t a = vmt_clock_line_apply(&line, g);
		int64_t b = vmt_clock_line_apply(&line, g + step);
		long double approx = line.slope * (long double) (g - line.ref_guest_ns);

		is_monotonic = b >= a;
		is_close = is_close && fabsl((long double) (a - line.ref_host_ns) - approx) <= 1.0L;
	}
	OK(is_monotonic, "apply() is non-decreasing for 20000 random lines and steps of 0-2 ns");
	OK(is_close, "apply() agrees with long double within 1 ns");
}

int main(void)
{
	test_identity_and_exact_values();
	test_far_from_reference();
	test_exact_offset();
	test_saturation();
	test_monotonic();
	return tap_done();
}
