/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target (issue 7): arbitrary bytes -> a `bt_value` (maps, arrays,
 * strings, integers, reals, booleans, nulls, nested a few levels) ->
 * `vmt_params_validate` with the parameter tables of `source.vmsync.fs`,
 * `sink.vmstate.intervals` and `filter.vmmatch.tag` (no parameter), then,
 * when valid, the reads the components make. Checked: no crash, no
 * sanitizer report; an error always comes with a message naming a
 * parameter; a valid map only holds known names with values of the
 * declared kind.
 *
 * The tables are copies of plugins/vmsync/setup.c's and
 * plugins/vmstate/component.c's (they are `static` there): keep them equal.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include <babeltrace2/babeltrace.h>

#include "lib/common.h"
#include "lib/params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const sync_values[] = { "auto", "none", "clock", "hypercall", "windows", NULL };
static const struct vmt_param_spec vmsync_specs[] = {
	{ "inputs", VMT_PARAM_STRING_ARRAY, true, NULL },
	{ "sync", VMT_PARAM_STRING, false, sync_values },
	{ "offsets", VMT_PARAM_MAP_OF_INTEGERS, false, NULL },
	{ "guest-uuids", VMT_PARAM_MAP_OF_STRINGS, false, NULL },
	{ "host", VMT_PARAM_STRING, false, NULL },
};

static const char *const format_values[] = { "text", "csv", "jsonl", "chrome", NULL };
static const char *const view_values[] = { "vcpu", "pcpu", NULL };
static const struct vmt_param_spec vmstate_specs[] = {
	{ "format", VMT_PARAM_STRING, false, format_values },
	{ "path", VMT_PARAM_STRING, false, NULL },
	{ "view", VMT_PARAM_STRING, false, view_values },
};

/* Words the decoder can pick in one byte, so that valid maps are reachable. */
static const char *const words[] = {
	"inputs",  "sync",
	"offsets", "guest-uuids",
	"host",	   "format",
	"path",	   "view",
	"auto",	   "none",
	"clock",   "hypercall",
	"windows", "text",
	"csv",	   "jsonl",
	"chrome",  "vcpu",
	"pcpu",	   "vm-web",
	"",	   "aaaaaaaa-0000-4000-8000-000000000001",
};

struct input {
	const uint8_t *data;
	size_t size;
	size_t budget; /* Values left to create. */
};

static uint8_t take(struct input *in)
{
	uint8_t b;

	if (!in->size) {
		return 0;
	}
	b = *in->data++;
	in->size--;
	return b;
}

static uint64_t take_u64(struct input *in)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++) {
		v = (v << 8) | take(in);
	}
	return v;
}

/* A string: a known word, or up to 31 raw bytes (cut at a NUL, as C strings are). */
static char *take_string(struct input *in)
{
	uint8_t b = take(in);
	size_t len, i;
	char *s;

	if (b < 0x80) {
		return g_strdup(words[b % G_N_ELEMENTS(words)]);
	}
	len = b & 0x1f;
	s = g_malloc(len + 1);
	for (i = 0; i < len; i++) {
		s[i] = (char) take(in);
	}
	s[len] = '\0';
	return s;
}

