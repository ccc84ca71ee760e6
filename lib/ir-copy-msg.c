/* SPDX-License-Identifier: MIT */
/*
 * Trace-IR copy: messages, one handler per type, and clock snapshots.
 *
 * Without a `convert_ns` hook, raw clock values are copied as they are
 * (the identity fast path). With it, each snapshot goes through ns from
 * origin, the hook, and back to a raw value of the output clock class,
 * clamped at 0 and so that the stream's time never goes back.
 *
 * Which snapshots move a stream's time forward ("ordered" ones): those of
 * events, packets and stream beginning/end, and the beginning of a
 * discarded events/packets range (the muxer orders these messages by it).
 * The end of such a range is in the future of the messages that follow
 * (`src.ctf.fs` sets it to the end of the next packet), so it is only
 * clamped to its beginning.
 */
#define VMT_LOG_TAG "VMTRACE/IR-COPY"
#include "lib/log.h"

#include <inttypes.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/ir-copy-internal.h"

#define NS_PER_S UINT64_C(1000000000)

/* Clock snapshots. */

/*
 * The largest raw value of `cc` whose ns from origin, as the library
 * computes it (through a double for frequencies other than 1 GHz), does
 * not pass `ns`. `delta_ns` is `ns` minus the clock's offset, >= 0.
 */
static uint64_t ns_to_raw_any_frequency(const struct vmt_ir_copy_cc *cc, int64_t ns,
					uint64_t delta_ns)
{
	unsigned __int128 wide = (unsigned __int128) delta_ns * cc->out_frequency / NS_PER_S;
	uint64_t raw = wide > UINT64_MAX ? UINT64_MAX : (uint64_t) wide;
	int64_t raw_ns;
	int step;

	for (step = 0; step < 4 && raw < UINT64_MAX; step++) {
		if (bt_clock_class_cycles_to_ns_from_origin(cc->out_cc, raw + 1, &raw_ns) !=
			    BT_CLOCK_CLASS_CYCLES_TO_NS_FROM_ORIGIN_STATUS_OK ||
		    raw_ns > ns) {
			break;
		}

		raw++;
	}

	for (step = 0; step < 4 && raw > 0; step++) {
		if (bt_clock_class_cycles_to_ns_from_origin(cc->out_cc, raw, &raw_ns) ==
			    BT_CLOCK_CLASS_CYCLES_TO_NS_FROM_ORIGIN_STATUS_OK &&
		    raw_ns <= ns) {
			break;
		}

		raw--;
	}

	return raw;
}

/* Raw value of `cc` at `ns` from origin; false (and 0) if `ns` is before the clock's offset. */
static inline bool ns_to_raw(const struct vmt_ir_copy_cc *cc, int64_t ns, uint64_t *raw)
{
	uint64_t delta_ns;

	if (G_UNLIKELY(ns < cc->out_base_offset_ns)) {
		*raw = 0;
		return false;
	}

	/* Unsigned: the difference of two int64 values may not fit an int64. */
	delta_ns = (uint64_t) ns - (uint64_t) cc->out_base_offset_ns;
	*raw = G_LIKELY(cc->out_frequency == NS_PER_S) ? delta_ns :
							 ns_to_raw_any_frequency(cc, ns, delta_ns);
	return true;
}

/* Converts `cs` through the hook into a raw value of `cc`, at least `floor`. */
static enum vmt_status convert_snapshot(struct vmt_ir_copy *copy, const bt_stream *in_stream,
					const struct vmt_ir_copy_cc *cc,
					const bt_clock_snapshot *cs, uint64_t floor, uint64_t *raw)
{
	int64_t in_ns, out_ns;
	bool is_clamped;

	if (G_UNLIKELY(bt_clock_snapshot_get_ns_from_origin(cs, &in_ns) !=
		       BT_CLOCK_SNAPSHOT_GET_NS_FROM_ORIGIN_STATUS_OK)) {
		VMT_LOGE_APPEND_CAUSE(
			copy->log,
			"Clock snapshot's ns from origin overflows int64: value=%" PRIu64,
			bt_clock_snapshot_get_value(cs));
		return VMT_STATUS_ERROR;
	}

	out_ns = copy->hooks->convert_ns(copy->user, in_stream, in_ns);
	is_clamped = !ns_to_raw(cc, out_ns, raw);
	if (G_UNLIKELY(*raw < floor)) {
		*raw = floor;
		is_clamped = true;
	}

	copy->clamp_count += is_clamped;
	return VMT_STATUS_OK;
}

