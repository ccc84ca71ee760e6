/* SPDX-License-Identifier: MIT */
/*
 * The first pass of window sync (see window-pass.h): ties each wanted guest
 * to its VM instances on a host, gathers their vCPU windows by index, and
 * runs the estimator. The reading is in window-pass-read.c, the estimates
 * (one per guest, side by side) in window-pass-estimate.c.
 */
#define VMT_LOG_TAG "VMTRACE/WINDOW-PASS"
#include "lib/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "lib/parallel-read.h"
#include "lib/sync-piecewise.h"
#include "lib/window-pass-internal.h"

/* Which VM instances of one host are the guest's. */
struct vm_match {
	const struct vmt_machine *guest; /* Weak. */
	bool is_by_uid;
	GPtrArray *vms; /* Owned array of weak `struct vmt_vm *`. */
};

static void match_vm(struct vmt_vm *vm, void *data)
{
	struct vm_match *match = data;
	const struct vmt_machine *guest = match->guest;
	bool is_match = false;

	if (match->is_by_uid) {
		for (guint i = 0; i < vm->vm_uids->len && !is_match; i++) {
			is_match = g_array_index(vm->vm_uids, uint64_t, i) == guest->vm_uid;
		}
	} else {
		is_match = strcmp(vm->uuid, guest->vm_uuid) == 0;
	}
	if (is_match) {
		g_ptr_array_add(match->vms, vm);
	}
}

/*
 * The guest's VM instances on one host (a VM destroyed and re-created keeps
 * its UUID: all of them) by UUID, or by vm_uid (`is_by_uid`). Sets
 * `result->host`; returns NULL when no host has them, or (with
 * `result->problem`) when several hosts do.
 */
static GPtrArray *find_vms_by(struct vmt_window_pass *pass, const struct vmt_machine *guest,
			      bool is_by_uid, struct vmt_window_pass_result *result)
{
	struct vm_match match = { .guest = guest, .is_by_uid = is_by_uid };
	GPtrArray *found = NULL;

	for (guint h = 0; h < pass->hosts->len; h++) {
		struct vmt_window_pass_host *run = g_ptr_array_index(pass->hosts, h);

		if (!run || (guest->host >= 0 && (guint) guest->host != h)) {
			continue;
		}
		match.vms = g_ptr_array_new();
		vmt_host_model_foreach_vm(run->model, match_vm, &match);
		if (match.vms->len && found) {
			snprintf(result->problem, sizeof(result->problem),
				 "VMs on several hosts match the guest (\"%s\" and \"%s\")",
				 vmt_inventory_machine(pass->inventory, (guint) result->host)->id,
				 vmt_inventory_machine(pass->inventory, h)->id);
			g_ptr_array_free(match.vms, TRUE);
			g_ptr_array_free(found, TRUE);
			return NULL;
		}
		if (match.vms->len) {
			found = match.vms;
			result->host = (int) h;
		} else {
			g_ptr_array_free(match.vms, TRUE);
		}
	}
	return found;
}

/* The guest's VM instances: by UUID, else by vm_uid (semantics.md §2); never by guessing. */
static GPtrArray *find_vms(struct vmt_window_pass *pass, const struct vmt_machine *guest,
			   struct vmt_window_pass_result *result)
{
	GPtrArray *vms = NULL;

	if (guest->vm_uuid[0]) {
		vms = find_vms_by(pass, guest, false, result);
	}
	if (!vms && !result->problem[0] && guest->has_vm_uid) {
		vms = find_vms_by(pass, guest, true, result);
	}
	return vms;
}

/* Says why the guest matched no VM: it has no identity, or no VM has it. */
static void explain_no_vm(const struct vmt_machine *guest, struct vmt_window_pass_result *result)
{
	if (!guest->vm_uuid[0] && !guest->has_vm_uid) {
		snprintf(result->problem, sizeof(result->problem),
			 "the guest cannot be tied to a VM on the host: it has no UUID (no "
			 "`product_uuid` in its trace environment, no `guest-uuids` entry) and no "
			 "vmsync vm_uid");
	} else if (guest->vm_uuid[0]) {
		snprintf(
			result->problem, sizeof(result->problem),
			"no VM on the host has the guest's UUID %s%s (the host trace needs the UST "
			"`kvm_guest` statedump or udev `kvm_created` events)",
			guest->vm_uuid, guest->has_vm_uid ? " nor received its vmsync vm_uid" : "");
	} else {
		snprintf(result->problem, sizeof(result->problem),
			 "no VM on the host received the guest's vmsync vm_uid %" PRIu64,
			 guest->vm_uid);
	}
}

