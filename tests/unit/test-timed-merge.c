/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the timed merge (lib/timed-merge.c): whatever the batch
 * sizes, the progress reported and the threads publishing, the notes are
 * applied exactly once each, in (time, stream, order in stream) order, and
 * only notes newer than the slowest stream wait. A stream that runs ahead
 * is held: it yields to its own group's streams and waits for other running
 * groups, so the notes waiting stay few, and a group that is not running,
 * or has failed, holds nobody up.
 */
#include <stdio.h>

#include <glib.h>

#include "lib/timed-merge.h"

#include "tap.h"

#define STREAMS 5
#define NOTES 400

struct note {
	int64_t ns; /* First: the merge's sort key. */
	guint stream;
	guint index;
};

/* What the merge applied. TAP output is not thread-safe: threads only count. */
struct applied {
	GArray *notes; /* struct note, in the order applied. */
	guint wrong_stream_count;
};

struct stream_plan {
	struct note notes[NOTES];
	guint count;
};

static void apply(void *ctx, guint stream, const void *data)
{
	struct applied *applied = ctx;
	const struct note *note = data;

	/* Called under the merge's lock: no other synchronisation is needed. */
	applied->wrong_stream_count += note->stream != stream;
	g_array_append_val(applied->notes, *note);
}

/* Random non-decreasing times with many ties, within and across streams. */
static void plan_streams(GRand *rand, struct stream_plan *plans)
{
	for (guint s = 0; s < STREAMS; s++) {
		int64_t ns = g_rand_int_range(rand, 0, 50);

		plans[s].count = (guint) g_rand_int_range(rand, 0, NOTES);
		for (guint i = 0; i < plans[s].count; i++) {
			ns += g_rand_int_range(rand, 0, 4);
			plans[s].notes[i] = (struct note){ ns, s, i };
		}
	}
}

