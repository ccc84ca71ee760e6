/* SPDX-License-Identifier: MIT */
#define VMT_LOG_TAG "PLUGIN/SRC.VMSYNC.FS"
#include "component.h"

#include "lib/log.h"

#include <string.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/inventory.h"
#include "lib/sync.h"

static void destroy_comp(struct vmsync_comp *comp)
{
	if (!comp) {
		return;
	}
	vmsync_setup_fini(&comp->setup);
	g_free(comp);
}

static void warn_reprocessed(const struct vmsync_setup *setup, const struct vmt_log_ctx *log)
{
	guint i;

	for (i = 0; i < setup->inventory.traces->len; i++) {
		const struct vmt_trace_entry *trace = g_ptr_array_index(setup->inventory.traces, i);

		if (trace->probe.has_vmtrace_env) {
			VMT_LOGW(log,
				 "Trace already went through vmtrace; its `vmtrace_*` environment "
				 "entries are kept as they are: path=\"%s\"",
				 trace->path);
		}
	}
}

bt_component_class_initialize_method_status
vmsync_comp_init(bt_self_component_source *self_comp,
		 bt_self_component_source_configuration *config, const bt_value *params,
		 void *init_data)
{
	bt_self_component *self = bt_self_component_source_as_self_component(self_comp);
	struct vmsync_comp *comp = g_new0(struct vmsync_comp, 1);
	enum vmt_status status;

	(void) config;
	(void) init_data;
	comp->self_comp = self_comp;
	comp->log.level = bt_component_get_logging_level(bt_self_component_as_component(self));
	comp->log.name = bt_component_get_name(bt_self_component_as_component(self));
	comp->log.self_comp = self;
	status = vmsync_setup_init(&comp->setup, params, comp->log.level, &comp->log);
	if (status != VMT_STATUS_OK) {
		goto error;
	}
	warn_reprocessed(&comp->setup, &comp->log);
	if (bt_self_component_source_add_output_port(self_comp, "out", NULL, NULL) !=
	    BT_SELF_COMPONENT_ADD_PORT_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(&comp->log, "Cannot add the output port");
		status = VMT_STATUS_MEMORY_ERROR;
		goto error;
	}
	bt_self_component_set_data(self, comp);
	return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_OK;

error:
	destroy_comp(comp);
	return status == VMT_STATUS_MEMORY_ERROR ?
		       BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_MEMORY_ERROR :
		       BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_ERROR;
}

void vmsync_comp_finalize(bt_self_component_source *self_comp)
{
	struct vmsync_comp *comp =
		bt_self_component_get_data(bt_self_component_source_as_self_component(self_comp));

	if (comp->clamp_count) {
		VMT_LOGW(&comp->log,
			 "Clamped guest timestamps that the clock conversion moved back in time "
			 "on their stream: count=%" PRIu64,
			 comp->clamp_count);
	}
	destroy_comp(comp);
}

/*
 * The pieces of a piecewise fit as an array of maps: each piece's first
 * guest time (ns from origin, recorded; the first piece's is the guest's
 * first event, it also covers earlier times), slope, offset and bound.
 */
static bool append_pieces(bt_value *map, const struct vmt_machine *machine)
{
	bt_value *array, *item;
	bool ok = bt_value_map_insert_empty_array_entry(map, "pieces", &array) == 0;

	for (size_t i = 0; ok && machine->pieces && i < machine->pieces->count; i++) {
		const struct vmt_clock_piece *piece = &machine->pieces->pieces[i];
		int64_t begin = i > 0 ? piece->begin_guest_ns :
					(machine->has_span ? machine->span_begin_ns : INT64_MIN);
		char slope[32];

		vmt_clock_line_format_slope(&piece->line, slope, sizeof(slope));
		ok = bt_value_array_append_empty_map_element(array, &item) == 0 &&
		     bt_value_map_insert_signed_integer_entry(item, "guest-begin-ns", begin) == 0 &&
		     bt_value_map_insert_string_entry(item, "slope", slope) == 0 &&
		     bt_value_map_insert_signed_integer_entry(
			     item, "offset-ns", vmt_clock_line_offset_ns(&piece->line)) == 0 &&
		     bt_value_map_insert_signed_integer_entry(item, "error-ns",
							      piece->error_bound_ns) == 0;
	}
	return ok;
}

