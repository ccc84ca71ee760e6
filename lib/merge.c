/* SPDX-License-Identifier: MIT */
#define VMT_LOG_TAG "VMTRACE/MERGE"
#include "lib/merge.h"

#include "lib/log.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/clock-ns.h"
#include "lib/message-stream.h"

/* A simple sink takes one batch (at most 15 messages) when its queue is empty. */
#define QUEUE_SIZE 32

struct merge_trace {
	struct vmt_merge *merge; /* Weak. */
	bt_graph *graph; /* Owned. */
	vmt_merge_transform_func transform;
	void *user;
	char *path; /* Owned: for error messages. */
};

/* One output port of a trace's `src.ctf.fs`: one stream. */
struct merge_stream {
	struct merge_trace *trace; /* Weak. */
	unsigned int index;
	const bt_message *queue[QUEUE_SIZE]; /* Owned references. */
	unsigned int head;
	unsigned int length;
	bool is_ended;
	/* Time of the head message (ns from origin), for the heap. */
	int64_t key_ns;
	/* Tie-break key of the head message's stream (see compare_streams()). */
	const bt_stream *key_stream; /* Weak: cache key. */
	const uint8_t *trace_uuid; /* Weak. */
	const char *trace_name; /* Weak. */
	uint64_t stream_class_id;
	uint64_t stream_id;
	bool has_trace;
};

struct vmt_merge {
	const struct vmt_log_ctx *log; /* Weak. */
	GPtrArray *traces; /* Owned: struct merge_trace. */
	GPtrArray *streams; /* Owned: struct merge_stream. */
	/* Min-heap of the streams that still have messages. */
	struct merge_stream **heap; /* Owned array of weak pointers. */
	guint heap_length;
	bool is_started;
	/* Time of the last message handed out, as `flt.utils.muxer` tracks it. */
	int64_t last_ns;
	/* An error met after messages were handed out, returned at the next call. */
	const bt_error *pending_error; /* Owned. */
	enum vmt_status pending_status;
	struct vmt_clock_ns_cache clock;
};

static void destroy_trace(gpointer data)
{
	struct merge_trace *trace = data;

	bt_graph_put_ref(trace->graph);
	g_free(trace->path);
	g_free(trace);
}

static void destroy_stream(gpointer data)
{
	struct merge_stream *stream = data;

	while (stream->length) {
		bt_message_put_ref(stream->queue[stream->head]);
		stream->head = (stream->head + 1) % QUEUE_SIZE;
		stream->length--;
	}
	g_free(stream);
}

struct vmt_merge *vmt_merge_create(const struct vmt_log_ctx *log)
{
	struct vmt_merge *merge = g_new0(struct vmt_merge, 1);

	merge->log = log;
	merge->traces = g_ptr_array_new_with_free_func(destroy_trace);
	merge->streams = g_ptr_array_new_with_free_func(destroy_stream);
	merge->last_ns = INT64_MIN;
	return merge;
}

void vmt_merge_destroy(struct vmt_merge *merge)
{
	if (!merge) {
		return;
	}
	/* Queued messages belong to the graphs' pools: put them first. */
	g_ptr_array_free(merge->streams, TRUE);
	g_ptr_array_free(merge->traces, TRUE);
	g_free(merge->heap);
	if (merge->pending_error) {
		bt_error_release(merge->pending_error);
	}
	g_free(merge);
}

/* Pushes a batch into the stream's queue, through the trace's transform. */
static bt_graph_simple_sink_component_consume_func_status
push_batch(struct merge_stream *stream, bt_message_array_const msgs, uint64_t count)
{
	struct merge_trace *trace = stream->trace;
	enum vmt_status status = VMT_STATUS_OK;
	uint64_t i;

	VMT_ASSERT(stream->length + count <= QUEUE_SIZE);
	for (i = 0; i < count; i++) {
		const bt_message *msg = msgs[i];

		if (status != VMT_STATUS_OK) {
			bt_message_put_ref(msg);
			continue;
		}
		if (trace->transform) {
			status = trace->transform(trace->user, msgs[i], &msg);
			if (status != VMT_STATUS_OK) {
				continue;
			}
		}
		stream->queue[(stream->head + stream->length) % QUEUE_SIZE] = msg;
		stream->length++;
	}
	return status == VMT_STATUS_OK ? BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_OK :
					 (int) status;
}

