# SPDX-License-Identifier: MIT
"""The hypercall sync pass on several threads (issue 6, lib/parallel-read.c).

The pass splits the host and guest streams over two graphs, each run on its
own thread, and applies what each stream noted in time order
(lib/timed-merge.c), whatever the thread count. These tests check that:

- `VMTRACE_PASS_THREADS=1` (one graph, the calling thread), `=2` and the
  default give byte-identical `vmtrace.sync-info` results (fits, bounds,
  hosts, pids) and byte-identical chain outputs, and that the threaded
  result still matches the simulator's truth (every converted guest time
  within the reported bound, as in test_chain_truth.py);
- a stream that fails to decode while a worker thread reads it still fails
  the component cleanly: non-zero exit, no signal, the causes (taken on the
  worker, moved to the calling thread) naming the trace's path.
"""
import os
import re
import shutil

import pytest

from conftest import PLUGINS, run_cli
from test_chain_truth import dump_guest_events, sim, truth_guest_events  # noqa: F401

pytestmark = pytest.mark.skipif(not (PLUGINS / "babeltrace-plugin-vmsync.so").exists(),
                                reason=f"the plugins are not built in {PLUGINS}")

ENV = "VMTRACE_PASS_THREADS"
MODES = {"serial": "1", "threads": "2", "default": None}


def env_for(threads):
    env = dict(os.environ)
    env.pop(ENV, None)
    if threads is not None:
        env[ENV] = threads
    return env


def sync_info(out, threads, sync="hypercall"):
    proc = run_cli(["query", "source.vmsync.fs", "vmtrace.sync-info",
                    "--params", f'inputs=["{out / "traces"}"],sync="{sync}"'],
                   env=env_for(threads))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def chain_csv(out, threads, tmp_path, sync="hypercall", traces=None):
    """Runs the full chain; returns (process, CSV bytes or None)."""
    out_file = tmp_path / f"vcpu-{threads}.csv"
    out_file.unlink(missing_ok=True)
    proc = run_cli(["--component=src:source.vmsync.fs",
                    f'--params=inputs=["{traces or out / "traces"}"],sync="{sync}"',
                    "--component=tag:filter.vmmatch.tag",
                    "--component=out:sink.vmstate.intervals",
                    f'--params=path="{out_file}",format="csv"'], env=env_for(threads))
    return proc, out_file.read_bytes() if proc.returncode == 0 else None


@pytest.mark.parametrize("scenario", ["hypercall", "drift50", "sample"])
def test_sync_info_same_with_and_without_threads(sim, scenario):  # noqa: F811
    out = sim(scenario)
    infos = {mode: sync_info(out, threads) for mode, threads in MODES.items()}
    assert infos["serial"] == infos["threads"] == infos["default"]
    bounds = [int(b) for b in re.findall(r"error-ns: (-?\d+)", infos["threads"])]
    assert len(bounds) == 2 and all(0 < b <= 5000 for b in bounds), infos["threads"]
    assert infos["threads"].count("method: hypercall") == 2


@pytest.mark.parametrize("scenario", ["hypercall", "drift50"])
def test_threaded_sync_matches_truth(sim, scenario, monkeypatch):  # noqa: F811
    """The threaded pass's conversion: every guest event within the bound."""
    out = sim(scenario)
    monkeypatch.setenv(ENV, "2")
    bound = max(int(b) for b in re.findall(r"error-ns: (-?\d+)", sync_info(out, "2")))
    truth = truth_guest_events(out)
    events = dump_guest_events(out, sync="hypercall", tag=False)
    assert len(events) == len(truth)
    worst = max(abs(int(ns) - int(truth[(host, int(cpu), int(index))]["true_host_ns"]))
                for host, cpu, index, _name, ns in events)
    assert worst <= bound, f"worst error {worst} ns exceeds the bound {bound} ns"


@pytest.mark.parametrize("scenario", ["hypercall", "sample"])
def test_chain_output_same_with_and_without_threads(sim, scenario, tmp_path):  # noqa: F811
    out = sim(scenario)
    outputs = {}
    for mode, threads in MODES.items():
        proc, outputs[mode] = chain_csv(out, threads, tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
    assert outputs["serial"] and outputs["serial"] == outputs["threads"] == outputs["default"]


def guest_stream_files(traces):
    return sorted(p for p in traces.glob("vm-*/*/kernel/*")
                  if p.is_file() and p.name != "metadata" and not p.name.startswith("."))


def corrupt_mid_file(path):
    """Overwrites 4 KiB in the middle of a packet's events: `src.ctf.fs`
    still indexes the stream (headers intact) at initialization, and fails
    only when decoding it, on whichever thread reads it."""
    with open(path, "r+b") as f:
        f.seek(path.stat().st_size // 2)
        f.write(b"\xff" * 4096)


# The sync pass's cause for a stream that failed: `pid tid E TAG func@...`.
FAILED_STREAM = re.compile(r"^\S+ \S+\s+(\d+)\s+(\d+) E VMTRACE/SYNC-PASS stream_sink_consume@",
                           re.M)


def test_corrupt_guest_stream_fails_on_any_thread(sim, tmp_path):  # noqa: F811
    """Each guest stream corrupted in turn: every run fails cleanly, naming
    the trace, with one thread or two; at least one of them failed on the
    worker thread (the log line's thread id differs from the process id)."""
    src = sim("hypercall") / "traces"
    on_worker = 0
    for index in range(len(guest_stream_files(src))):
        traces = tmp_path / f"copy-{index}"
        shutil.copytree(src, traces)
        stream = guest_stream_files(traces)[index]
        corrupt_mid_file(stream)
        for threads in ("1", "2"):
            proc, _ = chain_csv(None, threads, tmp_path, traces=traces)
            assert proc.returncode != 0, f"{stream} with {threads} thread(s) did not fail"
            assert str(stream.parent) in proc.stderr, proc.stderr[-3000:]
            assert "Cannot read a stream of the trace for hypercall sync" in proc.stderr
            pid, tid = FAILED_STREAM.search(proc.stderr).groups()
            if threads == "1":
                assert pid == tid, "VMTRACE_PASS_THREADS=1 must read in the calling thread"
            on_worker += pid != tid
        shutil.rmtree(traces)
    assert on_worker >= 1, "no corrupt stream was read by the worker thread"
