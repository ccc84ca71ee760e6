/* SPDX-License-Identifier: MIT */
#include <babeltrace2/babeltrace.h>

BT_PLUGIN_MODULE();

BT_PLUGIN(vmstate);
BT_PLUGIN_DESCRIPTION("vmtrace: placeholder");
BT_PLUGIN_AUTHOR("vmtrace developers");
BT_PLUGIN_LICENSE("MIT");
