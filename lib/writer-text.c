/* SPDX-License-Identifier: MIT */
/*
 * The `text` writer of the vCPU view: a report for people, written at the
 * end from per-vCPU aggregates (no per-row memory but the preemption
 * lengths, kept for exact quantiles).
 *
 * For each vCPU: time and share per state; preemption count and
 * p50/p99/max length; the top preemptors by preempted time; and exit
 * statistics per reason, in the layout of `perf kvm stat report`. An
 * exit's time runs from the exit to the vCPU's next entry: the whole
 * hypervisor episode, including any preemption or blocking within it
 * (docs/semantics.md). Then the longest preemptions overall.
 */
#define VMT_LOG_TAG "VMTRACE/WRITER-TEXT"
#include "lib/writer-text.h"

#include "lib/log.h"

#include <inttypes.h>
#include <string.h>

#include <glib.h>

#include "lib/writer-internal.h"

/* A thread that preempted a vCPU. The first four members are the key. */
struct text_preemptor {
	int64_t tid;
	/* Owned; NULL if unknown. */
	char *comm;
	/* Owned: the preemptor's VM UUID when it is a vCPU thread, else NULL. */
	char *vm;
	int64_t vcpu;
	uint64_t count;
	uint64_t total_ns;
};

/* Complete exit episodes of one reason. */
struct text_exit {
	/* Key. */
	int64_t reason;
	uint64_t count;
	uint64_t total_ns;
	int64_t min_ns;
	int64_t max_ns;
};

/* Aggregates of one vCPU (VM UUID, vCPU index). */
struct text_vcpu {
	/* Owned; key with `vcpu`; "" when the row had none. */
	char *vm_uuid;
	int64_t vcpu;
	/* Owned: the first row's VM name; NULL if none. */
	char *vm_name;
	int64_t host_tid;
	bool has_several_host_tids;
	uint64_t row_count;
	uint64_t state_ns[VMT_VCPU_STATE_COUNT];
	uint64_t total_ns;
	/* Owned: `int64_t` length of each preemption; sorted by the report. */
	GArray *preemption_ns;
	/* Owned: `struct text_preemptor` (owned) to itself. */
	GHashTable *preemptors;
	/* Owned: `&exit->reason` to `struct text_exit` (owned). */
	GHashTable *exits;
	/* The previous row, to see exits (running → other) and entries. */
	bool has_previous;
	enum vmt_vcpu_state previous_state;
	int64_t previous_end_ns;
	int64_t previous_host_tid;
	/* The exit episode in progress. */
	bool is_in_episode;
	int64_t episode_begin_ns;
	int64_t episode_reason;
};

struct text_vcpu_priv {
	/* Owned: `struct text_vcpu` (owned) to itself. */
	GHashTable *vcpus;
	/* Weak: the previous row's vCPU; rows come grouped by vCPU. */
	struct text_vcpu *last;
	/* Owned. */
	struct vmt_text_longest *longest;
	uint64_t row_count;
	int64_t min_begin_ns;
	int64_t max_end_ns;
	int64_t max_exit_reason;
};

/* What the report functions share. */
struct text_report {
	/* Weak: the writer's buffer. */
	GString *buf;
	bool is_svm;
	int64_t origin_ns;
	/* Owned table of borrowed VM UUID to borrowed VM name (of `priv->vcpus`). */
	GHashTable *vm_names;
};

static guint hash_vcpu(gconstpointer key)
{
	const struct text_vcpu *vcpu = key;

	return (g_str_hash(vcpu->vm_uuid) * 31 + (guint) vcpu->vcpu) * 31 +
	       (vcpu->vcpu < 0 ? (guint) vcpu->host_tid : 0);
}

static gboolean equal_vcpus(gconstpointer a, gconstpointer b)
{
	const struct text_vcpu *left = a, *right = b;

	/* vCPUs of unknown index are told apart by their host thread, as the rows are. */
	return left->vcpu == right->vcpu &&
	       (left->vcpu >= 0 || left->host_tid == right->host_tid) &&
	       strcmp(left->vm_uuid, right->vm_uuid) == 0;
}

