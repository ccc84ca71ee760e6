/* SPDX-License-Identifier: MIT */
/*
 * The simulated world: host threads, QEMU processes and their vCPU
 * threads, guests and their clocks, traces and their directories.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vmsim.h"

/* Host user tasks; some comms carry commas and double quotes for CSV tests. */
static const char *const user_comms[] = {
	"sshd",	   "bash",	   "systemd-journal", "cut -d, -f1", "say \"hi\",bye", "nginx",
	"python3", "\"quoted\",x", "rsyslogd",	      "cron",	     "node",	       "sleep",
};

static const char *const hog_comms[] = { "stress-ng", "cc1", "x264,\"enc\"", "ffmpeg" };

void vmsim_set_comm(char dst[VMSIM_COMM_LEN], const char *src)
{
	g_strlcpy(dst, src, VMSIM_COMM_LEN);
}

static struct vmsim_thread *thread_new(struct vmsim *sim, enum vmsim_thread_kind kind, int32_t tid,
				       int32_t pid, const char *comm)
{
	struct vmsim_thread *th = g_new0(struct vmsim_thread, 1);

	th->id = (int32_t) sim->threads->len;
	th->kind = kind;
	th->tid = tid;
	th->pid = pid;
	th->ppid = 1;
	th->prio = 20;
	th->vcpu = -1;
	th->cpu = -1;
	th->claimed_by = -1;
	th->pinned = -1;
	th->last_exit = -1;
	th->wake_t = VMSIM_T_NEVER;
	th->born_t = 0;
	th->died_t = -1;
	vmsim_set_comm(th->comm, comm);
	vmsim_set_comm(th->final_comm, comm);
	g_ptr_array_add(sim->threads, th);
	return th;
}

static int32_t alloc_tid(struct vmsim *sim, int gap)
{
	sim->next_tid += 1 + (int32_t) vmsim_rng_below(sim, (uint64_t) gap);
	return sim->next_tid;
}

static void set_noise(struct vmsim_thread *th, double run_us, double load)
{
	if (load < 0.001) {
		load = 0.001;
	}
	if (load > 0.95) {
		load = 0.95;
	}
	th->run_mean_us = run_us;
	th->sleep_mean_us = run_us * (1.0 - load) / load;
}

static void build_host_threads(struct vmsim *sim)
{
	const struct vmsim_knobs *k = &sim->k;
	char comm[VMSIM_COMM_LEN];
	struct vmsim_thread *th;

	sim->next_tid = 8;
	for (int p = 0; p < k->pcpus; p++) {
		g_snprintf(comm, sizeof(comm), "swapper/%d", p);
		sim->pcpus[p].id = p;
		sim->pcpus[p].idle = thread_new(sim, VMSIM_TK_IDLE, 0, 0, comm);
		sim->pcpus[p].idle->ppid = 0;
		g_snprintf(comm, sizeof(comm), "ksoftirqd/%d", p);
		th = thread_new(sim, VMSIM_TK_KTHREAD, alloc_tid(sim, 3), 0, comm);
		th->pinned = p;
		set_noise(th, 15, 0.01);
		g_snprintf(comm, sizeof(comm), "kworker/%d:1", p);
		th = thread_new(sim, VMSIM_TK_KTHREAD, alloc_tid(sim, 3), 0, comm);
		th->pinned = p;
		set_noise(th, 20, 0.03);
	}
	th = thread_new(sim, VMSIM_TK_KTHREAD, alloc_tid(sim, 3), 0, "rcu_sched");
	set_noise(th, 10, 0.02);
	sim->next_tid = 400;
	for (int i = 0; i < k->noise_tasks; i++) {
		const char *c = user_comms[i % G_N_ELEMENTS(user_comms)];

		th = thread_new(sim, VMSIM_TK_USER, alloc_tid(sim, 90), 0, c);
		set_noise(th, 300, k->noise_load);
	}
	for (int i = 0; i < k->hog_tasks; i++) {
		const char *c = hog_comms[i % G_N_ELEMENTS(hog_comms)];

		th = thread_new(sim, VMSIM_TK_HOG, alloc_tid(sim, 90), 0, c);
		set_noise(th, 20000, 0.9);
	}
	sim->libvirtd = thread_new(sim, VMSIM_TK_LIBVIRTD, alloc_tid(sim, 90), 0, "libvirtd");
	set_noise(sim->libvirtd, 50, 0.01);
	sim->sessiond = thread_new(sim, VMSIM_TK_USER, alloc_tid(sim, 90), 0, "lttng-sessiond");
	set_noise(sim->sessiond, 40, 0.01);
	th = thread_new(sim, VMSIM_TK_USER, alloc_tid(sim, 20), 0, "lttng-consumerd");
	set_noise(th, 30, 0.05);
	for (guint i = 0; i < sim->threads->len; i++) {
		th = g_ptr_array_index(sim->threads, i);
		if (th->kind != VMSIM_TK_IDLE) {
			th->pid = th->tid;
			th->ppid = th->kind == VMSIM_TK_KTHREAD ? 2 : 1;
		}
	}
	sim->next_tid = 3000;
}

