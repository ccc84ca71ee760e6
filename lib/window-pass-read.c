/* SPDX-License-Identifier: MIT */
/*
 * The window pass's reading (see window-pass.h): each host machine through a
 * muxer into a host model whose listener records every vCPU thread's
 * guest-mode windows, and the wanted guests' traces stream by stream into
 * event times per `cpu_id`.
 */
#define VMT_LOG_TAG "VMTRACE/WINDOW-PASS"
#include "lib/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/window-pass-internal.h"

/* One stream of a guest trace, read by its own simple sink. */
struct guest_stream {
	struct vmt_window_pass *pass; /* Weak. */
	struct vmt_machine *machine; /* Weak. */
	struct vmt_window_pass_guest *events; /* Weak: in `pass->guests`. */
	const char *path; /* Weak: the trace path, for causes. */
	/* Cache: the packet context's `cpu_id` member of the last stream class. */
	const bt_stream_class *stream_class; /* Weak: cache key. */
	uint64_t cpu_index;
	/* Cache: the `vm_uid` member of the last event class, if a vmsync guest event. */
	const bt_event_class *event_class; /* Weak: cache key. */
	uint64_t vm_uid_index;
};

/* Finds an integer member of a structure class, or UINT64_MAX. */
static uint64_t integer_member(const bt_field_class *structure, const char *name)
{
	uint64_t count;

	if (!structure || bt_field_class_get_type(structure) != BT_FIELD_CLASS_TYPE_STRUCTURE) {
		return UINT64_MAX;
	}
	count = bt_field_class_structure_get_member_count(structure);
	for (uint64_t i = 0; i < count; i++) {
		const bt_field_class_structure_member *member =
			bt_field_class_structure_borrow_member_by_index_const(structure, i);
		const bt_field_class *member_class;

		if (strcmp(bt_field_class_structure_member_get_name(member), name) != 0) {
			continue;
		}
		member_class = bt_field_class_structure_member_borrow_field_class_const(member);
		return bt_field_class_type_is(bt_field_class_get_type(member_class),
					      BT_FIELD_CLASS_TYPE_INTEGER) ?
			       i :
			       UINT64_MAX;
	}
	return UINT64_MAX;
}

static int64_t read_integer(const bt_field *structure, uint64_t index)
{
	const bt_field *field =
		bt_field_structure_borrow_member_field_by_index_const(structure, index);

	if (bt_field_class_type_is(bt_field_get_class_type(field),
				   BT_FIELD_CLASS_TYPE_SIGNED_INTEGER)) {
		return bt_field_integer_signed_get_value(field);
	}
	return (int64_t) bt_field_integer_unsigned_get_value(field);
}

/* The event's time in ns from origin, or false (no clock; a cause if it overflows). */
static bool event_ns(const bt_message *msg, const char *path, const struct vmt_log_ctx *log,
		     enum vmt_status *status, int64_t *ns)
{
	*status = VMT_STATUS_OK;
	if (bt_message_get_type(msg) != BT_MESSAGE_TYPE_EVENT ||
	    !bt_message_event_borrow_stream_class_default_clock_class_const(msg)) {
		return false;
	}
	if (bt_clock_snapshot_get_ns_from_origin(
		    bt_message_event_borrow_default_clock_snapshot_const(msg), ns) !=
	    BT_CLOCK_SNAPSHOT_GET_NS_FROM_ORIGIN_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(log, "Event time overflows ns from origin: trace=\"%s\"",
				      path);
		*status = VMT_STATUS_ERROR;
		return false;
	}
	return true;
}

/* Reads every message of the batch with `handle`, then puts them all. */
static struct vmt_window_pass_thread *borrow_thread_windows(struct vmt_window_pass_host *run,
							    struct vmt_thread *thread)
{
	struct vmt_window_pass_thread *tw = thread->listener_data;

	if (!tw) {
		tw = g_new0(struct vmt_window_pass_thread, 1);
		tw->windows = g_array_new(FALSE, FALSE, sizeof(struct vmt_sync_window));
		g_ptr_array_add(run->windows, tw);
		thread->listener_data = tw;
	}
	return tw;
}

