/* SPDX-License-Identifier: MIT */
/*
 * `source.vmsync.fs`: component methods, parameters, setup (discovery,
 * roles, sync) and the `vmtrace.sync-info` query.
 */
#ifndef VMTRACE_PLUGINS_VMSYNC_COMPONENT_H
#define VMTRACE_PLUGINS_VMSYNC_COMPONENT_H

#include "lib/log.h"

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/common.h"
#include "lib/ctf-graph.h"
#include "lib/inventory.h"

enum vmsync_sync_request {
	VMSYNC_SYNC_AUTO,
	VMSYNC_SYNC_NONE,
	VMSYNC_SYNC_CLOCK,
	VMSYNC_SYNC_HYPERCALL,
	VMSYNC_SYNC_WINDOWS,
};

struct vmsync_params {
	const bt_value *inputs; /* Borrowed from the parameters. */
	enum vmsync_sync_request sync;
	const bt_value *offsets; /* Borrowed; NULL if absent. */
	const bt_value *guest_uuids; /* Borrowed; NULL if absent. */
	const char *host; /* Borrowed; NULL if absent. */
};

/* Everything the component decides before emitting: traces, machines, sync. */
struct vmsync_setup {
	bt_value *params; /* Owned reference: the borrowed members point into it. */
	struct vmsync_params values;
	struct vmt_ctf_plugins plugins;
	struct vmt_inventory inventory;
};

struct vmsync_comp {
	struct vmt_log_ctx log;
	bt_self_component_source *self_comp; /* Weak. */
	struct vmsync_setup setup;
	/* Guest clock snapshots clamped so that time never went back, over all iterators. */
	uint64_t clamp_count;
};

/*
 * Validates `params` and builds `setup`: discovery, roles, guest UUIDs,
 * offsets and the sync of every guest. On failure appends a cause to `log`'s
 * actor and returns VMT_STATUS_ERROR (or MEMORY_ERROR).
 */
enum vmt_status vmsync_setup_init(struct vmsync_setup *setup, const bt_value *params,
				  bt_logging_level level, const struct vmt_log_ctx *log);

/* Frees what `setup` owns. */
void vmsync_setup_fini(struct vmsync_setup *setup);

/*
 * Sets the `vmtrace_*` environment entries (SPEC §2) of `machine` on
 * `trace`. Entries the trace already has are kept (a trace that went
 * through vmtrace before): replacing one is a Babeltrace precondition.
 */
enum vmt_status vmsync_annotate_trace(const struct vmsync_setup *setup,
				      const struct vmt_machine *machine, bt_trace *trace,
				      const struct vmt_log_ctx *log);

/* The machine whose trace (as probed) `trace` is, or NULL. */
const struct vmt_machine *vmsync_find_trace_machine(const struct vmsync_setup *setup,
						    const bt_trace *trace);

bt_component_class_initialize_method_status
vmsync_comp_init(bt_self_component_source *self_comp,
		 bt_self_component_source_configuration *config, const bt_value *params,
		 void *init_data);

void vmsync_comp_finalize(bt_self_component_source *self_comp);

bt_component_class_query_method_status vmsync_comp_query(bt_self_component_class_source *self_class,
							 bt_private_query_executor *executor,
							 const char *object, const bt_value *params,
							 void *method_data,
							 const bt_value **result);

#endif /* VMTRACE_PLUGINS_VMSYNC_COMPONENT_H */
