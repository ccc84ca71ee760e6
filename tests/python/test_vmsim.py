# SPDX-License-Identifier: MIT
"""Tests of the KVM trace simulator (tools/vmsim): its traces read back as
LTTng 2.13 traces, and its ground truth is consistent with the trace data.

Every check here starts from what is on disk (CTF traces read with
babeltrace2 / bt2, truth files), never from the simulator's internals.
"""
import collections
import csv
import filecmp
import json
import os
import re
import subprocess

import pytest

from conftest import VMSIM, run_cli, run_vmsim

SCENARIOS = {
    "sample": ["--duration-ms", "250"],
    "compete": ["--duration-ms", "200"],
    "lifecycle": ["--duration-ms", "1300", "--set", "vm_create_ms=-1,100,800",
                  "--set", "vm_destroy_ms=-1,500,-1"],
    "hostonly": ["--duration-ms", "150"],
    "pointer": ["--duration-ms", "200"],
    "oldnames": ["--duration-ms", "150"],
    "hypercall": ["--duration-ms", "200"],
    "nosync": ["--duration-ms", "150"],
    "vmuid": ["--duration-ms", "200"],
    "bench": ["--target-events", "30000"],
}

pytestmark = pytest.mark.skipif(not VMSIM.exists(), reason="vmsim is not built")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every scenario, simulated once (seed 7)."""
    out = {}
    for name, args in SCENARIOS.items():
        d = tmp_path_factory.mktemp(name)
        run_vmsim(d / "o", "--scenario", name, "--seed", "7", *args)
        out[name] = d / "o"
    return out


def scenario(run):
    return json.loads((run / "truth" / "scenario.json").read_text())


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def all_traces(sc):
    return [t for m in sc["machines"] for t in m["traces"]]


def host_dirs(run, sc):
    host = next(m for m in sc["machines"] if m["role"] == "host")
    return [run / "traces" / t["path"] for t in host["traces"]]


def events(bt2, path):
    """(ns_from_origin, name, cpu_id, payload dict, trace env) of a trace, in order."""
    out = []
    for msg in bt2.TraceCollectionMessageIterator(str(path)):
        if type(msg) is bt2._EventMessageConst:
            ev = msg.event
            out.append((msg.default_clock_snapshot.ns_from_origin, ev.name,
                        int(ev.packet.context_field["cpu_id"]), ev.payload_field))
    return out


# ---- CLI -------------------------------------------------------------------

def test_help_documents_scenarios_and_knobs():
    proc = subprocess.run([str(VMSIM), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    for name in SCENARIOS:
        assert f"  {name} " in proc.stdout
    for knob in ("seed", "duration_ms", "target_events", "pcpus", "vms", "drift_ppm",
                 "clock_error_ms", "uuid_via", "sync", "entry_vcpu_id", "exit_vcpu_id",
                 "event_names", "vcpu_names", "reuse_from", "kick_rate_hz"):
        assert re.search(rf"^  {knob} ", proc.stdout, re.M), knob


def test_bad_arguments_fail(tmp_path):
    for args in (["--set", "nope=1"], ["--scenario", "nope"], ["--truth=maybe"],
                 ["--set", "pcpus=x"]):
        proc = subprocess.run([str(VMSIM), "--out", str(tmp_path / "x")] + args,
                              capture_output=True, text=True)
        assert proc.returncode != 0, args
        assert proc.stderr


def test_existing_output_is_refused(tmp_path):
    run_vmsim(tmp_path / "o", "--duration-ms", "20", "--truth=none")
    proc = subprocess.run([str(VMSIM), "--out", str(tmp_path / "o"), "--duration-ms", "20"],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "exists" in proc.stderr


def test_truth_modes(tmp_path):
    run_vmsim(tmp_path / "s", "--duration-ms", "30", "--truth=summary")
    assert sorted(p.name for p in (tmp_path / "s" / "truth").iterdir()) == ["scenario.json"]
    run_vmsim(tmp_path / "n", "--duration-ms", "30", "--truth=none")
    assert not (tmp_path / "n" / "truth").exists()
    assert (tmp_path / "n" / "traces").is_dir()


def test_determinism(tmp_path):
    """Same seed: identical truth files and identical events (sink.ctf.fs draws its
    own trace UUIDs, so the trace files themselves differ in those bytes only).
    Each trace is dumped on its own: the muxer breaks ties between traces at
    one timestamp with their random UUIDs, but within a trace it does not."""
    for d in ("a", "b"):
        run_vmsim(tmp_path / d, "--duration-ms", "120", "--seed", "42")
    cmp = filecmp.dircmp(tmp_path / "a" / "truth", tmp_path / "b" / "truth")

    def same(c):
        assert not c.left_only and not c.right_only
        _, mismatch, errors = filecmp.cmpfiles(c.left, c.right, c.common_files, shallow=False)
        assert not mismatch and not errors
        for sub in c.subdirs.values():
            same(sub)
    same(cmp)
    traces = sorted(p.parent.relative_to(tmp_path / "a")
                    for p in (tmp_path / "a" / "traces").rglob("metadata"))
    assert len(traces) >= 3
    for trace in traces:
        dumps = [run_cli([tmp_path / d / trace], plugin_paths=()).stdout for d in ("a", "b")]
        assert dumps[0] == dumps[1] and dumps[0], trace
    run_vmsim(tmp_path / "c", "--duration-ms", "120", "--seed", "43")
    assert (tmp_path / "a/truth/vcpu-intervals.csv").read_bytes() != \
        (tmp_path / "c/truth/vcpu-intervals.csv").read_bytes()


# ---- Traces ----------------------------------------------------------------

@pytest.mark.parametrize("name", list(SCENARIOS))
def test_counts_match_babeltrace(runs, name):
    sc = scenario(runs[name])
    total = 0
    for t in all_traces(sc):
        path = runs[name] / "traces" / t["path"]
        assert (path / "metadata").is_file()
        proc = run_cli([path], plugin_paths=())
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert len(lines) == t["events"], t["path"]
        counts = collections.Counter(re.search(r" (\S+): \{ cpu_id", ln).group(1)
                                     for ln in lines)
        assert dict(counts) == t["event_counts"]
        total += t["events"]
    assert total == sc["event_counts"]["total"]
    if name == "bench":
        assert abs(total - 30000) < 300


def test_layout_env_and_clocks(runs, bt2_module):
    run = runs["sample"]
    sc = scenario(run)
    dirs = sorted(str(p.relative_to(run / "traces")) for p in (run / "traces").rglob("metadata"))
    assert dirs == sorted(f"{t['path']}/metadata" for t in all_traces(sc))
    host = next(m for m in sc["machines"] if m["role"] == "host")
    assert [t["path"].split("/")[-1] for t in host["traces"]] == ["kernel", "64-bit"]
    assert re.fullmatch(r"kvm-host/vmsim-\d{8}T\d{6}\+0000/ust/uid/0/64-bit",
                        host["traces"][1]["path"])
    seen = {}
    for m in sc["machines"]:
        for t in m["traces"]:
            seen[t["path"]] = check_trace_meta(bt2_module, run / "traces" / t["path"], m, t)
    uuids = [seen[t["path"]] for t in host["traces"]]
    assert uuids[0] == uuids[1] == host["clock_uuid"]
    assert len({seen[p] for p in seen}) == len(sc["machines"])


def check_trace_meta(bt2, path, machine, tr):
    """Checks env, clock and streams of one trace; returns its clock UUID."""
    it = bt2.TraceCollectionMessageIterator(str(path))
    streams = set()
    for msg in it:
        if type(msg) is bt2._StreamBeginningMessageConst:
            s = msg.stream
            streams.add(os.path.basename(s.name))  # src.ctf.fs: the file path
            env = s.trace.environment
            cc = s.cls.default_clock_class
        elif type(msg) is bt2._PacketBeginningMessageConst:
            name = os.path.basename(msg.packet.stream.name)
            assert int(msg.packet.context_field["cpu_id"]) == int(name[len("channel0_"):])
    ust = tr["domain"] == "ust"
    assert str(env["hostname"]) == machine["hostname"]
    assert str(env["domain"]) == tr["domain"]
    assert str(env["tracer_name"]) == ("lttng-ust" if ust else "lttng-modules")
    assert int(env["tracer_major"]) == 2 and int(env["tracer_minor"]) == 13
    assert str(env["trace_name"]) == "vmsim"
    assert re.fullmatch(r"\d{8}T\d{6}\+0000", str(env["trace_creation_datetime"]))
    if ust:
        assert str(env["tracer_buffering_scheme"]) == "uid"
        assert int(env["tracer_buffering_id"]) == 0
        assert int(env["architecture_bit_width"]) == 64
    else:
        for key in ("sysname", "kernel_release", "kernel_version", "tracer_patchlevel"):
            assert key in env
        assert str(env["trace_buffering_scheme"]) == "global"
        assert ("product_uuid" in env) == (machine["role"] == "guest")
    assert cc.name == "monotonic" and cc.frequency == 10**9
    assert cc.description == "Monotonic Clock" and cc.origin_is_unix_epoch
    assert cc.offset.seconds * 10**9 + cc.offset.cycles == tr["clock_offset_ns"]
    assert str(cc.uuid) == machine["clock_uuid"]
    ncpus = len(streams)
    assert streams == {f"channel0_{c}" for c in range(ncpus)}
    return str(cc.uuid)


def field_types(bt2, path):
    """event name -> [(member name, field class type name, signed?, size)]."""
    out = {}
    for msg in bt2.TraceCollectionMessageIterator(str(path)):
        if type(msg) is bt2._StreamBeginningMessageConst:
            for ec in msg.stream.cls.values():
                members = []
                for m in ec.payload_field_class.values():
                    fc = m.field_class
                    size = getattr(fc, "field_value_range", None)
                    members.append((m.name, type(fc).__name__, size))
                out[ec.name] = members
            break
    return out


def test_field_types(runs, bt2_module):
    run = runs["pointer"]
    sc = scenario(run)
    kernel = host_dirs(run, sc)[0]
    ft = field_types(bt2_module, kernel)
    u = "_UnsignedIntegerFieldClassConst"
    s = "_SignedIntegerFieldClassConst"
    st = "_StringFieldClassConst"
    assert ft["kvm_x86_entry"] == [("vcpu_id", u, 32)]
    assert ft["kvm_x86_exit"] == [("exit_reason", u, 32), ("guest_rip", u, 64), ("isa", u, 32),
                                  ("info1", u, 64), ("info2", u, 64), ("intr_info", u, 32),
                                  ("error_code", u, 32), ("vcpu_id", u, 32)]
    assert ft["kvm_x86_hypercall"] == [(n, u, 64) for n in ("nr", "a0", "a1", "a2", "a3")]
    assert ft["sched_switch"] == [("prev_comm", st, None), ("prev_tid", s, 32),
                                  ("prev_prio", s, 32), ("prev_state", s, 64),
                                  ("next_comm", st, None), ("next_tid", s, 32),
                                  ("next_prio", s, 32)]
    # sink.ctf.fs declares the event classes it wrote events of: forks are in lifecycle.
    life = field_types(bt2_module, host_dirs(runs["lifecycle"], scenario(runs["lifecycle"]))[0])
    fork = dict((n, (t, z)) for n, t, z in life["sched_process_fork"])
    assert fork["_vtids_length"] == (u, 8)
    assert fork["vtids"][0] == "_DynamicArrayWithLengthFieldFieldClassConst"
    assert [m[0] for m in life["sched_process_fork"]] == [
        "parent_comm", "parent_tid", "parent_pid", "parent_ns_inum", "child_comm", "child_tid",
        "_vtids_length", "vtids", "child_pid", "child_ns_inum"]
    assert life["sched_process_exit"] == [("comm", st, None), ("tid", s, 32), ("prio", s, 32)]
    assert [m[0] for m in ft["lttng_statedump_process_state"]] == [
        "tid", "pid", "ppid", "name", "type", "mode", "submode", "status", "cpu",
        "file_table_address"]
    assert ft["vmsync_gh_host"] == [("cnt", u, 32), ("vm_uid", u, 64)]
    ust = field_types(bt2_module, host_dirs(runs["lifecycle"], scenario(runs["lifecycle"]))[1])
    assert ust["lttng_collectd_statedump:kvm_guest"] == [("pid", s, 64), ("guest_uuid", st, None)]
    assert ust["udev_monitor:kvm_created"] == [("pid", u, 32), ("uuid", st, None)]
    assert ust["udev_monitor:kvm_destroyed"] == [("pid", u, 32)]
    old = field_types(bt2_module, host_dirs(runs["oldnames"], scenario(runs["oldnames"]))[0])
    assert "kvm_entry" in old and "kvm_x86_entry" not in old and "kvm_hypercall" in old
    assert [m[0] for m in old["kvm_exit"]] == ["exit_reason", "guest_rip", "isa", "info1",
                                               "info2"]


def test_entry_vcpu_ids(runs, bt2_module):
    """Index mode: entry ids are indexes; pointer mode: large, stable per thread."""
    for name, pointer in (("sample", False), ("pointer", True)):
        sc = scenario(runs[name])
        expected = {}
        for vm in sc["vms"]:
            for v in vm["vcpus"]:
                expected[v["threads"][0]["tid"]] = v["entry_vcpu_id"]
                assert (v["entry_vcpu_id"] >= 4096) == pointer
        cur, seen = {}, collections.defaultdict(set)
        for t, ev, cpu, f in events(bt2_module, host_dirs(runs[name], sc)[0]):
            if ev == "sched_switch":
                cur[cpu] = int(f["next_tid"])
            elif ev == "kvm_x86_entry" and cpu in cur:
                seen[cur[cpu]].add(int(f["vcpu_id"]))
        assert seen
        for tid, ids in seen.items():
            assert ids == {expected[tid]}


def test_no_timestamp_ties(runs, bt2_module):
    run = runs["sample"]
    sc = scenario(run)
    host = [e[0] for e in events(bt2_module, host_dirs(run, sc)[0])]
    assert len(set(host)) == len(host)
    guest_true = []
    for g in sc["guests"]:
        guest_true += [int(r["true_host_ns"])
                       for r in read_csv(run / "truth" / "guest-events" / f"{g['hostname']}.csv")]
    assert len(set(guest_true)) == len(guest_true)
    assert not set(guest_true) & set(host)


# ---- Truth vs trace data ----------------------------------------------------

def guest_times_from_trace(bt2, run, g):
    """Guest events of the trace in (cpu, ordinal) -> (name, recorded ns, true host ns),
    with the true time from the clock relation of scenario.json."""
    rel = g["clock_relation"]
    num, den = rel["slope_num"], rel["slope_den"]
    out, ordinal = {}, collections.Counter()
    for t, name, cpu, f in events(bt2, run / "traces" / g["trace"]):
        h = rel["ref_host_ns"] + ((t - rel["ref_guest_ns"]) * num + den // 2) // den
        out[(cpu, ordinal[cpu])] = (name, t, h, f)
        ordinal[cpu] += 1
    return out


def intervals_by_thread(rows):
    by = collections.defaultdict(list)
    for r in rows:
        by[(r["vm_uuid"], int(r["vcpu"]), int(r["host_tid"]))].append(
            (int(r["begin_ns"]), int(r["end_ns"]), r["state"], int(r["pcpu"])))
    for v in by.values():
        v.sort()
    return by


def find_interval(ivs, t):
    lo, hi = 0, len(ivs)
    while lo < hi:
        mid = (lo + hi) // 2
        if ivs[mid][1] <= t:
            lo = mid + 1
        else:
            hi = mid
    return ivs[lo] if lo < len(ivs) and ivs[lo][0] <= t else None


@pytest.mark.parametrize("name", ["sample", "compete", "lifecycle", "pointer", "oldnames",
                                  "hypercall", "nosync", "vmuid"])
def test_guest_events_inside_running(runs, bt2_module, name):
    run = runs[name]
    sc = scenario(run)
    by = intervals_by_thread(read_csv(run / "truth" / "vcpu-intervals.csv"))
    margins = (sc["knobs"]["margin_in_ns"], sc["knobs"]["margin_out_ns"])
    assert sc["guests"]
    for g in sc["guests"]:
        trace = guest_times_from_trace(bt2_module, run, g)
        rows = read_csv(run / "truth" / "guest-events" / f"{g['hostname']}.csv")
        assert len(rows) == len(trace)
        vm = next(v for v in sc["vms"] if v["name"] == g["vm"])
        for r in rows:
            ev, recorded, true_h, _ = trace[(int(r["cpu"]), int(r["index"]))]
            assert r["name"] == ev and int(r["recorded_ns"]) == recorded
            assert abs(int(r["true_host_ns"]) - true_h) <= 1
            assert r["host_state"] == "running", r
            assert r["uuid"] == ("" if vm["truth_vm_uuid"].startswith("pid:")
                                 else vm["truth_vm_uuid"])
            assert int(r["host_pid"]) == vm["qemu_pid"]
            iv = find_interval(by[(vm["truth_vm_uuid"], int(r["vcpu"]), int(r["host_tid"]))],
                               int(r["true_host_ns"]))
            assert iv is not None and iv[2] == "running" and iv[3] == int(r["pcpu"]), r
            if not r["name"].startswith("vmsync_"):
                # Asymmetric margins from the window edges (a tie break may move 1 ns).
                t = int(r["true_host_ns"])
                assert t - iv[0] >= margins[0] - 5 and iv[1] - t >= margins[1] - 5, (r, iv)


@pytest.mark.parametrize("name", ["sample", "compete", "lifecycle", "hostonly", "pointer"])
def test_intervals_tile(runs, name):
    run = runs[name]
    sc = scenario(run)
    end = sc["host_end_ns"]
    rows = read_csv(run / "truth" / "vcpu-intervals.csv")
    keys = [(r["vm_uuid"], int(r["vcpu"]), int(r["begin_ns"])) for r in rows]
    assert keys == sorted(keys)
    for ivs in intervals_by_thread(rows).values():
        for (b0, e0, s0, _), (b1, e1, s1, _) in zip(ivs, ivs[1:]):
            assert e0 == b1 and s0 != s1
        assert all(b < e <= end for b, e, _, _ in ivs)
    for r in rows:
        assert int(r["duration_ns"]) == int(r["end_ns"]) - int(r["begin_ns"])
        assert (r["pcpu"] == "-1") == (r["state"] in ("preempted", "idle", "blocked"))
        assert (r["preempted_by_tid"] != "") == (r["state"] == "preempted")
        assert r["exit_reason"] == "" or r["state"] in ("hypervisor", "idle", "blocked")
        assert r["state"] != "idle" or r["exit_reason"] == "12"
    prows = read_csv(run / "truth" / "pcpu-intervals.csv")
    by_cpu = collections.defaultdict(list)
    for r in prows:
        by_cpu[int(r["pcpu"])].append(r)
    assert sorted(by_cpu) == list(range(sc["knobs"]["pcpus"]))
    for cpu_rows in by_cpu.values():
        for a, b in zip(cpu_rows, cpu_rows[1:]):
            assert a["end_ns"] == b["begin_ns"]
            assert [a[k] for k in list(a)[4:]] != [b[k] for k in list(b)[4:]]
        assert int(cpu_rows[-1]["end_ns"]) == end
        assert all(r["level"] in ("host", "hypervisor", "guest") for r in cpu_rows)


@pytest.mark.parametrize("name", ["sample", "lifecycle"])
def test_timelines_end_at_death_or_trace_end(runs, bt2_module, name):
    """A vCPU timeline ends at its thread's death switch-out, else at the last
    host event; a pCPU's rows start at its first sched_switch."""
    run = runs[name]
    sc = scenario(run)
    rows = read_csv(run / "truth" / "vcpu-intervals.csv")
    last_end = {}
    for r in rows:
        last_end[int(r["host_tid"]), r["vm_uuid"]] = max(
            last_end.get((int(r["host_tid"]), r["vm_uuid"]), 0), int(r["end_ns"]))
    host = events(bt2_module, host_dirs(run, sc)[0])
    assert host[-1][0] == sc["host_end_ns"]
    deaths = {}
    first_switch = {}
    for t, ev, cpu, f in host:
        if ev == "sched_switch":
            first_switch.setdefault(cpu, t)
            if int(f["prev_state"]) & 16:
                deaths.setdefault(int(f["prev_tid"]), []).append(t)
    for vm in sc["vms"]:
        for v in vm["vcpus"]:
            th = v["threads"][0]
            if th["born_ns"] is None and not th["in_statedump"]:
                continue
            end = last_end[th["tid"], vm["truth_vm_uuid"]]
            if th["died_ns"] is None:
                assert end == sc["host_end_ns"]
            else:
                assert end == th["died_ns"] and end in deaths[th["tid"]]
    firsts = {}
    for r in read_csv(run / "truth" / "pcpu-intervals.csv"):
        firsts.setdefault(int(r["pcpu"]), int(r["begin_ns"]))
    assert firsts == first_switch