static void close_window(struct vmt_window_pass_thread *tw, int64_t ns)
{
	struct vmt_sync_window window = { tw->open_ns, ns };

	if (ns > tw->open_ns) {
		g_array_append_val(tw->windows, window);
	}
	tw->is_open = false;
}

/* A window opens when the vCPU thread enters `running` and closes when it leaves it. */
static void handle_vcpu_changed(void *user, struct vmt_thread *thread, int64_t ts)
{
	struct vmt_window_pass_thread *tw = borrow_thread_windows(user, thread);
	bool is_running = thread->state == VMT_VCPU_STATE_RUNNING;

	if (is_running && !tw->is_open) {
		tw->is_open = true;
		tw->open_ns = ts;
	} else if (!is_running && tw->is_open) {
		close_window(tw, ts);
	}
}

static void handle_vcpu_ended(void *user, struct vmt_thread *thread, int64_t ts)
{
	struct vmt_window_pass_thread *tw = borrow_thread_windows(user, thread);

	if (tw->is_open) {
		close_window(tw, ts);
	}
}

static const struct vmt_host_model_listener window_listener = {
	.vcpu_changed = handle_vcpu_changed,
	.vcpu_ended = handle_vcpu_ended,
	.cpu_changed = NULL,
};

static void destroy_thread_windows(gpointer data)
{
	struct vmt_window_pass_thread *tw = data;

	g_array_unref(tw->windows);
	g_free(tw);
}

void vmt_window_pass_host_destroy(gpointer data)
{
	struct vmt_window_pass_host *run = data;

	if (!run) {
		return;
	}
	vmt_host_model_destroy(run->model);
	vmt_host_event_decoder_destroy(run->decoder);
	g_ptr_array_free(run->windows, TRUE);
	g_array_unref(run->unknown);
	g_free(run);
}

/* How to read the time range of one kind of discarded-items message. */
struct discarded_kind {
	const bt_stream *(*stream)(const bt_message *msg);
	bt_bool (*has_times)(const bt_stream_class *stream_class);
	const bt_clock_snapshot *(*beginning)(const bt_message *msg);
	const bt_clock_snapshot *(*end)(const bt_message *msg);
};

static const struct discarded_kind discarded_events = {
	bt_message_discarded_events_borrow_stream_const,
	bt_stream_class_discarded_events_have_default_clock_snapshots,
	bt_message_discarded_events_borrow_beginning_default_clock_snapshot_const,
	bt_message_discarded_events_borrow_end_default_clock_snapshot_const,
};

static const struct discarded_kind discarded_packets = {
	bt_message_discarded_packets_borrow_stream_const,
	bt_stream_class_discarded_packets_have_default_clock_snapshots,
	bt_message_discarded_packets_borrow_beginning_default_clock_snapshot_const,
	bt_message_discarded_packets_borrow_end_default_clock_snapshot_const,
};

/* The time range [beginning, end] of a discarded-items message, false if it has none. */
static bool discarded_range(const bt_message *msg, const struct discarded_kind *kind,
			    struct vmt_sync_window *range)
{
	return kind->has_times(bt_stream_borrow_class_const(kind->stream(msg))) &&
	       bt_clock_snapshot_get_ns_from_origin(kind->beginning(msg), &range->entry_ns) ==
		       BT_CLOCK_SNAPSHOT_GET_NS_FROM_ORIGIN_STATUS_OK &&
	       bt_clock_snapshot_get_ns_from_origin(kind->end(msg), &range->exit_ns) ==
		       BT_CLOCK_SNAPSHOT_GET_NS_FROM_ORIGIN_STATUS_OK;
}

/*
 * A host discarded-events or discarded-packets message: the lost events
 * may have been entries and exits of any vCPU thread, so its time range
 * becomes "unknown = allowed" for every vCPU (window-sync.md §5). One
 * without times cannot be placed: it is counted, and the pass warns.
 */
