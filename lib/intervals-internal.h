/* SPDX-License-Identifier: MIT */
/*
 * Private parts of the interval builder, shared by intervals.c (setup,
 * guest threads, finish), intervals-vcpu.c and intervals-pcpu.c.
 */
#ifndef VMTRACE_LIB_INTERVALS_INTERNAL_H
#define VMTRACE_LIB_INTERVALS_INTERNAL_H

#include <glib.h>

#include "lib/intervals.h"
#include "lib/row-store.h"

/* One vCPU row as stored: identity columns come from the thread at the end. */
struct vmt_vcpu_record {
	int64_t begin;
	int64_t end;
	int64_t pcpu;
	int64_t exit_reason;
	int64_t preempted_by_tid;
	int64_t guest_tid;
	uint64_t preempted_by_serial; /* The preempting thread instance, or VMT_NO_SERIAL. */
	const char *preempted_by_comm; /* Weak: interned. */
	const char *guest_comm; /* Weak: interned. */
	int32_t state;
	int32_t padding;
};

/* One pCPU row as stored: the level comes from the thread's final identity. */
struct vmt_pcpu_record {
	int64_t begin;
	int64_t end;
	int64_t host_tid;
	int64_t guest_tid;
	uint64_t thread_serial; /* The running thread instance; VMT_NO_SERIAL for tid 0. */
	const char *host_comm; /* Weak: interned. */
	const char *guest_comm; /* Weak: interned. */
	int32_t in_guest;
	int32_t padding;
};

/* The row being built (`open`) and the last closed one, kept back for merging. */
struct vmt_vcpu_builder {
	bool has_open;
	bool has_pending;
	struct vmt_vcpu_record open;
	struct vmt_vcpu_record pending;
	int64_t first_begin;
	struct vmt_thread *thread; /* Weak: owned by the host model (a vCPU: kept). */
	struct vmt_intervals_host *host; /* Weak: the thread's host. */
};

struct vmt_pcpu_builder {
	bool has_open;
	bool has_pending;
	struct vmt_pcpu_record open;
	struct vmt_pcpu_record pending;
};

struct vmt_intervals_host {
	struct vmt_intervals *owner; /* Weak. */
	struct vmt_host_model *model; /* Owned. */
	uint32_t index;
	GArray *cpus; /* Owned: struct vmt_pcpu_builder, by cpu. */
};

struct vmt_intervals {
	enum vmt_writer_view view;
	const struct vmt_log_ctx *log; /* Weak. */
	GPtrArray *hosts; /* Owned: struct vmt_intervals_host. */
	GStringChunk *strings; /* Owned: interned comms. */
	vmt_intervals_guest_lookup_func guest_lookup;
	void *guest_lookup_user;
	/* The end given to `finish`: rows are cut there. */
	int64_t end_ns;
	struct vmt_row_store *store; /* Owned. */
	GPtrArray *vcpu_builders; /* Owned: struct vmt_vcpu_builder, one per vCPU thread. */
	/* First error of a listener callback (they cannot return one). */
	enum vmt_status status;
};

const char *vmt_intervals_intern(struct vmt_intervals *intervals, const char *str);

/* Current guest thread of (`vm`, `vcpu`) through the lookup; -1 and NULL when unknown. */
int64_t vmt_intervals_guest_thread(const struct vmt_intervals *intervals, const struct vmt_vm *vm,
				   int64_t vcpu, const char **comm);

void vmt_intervals_vcpu_changed(void *user, struct vmt_thread *thread, int64_t ts);
void vmt_intervals_vcpu_ended(void *user, struct vmt_thread *thread, int64_t ts);
void vmt_intervals_close_vcpus(struct vmt_intervals *intervals, int64_t end_ns);
enum vmt_status vmt_intervals_write_vcpus(struct vmt_intervals *intervals,
					  struct vmt_writer *writer);

void vmt_intervals_cpu_changed(void *user, int64_t cpu, int64_t ts);
void vmt_intervals_close_cpus(struct vmt_intervals *intervals, int64_t end_ns);
enum vmt_status vmt_intervals_write_cpus(struct vmt_intervals *intervals,
					 struct vmt_writer *writer);

#endif /* VMTRACE_LIB_INTERVALS_INTERNAL_H */
