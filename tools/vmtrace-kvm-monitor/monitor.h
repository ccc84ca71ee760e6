/* SPDX-License-Identifier: MIT */
/*
 * vmtrace-kvm-monitor: records which QEMU process runs which VM as the
 * LTTng-UST events of SPEC section 3 (`vmtrace_kvm:kvm_guest`,
 * `kvm_created`, `kvm_destroyed`), on a stock LTTng 2.13.
 *
 * The program is split by concern:
 * - main.c: options, signals and the event loop;
 * - vms.c: the known VMs, the debugfs scan and the events;
 * - cmdline.c: the VM UUID from a QEMU command line;
 * - uevents.c: KVM's uevents through libudev;
 * - tp.h, tp.c: the tracepoint provider.
 */
#ifndef VMTRACE_TOOLS_VMTRACE_KVM_MONITOR_MONITOR_H
#define VMTRACE_TOOLS_VMTRACE_KVM_MONITOR_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

/* A canonical UUID (8-4-4-4-12) and its NUL. */
#define KVMMON_UUID_SIZE 37

/* Where the real system keeps what the monitor reads. */
#define KVMMON_DEFAULT_DEBUGFS "/sys/kernel/debug"
#define KVMMON_DEFAULT_PROC "/proc"

/* Writes "vmtrace-kvm-monitor: MESSAGE" and a newline to stderr. */
void kvmmon_log(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/*
 * Finds the VM UUID in a QEMU command line (`/proc/<pid>/cmdline`: `length`
 * bytes of NUL-terminated arguments): the value of `-uuid`, or the `uuid`
 * of `-smbios type=1,...`; the last one wins, as in QEMU. Writes it in lower
 * case to `uuid`, or "" when there is none (or it is no canonical UUID).
 */
void kvmmon_cmdline_find_uuid(const char *cmdline, size_t length, char uuid[KVMMON_UUID_SIZE]);

/*
 * A VM's debugfs entry `<pid>-<fd>`, packed into one integer (pid in the
 * high 32 bits). Returns false for a name of another shape.
 */
bool kvmmon_entry_key_parse(const char *name, int64_t *key);

/* The known VMs: their debugfs entries and their processes. */
struct kvmmon_vms;

/*
 * Creates an empty set that reads `<debugfs_dir>/kvm` and
 * `<proc_dir>/<pid>/cmdline` (both borrowed: they must outlive the set).
 * With `is_verbose`, every emitted event is also logged.
 */
struct kvmmon_vms *kvmmon_vms_create(const char *debugfs_dir, const char *proc_dir,
				     bool is_verbose);

/* Destroys `vms` (NULL allowed). Emits nothing. */
void kvmmon_vms_destroy(struct kvmmon_vms *vms);

/*
 * Reads `<debugfs>/kvm` and brings the set up to date. With `emit_changes`,
 * emits `kvm_destroyed` for each process whose last VM is gone, then
 * `kvm_created` for each process with a first VM. Returns false, after
 * logging why (naming the directory), if the directory cannot be read.
 */
bool kvmmon_vms_scan(struct kvmmon_vms *vms, bool emit_changes);

/* Emits `kvm_guest` for every known VM process, by increasing pid. */
void kvmmon_vms_emit_all(struct kvmmon_vms *vms);

/* Adds the VM of debugfs entry `key` (a uevent saw it), emitting `kvm_created`. */
void kvmmon_vms_add(struct kvmmon_vms *vms, int64_t key);

/*
 * Removes the VM of debugfs entry `key` (a uevent saw it go), emitting
 * `kvm_destroyed` if it was its process's last. The kernel sends the
 * uevent just before it removes the entry, so later scans ignore the
 * entry while it lingers.
 */
void kvmmon_vms_remove(struct kvmmon_vms *vms, int64_t key);

/* KVM's uevents (`misc` subsystem, device `kvm`). */
struct kvmmon_uevents;

/*
 * Starts listening: to udevd's events where udevd runs, else to the
 * kernel's. Returns NULL, after logging why, if neither can be opened: the
 * caller then relies on polling.
 */
struct kvmmon_uevents *kvmmon_uevents_create(bool is_verbose);

/* Stops listening (NULL allowed). */
void kvmmon_uevents_destroy(struct kvmmon_uevents *uevents);

/* The descriptor to poll for input. */
int kvmmon_uevents_get_fd(const struct kvmmon_uevents *uevents);

/* Reads one pending uevent and applies it to `vms`. */
void kvmmon_uevents_dispatch(struct kvmmon_uevents *uevents, struct kvmmon_vms *vms);

#endif /* VMTRACE_TOOLS_VMTRACE_KVM_MONITOR_MONITOR_H */