static bt_graph_simple_sink_component_consume_func_status
consume_stream(bt_message_iterator *iterator, void *data)
{
	struct merge_stream *stream = data;
	bt_message_array_const msgs;
	uint64_t count;
	bt_message_iterator_next_status status;

	/* The graph's round robin called another stream's turn: it needs nothing. */
	if (stream->length) {
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_OK;
	}
	status = bt_message_iterator_next(iterator, &msgs, &count);
	switch (status) {
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_OK:
		return push_batch(stream, msgs, count);
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_END:
		stream->is_ended = true;
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_END;
	case BT_MESSAGE_ITERATOR_NEXT_STATUS_AGAIN:
		return BT_GRAPH_SIMPLE_SINK_COMPONENT_CONSUME_FUNC_STATUS_AGAIN;
	default:
		return (int) status;
	}
}

static enum vmt_status add_stream(struct vmt_merge *merge, struct merge_trace *trace,
				  const bt_port_output *port, const char *name, uint64_t port_index)
{
	struct merge_stream *stream = g_new0(struct merge_stream, 1);
	const bt_component_sink *sink;
	char sink_name[256];

	stream->trace = trace;
	stream->index = merge->streams->len;
	g_ptr_array_add(merge->streams, stream);
	snprintf(sink_name, sizeof(sink_name), "%s-sink-%" PRIu64, name, port_index);
	if (bt_graph_add_simple_sink_component(trace->graph, sink_name, NULL, consume_stream, NULL,
					       stream, &sink) != BT_GRAPH_ADD_COMPONENT_STATUS_OK ||
	    bt_graph_connect_ports(trace->graph, port,
				   bt_component_sink_borrow_input_port_by_index_const(sink, 0),
				   NULL) != BT_GRAPH_CONNECT_PORTS_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(merge->log, "Cannot build the graph of trace: path=\"%s\"",
				      trace->path);
		return VMT_STATUS_ERROR;
	}
	return VMT_STATUS_OK;
}

enum vmt_status vmt_merge_add_trace(struct vmt_merge *merge, const struct vmt_ctf_plugins *plugins,
				    const GPtrArray *paths, const char *trace_name,
				    const char *name, bt_logging_level level,
				    vmt_merge_transform_func transform, void *user)
{
	struct merge_trace *trace = g_new0(struct merge_trace, 1);
	const bt_component_source *source;
	enum vmt_status status;
	uint64_t i;

	trace->merge = merge;
	trace->transform = transform;
	trace->user = user;
	trace->path = g_strdup(g_ptr_array_index(paths, 0));
	g_ptr_array_add(merge->traces, trace);
	trace->graph = bt_graph_create(0);
	if (!trace->graph) {
		VMT_LOGE_APPEND_CAUSE(merge->log, "Cannot create a graph");
		return VMT_STATUS_MEMORY_ERROR;
	}
	status = vmt_ctf_graph_add_source(trace->graph, plugins, name, paths, trace_name, level,
					  &source, merge->log);
	for (i = 0;
	     status == VMT_STATUS_OK && i < bt_component_source_get_output_port_count(source);
	     i++) {
		status = add_stream(
			merge, trace,
			bt_component_source_borrow_output_port_by_index_const(source, i), name, i);
	}
	return status;
}

/* Runs the stream's graph until its queue has a message or the stream ends. */
static enum vmt_status refill(struct vmt_merge *merge, struct merge_stream *stream)
{
	while (stream->length == 0 && !stream->is_ended) {
		bt_graph_run_once_status status = bt_graph_run_once(stream->trace->graph);

		switch (status) {
		case BT_GRAPH_RUN_ONCE_STATUS_OK:
			break;
		case BT_GRAPH_RUN_ONCE_STATUS_END:
			stream->is_ended = true;
			break;
		case BT_GRAPH_RUN_ONCE_STATUS_AGAIN:
			return VMT_STATUS_AGAIN;
		default:
			VMT_LOGE_APPEND_CAUSE(merge->log, "Cannot read trace: path=\"%s\"",
					      stream->trace->path);
			return status == BT_GRAPH_RUN_ONCE_STATUS_MEMORY_ERROR ?
				       VMT_STATUS_MEMORY_ERROR :
				       VMT_STATUS_ERROR;
		}
	}
	return VMT_STATUS_OK;
}

