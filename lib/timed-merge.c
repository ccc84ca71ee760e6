/* SPDX-License-Identifier: MIT */
#define VMT_LOG_TAG "VMTRACE/TIMED-MERGE"
#include "lib/timed-merge.h"

#include "lib/log.h"

#include <pthread.h>
#include <string.h>

#include <glib.h>

/* One stream's published notes, not applied yet. Guarded by the merge's lock. */
struct merge_stream {
	GArray *queue; /* Owned: notes; those before `head` are applied. */
	guint head;
	/* The stream notes nothing earlier than this any more. */
	int64_t progress_ns;
	bool is_done;
	guint group;
};

struct vmt_timed_merge {
	/*
	 * A POSIX mutex, not a `GMutex`: GLib implements the latter on raw
	 * futexes, which valgrind's helgrind and DRD cannot see, so every access
	 * it guards would show as a race (scripts/ci-sanitizers.sh).
	 */
	pthread_mutex_t lock;
	/* Signalled whenever notes are applied or a group ends: held streams look again. */
	pthread_cond_t turn;
	struct merge_stream *streams; /* Owned: `stream_count` of them. */
	guint stream_count;
	size_t note_size;
	guint max_waiting;
	bool *group_running; /* Owned: `stream_count` of them (a group has a stream). */
	vmt_timed_merge_apply_func apply;
	void *ctx; /* Weak. */
	guint waiting;
	guint peak_waiting;
	guint wait_count;
	guint yield_count;
};

struct vmt_timed_merge *vmt_timed_merge_create(guint stream_count, size_t note_size,
					       guint max_waiting, vmt_timed_merge_apply_func apply,
					       void *ctx)
{
	struct vmt_timed_merge *merge = g_new0(struct vmt_timed_merge, 1);
	guint i;

	VMT_ASSERT(note_size >= sizeof(int64_t));
	pthread_mutex_init(&merge->lock, NULL);
	pthread_cond_init(&merge->turn, NULL);
	merge->streams = g_new0(struct merge_stream, MAX(stream_count, 1));
	merge->group_running = g_new0(bool, MAX(stream_count, 1));
	merge->stream_count = stream_count;
	merge->note_size = note_size;
	merge->max_waiting = max_waiting;
	merge->apply = apply;
	merge->ctx = ctx;
	for (i = 0; i < stream_count; i++) {
		merge->streams[i].queue = g_array_new(FALSE, FALSE, (guint) note_size);
		merge->streams[i].progress_ns = INT64_MIN;
	}
	return merge;
}

void vmt_timed_merge_destroy(struct vmt_timed_merge *merge)
{
	guint i;

	if (!merge) {
		return;
	}
	for (i = 0; i < merge->stream_count; i++) {
		g_array_free(merge->streams[i].queue, TRUE);
	}
	g_free(merge->streams);
	g_free(merge->group_running);
	pthread_cond_destroy(&merge->turn);
	pthread_mutex_destroy(&merge->lock);
	g_free(merge);
}

static const void *head_note(const struct vmt_timed_merge *merge, const struct merge_stream *s)
{
	return s->queue->data + (size_t) s->head * merge->note_size;
}

static int64_t head_ns(const struct vmt_timed_merge *merge, const struct merge_stream *s)
{
	int64_t ns;

	memcpy(&ns, head_note(merge, s), sizeof(ns));
	return ns;
}

/* The stream whose first waiting note comes first (time, then stream index); G_MAXUINT if none. */
static guint pick_first(const struct vmt_timed_merge *merge)
{
	guint best = G_MAXUINT, i;
	int64_t best_ns = 0;

	for (i = 0; i < merge->stream_count; i++) {
		const struct merge_stream *s = &merge->streams[i];

		if (s->head < s->queue->len && (best == G_MAXUINT || head_ns(merge, s) < best_ns)) {
			best = i;
			best_ns = head_ns(merge, s);
		}
	}
	return best;
}

/*
 * No other stream can still publish a note that sorts before `ns` of
 * stream `first`. A stream with waiting notes cannot: they sort after it,
 * and its later ones after them.
 */
static bool is_final(const struct vmt_timed_merge *merge, guint first, int64_t ns)
{
	guint i;

	for (i = 0; i < merge->stream_count; i++) {
		const struct merge_stream *s = &merge->streams[i];

		if (i == first || s->is_done || s->head < s->queue->len) {
			continue;
		}
		if (s->progress_ns < ns || (s->progress_ns == ns && i < first)) {
			return false;
		}
	}
	return true;
}

/* Drops the applied notes once they are most of the queue (amortised O(1) per note). */
static void compact(struct merge_stream *s)
{
	if (s->head >= 1024 && s->head * 2 >= s->queue->len) {
		g_array_remove_range(s->queue, 0, s->head);
		s->head = 0;
	}
}

/* Applies notes in order while the first one is final. Called with the lock held. */
static void apply_ready(struct vmt_timed_merge *merge)
{
	guint first;

	while ((first = pick_first(merge)) != G_MAXUINT) {
		struct merge_stream *s = &merge->streams[first];

		if (!is_final(merge, first, head_ns(merge, s))) {
			return;
		}
		merge->apply(merge->ctx, first, head_note(merge, s));
		s->head++;
		merge->waiting--;
		compact(s);
	}
}

static guint stream_waiting(const struct merge_stream *s)
{
	return s->queue->len - s->head;
}

static bool is_held(const struct vmt_timed_merge *merge, const struct merge_stream *s)
{
	return !s->is_done && stream_waiting(s) > merge->max_waiting;
}

