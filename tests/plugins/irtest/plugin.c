/* SPDX-License-Identifier: MIT */
/*
 * Test-only plugin: `filter.irtest.copy` runs every message through
 * lib/ir-copy, so that the copy can be checked against its input with the
 * stock sinks and from Python.
 */
#include <babeltrace2/babeltrace.h>

#include "copy.h"

BT_PLUGIN_MODULE();

BT_PLUGIN(irtest);
BT_PLUGIN_DESCRIPTION("vmtrace test harness for the trace-IR copy");
BT_PLUGIN_AUTHOR("vmtrace developers");
BT_PLUGIN_LICENSE("MIT");

/* filter.irtest.copy */
BT_PLUGIN_FILTER_COMPONENT_CLASS(copy, irtest_copy_msg_iter_next);
BT_PLUGIN_FILTER_COMPONENT_CLASS_DESCRIPTION(copy, "Copy every message through vmtrace's IR copy.");
BT_PLUGIN_FILTER_COMPONENT_CLASS_HELP(
	copy, "Parameters:\n"
	      "\n"
	      "offset-ns (signed integer, none): add this offset to every clock\n"
	      "  snapshot through the copy's `convert_ns` hook (clamped so that\n"
	      "  time never goes back on a stream nor below 0).\n"
	      "add-member (boolean, false): append a signed 64-bit member\n"
	      "  `irtest_seq` to every event common context, filled with the\n"
	      "  event's ordinal number (from 0) in this filter's output.\n"
	      "host-clock (boolean, false): put every stream class on one clock\n"
	      "  class created by the filter (1 GHz, Unix epoch, offset 0); the\n"
	      "  snapshots are then converted through ns from origin, with\n"
	      "  `offset-ns` (default 0).\n"
	      "\n"
	      "See tests/python/test_ir_copy.py.");
BT_PLUGIN_FILTER_COMPONENT_CLASS_INITIALIZE_METHOD(copy, irtest_copy_init);
BT_PLUGIN_FILTER_COMPONENT_CLASS_FINALIZE_METHOD(copy, irtest_copy_finalize);
BT_PLUGIN_FILTER_COMPONENT_CLASS_MESSAGE_ITERATOR_CLASS_INITIALIZE_METHOD(
	copy, irtest_copy_msg_iter_init);
BT_PLUGIN_FILTER_COMPONENT_CLASS_MESSAGE_ITERATOR_CLASS_FINALIZE_METHOD(
	copy, irtest_copy_msg_iter_finalize);
