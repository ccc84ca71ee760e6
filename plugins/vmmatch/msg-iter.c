/* SPDX-License-Identifier: MIT */
#define VMT_LOG_TAG "PLUGIN/FLT.VMMATCH.TAG/MSG-ITER"
#include "msg-iter.h"

#include "lib/log.h"

#include <string.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/flow.h"
#include "lib/host-model.h"
#include "lib/ir-copy.h"

#include "component.h"

/* Share of tagged events outside `running` above which the summary is a warning. */
#define BAD_SYNC_SHARE 0.01

struct vmmatch_msg_iter {
	struct vmt_log_ctx log;
	struct vmmatch_comp *comp; /* Weak. */
	bt_self_message_iterator *self; /* Weak. */
	bt_message_iterator *upstream; /* Owned. */
	struct vmt_flow *flow; /* Owned. */
	GPtrArray *models; /* Owned: the host models the flow created. */
	struct vmt_ir_copy *copy; /* Owned. */
	/* The guest trace of the message being copied (for `fill_event`). */
	struct vmt_flow_trace *current; /* Weak: owned by `flow`. */
	uint64_t tagged_count;
	uint64_t outside_running_count;
	uint64_t unknown_count;
};

static struct vmt_host_model *create_model(void *user)
{
	struct vmmatch_msg_iter *iter = user;
	struct vmt_host_model *model = vmt_host_model_create(NULL, NULL);

	g_ptr_array_add(iter->models, model);
	return model;
}

static bool append_member(bt_field_class *structure, const char *name, bt_field_class *member)
{
	bool ok = member && bt_field_class_structure_append_member(structure, name, member) ==
				    BT_FIELD_CLASS_STRUCTURE_APPEND_MEMBER_STATUS_OK;

	bt_field_class_put_ref(member);
	return ok;
}

/* The SPEC §3 `vm` structure class. */
static bt_field_class *create_vm_class(bt_trace_class *tc)
{
	bt_field_class *vm = bt_field_class_structure_create(tc);
	bool ok = vm != NULL;

	ok = ok && append_member(vm, "uuid", bt_field_class_string_create(tc));
	ok = ok && append_member(vm, "host_pid", bt_field_class_integer_signed_create(tc));
	ok = ok && append_member(vm, "host_tid", bt_field_class_integer_signed_create(tc));
	ok = ok && append_member(vm, "vcpu", bt_field_class_integer_signed_create(tc));
	ok = ok && append_member(vm, "pcpu", bt_field_class_integer_signed_create(tc));
	ok = ok && append_member(vm, "host_state", bt_field_class_string_create(tc));
	if (!ok) {
		BT_FIELD_CLASS_PUT_REF_AND_RESET(vm);
	}
	return vm;
}

static enum vmt_status extend_common_context(void *user, const bt_stream_class *in_sc,
					     bt_trace_class *out_tc, bt_field_class **out_struct)
{
	struct vmmatch_msg_iter *iter = user;
	bt_field_class *vm;

	(void) in_sc;
	if (*out_struct && bt_field_class_structure_borrow_member_by_name(*out_struct, "vm")) {
		VMT_LOGE_APPEND_CAUSE(&iter->log,
				      "Guest events already have a `vm` common-context member "
				      "(tagged twice?)");
		return VMT_STATUS_ERROR;
	}
	if (!*out_struct) {
		*out_struct = bt_field_class_structure_create(out_tc);
	}
	vm = *out_struct ? create_vm_class(out_tc) : NULL;
	if (!append_member(*out_struct, "vm", vm)) {
		VMT_LOGE_APPEND_CAUSE(&iter->log, "Cannot create the `vm` member class");
		return VMT_STATUS_MEMORY_ERROR;
	}
	return VMT_STATUS_OK;
}

static enum vmt_status fill_vm(bt_field *vm, const struct vmt_guest_tag *tag)
{
	if (bt_field_string_set_value(bt_field_structure_borrow_member_field_by_index(vm, 0),
				      tag->uuid) ||
	    bt_field_string_set_value(bt_field_structure_borrow_member_field_by_index(vm, 5),
				      tag->host_state)) {
		return VMT_STATUS_MEMORY_ERROR;
	}
	bt_field_integer_signed_set_value(bt_field_structure_borrow_member_field_by_index(vm, 1),
					  tag->host_pid);
	bt_field_integer_signed_set_value(bt_field_structure_borrow_member_field_by_index(vm, 2),
					  tag->host_tid);
	bt_field_integer_signed_set_value(bt_field_structure_borrow_member_field_by_index(vm, 3),
					  tag->vcpu);
	bt_field_integer_signed_set_value(bt_field_structure_borrow_member_field_by_index(vm, 4),
					  tag->pcpu);
	return VMT_STATUS_OK;
}