/*
 * The slewed rate of step `k` of the cycle: a triangle wave of amplitude
 * `amp_ppb` over `steps` steps, starting at 0 and rising (a sine's shape,
 * exact in integers). NTP slews CLOCK_MONOTONIC by adjusting the rate in
 * steps (the kernel once a second, chrony at each update): the clock stays
 * continuous, only its rate jumps.
 */
static int64_t slew_rate_ppb(int64_t amp_ppb, int64_t k, int64_t steps)
{
	/* Phase in quarter periods, times `steps`: 4 * k over [0, 4 * steps). */
	int64_t q = 4 * k;

	if (q < steps) {
		return amp_ppb * q / steps;
	}
	if (q < 3 * steps) {
		return amp_ppb * (2 * steps - q) / steps;
	}
	return amp_ppb * (q - 4 * steps) / steps;
}

/* Builds the slew tables of `vm` (none when `slew_ppm` is 0: a linear clock, as before). */
static void vm_build_slew(struct vmsim *sim, struct vmsim_vm *vm)
{
	char buf[128];
	int64_t amp_ppb = llround(vm->slew_ppm * 1000.0);
	double period_ms =
		atof(vmsim_list_item(sim->k.slew_period_ms, vm->idx, buf, sizeof(buf), "20000"));

	if (amp_ppb == 0) {
		return;
	}
	/* At least 1 us per step, 4 steps per period, 1 M steps per period. */
	vm->slew_step_ns = MAX(llround(sim->k.slew_step_ms * 1e6), 1000);
	vm->slew_steps = CLAMP(llround(period_ms * 1e6 / (double) vm->slew_step_ns), 4, 1000000);
	/* Keep every rate positive: the clock never stops nor goes back. */
	amp_ppb = CLAMP(amp_ppb, -500000, 500000);
	vm->slew_rates_ppb = g_new(int64_t, vm->slew_steps);
	vm->slew_prefix = g_new(__int128, vm->slew_steps + 1);
	vm->slew_prefix[0] = 0;
	for (int64_t k = 0; k < vm->slew_steps; k++) {
		vm->slew_rates_ppb[k] = slew_rate_ppb(amp_ppb, k, vm->slew_steps);
		vm->slew_prefix[k + 1] =
			vm->slew_prefix[k] + (__int128) vm->slew_rates_ppb[k] * vm->slew_step_ns;
	}
}