static void note_discarded(struct vmt_window_pass_host *run, const bt_message *msg)
{
	struct vmt_sync_window range;
	bool has_range = discarded_range(
		msg,
		bt_message_get_type(msg) == BT_MESSAGE_TYPE_DISCARDED_EVENTS ? &discarded_events :
									       &discarded_packets,
		&range);

	if (has_range && range.exit_ns >= range.entry_ns) {
		g_array_append_val(run->unknown, range);
	} else {
		run->untimed_discard_count++;
	}
}

static enum vmt_status handle_host_message(void *data, const bt_message *msg)
{
	struct vmt_window_pass_host *run = data;
	struct vmt_host_event event;
	enum vmt_status status;
	int64_t ns;

	if (bt_message_get_type(msg) == BT_MESSAGE_TYPE_DISCARDED_EVENTS ||
	    bt_message_get_type(msg) == BT_MESSAGE_TYPE_DISCARDED_PACKETS) {
		note_discarded(run, msg);
		return VMT_STATUS_OK;
	}
	if (event_ns(msg, run->path, run->log, &status, &ns)) {
		vmt_host_event_decode(run->decoder, msg, ns, &event);
		if (event.kind != VMT_HOST_EVENT_OTHER) {
			vmt_host_model_handle(run->model, &event);
		}
	}
	return status;
}

static bt_graph_simple_sink_component_consume_func_status
host_consume(bt_message_iterator *iterator, void *data)
{
	return vmt_ctf_graph_consume(iterator, data, handle_host_message);
}

/* Adds a source for `trace` and connects all its ports to `muxer`. */
static enum vmt_status add_muxed_trace(struct vmt_window_pass *pass, bt_graph *graph,
				       const bt_component_filter *muxer,
				       const struct vmt_trace_entry *trace, guint index)
{
	const bt_component_source *source;
	char name[64];

	snprintf(name, sizeof(name), "window-pass-host-%u", index);
	if (vmt_ctf_graph_add_source(graph, pass->plugins, name, trace->paths, trace->trace_name,
				     pass->level, &source, pass->log) != VMT_STATUS_OK) {
		return VMT_STATUS_ERROR;
	}
	for (uint64_t p = 0; p < bt_component_source_get_output_port_count(source); p++) {
		/* The muxer keeps exactly one free input port: always its last one. */
		uint64_t in_count = bt_component_filter_get_input_port_count(muxer);

		if (bt_graph_connect_ports(
			    graph, bt_component_source_borrow_output_port_by_index_const(source, p),
			    bt_component_filter_borrow_input_port_by_index_const(muxer,
										 in_count - 1),
			    NULL) != BT_GRAPH_CONNECT_PORTS_STATUS_OK) {
			VMT_LOGE_APPEND_CAUSE(
				pass->log,
				"Cannot connect a host trace to the window pass's muxer: "
				"path=\"%s\"",
				trace->path);
			return VMT_STATUS_ERROR;
		}
	}
	return VMT_STATUS_OK;
}

/* Closes the windows still open at the end of the host trace: they have no exit. */
static void close_open_windows(struct vmt_window_pass_host *run)
{
	for (guint i = 0; i < run->windows->len; i++) {
		struct vmt_window_pass_thread *tw = g_ptr_array_index(run->windows, i);

		if (tw->is_open) {
			close_window(tw, VMT_SYNC_WINDOW_OPEN);
		}
	}
}

static int compare_entries(const void *a, const void *b)
{
	const struct vmt_sync_window *x = a, *y = b;

	return (x->entry_ns > y->entry_ns) - (x->entry_ns < y->entry_ns);
}

/* Sorts `windows` and merges the ones that overlap or touch. */
static void merge_overlaps(GArray *windows)
{
	struct vmt_sync_window *w = (struct vmt_sync_window *) (void *) windows->data;
	guint kept = 0;

	if (!windows->len) {
		return;
	}
	qsort(w, windows->len, sizeof(*w), compare_entries);
	for (guint i = 1; i < windows->len; i++) {
		if (w[i].entry_ns <= w[kept].exit_ns) {
			w[kept].exit_ns = MAX(w[kept].exit_ns, w[i].exit_ns);
		} else {
			w[++kept] = w[i];
		}
	}
	g_array_set_size(windows, kept + 1);
}

