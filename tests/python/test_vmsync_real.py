# SPDX-License-Identifier: MIT
"""`source.vmsync.fs` on real LTTng-UST traces with a known clock error.

`../shared/peer-cases/real-traces/local-lttng-ust-sim` holds three traces
recorded with LTTng-UST 2.13 under separate hostnames and clock plugins: a
"host" (`vm`), `guest-vm1`, and `guest-vm3`, whose session daemon ran
under `faketime +2.5s`, so its recorded times are 2.5 s late. None has KVM
or vmsync events: the host is named with `host`, the guests fall back to
their recorded clocks, and `offsets` corrects guest-vm3 exactly.
"""
import json

import pytest

from conftest import PEER_CASES, PLUGINS, needs_shared, run_cli, run_python

pytestmark = needs_shared()

SIM = PEER_CASES / "real-traces" / "local-lttng-ust-sim"
HOST, VM1, VM3 = SIM / "host-vm", SIM / "guest-vm1", SIM / "guest-vm3-offset2.5s"
SHIFT_NS = -2_500_000_000

DUMP = """
import bt2, json, sys
plugins = {p.name: p for p in bt2.find_plugins_in_path(%(plugins)r)}
if %(params)r is None:
    source = [bt2.AutoSourceComponentSpec(str(p)) for p in %(inputs)r]
else:
    source = bt2.ComponentSpec(plugins["vmsync"].source_component_classes["fs"], %(params)r)
ticks = []
for msg in bt2.TraceCollectionMessageIterator(source):
    if type(msg) is bt2._EventMessageConst and msg.event.name == "vmspike:tick":
        env = msg.event.stream.trace.environment
        ticks.append([str(env["hostname"]), int(msg.event.payload_field["n"]),
                      msg.default_clock_snapshot.ns_from_origin,
                      str(env["vmtrace_sync_method"]) if "vmtrace_sync_method" in env else ""])
json.dump(ticks, sys.stdout)
"""


def ticks(params=None):
    inputs = [str(HOST), str(VM1), str(VM3)]
    proc = run_python(DUMP % {"plugins": str(PLUGINS), "params": params, "inputs": inputs})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {(host, n): (ns, method) for host, n, ns, method in json.loads(proc.stdout)}


def test_offsets_align_the_late_guest():
    recorded = ticks()
    params = {"inputs": [str(HOST), str(VM1), str(VM3)], "host": str(HOST),
              "offsets": {"guest-vm3": SHIFT_NS}}
    ours = ticks(params)
    assert set(ours) == set(recorded) and len(ours) == 30
    for (host, n), (ns, method) in ours.items():
        expected = recorded[(host, n)][0] + (SHIFT_NS if host == "guest-vm3" else 0)
        assert ns == expected, (host, n)
        assert method == {"vm": "", "guest-vm1": "clock", "guest-vm3": "manual"}[host]


def test_sync_info_reports_the_manual_offset():
    proc = run_cli(["query", "source.vmsync.fs", "vmtrace.sync-info", "--params",
                    f'inputs=["{HOST}","{VM1}","{VM3}"],host="{HOST}",'
                    f'offsets={{guest-vm3={SHIFT_NS}}}'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    guests = proc.stdout.split("- \n")
    vm3 = next(g for g in guests if "machine: guest-vm3" in g)
    assert "method: manual" in vm3 and f"offset-ns: {SHIFT_NS}" in vm3
    assert "error-ns: -1" in vm3
    vm1 = next(g for g in guests if "machine: guest-vm1" in g)
    assert "method: clock" in vm1 and "offset-ns: 0" in vm1


def test_without_host_parameter_roles_stay_unknown():
    """No trace has KVM events and none looks like a guest (no product_uuid,
    no vmsync events): without `host` nothing is synchronized, and every
    trace is emitted as recorded with role `unknown`."""
    proc = run_cli(["-c", "source.vmsync.fs", "-p", f'inputs=["{HOST}","{VM1}","{VM3}"]',
                    "-c", "sink.text.details", "-p", "with-metadata=no"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    roles = {line.split(":")[1].strip() for line in proc.stdout.splitlines()
             if line.strip().startswith("vmtrace_role:")}
    assert roles == {"unknown"}