static enum vmt_status fill_event(void *user, const bt_message *in_msg, bt_event *out_event)
{
	struct vmmatch_msg_iter *iter = user;
	bt_field *context = bt_event_borrow_common_context_field(out_event);
	uint64_t count =
		bt_field_class_structure_get_member_count(bt_field_borrow_class_const(context));
	struct vmt_guest_tag tag;

	vmt_flow_tag_guest_event(iter->flow, iter->current, in_msg, &tag);
	iter->tagged_count++;
	if (tag.host_tid < 0) {
		iter->unknown_count++;
	}
	if (strcmp(tag.host_state, "running") != 0) {
		iter->outside_running_count++;
	}
	/* `vm` is the last member: extend_common_context() appended it. */
	if (fill_vm(bt_field_structure_borrow_member_field_by_index(context, count - 1), &tag) !=
	    VMT_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(&iter->log, "Cannot set a `vm` field");
		return VMT_STATUS_MEMORY_ERROR;
	}
	return VMT_STATUS_OK;
}

static const struct vmt_ir_copy_hooks copy_hooks = {
	.borrow_out_clock_class = NULL,
	.convert_ns = NULL,
	.extend_common_context = extend_common_context,
	.fill_event = fill_event,
	.init_out_trace = NULL,
};

/* Why guest events fall outside `running`, for the user who reads the summary. */
static const char *outside_running_hint(const struct vmmatch_msg_iter *iter)
{
	if (iter->unknown_count * 2 > iter->outside_running_count) {
		return "; most of them have no known host vCPU thread: the guest is not tied to a "
		       "VM (no UUID, no vmsync exchange) or its vCPU threads have no known index "
		       "(no `CPU <n>/KVM` name, no KVM `vcpu_id`)";
	}
	return "; guest events outside their vCPU's running time point to a clock-sync error";
}

static void log_summary(struct vmmatch_msg_iter *iter)
{
	double outside = iter->tagged_count ? (double) iter->outside_running_count /
						      (double) iter->tagged_count :
					      0;
	bool is_bad = outside > BAD_SYNC_SHARE;

	VMT_LOG(&iter->log, is_bad ? BT_LOGGING_LEVEL_WARNING : BT_LOGGING_LEVEL_INFO,
		"Tagged guest events: tagged=%" PRIu64 ", outside-running=%" PRIu64
		" (%.3f%%), unknown-vcpu-thread=%" PRIu64 "%s",
		iter->tagged_count, iter->outside_running_count, 100.0 * outside,
		iter->unknown_count, is_bad ? outside_running_hint(iter) : "");
}

static void destroy_iter(struct vmmatch_msg_iter *iter)
{
	if (!iter) {
		return;
	}
	vmt_ir_copy_destroy(iter->copy);
	vmt_flow_destroy(iter->flow);
	if (iter->models) {
		g_ptr_array_free(iter->models, TRUE);
	}
	bt_message_iterator_put_ref(iter->upstream);
	g_free(iter);
}

static void destroy_model(gpointer model)
{
	vmt_host_model_destroy(model);
}

/* (Re)creates the per-pass state: the flow, its models and the copy. */
static enum vmt_status start_pass(struct vmmatch_msg_iter *iter)
{
	vmt_ir_copy_destroy(iter->copy);
	vmt_flow_destroy(iter->flow);
	if (iter->models) {
		g_ptr_array_free(iter->models, TRUE);
	}
	iter->models = g_ptr_array_new_with_free_func(destroy_model);
	iter->flow = vmt_flow_create(create_model, iter, &iter->log);
	iter->copy = vmt_ir_copy_create(iter->self, &copy_hooks, iter, &iter->log);
	iter->tagged_count = iter->outside_running_count = iter->unknown_count = 0;
	return iter->copy ? VMT_STATUS_OK : VMT_STATUS_MEMORY_ERROR;
}

