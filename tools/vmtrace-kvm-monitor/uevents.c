/* SPDX-License-Identifier: MIT */
/*
 * KVM's uevents. When a VM is created (KVM_CREATE_VM) and when it is freed,
 * KVM sends a `change` uevent of its misc device `kvm` carrying
 * `EVENT=create|destroy`, `PID` and `STATS_PATH` (the VM's debugfs
 * directory, relative to the debugfs root). udevd rebroadcasts them where
 * it runs; elsewhere the kernel's own netlink group carries them, but only
 * into the initial network namespace. So in a container this may deliver
 * nothing, and the periodic debugfs scan is what finds the VMs.
 */
#include <libudev.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "tools/vmtrace-kvm-monitor/monitor.h"

/* The socket that a running udevd owns (systemd tests udevd the same way). */
#define UDEVD_CONTROL_SOCKET "/run/udev/control"

struct kvmmon_uevents {
	struct udev *udev; /* Owned. */
	struct udev_monitor *monitor; /* Owned. */
	bool is_verbose;
};

void kvmmon_uevents_destroy(struct kvmmon_uevents *uevents)
{
	if (!uevents) {
		return;
	}
	udev_monitor_unref(uevents->monitor);
	udev_unref(uevents->udev);
	g_free(uevents);
}

/* Opens the monitor on netlink group `source`; returns a negative errno on failure. */
static int open_monitor(struct kvmmon_uevents *uevents, const char *source)
{
	int ret;

	uevents->monitor = udev_monitor_new_from_netlink(uevents->udev, source);
	if (!uevents->monitor) {
		return -errno ? -errno : -EINVAL;
	}
	ret = udev_monitor_filter_add_match_subsystem_devtype(uevents->monitor, "misc", NULL);
	if (ret < 0) {
		return ret;
	}
	return udev_monitor_enable_receiving(uevents->monitor);
}

struct kvmmon_uevents *kvmmon_uevents_create(bool is_verbose)
{
	const char *source = access(UDEVD_CONTROL_SOCKET, F_OK) == 0 ? "udev" : "kernel";
	struct kvmmon_uevents *uevents = g_new0(struct kvmmon_uevents, 1);
	int ret;

	uevents->is_verbose = is_verbose;
	uevents->udev = udev_new();
	if (!uevents->udev) {
		kvmmon_log("Cannot create a libudev context, finding VMs by polling debugfs only");
		goto error;
	}
	ret = open_monitor(uevents, source);
	if (ret < 0) {
		kvmmon_log("Cannot listen to KVM uevents, finding VMs by polling debugfs only: "
			   "netlink-source=%s: %s",
			   source, g_strerror(-ret));
		goto error;
	}
	if (is_verbose) {
		kvmmon_log("Listening to KVM uevents: netlink-source=%s", source);
	}
	return uevents;

error:
	kvmmon_uevents_destroy(uevents);
	return NULL;
}

int kvmmon_uevents_get_fd(const struct kvmmon_uevents *uevents)
{
	return udev_monitor_get_fd(uevents->monitor);
}

/* Applies one KVM uevent to `vms`; one without a VM entry waits for the next scan. */
static void apply_uevent(const struct kvmmon_uevents *uevents, struct udev_device *device,
			 struct kvmmon_vms *vms)
{
	const char *event = udev_device_get_property_value(device, "EVENT");
	const char *stats_path = udev_device_get_property_value(device, "STATS_PATH");
	const char *entry_name = stats_path ? strrchr(stats_path, '/') : NULL;
	int64_t key;

	if (!event || !entry_name || !kvmmon_entry_key_parse(entry_name + 1, &key)) {
		if (uevents->is_verbose) {
			kvmmon_log(
				"Ignoring a KVM uevent without a VM: event=\"%s\", stats-path=\"%s\"",
				event ? event : "", stats_path ? stats_path : "");
		}
		return;
	}
	if (strcmp(event, "create") == 0) {
		kvmmon_vms_add(vms, key);
	} else if (strcmp(event, "destroy") == 0) {
		kvmmon_vms_remove(vms, key);
	}
}

void kvmmon_uevents_dispatch(struct kvmmon_uevents *uevents, struct kvmmon_vms *vms)
{
	struct udev_device *device = udev_monitor_receive_device(uevents->monitor);

	if (!device) {
		return;
	}
	if (g_strcmp0(udev_device_get_sysname(device), "kvm") == 0) {
		apply_uevent(uevents, device, vms);
	}
	udev_device_unref(device);
}
