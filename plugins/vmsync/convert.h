/* SPDX-License-Identifier: MIT */
/*
 * The guest conversion filter of `source.vmsync.fs`'s private graph: a
 * filter class created at run time (a plugin cannot find its own classes
 * from inside a private graph) that copies one guest trace's messages with
 * every clock snapshot converted into the host's time and the stream
 * classes put on a clock class equal to the host's.
 */
#ifndef VMTRACE_PLUGINS_VMSYNC_CONVERT_H
#define VMTRACE_PLUGINS_VMSYNC_CONVERT_H

#include <stdint.h>

#include <babeltrace2/babeltrace.h>

#include "lib/ctf-graph.h"
#include "lib/inventory.h"

#include "component.h"

/* Initialization data of one conversion filter (borrowed for its lifetime). */
struct vmsync_convert_config {
	const struct vmsync_setup *setup; /* Weak. */
	const struct vmt_machine *guest; /* Weak. */
	/* Clock of the guest's host, or NULL to keep a copy of the guest's clock class. */
	const struct vmt_clock_info *host_clock; /* Weak. */
	/* Where each iterator adds its count of clamped clock snapshots. */
	uint64_t *clamp_count; /* Weak. */
};

/* Creates the conversion filter class (a new reference), or NULL on memory exhaustion. */
bt_component_class_filter *vmsync_convert_class_create(void);

#endif /* VMTRACE_PLUGINS_VMSYNC_CONVERT_H */
