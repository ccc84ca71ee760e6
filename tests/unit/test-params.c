/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the parameter table validation (lib/params.c).
 */
#include <string.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/common.h"
#include "lib/params.h"

#include "tap.h"

static const char *const sync_values[] = { "auto", "none", NULL };

static const struct vmt_param_spec specs[] = {
	{ "inputs", VMT_PARAM_STRING_ARRAY, true, NULL },
	{ "sync", VMT_PARAM_STRING, false, sync_values },
	{ "offsets", VMT_PARAM_MAP_OF_INTEGERS, false, NULL },
	{ "guest-uuids", VMT_PARAM_MAP_OF_STRINGS, false, NULL },
};

static bt_value *inputs_map(void)
{
	bt_value *map = bt_value_map_create();
	bt_value *array;

	bt_value_map_insert_empty_array_entry(map, "inputs", &array);
	bt_value_array_append_string_element(array, "/traces");
	return map;
}

static void check_error(bt_value *params, const char *fragment, const char *what)
{
	GString *error = g_string_new(NULL);
	enum vmt_status status = vmt_params_validate(params, specs, VMT_ARRAY_SIZE(specs), error);

	IS_I64(status, VMT_STATUS_ERROR, what);
	OK(strstr(error->str, fragment) != NULL, "%s: message \"%s\" names \"%s\"", what,
	   error->str, fragment);
	g_string_free(error, TRUE);
}

int main(void)
{
	GString *error = g_string_new(NULL);
	bt_value *params = inputs_map();
	bt_value *map;

	IS_I64(vmt_params_validate(params, specs, VMT_ARRAY_SIZE(specs), error), VMT_STATUS_OK,
	       "valid minimal parameters");
	bt_value_map_insert_string_entry(params, "sync", "none");
	IS_I64(vmt_params_validate(params, specs, VMT_ARRAY_SIZE(specs), error), VMT_STATUS_OK,
	       "allowed string value");
	bt_value_map_insert_string_entry(params, "sync", "sometimes");
	check_error(params, "`sync`: unknown value \"sometimes\"", "unknown string value");
	bt_value_map_insert_signed_integer_entry(params, "sync", 3);
	check_error(params, "`sync`: expecting a string", "wrong type");
	bt_value_map_insert_string_entry(params, "sync", "auto");
	bt_value_map_insert_bool_entry(params, "colour", BT_TRUE);
	check_error(params, "Unknown parameter `colour`", "unknown key");
	bt_value_put_ref(params);

	params = bt_value_map_create();
	check_error(params, "Missing mandatory parameter `inputs`", "missing mandatory key");
	bt_value_map_insert_string_entry(params, "inputs", "/traces");
	check_error(params, "`inputs`: expecting an array of strings", "inputs not an array");
	bt_value_put_ref(params);

	params = inputs_map();
	bt_value_map_insert_empty_map_entry(params, "offsets", &map);
	bt_value_map_insert_string_entry(map, "vm1", "12");
	check_error(params, "`offsets{\"vm1\"}`: expecting an integer", "map value type");
	bt_value_map_insert_unsigned_integer_entry(map, "vm1", 12);
	IS_I64(vmt_params_validate(params, specs, VMT_ARRAY_SIZE(specs), error), VMT_STATUS_OK,
	       "unsigned integer accepted in an integer map");
	bt_value_map_insert_unsigned_integer_entry(map, "vm1", UINT64_MAX);
	check_error(params, "`offsets{\"vm1\"}`", "unsigned value beyond the signed range");
	bt_value_put_ref(params);
	g_string_free(error, TRUE);
	return tap_done();
}
