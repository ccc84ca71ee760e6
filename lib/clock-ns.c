/* SPDX-License-Identifier: MIT */
#include "lib/clock-ns.h"

bool vmt_clock_ns(struct vmt_clock_ns_cache *cache, const bt_clock_snapshot *snapshot, int64_t *ns)
{
	const bt_clock_class *cc = bt_clock_snapshot_borrow_clock_class_const(snapshot);
	uint64_t value = bt_clock_snapshot_get_value(snapshot);

	if (cc != cache->clock_class) {
		int64_t seconds;
		uint64_t cycles;

		cache->clock_class = cc;
		bt_clock_class_get_offset(cc, &seconds, &cycles);
		cache->is_ghz = bt_clock_class_get_frequency(cc) == UINT64_C(1000000000) &&
				seconds >= 0 && seconds < INT64_MAX / 1000000000;
		cache->offset_ns = cache->is_ghz ? seconds * 1000000000 + (int64_t) cycles : 0;
	}
	if (cache->is_ghz && value <= (uint64_t) (INT64_MAX - cache->offset_ns)) {
		*ns = cache->offset_ns + (int64_t) value;
		return true;
	}
	return bt_clock_snapshot_get_ns_from_origin(snapshot, ns) ==
	       BT_CLOCK_SNAPSHOT_GET_NS_FROM_ORIGIN_STATUS_OK;
}
