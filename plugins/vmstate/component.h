/* SPDX-License-Identifier: MIT */
/*
 * `sink.vmstate.intervals`: component methods. The sink feeds the host
 * model through a flow (lib/flow.h), builds intervals (lib/intervals.h) and
 * writes them at the end (lib/writer.h).
 */
#ifndef VMTRACE_PLUGINS_VMSTATE_COMPONENT_H
#define VMTRACE_PLUGINS_VMSTATE_COMPONENT_H

#include <babeltrace2/babeltrace.h>

bt_component_class_initialize_method_status
vmstate_comp_init(bt_self_component_sink *self_comp, bt_self_component_sink_configuration *config,
		  const bt_value *params, void *init_data);

void vmstate_comp_finalize(bt_self_component_sink *self_comp);

bt_component_class_sink_graph_is_configured_method_status
vmstate_comp_graph_is_configured(bt_self_component_sink *self_comp);

bt_component_class_sink_consume_method_status
vmstate_comp_consume(bt_self_component_sink *self_comp);

#endif /* VMTRACE_PLUGINS_VMSTATE_COMPONENT_H */
