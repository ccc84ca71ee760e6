/* SPDX-License-Identifier: MIT */
/*
 * pCPU rows (docs/semantics.md §6): what each host CPU ran, at host,
 * hypervisor or guest level, written at the end ordered by pcpu, begin_ns.
 */
#define VMT_LOG_TAG "VMTRACE/INTERVALS"
#include "lib/log.h"

#include <string.h>

#include <glib.h>

#include "lib/intervals-internal.h"

static struct vmt_pcpu_builder *find_or_add_cpu(struct vmt_intervals_host *host, int64_t cpu)
{
	if ((guint64) cpu >= host->cpus->len) {
		g_array_set_size(host->cpus, cpu + 1);
	}
	return &g_array_index(host->cpus, struct vmt_pcpu_builder, cpu);
}

static uint64_t cpu_key(const struct vmt_intervals_host *host, int64_t cpu)
{
	return ((uint64_t) host->index << 32) | (uint64_t) cpu;
}

static void fill_record(struct vmt_intervals *intervals, struct vmt_intervals_host *host,
			int64_t cpu, int64_t ts, struct vmt_pcpu_record *rec)
{
	struct vmt_thread *thread = vmt_host_model_borrow_cpu_thread(host->model, cpu);
	const char *guest_comm = NULL;

	memset(rec, 0, sizeof(*rec));
	rec->begin = ts;
	rec->thread_serial = thread ? thread->serial : VMT_NO_SERIAL;
	rec->host_tid = vmt_host_model_cpu_tid(host->model, cpu);
	rec->host_comm =
		vmt_intervals_intern(intervals, vmt_host_model_borrow_cpu_comm(host->model, cpu));
	rec->guest_tid = -1;
	rec->in_guest = thread && thread->is_vcpu && thread->cpu == cpu &&
			thread->state == VMT_VCPU_STATE_RUNNING;
	if (rec->in_guest) {
		rec->guest_tid = vmt_intervals_guest_thread(intervals, thread->vm,
							    thread->vcpu_index, &guest_comm);
		rec->guest_comm = guest_comm;
	}
}

static bool same_columns(const struct vmt_pcpu_record *a, const struct vmt_pcpu_record *b)
{
	return a->thread_serial == b->thread_serial && a->host_tid == b->host_tid &&
	       a->host_comm == b->host_comm && a->in_guest == b->in_guest &&
	       a->guest_tid == b->guest_tid && a->guest_comm == b->guest_comm;
}

static void store_pending(struct vmt_intervals *intervals, uint64_t key,
			  struct vmt_pcpu_builder *builder)
{
	enum vmt_status status;

	if (!builder->has_pending) {
		return;
	}
	builder->has_pending = false;
	status = vmt_row_store_append(intervals->store, key, &builder->pending);
	if (status != VMT_STATUS_OK && intervals->status == VMT_STATUS_OK) {
		intervals->status = status;
	}
}

static void close_open(struct vmt_intervals *intervals, uint64_t key,
		       struct vmt_pcpu_builder *builder, int64_t end)
{
	struct vmt_pcpu_record *rec = &builder->open;

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
	store_pending(intervals, key, builder);
	builder->pending = *rec;
	builder->has_pending = true;
}

void vmt_intervals_cpu_changed(void *user, int64_t cpu, int64_t ts)
{
	struct vmt_intervals_host *host = user;
	struct vmt_intervals *intervals = host->owner;
	struct vmt_pcpu_builder *builder;
	struct vmt_pcpu_record rec;

	if (cpu < 0 || vmt_host_model_cpu_tid(host->model, cpu) < 0) {
		return;
	}
	builder = find_or_add_cpu(host, cpu);
	fill_record(intervals, host, cpu, ts, &rec);
	if (builder->has_open) {
		if (same_columns(&builder->open, &rec)) {
			return;
		}
		close_open(intervals, cpu_key(host, cpu), builder, ts);
	}
	builder->open = rec;
	builder->has_open = true;
}

void vmt_intervals_close_cpus(struct vmt_intervals *intervals, int64_t end_ns)
{
	guint h, cpu;

	for (h = 0; h < intervals->hosts->len; h++) {
		struct vmt_intervals_host *host = g_ptr_array_index(intervals->hosts, h);

		for (cpu = 0; cpu < host->cpus->len; cpu++) {
			struct vmt_pcpu_builder *builder =
				&g_array_index(host->cpus, struct vmt_pcpu_builder, cpu);

			close_open(intervals, cpu_key(host, cpu), builder, end_ns);
			store_pending(intervals, cpu_key(host, cpu), builder);
		}
	}
}

