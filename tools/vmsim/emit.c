/* SPDX-License-Identifier: MIT */
/*
 * Messages from released records: stream and packet boundaries of each
 * trace, packets bounded to `packet_events` events, and event payloads
 * filled from the record through the field tables of ir.c.
 */
#include "vmsim.h"

static uint64_t cycles_of(const struct vmsim_trace *tr, int64_t nfo)
{
	g_assert(nfo >= tr->offset_ns);
	return (uint64_t) (nfo - tr->offset_ns);
}

static bool add_msg(GPtrArray *out, bt_message *msg)
{
	if (!msg) {
		return false;
	}
	g_ptr_array_add(out, msg);
	return true;
}

static bool open_packet(bt_self_message_iterator *it, struct vmsim_trace *tr, int c, int64_t nfo,
			GPtrArray *out)
{
	bt_packet *pkt = bt_packet_create(tr->streams[c]);
	bt_field *ctx;

	if (!pkt) {
		return false;
	}
	ctx = bt_packet_borrow_context_field(pkt);
	bt_field_integer_unsigned_set_value(bt_field_structure_borrow_member_field_by_index(ctx, 0),
					    (uint64_t) c);
	BT_PACKET_PUT_REF_AND_RESET(tr->packets[c]);
	tr->packets[c] = pkt;
	tr->packet_len[c] = 0;
	tr->last_nfo[c] = nfo;
	return add_msg(out, bt_message_packet_beginning_create_with_default_clock_snapshot(
				    it, pkt, cycles_of(tr, nfo)));
}

static bool close_packet(bt_self_message_iterator *it, struct vmsim_trace *tr, int c, int64_t nfo,
			 GPtrArray *out)
{
	return add_msg(out, bt_message_packet_end_create_with_default_clock_snapshot(
				    it, tr->packets[c], cycles_of(tr, nfo)));
}

static bool emit_begin(bt_self_message_iterator *it, struct vmsim_trace *tr, int64_t nfo,
		       GPtrArray *out)
{
	for (int c = 0; c < tr->ncpus; c++) {
		if (!add_msg(out, bt_message_stream_beginning_create(it, tr->streams[c])) ||
		    !open_packet(it, tr, c, nfo, out)) {
			return false;
		}
	}
	return true;
}

static bool emit_end(bt_self_message_iterator *it, struct vmsim_trace *tr, int64_t nfo,
		     GPtrArray *out)
{
	for (int c = 0; c < tr->ncpus; c++) {
		if (!close_packet(it, tr, c, nfo, out) ||
		    !add_msg(out, bt_message_stream_end_create(it, tr->streams[c]))) {
			return false;
		}
		BT_PACKET_PUT_REF_AND_RESET(tr->packets[c]);
	}
	return true;
}

static void fill_member(bt_field *f, const struct vmsim_field *d, const struct vmsim_rec *rec)
{
	switch (d->type) {
	case VMSIM_FT_S32:
	case VMSIM_FT_S64:
		bt_field_integer_signed_set_value(f, rec->v[d->src]);
		break;
	case VMSIM_FT_STR:
		bt_field_string_set_value(f, d->src == 2 ? (rec->str ? rec->str : "") :
							   rec->c[d->src]);
		break;
	case VMSIM_FT_SEQ_S32: {
		uint64_t len = (uint64_t) rec->v[d->src - 1];

		bt_field_array_dynamic_set_length(f, len);
		for (uint64_t i = 0; i < len; i++) {
			bt_field_integer_signed_set_value(
				bt_field_array_borrow_element_field_by_index(f, i),
				rec->v[d->src + (int) i]);
		}
		break;
	}
	default:
		bt_field_integer_unsigned_set_value(f, (uint64_t) rec->v[d->src]);
		break;
	}
}

/* Is `rec` a host kernel event that the `host_discard_ms` knob discards? */
static bool is_discarded(const struct vmsim *sim, const struct vmsim_trace *tr,
			 const struct vmsim_rec *rec)
{
	return tr->kind == VMSIM_TRACE_HOST_KERNEL && rec->cpu == sim->k.host_discard_cpu &&
	       rec->t >= sim->discard_from_t && rec->t < sim->discard_to_t;
}

/*
 * Reports the events discarded before `rec` the way LTTng does and
 * `sink.ctf.fs` requires: the packet before the loss ends, a discarded
 * events message spans from that end to the end of the next packet, and
 * that packet (holding only `rec`) ends at `rec`'s time.
 */
static bool report_discarded(bt_self_message_iterator *it, struct vmsim_trace *tr,
			     const struct vmsim_rec *rec, GPtrArray *out)
{
	int c = rec->cpu;
	bt_message *msg;

	if (!close_packet(it, tr, c, tr->last_nfo[c], out)) {
		return false;
	}
	msg = bt_message_discarded_events_create_with_default_clock_snapshots(
		it, tr->streams[c], cycles_of(tr, tr->last_nfo[c]), cycles_of(tr, rec->nfo));
	if (!msg) {
		return false;
	}
	bt_message_discarded_events_set_count(msg, tr->discarded[c]);
	tr->discarded[c] = 0;
	g_ptr_array_add(out, msg);
	return open_packet(it, tr, c, rec->nfo, out);
}

static bool emit_event(struct vmsim *sim, bt_self_message_iterator *it, struct vmsim_trace *tr,
		       const struct vmsim_rec *rec, GPtrArray *out)
{
	int c = rec->cpu;
	int n;
	const struct vmsim_field *fields = vmsim_fields(sim, rec->kind, &n);
	bool ends_packet = tr->discarded[c] > 0;
	bt_message *msg;
	bt_field *payload;

	if (is_discarded(sim, tr, rec)) {
		tr->discarded[c]++;
		return true;
	}
	if (ends_packet && !report_discarded(it, tr, rec, out)) {
		return false;
	}
	if (tr->packet_len[c] >= (uint32_t) sim->k.packet_events) {
		if (!close_packet(it, tr, c, tr->last_nfo[c], out) ||
		    !open_packet(it, tr, c, rec->nfo, out)) {
			return false;
		}
	}
	msg = bt_message_event_create_with_packet_and_default_clock_snapshot(
		it, tr->ec[rec->kind], tr->packets[c], cycles_of(tr, rec->nfo));
	if (!msg) {
		return false;
	}
	payload = bt_event_borrow_payload_field(bt_message_event_borrow_event(msg));
	for (int i = 0; i < n; i++) {
		fill_member(bt_field_structure_borrow_member_field_by_index(payload, (uint64_t) i),
			    &fields[i], rec);
	}
	tr->packet_len[c]++;
	tr->last_nfo[c] = rec->nfo;
	g_ptr_array_add(out, msg);
	return !ends_packet ||
	       (close_packet(it, tr, c, rec->nfo, out) && open_packet(it, tr, c, rec->nfo, out));
}

bool vmsim_emit_rec(struct vmsim *sim, bt_self_message_iterator *it, const struct vmsim_rec *rec,
		    GPtrArray *out)
{
	struct vmsim_trace *tr = sim->traces[rec->trace];

	switch (rec->kind) {
	case VMSIM_CTL_TRACE_BEGIN:
		return emit_begin(it, tr, rec->nfo, out);
	case VMSIM_CTL_TRACE_END:
		return emit_end(it, tr, rec->nfo, out);
	default:
		g_assert(tr->ec[rec->kind]);
		return emit_event(sim, it, tr, rec, out);
	}
}
