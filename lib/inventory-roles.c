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

/*
 * Grouping traces into machines. Traces recorded on one machine share a
 * clock UUID (boot id) or a hostname, but a machine never holds two
 * different `product_uuid`s: cloned guests often share a hostname. Groups
 * are joined, never split, in two rounds, clock UUID first (a boot id is
 * specific to one boot of one machine; a hostname is not):
 * - two linked groups join when they have the same product_uuid, or none;
 * - then a group without product_uuid joins the one group with a
 *   product_uuid it is linked to. Linked to several (e.g. a UST trace
 *   without `product_uuid` or clock UUID, whose hostname two clones share),
 *   it cannot be told apart: it joins the first of them in input order (the
 *   group of the first trace scanned) and a warning names the others.
 * Union-find with the smallest trace index as each group's root, so that
 * machines come in input order.
 */
typedef char uuid_string[VMT_UUID_SIZE];

struct grouping {
	const struct vmt_inventory *inventory;
	const struct vmt_log_ctx *log;
	guint *parent;
	/* Per root: its group's normalised product_uuid, "" if none. */
	uuid_string *uuid;
};

typedef bool (*trace_link_func)(const struct vmt_trace_entry *a, const struct vmt_trace_entry *b);

static bool same_clock(const struct vmt_trace_entry *a, const struct vmt_trace_entry *b)
{
	return same_string(a->probe.clock_uuid, b->probe.clock_uuid);
}

static bool same_hostname(const struct vmt_trace_entry *a, const struct vmt_trace_entry *b)
{
	return same_string(a->probe.hostname, b->probe.hostname);
}

static const struct vmt_trace_entry *grouping_trace(const struct grouping *g, guint i)
{
	return g_ptr_array_index(g->inventory->traces, i);
}

static void join_groups(struct grouping *g, guint ra, guint rb)
{
	guint root = MIN(ra, rb), other = MAX(ra, rb);

	g->parent[other] = root;
	if (!g->uuid[root][0]) {
		memcpy(g->uuid[root], g->uuid[other], VMT_UUID_SIZE);
	}
}

/*
 * The smallest root, other than `exclude`, of a group with a product_uuid
 * that a trace of group `root` is linked to; G_MAXUINT if none.
 */
static guint linked_uuid_group(struct grouping *g, guint root, trace_link_func linked,
			       guint exclude)
{
	guint n = g->inventory->traces->len, i, j, found = G_MAXUINT;

	for (i = root; i < n; i++) {
		if (find_root(g->parent, i) != root) {
			continue;
		}
		for (j = 0; j < n; j++) {
			guint rj = find_root(g->parent, j);

			if (rj != root && rj != exclude && rj < found && g->uuid[rj][0] &&
			    linked(grouping_trace(g, i), grouping_trace(g, j))) {
				found = rj;
			}
		}
	}
	return found;
}

/* Joins group `root` (without product_uuid) to the group with one it is linked to, if any. */
static void join_uuidless_group(struct grouping *g, guint root, trace_link_func linked)
{
	guint target = linked_uuid_group(g, root, linked, G_MAXUINT), other;

	if (target == G_MAXUINT) {
		return;
	}
	other = linked_uuid_group(g, root, linked, target);
	if (other != G_MAXUINT) {
		VMT_LOGW(g->log,
			 "A trace without `product_uuid` could belong to machines with different "
			 "ones; grouping it with the first: trace=\"%s\", machine-trace=\"%s\", "
			 "product-uuid=%s, other-machine-trace=\"%s\", other-product-uuid=%s",
			 grouping_trace(g, root)->path, grouping_trace(g, target)->path,
			 g->uuid[target], grouping_trace(g, other)->path, g->uuid[other]);
	}
	join_groups(g, root, target);
}

