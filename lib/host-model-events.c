/* SPDX-License-Identifier: MIT */
/*
 * Host model: how each host event changes threads, VMs, vCPU states and
 * CPUs (docs/semantics.md §1–§3).
 */
#include <string.h>

#include <glib.h>

#include "lib/host-model-internal.h"

/* Trust of a vCPU index source, per SPEC §3's order. */
enum index_trust {
	INDEX_TRUST_NONE = 0,
	INDEX_TRUST_ENTRY = 1,
	INDEX_TRUST_EXIT = 2,
	INDEX_TRUST_NAME = 3,
};

/* An entry's `vcpu_id` at or above this is a truncated `struct kvm_vcpu *`. */
#define MAX_ENTRY_VCPU_INDEX 4096

/*
 * No vCPU index (a KVM vCPU id, at most an x2APIC id in practice) reaches
 * this; a larger one from a trace is corrupt and is ignored.
 */
#define MAX_VCPU_INDEX 65536

/* `prev_state` bits of a task that will never run again. */
#define PREV_STATE_EXIT_DEAD 16
#define PREV_STATE_EXIT_ZOMBIE 32

static void notify_vcpu(struct vmt_host_model *model, struct vmt_thread *thread, int64_t ts)
{
	if (model->listener && model->listener->vcpu_changed) {
		model->listener->vcpu_changed(model->user, thread, ts);
	}
}

static void notify_cpu(struct vmt_host_model *model, int64_t cpu, int64_t ts)
{
	if (model->listener && model->listener->cpu_changed) {
		model->listener->cpu_changed(model->user, cpu, ts);
	}
}

static void set_state(struct vmt_host_model *model, struct vmt_thread *thread,
		      enum vmt_vcpu_state state, int64_t ts)
{
	thread->state = state;
	thread->state_since = ts;
	thread->has_sched_state = true;
	if (state != VMT_VCPU_STATE_PREEMPTED) {
		thread->preempted_by_serial = VMT_NO_SERIAL;
		thread->preempted_by_tid = -1;
		thread->preempted_by_comm[0] = '\0';
	}
	if (thread->is_vcpu) {
		thread->has_timeline = true;
		notify_vcpu(model, thread, ts);
	}
}

static void set_vcpu_slot(struct vmt_vm *vm, struct vmt_thread *thread)
{
	guint index = (guint) thread->vcpu_index;

	if (index >= vm->vcpus->len) {
		g_ptr_array_set_size(vm->vcpus, index + 1);
	}
	g_ptr_array_index(vm->vcpus, index) = thread;
}

static void clear_vcpu_slot(struct vmt_thread *thread)
{
	struct vmt_vm *vm = thread->vm;

	if (vm && thread->vcpu_index >= 0 && (guint64) thread->vcpu_index < vm->vcpus->len &&
	    g_ptr_array_index(vm->vcpus, thread->vcpu_index) == thread) {
		g_ptr_array_index(vm->vcpus, thread->vcpu_index) = NULL;
	}
}

static void bind_vm(struct vmt_host_model *model, struct vmt_thread *thread)
{
	if (thread->vm) {
		return;
	}
	if (thread->pid >= 0) {
		thread->vm = vmt_host_model_find_vm_by_pid(model, thread->pid);
	}
	if (!thread->vm) {
		thread->vm = vmt_host_model_add_vm(model, thread->pid);
	}
	if (thread->vcpu_index >= 0) {
		set_vcpu_slot(thread->vm, thread);
	}
}

/*
 * Marks `thread` as a vCPU thread, with `index` when `trust` beats what is
 * known. A thread recognised now starts its timeline at the beginning of
 * its current scheduling state (semantics §3, "start of a timeline").
 */
static void mark_vcpu(struct vmt_host_model *model, struct vmt_thread *thread, int64_t index,
		      enum index_trust trust)
{
	bool was_vcpu = thread->is_vcpu;

	if (index >= MAX_VCPU_INDEX) {
		index = -1;
	}
	if (index >= 0 && (int) trust > thread->vcpu_index_trust) {
		clear_vcpu_slot(thread);
		thread->vcpu_index = index;
		thread->vcpu_index_trust = trust;
	}
	thread->is_vcpu = true;
	bind_vm(model, thread);
	if (thread->vcpu_index >= 0) {
		set_vcpu_slot(thread->vm, thread);
	}
	if (!was_vcpu && thread->has_sched_state) {
		thread->has_timeline = true;
		notify_vcpu(model, thread, thread->state_since);
	}
}