/* The output raw value of an ordered snapshot of `stream`. */
static inline enum vmt_status convert_stream_snapshot(struct vmt_ir_copy *copy,
						      struct vmt_ir_copy_stream *stream,
						      const bt_clock_snapshot *cs, uint64_t *raw)
{
	enum vmt_status status;

	if (G_LIKELY(!copy->hooks->convert_ns)) {
		*raw = bt_clock_snapshot_get_value(cs);
		return VMT_STATUS_OK;
	}

	status = convert_snapshot(copy, stream->in_stream, stream->sc->cc, cs, stream->last_raw,
				  raw);
	if (G_LIKELY(status == VMT_STATUS_OK)) {
		stream->last_raw = *raw;
	}

	return status;
}

/* Stream beginning and end. */

static enum vmt_status handle_stream_beginning(struct vmt_ir_copy *copy, const bt_message *in_msg,
					       bt_message **out_msg)
{
	struct vmt_ir_copy_stream *stream = vmt_ir_copy_borrow_stream(
		copy, bt_message_stream_beginning_borrow_stream_const(in_msg));
	enum vmt_status status = VMT_STATUS_OK;
	const bt_clock_snapshot *cs;
	uint64_t raw;

	if (!stream) {
		return VMT_STATUS_ERROR;
	}

	*out_msg = bt_message_stream_beginning_create(copy->self_iter, stream->out_stream);
	if (!*out_msg) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot create stream beginning message.");
		return VMT_STATUS_MEMORY_ERROR;
	}

	/* `src.ctf.fs` leaves it unknown; the snapshot is only there if known. */
	if (stream->sc->cc &&
	    bt_message_stream_beginning_borrow_default_clock_snapshot_const(in_msg, &cs) ==
		    BT_MESSAGE_STREAM_CLOCK_SNAPSHOT_STATE_KNOWN) {
		status = convert_stream_snapshot(copy, stream, cs, &raw);
		if (status == VMT_STATUS_OK) {
			bt_message_stream_beginning_set_default_clock_snapshot(*out_msg, raw);
		}
	}

	return status;
}

static enum vmt_status handle_stream_end(struct vmt_ir_copy *copy, const bt_message *in_msg,
					 bt_message **out_msg)
{
	const bt_stream *in_stream = bt_message_stream_end_borrow_stream_const(in_msg);
	struct vmt_ir_copy_stream *stream = vmt_ir_copy_borrow_stream(copy, in_stream);
	enum vmt_status status = VMT_STATUS_OK;
	const bt_clock_snapshot *cs;
	uint64_t raw;

	if (!stream) {
		return VMT_STATUS_ERROR;
	}

	*out_msg = bt_message_stream_end_create(copy->self_iter, stream->out_stream);
	if (!*out_msg) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot create stream end message.");
		status = VMT_STATUS_MEMORY_ERROR;
	} else if (stream->sc->cc &&
		   bt_message_stream_end_borrow_default_clock_snapshot_const(in_msg, &cs) ==
			   BT_MESSAGE_STREAM_CLOCK_SNAPSHOT_STATE_KNOWN) {
		status = convert_stream_snapshot(copy, stream, cs, &raw);
		if (status == VMT_STATUS_OK) {
			bt_message_stream_end_set_default_clock_snapshot(*out_msg, raw);
		}
	}

	/* The stream is over; its input object may be reused from now on. */
	vmt_ir_copy_remove_stream(copy, in_stream);
	return status;
}

