/* SPDX-License-Identifier: MIT */
/*
 * Trace IR of the simulated traces, with the names and types LTTng 2.13
 * gives them (docs/lttng-kvm-events.md §2, §3.2, §4, §5, §6, §7): one
 * stream class per trace with per-CPU streams `channel0_<cpu>`, packets
 * with clock snapshots and a `cpu_id` packet context, a 1 GHz `monotonic`
 * clock, and LTTng's environment (so that `sink.ctf.fs` lays traces out as
 * LTTng does).
 */
#include <stdlib.h>
#include <string.h>

#include "vmsim.h"

#define F(n, t, s)                        \
	{                                 \
		n, VMSIM_FT_##t, s, false \
	}
#define FH(n, t, s)                      \
	{                                \
		n, VMSIM_FT_##t, s, true \
	}

static const struct vmsim_field f_process_state[] = {
	F("tid", S32, 0),     F("pid", S32, 1),
	F("ppid", S32, 2),    F("name", STR, 0),
	F("type", S32, 3),    F("mode", S32, 4),
	F("submode", S32, 5), F("status", S32, 6),
	F("cpu", U32, 7),     FH("file_table_address", U64, 8),
};
static const struct vmsim_field f_sched_switch[] = {
	F("prev_comm", STR, 0),	 F("prev_tid", S32, 0),	 F("prev_prio", S32, 1),
	F("prev_state", S64, 2), F("next_comm", STR, 1), F("next_tid", S32, 3),
	F("next_prio", S32, 4),
};
static const struct vmsim_field f_fork[] = {
	F("parent_comm", STR, 0),    F("parent_tid", S32, 0), F("parent_pid", S32, 1),
	F("parent_ns_inum", U32, 2), F("child_comm", STR, 1), F("child_tid", S32, 3),
	F("_vtids_length", U8, 4),   F("vtids", SEQ_S32, 5),  F("child_pid", S32, 6),
	F("child_ns_inum", U32, 7),
};
static const struct vmsim_field f_process_exit[] = { F("comm", STR, 0), F("tid", S32, 0),
						     F("prio", S32, 1) };
static const struct vmsim_field f_waking[] = { F("comm", STR, 0), F("tid", S32, 0),
					       F("prio", S32, 1), F("target_cpu", S32, 2) };
static const struct vmsim_field f_entry[] = { F("vcpu_id", U32, 0) };
static const struct vmsim_field f_kvm_exit[] = {
	F("exit_reason", U32, 0), FH("guest_rip", U64, 1), F("isa", U32, 2),
	F("info1", U64, 3),	  F("info2", U64, 4),	   F("intr_info", U32, 5),
	F("error_code", U32, 6),  F("vcpu_id", U32, 7),
};
static const struct vmsim_field f_hypercall[] = { F("nr", U64, 0), F("a0", U64, 1), F("a1", U64, 2),
						  F("a2", U64, 3), F("a3", U64, 4) };
static const struct vmsim_field f_vmsync[] = { F("cnt", U32, 0), F("vm_uid", U64, 1) };
static const struct vmsim_field f_irq_entry[] = { F("irq", S32, 0), F("name", STR, 2) };
static const struct vmsim_field f_irq_exit[] = { F("irq", S32, 0), F("ret", S32, 1) };
static const struct vmsim_field f_softirq[] = { F("vec", U32, 0) };
static const struct vmsim_field f_kvm_guest[] = { F("pid", S64, 0), F("guest_uuid", STR, 2) };
static const struct vmsim_field f_kvm_created[] = { F("pid", U32, 0), F("uuid", STR, 2) };
static const struct vmsim_field f_kvm_destroyed[] = { F("pid", U32, 0) };

