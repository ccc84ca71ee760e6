/* SPDX-License-Identifier: MIT */
/*
 * Table-driven validation of component parameters, in the spirit of
 * Babeltrace 2.0's `param-validation`: every key is checked against one
 * table, unknown keys are rejected, and the message names the parameter's
 * path (`inputs[2]`, `offsets{"vm1"}`).
 */
#ifndef VMTRACE_LIB_PARAMS_H
#define VMTRACE_LIB_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/status.h"

enum vmt_param_kind {
	/* A string; `allowed`, if not NULL, lists its possible values. */
	VMT_PARAM_STRING,
	VMT_PARAM_BOOL,
	/* A signed or unsigned integer (Python and the CLI differ). */
	VMT_PARAM_INTEGER,
	/* A non-empty array of strings. */
	VMT_PARAM_STRING_ARRAY,
	/* A map whose values are strings. */
	VMT_PARAM_MAP_OF_STRINGS,
	/* A map whose values are integers, signed or unsigned. */
	VMT_PARAM_MAP_OF_INTEGERS,
};

struct vmt_param_spec {
	const char *name;
	enum vmt_param_kind kind;
	bool is_required;
	/* NULL-terminated list of accepted string values, or NULL for any. */
	const char *const *allowed;
};

/*
 * Checks `params` (a map, or NULL for none) against `specs`. On failure,
 * returns VMT_STATUS_ERROR and sets `error` to a sentence naming the
 * parameter; the caller appends it as a cause.
 */
enum vmt_status vmt_params_validate(const bt_value *params, const struct vmt_param_spec *specs,
				    size_t spec_count, GString *error);

/* Borrows the string parameter `name`, or returns `fallback` when absent. */
const char *vmt_params_string(const bt_value *params, const char *name, const char *fallback);

/* Returns the boolean parameter `name`, or `fallback` when absent. */
bool vmt_params_bool(const bt_value *params, const char *name, bool fallback);

/* Reads an integer value, signed or unsigned, as int64_t; false if out of range. */
bool vmt_params_integer_value(const bt_value *value, int64_t *out);

#endif /* VMTRACE_LIB_PARAMS_H */
