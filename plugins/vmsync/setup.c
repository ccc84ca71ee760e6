/* SPDX-License-Identifier: MIT */
/*
 * `source.vmsync.fs` setup: from parameters to decided machines, roles and
 * guest clock transforms, shared by initialization and the query.
 */
#define VMT_LOG_TAG "PLUGIN/SRC.VMSYNC.FS/SETUP"
#include "lib/log.h"

#include <string.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/inventory.h"
#include "lib/params.h"
#include "lib/sync-pass.h"
#include "lib/sync.h"
#include "lib/window-pass.h"

#include "component.h"

static const char *const sync_values[] = { "auto", "none", "clock", "hypercall", "windows", NULL };

static const struct vmt_param_spec param_specs[] = {
	{ "inputs", VMT_PARAM_STRING_ARRAY, true, NULL },
	{ "sync", VMT_PARAM_STRING, false, sync_values },
	{ "offsets", VMT_PARAM_MAP_OF_INTEGERS, false, NULL },
	{ "guest-uuids", VMT_PARAM_MAP_OF_STRINGS, false, NULL },
	{ "host", VMT_PARAM_STRING, false, NULL },
};

static enum vmt_status read_params(struct vmsync_setup *setup, const struct vmt_log_ctx *log)
{
	GString *error = g_string_new(NULL);
	const bt_value *p = setup->params;
	const char *sync;
	enum vmt_status status;

	status = vmt_params_validate(p, param_specs, VMT_ARRAY_SIZE(param_specs), error);
	if (status != VMT_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(log, "%s", error->str);
		goto end;
	}
	setup->values.inputs = bt_value_map_borrow_entry_value_const(p, "inputs");
	setup->values.offsets = bt_value_map_borrow_entry_value_const(p, "offsets");
	setup->values.guest_uuids = bt_value_map_borrow_entry_value_const(p, "guest-uuids");
	setup->values.host = vmt_params_string(p, "host", NULL);
	sync = vmt_params_string(p, "sync", "auto");
	setup->values.sync = strcmp(sync, "none") == 0	    ? VMSYNC_SYNC_NONE :
			     strcmp(sync, "clock") == 0	    ? VMSYNC_SYNC_CLOCK :
			     strcmp(sync, "hypercall") == 0 ? VMSYNC_SYNC_HYPERCALL :
			     strcmp(sync, "windows") == 0   ? VMSYNC_SYNC_WINDOWS :
							      VMSYNC_SYNC_AUTO;

end:
	g_string_free(error, TRUE);
	return status;
}

struct offset_context {
	struct vmsync_setup *setup;
	const struct vmt_log_ctx *log;
	enum vmt_status status;
};

static bt_value_map_foreach_entry_const_func_status apply_offset(const char *selector,
								 const bt_value *value, void *data)
{
	struct offset_context *ctx = data;
	struct vmt_machine *machine;
	int64_t offset_ns = 0;

	/* A failure appends a cause, so it returns ERROR (INTERRUPT would break a postcondition). */
	if (vmt_inventory_select_machine(&ctx->setup->inventory, "offsets", selector, ctx->log,
					 &machine) != VMT_STATUS_OK) {
		ctx->status = VMT_STATUS_ERROR;
		return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_ERROR;
	}
	if (!machine || machine->role != VMT_ROLE_GUEST) {
		VMT_LOGE_APPEND_CAUSE(
			ctx->log,
			"Invalid parameter `offsets{\"%s\"}`: the selector names %s "
			"(expecting a guest's trace path, directory name or hostname)",
			selector,
			!machine ? "no trace" :
			machine->role == VMT_ROLE_HOST ?
				   "the host machine" :
				   "a machine that is no guest (role unknown)");
		ctx->status = VMT_STATUS_ERROR;
		return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_ERROR;
	}
	vmt_params_integer_value(value, &offset_ns);
	if (offset_ns > VMT_MAX_MANUAL_OFFSET_NS || offset_ns < -VMT_MAX_MANUAL_OFFSET_NS) {
		VMT_LOGE_APPEND_CAUSE(ctx->log,
				      "Invalid parameter `offsets{\"%s\"}`: %" PRId64
				      " ns is beyond the allowed +-%" PRId64 " ns (about 31 years)",
				      selector, offset_ns, (int64_t) VMT_MAX_MANUAL_OFFSET_NS);
		ctx->status = VMT_STATUS_ERROR;
		return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_ERROR;
	}
	machine->manual_offset_ns = offset_ns;
	return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_OK;
}

