/* SPDX-License-Identifier: MIT */
#include <babeltrace2/babeltrace.h>

#include "component.h"
#include "msg-iter.h"

BT_PLUGIN_MODULE();

BT_PLUGIN(vmsync);
BT_PLUGIN_DESCRIPTION("KVM host and guest CTF traces in one clock domain (vmtrace)");
BT_PLUGIN_AUTHOR("vmtrace developers");
BT_PLUGIN_LICENSE("MIT");

/* source.vmsync.fs */
BT_PLUGIN_SOURCE_COMPONENT_CLASS(fs, vmsync_msg_iter_next);
BT_PLUGIN_SOURCE_COMPONENT_CLASS_DESCRIPTION(
	fs, "Read host and guest CTF traces and put guests in host time.");
BT_PLUGIN_SOURCE_COMPONENT_CLASS_HELP(
	fs, "Finds the CTF traces under `inputs`, groups them into machines (same\n"
	    "clock UUID or hostname), tells the KVM host (its traces have KVM events)\n"
	    "from its guests, brings every guest's timestamps into the host's clock\n"
	    "and emits every message, in host time, on one output port `out`. Each\n"
	    "output trace gets `vmtrace_*` environment entries (role, machine, VM\n"
	    "UUID, sync method, slope, offset, error bound).\n"
	    "\n"
	    "Parameters:\n"
	    "\n"
	    "  `inputs` (array of strings, mandatory): trace directories, or\n"
	    "      directories searched recursively for CTF traces (a directory\n"
	    "      holding a `metadata` file is a trace).\n"
	    "  `sync` (string, default \"auto\"): how guest times are converted:\n"
	    "      \"auto\": hypercall sync where the traces allow it, else window\n"
	    "      sync where the host has KVM entry/exit events for the guest, else\n"
	    "      the recorded clocks (with a warning saying which and why);\n"
	    "      \"hypercall\": fit each guest's clock exactly on its vmsync (or\n"
	    "      `kvm_x86_hypercall` nr 5) exchanges with the host, error if a\n"
	    "      guest has none; \"windows\": fit it on the host's vCPU entry/exit\n"
	    "      windows (guest events only happen in guest mode; no sync events\n"
	    "      needed), error if impossible; \"clock\": trust the recorded clocks\n"
	    "      (NTP, ptp_kvm + chrony); \"none\": emit timestamps as recorded.\n"
	    "  `offsets` (map: guest selector -> signed integer, ns, default {}):\n"
	    "      extra offset added to a guest's converted timestamps.\n"
	    "  `guest-uuids` (map: guest selector -> UUID string, default {}): VM\n"
	    "      UUID of guests whose metadata has no `product_uuid`.\n"
	    "  `host` (string, default: auto-detected): path of the host trace, or\n"
	    "      of a directory holding the host's traces.\n"
	    "\n"
	    "A guest selector is a trace path, a trace directory name or a trace's\n"
	    "`hostname`. The query `vmtrace.sync-info` (same parameters) returns\n"
	    "each guest's sync result without running a graph.\n"
	    "\n"
	    "See the README of vmtrace for examples.");
BT_PLUGIN_SOURCE_COMPONENT_CLASS_INITIALIZE_METHOD(fs, vmsync_comp_init);
BT_PLUGIN_SOURCE_COMPONENT_CLASS_FINALIZE_METHOD(fs, vmsync_comp_finalize);
BT_PLUGIN_SOURCE_COMPONENT_CLASS_QUERY_METHOD(fs, vmsync_comp_query);
BT_PLUGIN_SOURCE_COMPONENT_CLASS_MESSAGE_ITERATOR_CLASS_INITIALIZE_METHOD(fs, vmsync_msg_iter_init);
BT_PLUGIN_SOURCE_COMPONENT_CLASS_MESSAGE_ITERATOR_CLASS_FINALIZE_METHOD(fs,
									vmsync_msg_iter_finalize);
BT_PLUGIN_SOURCE_COMPONENT_CLASS_MESSAGE_ITERATOR_CLASS_SEEK_BEGINNING_METHODS(
	fs, vmsync_msg_iter_seek_beginning, vmsync_msg_iter_can_seek_beginning);
