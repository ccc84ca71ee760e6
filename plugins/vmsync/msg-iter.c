/* SPDX-License-Identifier: MIT */
#define VMT_LOG_TAG "PLUGIN/SRC.VMSYNC.FS/MSG-ITER"
#include "msg-iter.h"

#include "lib/log.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/ctf-graph.h"
#include "lib/inventory.h"
#include "lib/ir-copy.h"
#include "lib/merge.h"

#include "component.h"

/* A guest trace whose timestamps change: its messages are copied on the way. */
struct guest_conversion {
	struct vmsync_msg_iter *iter; /* Weak. */
	const struct vmt_machine *guest; /* Weak: owned by the component's setup. */
	struct vmt_ir_copy *copy; /* Owned. */
	/* The host's clock, for the copied stream classes; NULL keeps the guest's. */
	bt_clock_class *host_clock_class; /* Owned. */
};

struct vmsync_msg_iter {
	struct vmt_log_ctx log;
	struct vmsync_comp *comp; /* Weak. */
	bt_self_message_iterator *self; /* Weak. */
	/* Every trace read by `src.ctf.fs` and merged in host time. */
	struct vmt_merge *merge; /* Owned. */
	GPtrArray *conversions; /* Owned: struct guest_conversion. */
	/* Traces whose environment was checked; weak keys (graphs or copies own them). */
	GHashTable *seen_traces; /* Owned. */
	/* Seeking to the beginning: the clamps of the run given up will be counted again. */
	bool is_rewinding;
};

static bt_clock_class *borrow_out_clock_class(void *user, const bt_clock_class *in_cc)
{
	struct guest_conversion *conversion = user;

	(void) in_cc;
	return conversion->host_clock_class;
}

static int64_t convert_ns(void *user, const bt_stream *in_stream, int64_t in_ns)
{
	struct guest_conversion *conversion = user;

	(void) in_stream;
	return vmt_machine_convert_ns(conversion->guest, in_ns);
}

static enum vmt_status init_out_trace(void *user, const bt_trace *in_trace, bt_trace *out_trace)
{
	struct guest_conversion *conversion = user;

	(void) in_trace;
	return vmsync_annotate_trace(&conversion->iter->comp->setup, conversion->guest, out_trace,
				     &conversion->iter->log);
}

static const struct vmt_ir_copy_hooks conversion_hooks = {
	.borrow_out_clock_class = borrow_out_clock_class,
	.convert_ns = convert_ns,
	.extend_common_context = NULL,
	.fill_event = NULL,
	.init_out_trace = init_out_trace,
};

/* The merge's transform of a converted guest trace: a copy in host time. */
static enum vmt_status convert_message(void *user, const bt_message *in, const bt_message **out)
{
	struct guest_conversion *conversion = user;
	bt_message *copy = NULL;
	enum vmt_status status = vmt_ir_copy_message(conversion->copy, in, &copy);

	bt_message_put_ref(in);
	*out = copy;
	return status;
}

static void destroy_conversion(gpointer data)
{
	struct guest_conversion *conversion = data;

	if (conversion->copy && !conversion->iter->is_rewinding) {
		conversion->iter->comp->clamp_count += vmt_ir_copy_clamp_count(conversion->copy);
	}
	vmt_ir_copy_destroy(conversion->copy);
	BT_CLOCK_CLASS_PUT_REF_AND_RESET(conversion->host_clock_class);
	g_free(conversion);
}

static const struct vmt_clock_info *host_clock(const struct vmsync_setup *setup,
					       const struct vmt_machine *guest)
{
	const struct vmt_machine *host;
	guint i;

	if (guest->host < 0) {
		return NULL;
	}
	host = vmt_inventory_machine(&setup->inventory, guest->host);
	for (i = 0; i < host->traces->len; i++) {
		const struct vmt_trace_entry *trace = g_ptr_array_index(host->traces, i);

		if (trace->probe.clock.is_set) {
			return &trace->probe.clock;
		}
	}
	return NULL;
}

