/* SPDX-License-Identifier: MIT */
/*
 * The known VMs. KVM names each VM's debugfs directory `<pid>-<fd>` after
 * the process that created it and the VM's file descriptor, while SPEC
 * section 3 names VMs by process: so the events are per process,
 * `kvm_created` with its first VM and `kvm_destroyed` with its last.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/vfs.h>

#include <glib.h>

#include "tools/vmtrace-kvm-monitor/monitor.h"
#include "tools/vmtrace-kvm-monitor/tp.h"

/* `f_type` of a debugfs mount (linux/magic.h). */
#define DEBUGFS_MAGIC_NUMBER 0x64626720

/* One VM: a debugfs entry `<pid>-<fd>`. */
struct vm_entry {
	int64_t key;
	/* Listed by the scan under way. */
	bool is_listed;
};

/* A process with at least one VM. */
struct vm_process {
	int64_t pid;
	uint64_t entry_count;
	char uuid[KVMMON_UUID_SIZE];
};

struct kvmmon_vms {
	const char *proc_dir; /* Borrowed from the caller. */
	const char *debugfs_dir; /* Borrowed from the caller. */
	char *kvm_dir; /* Owned: `<debugfs_dir>/kvm`. */
	bool is_verbose;
	/* Entry key -> `struct vm_entry`. */
	GHashTable *entries; /* Owned: keys inside the owned values. */
	/* Pid -> `struct vm_process`. */
	GHashTable *processes; /* Owned: keys inside the owned values. */
	/* Entries removed by a uevent that debugfs may still list: key -> `struct vm_entry`. */
	GHashTable *removed; /* Owned: keys inside the owned values. */
};

bool kvmmon_entry_key_parse(const char *name, int64_t *key)
{
	guint64 pid, fd;
	const char *dash = strchr(name, '-');
	char *pid_text;
	bool is_valid;

	if (!dash || !g_ascii_isdigit(dash[1])) {
		return false;
	}
	pid_text = g_strndup(name, (gsize) (dash - name));
	is_valid = g_ascii_string_to_unsigned(pid_text, 10, 1, G_MAXINT32, &pid, NULL) &&
		   g_ascii_string_to_unsigned(dash + 1, 10, 0, G_MAXINT32, &fd, NULL);
	g_free(pid_text);
	if (is_valid) {
		*key = (int64_t) (pid << 32 | fd);
	}
	return is_valid;
}

static int64_t key_pid(int64_t key)
{
	return key >> 32;
}

struct kvmmon_vms *kvmmon_vms_create(const char *debugfs_dir, const char *proc_dir, bool is_verbose)
{
	struct kvmmon_vms *vms = g_new0(struct kvmmon_vms, 1);

	vms->debugfs_dir = debugfs_dir;
	vms->proc_dir = proc_dir;
	vms->kvm_dir = g_build_filename(debugfs_dir, "kvm", NULL);
	vms->is_verbose = is_verbose;
	vms->entries = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
	vms->processes = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
	vms->removed = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
	return vms;
}

void kvmmon_vms_destroy(struct kvmmon_vms *vms)
{
	if (!vms) {
		return;
	}
	g_hash_table_destroy(vms->entries);
	g_hash_table_destroy(vms->processes);
	g_hash_table_destroy(vms->removed);
	g_free(vms->kvm_dir);
	g_free(vms);
}

/* Fills `process->uuid` from its command line; "" (and a warning) if unreadable. */
static void read_uuid(const struct kvmmon_vms *vms, struct vm_process *process)
{
	char *path = g_strdup_printf("%s/%" PRId64 "/cmdline", vms->proc_dir, process->pid);
	GError *error = NULL;
	char *cmdline = NULL;
	gsize length = 0;

	process->uuid[0] = '\0';
	if (g_file_get_contents(path, &cmdline, &length, &error)) {
		kvmmon_cmdline_find_uuid(cmdline, length, process->uuid);
	} else {
		/* GLib's message names the path. */
		kvmmon_log("Cannot read the QEMU command line, using an empty UUID: pid=%" PRId64
			   ": %s",
			   process->pid, error->message);
		g_error_free(error);
	}
	g_free(cmdline);
	g_free(path);
}

