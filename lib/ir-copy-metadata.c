/* SPDX-License-Identifier: MIT */
/*
 * Trace-IR copy: trace classes, stream classes, event classes and clock
 * classes, one create-and-fill function per kind.
 *
 * A trace class is copied whole at first sight (every stream class, every
 * event class), because `sink.text.details` and `sink.ctf.fs` describe a
 * whole trace class the first time they meet it. Event classes added to an
 * input stream class later are copied when an event first names them.
 */
#define VMT_LOG_TAG "VMTRACE/IR-COPY"
#include "lib/log.h"

#include <inttypes.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/ir-copy-internal.h"

/* Clock classes. */

void vmt_ir_copy_cc_destroy(struct vmt_ir_copy_cc *cc)
{
	if (!cc) {
		return;
	}

	bt_clock_class_put_ref(cc->out_cc);
	bt_clock_class_put_ref(cc->in_cc);
	g_free(cc);
}

static enum vmt_status copy_clock_class_names(struct vmt_ir_copy *copy, const bt_clock_class *in_cc,
					      bt_clock_class *out_cc)
{
	const char *name = bt_clock_class_get_name(in_cc);
	const char *description = bt_clock_class_get_description(in_cc);

	if (name && bt_clock_class_set_name(out_cc, name) != BT_CLOCK_CLASS_SET_NAME_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot set clock class's name: name=\"%s\"",
				      name);
		return VMT_STATUS_MEMORY_ERROR;
	}

	if (description && bt_clock_class_set_description(out_cc, description) !=
				   BT_CLOCK_CLASS_SET_DESCRIPTION_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(copy->log,
				      "Cannot set clock class's description: name=\"%s\"",
				      name ? name : "");
		return VMT_STATUS_MEMORY_ERROR;
	}

	return VMT_STATUS_OK;
}

static bt_clock_class *create_clock_class(struct vmt_ir_copy *copy, const bt_clock_class *in_cc)
{
	bt_clock_class *out_cc = bt_clock_class_create(copy->self_comp);
	bt_uuid uuid = bt_clock_class_get_uuid(in_cc);
	int64_t offset_seconds;
	uint64_t offset_cycles;

	if (!out_cc) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot create clock class.");
		return NULL;
	}

	if (copy_clock_class_names(copy, in_cc, out_cc) != VMT_STATUS_OK) {
		BT_CLOCK_CLASS_PUT_REF_AND_RESET(out_cc);
		return NULL;
	}

	/* The offset in cycles must stay below the frequency: frequency first. */
	bt_clock_class_set_frequency(out_cc, bt_clock_class_get_frequency(in_cc));
	bt_clock_class_get_offset(in_cc, &offset_seconds, &offset_cycles);
	bt_clock_class_set_offset(out_cc, offset_seconds, offset_cycles);
	bt_clock_class_set_precision(out_cc, bt_clock_class_get_precision(in_cc));
	bt_clock_class_set_origin_is_unix_epoch(out_cc, bt_clock_class_origin_is_unix_epoch(in_cc));
	if (uuid) {
		bt_clock_class_set_uuid(out_cc, uuid);
	}

	/* User attributes are frozen, hence shareable. */
	bt_clock_class_set_user_attributes(out_cc,
					   bt_clock_class_borrow_user_attributes_const(in_cc));
	return out_cc;
}

