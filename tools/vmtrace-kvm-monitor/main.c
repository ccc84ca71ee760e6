/* SPDX-License-Identifier: MIT */
/*
 * vmtrace-kvm-monitor's command line and event loop.
 *
 * A stock LTTng-UST application cannot know when a tracing session starts,
 * so the monitor does not rely on one `kvm_guest` per VM: it re-emits them
 * at start, on SIGUSR1 and every `--interval`, and a session started at any
 * time learns every VM within one interval.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "tools/vmtrace-kvm-monitor/monitor.h"

/* Exit status of a bad command line (as getopt-based tools do). */
#define EXIT_USAGE 2

/* Longest `--interval`: one day. */
#define MAX_INTERVAL_S 86400.0

struct options {
	const char *debugfs_dir; /* Borrowed from argv or a literal. */
	const char *proc_dir; /* Borrowed from argv or a literal. */
	int64_t interval_ms;
	bool use_uevents;
	bool is_once;
	bool is_verbose;
};

void kvmmon_log(const char *fmt, ...)
{
	va_list args;

	fputs("vmtrace-kvm-monitor: ", stderr);
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fputc('\n', stderr);
}

static void print_usage(FILE *out)
{
	fputs("Usage: vmtrace-kvm-monitor [--interval SEC] [--once] [--no-uevents]\n"
	      "                           [--debugfs DIR] [--proc DIR] [--verbose]\n\n"
	      "Records which QEMU process runs which KVM VM as LTTng-UST events:\n"
	      "  vmtrace_kvm:kvm_guest (pid, guest_uuid)  every VM, at start, on SIGUSR1\n"
	      "                                           and every --interval\n"
	      "  vmtrace_kvm:kvm_created (pid, uuid)      a VM appeared\n"
	      "  vmtrace_kvm:kvm_destroyed (pid)          a VM is gone\n"
	      "VMs are the entries <pid>-<fd> of DEBUGFS/kvm (needs root and a mounted\n"
	      "debugfs); the UUID is the -uuid or -smbios type=1,uuid= argument of\n"
	      "PROC/<pid>/cmdline (\"\" if none). Creation and destruction come from\n"
	      "KVM's uevents (udev, else the kernel's netlink group), and from a\n"
	      "debugfs scan every interval where no uevent arrives (containers).\n\n"
	      "Options:\n"
	      "  --interval SEC  re-emit kvm_guest and rescan every SEC seconds\n"
	      "                  (default 1, fractions allowed)\n"
	      "  --once          emit kvm_guest for every VM, then exit\n"
	      "  --no-uevents    find VMs by scanning debugfs only\n"
	      "  --debugfs DIR   debugfs root (default /sys/kernel/debug); another\n"
	      "                  directory (a test fixture) implies --no-uevents\n"
	      "  --proc DIR      procfs root (default /proc)\n"
	      "  --verbose       also log every event to stderr\n"
	      "  --help          this text\n\n"
	      "Stops on SIGTERM or SIGINT. See tools/vmtrace-kvm-monitor/README.md.\n",
	      out);
}

static bool parse_interval(const char *text, int64_t *interval_ms)
{
	char *end = NULL;
	double seconds = g_ascii_strtod(text, &end);

	if (!end || end == text || *end != '\0' || !isfinite(seconds) || seconds <= 0 ||
	    seconds > MAX_INTERVAL_S) {
		kvmmon_log("Invalid `--interval` (expecting seconds in (0, %.0f]): value=\"%s\"",
			   MAX_INTERVAL_S, text);
		return false;
	}
	*interval_ms = MAX(1, llround(seconds * 1000.0));
	return true;
}

/* Parses argv into `options`; returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, struct options *options)
{
	static const struct option long_options[] = {
		{ "interval", required_argument, NULL, 'i' },
		{ "once", no_argument, NULL, '1' },
		{ "no-uevents", no_argument, NULL, 'n' },
		{ "debugfs", required_argument, NULL, 'd' },
		{ "proc", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int option;

	*options = (struct options){
		KVMMON_DEFAULT_DEBUGFS, KVMMON_DEFAULT_PROC, 1000, true, false, false
	};
	while ((option = getopt_long(argc, argv, "hv", long_options, NULL)) != -1) {
		switch (option) {
		case 'i':
			if (!parse_interval(optarg, &options->interval_ms)) {
				return EXIT_USAGE;
			}
			break;
		case '1':
			options->is_once = true;
			break;
		case 'n':
			options->use_uevents = false;
			break;
		case 'd':
			options->debugfs_dir = optarg;
			break;
		case 'p':
			options->proc_dir = optarg;
			break;
		case 'v':
			options->is_verbose = true;
			break;
		case 'h':
			print_usage(stdout);
			return EXIT_SUCCESS;
		default:
			print_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		kvmmon_log("Unexpected argument: argument=\"%s\"", argv[optind]);
		return EXIT_USAGE;
	}
	/* A fixture directory has no uevents: the real system's would name other VMs. */
	if (strcmp(options->debugfs_dir, KVMMON_DEFAULT_DEBUGFS) != 0) {
		options->use_uevents = false;
	}
	return -1;
}