static enum vmt_status apply_offsets(struct vmsync_setup *setup, const struct vmt_log_ctx *log)
{
	struct offset_context ctx = { setup, log, VMT_STATUS_OK };

	if (setup->values.offsets) {
		bt_value_map_foreach_entry_const(setup->values.offsets, apply_offset, &ctx);
	}
	return ctx.status;
}

/* Guests need a host, except to be emitted untouched. */
static enum vmt_status check_hosts(struct vmsync_setup *setup, const struct vmt_log_ctx *log)
{
	struct vmt_inventory *inventory = &setup->inventory;
	guint i;

	if (setup->values.sync == VMSYNC_SYNC_NONE || vmt_inventory_host_count(inventory) > 0) {
		return VMT_STATUS_OK;
	}
	for (i = 0; i < inventory->machines->len; i++) {
		struct vmt_machine *machine = vmt_inventory_machine(inventory, i);
		const struct vmt_trace_entry *trace = g_ptr_array_index(machine->traces, 0);

		if (vmt_machine_has_guest_markers(machine) || machine->vm_uuid[0]) {
			VMT_LOGE_APPEND_CAUSE(
				log,
				"Guest trace without any host trace among the inputs "
				"(no trace has KVM host events): trace=\"%s\"; add the "
				"host's traces to `inputs`, name them with `host`, or "
				"use `sync=\"none\"`",
				trace->path);
			return VMT_STATUS_ERROR;
		}
	}
	return VMT_STATUS_OK;
}

/* The hypercall pass runs when some guest may use hypercall sync. */
static bool needs_pass(const struct vmsync_setup *setup)
{
	guint i;

	if (setup->values.sync != VMSYNC_SYNC_AUTO && setup->values.sync != VMSYNC_SYNC_HYPERCALL) {
		return false;
	}
	for (i = 0; i < setup->inventory.machines->len; i++) {
		const struct vmt_machine *machine = vmt_inventory_machine(&setup->inventory, i);

		if (machine->role == VMT_ROLE_GUEST && machine->has_vmsync_events) {
			return true;
		}
	}
	return false;
}

static const char *fit_problem(const struct vmt_sync_pass_result *result,
			       const struct vmt_machine *machine)
{
	if (!machine->has_vmsync_events) {
		return "the guest trace has no vmsync events";
	}
	if (!result->has_fit) {
		return "the guest's vmsync events carry no vm_uid";
	}
	switch (result->fit.status) {
	case VMT_SYNC_FIT_OK:
		return result->fit.error_bound_ns < 0 ?
			       "too few exchanges to bound the clock's slope" :
			       NULL;
	case VMT_SYNC_FIT_NO_POINTS:
		return "no exchange matched between the guest and a host";
	case VMT_SYNC_FIT_ONE_WAY:
		return "exchanges go one way only, which bounds the clock on one side";
	case VMT_SYNC_FIT_INCONSISTENT:
		return "the exchanges are inconsistent (no clock line satisfies them all)";
	}
	return "unknown fit status";
}

/*
 * Why window sync cannot be used for the guest, or NULL. Only a fit whose
 * bound holds is used: when the alarm rings (fewer than 99.9 % of the
 * events inside windows) or outliers left the constraints inconsistent,
 * the line may be off by far more than the events suggest (a seed on the
 * wrong alias of a high-duty vCPU put 93 % of them inside windows 37 ms
 * off), which would be a guess, not a measurement.
 */
