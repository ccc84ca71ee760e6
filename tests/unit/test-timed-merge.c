/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the timed merge (lib/timed-merge.c): whatever the batch
 * sizes, the progress reported and the threads publishing, the notes are
 * applied exactly once each, in (time, stream, order in stream) order, and
 * only notes newer than the slowest stream wait.
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
	merge = vmt_timed_merge_create(STREAMS, sizeof(struct note), apply, &applied);
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
		vmt_timed_merge_create(2, sizeof(struct note), apply, &applied);
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

int main(void)
{
	for (guint32 seed = 1; seed <= 20; seed++) {
		run_case(seed, false);
		run_case(seed, true);
	}
	test_bounded_waiting();
	return tap_done();
}