/* Applies what became final and lets the held streams look again. Called with the lock held. */
static void apply_and_signal(struct vmt_timed_merge *merge)
{
	apply_ready(merge);
	pthread_cond_broadcast(&merge->turn);
}

bool vmt_timed_merge_publish(struct vmt_timed_merge *merge, guint stream, GArray *notes,
			     int64_t progress_ns, bool is_done)
{
	struct merge_stream *s = &merge->streams[stream];
	bool held;

	VMT_ASSERT(stream < merge->stream_count);
	pthread_mutex_lock(&merge->lock);
	if (notes->len) {
		g_array_append_vals(s->queue, notes->data, notes->len);
		merge->waiting += notes->len;
		merge->peak_waiting = MAX(merge->peak_waiting, merge->waiting);
		g_array_set_size(notes, 0);
	}
	s->progress_ns = MAX(s->progress_ns, progress_ns);
	s->is_done |= is_done;
	apply_and_signal(merge);
	held = is_held(merge, s);
	pthread_mutex_unlock(&merge->lock);
	return held;
}

void vmt_timed_merge_set_group(struct vmt_timed_merge *merge, guint stream, guint group)
{
	VMT_ASSERT(stream < merge->stream_count && group < merge->stream_count);
	pthread_mutex_lock(&merge->lock);
	merge->streams[stream].group = group;
	pthread_mutex_unlock(&merge->lock);
}

void vmt_timed_merge_group_started(struct vmt_timed_merge *merge, guint group)
{
	VMT_ASSERT(group < merge->stream_count);
	pthread_mutex_lock(&merge->lock);
	merge->group_running[group] = true;
	pthread_mutex_unlock(&merge->lock);
}

void vmt_timed_merge_group_ended(struct vmt_timed_merge *merge, guint group)
{
	guint i;

	VMT_ASSERT(group < merge->stream_count);
	pthread_mutex_lock(&merge->lock);
	merge->group_running[group] = false;
	for (i = 0; i < merge->stream_count; i++) {
		merge->streams[i].is_done |= merge->streams[i].group == group;
	}
	apply_and_signal(merge);
	pthread_mutex_unlock(&merge->lock);
}

enum turn_decision { TURN_READ, TURN_YIELD, TURN_WAIT };

/* Another stream of `stream`'s group may read now (its thread has work besides waiting). */
static bool group_can_read(const struct vmt_timed_merge *merge, guint stream)
{
	guint i;

	for (i = 0; i < merge->stream_count; i++) {
		const struct merge_stream *t = &merge->streams[i];

		if (i != stream && t->group == merge->streams[stream].group && !t->is_done &&
		    !is_held(merge, t)) {
			return true;
		}
	}
	return false;
}

/*
 * What held stream `stream` should do now: YIELD if a stream of its own
 * group holds its first note back (that stream must read first), or if
 * only other running groups' streams do and a stream of its own group
 * may read meanwhile (the thread keeps working); WAIT if only other
 * running groups' streams hold it back and its whole group is held;
 * READ otherwise (nothing holds it, or a group that is not running does:
 * waiting for it could last forever). Called with the lock held.
 */
static enum turn_decision decide_turn(const struct vmt_timed_merge *merge, guint stream)
{
	const struct merge_stream *s = &merge->streams[stream];
	int64_t ns = head_ns(merge, s);
	bool others_hold = false;
	guint i;

	for (i = 0; i < merge->stream_count; i++) {
		const struct merge_stream *t = &merge->streams[i];

		if (i == stream || t->is_done ||
		    !(t->progress_ns < ns || (t->progress_ns == ns && i < stream))) {
			continue;
		}
		if (t->group == s->group) {
			return TURN_YIELD;
		}
		if (!merge->group_running[t->group]) {
			return TURN_READ;
		}
		others_hold = true;
	}
	if (!others_hold) {
		return TURN_READ;
	}
	return group_can_read(merge, stream) ? TURN_YIELD : TURN_WAIT;
}

enum vmt_timed_merge_turn vmt_timed_merge_take_turn(struct vmt_timed_merge *merge, guint stream)
{
	enum turn_decision decision;

	VMT_ASSERT(stream < merge->stream_count);
	pthread_mutex_lock(&merge->lock);
	for (;;) {
		decision = is_held(merge, &merge->streams[stream]) ? decide_turn(merge, stream) :
								     TURN_READ;
		if (decision != TURN_WAIT) {
			break;
		}
		merge->wait_count++;
		pthread_cond_wait(&merge->turn, &merge->lock);
	}
	merge->yield_count += decision == TURN_YIELD;
	pthread_mutex_unlock(&merge->lock);
	return decision == TURN_YIELD ? VMT_TIMED_MERGE_YIELD : VMT_TIMED_MERGE_READ;
}

void vmt_timed_merge_finish(struct vmt_timed_merge *merge)
{
	guint i;

	pthread_mutex_lock(&merge->lock);
	for (i = 0; i < merge->stream_count; i++) {
		merge->streams[i].is_done = true;
	}
	apply_and_signal(merge);
	pthread_mutex_unlock(&merge->lock);
}

guint vmt_timed_merge_peak_waiting(const struct vmt_timed_merge *merge)
{
	return merge->peak_waiting;
}

guint vmt_timed_merge_wait_count(const struct vmt_timed_merge *merge)
{
	return merge->wait_count;
}

guint vmt_timed_merge_yield_count(const struct vmt_timed_merge *merge)
{
	return merge->yield_count;
}
