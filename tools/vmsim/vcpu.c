/* SPDX-License-Identifier: MIT */
/*
 * vCPU threads on their pCPU (entry -> guest mode -> exit -> hypervisor ->
 * entry ...), vmsync exchanges, PV kicks, and the VM lifecycle (QEMU fork,
 * vCPU thread forks, exits, udev observations).
 */
#include "vmsim.h"

static const uint32_t vmx_flag_bits[] = { 0x08000000u, 0x10000000u, 0x80000000u };

static struct vmsim_pcpu *pcpu_of(struct vmsim *sim, int p)
{
	return &sim->pcpus[p];
}

static bool has_die_todo(const struct vmsim_thread *th)
{
	return th->todo_len > 0 && th->todo[0] == VMSIM_TODO_DIE;
}

static void vstep_at(struct vmsim *sim, int p, enum vmsim_vstep vs, int64_t t)
{
	pcpu_of(sim, p)->step = VMSIM_STEP_VCPU;
	pcpu_of(sim, p)->vstep = vs;
	vmsim_pcpu_schedule(sim, p, t);
}

void vmsim_vcpu_switched_in(struct vmsim *sim, int p, struct vmsim_thread *th, int64_t t)
{
	if (has_die_todo(th)) {
		vstep_at(sim, p, VMSIM_VS_DIE, t + vmsim_rng_range(sim, 2000, 8000));
	} else {
		vstep_at(sim, p, VMSIM_VS_ENTRY, t + vmsim_rng_range(sim, 2000, 10000));
	}
}

static void emit_vmsync_host(struct vmsim *sim, int p, int64_t t, enum vmsim_kind kind,
			     uint32_t cnt, uint64_t uid)
{
	struct vmsim_rec *r = vmsim_rec_new(sim, t, kind, 0, p);

	r->v[0] = cnt;
	r->v[1] = (int64_t) uid;
	vmsim_rec_push(sim);
}

static void emit_entry(struct vmsim *sim, int p, int64_t t, struct vmsim_thread *th)
{
	bool is_ptr = !g_strcmp0(sim->k.entry_vcpu_id, "pointer");
	struct vmsim_rec *r = vmsim_rec_new(sim, t, VMSIM_EV_KVM_ENTRY, 0, p);

	r->v[0] = is_ptr ? th->vcpu_ptr : (uint32_t) th->vcpu;
	r->ref[0] = th->id;
	vmsim_rec_push(sim);
}

static void emit_exit(struct vmsim *sim, int p, int64_t t, struct vmsim_thread *th, int reason)
{
	struct vmsim_rec *r = vmsim_rec_new(sim, t, VMSIM_EV_KVM_EXIT, 0, p);
	uint32_t raw = (uint32_t) reason;

	if (vmsim_rng_chance(sim, sim->k.vmx_flags_prob)) {
		raw |= vmx_flag_bits[vmsim_rng_below(sim, G_N_ELEMENTS(vmx_flag_bits))];
	}
	r->v[0] = raw;
	r->v[1] = (int64_t) (0xffffffff81000000ull + (vmsim_rng_below(sim, 0x1000000) & ~3ull));
	r->v[2] = 1;
	r->v[3] = reason == VMSIM_EXIT_IO ? (int64_t) (vmsim_rng_range(sim, 0x60, 0xcfc) << 16) :
		  reason == VMSIM_EXIT_EPT_VIOLATION ? 0x181 :
						       0;
	r->v[4] = reason == VMSIM_EXIT_EPT_VIOLATION ?
			  (int64_t) (vmsim_rng_u64(sim) & 0xffffff000ull) :
			  0;
	r->v[5] = reason == VMSIM_EXIT_EXT_INT ? 0x800000ecll : 0;
	r->v[6] = 0;
	r->v[7] = th->vcpu;
	r->ref[0] = th->id;
	vmsim_rec_push(sim);
}

