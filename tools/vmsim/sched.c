/* SPDX-License-Identifier: MIT */
/*
 * The host scheduler: a discrete-event simulation over pCPU steps and
 * timers. Each step happens at a time no earlier than the engine's clock
 * and emits events at or after it, which is what lets reorder.c release
 * events below the smallest pending step time (the watermark).
 */
#include <string.h>

#include "heap.h"
#include "vmsim.h"

/* ---- Timer heap (lazy deletion through generation numbers). ---- */

static bool timer_less(const void *left, const void *right)
{
	const struct vmsim_timer *a = left, *b = right;

	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

void vmsim_timer_push(struct vmsim *sim, int64_t t, int kind, int32_t arg, uint32_t gen)
{
	struct vmsim_timer tm = { .t = t, .seq = sim->seq++, .kind = kind, .arg = arg, .gen = gen };

	vmsim_heap_push(sim->timers, &tm, timer_less);
}

static void timer_pop(struct vmsim *sim, struct vmsim_timer *out)
{
	vmsim_heap_pop(sim->timers, out, timer_less);
}

static bool timer_is_valid(const struct vmsim *sim, const struct vmsim_timer *tm)
{
	const struct vmsim_thread *th;

	switch (tm->kind) {
	case VMSIM_TIMER_PCPU:
		return sim->pcpus[tm->arg].gen == tm->gen;
	case VMSIM_TIMER_WAKE:
		th = g_ptr_array_index(sim->threads, tm->arg);
		return th->wake_gen == tm->gen && th->state == VMSIM_TS_BLOCKED;
	default:
		return true;
	}
}

/* Drops stale timers at the top; returns the next valid one, or NULL. */
static const struct vmsim_timer *timer_top(struct vmsim *sim)
{
	struct vmsim_timer dropped;

	while (sim->timers->len) {
		const struct vmsim_timer *top = (const struct vmsim_timer *) sim->timers->data;

		if (timer_is_valid(sim, top)) {
			return top;
		}
		timer_pop(sim, &dropped);
	}
	return NULL;
}

void vmsim_pcpu_schedule(struct vmsim *sim, int p, int64_t t)
{
	struct vmsim_pcpu *pc = &sim->pcpus[p];

	pc->gen++;
	pc->next_t = t;
	vmsim_timer_push(sim, t, VMSIM_TIMER_PCPU, p, pc->gen);
}

/* ---- Helpers shared with vcpu.c. ---- */

int64_t vmsim_slice(struct vmsim *sim)
{
	return 100000 + vmsim_rng_exp_ns(sim, sim->k.slice_ms * 1e6);
}

int64_t vmsim_preempt_state(struct vmsim *sim)
{
	return vmsim_rng_chance(sim, sim->k.prev_state_256_prob) ? VMSIM_PS_PREEMPTED :
								   VMSIM_PS_RUNNING;
}

bool vmsim_has_candidate(const struct vmsim *sim, int p, const struct vmsim_thread *exclude)
{
	for (guint i = 0; i < sim->runq->len; i++) {
		const struct vmsim_thread *th = g_ptr_array_index(sim->runq, i);

		if (th != exclude && th->claimed_by < 0 && (th->pinned < 0 || th->pinned == p)) {
			return true;
		}
	}
	return false;
}

/* Oldest runnable thread last run on `p` (or never run), else the oldest. */
static struct vmsim_thread *pick_next(struct vmsim *sim, int p, const struct vmsim_thread *excl)
{
	struct vmsim_thread *local = NULL, *any = NULL;

	for (guint i = 0; i < sim->runq->len; i++) {
		struct vmsim_thread *th = g_ptr_array_index(sim->runq, i);

		if (th == excl || th->claimed_by >= 0 || (th->pinned >= 0 && th->pinned != p)) {
			continue;
		}
		if (!any || th->ready_t < any->ready_t) {
			any = th;
		}
		if ((th->cpu == p || th->cpu < 0) && (!local || th->ready_t < local->ready_t)) {
			local = th;
		}
	}
	if (local && !vmsim_rng_chance(sim, sim->k.migrate_prob)) {
		return local;
	}
	return any;
}

void vmsim_emit_irq_pair(struct vmsim *sim, int p, int64_t t0, int64_t t1)
{
	static const struct {
		int irq;
		const char *name;
	} irqs[] = { { 24, "nvme0q1" }, { 27, "eth0-TxRx-0" }, { 28, "eth0-TxRx-1" } };
	int k = (int) vmsim_rng_below(sim, G_N_ELEMENTS(irqs));
	struct vmsim_rec *r;

	if (!sim->k.irq_noise || t1 - t0 < 3) {
		return;
	}
	r = vmsim_rec_new(sim, t0, VMSIM_EV_IRQ_ENTRY, 0, p);
	r->v[0] = irqs[k].irq;
	r->str = irqs[k].name;
	vmsim_rec_push(sim);
	r = vmsim_rec_new(sim, vmsim_rng_range(sim, t0 + 1, t1 - 1), VMSIM_EV_IRQ_EXIT, 0, p);
	r->v[0] = irqs[k].irq;
	r->v[1] = 1;
	vmsim_rec_push(sim);
}

static void emit_switch(struct vmsim *sim, int p, int64_t t, const struct vmsim_thread *prev,
			int64_t prev_state, const struct vmsim_thread *next)
{
	struct vmsim_rec *r = vmsim_rec_new(sim, t, VMSIM_EV_SCHED_SWITCH, 0, p);

	vmsim_set_comm(r->c[0], prev->comm);
	r->v[0] = prev->tid;
	r->v[1] = prev->prio;
	r->v[2] = prev_state;
	vmsim_set_comm(r->c[1], next->comm);
	r->v[3] = next->tid;
	r->v[4] = next->prio;
	r->ref[0] = prev->id;
	r->ref[1] = next->id;
	vmsim_rec_push(sim);
}

static void runq_remove(struct vmsim *sim, struct vmsim_thread *th)
{
	g_ptr_array_remove_fast(sim->runq, th);
}

static void shorten_slice(struct vmsim *sim, int p, int64_t t)
{
	struct vmsim_pcpu *pc = &sim->pcpus[p];

	if (t >= pc->slice_end) {
		return;
	}
	pc->slice_end = t;
	if (pc->step == VMSIM_STEP_RUN_END && pc->next_t > t) {
		vmsim_pcpu_schedule(sim, p, t);
	} else if (pc->step == VMSIM_STEP_VCPU && pc->vstep == VMSIM_VS_EXIT && pc->next_t > t &&
		   pc->cur->in_guest) {
		vmsim_vcpu_cut(sim, p, pc->cur, t);
	}
}

static void make_runnable(struct vmsim *sim, struct vmsim_thread *th, int64_t t)
{
	int best = -1;

	th->state = VMSIM_TS_RUNNABLE;
	th->ready_t = t;
	g_ptr_array_add(sim->runq, th);
	for (int q = 0; q < sim->k.pcpus; q++) {
		const struct vmsim_pcpu *pc = &sim->pcpus[q];

		if (pc->cur == pc->idle && !pc->claimed && (best < 0 || q == th->cpu) &&
		    (th->pinned < 0 || th->pinned == q)) {
			best = q;
		}
	}
	if (best >= 0) {
		sim->pcpus[best].claimed = th;
		th->claimed_by = best;
		sim->pcpus[best].switch_state = VMSIM_PS_RUNNING;
		sim->pcpus[best].step = VMSIM_STEP_SWITCH;
		vmsim_pcpu_schedule(sim, best, t + vmsim_rng_range(sim, 2000, 30000));
	} else if (vmsim_rng_chance(sim, sim->k.wake_preempt_prob)) {
		int q = th->pinned >= 0 ? th->pinned :
			th->cpu >= 0	? th->cpu :
					  (int) vmsim_rng_below(sim, (uint64_t) sim->k.pcpus);

		shorten_slice(sim, q, t + vmsim_rng_range(sim, 5000, 50000));
	}
}

/* Emits `sched_waking` from some pCPU that is not in guest mode. */
static void emit_waking(struct vmsim *sim, const struct vmsim_thread *th, int64_t t)
{
	int q = (int) vmsim_rng_below(sim, (uint64_t) sim->k.pcpus);
	const struct vmsim_thread *cur = sim->pcpus[q].cur;
	struct vmsim_rec *r;

	if (!sim->k.sched_waking || (cur->kind == VMSIM_TK_VCPU && cur->in_guest)) {
		return;
	}
	r = vmsim_rec_new(sim, t, VMSIM_EV_SCHED_WAKING, 0, q);
	vmsim_set_comm(r->c[0], th->comm);
	r->v[0] = th->tid;
	r->v[1] = th->prio;
	r->v[2] = th->cpu >= 0 ? th->cpu : q;
	vmsim_rec_push(sim);
}

static void handle_wake(struct vmsim *sim, struct vmsim_thread *th, int64_t t)
{
	emit_waking(sim, th, t);
	make_runnable(sim, th, t);
}

void vmsim_thread_poke(struct vmsim *sim, struct vmsim_thread *th, int64_t t)
{
	struct vmsim_pcpu *pc;

	if (th->state == VMSIM_TS_BLOCKED) {
		th->wake_gen++;
		handle_wake(sim, th, t);
		return;
	}
	if (th->state != VMSIM_TS_RUNNING) {
		return;
	}
	pc = &sim->pcpus[th->cpu];
	if (th->kind == VMSIM_TK_VCPU) {
		if (th->in_guest && pc->vstep == VMSIM_VS_EXIT) {
			vmsim_vcpu_cut(sim, th->cpu, th, t + vmsim_rng_range(sim, 1000, 5000));
		}
	} else if (pc->step == VMSIM_STEP_RUN_END) {
		th->run_left -= MAX(0, t - pc->run_start);
		pc->step = VMSIM_STEP_TODO;
		vmsim_pcpu_schedule(sim, th->cpu, t + vmsim_rng_range(sim, 1000, 10000));
	}
}

/* ---- Noise threads. ---- */

static void noise_run(struct vmsim *sim, struct vmsim_pcpu *pc, struct vmsim_thread *th, int64_t t)
{
	int64_t end;

	if (th->run_left <= 0) {
		th->run_left = vmsim_rng_exp_ns(sim, th->run_mean_us * 1000.0);
	}
	pc->run_start = t;
	end = MIN(t + th->run_left, pc->slice_end);
	end = MAX(end, t + 1000);
	if (end - t > 20000 && vmsim_rng_chance(sim, 0.2)) {
		int64_t a = vmsim_rng_range(sim, t + 100, end - 10000);

		vmsim_emit_irq_pair(sim, pc->id, a, a + vmsim_rng_range(sim, 1000, 8000));
	}
	pc->step = VMSIM_STEP_RUN_END;
	vmsim_pcpu_schedule(sim, pc->id, end);
}

static void noise_switched_in(struct vmsim *sim, struct vmsim_pcpu *pc, struct vmsim_thread *th,
			      int64_t t)
{
	if (th->todo_len) {
		pc->step = VMSIM_STEP_TODO;
		vmsim_pcpu_schedule(sim, pc->id, t + vmsim_rng_range(sim, 5000, 30000));
		return;
	}
	noise_run(sim, pc, th, t);
}

static int64_t block_state(struct vmsim *sim, const struct vmsim_thread *th)
{
	if (th->kind == VMSIM_TK_KTHREAD) {
		return vmsim_rng_chance(sim, 0.7) ? VMSIM_PS_IDLE : VMSIM_PS_INTERRUPTIBLE;
	}
	return vmsim_rng_chance(sim, 0.1) ? VMSIM_PS_UNINTERRUPTIBLE : VMSIM_PS_INTERRUPTIBLE;
}

void vmsim_switch_at(struct vmsim *sim, int p, int64_t t, int64_t prev_state)
{
	sim->pcpus[p].switch_state = prev_state;
	sim->pcpus[p].step = VMSIM_STEP_SWITCH;
	vmsim_pcpu_schedule(sim, p, t);
}

static void noise_run_end(struct vmsim *sim, struct vmsim_pcpu *pc, struct vmsim_thread *th)
{
	int64_t t = pc->next_t;

	th->run_left -= t - pc->run_start;
	if (th->run_left <= 0) {
		th->wake_t = t + MAX(10000, vmsim_rng_exp_ns(sim, th->sleep_mean_us * 1000.0));
		vmsim_switch_at(sim, pc->id, t, block_state(sim, th));
	} else if (vmsim_has_candidate(sim, pc->id, th)) {
		vmsim_switch_at(sim, pc->id, t, vmsim_preempt_state(sim));
	} else {
		pc->slice_end = t + vmsim_slice(sim);
		noise_run(sim, pc, th, t);
	}
}

static void emit_fork(struct vmsim *sim, int p, int64_t t, const struct vmsim_thread *parent,
		      const struct vmsim_thread *child)
{
	struct vmsim_rec *r = vmsim_rec_new(sim, t, VMSIM_EV_FORK, 0, p);

	vmsim_set_comm(r->c[0], parent->comm);
	r->v[0] = parent->tid;
	r->v[1] = parent->pid;
	r->v[2] = 4026531836ll;
	vmsim_set_comm(r->c[1], child->comm);
	r->v[3] = child->tid;
	r->v[4] = 1;
	r->v[5] = child->tid;
	r->v[6] = child->pid;
	r->v[7] = 4026531836ll;
	r->ref[0] = parent->id;
	r->ref[1] = child->id;
	vmsim_rec_push(sim);
}

static void emit_process_exit(struct vmsim *sim, int p, int64_t t, struct vmsim_thread *th)
{
	struct vmsim_rec *r = vmsim_rec_new(sim, t, VMSIM_EV_PROCESS_EXIT, 0, p);

	vmsim_set_comm(r->c[0], th->comm);
	r->v[0] = th->tid;
	r->v[1] = th->prio;
	r->ref[0] = th->id;
	vmsim_rec_push(sim);
	th->exiting = true;
}

static void do_todo(struct vmsim *sim, struct vmsim_pcpu *pc, struct vmsim_thread *th)
{
	int64_t t = pc->next_t;
	enum vmsim_todo what = th->todo[0];
	int32_t arg = th->todo_arg[0];

	th->todo_len--;
	memmove(th->todo, th->todo + 1, sizeof(th->todo[0]) * (size_t) th->todo_len);
	memmove(th->todo_arg, th->todo_arg + 1, sizeof(th->todo_arg[0]) * (size_t) th->todo_len);
	if (what == VMSIM_TODO_DIE) {
		emit_process_exit(sim, pc->id, t, th);
		vmsim_switch_at(sim, pc->id, t + vmsim_rng_range(sim, 2000, 10000),
				th->tid == th->pid ? VMSIM_PS_ZOMBIE : VMSIM_PS_DEAD);
		return;
	}
	if (what == VMSIM_TODO_FORK) {
		struct vmsim_thread *child = g_ptr_array_index(sim->threads, arg);

		emit_fork(sim, pc->id, t, th, child);
		child->born_t = t;
		vmsim_thread_forked(sim, child, t);
		make_runnable(sim, child, t);
	}
	if (th->todo_len) {
		vmsim_pcpu_schedule(sim, pc->id, t + vmsim_rng_range(sim, 5000, 30000));
	} else {
		noise_run(sim, pc, th, t);
	}
}

/* ---- Switches. ---- */

static void switched_in(struct vmsim *sim, struct vmsim_pcpu *pc, struct vmsim_thread *next,
			int64_t t)
{
	if (next->state == VMSIM_TS_RUNNABLE) {
		runq_remove(sim, next);
	}
	next->state = VMSIM_TS_RUNNING;
	next->cpu = pc->id;
	next->claimed_by = -1;
	pc->cur = next;
	pc->slice_end = t + vmsim_slice(sim);
	/* A renamed thread (fork_comm=parent) takes its name while it runs. */
	vmsim_set_comm(next->comm, next->final_comm);
	if (next == pc->idle) {
		struct vmsim_thread *th = pick_next(sim, pc->id, NULL);

		pc->step = VMSIM_STEP_NONE;
		pc->gen++;
		if (th) {
			pc->claimed = th;
			th->claimed_by = pc->id;
			vmsim_switch_at(sim, pc->id, t + vmsim_rng_range(sim, 2000, 20000),
					VMSIM_PS_RUNNING);
		}
	} else if (next->kind == VMSIM_TK_VCPU) {
		vmsim_vcpu_switched_in(sim, pc->id, next, t);
	} else {
		noise_switched_in(sim, pc, next, t);
	}
}

static void switched_out(struct vmsim *sim, struct vmsim_thread *prev, int64_t ps, int64_t t)
{
	if (prev->kind == VMSIM_TK_IDLE) {
		return;
	}
	if (ps & (VMSIM_PS_DEAD | VMSIM_PS_ZOMBIE)) {
		prev->state = VMSIM_TS_DEAD;
		prev->died_t = t;
		vmsim_thread_died(sim, prev, t);
	} else if ((ps & 0xff) == 0) {
		prev->state = VMSIM_TS_RUNNABLE;
		prev->ready_t = t;
		g_ptr_array_add(sim->runq, prev);
	} else {
		prev->state = VMSIM_TS_BLOCKED;
		prev->wake_gen++;
		if (prev->wake_t != VMSIM_T_NEVER) {
			prev->wake_t = MAX(prev->wake_t, t + 1000);
			vmsim_timer_push(sim, prev->wake_t, VMSIM_TIMER_WAKE, prev->id,
					 prev->wake_gen);
		}
	}
}

static void do_switch(struct vmsim *sim, struct vmsim_pcpu *pc)
{
	int64_t t = pc->next_t;
	struct vmsim_thread *prev = pc->cur;
	struct vmsim_thread *next = pc->claimed;
	int64_t ps = pc->switch_state;

	pc->claimed = NULL;
	if (!next) {
		next = pick_next(sim, pc->id, prev);
	}
	if (!next && prev->kind != VMSIM_TK_IDLE && (ps & 0xff) == 0 && !pc->force_switch) {
		/* Nothing else to run: the preemption does not happen. */
		switched_in(sim, pc, prev, t);
		return;
	}
	if (!next) {
		next = pc->idle;
	}
	pc->force_switch = false;
	emit_switch(sim, pc->id, t, prev, ps, next);
	switched_out(sim, prev, ps, t);
	switched_in(sim, pc, next, t);
}

static void pcpu_step(struct vmsim *sim, int p)
{
	struct vmsim_pcpu *pc = &sim->pcpus[p];

	switch (pc->step) {
	case VMSIM_STEP_SWITCH:
		do_switch(sim, pc);
		break;
	case VMSIM_STEP_RUN_END:
		noise_run_end(sim, pc, pc->cur);
		break;
	case VMSIM_STEP_TODO:
		do_todo(sim, pc, pc->cur);
		break;
	case VMSIM_STEP_VCPU:
		vmsim_vcpu_step(sim, p, pc->cur);
		break;
	case VMSIM_STEP_NONE:
		break;
	}
}

static int64_t open_window_min(const struct vmsim *sim)
{
	int64_t m = VMSIM_T_NEVER;

	for (int p = 0; p < sim->k.pcpus; p++) {
		const struct vmsim_thread *cur = sim->pcpus[p].cur;

		if (cur->kind == VMSIM_TK_VCPU && cur->in_guest) {
			m = MIN(m, cur->entry_t);
		}
	}
	return m;
}

static void dispatch(struct vmsim *sim, const struct vmsim_timer *tm)
{
	switch (tm->kind) {
	case VMSIM_TIMER_PCPU:
		pcpu_step(sim, tm->arg);
		break;
	case VMSIM_TIMER_WAKE:
		handle_wake(sim, g_ptr_array_index(sim->threads, tm->arg), tm->t);
		break;
	case VMSIM_TIMER_VM_CREATE:
		vmsim_vm_create(sim, sim->vms[tm->arg]);
		break;
	case VMSIM_TIMER_VM_DESTROY:
		vmsim_vm_destroy(sim, sim->vms[tm->arg]);
		break;
	case VMSIM_TIMER_QEMU_EXIT:
		vmsim_qemu_exit(sim, sim->vms[tm->arg]);
		break;
	}
}

bool vmsim_sched_step(struct vmsim *sim)
{
	const struct vmsim_timer *top;
	struct vmsim_timer tm;
	int64_t watermark;

	if (sim->finished) {
		return false;
	}
	top = timer_top(sim);
	if (sim->k.target_events > 0 && sim->generated >= (uint64_t) sim->k.target_events) {
		sim->end_t = MIN(sim->end_t, sim->now);
	}
	if (!top || top->t > sim->end_t) {
		vmsim_finish(sim);
		return false;
	}
	timer_pop(sim, &tm);
	sim->now = tm.t;
	dispatch(sim, &tm);
	top = timer_top(sim);
	watermark = MIN(top ? top->t : VMSIM_T_NEVER, open_window_min(sim));
	vmsim_release(sim, MIN(watermark, sim->end_t + 1));
	return true;
}
