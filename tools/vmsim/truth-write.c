/* SPDX-License-Identifier: MIT */
/*
 * Truth CSV files, written from the spooled rows with the final identity
 * knowledge (semantics.md §2 "retroactive"): vcpu-intervals.csv (SPEC §5
 * columns, sorted by vm_uuid, vcpu, begin_ns), pcpu-intervals.csv
 * (semantics §6, sorted by pcpu, begin_ns) and guest-events/<host>.csv.
 * Rows whose columns (times apart) equal those of the previous row of the
 * same sequence and that touch it are merged, so rows are maximal.
 */
#include <errno.h>
#include <string.h>

#include "truth.h"

static const char *const tstate_names[] = { "",	       "running", "hypervisor", "preempted", "idle",
					    "blocked", "" };

const char *vmsim_tstate_name(int state)
{
	return tstate_names[state];
}

static void csv_field(FILE *out, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"') {
			fputc('"', out);
		}
		fputc(*s, out);
	}
	fputc('"', out);
}

static void csv_str(GString *g, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		g_string_append(g, s);
		return;
	}
	g_string_append_c(g, '"');
	for (; *s; s++) {
		if (*s == '"') {
			g_string_append_c(g, '"');
		}
		g_string_append_c(g, *s);
	}
	g_string_append_c(g, '"');
}

bool vmsim_truth_vm_matched(const struct vmsim *sim, const struct vmsim_vm *vm)
{
	const struct vmsim_tvm *tv = &sim->truth->vms[vm->idx];

	if (!vm->has_guest || !sim->traces[vm->trace]->begun) {
		return false;
	}
	if ((vm->uuid_via & VMSIM_UUID_PRODUCT) && tv->ust_uuid) {
		return true;
	}
	return tv->guest_uid && tv->host_uid;
}

static bool vm_uuid_known(const struct vmsim *sim, const struct vmsim_vm *vm)
{
	return sim->truth->vms[vm->idx].ust_uuid ||
	       ((vm->uuid_via & VMSIM_UUID_PRODUCT) && vmsim_truth_vm_matched(sim, vm));
}

const char *vmsim_truth_vm_uuid(const struct vmsim *sim, const struct vmsim_vm *vm, char *buf,
				size_t len)
{
	if (vm_uuid_known(sim, vm)) {
		g_strlcpy(buf, vm->uuid, len);
	} else {
		g_snprintf(buf, len, "pid:%" PRId32, vm->pid);
	}
	return buf;
}

const char *vmsim_truth_vm_name(const struct vmsim *sim, const struct vmsim_vm *vm)
{
	return vmsim_truth_vm_matched(sim, vm) ? vm->name : vm->main_thread->final_comm;
}

static const struct vmsim_tthread *known_vcpu(const struct vmsim *sim, int32_t id)
{
	const struct vmsim_thread *th = id >= 0 ? g_ptr_array_index(sim->threads, id) : NULL;

	if (!th || th->kind != VMSIM_TK_VCPU || !sim->truth->threads[id].identified) {
		return NULL;
	}
	return &sim->truth->threads[id];
}

static int32_t vcpu_index(const struct vmsim *sim, int32_t id)
{
	const struct vmsim_tthread *tt = known_vcpu(sim, id);
	const struct vmsim_thread *th = g_ptr_array_index(sim->threads, id);

	return tt && (tt->name_seen || tt->index_known) ? th->vcpu : -1;
}

static FILE *open_out(const struct vmsim *sim, const char *rel)
{
	gchar *path = g_build_filename(sim->out_dir, "truth", rel, NULL);
	gchar *dir = g_path_get_dirname(path);
	FILE *f = NULL;

	if (g_mkdir_with_parents(dir, 0755) == 0) {
		f = fopen(path, "w");
	}
	if (!f) {
		fprintf(stderr, "vmsim: cannot write %s: %s\n", path, g_strerror(errno));
	}
	g_free(dir);
	g_free(path);
	return f;
}

