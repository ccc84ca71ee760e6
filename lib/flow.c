/* SPDX-License-Identifier: MIT */
#define VMT_LOG_TAG "VMTRACE/FLOW"
#include "lib/flow.h"

#include "lib/log.h"

#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/clock-ns.h"
#include "lib/ctf-graph.h"
#include "lib/message-stream.h"
#include "lib/ptr-cache.h"

/* A payload member a guest event class lacks. */
#define NO_MEMBER UINT64_MAX

/* What the flow reads in one guest event class. */
struct guest_class {
	/* `vm_uid` of `vmsync_*_guest`, NO_MEMBER for other classes. */
	uint64_t vm_uid;
	/* `next_tid` and `next_comm` of `sched_switch`, NO_MEMBER for other classes. */
	uint64_t next_tid;
	uint64_t next_comm;
};

struct host_entry {
	char machine[256];
	struct vmt_host_model *model; /* Weak: owned by the factory's user. */
};

struct vmt_flow {
	vmt_flow_create_model_func create_model;
	void *user;
	const struct vmt_log_ctx *log; /* Weak. */
	/* bt_trace -> struct vmt_flow_trace. */
	GHashTable *traces; /* Owned: keys hold a reference, values owned. */
	struct vmt_ptr_cache trace_cache; /* Of `traces`. */
	struct vmt_clock_ns_cache clock;
	GArray *hosts; /* Owned: struct host_entry. */
	struct vmt_host_event_decoder *decoder; /* Owned. */
	/* Guest event class -> struct guest_class. */
	GHashTable *guest_classes; /* Owned: keys hold a reference, values owned. */
	struct vmt_ptr_cache class_cache; /* Of `guest_classes`. */
	int64_t first_host_ns;
	int64_t last_host_ns;
	GPtrArray *guests; /* Owned array of weak guest traces (values of `traces`). */
	GStringChunk *comms; /* Owned: interned guest thread names. */
};

static void put_trace_key(gpointer key)
{
	bt_trace_put_ref(key);
}

static void destroy_trace(gpointer data)
{
	struct vmt_flow_trace *ft = data;

	if (ft->guest_threads) {
		g_array_free(ft->guest_threads, TRUE);
	}
	g_free(ft);
}

static void put_event_class_key(gpointer key)
{
	bt_event_class_put_ref(key);
}

struct vmt_flow *vmt_flow_create(vmt_flow_create_model_func create_model, void *user,
				 const struct vmt_log_ctx *log)
{
	struct vmt_flow *flow = g_new0(struct vmt_flow, 1);

	flow->create_model = create_model;
	flow->user = user;
	flow->log = log;
	flow->traces =
		g_hash_table_new_full(g_direct_hash, g_direct_equal, put_trace_key, destroy_trace);
	flow->guests = g_ptr_array_new();
	flow->comms = g_string_chunk_new(4096);
	flow->hosts = g_array_new(FALSE, TRUE, sizeof(struct host_entry));
	flow->decoder = vmt_host_event_decoder_create();
	flow->guest_classes =
		g_hash_table_new_full(g_direct_hash, g_direct_equal, put_event_class_key, g_free);
	flow->last_host_ns = INT64_MIN;
	flow->first_host_ns = INT64_MIN;
	return flow;
}

void vmt_flow_destroy(struct vmt_flow *flow)
{
	if (!flow) {
		return;
	}
	g_hash_table_destroy(flow->traces);
	g_array_free(flow->hosts, TRUE);
	vmt_host_event_decoder_destroy(flow->decoder);
	g_hash_table_destroy(flow->guest_classes);
	g_ptr_array_free(flow->guests, TRUE);
	g_string_chunk_free(flow->comms);
	g_free(flow);
}

int64_t vmt_flow_last_host_ns(const struct vmt_flow *flow)
{
	return flow->last_host_ns;
}

static struct vmt_host_model *find_or_add_host(struct vmt_flow *flow, const char *machine)
{
	struct host_entry entry;
	guint i;

