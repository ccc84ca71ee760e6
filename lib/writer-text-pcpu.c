/* SPDX-License-Identifier: MIT */
/*
 * The `text` writer of the pCPU view: per host CPU, the share of time at
 * host level, in the hypervisor and in guest mode, per VM, and the host
 * threads that ran the most. Written at the end from per-pCPU aggregates;
 * nothing is kept per row.
 */
#define VMT_LOG_TAG "VMTRACE/WRITER-TEXT"
#include "lib/log.h"

#include <inttypes.h>
#include <string.h>

#include <glib.h>

#include "lib/writer-internal.h"
#include "lib/writer-text.h"

#define LEVEL_COUNT 3

/* A VM's time on one pCPU. */
struct pcpu_vm {
	/* Owned; key; "" when the row had none. */
	char *vm_uuid;
	/* Owned: the first row's VM name; NULL if none. */
	char *vm_name;
	uint64_t guest_ns;
	uint64_t hypervisor_ns;
};

/* A host thread's host-level time on one pCPU. The first two members are the key. */
struct pcpu_thread {
	int64_t tid;
	/* Owned; NULL if unknown. */
	char *comm;
	uint64_t ns;
};

struct text_pcpu {
	/* Key. */
	int64_t pcpu;
	uint64_t level_ns[LEVEL_COUNT];
	uint64_t total_ns;
	uint64_t row_count;
	/* Owned: VM UUID (owned by the value) to `struct pcpu_vm` (owned). */
	GHashTable *vms;
	/* Owned: `struct pcpu_thread` (owned) to itself. */
	GHashTable *threads;
};

struct text_pcpu_priv {
	/* Owned: `&pcpu->pcpu` to `struct text_pcpu` (owned). */
	GHashTable *pcpus;
	/* Weak: the previous row's pCPU; rows come grouped by pCPU. */
	struct text_pcpu *last;
	uint64_t row_count;
	int64_t min_begin_ns;
	int64_t max_end_ns;
};

static guint hash_thread(gconstpointer key)
{
	const struct pcpu_thread *thread = key;

	return (guint) thread->tid * 31 + g_str_hash(thread->comm ? thread->comm : "");
}

static gboolean equal_threads(gconstpointer a, gconstpointer b)
{
	const struct pcpu_thread *left = a, *right = b;

	return left->tid == right->tid && g_strcmp0(left->comm, right->comm) == 0;
}

static void destroy_thread(gpointer data)
{
	struct pcpu_thread *thread = data;

	g_free(thread->comm);
	g_free(thread);
}

static void destroy_vm(gpointer data)
{
	struct pcpu_vm *vm = data;

	g_free(vm->vm_uuid);
	g_free(vm->vm_name);
	g_free(vm);
}

static void destroy_pcpu(gpointer data)
{
	struct text_pcpu *pcpu = data;

	g_hash_table_destroy(pcpu->vms);
	g_hash_table_destroy(pcpu->threads);
	g_free(pcpu);
}

static void destroy_text_pcpu_priv(void *data)
{
	struct text_pcpu_priv *priv = data;

	g_hash_table_destroy(priv->pcpus);
	g_free(priv);
}

static void init_text_pcpu(struct vmt_writer *writer)
{
	struct text_pcpu_priv *priv = g_new0(struct text_pcpu_priv, 1);

	priv->pcpus = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, destroy_pcpu);
	priv->min_begin_ns = INT64_MAX;
	priv->max_end_ns = INT64_MIN;
	writer->priv = priv;
}

static struct text_pcpu *find_or_add_pcpu(struct text_pcpu_priv *priv, int64_t index)
{
	struct text_pcpu *pcpu;

