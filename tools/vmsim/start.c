/* SPDX-License-Identifier: MIT */
/*
 * The state of the world when tracing starts: what each pCPU runs, which
 * threads wait or sleep, the host statedump, the UST statedump of the
 * KVM guests, and the lifecycle timers.
 */
#include "vmsim.h"

static bool alive_at_start(const struct vmsim_thread *th)
{
	return !th->vm || th->vm->create_t < 0;
}

static void emit_process_state(struct vmsim *sim, int64_t t, const struct vmsim_thread *th)
{
	struct vmsim_rec *r = vmsim_rec_new(sim, t, VMSIM_EV_STATEDUMP_PROCESS, 0, 0);

	r->v[0] = th->tid;
	r->v[1] = th->pid;
	r->v[2] = th->ppid;
	vmsim_set_comm(r->c[0], th->comm);
	r->v[3] = th->kind == VMSIM_TK_KTHREAD ? 1 : 0;
	r->v[4] = 5;
	r->v[5] = 0;
	r->v[6] = th->state == VMSIM_TS_BLOCKED ? 5 : 2;
	r->v[7] = th->cpu;
	r->v[8] = th->kind == VMSIM_TK_KTHREAD ?
			  0 :
			  (int64_t) (0xffff888100000000ull + (vmsim_rng_below(sim, 1u << 30) << 6));
	r->ref[0] = th->id;
	vmsim_rec_push(sim);
}

/* The host kernel statedump on pCPU 0; returns the time of its end. */
static int64_t host_statedump(struct vmsim *sim)
{
	int64_t t = vmsim_rng_range(sim, 1000, 3000);

	vmsim_rec_new(sim, t, VMSIM_EV_STATEDUMP_START, 0, 0);
	vmsim_rec_push(sim);
	for (guint i = 0; i < sim->threads->len; i++) {
		struct vmsim_thread *th = g_ptr_array_index(sim->threads, i);

		if (th->kind == VMSIM_TK_IDLE || !th->in_statedump) {
			continue;
		}
		t += vmsim_rng_range(sim, 800, 2500);
		emit_process_state(sim, t, th);
	}
	t += vmsim_rng_range(sim, 800, 2500);
	vmsim_rec_new(sim, t, VMSIM_EV_STATEDUMP_END, 0, 0);
	vmsim_rec_push(sim);
	return t;
}

static void ust_statedump(struct vmsim *sim)
{
	int64_t t = vmsim_rng_range(sim, 500000, 1500000);

	for (int i = 0; i < sim->nvms; i++) {
		struct vmsim_vm *vm = sim->vms[i];
		struct vmsim_rec *r;

		if (sim->ust_trace < 0 || vm->create_t >= 0 || !(vm->uuid_via & VMSIM_UUID_UST)) {
			continue;
		}
		t += vmsim_rng_range(sim, 5000, 40000);
		r = vmsim_rec_new(sim, t, VMSIM_EV_UST_KVM_GUEST, sim->ust_trace,
				  (int) vmsim_rng_below(sim, (uint64_t) sim->k.pcpus));
		r->v[0] = vm->pid;
		r->str = vm->uuid;
		vmsim_rec_push(sim);
		vm->statedump_uuid_t = t;
	}
}

/* Threads that are not on a pCPU at trace start wait or sleep. */
static void park_thread(struct vmsim *sim, struct vmsim_thread *th)
{
	bool runnable;

	if (th->cpu < 0) {
		th->cpu = th->pinned >= 0 ? th->pinned :
					    (int32_t) vmsim_rng_below(sim, (uint64_t) sim->k.pcpus);
	}
	switch (th->kind) {
	case VMSIM_TK_VCPU:
		runnable = vmsim_rng_chance(sim, 0.6);
		th->wake_t = vmsim_rng_range(sim, 50000, 2000000);
		break;
	case VMSIM_TK_HOG:
		runnable = true;
		break;
	case VMSIM_TK_KTHREAD:
		runnable = g_str_has_prefix(th->comm, "kworker/");
		th->wake_t = MAX(10000, vmsim_rng_exp_ns(sim, th->sleep_mean_us * 1000.0));
		break;
	default:
		runnable = false;
		th->wake_t = MAX(10000, vmsim_rng_exp_ns(sim, th->sleep_mean_us * 1000.0));
		break;
	}
	if (runnable) {
		th->state = VMSIM_TS_RUNNABLE;
		th->ready_t = -vmsim_rng_range(sim, 0, 1000000);
		g_ptr_array_add(sim->runq, th);
	} else {
		th->state = VMSIM_TS_BLOCKED;
		th->wake_gen++;
		vmsim_timer_push(sim, th->wake_t, VMSIM_TIMER_WAKE, th->id, th->wake_gen);
	}
}