static int draw_reason(struct vmsim *sim)
{
	static const int reasons[] = { VMSIM_EXIT_EXT_INT,
				       VMSIM_EXIT_EXT_INT,
				       VMSIM_EXIT_EXT_INT,
				       VMSIM_EXIT_EPT_VIOLATION,
				       VMSIM_EXIT_MSR_WRITE,
				       VMSIM_EXIT_MSR_WRITE,
				       VMSIM_EXIT_PREEMPTION_TIMER,
				       VMSIM_EXIT_PREEMPTION_TIMER,
				       VMSIM_EXIT_IO,
				       VMSIM_EXIT_IO };

	if (vmsim_rng_chance(sim, sim->k.hlt_prob)) {
		return VMSIM_EXIT_HLT;
	}
	return reasons[vmsim_rng_below(sim, G_N_ELEMENTS(reasons))];
}

/* Plans the guest-mode window opened at `te` and schedules its exit. */
static void plan_window(struct vmsim *sim, int p, struct vmsim_thread *th, int64_t te)
{
	struct vmsim_vm *vm = th->vm;
	struct vmsim_pcpu *pc = pcpu_of(sim, p);
	int reason = draw_reason(sim);
	int64_t x = te + 1000 + vmsim_rng_exp_ns(sim, sim->k.guest_mean_us * 1000.0);

	if (reason == VMSIM_EXIT_HLT) {
		x += 10000;
	}
	th->gh_pending = false;
	th->kick_pending = false;
	if (vm->sync != VMSIM_SYNC_NONE && th->vcpu == vm->sync_cpu && vm->next_sync_t <= x) {
		x = MAX(vm->next_sync_t, te + vmsim_rng_range(sim, 3000, 8000));
		reason = VMSIM_EXIT_VMCALL;
		th->gh_pending = true;
	} else if (vm->kick_rate_hz > 0 && vm->next_kick_t <= x) {
		x = MAX(vm->next_kick_t, te + vmsim_rng_range(sim, 2000, 5000));
		reason = VMSIM_EXIT_VMCALL;
		th->kick_pending = true;
	}
	if (x > pc->slice_end) {
		x = MAX(pc->slice_end, te + 1000);
		reason = VMSIM_EXIT_EXT_INT;
		th->gh_pending = false;
		th->kick_pending = false;
	}
	th->plan_reason = reason;
	vstep_at(sim, p, VMSIM_VS_EXIT, x);
}

static void do_entry(struct vmsim *sim, int p, struct vmsim_thread *th)
{
	struct vmsim_pcpu *pc = pcpu_of(sim, p);
	int64_t t = pc->next_t;

	if (has_die_todo(th)) {
		vstep_at(sim, p, VMSIM_VS_DIE, t + vmsim_rng_range(sim, 1000, 5000));
		return;
	}
	/*
	 * A new vCPU thread always enters before its first switch-out, so that it
	 * is identified by a KVM entry, never by a renamed `prev_comm` (README,
	 * reading 1).
	 */
	if (pc->slice_end <= t && th->has_entered && vmsim_has_candidate(sim, p, th)) {
		vmsim_switch_at(sim, p, t, vmsim_preempt_state(sim));
		return;
	}
	if (pc->slice_end <= t) {
		pc->slice_end = t + vmsim_slice(sim);
	}
	if (th->hg_pending) {
		/* The vmsync host module's probe on the kvm_entry tracepoint. */
		emit_vmsync_host(sim, p, t, VMSIM_EV_HG_HOST, th->hg_cnt, th->hg_uid);
		th->hg_pending = false;
		t += vmsim_rng_range(sim, 40, 150);
	}
	emit_entry(sim, p, t, th);
	th->has_entered = true;
	th->in_guest = true;
	th->entry_t = t;
	plan_window(sim, p, th, t);
}

