/* SPDX-License-Identifier: MIT */
/*
 * Guest events. They are generated when a guest-mode window closes, so
 * every one of them lies inside [entry, exit) of its vCPU thread: ordinary
 * events keep asymmetric margins from the window edges (>= margin_in_ns
 * after the entry, >= margin_out_ns before the exit, randomised above
 * that), while the vmsync events sit a few hundred ns from the edges, as
 * the real guest module's events do.
 */
#include "vmsim.h"

#define MAX_SLOTS 64

static const char *const guest_comms[] = {
	"systemd", "nginx", "postgres",	  "kworker/0:1",  "sshd",
	"python3", "java",  "cron,\"x\"", "redis-server", "rcu_sched",
};

static const struct {
	int irq;
	const char *name;
} guest_irqs[] = { { 24, "virtio0-input.0" }, { 25, "virtio1-req.0" }, { 1, "i8042" } };

static const int softirq_vecs[] = { 1, 3, 7, 9 };

void vmsim_guest_init(struct vmsim *sim, struct vmsim_vm *vm)
{
	int32_t tid = 1;

	vm->ntasks = 8;
	for (int i = 0; i < vm->ntasks; i++) {
		struct vmsim_gtask *task = &vm->tasks[i];

		tid += (int32_t) vmsim_rng_range(sim, 1, 400);
		task->tid = tid;
		task->prio = 20;
		task->on_cpu = -1;
		vmsim_set_comm(task->comm, guest_comms[(i + vm->idx) % G_N_ELEMENTS(guest_comms)]);
	}
	for (int c = 0; c < vm->nvcpus; c++) {
		int i = (int) vmsim_rng_below(sim, (uint64_t) vm->ntasks);

		vm->gcpus[c].task = -1;
		if (vm->tasks[i].on_cpu < 0 && vmsim_rng_chance(sim, 0.7)) {
			vm->gcpus[c].task = i;
			vm->tasks[i].on_cpu = c;
		}
	}
	vm->gsd_next = sim->k.guest_statedump ? 0 : vm->ntasks + 2;
}

static struct vmsim_rec *grec(struct vmsim *sim, const struct vmsim_vm *vm, int c, int64_t t,
			      enum vmsim_kind kind)
{
	struct vmsim_rec *r = vmsim_rec_new(sim, t, kind, vm->trace, c);

	r->ref[0] = vm->vcpus[c]->id;
	return r;
}

static void task_desc(const struct vmsim_vm *vm, int c, int task, char comm[VMSIM_COMM_LEN],
		      int64_t *tid, int64_t *prio)
{
	if (task < 0) {
		g_snprintf(comm, VMSIM_COMM_LEN, "swapper/%d", c);
		*tid = 0;
		*prio = 20;
	} else {
		vmsim_set_comm(comm, vm->tasks[task].comm);
		*tid = vm->tasks[task].tid;
		*prio = vm->tasks[task].prio;
	}
}

/* Guest `sched_switch` on guest CPU `c` to `next` (-1: idle). */
static void guest_switch(struct vmsim *sim, struct vmsim_vm *vm, int c, int64_t t, int next)
{
	struct vmsim_gcpu *gc = &vm->gcpus[c];
	struct vmsim_rec *r = grec(sim, vm, c, t, VMSIM_EV_SCHED_SWITCH);

	task_desc(vm, c, gc->task, r->c[0], &r->v[0], &r->v[1]);
	r->v[2] = gc->task < 0 ? 0 : next < 0 ? 1 : (vmsim_rng_chance(sim, 0.5) ? 1 : 0);
	task_desc(vm, c, next, r->c[1], &r->v[3], &r->v[4]);
	vmsim_rec_push(sim);
	if (gc->task >= 0) {
		vm->tasks[gc->task].on_cpu = -1;
	}
	gc->task = next;
	if (next >= 0) {
		vm->tasks[next].on_cpu = c;
	}
}

static int free_task(struct vmsim *sim, const struct vmsim_vm *vm)
{
	int start = (int) vmsim_rng_below(sim, (uint64_t) vm->ntasks);

	for (int i = 0; i < vm->ntasks; i++) {
		int k = (start + i) % vm->ntasks;

		if (vm->tasks[k].on_cpu < 0) {
			return k;
		}
	}
	return -1;
}

static void irq_pair(struct vmsim *sim, struct vmsim_vm *vm, int c, int64_t t0, int64_t t1)
{
	int k = (int) vmsim_rng_below(sim, G_N_ELEMENTS(guest_irqs));
	struct vmsim_rec *r = grec(sim, vm, c, t0, VMSIM_EV_IRQ_ENTRY);

	r->v[0] = guest_irqs[k].irq;
	r->str = guest_irqs[k].name;
	vmsim_rec_push(sim);
	r = grec(sim, vm, c, t1, VMSIM_EV_IRQ_EXIT);
	r->v[0] = guest_irqs[k].irq;
	r->v[1] = 1;
	vmsim_rec_push(sim);
}

static void softirq_pair(struct vmsim *sim, struct vmsim_vm *vm, int c, int64_t t0, int64_t t1)
{
	int64_t vec = softirq_vecs[vmsim_rng_below(sim, G_N_ELEMENTS(softirq_vecs))];
	struct vmsim_rec *r = grec(sim, vm, c, t0, VMSIM_EV_SOFTIRQ_ENTRY);

	r->v[0] = vec;
	vmsim_rec_push(sim);
	r = grec(sim, vm, c, t1, VMSIM_EV_SOFTIRQ_EXIT);
	r->v[0] = vec;
	vmsim_rec_push(sim);
}