/* The first step of pCPU `p` (>= 1) running `th` at trace start. */
static void first_step(struct vmsim *sim, int p, struct vmsim_thread *th)
{
	struct vmsim_pcpu *pc = &sim->pcpus[p];
	int64_t t = vmsim_rng_range(sim, 20000, 400000);

	pc->cur = th;
	pc->slice_end = t;
	th->state = VMSIM_TS_RUNNING;
	th->cpu = p;
	if (th->kind == VMSIM_TK_VCPU) {
		/* In guest mode since before the trace: its exit comes first. */
		th->in_guest = true;
		th->entry_t = -vmsim_rng_range(sim, 1000, 50000);
		th->plan_reason = VMSIM_EXIT_EXT_INT;
		pc->force_switch = true;
		pc->step = VMSIM_STEP_VCPU;
		pc->vstep = VMSIM_VS_EXIT;
		vmsim_pcpu_schedule(sim, p, t);
	} else if (vmsim_rng_chance(sim, 0.5)) {
		th->wake_t = t + MAX(10000, vmsim_rng_exp_ns(sim, th->sleep_mean_us * 1000.0));
		vmsim_switch_at(sim, p, t, VMSIM_PS_INTERRUPTIBLE);
	} else {
		vmsim_switch_at(sim, p, t, vmsim_preempt_state(sim));
	}
}

static void initial_state(struct vmsim *sim)
{
	GPtrArray *cands = g_ptr_array_new();

	for (guint i = 0; i < sim->threads->len; i++) {
		struct vmsim_thread *th = g_ptr_array_index(sim->threads, i);

		th->in_statedump = th->kind != VMSIM_TK_IDLE && alive_at_start(th);
		if (!alive_at_start(th)) {
			th->state = VMSIM_TS_NOT_BORN;
			th->born_t = VMSIM_T_NEVER;
		} else if ((th->kind == VMSIM_TK_VCPU || th->kind == VMSIM_TK_HOG ||
			    th->kind == VMSIM_TK_USER) &&
			   th != sim->sessiond) {
			g_ptr_array_add(cands, th);
		}
	}
	/* Fisher-Yates, deterministic. */
	for (guint i = cands->len; i > 1; i--) {
		guint j = (guint) vmsim_rng_below(sim, i);
		gpointer tmp = cands->pdata[i - 1];

		cands->pdata[i - 1] = cands->pdata[j];
		cands->pdata[j] = tmp;
	}
	sim->pcpus[0].cur = sim->sessiond;
	sim->sessiond->state = VMSIM_TS_RUNNING;
	sim->sessiond->cpu = 0;
	for (int p = 1; p < sim->k.pcpus; p++) {
		if ((guint) p - 1 < cands->len) {
			first_step(sim, p, g_ptr_array_index(cands, p - 1));
		} else {
			sim->pcpus[p].cur = sim->pcpus[p].idle;
		}
	}
	for (guint i = 0; i < sim->threads->len; i++) {
		struct vmsim_thread *th = g_ptr_array_index(sim->threads, i);

		if (th->kind != VMSIM_TK_IDLE && th->state == VMSIM_TS_NOT_BORN &&
		    alive_at_start(th)) {
			park_thread(sim, th);
		}
	}
	g_ptr_array_free(cands, TRUE);
}

static void push_controls(struct vmsim *sim)
{
	for (int i = 0; i < sim->ntraces; i++) {
		vmsim_rec_new(sim, sim->traces[i]->start_t, VMSIM_CTL_TRACE_BEGIN, i, 0);
		vmsim_rec_push(sim);
	}
}

static void lifecycle_timers(struct vmsim *sim)
{
	for (int i = 0; i < sim->nvms; i++) {
		struct vmsim_vm *vm = sim->vms[i];

		if (vm->create_t >= 0) {
			vmsim_timer_push(sim, vm->create_t, VMSIM_TIMER_VM_CREATE, i, 0);
		} else {
			vm->next_sync_t = vmsim_rng_range(sim, 0, vm->sync_period_ns);
			vm->next_kick_t = vm->kick_rate_hz > 0 ?
						  vmsim_rng_exp_ns(sim, 1e9 / vm->kick_rate_hz) :
						  VMSIM_T_NEVER;
		}
		if (vm->destroy_t >= 0) {
			vmsim_timer_push(sim, vm->destroy_t, VMSIM_TIMER_VM_DESTROY, i, 0);
		}
	}
}

void vmsim_sched_start(struct vmsim *sim)
{
	int64_t sd_end;

	sim->timers = g_array_new(FALSE, FALSE, sizeof(struct vmsim_timer));
	sim->heap = g_array_new(FALSE, FALSE, sizeof(struct vmsim_rec));
	sim->runq = g_ptr_array_new();
	sim->last_released_t = INT64_MIN;
	sim->last_host_t = 0;
	push_controls(sim);
	initial_state(sim);
	sd_end = host_statedump(sim);
	sim->sessiond->wake_t = sd_end + 1000000 + vmsim_rng_exp_ns(sim, 5e6);
	sim->pcpus[0].slice_end = sd_end;
	vmsim_switch_at(sim, 0, sd_end + vmsim_rng_range(sim, 5000, 50000), VMSIM_PS_INTERRUPTIBLE);
	ust_statedump(sim);
	lifecycle_timers(sim);
}
