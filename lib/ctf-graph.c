/* SPDX-License-Identifier: MIT */
#define VMT_LOG_TAG "VMTRACE/CTF-GRAPH"
#include "lib/ctf-graph.h"

#include "lib/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>
#include <glib/gstdio.h>

#include <babeltrace2/babeltrace.h>

#include "lib/host-event.h"
#include "lib/message-stream.h"

enum vmt_status vmt_ctf_plugins_load(struct vmt_ctf_plugins *plugins, const struct vmt_log_ctx *log)
{
	bt_plugin_find_status status;

	memset(plugins, 0, sizeof(*plugins));
	status = bt_plugin_find("ctf", BT_TRUE, BT_TRUE, BT_TRUE, BT_TRUE, BT_FALSE, &plugins->ctf);
	if (status != BT_PLUGIN_FIND_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(log, "Cannot find Babeltrace's `ctf` plugin: status=%d",
				      (int) status);
		goto error;
	}
	status = bt_plugin_find("utils", BT_TRUE, BT_TRUE, BT_TRUE, BT_TRUE, BT_FALSE,
				&plugins->utils);
	if (status != BT_PLUGIN_FIND_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(log, "Cannot find Babeltrace's `utils` plugin: status=%d",
				      (int) status);
		goto error;
	}
	plugins->fs = bt_plugin_borrow_source_component_class_by_name_const(plugins->ctf, "fs");
	plugins->muxer =
		bt_plugin_borrow_filter_component_class_by_name_const(plugins->utils, "muxer");
	if (!plugins->fs || !plugins->muxer) {
		VMT_LOGE_APPEND_CAUSE(log, "Cannot find `src.ctf.fs` or `flt.utils.muxer`");
		goto error;
	}
	return VMT_STATUS_OK;

error:
	vmt_ctf_plugins_fini(plugins);
	return VMT_STATUS_ERROR;
}

void vmt_ctf_plugins_fini(struct vmt_ctf_plugins *plugins)
{
	BT_PLUGIN_PUT_REF_AND_RESET(plugins->ctf);
	BT_PLUGIN_PUT_REF_AND_RESET(plugins->utils);
	plugins->fs = NULL;
	plugins->muxer = NULL;
}

enum vmt_status vmt_ctf_graph_add_source(bt_graph *graph, const struct vmt_ctf_plugins *plugins,
					 const char *name, const GPtrArray *paths,
					 const char *trace_name, bt_logging_level level,
					 const bt_component_source **source,
					 const struct vmt_log_ctx *log)
{
	enum vmt_status status = VMT_STATUS_MEMORY_ERROR;
	bt_graph_add_component_status add_status;
	bt_value *params = bt_value_map_create();
	const char *path = g_ptr_array_index(paths, 0);
	bt_value *inputs = NULL;
	bool ok;
	guint i;

	ok = params && bt_value_map_insert_empty_array_entry(params, "inputs", &inputs) ==
			       BT_VALUE_MAP_INSERT_ENTRY_STATUS_OK;
	for (i = 0; ok && i < paths->len; i++) {
		ok = bt_value_array_append_string_element(inputs, g_ptr_array_index(paths, i)) ==
		     BT_VALUE_ARRAY_APPEND_ELEMENT_STATUS_OK;
	}
	if (!ok ||
	    (trace_name && bt_value_map_insert_string_entry(params, "trace-name", trace_name) !=
				   BT_VALUE_MAP_INSERT_ENTRY_STATUS_OK)) {
		VMT_LOGE_APPEND_CAUSE(log, "Cannot create the parameters of `src.ctf.fs`");
		goto end;
	}
	add_status = bt_graph_add_source_component(graph, plugins->fs, name, params, level, source);
	if (add_status != BT_GRAPH_ADD_COMPONENT_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(log, "Cannot read CTF trace: path=\"%s\"", path);
		status = add_status == BT_GRAPH_ADD_COMPONENT_STATUS_MEMORY_ERROR ?
				 VMT_STATUS_MEMORY_ERROR :
				 VMT_STATUS_ERROR;
		goto end;
	}
	status = VMT_STATUS_OK;

end:
	bt_value_put_ref(params);
	return status;
}

