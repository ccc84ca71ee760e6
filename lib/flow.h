/* SPDX-License-Identifier: MIT */
/*
 * What a time-ordered message flow says about machines: which trace is a
 * host, a guest or neither, one host model per host machine fed with its
 * events, and which VM instance each guest trace is. The filter and the
 * sink both read their input through a flow, so both see the same things.
 *
 * A trace's role and identity come from the `vmtrace_*` environment entries
 * of `source.vmsync.fs` when present, else (traces straight from
 * `src.ctf.fs`) from the trace itself: KVM host event classes make a host;
 * a `product_uuid` or vmsync guest event classes make a guest.
 */
#ifndef VMTRACE_LIB_FLOW_H
#define VMTRACE_LIB_FLOW_H

#include "lib/log.h"

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/host-event.h"
#include "lib/host-model.h"
#include "lib/inventory.h"

/* One trace of the flow, classified at its first stream. */
struct vmt_flow_trace {
	enum vmt_role role;
	/* Hosts: their model; guests: their host's model (NULL while unknown). */
	struct vmt_host_model *model; /* Weak: owned by the flow's factory. */
	/* Machine id (`vmtrace_machine`, else hostname, else clock UUID, else ""). */
	char machine[256];
	/* Guests: what identifies their VM on the host. */
	char uuid[VMT_UUID_SIZE];
	bool has_vm_uid;
	uint64_t vm_uid;
	int64_t host_pid;
	char host_machine[256];
	char hostname[256];
	/* Guests: their VM instance, once found (kept after it ends: docs/semantics.md §2). */
	struct vmt_vm *vm; /* Weak: owned by `model`. */
	/* Member index of `cpu_id` in the packet context, UINT64_MAX if none. */
	const bt_stream_class *cpu_id_class; /* Weak: cache key. */
	uint64_t cpu_id_index;
	/* Guests: the thread each guest CPU runs, by its last `sched_switch`. */
	GArray *guest_threads; /* Owned: struct vmt_flow_guest_thread, by cpu. */
	/* Guests: the CPU of the `sched_switch` the last handled message is, else -1. */
	int64_t switched_cpu;
};

struct vmt_flow_guest_thread {
	int64_t tid; /* -1 when unknown */
	const char *comm; /* Weak: interned by the flow. */
};

/* Creates a host model for a new host machine; the caller of the flow owns it. */
typedef struct vmt_host_model *(*vmt_flow_create_model_func)(void *user);

struct vmt_flow;

/* Creates a flow. `log` is borrowed. Never NULL. */
struct vmt_flow *vmt_flow_create(vmt_flow_create_model_func create_model, void *user,
				 const struct vmt_log_ctx *log);

/* Destroys `flow` (NULL allowed); models belong to whoever created them. */
void vmt_flow_destroy(struct vmt_flow *flow);

/*
 * Handles one message, in flow order: classifies the trace of a beginning
 * stream, feeds host events to their model, learns a guest's vm_uid from
 * its vmsync events. Returns the message's trace (NULL for messages
 * without a stream). When not NULL, `*event_ns` gets an event's time (ns
 * from origin), or INT64_MIN.
 */
struct vmt_flow_trace *vmt_flow_handle(struct vmt_flow *flow, const bt_message *msg,
				       int64_t *event_ns);

/* The VM instance of guest trace `trace` now, or NULL while unknown. */
struct vmt_vm *vmt_flow_guest_vm(struct vmt_flow *flow, struct vmt_flow_trace *trace);

/* The `cpu_id` of the packet of event message `msg` (of `trace`), -1 if none. */
int64_t vmt_flow_event_cpu(struct vmt_flow_trace *trace, const bt_message *msg);

/* Where a guest event ran on its host (SPEC §3 `vm`); unknown is -1 or "". */
struct vmt_guest_tag {
	const char *uuid; /* Borrowed: from the VM or the guest trace. */
	int64_t host_pid;
	int64_t host_tid;
	int64_t vcpu;
	int64_t pcpu;
	const char *host_state; /* Static string. */
};

/* Computes the tag of guest event `msg` of `trace`, from the host model as it is now. */
void vmt_flow_tag_guest_event(struct vmt_flow *flow, struct vmt_flow_trace *trace,
			      const bt_message *msg, struct vmt_guest_tag *tag);

/*
 * The guest thread current on vCPU `vcpu` of the guest trace tied to `vm`
 * (-1 if none or unknown), and its name in `*comm` (interned by the flow:
 * valid until it is destroyed, one pointer per distinct name).
 */
int64_t vmt_flow_guest_thread(struct vmt_flow *flow, const struct vmt_vm *vm, int64_t vcpu,
			      const char **comm);

/* The first host event time seen (ns from origin), INT64_MIN before any. */
int64_t vmt_flow_first_host_ns(const struct vmt_flow *flow);

/* The last host event time seen (ns from origin), INT64_MIN before any. */
int64_t vmt_flow_last_host_ns(const struct vmt_flow *flow);

/* Calls `func` on every guest trace of the flow. */
void vmt_flow_foreach_guest(struct vmt_flow *flow,
			    void (*func)(struct vmt_flow_trace *trace, void *data), void *data);

#endif /* VMTRACE_LIB_FLOW_H */
