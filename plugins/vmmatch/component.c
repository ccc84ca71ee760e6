/* SPDX-License-Identifier: MIT */
#define VMT_LOG_TAG "PLUGIN/FLT.VMMATCH.TAG"
#include "component.h"

#include "lib/log.h"

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/params.h"

bt_component_class_initialize_method_status
vmmatch_comp_init(bt_self_component_filter *self_comp,
		  bt_self_component_filter_configuration *config, const bt_value *params,
		  void *init_data)
{
	bt_self_component *self = bt_self_component_filter_as_self_component(self_comp);
	struct vmmatch_comp *comp = g_new0(struct vmmatch_comp, 1);
	GString *error = g_string_new(NULL);
	bt_component_class_initialize_method_status status =
		BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_ERROR;

	(void) config;
	(void) init_data;
	comp->log.level = bt_component_get_logging_level(bt_self_component_as_component(self));
	comp->log.name = bt_component_get_name(bt_self_component_as_component(self));
	comp->log.self_comp = self;
	/* The filter takes no parameter; an unknown one is an error, as in Babeltrace. */
	if (vmt_params_validate(params, NULL, 0, error) != VMT_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(&comp->log, "%s", error->str);
		goto end;
	}
	if (bt_self_component_filter_add_input_port(self_comp, "in", NULL, &comp->in_port) !=
		    BT_SELF_COMPONENT_ADD_PORT_STATUS_OK ||
	    bt_self_component_filter_add_output_port(self_comp, "out", NULL, NULL) !=
		    BT_SELF_COMPONENT_ADD_PORT_STATUS_OK) {
		VMT_LOGE_APPEND_CAUSE(&comp->log, "Cannot add the ports");
		status = BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_MEMORY_ERROR;
		goto end;
	}
	bt_self_component_set_data(self, comp);
	comp = NULL;
	status = BT_COMPONENT_CLASS_INITIALIZE_METHOD_STATUS_OK;

end:
	g_free(comp);
	g_string_free(error, TRUE);
	return status;
}

void vmmatch_comp_finalize(bt_self_component_filter *self_comp)
{
	g_free(bt_self_component_get_data(bt_self_component_filter_as_self_component(self_comp)));
}