struct vmt_ir_copy_cc *vmt_ir_copy_find_or_add_cc(struct vmt_ir_copy *copy,
						  const bt_clock_class *in_cc)
{
	struct vmt_ir_copy_cc *cc = g_hash_table_lookup(copy->clock_classes, in_cc);
	bt_clock_class *out_cc = NULL;
	int64_t base_offset_ns;

	if (cc) {
		return cc;
	}

	if (copy->hooks->borrow_out_clock_class) {
		out_cc = copy->hooks->borrow_out_clock_class(copy->user, in_cc);
		bt_clock_class_get_ref(out_cc);
	}

	if (!out_cc) {
		out_cc = create_clock_class(copy, in_cc);
		if (!out_cc) {
			return NULL;
		}
	}

	/* Cycle 0 of the output clock is its offset from origin, as the library computes it. */
	if (bt_clock_class_cycles_to_ns_from_origin(out_cc, 0, &base_offset_ns) !=
	    BT_CLOCK_CLASS_CYCLES_TO_NS_FROM_ORIGIN_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(copy->log,
				      "Output clock class's offset overflows int64 ns: name=\"%s\"",
				      bt_clock_class_get_name(out_cc) ?: "");
		bt_clock_class_put_ref(out_cc);
		return NULL;
	}

	cc = g_new0(struct vmt_ir_copy_cc, 1);
	cc->in_cc = in_cc;
	bt_clock_class_get_ref(in_cc);
	cc->out_cc = out_cc;
	cc->out_frequency = bt_clock_class_get_frequency(out_cc);
	cc->out_base_offset_ns = base_offset_ns;
	g_hash_table_insert(copy->clock_classes, (gpointer) in_cc, cc);
	return cc;
}

/* Event classes. */

static void ec_destroy(struct vmt_ir_copy_ec *ec)
{
	if (!ec) {
		return;
	}

	bt_event_class_put_ref(ec->out_ec);
	bt_event_class_put_ref(ec->in_ec);
	g_free(ec);
}

static enum vmt_status copy_event_class_props(struct vmt_ir_copy *copy, const bt_event_class *in_ec,
					      bt_event_class *out_ec)
{
	const char *name = bt_event_class_get_name(in_ec);
	const char *emf_uri = bt_event_class_get_emf_uri(in_ec);
	bt_event_class_log_level log_level;

	if (name && bt_event_class_set_name(out_ec, name) != BT_EVENT_CLASS_SET_NAME_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot set event class's name: name=\"%s\"",
				      name);
		return VMT_STATUS_MEMORY_ERROR;
	}

	if (emf_uri &&
	    bt_event_class_set_emf_uri(out_ec, emf_uri) != BT_EVENT_CLASS_SET_EMF_URI_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(copy->log,
				      "Cannot set event class's EMF URI: name=\"%s\", uri=\"%s\"",
				      name ? name : "", emf_uri);
		return VMT_STATUS_MEMORY_ERROR;
	}

	if (bt_event_class_get_log_level(in_ec, &log_level) == BT_PROPERTY_AVAILABILITY_AVAILABLE) {
		bt_event_class_set_log_level(out_ec, log_level);
	}

	bt_event_class_set_user_attributes(out_ec,
					   bt_event_class_borrow_user_attributes_const(in_ec));
	return VMT_STATUS_OK;
}

/* Copies one scope's field class (`in_fc` may be NULL) and sets it with `set`. */
static enum vmt_status copy_event_class_scope(
	struct vmt_ir_copy_fc_ctx *ctx, const bt_field_class *in_fc, bt_event_class *out_ec,
	bt_event_class_set_field_class_status (*set)(bt_event_class *, bt_field_class *),
	const char *scope_name)
{
	enum vmt_status status = VMT_STATUS_OK;
	bt_field_class *out_fc;

	if (!in_fc) {
		return VMT_STATUS_OK;
	}

	out_fc = vmt_ir_copy_field_class(ctx, in_fc, &status);
	if (!out_fc) {
		VMT_LOGE_APPEND_CAUSE(ctx->copy->log,
				      "Cannot copy event class's %s field class: name=\"%s\"",
				      scope_name, bt_event_class_get_name(out_ec) ?: "");
		return status;
	}

	if (set(out_ec, out_fc) != BT_EVENT_CLASS_SET_FIELD_CLASS_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(ctx->copy->log,
				      "Cannot set event class's %s field class: name=\"%s\"",
				      scope_name, bt_event_class_get_name(out_ec) ?: "");
		status = VMT_STATUS_MEMORY_ERROR;
	}

	bt_field_class_put_ref(out_fc);
	return status;
}

