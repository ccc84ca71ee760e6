/* SPDX-License-Identifier: MIT */
/*
 * The truth model: docs/semantics.md §1-§7 applied to the released
 * events in true-time order, exactly as an analysis with perfect clock sync
 * would see them. It tracks only what the trace reveals: an event before a
 * pCPU's first `sched_switch` has an unknown emitter and changes no state;
 * a vCPU thread counts once it is identified (name or KVM event); its
 * timeline starts per §3 (see tools/vmsim/README.md for the reading of the
 * start rule).
 */
#include "truth.h"

#include <string.h>

static bool is_vcpu_name(const char *comm)
{
	int n;
	char tail;

	return sscanf(comm, "CPU %d/KV%c", &n, &tail) == 2 && tail == 'M' &&
	       g_str_has_suffix(comm, "/KVM");
}

static FILE *spool(void)
{
	FILE *f = tmpfile();

	if (!f) {
		g_error("vmsim: cannot create a temporary file");
	}
	return f;
}

struct vmsim_truth *vmsim_truth_create(struct vmsim *sim)
{
	struct vmsim_truth *tr = g_new0(struct vmsim_truth, 1);

	tr->nthreads = sim->threads->len;
	tr->threads = g_new0(struct vmsim_tthread, tr->nthreads);
	for (guint i = 0; i < tr->nthreads; i++) {
		tr->threads[i].last_exit = -1;
	}
	tr->pcpus = g_new0(struct vmsim_tpcpu, sim->k.pcpus);
	for (int p = 0; p < sim->k.pcpus; p++) {
		tr->pcpus[p].rows = spool();
		tr->pcpus[p].cur = -1;
	}
	for (int i = 0; i < sim->nvms; i++) {
		for (int c = 0; c < sim->vms[i]->nvcpus && sim->vms[i]->has_guest; c++) {
			tr->vms[i].gcpus[c].events = spool();
		}
	}
	return tr;
}

void vmsim_truth_destroy(struct vmsim_truth *truth)
{
	for (guint i = 0; i < truth->nthreads; i++) {
		g_clear_pointer(&truth->threads[i].rows, fclose);
	}
	for (int i = 0; i < VMSIM_MAX_VMS; i++) {
		for (int c = 0; c < VMSIM_MAX_VCPUS; c++) {
			g_clear_pointer(&truth->vms[i].gcpus[c].events, fclose);
		}
	}
	g_free(truth->threads);
	g_free(truth->pcpus);
	g_free(truth);
}

static struct vmsim_thread *sim_thread(const struct vmsim *sim, int32_t id)
{
	return id >= 0 ? g_ptr_array_index(sim->threads, id) : NULL;
}

/* The truth state of `id` if it is a simulator vCPU thread, else NULL. */
static struct vmsim_tthread *tthread(const struct vmsim *sim, int32_t id)
{
	const struct vmsim_thread *th = sim_thread(sim, id);

	return th && th->kind == VMSIM_TK_VCPU ? &sim->truth->threads[id] : NULL;
}

/* ---- vCPU rows. ---- */

static void write_vrow(struct vmsim_tthread *tt, const struct vmsim_vrow *row)
{
	if (row->end <= row->begin) {
		return; /* Zero-length rows are dropped. */
	}
	if (!tt->rows) {
		tt->rows = spool();
	}
	if (fwrite(row, sizeof(*row), 1, tt->rows) != 1) {
		g_error("vmsim: cannot write a temporary file");
	}
	tt->nrows++;
}

/* Applies a state-establishing event (its new row in `next`). */
static void apply_sev(struct vmsim_tthread *tt, const struct vmsim_vrow *next)
{
	if (!tt->identified) {
		tt->sev = *next;
		tt->has_sev = true;
		return;
	}
	if (tt->ended) {
		return;
	}
	if (tt->row_open) {
		tt->row.end = next->begin;
		write_vrow(tt, &tt->row);
	}
	tt->timeline = true;
	tt->row = *next;
	tt->row_open = next->state != TSTATE_END;
	tt->ended = next->state == TSTATE_END;
}

