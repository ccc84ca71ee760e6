/* SPDX-License-Identifier: MIT */
#include <babeltrace2/babeltrace.h>

#include "component.h"

BT_PLUGIN_MODULE();

BT_PLUGIN(vmstate);
BT_PLUGIN_DESCRIPTION("Per-vCPU and per-pCPU state intervals of KVM hosts (vmtrace)");
BT_PLUGIN_AUTHOR("vmtrace developers");
BT_PLUGIN_LICENSE("MIT");

/* sink.vmstate.intervals */
BT_PLUGIN_SINK_COMPONENT_CLASS(intervals, vmstate_comp_consume);
BT_PLUGIN_SINK_COMPONENT_CLASS_DESCRIPTION(intervals,
					   "Write vCPU state intervals with who preempted whom.");
BT_PLUGIN_SINK_COMPONENT_CLASS_HELP(
	intervals, "Follows the KVM host's events and writes, for every vCPU, maximal\n"
		   "half-open intervals of constant state (running, hypervisor,\n"
		   "preempted, idle, blocked), with the exit reason, the preempting\n"
		   "thread (and its VM and vCPU when it is a vCPU thread) and the guest\n"
		   "thread that was current when a preemption began. Works on a host\n"
		   "trace alone; guest traces (tagged by `filter.vmmatch.tag` or not) add\n"
		   "VM names and guest threads.\n"
		   "\n"
		   "Parameters:\n"
		   "\n"
		   "  `format` (string, default \"text\"): \"text\": a report for people\n"
		   "      (per VM and vCPU: time in each state, preemptions, top\n"
		   "      preemptors, exit statistics; then the longest preemptions);\n"
		   "      \"csv\": one row per interval (RFC 4180 quoting, LF line\n"
		   "      ends); \"jsonl\": one JSON object per interval, keys as the\n"
		   "      CSV columns; \"chrome\":\n"
		   "      Chrome trace-event JSON for the Perfetto UI, one track per vCPU.\n"
		   "  `path` (string, default: standard output): output file.\n"
		   "  `view` (string, default \"vcpu\"): \"vcpu\": intervals per vCPU;\n"
		   "      \"pcpu\": intervals per host CPU, at host, hypervisor or guest\n"
		   "      level, down to the guest thread.\n"
		   "\n"
		   "CSV columns (vcpu view): vm_uuid, vm_name, vcpu, state, begin_ns,\n"
		   "end_ns, duration_ns, host_tid, pcpu, exit_reason, preempted_by_tid,\n"
		   "preempted_by_comm, preempted_by_vm, preempted_by_vcpu, guest_tid,\n"
		   "guest_comm. (pcpu view): pcpu, begin_ns, end_ns, duration_ns, level,\n"
		   "host_tid, host_comm, vm_uuid, vm_name, vcpu, guest_tid, guest_comm.\n"
		   "\n"
		   "See the README of vmtrace for examples.");
BT_PLUGIN_SINK_COMPONENT_CLASS_INITIALIZE_METHOD(intervals, vmstate_comp_init);
BT_PLUGIN_SINK_COMPONENT_CLASS_FINALIZE_METHOD(intervals, vmstate_comp_finalize);
BT_PLUGIN_SINK_COMPONENT_CLASS_GRAPH_IS_CONFIGURED_METHOD(intervals,
							  vmstate_comp_graph_is_configured);