static enum vmt_status copy_event_class_contexts(struct vmt_ir_copy *copy,
						 struct vmt_ir_copy_sc *sc,
						 const bt_event_class *in_ec,
						 bt_event_class *out_ec)
{
	struct vmt_ir_copy_fc_ctx ctx = {
		.copy = copy,
		.out_tc = bt_stream_class_borrow_trace_class(sc->out_sc),
		.in_scopes = {
			bt_stream_class_borrow_packet_context_field_class_const(sc->in_sc),
			bt_stream_class_borrow_event_common_context_field_class_const(sc->in_sc),
			bt_event_class_borrow_specific_context_field_class_const(in_ec),
			bt_event_class_borrow_payload_field_class_const(in_ec),
		},
		/* Only this event class's own field classes: dropped when done. */
		.map = g_hash_table_new(g_direct_hash, g_direct_equal),
		.outer_map = sc->fc_map,
	};
	enum vmt_status status;

	status = copy_event_class_scope(&ctx,
					ctx.in_scopes[BT_FIELD_PATH_SCOPE_EVENT_SPECIFIC_CONTEXT],
					out_ec, bt_event_class_set_specific_context_field_class,
					"specific context");
	if (status == VMT_STATUS_OK) {
		status = copy_event_class_scope(&ctx,
						ctx.in_scopes[BT_FIELD_PATH_SCOPE_EVENT_PAYLOAD],
						out_ec, bt_event_class_set_payload_field_class,
						"payload");
	}

	g_hash_table_destroy(ctx.map);
	return status;
}

static void index_event_class(struct vmt_ir_copy_sc *sc, struct vmt_ir_copy_ec *ec)
{
	uint64_t id = bt_event_class_get_id(ec->in_ec);

	g_hash_table_insert(sc->ecs, (gpointer) ec->in_ec, ec);
	if (id < VMT_IR_COPY_DENSE_EC_ID_LIMIT) {
		if (id >= sc->ec_by_id->len) {
			g_ptr_array_set_size(sc->ec_by_id, (gint) (id + 1));
		}

		g_ptr_array_index(sc->ec_by_id, id) = ec;
	}
}

static struct vmt_ir_copy_ec *add_ec(struct vmt_ir_copy *copy, struct vmt_ir_copy_sc *sc,
				     const bt_event_class *in_ec)
{
	uint64_t id = bt_event_class_get_id(in_ec);
	struct vmt_ir_copy_ec *ec = g_new0(struct vmt_ir_copy_ec, 1);

	ec->in_ec = in_ec;
	bt_event_class_get_ref(in_ec);
	ec->has_common_context =
		bt_stream_class_borrow_event_common_context_field_class_const(sc->in_sc);
	ec->has_specific_context = bt_event_class_borrow_specific_context_field_class_const(in_ec);
	ec->has_payload = bt_event_class_borrow_payload_field_class_const(in_ec);
	ec->out_ec = bt_event_class_create_with_id(sc->out_sc, id);
	if (!ec->out_ec) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot create event class: id=%" PRIu64, id);
		goto error;
	}

	if (copy_event_class_props(copy, in_ec, ec->out_ec) != VMT_STATUS_OK ||
	    copy_event_class_contexts(copy, sc, in_ec, ec->out_ec) != VMT_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot copy event class: id=%" PRIu64, id);
		goto error;
	}

	index_event_class(sc, ec);
	return ec;

error:
	ec_destroy(ec);
	return NULL;
}

struct vmt_ir_copy_ec *vmt_ir_copy_find_or_add_ec(struct vmt_ir_copy *copy,
						  struct vmt_ir_copy_sc *sc,
						  const bt_event_class *in_ec)
{
	struct vmt_ir_copy_ec *ec = g_hash_table_lookup(sc->ecs, in_ec);

	if (ec) {
		return ec;
	}

	VMT_LOGD(copy->log, "Copying event class added after its stream class: id=%" PRIu64,
		 bt_event_class_get_id(in_ec));
	return add_ec(copy, sc, in_ec);
}

/* Stream classes. */

void vmt_ir_copy_sc_destroy(struct vmt_ir_copy_sc *sc)
{
	if (!sc) {
		return;
	}

	g_clear_pointer(&sc->ecs, g_hash_table_destroy);
	if (sc->ec_by_id) {
		g_ptr_array_free(sc->ec_by_id, TRUE);
	}

	g_clear_pointer(&sc->fc_map, g_hash_table_destroy);
	bt_stream_class_put_ref(sc->out_sc);
	bt_stream_class_put_ref(sc->in_sc);
	g_free(sc);
}