/* Gathers the windows of the guest's vCPU threads, by vCPU index. */
struct window_collect {
	const GPtrArray *vms; /* Weak: the guest's VM instances. */
	GPtrArray *by_index; /* Owned: GArray of struct vmt_sync_window per vCPU index. */
};

static bool contains(const GPtrArray *array, const void *item)
{
	for (guint i = 0; i < array->len; i++) {
		if (g_ptr_array_index(array, i) == item) {
			return true;
		}
	}
	return false;
}

static void collect_thread(struct vmt_thread *thread, void *data)
{
	struct window_collect *collect = data;
	const struct vmt_window_pass_thread *tw = thread->listener_data;
	GArray *windows;

	if (!tw || !tw->windows->len || thread->vcpu_index < 0 ||
	    thread->vcpu_index >= VMT_WINDOW_PASS_MAX_CPUS || !contains(collect->vms, thread->vm)) {
		return;
	}
	if ((guint) thread->vcpu_index >= collect->by_index->len) {
		g_ptr_array_set_size(collect->by_index, (guint) thread->vcpu_index + 1);
	}
	windows = g_ptr_array_index(collect->by_index, thread->vcpu_index);
	if (!windows) {
		windows = g_array_new(FALSE, FALSE, sizeof(struct vmt_sync_window));
		collect->by_index->pdata[thread->vcpu_index] = windows;
	}
	g_array_append_vals(windows, tw->windows->data, tw->windows->len);
}

static int compare_windows(const void *a, const void *b)
{
	const struct vmt_sync_window *wa = a, *wb = b;

	return (wa->entry_ns > wb->entry_ns) - (wa->entry_ns < wb->entry_ns);
}

/*
 * Sorts one index's windows (several thread instances: a re-created vCPU
 * thread or VM) and merges overlaps, which only a corrupt trace makes:
 * the union is the conservative reading.
 */
static void normalize_windows(GArray *windows)
{
	guint n = 0;

	qsort(windows->data, windows->len, sizeof(struct vmt_sync_window), compare_windows);
	for (guint i = 0; i < windows->len; i++) {
		struct vmt_sync_window *w = &g_array_index(windows, struct vmt_sync_window, i);
		struct vmt_sync_window *last =
			n ? &g_array_index(windows, struct vmt_sync_window, n - 1) : NULL;

		if (last && w->entry_ns < last->exit_ns) {
			last->exit_ns = MAX(last->exit_ns, w->exit_ns);
		} else {
			g_array_index(windows, struct vmt_sync_window, n++) = *w;
		}
	}
	g_array_set_size(windows, n);
}

/* The QEMU pid of the instances if they share one, else -1. */
static int64_t common_pid(const GPtrArray *vms)
{
	int64_t pid = -1;

	for (guint i = 0; i < vms->len; i++) {
		const struct vmt_vm *vm = g_ptr_array_index(vms, i);

		if (vm->pid < 0 || (pid >= 0 && vm->pid != pid)) {
			return -1;
		}
		pid = vm->pid;
	}
	return pid;
}

/*
 * Takes a finished estimate: the result is the single line's unless the
 * clock bends over the trace; then the pieces go to the guest's
 * `window_pieces` and `result->estimate` summarises them.
 */
static void take_estimate(struct vmt_window_pass *pass, struct vmt_machine *guest,
			  struct vmt_window_pass_job *job, struct vmt_window_pass_result *result)
{
	struct vmt_sync_piecewise_result *pieces = &job->pieces;
	const struct vmt_sync_window_result *estimate = &result->estimate;