/* A VM is named after its main thread, whichever of the name and the pid came first. */
static void name_vm_after_main_thread(struct vmt_host_model *model, const struct vmt_thread *thread)
{
	struct vmt_vm *vm;

	if (thread->tid != thread->pid || !thread->comm[0]) {
		return;
	}
	vm = vmt_host_model_find_vm_by_pid(model, thread->pid);
	if (vm) {
		g_strlcpy(vm->comm, thread->comm, VMT_COMM_SIZE);
	}
}

static void set_comm(struct vmt_host_model *model, struct vmt_thread *thread, const char *comm)
{
	int64_t index;

	/* Names rarely change: compare the first byte before the whole string. */
	if (!comm || (thread->comm[0] == comm[0] && strcmp(thread->comm, comm) == 0)) {
		return;
	}
	g_strlcpy(thread->comm, comm, VMT_COMM_SIZE);
	name_vm_after_main_thread(model, thread);
	index = vmt_vcpu_index_from_comm(comm);
	if (index >= 0) {
		mark_vcpu(model, thread, index, INDEX_TRUST_NAME);
	}
}

static void set_pid(struct vmt_host_model *model, struct vmt_thread *thread, int64_t pid)
{
	struct vmt_vm *private_vm = thread->vm;
	guint i;

	if (pid < 0 || thread->pid == pid) {
		return;
	}
	thread->pid = pid;
	if (!private_vm || private_vm->pid >= 0) {
		name_vm_after_main_thread(model, thread);
		return;
	}
	/* The thread had a VM of its own while its process was unknown: join the process's. */
	clear_vcpu_slot(thread);
	thread->vm = NULL;
	bind_vm(model, thread);
	for (i = 0; i < private_vm->vm_uids->len; i++) {
		vmt_host_model_vm_add_uid(thread->vm,
					  g_array_index(private_vm->vm_uids, uint64_t, i));
	}
	vmt_host_model_end_vm(model, private_vm);
	name_vm_after_main_thread(model, thread);
}

/*
 * A dead instance must not stay any CPU's current thread (possible after
 * lost events): the CPU's thread is unknown until its next `sched_switch`.
 */
static void clear_cpus_running(struct vmt_host_model *model, const struct vmt_thread *thread)
{
	guint i;

	for (i = 0; i < model->cpus->len; i++) {
		struct vmt_cpu_state *cpu = &g_array_index(model->cpus, struct vmt_cpu_state, i);

		if (cpu->current == thread) {
			cpu->current = NULL;
		}
	}
}

static void kill_thread(struct vmt_host_model *model, struct vmt_thread *thread, int64_t ts)
{
	if (!thread->is_alive) {
		return;
	}
	if (thread->has_timeline && model->listener && model->listener->vcpu_ended) {
		model->listener->vcpu_ended(model->user, thread, ts);
	}
	thread->is_alive = false;
	thread->cpu = -1;
	clear_vcpu_slot(thread);
	clear_cpus_running(model, thread);
	if (vmt_host_model_find_thread(model, thread->tid) == thread) {
		g_hash_table_remove(model->threads, &thread->tid);
	}
	if (thread->tid == thread->pid) {
		struct vmt_vm *vm = vmt_host_model_find_vm_by_pid(model, thread->pid);

		if (vm) {
			vmt_host_model_end_vm(model, vm);
		}
	}
	/* A vCPU's rows (and its listener's data) still name it; nothing else can. */
	if (!thread->is_vcpu && !thread->listener_data) {
		g_ptr_array_add(model->dead_threads, thread);
	}
}

/*
 * The thread that emitted `event`: the `tid` context, else the CPU's current
 * thread, i.e. the alive instance of the tid last switched in there (after
 * lost events that instance may have been replaced by a new one).
 */
static struct vmt_thread *find_emitter(struct vmt_host_model *model,
				       const struct vmt_host_event *event)
{
	struct vmt_cpu_state *cpu;
	struct vmt_thread *thread;

	if (event->ctx_tid > 0) {
		thread = vmt_host_model_find_or_add_thread(model, event->ctx_tid);
		set_pid(model, thread, event->ctx_pid);
		return thread;
	}
	cpu = event->cpu >= 0 && (guint64) event->cpu < model->cpus->len ?
		      &g_array_index(model->cpus, struct vmt_cpu_state, event->cpu) :
		      NULL;
	if (!cpu) {
		return NULL;
	}
	if (!cpu->current && cpu->current_tid > 0) {
		cpu->current = vmt_host_model_find_thread(model, cpu->current_tid);
	}
	return cpu->current;
}