/* Packet beginning and end. */

static enum vmt_status handle_packet_beginning(struct vmt_ir_copy *copy, const bt_message *in_msg,
					       bt_message **out_msg)
{
	const bt_packet *in_packet = bt_message_packet_beginning_borrow_packet_const(in_msg);
	struct vmt_ir_copy_stream *stream =
		vmt_ir_copy_borrow_stream(copy, bt_packet_borrow_stream_const(in_packet));
	enum vmt_status status;
	uint64_t raw;

	if (!stream) {
		return VMT_STATUS_ERROR;
	}

	status = vmt_ir_copy_open_packet(copy, stream, in_packet);
	if (status != VMT_STATUS_OK) {
		return status;
	}

	if (stream->sc->packets_have_beginning_cs) {
		status = convert_stream_snapshot(
			copy, stream,
			bt_message_packet_beginning_borrow_default_clock_snapshot_const(in_msg),
			&raw);
		if (status != VMT_STATUS_OK) {
			return status;
		}

		*out_msg = bt_message_packet_beginning_create_with_default_clock_snapshot(
			copy->self_iter, stream->out_packet, raw);
	} else {
		*out_msg = bt_message_packet_beginning_create(copy->self_iter, stream->out_packet);
	}

	if (!*out_msg) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot create packet beginning message.");
		return VMT_STATUS_MEMORY_ERROR;
	}

	return VMT_STATUS_OK;
}

static enum vmt_status handle_packet_end(struct vmt_ir_copy *copy, const bt_message *in_msg,
					 bt_message **out_msg)
{
	const bt_packet *in_packet = bt_message_packet_end_borrow_packet_const(in_msg);
	struct vmt_ir_copy_stream *stream =
		vmt_ir_copy_borrow_stream(copy, bt_packet_borrow_stream_const(in_packet));
	enum vmt_status status = VMT_STATUS_OK;
	uint64_t raw;

	if (!stream) {
		return VMT_STATUS_ERROR;
	}

	/* A packet whose beginning this copy did not see is copied now. */
	if (stream->in_packet != in_packet) {
		status = vmt_ir_copy_open_packet(copy, stream, in_packet);
		if (status != VMT_STATUS_OK) {
			goto end;
		}
	}

	if (stream->sc->packets_have_end_cs) {
		status = convert_stream_snapshot(
			copy, stream,
			bt_message_packet_end_borrow_default_clock_snapshot_const(in_msg), &raw);
		if (status != VMT_STATUS_OK) {
			goto end;
		}

		*out_msg = bt_message_packet_end_create_with_default_clock_snapshot(
			copy->self_iter, stream->out_packet, raw);
	} else {
		*out_msg = bt_message_packet_end_create(copy->self_iter, stream->out_packet);
	}

	if (!*out_msg) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot create packet end message.");
		status = VMT_STATUS_MEMORY_ERROR;
	}

end:
	/* The packet is over; its input object goes back to its pool. */
	vmt_ir_copy_close_packet(stream);
	return status;
}

/* Events: the hot path. */

static inline struct vmt_ir_copy_ec *borrow_ec(struct vmt_ir_copy *copy, struct vmt_ir_copy_sc *sc,
					       const bt_event_class *in_ec)
{
	uint64_t id = bt_event_class_get_id(in_ec);

	if (G_LIKELY(id < sc->ec_by_id->len)) {
		struct vmt_ir_copy_ec *ec = g_ptr_array_index(sc->ec_by_id, id);

		if (G_LIKELY(ec && ec->in_ec == in_ec)) {
			return ec;
		}
	}

	return vmt_ir_copy_find_or_add_ec(copy, sc, in_ec);
}