static int64_t now_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

/*
 * Blocks the signals the loop handles and returns a descriptor that reads
 * them, or -1. lttng-ust's threads block every signal, so they all reach
 * this descriptor.
 */
static int open_signal_fd(void)
{
	sigset_t signals;
	int fd;

	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &signals, NULL) != 0) {
		kvmmon_log("Cannot block SIGTERM, SIGINT and SIGUSR1: %s", g_strerror(errno));
		return -1;
	}
	fd = signalfd(-1, &signals, SFD_CLOEXEC);
	if (fd < 0) {
		kvmmon_log("Cannot create a signalfd for SIGTERM, SIGINT and SIGUSR1: %s",
			   g_strerror(errno));
	}
	return fd;
}

/* Reads one signal; returns true if it asks the monitor to stop. */
static bool read_signal(int signal_fd, struct kvmmon_vms *vms, bool *is_ok)
{
	struct signalfd_siginfo info;

	if (read(signal_fd, &info, sizeof(info)) != (ssize_t) sizeof(info)) {
		return false;
	}
	if (info.ssi_signo == SIGUSR1) {
		*is_ok = kvmmon_vms_scan(vms, true);
		kvmmon_vms_emit_all(vms);
		return !*is_ok;
	}
	return true;
}

static int poll_timeout_ms(int64_t next_tick_ms)
{
	int64_t remaining = next_tick_ms - now_ms();

	return (int) CLAMP(remaining, 0, G_MAXINT);
}

/* Runs until a stop signal (exit status 0) or a failure (1). */
static int run_loop(const struct options *options, struct kvmmon_vms *vms, int signal_fd,
		    struct kvmmon_uevents *uevents)
{
	struct pollfd fds[2] = { { signal_fd, POLLIN, 0 }, { -1, POLLIN, 0 } };
	int64_t next_tick_ms = now_ms() + options->interval_ms;
	bool is_ok = true;

	fds[1].fd = uevents ? kvmmon_uevents_get_fd(uevents) : -1;
	for (;;) {
		if (poll(fds, 2, poll_timeout_ms(next_tick_ms)) < 0 && errno != EINTR) {
			kvmmon_log("Cannot wait for signals and uevents: %s", g_strerror(errno));
			return EXIT_FAILURE;
		}
		if ((fds[0].revents & POLLIN) && read_signal(signal_fd, vms, &is_ok)) {
			return is_ok ? EXIT_SUCCESS : EXIT_FAILURE;
		}
		if (fds[1].revents & POLLIN) {
			kvmmon_uevents_dispatch(uevents, vms);
		}
		if (now_ms() >= next_tick_ms) {
			if (!kvmmon_vms_scan(vms, true)) {
				return EXIT_FAILURE;
			}
			kvmmon_vms_emit_all(vms);
			/* After a stall (suspend), start again from now rather than catch up. */
			next_tick_ms = MAX(next_tick_ms + options->interval_ms, now_ms());
		}
	}
}

int main(int argc, char **argv)
{
	struct options options;
	struct kvmmon_vms *vms = NULL;
	struct kvmmon_uevents *uevents = NULL;
	int signal_fd = -1;
	int status = parse_options(argc, argv, &options);

	if (status >= 0) {
		return status;
	}
	status = EXIT_FAILURE;
	if (!options.is_once) {
		signal_fd = open_signal_fd();
		if (signal_fd < 0) {
			goto end;
		}
	}
	vms = kvmmon_vms_create(options.debugfs_dir, options.proc_dir, options.is_verbose);
	/* Listen before the first scan, so that no VM created in between is missed. */
	if (!options.is_once && options.use_uevents) {
		uevents = kvmmon_uevents_create(options.is_verbose);
	}
	if (!kvmmon_vms_scan(vms, false)) {
		goto end;
	}
	if (options.is_verbose) {
		kvmmon_log("Monitoring KVM VMs: debugfs=\"%s\", proc=\"%s\", interval-ms=%" PRId64
			   ", uevents=%s",
			   options.debugfs_dir, options.proc_dir, options.interval_ms,
			   uevents ? "yes" : "no");
	}
	kvmmon_vms_emit_all(vms);
	status = options.is_once ? EXIT_SUCCESS : run_loop(&options, vms, signal_fd, uevents);

end:
	kvmmon_uevents_destroy(uevents);
	kvmmon_vms_destroy(vms);
	if (signal_fd >= 0) {
		close(signal_fd);
	}
	return status;
}
