/* SPDX-License-Identifier: MIT */
/*
 * Interval builder: rows from the host model's changes (docs/semantics.md
 * §4 and §6). Rows are built per vCPU thread (or per host CPU), merged
 * while their columns stay equal, kept in a row store, and written at the
 * end with the final identity of every thread and VM.
 */
#define VMT_LOG_TAG "VMTRACE/INTERVALS"
#include "lib/log.h"

#include <string.h>

#include <glib.h>

#include "lib/intervals-internal.h"

/* Records kept in memory before the store spills to a temporary file. */
#define MEMORY_RECORDS (1u << 16)

const char *vmt_intervals_intern(struct vmt_intervals *intervals, const char *str)
{
	return str ? g_string_chunk_insert_const(intervals->strings, str) : NULL;
}

static void destroy_host(gpointer data)
{
	struct vmt_intervals_host *host = data;

	vmt_host_model_destroy(host->model);
	g_array_free(host->cpus, TRUE);
	g_free(host);
}

struct vmt_intervals *vmt_intervals_create(enum vmt_writer_view view, const struct vmt_log_ctx *log)
{
	struct vmt_intervals *intervals = g_new0(struct vmt_intervals, 1);
	size_t record_size = view == VMT_WRITER_VIEW_VCPU ? sizeof(struct vmt_vcpu_record) :
							    sizeof(struct vmt_pcpu_record);

	intervals->view = view;
	intervals->log = log;
	intervals->hosts = g_ptr_array_new_with_free_func(destroy_host);
	intervals->strings = g_string_chunk_new(4096);
	intervals->store = vmt_row_store_create(record_size, MEMORY_RECORDS, log);
	intervals->vcpu_builders = g_ptr_array_new_with_free_func(g_free);
	intervals->status = VMT_STATUS_OK;
	return intervals;
}

void vmt_intervals_destroy(struct vmt_intervals *intervals)
{
	if (!intervals) {
		return;
	}
	g_ptr_array_free(intervals->hosts, TRUE);
	g_string_chunk_free(intervals->strings);
	vmt_row_store_destroy(intervals->store);
	g_ptr_array_free(intervals->vcpu_builders, TRUE);
	g_free(intervals);
}

static const struct vmt_host_model_listener vcpu_listener = {
	.vcpu_changed = vmt_intervals_vcpu_changed,
	.vcpu_ended = vmt_intervals_vcpu_ended,
	.cpu_changed = NULL,
};

static const struct vmt_host_model_listener pcpu_listener = {
	.vcpu_changed = NULL,
	.vcpu_ended = NULL,
	.cpu_changed = vmt_intervals_cpu_changed,
};

struct vmt_host_model *vmt_intervals_add_host(struct vmt_intervals *intervals)
{
	struct vmt_intervals_host *host = g_new0(struct vmt_intervals_host, 1);

	host->owner = intervals;
	host->index = intervals->hosts->len;
	host->cpus = g_array_new(FALSE, TRUE, sizeof(struct vmt_pcpu_builder));
	host->model = vmt_host_model_create(
		intervals->view == VMT_WRITER_VIEW_VCPU ? &vcpu_listener : &pcpu_listener, host);
	g_ptr_array_add(intervals->hosts, host);
	return host->model;
}

void vmt_intervals_set_guest_lookup(struct vmt_intervals *intervals,
				    vmt_intervals_guest_lookup_func lookup, void *user)
{
	intervals->guest_lookup = lookup;
	intervals->guest_lookup_user = user;
}

int64_t vmt_intervals_guest_thread(const struct vmt_intervals *intervals, const struct vmt_vm *vm,
				   int64_t vcpu, const char **comm)
{
	*comm = NULL;
	if (!intervals->guest_lookup || !vm || vcpu < 0) {
		return -1;
	}
	return intervals->guest_lookup(intervals->guest_lookup_user, vm, vcpu, comm);
}

static struct vmt_intervals_host *find_host(struct vmt_intervals *intervals,
					    struct vmt_host_model *model)
{
	guint i;

	for (i = 0; i < intervals->hosts->len; i++) {
		struct vmt_intervals_host *host = g_ptr_array_index(intervals->hosts, i);

		if (host->model == model) {
			return host;
		}
	}
	return NULL;
}

void vmt_intervals_guest_thread_changed(struct vmt_intervals *intervals,
					struct vmt_host_model *model, const struct vmt_vm *vm,
					int64_t vcpu, int64_t ts)
{
	struct vmt_thread *thread = vmt_host_model_find_vcpu_thread(vm, vcpu);
	struct vmt_intervals_host *host;

	/* Only a vCPU running guest code shows its guest thread on its pCPU. */
	if (intervals->view != VMT_WRITER_VIEW_PCPU || !thread || thread->cpu < 0 ||
	    thread->state != VMT_VCPU_STATE_RUNNING) {
		return;
	}
	host = find_host(intervals, model);
	if (host) {
		vmt_intervals_cpu_changed(host, thread->cpu, ts);
	}
}

enum vmt_status vmt_intervals_status(const struct vmt_intervals *intervals)
{
	return intervals->status;
}

enum vmt_status vmt_intervals_finish(struct vmt_intervals *intervals, int64_t end_ns,
				     struct vmt_writer *writer)
{
	enum vmt_status status;

	intervals->end_ns = end_ns;
	if (intervals->view == VMT_WRITER_VIEW_VCPU) {
		vmt_intervals_close_vcpus(intervals, end_ns);
	} else {
		vmt_intervals_close_cpus(intervals, end_ns);
	}
	if (intervals->status != VMT_STATUS_OK) {
		return intervals->status;
	}
	status = intervals->view == VMT_WRITER_VIEW_VCPU ?
			 vmt_intervals_write_vcpus(intervals, writer) :
			 vmt_intervals_write_cpus(intervals, writer);
	if (status != VMT_STATUS_OK) {
		return status;
	}
	return vmt_writer_finish(writer);
}