	result->estimate = pieces->summary;
	result->whole = pieces->whole;
	result->fit_count = pieces->fit_count;
	result->segment_count = pieces->pieces ? pieces->pieces->count : 1;
	vmt_clock_pieces_destroy(guest->window_pieces);
	guest->window_pieces = g_steal_pointer(&pieces->pieces);
	if (guest->window_pieces) {
		VMT_LOGI(pass->log,
			 "Guest clock is not linear over the trace, fitted in pieces: "
			 "machine=\"%s\", segments=%" PRIu64 ", fits=%" PRIu64 ", error-ns=%" PRId64
			 ", single-line-status=\"%s\", "
			 "single-line-error-ns=%" PRId64,
			 guest->id, result->segment_count, result->fit_count,
			 result->estimate.fit.error_bound_ns,
			 vmt_sync_window_status_describe(result->whole.status),
			 result->whole.fit.error_bound_ns);
	}
	result->has_estimate = true;
	if (estimate->status != VMT_SYNC_WINDOW_OK) {
		snprintf(result->problem, sizeof(result->problem),
			 "%s (%.3f %% of %" PRIu64 " guest events inside windows)",
			 vmt_sync_window_status_describe(estimate->status),
			 100 * vmt_sync_window_inside_share(estimate), estimate->event_count);
	}
}

/* The estimator's input: the guest's event times and the VM's windows, per vCPU index. */
static void prepare_estimate(const struct vmt_window_pass_guest *events,
			     struct vmt_window_pass_job *job, struct vmt_window_pass_result *result)
{
	const GPtrArray *by_index = job->by_index;
	guint count = MAX(events->cpus->len, by_index->len);

	job->vcpus = g_new0(struct vmt_sync_window_vcpu, MAX(count, 1));
	job->vcpu_count = count;
	for (guint v = 0; v < count; v++) {
		const GArray *times = v < events->cpus->len ? g_ptr_array_index(events->cpus, v) :
							      NULL;
		const GArray *windows = v < by_index->len ? g_ptr_array_index(by_index, v) : NULL;

		if (times) {
			job->vcpus[v].events = (const int64_t *) (const void *) times->data;
			job->vcpus[v].event_count = times->len;
		}
		if (windows) {
			job->vcpus[v].windows =
				(const struct vmt_sync_window *) (const void *) windows->data;
			job->vcpus[v].window_count = windows->len;
			result->vcpu_count++;
			result->window_count += windows->len;
		}
	}
}

static void destroy_window_array(gpointer data)
{
	if (data) {
		g_array_unref(data);
	}
}

/*
 * Ties guest `m` to its VM and gathers the VM's windows into `job` (with
 * `job->vcpus` when there is something to estimate; otherwise
 * `result->problem` says why not).
 */
static void prepare_guest(struct vmt_window_pass *pass, guint m, struct vmt_window_pass_job *job,
			  struct vmt_window_pass_result *result)
{
	struct vmt_machine *guest = vmt_inventory_machine(pass->inventory, m);
	const struct vmt_window_pass_guest *events = g_ptr_array_index(pass->guests, m);
	struct window_collect collect = { 0 };
	GPtrArray *vms = find_vms(pass, guest, result);

	if (!vms) {
		if (!result->problem[0]) {
			explain_no_vm(guest, result);
		}
		return;
	}
	result->host_pid = common_pid(vms);
	collect.vms = vms;
	collect.by_index = g_ptr_array_new_with_free_func(destroy_window_array);
	vmt_host_model_foreach_thread(
		((struct vmt_window_pass_host *) g_ptr_array_index(pass->hosts, result->host))
			->model,
		collect_thread, &collect);
	for (guint v = 0; v < collect.by_index->len; v++) {
		if (g_ptr_array_index(collect.by_index, v)) {
			normalize_windows(g_ptr_array_index(collect.by_index, v));
		}
	}
	job->by_index = collect.by_index;
	if (!collect.by_index->len) {
		snprintf(result->problem, sizeof(result->problem),
			 "the guest's VM (QEMU pid %" PRId64 ") has no vCPU thread with a known "
			 "index and guest-mode windows",
			 result->host_pid);
	} else if (events->cpus->len == 0) {
		snprintf(result->problem, sizeof(result->problem),
			 "the guest trace has no event with a `cpu_id`");
	} else {
		prepare_estimate(events, job, result);
	}
	g_ptr_array_free(vms, TRUE);
}

/* Takes guest `m`'s estimate (if it ran) and frees its job. */
static enum vmt_status finish_guest(struct vmt_window_pass *pass, guint m,
				    struct vmt_window_pass_job *job,
				    struct vmt_window_pass_result *result)
{
	struct vmt_machine *guest = vmt_inventory_machine(pass->inventory, m);
	const struct vmt_window_pass_guest *events = g_ptr_array_index(pass->guests, m);
	enum vmt_status status = job->has_run ? job->status : VMT_STATUS_OK;