static guint hash_preemptor(gconstpointer key)
{
	const struct text_preemptor *preemptor = key;

	return (guint) preemptor->tid * 31 + g_str_hash(preemptor->comm ? preemptor->comm : "");
}

static gboolean equal_preemptors(gconstpointer a, gconstpointer b)
{
	const struct text_preemptor *left = a, *right = b;

	return left->tid == right->tid && left->vcpu == right->vcpu &&
	       g_strcmp0(left->comm, right->comm) == 0 && g_strcmp0(left->vm, right->vm) == 0;
}

static void destroy_preemptor(gpointer data)
{
	struct text_preemptor *preemptor = data;

	g_free(preemptor->comm);
	g_free(preemptor->vm);
	g_free(preemptor);
}

static void destroy_vcpu(gpointer data)
{
	struct text_vcpu *vcpu = data;

	g_free(vcpu->vm_uuid);
	g_free(vcpu->vm_name);
	g_array_unref(vcpu->preemption_ns);
	g_hash_table_destroy(vcpu->preemptors);
	g_hash_table_destroy(vcpu->exits);
	g_free(vcpu);
}

static void destroy_text_vcpu_priv(void *data)
{
	struct text_vcpu_priv *priv = data;
	vmt_text_longest_destroy(priv->longest);
	g_hash_table_destroy(priv->vcpus);
	g_free(priv);
}

static void init_text_vcpu(struct vmt_writer *writer)
{
	struct text_vcpu_priv *priv = g_new0(struct text_vcpu_priv, 1);

	priv->vcpus = g_hash_table_new_full(hash_vcpu, equal_vcpus, destroy_vcpu, NULL);
	priv->longest = vmt_text_longest_create();
	priv->min_begin_ns = INT64_MAX;
	priv->max_end_ns = INT64_MIN;
	priv->max_exit_reason = -1;
	writer->priv = priv;
}

/* NULL for NULL or "": the report treats both as empty. */
static char *dup_nonempty(const char *s)
{
	return s && s[0] ? g_strdup(s) : NULL;
}

static struct text_vcpu *find_or_add_vcpu(struct text_vcpu_priv *priv,
					  const struct vmt_vcpu_row *row)
{
	struct text_vcpu key = { .vm_uuid = (char *) (row->vm_uuid ? row->vm_uuid : ""),
				 .vcpu = row->vcpu,
				 .host_tid = row->host_tid };
	struct text_vcpu *vcpu;

	if (priv->last && equal_vcpus(priv->last, &key)) {
		return priv->last;
	}
	vcpu = g_hash_table_lookup(priv->vcpus, &key);
	if (!vcpu) {
		vcpu = g_new0(struct text_vcpu, 1);
		vcpu->vm_uuid = g_strdup(key.vm_uuid);
		vcpu->vcpu = row->vcpu;
		vcpu->vm_name = dup_nonempty(row->vm_name);
		vcpu->host_tid = row->host_tid;
		vcpu->preemption_ns = g_array_new(FALSE, FALSE, sizeof(int64_t));
		vcpu->preemptors = g_hash_table_new_full(hash_preemptor, equal_preemptors,
							 destroy_preemptor, NULL);
		vcpu->exits = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
		g_hash_table_add(priv->vcpus, vcpu);
	}
	priv->last = vcpu;
	return vcpu;
}