/* One round of group_machines() over one link. */
static void join_linked(struct grouping *g, trace_link_func linked)
{
	guint n = g->inventory->traces->len, i, j;

	for (i = 0; i < n; i++) {
		for (j = i + 1; j < n; j++) {
			guint ri = find_root(g->parent, i), rj = find_root(g->parent, j);

			if (ri != rj && strcmp(g->uuid[ri], g->uuid[rj]) == 0 &&
			    linked(grouping_trace(g, i), grouping_trace(g, j))) {
				join_groups(g, ri, rj);
			}
		}
	}
	/* Groups with a product_uuid no longer change: each choice is independent of the order. */
	for (i = 0; i < n; i++) {
		if (find_root(g->parent, i) == i && !g->uuid[i][0]) {
			join_uuidless_group(g, i, linked);
		}
	}
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

static void group_machines(struct vmt_inventory *inventory, const struct vmt_log_ctx *log)
{
	guint n = inventory->traces->len, i;
	struct grouping g = { inventory, log, g_new(guint, n), g_new0(uuid_string, n) };
	gint *machine_of_root = g_new(gint, n);

	for (i = 0; i < n; i++) {
		g.parent[i] = i;
		machine_of_root[i] = -1;
		if (!vmt_uuid_normalize(grouping_trace(&g, i)->probe.product_uuid, g.uuid[i])) {
			g.uuid[i][0] = '\0';
		}
	}
	join_linked(&g, same_clock);
	join_linked(&g, same_hostname);
	for (i = 0; i < n; i++) {
		struct vmt_trace_entry *trace = g_ptr_array_index(inventory->traces, i);
		guint root = find_root(g.parent, i);

		if (machine_of_root[root] < 0) {
			machine_of_root[root] = inventory->machines->len;
			g_ptr_array_add(inventory->machines, new_machine(trace));
		}
		trace->machine = machine_of_root[root];
		g_ptr_array_add(vmt_inventory_machine(inventory, trace->machine)->traces, trace);
	}
	g_free(machine_of_root);
	g_free(g.uuid);
	g_free(g.parent);
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

	group_machines(inventory, log);
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

/* The first trace `selector` matches from index `from` on, outside machine `skip`; -1 if none. */
static gint next_match(const struct vmt_inventory *inventory, const char *selector, guint from,
		       gint skip)
{
	guint i;

	for (i = from; i < inventory->traces->len; i++) {
		const struct vmt_trace_entry *trace = g_ptr_array_index(inventory->traces, i);

		if ((gint) trace->machine != skip && trace_matches(trace, selector)) {
			return (gint) i;
		}
	}
	return -1;
}

/* The trace `selector` matches first, and the first it matches on another machine (-1 if none). */
static gint first_match(const struct vmt_inventory *inventory, const char *selector, gint *other)
{
	gint first = next_match(inventory, selector, 0, -1);
	const struct vmt_trace_entry *trace;

	*other = -1;
	if (first >= 0) {
		trace = g_ptr_array_index(inventory->traces, first);
		*other = next_match(inventory, selector, (guint) first + 1, (gint) trace->machine);
	}
	return first;
}

struct vmt_machine *vmt_inventory_find_machine(struct vmt_inventory *inventory,
					       const char *selector)
{
	gint other, first = first_match(inventory, selector, &other);
	const struct vmt_trace_entry *trace;

	if (first < 0 || other >= 0) {
		return NULL;
	}
	trace = g_ptr_array_index(inventory->traces, first);
	return vmt_inventory_machine(inventory, trace->machine);
}

enum vmt_status vmt_inventory_select_machine(struct vmt_inventory *inventory, const char *param,
					     const char *selector, const struct vmt_log_ctx *log,
					     struct vmt_machine **machine)
{
	gint other, first = first_match(inventory, selector, &other);
	GString *list;
	guint i, machine_count = 0;

	*machine = NULL;
	if (first >= 0 && other < 0) {
		const struct vmt_trace_entry *trace = g_ptr_array_index(inventory->traces, first);

		*machine = vmt_inventory_machine(inventory, trace->machine);
	}
	if (other < 0) {
		return VMT_STATUS_OK;
	}
	/* Each machine it matches, with the first trace it matches there. */
	list = g_string_new(NULL);
	for (i = 0; i < inventory->machines->len; i++) {
		const struct vmt_machine *m = vmt_inventory_machine(inventory, i);
		guint t;

		for (t = 0; t < m->traces->len; t++) {
			const struct vmt_trace_entry *trace = g_ptr_array_index(m->traces, t);

			if (trace_matches(trace, selector)) {
				g_string_append_printf(list, "%s machine=\"%s\" (%s, trace \"%s\")",
						       machine_count ? "," : "", m->id,
						       vmt_role_name(m->role), trace->path);
				machine_count++;
				break;
			}
		}
	}
	VMT_LOGE_APPEND_CAUSE(log,
			      "Invalid parameter `%s{\"%s\"}`: the selector is ambiguous: it "
			      "matches traces of %u machines (give a trace path, or a directory "
			      "name or hostname only one machine has):%s",
			      param, selector, machine_count, list->str);
	g_string_free(list, TRUE);
	return VMT_STATUS_ERROR;
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
	struct vmt_machine *machine;
	char uuid[VMT_UUID_SIZE];

	/* Each failure appends a cause, so it returns ERROR (INTERRUPT would break a postcondition). */
	ctx->status = VMT_STATUS_ERROR;
	if (vmt_inventory_select_machine(ctx->inventory, "guest-uuids", selector, ctx->log,
					 &machine) != VMT_STATUS_OK) {
		return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_ERROR;
	}
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
	/* One call per guest event: single lines keep their direct evaluation. */
	if (machine->pieces) {
		return add_saturated(vmt_clock_pieces_apply(machine->pieces, guest_ns),
				     machine->manual_offset_ns);
	}
	return add_saturated(vmt_clock_line_apply(&machine->line, guest_ns),
			     machine->manual_offset_ns);
}

guint vmt_machine_segment_count(const struct vmt_machine *machine)
{
	return machine->pieces ? (guint) machine->pieces->count : 1;
}