/*
 * Makes the discarded ranges windows of every vCPU thread: an event there
 * may belong to a window the host lost, so it is allowed, and an assignment
 * to such a merged window only widens the constraints (a lost exit merges
 * two windows the same way).
 */
static void add_unknown_ranges(struct vmt_window_pass_host *run)
{
	if (!run->unknown->len) {
		return;
	}
	merge_overlaps(run->unknown);
	for (guint i = 0; i < run->windows->len; i++) {
		struct vmt_window_pass_thread *tw = g_ptr_array_index(run->windows, i);

		g_array_append_vals(tw->windows, run->unknown->data, run->unknown->len);
		merge_overlaps(tw->windows);
	}
}

/* Reads the traces of host `machine` in time order through its model. */
static enum vmt_status run_host(struct vmt_window_pass *pass, const struct vmt_machine *machine,
				struct vmt_window_pass_host *run)
{
	const bt_component_filter *muxer;
	const bt_component_sink *sink;
	enum vmt_status status = VMT_STATUS_ERROR;
	bt_graph *graph = bt_graph_create(0);

	if (!graph) {
		VMT_LOGE_APPEND_CAUSE(pass->log, "Cannot create a graph");
		return VMT_STATUS_MEMORY_ERROR;
	}
	if (bt_graph_add_filter_component(graph, pass->plugins->muxer, "window-pass-muxer", NULL,
					  pass->level,
					  &muxer) != BT_GRAPH_ADD_COMPONENT_STATUS_OK ||
	    bt_graph_add_simple_sink_component(graph, "window-pass-host-sink", NULL, host_consume,
					       NULL, run,
					       &sink) != BT_GRAPH_ADD_COMPONENT_STATUS_OK ||
	    bt_graph_connect_ports(graph,
				   bt_component_filter_borrow_output_port_by_index_const(muxer, 0),
				   bt_component_sink_borrow_input_port_by_index_const(sink, 0),
				   NULL) != BT_GRAPH_CONNECT_PORTS_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(pass->log, "Cannot build the window pass graph: host=\"%s\"",
				      machine->id);
		goto end;
	}
	status = VMT_STATUS_OK;
	for (guint i = 0; i < machine->traces->len && status == VMT_STATUS_OK; i++) {
		status = add_muxed_trace(pass, graph, muxer, g_ptr_array_index(machine->traces, i),
					 i);
	}
	if (status == VMT_STATUS_OK) {
		status = vmt_ctf_graph_run(graph);
		if (status != VMT_STATUS_OK) {
			VMT_LOGE_APPEND_CAUSE(
				pass->log,
				"Cannot read the host traces for window sync: host=\"%s\"",
				machine->id);
		}
	}
	close_open_windows(run);
	add_unknown_ranges(run);
	if (run->unknown->len) {
		VMT_LOGI(pass->log,
			 "Host lost events: their time ranges count as guest mode for every vCPU: "
			 "host=\"%s\", ranges=%u",
			 machine->id, run->unknown->len);
	}
	if (run->untimed_discard_count) {
		VMT_LOGW(pass->log,
			 "Host lost events at unknown times: window sync may take the guest events "
			 "of those times for outliers: host=\"%s\", count=%" PRIu64,
			 machine->id, run->untimed_discard_count);
	}

end:
	bt_graph_put_ref(graph);
	return status;
}

static bool machine_has_windows(const struct vmt_machine *machine)
{
	for (guint i = 0; i < machine->traces->len; i++) {
		const struct vmt_trace_entry *trace = g_ptr_array_index(machine->traces, i);

		if (trace->probe.has_kvm_entry_exit) {
			return true;
		}
	}
	return false;
}