static void add_preemptor(struct text_vcpu *vcpu, const struct vmt_vcpu_row *row,
			  int64_t duration_ns)
{
	struct text_preemptor key = {
		.tid = row->preempted_by_tid,
		.comm = (char *) (row->preempted_by_comm && row->preempted_by_comm[0] ?
					  row->preempted_by_comm :
					  NULL),
		.vm = (char *) (row->preempted_by_vm && row->preempted_by_vm[0] ?
					row->preempted_by_vm :
					NULL),
		.vcpu = row->preempted_by_vcpu,
	};
	struct text_preemptor *preemptor = g_hash_table_lookup(vcpu->preemptors, &key);

	if (!preemptor) {
		preemptor = g_new0(struct text_preemptor, 1);
		*preemptor = key;
		preemptor->comm = g_strdup(key.comm);
		preemptor->vm = g_strdup(key.vm);
		g_hash_table_add(vcpu->preemptors, preemptor);
	}
	preemptor->count++;
	preemptor->total_ns += (uint64_t) duration_ns;
}

static void add_exit(struct text_vcpu *vcpu, int64_t reason, int64_t duration_ns)
{
	struct text_exit *exit = g_hash_table_lookup(vcpu->exits, &reason);

	if (!exit) {
		exit = g_new0(struct text_exit, 1);
		exit->reason = reason;
		exit->min_ns = INT64_MAX;
		exit->max_ns = INT64_MIN;
		g_hash_table_insert(vcpu->exits, &exit->reason, exit);
	}
	exit->count++;
	exit->total_ns += (uint64_t) duration_ns;
	exit->min_ns = MIN(exit->min_ns, duration_ns);
	exit->max_ns = MAX(exit->max_ns, duration_ns);
}

/*
 * Follows exit episodes: one begins where a `running` row is followed,
 * seamlessly, by another state, and ends at the next `running` row. An
 * episode cut by a gap (a new vCPU thread) or by the end of the trace has
 * no entry and is not counted, as `perf kvm stat` does.
 */
static void track_exit_episode(struct text_vcpu *vcpu, const struct vmt_vcpu_row *row)
{
	bool is_seamless = vcpu->has_previous && row->begin_ns == vcpu->previous_end_ns &&
			   row->host_tid == vcpu->previous_host_tid;

	if (!is_seamless) {
		vcpu->is_in_episode = false;
	}
	if (row->state == VMT_VCPU_STATE_RUNNING) {
		if (vcpu->is_in_episode) {
			add_exit(vcpu, vcpu->episode_reason,
				 row->begin_ns - vcpu->episode_begin_ns);
		}
		vcpu->is_in_episode = false;
	} else if (is_seamless && vcpu->previous_state == VMT_VCPU_STATE_RUNNING) {
		vcpu->is_in_episode = true;
		vcpu->episode_begin_ns = row->begin_ns;
		vcpu->episode_reason = row->exit_reason;
	} else if (vcpu->is_in_episode && vcpu->episode_reason < 0) {
		/*
		 * The exit's own row was dropped (zero length, e.g. a switch-out at
		 * the exit's time); the switch-in row repeats the last exit reason.
		 */
		vcpu->episode_reason = row->exit_reason;
	}
	vcpu->has_previous = true;
	vcpu->previous_state = row->state;
	vcpu->previous_end_ns = row->end_ns;
	vcpu->previous_host_tid = row->host_tid;
}

static enum vmt_status write_text_vcpu_row(struct vmt_writer *writer,
					   const struct vmt_vcpu_row *row)
{
	struct text_vcpu_priv *priv = writer->priv;
	struct text_vcpu *vcpu = find_or_add_vcpu(priv, row);
	/* A negative length is corrupt input; it must not wrap the unsigned sums. */
	int64_t duration_ns = MAX(row->end_ns - row->begin_ns, 0);

	priv->row_count++;
	priv->min_begin_ns = MIN(priv->min_begin_ns, row->begin_ns);
	priv->max_end_ns = MAX(priv->max_end_ns, row->end_ns);
	priv->max_exit_reason = MAX(priv->max_exit_reason, row->exit_reason);
	vcpu->row_count++;
	vcpu->total_ns += (uint64_t) duration_ns;
	if (row->host_tid != vcpu->host_tid) {
		vcpu->has_several_host_tids = true;
	}
	if ((unsigned int) row->state < VMT_VCPU_STATE_COUNT) {
		vcpu->state_ns[row->state] += (uint64_t) duration_ns;
	}
	if (row->state == VMT_VCPU_STATE_PREEMPTED) {
		g_array_append_val(vcpu->preemption_ns, duration_ns);
		add_preemptor(vcpu, row, duration_ns);
		vmt_text_longest_offer(priv->longest, row, duration_ns);
	}
	track_exit_episode(vcpu, row);
	return VMT_STATUS_OK;
}

