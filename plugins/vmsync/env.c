/* SPDX-License-Identifier: MIT */
/*
 * The `vmtrace_*` trace environment entries of `source.vmsync.fs` (SPEC §2),
 * and how an emitted trace is tied back to the machine it was probed as.
 */
#define VMT_LOG_TAG "PLUGIN/SRC.VMSYNC.FS/ENV"
#include "lib/log.h"

#include <string.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/ctf-graph.h"
#include "lib/inventory.h"
#include "lib/sync.h"

#include "component.h"

static bool has_entry(const bt_trace *trace, const char *name)
{
	return bt_trace_borrow_environment_entry_value_by_name_const(trace, name) != NULL;
}

static bool set_string(bt_trace *trace, const char *name, const char *value)
{
	if (has_entry(trace, name)) {
		return true;
	}
	return bt_trace_set_environment_entry_string(trace, name, value) ==
	       BT_TRACE_SET_ENVIRONMENT_ENTRY_STATUS_OK;
}

static bool set_integer(bt_trace *trace, const char *name, int64_t value)
{
	if (has_entry(trace, name)) {
		return true;
	}
	return bt_trace_set_environment_entry_integer(trace, name, value) ==
	       BT_TRACE_SET_ENVIRONMENT_ENTRY_STATUS_OK;
}

static bool set_guest_entries(const struct vmsync_setup *setup, const struct vmt_machine *machine,
			      bt_trace *trace)
{
	const struct vmt_machine *host =
		machine->host >= 0 ? vmt_inventory_machine(&setup->inventory, machine->host) : NULL;
	char slope[32], vm_uid[24];
	bool ok = true;

	vmt_clock_line_format_slope(&machine->line, slope, sizeof(slope));
	if (machine->vm_uuid[0]) {
		ok &= set_string(trace, "vmtrace_vm_uuid", machine->vm_uuid);
	}
	if (host) {
		ok &= set_string(trace, "vmtrace_host", host->id);
	}
	if (machine->host_pid >= 0) {
		ok &= set_integer(trace, "vmtrace_host_pid", machine->host_pid);
	}
	if (machine->has_vm_uid) {
		snprintf(vm_uid, sizeof(vm_uid), "%" PRIu64, machine->vm_uid);
		ok &= set_string(trace, "vmtrace_vm_uid", vm_uid);
	}
	ok &= set_string(trace, "vmtrace_sync_method", vmt_sync_method_name(machine->sync_method));
	ok &= set_string(trace, "vmtrace_sync_slope", slope);
	ok &= set_integer(trace, "vmtrace_sync_offset_ns", vmt_machine_offset_ns(machine));
	ok &= set_integer(trace, "vmtrace_sync_error_ns", machine->error_bound_ns);
	ok &= set_integer(trace, "vmtrace_sync_points", (int64_t) machine->sync_points);
	/*
	 * A piecewise fit (window sync of a clock slewed over a long trace) has
	 * several lines: the slope and offset above are those of the piece that
	 * covers the most events (the best single line for a reader who applies
	 * them), the error bound the largest of the pieces'.
	 */
	ok &= set_integer(trace, "vmtrace_sync_segments", vmt_machine_segment_count(machine));
	return ok;
}

enum vmt_status vmsync_annotate_trace(const struct vmsync_setup *setup,
				      const struct vmt_machine *machine, bt_trace *trace,
				      const struct vmt_log_ctx *log)
{
	bool ok;

	if (has_entry(trace, "vmtrace_role")) {
		VMT_LOGW(log,
			 "Trace already has `vmtrace_*` environment entries (it went through "
			 "vmtrace before); keeping them: machine=\"%s\"",
			 machine->id);
	}
	ok = set_string(trace, "vmtrace_role", vmt_role_name(machine->role)) &&
	     set_string(trace, "vmtrace_machine", machine->id);
	if (ok && machine->role == VMT_ROLE_GUEST) {
		ok = set_guest_entries(setup, machine, trace);
	}
	if (!ok) {
		VMT_LOGE_APPEND_CAUSE(log,
				      "Cannot add `vmtrace_*` environment entries to trace: "
				      "machine=\"%s\"",
				      machine->id);
		return VMT_STATUS_MEMORY_ERROR;
	}
	return VMT_STATUS_OK;
}

static bool same_optional(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

const struct vmt_machine *vmsync_find_trace_machine(const struct vmsync_setup *setup,
						    const bt_trace *trace)
{
	const uint8_t *uuid_bytes = bt_trace_get_uuid(trace);
	const char *name = bt_trace_get_name(trace);
	const char *hostname = vmt_trace_env_string(trace, "hostname");
	char uuid[37];
	guint i;

	if (uuid_bytes) {
		vmt_uuid_format(uuid_bytes, uuid);
	}
	for (i = 0; i < setup->inventory.traces->len; i++) {
		const struct vmt_trace_entry *entry = g_ptr_array_index(setup->inventory.traces, i);

		if (same_optional(entry->probe.name, name) &&
		    same_optional(entry->probe.uuid, uuid_bytes ? uuid : NULL) &&
		    same_optional(entry->probe.hostname, hostname)) {
			return vmt_inventory_machine(&setup->inventory, entry->machine);
		}
	}
	return NULL;
}
