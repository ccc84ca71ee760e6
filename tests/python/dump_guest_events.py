# SPDX-License-Identifier: MIT
"""Prints every guest event of `source.vmsync.fs [-> filter.vmmatch.tag]` as CSV.

Usage: /usr/bin/python3 dump_guest_events.py PLUGIN_DIR TRACES_DIR SYNC [--tag]

Columns: hostname, cpu, index (ordinal within that guest CPU's stream),
name, ns (the emitted time, ns from origin), and with --tag the `vm`
members uuid, host_pid, host_tid, vcpu, pcpu, host_state. Runs in its own
process: tests call it through a subprocess, so a libbabeltrace2
precondition abort cannot take pytest down.
"""
import csv
import sys

import bt2


def main():
    plugin_dir, traces, sync = sys.argv[1:4]
    tag = "--tag" in sys.argv[4:]
    plugins = {p.name: p for p in bt2.find_plugins_in_path(plugin_dir, fail_on_load_error=True)}
    source = bt2.ComponentSpec(plugins["vmsync"].source_component_classes["fs"],
                               {"inputs": [traces], "sync": sync})
    filters = [bt2.ComponentSpec(plugins["vmmatch"].filter_component_classes["tag"])] if tag else []
    iterator = bt2.TraceCollectionMessageIterator(source, filters)
    out = csv.writer(sys.stdout)
    counts = {}
    for msg in iterator:
        if type(msg) is not bt2._EventMessageConst:
            continue
        event = msg.event
        env = event.stream.trace.environment
        if "vmtrace_role" not in env or str(env["vmtrace_role"]) != "guest":
            continue
        hostname = str(env["hostname"])
        cpu = int(event.packet.context_field["cpu_id"])
        index = counts.get((hostname, cpu), 0)
        counts[(hostname, cpu)] = index + 1
        row = [hostname, cpu, index, event.name,
               msg.default_clock_snapshot.ns_from_origin]
        if tag:
            vm = event.common_context_field["vm"]
            row += [str(vm["uuid"]), int(vm["host_pid"]), int(vm["host_tid"]),
                    int(vm["vcpu"]), int(vm["pcpu"]), str(vm["host_state"])]
        out.writerow(row)


if __name__ == "__main__":
    main()
