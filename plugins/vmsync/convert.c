/* SPDX-License-Identifier: MIT */
#define VMT_LOG_TAG "PLUGIN/SRC.VMSYNC.FS/CONVERT"
#include "lib/log.h"

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/common.h"
#include "lib/ir-copy.h"
#include "lib/sync.h"

#include "convert.h"

struct convert_comp {
	struct vmt_log_ctx log;
	struct vmsync_convert_config config;
	bt_clock_class *host_clock_class; /* Owned; NULL to keep the guest's clock. */
	bt_self_component_port_input *in_port; /* Weak: owned by the component. */
};

struct convert_iter {
	struct vmt_log_ctx log;
	struct convert_comp *comp; /* Weak. */
	bt_message_iterator *upstream; /* Owned. */
	struct vmt_ir_copy *copy; /* Owned. */
};

static bt_clock_class *borrow_out_clock_class(void *user, const bt_clock_class *in_cc)
{
	struct convert_iter *iter = user;

	(void) in_cc;
	return iter->comp->host_clock_class;
}

static int64_t convert_ns(void *user, const bt_stream *in_stream, int64_t in_ns)
{
	struct convert_iter *iter = user;
	const struct vmt_machine *guest = iter->comp->config.guest;

	(void) in_stream;
	return vmt_machine_convert_ns(guest, in_ns);
}

static enum vmt_status init_out_trace(void *user, const bt_trace *in_trace, bt_trace *out_trace)
{
	struct convert_iter *iter = user;

	(void) in_trace;
	return vmsync_annotate_trace(iter->comp->config.setup, iter->comp->config.guest, out_trace,
				     &iter->log);
}

static const struct vmt_ir_copy_hooks copy_hooks = {
	.borrow_out_clock_class = borrow_out_clock_class,
	.convert_ns = convert_ns,
	.extend_common_context = NULL,
	.fill_event = NULL,
	.init_out_trace = init_out_trace,
};

static bt_component_class_initialize_method_status
convert_init(bt_self_component_filter *self_comp, bt_self_component_filter_configuration *config,
	     const bt_value *params, void *init_data)
{
	struct convert_comp *comp = g_new0(struct convert_comp, 1);
	bt_self_component *self = bt_self_component_filter_as_self_component(self_comp);

	(void) config;
	(void) params;
	comp->config = *(const struct vmsync_convert_config *) init_data;
	comp->log.level = bt_component_get_logging_level(
		bt_self_component_as_component(self));
	comp->log.name = bt_component_get_name(bt_self_component_as_component(self));
	comp->log.self_comp = self;
	if (comp->config.host_clock) {
		comp->host_clock_class =
			vmt_clock_info_create_class(comp->config.host_clock, self, &comp->log);
		if (!comp->host_clock_class) {
			goto error;
		}
	}
	if (bt_self_component_filter_add_input_port(self_comp, "in", NULL, &comp->in_port) !=
		    BT_SELF_COMPONENT_ADD_PORT_STATUS_OK ||
	    bt_self_component_filter_add_output_port(self_comp, "out", NULL, NULL) !=
		    BT_SELF_COMPONENT_ADD_PORT_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(&comp->log, "Cannot add the ports of the conversion filter");
		goto error;
	}
	bt_self_component_set_data(self, comp);
	return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_OK;

error:
	BT_CLOCK_CLASS_PUT_REF_AND_RESET(comp->host_clock_class);
	g_free(comp);
	return BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_ERROR;
}

static void convert_finalize(bt_self_component_filter *self_comp)
{
	struct convert_comp *comp = bt_self_component_get_data(
		bt_self_component_filter_as_self_component(self_comp));

	BT_CLOCK_CLASS_PUT_REF_AND_RESET(comp->host_clock_class);
	g_free(comp);
}

static void destroy_iter(struct convert_iter *iter)
{
	if (!iter) {
		return;
	}
	if (iter->copy) {
		*iter->comp->config.clamp_count += vmt_ir_copy_clamp_count(iter->copy);
	}
	vmt_ir_copy_destroy(iter->copy);
	bt_message_iterator_put_ref(iter->upstream);
	g_free(iter);
}