/* A row being merged: `head` and `tail` are the columns around the times. */
struct pending {
	GString *head, *tail;
	int64_t begin, end;
	bool valid;
};

static void pending_flush(const struct vmsim *sim, struct pending *pd, FILE *out)
{
	if (!pd->valid) {
		return;
	}
	fprintf(out, "%s%" PRId64 ",%" PRId64 ",%" PRId64 ",%s\n", pd->head->str,
		sim->host_origin_ns + pd->begin, sim->host_origin_ns + pd->end, pd->end - pd->begin,
		pd->tail->str);
	pd->valid = false;
}

static void pending_add(const struct vmsim *sim, struct pending *pd, FILE *out, const GString *head,
			const GString *tail, int64_t begin, int64_t end)
{
	if (pd->valid && pd->end == begin && !strcmp(pd->head->str, head->str) &&
	    !strcmp(pd->tail->str, tail->str)) {
		pd->end = end;
		return;
	}
	pending_flush(sim, pd, out);
	g_string_assign(pd->head, head->str);
	g_string_assign(pd->tail, tail->str);
	pd->begin = begin;
	pd->end = end;
	pd->valid = true;
}

/* ---- vcpu-intervals.csv ---- */

struct vkey {
	char uuid[48];
	int32_t vcpu, tid, id;
	struct vmsim_vrow row; /* Next row of this thread (k-way merge). */
	bool has_row;
};

