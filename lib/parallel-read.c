/* SPDX-License-Identifier: MIT */
#define VMT_LOG_TAG "VMTRACE/PARALLEL-READ"
#include "lib/parallel-read.h"

#include "lib/log.h"

#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

/* One trace, with its `src.ctf.fs` in each graph that reads some of its ports. */
struct parallel_trace {
	guint index;
	const GPtrArray *paths; /* Weak. */
	const char *trace_name; /* Weak. */
	const char *path; /* Weak. */
	uint64_t port_count;
	const bt_component_source *sources[VMT_PARALLEL_READ_MAX]; /* Weak: owned by the graphs. */
};

/* One output port of one trace, and the graph that reads it. */
struct parallel_port {
	guint trace; /* Index in `traces`. */
	uint64_t port;
	/* Its stream's bytes, plus one (so that no port weighs nothing). */
	uint64_t weight;
	void *data; /* Weak: the caller's. */
	guint graph;
};

/* One graph's run, on its own thread or on the calling one. */
struct parallel_job {
	const struct vmt_parallel_hooks *hooks; /* Weak. */
	guint index;
	bt_graph *graph; /* Weak. */
	GThread *thread; /* Owned until joined; NULL when run on the calling thread. */
	enum vmt_status status;
	/* The causes of a failed run, taken from the thread that ran it. */
	const bt_error *error; /* Owned. */
};

guint vmt_parallel_thread_count(const struct vmt_log_ctx *log)
{
	const char *value = g_getenv(VMT_PARALLEL_READ_ENV);
	guint64 count;
	char *end;

	if (!value || !*value) {
		/* Two threads: the passes' work splits well in two, and the target machine has 2 cores. */
		return MIN(2, (guint) g_get_num_processors());
	}
	count = g_ascii_strtoull(value, &end, 10);
	if (*end || count < 1 || count > VMT_PARALLEL_READ_MAX) {
		VMT_LOGW(log, "Ignoring a bad thread count: %s=\"%s\", max=%d",
			 VMT_PARALLEL_READ_ENV, value, VMT_PARALLEL_READ_MAX);
		return MIN(2, (guint) g_get_num_processors());
	}
	return (guint) count;
}

enum vmt_status vmt_parallel_read_init(struct vmt_parallel_read *read, const char *name,
				       const struct vmt_ctf_plugins *plugins,
				       bt_logging_level level,
				       bt_graph_simple_sink_component_consume_func consume,
				       const struct vmt_log_ctx *log)
{
	memset(read, 0, sizeof(*read));
	read->name = name;
	read->plugins = plugins;
	read->level = level;
	read->consume = consume;
	read->log = log;
	read->graph_count = vmt_parallel_thread_count(log);
	read->traces = g_array_new(FALSE, TRUE, sizeof(struct parallel_trace));
	read->ports = g_array_new(FALSE, TRUE, sizeof(struct parallel_port));
	read->graphs[0] = bt_graph_create(0);
	if (!read->graphs[0]) {
		VMT_LOGE_APPEND_CAUSE(log, "Cannot create a graph");
		return VMT_STATUS_MEMORY_ERROR;
	}
	return VMT_STATUS_OK;
}

void vmt_parallel_read_fini(struct vmt_parallel_read *read)
{
	guint g;

	for (g = 0; g < VMT_PARALLEL_READ_MAX; g++) {
		BT_GRAPH_PUT_REF_AND_RESET(read->graphs[g]);
	}
	if (read->traces) {
		g_array_free(read->traces, TRUE);
		read->traces = NULL;
	}
	if (read->ports) {
		g_array_free(read->ports, TRUE);
		read->ports = NULL;
	}
}

/* Adds the `src.ctf.fs` of `trace` to graph `g` (same name in every graph). */
static enum vmt_status add_source(struct vmt_parallel_read *read, struct parallel_trace *trace,
				  guint g)
{
	char name[64];

	if (!read->graphs[g]) {
		read->graphs[g] = bt_graph_create(0);
		if (!read->graphs[g]) {
			VMT_LOGE_APPEND_CAUSE(read->log, "Cannot create a graph");
			return VMT_STATUS_MEMORY_ERROR;
		}
	}
	snprintf(name, sizeof(name), "%s-ctf-fs-%u", read->name, trace->index);
	return vmt_ctf_graph_add_source(read->graphs[g], read->plugins, name, trace->paths,
					trace->trace_name, read->level, &trace->sources[g],
					read->log);
}