static const struct {
	const char *name;
	const char *old_name;
	const struct vmsim_field *fields;
	int count;
} kinds[VMSIM_EV_COUNT] = {
#define KD(k, n, o, f) [VMSIM_EV_##k] = { n, o, f, (int) G_N_ELEMENTS(f) }
#define KE(k, n) [VMSIM_EV_##k] = { n, NULL, NULL, 0 }
	KE(STATEDUMP_START, "lttng_statedump_start"),
	KD(STATEDUMP_PROCESS, "lttng_statedump_process_state", NULL, f_process_state),
	KE(STATEDUMP_END, "lttng_statedump_end"),
	KD(SCHED_SWITCH, "sched_switch", NULL, f_sched_switch),
	KD(FORK, "sched_process_fork", NULL, f_fork),
	KD(PROCESS_EXIT, "sched_process_exit", NULL, f_process_exit),
	KD(SCHED_WAKING, "sched_waking", NULL, f_waking),
	KD(KVM_ENTRY, "kvm_x86_entry", "kvm_entry", f_entry),
	KD(KVM_EXIT, "kvm_x86_exit", "kvm_exit", f_kvm_exit),
	KD(HYPERCALL, "kvm_x86_hypercall", "kvm_hypercall", f_hypercall),
	KD(GH_HOST, "vmsync_gh_host", NULL, f_vmsync),
	KD(HG_HOST, "vmsync_hg_host", NULL, f_vmsync),
	KD(IRQ_ENTRY, "irq_handler_entry", NULL, f_irq_entry),
	KD(IRQ_EXIT, "irq_handler_exit", NULL, f_irq_exit),
	KD(SOFTIRQ_ENTRY, "irq_softirq_entry", NULL, f_softirq),
	KD(SOFTIRQ_EXIT, "irq_softirq_exit", NULL, f_softirq),
	KD(GH_GUEST, "vmsync_gh_guest", NULL, f_vmsync),
	KD(HG_GUEST, "vmsync_hg_guest", NULL, f_vmsync),
	KD(UST_KVM_GUEST, "lttng_collectd_statedump:kvm_guest", NULL, f_kvm_guest),
	KD(UST_KVM_CREATED, "udev_monitor:kvm_created", NULL, f_kvm_created),
	KD(UST_KVM_DESTROYED, "udev_monitor:kvm_destroyed", NULL, f_kvm_destroyed),
#undef KD
#undef KE
};

const struct vmsim_field *vmsim_fields(const struct vmsim *sim, enum vmsim_kind kind, int *count)
{
	*count = kinds[kind].count;
	if (kind == VMSIM_EV_KVM_EXIT && !sim->k.exit_vcpu_id) {
		*count = 5; /* Kernels < 5.10: no intr_info, error_code, vcpu_id. */
	}
	return kinds[kind].fields;
}

const char *vmsim_event_name(const struct vmsim *sim, enum vmsim_kind kind)
{
	if (kinds[kind].old_name && !g_strcmp0(sim->k.event_names, "old")) {
		return kinds[kind].old_name;
	}
	return kinds[kind].name;
}

/* Which event classes a trace declares. */
static bool trace_has_kind(const struct vmsim *sim, const struct vmsim_trace *tr,
			   enum vmsim_kind kind)
{
	bool any_full = false;

	for (int i = 0; i < sim->nvms; i++) {
		any_full |= sim->vms[i]->sync == VMSIM_SYNC_FULL;
	}
	switch (tr->kind) {
	case VMSIM_TRACE_HOST_UST:
		return kind >= VMSIM_EV_UST_KVM_GUEST;
	case VMSIM_TRACE_GUEST:
		if (kind == VMSIM_EV_GH_GUEST || kind == VMSIM_EV_HG_GUEST) {
			return tr->vm->sync != VMSIM_SYNC_NONE;
		}
		if (kind <= VMSIM_EV_STATEDUMP_END) {
			return sim->k.guest_statedump;
		}
		return kind == VMSIM_EV_SCHED_SWITCH ||
		       (kind >= VMSIM_EV_IRQ_ENTRY && kind <= VMSIM_EV_SOFTIRQ_EXIT);
	case VMSIM_TRACE_HOST_KERNEL:
		break;
	}
	switch (kind) {
	case VMSIM_EV_SCHED_WAKING:
		return sim->k.sched_waking;
	case VMSIM_EV_GH_HOST:
	case VMSIM_EV_HG_HOST:
		return any_full;
	case VMSIM_EV_IRQ_ENTRY:
	case VMSIM_EV_IRQ_EXIT:
		return sim->k.irq_noise;
	default:
		return kind <= VMSIM_EV_HG_HOST;
	}
}

