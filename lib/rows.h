/* SPDX-License-Identifier: MIT */
/*
 * The rows `sink.vmstate.intervals` writes: one vCPU interval (SPEC §5) or
 * one pCPU interval (issue 8), as plain values. Strings are borrowed for
 * the duration of one write call. Integers use -1 for "empty" (a tid,
 * vcpu or exit reason is never negative); strings use NULL.
 */
#ifndef VMTRACE_LIB_ROWS_H
#define VMTRACE_LIB_ROWS_H

#include <stdint.h>

enum vmt_vcpu_state {
	VMT_VCPU_STATE_RUNNING,
	VMT_VCPU_STATE_HYPERVISOR,
	VMT_VCPU_STATE_PREEMPTED,
	VMT_VCPU_STATE_IDLE,
	VMT_VCPU_STATE_BLOCKED,
};

#define VMT_VCPU_STATE_COUNT 5

/* The SPEC §4 name of `state` ("running", ...). */
const char *vmt_vcpu_state_name(enum vmt_vcpu_state state);

enum vmt_pcpu_level {
	VMT_PCPU_LEVEL_HOST,
	VMT_PCPU_LEVEL_HYPERVISOR,
	VMT_PCPU_LEVEL_GUEST,
};

/* "host", "hypervisor" or "guest". */
const char *vmt_pcpu_level_name(enum vmt_pcpu_level level);

struct vmt_vcpu_row {
	const char *vm_uuid;
	const char *vm_name;
	int64_t vcpu;
	enum vmt_vcpu_state state;
	int64_t begin_ns;
	int64_t end_ns;
	int64_t host_tid;
	int64_t pcpu;
	int64_t exit_reason;
	int64_t preempted_by_tid;
	const char *preempted_by_comm;
	const char *preempted_by_vm;
	int64_t preempted_by_vcpu;
	int64_t guest_tid;
	const char *guest_comm;
};

struct vmt_pcpu_row {
	int64_t pcpu;
	int64_t begin_ns;
	int64_t end_ns;
	enum vmt_pcpu_level level;
	int64_t host_tid;
	const char *host_comm;
	const char *vm_uuid;
	const char *vm_name;
	int64_t vcpu;
	int64_t guest_tid;
	const char *guest_comm;
};

#endif /* VMTRACE_LIB_ROWS_H */