static int compare_vcpus(gconstpointer a, gconstpointer b)
{
	const struct text_vcpu *left = *(struct text_vcpu *const *) a;
	const struct text_vcpu *right = *(struct text_vcpu *const *) b;
	int order = strcmp(left->vm_uuid, right->vm_uuid);

	if (order != 0) {
		return order;
	}
	if (left->vcpu != right->vcpu) {
		return left->vcpu < right->vcpu ? -1 : 1;
	}
	return left->host_tid < right->host_tid ? -1 : left->host_tid > right->host_tid;
}

static int compare_i64(gconstpointer a, gconstpointer b)
{
	int64_t left = *(const int64_t *) a, right = *(const int64_t *) b;

	return left < right ? -1 : left > right;
}

/* Most preempted time first; ties by tid, for a stable report. */
static int compare_preemptors(gconstpointer a, gconstpointer b)
{
	const struct text_preemptor *left = *(struct text_preemptor *const *) a;
	const struct text_preemptor *right = *(struct text_preemptor *const *) b;

	if (left->total_ns != right->total_ns) {
		return left->total_ns > right->total_ns ? -1 : 1;
	}
	return left->tid < right->tid ? -1 : left->tid > right->tid;
}

/* Most samples first, as `perf kvm stat report` sorts by default; ties by reason. */
static int compare_exits(gconstpointer a, gconstpointer b)
{
	const struct text_exit *left = *(struct text_exit *const *) a;
	const struct text_exit *right = *(struct text_exit *const *) b;

	if (left->count != right->count) {
		return left->count > right->count ? -1 : 1;
	}
	return left->reason < right->reason ? -1 : left->reason > right->reason;
}

/* The values of `table`, sorted with `compare`; the caller unrefs the result. */
/*
 * Nearest-rank percentile of the sorted, non-empty `values`: the smallest
 * value with at least `p`% of the values at or below it. Exact, and always
 * one of the measured lengths.
 */
static int64_t percentile(const GArray *values, unsigned int p)
{
	size_t rank = ((size_t) values->len * p + 99) / 100;

	return g_array_index(values, int64_t, MAX(rank, 1) - 1);
}

static GHashTable *collect_vm_names(const GPtrArray *vcpus)
{
	GHashTable *names = g_hash_table_new(g_str_hash, g_str_equal);
	const struct text_vcpu *vcpu;
	guint i;

	for (i = 0; i < vcpus->len; i++) {
		vcpu = vcpus->pdata[i];
		if (vcpu->vm_name && !g_hash_table_contains(names, vcpu->vm_uuid)) {
			g_hash_table_insert(names, vcpu->vm_uuid, vcpu->vm_name);
		}
	}
	return names;
}

static char *host_tid_label(const struct text_vcpu *vcpu)
{
	if (vcpu->host_tid < 0) {
		return g_strdup("?");
	}
	return g_strdup_printf("%" PRId64 "%s", vcpu->host_tid,
			       vcpu->has_several_host_tids ? "+" : "");
}

static uint64_t count_exits(const struct text_vcpu *vcpu, uint64_t *total_ns)
{
	GHashTableIter iter;
	gpointer value;
	uint64_t count = 0;

	*total_ns = 0;
	g_hash_table_iter_init(&iter, vcpu->exits);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		count += ((const struct text_exit *) value)->count;
		*total_ns += ((const struct text_exit *) value)->total_ns;
	}
	return count;
}

