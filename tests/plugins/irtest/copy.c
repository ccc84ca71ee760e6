/* SPDX-License-Identifier: MIT */
/*
 * `filter.irtest.copy`: copies every upstream message through lib/ir-copy,
 * with the hooks that the parameters ask for. A test harness: one input
 * port, one output port, no seeking.
 */
#define VMT_LOG_TAG "VMTRACE/FLT.IRTEST.COPY"
#include "copy.h"

#include "lib/log.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/common.h"
#include "lib/ir-copy.h"
#include "lib/params.h"
#include "lib/status.h"

struct irtest_comp {
	/* Weak: owned by the graph. */
	bt_self_component_filter *self_comp_filter;
	struct vmt_log_ctx log;
	bool has_convert;
	int64_t offset_ns;
	int64_t backstep_ns;
	bool add_member;
	/* Owned; NULL without `host-clock`. */
	bt_clock_class *host_cc;
};

struct irtest_iter {
	/* Weak: owned by the component. */
	struct irtest_comp *comp;
	struct vmt_log_ctx log;
	/* Owned. */
	bt_message_iterator *upstream;
	/* Owned. */
	struct vmt_ir_copy *copy;
	struct vmt_ir_copy_hooks hooks;
	/* The last upstream batch (the array is upstream's); messages from `batch_index` are owned. */
	bt_message_array_const batch;
	uint64_t batch_count;
	uint64_t batch_index;
	int64_t event_seq;
	/* Owned: an error kept while returning the messages copied before it. */
	const bt_error *saved_error;
};

static const struct vmt_param_spec irtest_params[] = {
	{ .name = "offset-ns", .kind = VMT_PARAM_INTEGER },
	{ .name = "backstep-ns", .kind = VMT_PARAM_INTEGER },
	{ .name = "add-member", .kind = VMT_PARAM_BOOL },
	{ .name = "host-clock", .kind = VMT_PARAM_BOOL },
};

/* Hooks. */

static bt_clock_class *irtest_borrow_out_clock_class(void *user,
						     VMT_UNUSED const bt_clock_class *in_cc)
{
	struct irtest_iter *iter = user;

	return iter->comp->host_cc;
}

/*
 * Adds `offset-ns`; with `backstep-ns` = B, also moves the second half of
 * every 2B-long period back by B, so that time goes back (and gets clamped).
 */
static int64_t irtest_convert_ns(void *user, VMT_UNUSED const bt_stream *in_stream, int64_t in_ns)
{
	const struct irtest_comp *comp = ((struct irtest_iter *) user)->comp;
	int64_t out_ns;

	if (comp->backstep_ns > 0 && in_ns % (2 * comp->backstep_ns) >= comp->backstep_ns) {
		in_ns -= comp->backstep_ns;
	}

	if (__builtin_add_overflow(in_ns, comp->offset_ns, &out_ns)) {
		out_ns = comp->offset_ns > 0 ? INT64_MAX : INT64_MIN;
	}

	return out_ns;
}

static enum vmt_status irtest_extend_common_context(void *user,
						    VMT_UNUSED const bt_stream_class *in_sc,
						    bt_trace_class *out_tc,
						    bt_field_class **out_struct)
{
	struct irtest_iter *iter = user;
	bt_field_class *member = bt_field_class_integer_signed_create(out_tc);
	enum vmt_status status = VMT_STATUS_OK;

	if (!*out_struct) {
		*out_struct = bt_field_class_structure_create(out_tc);
	}

	if (!member || !*out_struct ||
	    bt_field_class_structure_append_member(*out_struct, "irtest_seq", member) !=
		    BT_FIELD_CLASS_STRUCTURE_APPEND_MEMBER_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(&iter->log, "Cannot add `irtest_seq` to common context.");
		status = VMT_STATUS_MEMORY_ERROR;
	}

	bt_field_class_put_ref(member);
	return status;
}

static enum vmt_status irtest_fill_event(void *user, VMT_UNUSED const bt_message *in_msg,
					 bt_event *out_event)
{
	struct irtest_iter *iter = user;
	bt_field *common = bt_event_borrow_common_context_field(out_event);
	uint64_t count =
		bt_field_class_structure_get_member_count(bt_field_borrow_class_const(common));

	/* The member the hook appended is the last one. */
	bt_field_integer_signed_set_value(
		bt_field_structure_borrow_member_field_by_index(common, count - 1),
		iter->event_seq++);
	return VMT_STATUS_OK;
}

/* Component. */