static void vm_parse_basics(struct vmsim *sim, struct vmsim_vm *vm, const char *spec)
{
	const struct vmsim_knobs *k = &sim->k;
	char buf[128];
	const char *colon = strchr(spec, ':');

	g_strlcpy(vm->name, spec, colon ? (size_t) (colon - spec) + 1 : sizeof(vm->name));
	vm->nvcpus = colon ? atoi(colon + 1) : 1;
	vm->nvcpus = CLAMP(vm->nvcpus, 1, VMSIM_MAX_VCPUS);
	vm->create_t =
		(int64_t) (atof(vmsim_list_item(k->vm_create_ms, vm->idx, buf, sizeof(buf), "-1")) *
			   1e6);
	vm->destroy_t = (int64_t) (atof(vmsim_list_item(k->vm_destroy_ms, vm->idx, buf, sizeof(buf),
							"-1")) *
				   1e6);
	vm->create_t = vm->create_t < 0 ? -1 : vm->create_t;
	vm->destroy_t = vm->destroy_t < 0 ? -1 : vm->destroy_t;
	vm->reuse_of = atoi(vmsim_list_item(k->reuse_from, vm->idx, buf, sizeof(buf), "-1"));
	vm->drift_ppm = atof(vmsim_list_item(k->drift_ppm, vm->idx, buf, sizeof(buf), "0"));
	vm->drift_ppb = llround(vm->drift_ppm * 1000.0);
	vm->slew_ppm = atof(vmsim_list_item(k->slew_ppm, vm->idx, buf, sizeof(buf), "0"));
	vm_build_slew(sim, vm);
	vm->error_ms = atof(vmsim_list_item(k->clock_error_ms, vm->idx, buf, sizeof(buf), "0"));
	vm->error_ns = llround(vm->error_ms * 1e6);
	vmsim_list_item(k->uuid_via, vm->idx, buf, sizeof(buf), "none");
	vm->uuid_via = (strstr(buf, "ust") || strstr(buf, "statedump") || strstr(buf, "udev")) ?
			       VMSIM_UUID_UST :
			       0;
	vm->uuid_via |= strstr(buf, "product") ? VMSIM_UUID_PRODUCT : 0;
	vmsim_list_item(k->sync, vm->idx, buf, sizeof(buf), "full");
	vm->sync = !strcmp(buf, "none")	     ? VMSIM_SYNC_NONE :
		   !strcmp(buf, "hypercall") ? VMSIM_SYNC_HYPERCALL :
					       VMSIM_SYNC_FULL;
	vm->sync_period_ns = (int64_t) (atof(vmsim_list_item(k->sync_period_ms, vm->idx, buf,
							     sizeof(buf), "5")) *
					1e6);
	vm->sync_period_ns = MAX(vm->sync_period_ns, 100000);
	vm->sync_cpu = CLAMP(k->sync_cpu, 0, vm->nvcpus - 1);
	vm->kick_rate_hz = k->kick_rate_hz;
	vm->trace = -1;
}

static uint32_t rand_vcpu_ptr(struct vmsim *sim)
{
	/* Low 32 bits of a slab pointer: large, 64-byte aligned, never < 4096. */
	return (uint32_t) (0x10000000u + (vmsim_rng_below(sim, 0xe0000000u) & ~0x3full));
}