static void statedump_item(struct vmsim *sim, struct vmsim_vm *vm, int64_t t)
{
	int i = vm->gsd_next++;
	struct vmsim_rec *r;

	if (i == 0) {
		grec(sim, vm, 0, t, VMSIM_EV_STATEDUMP_START);
	} else if (i > vm->ntasks) {
		grec(sim, vm, 0, t, VMSIM_EV_STATEDUMP_END);
	} else {
		const struct vmsim_gtask *task = &vm->tasks[i - 1];

		r = grec(sim, vm, 0, t, VMSIM_EV_STATEDUMP_PROCESS);
		r->v[0] = task->tid;
		r->v[1] = task->tid;
		r->v[2] = 1;
		vmsim_set_comm(r->c[0], task->comm);
		r->v[3] = 0;
		r->v[4] = 5;
		r->v[5] = 0;
		r->v[6] = task->on_cpu >= 0 ? 2 : 5;
		r->v[7] = MAX(task->on_cpu, 0);
		r->v[8] = (int64_t) (0xffff888100000000ull + (vmsim_rng_below(sim, 1u << 30) << 6));
	}
	vmsim_rec_push(sim);
}

/* Slot times: a Poisson process in [lo, hi], plus `hi` itself when reserved. */
static int draw_slots(struct vmsim *sim, int64_t lo, int64_t hi, bool reserve_last,
		      int64_t ts[MAX_SLOTS])
{
	double gap = 1e6 / MAX(sim->k.guest_rate_per_ms, 1e-3);
	int64_t last = reserve_last ? hi - 1 : hi;
	int64_t t = lo - 1;
	int n = 0;

	while (n < MAX_SLOTS - 1) {
		t += vmsim_rng_exp_ns(sim, gap);
		if (t > last) {
			break;
		}
		ts[n++] = t;
	}
	if (reserve_last) {
		ts[n++] = hi;
	}
	return n;
}

/* One ordinary event (or a pair) at slot `i`; returns the next slot. */
static int ordinary_event(struct vmsim *sim, struct vmsim_vm *vm, int c, const int64_t *ts, int i,
			  int avail)
{
	struct vmsim_gcpu *gc = &vm->gcpus[c];
	double r = vmsim_rng_double(sim);
	int next;

	if (c == 0 && vm->gsd_next < vm->ntasks + 2) {
		statedump_item(sim, vm, ts[i]);
		return i + 1;
	}
	if (gc->task < 0 && avail - i >= 3) {
		/* Woken from HLT: the interrupt, then the scheduler leaves idle. */
		irq_pair(sim, vm, c, ts[i], ts[i + 1]);
		i += 2;
	}
	if (gc->task < 0 || r < 0.35 || avail - i < 2) {
		next = free_task(sim, vm);
		if (next >= 0) {
			guest_switch(sim, vm, c, ts[i], next);
		}
		return i + 1;
	}
	if (r < 0.7) {
		softirq_pair(sim, vm, c, ts[i], ts[i + 1]);
	} else {
		irq_pair(sim, vm, c, ts[i], ts[i + 1]);
	}
	return i + 2;
}

static void fill_slots(struct vmsim *sim, struct vmsim_vm *vm, int c, int64_t lo, int64_t hi,
		       bool halts)
{
	int64_t ts[MAX_SLOTS];
	int n = draw_slots(sim, lo, hi, halts, ts);
	int avail = halts ? n - 1 : n;
	int i = 0;

	while (i < avail) {
		i = ordinary_event(sim, vm, c, ts, i, avail);
	}
	if (halts && n > 0 && vm->gcpus[c].task >= 0) {
		/* The guest idles, then its idle loop executes HLT. */
		guest_switch(sim, vm, c, ts[n - 1], -1);
	}
}

static void vmsync_guest(struct vmsim *sim, struct vmsim_vm *vm, int c, int64_t t,
			 enum vmsim_kind kind, uint32_t cnt)
{
	struct vmsim_rec *r = grec(sim, vm, c, t, kind);

	r->v[0] = cnt;
	r->v[1] = (int64_t) vm->vm_uid;
	vmsim_rec_push(sim);
}

void vmsim_guest_window(struct vmsim *sim, struct vmsim_thread *th, int64_t entry, int64_t exit_t,
			int32_t reason)
{
	struct vmsim_vm *vm = th->vm;
	int64_t gs, ge, lo, hi, tg;
	bool hg = th->guest_hg_pending;

	th->guest_hg_pending = false;
	if (!vm || !vm->has_guest) {
		return;
	}
	gs = vm->guest_start_t;
	ge = vm->guest_end_t == VMSIM_T_NEVER ? VMSIM_T_NEVER : vm->guest_end_t - 1000;
	if (exit_t <= gs || entry >= ge) {
		return;
	}
	tg = entry + vmsim_rng_range(sim, 150, 600);
	if (hg && tg > gs && tg < ge && tg < exit_t - 100) {
		vmsync_guest(sim, vm, th->vcpu, tg, VMSIM_EV_HG_GUEST, th->guest_hg_cnt);
	}
	lo = MAX(entry + sim->k.margin_in_ns + vmsim_rng_range(sim, 0, sim->k.margin_in_spread_ns),
		 gs + 1000);
	hi = MIN(exit_t - sim->k.margin_out_ns -
			 vmsim_rng_range(sim, 0, sim->k.margin_out_spread_ns),
		 ge);
	if (lo <= hi) {
		fill_slots(sim, vm, th->vcpu, lo, hi, reason == VMSIM_EXIT_HLT);
	}
	tg = exit_t - vmsim_rng_range(sim, 150, 600);
	if (reason == VMSIM_EXIT_VMCALL && th->gh_pending && tg > gs && tg < ge &&
	    tg > entry + 700) {
		vmsync_guest(sim, vm, th->vcpu, tg, VMSIM_EV_GH_GUEST, vm->sync_cnt);
	}
}
