/* SPDX-License-Identifier: MIT */
/*
 * The first pass of hypercall sync: reads the host and guest traces that
 * carry vmsync (or hypercall nr 5) events, matches the exchanges, and fits
 * each guest clock to its host clock (lib/sync.h).
 *
 * Each stream is read on its own, without a muxer: exchanges are matched by
 * key, so no global order is needed, and the pass costs little more than
 * decoding. The streams are split over two graphs run on two threads
 * (lib/parallel-read.h; `VMTRACE_PASS_THREADS=1` reads them all in the
 * calling thread); each stream's sink only notes what it found, and the
 * notes are merged in stream order afterwards, so the result does not
 * depend on the thread count.
 *
 * In the hypercall-only variant the host's "host-to-guest" half is the
 * vCPU thread's next KVM entry after the hypercall, on the same CPU with
 * no `sched_switch` between; an exchange whose thread is switched out
 * first only loses that half.
 */
#ifndef VMTRACE_LIB_SYNC_PASS_H
#define VMTRACE_LIB_SYNC_PASS_H

#include "lib/log.h"

#include <babeltrace2/babeltrace.h>

#include "lib/ctf-graph.h"
#include "lib/inventory.h"
#include "lib/status.h"
#include "lib/sync.h"

/* What the pass found for one guest machine. */
struct vmt_sync_pass_result {
	bool has_fit;
	struct vmt_sync_fit fit;
	/* Host machine whose exchanges carried the guest's vm_uid, -1 if none. */
	int host;
	/* Host process (QEMU) of the thread that received the guest's first exchange, -1 if unknown. */
	int64_t host_pid;
	uint64_t duplicate_count;
};

/*
 * Reads the traces, fills each guest machine's `vm_uid` and time span, and
 * `results` (one per machine, indexed like `inventory->machines`; allocated
 * by the caller). Fails (with a cause naming the trace) if a trace cannot
 * be read.
 */
enum vmt_status vmt_sync_pass_run(struct vmt_inventory *inventory,
				  const struct vmt_ctf_plugins *plugins, bt_logging_level level,
				  struct vmt_sync_pass_result *results,
				  const struct vmt_log_ctx *log);

#endif /* VMTRACE_LIB_SYNC_PASS_H */
