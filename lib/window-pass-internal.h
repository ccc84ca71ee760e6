/* SPDX-License-Identifier: MIT */
/*
 * Private parts of the window pass, shared by window-pass-read.c (the
 * graphs that read host and guest traces) and window-pass.c (guest-to-VM
 * ties and estimates).
 */
#ifndef VMTRACE_LIB_WINDOW_PASS_INTERNAL_H
#define VMTRACE_LIB_WINDOW_PASS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/host-event.h"
#include "lib/host-model.h"
#include "lib/sync-piecewise.h"
#include "lib/window-pass.h"

/* A guest `cpu_id` (or host vCPU index) at or above this is corrupt data, not a vCPU. */
#define VMT_WINDOW_PASS_MAX_CPUS 65536

/* The windows of one vCPU thread instance: the model listener's data. */
struct vmt_window_pass_thread {
	GArray *windows; /* Owned: struct vmt_sync_window, in time order. */
	bool is_open;
	int64_t open_ns;
};

/* One host machine's model and the windows its listener collected. */
struct vmt_window_pass_host {
	struct vmt_host_model *model; /* Owned. */
	struct vmt_host_event_decoder *decoder; /* Owned. */
	GPtrArray *windows; /* Owned: struct vmt_window_pass_thread. */
	/*
	 * Owned: struct vmt_sync_window, the host time ranges of discarded
	 * events or packets: any vCPU may have been in guest mode there.
	 */
	GArray *unknown;
	uint64_t untimed_discard_count; /* Discarded-item messages without times. */
	const struct vmt_log_ctx *log; /* Weak. */
	const char *path; /* Weak: the machine's first trace, for causes. */
};

/* One wanted guest machine's event times. */
struct vmt_window_pass_guest {
	GPtrArray *cpus; /* Owned: GArray of int64_t guest ns per `cpu_id`, NULL where none. */
	uint64_t no_cpu_count;
};

struct vmt_window_pass {
	struct vmt_inventory *inventory; /* Weak. */
	const struct vmt_ctf_plugins *plugins; /* Weak. */
	bt_logging_level level;
	const struct vmt_log_ctx *log; /* Weak. */
	/* Per machine: a host run (hosts with KVM entry/exit events), else NULL. */
	GPtrArray *hosts; /* Owned: struct vmt_window_pass_host. */
	/* Per machine: the events of a wanted guest, else NULL. */
	GPtrArray *guests; /* Owned: struct vmt_window_pass_guest. */
	GPtrArray *streams; /* Owned: struct guest_stream. */
};

/*
 * One wanted guest's estimate: its input, gathered in the calling thread,
 * and its output.
 */
struct vmt_window_pass_job {
	/* Owned; NULL when there is nothing to estimate. Borrows `by_index` and the guest's times. */
	struct vmt_sync_window_vcpu *vcpus;
	guint vcpu_count;
	GPtrArray *by_index; /* Owned: GArray of struct vmt_sync_window per vCPU index. */
	bool has_run;
	enum vmt_status status;
	struct vmt_sync_piecewise_result pieces;
	const bt_error *error; /* Owned until moved back: a failed estimate's causes. */
};

/*
 * Runs the estimates of the `jobs` that have `vcpus` on up to
 * `thread_count` threads (the calling one included), then moves the causes
 * of failed ones to the calling thread. Returns the first failure's status.
 */
enum vmt_status vmt_window_pass_estimate_all(struct vmt_window_pass_job *jobs, guint job_count,
					     guint thread_count);

/*
 * Reads every host machine with KVM entry/exit events through its model
 * (filling `pass->hosts`). Fails with a cause if a trace cannot be read.
 */
enum vmt_status vmt_window_pass_read_hosts(struct vmt_window_pass *pass);

/* Reads the traces of the guests `wanted[m]` (filling `pass->guests`). */
enum vmt_status vmt_window_pass_read_guests(struct vmt_window_pass *pass, const bool *wanted);

/* Destroys a `pass->hosts` entry (NULL allowed). */
void vmt_window_pass_host_destroy(gpointer data);

#endif /* VMTRACE_LIB_WINDOW_PASS_INTERNAL_H */