enum vmt_status vmt_parallel_read_add_trace(struct vmt_parallel_read *read, guint index,
					    const GPtrArray *paths, const char *trace_name,
					    const char *path, vmt_parallel_port_data_func port_data,
					    void *ctx)
{
	struct parallel_trace trace = {
		.index = index, .paths = paths, .trace_name = trace_name, .path = path
	};
	enum vmt_status status = add_source(read, &trace, 0);
	uint64_t *sizes, p;

	if (status != VMT_STATUS_OK) {
		return status;
	}
	trace.port_count = bt_component_source_get_output_port_count(trace.sources[0]);
	sizes = g_new0(uint64_t, MAX(trace.port_count, 1));
	vmt_ctf_graph_port_sizes(paths, trace.port_count, sizes);
	for (p = 0; p < trace.port_count; p++) {
		struct parallel_port port = {
			.trace = read->traces->len,
			.port = p,
			.weight = sizes[p] + 1,
			.data = port_data(ctx, p),
		};

		g_array_append_val(read->ports, port);
	}
	g_free(sizes);
	g_array_append_val(read->traces, trace);
	return VMT_STATUS_OK;
}

/* Heaviest first; equal weights in the order they were added, for a reproducible split. */
static gint compare_port_weights(gconstpointer a, gconstpointer b, gpointer data)
{
	const GArray *ports = data;
	guint ia = *(const guint *) a, ib = *(const guint *) b;
	uint64_t wa = g_array_index(ports, struct parallel_port, ia).weight;
	uint64_t wb = g_array_index(ports, struct parallel_port, ib).weight;

	if (wa != wb) {
		return wa > wb ? -1 : 1;
	}
	return ia < ib ? -1 : (ia > ib ? 1 : 0);
}

/*
 * Longest processing time first: each port, heaviest first, goes to the
 * graph with the fewest bytes so far (within 4/3 of the best split).
 * Returns how many graphs got ports; they are the first ones.
 */
static guint split_ports(struct vmt_parallel_read *read)
{
	guint count = MIN(read->graph_count, read->ports->len), i, g;
	uint64_t load[VMT_PARALLEL_READ_MAX] = { 0 };
	GArray *order = g_array_sized_new(FALSE, FALSE, sizeof(guint), read->ports->len);

	for (i = 0; i < read->ports->len; i++) {
		g_array_append_val(order, i);
	}
	g_array_sort_with_data(order, compare_port_weights, read->ports);
	for (i = 0; i < order->len; i++) {
		struct parallel_port *port = &g_array_index(read->ports, struct parallel_port,
							    g_array_index(order, guint, i));
		guint best = 0;

		for (g = 1; g < count; g++) {
			best = load[g] < load[best] ? g : best;
		}
		port->graph = best;
		load[best] += port->weight;
		if (read->hooks.port_assigned) {
			read->hooks.port_assigned(read->hooks.ctx, port->data, best);
		}
	}
	g_array_free(order, TRUE);
	for (g = 0; g < count; g++) {
		VMT_LOGD(read->log, "Split the streams: graph=%u, bytes=%" PRIu64, g, load[g]);
	}
	/* Weights are at least 1, so the first `count` ports went to distinct graphs. */
	return MAX(count, 1);
}