def test_packets_are_bounded(tmp_path, bt2_module):
    run_vmsim(tmp_path / "o", "--duration-ms", "60", "--set", "packet_events=50",
              "--truth=summary")
    sc = scenario(tmp_path / "o")
    sizes = []
    for t in all_traces(sc):
        n = {}
        for msg in bt2_module.TraceCollectionMessageIterator(str(tmp_path / "o/traces" / t["path"])):
            if type(msg) is bt2_module._PacketBeginningMessageConst:
                n[msg.packet.stream.name] = 0
            elif type(msg) is bt2_module._EventMessageConst:
                n[msg.event.stream.name] += 1
            elif type(msg) is bt2_module._PacketEndMessageConst:
                sizes.append(n[msg.packet.stream.name])
    assert max(sizes) == 50 and len(sizes) > 20


def test_pcpu_rows_agree_with_vcpu_rows(runs):
    """A pCPU is at `guest` level exactly while a vCPU row says running there."""
    run = runs["sample"]
    running = collections.defaultdict(int)
    for r in read_csv(run / "truth" / "vcpu-intervals.csv"):
        if r["state"] == "running":
            running[int(r["pcpu"])] += int(r["duration_ns"])
    guest = collections.defaultdict(int)
    for r in read_csv(run / "truth" / "pcpu-intervals.csv"):
        if r["level"] == "guest":
            guest[int(r["pcpu"])] += int(r["duration_ns"])
            assert r["vm_uuid"] and r["vcpu"] != "" and r["vm_name"]
    assert running == guest