static void write_header(struct text_report *report, const struct text_vcpu_priv *priv,
			 const GPtrArray *vcpus)
{
	const struct text_vcpu *previous = NULL, *vcpu;
	guint vm_count = 0, i;
	char *span;

	if (vcpus->len == 0) {
		g_string_append(report->buf, "vCPU states: no intervals.\n");
		return;
	}
	for (i = 0; i < vcpus->len; i++) {
		vcpu = vcpus->pdata[i];
		if (!previous || strcmp(previous->vm_uuid, vcpu->vm_uuid) != 0) {
			vm_count++;
		}
		previous = vcpu;
	}
	span = vmt_text_duration(priv->max_end_ns - priv->min_begin_ns);
	g_string_append_printf(report->buf,
			       "vCPU states: %u VMs, %u vCPUs, %" PRIu64 " intervals\n"
			       "Time: %" PRId64 " ns to %" PRId64 " ns (%s); "
			       "times \"from start\" count from %" PRId64 " ns\n\n",
			       vm_count, vcpus->len, priv->row_count, priv->min_begin_ns,
			       priv->max_end_ns, span, report->origin_ns);
	g_free(span);
}

/* One line per vCPU: where each vCPU's time went, at a glance. */
static void write_summary(struct text_report *report, const GPtrArray *vcpus)
{
	struct vmt_text_table table;
	const struct text_vcpu *vcpu;
	uint64_t exit_ns;
	guint i, state;

	vmt_text_table_init(&table, "lrrrrrrrrrr");
	vmt_text_table_add(&table, g_strdup("VM"));
	vmt_text_table_add(&table, g_strdup("vCPU"));
	vmt_text_table_add(&table, g_strdup("host tid"));
	vmt_text_table_add(&table, g_strdup("observed"));
	for (state = 0; state < VMT_VCPU_STATE_COUNT; state++) {
		vmt_text_table_add(&table, g_strdup(vmt_vcpu_state_name(state)));
	}
	vmt_text_table_add(&table, g_strdup("preemptions"));
	vmt_text_table_add(&table, g_strdup("exits"));
	for (i = 0; i < vcpus->len; i++) {
		vcpu = vcpus->pdata[i];
		vmt_text_table_add(&table, vmt_text_vm_label(vcpu->vm_name, vcpu->vm_uuid));
		vmt_text_table_add(&table, vmt_text_index_label(vcpu->vcpu));
		/* "+": the vCPU thread was re-created; the first tid is shown. */
		vmt_text_table_add(&table, host_tid_label(vcpu));
		vmt_text_table_add(&table, vmt_text_duration((int64_t) vcpu->total_ns));
		for (state = 0; state < VMT_VCPU_STATE_COUNT; state++) {
			vmt_text_table_add(&table,
					   vmt_text_share(vcpu->state_ns[state], vcpu->total_ns));
		}
		vmt_text_table_add_printf(&table, "%u", vcpu->preemption_ns->len);
		vmt_text_table_add_printf(&table, "%" PRIu64, count_exits(vcpu, &exit_ns));
	}
	vmt_text_table_write(&table, report->buf, "");
	g_string_append_c(report->buf, '\n');
	vmt_text_table_fini(&table);
}

static void write_state_table(struct text_report *report, const struct text_vcpu *vcpu)
{
	struct vmt_text_table table;
	guint state;

	vmt_text_table_init(&table, "lrr");
	vmt_text_table_add(&table, g_strdup("state"));
	vmt_text_table_add(&table, g_strdup("time"));
	vmt_text_table_add(&table, g_strdup("share"));
	for (state = 0; state < VMT_VCPU_STATE_COUNT; state++) {
		vmt_text_table_add(&table, g_strdup(vmt_vcpu_state_name(state)));
		vmt_text_table_add(&table, vmt_text_duration((int64_t) vcpu->state_ns[state]));
		vmt_text_table_add(&table, vmt_text_share(vcpu->state_ns[state], vcpu->total_ns));
	}
	vmt_text_table_write(&table, report->buf, "  ");
	vmt_text_table_fini(&table);
}