static inline bt_message *create_event_message(struct vmt_ir_copy *copy,
					       struct vmt_ir_copy_stream *stream,
					       const struct vmt_ir_copy_ec *ec, uint64_t raw)
{
	bool has_cs = stream->sc->cc;

	if (stream->sc->supports_packets) {
		return has_cs ? bt_message_event_create_with_packet_and_default_clock_snapshot(
					copy->self_iter, ec->out_ec, stream->out_packet, raw) :
				bt_message_event_create_with_packet(copy->self_iter, ec->out_ec,
								    stream->out_packet);
	}

	return has_cs ? bt_message_event_create_with_default_clock_snapshot(
				copy->self_iter, ec->out_ec, stream->out_stream, raw) :
			bt_message_event_create(copy->self_iter, ec->out_ec, stream->out_stream);
}

static inline enum vmt_status copy_event_fields(struct vmt_ir_copy *copy,
						const struct vmt_ir_copy_ec *ec,
						const bt_event *in_event, bt_event *out_event)
{
	enum vmt_status status = VMT_STATUS_OK;

	if (ec->has_common_context) {
		status = vmt_ir_copy_field(copy,
					   bt_event_borrow_common_context_field_const(in_event),
					   bt_event_borrow_common_context_field(out_event));
	}

	if (ec->has_specific_context && status == VMT_STATUS_OK) {
		status = vmt_ir_copy_field(copy,
					   bt_event_borrow_specific_context_field_const(in_event),
					   bt_event_borrow_specific_context_field(out_event));
	}

	if (ec->has_payload && status == VMT_STATUS_OK) {
		status = vmt_ir_copy_field(copy, bt_event_borrow_payload_field_const(in_event),
					   bt_event_borrow_payload_field(out_event));
	}

	return status;
}

/* Finds the stream, event class and packet of an input event, and the output timestamp. */
static inline enum vmt_status prepare_event(struct vmt_ir_copy *copy, const bt_message *in_msg,
					    const bt_event *in_event,
					    struct vmt_ir_copy_stream **stream,
					    struct vmt_ir_copy_ec **ec, uint64_t *raw)
{
	const bt_packet *in_packet;

	*stream = vmt_ir_copy_borrow_stream(copy, bt_event_borrow_stream_const(in_event));
	if (G_UNLIKELY(!*stream)) {
		return VMT_STATUS_ERROR;
	}

	*ec = borrow_ec(copy, (*stream)->sc, bt_event_borrow_class_const(in_event));
	if (G_UNLIKELY(!*ec)) {
		return VMT_STATUS_ERROR;
	}

	if ((*stream)->sc->supports_packets) {
		/* A packet whose beginning this copy did not see is copied now. */
		in_packet = bt_event_borrow_packet_const(in_event);
		if (G_UNLIKELY(in_packet != (*stream)->in_packet) &&
		    vmt_ir_copy_open_packet(copy, *stream, in_packet) != VMT_STATUS_OK) {
			return VMT_STATUS_ERROR;
		}
	}

	*raw = 0;
	if (!(*stream)->sc->cc) {
		return VMT_STATUS_OK;
	}

	return convert_stream_snapshot(
		copy, *stream, bt_message_event_borrow_default_clock_snapshot_const(in_msg), raw);
}

static enum vmt_status handle_event(struct vmt_ir_copy *copy, const bt_message *in_msg,
				    bt_message **out_msg)
{
	const bt_event *in_event = bt_message_event_borrow_event_const(in_msg);
	struct vmt_ir_copy_stream *stream;
	struct vmt_ir_copy_ec *ec;
	enum vmt_status status;
	uint64_t raw;

	status = prepare_event(copy, in_msg, in_event, &stream, &ec, &raw);
	if (G_UNLIKELY(status != VMT_STATUS_OK)) {
		return status;
	}

	*out_msg = create_event_message(copy, stream, ec, raw);
	if (G_UNLIKELY(!*out_msg)) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot create event message: id=%" PRIu64,
				      bt_event_class_get_id(ec->in_ec));
		return VMT_STATUS_MEMORY_ERROR;
	}

	status = copy_event_fields(copy, ec, in_event, bt_message_event_borrow_event(*out_msg));
	if (G_UNLIKELY(status != VMT_STATUS_OK)) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot copy event: name=\"%s\"",
				      bt_event_class_get_name(ec->in_ec) ?: "");
		return status;
	}

	if (copy->hooks->fill_event) {
		status = copy->hooks->fill_event(copy->user, in_msg,
						 bt_message_event_borrow_event(*out_msg));
		if (G_UNLIKELY(status != VMT_STATUS_OK)) {
			VMT_LOGE_APPEND_CAUSE(copy->log, "Hook failed to fill event: name=\"%s\"",
					      bt_event_class_get_name(ec->in_ec) ?: "");
		}
	}

	return status;
}

