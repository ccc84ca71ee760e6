/* SPDX-License-Identifier: MIT */
#define VMT_LOG_TAG "PLUGIN/SRC.VMSYNC.FS/MSG-ITER"
#include "lib/log.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/common.h"
#include "lib/ctf-graph.h"
#include "lib/inventory.h"

#include "component.h"
#include "convert.h"
#include "msg-iter.h"

/* The simple sink takes one batch (at most 15 messages) per graph run. */
#define QUEUE_SIZE 32

struct vmsync_msg_iter {
	struct vmt_log_ctx log;
	struct vmsync_comp *comp; /* Weak. */
	bt_graph *graph; /* Owned. */
	/* Messages the inner sink received and `next` did not hand out yet. */
	const bt_message *queue[QUEUE_SIZE]; /* Owned references. */
	unsigned int head;
	unsigned int length;
	bool is_inner_ended;
	/* Traces whose environment was checked (weak keys: the graph owns them). */
	GHashTable *seen_traces; /* Owned. */
	/* Initialization data of the conversion filters; must outlive the graph. */
	GPtrArray *convert_configs; /* Owned: struct vmsync_convert_config. */
};

static bt_graph_simple_sink_component_consume_func_status sink_consume(bt_message_iterator *upstream,
								       void *data)
{
	struct vmsync_msg_iter *iter = data;
	bt_message_array_const msgs;
	uint64_t count, i;
	bt_message_iterator_next_status status = bt_message_iterator_next(upstream, &msgs, &count);

	switch (status) {
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_OK:
		break;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_END:
		iter->is_inner_ended = true;
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_END;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_AGAIN:
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_AGAIN;
	default:
		return (int) status;
	}
	VMT_ASSERT(iter->length + count <= QUEUE_SIZE);
	for (i = 0; i < count; i++) {
		iter->queue[(iter->head + iter->length) % QUEUE_SIZE] = msgs[i];
		iter->length++;
	}
	return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_OK;
}

