/* SPDX-License-Identifier: MIT */
/*
 * Trace-IR and message copy: the copy context, its public functions, and
 * the maps of data objects (traces, active streams, open packets).
 *
 * Lifetimes, since upstream objects get reused once released:
 * - an input trace owns its streams until it is destroyed, so its entry
 *   (output trace, and input -> output streams) lives until then: a
 *   destruction listener removes it;
 * - an active stream's entry holds a reference on its input stream (which
 *   keeps the input trace alive) from its first message to STREAM_END;
 * - the open packet is kept in its stream's entry, from PACKET_BEGINNING
 *   to PACKET_END: packets of one stream never overlap, so no packet map.
 */
#define VMT_LOG_TAG "VMTRACE/IR-COPY"
#include "lib/log.h"

#include <inttypes.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/ir-copy-internal.h"

/* Traces. */

static void trace_destroy(struct vmt_ir_copy_trace *trace)
{
	if (!trace) {
		return;
	}

	/* `in_trace` is NULL once it is being destroyed (its listener runs then). */
	if (trace->in_trace) {
		bt_trace_remove_destruction_listener(trace->in_trace, trace->listener_id);
	}

	g_clear_pointer(&trace->streams, g_hash_table_destroy);
	bt_trace_put_ref(trace->out_trace);
	g_free(trace);
}

static void handle_in_trace_destruction(const bt_trace *in_trace, void *data)
{
	struct vmt_ir_copy_trace *trace = data;

	/* The listener goes with the trace: do not remove it. */
	trace->in_trace = NULL;
	g_hash_table_remove(trace->copy->traces, in_trace);
}

static struct vmt_ir_copy_trace *find_or_add_trace(struct vmt_ir_copy *copy,
						   const bt_trace *in_trace, bt_trace_class *out_tc)
{
	struct vmt_ir_copy_trace *trace = g_hash_table_lookup(copy->traces, in_trace);
	bt_trace *out_trace;

	if (trace) {
		return trace;
	}

	out_trace = vmt_ir_copy_create_trace(copy, in_trace, out_tc);
	if (!out_trace) {
		return NULL;
	}

	trace = g_new0(struct vmt_ir_copy_trace, 1);
	trace->copy = copy;
	trace->out_trace = out_trace;
	trace->streams = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
					       (GDestroyNotify) bt_stream_put_ref);
	if (bt_trace_add_destruction_listener(in_trace, handle_in_trace_destruction, trace,
					      &trace->listener_id) !=
	    BT_TRACE_ADD_LISTENER_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot add trace destruction listener.");
		trace_destroy(trace);
		return NULL;
	}

	trace->in_trace = in_trace;
	g_hash_table_insert(copy->traces, (gpointer) in_trace, trace);
	return trace;
}

/*
 * Gives the output trace a copy of every stream the input trace has now:
 * `sink.text.details` lists a trace's streams at each stream beginning,
 * and `src.ctf.fs` creates them all before the first one begins.
 */
static enum vmt_status mirror_streams(struct vmt_ir_copy *copy, struct vmt_ir_copy_trace *trace)
{
	uint64_t count = bt_trace_get_stream_count(trace->in_trace);
	struct vmt_ir_copy_sc *sc;
	bt_stream *out_stream;
	uint64_t i;

	for (i = 0; i < count; i++) {
		const bt_stream *in_stream =
			bt_trace_borrow_stream_by_index_const(trace->in_trace, i);

		if (g_hash_table_contains(trace->streams, in_stream)) {
			continue;
		}

		sc = vmt_ir_copy_find_or_add_sc(copy, bt_stream_borrow_class_const(in_stream));
		if (!sc) {
			return VMT_STATUS_ERROR;
		}

		out_stream =
			vmt_ir_copy_create_stream(copy, in_stream, sc->out_sc, trace->out_trace);
		if (!out_stream) {
			return VMT_STATUS_MEMORY_ERROR;
		}

		g_hash_table_insert(trace->streams, (gpointer) in_stream, out_stream);
	}

	return VMT_STATUS_OK;
}

/* Active streams. */

static void stream_destroy(struct vmt_ir_copy_stream *stream)
{
	if (!stream) {
		return;
	}

	vmt_ir_copy_close_packet(stream);
	bt_stream_put_ref(stream->in_stream);
	g_free(stream);
}

static struct vmt_ir_copy_stream *add_stream(struct vmt_ir_copy *copy, const bt_stream *in_stream)
{
	struct vmt_ir_copy_stream *stream;
	struct vmt_ir_copy_trace *trace;
	struct vmt_ir_copy_sc *sc;

	sc = vmt_ir_copy_find_or_add_sc(copy, bt_stream_borrow_class_const(in_stream));
	if (!sc) {
		goto error;
	}

	trace = find_or_add_trace(copy, bt_stream_borrow_trace_const(in_stream),
				  bt_stream_class_borrow_trace_class(sc->out_sc));
	if (!trace || mirror_streams(copy, trace) != VMT_STATUS_OK) {
		goto error;
	}