static enum vmt_status copy_stream_class_props(struct vmt_ir_copy *copy, struct vmt_ir_copy_sc *sc)
{
	const char *name = bt_stream_class_get_name(sc->in_sc);

	if (name &&
	    bt_stream_class_set_name(sc->out_sc, name) != BT_STREAM_CLASS_SET_NAME_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot set stream class's name: name=\"%s\"",
				      name);
		return VMT_STATUS_MEMORY_ERROR;
	}

	bt_stream_class_set_user_attributes(
		sc->out_sc, bt_stream_class_borrow_user_attributes_const(sc->in_sc));
	/* Keep the input's IDs. */
	bt_stream_class_set_assigns_automatic_event_class_id(sc->out_sc, BT_FALSE);
	bt_stream_class_set_assigns_automatic_stream_id(sc->out_sc, BT_FALSE);
	return VMT_STATUS_OK;
}

/* The default clock class comes first: the snapshot flags require one. */
static enum vmt_status copy_stream_class_clock_and_flags(struct vmt_ir_copy *copy,
							 struct vmt_ir_copy_sc *sc)
{
	const bt_clock_class *in_cc = bt_stream_class_borrow_default_clock_class_const(sc->in_sc);

	if (in_cc) {
		sc->cc = vmt_ir_copy_find_or_add_cc(copy, in_cc);
		if (!sc->cc) {
			return VMT_STATUS_MEMORY_ERROR;
		}

		if (bt_stream_class_set_default_clock_class(sc->out_sc, sc->cc->out_cc) !=
		    BT_STREAM_CLASS_SET_DEFAULT_CLOCK_CLASS_STATUS_OK) {
			VMT_LOGE_APPEND_CAUSE(copy->log,
					      "Cannot set stream class's default clock class.");
			return VMT_STATUS_ERROR;
		}
	}

	/* Packets before discarded packets and before the packet context. */
	bt_stream_class_set_supports_packets(sc->out_sc, sc->supports_packets,
					     sc->packets_have_beginning_cs,
					     sc->packets_have_end_cs);
	bt_stream_class_set_supports_discarded_events(
		sc->out_sc, bt_stream_class_supports_discarded_events(sc->in_sc),
		sc->discarded_events_have_cs);
	bt_stream_class_set_supports_discarded_packets(
		sc->out_sc, bt_stream_class_supports_discarded_packets(sc->in_sc),
		sc->discarded_packets_have_cs);
	return VMT_STATUS_OK;
}

static enum vmt_status copy_packet_context_class(struct vmt_ir_copy_fc_ctx *ctx,
						 struct vmt_ir_copy_sc *sc)
{
	const bt_field_class *in_fc = ctx->in_scopes[BT_FIELD_PATH_SCOPE_PACKET_CONTEXT];
	enum vmt_status status = VMT_STATUS_OK;
	bt_field_class *out_fc;

	if (!in_fc) {
		return VMT_STATUS_OK;
	}

	out_fc = vmt_ir_copy_field_class(ctx, in_fc, &status);
	if (!out_fc) {
		VMT_LOGE_APPEND_CAUSE(ctx->copy->log,
				      "Cannot copy stream class's packet context field class.");
		return status;
	}

	if (bt_stream_class_set_packet_context_field_class(sc->out_sc, out_fc) !=
	    BT_STREAM_CLASS_SET_FIELD_CLASS_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(ctx->copy->log,
				      "Cannot set stream class's packet context field class.");
		status = VMT_STATUS_MEMORY_ERROR;
	}

	bt_field_class_put_ref(out_fc);
	return status;
}