static void vm_build_threads(struct vmsim *sim, struct vmsim_vm *vm)
{
	struct vmsim_vm *old = vm->reuse_of >= 0 ? sim->vms[vm->reuse_of] : NULL;
	bool named = !strcmp(sim->k.vcpu_names, "named");
	char comm[VMSIM_COMM_LEN];
	int32_t pid = old ? old->pid : alloc_tid(sim, 200);
	int shift = old ? 1 : 0;

	vm->pid = pid;
	vm->main_thread = thread_new(sim, VMSIM_TK_QEMU, pid, pid, "qemu-system-x86");
	vm->io_thread = thread_new(sim, VMSIM_TK_QEMU,
				   old ? old->io_thread->tid : alloc_tid(sim, 1), pid,
				   "qemu-system-x86");
	set_noise(vm->main_thread, 30, 0.01);
	set_noise(vm->io_thread, 25, 0.03);
	for (int i = 0; i < vm->nvcpus; i++) {
		struct vmsim_thread *th;
		int32_t tid;

		/* A reusing VM takes the old tids in a shifted order (other indexes). */
		if (old && i < old->nvcpus) {
			tid = old->vcpus[(i + shift) % old->nvcpus]->tid;
		} else {
			tid = alloc_tid(sim, 1);
		}
		g_snprintf(comm, sizeof(comm), "CPU %d/KVM", i);
		th = thread_new(sim, VMSIM_TK_VCPU, tid, pid, named ? comm : "qemu-system-x86");
		/* QEMU names a vCPU thread from the thread itself, after the fork. */
		if (named && vm->create_t >= 0 && !strcmp(sim->k.fork_comm, "parent")) {
			vmsim_set_comm(th->comm, "qemu-system-x86");
		}
		th->vm = vm;
		th->vcpu = i;
		th->is_named_vcpu = named;
		th->vcpu_ptr = rand_vcpu_ptr(sim);
		th->ppid = sim->libvirtd->tid;
		vm->vcpus[i] = th;
	}
	vm->main_thread->vm = vm;
	vm->io_thread->vm = vm;
	vm->main_thread->ppid = sim->libvirtd->tid;
	vm->io_thread->ppid = sim->libvirtd->tid;
}

static bool vm_check(const struct vmsim *sim, const struct vmsim_vm *vm)
{
	const struct vmsim_vm *old = vm->reuse_of >= 0 ? sim->vms[vm->reuse_of] : NULL;

	if (vm->reuse_of >= vm->idx || (vm->reuse_of >= 0 && old->destroy_t < 0)) {
		fprintf(stderr, "vmsim: VM %s: reuse_from must name an earlier, destroyed VM\n",
			vm->name);
		return false;
	}
	/* The old VM's udev kvm_destroyed must come before the new one's fork. */
	if (old && vm->create_t < old->destroy_t + 300000000) {
		fprintf(stderr, "vmsim: VM %s: must be created >= 300 ms after VM %s's end\n",
			vm->name, old->name);
		return false;
	}
	if (vm->destroy_t >= 0 && vm->destroy_t < MAX(vm->create_t, 0) + 400000000) {
		fprintf(stderr, "vmsim: VM %s: must live >= 400 ms\n", vm->name);
		return false;
	}
	return true;
}

static void vm_guest_clock(struct vmsim *sim, struct vmsim_vm *vm)
{
	if (vm->create_t < 0) {
		vm->guest_start_t =
			(int64_t) (sim->k.guest_delay_ms * 1e6) + vmsim_rng_range(sim, 0, 500000);
		vm->ref_mono = vmsim_rng_range(sim, 3600000000000ll, 864000000000000ll);
	} else {
		/* After the guest booted and after udev saw the VM (<= 250 ms). */
		vm->guest_start_t = vm->create_t + 300000000 + vmsim_rng_range(sim, 0, 20000000);
		vm->ref_mono = vm->guest_start_t - vm->create_t + vmsim_rng_range(sim, 0, 999999);
	}
	vm->ref_t = vm->guest_start_t;
	vm->guest_end_t = vm->destroy_t >= 0 ? vm->destroy_t : VMSIM_T_NEVER;
}

/*
 * The slew's contribution to the guest clock at `t` (ppb * ns): the integral
 * of the slewed rate from `ref_t`, exact (the rate is piecewise constant).
 */
static __int128 slew_integral(const struct vmsim_vm *vm, int64_t t)
{
	int64_t d = t - vm->ref_t;
	int64_t k, cycles, step;

	if (!vm->slew_rates_ppb) {
		return 0;
	}
	if (d < 0) {
		return (__int128) vm->slew_rates_ppb[0] * d;
	}
	k = d / vm->slew_step_ns;
	cycles = k / vm->slew_steps;
	step = k % vm->slew_steps;
	return (__int128) cycles * vm->slew_prefix[vm->slew_steps] + vm->slew_prefix[step] +
	       (__int128) vm->slew_rates_ppb[step] * (d - k * vm->slew_step_ns);
}

