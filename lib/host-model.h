/* SPDX-License-Identifier: MIT */
/*
 * The host KVM model: what one host machine's scheduler and KVM events say
 * about its threads, processes, VMs and vCPUs, as time goes (see
 * docs/semantics.md §1–§3 and §7).
 *
 * The model is fed host events in time order and keeps, for every thread
 * instance, its process, name, vCPU identity and scheduling state. A
 * listener hears every change of a vCPU thread's state and of a host CPU's
 * current thread, which is how `lib/intervals` builds rows. VM instances
 * and vCPU thread instances are never freed before the model: rows refer
 * to them, and what is learned about an instance later (its vCPU index,
 * its VM's UUID) names its earlier rows too. Any other thread instance is
 * freed once dead (at the next event handled): nothing more can be
 * learned about it, so memory does not grow with the host's process
 * churn. Rows therefore name threads by `serial`, and
 * vmt_host_model_find_thread_by_serial() says NULL for a freed one, which
 * never was a vCPU.
 */
#ifndef VMTRACE_LIB_HOST_MODEL_H
#define VMTRACE_LIB_HOST_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "lib/host-event.h"
#include "lib/rows.h"
#include "lib/status.h"

/* Longest thread name the model keeps (Linux `comm`: 15 chars; QEMU names fit). */
#define VMT_COMM_SIZE 32

/* A canonical UUID string plus its NUL. */
#define VMT_UUID_SIZE 37

/* The `serial` of no thread. */
#define VMT_NO_SERIAL UINT64_MAX

struct vmt_vm;

/* One thread instance: a tid from its creation or first sighting to its death. */
struct vmt_thread {
	int64_t tid;
	/* Process id (tgid), -1 while unknown. */
	int64_t pid;
	char comm[VMT_COMM_SIZE];
	/* Creation order, unique within the model. */
	uint64_t serial;
	bool is_alive;
	/* `sched_process_exit` was seen: the next switch-out kills it. */
	bool is_exiting;

	/* Scheduling, tracked for every thread (a vCPU may be recognised late). */
	bool has_sched_state;
	/* Host CPU the thread runs on, -1 when switched out. */
	int64_t cpu;
	/* Current vCPU state (meaningful once `has_sched_state`). */
	enum vmt_vcpu_state state;
	/* When the current state began. */
	int64_t state_since;
	/* Last KVM exit reason (low 16 bits for VMX), -1 if none yet. */
	int64_t last_exit_reason;
	bool last_exit_is_hlt;
	/* Preempted state: the thread switched in, and its comm at that switch. */
	uint64_t preempted_by_serial; /* VMT_NO_SERIAL for the idle task or none. */
	int64_t preempted_by_tid;
	char preempted_by_comm[VMT_COMM_SIZE];

	/* vCPU identity. */
	bool is_vcpu;
	/* Set once the vCPU timeline has started (docs/semantics.md §3). */
	bool has_timeline;
	int64_t vcpu_index;
	/* Trust of `vcpu_index`'s source: 0 none, 1 entry, 2 exit, 3 name. */
	int vcpu_index_trust;
	/* Weak: owned by the model; NULL until bound; a VM of pid -1 while the pid is unknown. */
	struct vmt_vm *vm;

	/* Free for the listener (e.g. the interval builder's open row). */
	void *listener_data;
};

/* One VM instance: a QEMU process from its first sighting to its end. */
struct vmt_vm {
	int64_t pid;
	/* Lowercase canonical UUID, "" while unknown. */
	char uuid[VMT_UUID_SIZE];
	/* vm_uids seen on its threads (vmsync / hypercall nr 5), in order. */
	GArray *vm_uids; /* Owned: uint64_t. */
	/* Name of the QEMU process (its main thread), "" while unknown. */
	char comm[VMT_COMM_SIZE];
	/* `hostname` of the guest trace matched to it, "" if none. */
	char guest_hostname[256];
	uint64_t serial;
	bool is_alive;
	/* vCPU threads alive now, by index. */
	GPtrArray *vcpus; /* Owned array of weak `struct vmt_thread *`. */
};

/*
 * Hears the model's changes. Called synchronously, with the model updated;
 * the listener reads the thread or CPU state it needs.
 */
struct vmt_host_model_listener {
	/*
	 * A vCPU thread's state or one of its attributes changed at `ts`, or its
	 * timeline started (then `ts` may be earlier than the event: semantics
	 * §3 "start of a timeline").
	 */
	void (*vcpu_changed)(void *user, struct vmt_thread *thread, int64_t ts);
	/* A vCPU thread's timeline ended at `ts` (the thread died). */
	void (*vcpu_ended)(void *user, struct vmt_thread *thread, int64_t ts);
	/* Host CPU `cpu`'s current thread changed, or its vCPU entered or left guest mode. */
	void (*cpu_changed)(void *user, int64_t cpu, int64_t ts);
};

