/* SPDX-License-Identifier: MIT */
/*
 * Clock lines: evaluation of `host = slope * (guest - ref_guest) + ref_host`.
 *
 * A `long double` slope is exactly `m * 2^e` with a 64-bit integer `m`. For
 * every slope a clock can have (any magnitude from 2^-64 to 2^63) the
 * product `m * |guest - ref_guest|` fits in an
 * unsigned 128-bit integer, so the line is evaluated *exactly* and rounded
 * once. Exact evaluation makes the result monotonic for free, and correct to
 * the ns over any distance from the reference point; `long double` products
 * on 1.7e18-ns absolutes would lose up to 0.25 ns each.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "lib/sync.h"

/* Saturates a 128-bit value to the `int64_t` range; monotonic. */
static int64_t clamp_to_i64(__int128 value)
{
	if (value > INT64_MAX) {
		return INT64_MAX;
	}
	if (value < INT64_MIN) {
		return INT64_MIN;
	}
	return (int64_t) value;
}

/*
 * Rounds `±magnitude / 2^shift` to the nearest integer, halves going up
 * (`floor(v + 1/2)`): unlike halves away from zero, this rule commutes with
 * adding an integer, so `apply()` rounds the same way on both sides of the
 * reference point. `shift` is in [1, 127].
 */
static __int128 round_scaled(unsigned __int128 magnitude, int shift, bool is_negative)
{
	unsigned __int128 half = (unsigned __int128) 1 << (shift - 1);
	unsigned __int128 rest = magnitude & ((half << 1) - 1);
	unsigned __int128 quotient = magnitude >> shift;

	/* Any quotient beyond 2^64 saturates later: cap it to keep the cast defined. */
	if (quotient > UINT64_MAX) {
		quotient = UINT64_MAX;
	}
	if (is_negative) {
		return -(__int128) (quotient + (rest > half ? 1 : 0));
	}
	return (__int128) (quotient + (rest >= half ? 1 : 0));
}

/*
 * `slope * delta` rounded to the nearest integer, saturated far beyond the
 * `int64_t` range. Exact for slopes in [2^-64, 2^63); other finite slopes
 * (absurd for a clock) fall back to `long double`, still monotonic in
 * `delta` because each operation is correctly rounded.
 */
static __int128 scaled_delta(long double slope, __int128 delta)
{
	unsigned __int128 magnitude;
	int exponent;
	long double fraction = frexpl(fabsl(slope), &exponent);
	uint64_t mantissa = (uint64_t) ldexpl(fraction, 64);
	int shift = 64 - exponent;

	if (slope == 0 || delta == 0) {
		return 0;
	}
	if (shift < 1 || shift > 127) {
		/* `delta` is split: valgrind mistranslates `__int128` to `long double`. */
		long double value =
			floorl(slope * (ldexpl((long double) (int64_t) (delta >> 32), 32) +
					(long double) (uint32_t) delta) +
			       0.5L);

		if (value >= 0x1p100L) {
			return (__int128) 1 << 100;
		}
		if (value <= -0x1p100L) {
			return -((__int128) 1 << 100);
		}
		return (__int128) value;
	}
	magnitude = (unsigned __int128) (delta < 0 ? -delta : delta) * mantissa;
	return round_scaled(magnitude, shift, (slope < 0) != (delta < 0));
}

int64_t vmt_clock_line_apply(const struct vmt_clock_line *line, int64_t guest_ns)
{
	__int128 delta = (__int128) guest_ns - line->ref_guest_ns;

	/* Not `isfinite()`: a comparison also works under valgrind's x87 emulation. */
	if (!(fabsl(line->slope) <= LDBL_MAX)) {
		return line->ref_host_ns;
	}
	return clamp_to_i64(line->ref_host_ns + scaled_delta(line->slope, delta));
}

int64_t vmt_clock_line_offset_ns(const struct vmt_clock_line *line)
{
	return vmt_clock_line_apply(line, 0);
}

void vmt_clock_line_format_slope(const struct vmt_clock_line *line, char *buf, size_t size)
{
	/*
	 * `%#.21Lg`: 21 significant digits (LDBL_DECIMAL_DIG, enough to read the
	 * same `long double` back), plain decimal notation for any slope a clock
	 * can have, and `#` keeps the trailing zeros so the width is constant.
	 */
	snprintf(buf, size, "%#.21Lg", line->slope);
}

struct vmt_clock_line vmt_clock_line_identity(void)
{
	return (struct vmt_clock_line){ .ref_guest_ns = 0, .ref_host_ns = 0, .slope = 1.0L };
}