static void emit_created(const struct kvmmon_vms *vms, const struct vm_process *process)
{
	lttng_ust_tracepoint(vmtrace_kvm, kvm_created, (uint32_t) process->pid, process->uuid);
	if (vms->is_verbose) {
		kvmmon_log("Emitted event: name=kvm_created, pid=%" PRId64 ", uuid=\"%s\"",
			   process->pid, process->uuid);
	}
}

static void emit_destroyed(const struct kvmmon_vms *vms, int64_t pid)
{
	lttng_ust_tracepoint(vmtrace_kvm, kvm_destroyed, (uint32_t) pid);
	if (vms->is_verbose) {
		kvmmon_log("Emitted event: name=kvm_destroyed, pid=%" PRId64, pid);
	}
}

static void emit_guest(const struct kvmmon_vms *vms, const struct vm_process *process)
{
	lttng_ust_tracepoint(vmtrace_kvm, kvm_guest, process->pid, process->uuid);
	if (vms->is_verbose) {
		kvmmon_log("Emitted event: name=kvm_guest, pid=%" PRId64 ", uuid=\"%s\"",
			   process->pid, process->uuid);
	}
}

static void add_entry(struct kvmmon_vms *vms, int64_t key, bool emit_changes)
{
	struct vm_entry *entry;
	struct vm_process *process;
	int64_t pid = key_pid(key);

	if (g_hash_table_contains(vms->entries, &key)) {
		return;
	}
	entry = g_new0(struct vm_entry, 1);
	entry->key = key;
	g_hash_table_insert(vms->entries, &entry->key, entry);
	process = g_hash_table_lookup(vms->processes, &pid);
	if (!process) {
		process = g_new0(struct vm_process, 1);
		process->pid = pid;
		read_uuid(vms, process);
		g_hash_table_insert(vms->processes, &process->pid, process);
		if (emit_changes) {
			emit_created(vms, process);
		}
	}
	process->entry_count++;
}

/* Accounts for the removal of entry `key` from `vms->entries` (done by the caller). */
static void release_entry(struct kvmmon_vms *vms, int64_t key, bool emit_changes)
{
	int64_t pid = key_pid(key);
	struct vm_process *process = g_hash_table_lookup(vms->processes, &pid);

	if (!process || --process->entry_count > 0) {
		return;
	}
	if (emit_changes) {
		emit_destroyed(vms, pid);
	}
	g_hash_table_remove(vms->processes, &pid);
}

void kvmmon_vms_add(struct kvmmon_vms *vms, int64_t key)
{
	g_hash_table_remove(vms->removed, &key);
	add_entry(vms, key, true);
}

void kvmmon_vms_remove(struct kvmmon_vms *vms, int64_t key)
{
	struct vm_entry *tombstone;

	if (g_hash_table_remove(vms->entries, &key)) {
		release_entry(vms, key, true);
	}
	if (!g_hash_table_contains(vms->removed, &key)) {
		tombstone = g_new0(struct vm_entry, 1);
		tombstone->key = key;
		g_hash_table_insert(vms->removed, &tombstone->key, tombstone);
	}
}

/* Logs why `<debugfs>/kvm` cannot be opened, with what to do about it. */
static void log_open_error(const struct kvmmon_vms *vms, int error_number)
{
	struct statfs fs;
	const char *hint = "";

	if (error_number == ENOENT) {
		if (statfs(vms->debugfs_dir, &fs) == 0 && fs.f_type == DEBUGFS_MAGIC_NUMBER) {
			hint = " (debugfs is mounted but has no kvm directory: is the kvm module "
			       "loaded?)";
		} else if (strcmp(vms->debugfs_dir, KVMMON_DEFAULT_DEBUGFS) == 0) {
			hint = " (debugfs is not mounted: as root, run "
			       "`mount -t debugfs none /sys/kernel/debug`)";
		}
	} else if (error_number == EACCES) {
		hint = " (debugfs is readable by root only)";
	}
	kvmmon_log("Cannot open the KVM debugfs directory: path=\"%s\": %s%s", vms->kvm_dir,
		   g_strerror(error_number), hint);
}