struct vmt_host_model;

/*
 * Creates an empty model. `listener` (borrowed, may be NULL) must outlive
 * the model. Never returns NULL (GLib aborts on exhaustion).
 */
struct vmt_host_model *vmt_host_model_create(const struct vmt_host_model_listener *listener,
					     void *user);

/* Destroys `model` and every instance; NULL is allowed. */
void vmt_host_model_destroy(struct vmt_host_model *model);

/* Applies one host event; events must come in non-decreasing time order. */
void vmt_host_model_handle(struct vmt_host_model *model, const struct vmt_host_event *event);

/* Time of the latest event handled, INT64_MIN before the first. */
int64_t vmt_host_model_last_ts(const struct vmt_host_model *model);

/* Borrows the current thread of host CPU `cpu`, or NULL when unknown. */
struct vmt_thread *vmt_host_model_borrow_cpu_thread(const struct vmt_host_model *model,
						    int64_t cpu);

/* Current tid of host CPU `cpu` (0 for its idle task), -1 before its first `sched_switch`. */
int64_t vmt_host_model_cpu_tid(const struct vmt_host_model *model, int64_t cpu);

/* Borrows the comm `cpu`'s current thread was switched in with ("" if unknown). */
const char *vmt_host_model_borrow_cpu_comm(const struct vmt_host_model *model, int64_t cpu);

/* Number of host CPUs seen so far (highest `cpu_id` + 1). */
int64_t vmt_host_model_cpu_count(const struct vmt_host_model *model);

/*
 * Finds the alive VM instance whose UUID is `uuid` (may be NULL or ""), else
 * the alive one that has `vm_uid` (when `has_vm_uid`). Returns NULL if none.
 */
struct vmt_vm *vmt_host_model_find_vm(const struct vmt_host_model *model, const char *uuid,
				      bool has_vm_uid, uint64_t vm_uid);

/* Finds the alive VM instance of process `pid`, or NULL. */
struct vmt_vm *vmt_host_model_find_vm_by_pid(struct vmt_host_model *model, int64_t pid);

/* Borrows the alive vCPU thread of `vm` with index `vcpu`, or NULL. */
struct vmt_thread *vmt_host_model_find_vcpu_thread(const struct vmt_vm *vm, int64_t vcpu);

/* Calls `func` for every VM instance ever seen, in creation order. */
void vmt_host_model_foreach_vm(const struct vmt_host_model *model,
			       void (*func)(struct vmt_vm *vm, void *data), void *data);

/*
 * Calls `func` for every thread instance kept (alive, or a vCPU), in
 * creation order.
 */
void vmt_host_model_foreach_thread(const struct vmt_host_model *model,
				   void (*func)(struct vmt_thread *thread, void *data), void *data);

/* Borrows the thread instance of `serial`, or NULL if there is none any more (never a vCPU). */
const struct vmt_thread *vmt_host_model_find_thread_by_serial(const struct vmt_host_model *model,
							      uint64_t serial);

/* Number of thread instances kept (for tests of the memory bound). */
guint vmt_host_model_thread_count(const struct vmt_host_model *model);

/*
 * Writes the SPEC §5 `vm_uuid` of `vm` into `buf`: its UUID, else
 * `pid:<pid>`. `vm` may be NULL (then `pid:-1`).
 */
void vmt_vm_format_id(const struct vmt_vm *vm, char *buf, size_t size);

/* The SPEC §5 `vm_name` of `vm`: guest hostname, else QEMU process name, else "". */
const char *vmt_vm_name(const struct vmt_vm *vm);

/*
 * Normalises a UUID string from a trace (any case, possibly with trailing
 * garbage) into `out` (VMT_UUID_SIZE bytes). Returns false if `in` does not
 * start with a canonical 8-4-4-4-12 UUID.
 */
bool vmt_uuid_normalize(const char *in, char out[VMT_UUID_SIZE]);

/* Parses a QEMU vCPU thread name `CPU <n>/KVM`; returns -1 for other names. */
int64_t vmt_vcpu_index_from_comm(const char *comm);

/* True when `prev_state` means runnable: 0, or only bits >= 256 set. */
bool vmt_prev_state_is_runnable(int64_t prev_state);

/* Basic exit reason: low 16 bits for VMX (isa 1 or unknown), raw for SVM (isa 2). */
int64_t vmt_exit_reason_basic(uint64_t exit_reason, int64_t isa);

/* True when `reason` (basic, per `isa`) is HLT: VMX 12, SVM 0x78. */
bool vmt_exit_reason_is_hlt(int64_t reason, int64_t isa);

#endif /* VMTRACE_LIB_HOST_MODEL_H */