bt_message_iterator_class_initialize_method_status
vmmatch_msg_iter_init(bt_self_message_iterator *self_iter,
		      bt_self_message_iterator_configuration *config,
		      bt_self_component_port_output *port)
{
	struct vmmatch_msg_iter *iter = g_new0(struct vmmatch_msg_iter, 1);
	bt_message_iterator_create_from_message_iterator_status status;

	(void) port;
	iter->comp =
		bt_self_component_get_data(bt_self_message_iterator_borrow_component(self_iter));
	iter->self = self_iter;
	iter->log = iter->comp->log;
	iter->log.self_comp = NULL;
	iter->log.self_msg_iter = self_iter;
	status = bt_message_iterator_create_from_message_iterator(self_iter, iter->comp->in_port,
								  &iter->upstream);
	if (status != BT_MESSAGE_ITERATOR_CREATE_FROM_MESSAGE_ITERATOR_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(&iter->log, "Cannot create the upstream message iterator");
		destroy_iter(iter);
		return (int) status;
	}
	if (start_pass(iter) != VMT_STATUS_OK) {
		destroy_iter(iter);
		return BT_MESSAGE_ITERATOR_CLASS_INITIALIZE_METHOD_STATUS_MEMORY_ERROR;
	}
	bt_self_message_iterator_configuration_set_can_seek_forward(
		config, bt_message_iterator_can_seek_forward(iter->upstream));
	bt_self_message_iterator_set_data(self_iter, iter);
	return BT_MESSAGE_ITERATOR_CLASS_INITIALIZE_METHOD_STATUS_OK;
}

void vmmatch_msg_iter_finalize(bt_self_message_iterator *self_iter)
{
	struct vmmatch_msg_iter *iter = bt_self_message_iterator_get_data(self_iter);

	log_summary(iter);
	destroy_iter(iter);
}

/* Forwards or copies each message of the batch; on failure puts the rest. */
static enum vmt_status handle_batch(struct vmmatch_msg_iter *iter, bt_message_array_const in,
				    uint64_t count, bt_message_array_const out)
{
	enum vmt_status status = VMT_STATUS_OK;
	uint64_t i;

	for (i = 0; i < count; i++) {
		struct vmt_flow_trace *ft;
		bt_message *copy = NULL;

		if (status != VMT_STATUS_OK) {
			bt_message_put_ref(in[i]);
			out[i] = NULL;
			continue;
		}
		ft = vmt_flow_handle(iter->flow, in[i], NULL);
		if (!ft || ft->role != VMT_ROLE_GUEST) {
			out[i] = in[i];
			continue;
		}
		iter->current = ft;
		status = vmt_ir_copy_message(iter->copy, in[i], &copy);
		bt_message_put_ref(in[i]);
		out[i] = copy;
	}
	if (status != VMT_STATUS_OK) {
		for (i = 0; i < count; i++) {
			BT_MESSAGE_PUT_REF_AND_RESET(out[i]);
		}
	}
	return status;
}

bt_message_iterator_class_next_method_status
vmmatch_msg_iter_next(bt_self_message_iterator *self_iter, bt_message_array_const msgs,
		      uint64_t capacity, uint64_t *count)
{
	struct vmmatch_msg_iter *iter = bt_self_message_iterator_get_data(self_iter);
	bt_message_array_const in;
	uint64_t in_count;
	bt_message_iterator_next_status status =
		bt_message_iterator_next(iter->upstream, &in, &in_count);

	if (status != BT_MESSAGE_ITERATOR_NEXT_STATUS_OK) {
		return (int) status;
	}
	/* An upstream batch never exceeds our capacity: both are the graph's batch size. */
	VMT_ASSERT(in_count <= capacity);
	*count = in_count;
	return (int) handle_batch(iter, in, in_count, msgs);
}

bt_message_iterator_class_seek_beginning_method_status
vmmatch_msg_iter_seek_beginning(bt_self_message_iterator *self_iter)
{
	struct vmmatch_msg_iter *iter = bt_self_message_iterator_get_data(self_iter);
	bt_message_iterator_seek_beginning_status status =
		bt_message_iterator_seek_beginning(iter->upstream);

	if (status != BT_MESSAGE_ITERATOR_SEEK_BEGINNING_STATUS_OK) {
		return (int) status;
	}
	/* The model and the copies start over with the messages. */
	return (int) start_pass(iter);
}

bt_message_iterator_class_can_seek_beginning_method_status
vmmatch_msg_iter_can_seek_beginning(bt_self_message_iterator *self_iter, bt_bool *can_seek)
{
	struct vmmatch_msg_iter *iter = bt_self_message_iterator_get_data(self_iter);

	return (int) bt_message_iterator_can_seek_beginning(iter->upstream, can_seek);
}
