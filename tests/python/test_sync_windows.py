# SPDX-License-Identifier: MIT
"""Window sync (`source.vmsync.fs` with `sync="windows"`, and `auto`'s
fallback to it) on simulated traces, scored against the simulator's truth.

Every guest event's converted timestamp must lie within the reported
`vmtrace_sync_error_ns` of its true host time, and on full traces the
targets of window-sync.md §7 must hold: max |error| <= 2 µs, a bound
<= 3 µs, and >= 99.9 % of the guest events in `running` per
`filter.vmmatch.tag`. The simulator's margins are asymmetric (the first
guest event 0.4-1.2 µs after an entry, the last one 1.5-4 µs before an
exit), so the estimate is biased by about 0.55 µs and the bound, not luck,
is what is checked. On degraded traces (a tenth of the events, only
`sched_switch`, the first 100 ms, lost host events) the bound must still
contain the truth.
"""
import json
import re
import subprocess

import pytest

from conftest import PLUGINS, VMSIM, run_cli, run_vmsim

pytestmark = pytest.mark.skipif(not VMSIM.exists(), reason="vmsim is not built")

# name -> (vmsim arguments, `sync` parameter); DEGRADED: only "the bound holds".
SCENARIOS = {
    # Issue 9's main case: drift +-50 ppm, recorded clocks ms off, no sync event.
    "drift50": (["--scenario", "nosync", "--duration-ms", "1000", "--seed", "7",
                 "--set", "drift_ppm=50,-50", "--set", "clock_error_ms=3.5,-4.5"], "auto"),
    # No sync event at all: `auto` must fall back to window sync.
    "nosync": (["--scenario", "nosync", "--duration-ms", "1000"], "auto"),
    # Forced on a trace with vmsync events: they count as ordinary events.
    "sample": (["--scenario", "sample", "--duration-ms", "1000"], "windows"),
    # A tenth of the guest events (window-sync.md §7: also run a 10 % subsample).
    "sparse": (["--scenario", "nosync", "--duration-ms", "1000", "--seed", "5",
                "--set", "guest_rate_per_ms=3"], "windows"),
    # Busy 4-vCPU guests preempting each other, no sync events.
    "compete": (["--scenario", "compete", "--duration-ms", "800", "--set", "sync=none"],
                "windows"),
    # Only the guests' `sched_switch` events (window-sync.md §4).
    "switchonly": (["--scenario", "nosync", "--duration-ms", "1000", "--seed", "3",
                    "--set", "guest_events=sched_switch"], "windows"),
    # The first 100 ms of a trace only: the clock rate is poorly known.
    "first100ms": (["--scenario", "nosync", "--duration-ms", "100", "--seed", "4"], "windows"),
    # The host lost 60 ms of events on pCPU 0: those times are "unknown = allowed".
    "discard": (["--scenario", "nosync", "--duration-ms", "1000", "--seed", "6",
                 "--set", "host_discard_ms=200,260", "--set", "host_discard_cpu=0"], "windows"),
    # Long guest-mode windows (~1 k exits per second and vCPU): a repeated
    # polygon vertex once stopped the band search short and derailed the fit.
    "longwindows": (["--scenario", "nosync", "--duration-ms", "1000",
                     "--set", "guest_mean_us=20000"], "windows"),
}
DEGRADED = {"sparse", "switchonly", "first100ms", "discard", "longwindows"}

