/* SPDX-License-Identifier: MIT */
/*
 * `filter.vmmatch.tag`: component methods.
 */
#ifndef VMTRACE_PLUGINS_VMMATCH_COMPONENT_H
#define VMTRACE_PLUGINS_VMMATCH_COMPONENT_H

#include "lib/log.h"

#include <babeltrace2/babeltrace.h>

struct vmmatch_comp {
	struct vmt_log_ctx log;
	bt_self_component_port_input *in_port; /* Weak: owned by the component. */
};

bt_component_class_initialize_method_status
vmmatch_comp_init(bt_self_component_filter *self_comp,
		  bt_self_component_filter_configuration *config, const bt_value *params,
		  void *init_data);

void vmmatch_comp_finalize(bt_self_component_filter *self_comp);

#endif /* VMTRACE_PLUGINS_VMMATCH_COMPONENT_H */