/*
 * `T` becomes known as a vCPU thread: its timeline starts at the last
 * state-establishing event seen so far (callers decide whether the event
 * that identifies it counts, README "timeline start"), else at its next one.
 */
static void identify(struct vmsim_tthread *tt)
{
	if (tt->identified) {
		return;
	}
	tt->identified = true;
	if (tt->has_sev) {
		apply_sev(tt, &tt->sev);
	}
}

static void row_init(struct vmsim_vrow *row, int64_t t, int state, int32_t pcpu, int32_t exit)
{
	memset(row, 0, sizeof(*row));
	row->begin = t;
	row->state = state;
	row->pcpu = pcpu;
	row->exit_reason = exit;
	row->preemptor = -1;
}

/* ---- pCPU rows. ---- */

static void pcpu_update(struct vmsim *sim, int p, int64_t t)
{
	struct vmsim_tpcpu *tp = &sim->truth->pcpus[p];
	const struct vmsim_thread *th = sim_thread(sim, tp->cur);
	const struct vmsim_tthread *tt = tthread(sim, tp->cur);
	struct vmsim_prow row;

	memset(&row, 0, sizeof(row));
	row.begin = t;
	row.cur = tp->cur;
	vmsim_set_comm(row.comm, tp->comm);
	row.running = tt && tt->row_open && tt->row.state == TSTATE_RUNNING;
	if (row.running && th->vm->has_guest) {
		const struct vmsim_tgcpu *g = &sim->truth->vms[th->vm->idx].gcpus[th->vcpu];

		row.has_guest = g->set;
		row.g_tid = g->tid;
		vmsim_set_comm(row.g_comm, g->comm);
	}
	if (tp->started && row.cur == tp->row.cur && row.running == tp->row.running &&
	    row.has_guest == tp->row.has_guest && row.g_tid == tp->row.g_tid &&
	    !strcmp(row.comm, tp->row.comm) && !strcmp(row.g_comm, tp->row.g_comm)) {
		return;
	}
	if (tp->started && t > tp->row.begin) {
		tp->row.end = t;
		if (fwrite(&tp->row, sizeof(tp->row), 1, tp->rows) != 1) {
			g_error("vmsim: cannot write a temporary file");
		}
	}
	tp->row = row;
	tp->started = true;
}

/* The pCPU on which vCPU thread `id` runs in guest mode, or -1. */
static int pcpu_running(const struct vmsim *sim, int32_t id)
{
	for (int p = 0; p < sim->k.pcpus; p++) {
		if (sim->truth->pcpus[p].started && sim->truth->pcpus[p].cur == id) {
			return p;
		}
	}
	return -1;
}

/* ---- Host events. ---- */

static void guest_now(const struct vmsim *sim, const struct vmsim_thread *th,
		      struct vmsim_vrow *row)
{
	const struct vmsim_tgcpu *g;

	if (!th->vm->has_guest) {
		return;
	}
	g = &sim->truth->vms[th->vm->idx].gcpus[th->vcpu];
	row->has_guest = g->set;
	row->g_tid = g->tid;
	vmsim_set_comm(row->g_comm, g->comm);
}

static void switch_out(struct vmsim *sim, const struct vmsim_rec *rec)
{
	struct vmsim_tthread *tt = tthread(sim, rec->ref[0]);
	const struct vmsim_thread *th = sim_thread(sim, rec->ref[0]);
	int64_t ps = rec->v[2];
	struct vmsim_vrow row;

	if (!tt) {
		return;
	}
	tt->name_seen |= is_vcpu_name(rec->c[0]);
	if (tt->exiting || (ps & (VMSIM_PS_DEAD | VMSIM_PS_ZOMBIE))) {
		row_init(&row, rec->t, TSTATE_END, -1, -1);
	} else if ((ps & 0xff) == 0) {
		row_init(&row, rec->t, TSTATE_PREEMPTED, -1, -1);
		row.has_pre = 1;
		row.preemptor = rec->ref[1];
		row.pre_tid = (int32_t) rec->v[3];
		vmsim_set_comm(row.pre_comm, rec->c[1]);
		guest_now(sim, th, &row);
	} else {
		row_init(&row, rec->t,
			 tt->last_exit == VMSIM_EXIT_HLT ? TSTATE_IDLE : TSTATE_BLOCKED, -1,
			 tt->last_exit);
	}
	apply_sev(tt, &row);
	if (is_vcpu_name(rec->c[0])) {
		identify(tt);
	}
}