	if (priv->last && priv->last->pcpu == index) {
		return priv->last;
	}
	pcpu = g_hash_table_lookup(priv->pcpus, &index);
	if (!pcpu) {
		pcpu = g_new0(struct text_pcpu, 1);
		pcpu->pcpu = index;
		/* The key is owned by the value (`vm_uuid`). */
		pcpu->vms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, destroy_vm);
		pcpu->threads =
			g_hash_table_new_full(hash_thread, equal_threads, destroy_thread, NULL);
		g_hash_table_insert(priv->pcpus, &pcpu->pcpu, pcpu);
	}
	priv->last = pcpu;
	return pcpu;
}

static void add_vm_time(struct text_pcpu *pcpu, const struct vmt_pcpu_row *row, int64_t duration_ns)
{
	const char *uuid = row->vm_uuid ? row->vm_uuid : "";
	struct pcpu_vm *vm = g_hash_table_lookup(pcpu->vms, uuid);

	if (!vm) {
		vm = g_new0(struct pcpu_vm, 1);
		vm->vm_uuid = g_strdup(uuid);
		vm->vm_name = row->vm_name && row->vm_name[0] ? g_strdup(row->vm_name) : NULL;
		g_hash_table_insert(pcpu->vms, vm->vm_uuid, vm);
	}
	if (row->level == VMT_PCPU_LEVEL_GUEST) {
		vm->guest_ns += (uint64_t) duration_ns;
	} else {
		vm->hypervisor_ns += (uint64_t) duration_ns;
	}
}

static void add_thread_time(struct text_pcpu *pcpu, const struct vmt_pcpu_row *row,
			    int64_t duration_ns)
{
	struct pcpu_thread key = {
		.tid = row->host_tid,
		.comm = (char *) (row->host_comm && row->host_comm[0] ? row->host_comm : NULL),
	};
	struct pcpu_thread *thread = g_hash_table_lookup(pcpu->threads, &key);

	if (!thread) {
		thread = g_new0(struct pcpu_thread, 1);
		thread->tid = key.tid;
		thread->comm = g_strdup(key.comm);
		g_hash_table_add(pcpu->threads, thread);
	}
	thread->ns += (uint64_t) duration_ns;
}

static enum vmt_status write_text_pcpu_row(struct vmt_writer *writer,
					   const struct vmt_pcpu_row *row)
{
	struct text_pcpu_priv *priv = writer->priv;
	struct text_pcpu *pcpu = find_or_add_pcpu(priv, row->pcpu);
	/* A negative length is corrupt input; it must not wrap the unsigned sums. */
	int64_t duration_ns = MAX(row->end_ns - row->begin_ns, 0);

	priv->row_count++;
	priv->min_begin_ns = MIN(priv->min_begin_ns, row->begin_ns);
	priv->max_end_ns = MAX(priv->max_end_ns, row->end_ns);
	pcpu->row_count++;
	pcpu->total_ns += (uint64_t) duration_ns;
	if ((unsigned int) row->level >= LEVEL_COUNT) {
		return VMT_STATUS_OK;
	}
	pcpu->level_ns[row->level] += (uint64_t) duration_ns;
	if (row->level == VMT_PCPU_LEVEL_HOST) {
		add_thread_time(pcpu, row, duration_ns);
	} else {
		add_vm_time(pcpu, row, duration_ns);
	}
	return VMT_STATUS_OK;
}

static int compare_pcpus(gconstpointer a, gconstpointer b)
{
	const struct text_pcpu *left = *(struct text_pcpu *const *) a;
	const struct text_pcpu *right = *(struct text_pcpu *const *) b;

	return left->pcpu < right->pcpu ? -1 : left->pcpu > right->pcpu;
}

/* Most time first; ties by UUID, for a stable report. */
static int compare_vms(gconstpointer a, gconstpointer b)
{
	const struct pcpu_vm *left = *(struct pcpu_vm *const *) a;
	const struct pcpu_vm *right = *(struct pcpu_vm *const *) b;
	uint64_t left_ns = left->guest_ns + left->hypervisor_ns;
	uint64_t right_ns = right->guest_ns + right->hypervisor_ns;

	if (left_ns != right_ns) {
		return left_ns > right_ns ? -1 : 1;
	}
	return strcmp(left->vm_uuid, right->vm_uuid);
}

