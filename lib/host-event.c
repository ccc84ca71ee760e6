/* SPDX-License-Identifier: MIT */
/*
 * Decoding of host events: each event class is resolved once into its
 * kind and the payload member indexes the host model reads.
 */
#include "lib/host-event.h"

#include <string.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/common.h"
#include "lib/ptr-cache.h"

/* Most members a decoded kind reads. */
#define MAX_MEMBERS 5

/* A member that the event class lacks, or whose type does not fit. */
#define NO_MEMBER UINT64_MAX

enum member_type {
	MEMBER_ABSENT,
	MEMBER_SIGNED,
	MEMBER_UNSIGNED,
	MEMBER_STRING,
};

struct member {
	uint64_t index;
	enum member_type type;
};

/* What one event class decodes to. */
struct event_decoding {
	enum vmt_host_event_kind kind;
	struct member members[MAX_MEMBERS];
	/* `tid` and `pid` of the event common context, and `cpu_id` of the packet context. */
	struct member ctx_tid;
	struct member ctx_pid;
	struct member packet_cpu;
};

struct vmt_host_event_decoder {
	/* Event class -> decoding. */
	GHashTable *decodings; /* Owned: keys hold a reference, values owned. */
	struct vmt_ptr_cache cache; /* Of `decodings`. */
};

/* Payload member names read for each kind, in `members[]` order. */
static const char *const member_names[][MAX_MEMBERS] = {
	[VMT_HOST_EVENT_OTHER] = { NULL },
	[VMT_HOST_EVENT_SCHED_SWITCH] = { "prev_tid", "next_tid", "prev_state", "prev_comm",
					  "next_comm" },
	[VMT_HOST_EVENT_KVM_ENTRY] = { "vcpu_id" },
	[VMT_HOST_EVENT_KVM_EXIT] = { "exit_reason", "isa", "vcpu_id" },
	[VMT_HOST_EVENT_HYPERCALL] = { "nr", "a0", "a1" },
	[VMT_HOST_EVENT_VMSYNC_GH_HOST] = { "cnt", "vm_uid" },
	[VMT_HOST_EVENT_PROCESS_FORK] = { "parent_tid", "parent_pid", "child_tid", "child_pid",
					  "child_comm" },
	[VMT_HOST_EVENT_PROCESS_EXIT] = { "tid" },
	[VMT_HOST_EVENT_STATEDUMP_PROCESS] = { "tid", "pid", "name" },
	[VMT_HOST_EVENT_VM_UUID] = { "pid", NULL },
	[VMT_HOST_EVENT_VM_DESTROYED] = { "pid" },
};

static bool has_suffix(const char *name, const char *suffix)
{
	size_t len = strlen(name), suffix_len = strlen(suffix);

	return len >= suffix_len && strcmp(name + len - suffix_len, suffix) == 0;
}

enum vmt_host_event_kind vmt_host_event_kind_from_name(const char *name)
{
	static const struct {
		const char *name;
		enum vmt_host_event_kind kind;
	} exact[] = {
		{ "sched_switch", VMT_HOST_EVENT_SCHED_SWITCH },
		{ "kvm_x86_entry", VMT_HOST_EVENT_KVM_ENTRY },
		{ "kvm_entry", VMT_HOST_EVENT_KVM_ENTRY },
		{ "kvm_x86_exit", VMT_HOST_EVENT_KVM_EXIT },
		{ "kvm_exit", VMT_HOST_EVENT_KVM_EXIT },
		{ "kvm_x86_hypercall", VMT_HOST_EVENT_HYPERCALL },
		{ "kvm_hypercall", VMT_HOST_EVENT_HYPERCALL },
		{ "vmsync_gh_host", VMT_HOST_EVENT_VMSYNC_GH_HOST },
		{ "sched_process_fork", VMT_HOST_EVENT_PROCESS_FORK },
		{ "sched_process_exit", VMT_HOST_EVENT_PROCESS_EXIT },
		{ "lttng_statedump_process_state", VMT_HOST_EVENT_STATEDUMP_PROCESS },
	};
	size_t i;

	if (!name) {
		return VMT_HOST_EVENT_OTHER;
	}
	for (i = 0; i < VMT_ARRAY_SIZE(exact); i++) {
		if (strcmp(name, exact[i].name) == 0) {
			return exact[i].kind;
		}
	}
	/* UST providers vary (lttng_collectd_statedump, lttng_sessiond_statedump, udev_monitor, kvm_udev). */
	if (strchr(name, ':')) {
		if (has_suffix(name, ":kvm_guest") || has_suffix(name, ":kvm_created")) {
			return VMT_HOST_EVENT_VM_UUID;
		}
		if (has_suffix(name, ":kvm_destroyed")) {
			return VMT_HOST_EVENT_VM_DESTROYED;
		}
	}
	return VMT_HOST_EVENT_OTHER;
}

