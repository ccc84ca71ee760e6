/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the host model (lib/host-model*.c): vCPU state transitions
 * (SPEC §4, docs/semantics.md §3), every identity source (semantics §2),
 * and the edge cases of issue 4: pointer-valued entry vcpu_id, missing exit
 * vcpu_id, VMX flag bits, SVM, thread-id and pid reuse, late identification.
 */
#include <string.h>

#include <glib.h>

#include "lib/host-model.h"

#include "host-events.h"
#include "tap.h"

static const char *state_name(enum vmt_vcpu_state state)
{
	static const char *const names[] = { "running", "hypervisor", "preempted", "idle",
					     "blocked" };

	return (unsigned) state < 5 ? names[state] : "?";
}

/* One listener call, as recorded. */
struct change {
	int64_t tid;
	int64_t ts;
	bool ended;
	enum vmt_vcpu_state state;
	int64_t cpu;
	int64_t exit_reason;
	int64_t preempted_by_tid;
};

static GArray *changes;

static void on_vcpu_changed(void *user, struct vmt_thread *thread, int64_t ts)
{
	struct change c = { thread->tid,
			    ts,
			    false,
			    thread->state,
			    thread->cpu,
			    thread->last_exit_reason,
			    thread->preempted_by_tid };

	(void) user;
	g_array_append_val(changes, c);
}

static void on_vcpu_ended(void *user, struct vmt_thread *thread, int64_t ts)
{
	struct change c = { thread->tid, ts, true, thread->state, -1, -1, -1 };

	(void) user;
	g_array_append_val(changes, c);
}

static const struct vmt_host_model_listener listener = {
	.vcpu_changed = on_vcpu_changed,
	.vcpu_ended = on_vcpu_ended,
	.cpu_changed = NULL,
};

static const struct change *last_change(void)
{
	return changes->len ? &g_array_index(changes, struct change, changes->len - 1) : NULL;
}

static void expect_last(const char *what, int64_t tid, int64_t ts, enum vmt_vcpu_state state,
			int64_t cpu, int64_t exit_reason)
{
	const struct change *c = last_change();

	OK(c && c->tid == tid && c->ts == ts && !c->ended && c->state == state && c->cpu == cpu &&
		   c->exit_reason == exit_reason,
	   "%s: tid %" PRId64 " state %s at %" PRId64 " (got tid %" PRId64 " %s at %" PRId64
	   " cpu %" PRId64 " reason %" PRId64 ")",
	   what, tid, state_name(state), ts, c ? c->tid : -1, c ? state_name(c->state) : "-",
	   c ? c->ts : -1, c ? c->cpu : -1, c ? c->exit_reason : -1);
}

static struct vmt_host_model *new_model(void)
{
	g_array_set_size(changes, 0);
	return vmt_host_model_create(&listener, NULL);
}

static void test_states(void)
{
	struct vmt_host_model *m = new_model();
	struct vmt_vm *vm;

	feed_statedump(m, 1, 100, 100, "qemu-system-x86");
	feed_statedump(m, 2, 101, 100, "CPU 0/KVM");
	OK(changes->len == 0, "a name alone starts no timeline");
	feed_sched_switch(m, 10, 0, 0, "swapper/0", 0, 101, "CPU 0/KVM");
	expect_last("switch-in", 101, 10, VMT_VCPU_STATE_HYPERVISOR, 0, -1);
	feed_entry(m, 20, 0, 0);
	expect_last("entry", 101, 20, VMT_VCPU_STATE_RUNNING, 0, -1);
	feed_exit(m, 30, 0, 1, 1, -1);
	expect_last("exit", 101, 30, VMT_VCPU_STATE_HYPERVISOR, 0, 1);
	feed_sched_switch(m, 40, 0, 101, "CPU 0/KVM", 0, 200, "stress,\"x\"");
	expect_last("runnable switch-out", 101, 40, VMT_VCPU_STATE_PREEMPTED, -1, 1);
	IS_I64(last_change()->preempted_by_tid, 200, "preemptor tid");
	feed_sched_switch(m, 50, 1, 0, "swapper/1", 0, 101, "CPU 0/KVM");
	expect_last("switch-in on another CPU", 101, 50, VMT_VCPU_STATE_HYPERVISOR, 1, 1);
	feed_entry(m, 60, 1, 0);
	feed_exit(m, 70, 1, 0x80000000u | 12, 1, -1);
	expect_last("VMX flag bits masked", 101, 70, VMT_VCPU_STATE_HYPERVISOR, 1, 12);
	feed_sched_switch(m, 80, 1, 101, "CPU 0/KVM", 1, 0, "swapper/1");
	expect_last("blocked after HLT", 101, 80, VMT_VCPU_STATE_IDLE, -1, 12);
	feed_sched_switch(m, 90, 1, 0, "swapper/1", 0, 101, "CPU 0/KVM");
	feed_entry(m, 95, 1, 0);
	feed_exit(m, 100, 1, 30, 1, -1);
	feed_sched_switch(m, 110, 1, 101, "CPU 0/KVM", 2, 0, "swapper/1");
	expect_last("blocked after I/O", 101, 110, VMT_VCPU_STATE_BLOCKED, -1, 30);
	feed_sched_switch(m, 120, 1, 0, "swapper/1", 0, 101, "CPU 0/KVM");
	feed_sched_switch(m, 130, 1, 101, "CPU 0/KVM", 256, 0, "swapper/1");
	expect_last("prev_state 256 is runnable", 101, 130, VMT_VCPU_STATE_PREEMPTED, -1, 30);
	feed_sched_switch(m, 140, 1, 0, "swapper/1", 0, 101, "CPU 0/KVM");
	feed_sched_switch(m, 150, 1, 101, "CPU 0/KVM", 257, 0, "swapper/1");
	expect_last("prev_state 257 is blocked", 101, 150, VMT_VCPU_STATE_BLOCKED, -1, 30);
	vm = vmt_host_model_find_vm(m, NULL, false, 0);
	OK(vm == NULL, "no VM found without a key");
	vm = vmt_host_model_find_vm_by_pid(m, 100);
	OK(vm && vmt_host_model_find_vcpu_thread(vm, 0) &&
		   vmt_host_model_find_vcpu_thread(vm, 0)->tid == 101,
	   "vCPU 0 of pid 100 is tid 101");
	IS_STR(vm ? vmt_vm_name(vm) : NULL, "qemu-system-x86", "VM named after its process");
	vmt_host_model_destroy(m);
}