static void switch_out(struct vmt_host_model *model, struct vmt_thread *prev,
		       struct vmt_thread *next, const struct vmt_host_event *event)
{
	int64_t prev_state = event->u.sched_switch.prev_state;
	enum vmt_vcpu_state state;

	prev->cpu = -1;
	/* A negative value is an absent or hostile `prev_state`, not a death. */
	if (prev->is_exiting || (prev_state >= 0 && (prev_state & (PREV_STATE_EXIT_DEAD |
								   PREV_STATE_EXIT_ZOMBIE)) != 0)) {
		kill_thread(model, prev, event->ts);
		return;
	}
	if (vmt_prev_state_is_runnable(prev_state)) {
		state = VMT_VCPU_STATE_PREEMPTED;
		prev->preempted_by_serial = next ? next->serial : VMT_NO_SERIAL;
		prev->preempted_by_tid = event->u.sched_switch.next_tid;
		g_strlcpy(prev->preempted_by_comm,
			  event->u.sched_switch.next_comm ? event->u.sched_switch.next_comm : "",
			  VMT_COMM_SIZE);
	} else {
		state = prev->last_exit_is_hlt ? VMT_VCPU_STATE_IDLE : VMT_VCPU_STATE_BLOCKED;
	}
	set_state(model, prev, state, event->ts);
}

static void handle_sched_switch(struct vmt_host_model *model, const struct vmt_host_event *event)
{
	struct vmt_cpu_state *cpu = vmt_host_model_cpu(model, event->cpu);
	struct vmt_thread *prev, *next;

	/* The thread leaving is almost always the CPU's current one: no lookup then. */
	if (cpu && cpu->current && cpu->current->tid == event->u.sched_switch.prev_tid &&
	    cpu->current->is_alive) {
		prev = cpu->current;
	} else {
		prev = vmt_host_model_find_or_add_thread(model, event->u.sched_switch.prev_tid);
	}
	next = vmt_host_model_find_or_add_thread(model, event->u.sched_switch.next_tid);
	if (prev) {
		set_comm(model, prev, event->u.sched_switch.prev_comm);
	}
	if (next) {
		set_comm(model, next, event->u.sched_switch.next_comm);
	}
	if (!cpu) {
		return;
	}
	if (prev && prev != next) {
		switch_out(model, prev, next, event);
	}
	if (next) {
		next->cpu = event->cpu;
		set_state(model, next, VMT_VCPU_STATE_HYPERVISOR, event->ts);
	}
	cpu->current = next;
	cpu->current_tid = event->u.sched_switch.next_tid;
	g_strlcpy(cpu->comm, event->u.sched_switch.next_comm ? event->u.sched_switch.next_comm : "",
		  VMT_COMM_SIZE);
	notify_cpu(model, event->cpu, event->ts);
}

static void handle_kvm_entry(struct vmt_host_model *model, const struct vmt_host_event *event)
{
	struct vmt_thread *thread = find_emitter(model, event);
	int64_t vcpu_id = event->u.entry.vcpu_id;

	if (!thread) {
		return;
	}
	mark_vcpu(model, thread, vcpu_id < MAX_ENTRY_VCPU_INDEX ? vcpu_id : -1, INDEX_TRUST_ENTRY);
	if (event->cpu >= 0) {
		thread->cpu = event->cpu;
	}
	set_state(model, thread, VMT_VCPU_STATE_RUNNING, event->ts);
	notify_cpu(model, event->cpu, event->ts);
}

static void handle_kvm_exit(struct vmt_host_model *model, const struct vmt_host_event *event)
{
	struct vmt_thread *thread = find_emitter(model, event);
	int64_t isa = event->u.exit.isa;

	if (!thread) {
		return;
	}
	mark_vcpu(model, thread, event->u.exit.vcpu_id, INDEX_TRUST_EXIT);
	thread->last_exit_reason = vmt_exit_reason_basic(event->u.exit.exit_reason, isa);
	thread->last_exit_is_hlt = vmt_exit_reason_is_hlt(thread->last_exit_reason, isa);
	if (event->cpu >= 0) {
		thread->cpu = event->cpu;
	}
	set_state(model, thread, VMT_VCPU_STATE_HYPERVISOR, event->ts);
	notify_cpu(model, event->cpu, event->ts);
}

/* A vmsync `vm_uid` handled by a thread ties the guest with that vm_uid to its process. */
static void handle_vm_uid(struct vmt_host_model *model, const struct vmt_host_event *event,
			  uint64_t vm_uid)
{
	struct vmt_thread *thread = find_emitter(model, event);

	if (!thread) {
		return;
	}
	bind_vm(model, thread);
	vmt_host_model_vm_add_uid(thread->vm, vm_uid);
}

