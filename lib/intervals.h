/* SPDX-License-Identifier: MIT */
/*
 * The interval builder: turns the host model's changes into vCPU rows
 * (SPEC §5, docs/semantics.md §4) or pCPU rows (semantics §6), keeps them
 * in a bounded-memory row store, and writes them at the end in the SPEC's
 * order, naming each row with the final knowledge of its threads and VMs.
 */
#ifndef VMTRACE_LIB_INTERVALS_H
#define VMTRACE_LIB_INTERVALS_H

#include "lib/log.h"

#include <stdint.h>

#include "lib/host-model.h"
#include "lib/status.h"
#include "lib/writer.h"

struct vmt_intervals;

/*
 * Creates a builder for `view`. `log` is borrowed and must outlive it.
 * Never returns NULL.
 */
struct vmt_intervals *vmt_intervals_create(enum vmt_writer_view view,
					   const struct vmt_log_ctx *log);

/* Destroys `intervals` (NULL allowed); the host models it created go with it. */
void vmt_intervals_destroy(struct vmt_intervals *intervals);

/*
 * Creates a host model whose changes feed `intervals`; the builder owns it.
 * Each host machine gets its own model.
 */
struct vmt_host_model *vmt_intervals_add_host(struct vmt_intervals *intervals);

/*
 * Returns the guest thread current on vCPU `vcpu` of `vm` now (-1 if
 * unknown) and sets `*comm` to its name, a string that stays valid and is
 * the same pointer for equal names until the builder is destroyed.
 */
typedef int64_t (*vmt_intervals_guest_lookup_func)(void *user, const struct vmt_vm *vm,
						   int64_t vcpu, const char **comm);

/* Sets how the builder learns guest threads (without it, guest columns stay empty). */
void vmt_intervals_set_guest_lookup(struct vmt_intervals *intervals,
				    vmt_intervals_guest_lookup_func lookup, void *user);

/*
 * Tells the builder that the guest thread of vCPU `vcpu` of `vm` changed at
 * `ts` (a guest `sched_switch`): it splits the pCPU row of that vCPU.
 */
void vmt_intervals_guest_thread_changed(struct vmt_intervals *intervals,
					struct vmt_host_model *model, const struct vmt_vm *vm,
					int64_t vcpu, int64_t ts);

/*
 * VMT_STATUS_OK, or the first error (its cause appended) of storing a row:
 * the listeners cannot return it, so the caller checks after each batch.
 */
enum vmt_status vmt_intervals_status(const struct vmt_intervals *intervals);

/*
 * Closes every open interval at `end_ns` (the last timestamp of the host
 * trace) and writes all rows to `writer` in order. Call once.
 */
enum vmt_status vmt_intervals_finish(struct vmt_intervals *intervals, int64_t end_ns,
				     struct vmt_writer *writer);

#endif /* VMTRACE_LIB_INTERVALS_H */