void vmt_uuid_format(const uint8_t uuid[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 uuid[0], uuid[1], uuid[2], uuid[3], uuid[4], uuid[5], uuid[6], uuid[7], uuid[8],
		 uuid[9], uuid[10], uuid[11], uuid[12], uuid[13], uuid[14], uuid[15]);
}

const char *vmt_trace_env_string(const bt_trace *trace, const char *name)
{
	const bt_value *value = bt_trace_borrow_environment_entry_value_by_name_const(trace, name);

	return value && bt_value_is_string(value) ? bt_value_string_get(value) : NULL;
}

void vmt_clock_info_read(const bt_clock_class *clock_class, struct vmt_clock_info *info)
{
	const uint8_t *uuid = bt_clock_class_get_uuid(clock_class);

	memset(info, 0, sizeof(*info));
	info->is_set = true;
	info->name = g_strdup(bt_clock_class_get_name(clock_class));
	info->description = g_strdup(bt_clock_class_get_description(clock_class));
	info->frequency = bt_clock_class_get_frequency(clock_class);
	info->precision = bt_clock_class_get_precision(clock_class);
	bt_clock_class_get_offset(clock_class, &info->offset_seconds, &info->offset_cycles);
	info->origin_is_unix_epoch = bt_clock_class_origin_is_unix_epoch(clock_class);
	if (uuid) {
		info->has_uuid = true;
		memcpy(info->uuid, uuid, 16);
	}
}

void vmt_clock_info_fini(struct vmt_clock_info *info)
{
	g_clear_pointer(&info->name, g_free);
	g_clear_pointer(&info->description, g_free);
	info->is_set = false;
}

bt_clock_class *vmt_clock_info_create_class(const struct vmt_clock_info *info,
					    bt_self_component *self_comp,
					    const struct vmt_log_ctx *log)
{
	bt_clock_class *clock_class = bt_clock_class_create(self_comp);

	if (!clock_class) {
		VMT_LOGE_APPEND_CAUSE(log, "Cannot create a clock class");
		return NULL;
	}
	if ((info->name && bt_clock_class_set_name(clock_class, info->name)) ||
	    (info->description && bt_clock_class_set_description(clock_class, info->description))) {
		VMT_LOGE_APPEND_CAUSE(log, "Cannot set the clock class's name or description");
		BT_CLOCK_CLASS_PUT_REF_AND_RESET(clock_class);
		return NULL;
	}
	/* Frequency first: the offset's cycles must be below it. */
	bt_clock_class_set_frequency(clock_class, info->frequency);
	bt_clock_class_set_precision(clock_class, info->precision);
	bt_clock_class_set_offset(clock_class, info->offset_seconds, info->offset_cycles);
	bt_clock_class_set_origin_is_unix_epoch(clock_class, info->origin_is_unix_epoch);
	if (info->has_uuid) {
		bt_clock_class_set_uuid(clock_class, info->uuid);
	}
	return clock_class;
}

void vmt_trace_probe_fini(struct vmt_trace_probe *probe)
{
	g_clear_pointer(&probe->name, g_free);
	g_clear_pointer(&probe->uuid, g_free);
	g_clear_pointer(&probe->hostname, g_free);
	g_clear_pointer(&probe->product_uuid, g_free);
	g_clear_pointer(&probe->domain, g_free);
	g_clear_pointer(&probe->clock_uuid, g_free);
	vmt_clock_info_fini(&probe->clock);
}

static void probe_event_class(struct vmt_trace_probe *probe, const bt_event_class *event_class)
{
	const char *name = bt_event_class_get_name(event_class);
	enum vmt_host_event_kind kind = vmt_host_event_kind_from_name(name);

	if (!name) {
		return;
	}
	probe->has_kvm_host_events |= vmt_host_event_name_is_kvm_host(name);
	probe->has_kvm_entry_exit |= kind == VMT_HOST_EVENT_KVM_ENTRY ||
				     kind == VMT_HOST_EVENT_KVM_EXIT;
	probe->has_hypercall_events |= kind == VMT_HOST_EVENT_HYPERCALL;
	probe->has_vmsync_host_events |= strcmp(name, "vmsync_gh_host") == 0 ||
					 strcmp(name, "vmsync_hg_host") == 0;
	probe->has_vmsync_guest_events |= strcmp(name, "vmsync_gh_guest") == 0 ||
					  strcmp(name, "vmsync_hg_guest") == 0;
}