static bt_field_class *int_fc(bt_trace_class *tc, enum vmsim_ft type, bool hex)
{
	static const int bits[] = { 8, 16, 32, 64, 32, 64 };
	bool is_signed = type == VMSIM_FT_S32 || type == VMSIM_FT_S64;
	bt_field_class *fc = is_signed ? bt_field_class_integer_signed_create(tc) :
					 bt_field_class_integer_unsigned_create(tc);

	if (fc) {
		bt_field_class_integer_set_field_value_range(fc, (uint64_t) bits[type]);
		if (hex) {
			bt_field_class_integer_set_preferred_display_base(
				fc, BT_FIELD_CLASS_INTEGER_PREFERRED_DISPLAY_BASE_HEXADECIMAL);
		}
	}
	return fc;
}

static bt_field_class *member_fc(bt_trace_class *tc, const struct vmsim_field *f,
				 bt_field_class *prev)
{
	bt_field_class *elem, *fc;

	switch (f->type) {
	case VMSIM_FT_STR:
		return bt_field_class_string_create(tc);
	case VMSIM_FT_SEQ_S32:
		elem = int_fc(tc, VMSIM_FT_S32, false);
		fc = elem ? bt_field_class_array_dynamic_create(tc, elem, prev) : NULL;
		bt_field_class_put_ref(elem);
		return fc;
	default:
		return int_fc(tc, f->type, f->hex);
	}
}

/* Payload structure of `kind`; NULL on error. */
static bt_field_class *payload_fc(const struct vmsim *sim, bt_trace_class *tc, enum vmsim_kind kind)
{
	bt_field_class *st = bt_field_class_structure_create(tc);
	bt_field_class *prev = NULL;
	int n;
	const struct vmsim_field *fields = vmsim_fields(sim, kind, &n);

	for (int i = 0; st && i < n; i++) {
		bt_field_class *fc = member_fc(tc, &fields[i], prev);

		if (!fc || bt_field_class_structure_append_member(st, fields[i].name, fc)) {
			bt_field_class_put_ref(fc);
			BT_FIELD_CLASS_PUT_REF_AND_RESET(st);
			break;
		}
		bt_field_class_put_ref(fc);
		/* Weak: the structure holds it; only used as the next length field. */
		prev = fc;
	}
	return st;
}

static bool parse_uuid(const char *s, uint8_t out[16])
{
	for (int i = 0, j = 0; i < 16; i++) {
		char hex[3];

		if (s[j] == '-') {
			j++;
		}
		hex[0] = s[j];
		hex[1] = s[j + 1];
		hex[2] = '\0';
		out[i] = (uint8_t) strtoul(hex, NULL, 16);
		j += 2;
	}
	return true;
}

static bt_clock_class *make_clock(bt_self_component *self, const struct vmsim_trace *tr)
{
	bt_clock_class *cc = bt_clock_class_create(self);
	uint8_t uuid[16];

	if (!cc) {
		return NULL;
	}
	parse_uuid(tr->clock_uuid, uuid);
	bt_clock_class_set_frequency(cc, 1000000000);
	bt_clock_class_set_offset(cc, tr->offset_ns / 1000000000,
				  (uint64_t) (tr->offset_ns % 1000000000));
	if (bt_clock_class_set_name(cc, "monotonic") ||
	    bt_clock_class_set_description(cc, "Monotonic Clock")) {
		BT_CLOCK_CLASS_PUT_REF_AND_RESET(cc);
		return NULL;
	}
	bt_clock_class_set_origin_is_unix_epoch(cc, BT_TRUE);
	bt_clock_class_set_uuid(cc, uuid);
	return cc;
}

static bool make_stream_class(const struct vmsim *sim, struct vmsim_trace *tr)
{
	bt_field_class *ctx = bt_field_class_structure_create(tr->tc);
	bt_field_class *cpu = bt_field_class_integer_unsigned_create(tr->tc);
	bool ok = false;

	tr->sc = bt_stream_class_create(tr->tc);
	if (!tr->sc || !ctx || !cpu) {
		goto end;
	}
	bt_field_class_integer_set_field_value_range(cpu, 32);
	if (bt_field_class_structure_append_member(ctx, "cpu_id", cpu) ||
	    bt_stream_class_set_default_clock_class(tr->sc, tr->cc)) {
		goto end;
	}
	bt_stream_class_set_supports_packets(tr->sc, BT_TRUE, BT_TRUE, BT_TRUE);
	if (tr->kind == VMSIM_TRACE_HOST_KERNEL && sim->discard_to_t > sim->discard_from_t) {
		bt_stream_class_set_supports_discarded_events(tr->sc, BT_TRUE, BT_TRUE);
	}
	ok = bt_stream_class_set_packet_context_field_class(tr->sc, ctx) == 0;
end:
	bt_field_class_put_ref(cpu);
	bt_field_class_put_ref(ctx);
	return ok;
}