enum vmt_status vmt_window_pass_read_hosts(struct vmt_window_pass *pass)
{
	enum vmt_status status = VMT_STATUS_OK;

	for (guint m = 0; m < pass->inventory->machines->len && status == VMT_STATUS_OK; m++) {
		struct vmt_machine *machine = vmt_inventory_machine(pass->inventory, m);
		struct vmt_window_pass_host *run;

		if (machine->role != VMT_ROLE_HOST || !machine_has_windows(machine)) {
			continue;
		}
		run = g_new0(struct vmt_window_pass_host, 1);
		run->model = vmt_host_model_create(&window_listener, run);
		run->decoder = vmt_host_event_decoder_create();
		run->windows = g_ptr_array_new_with_free_func(destroy_thread_windows);
		run->unknown = g_array_new(FALSE, FALSE, sizeof(struct vmt_sync_window));
		run->log = pass->log;
		run->path = ((const struct vmt_trace_entry *) g_ptr_array_index(machine->traces, 0))
				    ->path;
		pass->hosts->pdata[m] = run;
		status = run_host(pass, machine, run);
	}
	return status;
}

/* The `cpu_id` of the event's packet, -1 if it has none. */
static int64_t read_cpu(struct guest_stream *stream, const bt_event *event)
{
	const bt_event_class *event_class = bt_event_borrow_class_const(event);
	const bt_stream_class *stream_class = bt_event_class_borrow_stream_class_const(event_class);
	const bt_packet *packet;

	if (stream_class != stream->stream_class) {
		stream->stream_class = stream_class;
		stream->cpu_index = integer_member(
			bt_stream_class_borrow_packet_context_field_class_const(stream_class),
			"cpu_id");
	}
	packet = bt_event_borrow_packet_const(event);
	if (!packet || stream->cpu_index == UINT64_MAX) {
		return -1;
	}
	return read_integer(bt_packet_borrow_context_field_const(packet), stream->cpu_index);
}

/* Learns the guest's vm_uid from its vmsync events, as the hypercall pass would. */
static void note_vm_uid(struct guest_stream *stream, const bt_event *event)
{
	const bt_event_class *event_class = bt_event_borrow_class_const(event);
	const char *name;

	if (event_class != stream->event_class) {
		stream->event_class = event_class;
		name = bt_event_class_get_name(event_class);
		stream->vm_uid_index =
			name && (strcmp(name, "vmsync_gh_guest") == 0 ||
				 strcmp(name, "vmsync_hg_guest") == 0) ?
				integer_member(bt_event_class_borrow_payload_field_class_const(
						       event_class),
					       "vm_uid") :
				UINT64_MAX;
	}
	if (stream->vm_uid_index != UINT64_MAX) {
		stream->machine->vm_uid = (uint64_t) read_integer(
			bt_event_borrow_payload_field_const(event), stream->vm_uid_index);
		stream->machine->has_vm_uid = true;
	}
}

static void add_guest_time(struct vmt_window_pass_guest *events, int64_t cpu, int64_t ns)
{
	GArray *times;

	if ((guint) cpu >= events->cpus->len) {
		g_ptr_array_set_size(events->cpus, (guint) cpu + 1);
	}
	times = g_ptr_array_index(events->cpus, cpu);
	if (!times) {
		times = g_array_new(FALSE, FALSE, sizeof(int64_t));
		events->cpus->pdata[cpu] = times;
	}
	g_array_append_val(times, ns);
}

static enum vmt_status handle_guest_message(void *data, const bt_message *msg)
{
	struct guest_stream *stream = data;
	struct vmt_machine *machine = stream->machine;
	const bt_event *event;
	enum vmt_status status;
	int64_t ns, cpu;