/* Every message of the class has a default clock snapshot. */
static bool stream_class_is_seekable(const bt_stream_class *sc)
{
	if (!bt_stream_class_borrow_default_clock_class_const(sc)) {
		return false;
	}
	if (bt_stream_class_supports_packets(sc) &&
	    (!bt_stream_class_packets_have_beginning_default_clock_snapshot(sc) ||
	     !bt_stream_class_packets_have_end_default_clock_snapshot(sc))) {
		return false;
	}
	if (bt_stream_class_supports_discarded_events(sc) &&
	    !bt_stream_class_discarded_events_have_default_clock_snapshots(sc)) {
		return false;
	}
	return !bt_stream_class_supports_discarded_packets(sc) ||
	       bt_stream_class_discarded_packets_have_default_clock_snapshots(sc);
}

static void probe_trace_class(struct vmt_trace_probe *probe, const bt_trace_class *trace_class)
{
	uint64_t i, j;

	for (i = 0; i < bt_trace_class_get_stream_class_count(trace_class); i++) {
		const bt_stream_class *sc =
			bt_trace_class_borrow_stream_class_by_index_const(trace_class, i);
		const bt_clock_class *cc = bt_stream_class_borrow_default_clock_class_const(sc);

		if (cc && !probe->clock.is_set) {
			vmt_clock_info_read(cc, &probe->clock);
		}
		if (!stream_class_is_seekable(sc)) {
			probe->has_unseekable_streams = true;
		}
		for (j = 0; j < bt_stream_class_get_event_class_count(sc); j++) {
			probe_event_class(probe,
					  bt_stream_class_borrow_event_class_by_index_const(sc, j));
		}
	}
}

static void probe_trace(struct vmt_trace_probe *probe, const bt_trace *trace)
{
	const uint8_t *uuid = bt_trace_get_uuid(trace);
	char uuid_str[37];

	probe->is_empty = false;
	probe->name = g_strdup(bt_trace_get_name(trace));
	if (uuid) {
		vmt_uuid_format(uuid, uuid_str);
		probe->uuid = g_strdup(uuid_str);
	}
	probe->hostname = g_strdup(vmt_trace_env_string(trace, "hostname"));
	probe->product_uuid = g_strdup(vmt_trace_env_string(trace, "product_uuid"));
	probe->domain = g_strdup(vmt_trace_env_string(trace, "domain"));
	probe->has_vmtrace_env = bt_trace_borrow_environment_entry_value_by_name_const(
					 trace, "vmtrace_role") != NULL;
	probe_trace_class(probe, bt_trace_borrow_class_const(trace));
	if (probe->clock.is_set && probe->clock.has_uuid) {
		vmt_uuid_format(probe->clock.uuid, uuid_str);
		probe->clock_uuid = g_strdup(uuid_str);
	}
}

struct probe_sink {
	struct vmt_trace_probe *probe; /* Weak. */
	bool is_done;
};

static enum vmt_status probe_message(void *data, const bt_message *msg)
{
	struct probe_sink *sink = data;
	const bt_stream *stream = vmt_message_borrow_stream(msg);

	if (stream && !sink->is_done) {
		probe_trace(sink->probe, bt_stream_borrow_trace_const(stream));
		sink->is_done = true;
	}
	return VMT_STATUS_OK;
}

/* Stops the graph once the first message with a stream has shown the trace. */
static bt_graph_simple_sink_component_consume_func_status
probe_sink_consume(bt_message_iterator *iterator, void *data)
{
	struct probe_sink *sink = data;
	bt_graph_simple_sink_component_consume_func_status status =
		vmt_ctf_graph_consume(iterator, data, probe_message);

	if (status == BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_OK && sink->is_done) {
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_END;
	}
	return status;
}

