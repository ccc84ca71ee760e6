/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the inventory's roles (lib/inventory-roles.c) on synthetic
 * trace entries: grouping traces into machines (same clock UUID or
 * hostname, never two different product_uuids, even through a trace
 * without one), and guest selectors that match several machines.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/inventory.h"

#include "tap.h"

#define UUID_X "aaaaaaaa-0000-4000-8000-00000000000a"
#define UUID_Y "bbbbbbbb-0000-4000-8000-00000000000b"
#define UUID_Z "cccccccc-0000-4000-8000-00000000000c"

/* Adds a trace at `path` (directory name: its last component); NULL fields are absent. */
static void add(struct vmt_inventory *inventory, const char *path, const char *hostname,
		const char *clock_uuid, const char *product_uuid)
{
	struct vmt_trace_entry *trace = g_new0(struct vmt_trace_entry, 1);

	trace->path = g_strdup(path);
	trace->paths = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(trace->paths, g_strdup(path));
	trace->dir_name = g_path_get_basename(path);
	trace->probe.hostname = g_strdup(hostname);
	trace->probe.clock_uuid = g_strdup(clock_uuid);
	trace->probe.product_uuid = g_strdup(product_uuid);
	g_ptr_array_add(inventory->traces, trace);
}

static guint machine_of(const struct vmt_inventory *inventory, guint trace)
{
	return ((const struct vmt_trace_entry *) g_ptr_array_index(inventory->traces, trace))
		->machine;
}

/* Every machine holds at most one distinct normalised product_uuid. */
static bool machines_have_one_uuid(const struct vmt_inventory *inventory)
{
	for (guint m = 0; m < inventory->machines->len; m++) {
		const struct vmt_machine *machine = vmt_inventory_machine(inventory, m);
		char seen[VMT_UUID_SIZE] = "", uuid[VMT_UUID_SIZE];

		for (guint t = 0; t < machine->traces->len; t++) {
			const struct vmt_trace_entry *trace = g_ptr_array_index(machine->traces, t);

			if (!vmt_uuid_normalize(trace->probe.product_uuid, uuid)) {
				continue;
			}
			if (seen[0] && strcmp(seen, uuid) != 0) {
				return false;
			}
			memcpy(seen, uuid, VMT_UUID_SIZE);
		}
	}
	return true;
}

static void assign(struct vmt_inventory *inventory)
{
	struct vmt_log_ctx log = VMT_LOG_CTX_INIT_STANDALONE(BT_LOGGING_LEVEL_NONE);

	OK(vmt_inventory_assign_roles(inventory, NULL, &log) == VMT_STATUS_OK, "roles assigned");
}

/*
 * Two cloned guests, both hostname "debian": each a kernel trace with its
 * product_uuid and a UST trace without, on the kernel's clock. The UST
 * traces must not bridge the clones into one machine.
 */
static void test_clones_bridged_by_uuidless_traces(void)
{
	struct vmt_inventory inventory;

	vmt_inventory_init(&inventory);
	add(&inventory, "/t/x/kernel", "debian", "c-x", UUID_X);
	add(&inventory, "/t/y/kernel", "debian", "c-y", UUID_Y);
	add(&inventory, "/t/x/ust", "debian", "c-x", NULL);
	add(&inventory, "/t/y/ust", "debian", "c-y", NULL);
	assign(&inventory);
	IS_I64(inventory.machines->len, 2, "clones: two machines");
	OK(machines_have_one_uuid(&inventory), "clones: one product_uuid per machine");
	IS_I64(machine_of(&inventory, 2), machine_of(&inventory, 0),
	       "clones: x's UST trace is on x (same clock)");
	IS_I64(machine_of(&inventory, 3), machine_of(&inventory, 1),
	       "clones: y's UST trace is on y (same clock)");
	vmt_inventory_fini(&inventory);
}

/*
 * A trace without product_uuid nor clock UUID, whose hostname both clones
 * have: ambiguous. It joins the first clone in input order, whatever its
 * own position, and the clones stay apart.
 */
static void test_ambiguous_uuidless_trace(void)
{
	for (int position = 0; position < 3; position++) {
		struct vmt_inventory inventory;
		guint ust = (guint) position, x = ust == 0 ? 1 : 0, y = ust == 2 ? 1 : 2;
		char what[64];

		vmt_inventory_init(&inventory);
		for (guint i = 0; i < 3; i++) {
			if (i == ust) {
				add(&inventory, "/t/ust", "debian", NULL, NULL);
			} else if (i == x) {
				add(&inventory, "/t/x/kernel", "debian", "c-x", UUID_X);
			} else {
				add(&inventory, "/t/y/kernel", "debian", "c-y", UUID_Y);
			}
		}
		g_snprintf(what, sizeof(what), "ambiguous (UST trace #%d)", position);
		assign(&inventory);
		OK(inventory.machines->len == 2, "%s: two machines", what);
		OK(machines_have_one_uuid(&inventory), "%s: one product_uuid per machine", what);
		OK(machine_of(&inventory, ust) == machine_of(&inventory, x),
		   "%s: joins the first clone", what);
		OK(machine_of(&inventory, x) != machine_of(&inventory, y), "%s: clones apart",
		   what);
		vmt_inventory_fini(&inventory);
	}
}