static void test_svm(void)
{
	struct vmt_host_model *m = new_model();

	feed_statedump(m, 1, 301, 300, "CPU 0/KVM");
	feed_sched_switch(m, 10, 0, 0, "swapper/0", 0, 301, "CPU 0/KVM");
	feed_exit(m, 20, 0, 0x78, 2, -1);
	feed_sched_switch(m, 30, 0, 301, "CPU 0/KVM", 1, 0, "swapper/0");
	expect_last("SVM HLT then block is idle", 301, 30, VMT_VCPU_STATE_IDLE, -1, 0x78);
	feed_sched_switch(m, 40, 0, 0, "swapper/0", 0, 301, "CPU 0/KVM");
	feed_exit(m, 50, 0, 0x78, 1, -1);
	feed_sched_switch(m, 60, 0, 301, "CPU 0/KVM", 1, 0, "swapper/0");
	expect_last("reason 0x78 under VMX is not HLT", 301, 60, VMT_VCPU_STATE_BLOCKED, -1, 0x78);
	vmt_host_model_destroy(m);
}

static void test_index_sources(void)
{
	struct vmt_host_model *m = new_model();
	struct vmt_vm *vm;

	feed_statedump(m, 1, 401, 400, "qemu-system-x86");
	feed_statedump(m, 1, 402, 400, "qemu-system-x86");
	feed_statedump(m, 1, 403, 400, "CPU 5/KVM");
	feed_sched_switch(m, 10, 0, 0, "swapper/0", 0, 401, "qemu-system-x86");
	feed_entry(m, 11, 0, (int64_t) 0x8a3c4000);
	feed_sched_switch(m, 12, 0, 401, "qemu-system-x86", 0, 402, "qemu-system-x86");
	feed_entry(m, 13, 0, 1);
	feed_exit(m, 14, 0, 1, 1, 2);
	feed_sched_switch(m, 15, 0, 402, "qemu-system-x86", 0, 403, "CPU 5/KVM");
	feed_exit(m, 16, 0, 1, 1, 3);
	vm = vmt_host_model_find_vm_by_pid(m, 400);
	OK(vm && vmt_host_model_find_vcpu_thread(vm, 0) == NULL,
	   "a pointer-valued entry vcpu_id is not an index");
	OK(vm && vmt_host_model_find_vcpu_thread(vm, 2) &&
		   vmt_host_model_find_vcpu_thread(vm, 2)->tid == 402,
	   "exit vcpu_id beats a small entry vcpu_id");
	OK(vm && vmt_host_model_find_vcpu_thread(vm, 5) &&
		   vmt_host_model_find_vcpu_thread(vm, 5)->tid == 403,
	   "the `CPU n/KVM` name beats exit vcpu_id");
	OK(vm && vmt_host_model_find_vcpu_thread(vm, 1) == NULL,
	   "the entry index was replaced, not kept");
	vmt_host_model_destroy(m);
}

