/* SPDX-License-Identifier: MIT */
/*
 * The VM UUID on a QEMU command line. QEMU takes it from `-uuid X` and from
 * `-smbios type=1,uuid=X` (both set the same global; the later one wins),
 * accepts `--option` for `-option`, and escapes a comma in an option value
 * as `,,`.
 */
#include <ctype.h>
#include <string.h>

#include "tools/vmtrace-kvm-monitor/monitor.h"

/* Whether `text` is a UUID in QEMU's only accepted form, 8-4-4-4-12 hex digits. */
static bool is_canonical_uuid(const char *text)
{
	size_t i;

	if (strlen(text) != KVMMON_UUID_SIZE - 1) {
		return false;
	}
	for (i = 0; i < KVMMON_UUID_SIZE - 1; i++) {
		bool is_dash_position = i == 8 || i == 13 || i == 18 || i == 23;

		if (is_dash_position ? text[i] != '-' : !isxdigit((unsigned char) text[i])) {
			return false;
		}
	}
	return true;
}

static void copy_lowercase_uuid(const char *text, char uuid[KVMMON_UUID_SIZE])
{
	size_t i;

	for (i = 0; i < KVMMON_UUID_SIZE - 1; i++) {
		uuid[i] = (char) tolower((unsigned char) text[i]);
	}
	uuid[KVMMON_UUID_SIZE - 1] = '\0';
}

/*
 * Splits a QEMU option string at single commas into `key=value` items,
 * turning each `,,` into one comma. Returns a NULL-terminated vector
 * (owned by the caller, `g_strfreev`).
 */
static char **split_qemu_opts(const char *value)
{
	GPtrArray *items = g_ptr_array_new();
	GString *item = g_string_new(NULL);
	const char *p;

	for (p = value; *p; p++) {
		if (*p == ',' && p[1] == ',') {
			g_string_append_c(item, ',');
			p++;
		} else if (*p == ',') {
			g_ptr_array_add(items, g_string_free(item, FALSE));
			item = g_string_new(NULL);
		} else {
			g_string_append_c(item, *p);
		}
	}
	g_ptr_array_add(items, g_string_free(item, FALSE));
	g_ptr_array_add(items, NULL);
	return (char **) g_ptr_array_free(items, FALSE);
}

/* The `uuid` of an `-smbios` value if it describes table type 1, else NULL (owned by the caller). */
static char *find_smbios_type1_uuid(const char *value)
{
	char **items = split_qemu_opts(value);
	char *uuid = NULL;
	bool is_type1 = false;
	size_t i;

	for (i = 0; items[i]; i++) {
		if (strcmp(items[i], "type=1") == 0) {
			is_type1 = true;
		} else if (g_str_has_prefix(items[i], "uuid=")) {
			g_free(uuid);
			uuid = g_strdup(items[i] + strlen("uuid="));
		}
	}
	g_strfreev(items);
	if (!is_type1) {
		g_clear_pointer(&uuid, g_free);
	}
	return uuid;
}

/* The option name of argument `arg` without its leading dashes, or NULL if no option. */
static const char *option_name(const char *arg)
{
	if (arg[0] != '-') {
		return NULL;
	}
	return arg[1] == '-' ? arg + 2 : arg + 1;
}

/* Applies the option `name` with argument `value` to `uuid`. */
static void apply_option(const char *name, const char *value, char uuid[KVMMON_UUID_SIZE])
{
	char *smbios_uuid;

	if (strcmp(name, "uuid") == 0) {
		if (is_canonical_uuid(value)) {
			copy_lowercase_uuid(value, uuid);
		}
	} else if (strcmp(name, "smbios") == 0) {
		smbios_uuid = find_smbios_type1_uuid(value);
		if (smbios_uuid && is_canonical_uuid(smbios_uuid)) {
			copy_lowercase_uuid(smbios_uuid, uuid);
		}
		g_free(smbios_uuid);
	}
}

void kvmmon_cmdline_find_uuid(const char *cmdline, size_t length, char uuid[KVMMON_UUID_SIZE])
{
	const char *end = cmdline + length;
	const char *arg, *next, *name;

	uuid[0] = '\0';
	for (arg = cmdline; arg < end; arg = next) {
		next = memchr(arg, '\0', (size_t) (end - arg));
		if (!next) {
			/* A truncated last argument: QEMU could not have parsed it either. */
			break;
		}
		next++;
		name = option_name(arg);
		if (name && next < end && memchr(next, '\0', (size_t) (end - next))) {
			apply_option(name, next, uuid);
		}
	}
}
