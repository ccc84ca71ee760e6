/* SPDX-License-Identifier: MIT */
/*
 * Private state of the trace-IR and message copy (`lib/ir-copy*.c`).
 *
 * Maps, by kind of input object:
 * - trace, stream and event classes, clock classes: created at first sight
 *   and kept for the copy's lifetime; each key holds a reference on its
 *   input object, so its address is never reused while the entry exists;
 * - traces: an entry lives as long as its input trace (a destruction
 *   listener removes it), and maps every stream the input trace ever had,
 *   because a trace owns its streams until it is destroyed;
 * - active streams: from their first message to STREAM_END, with the open
 *   packet (dropped at PACKET_END) and the clamping state.
 *
 * The per-event path never hashes in the common case: active streams are
 * cached in a small direct-mapped array, a stream's entry points to its
 * stream class's, and event classes with small IDs sit in an array
 * indexed by ID.
 */
#ifndef VMTRACE_LIB_IR_COPY_INTERNAL_H
#define VMTRACE_LIB_IR_COPY_INTERNAL_H

#include "lib/log.h"

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/common.h"
#include "lib/ir-copy.h"
#include "lib/status.h"

/*
 * Event class IDs below this limit are found through an array; the rest
 * (rare: LTTng and barectf number event classes from 0) through a hash
 * table. 64 Ki pointers is 512 KiB at most per stream class.
 */
#define VMT_IR_COPY_DENSE_EC_ID_LIMIT 65536

/*
 * Slots of the direct-mapped cache of active streams (4 KiB). A muxer
 * interleaves streams, so a one-entry cache misses about every other event
 * of a multi-CPU trace; with 256 slots, the streams of a 16-CPU trace
 * rarely share one.
 */
#define VMT_IR_COPY_STREAM_CACHE_BITS 8

struct vmt_ir_copy_stream_slot {
	/* Both weak: the entry lives in `vmt_ir_copy.streams`. */
	const bt_stream *in_stream;
	struct vmt_ir_copy_stream *stream;
};

/* An output clock class: a copy of an input one, or one a hook gave. */
struct vmt_ir_copy_cc {
	/* Owned reference: the map's key. */
	const bt_clock_class *in_cc;
	/* Owned. */
	bt_clock_class *out_cc;
	/* Output frequency (Hz) and offset from origin (ns), to turn ns into cycles. */
	uint64_t out_frequency;
	int64_t out_base_offset_ns;
	/* Last raw value given to an inactivity message, for clamping. */
	uint64_t last_inactivity_raw;
};

struct vmt_ir_copy_tc {
	/* Owned reference: the map's key. */
	const bt_trace_class *in_tc;
	/* Owned. */
	bt_trace_class *out_tc;
};

struct vmt_ir_copy_ec {
	/* Owned reference: the map's key. */
	const bt_event_class *in_ec;
	/* Owned. */
	bt_event_class *out_ec;
	/* Which scopes an event of this class has (its copy plan). */
	bool has_common_context;
	bool has_specific_context;
	bool has_payload;
};

struct vmt_ir_copy_sc {
	/* Owned reference: the map's key. */
	const bt_stream_class *in_sc;
	/* Owned. */
	bt_stream_class *out_sc;
	/* Weak: owned by `vmt_ir_copy.clock_classes`; NULL without a default clock class. */
	struct vmt_ir_copy_cc *cc;
	/* Input event class -> `struct vmt_ir_copy_ec` (owned). */
	GHashTable *ecs;
	/* Weak `struct vmt_ir_copy_ec *` indexed by ID, for IDs below the dense limit. */
	GPtrArray *ec_by_id;
	/*
	 * Input -> output field classes (both weak) of the packet context and
	 * event common context, to resolve the length and selector field paths
	 * of event classes copied later.
	 */
	GHashTable *fc_map;
	/* The input stream class's flags, read once. */
	bool supports_packets;
	bool packets_have_beginning_cs;
	bool packets_have_end_cs;
	bool discarded_events_have_cs;
	bool discarded_packets_have_cs;
};

