/* SPDX-License-Identifier: MIT */
/*
 * Merging what several streams noted, in time order, while the streams are
 * read on several threads.
 *
 * A reading pass whose streams are read in no global order, some on other
 * threads (lib/parallel-read.h), cannot apply what each stream finds to its
 * shared state as it goes: that would race, and the result would depend on
 * the threads' timing. Keeping every stream's notes until all streams are
 * read costs memory in proportion to the trace. So each stream publishes
 * its notes (each starting with its time, non-decreasing within a stream)
 * together with how far it has read, and the merge applies them in the
 * total order (time, stream index, order within the stream) as soon as no
 * stream can still publish an earlier one. The order, and so the result,
 * is the same whatever the thread count, and only the notes newer than the
 * slowest stream wait in memory.
 *
 * Every call may run on any thread; the merge serialises them with one
 * mutex, under which it also runs the `apply` callback.
 */
#ifndef VMTRACE_LIB_TIMED_MERGE_H
#define VMTRACE_LIB_TIMED_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

/* Applies one note (whose first member is its `int64_t` time) of stream `stream`. */
typedef void (*vmt_timed_merge_apply_func)(void *ctx, guint stream, const void *note);

struct vmt_timed_merge;

/* A merge of `stream_count` streams whose notes are `note_size` bytes long. */
struct vmt_timed_merge *vmt_timed_merge_create(guint stream_count, size_t note_size,
					       vmt_timed_merge_apply_func apply, void *ctx);

void vmt_timed_merge_destroy(struct vmt_timed_merge *merge);

/*
 * Stream `stream` has read up to time `progress_ns` (it will note nothing
 * earlier) and found `notes` (moved into the merge: emptied), or has ended
 * (`is_done`). Applies every note that can no longer be preceded.
 */
void vmt_timed_merge_publish(struct vmt_timed_merge *merge, guint stream, GArray *notes,
			     int64_t progress_ns, bool is_done);

/*
 * Once no stream publishes any more (all read, or reading stopped): applies
 * every note left, in order.
 */
void vmt_timed_merge_finish(struct vmt_timed_merge *merge);

/* The most notes that waited at once (for logs and tests of the memory bound). */
guint vmt_timed_merge_peak_waiting(const struct vmt_timed_merge *merge);

#endif /* VMTRACE_LIB_TIMED_MERGE_H */
