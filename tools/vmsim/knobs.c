/* SPDX-License-Identifier: MIT */
/*
 * The knob table: every aspect of the simulated world is one knob with a
 * default, settable with `--set key=value`; scenarios are lists of such
 * assignments applied over the defaults.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vmsim.h"

enum knob_type {
	KNOB_U64,
	KNOB_I64,
	KNOB_INT,
	KNOB_DOUBLE,
	KNOB_BOOL,
	KNOB_STR,
};

struct knob {
	const char *name;
	enum knob_type type;
	size_t offset;
	const char *def;
	const char *help;
};

#define K(n, t, d, h)                                        \
	{                                                    \
#n, t, offsetof(struct vmsim_knobs, n), d, h \
	}

static const struct knob knobs[] = {
	K(seed, KNOB_U64, "1", "PRNG seed (also --seed)"),
	K(duration_ms, KNOB_I64, "3000", "host trace length in ms (also --duration-ms)"),
	K(target_events, KNOB_I64, "0",
	  "stop once this many events were generated (0: use duration_ms; also --target-events)"),
	K(pcpus, KNOB_INT, "4", "physical CPUs of the host"),
	K(vms, KNOB_STR, "vm-web:2,vm-db:2",
	  "VMs as name:vcpus,... (name = guest hostname); per-VM lists below are cycled"),
	K(vm_create_ms, KNOB_STR, "-1", "per VM: creation time in ms, -1 = exists at trace start"),
	K(vm_destroy_ms, KNOB_STR, "-1", "per VM: destruction time in ms, -1 = alive at the end"),
	K(reuse_from, KNOB_STR, "-1",
	  "per VM: index of an earlier, destroyed VM whose QEMU pid and thread ids it reuses"),
	K(drift_ppm, KNOB_STR, "35,-20", "per VM: true guest clock drift in ppm (fractional ok)"),
	K(slew_ppm, KNOB_STR, "0",
	  "per VM: NTP-like slewing: the clock rate swings by +- this many ppm around the "
	  "drift (triangle wave; 0 = a linear clock)"),
	K(slew_period_ms, KNOB_STR, "20000",
	  "per VM: period of the slew's triangle wave in ms (rounded to whole steps)"),
	K(slew_step_ms, KNOB_DOUBLE, "1000",
	  "the slewed rate changes once per step (the kernel's NTP adjusts it every second)"),
	K(clock_error_ms, KNOB_STR, "3.2,-4.1",
	  "per VM: error (ms, signed) of the recorded guest clock offset"),
	K(uuid_via, KNOB_STR, "ust+product",
	  "per VM: UUID delivery, '+'-joined of ust (statedump kvm_guest or udev kvm_created/"
	  "kvm_destroyed), product (guest env product_uuid); vmuid or none = neither"),
	K(sync, KNOB_STR, "full",
	  "per VM: vmsync exchanges: full, hypercall (guest events + host "
	  "kvm_x86_hypercall only) or none"),
	K(sync_period_ms, KNOB_STR, "5,3", "per VM: period of the vmsync exchanges in ms"),
	K(sync_cpu, KNOB_INT, "0", "guest CPU doing the vmsync exchanges"),
	K(kick_rate_hz, KNOB_DOUBLE, "0", "spurious nr=5 hypercalls (PV kicks) per second per VM"),
	K(guest_traces, KNOB_BOOL, "true", "write one kernel trace per guest"),
	K(entry_vcpu_id, KNOB_STR, "index",
	  "kvm_x86_entry.vcpu_id: index (kernel < 5.9) or pointer (truncated kvm_vcpu *)"),
	K(exit_vcpu_id, KNOB_BOOL, "false",
	  "kvm_x86_exit has intr_info, error_code, vcpu_id (kernel >= 5.10)"),
	K(event_names, KNOB_STR, "new",
	  "KVM event names: new (kvm_x86_entry/exit) or old "
	  "(kvm_entry/kvm_exit, kvm_hypercall)"),
	K(vcpu_names, KNOB_STR, "named",
	  "vCPU thread names: named (CPU <n>/KVM) or plain (qemu-system-x86)"),
	K(fork_comm, KNOB_STR, "final",
	  "child_comm of forked vCPU threads: final (their name) or "
	  "parent (renamed after their first switch-in)"),
	K(vmx_flags_prob, KNOB_DOUBLE, "0.002",
	  "probability of VMX flag bits above bit 16 on an exit_reason"),
	K(prev_state_256_prob, KNOB_DOUBLE, "0.5",
	  "share of preemptions written with prev_state 256 (else 0)"),
	K(noise_tasks, KNOB_INT, "8", "host user/kernel noise tasks besides per-CPU kthreads"),
	K(noise_load, KNOB_DOUBLE, "0.15", "CPU share each noise task wants (0..1)"),
	K(hog_tasks, KNOB_INT, "1", "CPU-bound host jobs"),
	K(wake_preempt_prob, KNOB_DOUBLE, "0.3",
	  "probability that a wake-up with no idle pCPU preempts a running task"),
	K(migrate_prob, KNOB_DOUBLE, "0.05", "probability to pick a thread last run elsewhere"),
	K(hlt_prob, KNOB_DOUBLE, "0.15", "share of guest-mode windows ending in HLT"),
	K(io_block_prob, KNOB_DOUBLE, "0.3", "probability that an I/O exit blocks the vCPU thread"),
	K(guest_mean_us, KNOB_DOUBLE, "120", "mean guest-mode window in us"),
	K(idle_mean_us, KNOB_DOUBLE, "400", "mean time a halted vCPU stays idle in us"),
	K(slice_ms, KNOB_DOUBLE, "3", "mean host scheduler slice in ms"),
	K(guest_rate_per_ms, KNOB_DOUBLE, "30", "ordinary guest events per ms of guest mode"),
	K(sched_waking, KNOB_BOOL, "false", "emit host sched_waking noise events"),
	K(irq_noise, KNOB_BOOL, "true", "emit host irq_handler_entry/exit noise events"),
	K(guest_events, KNOB_STR, "all",
	  "guest event names written to the guest traces, comma-separated (all: every one)"),
	K(host_discard_ms, KNOB_STR, "",
	  "FROM,TO: host kernel events of pCPU host_discard_cpu in [FROM, TO) ms are discarded "
	  "(the truth keeps them; the trace has a discarded-events record)"),
	K(host_discard_cpu, KNOB_INT, "0", "pCPU whose stream loses the host_discard_ms events"),
	K(guest_statedump, KNOB_BOOL, "false", "guest traces start with a statedump"),
	K(guest_delay_ms, KNOB_DOUBLE, "3", "guest traces start this long after the host's (>= 1)"),
	K(margin_in_ns, KNOB_I64, "400", "minimal gap entry -> ordinary guest event"),
	K(margin_in_spread_ns, KNOB_I64, "800",
	  "per window, the entry gap is margin_in_ns + U(0, this)"),
	K(margin_out_ns, KNOB_I64, "1500", "minimal gap ordinary guest event -> exit"),
	K(margin_out_spread_ns, KNOB_I64, "2500",
	  "per window, the exit gap is margin_out_ns + U(0, this)"),
	K(packet_events, KNOB_INT, "4096", "maximal events per packet"),
	K(hostname, KNOB_STR, "kvm-host", "host name"),
	K(trace_name, KNOB_STR, "vmsim", "LTTng session name (trace_name)"),
	K(host_kernel_release, KNOB_STR, "auto",
	  "host uname -r; auto: 5.15 with exit vcpu_id or pointer entry ids, else 5.4"),
	K(guest_kernel_release, KNOB_STR, "5.15.0-97-generic", "guest uname -r"),
	K(start_time, KNOB_STR, "2024-03-14T10:00:00Z", "UTC wall time of the host trace start"),
};

struct scenario {
	const char *name;
	const char *help;
	const char *sets[12];
};

static const struct scenario scenarios[] = {
	{ "sample",
	  "4 pCPUs, vm-web and vm-db x 2 vCPUs, 3 s, preemptions, vmsync, UST UUIDs + "
	  "product_uuid, drift +35/-20 ppm, clock errors +3.2/-4.1 ms",
	  { NULL } },
	{ "compete",
	  "two 4-vCPU VMs and host noise competing for 4 pCPUs",
	  { "vms=vm-a:4,vm-b:4", "hog_tasks=2", "noise_load=0.3", "wake_preempt_prob=0.5",
	    "slice_ms=1.5", "hlt_prob=0.05", "drift_ppm=12,-7.5", "clock_error_ms=1.5,-2.5",
	    "duration_ms=2000", NULL } },
	{ "lifecycle",
	  "vm-a created at 300 ms and destroyed at 1300 ms, vm-b created at 1800 ms reusing "
	  "its pid and tids, udev events, renamed vCPU threads",
	  { "vms=vm-stay:2,vm-a:2,vm-b:2", "vm_create_ms=-1,300,1800", "vm_destroy_ms=-1,1300,-1",
	    "reuse_from=-1,-1,1", "drift_ppm=35,-20,8.25", "clock_error_ms=3.2,-4.1,1.7",
	    "sync_period_ms=5,3,4", "fork_comm=parent", NULL } },
	{ "hostonly",
	  "host traces only, no UUID events",
	  { "guest_traces=false", "uuid_via=none", NULL } },
	{ "pointer",
	  "pointer-valued kvm_x86_entry.vcpu_id, kvm_x86_exit.vcpu_id, plain names",
	  { "entry_vcpu_id=pointer", "exit_vcpu_id=true", "vcpu_names=plain", NULL } },
	{ "oldnames",
	  "kvm_entry/kvm_exit, no exit vcpu_id, CPU n/KVM names",
	  { "event_names=old", "exit_vcpu_id=false", "vcpu_names=named", NULL } },
	{ "hypercall", "hypercall-only vmsync exchanges", { "sync=hypercall", NULL } },
	{ "nosync", "no vmsync exchanges", { "sync=none", NULL } },
	{ "vmuid",
	  "UUID only through vm_uid: no product_uuid, no UST events",
	  { "uuid_via=vmuid", "sync=full", NULL } },
	{ "bench",
	  "like sample, sized by --target-events (default 1000000)",
	  { "target_events=1000000", "duration_ms=3600000", NULL } },
};

static void *knob_ptr(struct vmsim_knobs *k, const struct knob *kn)
{
	return (char *) k + kn->offset;
}

static bool parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "yes") || !strcmp(s, "on")) {
		*out = true;
		return true;
	}
	if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "no") || !strcmp(s, "off")) {
		*out = false;
		return true;
	}
	return false;
}

static bool knob_assign(struct vmsim_knobs *k, const struct knob *kn, const char *value)
{
	void *p = knob_ptr(k, kn);
	char *end = NULL;
	bool ok = true;

	errno = 0;
	switch (kn->type) {
	case KNOB_U64:
		*(uint64_t *) p = g_ascii_strtoull(value, &end, 0);
		break;
	case KNOB_I64:
		*(int64_t *) p = g_ascii_strtoll(value, &end, 0);
		break;
	case KNOB_INT:
		*(int *) p = (int) g_ascii_strtoll(value, &end, 0);
		break;
	case KNOB_DOUBLE:
		*(double *) p = g_ascii_strtod(value, &end);
		break;
	case KNOB_BOOL:
		ok = parse_bool(value, (bool *) p);
		break;
	case KNOB_STR:
		g_free(*(char **) p);
		*(char **) p = g_strdup(value);
		break;
	}
	if (end && (*end != '\0' || end == value || errno)) {
		ok = false;
	}
	return ok;
}

void vmsim_knobs_init(struct vmsim_knobs *k)
{
	memset(k, 0, sizeof(*k));
	for (size_t i = 0; i < G_N_ELEMENTS(knobs); i++) {
		gboolean ok = knob_assign(k, &knobs[i], knobs[i].def);

		g_assert(ok);
	}
}

void vmsim_knobs_fini(struct vmsim_knobs *k)
{
	for (size_t i = 0; i < G_N_ELEMENTS(knobs); i++) {
		if (knobs[i].type == KNOB_STR) {
			g_clear_pointer((char **) knob_ptr(k, &knobs[i]), g_free);
		}
	}
}

bool vmsim_knobs_set(struct vmsim_knobs *k, const char *assignment)
{
	const char *eq = strchr(assignment, '=');
	bool ok = false;

	if (!eq) {
		fprintf(stderr, "vmsim: --set needs key=value, got \"%s\"\n", assignment);
		goto end;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(knobs); i++) {
		size_t len = strlen(knobs[i].name);

		if ((size_t) (eq - assignment) == len && !strncmp(assignment, knobs[i].name, len)) {
			ok = knob_assign(k, &knobs[i], eq + 1);
			if (!ok) {
				fprintf(stderr, "vmsim: bad value for knob %s: \"%s\"\n",
					knobs[i].name, eq + 1);
			}
			goto end;
		}
	}
	fprintf(stderr, "vmsim: unknown knob \"%.*s\" (see --help)\n", (int) (eq - assignment),
		assignment);
end:
	return ok;
}

bool vmsim_knobs_apply_scenario(struct vmsim_knobs *k, const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(scenarios); i++) {
		if (strcmp(scenarios[i].name, name) != 0) {
			continue;
		}
		for (int j = 0; scenarios[i].sets[j]; j++) {
			bool ok = vmsim_knobs_set(k, scenarios[i].sets[j]);

			g_assert(ok);
		}
		return true;
	}
	fprintf(stderr, "vmsim: unknown scenario \"%s\" (see --help)\n", name);
	return false;
}

void vmsim_knobs_print_help(FILE *out)
{
	fprintf(out, "Scenarios (--scenario NAME, default sample):\n");
	for (size_t i = 0; i < G_N_ELEMENTS(scenarios); i++) {
		fprintf(out, "  %-10s %s\n", scenarios[i].name, scenarios[i].help);
		for (int j = 0; scenarios[i].sets[j]; j++) {
			fprintf(out, "  %-10s   --set %s\n", "", scenarios[i].sets[j]);
		}
	}
	fprintf(out, "\nKnobs (--set KEY=VALUE, applied after the scenario; default in []):\n");
	for (size_t i = 0; i < G_N_ELEMENTS(knobs); i++) {
		fprintf(out, "  %-20s %s [%s]\n", knobs[i].name, knobs[i].help, knobs[i].def);
	}
}

static void write_knob_value(const struct vmsim_knobs *k, const struct knob *kn, FILE *out)
{
	const void *p = (const char *) k + kn->offset;

	switch (kn->type) {
	case KNOB_U64:
		fprintf(out, "%" PRIu64, *(const uint64_t *) p);
		break;
	case KNOB_I64:
		fprintf(out, "%" PRId64, *(const int64_t *) p);
		break;
	case KNOB_INT:
		fprintf(out, "%d", *(const int *) p);
		break;
	case KNOB_DOUBLE:
		fprintf(out, "%.17g", *(const double *) p);
		break;
	case KNOB_BOOL:
		fputs(*(const bool *) p ? "true" : "false", out);
		break;
	case KNOB_STR:
		vmsim_json_string(out, *(char *const *) p);
		break;
	}
}

void vmsim_knobs_write_json(const struct vmsim_knobs *k, FILE *out, const char *indent)
{
	for (size_t i = 0; i < G_N_ELEMENTS(knobs); i++) {
		fprintf(out, "%s\"%s\": ", indent, knobs[i].name);
		write_knob_value(k, &knobs[i], out);
		fputs(i + 1 < G_N_ELEMENTS(knobs) ? ",\n" : "\n", out);
	}
}

const char *vmsim_list_item(const char *list, int i, char *buf, size_t len, const char *def)
{
	gchar **items = g_strsplit(list ? list : "", ",", -1);
	guint n = g_strv_length(items);

	if (n == 0 || (n == 1 && items[0][0] == '\0')) {
		g_strlcpy(buf, def, len);
	} else {
		g_strlcpy(buf, g_strstrip(items[(guint) i % n]), len);
	}
	g_strfreev(items);
	return buf;
}