static void test_late_identification(void)
{
	struct vmt_host_model *m = new_model();
	const struct change *first;

	feed_sched_switch(m, 10, 0, 0, "swapper/0", 0, 31, "qemucpu1");
	OK(changes->len == 0, "an unnamed thread is not a vCPU before its first entry");
	feed_entry(m, 15, 0, 0);
	OK(changes->len == 2, "identification at the entry gives two changes");
	first = &g_array_index(changes, struct change, 0);
	OK(first->ts == 10 && first->state == VMT_VCPU_STATE_HYPERVISOR && first->cpu == 0,
	   "the timeline starts at the switch-in before the entry, in hypervisor");
	expect_last("then running at the entry", 31, 15, VMT_VCPU_STATE_RUNNING, 0, -1);
	vmt_host_model_destroy(m);
}

static void test_uuids(void)
{
	struct vmt_host_model *m = new_model();
	struct vmt_host_event ev;
	struct vmt_vm *vm;

	feed_statedump(m, 1, 501, 500, "CPU 0/KVM");
	feed_vm_uuid(m, 2, 500, "8F1A2B3C-0000-4000-8000-00000000ABCD");
	vm = vmt_host_model_find_vm(m, "8f1a2b3c-0000-4000-8000-00000000abcd", false, 0);
	OK(vm && vm->pid == 500, "statedump UUID found, case-insensitively");
	feed_sched_switch(m, 10, 0, 0, "swapper/0", 0, 501, "CPU 0/KVM");
	ev = ev_base(VMT_HOST_EVENT_HYPERCALL, 20, 0);
	ev.u.hypercall.nr = 5;
	ev.u.hypercall.a0 = 7;
	ev.u.hypercall.a1 = 0xdeadbeefcafe;
	vmt_host_model_handle(m, &ev);
	ev = ev_base(VMT_HOST_EVENT_HYPERCALL, 21, 0);
	ev.u.hypercall.nr = 5;
	ev.u.hypercall.a1 = 3; /* A PV spinlock kick: APIC id 3, no guest has vm_uid 3. */
	vmt_host_model_handle(m, &ev);
	OK(vmt_host_model_find_vm(m, NULL, true, 0xdeadbeefcafe) == vm,
	   "vm_uid from a hypercall nr 5 finds the VM");
	ev = ev_base(VMT_HOST_EVENT_VM_DESTROYED, 30, 0);
	ev.u.vm_destroyed.pid = 500;
	vmt_host_model_handle(m, &ev);
	OK(vmt_host_model_find_vm(m, "8f1a2b3c-0000-4000-8000-00000000abcd", false, 0) == NULL,
	   "a destroyed VM is not found any more");
	feed_vm_uuid(m, 40, 600, "not-a-uuid");
	OK(vmt_host_model_find_vm(m, "not-a-uuid", false, 0) == NULL, "a bad UUID is ignored");
	vmt_host_model_destroy(m);
}

static void test_absent_prev_state(void)
{
	struct vmt_host_model *m = new_model();

	feed_statedump(m, 1, 501, 500, "CPU 0/KVM");
	feed_sched_switch(m, 10, 0, 0, "swapper/0", 0, 501, "CPU 0/KVM");
	feed_entry(m, 15, 0, 0);
	/* -1: what the decoder gives for a `sched_switch` without `prev_state`. */
	feed_sched_switch(m, 20, 0, 501, "CPU 0/KVM", -1, 0, "swapper/0");
	OK(last_change() && !last_change()->ended,
	   "an absent prev_state does not end the vCPU thread (all bits set is no death)");
	feed_sched_switch(m, 30, 0, 0, "swapper/0", 0, 501, "CPU 0/KVM");
	expect_last("the same vCPU thread runs on", 501, 30, VMT_VCPU_STATE_HYPERVISOR, 0, -1);
	vmt_host_model_destroy(m);
}

static void test_vm_named_when_pid_comes_late(void)
{
	struct vmt_host_model *m = new_model();
	struct vmt_vm *vm;

	/* The VM is known first, then its main thread by name, then that thread's pid. */
	feed_vm_uuid(m, 5, 500, "8f1a2b3c-0000-4000-8000-00000000abcd");
	feed_sched_switch(m, 6, 1, 0, "swapper/1", 0, 500, "qemu-system-x86");
	feed_statedump(m, 7, 500, 500, "qemu-system-x86");
	vm = vmt_host_model_find_vm(m, "8f1a2b3c-0000-4000-8000-00000000abcd", false, 0);
	OK(vm && strcmp(vm->comm, "qemu-system-x86") == 0,
	   "the VM takes its main thread's name once the pid is known (got \"%s\")",
	   vm ? vm->comm : "(no VM)");
	vmt_host_model_destroy(m);
}

