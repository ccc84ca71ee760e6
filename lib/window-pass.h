/* SPDX-License-Identifier: MIT */
/*
 * The first pass of window sync: reads each host machine's traces through a
 * muxer (the host model needs time order) and collects, through the model's
 * listener, every vCPU thread's guest-mode windows [entry, exit); reads the
 * wanted guests' traces stream by stream and collects their event times per
 * `cpu_id`; ties each guest to its VM instances on a host (by UUID, else by
 * vm_uid; never by guessing) and runs the estimator of lib/sync-window.h,
 * piecewise over long traces whose guest clock is not linear
 * (lib/sync-piecewise.h).
 *
 * Memory: every vCPU thread's windows (16 bytes each) and every wanted
 * guest event time (8 bytes each) are held until the pass ends (GArrays:
 * up to twice that while they grow), a guest's windows are copied once
 * while it is estimated, and the estimator adds 4 bytes per event: about
 * 0.5 GB per vCPU-hour at 5 k windows and 6 k guest events per second and
 * vCPU (the 2 M-event bench: 50 MB peak). A bounded variant would co-iterate
 * host windows and guest events with a lag of a few ms after the seed.
 */
#ifndef VMTRACE_LIB_WINDOW_PASS_H
#define VMTRACE_LIB_WINDOW_PASS_H

#include "lib/log.h"

#include <stdbool.h>
#include <stdint.h>

#include <babeltrace2/babeltrace.h>

#include "lib/ctf-graph.h"
#include "lib/inventory.h"
#include "lib/status.h"
#include "lib/sync-window.h"

/* What the pass found for one guest machine. */
struct vmt_window_pass_result {
	/* The estimator ran (the guest was tied to a VM with windows). */
	bool has_estimate;
	/*
	 * The fit to use. When the guest clock is fitted piecewise
	 * (lib/sync-piecewise.h; the pieces go to the machine's
	 * `window_pieces`), the pieces' summary: OK, the main piece's line,
	 * the largest bound of the pieces.
	 */
	struct vmt_sync_window_result estimate;
	/* The single line over the whole trace (= `estimate` without pieces). */
	struct vmt_sync_window_result whole;
	/* Pieces of the fit (1: a single line), and estimator runs it took. */
	uint64_t segment_count;
	uint64_t fit_count;
	/* Why window sync cannot be used for this guest, "" if it can. */
	char problem[512];
	/* Host machine of the guest's VM, -1 if not found. */
	int host;
	/* QEMU pid of the guest's VM instance, -1 if unknown or several. */
	int64_t host_pid;
	/* vCPU indexes with windows, and their windows. */
	uint64_t vcpu_count;
	uint64_t window_count;
};

/*
 * Runs the pass for the guest machines `wanted[i]` (indexed like
 * `inventory->machines`) and fills `results` (same indexing, allocated by
 * the caller; other entries are zeroed with host -1). Sets a wanted guest's
 * `vm_uid` from its vmsync events when the inventory has none, its time
 * span, and its `window_pieces` when the fit is piecewise. Fails (with a cause naming the trace) if a trace cannot be
 * read, or on allocation failure; a guest that cannot be synchronized is not
 * a failure: its `problem` says why.
 */
enum vmt_status vmt_window_pass_run(struct vmt_inventory *inventory,
				    const struct vmt_ctf_plugins *plugins, bt_logging_level level,
				    const bool *wanted, struct vmt_window_pass_result *results,
				    const struct vmt_log_ctx *log);

#endif /* VMTRACE_LIB_WINDOW_PASS_H */
