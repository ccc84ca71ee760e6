/* SPDX-License-Identifier: MIT */
#define VMT_LOG_TAG "PLUGIN/SINK.VMSTATE.INTERVALS"
#include "component.h"

#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/common.h"
#include "lib/flow.h"
#include "lib/intervals.h"
#include "lib/params.h"
#include "lib/writer.h"

static const char *const format_values[] = { "text", "csv", "jsonl", "chrome", NULL };
static const char *const view_values[] = { "vcpu", "pcpu", NULL };

static const struct vmt_param_spec param_specs[] = {
	{ "format", VMT_PARAM_STRING, false, format_values },
	{ "path", VMT_PARAM_STRING, false, NULL },
	{ "view", VMT_PARAM_STRING, false, view_values },
};

struct vmstate_comp {
	struct vmt_log_ctx log;
	bt_self_component_port_input *in_port; /* Weak: owned by the component. */
	bt_message_iterator *upstream; /* Owned. */
	enum vmt_writer_format format;
	enum vmt_writer_view view;
	char *path; /* Owned; NULL for standard output. */
	FILE *out; /* Owned unless it is stdout. */
	struct vmt_intervals *intervals; /* Owned, with the host models. */
	struct vmt_flow *flow; /* Owned. */
	bool is_done;
};

static struct vmt_host_model *create_model(void *user)
{
	struct vmstate_comp *comp = user;

	return vmt_intervals_add_host(comp->intervals);
}

static int64_t lookup_guest_thread(void *user, const struct vmt_vm *vm, int64_t vcpu,
				   const char **comm)
{
	struct vmstate_comp *comp = user;

	return vmt_flow_guest_thread(comp->flow, vm, vcpu, comm);
}

static enum vmt_status read_params(struct vmstate_comp *comp, const bt_value *params)
{
	GString *error = g_string_new(NULL);
	enum vmt_status status =
		vmt_params_validate(params, param_specs, VMT_ARRAY_SIZE(param_specs), error);
	const char *path;

	if (status != VMT_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(&comp->log, "%s", error->str);
		goto end;
	}
	vmt_writer_parse_format(vmt_params_string(params, "format", "text"), &comp->format);
	comp->view = strcmp(vmt_params_string(params, "view", "vcpu"), "pcpu") == 0 ?
			     VMT_WRITER_VIEW_PCPU :
			     VMT_WRITER_VIEW_VCPU;
	path = vmt_params_string(params, "path", NULL);
	comp->path = g_strdup(path);

end:
	g_string_free(error, TRUE);
	return status;
}

/* Opens the output now, so that a bad `path` fails the graph before any work. */
static enum vmt_status open_output(struct vmstate_comp *comp)
{
	if (!comp->path) {
		comp->out = stdout;
		return VMT_STATUS_OK;
	}
	comp->out = fopen(comp->path, "w");
	if (!comp->out) {
		VMT_LOGE_APPEND_CAUSE(&comp->log,
				      "Invalid parameter `path`: cannot open the output file: "
				      "path=\"%s\", error=\"%s\"",
				      comp->path, strerror(errno));
		return VMT_STATUS_ERROR;
	}
	return VMT_STATUS_OK;
}

static void destroy_comp(struct vmstate_comp *comp)
{
	if (!comp) {
		return;
	}
	vmt_flow_destroy(comp->flow);
	vmt_intervals_destroy(comp->intervals);
	bt_message_iterator_put_ref(comp->upstream);
	if (comp->out && comp->out != stdout) {
		fclose(comp->out);
	}
	g_free(comp->path);
	g_free(comp);
}

bt_component_class_initialize_method_status
vmstate_comp_init(bt_self_component_sink *self_comp, bt_self_component_sink_configuration *config,
		  const bt_value *params, void *init_data)
{
	bt_self_component *self = bt_self_component_sink_as_self_component(self_comp);
	struct vmstate_comp *comp = g_new0(struct vmstate_comp, 1);

	(void) config;
	(void) init_data;
	comp->log.level = bt_component_get_logging_level(bt_self_component_as_component(self));
	comp->log.name = bt_component_get_name(bt_self_component_as_component(self));
	comp->log.self_comp = self;
	if (read_params(comp, params) != VMT_STATUS_OK || open_output(comp) != VMT_STATUS_OK) {
		goto error;
	}
	comp->intervals = vmt_intervals_create(comp->view, &comp->log);
	comp->flow = vmt_flow_create(create_model, comp, &comp->log);
	vmt_intervals_set_guest_lookup(comp->intervals, lookup_guest_thread, comp);
	if (bt_self_component_sink_add_input_port(self_comp, "in", NULL, &comp->in_port) !=
	    BT_SELF_COMPONENT_ADD_PORT_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(&comp->log, "Cannot add the input port");
		goto error;
	}
	bt_self_component_set_data(self, comp);
	return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_OK;

error:
	destroy_comp(comp);
	return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_ERROR;
}