struct vmt_ir_copy_trace {
	/* Weak: owned by its copy. */
	struct vmt_ir_copy *copy;
	/* Weak: the destruction listener removes this entry with the trace. */
	const bt_trace *in_trace;
	/* Owned. */
	bt_trace *out_trace;
	bt_listener_id listener_id;
	/* Input stream (weak: owned by `in_trace`) -> output stream (owned reference). */
	GHashTable *streams;
};

struct vmt_ir_copy_stream {
	/* Owned reference until STREAM_END: it keeps the input trace alive. */
	const bt_stream *in_stream;
	/* Weak: owned by the trace entry's `streams`. */
	bt_stream *out_stream;
	/* Weak: owned by `vmt_ir_copy.stream_classes`. */
	struct vmt_ir_copy_sc *sc;
	/* Owned reference to the open input packet, NULL between packets. */
	const bt_packet *in_packet;
	/* Owned: the copy of `in_packet`. */
	bt_packet *out_packet;
	/* Last output raw value of an ordered clock snapshot, for clamping. */
	uint64_t last_raw;
};

struct vmt_ir_copy {
	/* Weak: the iterator that creates the messages. */
	bt_self_message_iterator *self_iter;
	/* Weak: its component, which creates the trace and clock classes. */
	bt_self_component *self_comp;
	/* Borrowed from the creator. */
	const struct vmt_ir_copy_hooks *hooks;
	void *user;
	/* Borrowed from the creator. */
	const struct vmt_log_ctx *log;
	/* Input trace class -> `struct vmt_ir_copy_tc` (owned). */
	GHashTable *trace_classes;
	/* Input stream class -> `struct vmt_ir_copy_sc` (owned). */
	GHashTable *stream_classes;
	/* Input clock class -> `struct vmt_ir_copy_cc` (owned). */
	GHashTable *clock_classes;
	/* Input trace -> `struct vmt_ir_copy_trace` (owned). */
	GHashTable *traces;
	/* Input stream -> `struct vmt_ir_copy_stream` (owned), active streams only. */
	GHashTable *streams;
	/* Cache of `streams`, by a hash of the key; a slot is cleared when its stream ends. */
	struct vmt_ir_copy_stream_slot stream_cache[1 << VMT_IR_COPY_STREAM_CACHE_BITS];
	uint64_t clamp_count;
};

/* ir-copy-metadata.c: classes. Each returns a borrowed entry, or NULL after appending a cause. */

/* Finds or creates the entry of `in_sc`, copying its whole trace class at first sight. */
VMT_HIDDEN struct vmt_ir_copy_sc *vmt_ir_copy_find_or_add_sc(struct vmt_ir_copy *copy,
							     const bt_stream_class *in_sc);

/* Finds or creates (lazily: added after its stream class was copied) the entry of `in_ec`. */
VMT_HIDDEN struct vmt_ir_copy_ec *vmt_ir_copy_find_or_add_ec(struct vmt_ir_copy *copy,
							     struct vmt_ir_copy_sc *sc,
							     const bt_event_class *in_ec);

/* Finds or creates the output clock class of `in_cc`. */
VMT_HIDDEN struct vmt_ir_copy_cc *vmt_ir_copy_find_or_add_cc(struct vmt_ir_copy *copy,
							     const bt_clock_class *in_cc);

/* Destructors of the map values. */
VMT_HIDDEN void vmt_ir_copy_tc_destroy(struct vmt_ir_copy_tc *tc);
VMT_HIDDEN void vmt_ir_copy_sc_destroy(struct vmt_ir_copy_sc *sc);
VMT_HIDDEN void vmt_ir_copy_cc_destroy(struct vmt_ir_copy_cc *cc);

/*
 * Where the length and selector field classes of a field class tree are
 * resolved: the input roots of the four scopes, and input -> output maps
 * of the field classes copied so far (`map` first, then `outer_map`).
 */
struct vmt_ir_copy_fc_ctx {
	struct vmt_ir_copy *copy;
	/* Weak. */
	bt_trace_class *out_tc;
	/* Weak: indexed by `bt_field_path_scope`. */
	const bt_field_class *in_scopes[4];
	/* Weak keys and values; `outer_map` may be NULL. */
	GHashTable *map;
	GHashTable *outer_map;
};