static int compare_threads(gconstpointer a, gconstpointer b)
{
	const struct pcpu_thread *left = *(struct pcpu_thread *const *) a;
	const struct pcpu_thread *right = *(struct pcpu_thread *const *) b;

	if (left->ns != right->ns) {
		return left->ns > right->ns ? -1 : 1;
	}
	return left->tid < right->tid ? -1 : left->tid > right->tid;
}

static void write_header(GString *buf, const struct text_pcpu_priv *priv, guint pcpu_count)
{
	char *span;

	if (pcpu_count == 0) {
		g_string_append(buf, "pCPU levels: no intervals.\n");
		return;
	}
	span = vmt_text_duration(priv->max_end_ns - priv->min_begin_ns);
	g_string_append_printf(buf,
			       "pCPU levels: %u CPUs, %" PRIu64 " intervals\n"
			       "Time: %" PRId64 " ns to %" PRId64 " ns (%s)\n\n",
			       pcpu_count, priv->row_count, priv->min_begin_ns, priv->max_end_ns,
			       span);
	g_free(span);
}

/* One line per pCPU: where each CPU's time went, at a glance. */
static void write_summary(GString *buf, const GPtrArray *pcpus)
{
	struct vmt_text_table table;
	const struct text_pcpu *pcpu;
	guint i, level;

	vmt_text_table_init(&table, "rrrrr");
	vmt_text_table_add(&table, g_strdup("CPU"));
	vmt_text_table_add(&table, g_strdup("observed"));
	for (level = 0; level < LEVEL_COUNT; level++) {
		vmt_text_table_add(&table, g_strdup(vmt_pcpu_level_name(level)));
	}
	for (i = 0; i < pcpus->len; i++) {
		pcpu = pcpus->pdata[i];
		vmt_text_table_add(&table, vmt_text_index_label(pcpu->pcpu));
		vmt_text_table_add(&table, vmt_text_duration((int64_t) pcpu->total_ns));
		for (level = 0; level < LEVEL_COUNT; level++) {
			vmt_text_table_add(&table,
					   vmt_text_share(pcpu->level_ns[level], pcpu->total_ns));
		}
	}
	vmt_text_table_write(&table, buf, "");
	g_string_append_c(buf, '\n');
	vmt_text_table_fini(&table);
}

static void write_level_table(GString *buf, const struct text_pcpu *pcpu)
{
	struct vmt_text_table table;
	guint level;

	vmt_text_table_init(&table, "lrr");
	vmt_text_table_add(&table, g_strdup("level"));
	vmt_text_table_add(&table, g_strdup("time"));
	vmt_text_table_add(&table, g_strdup("share"));
	for (level = 0; level < LEVEL_COUNT; level++) {
		vmt_text_table_add(&table, g_strdup(vmt_pcpu_level_name(level)));
		vmt_text_table_add(&table, vmt_text_duration((int64_t) pcpu->level_ns[level]));
		vmt_text_table_add(&table, vmt_text_share(pcpu->level_ns[level], pcpu->total_ns));
	}
	vmt_text_table_write(&table, buf, "  ");
	vmt_text_table_fini(&table);
}

