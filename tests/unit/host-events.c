/* SPDX-License-Identifier: MIT */
#include "host-events.h"

#include <string.h>

struct vmt_host_event ev_base(enum vmt_host_event_kind kind, int64_t ts, int64_t cpu)
{
	struct vmt_host_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.ts = ts;
	ev.cpu = cpu;
	ev.ctx_tid = -1;
	ev.ctx_pid = -1;
	return ev;
}

void feed_statedump(struct vmt_host_model *m, int64_t ts, int64_t tid, int64_t pid,
		    const char *name)
{
	struct vmt_host_event ev = ev_base(VMT_HOST_EVENT_STATEDUMP_PROCESS, ts, 0);

	ev.u.statedump.tid = tid;
	ev.u.statedump.pid = pid;
	ev.u.statedump.name = name;
	vmt_host_model_handle(m, &ev);
}

void feed_sched_switch(struct vmt_host_model *m, int64_t ts, int64_t cpu, int64_t prev_tid,
		       const char *prev_comm, int64_t prev_state, int64_t next_tid,
		       const char *next_comm)
{
	struct vmt_host_event ev = ev_base(VMT_HOST_EVENT_SCHED_SWITCH, ts, cpu);

	ev.u.sched_switch.prev_tid = prev_tid;
	ev.u.sched_switch.prev_comm = prev_comm;
	ev.u.sched_switch.prev_state = prev_state;
	ev.u.sched_switch.next_tid = next_tid;
	ev.u.sched_switch.next_comm = next_comm;
	vmt_host_model_handle(m, &ev);
}

void feed_entry(struct vmt_host_model *m, int64_t ts, int64_t cpu, int64_t vcpu_id)
{
	struct vmt_host_event ev = ev_base(VMT_HOST_EVENT_KVM_ENTRY, ts, cpu);

	ev.u.entry.vcpu_id = vcpu_id;
	vmt_host_model_handle(m, &ev);
}

void feed_exit(struct vmt_host_model *m, int64_t ts, int64_t cpu, uint64_t reason, int64_t isa,
	       int64_t vcpu_id)
{
	struct vmt_host_event ev = ev_base(VMT_HOST_EVENT_KVM_EXIT, ts, cpu);

	ev.u.exit.exit_reason = reason;
	ev.u.exit.isa = isa;
	ev.u.exit.vcpu_id = vcpu_id;
	vmt_host_model_handle(m, &ev);
}

void feed_vm_uuid(struct vmt_host_model *m, int64_t ts, int64_t pid, const char *uuid)
{
	struct vmt_host_event ev = ev_base(VMT_HOST_EVENT_VM_UUID, ts, 0);

	ev.u.vm_uuid.pid = pid;
	ev.u.vm_uuid.uuid = uuid;
	vmt_host_model_handle(m, &ev);
}

void feed_fork(struct vmt_host_model *m, int64_t ts, int64_t child_tid, int64_t child_pid,
	       const char *comm)
{
	struct vmt_host_event ev = ev_base(VMT_HOST_EVENT_PROCESS_FORK, ts, 0);

	ev.u.fork.parent_tid = 1;
	ev.u.fork.parent_pid = 1;
	ev.u.fork.child_tid = child_tid;
	ev.u.fork.child_pid = child_pid;
	ev.u.fork.child_comm = comm;
	vmt_host_model_handle(m, &ev);
}