/* Discarded events and packets: the same shape, through a table of functions. */

struct discarded_ops {
	const char *what;
	const bt_stream *(*borrow_stream)(const bt_message *msg);
	const bt_clock_snapshot *(*borrow_beginning)(const bt_message *msg);
	const bt_clock_snapshot *(*borrow_end)(const bt_message *msg);
	bt_message *(*create)(bt_self_message_iterator *self_iter, const bt_stream *stream);
	bt_message *(*create_with_cs)(bt_self_message_iterator *self_iter, const bt_stream *stream,
				      uint64_t beginning, uint64_t end);
	bt_property_availability (*get_count)(const bt_message *msg, uint64_t *count);
	void (*set_count)(bt_message *msg, uint64_t count);
};

static const struct discarded_ops discarded_events_ops = {
	.what = "discarded events",
	.borrow_stream = bt_message_discarded_events_borrow_stream_const,
	.borrow_beginning =
		bt_message_discarded_events_borrow_beginning_default_clock_snapshot_const,
	.borrow_end = bt_message_discarded_events_borrow_end_default_clock_snapshot_const,
	.create = bt_message_discarded_events_create,
	.create_with_cs = bt_message_discarded_events_create_with_default_clock_snapshots,
	.get_count = bt_message_discarded_events_get_count,
	.set_count = bt_message_discarded_events_set_count,
};

static const struct discarded_ops discarded_packets_ops = {
	.what = "discarded packets",
	.borrow_stream = bt_message_discarded_packets_borrow_stream_const,
	.borrow_beginning =
		bt_message_discarded_packets_borrow_beginning_default_clock_snapshot_const,
	.borrow_end = bt_message_discarded_packets_borrow_end_default_clock_snapshot_const,
	.create = bt_message_discarded_packets_create,
	.create_with_cs = bt_message_discarded_packets_create_with_default_clock_snapshots,
	.get_count = bt_message_discarded_packets_get_count,
	.set_count = bt_message_discarded_packets_set_count,
};

/* The beginning is ordered; the end is only kept at or after the beginning. */
static enum vmt_status convert_discarded_range(struct vmt_ir_copy *copy,
					       struct vmt_ir_copy_stream *stream,
					       const struct discarded_ops *ops,
					       const bt_message *in_msg, uint64_t *beginning,
					       uint64_t *end)
{
	enum vmt_status status;

	status = convert_stream_snapshot(copy, stream, ops->borrow_beginning(in_msg), beginning);
	if (status != VMT_STATUS_OK) {
		return status;
	}

	if (!copy->hooks->convert_ns) {
		*end = bt_clock_snapshot_get_value(ops->borrow_end(in_msg));
		return VMT_STATUS_OK;
	}

	return convert_snapshot(copy, stream->in_stream, stream->sc->cc, ops->borrow_end(in_msg),
				*beginning, end);
}