static int64_t hypervisor_gap(struct vmsim *sim, int p, int reason, int64_t t)
{
	int64_t gap;

	switch (reason) {
	case VMSIM_EXIT_EXT_INT:
		gap = vmsim_rng_range(sim, 1500, 6000);
		if (vmsim_rng_chance(sim, 0.3)) {
			vmsim_emit_irq_pair(sim, p, t + vmsim_rng_range(sim, 100, 400),
					    t + gap - vmsim_rng_range(sim, 100, 400));
		}
		return gap;
	case VMSIM_EXIT_EPT_VIOLATION:
		return vmsim_rng_range(sim, 2000, 15000);
	case VMSIM_EXIT_IO:
		return vmsim_rng_range(sim, 3000, 20000);
	case VMSIM_EXIT_PREEMPTION_TIMER:
		return vmsim_rng_range(sim, 500, 2000);
	default:
		return vmsim_rng_range(sim, 800, 4000);
	}
}

/* The host side of a VMCALL exit: vmsync exchange or PV kick. */
static int64_t handle_vmcall(struct vmsim *sim, int p, struct vmsim_thread *th, int64_t t)
{
	struct vmsim_vm *vm = th->vm;
	bool is_sync = th->gh_pending;
	uint32_t cnt = is_sync ? vm->sync_cnt : 0;
	uint64_t uid = is_sync ? vm->vm_uid : vmsim_rng_below(sim, (uint64_t) vm->nvcpus);
	struct vmsim_rec *r;

	t += vmsim_rng_range(sim, 200, 500);
	r = vmsim_rec_new(sim, t, VMSIM_EV_HYPERCALL, 0, p);
	r->v[0] = 5;
	r->v[1] = cnt;
	r->v[2] = (int64_t) uid;
	r->ref[0] = th->id;
	vmsim_rec_push(sim);
	/* The host vmsync module reacts to every nr=5 hypercall, PV kicks too. */
	if (vm->sync == VMSIM_SYNC_FULL) {
		t += vmsim_rng_range(sim, 50, 200);
		emit_vmsync_host(sim, p, t, VMSIM_EV_GH_HOST, cnt, uid);
		th->hg_pending = true;
		th->hg_cnt = cnt + 1;
		th->hg_uid = uid;
	}
	if (is_sync) {
		th->guest_hg_pending = true;
		th->guest_hg_cnt = cnt + 1;
		vm->sync_cnt += 4;
		vm->exchanges++;
		vm->next_sync_t += vm->sync_period_ns;
		vm->next_sync_t = MAX(vm->next_sync_t, t + vm->sync_period_ns / 2);
	} else {
		vm->kicks++;
		vm->next_kick_t = t + vmsim_rng_exp_ns(sim, 1e9 / vm->kick_rate_hz);
	}
	th->gh_pending = false;
	th->kick_pending = false;
	return t;
}

static void after_exit(struct vmsim *sim, int p, struct vmsim_thread *th, int reason, int64_t t)
{
	struct vmsim_pcpu *pc = pcpu_of(sim, p);

	if (has_die_todo(th)) {
		vstep_at(sim, p, VMSIM_VS_DIE, t + vmsim_rng_range(sim, 3000, 15000));
	} else if (pc->force_switch) {
		vmsim_switch_at(sim, p, t + vmsim_rng_range(sim, 1000, 3000),
				vmsim_preempt_state(sim));
	} else if (reason == VMSIM_EXIT_HLT) {
		th->wake_t = t + 20000 + vmsim_rng_exp_ns(sim, sim->k.idle_mean_us * 1000.0);
		vmsim_switch_at(sim, p, t + vmsim_rng_range(sim, 1000, 4000),
				VMSIM_PS_INTERRUPTIBLE);
	} else if (reason == VMSIM_EXIT_IO && vmsim_rng_chance(sim, sim->k.io_block_prob)) {
		th->wake_t = t + vmsim_rng_range(sim, 20000, 500000);
		vmsim_switch_at(sim, p, t + vmsim_rng_range(sim, 2000, 8000),
				vmsim_rng_chance(sim, 0.5) ? VMSIM_PS_UNINTERRUPTIBLE :
							     VMSIM_PS_INTERRUPTIBLE);
	} else if (pc->slice_end <= t + 4000 && vmsim_has_candidate(sim, p, th)) {
		vmsim_switch_at(sim, p, t + vmsim_rng_range(sim, 1000, 4000),
				vmsim_preempt_state(sim));
	} else {
		vstep_at(sim, p, VMSIM_VS_ENTRY, t + hypervisor_gap(sim, p, reason, t));
	}
}