/* The message's default clock snapshot, where `flt.utils.muxer` reads one, else NULL. */
static const bt_clock_snapshot *message_snapshot(const bt_message *msg)
{
	const bt_clock_snapshot *snapshot = NULL;
	const bt_stream_class *sc;

	switch (bt_message_get_type(msg)) {
	case BT_MESSAGE_TYPE_EVENT:
		return bt_message_event_borrow_stream_class_default_clock_class_const(msg) ?
			       bt_message_event_borrow_default_clock_snapshot_const(msg) :
			       NULL;
	case BT_MESSAGE_TYPE_MESSAGE_ITERATOR_INACTIVITY:
		return bt_message_message_iterator_inactivity_borrow_clock_snapshot_const(msg);
	default:
		break;
	}
	/* Streams without a clock class have no snapshot to borrow (a precondition). */
	sc = bt_stream_borrow_class_const(vmt_message_borrow_stream(msg));
	if (!bt_stream_class_borrow_default_clock_class_const(sc)) {
		return NULL;
	}
	switch (bt_message_get_type(msg)) {
	case BT_MESSAGE_TYPE_STREAM_BEGINNING:
		/* The snapshot object exists even when its state says it is unknown. */
		return bt_message_stream_beginning_borrow_default_clock_snapshot_const(
			       msg, &snapshot) == BT_MESSAGE_STREAM_CLOCK_SNAPSHOT_STATE_KNOWN ?
			       snapshot :
			       NULL;
	case BT_MESSAGE_TYPE_STREAM_END:
		return bt_message_stream_end_borrow_default_clock_snapshot_const(msg, &snapshot) ==
				       BT_MESSAGE_STREAM_CLOCK_SNAPSHOT_STATE_KNOWN ?
			       snapshot :
			       NULL;
	case BT_MESSAGE_TYPE_PACKET_BEGINNING:
		return bt_stream_class_packets_have_beginning_default_clock_snapshot(sc) ?
			       bt_message_packet_beginning_borrow_default_clock_snapshot_const(
				       msg) :
			       NULL;
	case BT_MESSAGE_TYPE_PACKET_END:
		return bt_stream_class_packets_have_end_default_clock_snapshot(sc) ?
			       bt_message_packet_end_borrow_default_clock_snapshot_const(msg) :
			       NULL;
	case BT_MESSAGE_TYPE_DISCARDED_EVENTS:
		return bt_stream_class_discarded_events_have_default_clock_snapshots(sc) ?
			       bt_message_discarded_events_borrow_beginning_default_clock_snapshot_const(
				       msg) :
			       NULL;
	case BT_MESSAGE_TYPE_DISCARDED_PACKETS:
		return bt_stream_class_discarded_packets_have_default_clock_snapshots(sc) ?
			       bt_message_discarded_packets_borrow_beginning_default_clock_snapshot_const(
				       msg) :
			       NULL;
	default:
		return NULL;
	}
}

static enum vmt_status snapshot_ns(struct vmt_merge *merge, const bt_clock_snapshot *snapshot,
				   int64_t *ns)
{
	if (!vmt_clock_ns(&merge->clock, snapshot, ns)) {
		VMT_LOGE_APPEND_CAUSE(merge->log,
				      "A clock snapshot is out of the signed 64-bit ns range: "
				      "value=%" PRIu64,
				      bt_clock_snapshot_get_value(snapshot));
		return VMT_STATUS_ERROR;
	}
	return VMT_STATUS_OK;
}

/* Sets the stream's heap key from its head message. */
static enum vmt_status set_key(struct vmt_merge *merge, struct merge_stream *stream)
{
	const bt_message *head = stream->queue[stream->head];
	const bt_clock_snapshot *snapshot = message_snapshot(head);
	const bt_stream *bt_stream = vmt_message_borrow_stream(head);

	if (bt_stream != stream->key_stream) {
		const bt_trace *trace = bt_stream ? bt_stream_borrow_trace_const(bt_stream) : NULL;

		stream->key_stream = bt_stream;
		stream->has_trace = trace != NULL;
		stream->trace_uuid = trace ? bt_trace_get_uuid(trace) : NULL;
		stream->trace_name = trace ? bt_trace_get_name(trace) : NULL;
		stream->stream_class_id =
			bt_stream ?
				bt_stream_class_get_id(bt_stream_borrow_class_const(bt_stream)) :
				0;
		stream->stream_id = bt_stream ? bt_stream_get_id(bt_stream) : 0;
	}
	/* Like the muxer: a message without a time goes out at the last time handed out. */
	if (!snapshot) {
		stream->key_ns = merge->last_ns;
		return VMT_STATUS_OK;
	}
	return snapshot_ns(merge, snapshot, &stream->key_ns);
}

/* Orders present before absent, then compares; 0 when both are absent. */
#define COMPARE_PRESENCE(a, b)     \
	do {                       \
		if ((a) && !(b)) { \
			return -1; \
		}                  \
		if (!(a) && (b)) { \
			return 1;  \
		}                  \
	} while (0)

/*
 * `flt.utils.muxer`'s order for messages of different streams at one time
 * (common_muxing_compare_messages(): trace UUID, trace name, stream class
 * ID, stream ID); the stream's position decides what is left.
 */