	for (i = 0; i < flow->hosts->len; i++) {
		struct host_entry *host = &g_array_index(flow->hosts, struct host_entry, i);

		if (strcmp(host->machine, machine) == 0) {
			return host->model;
		}
	}
	memset(&entry, 0, sizeof(entry));
	g_strlcpy(entry.machine, machine, sizeof(entry.machine));
	entry.model = flow->create_model(flow->user);
	g_array_append_val(flow->hosts, entry);
	return entry.model;
}

static bool trace_has_events(const bt_trace *trace, bool (*pred)(const char *name))
{
	const bt_trace_class *tc = bt_trace_borrow_class_const(trace);
	uint64_t i, j;

	for (i = 0; i < bt_trace_class_get_stream_class_count(tc); i++) {
		const bt_stream_class *sc =
			bt_trace_class_borrow_stream_class_by_index_const(tc, i);

		for (j = 0; j < bt_stream_class_get_event_class_count(sc); j++) {
			const char *name = bt_event_class_get_name(
				bt_stream_class_borrow_event_class_by_index_const(sc, j));

			if (name && pred(name)) {
				return true;
			}
		}
	}
	return false;
}

static bool is_vmsync_guest_name(const char *name)
{
	return strcmp(name, "vmsync_gh_guest") == 0 || strcmp(name, "vmsync_hg_guest") == 0;
}

static const char *clock_uuid(const bt_trace *trace, char buf[37])
{
	const bt_trace_class *tc = bt_trace_borrow_class_const(trace);
	uint64_t i;

	for (i = 0; i < bt_trace_class_get_stream_class_count(tc); i++) {
		const bt_clock_class *cc = bt_stream_class_borrow_default_clock_class_const(
			bt_trace_class_borrow_stream_class_by_index_const(tc, i));

		if (cc && bt_clock_class_get_uuid(cc)) {
			vmt_uuid_format(bt_clock_class_get_uuid(cc), buf);
			return buf;
		}
	}
	return NULL;
}

static int64_t env_integer(const bt_trace *trace, const char *name, int64_t fallback)
{
	const bt_value *value = bt_trace_borrow_environment_entry_value_by_name_const(trace, name);

	return value && bt_value_is_signed_integer(value) ? bt_value_integer_signed_get(value) :
							    fallback;
}

/* Classification from `source.vmsync.fs`'s environment entries. */
static void classify_from_env(struct vmt_flow_trace *ft, const bt_trace *trace, const char *role)
{
	const char *vm_uid = vmt_trace_env_string(trace, "vmtrace_vm_uid");
	const char *value;

	ft->role = strcmp(role, "host") == 0  ? VMT_ROLE_HOST :
		   strcmp(role, "guest") == 0 ? VMT_ROLE_GUEST :
						VMT_ROLE_UNKNOWN;
	value = vmt_trace_env_string(trace, "vmtrace_machine");
	g_strlcpy(ft->machine, value ? value : "", sizeof(ft->machine));
	value = vmt_trace_env_string(trace, "vmtrace_host");
	g_strlcpy(ft->host_machine, value ? value : "", sizeof(ft->host_machine));
	if (!vmt_uuid_normalize(vmt_trace_env_string(trace, "vmtrace_vm_uuid"), ft->uuid)) {
		ft->uuid[0] = '\0';
	}
	if (vm_uid) {
		ft->has_vm_uid = true;
		ft->vm_uid = g_ascii_strtoull(vm_uid, NULL, 10);
	}
	ft->host_pid = env_integer(trace, "vmtrace_host_pid", -1);
}

/* Classification of a trace straight from `src.ctf.fs`. */
static void classify_from_trace(struct vmt_flow_trace *ft, const bt_trace *trace)
{
	const char *hostname = vmt_trace_env_string(trace, "hostname");
	char cc_uuid[37];
	const char *cc = clock_uuid(trace, cc_uuid);

	if (!vmt_uuid_normalize(vmt_trace_env_string(trace, "product_uuid"), ft->uuid)) {
		ft->uuid[0] = '\0';
	}
	if (trace_has_events(trace, vmt_host_event_name_is_kvm_host)) {
		ft->role = VMT_ROLE_HOST;
	} else if (ft->uuid[0] || trace_has_events(trace, is_vmsync_guest_name)) {
		ft->role = VMT_ROLE_GUEST;
	}
	g_strlcpy(ft->machine, hostname ? hostname : cc ? cc : "", sizeof(ft->machine));
}