static enum vmt_status read_params(struct irtest_comp *comp, const bt_value *params)
{
	GString *error = g_string_new(NULL);
	const bt_value *offset, *backstep;
	enum vmt_status status;

	status = vmt_params_validate(params, irtest_params, VMT_ARRAY_SIZE(irtest_params), error);
	if (status != VMT_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(&comp->log, "%s", error->str);
		goto end;
	}

	offset = bt_value_map_borrow_entry_value_const(params, "offset-ns");
	backstep = bt_value_map_borrow_entry_value_const(params, "backstep-ns");
	if ((offset && !vmt_params_integer_value(offset, &comp->offset_ns)) ||
	    (backstep && !vmt_params_integer_value(backstep, &comp->backstep_ns))) {
		VMT_LOGE_APPEND_CAUSE(&comp->log, "Invalid parameter `offset-ns` or `backstep-ns`: "
						  "out of range");
		status = VMT_STATUS_ERROR;
		goto end;
	}

	comp->add_member = vmt_params_bool(params, "add-member", false);
	comp->has_convert = offset || backstep || vmt_params_bool(params, "host-clock", false);

end:
	g_string_free(error, TRUE);
	return status;
}

static enum vmt_status create_host_clock_class(struct irtest_comp *comp,
					       bt_self_component *self_comp)
{
	comp->host_cc = bt_clock_class_create(self_comp);
	if (!comp->host_cc || bt_clock_class_set_name(comp->host_cc, "irtest-host") !=
				      BT_CLOCK_CLASS_SET_NAME_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(&comp->log, "Cannot create host clock class.");
		return VMT_STATUS_MEMORY_ERROR;
	}

	return VMT_STATUS_OK;
}

static void comp_destroy(struct irtest_comp *comp)
{
	if (!comp) {
		return;
	}

	bt_clock_class_put_ref(comp->host_cc);
	g_free(comp);
}

bt_component_class_initialize_method_status
irtest_copy_init(bt_self_component_filter *self_comp_filter,
		 VMT_UNUSED bt_self_component_filter_configuration *config, const bt_value *params,
		 VMT_UNUSED void *init_method_data)
{
	bt_self_component *self_comp = bt_self_component_filter_as_self_component(self_comp_filter);
	struct irtest_comp *comp = g_new0(struct irtest_comp, 1);
	enum vmt_status status;

	comp->self_comp_filter = self_comp_filter;
	comp->log.level = bt_component_get_logging_level(bt_self_component_as_component(self_comp));
	comp->log.self_comp = self_comp;
	status = read_params(comp, params);
	if (status == VMT_STATUS_OK && vmt_params_bool(params, "host-clock", false)) {
		status = create_host_clock_class(comp, self_comp);
	}

	if (status == VMT_STATUS_OK &&
	    (bt_self_component_filter_add_input_port(self_comp_filter, "in", NULL, NULL) !=
		     BT_SELF_COMPONENT_ADD_PORT_STATUS_OK ||
	     bt_self_component_filter_add_output_port(self_comp_filter, "out", NULL, NULL) !=
		     BT_SELF_COMPONENT_ADD_PORT_STATUS_OK)) {
		VMT_LOGE_APPEND_CAUSE(&comp->log, "Cannot add ports.");
		status = VMT_STATUS_MEMORY_ERROR;
	}

	if (status != VMT_STATUS_OK) {
		comp_destroy(comp);
		return (bt_component_class_initialize_method_status) status;
	}

	bt_self_component_set_data(self_comp, comp);
	return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_OK;
}

void irtest_copy_finalize(bt_self_component_filter *self_comp_filter)
{
	comp_destroy(bt_self_component_get_data(
		bt_self_component_filter_as_self_component(self_comp_filter)));
}

/* Message iterator. */

static void set_hooks(struct irtest_iter *iter)
{
	struct irtest_comp *comp = iter->comp;

	iter->hooks.borrow_out_clock_class = comp->host_cc ? irtest_borrow_out_clock_class : NULL;
	iter->hooks.convert_ns = comp->has_convert ? irtest_convert_ns : NULL;
	iter->hooks.extend_common_context = comp->add_member ? irtest_extend_common_context : NULL;
	iter->hooks.fill_event = comp->add_member ? irtest_fill_event : NULL;
}