static enum vmt_status connect_ports(struct vmsync_msg_iter *iter,
				     const bt_component_source *source,
				     const bt_component_filter *muxer)
{
	uint64_t i, count = bt_component_source_get_output_port_count(source);

	for (i = 0; i < count; i++) {
		/* A muxer always keeps one free input port: its last one. */
		uint64_t last = bt_component_filter_get_input_port_count(muxer) - 1;

		if (bt_graph_connect_ports(
			    iter->graph, bt_component_source_borrow_output_port_by_index_const(source, i),
			    bt_component_filter_borrow_input_port_by_index_const(muxer, last),
			    NULL) != BT_GRAPH_CONNECT_PORTS_STATUS_OK) {
			VMT_LOGE_APPEND_CAUSE(&iter->log, "Cannot connect a trace to a muxer");
			return VMT_STATUS_ERROR;
		}
	}
	return VMT_STATUS_OK;
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

/* Adds src.ctf.fs -> muxer -> conversion filter for a guest trace whose time changes. */
static enum vmt_status add_converted(struct vmsync_msg_iter *iter,
				     const bt_component_source *source,
				     const struct vmt_machine *guest, guint index,
				     const bt_component_filter *main_muxer)
{
	struct vmsync_convert_config *config = g_new0(struct vmsync_convert_config, 1);
	bt_logging_level level = iter->log.level;
	const bt_component_filter *muxer, *convert;
	uint64_t last;
	char name[64];

	config->setup = &iter->comp->setup;
	config->guest = guest;
	config->host_clock = host_clock(&iter->comp->setup, guest);
	config->clamp_count = &iter->comp->clamp_count;
	g_ptr_array_add(iter->convert_configs, config);
	snprintf(name, sizeof(name), "guest-muxer-%u", index);
	if (bt_graph_add_filter_component(iter->graph, iter->comp->setup.plugins.muxer, name, NULL,
					  level, &muxer) != BT_GRAPH_ADD_COMPONENT_STATUS_OK) {
		goto error;
	}
	snprintf(name, sizeof(name), "guest-convert-%u", index);
	if (bt_graph_add_filter_component_with_initialize_method_data(
		    iter->graph, iter->comp->convert_class, name, NULL, config, level, &convert) !=
	    BT_GRAPH_ADD_COMPONENT_STATUS_OK) {
		goto error;
	}
	last = bt_component_filter_get_input_port_count(main_muxer) - 1;
	if (connect_ports(iter, source, muxer) != VMT_STATUS_OK ||
	    bt_graph_connect_ports(iter->graph,
				   bt_component_filter_borrow_output_port_by_index_const(muxer, 0),
				   bt_component_filter_borrow_input_port_by_index_const(convert, 0),
				   NULL) != BT_GRAPH_CONNECT_PORTS_STATUS_OK ||
	    bt_graph_connect_ports(
		    iter->graph, bt_component_filter_borrow_output_port_by_index_const(convert, 0),
		    bt_component_filter_borrow_input_port_by_index_const(main_muxer, last),
		    NULL) != BT_GRAPH_CONNECT_PORTS_STATUS_OK) {
		goto error;
	}
	return VMT_STATUS_OK;

error:
	VMT_LOGE_APPEND_CAUSE(&iter->log, "Cannot build the conversion of guest: machine=\"%s\"",
			      guest->id);
	return VMT_STATUS_ERROR;
}

static enum vmt_status add_trace(struct vmsync_msg_iter *iter, guint index,
				 const bt_component_filter *main_muxer)
{
	const struct vmsync_setup *setup = &iter->comp->setup;
	const struct vmt_trace_entry *trace = g_ptr_array_index(setup->inventory.traces, index);
	const struct vmt_machine *machine = vmt_inventory_machine(&setup->inventory, trace->machine);
	const bt_component_source *source;
	char name[64];

	snprintf(name, sizeof(name), "%s-ctf-fs-%u", vmt_role_name(machine->role), index);
	if (vmt_ctf_graph_add_source(iter->graph, &setup->plugins, name, trace->paths,
				     trace->trace_name, iter->log.level, &source,
				     &iter->log) != VMT_STATUS_OK) {
		return VMT_STATUS_ERROR;
	}
	if (machine->needs_conversion) {
		return add_converted(iter, source, machine, index, main_muxer);
	}
	return connect_ports(iter, source, main_muxer);
}

static enum vmt_status build_graph(struct vmsync_msg_iter *iter)
{
	const struct vmsync_setup *setup = &iter->comp->setup;
	const bt_component_filter *main_muxer;
	const bt_component_sink *sink;
	enum vmt_status status = VMT_STATUS_OK;
	guint i;

	iter->graph = bt_graph_create(0);
	if (!iter->graph) {
		VMT_LOGE_APPEND_CAUSE(&iter->log, "Cannot create the private graph");
		return VMT_STATUS_MEMORY_ERROR;
	}
	if (bt_graph_add_filter_component(iter->graph, setup->plugins.muxer, "main-muxer", NULL,
					  iter->log.level,
					  &main_muxer) != BT_GRAPH_ADD_COMPONENT_STATUS_OK ||
	    bt_graph_add_simple_sink_component(iter->graph, "sink", NULL, sink_consume, NULL, iter,
					       &sink) != BT_GRAPH_ADD_COMPONENT_STATUS_OK ||
	    bt_graph_connect_ports(iter->graph,
				   bt_component_filter_borrow_output_port_by_index_const(main_muxer, 0),
				   bt_component_sink_borrow_input_port_by_index_const(sink, 0),
				   NULL) != BT_GRAPH_CONNECT_PORTS_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(&iter->log, "Cannot build the private graph");
		return VMT_STATUS_ERROR;
	}
	for (i = 0; i < setup->inventory.traces->len && status == VMT_STATUS_OK; i++) {
		status = add_trace(iter, i, main_muxer);
	}
	return status;
}

static void drop_graph(struct vmsync_msg_iter *iter)
{
	while (iter->length) {
		bt_message_put_ref(iter->queue[iter->head]);
		iter->head = (iter->head + 1) % QUEUE_SIZE;
		iter->length--;
	}
	iter->head = 0;
	iter->is_inner_ended = false;
	g_hash_table_remove_all(iter->seen_traces);
	BT_GRAPH_PUT_REF_AND_RESET(iter->graph);
	g_ptr_array_set_size(iter->convert_configs, 0);
}

static void destroy_iter(struct vmsync_msg_iter *iter)
{
	if (!iter) {
		return;
	}
	drop_graph(iter);
	g_hash_table_destroy(iter->seen_traces);
	g_ptr_array_free(iter->convert_configs, TRUE);
	g_free(iter);
}

bt_message_iterator_class_initialize_method_status
vmsync_msg_iter_init(bt_self_message_iterator *self_iter,
		     bt_self_message_iterator_configuration *config,
		     bt_self_component_port_output *port)
{
	struct vmsync_msg_iter *iter = g_new0(struct vmsync_msg_iter, 1);
	enum vmt_status status;

	(void) port;
	iter->comp = bt_self_component_get_data(bt_self_message_iterator_borrow_component(self_iter));
	iter->log = iter->comp->log;
	iter->log.self_comp = NULL;
	iter->log.self_msg_iter = self_iter;
	iter->seen_traces = g_hash_table_new(g_direct_hash, g_direct_equal);
	iter->convert_configs = g_ptr_array_new_with_free_func(g_free);
	status = build_graph(iter);
	if (status != VMT_STATUS_OK) {
		destroy_iter(iter);
		return (int) status;
	}
	/* The library emulates seeking to a time by seeking to the beginning and skipping. */
	bt_self_message_iterator_configuration_set_can_seek_forward(config, BT_TRUE);
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
 * have them (the conversion filter's copy sets them).
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
			VMT_LOGE_APPEND_CAUSE(&iter->log,
					      "Cannot tell which input trace emitted trace `%s`",
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

static bt_message_iterator_class_next_method_status fill_queue(struct vmsync_msg_iter *iter)
{
	while (iter->length == 0) {
		bt_graph_run_once_status status;

		if (iter->is_inner_ended) {
			return BT_MESSAGE_ITERATOR_CLASS_NEXT_METHOD_STATUS_END;
		}
		status = bt_graph_run_once(iter->graph);
		switch (status) {
		case BT_GRAPH_RUN_ONCE_STATUS_OK:
			break;
		case BT_GRAPH_RUN_ONCE_STATUS_END:
			iter->is_inner_ended = true;
			break;
		case BT_GRAPH_RUN_ONCE_STATUS_AGAIN:
			return BT_MESSAGE_ITERATOR_CLASS_NEXT_METHOD_STATUS_AGAIN;
		default:
			VMT_LOGE_APPEND_CAUSE(&iter->log, "Cannot read the traces (status %d)",
					      (int) status);
			return status == BT_GRAPH_RUN_ONCE_STATUS_MEMORY_ERROR
				       ? BT_MESSAGE_ITERATOR_CLASS_NEXT_METHOD_STATUS_MEMORY_ERROR
				       : BT_MESSAGE_ITERATOR_CLASS_NEXT_METHOD_STATUS_ERROR;
		}
	}
	return BT_MESSAGE_ITERATOR_CLASS_NEXT_METHOD_STATUS_OK;
}

bt_message_iterator_class_next_method_status
vmsync_msg_iter_next(bt_self_message_iterator *self_iter, bt_message_array_const msgs,
		     uint64_t capacity, uint64_t *count)
{
	struct vmsync_msg_iter *iter = bt_self_message_iterator_get_data(self_iter);
	bt_message_iterator_class_next_method_status status = fill_queue(iter);
	uint64_t n = 0;

	if (status != BT_MESSAGE_ITERATOR_CLASS_NEXT_METHOD_STATUS_OK) {
		return status;
	}
	while (n < capacity && iter->length) {
		const bt_message *msg = iter->queue[iter->head];

		if (bt_message_get_type(msg) == BT_MESSAGE_TYPE_STREAM_BEGINNING &&
		    check_new_stream(iter, msg) != VMT_STATUS_OK) {
			/* Hand out what is ready; the next call fails on this message again. */
			status = BT_MESSAGE_ITERATOR_CLASS_NEXT_METHOD_STATUS_ERROR;
			break;
		}
		msgs[n++] = msg;
		iter->head = (iter->head + 1) % QUEUE_SIZE;
		iter->length--;
	}
	if (status != BT_MESSAGE_ITERATOR_CLASS_NEXT_METHOD_STATUS_OK && n == 0) {
		return status;
	}
	if (status != BT_MESSAGE_ITERATOR_CLASS_NEXT_METHOD_STATUS_OK) {
		bt_current_thread_clear_error();
	}
	*count = n;
	return BT_MESSAGE_ITERATOR_CLASS_NEXT_METHOD_STATUS_OK;
}

bt_message_iterator_class_seek_beginning_method_status
vmsync_msg_iter_seek_beginning(bt_self_message_iterator *self_iter)
{
	struct vmsync_msg_iter *iter = bt_self_message_iterator_get_data(self_iter);
	enum vmt_status status;

	/* `src.ctf.fs` can seek, but rebuilding also resets the muxers and copies. */
	drop_graph(iter);
	status = build_graph(iter);
	return status == VMT_STATUS_OK ? BT_MESSAGE_ITERATOR_CLASS_SEEK_BEGINNING_METHOD_STATUS_OK
				       : (int) status;
}

bt_message_iterator_class_can_seek_beginning_method_status
vmsync_msg_iter_can_seek_beginning(bt_self_message_iterator *self_iter, bt_bool *can_seek)
{
	(void) self_iter;
	*can_seek = BT_TRUE;
	return BT_MESSAGE_ITERATOR_CLASS_CAN_SEEK_BEGINNING_METHOD_STATUS_OK;
}