static gint compare_notes(gconstpointer a, gconstpointer b)
{
	const struct note *x = a, *y = b;

	if (x->ns != y->ns) {
		return x->ns < y->ns ? -1 : 1;
	}
	if (x->stream != y->stream) {
		return x->stream < y->stream ? -1 : 1;
	}
	return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * Publishes stream `s` in random batches, each with a progress at or before
 * its next note; returns how many batches the merge did not take.
 */
static guint publish_stream(struct vmt_timed_merge *merge, GRand *rand,
			    const struct stream_plan *plan, guint s)
{
	guint kept = 0;
	GArray *batch = g_array_new(FALSE, FALSE, sizeof(struct note));
	guint i = 0;

	while (i < plan->count) {
		guint n = (guint) g_rand_int_range(rand, 0, 20);
		int64_t progress;

		for (; n > 0 && i < plan->count; n--, i++) {
			g_array_append_val(batch, plan->notes[i]);
		}
		progress = i < plan->count ? plan->notes[i].ns : INT64_MAX;
		vmt_timed_merge_publish(merge, s, batch, progress, false);
		kept += batch->len != 0;
	}
	vmt_timed_merge_publish(merge, s, batch, INT64_MAX, true);
	g_array_unref(batch);
	return kept;
}

struct worker {
	struct vmt_timed_merge *merge;
	const struct stream_plan *plans;
	guint first_stream;
	guint32 seed;
	guint kept;
};

/* Publishes every other stream, starting at `first_stream`. */
static gpointer run_worker(gpointer data)
{
	struct worker *worker = data;
	GRand *rand = g_rand_new_with_seed(worker->seed);

	for (guint s = worker->first_stream; s < STREAMS; s += 2) {
		worker->kept += publish_stream(worker->merge, rand, &worker->plans[s], s);
	}
	g_rand_free(rand);
	return NULL;
}

static void check_order(const struct applied *applied, const struct stream_plan *plans,
			const char *what)
{
	GArray *expected = g_array_new(FALSE, FALSE, sizeof(struct note));
	bool same;

	for (guint s = 0; s < STREAMS; s++) {
		g_array_append_vals(expected, plans[s].notes, plans[s].count);
	}
	g_array_sort(expected, compare_notes);
	same = expected->len == applied->notes->len;
	for (guint i = 0; same && i < expected->len; i++) {
		same = compare_notes(&g_array_index(expected, struct note, i),
				     &g_array_index(applied->notes, struct note, i)) == 0;
	}
	OK(same, "%s: %u notes applied once each in (time, stream, index) order", what,
	   expected->len);
	g_array_unref(expected);
}

static void run_case(guint32 seed, bool is_threaded)
{
	struct stream_plan *plans = g_new0(struct stream_plan, STREAMS);
	struct applied applied = { g_array_new(FALSE, FALSE, sizeof(struct note)), 0 };
	GRand *rand = g_rand_new_with_seed(seed);
	struct vmt_timed_merge *merge;
	guint kept = 0;
	char what[64];

	plan_streams(rand, plans);
	merge = vmt_timed_merge_create(STREAMS, sizeof(struct note), G_MAXUINT, apply, &applied);
	if (is_threaded) {
		struct worker workers[2] = { { merge, plans, 0, seed + 1, 0 },
					     { merge, plans, 1, seed + 2, 0 } };
		GThread *thread = g_thread_new("merge-test", run_worker, &workers[1]);

		run_worker(&workers[0]);
		g_thread_join(thread);
		kept = workers[0].kept + workers[1].kept;
	} else {
		for (guint s = 0; s < STREAMS; s++) {
			kept += publish_stream(merge, rand, &plans[s], s);
		}
	}
	vmt_timed_merge_finish(merge);
	snprintf(what, sizeof(what), "seed %u, %s", seed, is_threaded ? "2 threads" : "1 thread");
	IS_I64(kept, 0, "every published batch is taken (emptied)");
	IS_I64(applied.wrong_stream_count, 0, "every note applied as its own stream's");
	check_order(&applied, plans, what);
	vmt_timed_merge_destroy(merge);
	g_array_unref(applied.notes);
	g_rand_free(rand);
	g_free(plans);
}

/* Streams that report progress keep the waiting notes few. */
static void test_bounded_waiting(void)
{
	struct applied applied = { g_array_new(FALSE, FALSE, sizeof(struct note)), 0 };
	struct vmt_timed_merge *merge =
		vmt_timed_merge_create(2, sizeof(struct note), G_MAXUINT, apply, &applied);
	GArray *batch = g_array_new(FALSE, FALSE, sizeof(struct note));

	for (int64_t t = 0; t < 1000; t++) {
		for (guint s = 0; s < 2; s++) {
			struct note note = { t, s, (guint) t };

			g_array_append_val(batch, note);
			vmt_timed_merge_publish(merge, s, batch, t + 1, false);
		}
	}
	OK(vmt_timed_merge_peak_waiting(merge) <= 4, "lock-step streams: at most %u notes wait",
	   vmt_timed_merge_peak_waiting(merge));
	OK(applied.notes->len >= 1996, "lock-step streams: %u of 2000 notes applied before the end",
	   applied.notes->len);
	vmt_timed_merge_publish(merge, 0, batch, INT64_MAX, true);
	vmt_timed_merge_publish(merge, 1, batch, INT64_MAX, true);
	vmt_timed_merge_finish(merge);
	IS_I64(applied.notes->len, 2000, "lock-step streams: every note applied");
	vmt_timed_merge_destroy(merge);
	g_array_unref(batch);
	g_array_unref(applied.notes);
}

/* The notes waiting at once, at most, when every stream is held beyond `max_waiting`. */
#define HELD_MAX_WAITING 8
#define HELD_BATCH 4
#define HELD_BOUND (2 * (HELD_MAX_WAITING + HELD_BATCH))

/*
 * Stream `s`'s plan: NOTES notes, `per_batch` of them per batch, times
 * advancing by `step` per note: a small step is a stream dense in time.
 */
static void plan_steady(struct stream_plan *plan, guint s, int64_t step)
{
	plan->count = NOTES;
	for (guint i = 0; i < NOTES; i++) {
		plan->notes[i] = (struct note){ (int64_t) i * step, s, i };
	}
}

/* Where one stream's reading stands. */
struct reader {
	const struct stream_plan *plan;
	guint stream;
	guint next;
	bool is_held;
	bool is_done;
};

/*
 * Reads one batch of `reader`'s stream as a graph's sink would: a held
 * stream asks for its turn first. Returns false if it yielded.
 */
static bool read_batch(struct vmt_timed_merge *merge, struct reader *reader, GArray *batch)
{
	guint n;

	if (reader->is_held) {
		if (vmt_timed_merge_take_turn(merge, reader->stream) == VMT_TIMED_MERGE_YIELD) {
			return false;
		}
		reader->is_held = false;
	}
	for (n = 0; n < HELD_BATCH && reader->next < reader->plan->count; n++) {
		g_array_append_val(batch, reader->plan->notes[reader->next++]);
	}
	reader->is_done = reader->next == reader->plan->count;
	reader->is_held = vmt_timed_merge_publish(
		merge, reader->stream, batch,
		reader->is_done ? INT64_MAX : reader->plan->notes[reader->next].ns,
		reader->is_done);
	return true;
}

/*
 * A group's thread: reads its streams round-robin, as a graph runs its
 * sinks, between the started and ended calls.
 */
struct group_thread {
	struct vmt_timed_merge *merge;
	struct reader *readers;
	guint count;
	guint group;
	/* Sleep this long after each batch (a slower thread). */
	gulong pause_us;
	/* Stop after this many batches, as on a failure (0: read to the end). */
	guint fail_after;
	/* Out: how many times a held stream let another of the group read first. */
	guint yields;
};

static gpointer run_group(gpointer data)
{
	struct group_thread *g = data;
	GArray *batch = g_array_new(FALSE, FALSE, sizeof(struct note));
	guint batches = 0, left = g->count;

	vmt_timed_merge_group_started(g->merge, g->group);
	while (left && !(g->fail_after && batches == g->fail_after)) {
		left = 0;
		for (guint r = 0; r < g->count; r++) {
			if (!g->readers[r].is_done) {
				bool has_read = read_batch(g->merge, &g->readers[r], batch);

				batches += has_read;
				g->yields += !has_read;
				left += !g->readers[r].is_done;
				if (g->pause_us) {
					g_usleep(g->pause_us);
				}
			}
		}
	}
	vmt_timed_merge_group_ended(g->merge, g->group);
	g_array_unref(batch);
	return NULL;
}

/* Two streams of NOTES notes each, stream 1's `step` times sparser in time, and their merge. */
struct held_case {
	struct stream_plan *plans; /* STREAMS of them (check_order reads STREAMS). */
	struct applied applied;
	struct vmt_timed_merge *merge;
	struct reader readers[2];
};

static void held_case_init(struct held_case *c, guint max_waiting, int64_t step)
{
	c->plans = g_new0(struct stream_plan, STREAMS);
	c->applied = (struct applied){ g_array_new(FALSE, FALSE, sizeof(struct note)), 0 };
	c->merge = vmt_timed_merge_create(2, sizeof(struct note), max_waiting, apply, &c->applied);
	for (guint s = 0; s < 2; s++) {
		plan_steady(&c->plans[s], s, s ? step : 1);
		c->readers[s] = (struct reader){ &c->plans[s], s, 0, false, false };
	}
}

static void held_case_fini(struct held_case *c)
{
	vmt_timed_merge_destroy(c->merge);
	g_array_unref(c->applied.notes);
	g_free(c->plans);
}

/*
 * One thread, one group: stream 0's notes are 100 times denser in time
 * than stream 1's, so round-robin reading runs stream 1 far ahead.
 */
static void test_held_stream_yields_to_its_group(guint max_waiting)
{
	struct held_case c;
	struct group_thread group;
	bool is_bounded = max_waiting == HELD_MAX_WAITING;
	guint yields;

	held_case_init(&c, max_waiting, 100);
	group = (struct group_thread){ c.merge, c.readers, 2, 0, 0, 0, 0 };
	run_group(&group);
	yields = group.yields;
	vmt_timed_merge_finish(c.merge);
	check_order(&c.applied, c.plans, is_bounded ? "one group, held" : "one group, unbounded");
	if (is_bounded) {
		OK(vmt_timed_merge_peak_waiting(c.merge) <= HELD_BOUND,
		   "one group, held: at most %u notes waited (bound %u)",
		   vmt_timed_merge_peak_waiting(c.merge), HELD_BOUND);
		OK(yields > 0 && yields == vmt_timed_merge_yield_count(c.merge),
		   "one group, held: the stream ahead yielded %u times", yields);
		IS_I64(vmt_timed_merge_wait_count(c.merge), 0,
		       "one group: nobody waits for a thread");
	} else {
		/* The contrast: without holding, the stream ahead piles its notes up. */
		OK(vmt_timed_merge_peak_waiting(c.merge) > NOTES / 2,
		   "one group, unbounded: %u notes waited", vmt_timed_merge_peak_waiting(c.merge));
		IS_I64(yields, 0, "one group, unbounded: no stream yields");
	}
	held_case_fini(&c);
}

/*
 * Two threads, one stream each, same time density: group 1's thread is
 * slow, so group 0's stream runs ahead and must wait for it; or group 1
 * fails early, and group 0's stream must not wait for it any more.
 */
static void test_held_stream_waits_for_other_thread(bool is_failing)
{
	struct held_case c;
	struct group_thread groups[2];
	const char *what = is_failing ? "other thread fails" : "other thread slow";
	GThread *thread;

	held_case_init(&c, HELD_MAX_WAITING, 1);
	groups[0] = (struct group_thread){ c.merge, &c.readers[0], 1, 0, 0, 0, 0 };
	groups[1] =
		(struct group_thread){ c.merge, &c.readers[1], 1, 1, 200, is_failing ? 20 : 0, 0 };
	vmt_timed_merge_set_group(c.merge, 1, 1);
	/* Group 1 runs before group 0 reads, so that group 0 has someone to wait for. */
	vmt_timed_merge_group_started(c.merge, 1);
	thread = g_thread_new("merge-test-slow", run_group, &groups[1]);
	run_group(&groups[0]);
	g_thread_join(thread);
	vmt_timed_merge_finish(c.merge);
	if (is_failing) {
		/* Stream 1 published only its first batches: what was published is applied, in order. */
		c.plans[1].count = c.readers[1].next;
		OK(c.readers[0].is_done, "%s: the other stream is still read to its end", what);
	} else {
		OK(vmt_timed_merge_peak_waiting(c.merge) <= HELD_BOUND,
		   "%s: at most %u notes waited (bound %u)", what,
		   vmt_timed_merge_peak_waiting(c.merge), HELD_BOUND);
	}
	OK(vmt_timed_merge_wait_count(c.merge) > 0, "%s: the stream ahead waited %u times", what,
	   vmt_timed_merge_wait_count(c.merge));
	check_order(&c.applied, c.plans, what);
	held_case_fini(&c);
}

/*
 * Group 1 has not started (its thread could not, and it will run after
 * group 0): group 0's stream reads on, whatever waits, instead of waiting
 * forever.
 */
static void test_group_not_running_is_not_waited_for(void)
{
	struct held_case c;
	struct group_thread groups[2];

	held_case_init(&c, HELD_MAX_WAITING, 1);
	groups[0] = (struct group_thread){ c.merge, &c.readers[0], 1, 0, 0, 0, 0 };
	groups[1] = (struct group_thread){ c.merge, &c.readers[1], 1, 1, 0, 0, 0 };
	vmt_timed_merge_set_group(c.merge, 1, 1);
	run_group(&groups[0]);
	OK(c.readers[0].is_done, "group 1 not running: group 0 read to its end");
	run_group(&groups[1]);
	vmt_timed_merge_finish(c.merge);
	IS_I64(vmt_timed_merge_wait_count(c.merge), 0, "group 1 not running: nobody waited");
	check_order(&c.applied, c.plans, "serial groups");
	held_case_fini(&c);
}

/* Publishes notes at times `from`..`to` (one each), then progress `to` + 1. */
static bool publish_range(struct vmt_timed_merge *merge, guint s, int64_t from, int64_t to)
{
	GArray *batch = g_array_new(FALSE, FALSE, sizeof(struct note));
	bool is_held;

	for (int64_t ns = from; ns <= to; ns++) {
		struct note note = { ns, s, (guint) (ns - from) };

		g_array_append_val(batch, note);
	}
	is_held = vmt_timed_merge_publish(merge, s, batch, to + 1, false);
	g_array_unref(batch);
	return is_held;
}

struct late_progress {
	struct vmt_timed_merge *merge;
	guint stream;
	int64_t progress_ns;
};

/* After a while, the other thread's stream reads on (no notes). */
static gpointer publish_late(gpointer data)
{
	struct late_progress *late = data;
	GArray *none = g_array_new(FALSE, FALSE, sizeof(struct note));

	g_usleep(20000);
	vmt_timed_merge_publish(late->merge, late->stream, none, late->progress_ns, false);
	g_array_unref(none);
	return NULL;
}

/*
 * Streams a and b are read by one thread, c by another that lags: a, held
 * by c only, lets b read rather than block its thread; once b is held too
 * (by a), a waits for c.
 */
static void test_held_stream_lets_its_group_work(void)
{
	struct applied applied = { g_array_new(FALSE, FALSE, sizeof(struct note)), 0 };
	struct vmt_timed_merge *merge =
		vmt_timed_merge_create(3, sizeof(struct note), HELD_MAX_WAITING, apply, &applied);
	struct late_progress late = { merge, 2, 1000 };
	GArray *none = g_array_new(FALSE, FALSE, sizeof(struct note));
	enum vmt_timed_merge_turn turn;
	GThread *thread;

	vmt_timed_merge_set_group(merge, 2, 1);
	vmt_timed_merge_group_started(merge, 0);
	vmt_timed_merge_group_started(merge, 1);
	vmt_timed_merge_publish(merge, 2, none, 0, false);
	vmt_timed_merge_publish(merge, 1, none, 100, false);
	OK(publish_range(merge, 0, 1, 20), "a with 20 notes waiting for c is held");
	IS_I64(vmt_timed_merge_take_turn(merge, 0), VMT_TIMED_MERGE_YIELD,
	       "a held by the other thread's c yields to b, which may read");
	OK(publish_range(merge, 1, 101, 120), "b with 20 notes waiting is held");
	IS_I64(vmt_timed_merge_take_turn(merge, 1), VMT_TIMED_MERGE_YIELD,
	       "b held by a (same thread) yields to it");
	thread = g_thread_new("merge-test-late", publish_late, &late);
	turn = vmt_timed_merge_take_turn(merge, 0);
	g_thread_join(thread);
	IS_I64(turn, VMT_TIMED_MERGE_READ,
	       "a, with its whole thread held, waits for c, then reads");
	OK(vmt_timed_merge_wait_count(merge) >= 1, "a waited (%u wake-ups)",
	   vmt_timed_merge_wait_count(merge));
	IS_I64(applied.notes->len, 20, "c's progress released a's 20 notes (b's wait for a)");
	vmt_timed_merge_finish(merge);
	IS_I64(applied.notes->len, 40, "every note applied at the end");
	vmt_timed_merge_destroy(merge);
	g_array_unref(none);
	g_array_unref(applied.notes);
}

int main(void)
{
	for (guint32 seed = 1; seed <= 20; seed++) {
		run_case(seed, false);
		run_case(seed, true);
	}
	test_bounded_waiting();
	test_held_stream_yields_to_its_group(HELD_MAX_WAITING);
	test_held_stream_yields_to_its_group(G_MAXUINT);
	test_held_stream_waits_for_other_thread(false);
	test_held_stream_waits_for_other_thread(true);
	test_group_not_running_is_not_waited_for();
	test_held_stream_lets_its_group_work();
	return tap_done();
}
