/* SPDX-License-Identifier: MIT */
/*
 * Private parts of the host model, shared by host-model.c (instances,
 * queries) and host-model-events.c (event handlers).
 */
#ifndef VMTRACE_LIB_HOST_MODEL_INTERNAL_H
#define VMTRACE_LIB_HOST_MODEL_INTERNAL_H

#include <glib.h>

#include "lib/host-model.h"

/* A `cpu_id` above this is corrupt data, not a machine. */
#define VMT_HOST_MODEL_MAX_CPUS 65536

struct vmt_cpu_state {
	/* Current thread; NULL for the idle task (tid 0) or while unknown. */
	struct vmt_thread *current; /* Weak: owned by the model. */
	/* Current tid: -1 until the first `sched_switch` on this CPU. */
	int64_t current_tid;
	/* `next_comm` of the switch that put the current thread on the CPU. */
	char comm[VMT_COMM_SIZE];
};

struct vmt_host_model {
	const struct vmt_host_model_listener *listener; /* Weak: owned by the caller. */
	void *user;
	/* tid -> alive instance with that tid. */
	GHashTable *threads; /* Owned; keys and values weak (in `threads_by_serial`). */
	/* serial -> instance: the alive ones and the vCPUs. */
	GHashTable *threads_by_serial; /* Owned, with the instances. */
	/* Dead instances to free at the next event (the current one may still use them). */
	GPtrArray *dead_threads; /* Owned array of weak pointers. */
	/* pid -> alive VM instance of that process. */
	GHashTable *vms_by_pid; /* Owned; keys and values weak (in `all_vms`). */
	GPtrArray *all_vms; /* Owned, with the instances. */
	GArray *cpus; /* Owned: struct vmt_cpu_state, indexed by cpu. */
	int64_t last_ts;
	uint64_t next_serial;
};

struct vmt_cpu_state *vmt_host_model_cpu(struct vmt_host_model *model, int64_t cpu);
struct vmt_thread *vmt_host_model_find_thread(struct vmt_host_model *model, int64_t tid);
struct vmt_thread *vmt_host_model_add_thread(struct vmt_host_model *model, int64_t tid);
struct vmt_thread *vmt_host_model_find_or_add_thread(struct vmt_host_model *model, int64_t tid);
struct vmt_vm *vmt_host_model_add_vm(struct vmt_host_model *model, int64_t pid);
void vmt_host_model_end_vm(struct vmt_host_model *model, struct vmt_vm *vm);
void vmt_host_model_vm_add_uid(struct vmt_vm *vm, uint64_t vm_uid);
void vmt_host_model_free_dead_threads(struct vmt_host_model *model);

#endif /* VMTRACE_LIB_HOST_MODEL_INTERNAL_H */
