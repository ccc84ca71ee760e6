/* SPDX-License-Identifier: MIT */
/*
 * Reads several CTF traces with `src.ctf.fs` and merges their messages in
 * time order, each trace optionally transformed (e.g. copied with its clock
 * converted) before merging.
 *
 * It replaces `flt.utils.muxer` inside `source.vmsync.fs`: the stock muxer
 * scans every upstream stream for every message (a dozen streams for a host
 * and two guests), while this merge keeps a binary heap. Ties are broken as
 * `flt.utils.muxer` breaks them between streams (trace UUID, trace name,
 * stream class ID, stream ID), and a message without a clock snapshot takes
 * the last time handed out, as there: with untransformed traces the order
 * is the muxer's, so `sink.text.details` output stays byte-identical.
 *
 * Each trace gets a private graph: `src.ctf.fs`, one simple sink per output
 * port. A sink only pulls when its stream's queue is empty, so the graph's
 * round-robin `bt_graph_run_once()` refills exactly the streams that need it.
 */
#ifndef VMTRACE_LIB_MERGE_H
#define VMTRACE_LIB_MERGE_H

#include "lib/log.h"

#include <stdint.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/ctf-graph.h"
#include "lib/status.h"

/*
 * Turns a message of a trace into the message to merge. `in` is a
 * reference the hook takes over; on success `*out` is a new reference
 * (possibly `in` itself). On failure the hook appends a cause, puts `in`
 * and returns an error status.
 */
typedef enum vmt_status (*vmt_merge_transform_func)(void *user, const bt_message *in,
						    const bt_message **out);

struct vmt_merge;

/* Creates an empty merge. `log` is borrowed. Never NULL. */
struct vmt_merge *vmt_merge_create(const struct vmt_log_ctx *log);

/* Destroys `merge`, its graphs and the messages it still holds; NULL allowed. */
void vmt_merge_destroy(struct vmt_merge *merge);

/*
 * Adds the trace in `paths` (see vmt_ctf_graph_add_source()), read by a
 * `src.ctf.fs` named `name`, its messages passed through `transform` (NULL:
 * as they are; `user` is given to it). On failure appends a cause naming
 * the trace.
 */
enum vmt_status vmt_merge_add_trace(struct vmt_merge *merge, const struct vmt_ctf_plugins *plugins,
				    const GPtrArray *paths, const char *trace_name,
				    const char *name, bt_logging_level level,
				    vmt_merge_transform_func transform, void *user);

/*
 * Moves up to `capacity` next messages, in time order, into `msgs` (new
 * references) and sets `*count`. Returns VMT_STATUS_OK (count > 0),
 * VMT_STATUS_END when every trace ended, VMT_STATUS_AGAIN, or an error
 * (with a cause).
 */
enum vmt_status vmt_merge_next(struct vmt_merge *merge, bt_message_array_const msgs,
			       uint64_t capacity, uint64_t *count);

#endif /* VMTRACE_LIB_MERGE_H */