static enum vmt_status connect_all_ports(bt_graph *graph, const bt_component_source *source,
					 const bt_component_filter *muxer,
					 const struct vmt_log_ctx *log)
{
	uint64_t i, count = bt_component_source_get_output_port_count(source);

	for (i = 0; i < count; i++) {
		const bt_port_output *out =
			bt_component_source_borrow_output_port_by_index_const(source, i);
		/* The muxer keeps exactly one free input port: always its last one. */
		uint64_t in_count = bt_component_filter_get_input_port_count(muxer);
		const bt_port_input *in =
			bt_component_filter_borrow_input_port_by_index_const(muxer, in_count - 1);

		if (bt_graph_connect_ports(graph, out, in, NULL) !=
		    BT_GRAPH_CONNECT_PORTS_STATUS_OK) {
			VMT_LOGE_APPEND_CAUSE(log, "Cannot connect `src.ctf.fs` to a muxer");
			return VMT_STATUS_ERROR;
		}
	}
	return VMT_STATUS_OK;
}

static enum vmt_status run_probe_graph(bt_graph *graph, struct probe_sink *sink, const char *path,
				       const struct vmt_log_ctx *log)
{
	bt_graph_run_once_status status;

	do {
		status = bt_graph_run_once(graph);
	} while (!sink->is_done && (status == BT_GRAPH_RUN_ONCE_STATUS_OK ||
				    status == BT_GRAPH_RUN_ONCE_STATUS_AGAIN));
	if (status < 0) {
		VMT_LOGE_APPEND_CAUSE(
			log, "Cannot read the first messages of CTF trace: path=\"%s\"", path);
		return VMT_STATUS_ERROR;
	}
	return VMT_STATUS_OK;
}

enum vmt_status vmt_ctf_graph_probe(const struct vmt_ctf_plugins *plugins, const GPtrArray *paths,
				    const char *trace_name, bt_logging_level level,
				    struct vmt_trace_probe *probe, const struct vmt_log_ctx *log)
{
	const char *path = g_ptr_array_index(paths, 0);
	struct probe_sink sink = { .probe = probe };
	enum vmt_status status = VMT_STATUS_ERROR;
	const bt_component_source *source;
	const bt_component_filter *muxer;
	const bt_component_sink *simple;
	bt_graph *graph = bt_graph_create(0);

	memset(probe, 0, sizeof(*probe));
	probe->is_empty = true;
	if (!graph) {
		VMT_LOGE_APPEND_CAUSE(log, "Cannot create a graph");
		return VMT_STATUS_MEMORY_ERROR;
	}
	status = vmt_ctf_graph_add_source(graph, plugins, "probe-ctf-fs", paths, trace_name, level,
					  &source, log);
	if (status != VMT_STATUS_OK) {
		goto end;
	}
	status = VMT_STATUS_ERROR;
	if (bt_graph_add_filter_component(graph, plugins->muxer, "probe-muxer", NULL, level,
					  &muxer) != BT_GRAPH_ADD_COMPONENT_STATUS_OK ||
	    bt_graph_add_simple_sink_component(graph, "probe-sink", NULL, probe_sink_consume, NULL,
					       &sink,
					       &simple) != BT_GRAPH_ADD_COMPONENT_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(log, "Cannot build the probe graph of trace: path=\"%s\"",
				      path);
		goto end;
	}
	if (connect_all_ports(graph, source, muxer, log) != VMT_STATUS_OK ||
	    bt_graph_connect_ports(graph,
				   bt_component_filter_borrow_output_port_by_index_const(muxer, 0),
				   bt_component_sink_borrow_input_port_by_index_const(simple, 0),
				   NULL) != BT_GRAPH_CONNECT_PORTS_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(log, "Cannot connect the probe graph of trace: path=\"%s\"",
				      path);
		goto end;
	}
	status = run_probe_graph(graph, &sink, path, log);

end:
	bt_graph_put_ref(graph);
	return status;
}