static void switch_in(struct vmsim *sim, const struct vmsim_rec *rec)
{
	struct vmsim_tthread *tt = tthread(sim, rec->ref[1]);
	struct vmsim_vrow row;

	if (!tt) {
		return;
	}
	tt->name_seen |= is_vcpu_name(rec->c[1]);
	row_init(&row, rec->t, TSTATE_HYPERVISOR, rec->cpu, tt->last_exit);
	apply_sev(tt, &row);
	if (is_vcpu_name(rec->c[1])) {
		identify(tt);
	}
}

static void handle_switch(struct vmsim *sim, const struct vmsim_rec *rec)
{
	struct vmsim_tpcpu *tp = &sim->truth->pcpus[rec->cpu];

	switch_out(sim, rec);
	switch_in(sim, rec);
	tp->cur = rec->ref[1];
	vmsim_set_comm(tp->comm, rec->c[1]);
	pcpu_update(sim, rec->cpu, rec->t);
}

/* KVM entry or exit: the emitter is the pCPU's current thread, if known. */
static void handle_kvm(struct vmsim *sim, const struct vmsim_rec *rec)
{
	struct vmsim_tpcpu *tp = &sim->truth->pcpus[rec->cpu];
	struct vmsim_tthread *tt;
	bool is_exit = rec->kind == VMSIM_EV_KVM_EXIT;
	struct vmsim_vrow row;

	if (!tp->started) {
		return; /* semantics §1: unknown emitter. */
	}
	g_assert(tp->cur == rec->ref[0]);
	tt = tthread(sim, tp->cur);
	g_assert(tt);
	/* Identified by this event: the timeline starts before it (README). */
	identify(tt);
	if (is_exit) {
		tt->last_exit = (int32_t) (rec->v[0] & 0xffff);
		tt->index_known |= sim->k.exit_vcpu_id;
		row_init(&row, rec->t, TSTATE_HYPERVISOR, rec->cpu, tt->last_exit);
	} else {
		tt->index_known |= rec->v[0] < 4096;
		row_init(&row, rec->t, TSTATE_RUNNING, rec->cpu, -1);
	}
	apply_sev(tt, &row);
	pcpu_update(sim, rec->cpu, rec->t);
}

static void handle_vm_uid(struct vmsim *sim, const struct vmsim_rec *rec, uint64_t uid)
{
	const struct vmsim_tpcpu *tp = &sim->truth->pcpus[rec->cpu];
	const struct vmsim_thread *th = tp->started ? sim_thread(sim, tp->cur) : NULL;

	if (th && th->vm && uid == th->vm->vm_uid) {
		sim->truth->vms[th->vm->idx].host_uid = true;
	}
}

static void handle_ust(struct vmsim *sim, const struct vmsim_rec *rec)
{
	for (int i = 0; i < sim->nvms; i++) {
		if (rec->str == sim->vms[i]->uuid && rec->kind != VMSIM_EV_UST_KVM_DESTROYED) {
			sim->truth->vms[i].ust_uuid = true;
		}
	}
}