void vmstate_comp_finalize(bt_self_component_sink *self_comp)
{
	destroy_comp(
		bt_self_component_get_data(bt_self_component_sink_as_self_component(self_comp)));
}

bt_component_class_sink_graph_is_configured_method_status
vmstate_comp_graph_is_configured(bt_self_component_sink *self_comp)
{
	struct vmstate_comp *comp =
		bt_self_component_get_data(bt_self_component_sink_as_self_component(self_comp));
	bt_message_iterator_create_from_sink_component_status status;

	if (!bt_port_is_connected(bt_self_component_port_as_port(
		    bt_self_component_port_input_as_self_component_port(comp->in_port)))) {
		VMT_LOGE_APPEND_CAUSE(&comp->log, "The input port `in` is not connected");
		return BT_COMPONENT_CLASS_SINK_GRAPH_IS_CONFIGURED_METHOD_STATUS_ERROR;
	}
	status = bt_message_iterator_create_from_sink_component(self_comp, comp->in_port,
								&comp->upstream);
	if (status != BT_MESSAGE_ITERATOR_CREATE_FROM_SINK_COMPONENT_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(&comp->log, "Cannot create the upstream message iterator");
		return (int) status;
	}
	return BT_COMPONENT_CLASS_SINK_GRAPH_IS_CONFIGURED_METHOD_STATUS_OK;
}

static void handle_message(struct vmstate_comp *comp, const bt_message *msg)
{
	int64_t ns;
	struct vmt_flow_trace *ft = vmt_flow_handle(comp->flow, msg, &ns);
	struct vmt_vm *vm;

	/* A guest `sched_switch` changes what its vCPU shows on its pCPU. */
	if (ft && ft->role == VMT_ROLE_GUEST && ft->switched_cpu >= 0) {
		vm = vmt_flow_guest_vm(comp->flow, ft);
		if (vm) {
			vmt_intervals_guest_thread_changed(comp->intervals, ft->model, vm,
							   ft->switched_cpu, ns);
		}
	}
}

/*
 * Flushes the output and closes it if it is a file: errors that only show on
 * close (NFS, quotas) must fail the graph, not be lost in finalization.
 * Returns 0, or EOF with errno set.
 */
static int close_output(struct vmstate_comp *comp)
{
	int status = fflush(comp->out);

	if (comp->out != stdout) {
		int saved_errno = errno;

		if (fclose(comp->out) != 0 && status == 0) {
			status = EOF;
		} else {
			errno = saved_errno;
		}
		comp->out = NULL;
	}
	return status;
}

static enum vmt_status write_output(struct vmstate_comp *comp)
{
	struct vmt_writer *writer =
		vmt_writer_create(comp->format, comp->view, comp->out, &comp->log);
	enum vmt_status status;
	int close_errno;

	if (!writer) {
		VMT_LOGE_APPEND_CAUSE(&comp->log, "Cannot create the output writer");
		return VMT_STATUS_MEMORY_ERROR;
	}
	if (vmt_flow_first_host_ns(comp->flow) != INT64_MIN) {
		vmt_writer_set_time_origin(writer, vmt_flow_first_host_ns(comp->flow));
	}
	status = vmt_intervals_finish(comp->intervals, vmt_flow_last_host_ns(comp->flow), writer);
	vmt_writer_destroy(writer);
	close_errno = close_output(comp) != 0 ? errno : 0;
	if (close_errno && status == VMT_STATUS_OK) {
		status = VMT_STATUS_ERROR;
	}
	if (status != VMT_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(
			&comp->log, "Cannot write the output: path=\"%s\", error=\"%s\"",
			comp->path ? comp->path : "(standard output)",
			close_errno ? g_strerror(close_errno) : "see the cause above");
	}
	return status;
}

bt_component_class_sink_consume_method_status
vmstate_comp_consume(bt_self_component_sink *self_comp)
{
	struct vmstate_comp *comp =
		bt_self_component_get_data(bt_self_component_sink_as_self_component(self_comp));
	bt_message_array_const msgs;
	uint64_t count, i;
	bt_message_iterator_next_status status;

	status = bt_message_iterator_next(comp->upstream, &msgs, &count);
	switch (status) {
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_OK:
		break;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_END:
		if (!comp->is_done) {
			comp->is_done = true;
			if (write_output(comp) != VMT_STATUS_OK) {
				return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_ERROR;
			}
		}
		return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_END;
	default:
		return (int) status;
	}
	for (i = 0; i < count; i++) {
		handle_message(comp, msgs[i]);
		bt_message_put_ref(msgs[i]);
	}
	/* Storing a row can fail (temporary file); its cause is already appended. */
	if (vmt_intervals_status(comp->intervals) != VMT_STATUS_OK) {
		return vmt_intervals_status(comp->intervals) == VMT_STATUS_MEMORY_ERROR ?
			       BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_MEMORY_ERROR :
			       BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_ERROR;
	}
	return BT_COMPONENT_CLASS_SINK_CONSUME_METHOD_STATUS_OK;
}