bool vmt_host_event_name_is_kvm_host(const char *name)
{
	switch (vmt_host_event_kind_from_name(name)) {
	case VMT_HOST_EVENT_KVM_ENTRY:
	case VMT_HOST_EVENT_KVM_EXIT:
	case VMT_HOST_EVENT_VMSYNC_GH_HOST:
	case VMT_HOST_EVENT_VM_UUID:
		return true;
	default:
		return false;
	}
}

static struct member find_member(const bt_field_class *structure, const char *name)
{
	struct member member = { NO_MEMBER, MEMBER_ABSENT };
	const bt_field_class_structure_member *fc_member;
	bt_field_class_type type;
	uint64_t i, count;

	if (!structure || bt_field_class_get_type(structure) != BT_FIELD_CLASS_TYPE_STRUCTURE) {
		return member;
	}
	count = bt_field_class_structure_get_member_count(structure);
	for (i = 0; i < count; i++) {
		fc_member = bt_field_class_structure_borrow_member_by_index_const(structure, i);
		if (strcmp(bt_field_class_structure_member_get_name(fc_member), name) != 0) {
			continue;
		}
		type = bt_field_class_get_type(
			bt_field_class_structure_member_borrow_field_class_const(fc_member));
		if (bt_field_class_type_is(type, BT_FIELD_CLASS_TYPE_SIGNED_INTEGER)) {
			member.type = MEMBER_SIGNED;
		} else if (bt_field_class_type_is(type, BT_FIELD_CLASS_TYPE_UNSIGNED_INTEGER)) {
			member.type = MEMBER_UNSIGNED;
		} else if (type == BT_FIELD_CLASS_TYPE_STRING) {
			member.type = MEMBER_STRING;
		} else {
			break;
		}
		member.index = i;
		break;
	}
	return member;
}

static struct event_decoding *resolve(const bt_event_class *event_class)
{
	struct event_decoding *decoding = g_new0(struct event_decoding, 1);
	const bt_stream_class *stream_class = bt_event_class_borrow_stream_class_const(event_class);
	const bt_field_class *payload =
		bt_event_class_borrow_payload_field_class_const(event_class);
	const bt_field_class *common =
		bt_stream_class_borrow_event_common_context_field_class_const(stream_class);
	const bt_field_class *packet =
		bt_stream_class_borrow_packet_context_field_class_const(stream_class);
	const char *const *names;
	int i;

	decoding->kind = vmt_host_event_kind_from_name(bt_event_class_get_name(event_class));
	names = member_names[decoding->kind];
	for (i = 0; i < MAX_MEMBERS; i++) {
		decoding->members[i] = names[i] ? find_member(payload, names[i]) :
						  (struct member){ NO_MEMBER, MEMBER_ABSENT };
	}
	if (decoding->kind == VMT_HOST_EVENT_VM_UUID) {
		/* `kvm_guest` names its UUID `guest_uuid`; `kvm_created`, `uuid`. */
		decoding->members[1] = find_member(payload, "guest_uuid");
		if (decoding->members[1].type != MEMBER_STRING) {
			decoding->members[1] = find_member(payload, "uuid");
		}
	}
	decoding->ctx_tid = find_member(common, "tid");
	decoding->ctx_pid = find_member(common, "pid");
	decoding->packet_cpu = find_member(packet, "cpu_id");
	return decoding;
}

static void destroy_decoding_key(gpointer key)
{
	bt_event_class_put_ref(key);
}

struct vmt_host_event_decoder *vmt_host_event_decoder_create(void)
{
	struct vmt_host_event_decoder *decoder = g_new0(struct vmt_host_event_decoder, 1);

	decoder->decodings =
		g_hash_table_new_full(g_direct_hash, g_direct_equal, destroy_decoding_key, g_free);
	return decoder;
}

void vmt_host_event_decoder_destroy(struct vmt_host_event_decoder *decoder)
{
	if (!decoder) {
		return;
	}
	g_hash_table_destroy(decoder->decodings);
	g_free(decoder);
}

static struct event_decoding *find_or_add_decoding(struct vmt_host_event_decoder *decoder,
						   const bt_event_class *event_class)
{
	struct event_decoding *decoding = vmt_ptr_cache_find(&decoder->cache, event_class);

	if (decoding) {
		return decoding;
	}
	decoding = g_hash_table_lookup(decoder->decodings, event_class);
	if (!decoding) {
		decoding = resolve(event_class);
		bt_event_class_get_ref(event_class);
		g_hash_table_insert(decoder->decodings, (gpointer) event_class, decoding);
	}
	vmt_ptr_cache_set(&decoder->cache, event_class, decoding);
	return decoding;
}