struct write_context {
	struct vmt_writer *writer; /* Weak. */
	const struct vmt_host_model *model; /* Weak: the host of the rows being written. */
	/* Rows end with the host trace (a guest event may come after its last event). */
	int64_t end_ns;
	/* The row built last, written when the next one differs (see same_output()). */
	bool has_pending;
	struct vmt_pcpu_row pending;
	char pending_vm_id[64];
	struct vmt_pcpu_row row;
	char vm_id[64];
};

static bool same_string(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/*
 * Two stored rows can read the same once named (a thread instance replaced
 * by another with its tid and name, after lost events): the output merges
 * them, so that rows stay maximal.
 */
static bool same_output(const struct vmt_pcpu_row *a, const struct vmt_pcpu_row *b)
{
	return a->end_ns == b->begin_ns && a->pcpu == b->pcpu && a->level == b->level &&
	       a->host_tid == b->host_tid && a->vcpu == b->vcpu && a->guest_tid == b->guest_tid &&
	       same_string(a->host_comm, b->host_comm) && same_string(a->vm_uuid, b->vm_uuid) &&
	       same_string(a->vm_name, b->vm_name) && same_string(a->guest_comm, b->guest_comm);
}

static enum vmt_status flush_pending(struct write_context *ctx)
{
	if (!ctx->has_pending) {
		return VMT_STATUS_OK;
	}
	ctx->has_pending = false;
	return vmt_writer_write_pcpu_row(ctx->writer, &ctx->pending);
}

static void name_row(struct write_context *ctx, const struct vmt_pcpu_record *rec)
{
	struct vmt_pcpu_row *row = &ctx->row;
	const struct vmt_thread *thread =
		vmt_host_model_find_thread_by_serial(ctx->model, rec->thread_serial);
	bool is_vcpu = thread && thread->is_vcpu;

	row->begin_ns = rec->begin;
	row->end_ns = rec->end < ctx->end_ns ? rec->end : ctx->end_ns;
	row->host_tid = rec->host_tid;
	row->host_comm = rec->host_comm;
	row->level = !is_vcpu	   ? VMT_PCPU_LEVEL_HOST :
		     rec->in_guest ? VMT_PCPU_LEVEL_GUEST :
				     VMT_PCPU_LEVEL_HYPERVISOR;
	row->vm_uuid = NULL;
	row->vm_name = NULL;
	row->vcpu = -1;
	if (is_vcpu) {
		vmt_vm_format_id(thread->vm, ctx->vm_id, sizeof(ctx->vm_id));
		row->vm_uuid = ctx->vm_id;
		row->vm_name = vmt_vm_name(thread->vm)[0] ? vmt_vm_name(thread->vm) : NULL;
		row->vcpu = thread->vcpu_index;
	}
	row->guest_tid = rec->in_guest ? rec->guest_tid : -1;
	row->guest_comm = rec->in_guest && rec->guest_tid >= 0 ? rec->guest_comm : NULL;
}

static enum vmt_status write_record(const void *record, void *data)
{
	const struct vmt_pcpu_record *rec = record;
	struct write_context *ctx = data;
	enum vmt_status status;

	if (rec->begin >= ctx->end_ns) {
		return VMT_STATUS_OK;
	}
	name_row(ctx, rec);
	if (ctx->has_pending && same_output(&ctx->pending, &ctx->row)) {
		ctx->pending.end_ns = ctx->row.end_ns;
		return VMT_STATUS_OK;
	}
	status = flush_pending(ctx);
	ctx->pending = ctx->row;
	if (ctx->row.vm_uuid) {
		memcpy(ctx->pending_vm_id, ctx->vm_id, sizeof(ctx->vm_id));
		ctx->pending.vm_uuid = ctx->pending_vm_id;
	}
	ctx->has_pending = true;
	return status;
}

static gint compare_keys(gconstpointer a, gconstpointer b)
{
	uint64_t ka = *(const uint64_t *) a, kb = *(const uint64_t *) b;

	return ka < kb ? -1 : ka > kb;
}

enum vmt_status vmt_intervals_write_cpus(struct vmt_intervals *intervals, struct vmt_writer *writer)
{
	GArray *keys = vmt_row_store_keys(intervals->store);
	enum vmt_status status = VMT_STATUS_OK;
	struct write_context ctx = { .writer = writer, .end_ns = intervals->end_ns };
	guint i;

	g_array_sort(keys, compare_keys);
	for (i = 0; i < keys->len && status == VMT_STATUS_OK; i++) {
		uint64_t key = g_array_index(keys, uint64_t, i);
		const struct vmt_intervals_host *host =
			g_ptr_array_index(intervals->hosts, (guint) (key >> 32));

		ctx.model = host->model;
		ctx.row.pcpu = (int64_t) (key & 0xffffffffu);
		status = vmt_row_store_foreach(intervals->store, key, write_record, &ctx);
	}
	if (status == VMT_STATUS_OK) {
		status = flush_pending(&ctx);
	}
	g_array_free(keys, TRUE);
	return status;
}