/* Keys of the VM entries listed in `<debugfs>/kvm` (owned by the caller), or NULL. */
static GArray *list_entries(const struct kvmmon_vms *vms)
{
	DIR *dir = opendir(vms->kvm_dir);
	GArray *keys;
	struct dirent *dirent;
	int64_t key;

	if (!dir) {
		log_open_error(vms, errno);
		return NULL;
	}
	keys = g_array_new(FALSE, FALSE, sizeof(int64_t));
	errno = 0;
	while ((dirent = readdir(dir))) {
		if (kvmmon_entry_key_parse(dirent->d_name, &key)) {
			g_array_append_val(keys, key);
		}
	}
	if (errno != 0) {
		kvmmon_log("Cannot list the KVM debugfs directory: path=\"%s\": %s", vms->kvm_dir,
			   g_strerror(errno));
		g_clear_pointer(&keys, g_array_unref);
	}
	closedir(dir);
	return keys;
}

static void clear_listed(G_GNUC_UNUSED gpointer key, gpointer value, G_GNUC_UNUSED gpointer data)
{
	struct vm_entry *entry = value;

	entry->is_listed = false;
}

struct sweep_context {
	struct kvmmon_vms *vms;
	bool emit_changes;
};

static gboolean sweep_entry(G_GNUC_UNUSED gpointer key, gpointer value, gpointer data)
{
	struct vm_entry *entry = value;
	struct sweep_context *context = data;

	if (entry->is_listed) {
		return FALSE;
	}
	release_entry(context->vms, entry->key, context->emit_changes);
	return TRUE;
}

static gboolean is_unlisted(G_GNUC_UNUSED gpointer key, gpointer value, G_GNUC_UNUSED gpointer data)
{
	const struct vm_entry *entry = value;

	return !entry->is_listed;
}

/* Marks the listed entries; returns the keys of new ones (owned by the caller). */
static GArray *mark_listed(struct kvmmon_vms *vms, const GArray *keys)
{
	GArray *added = g_array_new(FALSE, FALSE, sizeof(int64_t));
	struct vm_entry *entry;
	guint i;

	g_hash_table_foreach(vms->entries, clear_listed, NULL);
	g_hash_table_foreach(vms->removed, clear_listed, NULL);
	for (i = 0; i < keys->len; i++) {
		int64_t key = g_array_index(keys, int64_t, i);

		entry = g_hash_table_lookup(vms->entries, &key);
		if (!entry) {
			entry = g_hash_table_lookup(vms->removed, &key);
		}
		if (entry) {
			entry->is_listed = true;
		} else {
			g_array_append_val(added, key);
		}
	}
	return added;
}

bool kvmmon_vms_scan(struct kvmmon_vms *vms, bool emit_changes)
{
	struct sweep_context context = { vms, emit_changes };
	GArray *keys = list_entries(vms);
	GArray *added;
	guint i;

	if (!keys) {
		return false;
	}
	added = mark_listed(vms, keys);
	/* Gone first: a pid reused by a new VM gets `kvm_destroyed`, then `kvm_created`. */
	g_hash_table_foreach_remove(vms->entries, sweep_entry, &context);
	g_hash_table_foreach_remove(vms->removed, is_unlisted, NULL);
	for (i = 0; i < added->len; i++) {
		add_entry(vms, g_array_index(added, int64_t, i), emit_changes);
	}
	g_array_unref(added);
	g_array_unref(keys);
	return true;
}

static gint compare_pids(gconstpointer a, gconstpointer b)
{
	const struct vm_process *process_a = a, *process_b = b;

	return (process_a->pid > process_b->pid) - (process_a->pid < process_b->pid);
}

void kvmmon_vms_emit_all(struct kvmmon_vms *vms)
{
	GList *processes = g_list_sort(g_hash_table_get_values(vms->processes), compare_pids);
	GList *node;

	for (node = processes; node; node = node->next) {
		emit_guest(vms, node->data);
	}
	g_list_free(processes);
}
