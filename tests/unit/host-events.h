/* SPDX-License-Identifier: MIT */
/*
 * Host events for the unit tests of the host model and the interval
 * builder: each builds one `struct vmt_host_event` and hands it to a model.
 */
#ifndef VMTRACE_TESTS_HOST_EVENTS_H
#define VMTRACE_TESTS_HOST_EVENTS_H

#include <stdint.h>

#include "lib/host-model.h"

/* An event of `kind` at `ts` on `cpu`, without a `tid`/`pid` context. */
struct vmt_host_event ev_base(enum vmt_host_event_kind kind, int64_t ts, int64_t cpu);

void feed_statedump(struct vmt_host_model *m, int64_t ts, int64_t tid, int64_t pid,
		    const char *name);
void feed_sched_switch(struct vmt_host_model *m, int64_t ts, int64_t cpu, int64_t prev_tid,
		       const char *prev_comm, int64_t prev_state, int64_t next_tid,
		       const char *next_comm);
/* `vcpu_id` -1: the event has no usable `vcpu_id`. */
void feed_entry(struct vmt_host_model *m, int64_t ts, int64_t cpu, int64_t vcpu_id);
/* `isa`: 1 VMX, 2 SVM, -1 absent (as the decoder sets it). */
void feed_exit(struct vmt_host_model *m, int64_t ts, int64_t cpu, uint64_t reason, int64_t isa,
	       int64_t vcpu_id);
void feed_vm_uuid(struct vmt_host_model *m, int64_t ts, int64_t pid, const char *uuid);
/* A fork from thread 1 of process 1. */
void feed_fork(struct vmt_host_model *m, int64_t ts, int64_t child_tid, int64_t child_pid,
	       const char *comm);

#endif /* VMTRACE_TESTS_HOST_EVENTS_H */
