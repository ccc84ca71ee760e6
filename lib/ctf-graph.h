/* SPDX-License-Identifier: MIT */
/*
 * Private Babeltrace graphs over `src.ctf.fs`: finding the stock plugins,
 * adding a CTF source for one trace, and probing a trace's IR (environment,
 * clock, event classes) without decoding more than its first packet.
 *
 * Babeltrace 2.0 reads CTF only through the `src.ctf.fs` component, so every
 * vmtrace component that reads traces from disk builds such graphs.
 */
#ifndef VMTRACE_LIB_CTF_GRAPH_H
#define VMTRACE_LIB_CTF_GRAPH_H

#include "lib/log.h"

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/status.h"

/* The stock component classes vmtrace's private graphs use. */
struct vmt_ctf_plugins {
	const bt_plugin *ctf; /* Owned. */
	const bt_plugin *utils; /* Owned. */
	const bt_component_class_source *fs; /* Weak: owned by `ctf`. */
	const bt_component_class_filter *muxer; /* Weak: owned by `utils`. */
};

/*
 * Finds the `ctf` and `utils` plugins in Babeltrace's standard places.
 * On failure appends a cause and returns VMT_STATUS_ERROR.
 */
enum vmt_status vmt_ctf_plugins_load(struct vmt_ctf_plugins *plugins,
				     const struct vmt_log_ctx *log);

/* Puts the plugins; safe on a zeroed or half-loaded struct. */
void vmt_ctf_plugins_fini(struct vmt_ctf_plugins *plugins);

/*
 * Adds a `src.ctf.fs` named `name` reading the trace directories `paths`
 * (strings; several only for chunks of one trace, which share a trace
 * UUID), with `trace-name` = `trace_name` when not NULL, to `graph`. On
 * failure (bad metadata, unreadable files) appends a cause naming the path.
 */
enum vmt_status vmt_ctf_graph_add_source(bt_graph *graph, const struct vmt_ctf_plugins *plugins,
					 const char *name, const GPtrArray *paths,
					 const char *trace_name, bt_logging_level level,
					 const bt_component_source **source,
					 const struct vmt_log_ctx *log);

/* Handles one message of a batch; anything but VMT_STATUS_OK stops the batch. */
typedef enum vmt_status (*vmt_message_handler)(void *data, const bt_message *msg);

/*
 * The body of a simple sink's consume method: gets the next batch from
 * `iterator`, hands each message to `handle` with `data` until one fails,
 * and puts every message.
 */
bt_graph_simple_sink_component_consume_func_status
vmt_ctf_graph_consume(bt_message_iterator *iterator, void *data, vmt_message_handler handle);

/*
 * Adds to `graph` a simple sink named `name` (`consume`, `data`) fed by
 * output port `port` of `source`. On failure appends a cause naming `path`.
 */
enum vmt_status vmt_ctf_graph_add_port_sink(bt_graph *graph, const bt_component_source *source,
					    uint64_t port, const char *name,
					    bt_graph_simple_sink_component_consume_func consume,
					    void *data, const char *path,
					    const struct vmt_log_ctx *log);

/*
 * Fills `sizes` with the bytes of each of the `port_count` streams (output
 * ports, in order) of the `src.ctf.fs` reading `paths`. Exact when the
 * trace is one directory with one file per stream (LTTng's layout without
 * rotation: `src.ctf.fs` orders its ports by file path); otherwise the
 * trace's bytes spread evenly over its ports. An unreadable file counts 0.
 */
void vmt_ctf_graph_port_sizes(const GPtrArray *paths, uint64_t port_count, uint64_t *sizes);

/* Default clock class properties, as read from a trace's IR. */
struct vmt_clock_info {
	bool is_set;
	char *name; /* Owned; may be NULL. */
	char *description; /* Owned; may be NULL. */
	uint64_t frequency;
	uint64_t precision;
	int64_t offset_seconds;
	uint64_t offset_cycles;
	bool origin_is_unix_epoch;
	bool has_uuid;
	uint8_t uuid[16];
};

/* What a probe learns about one trace. */
struct vmt_trace_probe {
	/* The trace produced no message at all (no data stream). */
	bool is_empty;
	char *name; /* Owned: the IR trace name, or NULL. */
	char *uuid; /* Owned: the IR trace UUID as a string, or NULL. */
	char *hostname; /* Owned: env `hostname`, or NULL. */
	char *product_uuid; /* Owned: env `product_uuid` as written, or NULL. */
	char *domain; /* Owned: env `domain`, or NULL. */
	struct vmt_clock_info clock;
	char *clock_uuid; /* Owned: the clock UUID as a string, or NULL. */
	/* Event classes present (SPEC §2 host events; vmsync guest events). */
	bool has_kvm_host_events;
	bool has_kvm_entry_exit;
	bool has_vmsync_host_events;
	bool has_hypercall_events;
	bool has_vmsync_guest_events;
	bool has_vmtrace_env;
	/*
	 * A stream class whose messages may lack a default clock snapshot (no
	 * clock, or packets or discarded items without times): the library's
	 * seek-by-time emulation would read a missing snapshot.
	 */
	bool has_unseekable_streams;
};

/*
 * Probes the trace in `paths` (with `trace_name`, as the emitting graph
 * will) in a throw-away graph. On failure appends a cause naming the path.
 */
enum vmt_status vmt_ctf_graph_probe(const struct vmt_ctf_plugins *plugins, const GPtrArray *paths,
				    const char *trace_name, bt_logging_level level,
				    struct vmt_trace_probe *probe, const struct vmt_log_ctx *log);

/* Frees what a probe owns. */
void vmt_trace_probe_fini(struct vmt_trace_probe *probe);

/* Fills `info` from `clock_class` (borrowed). */
void vmt_clock_info_read(const bt_clock_class *clock_class, struct vmt_clock_info *info);

/* Frees what `info` owns. */
void vmt_clock_info_fini(struct vmt_clock_info *info);

/*
 * Creates a clock class with `info`'s properties, owned by `self_comp`.
 * Returns a new reference, or NULL (with a cause) on failure.
 */
bt_clock_class *vmt_clock_info_create_class(const struct vmt_clock_info *info,
					    bt_self_component *self_comp,
					    const struct vmt_log_ctx *log);

/* Formats 16 UUID bytes as a lowercase canonical string into `out` (37 bytes). */
void vmt_uuid_format(const uint8_t uuid[16], char out[37]);

/* Reads a trace environment entry as a string (NULL if absent or not a string). */
const char *vmt_trace_env_string(const bt_trace *trace, const char *name);

/* Runs `graph` to its end (retrying on AGAIN); the caller appends a cause on failure. */
enum vmt_status vmt_ctf_graph_run(bt_graph *graph);

#endif /* VMTRACE_LIB_CTF_GRAPH_H */