static int vkey_cmp(const void *a, const void *b)
{
	const struct vkey *x = a, *y = b;
	int c = strcmp(x->uuid, y->uuid);

	if (c) {
		return c;
	}
	if (x->vcpu != y->vcpu) {
		return x->vcpu < y->vcpu ? -1 : 1;
	}
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

static void vkey_next(const struct vmsim *sim, struct vkey *k)
{
	FILE *f = sim->truth->threads[k->id].rows;

	k->has_row = fread(&k->row, sizeof(k->row), 1, f) == 1;
}

static void format_vrow(const struct vmsim *sim, const struct vkey *k, GString *head, GString *tail)
{
	const struct vmsim_thread *th = g_ptr_array_index(sim->threads, k->id);
	const struct vmsim_vrow *r = &k->row;
	const struct vmsim_thread *pre =
		r->preemptor >= 0 ? g_ptr_array_index(sim->threads, r->preemptor) : NULL;
	char buf[48];

	g_string_truncate(head, 0);
	g_string_truncate(tail, 0);
	g_string_append_printf(head, "%s,", k->uuid);
	csv_str(head, vmsim_truth_vm_name(sim, th->vm));
	g_string_append_printf(head, ",%" PRId32 ",%s,", k->vcpu, vmsim_tstate_name(r->state));
	g_string_append_printf(tail, "%" PRId32 ",%" PRId32 ",", th->tid, r->pcpu);
	if (r->exit_reason >= 0 && r->state != TSTATE_RUNNING && r->state != TSTATE_PREEMPTED) {
		g_string_append_printf(tail, "%" PRId32, r->exit_reason);
	}
	g_string_append_c(tail, ',');
	if (r->has_pre) {
		g_string_append_printf(tail, "%" PRId32 ",", r->pre_tid);
		csv_str(tail, r->pre_comm);
	} else {
		g_string_append_c(tail, ',');
	}
	g_string_append_c(tail, ',');
	if (r->has_pre && known_vcpu(sim, r->preemptor)) {
		g_string_append_printf(tail, "%s,%" PRId32,
				       vmsim_truth_vm_uuid(sim, pre->vm, buf, sizeof(buf)),
				       vcpu_index(sim, r->preemptor));
	} else {
		g_string_append_c(tail, ',');
	}
	g_string_append_c(tail, ',');
	if (r->has_pre && r->has_guest && k->vcpu >= 0 && vmsim_truth_vm_matched(sim, th->vm)) {
		g_string_append_printf(tail, "%" PRId32 ",", r->g_tid);
		csv_str(tail, r->g_comm);
	} else {
		g_string_append_c(tail, ',');
	}
}

/* Writes the rows of keys [from, to) (one vm_uuid, vcpu), merged by time. */
static void write_vgroup(const struct vmsim *sim, struct vkey *keys, guint from, guint to,
			 FILE *out, struct pending *pd)
{
	GString *head = g_string_new(NULL), *tail = g_string_new(NULL);

	for (guint i = from; i < to; i++) {
		rewind(sim->truth->threads[keys[i].id].rows);
		vkey_next(sim, &keys[i]);
	}
	for (;;) {
		struct vkey *best = NULL;

		for (guint i = from; i < to; i++) {
			if (keys[i].has_row && (!best || keys[i].row.begin < best->row.begin)) {
				best = &keys[i];
			}
		}
		if (!best) {
			break;
		}
		format_vrow(sim, best, head, tail);
		pending_add(sim, pd, out, head, tail, best->row.begin, best->row.end);
		vkey_next(sim, best);
	}
	pending_flush(sim, pd, out);
	g_string_free(head, TRUE);
	g_string_free(tail, TRUE);
}

static bool write_vcpu_csv(const struct vmsim *sim)
{
	FILE *out = open_out(sim, "vcpu-intervals.csv");
	GArray *keys = g_array_new(FALSE, TRUE, sizeof(struct vkey));
	struct pending pd = { g_string_new(NULL), g_string_new(NULL), 0, 0, false };
	guint from = 0;

	if (!out) {
		return false;
	}
	fputs("vm_uuid,vm_name,vcpu,state,begin_ns,end_ns,duration_ns,host_tid,pcpu,exit_reason,"
	      "preempted_by_tid,preempted_by_comm,preempted_by_vm,preempted_by_vcpu,guest_tid,"
	      "guest_comm\n",
	      out);
	for (guint id = 0; id < sim->truth->nthreads; id++) {
		const struct vmsim_thread *th = g_ptr_array_index(sim->threads, id);
		struct vkey k = { .id = (int32_t) id, .tid = th->tid, .vcpu = vcpu_index(sim, id) };

		if (!sim->truth->threads[id].nrows) {
			continue;
		}
		vmsim_truth_vm_uuid(sim, th->vm, k.uuid, sizeof(k.uuid));
		g_array_append_val(keys, k);
	}
	qsort(keys->data, keys->len, sizeof(struct vkey), vkey_cmp);
	for (guint i = 1; i <= keys->len; i++) {
		struct vkey *a = &g_array_index(keys, struct vkey, from);

		if (i == keys->len || strcmp(a->uuid, g_array_index(keys, struct vkey, i).uuid) ||
		    a->vcpu != g_array_index(keys, struct vkey, i).vcpu) {
			write_vgroup(sim, (struct vkey *) (void *) keys->data, from, i, out, &pd);
			from = i;
		}
	}
	g_array_free(keys, TRUE);
	g_string_free(pd.head, TRUE);
	g_string_free(pd.tail, TRUE);
	return fclose(out) == 0;
}

/* ---- pcpu-intervals.csv ---- */

static void format_prow(const struct vmsim *sim, int p, const struct vmsim_prow *r, GString *head,
			GString *tail)
{
	const struct vmsim_thread *th = g_ptr_array_index(sim->threads, r->cur);
	bool is_vcpu = known_vcpu(sim, r->cur) != NULL;
	int32_t index = is_vcpu ? vcpu_index(sim, r->cur) : -1;
	char buf[48];

	g_string_printf(head, "%d,", p);
	g_string_printf(tail, "%s,%" PRId32 ",",
			r->running ? "guest" :
			is_vcpu	   ? "hypervisor" :
				     "host",
			th->tid);
	csv_str(tail, r->comm);
	g_string_append_c(tail, ',');
	if (is_vcpu) {
		g_string_append_printf(tail, "%s,",
				       vmsim_truth_vm_uuid(sim, th->vm, buf, sizeof(buf)));
		csv_str(tail, vmsim_truth_vm_name(sim, th->vm));
		g_string_append_printf(tail, ",%" PRId32 ",", index);
	} else {
		g_string_append(tail, ",,,");
	}
	if (r->running && r->has_guest && index >= 0 && vmsim_truth_vm_matched(sim, th->vm)) {
		g_string_append_printf(tail, "%" PRId32 ",", r->g_tid);
		csv_str(tail, r->g_comm);
	} else {
		g_string_append_c(tail, ',');
	}
}

static bool write_pcpu_csv(const struct vmsim *sim)
{
	FILE *out = open_out(sim, "pcpu-intervals.csv");
	struct pending pd = { g_string_new(NULL), g_string_new(NULL), 0, 0, false };
	GString *head = g_string_new(NULL), *tail = g_string_new(NULL);
	struct vmsim_prow r;

	if (!out) {
		return false;
	}
	fputs("pcpu,begin_ns,end_ns,duration_ns,level,host_tid,host_comm,vm_uuid,vm_name,vcpu,"
	      "guest_tid,guest_comm\n",
	      out);
	for (int p = 0; p < sim->k.pcpus; p++) {
		FILE *f = sim->truth->pcpus[p].rows;

		rewind(f);
		while (fread(&r, sizeof(r), 1, f) == 1) {
			format_prow(sim, p, &r, head, tail);
			pending_add(sim, &pd, out, head, tail, r.begin, r.end);
		}
		pending_flush(sim, &pd, out);
	}
	g_string_free(head, TRUE);
	g_string_free(tail, TRUE);
	g_string_free(pd.head, TRUE);
	g_string_free(pd.tail, TRUE);
	return fclose(out) == 0;
}

/* ---- guest-events/<hostname>.csv ---- */

static void write_grow(const struct vmsim *sim, const struct vmsim_vm *vm,
		       const struct vmsim_grow *g, FILE *out)
{
	bool matched = vmsim_truth_vm_matched(sim, vm);
	bool tagged = matched && vcpu_index(sim, g->thread) >= 0;
	const struct vmsim_thread *th = g_ptr_array_index(sim->threads, g->thread);

	fprintf(out, "%" PRId32 ",%" PRIu64 ",", g->cpu, g->index);
	csv_field(out, vmsim_event_name(sim, (enum vmsim_kind) g->kind));
	fprintf(out,
		",%" PRId64 ",%" PRId64 ",%s,%" PRId32 ",%" PRId32 ",%" PRId32 ",%" PRId32 ",%s\n",
		g->recorded_nfo, sim->host_origin_ns + g->true_t,
		matched && vm_uuid_known(sim, vm) ? vm->uuid : "", matched ? vm->pid : -1,
		tagged ? th->tid : -1, g->cpu, tagged ? g->pcpu : -1,
		tagged ? vmsim_tstate_name(g->state) : "");
}

static bool write_guest_csv(const struct vmsim *sim, const struct vmsim_vm *vm)
{
	gchar *rel = g_strdup_printf("guest-events/%s.csv", vm->name);
	FILE *out = open_out(sim, rel);
	struct vmsim_grow g;

	g_free(rel);
	if (!out) {
		return false;
	}
	fputs("cpu,index,name,recorded_ns,true_host_ns,uuid,host_pid,host_tid,vcpu,pcpu,"
	      "host_state\n",
	      out);
	for (int c = 0; c < vm->nvcpus; c++) {
		FILE *f = sim->truth->vms[vm->idx].gcpus[c].events;

		rewind(f);
		while (fread(&g, sizeof(g), 1, f) == 1) {
			write_grow(sim, vm, &g, out);
		}
	}
	return fclose(out) == 0;
}

bool vmsim_truth_write_csvs(struct vmsim *sim)
{
	if (!write_vcpu_csv(sim) || !write_pcpu_csv(sim)) {
		return false;
	}
	for (int i = 0; i < sim->nvms; i++) {
		const struct vmsim_vm *vm = sim->vms[i];

		if (vm->has_guest && sim->traces[vm->trace]->begun && !write_guest_csv(sim, vm)) {
			return false;
		}
	}
	return true;
}