static bool make_event_classes(struct vmsim *sim, struct vmsim_trace *tr)
{
	for (int k = 0; k < VMSIM_EV_COUNT; k++) {
		bt_field_class *payload;
		bool ok;

		if (!trace_has_kind(sim, tr, (enum vmsim_kind) k)) {
			continue;
		}
		tr->ec[k] = bt_event_class_create(tr->sc);
		payload = payload_fc(sim, tr->tc, (enum vmsim_kind) k);
		ok = tr->ec[k] && payload &&
		     !bt_event_class_set_name(tr->ec[k], vmsim_event_name(sim, k)) &&
		     !bt_event_class_set_payload_field_class(tr->ec[k], payload);
		bt_field_class_put_ref(payload);
		if (!ok) {
			return false;
		}
	}
	return true;
}

static bool env_str(bt_trace *t, const char *key, const char *value)
{
	return bt_trace_set_environment_entry_string(t, key, value) == 0;
}

static bool env_int(bt_trace *t, const char *key, int64_t value)
{
	return bt_trace_set_environment_entry_integer(t, key, value) == 0;
}

static bool make_env_kernel(const struct vmsim *sim, const struct vmsim_trace *tr, bt_trace *t)
{
	bool guest = tr->kind == VMSIM_TRACE_GUEST;
	const char *rel = guest ? sim->k.guest_kernel_release : sim->k.host_kernel_release;
	bool ok;

	if (!strcmp(rel, "auto")) {
		rel = (sim->k.exit_vcpu_id || !strcmp(sim->k.entry_vcpu_id, "pointer")) ?
			      "5.15.0-91-generic" :
			      "5.4.0-150-generic";
	}
	ok = env_str(t, "hostname", tr->hostname) && env_str(t, "domain", "kernel") &&
	     env_str(t, "sysname", "Linux") && env_str(t, "kernel_release", rel) &&
	     env_str(t, "kernel_version", "#1 SMP Wed Feb 7 11:32:07 UTC 2024") &&
	     env_str(t, "tracer_name", "lttng-modules") && env_int(t, "tracer_major", 2) &&
	     env_int(t, "tracer_minor", 13) && env_int(t, "tracer_patchlevel", 9) &&
	     env_str(t, "trace_buffering_scheme", "global") &&
	     env_str(t, "trace_name", sim->k.trace_name) &&
	     env_str(t, "trace_creation_datetime", tr->datetime);
	if (ok && guest && (tr->vm->uuid_via & VMSIM_UUID_PRODUCT)) {
		ok = env_str(t, "product_uuid", tr->vm->uuid);
	}
	return ok;
}

static bool make_env_ust(const struct vmsim *sim, const struct vmsim_trace *tr, bt_trace *t)
{
	return env_str(t, "hostname", tr->hostname) && env_str(t, "domain", "ust") &&
	       env_str(t, "tracer_name", "lttng-ust") && env_int(t, "tracer_major", 2) &&
	       env_int(t, "tracer_minor", 13) && env_str(t, "tracer_buffering_scheme", "uid") &&
	       env_int(t, "tracer_buffering_id", 0) && env_int(t, "architecture_bit_width", 64) &&
	       env_str(t, "trace_name", sim->k.trace_name) &&
	       env_str(t, "trace_creation_datetime", tr->datetime);
}