@pytest.mark.parametrize("name", ["sample", "lifecycle", "pointer", "vmuid"])
def test_oracle_agrees(runs, bt2_module, name):
    from oracle_intervals import derive_vcpu_intervals
    run = runs[name]
    sc = scenario(run)
    guests = [run / "traces" / g["trace"] for g in sc["guests"]]
    derived = derive_vcpu_intervals(bt2_module, host_dirs(run, sc), guests)
    truth = read_csv(run / "truth" / "vcpu-intervals.csv")
    cols = [c for c in truth[0] if c not in ("guest_tid", "guest_comm")]
    want = [[str(r[c]) for c in cols] for r in derived]
    got = [[r[c] for c in cols] for r in truth]
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a == b


def test_preempted_guest_thread(runs, bt2_module):
    """guest_tid of a preempted row = next_tid of the guest's last sched_switch."""
    run = runs["sample"]
    sc = scenario(run)
    switches = collections.defaultdict(list)
    for g in sc["guests"]:
        vm = next(v for v in sc["vms"] if v["name"] == g["vm"])
        for (cpu, _), (name, _, h, f) in guest_times_from_trace(bt2_module, run, g).items():
            if name == "sched_switch":
                switches[(vm["truth_vm_uuid"], cpu)].append((h, int(f["next_tid"])))
    for v in switches.values():
        v.sort()
    checked = 0
    for r in read_csv(run / "truth" / "vcpu-intervals.csv"):
        if r["state"] != "preempted":
            continue
        sw = [tid for h, tid in switches[(r["vm_uuid"], int(r["vcpu"]))]
              if h <= int(r["begin_ns"])]
        assert r["guest_tid"] == (str(sw[-1]) if sw else "")
        checked += bool(sw)
    assert checked > 10