static struct guest_conversion *create_conversion(struct vmsync_msg_iter *iter,
						  const struct vmt_machine *guest)
{
	struct guest_conversion *conversion = g_new0(struct guest_conversion, 1);
	const struct vmt_clock_info *clock = host_clock(&iter->comp->setup, guest);

	conversion->iter = iter;
	conversion->guest = guest;
	g_ptr_array_add(iter->conversions, conversion);
	if (clock) {
		conversion->host_clock_class = vmt_clock_info_create_class(
			clock, bt_self_message_iterator_borrow_component(iter->self), &iter->log);
		if (!conversion->host_clock_class) {
			return NULL;
		}
	}
	conversion->copy =
		vmt_ir_copy_create(iter->self, &conversion_hooks, conversion, &iter->log);
	return conversion->copy ? conversion : NULL;
}

static enum vmt_status add_trace(struct vmsync_msg_iter *iter, guint index)
{
	const struct vmsync_setup *setup = &iter->comp->setup;
	const struct vmt_trace_entry *trace = g_ptr_array_index(setup->inventory.traces, index);
	const struct vmt_machine *machine =
		vmt_inventory_machine(&setup->inventory, trace->machine);
	struct guest_conversion *conversion = NULL;
	char name[64];

	if (machine->needs_conversion) {
		conversion = create_conversion(iter, machine);
		if (!conversion) {
			VMT_LOGE_APPEND_CAUSE(&iter->log,
					      "Cannot set up the clock conversion of guest: "
					      "machine=\"%s\"",
					      machine->id);
			return VMT_STATUS_MEMORY_ERROR;
		}
	}
	snprintf(name, sizeof(name), "%s-ctf-fs-%u", vmt_role_name(machine->role), index);
	return vmt_merge_add_trace(iter->merge, &setup->plugins, trace->paths, trace->trace_name,
				   name, iter->log.level, conversion ? convert_message : NULL,
				   conversion);
}

static enum vmt_status start(struct vmsync_msg_iter *iter)
{
	const struct vmsync_setup *setup = &iter->comp->setup;
	enum vmt_status status = VMT_STATUS_OK;
	guint i;

	iter->merge = vmt_merge_create(&iter->log);
	iter->conversions = g_ptr_array_new_with_free_func(destroy_conversion);
	for (i = 0; i < setup->inventory.traces->len && status == VMT_STATUS_OK; i++) {
		status = add_trace(iter, i);
	}
	return status;
}

/* Drops the merge (its graphs) and then the copies whose messages it held. */
static void stop(struct vmsync_msg_iter *iter)
{
	g_clear_pointer(&iter->merge, vmt_merge_destroy);
	if (iter->conversions) {
		g_ptr_array_free(iter->conversions, TRUE);
		iter->conversions = NULL;
	}
	g_hash_table_remove_all(iter->seen_traces);
}

static void destroy_iter(struct vmsync_msg_iter *iter)
{
	if (!iter) {
		return;
	}
	stop(iter);
	g_hash_table_destroy(iter->seen_traces);
	g_free(iter);
}

static bool all_streams_have_clocks(const struct vmt_inventory *inventory)
{
	for (guint i = 0; i < inventory->traces->len; i++) {
		const struct vmt_trace_entry *trace = g_ptr_array_index(inventory->traces, i);

		if (trace->probe.has_unseekable_streams) {
			return false;
		}
	}
	return true;
}

bt_message_iterator_class_initialize_method_status
vmsync_msg_iter_init(bt_self_message_iterator *self_iter,
		     bt_self_message_iterator_configuration *config,
		     bt_self_component_port_output *port)
{
	struct vmsync_msg_iter *iter = g_new0(struct vmsync_msg_iter, 1);
	enum vmt_status status;

	(void) port;
	iter->comp =
		bt_self_component_get_data(bt_self_message_iterator_borrow_component(self_iter));
	iter->self = self_iter;
	iter->log = iter->comp->log;
	iter->log.self_comp = NULL;
	iter->log.self_msg_iter = self_iter;
	iter->seen_traces = g_hash_table_new(g_direct_hash, g_direct_equal);
	status = start(iter);
	if (status != VMT_STATUS_OK) {
		destroy_iter(iter);
		return (int) status;
	}
	/*
	 * The library emulates seeking to a time by seeking to the beginning and
	 * skipping, which reads every message's clock snapshot: only when all have one
	 * (2.0.4's own `src.ctf.fs` crashes there on packets without times).
	 */
	bt_self_message_iterator_configuration_set_can_seek_forward(
		config, all_streams_have_clocks(&iter->comp->setup.inventory) ? BT_TRUE : BT_FALSE);
	bt_self_message_iterator_set_data(self_iter, iter);
	return BT_MESSAGE_ITERATOR_CLASS_INITIALIZE_METHOD_STATUS_OK;
}