static const char *windows_problem(const struct vmt_window_pass_result *result)
{
	if (!result->has_estimate) {
		return result->problem[0] ? result->problem : "the window pass did not run";
	}
	return result->estimate.status == VMT_SYNC_WINDOW_OK ? NULL : result->problem;
}

static void use_fit(struct vmt_machine *machine, const struct vmt_sync_fit *fit)
{
	machine->sync_method = VMT_SYNC_METHOD_HYPERCALL;
	machine->line = fit->line;
	machine->error_bound_ns = fit->error_bound_ns;
	machine->sync_points = fit->upper_count + fit->lower_count;
}

static void use_windows(struct vmt_machine *machine, const struct vmt_window_pass_result *result)
{
	const struct vmt_sync_window_result *estimate = &result->estimate;

	machine->sync_method = VMT_SYNC_METHOD_WINDOWS;
	machine->line = estimate->fit.line;
	/* Piecewise fit: `estimate` summarises the pieces, which convert the times. */
	machine->pieces = machine->window_pieces;
	machine->error_bound_ns = estimate->fit.error_bound_ns;
	machine->sync_points = estimate->assigned_count;
	machine->host = result->host;
	machine->host_pid = result->host_pid;
}

/*
 * A window fit with a bound this wide says little more than NTP-synchronized
 * recorded clocks do: almost no exits (posted interrupts, `idle=poll`, HLT
 * passthrough), so `auto` keeps the recorded clock.
 */
#define WINDOWS_MAX_AUTO_BOUND_NS 1000000

/*
 * Why `auto` does not use window sync for the guest, or NULL: unlike an
 * explicit `sync="windows"`, `auto` also passes over a fit whose bound says
 * nothing more than the recorded clock.
 */
static const char *auto_windows_problem(const struct vmt_window_pass_result *result)
{
	const struct vmt_sync_window_result *estimate = &result->estimate;
	const char *problem = windows_problem(result);

	if (problem) {
		return problem;
	}
	if (estimate->fit.error_bound_ns < 0 ||
	    estimate->fit.error_bound_ns > WINDOWS_MAX_AUTO_BOUND_NS) {
		return "the guest's vCPUs exit too rarely for the host windows to say more than "
		       "its recorded clock (error bound unknown or over 1 ms)";
	}
	return NULL;
}

/* `auto` without hypercall sync: windows, else the recorded clock, saying which and why. */
static void decide_auto_fallback(struct vmt_machine *machine, const char *hypercall_problem,
				 const struct vmt_window_pass_result *windows,
				 const struct vmt_log_ctx *log)
{
	const char *problem = auto_windows_problem(windows);

	if (!problem) {
		VMT_LOGW(log,
			 "Cannot use hypercall sync for guest, using window sync (host vCPU "
			 "entry/exit windows) instead: %s: machine=\"%s\"",
			 hypercall_problem, machine->id);
		use_windows(machine, windows);
		return;
	}
	VMT_LOGW(log,
		 "Cannot use hypercall sync nor window sync for guest, falling back to its "
		 "recorded clock: hypercall: %s; windows: %s: machine=\"%s\"",
		 hypercall_problem, problem, machine->id);
}