static bool make_trace(struct vmsim *sim, struct vmsim_trace *tr)
{
	uint8_t uuid[16];
	char name[32];

	tr->trace = bt_trace_create(tr->tc);
	if (!tr->trace) {
		return false;
	}
	parse_uuid(tr->trace_uuid, uuid);
	bt_trace_set_uuid(tr->trace, uuid);
	if (!(tr->kind == VMSIM_TRACE_HOST_UST ? make_env_ust(sim, tr, tr->trace) :
						 make_env_kernel(sim, tr, tr->trace))) {
		return false;
	}
	tr->streams = g_new0(bt_stream *, tr->ncpus);
	tr->packets = g_new0(bt_packet *, tr->ncpus);
	tr->packet_len = g_new0(uint32_t, tr->ncpus);
	tr->last_nfo = g_new0(int64_t, tr->ncpus);
	tr->discarded = g_new0(uint64_t, tr->ncpus);
	for (int c = 0; c < tr->ncpus; c++) {
		tr->streams[c] = bt_stream_create(tr->sc, tr->trace);
		g_snprintf(name, sizeof(name), "channel0_%d", c);
		if (!tr->streams[c] || bt_stream_set_name(tr->streams[c], name)) {
			return false;
		}
	}
	return true;
}

/* Parses the `guest_events` and `host_discard_ms` knobs into `sim`. */
static bool parse_output_knobs(struct vmsim *sim)
{
	double from_ms = 0, to_ms = 0;
	gchar **names = g_strsplit(sim->k.guest_events, ",", -1);
	bool ok = true;

	for (int k = 0; k < VMSIM_EV_COUNT; k++) {
		sim->guest_kind_kept[k] =
			strcmp(sim->k.guest_events, "all") == 0 ||
			g_strv_contains((const gchar *const *) names, kinds[k].name);
	}
	g_strfreev(names);
	sim->discard_from_t = sim->discard_to_t = 0;
	if (sim->k.host_discard_ms[0]) {
		ok = sscanf(sim->k.host_discard_ms, "%lf,%lf", &from_ms, &to_ms) == 2 &&
		     from_ms >= 0 && to_ms > from_ms && sim->k.host_discard_cpu >= 0 &&
		     sim->k.host_discard_cpu < sim->k.pcpus;
		sim->discard_from_t = (int64_t) (from_ms * 1e6);
		sim->discard_to_t = (int64_t) (to_ms * 1e6);
	}
	if (!ok) {
		fprintf(stderr,
			"vmsim: host_discard_ms must be FROM,TO with 0 <= FROM < TO (ms) and "
			"host_discard_cpu a pCPU: host_discard_ms=\"%s\"\n",
			sim->k.host_discard_ms);
	}
	return ok;
}

bool vmsim_ir_create(struct vmsim *sim, bt_self_component *self)
{
	if (!parse_output_knobs(sim)) {
		return false;
	}
	for (int i = 0; i < sim->ntraces; i++) {
		struct vmsim_trace *tr = sim->traces[i];

		tr->tc = bt_trace_class_create(self);
		tr->cc = make_clock(self, tr);
		if (!tr->tc || !tr->cc || !make_stream_class(sim, tr) ||
		    !make_event_classes(sim, tr) || !make_trace(sim, tr)) {
			return false;
		}
	}
	return true;
}

void vmsim_ir_destroy(struct vmsim *sim)
{
	for (int i = 0; i < sim->ntraces; i++) {
		struct vmsim_trace *tr = sim->traces[i];

		for (int c = 0; tr->streams && c < tr->ncpus; c++) {
			BT_PACKET_PUT_REF_AND_RESET(tr->packets[c]);
			BT_STREAM_PUT_REF_AND_RESET(tr->streams[c]);
		}
		g_clear_pointer(&tr->streams, g_free);
		g_clear_pointer(&tr->packets, g_free);
		g_clear_pointer(&tr->packet_len, g_free);
		g_clear_pointer(&tr->last_nfo, g_free);
		g_clear_pointer(&tr->discarded, g_free);
		for (int k = 0; k < VMSIM_EV_COUNT; k++) {
			BT_EVENT_CLASS_PUT_REF_AND_RESET(tr->ec[k]);
		}
		BT_TRACE_PUT_REF_AND_RESET(tr->trace);
		BT_STREAM_CLASS_PUT_REF_AND_RESET(tr->sc);
		BT_CLOCK_CLASS_PUT_REF_AND_RESET(tr->cc);
		BT_TRACE_CLASS_PUT_REF_AND_RESET(tr->tc);
	}
}
