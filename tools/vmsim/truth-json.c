/* SPDX-License-Identifier: MIT */
/*
 * truth/scenario.json: the resolved knobs, event counts, machines and their
 * traces and clocks, VM instances and their threads, and each guest's true
 * clock relation (recorded guest ns from origin -> true host ns from
 * origin) as an exact rational line.
 */
#include <errno.h>
#include <string.h>

#include "truth.h"

void vmsim_json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char) *s;

		if (c == '"' || c == '\\') {
			fprintf(out, "\\%c", c);
		} else if (c < 0x20) {
			fprintf(out, "\\u%04x", c);
		} else {
			fputc(c, out);
		}
	}
	fputc('"', out);
}

static const char *domain_of(const struct vmsim_trace *tr)
{
	return tr->kind == VMSIM_TRACE_HOST_UST ? "ust" : "kernel";
}

static void write_trace(const struct vmsim *sim, const struct vmsim_trace *tr, FILE *out, bool last)
{
	bool first = true;

	fprintf(out, "        {\"path\": ");
	vmsim_json_string(out, tr->rel_path);
	fprintf(out, ", \"domain\": \"%s\", \"events\": %" PRIu64 ",\n", domain_of(tr), tr->events);
	fprintf(out,
		"         \"clock_uuid\": \"%s\", \"clock_offset_ns\": %" PRId64
		", \"clock_offset_s\": %" PRId64 ", \"clock_offset_cycles\": %" PRId64 ",\n",
		tr->clock_uuid, tr->offset_ns, tr->offset_ns / 1000000000,
		tr->offset_ns % 1000000000);
	fprintf(out, "         \"start_ns\": %" PRId64 ", \"end_ns\": %" PRId64 ",\n",
		sim->host_origin_ns + tr->start_t, sim->host_origin_ns + tr->end_t);
	fprintf(out, "         \"event_counts\": {");
	for (int k = 0; k < VMSIM_EV_COUNT; k++) {
		if (tr->kind_counts[k]) {
			fprintf(out, "%s\"%s\": %" PRIu64, first ? "" : ", ",
				vmsim_event_name(sim, (enum vmsim_kind) k), tr->kind_counts[k]);
			first = false;
		}
	}
	fprintf(out, "}}%s\n", last ? "" : ",");
}

static void write_machine(const struct vmsim *sim, FILE *out, const char *hostname,
			  const char *role, const int *idx, int n, bool last)
{
	fprintf(out, "    {\"hostname\": ");
	vmsim_json_string(out, hostname);
	fprintf(out, ", \"role\": \"%s\", \"clock_uuid\": \"%s\",\n      \"traces\": [\n", role,
		sim->traces[idx[0]]->clock_uuid);
	for (int i = 0; i < n; i++) {
		write_trace(sim, sim->traces[idx[i]], out, i == n - 1);
	}
	fprintf(out, "      ]}%s\n", last ? "" : ",");
}

static void write_machines(const struct vmsim *sim, FILE *out)
{
	int host[2] = { 0, sim->ust_trace }, nguests = 0, done = 0;

	for (int i = 0; i < sim->ntraces; i++) {
		nguests += sim->traces[i]->kind == VMSIM_TRACE_GUEST && sim->traces[i]->begun;
	}
	fprintf(out, "  \"machines\": [\n");
	write_machine(sim, out, sim->k.hostname, "host", host,
		      sim->ust_trace >= 0 && sim->traces[sim->ust_trace]->begun ? 2 : 1,
		      nguests == 0);
	for (int i = 0; i < sim->ntraces; i++) {
		const struct vmsim_trace *tr = sim->traces[i];

		if (tr->kind == VMSIM_TRACE_GUEST && tr->begun) {
			write_machine(sim, out, tr->hostname, "guest", &i, 1, ++done == nguests);
		}
	}
	fprintf(out, "  ],\n");
}