static struct vmt_flow_trace *add_trace(struct vmt_flow *flow, const bt_trace *trace)
{
	struct vmt_flow_trace *ft = g_new0(struct vmt_flow_trace, 1);
	const char *role = vmt_trace_env_string(trace, "vmtrace_role");
	const char *hostname = vmt_trace_env_string(trace, "hostname");

	ft->host_pid = -1;
	ft->cpu_id_index = UINT64_MAX;
	if (role) {
		classify_from_env(ft, trace, role);
	} else {
		classify_from_trace(ft, trace);
	}
	g_strlcpy(ft->hostname, hostname ? hostname : "", sizeof(ft->hostname));
	ft->switched_cpu = -1;
	if (ft->role == VMT_ROLE_HOST) {
		ft->model = find_or_add_host(flow, ft->machine);
	} else if (ft->role == VMT_ROLE_GUEST) {
		ft->guest_threads = g_array_new(FALSE, FALSE, sizeof(struct vmt_flow_guest_thread));
		g_ptr_array_add(flow->guests, ft);
	}
	bt_trace_get_ref(trace);
	g_hash_table_insert(flow->traces, (gpointer) trace, ft);
	VMT_LOGD(flow->log, "Classified trace: name=\"%s\", role=%s, machine=\"%s\"",
		 bt_trace_get_name(trace) ? bt_trace_get_name(trace) : "", vmt_role_name(ft->role),
		 ft->machine);
	return ft;
}

static struct vmt_flow_trace *find_or_add_trace(struct vmt_flow *flow, const bt_trace *trace)
{
	struct vmt_flow_trace *ft = vmt_ptr_cache_find(&flow->trace_cache, trace);

	if (ft) {
		return ft;
	}
	ft = g_hash_table_lookup(flow->traces, trace);
	if (!ft) {
		ft = add_trace(flow, trace);
	}
	vmt_ptr_cache_set(&flow->trace_cache, trace, ft);
	return ft;
}

/* Index of member `name` of `structure` if it is of `type`, else NO_MEMBER. */
static uint64_t member_index(const bt_field_class *structure, const char *name,
			     bt_field_class_type type)
{
	uint64_t i, count;

	if (!structure || bt_field_class_get_type(structure) != BT_FIELD_CLASS_TYPE_STRUCTURE) {
		return NO_MEMBER;
	}
	count = bt_field_class_structure_get_member_count(structure);
	for (i = 0; i < count; i++) {
		const bt_field_class_structure_member *member =
			bt_field_class_structure_borrow_member_by_index_const(structure, i);

		if (strcmp(bt_field_class_structure_member_get_name(member), name) == 0) {
			return bt_field_class_type_is(
				       bt_field_class_get_type(
					       bt_field_class_structure_member_borrow_field_class_const(
						       member)),
				       type) ?
				       i :
				       NO_MEMBER;
		}
	}
	return NO_MEMBER;
}

static const struct guest_class *find_guest_class(struct vmt_flow *flow,
						  const bt_event_class *event_class)
{
	struct guest_class *gc = vmt_ptr_cache_find(&flow->class_cache, event_class);
	const char *name;
	const bt_field_class *payload;

	if (gc) {
		return gc;
	}
	gc = g_hash_table_lookup(flow->guest_classes, event_class);
	if (!gc) {
		name = bt_event_class_get_name(event_class);
		payload = bt_event_class_borrow_payload_field_class_const(event_class);
		gc = g_new(struct guest_class, 1);
		gc->vm_uid = gc->next_tid = gc->next_comm = NO_MEMBER;
		if (name && is_vmsync_guest_name(name)) {
			gc->vm_uid = member_index(payload, "vm_uid", BT_FIELD_CLASS_TYPE_INTEGER);
		} else if (name && strcmp(name, "sched_switch") == 0) {
			gc->next_tid =
				member_index(payload, "next_tid", BT_FIELD_CLASS_TYPE_INTEGER);
			gc->next_comm =
				member_index(payload, "next_comm", BT_FIELD_CLASS_TYPE_STRING);
		}
		bt_event_class_get_ref(event_class);
		g_hash_table_insert(flow->guest_classes, (gpointer) event_class, gc);
	}
	vmt_ptr_cache_set(&flow->class_cache, event_class, gc);
	return gc;
}