static bt_value *take_value(struct input *in, int depth)
{
	uint8_t type = take(in);
	bt_value *value = NULL;

	if (!in->budget) {
		bt_value_get_ref(bt_value_null);
		return bt_value_null;
	}
	in->budget--;
	switch (type % (depth < 6 ? 8 : 6)) {
	case 0:
		bt_value_get_ref(bt_value_null);
		return bt_value_null;
	case 1:
		return bt_value_bool_create_init(take(in) & 1);
	case 2:
		return bt_value_integer_signed_create_init((int64_t) take_u64(in));
	case 3:
		return bt_value_integer_unsigned_create_init(take_u64(in));
	case 4: {
		char *s = take_string(in);

		value = bt_value_string_create_init(s);
		g_free(s);
		return value;
	}
	case 5: {
		union {
			uint64_t u;
			double d;
		} bits = { .u = take_u64(in) };

		return bt_value_real_create_init(bits.d);
	}
	case 6: {
		unsigned n = take(in) % 6, i;

		value = bt_value_array_create();
		for (i = 0; i < n && in->size; i++) {
			bt_value *elem = take_value(in, depth + 1);

			bt_value_array_append_element(value, elem);
			bt_value_put_ref(elem);
		}
		return value;
	}
	default: {
		unsigned n = take(in) % 6, i;

		value = bt_value_map_create();
		for (i = 0; i < n && in->size; i++) {
			char *key = take_string(in);
			bt_value *elem = take_value(in, depth + 1);

			bt_value_map_insert_entry(value, key, elem);
			bt_value_put_ref(elem);
			g_free(key);
		}
		return value;
	}
	}
}

struct read_context {
	const struct vmt_param_spec *specs;
	size_t count;
};

static bt_value_map_foreach_entry_const_func_status
check_valid_entry(const char *key, const bt_value *value, void *data)
{
	const struct read_context *ctx = data;
	size_t i;

	for (i = 0; i < ctx->count; i++) {
		if (strcmp(ctx->specs[i].name, key) != 0) {
			continue;
		}
		switch (ctx->specs[i].kind) {
		case VMT_PARAM_STRING:
			if (!bt_value_is_string(value)) {
				abort();
			}
			return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_OK;
		case VMT_PARAM_STRING_ARRAY:
			if (!bt_value_is_array(value) || bt_value_array_get_length(value) == 0) {
				abort();
			}
			return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_OK;
		case VMT_PARAM_MAP_OF_INTEGERS:
		case VMT_PARAM_MAP_OF_STRINGS:
			if (!bt_value_is_map(value)) {
				abort();
			}
			return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_OK;
		default:
			return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_OK;
		}
	}
	abort(); /* An unknown name was accepted. */
}

static bt_value_map_foreach_entry_const_func_status read_offset(const char *key,
								const bt_value *value, void *data)
{
	int64_t ns;

	(void) key;
	(void) data;
	if (!vmt_params_integer_value(value, &ns)) {
		abort(); /* Validation let a non-integer through. */
	}
	return BT_VALUE_MAP_FOREACH_ENTRY_CONST_FUNC_STATUS_OK;
}

static void validate(const bt_value *params, const struct vmt_param_spec *specs, size_t count)
{
	GString *error = g_string_new(NULL);
	enum vmt_status status = vmt_params_validate(params, specs, count, error);

	if (status == VMT_STATUS_OK) {
		struct read_context ctx = { specs, count };

		if (params && bt_value_is_map(params)) {
			bt_value_map_foreach_entry_const(params, check_valid_entry, &ctx);
			if (specs == vmsync_specs) {
				const bt_value *offsets =
					bt_value_map_borrow_entry_value_const(params, "offsets");

				(void) vmt_params_string(params, "sync", "auto");
				(void) vmt_params_string(params, "host", NULL);
				if (offsets) {
					bt_value_map_foreach_entry_const(offsets, read_offset,
									 NULL);
				}
			} else {
				(void) vmt_params_string(params, "format", "text");
				(void) vmt_params_string(params, "path", NULL);
				(void) vmt_params_string(params, "view", "vcpu");
			}
		}
	} else if (status != VMT_STATUS_ERROR || error->len == 0 ||
		   (!strchr(error->str, '`') && !strstr(error->str, "expecting a map"))) {
		abort(); /* An error must say which parameter is wrong. */
	}
	g_string_free(error, TRUE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size, 64 };
	bt_value *params = take_value(&in, 0);

	validate(params, vmsync_specs, G_N_ELEMENTS(vmsync_specs));
	validate(params, vmstate_specs, G_N_ELEMENTS(vmstate_specs));
	validate(params, NULL, 0);
	bt_value_put_ref(params);
	return 0;
}