/* Copies the event common context, then lets `extend_common_context` append to it. */
static enum vmt_status copy_common_context_class(struct vmt_ir_copy_fc_ctx *ctx,
						 struct vmt_ir_copy_sc *sc)
{
	const bt_field_class *in_fc = ctx->in_scopes[BT_FIELD_PATH_SCOPE_EVENT_COMMON_CONTEXT];
	struct vmt_ir_copy *copy = ctx->copy;
	enum vmt_status status = VMT_STATUS_OK;
	/* Owned. */
	bt_field_class *out_fc = NULL;

	if (in_fc) {
		out_fc = vmt_ir_copy_field_class(ctx, in_fc, &status);
		if (!out_fc) {
			VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot copy stream class's event common "
							 "context field class.");
			goto end;
		}
	}

	if (copy->hooks->extend_common_context) {
		status = copy->hooks->extend_common_context(copy->user, sc->in_sc, ctx->out_tc,
							    &out_fc);
		if (status != VMT_STATUS_OK) {
			VMT_LOGE_APPEND_CAUSE(copy->log,
					      "Hook failed to extend event common context: "
					      "stream-class-id=%" PRIu64,
					      bt_stream_class_get_id(sc->in_sc));
			goto end;
		}
	}

	if (out_fc && bt_stream_class_set_event_common_context_field_class(sc->out_sc, out_fc) !=
			      BT_STREAM_CLASS_SET_FIELD_CLASS_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot set stream class's event common context "
						 "field class.");
		status = VMT_STATUS_MEMORY_ERROR;
	}

end:
	bt_field_class_put_ref(out_fc);
	return status;
}

static enum vmt_status copy_stream_class_contexts(struct vmt_ir_copy *copy,
						  struct vmt_ir_copy_sc *sc)
{
	struct vmt_ir_copy_fc_ctx ctx = {
		.copy = copy,
		.out_tc = bt_stream_class_borrow_trace_class(sc->out_sc),
		.in_scopes = {
			bt_stream_class_borrow_packet_context_field_class_const(sc->in_sc),
			bt_stream_class_borrow_event_common_context_field_class_const(sc->in_sc),
			NULL,
			NULL,
		},
		/* Kept for the event classes, which may refer to these scopes. */
		.map = sc->fc_map,
		.outer_map = NULL,
	};
	enum vmt_status status;

	status = copy_packet_context_class(&ctx, sc);
	if (status == VMT_STATUS_OK) {
		status = copy_common_context_class(&ctx, sc);
	}

	return status;
}

static void read_stream_class_flags(struct vmt_ir_copy_sc *sc)
{
	const bt_stream_class *in_sc = sc->in_sc;

	sc->supports_packets = bt_stream_class_supports_packets(in_sc);
	sc->packets_have_beginning_cs =
		bt_stream_class_packets_have_beginning_default_clock_snapshot(in_sc);
	sc->packets_have_end_cs = bt_stream_class_packets_have_end_default_clock_snapshot(in_sc);
	sc->discarded_events_have_cs =
		bt_stream_class_discarded_events_have_default_clock_snapshots(in_sc);
	sc->discarded_packets_have_cs =
		bt_stream_class_discarded_packets_have_default_clock_snapshots(in_sc);
}

static enum vmt_status copy_event_classes(struct vmt_ir_copy *copy, struct vmt_ir_copy_sc *sc)
{
	uint64_t count = bt_stream_class_get_event_class_count(sc->in_sc);
	uint64_t i;

	for (i = 0; i < count; i++) {
		const bt_event_class *in_ec =
			bt_stream_class_borrow_event_class_by_index_const(sc->in_sc, i);

		if (!vmt_ir_copy_find_or_add_ec(copy, sc, in_ec)) {
			return VMT_STATUS_ERROR;
		}
	}

	return VMT_STATUS_OK;
}