static enum vmt_status handle_discarded(struct vmt_ir_copy *copy, const struct discarded_ops *ops,
					const bt_message *in_msg, bt_message **out_msg)
{
	struct vmt_ir_copy_stream *stream =
		vmt_ir_copy_borrow_stream(copy, ops->borrow_stream(in_msg));
	bool has_cs;
	uint64_t beginning, end, count;
	enum vmt_status status;

	if (!stream) {
		return VMT_STATUS_ERROR;
	}

	has_cs = ops == &discarded_events_ops ? stream->sc->discarded_events_have_cs :
						stream->sc->discarded_packets_have_cs;
	if (has_cs) {
		status = convert_discarded_range(copy, stream, ops, in_msg, &beginning, &end);
		if (status != VMT_STATUS_OK) {
			return status;
		}

		*out_msg = ops->create_with_cs(copy->self_iter, stream->out_stream, beginning, end);
	} else {
		*out_msg = ops->create(copy->self_iter, stream->out_stream);
	}

	if (!*out_msg) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot create %s message.", ops->what);
		return VMT_STATUS_MEMORY_ERROR;
	}

	if (ops->get_count(in_msg, &count) == BT_PROPERTY_AVAILABILITY_AVAILABLE) {
		ops->set_count(*out_msg, count);
	}

	return VMT_STATUS_OK;
}

/* Message iterator inactivity: its own clock class, no stream. */

static enum vmt_status handle_inactivity(struct vmt_ir_copy *copy, const bt_message *in_msg,
					 bt_message **out_msg)
{
	const bt_clock_snapshot *cs =
		bt_message_message_iterator_inactivity_borrow_clock_snapshot_const(in_msg);
	struct vmt_ir_copy_cc *cc =
		vmt_ir_copy_find_or_add_cc(copy, bt_clock_snapshot_borrow_clock_class_const(cs));
	enum vmt_status status;
	uint64_t raw;

	if (!cc) {
		return VMT_STATUS_ERROR;
	}

	if (copy->hooks->convert_ns) {
		status = convert_snapshot(copy, NULL, cc, cs, cc->last_inactivity_raw, &raw);
		if (status != VMT_STATUS_OK) {
			return status;
		}

		cc->last_inactivity_raw = raw;
	} else {
		raw = bt_clock_snapshot_get_value(cs);
	}

	*out_msg = bt_message_message_iterator_inactivity_create(copy->self_iter, cc->out_cc, raw);
	if (!*out_msg) {
		VMT_LOGE_APPEND_CAUSE(copy->log, "Cannot create inactivity message.");
		return VMT_STATUS_MEMORY_ERROR;
	}

	return VMT_STATUS_OK;
}

enum vmt_status vmt_ir_copy_handle_message(struct vmt_ir_copy *copy, const bt_message *in_msg,
					   bt_message **out_msg)
{
	switch (bt_message_get_type(in_msg)) {
	case BT_MESSAGE_TYPE_EVENT:
		return handle_event(copy, in_msg, out_msg);
	case BT_MESSAGE_TYPE_PACKET_BEGINNING:
		return handle_packet_beginning(copy, in_msg, out_msg);
	case BT_MESSAGE_TYPE_PACKET_END:
		return handle_packet_end(copy, in_msg, out_msg);
	case BT_MESSAGE_TYPE_STREAM_BEGINNING:
		return handle_stream_beginning(copy, in_msg, out_msg);
	case BT_MESSAGE_TYPE_STREAM_END:
		return handle_stream_end(copy, in_msg, out_msg);
	case BT_MESSAGE_TYPE_DISCARDED_EVENTS:
		return handle_discarded(copy, &discarded_events_ops, in_msg, out_msg);
	case BT_MESSAGE_TYPE_DISCARDED_PACKETS:
		return handle_discarded(copy, &discarded_packets_ops, in_msg, out_msg);
	case BT_MESSAGE_TYPE_MESSAGE_ITERATOR_INACTIVITY:
		return handle_inactivity(copy, in_msg, out_msg);
	default:
		VMT_LOGE_APPEND_CAUSE(copy->log, "Unexpected message type: type=%d",
				      (int) bt_message_get_type(in_msg));
		return VMT_STATUS_ERROR;
	}
}