bt_graph_simple_sink_component_consume_func_status
vmt_ctf_graph_consume(bt_message_iterator *iterator, void *data, vmt_message_handler handle)
{
	enum vmt_status status = VMT_STATUS_OK;
	bt_message_array_const msgs;
	uint64_t count;

	switch (bt_message_iterator_next(iterator, &msgs, &count)) {
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_OK:
		break;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_END:
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_END;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_AGAIN:
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_AGAIN;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_MEMORY_ERROR:
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_MEMORY_ERROR;
	default:
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_ERROR;
	}
	for (uint64_t i = 0; i < count; i++) {
		if (status == VMT_STATUS_OK) {
			status = handle(data, msgs[i]);
		}
		bt_message_put_ref(msgs[i]);
	}
	if (status == VMT_STATUS_OK) {
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_OK;
	}
	return status == VMT_STATUS_MEMORY_ERROR ?
		       BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_MEMORY_ERROR :
		       BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_ERROR;
}

enum vmt_status vmt_ctf_graph_add_port_sink(bt_graph *graph, const bt_component_source *source,
					    uint64_t port, const char *name,
					    bt_graph_simple_sink_component_consume_func consume,
					    void *data, const char *path,
					    const struct vmt_log_ctx *log)
{
	const bt_component_sink *sink;

	if (bt_graph_add_simple_sink_component(graph, name, NULL, consume, NULL, data, &sink) !=
		    BT_GRAPH_ADD_COMPONENT_STATUS_OK ||
	    bt_graph_connect_ports(
		    graph, bt_component_source_borrow_output_port_by_index_const(source, port),
		    bt_component_sink_borrow_input_port_by_index_const(sink, 0),
		    NULL) != BT_GRAPH_CONNECT_PORTS_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(
			log, "Cannot add a reader for the trace: path=\"%s\", port=%" PRIu64, path,
			port);
		return VMT_STATUS_ERROR;
	}
	return VMT_STATUS_OK;
}

/* A data stream file as `src.ctf.fs` 2.0.4 lists it (`create_ds_file_groups()`). */
struct stream_file {
	char *path; /* Owned. */
	uint64_t size;
};

static void clear_stream_file(gpointer data)
{
	g_free(((struct stream_file *) data)->path);
}

static gint compare_stream_file_paths(gconstpointer a, gconstpointer b)
{
	return strcmp(((const struct stream_file *) a)->path,
		      ((const struct stream_file *) b)->path);
}

/* Appends the data stream files of the trace directory `dir` (metadata, hidden, empty and non-regular files are not). */
static void list_stream_files(const char *dir, GArray *files)
{
	GDir *handle = g_dir_open(dir, 0, NULL);
	const char *base;

	while (handle && (base = g_dir_read_name(handle))) {
		struct stream_file file = { .path = g_build_filename(dir, base, NULL) };
		GStatBuf st;

		if (strcmp(base, "metadata") == 0 || base[0] == '.' ||
		    g_stat(file.path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
			g_free(file.path);
			continue;
		}
		file.size = (uint64_t) st.st_size;
		g_array_append_val(files, file);
	}
	if (handle) {
		g_dir_close(handle);
	}
}

void vmt_ctf_graph_port_sizes(const GPtrArray *paths, uint64_t port_count, uint64_t *sizes)
{
	GArray *files = g_array_new(FALSE, FALSE, sizeof(struct stream_file));
	uint64_t total = 0, p;
	guint i;

	g_array_set_clear_func(files, clear_stream_file);
	for (i = 0; i < paths->len; i++) {
		list_stream_files(g_ptr_array_index(paths, i), files);
	}
	g_array_sort(files, compare_stream_file_paths);
	for (i = 0; i < files->len; i++) {
		total += g_array_index(files, struct stream_file, i).size;
	}
	for (p = 0; p < port_count; p++) {
		/* With chunks (several paths) a port's files are spread over directories. */
		sizes[p] = paths->len == 1 && files->len == port_count ?
				   g_array_index(files, struct stream_file, p).size :
				   total / port_count;
	}
	g_array_free(files, TRUE);
}

enum vmt_status vmt_ctf_graph_run(bt_graph *graph)
{
	bt_graph_run_status status;

	do {
		status = bt_graph_run(graph);
	} while (status == BT_GRAPH_RUN_STATUS_AGAIN);
	if (status == BT_GRAPH_RUN_STATUS_OK) {
		return VMT_STATUS_OK;
	}
	return status == BT_GRAPH_RUN_STATUS_MEMORY_ERROR ? VMT_STATUS_MEMORY_ERROR :
							    VMT_STATUS_ERROR;
}