static void handle_fork(struct vmt_host_model *model, const struct vmt_host_event *event)
{
	struct vmt_thread *child;
	int64_t child_tid = event->u.fork.child_tid;
	int64_t child_pid = event->u.fork.child_pid;

	if (child_tid <= 0) {
		return;
	}
	child = vmt_host_model_find_thread(model, child_tid);
	if (child) {
		/* The tid was reused without an exit in the trace: the old instance is gone. */
		kill_thread(model, child, event->ts);
	}
	if (child_tid == child_pid) {
		struct vmt_vm *old_vm = vmt_host_model_find_vm_by_pid(model, child_pid);

		if (old_vm) {
			vmt_host_model_end_vm(model, old_vm);
		}
	}
	child = vmt_host_model_add_thread(model, child_tid);
	set_pid(model, child, child_pid);
	set_comm(model, child, event->u.fork.child_comm);
}

static void handle_statedump(struct vmt_host_model *model, const struct vmt_host_event *event)
{
	struct vmt_thread *thread =
		vmt_host_model_find_or_add_thread(model, event->u.statedump.tid);

	if (!thread) {
		return;
	}
	set_pid(model, thread, event->u.statedump.pid);
	set_comm(model, thread, event->u.statedump.name);
}

static void handle_vm_uuid(struct vmt_host_model *model, const struct vmt_host_event *event)
{
	char uuid[VMT_UUID_SIZE];
	struct vmt_vm *vm;

	if (event->u.vm_uuid.pid <= 0 || !vmt_uuid_normalize(event->u.vm_uuid.uuid, uuid)) {
		return;
	}
	vm = vmt_host_model_find_vm_by_pid(model, event->u.vm_uuid.pid);
	if (vm && vm->uuid[0] && strcmp(vm->uuid, uuid) != 0) {
		/* Same pid, another UUID: the process was reused by a new VM. */
		vmt_host_model_end_vm(model, vm);
		vm = NULL;
	}
	if (!vm) {
		vm = vmt_host_model_add_vm(model, event->u.vm_uuid.pid);
	}
	memcpy(vm->uuid, uuid, VMT_UUID_SIZE);
}

static void handle_vm_destroyed(struct vmt_host_model *model, const struct vmt_host_event *event)
{
	struct vmt_vm *vm = vmt_host_model_find_vm_by_pid(model, event->u.vm_destroyed.pid);

	if (vm) {
		vmt_host_model_end_vm(model, vm);
	}
}

static void handle_process_exit(struct vmt_host_model *model, const struct vmt_host_event *event)
{
	struct vmt_thread *thread = vmt_host_model_find_thread(model, event->u.process_exit.tid);

	if (thread) {
		thread->is_exiting = true;
	}
}

void vmt_host_model_handle(struct vmt_host_model *model, const struct vmt_host_event *event)
{
	if (model->dead_threads->len) {
		vmt_host_model_free_dead_threads(model);
	}
	if (event->ts > model->last_ts) {
		model->last_ts = event->ts;
	}
	switch (event->kind) {
	case VMT_HOST_EVENT_SCHED_SWITCH:
		handle_sched_switch(model, event);
		break;
	case VMT_HOST_EVENT_KVM_ENTRY:
		handle_kvm_entry(model, event);
		break;
	case VMT_HOST_EVENT_KVM_EXIT:
		handle_kvm_exit(model, event);
		break;
	case VMT_HOST_EVENT_HYPERCALL:
		if (event->u.hypercall.nr == 5) {
			handle_vm_uid(model, event, event->u.hypercall.a1);
		}
		break;
	case VMT_HOST_EVENT_VMSYNC_GH_HOST:
		handle_vm_uid(model, event, event->u.vmsync.vm_uid);
		break;
	case VMT_HOST_EVENT_PROCESS_FORK:
		handle_fork(model, event);
		break;
	case VMT_HOST_EVENT_PROCESS_EXIT:
		handle_process_exit(model, event);
		break;
	case VMT_HOST_EVENT_STATEDUMP_PROCESS:
		handle_statedump(model, event);
		break;
	case VMT_HOST_EVENT_VM_UUID:
		handle_vm_uuid(model, event);
		break;
	case VMT_HOST_EVENT_VM_DESTROYED:
		handle_vm_destroyed(model, event);
		break;
	case VMT_HOST_EVENT_OTHER:
		break;
	}
}
