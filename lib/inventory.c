/* SPDX-License-Identifier: MIT */
#define VMT_LOG_TAG "VMTRACE/INVENTORY"
#include "lib/inventory.h"

#include "lib/log.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib.h>

/* Deepest directory nesting searched for traces (also stops symlink loops). */
#define MAX_SCAN_DEPTH 32

static void destroy_trace(gpointer data)
{
	struct vmt_trace_entry *trace = data;

	g_free(trace->path);
	g_ptr_array_free(trace->paths, TRUE);
	g_free(trace->trace_name);
	g_free(trace->dir_name);
	vmt_trace_probe_fini(&trace->probe);
	g_free(trace);
}

static void destroy_machine(gpointer data)
{
	struct vmt_machine *machine = data;

	g_free(machine->id);
	vmt_clock_pieces_destroy(machine->window_pieces);
	g_ptr_array_free(machine->traces, TRUE);
	g_free(machine);
}

void vmt_inventory_init(struct vmt_inventory *inventory)
{
	inventory->traces = g_ptr_array_new_with_free_func(destroy_trace);
	inventory->machines = g_ptr_array_new_with_free_func(destroy_machine);
}

void vmt_inventory_fini(struct vmt_inventory *inventory)
{
	g_clear_pointer(&inventory->machines, g_ptr_array_unref);
	g_clear_pointer(&inventory->traces, g_ptr_array_unref);
}

const char *vmt_role_name(enum vmt_role role)
{
	switch (role) {
	case VMT_ROLE_HOST:
		return "host";
	case VMT_ROLE_GUEST:
		return "guest";
	default:
		return "unknown";
	}
}

const char *vmt_sync_method_name(enum vmt_sync_method method)
{
	switch (method) {
	case VMT_SYNC_METHOD_CLOCK:
		return "clock";
	case VMT_SYNC_METHOD_HYPERCALL:
		return "hypercall";
	case VMT_SYNC_METHOD_WINDOWS:
		return "windows";
	case VMT_SYNC_METHOD_MANUAL:
		return "manual";
	default:
		return "none";
	}
}

static bool is_trace_dir(const char *dir)
{
	char *metadata = g_build_filename(dir, "metadata", NULL);
	bool is_trace = g_file_test(metadata, G_FILE_TEST_IS_REGULAR);

	g_free(metadata);
	return is_trace;
}

