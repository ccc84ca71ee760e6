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
 * That alone does not bound them: streams read at their own pace, and one
 * read by a faster thread (or denser in time than the others of its thread)
 * runs ahead by an amount that grows with the trace. So a stream with more
 * than `max_waiting` notes waiting is held: it lets the other streams of
 * its group (those one thread reads) go first while one of them holds its
 * notes back, or while one of them is not held (the thread keeps working);
 * only when its whole group is held, by other running groups' streams,
 * does its thread wait for them. The stream furthest behind is never held
 * and holds back every held stream, so its own thread never waits and
 * reading always goes on; a group that is not running (yet) is not waited
 * for.
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

/*
 * A merge of `stream_count` streams whose notes are `note_size` bytes long;
 * a stream with more than `max_waiting` notes waiting is held (see above).
 * Every stream is in group 0 until vmt_timed_merge_set_group().
 */
struct vmt_timed_merge *vmt_timed_merge_create(guint stream_count, size_t note_size,
					       guint max_waiting, vmt_timed_merge_apply_func apply,
					       void *ctx);

void vmt_timed_merge_destroy(struct vmt_timed_merge *merge);

/* Stream `stream` is read by the thread of group `group` (< the stream count). */
void vmt_timed_merge_set_group(struct vmt_timed_merge *merge, guint stream, guint group);

/*
 * The thread of `group` starts reading, or has stopped (at the end of its
 * streams, or on a failure: its streams count as ended from then on).
 */
void vmt_timed_merge_group_started(struct vmt_timed_merge *merge, guint group);
void vmt_timed_merge_group_ended(struct vmt_timed_merge *merge, guint group);

/*
 * Stream `stream` has read up to time `progress_ns` (it will note nothing
 * earlier) and found `notes` (moved into the merge: emptied), or has ended
 * (`is_done`). Applies every note that can no longer be preceded. Returns
 * true if the stream has too many notes waiting: it must then call
 * vmt_timed_merge_take_turn() before each read until that says READ.
 */
bool vmt_timed_merge_publish(struct vmt_timed_merge *merge, guint stream, GArray *notes,
			     int64_t progress_ns, bool is_done);

enum vmt_timed_merge_turn {
	/* Read on. */
	VMT_TIMED_MERGE_READ,
	/* Read another stream of the same group first (e.g. return "again" to the graph). */
	VMT_TIMED_MERGE_YIELD,
};

/*
 * For a held stream: waits while its whole group is held by other running
 * groups' streams, then says whether it may read on, or should let another
 * stream of its group read first.
 */
enum vmt_timed_merge_turn vmt_timed_merge_take_turn(struct vmt_timed_merge *merge, guint stream);

/*
 * Once no stream publishes any more (all read, or reading stopped): applies
 * every note left, in order.
 */
void vmt_timed_merge_finish(struct vmt_timed_merge *merge);

/* The most notes that waited at once (for logs and tests of the memory bound; after the run). */
guint vmt_timed_merge_peak_waiting(const struct vmt_timed_merge *merge);

/*
 * How many times a held stream waited for another thread, and let its own
 * group's streams go first (for logs and tests; after the run).
 */
guint vmt_timed_merge_wait_count(const struct vmt_timed_merge *merge);
guint vmt_timed_merge_yield_count(const struct vmt_timed_merge *merge);

#endif /* VMTRACE_LIB_TIMED_MERGE_H */