	if (status != VMT_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(pass->log,
				      "Cannot estimate the guest clock from windows: "
				      "machine=\"%s\"",
				      guest->id);
	} else if (job->has_run) {
		take_estimate(pass, guest, job, result);
	}
	VMT_LOGD(pass->log,
		 "Window pass: machine=\"%s\", host=%d, host-pid=%" PRId64 ", vcpus=%" PRIu64
		 ", windows=%" PRIu64 ", events-without-cpu=%" PRIu64 ", problem=\"%s\"",
		 guest->id, result->host, result->host_pid, result->vcpu_count,
		 result->window_count, events->no_cpu_count, result->problem);
	vmt_sync_piecewise_result_fini(&job->pieces);
	g_free(job->vcpus);
	if (job->by_index) {
		g_ptr_array_free(job->by_index, TRUE);
	}
	return status;
}

static void destroy_guest_events(gpointer data)
{
	struct vmt_window_pass_guest *events = data;

	if (events) {
		g_ptr_array_free(events->cpus, TRUE);
		g_free(events);
	}
}

static bool has_any_host(const struct vmt_window_pass *pass)
{
	for (guint h = 0; h < pass->hosts->len; h++) {
		if (g_ptr_array_index(pass->hosts, h)) {
			return true;
		}
	}
	return false;
}

/* Allocates the per-machine tables and resets every result. */
static void init_pass(struct vmt_window_pass *pass, const bool *wanted,
		      struct vmt_window_pass_result *results)
{
	guint count = pass->inventory->machines->len;

	pass->hosts = g_ptr_array_new_full(count, vmt_window_pass_host_destroy);
	pass->guests = g_ptr_array_new_full(count, destroy_guest_events);
	pass->streams = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_set_size(pass->hosts, count);
	g_ptr_array_set_size(pass->guests, count);
	for (guint m = 0; m < count; m++) {
		struct vmt_window_pass_guest *events;

		memset(&results[m], 0, sizeof(results[m]));
		results[m].host = -1;
		results[m].host_pid = -1;
		if (!wanted[m]) {
			continue;
		}
		events = g_new0(struct vmt_window_pass_guest, 1);
		events->cpus = g_ptr_array_new_with_free_func(destroy_window_array);
		pass->guests->pdata[m] = events;
	}
}

enum vmt_status vmt_window_pass_run(struct vmt_inventory *inventory,
				    const struct vmt_ctf_plugins *plugins, bt_logging_level level,
				    const bool *wanted, struct vmt_window_pass_result *results,
				    const struct vmt_log_ctx *log)
{
	struct vmt_window_pass pass = {
		.inventory = inventory, .plugins = plugins, .level = level, .log = log
	};
	guint count = inventory->machines->len;
	struct vmt_window_pass_job *jobs = g_new0(struct vmt_window_pass_job, MAX(count, 1));
	enum vmt_status status;

	init_pass(&pass, wanted, results);
	status = vmt_window_pass_read_hosts(&pass);
	if (status == VMT_STATUS_OK && has_any_host(&pass)) {
		status = vmt_window_pass_read_guests(&pass, wanted);
	}
	for (guint m = 0; m < count && status == VMT_STATUS_OK; m++) {
		if (!wanted[m]) {
			continue;
		}
		if (!has_any_host(&pass)) {
			snprintf(results[m].problem, sizeof(results[m].problem),
				 "no host trace has KVM entry/exit events (`kvm_x86_entry`/"
				 "`kvm_x86_exit` or `kvm_entry`/`kvm_exit`)");
		} else {
			prepare_guest(&pass, m, &jobs[m], &results[m]);
		}
	}
	if (status == VMT_STATUS_OK) {
		vmt_window_pass_estimate_all(jobs, count, vmt_parallel_thread_count(log));
	}
	for (guint m = 0; m < count; m++) {
		enum vmt_status guest_status =
			wanted[m] ? finish_guest(&pass, m, &jobs[m], &results[m]) : VMT_STATUS_OK;

		status = status == VMT_STATUS_OK ? guest_status : status;
	}
	g_free(jobs);
	g_ptr_array_free(pass.streams, TRUE);
	g_ptr_array_free(pass.guests, TRUE);
	g_ptr_array_free(pass.hosts, TRUE);
	return status;
}