/* ir-copy-field-class.c */

/*
 * Copies `in_fc` and everything under it into `ctx->out_tc`, recording
 * every pair in `ctx->map`. Returns a new reference, or NULL after
 * appending a cause (`*status` says why).
 */
VMT_HIDDEN bt_field_class *vmt_ir_copy_field_class(struct vmt_ir_copy_fc_ctx *ctx,
						   const bt_field_class *in_fc,
						   enum vmt_status *status);

/* ir-copy-data.c: data objects and field values. */

/* Creates the output trace of `in_trace` (name, UUID, environment, user attributes, hook). */
VMT_HIDDEN bt_trace *vmt_ir_copy_create_trace(struct vmt_ir_copy *copy, const bt_trace *in_trace,
					      bt_trace_class *out_tc);

/* Creates the output stream of `in_stream` (same ID, name, user attributes). */
VMT_HIDDEN bt_stream *vmt_ir_copy_create_stream(struct vmt_ir_copy *copy,
						const bt_stream *in_stream, bt_stream_class *out_sc,
						bt_trace *out_trace);

/* Creates the output packet of `in_packet` in `out_stream` (new reference), with its context. */
VMT_HIDDEN enum vmt_status vmt_ir_copy_create_packet(struct vmt_ir_copy *copy,
						     const bt_packet *in_packet,
						     bt_stream *out_stream, bt_packet **out_packet);

/*
 * Copies the value of `in_field` into `out_field`, whose class is a copy of
 * `in_field`'s (a structure may have more members: extra ones are left
 * alone). Appends a cause on failure.
 */
VMT_HIDDEN enum vmt_status vmt_ir_copy_field(struct vmt_ir_copy *copy, const bt_field *in_field,
					     bt_field *out_field);

/* ir-copy-msg.c: one function per message type. */
VMT_HIDDEN enum vmt_status vmt_ir_copy_handle_message(struct vmt_ir_copy *copy,
						      const bt_message *in_msg,
						      bt_message **out_msg);

/* ir-copy.c: data object maps. */

/* Finds or creates the active-stream entry of `in_stream` (and its trace and classes). */
VMT_HIDDEN struct vmt_ir_copy_stream *vmt_ir_copy_find_or_add_stream(struct vmt_ir_copy *copy,
								     const bt_stream *in_stream);

/* Drops the active-stream entry of `in_stream` (at STREAM_END). */
VMT_HIDDEN void vmt_ir_copy_remove_stream(struct vmt_ir_copy *copy, const bt_stream *in_stream);

/* Makes `in_packet` the open packet of `stream`, copying it. */
VMT_HIDDEN enum vmt_status vmt_ir_copy_open_packet(struct vmt_ir_copy *copy,
						   struct vmt_ir_copy_stream *stream,
						   const bt_packet *in_packet);

/* Drops the open packet of `stream` (at PACKET_END). */
VMT_HIDDEN void vmt_ir_copy_close_packet(struct vmt_ir_copy_stream *stream);

/* The stream cache slot of `in_stream` (Fibonacci hashing of its address). */
static inline struct vmt_ir_copy_stream_slot *vmt_ir_copy_stream_slot(struct vmt_ir_copy *copy,
								      const bt_stream *in_stream)
{
	uint64_t hash = (uint64_t) (uintptr_t) in_stream * UINT64_C(0x9e3779b97f4a7c15);

	return &copy->stream_cache[hash >> (64 - VMT_IR_COPY_STREAM_CACHE_BITS)];
}

/* The stream entry of `in_stream`, from the cache when possible. */
static inline struct vmt_ir_copy_stream *vmt_ir_copy_borrow_stream(struct vmt_ir_copy *copy,
								   const bt_stream *in_stream)
{
	struct vmt_ir_copy_stream_slot *slot = vmt_ir_copy_stream_slot(copy, in_stream);

	if (G_LIKELY(slot->in_stream == in_stream)) {
		return slot->stream;
	}

	return vmt_ir_copy_find_or_add_stream(copy, in_stream);
}

#endif /* VMTRACE_LIB_IR_COPY_INTERNAL_H */