static void do_exit(struct vmsim *sim, int p, struct vmsim_thread *th)
{
	int64_t t = pcpu_of(sim, p)->next_t;
	int reason = th->plan_reason;

	emit_exit(sim, p, t, th, reason);
	th->in_guest = false;
	th->last_exit = reason;
	vmsim_guest_window(sim, th, th->entry_t, t, reason);
	if (reason == VMSIM_EXIT_VMCALL && (th->gh_pending || th->kick_pending)) {
		int64_t last = handle_vmcall(sim, p, th, t);

		if (!has_die_todo(th)) {
			vstep_at(sim, p, VMSIM_VS_ENTRY, last + vmsim_rng_range(sim, 500, 2000));
			return;
		}
	}
	after_exit(sim, p, th, reason, t);
}

static void do_die(struct vmsim *sim, int p, struct vmsim_thread *th)
{
	int64_t t = pcpu_of(sim, p)->next_t;
	struct vmsim_rec *r = vmsim_rec_new(sim, t, VMSIM_EV_PROCESS_EXIT, 0, p);

	th->todo_len = 0;
	vmsim_set_comm(r->c[0], th->comm);
	r->v[0] = th->tid;
	r->v[1] = th->prio;
	r->ref[0] = th->id;
	vmsim_rec_push(sim);
	th->exiting = true;
	vmsim_switch_at(sim, p, t + vmsim_rng_range(sim, 2000, 8000), VMSIM_PS_DEAD);
}

void vmsim_vcpu_step(struct vmsim *sim, int p, struct vmsim_thread *th)
{
	switch (pcpu_of(sim, p)->vstep) {
	case VMSIM_VS_ENTRY:
		do_entry(sim, p, th);
		break;
	case VMSIM_VS_EXIT:
		do_exit(sim, p, th);
		break;
	case VMSIM_VS_DIE:
		do_die(sim, p, th);
		break;
	}
}

void vmsim_vcpu_cut(struct vmsim *sim, int p, struct vmsim_thread *th, int64_t t)
{
	struct vmsim_pcpu *pc = pcpu_of(sim, p);

	t = MAX(t, th->entry_t + 1000);
	t = MAX(t, sim->now);
	if (t >= pc->next_t) {
		return;
	}
	th->plan_reason = VMSIM_EXIT_EXT_INT;
	th->gh_pending = false;
	th->kick_pending = false;
	vstep_at(sim, p, VMSIM_VS_EXIT, t);
}

/* ---- VM lifecycle. ---- */

static void add_todo(struct vmsim_thread *th, enum vmsim_todo what, int32_t arg)
{
	g_assert(th->todo_len < VMSIM_MAX_TODO);
	th->todo[th->todo_len] = what;
	th->todo_arg[th->todo_len] = arg;
	th->todo_len++;
}

static void push_ust(struct vmsim *sim, int64_t t, enum vmsim_kind kind, struct vmsim_vm *vm)
{
	struct vmsim_rec *r;

	if (sim->ust_trace < 0 || !(vm->uuid_via & VMSIM_UUID_UST) || t > sim->end_t - 1000000) {
		return;
	}
	r = vmsim_rec_new(sim, t, kind, sim->ust_trace,
			  (int) vmsim_rng_below(sim, (uint64_t) sim->k.pcpus));
	r->v[0] = vm->pid;
	r->str = vm->uuid;
	vmsim_rec_push(sim);
}