/* A guest's first vmsync event tells its vm_uid (traces straight from `src.ctf.fs`). */
static void learn_guest_vm_uid(struct vmt_flow_trace *ft, const bt_message *msg,
			       const struct guest_class *gc)
{
	const bt_field *field = bt_field_structure_borrow_member_field_by_index_const(
		bt_event_borrow_payload_field_const(bt_message_event_borrow_event_const(msg)),
		gc->vm_uid);

	/* Read as the host reads hypercall arguments: the same 64 bits. */
	ft->vm_uid = bt_field_class_type_is(bt_field_get_class_type(field),
					    BT_FIELD_CLASS_TYPE_SIGNED_INTEGER) ?
			     (uint64_t) bt_field_integer_signed_get_value(field) :
			     bt_field_integer_unsigned_get_value(field);
	ft->has_vm_uid = true;
}

static void record_guest_switch(struct vmt_flow *flow, struct vmt_flow_trace *ft,
				const bt_message *msg, const struct guest_class *gc);

static void handle_guest_event(struct vmt_flow *flow, struct vmt_flow_trace *ft,
			       const bt_message *msg)
{
	const struct guest_class *gc = find_guest_class(
		flow, bt_event_borrow_class_const(bt_message_event_borrow_event_const(msg)));

	if (gc->vm_uid != NO_MEMBER && !ft->has_vm_uid) {
		learn_guest_vm_uid(ft, msg, gc);
	} else if (gc->next_tid != NO_MEMBER) {
		record_guest_switch(flow, ft, msg, gc);
	}
}

static int64_t event_ns(struct vmt_flow *flow, const bt_message *msg)
{
	int64_t ns;

	if (!bt_message_event_borrow_stream_class_default_clock_class_const(msg) ||
	    !vmt_clock_ns(&flow->clock, bt_message_event_borrow_default_clock_snapshot_const(msg),
			  &ns)) {
		return INT64_MIN;
	}
	return ns;
}

struct vmt_flow_trace *vmt_flow_handle(struct vmt_flow *flow, const bt_message *msg,
				       int64_t *ns_out)
{
	const bt_stream *stream = vmt_message_borrow_stream(msg);
	struct vmt_flow_trace *ft;
	struct vmt_host_event event;
	int64_t ns = INT64_MIN;

	if (ns_out) {
		*ns_out = INT64_MIN;
	}
	if (!stream) {
		return NULL;
	}
	ft = find_or_add_trace(flow, bt_stream_borrow_trace_const(stream));
	ft->switched_cpu = -1;
	if (bt_message_get_type(msg) != BT_MESSAGE_TYPE_EVENT) {
		return ft;
	}
	if (ft->role == VMT_ROLE_HOST || ns_out) {
		ns = event_ns(flow, msg);
		if (ns_out) {
			*ns_out = ns;
		}
	}
	if (ft->role == VMT_ROLE_HOST && ns != INT64_MIN) {
		vmt_host_event_decode(flow->decoder, msg, ns, &event);
		if (ns > flow->last_host_ns) {
			flow->last_host_ns = ns;
		}
		if (flow->first_host_ns == INT64_MIN) {
			flow->first_host_ns = ns;
		}
		vmt_host_model_handle(ft->model, &event);
	} else if (ft->role == VMT_ROLE_GUEST) {
		handle_guest_event(flow, ft, msg);
	}
	return ft;
}