static bt_message_iterator_class_initialize_method_status
convert_iter_init(bt_self_message_iterator *self_iter,
		  bt_self_message_iterator_configuration *config, bt_self_component_port_output *port)
{
	bt_self_component *self_comp = bt_self_message_iterator_borrow_component(self_iter);
	struct convert_iter *iter = g_new0(struct convert_iter, 1);
	bt_message_iterator_create_from_message_iterator_status status;

	(void) config;
	(void) port;
	iter->comp = bt_self_component_get_data(self_comp);
	iter->log = iter->comp->log;
	iter->log.self_comp = NULL;
	iter->log.self_msg_iter = self_iter;
	status = bt_message_iterator_create_from_message_iterator(
		self_iter, iter->comp->in_port, &iter->upstream);
	if (status != BT_MESSAGE_ITERATOR_CREATE_FROM_MESSAGE_ITERATOR_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(&iter->log, "Cannot create the guest trace's iterator");
		destroy_iter(iter);
		return (int) status;
	}
	iter->copy = vmt_ir_copy_create(self_iter, &copy_hooks, iter, &iter->log);
	if (!iter->copy) {
		destroy_iter(iter);
		return BT_MESSAGE_ITERATOR_CLASS_INITIALIZE_METHOD_STATUS_MEMORY_ERROR;
	}
	bt_self_message_iterator_set_data(self_iter, iter);
	return BT_MESSAGE_ITERATOR_CLASS_INITIALIZE_METHOD_STATUS_OK;
}

static void convert_iter_finalize(bt_self_message_iterator *self_iter)
{
	destroy_iter(bt_self_message_iterator_get_data(self_iter));
}

/* Copies the batch; on failure puts what is left and keeps no half-made output. */
static enum vmt_status copy_batch(struct convert_iter *iter, bt_message_array_const in,
				  uint64_t count, bt_message_array_const out)
{
	enum vmt_status status = VMT_STATUS_OK;
	uint64_t i;

	for (i = 0; i < count; i++) {
		bt_message *copy = NULL;

		if (status == VMT_STATUS_OK) {
			status = vmt_ir_copy_message(iter->copy, in[i], &copy);
		}
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

static bt_message_iterator_class_next_method_status
convert_iter_next(bt_self_message_iterator *self_iter, bt_message_array_const msgs,
		  uint64_t capacity, uint64_t *count)
{
	struct convert_iter *iter = bt_self_message_iterator_get_data(self_iter);
	bt_message_array_const in;
	uint64_t in_count;
	bt_message_iterator_next_status status;

	(void) capacity;
	status = bt_message_iterator_next(iter->upstream, &in, &in_count);
	if (status != BT_MESSAGE_ITERATOR_NEXT_STATUS_OK) {
		return (int) status;
	}
	/* An upstream batch never exceeds our capacity: both are the graph's batch size. */
	VMT_ASSERT(in_count <= capacity);
	*count = in_count;
	return (int) copy_batch(iter, in, in_count, msgs);
}

bt_component_class_filter *vmsync_convert_class_create(void)
{
	bt_message_iterator_class *iter_class =
		bt_message_iterator_class_create(convert_iter_next);
	bt_component_class_filter *comp_class = NULL;

	if (!iter_class) {
		return NULL;
	}
	if (bt_message_iterator_class_set_initialize_method(iter_class, convert_iter_init) ||
	    bt_message_iterator_class_set_finalize_method(iter_class, convert_iter_finalize)) {
		goto end;
	}
	comp_class = bt_component_class_filter_create("vmsync-convert", iter_class);
	if (!comp_class) {
		goto end;
	}
	if (bt_component_class_filter_set_initialize_method(comp_class, convert_init) ||
	    bt_component_class_filter_set_finalize_method(comp_class, convert_finalize)) {
		BT_COMPONENT_CLASS_FILTER_PUT_REF_AND_RESET(comp_class);
	}

end:
	bt_message_iterator_class_put_ref(iter_class);
	return comp_class;
}