static void add_trace(struct vmt_inventory *inventory, const char *path, const char *trace_name)
{
	struct vmt_trace_entry *trace = g_new0(struct vmt_trace_entry, 1);

	trace->path = g_strdup(path);
	trace->paths = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(trace->paths, g_strdup(path));
	trace->trace_name = trace_name && trace_name[0] ? g_strdup(trace_name) : NULL;
	trace->dir_name = g_path_get_basename(path);
	g_ptr_array_add(inventory->traces, trace);
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Sorted names of the subdirectories of `dir`, or NULL (with a cause) if unreadable. */
static GPtrArray *list_subdirs(const char *dir, const struct vmt_log_ctx *log)
{
	GError *error = NULL;
	GDir *handle = g_dir_open(dir, 0, &error);
	GPtrArray *names;
	const char *name;

	if (!handle) {
		VMT_LOGE_APPEND_CAUSE(log, "Cannot read directory: path=\"%s\", error=\"%s\"", dir,
				      error->message);
		g_error_free(error);
		return NULL;
	}
	names = g_ptr_array_new_with_free_func(g_free);
	while ((name = g_dir_read_name(handle))) {
		char *child = g_build_filename(dir, name, NULL);

		if (g_file_test(child, G_FILE_TEST_IS_DIR)) {
			g_ptr_array_add(names, g_strdup(name));
		}
		g_free(child);
	}
	g_dir_close(handle);
	g_ptr_array_sort(names, compare_names);
	return names;
}

/* Adds the traces under `dir`, naming each as the CLI does: its path relative to `input`. */
static enum vmt_status scan_dir(struct vmt_inventory *inventory, const char *input, const char *dir,
				const char *relative, int depth, const struct vmt_log_ctx *log)
{
	enum vmt_status status = VMT_STATUS_OK;
	GPtrArray *subdirs;
	guint i;

	if (is_trace_dir(dir)) {
		add_trace(inventory, dir, relative);
		return VMT_STATUS_OK;
	}
	if (depth >= MAX_SCAN_DEPTH) {
		return VMT_STATUS_OK;
	}
	subdirs = list_subdirs(dir, log);
	if (!subdirs) {
		return VMT_STATUS_ERROR;
	}
	for (i = 0; i < subdirs->len && status == VMT_STATUS_OK; i++) {
		const char *name = g_ptr_array_index(subdirs, i);
		char *child = g_build_filename(dir, name, NULL);
		char *child_relative = relative[0] ? g_build_filename(relative, name, NULL) :
						     g_strdup(name);

		status = scan_dir(inventory, input, child, child_relative, depth + 1, log);
		g_free(child_relative);
		g_free(child);
	}
	g_ptr_array_free(subdirs, TRUE);
	return status;
}

static enum vmt_status scan_input(struct vmt_inventory *inventory, const char *input,
				  const struct vmt_log_ctx *log)
{
	guint before = inventory->traces->len;
	char *dir;
	enum vmt_status status;

	if (!g_file_test(input, G_FILE_TEST_EXISTS)) {
		VMT_LOGE_APPEND_CAUSE(log, "Cannot find input path: path=\"%s\"", input);
		return VMT_STATUS_ERROR;
	}
	if (!g_file_test(input, G_FILE_TEST_IS_DIR)) {
		VMT_LOGE_APPEND_CAUSE(log,
				      "Input path is not a directory (give a CTF trace directory "
				      "or a directory holding traces): path=\"%s\"",
				      input);
		return VMT_STATUS_ERROR;
	}
	/* Like the CLI: a trailing separator does not change the trace names. */
	dir = g_strdup(input);
	while (strlen(dir) > 1 && G_IS_DIR_SEPARATOR(dir[strlen(dir) - 1])) {
		dir[strlen(dir) - 1] = '\0';
	}
	status = scan_dir(inventory, input, dir, "", 0, log);
	g_free(dir);
	if (status == VMT_STATUS_OK && inventory->traces->len == before) {
		VMT_LOGE_APPEND_CAUSE(log,
				      "No CTF trace found (no directory with a `metadata` file): "
				      "path=\"%s\"",
				      input);
		status = VMT_STATUS_ERROR;
	}
	return status;
}

/*
 * Like the CLI, reads the directories of one trace (same trace UUID, e.g.
 * the chunks of a rotated LTTng session) with a single `src.ctf.fs`, which
 * merges them into one trace, named without a relative path.
 */
static enum vmt_status merge_chunks(struct vmt_inventory *inventory,
				    const struct vmt_ctf_plugins *plugins, bt_logging_level level,
				    const struct vmt_log_ctx *log)
{
	guint i, j;

	for (i = 0; i < inventory->traces->len; i++) {
		struct vmt_trace_entry *first = g_ptr_array_index(inventory->traces, i);
		bool merged = false;

		for (j = i + 1; first->probe.uuid && j < inventory->traces->len;) {
			struct vmt_trace_entry *other = g_ptr_array_index(inventory->traces, j);

			if (other->probe.uuid &&
			    strcmp(first->probe.uuid, other->probe.uuid) == 0) {
				g_ptr_array_add(first->paths, g_strdup(other->path));
				g_ptr_array_remove_index(inventory->traces, j);
				merged = true;
			} else {
				j++;
			}
		}
		if (merged) {
			g_clear_pointer(&first->trace_name, g_free);
			vmt_trace_probe_fini(&first->probe);
			if (vmt_ctf_graph_probe(plugins, first->paths, NULL, level, &first->probe,
						log) != VMT_STATUS_OK) {
				return VMT_STATUS_ERROR;
			}
		}
	}
	return VMT_STATUS_OK;
}

enum vmt_status vmt_inventory_scan(struct vmt_inventory *inventory, const bt_value *inputs,
				   const struct vmt_ctf_plugins *plugins, bt_logging_level level,
				   const struct vmt_log_ctx *log)
{
	uint64_t i;
	guint t;

	for (i = 0; i < bt_value_array_get_length(inputs); i++) {
		const char *input = bt_value_string_get(
			bt_value_array_borrow_element_by_index_const(inputs, i));
		enum vmt_status status = scan_input(inventory, input, log);

		if (status != VMT_STATUS_OK) {
			return status;
		}
	}
	for (t = 0; t < inventory->traces->len; t++) {
		struct vmt_trace_entry *trace = g_ptr_array_index(inventory->traces, t);
		enum vmt_status status = vmt_ctf_graph_probe(
			plugins, trace->paths, trace->trace_name, level, &trace->probe, log);

		if (status != VMT_STATUS_OK) {
			return status;
		}
	}
	return merge_chunks(inventory, plugins, level, log);
}

guint vmt_inventory_host_count(const struct vmt_inventory *inventory)
{
	guint i, count = 0;

	for (i = 0; i < inventory->machines->len; i++) {
		count += vmt_inventory_machine(inventory, i)->role == VMT_ROLE_HOST;
	}
	return count;
}

struct vmt_machine *vmt_inventory_machine(const struct vmt_inventory *inventory, guint index)
{
	return g_ptr_array_index(inventory->machines, index);
}

bool vmt_machine_has_guest_markers(const struct vmt_machine *machine)
{
	guint i;

	for (i = 0; i < machine->traces->len; i++) {
		const struct vmt_trace_entry *trace = g_ptr_array_index(machine->traces, i);

		if (trace->probe.product_uuid || trace->probe.has_vmsync_guest_events) {
			return true;
		}
	}
	return false;
}