static struct vmt_host_model *guest_host_model(struct vmt_flow *flow,
					       const struct vmt_flow_trace *ft)
{
	guint i;

	for (i = 0; i < flow->hosts->len; i++) {
		struct host_entry *host = &g_array_index(flow->hosts, struct host_entry, i);

		if (!ft->host_machine[0] || strcmp(host->machine, ft->host_machine) == 0) {
			return host->model;
		}
	}
	return NULL;
}

struct vmt_vm *vmt_flow_guest_vm(struct vmt_flow *flow, struct vmt_flow_trace *ft)
{
	struct vmt_vm *vm;

	/*
	 * A guest trace belongs to one VM instance: once found, it stays, even
	 * after the VM is destroyed and its pid reused by another VM.
	 */
	if (ft->vm) {
		return ft->vm;
	}
	if (!ft->model) {
		ft->model = guest_host_model(flow, ft);
		if (!ft->model) {
			return NULL;
		}
	}
	vm = vmt_host_model_find_vm(ft->model, ft->uuid, ft->has_vm_uid, ft->vm_uid);
	if (!vm && ft->host_pid >= 0) {
		vm = vmt_host_model_find_vm_by_pid(ft->model, ft->host_pid);
		/* A pid names a VM only if nothing we know contradicts it. */
		if (vm && ft->uuid[0] && vm->uuid[0] && strcmp(vm->uuid, ft->uuid) != 0) {
			vm = NULL;
		}
	}
	if (vm && ft->hostname[0] && !vm->guest_hostname[0]) {
		g_strlcpy(vm->guest_hostname, ft->hostname, sizeof(vm->guest_hostname));
	}
	ft->vm = vm;
	return vm;
}

int64_t vmt_flow_event_cpu(struct vmt_flow_trace *ft, const bt_message *msg)
{
	const bt_event *event = bt_message_event_borrow_event_const(msg);
	const bt_packet *packet = bt_event_borrow_packet_const(event);
	const bt_stream_class *sc;
	const bt_field *context, *field;

	if (!packet) {
		return -1;
	}
	sc = bt_stream_borrow_class_const(bt_packet_borrow_stream_const(packet));
	if (sc != ft->cpu_id_class) {
		const bt_field_class *fc =
			bt_stream_class_borrow_packet_context_field_class_const(sc);
		const bt_field_class_structure_member *member =
			fc ? bt_field_class_structure_borrow_member_by_name_const(fc, "cpu_id") :
			     NULL;
		uint64_t i;

		ft->cpu_id_class = sc;
		ft->cpu_id_index = UINT64_MAX;
		for (i = 0; member && i < bt_field_class_structure_get_member_count(fc); i++) {
			if (bt_field_class_structure_borrow_member_by_index_const(fc, i) ==
			    member) {
				ft->cpu_id_index = i;
			}
		}
	}
	context = bt_packet_borrow_context_field_const(packet);
	if (ft->cpu_id_index == UINT64_MAX || !context) {
		return -1;
	}
	field = bt_field_structure_borrow_member_field_by_index_const(context, ft->cpu_id_index);
	if (!bt_field_class_type_is(bt_field_get_class_type(field), BT_FIELD_CLASS_TYPE_INTEGER)) {
		return -1;
	}
	return bt_field_class_type_is(bt_field_get_class_type(field),
				      BT_FIELD_CLASS_TYPE_SIGNED_INTEGER) ?
		       bt_field_integer_signed_get_value(field) :
		       (int64_t) bt_field_integer_unsigned_get_value(field);
}

void vmt_flow_tag_guest_event(struct vmt_flow *flow, struct vmt_flow_trace *ft,
			      const bt_message *msg, struct vmt_guest_tag *tag)
{
	struct vmt_vm *vm = vmt_flow_guest_vm(flow, ft);
	struct vmt_thread *thread;

	tag->vcpu = vmt_flow_event_cpu(ft, msg);
	thread = vmt_host_model_find_vcpu_thread(vm, tag->vcpu);
	tag->uuid = vm && vm->uuid[0] ? vm->uuid : ft->uuid;
	tag->host_pid = vm ? vm->pid : -1;
	tag->host_tid = thread ? thread->tid : -1;
	tag->pcpu = -1;
	tag->host_state = "";
	if (thread && thread->has_timeline) {
		tag->host_state = vmt_vcpu_state_name(thread->state);
		if (thread->state == VMT_VCPU_STATE_RUNNING ||
		    thread->state == VMT_VCPU_STATE_HYPERVISOR) {
			tag->pcpu = thread->cpu;
		}
	}
}

