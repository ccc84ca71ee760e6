/* SPDX-License-Identifier: MIT */
/*
 * Reading traces port by port on several threads.
 *
 * A pass that reads every stream on its own (one simple sink per
 * `src.ctf.fs` output port, no muxer) has no order between streams, so its
 * streams can be split over several private graphs, each run on its own
 * thread. The split balances the streams' file sizes (bytes), the best cheap
 * guess of their decoding cost.
 *
 * libbabeltrace2 2.0.4 is not thread-safe: object reference counts are
 * plain integers, and plugin loading and graph building touch shared
 * state. So every graph and component is created here, in the calling
 * thread, before any thread starts; each graph gets its own `src.ctf.fs`
 * for each trace it reads (no trace-IR object is shared between threads);
 * the threads only run their graph; and the graphs are destroyed in the
 * calling thread after the join. Error causes are thread-local: a thread
 * that fails takes its error, and the calling thread moves it back, so the
 * caller sees the failure as if it had run the graph itself.
 *
 * Everything a sink does runs on its graph's thread: a sink's data must not
 * be shared with the sinks of another graph. The caller merges what the
 * sinks gathered after vmt_parallel_read_run() returns.
 */
#ifndef VMTRACE_LIB_PARALLEL_READ_H
#define VMTRACE_LIB_PARALLEL_READ_H

#include "lib/log.h"

#include <stdint.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/ctf-graph.h"
#include "lib/status.h"

/* At most this many graphs (and threads). */
#define VMT_PARALLEL_READ_MAX 8

/*
 * Environment variable: how many threads the reading passes use (1: read
 * in the calling thread only). Default: 2, or 1 on a single-CPU machine.
 */
#define VMT_PARALLEL_READ_ENV "VMTRACE_PASS_THREADS"

/* The thread count VMT_PARALLEL_READ_ENV asks for (warns on a bad value), for any pass. */
guint vmt_parallel_thread_count(const struct vmt_log_ctx *log);

/* Returns the data of the sink of output port `port` of the trace being added. */
typedef void *(*vmt_parallel_port_data_func)(void *ctx, uint64_t port);

/*
 * Optional callbacks, for a caller that coordinates the graphs' threads
 * (lib/timed-merge.h). `port_assigned` runs in the calling thread, for
 * every port, before any graph runs; `graph_started` and `graph_ended` run
 * on the graph's thread, just before its run and just after it (whether it
 * succeeded or not).
 */
struct vmt_parallel_hooks {
	void (*port_assigned)(void *ctx, void *port_data, guint graph);
	void (*graph_started)(void *ctx, guint graph);
	void (*graph_ended)(void *ctx, guint graph);
	void *ctx;
};

struct vmt_parallel_read {
	/* Graphs to split the ports over (at most VMT_PARALLEL_READ_MAX). */
	guint graph_count;
	bt_graph *graphs[VMT_PARALLEL_READ_MAX]; /* Owned. */
	GArray *traces; /* Owned: struct parallel_trace. */
	GArray *ports; /* Owned: struct parallel_port. */
	/* Prefix of the component names, e.g. "sync-pass". */
	const char *name; /* Weak. */
	const struct vmt_ctf_plugins *plugins; /* Weak. */
	bt_logging_level level;
	bt_graph_simple_sink_component_consume_func consume;
	const struct vmt_log_ctx *log; /* Weak. */
	struct vmt_parallel_hooks hooks; /* All NULL unless the caller sets them. */
};

/*
 * Prepares `read`: its thread count comes from VMT_PARALLEL_READ_ENV. Every
 * port's sink calls `consume` with its own data. Call
 * vmt_parallel_read_fini() in any case.
 */
enum vmt_status vmt_parallel_read_init(struct vmt_parallel_read *read, const char *name,
				       const struct vmt_ctf_plugins *plugins,
				       bt_logging_level level,
				       bt_graph_simple_sink_component_consume_func consume,
				       const struct vmt_log_ctx *log);

/*
 * Adds the trace in `paths` (`trace_name` as in vmt_ctf_graph_add_source();
 * `path` names it in causes; `index` makes its component names unique):
 * calls `port_data(ctx, p)` once for each of its output ports, in order.
 * Fails (with a cause naming `path`) if `src.ctf.fs` rejects the trace.
 */
enum vmt_status vmt_parallel_read_add_trace(struct vmt_parallel_read *read, guint index,
					    const GPtrArray *paths, const char *trace_name,
					    const char *path, vmt_parallel_port_data_func port_data,
					    void *ctx);

/*
 * Splits the ports over the graphs, then runs every graph to its end, each
 * but the first on a thread of its own. With one port, or one thread, all
 * of it runs in the calling thread. On failure the calling thread's error
 * holds the causes of the first failed graph (in graph order).
 */
enum vmt_status vmt_parallel_read_run(struct vmt_parallel_read *read);

/* Destroys the graphs (and so the sinks); safe after a failed init. */
void vmt_parallel_read_fini(struct vmt_parallel_read *read);

/*
 * Returns the free heap pages of every thread's arena to the system. glibc
 * gives each thread its own arena and keeps a finished thread's freed
 * memory resident, and the calling thread never reuses it: without this,
 * what the reading threads (and callbacks run on them) allocated stays in
 * the process's RSS for the rest of its life. Call once everything
 * allocated during the run is freed.
 */
void vmt_parallel_read_release_memory(void);

#endif /* VMTRACE_LIB_PARALLEL_READ_H */