# Reads the source's output in a fresh interpreter (a libbabeltrace2
# precondition aborts, it does not raise) and scores every guest event
# against the truth CSV: events of one guest CPU come in stream order, as
# the truth rows do.
SCORE = r"""
import collections, csv, json, statistics, sys
import bt2
plugins, root, sync = sys.argv[1], sys.argv[2], sys.argv[3]
fs = {p.name: p for p in bt2.find_plugins_in_path(plugins)}["vmsync"].source_component_classes["fs"]
spec = bt2.ComponentSpec(fs, {"inputs": [root + "/traces"], "sync": sync})
times = collections.defaultdict(list)
envs = {}
for msg in bt2.TraceCollectionMessageIterator(spec):
    if type(msg) is not bt2._EventMessageConst:
        continue
    env = msg.event.stream.trace.environment
    if str(env.get("vmtrace_role", "")) != "guest":
        continue
    name = str(env["hostname"])
    if name not in envs:
        envs[name] = {k: str(v) for k, v in env.items() if k.startswith("vmtrace_")}
    cpu = int(msg.event.packet.context_field["cpu_id"])
    times[(name, cpu)].append(msg.default_clock_snapshot.ns_from_origin)
out = {}
for name, env in envs.items():
    truth = collections.defaultdict(list)
    with open(root + "/truth/guest-events/" + name + ".csv", newline="") as f:
        for row in csv.DictReader(f):
            truth[int(row["cpu"])].append(int(row["true_host_ns"]))
    errors = []
    for cpu, true_ns in truth.items():
        got = times[(name, cpu)]
        assert len(got) == len(true_ns), (name, cpu, len(got), len(true_ns))
        errors += [g - t for g, t in zip(got, true_ns)]
    bound = int(env["vmtrace_sync_error_ns"])
    out[name] = dict(env=env, events=len(errors), max=max(map(abs, errors)),
                     median=statistics.median(map(abs, errors)),
                     outside_bound=sum(abs(e) > bound for e in errors), bound=bound)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every scenario, simulated once."""
    out = {}
    for name, (args, _) in SCENARIOS.items():
        d = tmp_path_factory.mktemp(name) / "o"
        run_vmsim(d, *args)
        out[name] = d
    return out


def score(run, sync):
    """Per guest: its `vmtrace_*` entries and its conversion errors against the truth."""
    proc = subprocess.run(["/usr/bin/python3", "-c", SCORE, str(PLUGINS), str(run), sync],
                          capture_output=True, text=True, timeout=300, errors="replace")
    assert proc.returncode == 0, f"status {proc.returncode}\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def vcpu_running_share(run, sync):
    """`filter.vmmatch.tag`'s end summary: (tagged guest events, outside `running`)."""
    proc = run_cli(["--component=src:source.vmsync.fs",
                    f'--params=inputs=["{run / "traces"}"],sync="{sync}"',
                    "--component=tag:filter.vmmatch.tag", "--log-level=I",
                    "--component=sink.utils.dummy"])
    assert proc.returncode == 0, proc.stderr[-4000:]
    m = re.search(r"Tagged guest events: tagged=(\d+), outside-running=(\d+)", proc.stderr)
    assert m, proc.stderr[-4000:]
    return int(m.group(1)), int(m.group(2))


@pytest.mark.parametrize("name", SCENARIOS)
def test_converted_times_within_bound(runs, name):
    """Every converted guest time is within the reported bound of the truth; §7 targets."""
    result = score(runs[name], SCENARIOS[name][1])
    assert result, "no guest trace in the output"
    for guest, r in result.items():
        what = f"{name}/{guest}: {r}"
        assert r["env"]["vmtrace_sync_method"] == "windows", what
        assert r["bound"] >= 0, what
        assert r["outside_bound"] == 0, what
        if name not in DEGRADED:
            assert r["bound"] <= 3000, what
            assert r["max"] <= 2000, what
            assert int(r["env"]["vmtrace_sync_points"]) > 0.9 * r["events"], what


def test_sync_info_reports_inside_share(runs):
    """`vmtrace.sync-info` gives the method, the band and the share of events inside windows."""
    for guest in query_sync_info(runs["drift50"], "auto"):
        assert guest["method"] == "windows", guest
        assert 0 <= int(guest["error-ns"]) <= 3000, guest
        assert float(guest["windows-inside-share"]) >= 0.999, guest


def test_lost_host_events_are_allowed(runs):
    """Without the discarded range as "unknown = allowed", the lost entries make outliers."""
    proc = run_cli(["--component=src:source.vmsync.fs",
                    f'--params=inputs=["{runs["discard"] / "traces"}"],sync="windows"',
                    "--log-level=I", "--component=sink.utils.dummy"])
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert re.search(r'Host lost events: .*host="kvm-host", ranges=1', proc.stderr), \
        proc.stderr[-4000:]
    assert "not trusted" not in proc.stderr