/* A guest `sched_switch` sets the thread its CPU runs. */
static void record_guest_switch(struct vmt_flow *flow, struct vmt_flow_trace *ft,
				const bt_message *msg, const struct guest_class *gc)
{
	const bt_event *event = bt_message_event_borrow_event_const(msg);
	const bt_field *payload = bt_event_borrow_payload_field_const(event);
	const bt_field *field =
		bt_field_structure_borrow_member_field_by_index_const(payload, gc->next_tid);
	int64_t cpu = vmt_flow_event_cpu(ft, msg);
	struct vmt_flow_guest_thread *current;
	const char *comm = NULL;

	if (cpu < 0 || cpu >= 65536) {
		return;
	}
	if ((guint64) cpu >= ft->guest_threads->len) {
		guint old_len = ft->guest_threads->len, i;

		g_array_set_size(ft->guest_threads, cpu + 1);
		for (i = old_len; i < ft->guest_threads->len; i++) {
			g_array_index(ft->guest_threads, struct vmt_flow_guest_thread, i).tid = -1;
			g_array_index(ft->guest_threads, struct vmt_flow_guest_thread, i).comm =
				NULL;
		}
	}
	current = &g_array_index(ft->guest_threads, struct vmt_flow_guest_thread, cpu);
	current->tid = bt_field_class_type_is(bt_field_get_class_type(field),
					      BT_FIELD_CLASS_TYPE_SIGNED_INTEGER) ?
			       bt_field_integer_signed_get_value(field) :
			       (int64_t) bt_field_integer_unsigned_get_value(field);
	if (gc->next_comm != NO_MEMBER) {
		comm = bt_field_string_get_value(
			bt_field_structure_borrow_member_field_by_index_const(payload,
									      gc->next_comm));
	}
	current->comm = g_string_chunk_insert_const(flow->comms, comm ? comm : "");
	ft->switched_cpu = cpu;
}

int64_t vmt_flow_guest_thread(struct vmt_flow *flow, const struct vmt_vm *vm, int64_t vcpu,
			      const char **comm)
{
	guint i;

	*comm = NULL;
	for (i = 0; vm && vcpu >= 0 && i < flow->guests->len; i++) {
		struct vmt_flow_trace *ft = g_ptr_array_index(flow->guests, i);
		const struct vmt_flow_guest_thread *current;

		if ((guint64) vcpu >= ft->guest_threads->len || vmt_flow_guest_vm(flow, ft) != vm) {
			continue;
		}
		current = &g_array_index(ft->guest_threads, struct vmt_flow_guest_thread, vcpu);
		if (current->tid >= 0) {
			*comm = current->comm;
			return current->tid;
		}
	}
	return -1;
}

int64_t vmt_flow_first_host_ns(const struct vmt_flow *flow)
{
	return flow->first_host_ns;
}

struct foreach_context {
	void (*func)(struct vmt_flow_trace *trace, void *data);
	void *data;
};

static void call_if_guest(gpointer key, gpointer value, gpointer data)
{
	struct foreach_context *ctx = data;
	struct vmt_flow_trace *ft = value;

	(void) key;
	if (ft->role == VMT_ROLE_GUEST) {
		ctx->func(ft, ctx->data);
	}
}

void vmt_flow_foreach_guest(struct vmt_flow *flow,
			    void (*func)(struct vmt_flow_trace *trace, void *data), void *data)
{
	struct foreach_context ctx = { func, data };

	g_hash_table_foreach(flow->traces, call_if_guest, &ctx);
}
