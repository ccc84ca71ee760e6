/* SPDX-License-Identifier: MIT */
/*
 * vCPU rows (docs/semantics.md §3–§5): built per vCPU thread instance from
 * the host model's changes, written at the end ordered by vm_uuid, vcpu,
 * begin_ns.
 */
#define VMT_LOG_TAG "VMTRACE/INTERVALS"
#include "lib/log.h"

#include <string.h>

#include <glib.h>

#include "lib/intervals-internal.h"

static bool has_exit_reason(enum vmt_vcpu_state state)
{
	return state == VMT_VCPU_STATE_HYPERVISOR || state == VMT_VCPU_STATE_IDLE ||
	       state == VMT_VCPU_STATE_BLOCKED;
}

/* The columns of the row that starts now, from the thread's current state. */
static void fill_record(struct vmt_intervals *intervals, const struct vmt_thread *thread,
			int64_t ts, struct vmt_vcpu_record *rec)
{
	enum vmt_vcpu_state state = thread->state;
	const char *guest_comm = NULL;

	memset(rec, 0, sizeof(*rec));
	rec->begin = ts;
	rec->state = state;
	rec->pcpu = state == VMT_VCPU_STATE_RUNNING || state == VMT_VCPU_STATE_HYPERVISOR ?
			    thread->cpu :
			    -1;
	rec->exit_reason = has_exit_reason(state) ? thread->last_exit_reason : -1;
	rec->preempted_by_tid = -1;
	rec->guest_tid = -1;
	if (state != VMT_VCPU_STATE_PREEMPTED) {
		return;
	}
	rec->preempted_by_serial = thread->preempted_by_serial;
	rec->preempted_by_tid = thread->preempted_by_tid;
	rec->preempted_by_comm = vmt_intervals_intern(intervals, thread->preempted_by_comm);
	rec->guest_tid =
		vmt_intervals_guest_thread(intervals, thread->vm, thread->vcpu_index, &guest_comm);
	rec->guest_comm = guest_comm;
}

static bool same_columns(const struct vmt_vcpu_record *a, const struct vmt_vcpu_record *b)
{
	return a->state == b->state && a->pcpu == b->pcpu && a->exit_reason == b->exit_reason &&
	       a->preempted_by_serial == b->preempted_by_serial &&
	       a->preempted_by_tid == b->preempted_by_tid &&
	       a->preempted_by_comm == b->preempted_by_comm && a->guest_tid == b->guest_tid &&
	       a->guest_comm == b->guest_comm;
}

static void store_pending(struct vmt_intervals *intervals, struct vmt_vcpu_builder *builder)
{
	enum vmt_status status;

	if (!builder->has_pending) {
		return;
	}
	builder->has_pending = false;
	status = vmt_row_store_append(intervals->store, (uint64_t) (uintptr_t) builder->thread,
				      &builder->pending);
	if (status != VMT_STATUS_OK && intervals->status == VMT_STATUS_OK) {
		intervals->status = status;
	}
}

/*
 * Ends the open row at `end`. Zero-length rows vanish; a row equal to the
 * previous one and touching it extends it, so that rows stay maximal.
 */
static void close_open(struct vmt_intervals *intervals, struct vmt_vcpu_builder *builder,
		       int64_t end)
{
	struct vmt_vcpu_record *rec = &builder->open;

	if (!builder->has_open) {
		return;
	}
	builder->has_open = false;
	rec->end = end;
	if (rec->end <= rec->begin) {
		return;
	}
	if (builder->has_pending && builder->pending.end == rec->begin &&
	    same_columns(&builder->pending, rec)) {
		builder->pending.end = rec->end;
		return;
	}
	store_pending(intervals, builder);
	builder->pending = *rec;
	builder->has_pending = true;
	if (builder->first_begin == INT64_MIN) {
		builder->first_begin = rec->begin;
	}
}

static struct vmt_vcpu_builder *find_or_add_builder(struct vmt_intervals_host *host,
						    struct vmt_thread *thread)
{
	struct vmt_intervals *intervals = host->owner;
	struct vmt_vcpu_builder *builder = thread->listener_data;

	if (!builder) {
		builder = g_new0(struct vmt_vcpu_builder, 1);
		builder->thread = thread;
		builder->host = host;
		builder->first_begin = INT64_MIN;
		thread->listener_data = builder;
		g_ptr_array_add(intervals->vcpu_builders, builder);
	}
	return builder;
}

void vmt_intervals_vcpu_changed(void *user, struct vmt_thread *thread, int64_t ts)
{
	struct vmt_intervals_host *host = user;
	struct vmt_intervals *intervals = host->owner;
	struct vmt_vcpu_builder *builder = find_or_add_builder(host, thread);
	struct vmt_vcpu_record rec;

	fill_record(intervals, thread, ts, &rec);
	if (builder->has_open) {
		if (same_columns(&builder->open, &rec)) {
			return;
		}
		close_open(intervals, builder, ts);
	}
	builder->open = rec;
	builder->has_open = true;
}

void vmt_intervals_vcpu_ended(void *user, struct vmt_thread *thread, int64_t ts)
{
	struct vmt_intervals_host *host = user;
	struct vmt_vcpu_builder *builder = find_or_add_builder(host, thread);

	close_open(host->owner, builder, ts);
	store_pending(host->owner, builder);
}