static int64_t read_int(const bt_field *structure, struct member member)
{
	const bt_field *field;

	if (!structure || member.type == MEMBER_ABSENT || member.type == MEMBER_STRING) {
		return -1;
	}
	field = bt_field_structure_borrow_member_field_by_index_const(structure, member.index);
	if (member.type == MEMBER_SIGNED) {
		return bt_field_integer_signed_get_value(field);
	}
	return (int64_t) bt_field_integer_unsigned_get_value(field);
}

static uint64_t read_uint(const bt_field *structure, struct member member)
{
	return (uint64_t) read_int(structure, member);
}

static const char *read_string(const bt_field *structure, struct member member)
{
	if (!structure || member.type != MEMBER_STRING) {
		return NULL;
	}
	return bt_field_string_get_value(
		bt_field_structure_borrow_member_field_by_index_const(structure, member.index));
}

static void decode_payload(const struct event_decoding *d, const bt_field *p,
			   struct vmt_host_event *out)
{
	const struct member *m = d->members;

	switch (d->kind) {
	case VMT_HOST_EVENT_SCHED_SWITCH:
		out->u.sched_switch.prev_tid = read_int(p, m[0]);
		out->u.sched_switch.next_tid = read_int(p, m[1]);
		out->u.sched_switch.prev_state = read_int(p, m[2]);
		out->u.sched_switch.prev_comm = read_string(p, m[3]);
		out->u.sched_switch.next_comm = read_string(p, m[4]);
		break;
	case VMT_HOST_EVENT_KVM_ENTRY:
		out->u.entry.vcpu_id = read_int(p, m[0]);
		break;
	case VMT_HOST_EVENT_KVM_EXIT:
		out->u.exit.exit_reason = read_uint(p, m[0]);
		out->u.exit.isa = read_int(p, m[1]);
		out->u.exit.vcpu_id = read_int(p, m[2]);
		break;
	case VMT_HOST_EVENT_HYPERCALL:
		out->u.hypercall.nr = read_uint(p, m[0]);
		out->u.hypercall.a0 = read_uint(p, m[1]);
		out->u.hypercall.a1 = read_uint(p, m[2]);
		break;
	case VMT_HOST_EVENT_VMSYNC_GH_HOST:
		out->u.vmsync.cnt = read_uint(p, m[0]);
		out->u.vmsync.vm_uid = read_uint(p, m[1]);
		break;
	case VMT_HOST_EVENT_PROCESS_FORK:
		out->u.fork.parent_tid = read_int(p, m[0]);
		out->u.fork.parent_pid = read_int(p, m[1]);
		out->u.fork.child_tid = read_int(p, m[2]);
		out->u.fork.child_pid = read_int(p, m[3]);
		out->u.fork.child_comm = read_string(p, m[4]);
		break;
	case VMT_HOST_EVENT_PROCESS_EXIT:
		out->u.process_exit.tid = read_int(p, m[0]);
		break;
	case VMT_HOST_EVENT_STATEDUMP_PROCESS:
		out->u.statedump.tid = read_int(p, m[0]);
		out->u.statedump.pid = read_int(p, m[1]);
		out->u.statedump.name = read_string(p, m[2]);
		break;
	case VMT_HOST_EVENT_VM_UUID:
		out->u.vm_uuid.pid = read_int(p, m[0]);
		out->u.vm_uuid.uuid = read_string(p, m[1]);
		break;
	case VMT_HOST_EVENT_VM_DESTROYED:
		out->u.vm_destroyed.pid = read_int(p, m[0]);
		break;
	case VMT_HOST_EVENT_OTHER:
		break;
	}
}

void vmt_host_event_decode(struct vmt_host_event_decoder *decoder, const bt_message *msg,
			   int64_t ts, struct vmt_host_event *out)
{
	const bt_event *event = bt_message_event_borrow_event_const(msg);
	const struct event_decoding *d =
		find_or_add_decoding(decoder, bt_event_borrow_class_const(event));
	const bt_packet *packet;

	out->kind = d->kind;
	out->ts = ts;
	if (d->kind == VMT_HOST_EVENT_OTHER) {
		return;
	}
	packet = bt_event_borrow_packet_const(event);
	out->cpu = packet ? read_int(bt_packet_borrow_context_field_const(packet), d->packet_cpu) :
			    -1;
	out->ctx_tid = read_int(bt_event_borrow_common_context_field_const(event), d->ctx_tid);
	out->ctx_pid = read_int(bt_event_borrow_common_context_field_const(event), d->ctx_pid);
	decode_payload(d, bt_event_borrow_payload_field_const(event), out);
}