static void write_preemption_line(struct text_report *report, struct text_vcpu *vcpu)
{
	GArray *lengths = vcpu->preemption_ns;
	char *p50, *p99, *max;

	if (lengths->len == 0) {
		g_string_append(report->buf, "  preemptions: 0\n");
		return;
	}
	g_array_sort(lengths, compare_i64);
	p50 = vmt_text_duration(percentile(lengths, 50));
	p99 = vmt_text_duration(percentile(lengths, 99));
	max = vmt_text_duration(g_array_index(lengths, int64_t, lengths->len - 1));
	g_string_append_printf(report->buf, "  preemptions: %u, p50 %s, p99 %s, max %s\n",
			       lengths->len, p50, p99, max);
	g_free(p50);
	g_free(p99);
	g_free(max);
}

static void write_preemptor_table(struct text_report *report, const struct text_vcpu *vcpu)
{
	GPtrArray *preemptors = vmt_text_sorted_values(vcpu->preemptors, compare_preemptors);
	const struct text_preemptor *preemptor;
	uint64_t preempted_ns = vcpu->state_ns[VMT_VCPU_STATE_PREEMPTED];
	struct vmt_text_table table;
	guint i;

	vmt_text_table_init(&table, "llrrr");
	vmt_text_table_add(&table, g_strdup("top preemptors"));
	vmt_text_table_add(&table, g_strdup("VM vCPU"));
	vmt_text_table_add(&table, g_strdup("count"));
	vmt_text_table_add(&table, g_strdup("time"));
	vmt_text_table_add(&table, g_strdup("share"));
	for (i = 0; i < preemptors->len && i < VMT_TEXT_TOP_COUNT; i++) {
		preemptor = preemptors->pdata[i];
		vmt_text_table_add(&table, vmt_text_thread_label(preemptor->tid, preemptor->comm));
		vmt_text_table_add(&table, vmt_text_vcpu_label(report->vm_names, preemptor->vm,
							       preemptor->vcpu));
		vmt_text_table_add_printf(&table, "%" PRIu64, preemptor->count);
		vmt_text_table_add(&table, vmt_text_duration((int64_t) preemptor->total_ns));
		/* Share of this vCPU's preempted time. */
		vmt_text_table_add(&table, vmt_text_share(preemptor->total_ns, preempted_ns));
	}
	if (preemptors->len > 0) {
		vmt_text_table_write(&table, report->buf, "  ");
	}
	vmt_text_table_fini(&table);
	g_ptr_array_unref(preemptors);
}

static void add_exit_cells(struct vmt_text_table *table, const struct text_report *report,
			   const struct text_exit *exit, uint64_t count, uint64_t total_ns)
{
	vmt_text_table_add(table, vmt_text_exit_reason_label(exit->reason, report->is_svm));
	vmt_text_table_add_printf(table, "%" PRIu64, exit->count);
	vmt_text_table_add(table, vmt_text_share(exit->count, count));
	vmt_text_table_add(table, vmt_text_share(exit->total_ns, total_ns));
	vmt_text_table_add(table, vmt_text_duration(exit->min_ns));
	vmt_text_table_add(table, vmt_text_duration(exit->max_ns));
	vmt_text_table_add(table, vmt_text_duration((int64_t) (exit->total_ns / exit->count)));
}