static int compare_streams(const struct merge_stream *a, const struct merge_stream *b)
{
	int cmp;

	COMPARE_PRESENCE(a->has_trace, b->has_trace);
	COMPARE_PRESENCE(a->trace_uuid, b->trace_uuid);
	if (a->trace_uuid && (cmp = memcmp(a->trace_uuid, b->trace_uuid, 16))) {
		return cmp;
	}
	COMPARE_PRESENCE(a->trace_name, b->trace_name);
	if (a->trace_name && (cmp = strcmp(a->trace_name, b->trace_name))) {
		return cmp;
	}
	COMPARE_PRESENCE(a->key_stream, b->key_stream);
	if (a->stream_class_id != b->stream_class_id) {
		return a->stream_class_id < b->stream_class_id ? -1 : 1;
	}
	if (a->stream_id != b->stream_id) {
		return a->stream_id < b->stream_id ? -1 : 1;
	}
	return a->index < b->index ? -1 : a->index > b->index;
}

static bool goes_first(const struct merge_stream *a, const struct merge_stream *b)
{
	if (a->key_ns != b->key_ns) {
		return a->key_ns < b->key_ns;
	}
	return compare_streams(a, b) < 0;
}

static void sift_down(struct vmt_merge *merge, guint i)
{
	struct merge_stream **heap = merge->heap;

	for (;;) {
		guint smallest = i, left = 2 * i + 1, right = left + 1;
		struct merge_stream *tmp;

		if (left < merge->heap_length && goes_first(heap[left], heap[smallest])) {
			smallest = left;
		}
		if (right < merge->heap_length && goes_first(heap[right], heap[smallest])) {
			smallest = right;
		}
		if (smallest == i) {
			return;
		}
		tmp = heap[i];
		heap[i] = heap[smallest];
		heap[smallest] = tmp;
		i = smallest;
	}
}

/* Fills every stream once and builds the heap. */
static enum vmt_status start(struct vmt_merge *merge)
{
	enum vmt_status status = VMT_STATUS_OK;
	guint i;

	/* Re-entered after AGAIN: build the heap again from every stream's head. */
	if (!merge->heap) {
		merge->heap = g_new0(struct merge_stream *, merge->streams->len + 1);
	}
	merge->heap_length = 0;
	for (i = 0; i < merge->streams->len && status == VMT_STATUS_OK; i++) {
		struct merge_stream *stream = g_ptr_array_index(merge->streams, i);

		status = refill(merge, stream);
		if (status == VMT_STATUS_OK && stream->length) {
			status = set_key(merge, stream);
			merge->heap[merge->heap_length++] = stream;
		}
	}
	for (i = merge->heap_length / 2 + 1; status == VMT_STATUS_OK && i > 0; i--) {
		sift_down(merge, i - 1);
	}
	merge->is_started = status == VMT_STATUS_OK;
	return status;
}

/* After the root stream gave its head: refill it, re-key it or drop it. */
static enum vmt_status advance_root(struct vmt_merge *merge)
{
	struct merge_stream *root = merge->heap[0];
	enum vmt_status status = refill(merge, root);

	if (status != VMT_STATUS_OK) {
		return status;
	}
	if (root->length == 0) {
		merge->heap[0] = merge->heap[--merge->heap_length];
	} else {
		status = set_key(merge, root);
	}
	if (merge->heap_length) {
		sift_down(merge, 0);
	}
	return status;
}

enum vmt_status vmt_merge_next(struct vmt_merge *merge, bt_message_array_const msgs,
			       uint64_t capacity, uint64_t *count)
{
	enum vmt_status status;
	uint64_t n = 0;

	if (merge->pending_error) {
		BT_CURRENT_THREAD_MOVE_ERROR_AND_RESET(merge->pending_error);
		return merge->pending_status;
	}
	status = merge->is_started ? VMT_STATUS_OK : start(merge);
	while (status == VMT_STATUS_OK && n < capacity && merge->heap_length) {
		struct merge_stream *root = merge->heap[0];

		/* A stream left empty by an AGAIN at the last call: refill it first. */
		if (root->length == 0) {
			status = advance_root(merge);
			continue;
		}
		if (root->key_ns > merge->last_ns) {
			merge->last_ns = root->key_ns;
		}
		msgs[n++] = root->queue[root->head];
		root->head = (root->head + 1) % QUEUE_SIZE;
		root->length--;
		if (root->length) {
			status = set_key(merge, root);
			sift_down(merge, 0);
		} else {
			status = advance_root(merge);
		}
	}
	*count = n;
	if (n) {
		/* Handed-out messages go first; an error comes back at the next call. */
		if (status == VMT_STATUS_AGAIN) {
			status = VMT_STATUS_OK;
		}
		if (status != VMT_STATUS_OK) {
			merge->pending_error = bt_current_thread_take_error();
			merge->pending_status = status;
		}
		return VMT_STATUS_OK;
	}
	return status != VMT_STATUS_OK ? status : VMT_STATUS_END;
}