void vmt_intervals_close_vcpus(struct vmt_intervals *intervals, int64_t end_ns)
{
	guint i;

	for (i = 0; i < intervals->vcpu_builders->len; i++) {
		struct vmt_vcpu_builder *builder = g_ptr_array_index(intervals->vcpu_builders, i);

		close_open(intervals, builder, end_ns);
		store_pending(intervals, builder);
	}
}

/* A vCPU thread with rows, and what orders it in the output. */
struct vcpu_output {
	struct vmt_vcpu_builder *builder; /* Weak. */
	char vm_id[64];
	int64_t vcpu;
};

static int compare_outputs(gconstpointer a, gconstpointer b)
{
	const struct vcpu_output *oa = a, *ob = b;
	int cmp = strcmp(oa->vm_id, ob->vm_id);

	if (cmp) {
		return cmp;
	}
	if (oa->vcpu != ob->vcpu) {
		return oa->vcpu < ob->vcpu ? -1 : 1;
	}
	if (oa->builder->first_begin != ob->builder->first_begin) {
		return oa->builder->first_begin < ob->builder->first_begin ? -1 : 1;
	}
	return 0;
}

struct write_context {
	struct vmt_writer *writer; /* Weak. */
	/* Rows end with the host trace (a guest event may come after its last event). */
	int64_t end_ns;
	const struct vcpu_output *output; /* Weak. */
	const struct vmt_host_model *model; /* Weak: the vCPU's host, which names its preemptors. */
	struct vmt_vcpu_row row;
	char preemptor_vm_id[64];
};

static enum vmt_status write_record(const void *record, void *data)
{
	const struct vmt_vcpu_record *rec = record;
	struct write_context *ctx = data;
	struct vmt_vcpu_row *row = &ctx->row;
	const struct vmt_thread *preemptor =
		vmt_host_model_find_thread_by_serial(ctx->model, rec->preempted_by_serial);

	if (rec->begin >= ctx->end_ns) {
		return VMT_STATUS_OK;
	}
	row->state = rec->state;
	row->begin_ns = rec->begin;
	row->end_ns = rec->end < ctx->end_ns ? rec->end : ctx->end_ns;
	row->pcpu = rec->pcpu;
	row->exit_reason = rec->exit_reason;
	row->preempted_by_tid = rec->preempted_by_tid;
	row->preempted_by_comm = rec->state == VMT_VCPU_STATE_PREEMPTED ? rec->preempted_by_comm :
									  NULL;
	row->preempted_by_vm = NULL;
	row->preempted_by_vcpu = -1;
	if (preemptor && preemptor->is_vcpu) {
		vmt_vm_format_id(preemptor->vm, ctx->preemptor_vm_id, sizeof(ctx->preemptor_vm_id));
		row->preempted_by_vm = ctx->preemptor_vm_id;
		row->preempted_by_vcpu = preemptor->vcpu_index;
	}
	row->guest_tid = rec->guest_tid;
	row->guest_comm = rec->guest_tid >= 0 ? rec->guest_comm : NULL;
	return vmt_writer_write_vcpu_row(ctx->writer, row);
}

static enum vmt_status write_output(struct vmt_intervals *intervals, struct vmt_writer *writer,
				    const struct vcpu_output *output)
{
	const struct vmt_thread *thread = output->builder->thread;
	struct write_context ctx = { .writer = writer,
				     .end_ns = intervals->end_ns,
				     .output = output,
				     .model = output->builder->host->model };

	ctx.row.vm_uuid = output->vm_id;
	ctx.row.vm_name = vmt_vm_name(thread->vm);
	if (!ctx.row.vm_name[0]) {
		ctx.row.vm_name = NULL;
	}
	ctx.row.vcpu = output->vcpu;
	ctx.row.host_tid = thread->tid;
	return vmt_row_store_foreach(intervals->store, (uint64_t) (uintptr_t) thread, write_record,
				     &ctx);
}

enum vmt_status vmt_intervals_write_vcpus(struct vmt_intervals *intervals,
					  struct vmt_writer *writer)
{
	GArray *outputs = g_array_new(FALSE, TRUE, sizeof(struct vcpu_output));
	enum vmt_status status = VMT_STATUS_OK;
	guint i;

	for (i = 0; i < intervals->vcpu_builders->len; i++) {
		struct vmt_vcpu_builder *builder = g_ptr_array_index(intervals->vcpu_builders, i);
		struct vcpu_output output = { .builder = builder };

		if (builder->first_begin == INT64_MIN) {
			continue;
		}
		vmt_vm_format_id(builder->thread->vm, output.vm_id, sizeof(output.vm_id));
		output.vcpu = builder->thread->vcpu_index;
		g_array_append_val(outputs, output);
	}
	g_array_sort(outputs, compare_outputs);
	for (i = 0; i < outputs->len && status == VMT_STATUS_OK; i++) {
		status = write_output(intervals, writer,
				      &g_array_index(outputs, struct vcpu_output, i));
	}
	g_array_free(outputs, TRUE);
	return status;
}