static void write_time_or_null(const struct vmsim *sim, FILE *out, const char *key, int64_t t,
			       bool valid)
{
	if (valid) {
		fprintf(out, "\"%s\": %" PRId64, key, sim->host_origin_ns + t);
	} else {
		fprintf(out, "\"%s\": null", key);
	}
}

static void write_threads(const struct vmsim *sim, const struct vmsim_vm *vm, FILE *out)
{
	fprintf(out, "      \"vcpus\": [\n");
	for (int i = 0; i < vm->nvcpus; i++) {
		const struct vmsim_thread *th = vm->vcpus[i];
		/* Threads of the statedump were born before the trace: null. */
		bool born = !th->in_statedump && th->born_t != VMSIM_T_NEVER &&
			    th->born_t <= sim->t_end;

		fprintf(out,
			"        {\"index\": %d, \"entry_vcpu_id\": %" PRIu32 ", \"threads\": "
			"[{\"tid\": %" PRId32 ", \"comm\": ",
			i, !strcmp(sim->k.entry_vcpu_id, "pointer") ? th->vcpu_ptr : (uint32_t) i,
			th->tid);
		vmsim_json_string(out, th->final_comm);
		fprintf(out, ", ");
		write_time_or_null(sim, out, "born_ns", th->born_t, born);
		fprintf(out, ", ");
		write_time_or_null(sim, out, "died_ns", th->died_t, th->died_t >= 0);
		fprintf(out, ", \"in_statedump\": %s}]}%s\n", th->in_statedump ? "true" : "false",
			i + 1 < vm->nvcpus ? "," : "");
	}
	fprintf(out, "      ],\n");
}

static void write_delivery(const struct vmsim_vm *vm, FILE *out)
{
	const char *ust = vm->create_t < 0 ? "statedump" : "udev";

	fprintf(out, "      \"uuid_delivery\": [%s%s%s%s%s],\n",
		vm->uuid_via & VMSIM_UUID_UST ? "\"" : "", vm->uuid_via & VMSIM_UUID_UST ? ust : "",
		vm->uuid_via & VMSIM_UUID_UST ? "\"" : "",
		(vm->uuid_via & VMSIM_UUID_UST) && (vm->uuid_via & VMSIM_UUID_PRODUCT) ? ", " : "",
		vm->uuid_via & VMSIM_UUID_PRODUCT ? "\"product_uuid\"" : "");
}

static void write_vm(const struct vmsim *sim, const struct vmsim_vm *vm, FILE *out, bool last)
{
	static const char *const sync_names[] = { "full", "hypercall", "none" };
	bool forked = vm->create_t < 0 || (vm->forked_t > 0 && vm->forked_t <= sim->t_end);
	char buf[48];

	fprintf(out, "    {\"name\": ");
	vmsim_json_string(out, vm->name);
	fprintf(out,
		", \"uuid\": \"%s\", \"vm_uid\": %" PRIu64 ", \"qemu_pid\": %" PRId32
		", \"nvcpus\": %d,\n      ",
		vm->uuid, vm->vm_uid, vm->pid, vm->nvcpus);
	write_time_or_null(sim, out, "created_ns", vm->forked_t, vm->create_t >= 0 && forked);
	fprintf(out, ", ");
	write_time_or_null(sim, out, "destroyed_ns", vm->died_t, vm->died_t > 0);
	fprintf(out, ", \"exists_at_start\": %s, \"reuses_vm\": %d,\n",
		vm->create_t < 0 ? "true" : "false", vm->reuse_of);
	write_delivery(vm, out);
	fprintf(out,
		"      \"sync_mode\": \"%s\", \"sync_period_ns\": %" PRId64
		", \"exchanges\": %" PRIu64 ", \"kicks\": %" PRIu64 ",\n",
		sync_names[vm->sync], vm->sync_period_ns, vm->exchanges, vm->kicks);
	fprintf(out, "      \"guest_hostname\": ");
	if (vm->has_guest && sim->traces[vm->trace]->begun) {
		vmsim_json_string(out, vm->name);
	} else {
		fputs("null", out);
	}
	if (sim->truth) {
		fprintf(out, ",\n      \"truth_vm_uuid\": \"%s\", \"truth_vm_name\": ",
			vmsim_truth_vm_uuid(sim, vm, buf, sizeof(buf)));
		vmsim_json_string(out, vmsim_truth_vm_name(sim, vm));
		fprintf(out, ", \"guest_matched\": %s",
			vmsim_truth_vm_matched(sim, vm) ? "true" : "false");
	}
	fprintf(out, ",\n");
	write_threads(sim, vm, out);
	fprintf(out, "      \"qemu_threads\": [%" PRId32 ", %" PRId32 "]}%s\n",
		vm->main_thread->tid, vm->io_thread->tid, last ? "" : ",");
}

