/* SPDX-License-Identifier: MIT */
/*
 * `source.vmsync.fs` message iterator: reads every trace with `src.ctf.fs`
 * (lib/merge.h), copies the guest traces whose time changes into host time
 * on the way, and hands out every message in host-time order.
 */
#ifndef VMTRACE_PLUGINS_VMSYNC_MSG_ITER_H
#define VMTRACE_PLUGINS_VMSYNC_MSG_ITER_H

#include <babeltrace2/babeltrace.h>

bt_message_iterator_class_initialize_method_status
vmsync_msg_iter_init(bt_self_message_iterator *self_iter,
		     bt_self_message_iterator_configuration *config,
		     bt_self_component_port_output *port);

void vmsync_msg_iter_finalize(bt_self_message_iterator *self_iter);

bt_message_iterator_class_next_method_status
vmsync_msg_iter_next(bt_self_message_iterator *self_iter, bt_message_array_const msgs,
		     uint64_t capacity, uint64_t *count);

bt_message_iterator_class_seek_beginning_method_status
vmsync_msg_iter_seek_beginning(bt_self_message_iterator *self_iter);

bt_message_iterator_class_can_seek_beginning_method_status
vmsync_msg_iter_can_seek_beginning(bt_self_message_iterator *self_iter, bt_bool *can_seek);

#endif /* VMTRACE_PLUGINS_VMSYNC_MSG_ITER_H */