/* Connects `port` to a new simple sink in its graph, adding the trace's source there if needed. */
static enum vmt_status connect_port(struct vmt_parallel_read *read,
				    const struct parallel_port *port)
{
	struct parallel_trace *trace =
		&g_array_index(read->traces, struct parallel_trace, port->trace);
	char name[96];

	if (!trace->sources[port->graph]) {
		if (add_source(read, trace, port->graph) != VMT_STATUS_OK) {
			return VMT_STATUS_ERROR;
		}
		/* Same inputs, same component class: `src.ctf.fs` sorts its ports the same way. */
		if (bt_component_source_get_output_port_count(trace->sources[port->graph]) !=
		    trace->port_count) {
			VMT_LOGE_APPEND_CAUSE(read->log,
					      "The trace changed while being read: path=\"%s\"",
					      trace->path);
			return VMT_STATUS_ERROR;
		}
	}
	VMT_LOGD(read->log,
		 "Reading a stream: path=\"%s\", port=%" PRIu64 ", bytes=%" PRIu64 ", graph=%u",
		 trace->path, port->port, port->weight - 1, port->graph);
	snprintf(name, sizeof(name), "%s-sink-%u-%" PRIu64, read->name, trace->index, port->port);
	return vmt_ctf_graph_add_port_sink(read->graphs[port->graph], trace->sources[port->graph],
					   port->port, name, read->consume, port->data, trace->path,
					   read->log);
}

/* Runs one job on the current thread; keeps its causes with the job. */
static gpointer run_job(gpointer data)
{
	struct parallel_job *job = data;

	if (job->hooks->graph_started) {
		job->hooks->graph_started(job->hooks->ctx, job->index);
	}
	job->status = vmt_ctf_graph_run(job->graph);
	if (job->hooks->graph_ended) {
		job->hooks->graph_ended(job->hooks->ctx, job->index);
	}
	if (job->status != VMT_STATUS_OK) {
		job->error = bt_current_thread_take_error();
	}
	return NULL;
}

/*
 * Starts a thread for each job but the first, runs the first (and any job
 * whose thread could not start) here, and joins.
 */
static void run_jobs(struct parallel_job *jobs, guint count, const struct vmt_log_ctx *log)
{
	GError *error = NULL;
	guint g;

	for (g = 1; g < count; g++) {
		jobs[g].thread = g_thread_try_new("vmtrace-read", run_job, &jobs[g], &error);
		if (!jobs[g].thread) {
			VMT_LOGW(log, "Cannot start a thread; reading in this one: %s",
				 error->message);
			g_clear_error(&error);
		}
	}
	run_job(&jobs[0]);
	for (g = 1; g < count; g++) {
		if (jobs[g].thread) {
			g_thread_join(jobs[g].thread);
		} else {
			run_job(&jobs[g]);
		}
	}
}

/* Gives the calling thread the causes of the first failed job; drops the others'. */
static enum vmt_status collect_errors(struct parallel_job *jobs, guint count)
{
	enum vmt_status status = VMT_STATUS_OK;
	guint g;

	for (g = 0; g < count; g++) {
		if (jobs[g].status == VMT_STATUS_OK) {
			continue;
		}
		if (status == VMT_STATUS_OK) {
			status = jobs[g].status;
			if (jobs[g].error) {
				BT_CURRENT_THREAD_MOVE_ERROR_AND_RESET(jobs[g].error);
			}
		} else if (jobs[g].error) {
			bt_error_release(jobs[g].error);
		}
	}
	return status;
}

enum vmt_status vmt_parallel_read_run(struct vmt_parallel_read *read)
{
	struct parallel_job jobs[VMT_PARALLEL_READ_MAX] = { { 0 } };
	guint count, i, g;

	if (!read->ports->len) {
		return VMT_STATUS_OK;
	}
	count = split_ports(read);
	for (i = 0; i < read->ports->len; i++) {
		if (connect_port(read, &g_array_index(read->ports, struct parallel_port, i)) !=
		    VMT_STATUS_OK) {
			return VMT_STATUS_ERROR;
		}
	}
	for (g = 0; g < count; g++) {
		jobs[g].hooks = &read->hooks;
		jobs[g].index = g;
		jobs[g].graph = read->graphs[g];
	}
	VMT_LOGD(read->log, "Reading the traces: streams=%u, threads=%u", read->ports->len, count);
	run_jobs(jobs, count, read->log);
	return collect_errors(jobs, count);
}

void vmt_parallel_read_release_memory(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}
