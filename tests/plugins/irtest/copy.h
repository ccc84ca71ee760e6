/* SPDX-License-Identifier: MIT */
/* `filter.irtest.copy`: the methods `plugin.c` names. */
#ifndef VMTRACE_TESTS_PLUGINS_IRTEST_COPY_H
#define VMTRACE_TESTS_PLUGINS_IRTEST_COPY_H

#include <babeltrace2/babeltrace.h>

bt_component_class_initialize_method_status
irtest_copy_init(bt_self_component_filter *self_comp,
		 bt_self_component_filter_configuration *config, const bt_value *params,
		 void *init_method_data);

void irtest_copy_finalize(bt_self_component_filter *self_comp);

bt_message_iterator_class_initialize_method_status
irtest_copy_msg_iter_init(bt_self_message_iterator *self_iter,
			  bt_self_message_iterator_configuration *config,
			  bt_self_component_port_output *port);

bt_message_iterator_class_next_method_status
irtest_copy_msg_iter_next(bt_self_message_iterator *self_iter, bt_message_array_const msgs,
			  uint64_t capacity, uint64_t *count);

void irtest_copy_msg_iter_finalize(bt_self_message_iterator *self_iter);

#endif /* VMTRACE_TESTS_PLUGINS_IRTEST_COPY_H */
