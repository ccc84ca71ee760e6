/* SPDX-License-Identifier: MIT */
/*
 * From generated events to ordered output, in two stages:
 *
 * 1. A reorder heap keyed by true host time. The scheduler generates events
 *    slightly out of order (a guest window's events are made when it
 *    closes, multi-event bursts run ahead), but never below the watermark
 *    it passes to vmsim_release(). Released events get strictly increasing
 *    true times (a tie is broken by moving the later event 1 ns), which is
 *    how no two events of the whole world share a true time. The truth
 *    model sees events here, in true-time order.
 *
 * 2. Per-trace queues ordered by recorded ns from origin, merged so that
 *    the source emits messages in non-decreasing ns from origin across all
 *    traces (guest clocks are off by milliseconds): a head is emitted only
 *    when no trace can still produce an earlier one.
 */
#include <string.h>

#include "heap.h"
#include "vmsim.h"

static bool rec_less(const void *left, const void *right)
{
	const struct vmsim_rec *a = left, *b = right;

	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

struct vmsim_rec *vmsim_rec_new(struct vmsim *sim, int64_t t, enum vmsim_kind kind, int trace,
				int cpu)
{
	struct vmsim_rec *r = &sim->scratch;

	memset(r, 0, sizeof(*r));
	r->t = t;
	r->kind = (uint16_t) kind;
	r->trace = (uint16_t) trace;
	r->cpu = (uint16_t) cpu;
	r->ref[0] = -1;
	r->ref[1] = -1;
	return r;
}

void vmsim_rec_push(struct vmsim *sim)
{
	sim->scratch.seq = sim->seq++;
	if (sim->scratch.kind < VMSIM_EV_COUNT) {
		sim->generated++;
		if (sim->scratch.trace == 0) {
			sim->max_host_gen_t = MAX(sim->max_host_gen_t, sim->scratch.t);
		}
	}
	vmsim_heap_push(sim->heap, &sim->scratch, rec_less);
}

static void heap_pop(struct vmsim *sim, struct vmsim_rec *out)
{
	vmsim_heap_pop(sim->heap, out, rec_less);
}

static void queue_push(struct vmsim_trace *tr, const struct vmsim_rec *rec)
{
	if (tr->q_len == tr->q_cap) {
		size_t cap = tr->q_cap ? tr->q_cap * 2 : 1024;
		struct vmsim_rec *q = g_new(struct vmsim_rec, cap);

		for (size_t i = 0; i < tr->q_len; i++) {
			q[i] = tr->q[(tr->q_head + i) % tr->q_cap];
		}
		g_free(tr->q);
		tr->q = q;
		tr->q_cap = cap;
		tr->q_head = 0;
	}
	tr->q[(tr->q_head + tr->q_len) % tr->q_cap] = *rec;
	tr->q_len++;
}

static int64_t rec_nfo(const struct vmsim *sim, const struct vmsim_trace *tr, int64_t t)
{
	if (tr->kind == VMSIM_TRACE_GUEST) {
		return tr->offset_ns + vmsim_guest_mono(tr->vm, t);
	}
	return sim->host_origin_ns + t;
}

/* Releases one record; returns false when it was dropped. */
static bool release_one(struct vmsim *sim, struct vmsim_rec *rec)
{
	struct vmsim_trace *tr = sim->traces[rec->trace];

	if (rec->kind >= VMSIM_EV_COUNT) {
		if ((rec->kind == VMSIM_CTL_TRACE_END) != tr->begun || tr->ended) {
			return false;
		}
		rec->t = MAX(rec->t, sim->last_released_t);
		tr->begun = true;
		tr->ended = rec->kind == VMSIM_CTL_TRACE_END;
		if (tr->ended) {
			tr->end_t = rec->t;
		}
	} else {
		if (!tr->begun || tr->ended ||
		    (tr->kind == VMSIM_TRACE_GUEST && !sim->guest_kind_kept[rec->kind])) {
			return false;
		}
		rec->t = sim->last_released_t == INT64_MIN ? rec->t :
							     MAX(rec->t, sim->last_released_t + 1);
		tr->events++;
		tr->kind_counts[rec->kind]++;
		sim->released++;
		if (rec->trace == 0) {
			sim->last_host_t = rec->t;
		}
	}
	sim->last_released_t = rec->t;
	rec->nfo = rec_nfo(sim, tr, rec->t);
	if (sim->truth) {
		vmsim_truth_handle(sim, rec);
	}
	queue_push(tr, rec);
	return true;
}

void vmsim_release(struct vmsim *sim, int64_t watermark)
{
	struct vmsim_rec rec;

	while (sim->heap->len &&
	       ((const struct vmsim_rec *) (const void *) sim->heap->data)->t < watermark) {
		heap_pop(sim, &rec);
		release_one(sim, &rec);
	}
}

/* Lower bound of the recorded time of anything `tr` can still receive. */
static int64_t future_bound(const struct vmsim *sim, const struct vmsim_trace *tr)
{
	if (sim->last_released_t == INT64_MIN) {
		return INT64_MIN;
	}
	return rec_nfo(sim, tr, sim->last_released_t) - 1;
}

bool vmsim_merge_pop(struct vmsim *sim, struct vmsim_rec *out)
{
	int best = -1;
	int64_t best_nfo = 0, bound = INT64_MAX;
	struct vmsim_trace *tr;

	for (int i = 0; i < sim->ntraces; i++) {
		tr = sim->traces[i];
		if (tr->emitted_end || (sim->finished && !tr->begun)) {
			continue;
		}
		if (tr->q_len) {
			int64_t nfo = tr->q[tr->q_head].nfo;

			if (best < 0 || nfo < best_nfo) {
				best = i;
				best_nfo = nfo;
			}
		} else if (!sim->finished) {
			bound = MIN(bound, future_bound(sim, tr));
		}
	}
	if (best < 0 || best_nfo > bound) {
		return false;
	}
	tr = sim->traces[best];
	*out = tr->q[tr->q_head];
	g_assert(out->nfo >= sim->last_emitted_nfo);
	sim->last_emitted_nfo = out->nfo;
	tr->q_head = (tr->q_head + 1) % tr->q_cap;
	tr->q_len--;
	if (out->kind == VMSIM_CTL_TRACE_END) {
		tr->emitted_end = true;
	}
	return true;
}

/* Latest host kernel event at or before the end (released or pending). */
static int64_t last_host_time(const struct vmsim *sim)
{
	int64_t last = sim->last_host_t;
	const struct vmsim_rec *h = (const struct vmsim_rec *) (const void *) sim->heap->data;

	for (guint i = 0; i < sim->heap->len; i++) {
		if (h[i].trace == 0 && h[i].kind < VMSIM_EV_COUNT && h[i].t <= sim->end_t) {
			last = MAX(last, h[i].t);
		}
	}
	return last;
}

void vmsim_finish(struct vmsim *sim)
{
	int64_t host_last = last_host_time(sim);
	struct vmsim_rec rec;

	/* Guests stop before the host's last event; close open windows. */
	for (int i = 0; i < sim->nvms; i++) {
		sim->vms[i]->guest_end_t = MIN(sim->vms[i]->guest_end_t, host_last);
	}
	vmsim_vcpu_close_windows(sim, host_last);
	while (sim->heap->len) {
		heap_pop(sim, &rec);
		if (rec.t > sim->end_t && rec.kind != VMSIM_CTL_TRACE_END) {
			continue;
		}
		if (rec.trace == sim->ust_trace && rec.kind < VMSIM_EV_COUNT &&
		    rec.t >= host_last) {
			continue;
		}
		release_one(sim, &rec);
	}
	sim->t_end = sim->last_host_t;
	for (int i = 0; i < sim->ntraces; i++) {
		if (sim->traces[i]->begun && !sim->traces[i]->ended) {
			vmsim_rec_new(sim, sim->t_end, VMSIM_CTL_TRACE_END, i, 0);
			rec = sim->scratch;
			release_one(sim, &rec);
		}
	}
	sim->finished = true;
	if (sim->truth) {
		vmsim_truth_finish(sim);
	}
}
