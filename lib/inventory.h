/* SPDX-License-Identifier: MIT */
/*
 * The traces under a set of input paths, grouped into machines, with their
 * roles (SPEC §2 "Roles"): discovery, probing, grouping, host detection,
 * guest selectors and guest identities. `source.vmsync.fs` builds one at
 * initialization and for its `vmtrace.sync-info` query.
 */
#ifndef VMTRACE_LIB_INVENTORY_H
#define VMTRACE_LIB_INVENTORY_H

#include "lib/log.h"

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/ctf-graph.h"
#include "lib/host-model.h"
#include "lib/status.h"
#include "lib/sync-piecewise.h"
#include "lib/sync.h"

enum vmt_role {
	VMT_ROLE_UNKNOWN,
	VMT_ROLE_HOST,
	VMT_ROLE_GUEST,
};

/* How a guest's timestamps are brought into its host's time (SPEC §2). */
enum vmt_sync_method {
	VMT_SYNC_METHOD_NONE,
	VMT_SYNC_METHOD_CLOCK,
	VMT_SYNC_METHOD_HYPERCALL,
	VMT_SYNC_METHOD_WINDOWS,
	VMT_SYNC_METHOD_MANUAL,
};

/* One CTF trace directory. */
struct vmt_trace_entry {
	char *path; /* Owned: the trace directory (the first of `paths`). */
	/* What `src.ctf.fs` reads: one directory, or the chunks of one trace (same UUID). */
	GPtrArray *paths; /* Owned: strings. */
	char *trace_name; /* Owned: its `trace-name` parameter (as the CLI sets it), or NULL. */
	char *dir_name; /* Owned: last component of `path`. */
	struct vmt_trace_probe probe;
	guint machine;
};

/* Traces recorded on one machine, and what vmtrace decided about it. */
struct vmt_machine {
	char *id; /* Owned: hostname, else clock UUID, else trace path. */
	enum vmt_role role;
	GPtrArray *traces; /* Owned array of weak `struct vmt_trace_entry *`. */
	/* Guests: the VM UUID ("" if unknown), the host machine (-1 if unknown). */
	char vm_uuid[VMT_UUID_SIZE];
	int host;
	/* Guests: vm_uid from its `vmsync_*_guest` events. */
	bool has_vm_uid;
	uint64_t vm_uid;
	/* Guests: the QEMU pid on the host, from the sync pass; -1 if unknown. */
	int64_t host_pid;
	/* Guests: has `vmsync_*_guest` event classes. */
	bool has_vmsync_events;
	/* Guest time span (ns from origin, recorded), known after a sync pass. */
	bool has_span;
	int64_t span_begin_ns;
	int64_t span_end_ns;
	/* Guests: the sync result. `line` maps recorded guest ns to host ns. */
	enum vmt_sync_method sync_method;
	struct vmt_clock_line line;
	/*
	 * Guests: the window pass's piecewise fit (lib/sync-piecewise.h) when
	 * the guest clock is not linear over the trace, else NULL. Owned.
	 */
	struct vmt_clock_pieces *window_pieces;
	/*
	 * Guests: when not NULL (window sync chose `window_pieces`), the map
	 * that converts guest times instead of `line`; `line` then holds the
	 * piece covering the most events, for the environment. Weak.
	 */
	struct vmt_clock_pieces *pieces;
	int64_t manual_offset_ns;
	int64_t error_bound_ns;
	uint64_t sync_points;
	/*
	 * Share of the guest's events that the window fit puts inside its
	 * vCPUs' host windows (the alarm of lib/sync-window.h), -1 where the
	 * window estimator did not run.
	 */
	double windows_inside_share;
	/* Whether emitted timestamps differ from the recorded ones. */
	bool needs_conversion;
};

struct vmt_inventory {
	GPtrArray *traces; /* Owned: struct vmt_trace_entry. */
	GPtrArray *machines; /* Owned: struct vmt_machine. */
};

/* Initializes an empty inventory. */
void vmt_inventory_init(struct vmt_inventory *inventory);