/* Picks the method of one guest, per SPEC §2 (`auto`: hypercall, else windows, else clock). */
static enum vmt_status decide_guest(struct vmsync_setup *setup, struct vmt_machine *machine,
				    const struct vmt_sync_pass_result *result,
				    const struct vmt_window_pass_result *windows,
				    const struct vmt_log_ctx *log)
{
	enum vmsync_sync_request sync = setup->values.sync;
	const char *problem = NULL;

	machine->line = vmt_clock_line_identity();
	machine->error_bound_ns = -1;
	machine->sync_method = sync == VMSYNC_SYNC_NONE ? VMT_SYNC_METHOD_NONE :
							  VMT_SYNC_METHOD_CLOCK;
	if (sync == VMSYNC_SYNC_AUTO || sync == VMSYNC_SYNC_HYPERCALL) {
		problem = fit_problem(result, machine);
		if (!problem) {
			use_fit(machine, &result->fit);
		} else if (sync == VMSYNC_SYNC_HYPERCALL) {
			VMT_LOGE_APPEND_CAUSE(log,
					      "Cannot synchronize guest with `sync=\"hypercall\"`: "
					      "%s: machine=\"%s\"",
					      problem, machine->id);
			return VMT_STATUS_ERROR;
		} else {
			decide_auto_fallback(machine, problem, windows, log);
		}
	} else if (sync == VMSYNC_SYNC_WINDOWS) {
		problem = windows_problem(windows);
		if (problem) {
			VMT_LOGE_APPEND_CAUSE(log,
					      "Cannot synchronize guest with `sync=\"windows\"`: "
					      "%s: machine=\"%s\"",
					      problem, machine->id);
			return VMT_STATUS_ERROR;
		}
		use_windows(machine, windows);
	}
	if (machine->manual_offset_ns != 0 && machine->sync_method != VMT_SYNC_METHOD_HYPERCALL &&
	    machine->sync_method != VMT_SYNC_METHOD_WINDOWS) {
		machine->sync_method = VMT_SYNC_METHOD_MANUAL;
	}
	machine->needs_conversion = machine->sync_method == VMT_SYNC_METHOD_HYPERCALL ||
				    machine->sync_method == VMT_SYNC_METHOD_WINDOWS ||
				    machine->manual_offset_ns != 0;
	return VMT_STATUS_OK;
}

/*
 * Runs the window pass for the guests that may use window sync: every
 * guest for `windows`, those without a hypercall fit for `auto`.
 */
static enum vmt_status run_window_pass(struct vmsync_setup *setup, bt_logging_level level,
				       const struct vmt_sync_pass_result *results,
				       struct vmt_window_pass_result *windows,
				       const struct vmt_log_ctx *log)
{
	struct vmt_inventory *inventory = &setup->inventory;
	enum vmsync_sync_request sync = setup->values.sync;
	bool *wanted = g_new0(bool, MAX(inventory->machines->len, 1));
	bool has_wanted = false;
	enum vmt_status status = VMT_STATUS_OK;
	guint i;

	for (i = 0; i < inventory->machines->len; i++) {
		const struct vmt_machine *machine = vmt_inventory_machine(inventory, i);

		wanted[i] = machine->role == VMT_ROLE_GUEST &&
			    (sync == VMSYNC_SYNC_WINDOWS ||
			     (sync == VMSYNC_SYNC_AUTO && fit_problem(&results[i], machine)));
		has_wanted = has_wanted || wanted[i];
	}
	if (has_wanted) {
		status = vmt_window_pass_run(inventory, &setup->plugins, level, wanted, windows,
					     log);
	}
	for (i = 0; i < inventory->machines->len && status == VMT_STATUS_OK; i++) {
		const struct vmt_sync_window_result *e = &windows[i].estimate;

		if (!wanted[i]) {
			snprintf(windows[i].problem, sizeof(windows[i].problem), "not attempted");
			continue;
		}
		if (windows[i].has_estimate) {
			VMT_LOGI(log,
				 "Window sync estimate: machine=\"%s\", events=%" PRIu64
				 ", assigned=%" PRIu64 ", violations=%" PRIu64 ", trimmed=%" PRIu64
				 ", inside=%.4f%%, vcpus=%" PRIu64 ", windows=%" PRIu64
				 ", seed-events=%" PRIu64 ", seed-best=%" PRIu64
				 ", seed-second=%" PRIu64
				 ", seed-rate-ppm=%.3Lf, seed-offset-ns=%" PRId64
				 ", problem=\"%s\"",
				 vmt_inventory_machine(inventory, i)->id, e->event_count,
				 e->assigned_count, e->violation_count, e->trimmed_count,
				 100 * vmt_sync_window_inside_share(e), windows[i].vcpu_count,
				 windows[i].window_count, e->seed_event_count, e->seed_best_count,
				 e->seed_second_count, e->seed_eps * 1e6L, e->seed_offset_ns,
				 windows[i].problem);
		}
	}
	g_free(wanted);
	return status;
}