static struct vmt_ir_copy_sc *add_sc(struct vmt_ir_copy *copy, struct vmt_ir_copy_tc *tc,
				     const bt_stream_class *in_sc)
{
	uint64_t id = bt_stream_class_get_id(in_sc);
	struct vmt_ir_copy_sc *sc = g_new0(struct vmt_ir_copy_sc, 1);

	sc->in_sc = in_sc;
	bt_stream_class_get_ref(in_sc);
	sc->ecs = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
					(GDestroyNotify) ec_destroy);
	sc->ec_by_id = g_ptr_array_new();
	sc->fc_map = g_hash_table_new(g_direct_hash, g_direct_equal);
	read_stream_class_flags(sc);
	sc->out_sc = bt_stream_class_create_with_id(tc->out_tc, id);
	if (!sc->out_sc) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot create stream class: id=%" PRIu64, id);
		goto error;
	}

	if (copy_stream_class_props(copy, sc) != VMT_STATUS_OK ||
	    copy_stream_class_clock_and_flags(copy, sc) != VMT_STATUS_OK ||
	    copy_stream_class_contexts(copy, sc) != VMT_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot copy stream class: id=%" PRIu64, id);
		goto error;
	}

	g_hash_table_insert(copy->stream_classes, (gpointer) in_sc, sc);
	if (copy_event_classes(copy, sc) != VMT_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(copy->log,
				      "Cannot copy event classes of stream class: id=%" PRIu64, id);
		return NULL;
	}

	return sc;

error:
	vmt_ir_copy_sc_destroy(sc);
	return NULL;
}

/* Trace classes. */

void vmt_ir_copy_tc_destroy(struct vmt_ir_copy_tc *tc)
{
	if (!tc) {
		return;
	}

	bt_trace_class_put_ref(tc->out_tc);
	bt_trace_class_put_ref(tc->in_tc);
	g_free(tc);
}

/* Copies every stream class of the trace class that is not copied yet. */
static enum vmt_status copy_stream_classes(struct vmt_ir_copy *copy, struct vmt_ir_copy_tc *tc)
{
	uint64_t count = bt_trace_class_get_stream_class_count(tc->in_tc);
	uint64_t i;

	for (i = 0; i < count; i++) {
		const bt_stream_class *in_sc =
			bt_trace_class_borrow_stream_class_by_index_const(tc->in_tc, i);

		if (!g_hash_table_lookup(copy->stream_classes, in_sc) && !add_sc(copy, tc, in_sc)) {
			return VMT_STATUS_ERROR;
		}
	}

	return VMT_STATUS_OK;
}

static struct vmt_ir_copy_tc *find_or_add_tc(struct vmt_ir_copy *copy, const bt_trace_class *in_tc)
{
	struct vmt_ir_copy_tc *tc = g_hash_table_lookup(copy->trace_classes, in_tc);
	bt_trace_class *out_tc;

	if (tc) {
		return tc;
	}

	out_tc = bt_trace_class_create(copy->self_comp);
	if (!out_tc) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot create trace class.");
		return NULL;
	}

	bt_trace_class_set_assigns_automatic_stream_class_id(out_tc, BT_FALSE);
	bt_trace_class_set_user_attributes(out_tc,
					   bt_trace_class_borrow_user_attributes_const(in_tc));
	tc = g_new0(struct vmt_ir_copy_tc, 1);
	tc->in_tc = in_tc;
	bt_trace_class_get_ref(in_tc);
	tc->out_tc = out_tc;
	g_hash_table_insert(copy->trace_classes, (gpointer) in_tc, tc);
	VMT_LOGD(copy->log, "Copying trace class: stream-class-count=%" PRIu64,
		 bt_trace_class_get_stream_class_count(in_tc));
	if (copy_stream_classes(copy, tc) != VMT_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot copy trace class.");
		return NULL;
	}

	return tc;
}

struct vmt_ir_copy_sc *vmt_ir_copy_find_or_add_sc(struct vmt_ir_copy *copy,
						  const bt_stream_class *in_sc)
{
	struct vmt_ir_copy_sc *sc = g_hash_table_lookup(copy->stream_classes, in_sc);
	struct vmt_ir_copy_tc *tc;

	if (sc) {
		return sc;
	}

	tc = find_or_add_tc(copy, bt_stream_class_borrow_trace_class_const(in_sc));
	if (!tc) {
		return NULL;
	}

	/* A new trace class entry copied all its stream classes, maybe `in_sc` too: look again. */
	sc = g_hash_table_lookup(copy->stream_classes, in_sc);
	return sc ? sc : add_sc(copy, tc, in_sc);
}