	if (!event_ns(msg, stream->path, stream->pass->log, &status, &ns)) {
		return status;
	}
	event = bt_message_event_borrow_event_const(msg);
	cpu = read_cpu(stream, event);
	if (cpu < 0 || cpu >= VMT_WINDOW_PASS_MAX_CPUS) {
		stream->events->no_cpu_count++;
	} else {
		add_guest_time(stream->events, cpu, ns);
	}
	if (!machine->has_vm_uid) {
		note_vm_uid(stream, event);
	}
	machine->span_begin_ns = machine->has_span ? MIN(machine->span_begin_ns, ns) : ns;
	machine->span_end_ns = machine->has_span ? MAX(machine->span_end_ns, ns) : ns;
	machine->has_span = true;
	return VMT_STATUS_OK;
}

static bt_graph_simple_sink_component_consume_func_status
guest_consume(bt_message_iterator *iterator, void *data)
{
	return vmt_ctf_graph_consume(iterator, data, handle_guest_message);
}

/* Adds a source for guest trace `trace`, with one simple sink per output port. */
static enum vmt_status add_guest_trace(struct vmt_window_pass *pass, bt_graph *graph,
				       struct vmt_trace_entry *trace, guint index)
{
	struct vmt_machine *machine = vmt_inventory_machine(pass->inventory, trace->machine);
	const bt_component_source *source;
	char name[64];

	snprintf(name, sizeof(name), "window-pass-guest-%u", index);
	if (vmt_ctf_graph_add_source(graph, pass->plugins, name, trace->paths, trace->trace_name,
				     pass->level, &source, pass->log) != VMT_STATUS_OK) {
		return VMT_STATUS_ERROR;
	}
	for (uint64_t p = 0; p < bt_component_source_get_output_port_count(source); p++) {
		struct guest_stream *stream = g_new0(struct guest_stream, 1);
		*stream = (struct guest_stream){ .pass = pass,
						 .machine = machine,
						 .events = g_ptr_array_index(pass->guests,
									     trace->machine),
						 .path = trace->path };
		g_ptr_array_add(pass->streams, stream);
		snprintf(name, sizeof(name), "window-pass-guest-sink-%u-%" PRIu64, index, p);
		if (vmt_ctf_graph_add_port_sink(graph, source, p, name, guest_consume, stream,
						trace->path, pass->log) != VMT_STATUS_OK) {
			return VMT_STATUS_ERROR;
		}
	}
	return VMT_STATUS_OK;
}

static int compare_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

/* Sorts each `cpu_id`'s times: several streams (kernel, UST) share a CPU. */
static void sort_times(GArray *times)
{
	for (guint i = 1; times && i < times->len; i++) {
		if (g_array_index(times, int64_t, i - 1) > g_array_index(times, int64_t, i)) {
			qsort(times->data, times->len, sizeof(int64_t), compare_i64);
			return;
		}
	}
}

/* Reads every wanted guest's traces, stream by stream (no order is needed). */
enum vmt_status vmt_window_pass_read_guests(struct vmt_window_pass *pass, const bool *wanted)
{
	struct vmt_inventory *inventory = pass->inventory;
	enum vmt_status status = VMT_STATUS_OK;
	bt_graph *graph = bt_graph_create(0);

	if (!graph) {
		VMT_LOGE_APPEND_CAUSE(pass->log, "Cannot create a graph");
		return VMT_STATUS_MEMORY_ERROR;
	}
	for (guint i = 0; i < inventory->traces->len && status == VMT_STATUS_OK; i++) {
		struct vmt_trace_entry *trace = g_ptr_array_index(inventory->traces, i);

		if (wanted[trace->machine]) {
			status = add_guest_trace(pass, graph, trace, i);
		}
	}
	if (status == VMT_STATUS_OK && pass->streams->len) {
		status = vmt_ctf_graph_run(graph);
		if (status != VMT_STATUS_OK) {
			VMT_LOGE_APPEND_CAUSE(pass->log,
					      "Cannot read the guest traces for window sync");
		}
	}
	for (guint m = 0; m < pass->guests->len; m++) {
		struct vmt_window_pass_guest *events = g_ptr_array_index(pass->guests, m);

		for (guint c = 0; events && c < events->cpus->len; c++) {
			sort_times(g_ptr_array_index(events->cpus, c));
		}
	}
	bt_graph_put_ref(graph);
	return status;
}