def test_scenario_json(runs):
    sc = scenario(runs["sample"])
    assert [v["name"] for v in sc["vms"]] == ["vm-web", "vm-db"]
    assert sc["knobs"]["pcpus"] == 4
    for g in sc["guests"]:
        rel = g["clock_relation"]
        assert rel["slope_num"] * (10**9 + g["drift_ppb"]) == rel["slope_den"] * 10**9
        assert abs(rel["alpha"] - rel["slope_num"] / rel["slope_den"]) < 1e-15
        # The recorded clock is off by the recorded error at the reference point.
        assert rel["ref_guest_ns"] - rel["ref_host_ns"] == g["recorded_error_ns"]
        assert g["recorded_offset_ns"] - g["true_offset_ns"] == g["recorded_error_ns"]
        beta = rel["ref_host_ns"] - rel["ref_guest_ns"] * rel["slope_num"] / rel["slope_den"]
        assert abs(beta - rel["beta_ns"]) < 1e4
    drifts = sorted(g["drift_ppm"] for g in sc["guests"])
    assert drifts == [-20, 35]
    for vm in sc["vms"]:
        assert vm["truth_vm_uuid"] == vm["uuid"] and vm["guest_matched"]
        assert vm["exchanges"] > 10


def test_uuid_delivery_variants(runs):
    vmuid = scenario(runs["vmuid"])
    assert len(vmuid["machines"][0]["traces"]) == 1  # no UST trace
    for vm in vmuid["vms"]:
        assert vm["truth_vm_uuid"] == f"pid:{vm['qemu_pid']}"
        assert vm["guest_matched"] and vm["truth_vm_name"] == vm["name"]
    host = scenario(runs["hostonly"])
    assert len(host["machines"]) == 1 and len(host["machines"][0]["traces"]) == 1
    for vm in host["vms"]:
        assert vm["truth_vm_uuid"].startswith("pid:") and vm["truth_vm_name"] == "qemu-system-x86"
    nosync = scenario(runs["nosync"])
    assert all(v["exchanges"] == 0 for v in nosync["vms"])