/* The columns and footer of `perf kvm stat report` (lttng-kvm-events §11). */
static void write_exit_table(struct text_report *report, const struct text_vcpu *vcpu)
{
	static const char *const headers[] = { "VM-EXIT",  "Samples",  "Samples%", "Time%",
					       "Min Time", "Max Time", "Avg time" };
	GPtrArray *exits = vmt_text_sorted_values(vcpu->exits, compare_exits);
	struct vmt_text_table table;
	uint64_t total_ns, count = count_exits(vcpu, &total_ns);
	char *total;
	guint i;

	if (count == 0) {
		g_string_append(report->buf, "  exits: no complete exit-to-entry episode\n");
		goto end;
	}
	g_string_append(report->buf,
			"  exits (time from the exit to the next entry, preemption included)\n");
	vmt_text_table_init(&table, "lrrrrrr");
	for (i = 0; i < VMT_ARRAY_SIZE(headers); i++) {
		vmt_text_table_add(&table, g_strdup(headers[i]));
	}
	for (i = 0; i < exits->len; i++) {
		add_exit_cells(&table, report, exits->pdata[i], count, total_ns);
	}
	vmt_text_table_write(&table, report->buf, "  ");
	vmt_text_table_fini(&table);
	total = vmt_text_duration((int64_t) total_ns);
	g_string_append_printf(report->buf,
			       "  Total Samples: %" PRIu64 ", Total events handled time: %s\n",
			       count, total);
	g_free(total);
end:
	g_ptr_array_unref(exits);
}

static void write_vcpu_section(struct text_report *report, struct text_vcpu *vcpu)
{
	char *vm = vmt_text_vm_label(vcpu->vm_name, vcpu->vm_uuid);
	char *uuid = vmt_text_sanitize(vcpu->vm_uuid);
	char *index = vmt_text_index_label(vcpu->vcpu);
	char *tid = host_tid_label(vcpu);
	char *observed = vmt_text_duration((int64_t) vcpu->total_ns);

	g_string_append_printf(report->buf,
			       "VM %s (%s), vCPU %s, host tid %s: %s observed, %" PRIu64
			       " intervals\n",
			       vm, uuid, index, tid, observed, vcpu->row_count);
	write_state_table(report, vcpu);
	write_preemption_line(report, vcpu);
	write_preemptor_table(report, vcpu);
	write_exit_table(report, vcpu);
	g_string_append_c(report->buf, '\n');
	g_free(vm);
	g_free(uuid);
	g_free(index);
	g_free(tid);
	g_free(observed);
}

static bool resolve_is_svm(const struct vmt_writer *writer, const struct text_vcpu_priv *priv)
{
	switch (writer->exit_isa) {
	case VMT_WRITER_EXIT_ISA_VMX:
		return false;
	case VMT_WRITER_EXIT_ISA_SVM:
		return true;
	case VMT_WRITER_EXIT_ISA_AUTO:
		break;
	}
	return priv->max_exit_reason >= VMT_TEXT_SVM_THRESHOLD;
}

static enum vmt_status finish_text_vcpu(struct vmt_writer *writer)
{
	struct text_vcpu_priv *priv = writer->priv;
	GPtrArray *vcpus = vmt_text_sorted_values(priv->vcpus, compare_vcpus);
	struct text_report report = {
		.buf = writer->buf,
		.is_svm = resolve_is_svm(writer, priv),
		.origin_ns = writer->has_origin ? writer->origin_ns : priv->min_begin_ns,
		.vm_names = collect_vm_names(vcpus),
	};
	enum vmt_status status = VMT_STATUS_OK;
	guint i;

	write_header(&report, priv, vcpus);
	if (vcpus->len > 0) {
		write_summary(&report, vcpus);
	}
	for (i = 0; i < vcpus->len && status == VMT_STATUS_OK; i++) {
		write_vcpu_section(&report, vcpus->pdata[i]);
		/* Hands each section over: the report never sits whole in memory. */
		status = vmt_writer_commit(writer);
	}
	if (status == VMT_STATUS_OK) {
		vmt_text_longest_write(priv->longest, writer->buf, report.origin_ns,
				       report.vm_names);
	}
	g_hash_table_destroy(report.vm_names);
	g_ptr_array_unref(vcpus);
	return status;
}

const struct vmt_writer_ops vmt_writer_text_vcpu_ops = {
	.name = "text",
	.init = init_text_vcpu,
	.write_vcpu_row = write_text_vcpu_row,
	.write_pcpu_row = NULL,
	.finish = finish_text_vcpu,
	.destroy_priv = destroy_text_vcpu_priv,
};