static void log_guest(const struct vmt_machine *machine, const struct vmt_log_ctx *log)
{
	char slope[32];

	vmt_clock_line_format_slope(&machine->line, slope, sizeof(slope));
	VMT_LOGI(log,
		 "Guest synchronized: machine=\"%s\", uuid=\"%s\", method=%s, slope=%s, "
		 "offset-ns=%" PRId64 ", error-ns=%" PRId64 ", points=%" PRIu64,
		 machine->id, machine->vm_uuid, vmt_sync_method_name(machine->sync_method), slope,
		 vmt_machine_offset_ns(machine), machine->error_bound_ns, machine->sync_points);
}

static enum vmt_status decide_sync(struct vmsync_setup *setup, bt_logging_level level,
				   const struct vmt_log_ctx *log)
{
	struct vmt_inventory *inventory = &setup->inventory;
	guint count = inventory->machines->len;
	struct vmt_sync_pass_result *results = g_new0(struct vmt_sync_pass_result, MAX(count, 1));
	struct vmt_window_pass_result *windows =
		g_new0(struct vmt_window_pass_result, MAX(count, 1));
	enum vmt_status status = VMT_STATUS_OK;
	guint i;

	for (i = 0; i < count; i++) {
		results[i].host = -1;
		results[i].host_pid = -1;
	}
	if (needs_pass(setup)) {
		status = vmt_sync_pass_run(inventory, &setup->plugins, level, results, log);
	}
	if (status == VMT_STATUS_OK) {
		status = run_window_pass(setup, level, results, windows, log);
	}
	for (i = 0; i < count && status == VMT_STATUS_OK; i++) {
		struct vmt_machine *machine = vmt_inventory_machine(inventory, i);

		if (machine->role != VMT_ROLE_GUEST) {
			continue;
		}
		if (machine->host < 0 && results[i].host >= 0) {
			machine->host = results[i].host;
		}
		machine->host_pid = results[i].host_pid;
		machine->windows_inside_share =
			windows[i].has_estimate ?
				vmt_sync_window_inside_share(&windows[i].estimate) :
				-1;
		status = decide_guest(setup, machine, &results[i], &windows[i], log);
		if (status == VMT_STATUS_OK) {
			log_guest(machine, log);
		}
	}
	g_free(windows);
	g_free(results);
	return status;
}

enum vmt_status vmsync_setup_init(struct vmsync_setup *setup, const bt_value *params,
				  bt_logging_level level, const struct vmt_log_ctx *log)
{
	enum vmt_status status;

	memset(setup, 0, sizeof(*setup));
	vmt_inventory_init(&setup->inventory);
	setup->params = (bt_value *) params;
	bt_value_get_ref(params);
	status = read_params(setup, log);
	if (status == VMT_STATUS_OK) {
		status = vmt_ctf_plugins_load(&setup->plugins, log);
	}
	if (status == VMT_STATUS_OK) {
		status = vmt_inventory_scan(&setup->inventory, setup->values.inputs,
					    &setup->plugins, level, log);
	}
	if (status == VMT_STATUS_OK) {
		status = vmt_inventory_assign_roles(&setup->inventory, setup->values.host, log);
	}
	if (status == VMT_STATUS_OK) {
		status = vmt_inventory_set_guest_uuids(&setup->inventory, setup->values.guest_uuids,
						       log);
	}
	if (status == VMT_STATUS_OK) {
		status = apply_offsets(setup, log);
	}
	if (status == VMT_STATUS_OK) {
		status = check_hosts(setup, log);
	}
	if (status == VMT_STATUS_OK) {
		status = decide_sync(setup, level, log);
	}
	return status;
}

void vmsync_setup_fini(struct vmsync_setup *setup)
{
	vmt_inventory_fini(&setup->inventory);
	vmt_ctf_plugins_fini(&setup->plugins);
	BT_VALUE_PUT_REF_AND_RESET(setup->params);
}