void vmsync_msg_iter_finalize(bt_self_message_iterator *self_iter)
{
	destroy_iter(bt_self_message_iterator_get_data(self_iter));
}

/*
 * Adds the `vmtrace_*` entries to a trace the first time one of its streams
 * begins, before any message of it leaves. Converted guest traces already
 * have them (their copy sets them).
 */
static enum vmt_status check_new_stream(struct vmsync_msg_iter *iter, const bt_message *msg)
{
	const bt_trace *trace =
		bt_stream_borrow_trace_const(bt_message_stream_beginning_borrow_stream_const(msg));
	const struct vmt_machine *machine;
	enum vmt_status status = VMT_STATUS_OK;

	if (g_hash_table_contains(iter->seen_traces, trace)) {
		return VMT_STATUS_OK;
	}
	if (!bt_trace_borrow_environment_entry_value_by_name_const(trace, "vmtrace_role")) {
		machine = vmsync_find_trace_machine(&iter->comp->setup, trace);
		if (!machine) {
			VMT_LOGE_APPEND_CAUSE(
				&iter->log, "Cannot tell which input trace emitted trace `%s`",
				bt_trace_get_name(trace) ? bt_trace_get_name(trace) : "");
			return VMT_STATUS_ERROR;
		}
		/*
		 * The trace belongs to our private graph and travels unchanged;
		 * Babeltrace lets a trace gain new environment entries at any time
		 * (only replacing one is forbidden), so it gets them in place
		 * instead of a full copy of every message.
		 */
		status = vmsync_annotate_trace(&iter->comp->setup, machine, (bt_trace *) trace,
					       &iter->log);
	}
	if (status == VMT_STATUS_OK) {
		g_hash_table_add(iter->seen_traces, (gpointer) trace);
	}
	return status;
}

bt_message_iterator_class_next_method_status
vmsync_msg_iter_next(bt_self_message_iterator *self_iter, bt_message_array_const msgs,
		     uint64_t capacity, uint64_t *count)
{
	struct vmsync_msg_iter *iter = bt_self_message_iterator_get_data(self_iter);
	enum vmt_status status = vmt_merge_next(iter->merge, msgs, capacity, count);
	uint64_t i;

	if (status != VMT_STATUS_OK) {
		return (int) status;
	}
	for (i = 0; i < *count && status == VMT_STATUS_OK; i++) {
		if (bt_message_get_type(msgs[i]) == BT_MESSAGE_TYPE_STREAM_BEGINNING) {
			status = check_new_stream(iter, msgs[i]);
		}
	}
	if (status != VMT_STATUS_OK) {
		for (i = 0; i < *count; i++) {
			BT_MESSAGE_PUT_REF_AND_RESET(msgs[i]);
		}
		*count = 0;
	}
	return (int) status;
}

bt_message_iterator_class_seek_beginning_method_status
vmsync_msg_iter_seek_beginning(bt_self_message_iterator *self_iter)
{
	struct vmsync_msg_iter *iter = bt_self_message_iterator_get_data(self_iter);

	/* Rebuilding the graphs also resets the merge and the copies. */
	iter->is_rewinding = true;
	stop(iter);
	iter->is_rewinding = false;
	return (int) start(iter);
}

bt_message_iterator_class_can_seek_beginning_method_status
vmsync_msg_iter_can_seek_beginning(bt_self_message_iterator *self_iter, bt_bool *can_seek)
{
	(void) self_iter;
	*can_seek = BT_TRUE;
	return BT_MESSAGE_ITERATOR_CLASS_CAN_SEEK_BEGINNING_METHOD_STATUS_OK;
}