/* Frees everything `inventory` owns. */
void vmt_inventory_fini(struct vmt_inventory *inventory);

/*
 * Finds every CTF trace under the `inputs` paths (an array of strings: trace
 * directories or directories to search) and probes each. A missing or
 * unreadable path, a path holding no trace, or an unreadable trace appends
 * a cause naming it and returns VMT_STATUS_ERROR.
 */
enum vmt_status vmt_inventory_scan(struct vmt_inventory *inventory, const bt_value *inputs,
				   const struct vmt_ctf_plugins *plugins, bt_logging_level level,
				   const struct vmt_log_ctx *log);

/*
 * Groups traces into machines (same clock UUID or same hostname, never two
 * different `product_uuid`s; a trace without one that links to machines
 * with different ones joins the first in input order, with a warning: see
 * group_machines()), and sets roles: hosts are the machines with
 * KVM host events, or the machines of the traces under `host_path` when
 * not NULL (error if it names no trace). Other machines are guests when a
 * host exists, else unknown.
 */
enum vmt_status vmt_inventory_assign_roles(struct vmt_inventory *inventory, const char *host_path,
					   const struct vmt_log_ctx *log);

/*
 * Returns the machine a guest selector names (a trace path, a trace
 * directory name or a hostname), or NULL when it names no trace, or traces
 * of more than one machine (ambiguous: never the first of them silently).
 * vmt_inventory_select_machine() tells the two apart.
 */
struct vmt_machine *vmt_inventory_find_machine(struct vmt_inventory *inventory,
					       const char *selector);

/*
 * Sets `*machine` to the machine a guest selector names, or NULL when it
 * names no trace (the caller reports that), and returns VMT_STATUS_OK. When
 * it names traces of more than one machine (LTTng directory names such as
 * `kernel` or `64-bit` are often shared; so are cloned guests' hostnames),
 * appends a cause naming the parameter `param`, the selector and the
 * machines, and returns VMT_STATUS_ERROR.
 */
enum vmt_status vmt_inventory_select_machine(struct vmt_inventory *inventory, const char *param,
					     const char *selector, const struct vmt_log_ctx *log,
					     struct vmt_machine **machine);

/*
 * Sets each guest's UUID from its traces' `product_uuid`, else from
 * `guest_uuids` (a map: selector -> UUID string, may be NULL). A selector
 * naming nothing or more than one machine, an invalid UUID, or two machines
 * with one UUID appends a cause and returns VMT_STATUS_ERROR.
 */
enum vmt_status vmt_inventory_set_guest_uuids(struct vmt_inventory *inventory,
					      const bt_value *guest_uuids,
					      const struct vmt_log_ctx *log);

/* Number of host machines. */
guint vmt_inventory_host_count(const struct vmt_inventory *inventory);

/* Borrows machine `index`. */
struct vmt_machine *vmt_inventory_machine(const struct vmt_inventory *inventory, guint index);

/* "host", "guest" or "unknown". */
const char *vmt_role_name(enum vmt_role role);

/* "none", "clock", "hypercall", "windows" or "manual". */
const char *vmt_sync_method_name(enum vmt_sync_method method);

/* Largest manual offset accepted (ns): beyond, sums with real times could overflow. */
#define VMT_MAX_MANUAL_OFFSET_NS INT64_C(1000000000000000000)

/* The guest's `beta` plus its manual offset (SPEC `vmtrace_sync_offset_ns`), saturated. */
int64_t vmt_machine_offset_ns(const struct vmt_machine *machine);

/*
 * A recorded guest time (ns from origin) in host time: line (or piece, when
 * `pieces` is set) plus manual offset, saturated.
 */
int64_t vmt_machine_convert_ns(const struct vmt_machine *machine, int64_t guest_ns);

/* Number of pieces converting the guest's times: 1 for a single line. */
guint vmt_machine_segment_count(const struct vmt_machine *machine);

/* True when `machine` looks like a guest on its own: a product_uuid or vmsync guest events. */
bool vmt_machine_has_guest_markers(const struct vmt_machine *machine);

#endif /* VMTRACE_LIB_INVENTORY_H */
