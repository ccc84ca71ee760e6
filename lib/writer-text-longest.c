/* SPDX-License-Identifier: MIT */
/*
 * The "longest preemptions" table of the `text` report: the N longest
 * `preempted` rows over all vCPUs, kept as the rows stream by (N copies,
 * never one per row).
 */
#define VMT_LOG_TAG "VMTRACE/WRITER-TEXT"
#include "lib/log.h"

#include <inttypes.h>
#include <string.h>

#include <glib.h>

#include "lib/writer-internal.h"
#include "lib/writer-text.h"

/* One of the longest preemptions, with owned copies of what the report shows. */
struct text_preemption {
	int64_t begin_ns;
	int64_t duration_ns;
	/* Owned (the five strings); NULL if empty. */
	char *vm_uuid;
	char *vm_name;
	int64_t vcpu;
	int64_t preemptor_tid;
	char *preemptor_comm;
	char *preemptor_vm;
	int64_t preemptor_vcpu;
	int64_t guest_tid;
	char *guest_comm;
};

struct vmt_text_longest {
	/* Longest first. */
	struct text_preemption preemptions[VMT_TEXT_LONGEST_COUNT];
	size_t count;
};

struct vmt_text_longest *vmt_text_longest_create(void)
{
	return g_new0(struct vmt_text_longest, 1);
}

static void clear_preemption(struct text_preemption *preemption)
{
	g_free(preemption->vm_uuid);
	g_free(preemption->vm_name);
	g_free(preemption->preemptor_comm);
	g_free(preemption->preemptor_vm);
	g_free(preemption->guest_comm);
	memset(preemption, 0, sizeof(*preemption));
}

void vmt_text_longest_destroy(struct vmt_text_longest *longest)
{
	size_t i;

	if (!longest) {
		return;
	}
	for (i = 0; i < longest->count; i++) {
		clear_preemption(&longest->preemptions[i]);
	}
	g_free(longest);
}

/* NULL for NULL or "": the report treats both as empty. */
static char *dup_nonempty(const char *s)
{
	return s && s[0] ? g_strdup(s) : NULL;
}

/* Longer first; of two equally long, the earlier first, for a stable report. */
static bool is_longer(int64_t duration_ns, int64_t begin_ns, const struct text_preemption *other)
{
	return duration_ns > other->duration_ns ||
	       (duration_ns == other->duration_ns && begin_ns < other->begin_ns);
}

static void fill_preemption(struct text_preemption *preemption, const struct vmt_vcpu_row *row,
			    int64_t duration_ns)
{
	preemption->begin_ns = row->begin_ns;
	preemption->duration_ns = duration_ns;
	preemption->vm_uuid = dup_nonempty(row->vm_uuid);
	preemption->vm_name = dup_nonempty(row->vm_name);
	preemption->vcpu = row->vcpu;
	preemption->preemptor_tid = row->preempted_by_tid;
	preemption->preemptor_comm = dup_nonempty(row->preempted_by_comm);
	preemption->preemptor_vm = dup_nonempty(row->preempted_by_vm);
	preemption->preemptor_vcpu = row->preempted_by_vcpu;
	preemption->guest_tid = row->guest_tid;
	preemption->guest_comm = dup_nonempty(row->guest_comm);
}

void vmt_text_longest_offer(struct vmt_text_longest *longest, const struct vmt_vcpu_row *row,
			    int64_t duration_ns)
{
	size_t pos = longest->count;

	if (pos == VMT_TEXT_LONGEST_COUNT) {
		if (!is_longer(duration_ns, row->begin_ns, &longest->preemptions[pos - 1])) {
			return;
		}
		pos--;
		clear_preemption(&longest->preemptions[pos]);
	} else {
		longest->count++;
	}
	/* Insertion into a sorted array of 10: cheaper than any heap at this size. */
	while (pos > 0 && is_longer(duration_ns, row->begin_ns, &longest->preemptions[pos - 1])) {
		longest->preemptions[pos] = longest->preemptions[pos - 1];
		pos--;
	}
	fill_preemption(&longest->preemptions[pos], row, duration_ns);
}

/* "+1.000000500 s": exact ns, relative to the report's origin. */
static char *offset_label(int64_t ns)
{
	uint64_t magnitude = ns < 0 ? -(uint64_t) ns : (uint64_t) ns;

	return g_strdup_printf("%c%" PRIu64 ".%09" PRIu64 " s", ns < 0 ? '-' : '+',
			       magnitude / 1000000000, magnitude % 1000000000);
}

static void add_preemption_cells(struct vmt_text_table *table, int64_t origin_ns,
				 GHashTable *vm_names, const struct text_preemption *preemption)
{
	char *preemptor =
		vmt_text_thread_label(preemption->preemptor_tid, preemption->preemptor_comm);
	char *preemptor_vcpu =
		vmt_text_vcpu_label(vm_names, preemption->preemptor_vm, preemption->preemptor_vcpu);

	vmt_text_table_add_printf(table, "%" PRId64, preemption->begin_ns);
	vmt_text_table_add(table, offset_label(preemption->begin_ns - origin_ns));
	vmt_text_table_add(table, vmt_text_duration(preemption->duration_ns));
	vmt_text_table_add(table, vmt_text_vm_label(preemption->vm_name, preemption->vm_uuid));
	vmt_text_table_add(table, vmt_text_index_label(preemption->vcpu));
	if (preemptor_vcpu[0]) {
		vmt_text_table_add_printf(table, "%s (%s)", preemptor, preemptor_vcpu);
	} else {
		vmt_text_table_add(table, g_strdup(preemptor));
	}
	if (preemption->guest_tid >= 0 || preemption->guest_comm) {
		vmt_text_table_add(table, vmt_text_thread_label(preemption->guest_tid,
								preemption->guest_comm));
	} else {
		vmt_text_table_add(table, g_strdup(""));
	}
	g_free(preemptor);
	g_free(preemptor_vcpu);
}

void vmt_text_longest_write(const struct vmt_text_longest *longest, GString *buf, int64_t origin_ns,
			    GHashTable *vm_names)
{
	static const char *const headers[] = { "begin_ns", "from start",   "duration",	  "VM",
					       "vCPU",	   "preempted by", "guest thread" };
	struct vmt_text_table table;
	size_t i;

	if (longest->count == 0) {
		return;
	}
	g_string_append_printf(buf, "Longest preemptions (top %d)\n", VMT_TEXT_LONGEST_COUNT);
	vmt_text_table_init(&table, "lrrlrll");
	for (i = 0; i < VMT_ARRAY_SIZE(headers); i++) {
		vmt_text_table_add(&table, g_strdup(headers[i]));
	}
	for (i = 0; i < longest->count; i++) {
		add_preemption_cells(&table, origin_ns, vm_names, &longest->preemptions[i]);
	}
	vmt_text_table_write(&table, buf, "  ");
	vmt_text_table_fini(&table);
}