int64_t vmsim_guest_mono(const struct vmsim_vm *vm, int64_t t)
{
	__int128 num =
		(__int128) (t - vm->ref_t) * (1000000000 + vm->drift_ppb) + slew_integral(vm, t);
	__int128 q = num / 1000000000;
	__int128 r = num % 1000000000;

	/* Round half away from zero, exactly. */
	if (r >= 500000000) {
		q++;
	} else if (r <= -500000000) {
		q--;
	}
	return vm->ref_mono + (int64_t) q;
}

static bool build_vms(struct vmsim *sim)
{
	gchar **specs = g_strsplit(sim->k.vms, ",", -1);
	bool ok = true;

	for (int i = 0; specs[i] && ok; i++) {
		struct vmsim_vm *vm;

		if (g_strstrip(specs[i])[0] == '\0') {
			continue;
		}
		if (sim->nvms == VMSIM_MAX_VMS) {
			fprintf(stderr, "vmsim: at most %d VMs\n", VMSIM_MAX_VMS);
			ok = false;
			break;
		}
		vm = g_new0(struct vmsim_vm, 1);
		vm->idx = sim->nvms;
		sim->vms[sim->nvms++] = vm;
		vm_parse_basics(sim, vm, specs[i]);
		ok = vm_check(sim, vm);
		if (ok) {
			vmsim_rng_uuid(sim, vm->uuid);
			vm->vm_uid = vmsim_rng_u64(sim);
			vm->sync_cnt = (uint32_t) vmsim_rng_range(sim, 1, 100000);
			vm_build_threads(sim, vm);
			vm_guest_clock(sim, vm);
		}
	}
	g_strfreev(specs);
	return ok;
}

static void format_datetime(int64_t origin_ns, char out[32])
{
	GDateTime *dt = g_date_time_new_from_unix_utc(origin_ns / 1000000000);
	gchar *s = g_date_time_format(dt, "%Y%m%dT%H%M%S+0000");

	g_strlcpy(out, s, 32);
	g_free(s);
	g_date_time_unref(dt);
}

static struct vmsim_trace *trace_new(struct vmsim *sim, enum vmsim_trace_kind kind, int ncpus)
{
	struct vmsim_trace *tr = g_new0(struct vmsim_trace, 1);

	tr->kind = kind;
	tr->ncpus = ncpus;
	vmsim_rng_uuid(sim, tr->trace_uuid);
	sim->traces[sim->ntraces++] = tr;
	return tr;
}

static void build_host_traces(struct vmsim *sim, const char *boot_id)
{
	struct vmsim_trace *tr = trace_new(sim, VMSIM_TRACE_HOST_KERNEL, sim->k.pcpus);
	bool any_ust = false;

	g_strlcpy(tr->hostname, sim->k.hostname, sizeof(tr->hostname));
	g_strlcpy(tr->clock_uuid, boot_id, sizeof(tr->clock_uuid));
	format_datetime(sim->host_origin_ns, tr->datetime);
	tr->offset_ns = sim->host_origin_ns - sim->host_mono0;
	tr->start_t = 0;
	tr->end_t = VMSIM_T_NEVER;
	tr->rel_path =
		g_strdup_printf("%s/%s-%s/kernel", tr->hostname, sim->k.trace_name, tr->datetime);
	for (int i = 0; i < sim->nvms; i++) {
		any_ust |= (sim->vms[i]->uuid_via & VMSIM_UUID_UST) != 0;
	}
	sim->ust_trace = -1;
	if (!any_ust) {
		return;
	}
	sim->ust_trace = sim->ntraces;
	tr = trace_new(sim, VMSIM_TRACE_HOST_UST, sim->k.pcpus);
	*tr = *sim->traces[0];
	tr->kind = VMSIM_TRACE_HOST_UST;
	vmsim_rng_uuid(sim, tr->trace_uuid);
	tr->rel_path = g_strdup_printf("%s/%s-%s/ust/uid/0/64-bit", tr->hostname, sim->k.trace_name,
				       tr->datetime);
}