def test_rare_exits_fall_back(tmp_path):
    """vCPUs that almost never exit give no information: `auto` keeps the recorded clock."""
    run = tmp_path / "o"
    # No HLT, no host contention: each vCPU stays in guest mode almost throughout.
    run_vmsim(run, "--scenario", "nosync", "--duration-ms", "300", "--set", "hlt_prob=0",
              "--set", "guest_mean_us=10000000", "--set", "slice_ms=10000",
              "--set", "irq_noise=false", "--set", "pcpus=8", "--set", "noise_load=0",
              "--set", "hog_tasks=0", "--set", "io_block_prob=0")
    proc = run_cli(["--component=src:source.vmsync.fs",
                    f'--params=inputs=["{run / "traces"}"]', "--component=sink.utils.dummy"])
    assert proc.returncode == 0, proc.stderr[-4000:]
    stderr = proc.stderr.replace("\n  ", " ")
    for guest in ("vm-web", "vm-db"):
        assert re.search(r"Cannot use hypercall sync nor window sync for guest, falling back to "
                         r"its recorded clock: .*windows: .*too few exits.*machine=\"" + guest +
                         '"', stderr), stderr[-4000:]
    info = query_sync_info(run, "auto")
    assert {g["method"] for g in info} == {"clock"}
    assert all(g["error-ns"] == "-1" for g in info)


@pytest.mark.parametrize("name", ["nosync", "sample", "drift50"])
def test_guest_events_in_running(runs, name):
    """>= 99.9 % of the guest events fall in their vCPU's `running` time."""
    tagged, outside = vcpu_running_share(runs[name], SCENARIOS[name][1])
    assert tagged > 0
    assert outside <= 0.001 * tagged, (tagged, outside)


def test_auto_chooses_windows_and_says_why(runs):
    """`auto` on traces without sync events uses window sync, with a warning naming why."""
    proc = run_cli(["--component=src:source.vmsync.fs",
                    f'--params=inputs=["{runs["nosync"] / "traces"}"]',
                    "--component=sink.utils.dummy"])
    assert proc.returncode == 0, proc.stderr[-4000:]
    for guest in ("vm-web", "vm-db"):
        assert re.search(r"Cannot use hypercall sync for guest, using window sync .*"
                         r"no vmsync events: machine=\"" + guest + '"', proc.stderr), \
            proc.stderr[-4000:]
    info = query_sync_info(runs["nosync"], "auto")
    assert {g["machine"]: g["method"] for g in info} == {"vm-web": "windows",
                                                          "vm-db": "windows"}


def query_sync_info(run, sync, extra=""):
    proc = run_cli(["query", "source.vmsync.fs", "vmtrace.sync-info",
                    f'--params=inputs=["{run / "traces"}"],sync="{sync}"{extra}'])
    assert proc.returncode == 0, proc.stderr[-4000:]
    # The query prints YAML-like text: pick the fields the tests read.
    guests, current = [], None
    for line in proc.stdout.splitlines():
        m = re.match(r"\s*(-\s*)?([a-z-]+): (.*)$", line)
        if line.strip() == "-":
            current = {}
            guests.append(current)
        elif m and current is not None:
            current[m.group(2)] = m.group(3)
    return [g for g in guests if "method" in g]


def test_unidentified_guest(tmp_path):
    """A guest that cannot be tied to a VM: `windows` fails naming it, `auto` falls back."""
    run = tmp_path / "o"
    run_vmsim(run, "--scenario", "nosync", "--duration-ms", "150", "--set", "uuid_via=none")
    proc = run_cli(["--component=src:source.vmsync.fs",
                    f'--params=inputs=["{run / "traces"}"],sync="windows"',
                    "--component=sink.utils.dummy"])
    assert proc.returncode != 0
    assert re.search(r"Cannot synchronize guest with `sync=\"windows\"`: the guest cannot be "
                     r"tied to a VM", proc.stderr.replace("\n  ", " ")), proc.stderr[-4000:]
    assert 'machine="vm-' in proc.stderr.replace("\n  ", " ")
    info = query_sync_info(run, "auto")
    assert {g["method"] for g in info} == {"clock"}