static void handle_host(struct vmsim *sim, const struct vmsim_rec *rec)
{
	struct vmsim_tthread *tt;

	switch (rec->kind) {
	case VMSIM_EV_STATEDUMP_PROCESS:
	case VMSIM_EV_FORK:
		tt = tthread(sim, rec->kind == VMSIM_EV_FORK ? rec->ref[1] : rec->ref[0]);
		if (tt && is_vcpu_name(rec->c[rec->kind == VMSIM_EV_FORK ? 1 : 0])) {
			tt->name_seen = true;
			identify(tt);
		}
		break;
	case VMSIM_EV_SCHED_SWITCH:
		handle_switch(sim, rec);
		break;
	case VMSIM_EV_KVM_ENTRY:
	case VMSIM_EV_KVM_EXIT:
		handle_kvm(sim, rec);
		break;
	case VMSIM_EV_PROCESS_EXIT:
		tt = tthread(sim, rec->ref[0]);
		if (tt) {
			tt->exiting = true;
		}
		break;
	case VMSIM_EV_HYPERCALL:
		if (rec->v[0] == 5) {
			handle_vm_uid(sim, rec, (uint64_t) rec->v[2]);
		}
		break;
	case VMSIM_EV_GH_HOST:
		handle_vm_uid(sim, rec, (uint64_t) rec->v[1]);
		break;
	default:
		break;
	}
}

/* ---- Guest events. ---- */

static void handle_guest(struct vmsim *sim, const struct vmsim_rec *rec)
{
	const struct vmsim_vm *vm = sim->traces[rec->trace]->vm;
	struct vmsim_tvm *tv = &sim->truth->vms[vm->idx];
	struct vmsim_tgcpu *g = &tv->gcpus[rec->cpu];
	const struct vmsim_thread *th = vm->vcpus[rec->cpu];
	const struct vmsim_tthread *tt = &sim->truth->threads[th->id];
	struct vmsim_grow row = { .index = g->next_index++,
				  .recorded_nfo = rec->nfo,
				  .true_t = rec->t,
				  .kind = rec->kind,
				  .cpu = rec->cpu,
				  .thread = th->id,
				  .pcpu = -1,
				  .state = tt->row_open ? tt->row.state : TSTATE_NONE };

	if (row.state == TSTATE_RUNNING || row.state == TSTATE_HYPERVISOR) {
		row.pcpu = tt->row.pcpu;
	}
	if (fwrite(&row, sizeof(row), 1, g->events) != 1) {
		g_error("vmsim: cannot write a temporary file");
	}
	if (rec->kind == VMSIM_EV_GH_GUEST || rec->kind == VMSIM_EV_HG_GUEST) {
		tv->guest_uid = true;
	}
	if (rec->kind == VMSIM_EV_SCHED_SWITCH) {
		int p = pcpu_running(sim, th->id);

		g->set = true;
		g->tid = (int32_t) rec->v[3];
		vmsim_set_comm(g->comm, rec->c[1]);
		if (p >= 0) {
			pcpu_update(sim, p, rec->t);
		}
	}
}

void vmsim_truth_handle(struct vmsim *sim, const struct vmsim_rec *rec)
{
	if (rec->kind >= VMSIM_EV_COUNT) {
		return;
	}
	switch (sim->traces[rec->trace]->kind) {
	case VMSIM_TRACE_HOST_KERNEL:
		handle_host(sim, rec);
		break;
	case VMSIM_TRACE_HOST_UST:
		handle_ust(sim, rec);
		break;
	case VMSIM_TRACE_GUEST:
		handle_guest(sim, rec);
		break;
	}
}

void vmsim_truth_finish(struct vmsim *sim)
{
	struct vmsim_truth *truth = sim->truth;

	for (guint i = 0; i < truth->nthreads; i++) {
		struct vmsim_tthread *tt = &truth->threads[i];

		if (tt->row_open) {
			tt->row.end = sim->t_end;
			write_vrow(tt, &tt->row);
			tt->row_open = false;
		}
	}
	for (int p = 0; p < sim->k.pcpus; p++) {
		struct vmsim_tpcpu *tp = &truth->pcpus[p];

		if (tp->started && sim->t_end > tp->row.begin) {
			tp->row.end = sim->t_end;
			if (fwrite(&tp->row, sizeof(tp->row), 1, tp->rows) != 1) {
				g_error("vmsim: cannot write a temporary file");
			}
		}
	}
}