static void iter_destroy(struct irtest_iter *iter)
{
	if (!iter) {
		return;
	}

	for (; iter->batch_index < iter->batch_count; iter->batch_index++) {
		bt_message_put_ref(iter->batch[iter->batch_index]);
	}

	if (iter->saved_error) {
		bt_error_release(iter->saved_error);
	}

	if (iter->copy) {
		/* The tests read this line (component logging level INFO). */
		VMT_LOGI(&iter->log,
			 "Copy done: tagged-event-count=%" PRId64 ", clamp-count=%" PRIu64,
			 iter->event_seq, vmt_ir_copy_clamp_count(iter->copy));
	}

	vmt_ir_copy_destroy(iter->copy);
	bt_message_iterator_put_ref(iter->upstream);
	g_free(iter);
}

bt_message_iterator_class_initialize_method_status
irtest_copy_msg_iter_init(bt_self_message_iterator *self_iter,
			  VMT_UNUSED bt_self_message_iterator_configuration *config,
			  VMT_UNUSED bt_self_component_port_output *port)
{
	bt_self_component *self_comp = bt_self_message_iterator_borrow_component(self_iter);
	struct irtest_iter *iter = g_new0(struct irtest_iter, 1);
	bt_message_iterator_create_from_message_iterator_status status;

	iter->comp = bt_self_component_get_data(self_comp);
	iter->log = iter->comp->log;
	iter->log.self_comp = NULL;
	iter->log.self_msg_iter = self_iter;
	set_hooks(iter);
	status = bt_message_iterator_create_from_message_iterator(
		self_iter,
		bt_self_component_filter_borrow_input_port_by_name(iter->comp->self_comp_filter,
								   "in"),
		&iter->upstream);
	if (status != BT_MESSAGE_ITERATOR_CREATE_FROM_MESSAGE_ITERATOR_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(&iter->log, "Cannot create upstream message iterator.");
		iter_destroy(iter);
		return (bt_message_iterator_class_initialize_method_status) status;
	}

	iter->copy = vmt_ir_copy_create(self_iter, &iter->hooks, iter, &iter->log);
	bt_self_message_iterator_set_data(self_iter, iter);
	return BT_MESSAGE_ITERATOR_CLASS_INITIALIZE_METHOD_STATUS_OK;
}

/* Copies the rest of the upstream batch, at most `capacity` messages. */
static enum vmt_status copy_batch(struct irtest_iter *iter, bt_message_array_const msgs,
				  uint64_t capacity, uint64_t *count)
{
	enum vmt_status status = VMT_STATUS_OK;
	bt_message *out_msg;

	*count = 0;
	while (*count < capacity && iter->batch_index < iter->batch_count) {
		const bt_message *in_msg = iter->batch[iter->batch_index++];

		status = vmt_ir_copy_message(iter->copy, in_msg, &out_msg);
		bt_message_put_ref(in_msg);
		if (status != VMT_STATUS_OK) {
			break;
		}

		msgs[(*count)++] = out_msg;
	}

	return status;
}

bt_message_iterator_class_next_method_status
irtest_copy_msg_iter_next(bt_self_message_iterator *self_iter, bt_message_array_const msgs,
			  uint64_t capacity, uint64_t *count)
{
	struct irtest_iter *iter = bt_self_message_iterator_get_data(self_iter);
	bt_message_iterator_next_status next_status;
	enum vmt_status status;

	if (iter->saved_error) {
		BT_CURRENT_THREAD_MOVE_ERROR_AND_RESET(iter->saved_error);
		return BT_MESSAGE_ITERATOR_CLASS_NEXT_METHOD_STATUS_ERROR;
	}

	if (iter->batch_index == iter->batch_count) {
		next_status =
			bt_message_iterator_next(iter->upstream, &iter->batch, &iter->batch_count);
		if (next_status != BT_MESSAGE_ITERATOR_NEXT_STATUS_OK) {
			iter->batch_count = 0;
			iter->batch_index = 0;
			/* The sets of statuses are the same (END, AGAIN, ERROR, MEMORY_ERROR). */
			return (bt_message_iterator_class_next_method_status) next_status;
		}

		iter->batch_index = 0;
	}

	status = copy_batch(iter, msgs, capacity, count);
	if (status != VMT_STATUS_OK && *count > 0) {
		/* Return what was copied; report the error at the next call. */
		iter->saved_error = bt_current_thread_take_error();
		status = VMT_STATUS_OK;
	}

	return (bt_message_iterator_class_next_method_status) status;
}

void irtest_copy_msg_iter_finalize(bt_self_message_iterator *self_iter)
{
	iter_destroy(bt_self_message_iterator_get_data(self_iter));
}