/* Time of each VM's vCPU threads on this CPU, in guest mode and in the hypervisor. */
static void write_vm_table(GString *buf, const struct text_pcpu *pcpu)
{
	GPtrArray *vms = vmt_text_sorted_values(pcpu->vms, compare_vms);
	struct vmt_text_table table;
	const struct pcpu_vm *vm;
	guint i;

	vmt_text_table_init(&table, "lrrrr");
	vmt_text_table_add(&table, g_strdup("VM"));
	vmt_text_table_add(&table, g_strdup("guest"));
	vmt_text_table_add(&table, g_strdup("share"));
	vmt_text_table_add(&table, g_strdup("hypervisor"));
	vmt_text_table_add(&table, g_strdup("share"));
	for (i = 0; i < vms->len; i++) {
		vm = vms->pdata[i];
		vmt_text_table_add(&table, vmt_text_vm_label(vm->vm_name, vm->vm_uuid));
		vmt_text_table_add(&table, vmt_text_duration((int64_t) vm->guest_ns));
		vmt_text_table_add(&table, vmt_text_share(vm->guest_ns, pcpu->total_ns));
		vmt_text_table_add(&table, vmt_text_duration((int64_t) vm->hypervisor_ns));
		vmt_text_table_add(&table, vmt_text_share(vm->hypervisor_ns, pcpu->total_ns));
	}
	if (vms->len > 0) {
		vmt_text_table_write(&table, buf, "  ");
	}
	vmt_text_table_fini(&table);
	g_ptr_array_unref(vms);
}

static void write_thread_table(GString *buf, const struct text_pcpu *pcpu)
{
	GPtrArray *threads = vmt_text_sorted_values(pcpu->threads, compare_threads);
	const struct pcpu_thread *thread;
	struct vmt_text_table table;
	guint i;

	vmt_text_table_init(&table, "lrr");
	vmt_text_table_add(&table, g_strdup("top host threads"));
	vmt_text_table_add(&table, g_strdup("time"));
	vmt_text_table_add(&table, g_strdup("share"));
	for (i = 0; i < threads->len && i < VMT_TEXT_TOP_COUNT; i++) {
		thread = threads->pdata[i];
		vmt_text_table_add(&table, vmt_text_thread_label(thread->tid, thread->comm));
		vmt_text_table_add(&table, vmt_text_duration((int64_t) thread->ns));
		vmt_text_table_add(&table, vmt_text_share(thread->ns, pcpu->total_ns));
	}
	if (threads->len > 0) {
		vmt_text_table_write(&table, buf, "  ");
	}
	vmt_text_table_fini(&table);
	g_ptr_array_unref(threads);
}

static void write_pcpu_section(GString *buf, const struct text_pcpu *pcpu)
{
	char *index = vmt_text_index_label(pcpu->pcpu);
	char *observed = vmt_text_duration((int64_t) pcpu->total_ns);

	g_string_append_printf(buf, "CPU %s: %s observed, %" PRIu64 " intervals\n", index, observed,
			       pcpu->row_count);
	write_level_table(buf, pcpu);
	write_vm_table(buf, pcpu);
	write_thread_table(buf, pcpu);
	g_string_append_c(buf, '\n');
	g_free(index);
	g_free(observed);
}

static enum vmt_status finish_text_pcpu(struct vmt_writer *writer)
{
	struct text_pcpu_priv *priv = writer->priv;
	GPtrArray *pcpus = vmt_text_sorted_values(priv->pcpus, compare_pcpus);
	enum vmt_status status = VMT_STATUS_OK;
	guint i;

	write_header(writer->buf, priv, pcpus->len);
	if (pcpus->len > 0) {
		write_summary(writer->buf, pcpus);
	}
	for (i = 0; i < pcpus->len && status == VMT_STATUS_OK; i++) {
		write_pcpu_section(writer->buf, pcpus->pdata[i]);
		/* Hands each section over: the report never sits whole in memory. */
		status = vmt_writer_commit(writer);
	}
	g_ptr_array_unref(pcpus);
	return status;
}

const struct vmt_writer_ops vmt_writer_text_pcpu_ops = {
	.name = "text",
	.init = init_text_pcpu,
	.write_vcpu_row = NULL,
	.write_pcpu_row = write_text_pcpu_row,
	.finish = finish_text_pcpu,
	.destroy_priv = destroy_text_pcpu_priv,
};