def test_hypercall_only_exchanges(runs, bt2_module):
    run = runs["hypercall"]
    sc = scenario(run)
    names = collections.Counter(e[1] for e in events(bt2_module, host_dirs(run, sc)[0]))
    assert not names["vmsync_gh_host"] and not names["vmsync_hg_host"]
    calls = [e for e in events(bt2_module, host_dirs(run, sc)[0]) if e[1] == "kvm_x86_hypercall"]
    assert len(calls) == sum(v["exchanges"] for v in sc["vms"])
    uids = {v["vm_uid"] for v in sc["vms"]}
    assert all(int(f["nr"]) == 5 and int(f["a1"]) in uids for _, _, _, f in calls)


def test_vmsync_causality(runs, bt2_module):
    """gh_guest(c) < gh_host(c) <= hg_host(c+1) < hg_guest(c+1) in true time."""
    run = runs["sample"]
    sc = scenario(run)
    host = {}
    for t, name, _, f in events(bt2_module, host_dirs(run, sc)[0]):
        if name.startswith("vmsync_"):
            host[(name, int(f["vm_uid"]), int(f["cnt"]))] = t
    pairs = 0
    for g in sc["guests"]:
        for (cpu, _), (name, _, h, f) in guest_times_from_trace(bt2_module, run, g).items():
            key = (int(f["vm_uid"]), int(f["cnt"])) if name.startswith("vmsync_") else None
            if name == "vmsync_gh_guest" and ("vmsync_gh_host",) + key in host:
                assert h < host[("vmsync_gh_host",) + key]
                pairs += 1
            if name == "vmsync_hg_guest" and ("vmsync_hg_host",) + key in host:
                assert host[("vmsync_hg_host",) + key] < h
                assert host[("vmsync_gh_host", key[0], key[1] - 1)] <= \
                    host[("vmsync_hg_host",) + key]
    assert pairs > 20


