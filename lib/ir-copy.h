/* SPDX-License-Identifier: MIT */
/*
 * Trace-IR and message copy, with hooks.
 *
 * Babeltrace messages and trace-IR classes are immutable once used, so a
 * component that changes timestamps (`source.vmsync.fs`) or adds fields
 * (`filter.vmmatch.tag`) re-creates them. One `struct vmt_ir_copy` maps
 * input objects (trace classes, traces, stream classes, streams, packets,
 * event classes, clock classes) to their copies and copies messages, field
 * for field, keeping every upstream ID. The hooks below are the only
 * places where a copy may differ from its input.
 *
 * The copy is eager: the first time a trace class is seen, all its stream
 * classes and event classes are copied, because `sink.text.details` and
 * `sink.ctf.fs` print a whole trace class at first sight. Event classes
 * added to an input stream class later are copied when first seen.
 */
#ifndef VMTRACE_LIB_IR_COPY_H
#define VMTRACE_LIB_IR_COPY_H

#include "lib/log.h"

#include <stdbool.h>
#include <stdint.h>

#include <babeltrace2/babeltrace.h>

#include "lib/status.h"

struct vmt_ir_copy;

/* Every hook is optional (NULL). `user` is the `user` given to `vmt_ir_copy_create()`. */
struct vmt_ir_copy_hooks {
	/*
	 * Returns the clock class that the copy of a stream class (and of an
	 * inactivity message) whose input clock class is `in_cc` uses instead
	 * of a copy of `in_cc`; NULL means "copy `in_cc`". Borrowed: the
	 * caller keeps it alive as long as the copy exists.
	 */
	bt_clock_class *(*borrow_out_clock_class)(void *user, const bt_clock_class *in_cc);

	/*
	 * Converts a clock snapshot of `in_stream` (NULL for an inactivity
	 * message), in ns from origin of its input clock class, into ns from
	 * origin of the output clock class. Without this hook, raw clock values
	 * are copied unchanged. With it, the copy turns the result into a raw
	 * value of the output clock class, clamps it so that it never goes back
	 * in time on an output stream nor below 0, and counts the clamps.
	 */
	int64_t (*convert_ns)(void *user, const bt_stream *in_stream, int64_t in_ns);

	/*
	 * Called once per copied stream class, after its event common context
	 * was copied and before its event classes are. `*out_struct` is the
	 * copied common context structure, or NULL when the input has none;
	 * the hook may append members to it, or, when it is NULL, create a
	 * structure (giving the copy its reference). Members the hook adds
	 * must come after the input's.
	 */
	enum vmt_status (*extend_common_context)(void *user, const bt_stream_class *in_sc,
						 bt_trace_class *out_tc,
						 bt_field_class **out_struct);

	/*
	 * Called once per copied event, after every input field was copied,
	 * to fill the members `extend_common_context` added.
	 */
	enum vmt_status (*fill_event)(void *user, const bt_message *in_msg, bt_event *out_event);

	/*
	 * Called once per output trace, right after its creation and before
	 * its first stream, e.g. to add environment entries.
	 */
	enum vmt_status (*init_out_trace)(void *user, const bt_trace *in_trace,
					  bt_trace *out_trace);
};

/*
 * Creates an empty copy context whose messages are created by `self_iter`.
 * `hooks` and `log` are borrowed and must outlive the copy; `hooks` may be
 * NULL (no hook). Returns NULL on memory exhaustion.
 */
struct vmt_ir_copy *vmt_ir_copy_create(bt_self_message_iterator *self_iter,
				       const struct vmt_ir_copy_hooks *hooks, void *user,
				       const struct vmt_log_ctx *log);

/* Destroys `copy` and puts every reference it holds; NULL is allowed. */
void vmt_ir_copy_destroy(struct vmt_ir_copy *copy);

/*
 * Copies `in_msg` (borrowed) into `*out_msg` (a new reference owned by the
 * caller). On error, appends a cause and returns VMT_STATUS_ERROR or
 * VMT_STATUS_MEMORY_ERROR (or a hook's status); `*out_msg` is then NULL.
 * An error may leave output classes half copied, and Babeltrace aborts on
 * some retries (a duplicate ID): after one, only destroy the copy.
 */
enum vmt_status vmt_ir_copy_message(struct vmt_ir_copy *copy, const bt_message *in_msg,
				    bt_message **out_msg);

/* Number of clock snapshots that `convert_ns` moved back and the copy clamped. */
uint64_t vmt_ir_copy_clamp_count(const struct vmt_ir_copy *copy);

/* Borrows the copy of `in_trace`, or NULL if it was not copied yet. */
bt_trace *vmt_ir_copy_borrow_out_trace(struct vmt_ir_copy *copy, const bt_trace *in_trace);

#endif /* VMTRACE_LIB_IR_COPY_H */