static void test_reuse(void)
{
	struct vmt_host_model *m = new_model();
	struct vmt_host_event ev;
	struct vmt_thread *old_thread, *new_thread;
	struct vmt_vm *vm;

	feed_fork(m, 1, 700, 700, "qemu-system-x86");
	feed_fork(m, 2, 701, 700, "CPU 0/KVM");
	feed_vm_uuid(m, 3, 700, "11111111-2222-3333-4444-555555555555");
	feed_sched_switch(m, 10, 0, 0, "swapper/0", 0, 701, "CPU 0/KVM");
	old_thread = vmt_host_model_find_vcpu_thread(
		vmt_host_model_find_vm(m, "11111111-2222-3333-4444-555555555555", false, 0), 0);
	ev = ev_base(VMT_HOST_EVENT_PROCESS_EXIT, 20, 0);
	ev.u.process_exit.tid = 701;
	vmt_host_model_handle(m, &ev);
	feed_sched_switch(m, 25, 0, 701, "CPU 0/KVM", 0, 0, "swapper/0");
	OK(last_change()->ended && last_change()->ts == 25,
	   "the switch-out after sched_process_exit ends the timeline");
	ev = ev_base(VMT_HOST_EVENT_VM_DESTROYED, 30, 0);
	ev.u.vm_destroyed.pid = 700;
	vmt_host_model_handle(m, &ev);
	feed_fork(m, 40, 700, 700, "qemu-system-x86");
	feed_fork(m, 41, 701, 700, "CPU 0/KVM");
	feed_vm_uuid(m, 42, 700, "99999999-2222-3333-4444-555555555555");
	vm = vmt_host_model_find_vm(m, "99999999-2222-3333-4444-555555555555", false, 0);
	new_thread = vmt_host_model_find_vcpu_thread(vm, 0);
	OK(vm && new_thread && new_thread != old_thread && new_thread->tid == 701,
	   "a reused tid is a new vCPU thread instance of the new VM");
	OK(old_thread && !old_thread->is_alive && old_thread->vm != vm,
	   "the old instance stays dead, with its old VM");
	feed_sched_switch(m, 50, 0, 0, "swapper/0", 0, 701, "CPU 0/KVM");
	feed_sched_switch(m, 60, 0, 701, "CPU 0/KVM", 16, 0, "swapper/0");
	OK(last_change()->ended && last_change()->ts == 60, "prev_state EXIT_DEAD ends it too");
	vmt_host_model_destroy(m);
}

static void test_tid_context(void)
{
	struct vmt_host_model *m = new_model();
	struct vmt_host_event ev = ev_base(VMT_HOST_EVENT_KVM_ENTRY, 10, 3);

	ev.ctx_tid = 801;
	ev.ctx_pid = 800;
	ev.u.entry.vcpu_id = 1;
	vmt_host_model_handle(m, &ev);
	expect_last("the tid context names the emitter", 801, 10, VMT_VCPU_STATE_RUNNING, 3, -1);
	OK(vmt_host_model_find_vcpu_thread(vmt_host_model_find_vm_by_pid(m, 800), 1) != NULL,
	   "and the pid context its process");
	vmt_host_model_destroy(m);
}

static void test_helpers(void)
{
	char uuid[VMT_UUID_SIZE];

	IS_I64(vmt_vcpu_index_from_comm("CPU 12/KVM"), 12, "CPU 12/KVM");
	IS_I64(vmt_vcpu_index_from_comm("CPU 1/KVMx"), -1, "trailing garbage");
	IS_I64(vmt_vcpu_index_from_comm("CPU /KVM"), -1, "no digits");
	IS_I64(vmt_vcpu_index_from_comm(NULL), -1, "no name");
	OK(vmt_uuid_normalize("ABCDEF01-2345-6789-ABCD-EF0123456789\x01garbage", uuid) &&
		   strcmp(uuid, "abcdef01-2345-6789-abcd-ef0123456789") == 0,
	   "UUID lowercased, trailing garbage dropped");
	OK(!vmt_uuid_normalize("abcdef01-2345-6789-abcd-ef01234567890", uuid),
	   "a 33-digit last group is not a UUID");
	OK(vmt_prev_state_is_runnable(0) && vmt_prev_state_is_runnable(2048) &&
		   !vmt_prev_state_is_runnable(1) && !vmt_prev_state_is_runnable(128),
	   "runnable prev_state");
}

int main(void)
{
	changes = g_array_new(FALSE, TRUE, sizeof(struct change));
	test_states();
	test_svm();
	test_index_sources();
	test_late_identification();
	test_uuids();
	test_reuse();
	test_absent_prev_state();
	test_vm_named_when_pid_comes_late();
	test_tid_context();
	test_helpers();
	g_array_free(changes, TRUE);
	return tap_done();
}