def test_lifecycle(runs, bt2_module):
    run = runs["lifecycle"]
    sc = scenario(run)
    stay, a, b = sc["vms"]
    assert a["created_ns"] and a["destroyed_ns"] and b["created_ns"] and not b["destroyed_ns"]
    assert b["qemu_pid"] == a["qemu_pid"]
    tids_a = sorted(v["threads"][0]["tid"] for v in a["vcpus"])
    tids_b = sorted(v["threads"][0]["tid"] for v in b["vcpus"])
    assert tids_a == tids_b
    assert [v["threads"][0]["tid"] for v in a["vcpus"]] != \
        [v["threads"][0]["tid"] for v in b["vcpus"]]
    names = collections.Counter()
    deaths = set()
    for t, name, cpu, f in events(bt2_module, host_dirs(run, sc)[0]):
        names[name] += 1
        if name == "sched_switch" and int(f["prev_state"]) & 16:
            deaths.add(int(f["prev_tid"]))
    assert names["sched_process_fork"] >= 2 * (1 + 1 + 2)
    assert names["sched_process_exit"] >= 4 and set(tids_a) <= deaths
    ust = [e[1] for e in events(bt2_module, host_dirs(run, sc)[1])]
    assert ust.count("udev_monitor:kvm_created") == 2
    assert ust.count("udev_monitor:kvm_destroyed") == 1
    assert ust.count("lttng_collectd_statedump:kvm_guest") == 1
    rows = read_csv(run / "truth" / "vcpu-intervals.csv")
    for vm in (a, b):
        mine = [r for r in rows if r["vm_uuid"] == vm["uuid"]]
        assert {r["host_tid"] for r in mine} == {str(t) for t in tids_a}
        assert {r["vm_name"] for r in mine} == {vm["name"]}


def test_csv_quoting(runs):
    text = (runs["compete"] / "truth" / "pcpu-intervals.csv").read_text()
    assert ',"cut -d, -f1",' in text or ',"say ""hi"",bye",' in text
    comms = {r["host_comm"] for r in read_csv(runs["compete"] / "truth" / "pcpu-intervals.csv")}
    assert comms & {"cut -d, -f1", 'say "hi",bye', '"quoted",x', 'x264,"enc"'}
