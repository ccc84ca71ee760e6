/* SPDX-License-Identifier: MIT */

#include "lib/params.h"

#include <inttypes.h>
#include <string.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

struct validation {
	const struct vmt_param_spec *specs;
	size_t spec_count;
	GString *error;
};

static const char *value_type_name(const bt_value *value)
{
	switch (bt_value_get_type(value)) {
	case BT_VALUE_TYPE_NULL:
		return "null";
	case BT_VALUE_TYPE_BOOL:
		return "a boolean";
	case BT_VALUE_TYPE_UNSIGNED_INTEGER:
		return "an unsigned integer";
	case BT_VALUE_TYPE_SIGNED_INTEGER:
		return "a signed integer";
	case BT_VALUE_TYPE_REAL:
		return "a real number";
	case BT_VALUE_TYPE_STRING:
		return "a string";
	case BT_VALUE_TYPE_ARRAY:
		return "an array";
	case BT_VALUE_TYPE_MAP:
		return "a map";
	default:
		return "an unknown type";
	}
}

bool vmt_params_integer_value(const bt_value *value, int64_t *out)
{
	if (bt_value_is_signed_integer(value)) {
		*out = bt_value_integer_signed_get(value);
		return true;
	}
	if (bt_value_is_unsigned_integer(value)) {
		uint64_t u = bt_value_integer_unsigned_get(value);

		if (u > INT64_MAX) {
			return false;
		}
		*out = (int64_t) u;
		return true;
	}
	return false;
}

static const struct vmt_param_spec *find_spec(const struct validation *v, const char *name)
{
	size_t i;

	for (i = 0; i < v->spec_count; i++) {
		if (strcmp(v->specs[i].name, name) == 0) {
			return &v->specs[i];
		}
	}
	return NULL;
}

static bool is_allowed_string(const struct vmt_param_spec *spec, const char *str)
{
	const char *const *allowed;

	if (!spec->allowed) {
		return true;
	}
	for (allowed = spec->allowed; *allowed; allowed++) {
		if (strcmp(*allowed, str) == 0) {
			return true;
		}
	}
	return false;
}

static void append_allowed_list(GString *error, const struct vmt_param_spec *spec)
{
	const char *const *allowed;

	for (allowed = spec->allowed; *allowed; allowed++) {
		g_string_append_printf(error, "%s\"%s\"", allowed == spec->allowed ? "" : ", ",
				       *allowed);
	}
}

static enum vmt_status check_string(const struct vmt_param_spec *spec, const bt_value *value,
				    GString *error)
{
	if (!bt_value_is_string(value)) {
		g_string_printf(error, "Invalid parameter `%s`: expecting a string, got %s",
				spec->name, value_type_name(value));
		return VMT_STATUS_ERROR;
	}
	if (!is_allowed_string(spec, bt_value_string_get(value))) {
		g_string_printf(error,
				"Invalid parameter `%s`: unknown value \"%s\" (expecting one of ",
				spec->name, bt_value_string_get(value));
		append_allowed_list(error, spec);
		g_string_append(error, ")");
		return VMT_STATUS_ERROR;
	}
	return VMT_STATUS_OK;
}

static enum vmt_status check_string_array(const struct vmt_param_spec *spec, const bt_value *value,
					  GString *error)
{
	uint64_t i, count;

	if (!bt_value_is_array(value)) {
		g_string_printf(error,
				"Invalid parameter `%s`: expecting an array of strings, got %s",
				spec->name, value_type_name(value));
		return VMT_STATUS_ERROR;
	}
	count = bt_value_array_get_length(value);
	if (count == 0) {
		g_string_printf(error, "Invalid parameter `%s`: the array is empty", spec->name);
		return VMT_STATUS_ERROR;
	}
	for (i = 0; i < count; i++) {
		const bt_value *elem = bt_value_array_borrow_element_by_index_const(value, i);

		if (!bt_value_is_string(elem)) {
			g_string_printf(error,
					"Invalid parameter `%s[%" PRIu64
					"]`: expecting a string, got %s",
					spec->name, i, value_type_name(elem));
			return VMT_STATUS_ERROR;
		}
	}
	return VMT_STATUS_OK;
}

struct map_check {
	const struct vmt_param_spec *spec;
	GString *error;
	enum vmt_status status;
};

static bt_value_map_foreach_entry_const_func_status
check_map_entry(const char *key, const bt_value *value, void *data)
{
	struct map_check *check = data;
	int64_t unused;
	bool ok;

	if (check->spec->kind == VMT_PARAM_MAP_OF_STRINGS) {
		ok = bt_value_is_string(value);
	} else {
		ok = vmt_params_integer_value(value, &unused);
	}
	if (!ok) {
		g_string_printf(check->error,
				"Invalid parameter `%s{\"%s\"}`: expecting %s, got %s",
				check->spec->name, key,
				check->spec->kind == VMT_PARAM_MAP_OF_STRINGS ?
					"a string" :
					"an integer within the signed 64-bit range",
				value_type_name(value));
		check->status = VMT_STATUS_ERROR;
		return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_INTERRUPT;
	}
	return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_OK;
}