/* One guest's result in the `vmtrace.sync-info` answer. */
static bool append_guest_info(bt_value *array, const struct vmsync_setup *setup,
			      const struct vmt_machine *machine)
{
	const struct vmt_machine *host =
		machine->host >= 0 ? vmt_inventory_machine(&setup->inventory, machine->host) : NULL;
	bt_value *map, *traces;
	char slope[32];
	guint i;
	bool ok;

	if (bt_value_array_append_empty_map_element(array, &map) !=
	    BT_VALUE_ARRAY_APPEND_ELEMENT_STATUS_OK) {
		return false;
	}
	vmt_clock_line_format_slope(&machine->line, slope, sizeof(slope));
	ok = bt_value_map_insert_string_entry(map, "machine", machine->id) == 0 &&
	     bt_value_map_insert_string_entry(map, "vm-uuid", machine->vm_uuid) == 0 &&
	     bt_value_map_insert_string_entry(map, "host", host ? host->id : "") == 0 &&
	     bt_value_map_insert_string_entry(map, "method",
					      vmt_sync_method_name(machine->sync_method)) == 0 &&
	     bt_value_map_insert_string_entry(map, "slope", slope) == 0 &&
	     bt_value_map_insert_signed_integer_entry(map, "offset-ns",
						      vmt_machine_offset_ns(machine)) == 0 &&
	     bt_value_map_insert_signed_integer_entry(map, "error-ns", machine->error_bound_ns) ==
		     0 &&
	     bt_value_map_insert_unsigned_integer_entry(map, "points", machine->sync_points) == 0 &&
	     bt_value_map_insert_unsigned_integer_entry(map, "segments",
							vmt_machine_segment_count(machine)) == 0 &&
	     bt_value_map_insert_empty_array_entry(map, "traces", &traces) == 0;
	for (i = 0; ok && i < machine->traces->len; i++) {
		const struct vmt_trace_entry *trace = g_ptr_array_index(machine->traces, i);

		ok = bt_value_array_append_string_element(traces, trace->path) == 0;
	}
	if (ok && machine->has_vm_uid) {
		ok = bt_value_map_insert_unsigned_integer_entry(map, "vm-uid", machine->vm_uid) ==
		     0;
	}
	if (ok && machine->host_pid >= 0) {
		ok = bt_value_map_insert_signed_integer_entry(map, "host-pid", machine->host_pid) ==
		     0;
	}
	if (ok && machine->pieces) {
		ok = append_pieces(map, machine);
	}
	if (ok && machine->windows_inside_share >= 0) {
		ok = bt_value_map_insert_real_entry(map, "windows-inside-share",
						    machine->windows_inside_share) == 0;
	}
	return ok;
}

static bt_value *sync_info(const struct vmsync_setup *setup)
{
	bt_value *array = bt_value_array_create();
	guint i;

	for (i = 0; array && i < setup->inventory.machines->len; i++) {
		const struct vmt_machine *machine = vmt_inventory_machine(&setup->inventory, i);

		if (machine->role == VMT_ROLE_GUEST && !append_guest_info(array, setup, machine)) {
			BT_VALUE_PUT_REF_AND_RESET(array);
		}
	}
	return array;
}

bt_component_class_query_method_status vmsync_comp_query(bt_self_component_class_source *self_class,
							 bt_private_query_executor *executor,
							 const char *object, const bt_value *params,
							 void *method_data, const bt_value **result)
{
	struct vmt_log_ctx log = { 0 };
	struct vmsync_setup setup;
	bt_component_class_query_method_status status;

	(void) method_data;
	log.level = bt_query_executor_get_logging_level(
		bt_private_query_executor_as_query_executor_const(executor));
	log.self_comp_class = bt_self_component_class_source_as_self_component_class(self_class);
	log.name = "source.vmsync.fs";
	if (strcmp(object, "vmtrace.sync-info") != 0) {
		return BT_COMPONENT_CLASS_QUERY_METHOD_STATUS_UNKNOWN_OBJECT;
	}
	if (vmsync_setup_init(&setup, params, log.level, &log) != VMT_STATUS_OK) {
		status = BT_COMPONENT_CLASS_QUERY_METHOD_STATUS_ERROR;
		goto end;
	}
	*result = sync_info(&setup);
	if (!*result) {
		VMT_LOGE_APPEND_CAUSE(&log, "Cannot create the query's result");
		status = BT_COMPONENT_CLASS_QUERY_METHOD_STATUS_MEMORY_ERROR;
		goto end;
	}
	status = BT_COMPONENT_CLASS_QUERY_METHOD_STATUS_OK;

end:
	vmsync_setup_fini(&setup);
	return status;
}
