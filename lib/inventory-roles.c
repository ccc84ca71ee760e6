/* SPDX-License-Identifier: MIT */
/*
 * Inventory: grouping traces into machines, host detection, guest
 * selectors and guest UUIDs (SPEC §2 "Roles").
 */
#define VMT_LOG_TAG "VMTRACE/INVENTORY"
#include "lib/log.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "lib/inventory.h"

static guint find_root(guint *parent, guint i)
{
	while (parent[i] != i) {
		parent[i] = parent[parent[i]];
		i = parent[i];
	}
	return i;
}

static bool same_string(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static bool product_uuids_differ(const struct vmt_trace_entry *a, const struct vmt_trace_entry *b)
{
	char ua[VMT_UUID_SIZE], ub[VMT_UUID_SIZE];

	return vmt_uuid_normalize(a->probe.product_uuid, ua) &&
	       vmt_uuid_normalize(b->probe.product_uuid, ub) && strcmp(ua, ub) != 0;
}

/* Traces recorded on one machine share a clock UUID (boot id) or a hostname. */
static bool same_machine(const struct vmt_trace_entry *a, const struct vmt_trace_entry *b)
{
	if (product_uuids_differ(a, b)) {
		return false;
	}
	return same_string(a->probe.hostname, b->probe.hostname) ||
	       same_string(a->probe.clock_uuid, b->probe.clock_uuid);
}

static struct vmt_machine *new_machine(const struct vmt_trace_entry *first)
{
	struct vmt_machine *machine = g_new0(struct vmt_machine, 1);

	machine->id = g_strdup(first->probe.hostname   ? first->probe.hostname :
			       first->probe.clock_uuid ? first->probe.clock_uuid :
							 first->path);
	machine->traces = g_ptr_array_new();
	machine->host = -1;
	machine->host_pid = -1;
	machine->sync_method = VMT_SYNC_METHOD_NONE;
	machine->line = vmt_clock_line_identity();
	machine->error_bound_ns = -1;
	return machine;
}

static void group_machines(struct vmt_inventory *inventory)
{
	guint n = inventory->traces->len, i, j;
	guint *parent = g_new(guint, n);
	gint *machine_of_root = g_new(gint, n);

	for (i = 0; i < n; i++) {
		parent[i] = i;
		machine_of_root[i] = -1;
	}
	for (i = 0; i < n; i++) {
		for (j = i + 1; j < n; j++) {
			if (same_machine(g_ptr_array_index(inventory->traces, i),
					 g_ptr_array_index(inventory->traces, j))) {
				parent[find_root(parent, j)] = find_root(parent, i);
			}
		}
	}
	for (i = 0; i < n; i++) {
		struct vmt_trace_entry *trace = g_ptr_array_index(inventory->traces, i);
		guint root = find_root(parent, i);

		if (machine_of_root[root] < 0) {
			machine_of_root[root] = inventory->machines->len;
			g_ptr_array_add(inventory->machines, new_machine(trace));
		}
		trace->machine = machine_of_root[root];
		g_ptr_array_add(vmt_inventory_machine(inventory, trace->machine)->traces, trace);
	}
	g_free(machine_of_root);
	g_free(parent);
}

/* True when `path` is `dir` or lies under it (both normalised to absolute paths). */
static bool path_is_under(const char *path, const char *dir)
{
	char real_path[PATH_MAX], real_dir[PATH_MAX];
	size_t len;

	if (!realpath(path, real_path) || !realpath(dir, real_dir)) {
		return false;
	}
	len = strlen(real_dir);
	return strncmp(real_path, real_dir, len) == 0 &&
	       (real_path[len] == '\0' || real_path[len] == '/' || strcmp(real_dir, "/") == 0);
}

static enum vmt_status mark_hosts(struct vmt_inventory *inventory, const char *host_path,
				  const struct vmt_log_ctx *log)
{
	bool found = false;
	guint i;

	for (i = 0; i < inventory->traces->len; i++) {
		struct vmt_trace_entry *trace = g_ptr_array_index(inventory->traces, i);
		bool is_host = host_path ? path_is_under(trace->path, host_path) :
					   trace->probe.has_kvm_host_events;

		if (is_host) {
			vmt_inventory_machine(inventory, trace->machine)->role = VMT_ROLE_HOST;
			found = true;
		}
	}
	if (host_path && !found) {
		VMT_LOGE_APPEND_CAUSE(log,
				      "Invalid parameter `host`: no trace under this path among "
				      "the inputs: path=\"%s\"",
				      host_path);
		return VMT_STATUS_ERROR;
	}
	return VMT_STATUS_OK;
}

enum vmt_status vmt_inventory_assign_roles(struct vmt_inventory *inventory, const char *host_path,
					   const struct vmt_log_ctx *log)
{
	guint i, host_count;
	gint only_host = -1;

	group_machines(inventory);
	if (mark_hosts(inventory, host_path, log) != VMT_STATUS_OK) {
		return VMT_STATUS_ERROR;
	}
	host_count = vmt_inventory_host_count(inventory);
	for (i = 0; i < inventory->machines->len; i++) {
		if (vmt_inventory_machine(inventory, i)->role == VMT_ROLE_HOST) {
			only_host = host_count == 1 ? (gint) i : -1;
		}
	}
	for (i = 0; i < inventory->machines->len; i++) {
		struct vmt_machine *machine = vmt_inventory_machine(inventory, i);
		guint t;

		for (t = 0; t < machine->traces->len; t++) {
			const struct vmt_trace_entry *trace = g_ptr_array_index(machine->traces, t);

			machine->has_vmsync_events |= trace->probe.has_vmsync_guest_events;
		}
		if (machine->role != VMT_ROLE_HOST && host_count > 0) {
			machine->role = VMT_ROLE_GUEST;
			machine->host = only_host;
		}
	}
	return VMT_STATUS_OK;
}

static bool trace_matches(const struct vmt_trace_entry *trace, const char *selector)
{
	char *trimmed;
	bool matches;

	if (same_string(trace->dir_name, selector) ||
	    same_string(trace->probe.hostname, selector) || same_string(trace->path, selector)) {
		return true;
	}
	/* A path selector may be written differently (relative, trailing slash). */
	trimmed = g_strdup(selector);
	while (strlen(trimmed) > 1 && G_IS_DIR_SEPARATOR(trimmed[strlen(trimmed) - 1])) {
		trimmed[strlen(trimmed) - 1] = '\0';
	}
	matches = strchr(trimmed, G_DIR_SEPARATOR) && g_file_test(trimmed, G_FILE_TEST_IS_DIR) &&
		  path_is_under(trace->path, trimmed) && path_is_under(trimmed, trace->path);
	g_free(trimmed);
	return matches;
}

struct vmt_machine *vmt_inventory_find_machine(struct vmt_inventory *inventory,
					       const char *selector)
{
	guint i;

	for (i = 0; i < inventory->traces->len; i++) {
		const struct vmt_trace_entry *trace = g_ptr_array_index(inventory->traces, i);

		if (trace_matches(trace, selector)) {
			return vmt_inventory_machine(inventory, trace->machine);
		}
	}
	return NULL;
}

static void set_uuids_from_metadata(struct vmt_inventory *inventory)
{
	guint i, t;

	for (i = 0; i < inventory->machines->len; i++) {
		struct vmt_machine *machine = vmt_inventory_machine(inventory, i);

		for (t = 0; t < machine->traces->len && !machine->vm_uuid[0]; t++) {
			const struct vmt_trace_entry *trace = g_ptr_array_index(machine->traces, t);

			if (!vmt_uuid_normalize(trace->probe.product_uuid, machine->vm_uuid)) {
				machine->vm_uuid[0] = '\0';
			}
		}
	}
}

struct uuid_param_context {
	struct vmt_inventory *inventory;
	const struct vmt_log_ctx *log;
	enum vmt_status status;
};

static bt_value_map_foreach_entry_const_func_status
apply_uuid_param(const char *selector, const bt_value *value, void *data)
{
	struct uuid_param_context *ctx = data;
	struct vmt_machine *machine = vmt_inventory_find_machine(ctx->inventory, selector);
	char uuid[VMT_UUID_SIZE];

	/* Each failure appends a cause, so it returns ERROR (INTERRUPT would break a postcondition). */
	ctx->status = VMT_STATUS_ERROR;
	if (!machine) {
		VMT_LOGE_APPEND_CAUSE(
			ctx->log,
			"Invalid parameter `guest-uuids{\"%s\"}`: the selector names no "
			"trace (expecting a trace path, directory name or hostname)",
			selector);
		return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_ERROR;
	}
	if (machine->role == VMT_ROLE_HOST) {
		VMT_LOGE_APPEND_CAUSE(
			ctx->log,
			"Invalid parameter `guest-uuids{\"%s\"}`: the selector names the "
			"host machine `%s`",
			selector, machine->id);
		return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_ERROR;
	}
	if (!vmt_uuid_normalize(bt_value_string_get(value), uuid)) {
		VMT_LOGE_APPEND_CAUSE(
			ctx->log,
			"Invalid parameter `guest-uuids{\"%s\"}`: \"%s\" is not a UUID "
			"(expecting 8-4-4-4-12 hexadecimal digits)",
			selector, bt_value_string_get(value));
		return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_ERROR;
	}
	if (machine->vm_uuid[0] && strcmp(machine->vm_uuid, uuid) != 0) {
		VMT_LOGW(
			ctx->log,
			"Guest has a `product_uuid` in its metadata; ignoring `guest-uuids{\"%s\"}`: "
			"machine=\"%s\", product-uuid=\"%s\", parameter-uuid=\"%s\"",
			selector, machine->id, machine->vm_uuid, uuid);
	} else {
		memcpy(machine->vm_uuid, uuid, VMT_UUID_SIZE);
	}
	ctx->status = VMT_STATUS_OK;
	return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_OK;
}

static enum vmt_status check_unique_uuids(struct vmt_inventory *inventory,
					  const struct vmt_log_ctx *log)
{
	guint i, j;

	for (i = 0; i < inventory->machines->len; i++) {
		const struct vmt_machine *a = vmt_inventory_machine(inventory, i);

		for (j = i + 1; j < inventory->machines->len && a->vm_uuid[0]; j++) {
			const struct vmt_machine *b = vmt_inventory_machine(inventory, j);
			const struct vmt_trace_entry *ta = g_ptr_array_index(a->traces, 0);
			const struct vmt_trace_entry *tb = g_ptr_array_index(b->traces, 0);

			if (strcmp(a->vm_uuid, b->vm_uuid) == 0) {
				VMT_LOGE_APPEND_CAUSE(
					log,
					"Two machines claim the same guest UUID: "
					"uuid=%s, first-trace=\"%s\", second-trace=\"%s\"",
					a->vm_uuid, ta->path, tb->path);
				return VMT_STATUS_ERROR;
			}
		}
	}
	return VMT_STATUS_OK;
}

enum vmt_status vmt_inventory_set_guest_uuids(struct vmt_inventory *inventory,
					      const bt_value *guest_uuids,
					      const struct vmt_log_ctx *log)
{
	struct uuid_param_context ctx = { inventory, log, VMT_STATUS_OK };

	set_uuids_from_metadata(inventory);
	if (guest_uuids) {
		bt_value_map_foreach_entry_const(guest_uuids, apply_uuid_param, &ctx);
		if (ctx.status != VMT_STATUS_OK) {
			return ctx.status;
		}
	}
	return check_unique_uuids(inventory, log);
}

static int64_t add_saturated(int64_t a, int64_t b)
{
	int64_t sum;

	if (__builtin_add_overflow(a, b, &sum)) {
		return b > 0 ? INT64_MAX : INT64_MIN;
	}
	return sum;
}

int64_t vmt_machine_offset_ns(const struct vmt_machine *machine)
{
	return add_saturated(vmt_clock_line_offset_ns(&machine->line), machine->manual_offset_ns);
}

int64_t vmt_machine_convert_ns(const struct vmt_machine *machine, int64_t guest_ns)
{
	return add_saturated(vmt_clock_line_apply(&machine->line, guest_ns),
			     machine->manual_offset_ns);
}