static int64_t gcd64(int64_t a, int64_t b)
{
	while (b) {
		int64_t t = a % b;

		a = b;
		b = t;
	}
	return a < 0 ? -a : a;
}

static void write_relation(const struct vmsim *sim, const struct vmsim_vm *vm, FILE *out)
{
	const struct vmsim_trace *tr = sim->traces[vm->trace];
	int64_t num = 1000000000, den = 1000000000 + vm->drift_ppb, g = gcd64(num, den);
	int64_t g_ref = tr->offset_ns + vm->ref_mono;
	int64_t h_ref = sim->host_origin_ns + vm->ref_t;
	/* beta = h_ref - g_ref * num / den, rounded to the nearest ns. */
	__int128 bnum = (__int128) h_ref * (den / g) - (__int128) g_ref * (num / g);
	__int128 d = den / g;
	__int128 beta = (bnum >= 0 ? bnum + d / 2 : bnum - d / 2) / d;

	fprintf(out,
		"      \"clock_relation\": {\"slope_num\": %" PRId64 ", \"slope_den\": %" PRId64
		", \"ref_guest_ns\": %" PRId64 ", \"ref_host_ns\": %" PRId64
		", \"alpha\": %.17g, \"beta_ns\": %" PRId64 "},\n",
		num / g, den / g, g_ref, h_ref, (double) num / (double) den, (int64_t) beta);
}

/*
 * A slewed guest clock is not linear: `clock_relation` then holds its linear
 * part only, and `slew` lists the knots where the rate changes (true host
 * ns, recorded guest ns, the rate in ppb until the next knot), exact to the
 * ns, over the guest trace's life. Nothing is written for a linear clock,
 * so that the files of existing scenarios do not change.
 */
static void write_slew(const struct vmsim *sim, const struct vmsim_vm *vm, FILE *out)
{
	const struct vmsim_trace *tr = sim->traces[vm->trace];
	int64_t end_t = MIN(tr->end_t, sim->end_t);
	const char *sep = "";

	if (!vm->slew_rates_ppb) {
		return;
	}
	fprintf(out,
		"      \"clock_is_linear\": false, \"slew\": {\"slew_ppm\": %.17g, \"step_ns\": %" PRId64
		", \"steps_per_period\": %" PRId64 ", \"knots\": [",
		vm->slew_ppm, vm->slew_step_ns, vm->slew_steps);
	for (int64_t k = 0; vm->ref_t + k * vm->slew_step_ns <= end_t && k < 1000000; k++) {
		int64_t t = vm->ref_t + k * vm->slew_step_ns;

		fprintf(out, "%s[%" PRId64 ", %" PRId64 ", %" PRId64 "]", sep,
			sim->host_origin_ns + t, tr->offset_ns + vmsim_guest_mono(vm, t),
			vm->drift_ppb + vm->slew_rates_ppb[k % vm->slew_steps]);
		sep = ", ";
	}
	fprintf(out, "]},\n");
}