static enum vmt_status check_map(const struct vmt_param_spec *spec, const bt_value *value,
				 GString *error)
{
	struct map_check check = { .spec = spec, .error = error, .status = VMT_STATUS_OK };

	if (!bt_value_is_map(value)) {
		g_string_printf(error, "Invalid parameter `%s`: expecting a map, got %s",
				spec->name, value_type_name(value));
		return VMT_STATUS_ERROR;
	}
	bt_value_map_foreach_entry_const(value, check_map_entry, &check);
	return check.status;
}

static enum vmt_status check_value(const struct vmt_param_spec *spec, const bt_value *value,
				   GString *error)
{
	int64_t unused;

	switch (spec->kind) {
	case VMT_PARAM_STRING:
		return check_string(spec, value, error);
	case VMT_PARAM_BOOL:
		if (!bt_value_is_bool(value)) {
			g_string_printf(error,
					"Invalid parameter `%s`: expecting a boolean, got %s",
					spec->name, value_type_name(value));
			return VMT_STATUS_ERROR;
		}
		return VMT_STATUS_OK;
	case VMT_PARAM_INTEGER:
		if (!vmt_params_integer_value(value, &unused)) {
			g_string_printf(error,
					"Invalid parameter `%s`: expecting an integer within the "
					"signed 64-bit range, got %s",
					spec->name, value_type_name(value));
			return VMT_STATUS_ERROR;
		}
		return VMT_STATUS_OK;
	case VMT_PARAM_STRING_ARRAY:
		return check_string_array(spec, value, error);
	case VMT_PARAM_MAP_OF_STRINGS:
	case VMT_PARAM_MAP_OF_INTEGERS:
		return check_map(spec, value, error);
	}
	return VMT_STATUS_ERROR;
}

static bt_value_map_foreach_entry_const_func_status check_entry(const char *key,
								const bt_value *value, void *data)
{
	struct validation *v = data;
	const struct vmt_param_spec *spec = find_spec(v, key);

	if (!spec) {
		size_t i;

		if (v->spec_count == 0) {
			g_string_printf(
				v->error,
				"Unknown parameter `%s` (this component takes no parameter)", key);
			return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_INTERRUPT;
		}
		g_string_printf(v->error, "Unknown parameter `%s` (expecting ", key);
		for (i = 0; i < v->spec_count; i++) {
			g_string_append_printf(v->error, "%s`%s`", i ? ", " : "", v->specs[i].name);
		}
		g_string_append(v->error, ")");
		return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_INTERRUPT;
	}
	if (check_value(spec, value, v->error) != VMT_STATUS_OK) {
		return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_INTERRUPT;
	}
	return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_OK;
}

enum vmt_status vmt_params_validate(const bt_value *params, const struct vmt_param_spec *specs,
				    size_t spec_count, GString *error)
{
	struct validation v = { .specs = specs, .spec_count = spec_count, .error = error };
	size_t i;

	g_string_truncate(error, 0);
	if (params && bt_value_is_null(params)) {
		params = NULL;
	}
	if (params && !bt_value_is_map(params)) {
		g_string_printf(error, "Invalid parameters: expecting a map, got %s",
				value_type_name(params));
		return VMT_STATUS_ERROR;
	}
	if (params && bt_value_map_foreach_entry_const(params, check_entry, &v) !=
			      BT_VALUE_MAP_FOREACH_ENTRY_CONST_STATUS_OK) {
		return VMT_STATUS_ERROR;
	}
	for (i = 0; i < spec_count; i++) {
		if (specs[i].is_required &&
		    (!params || !bt_value_map_has_entry(params, specs[i].name))) {
			g_string_printf(error, "Missing mandatory parameter `%s`", specs[i].name);
			return VMT_STATUS_ERROR;
		}
	}
	return VMT_STATUS_OK;
}

const char *vmt_params_string(const bt_value *params, const char *name, const char *fallback)
{
	const bt_value *value = params ? bt_value_map_borrow_entry_value_const(params, name) : NULL;

	return value ? bt_value_string_get(value) : fallback;
}

bool vmt_params_bool(const bt_value *params, const char *name, bool fallback)
{
	const bt_value *value = params ? bt_value_map_borrow_entry_value_const(params, name) : NULL;

	return value ? bt_value_bool_get(value) : fallback;
}