void vmsim_vm_create(struct vmsim *sim, struct vmsim_vm *vm)
{
	add_todo(sim->libvirtd, VMSIM_TODO_FORK, vm->main_thread->id);
	vmsim_thread_poke(sim, sim->libvirtd, sim->now);
}

void vmsim_thread_forked(struct vmsim *sim, struct vmsim_thread *child, int64_t t)
{
	struct vmsim_vm *vm = child->vm;

	if (!vm || child != vm->main_thread) {
		return;
	}
	vm->forked_t = t;
	add_todo(child, VMSIM_TODO_FORK, vm->io_thread->id);
	for (int i = 0; i < vm->nvcpus; i++) {
		add_todo(child, VMSIM_TODO_FORK, vm->vcpus[i]->id);
	}
	vm->udev_created_t = t + vmsim_rng_range(sim, 10000000, 250000000);
	push_ust(sim, vm->udev_created_t, VMSIM_EV_UST_KVM_CREATED, vm);
	vm->next_sync_t = t + vmsim_rng_range(sim, 1000, vm->sync_period_ns);
	if (vm->kick_rate_hz > 0) {
		vm->next_kick_t = t + vmsim_rng_exp_ns(sim, 1e9 / vm->kick_rate_hz);
	}
}

void vmsim_vm_destroy(struct vmsim *sim, struct vmsim_vm *vm)
{
	int64_t t = sim->now;

	vm->destroying = true;
	if (vm->has_guest) {
		vmsim_rec_new(sim, t, VMSIM_CTL_TRACE_END, vm->trace, 0);
		vmsim_rec_push(sim);
	}
	for (int i = 0; i < vm->nvcpus; i++) {
		struct vmsim_thread *th = vm->vcpus[i];

		if (th->state == VMSIM_TS_DEAD || th->state == VMSIM_TS_NOT_BORN) {
			continue;
		}
		add_todo(th, VMSIM_TODO_DIE, 0);
		vmsim_thread_poke(sim, th, t);
	}
	vmsim_timer_push(sim, t + vmsim_rng_range(sim, 4000000, 6000000), VMSIM_TIMER_QEMU_EXIT,
			 vm->idx, 0);
}

void vmsim_qemu_exit(struct vmsim *sim, struct vmsim_vm *vm)
{
	struct vmsim_thread *ths[2] = { vm->io_thread, vm->main_thread };

	for (int i = 0; i < 2; i++) {
		if (ths[i]->state == VMSIM_TS_DEAD || ths[i]->state == VMSIM_TS_NOT_BORN) {
			continue;
		}
		add_todo(ths[i], VMSIM_TODO_DIE, 0);
		vmsim_thread_poke(sim, ths[i], sim->now);
	}
}

void vmsim_thread_died(struct vmsim *sim, struct vmsim_thread *th, int64_t t)
{
	struct vmsim_vm *vm = th->vm;

	if (!vm || vm->main_thread->state != VMSIM_TS_DEAD ||
	    vm->io_thread->state != VMSIM_TS_DEAD) {
		return;
	}
	for (int i = 0; i < vm->nvcpus; i++) {
		if (vm->vcpus[i]->state != VMSIM_TS_DEAD) {
			return;
		}
	}
	vm->died_t = t;
	vm->udev_destroyed_t = t + vmsim_rng_range(sim, 10000000, 250000000);
	push_ust(sim, vm->udev_destroyed_t, VMSIM_EV_UST_KVM_DESTROYED, vm);
}

void vmsim_vcpu_close_windows(struct vmsim *sim, int64_t bound)
{
	for (int p = 0; p < sim->k.pcpus; p++) {
		struct vmsim_thread *cur = sim->pcpus[p].cur;

		if (cur->kind == VMSIM_TK_VCPU && cur->in_guest) {
			vmsim_guest_window(sim, cur, cur->entry_t, bound, -1);
			cur->in_guest = false;
		}
	}
}