static void write_guest(const struct vmsim *sim, const struct vmsim_vm *vm, FILE *out, bool last)
{
	const struct vmsim_trace *tr = sim->traces[vm->trace];

	fprintf(out, "    {\"hostname\": ");
	vmsim_json_string(out, vm->name);
	fprintf(out, ", \"vm\": ");
	vmsim_json_string(out, vm->name);
	fprintf(out, ", \"trace\": ");
	vmsim_json_string(out, tr->rel_path);
	fprintf(out, ",\n");
	write_relation(sim, vm, out);
	fprintf(out,
		"      \"drift_ppm\": %.17g, \"drift_ppb\": %" PRId64
		", \"true_offset_ns\": %" PRId64 ", \"recorded_offset_ns\": %" PRId64
		", \"recorded_error_ns\": %" PRId64 ",\n",
		vm->drift_ppm, vm->drift_ppb, sim->host_origin_ns + vm->ref_t - vm->ref_mono,
		tr->offset_ns, vm->error_ns);
	write_slew(sim, vm, out);
	fprintf(out,
		"      \"product_uuid\": %s, \"vm_uid\": %s, \"start_ns\": %" PRId64
		", \"end_ns\": %" PRId64 "}%s\n",
		vm->uuid_via & VMSIM_UUID_PRODUCT ? "true" : "false",
		vm->sync != VMSIM_SYNC_NONE ? "true" : "false", sim->host_origin_ns + tr->start_t,
		sim->host_origin_ns + tr->end_t, last ? "" : ",");
}

static void write_vms_and_guests(const struct vmsim *sim, FILE *out)
{
	int nguests = 0, done = 0;

	fprintf(out, "  \"vms\": [\n");
	for (int i = 0; i < sim->nvms; i++) {
		write_vm(sim, sim->vms[i], out, i == sim->nvms - 1);
		nguests += sim->vms[i]->has_guest && sim->traces[sim->vms[i]->trace]->begun;
	}
	fprintf(out, "  ],\n  \"guests\": [\n");
	for (int i = 0; i < sim->nvms; i++) {
		const struct vmsim_vm *vm = sim->vms[i];

		if (vm->has_guest && sim->traces[vm->trace]->begun) {
			write_guest(sim, vm, out, ++done == nguests);
		}
	}
	fprintf(out, "  ]\n");
}

static void write_header(const struct vmsim *sim, FILE *out)
{
	fprintf(out, "{\n  \"generator\": \"vmsim\",\n  \"scenario\": ");
	vmsim_json_string(out, sim->scenario);
	fprintf(out, ",\n  \"seed\": %" PRIu64 ",\n  \"truth\": \"%s\",\n", sim->k.seed,
		sim->truth_mode == 2 ? "full" : "summary");
	fprintf(out, "  \"knobs\": {\n");
	vmsim_knobs_write_json(&sim->k, out, "    ");
	fprintf(out, "  },\n");
	fprintf(out, "  \"host_start_ns\": %" PRId64 ", \"host_end_ns\": %" PRId64 ",\n",
		sim->host_origin_ns, sim->host_origin_ns + sim->t_end);
	fprintf(out, "  \"event_counts\": {\"total\": %" PRIu64 ", \"by_trace\": {", sim->released);
	for (int i = 0, first = 1; i < sim->ntraces; i++) {
		if (sim->traces[i]->begun) {
			fprintf(out, "%s", first ? "" : ", ");
			vmsim_json_string(out, sim->traces[i]->rel_path);
			fprintf(out, ": %" PRIu64, sim->traces[i]->events);
			first = 0;
		}
	}
	fprintf(out, "}},\n");
}

bool vmsim_truth_write_json(struct vmsim *sim)
{
	gchar *dir = g_build_filename(sim->out_dir, "truth", NULL);
	gchar *path = g_build_filename(dir, "scenario.json", NULL);
	FILE *out = NULL;
	bool ok = false;

	if (g_mkdir_with_parents(dir, 0755) == 0) {
		out = fopen(path, "w");
	}
	if (!out) {
		fprintf(stderr, "vmsim: cannot write %s: %s\n", path, g_strerror(errno));
		goto end;
	}
	write_header(sim, out);
	write_machines(sim, out);
	write_vms_and_guests(sim, out);
	fprintf(out, "}\n");
	ok = fclose(out) == 0;
end:
	g_free(path);
	g_free(dir);
	return ok;
}
