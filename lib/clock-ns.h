/* SPDX-License-Identifier: MIT */
/*
 * Clock snapshots to ns from origin, fast.
 *
 * `bt_clock_snapshot_get_ns_from_origin()` converts with overflow checks on
 * every call. LTTng's clocks tick at 1 GHz, where ns from origin is the
 * clock class's offset plus the raw value: this computes the offset once
 * per clock class and falls back to the library for any other clock.
 */
#ifndef VMTRACE_LIB_CLOCK_NS_H
#define VMTRACE_LIB_CLOCK_NS_H

#include <stdbool.h>
#include <stdint.h>

#include <babeltrace2/babeltrace.h>

/*
 * The last clock class seen and its offset; zero-initialize before use. The
 * key is an address: the user keeps every clock class it converts with alive
 * as long as the cache (the flow holds its traces, the passes and the merge
 * their graphs), so that no other clock class can take that address.
 */
struct vmt_clock_ns_cache {
	const bt_clock_class *clock_class; /* Weak: cache key. */
	bool is_ghz;
	int64_t offset_ns;
};

/*
 * Sets `*ns` to the ns from origin of `snapshot` (borrowed). Returns false
 * when the result does not fit a signed 64-bit integer.
 */
bool vmt_clock_ns(struct vmt_clock_ns_cache *cache, const bt_clock_snapshot *snapshot, int64_t *ns);

#endif /* VMTRACE_LIB_CLOCK_NS_H */