	stream = g_new0(struct vmt_ir_copy_stream, 1);
	stream->in_stream = in_stream;
	bt_stream_get_ref(in_stream);
	stream->out_stream = g_hash_table_lookup(trace->streams, in_stream);
	VMT_ASSERT(stream->out_stream);
	stream->sc = sc;
	g_hash_table_insert(copy->streams, (gpointer) in_stream, stream);
	return stream;

error:
	VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot copy stream: id=%" PRIu64 ", name=\"%s\"",
			      bt_stream_get_id(in_stream), bt_stream_get_name(in_stream) ?: "");
	return NULL;
}

struct vmt_ir_copy_stream *vmt_ir_copy_find_or_add_stream(struct vmt_ir_copy *copy,
							  const bt_stream *in_stream)
{
	struct vmt_ir_copy_stream *stream = g_hash_table_lookup(copy->streams, in_stream);
	struct vmt_ir_copy_stream_slot *slot;

	if (!stream) {
		stream = add_stream(copy, in_stream);
		if (!stream) {
			return NULL;
		}
	}

	slot = vmt_ir_copy_stream_slot(copy, in_stream);
	slot->in_stream = in_stream;
	slot->stream = stream;
	return stream;
}

void vmt_ir_copy_remove_stream(struct vmt_ir_copy *copy, const bt_stream *in_stream)
{
	struct vmt_ir_copy_stream_slot *slot = vmt_ir_copy_stream_slot(copy, in_stream);

	if (slot->in_stream == in_stream) {
		slot->in_stream = NULL;
		slot->stream = NULL;
	}

	g_hash_table_remove(copy->streams, in_stream);
}

/* Packets. */

enum vmt_status vmt_ir_copy_open_packet(struct vmt_ir_copy *copy, struct vmt_ir_copy_stream *stream,
					const bt_packet *in_packet)
{
	enum vmt_status status;
	bt_packet *out_packet;

	status = vmt_ir_copy_create_packet(copy, in_packet, stream->out_stream, &out_packet);
	if (status != VMT_STATUS_OK) {
		return status;
	}

	vmt_ir_copy_close_packet(stream);
	stream->in_packet = in_packet;
	bt_packet_get_ref(in_packet);
	stream->out_packet = out_packet;
	return VMT_STATUS_OK;
}

void vmt_ir_copy_close_packet(struct vmt_ir_copy_stream *stream)
{
	BT_PACKET_PUT_REF_AND_RESET(stream->in_packet);
	BT_PACKET_PUT_REF_AND_RESET(stream->out_packet);
}

/* Public functions. */

struct vmt_ir_copy *vmt_ir_copy_create(bt_self_message_iterator *self_iter,
				       const struct vmt_ir_copy_hooks *hooks, void *user,
				       const struct vmt_log_ctx *log)
{
	static const struct vmt_ir_copy_hooks no_hooks;
	struct vmt_ir_copy *copy = g_new0(struct vmt_ir_copy, 1);

	copy->self_iter = self_iter;
	copy->self_comp = bt_self_message_iterator_borrow_component(self_iter);
	copy->hooks = hooks ? hooks : &no_hooks;
	copy->user = user;
	copy->log = log;
	copy->trace_classes = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
						    (GDestroyNotify) vmt_ir_copy_tc_destroy);
	copy->stream_classes = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
						     (GDestroyNotify) vmt_ir_copy_sc_destroy);
	copy->clock_classes = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
						    (GDestroyNotify) vmt_ir_copy_cc_destroy);
	copy->traces = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
					     (GDestroyNotify) trace_destroy);
	copy->streams = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
					      (GDestroyNotify) stream_destroy);
	return copy;
}

void vmt_ir_copy_destroy(struct vmt_ir_copy *copy)
{
	if (!copy) {
		return;
	}

	/*
	 * Streams first: putting an input stream may destroy its input trace,
	 * whose listener then removes the trace entry from the intact map.
	 */
	g_clear_pointer(&copy->streams, g_hash_table_destroy);
	g_clear_pointer(&copy->traces, g_hash_table_destroy);
	g_clear_pointer(&copy->stream_classes, g_hash_table_destroy);
	g_clear_pointer(&copy->trace_classes, g_hash_table_destroy);
	g_clear_pointer(&copy->clock_classes, g_hash_table_destroy);
	g_free(copy);
}

enum vmt_status vmt_ir_copy_message(struct vmt_ir_copy *copy, const bt_message *in_msg,
				    bt_message **out_msg)
{
	enum vmt_status status;

	*out_msg = NULL;
	status = vmt_ir_copy_handle_message(copy, in_msg, out_msg);
	if (G_UNLIKELY(status != VMT_STATUS_OK)) {
		BT_MESSAGE_PUT_REF_AND_RESET(*out_msg);
	}

	return status;
}

uint64_t vmt_ir_copy_clamp_count(const struct vmt_ir_copy *copy)
{
	return copy->clamp_count;
}

bt_trace *vmt_ir_copy_borrow_out_trace(struct vmt_ir_copy *copy, const bt_trace *in_trace)
{
	struct vmt_ir_copy_trace *trace = g_hash_table_lookup(copy->traces, in_trace);

	return trace ? trace->out_trace : NULL;
}