static void build_guest_trace(struct vmsim *sim, struct vmsim_vm *vm)
{
	struct vmsim_trace *tr = trace_new(sim, VMSIM_TRACE_GUEST, vm->nvcpus);
	int64_t g_ref;

	vm->has_guest = true;
	vm->trace = sim->ntraces - 1;
	tr->vm = vm;
	g_strlcpy(tr->hostname, vm->name, sizeof(tr->hostname));
	vmsim_rng_uuid(sim, tr->clock_uuid);
	/* At the reference point the recorded clock reads host time + error. */
	g_ref = sim->host_origin_ns + vm->ref_t + vm->error_ns;
	tr->offset_ns = g_ref - vm->ref_mono;
	format_datetime(g_ref, tr->datetime);
	tr->start_t = vm->guest_start_t;
	tr->end_t = vm->guest_end_t;
	tr->rel_path =
		g_strdup_printf("%s/%s-%s/kernel", tr->hostname, sim->k.trace_name, tr->datetime);
	vmsim_guest_init(sim, vm);
}

static bool host_clock(struct vmsim *sim)
{
	GDateTime *dt = g_date_time_new_from_iso8601(sim->k.start_time, NULL);

	if (!dt) {
		fprintf(stderr, "vmsim: bad start_time \"%s\"\n", sim->k.start_time);
		return false;
	}
	sim->host_origin_ns =
		g_date_time_to_unix(dt) * 1000000000 + vmsim_rng_range(sim, 0, 999999999);
	g_date_time_unref(dt);
	sim->host_mono0 = vmsim_rng_range(sim, 86400000000000ll, 2592000000000000ll);
	return true;
}

bool vmsim_world_build(struct vmsim *sim)
{
	char boot_id[VMSIM_UUID_LEN];

	vmsim_rng_seed(sim->rng, sim->k.seed);
	if (sim->k.pcpus < 1 || sim->k.pcpus > VMSIM_MAX_PCPUS || sim->k.packet_events < 1 ||
	    sim->k.guest_delay_ms < 1.0) {
		fprintf(stderr,
			"vmsim: need 1 <= pcpus <= %d, packet_events >= 1, "
			"guest_delay_ms >= 1\n",
			VMSIM_MAX_PCPUS);
		return false;
	}
	if (!host_clock(sim)) {
		return false;
	}
	vmsim_rng_uuid(sim, boot_id);
	sim->threads = g_ptr_array_new_with_free_func(g_free);
	sim->pcpus = g_new0(struct vmsim_pcpu, sim->k.pcpus);
	sim->end_t = sim->k.duration_ms * 1000000;
	build_host_threads(sim);
	if (!build_vms(sim)) {
		return false;
	}
	build_host_traces(sim, boot_id);
	for (int i = 0; i < sim->nvms && sim->k.guest_traces; i++) {
		if (sim->vms[i]->guest_start_t < MIN(sim->end_t, sim->vms[i]->guest_end_t)) {
			build_guest_trace(sim, sim->vms[i]);
		}
	}
	return true;
}

void vmsim_world_destroy(struct vmsim *sim)
{
	for (int i = 0; i < sim->ntraces; i++) {
		g_free(sim->traces[i]->rel_path);
		g_free(sim->traces[i]->q);
		g_clear_pointer(&sim->traces[i], g_free);
	}
	for (int i = 0; i < sim->nvms; i++) {
		g_clear_pointer(&sim->vms[i]->slew_rates_ppb, g_free);
		g_clear_pointer(&sim->vms[i]->slew_prefix, g_free);
		g_clear_pointer(&sim->vms[i], g_free);
	}
	g_clear_pointer(&sim->threads, g_ptr_array_unref);
	g_clear_pointer(&sim->pcpus, g_free);
}
