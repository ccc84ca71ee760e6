/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the truth model (truth.c) and its writers
 * (truth-write.c, truth-json.c).
 *
 * Rows are spooled to anonymous temporary files as fixed-size records while
 * the simulation runs (memory stays flat in trace length); identity columns
 * that docs/semantics.md §2 makes retroactive (VM UUID, vCPU index,
 * whether a thread is a vCPU thread, guest matching) are resolved when the
 * files are written, from the final knowledge.
 */
#ifndef VMTRACE_TOOLS_VMSIM_TRUTH_H
#define VMTRACE_TOOLS_VMSIM_TRUTH_H

#include "vmsim.h"

/* vCPU states (SPEC §4); TSTATE_NONE is the "" before a timeline starts. */
enum vmsim_tstate {
	TSTATE_NONE,
	TSTATE_RUNNING,
	TSTATE_HYPERVISOR,
	TSTATE_PREEMPTED,
	TSTATE_IDLE,
	TSTATE_BLOCKED,
	TSTATE_END, /* The thread died: its timeline ends. */
};

/* One vCPU-interval row, raw (identity unresolved). */
struct vmsim_vrow {
	int64_t begin, end; /* True host rel. times. */
	int32_t state, pcpu, exit_reason; /* exit_reason -1: empty */
	int32_t preemptor; /* Simulator thread id, -1 none. */
	int32_t pre_tid, g_tid;
	uint8_t has_pre, has_guest;
	char pre_comm[VMSIM_COMM_LEN];
	char g_comm[VMSIM_COMM_LEN];
};

/* One pCPU-interval row, raw. */
struct vmsim_prow {
	int64_t begin, end;
	int32_t cur; /* Simulator thread id of the current thread. */
	int32_t g_tid;
	uint8_t running, has_guest;
	char comm[VMSIM_COMM_LEN];
	char g_comm[VMSIM_COMM_LEN];
};

/* One guest event, raw. */
struct vmsim_grow {
	uint64_t index;
	int64_t recorded_nfo, true_t;
	int32_t kind, cpu, thread, pcpu, state;
	int32_t pad; /* Explicit, so that spooled bytes are all initialised. */
};

/* Truth state of one simulator vCPU thread (one thread instance). */
struct vmsim_tthread {
	bool identified, name_seen, index_known, timeline, ended;
	bool has_sev; /* A state-establishing event seen before identification. */
	struct vmsim_vrow sev; /* Its row attributes (begin = its time). */
	int32_t last_exit; /* Low 16 bits, -1 none. */
	bool exiting;
	struct vmsim_vrow row; /* Open row once the timeline runs. */
	bool row_open;
	FILE *rows; /* Owned: spooled `struct vmsim_vrow`. */
	uint64_t nrows;
};

struct vmsim_tpcpu {
	bool started;
	int32_t cur;
	char comm[VMSIM_COMM_LEN];
	struct vmsim_prow row;
	FILE *rows; /* Owned: spooled `struct vmsim_prow`. */
};

struct vmsim_tgcpu {
	bool set;
	int32_t tid;
	char comm[VMSIM_COMM_LEN];
	FILE *events; /* Owned: spooled `struct vmsim_grow`. */
	uint64_t next_index;
};

struct vmsim_tvm {
	bool ust_uuid; /* kvm_guest / kvm_created seen. */
	bool host_uid; /* Its vm_uid in a nr=5 hypercall / gh_host of its threads. */
	bool guest_uid; /* Its guest trace has vmsync events (so a vm_uid). */
	struct vmsim_tgcpu gcpus[VMSIM_MAX_VCPUS];
};

struct vmsim_truth {
	struct vmsim_tthread *threads; /* Owned, indexed by simulator thread id. */
	guint nthreads;
	struct vmsim_tpcpu *pcpus; /* Owned, `k.pcpus`. */
	struct vmsim_tvm vms[VMSIM_MAX_VMS];
};

/* Resolved identity (truth-write.c), final knowledge. */
bool vmsim_truth_vm_matched(const struct vmsim *sim, const struct vmsim_vm *vm);
/* Writes the `vm_uuid` column of `vm` into `buf`. */
const char *vmsim_truth_vm_uuid(const struct vmsim *sim, const struct vmsim_vm *vm, char *buf,
				size_t len);
const char *vmsim_truth_vm_name(const struct vmsim *sim, const struct vmsim_vm *vm);
const char *vmsim_tstate_name(int state);

#endif /* VMTRACE_TOOLS_VMSIM_TRUTH_H */
