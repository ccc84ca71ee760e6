/* SPDX-License-Identifier: MIT */
/*
 * Host events as the host model reads them, and their decoding from
 * Babeltrace events.
 *
 * Decoding resolves each event class once (its kind and the index of every
 * payload member the model reads), so the per-event cost is a cached lookup
 * and a few field reads, never a string comparison.
 */
#ifndef VMTRACE_LIB_HOST_EVENT_H
#define VMTRACE_LIB_HOST_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include <babeltrace2/babeltrace.h>

#include "lib/status.h"

enum vmt_host_event_kind {
	/* An event the model does not read. */
	VMT_HOST_EVENT_OTHER,
	VMT_HOST_EVENT_SCHED_SWITCH,
	VMT_HOST_EVENT_KVM_ENTRY,
	VMT_HOST_EVENT_KVM_EXIT,
	/* `kvm_x86_hypercall`. */
	VMT_HOST_EVENT_HYPERCALL,
	/* `vmsync_gh_host`: a guest's vm_uid received by its vCPU thread. */
	VMT_HOST_EVENT_VMSYNC_GH_HOST,
	VMT_HOST_EVENT_PROCESS_FORK,
	VMT_HOST_EVENT_PROCESS_EXIT,
	/* `lttng_statedump_process_state`. */
	VMT_HOST_EVENT_STATEDUMP_PROCESS,
	/* `*:kvm_guest` (statedump) and `*:kvm_created` (udev). */
	VMT_HOST_EVENT_VM_UUID,
	/* `*:kvm_destroyed`. */
	VMT_HOST_EVENT_VM_DESTROYED,
};

/*
 * One decoded host event. Strings are borrowed from the Babeltrace event
 * and valid only while it lives. Absent integers are -1.
 */
struct vmt_host_event {
	enum vmt_host_event_kind kind;
	int64_t ts;
	/* Host CPU of the stream (packet context `cpu_id`), -1 if unknown. */
	int64_t cpu;
	/* `tid` and `pid` common-context members when the trace has them, else -1. */
	int64_t ctx_tid;
	int64_t ctx_pid;
	union {
		struct {
			int64_t prev_tid;
			int64_t next_tid;
			int64_t prev_state;
			const char *prev_comm;
			const char *next_comm;
		} sched_switch;
		struct {
			/* -1 when the event has no `vcpu_id`. */
			int64_t vcpu_id;
		} entry;
		struct {
			uint64_t exit_reason;
			/* 1 VMX, 2 SVM, -1 absent. */
			int64_t isa;
			/* -1 when absent (kernels before 5.10, old `kvm_exit`). */
			int64_t vcpu_id;
		} exit;
		struct {
			uint64_t nr;
			uint64_t a0;
			uint64_t a1;
		} hypercall;
		struct {
			uint64_t cnt;
			uint64_t vm_uid;
		} vmsync;
		struct {
			int64_t parent_tid;
			int64_t parent_pid;
			int64_t child_tid;
			int64_t child_pid;
			const char *child_comm;
		} fork;
		struct {
			int64_t tid;
		} process_exit;
		struct {
			int64_t tid;
			int64_t pid;
			const char *name;
		} statedump;
		struct {
			int64_t pid;
			const char *uuid;
		} vm_uuid;
		struct {
			int64_t pid;
		} vm_destroyed;
	} u;
};

/* Resolves event classes to decoders; one per component or iterator. */
struct vmt_host_event_decoder;

/* Returns a new decoder (never NULL: GLib aborts on exhaustion). */
struct vmt_host_event_decoder *vmt_host_event_decoder_create(void);

/* Destroys `decoder`; NULL is allowed. */
void vmt_host_event_decoder_destroy(struct vmt_host_event_decoder *decoder);

/*
 * Decodes the event of `msg` (an event message, borrowed) recorded at `ts`
 * (ns from origin) into `out`. Events the model does not read get kind
 * VMT_HOST_EVENT_OTHER. Never fails: a member of an unexpected type is read
 * as absent.
 */
void vmt_host_event_decode(struct vmt_host_event_decoder *decoder, const bt_message *msg,
			   int64_t ts, struct vmt_host_event *out);

/*
 * Returns the kind an event class name denotes (`kvm_x86_entry` and
 * `kvm_entry` are both KVM_ENTRY; `*:kvm_guest` is VM_UUID; ...).
 */
enum vmt_host_event_kind vmt_host_event_kind_from_name(const char *name);

/* Returns true if `name` is a KVM host event (SPEC §2: what makes a machine a host). */
bool vmt_host_event_name_is_kvm_host(const char *name);

#endif /* VMTRACE_LIB_HOST_EVENT_H */
