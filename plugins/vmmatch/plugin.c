/* SPDX-License-Identifier: MIT */
#include <babeltrace2/babeltrace.h>

#include "component.h"
#include "msg-iter.h"

BT_PLUGIN_MODULE();

BT_PLUGIN(vmmatch);
BT_PLUGIN_DESCRIPTION("Where each KVM guest event really ran on its host (vmtrace)");
BT_PLUGIN_AUTHOR("vmtrace developers");
BT_PLUGIN_LICENSE("MIT");

/* filter.vmmatch.tag */
BT_PLUGIN_FILTER_COMPONENT_CLASS(tag, vmmatch_msg_iter_next);
BT_PLUGIN_FILTER_COMPONENT_CLASS_DESCRIPTION(
	tag, "Tag guest events with their host vCPU thread, pCPU and state.");
BT_PLUGIN_FILTER_COMPONENT_CLASS_HELP(
	tag, "Follows the KVM host's scheduler and KVM events and appends a `vm`\n"
	     "structure to the event common context of every guest event:\n"
	     "\n"
	     "  `uuid` (string): the VM UUID, or \"\".\n"
	     "  `host_pid` (signed integer): QEMU process id on the host, -1 if\n"
	     "      unknown.\n"
	     "  `host_tid` (signed integer): host thread running this vCPU, -1 if\n"
	     "      unknown.\n"
	     "  `vcpu` (signed integer): vCPU index (the guest's `cpu_id`).\n"
	     "  `pcpu` (signed integer): host CPU the vCPU thread was on at the\n"
	     "      event's time, -1 if switched out or unknown.\n"
	     "  `host_state` (string): the vCPU's state on the host then\n"
	     "      (running, hypervisor, preempted, idle, blocked; \"\" if\n"
	     "      unknown). Anything but `running` marks a clock-sync error.\n"
	     "\n"
	     "Host and unknown messages pass through unchanged. Input: time-ordered\n"
	     "messages, from `source.vmsync.fs` (its `vmtrace_*` environment entries\n"
	     "name hosts and guests) or from `src.ctf.fs` through a muxer (hosts are\n"
	     "recognised by KVM events, guests by `product_uuid` or vmsync events).\n"
	     "At the end it logs how many guest events it tagged and how many fell\n"
	     "outside a `running` interval (a warning above 1 %).\n"
	     "\n"
	     "This component takes no parameter. See the README of vmtrace.");
BT_PLUGIN_FILTER_COMPONENT_CLASS_INITIALIZE_METHOD(tag, vmmatch_comp_init);
BT_PLUGIN_FILTER_COMPONENT_CLASS_FINALIZE_METHOD(tag, vmmatch_comp_finalize);
BT_PLUGIN_FILTER_COMPONENT_CLASS_MESSAGE_ITERATOR_CLASS_INITIALIZE_METHOD(tag,
									  vmmatch_msg_iter_init);
BT_PLUGIN_FILTER_COMPONENT_CLASS_MESSAGE_ITERATOR_CLASS_FINALIZE_METHOD(tag,
									vmmatch_msg_iter_finalize);
BT_PLUGIN_FILTER_COMPONENT_CLASS_MESSAGE_ITERATOR_CLASS_SEEK_BEGINNING_METHODS(
	tag, vmmatch_msg_iter_seek_beginning, vmmatch_msg_iter_can_seek_beginning);