/* Grouping that does not involve two product_uuids is unchanged. */
static void test_plain_grouping(void)
{
	struct vmt_inventory inventory;

	vmt_inventory_init(&inventory);
	add(&inventory, "/t/host/kernel", "kvm-host", "c-h", NULL);
	add(&inventory, "/t/host/ust", "kvm-host", NULL, NULL);
	add(&inventory, "/t/web/kernel", "vm-web", "c-w", UUID_X);
	/* Same product_uuid written differently (upper case): one machine. */
	add(&inventory, "/t/web/ust", "vm-web", NULL, "AAAAAAAA-0000-4000-8000-00000000000A");
	/* Linked to vm-web by clock only, and to another trace by hostname only. */
	add(&inventory, "/t/web/other", "renamed", "c-w", NULL);
	add(&inventory, "/t/web/other2", "renamed", NULL, NULL);
	add(&inventory, "/t/db/kernel", "vm-db", "c-d", UUID_Y);
	/* Same clock as vm-db but another product_uuid: never together. */
	add(&inventory, "/t/odd/kernel", "odd", "c-d", UUID_Z);
	assign(&inventory);
	IS_I64(inventory.machines->len, 4, "plain: four machines");
	IS_I64(machine_of(&inventory, 1), machine_of(&inventory, 0), "plain: host UST by hostname");
	IS_I64(machine_of(&inventory, 3), machine_of(&inventory, 2), "plain: web UST");
	IS_I64(machine_of(&inventory, 4), machine_of(&inventory, 2), "plain: by clock");
	IS_I64(machine_of(&inventory, 5), machine_of(&inventory, 2), "plain: transitively");
	OK(machine_of(&inventory, 7) != machine_of(&inventory, 6), "plain: product_uuids apart");
	IS_STR(vmt_inventory_machine(&inventory, 0)->id, "kvm-host", "plain: machines in order");
	vmt_inventory_fini(&inventory);
}

/* A selector matching traces of two machines is an error naming the parameter and selector. */
static void test_ambiguous_selector(void)
{
	struct vmt_log_ctx log = VMT_LOG_CTX_INIT_STANDALONE(BT_LOGGING_LEVEL_NONE);
	struct vmt_inventory inventory;
	struct vmt_machine *machine = (struct vmt_machine *) &log;
	const bt_error *error;
	const char *message;

	vmt_inventory_init(&inventory);
	add(&inventory, "/t/host/kernel", "kvm-host", "c-h", NULL);
	add(&inventory, "/t/web/kernel", "vm-web", "c-w", UUID_X);
	add(&inventory, "/t/web/ust", "vm-web", "c-w", NULL);
	add(&inventory, "/t/db/kernel", "vm-db", "c-d", UUID_Y);
	assign(&inventory);

	/* One machine, even through several of its traces: fine. */
	OK(vmt_inventory_find_machine(&inventory, "vm-web") ==
		   vmt_inventory_machine(&inventory, machine_of(&inventory, 1)),
	   "selector: hostname of one machine");
	OK(vmt_inventory_select_machine(&inventory, "offsets", "ust", &log, &machine) ==
			   VMT_STATUS_OK &&
		   machine == vmt_inventory_machine(&inventory, machine_of(&inventory, 2)),
	   "selector: directory name of one trace");
	OK(vmt_inventory_select_machine(&inventory, "offsets", "nothing", &log, &machine) ==
			   VMT_STATUS_OK &&
		   !machine,
	   "selector: matching nothing is NULL, no error");

	/* `kernel` names three machines. */
	OK(!vmt_inventory_find_machine(&inventory, "kernel"), "selector: ambiguous: not the first");
	OK(vmt_inventory_select_machine(&inventory, "guest-uuids", "kernel", &log, &machine) ==
			   VMT_STATUS_ERROR &&
		   !machine,
	   "selector: ambiguous: an error");
	error = bt_current_thread_take_error();
	OK(error && bt_error_get_cause_count(error) == 1, "selector: ambiguous: one cause");
	if (error && bt_error_get_cause_count(error) > 0) {
		message = bt_error_cause_get_message(bt_error_borrow_cause_by_index(error, 0));
		OK(strstr(message, "`guest-uuids{\"kernel\"}`") && strstr(message, "ambiguous") &&
			   strstr(message, "/t/web/kernel") && strstr(message, "/t/db/kernel") &&
			   strstr(message, "/t/host/kernel"),
		   "selector: ambiguous: the cause names the parameter, the selector and each "
		   "machine: %s",
		   message);
	}
	if (error) {
		bt_error_release(error);
	}
	vmt_inventory_fini(&inventory);
}

int main(void)
{
	test_clones_bridged_by_uuidless_traces();
	test_ambiguous_uuidless_trace();
	test_plain_grouping();
	test_ambiguous_selector();
	return tap_done();
}
