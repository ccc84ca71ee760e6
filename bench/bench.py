#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""vmtrace benchmark (issue 6): the chain against Babeltrace's own decoding
and against a plain-Python bt2 analysis, on simulated traces.

    /usr/bin/python3 bench/bench.py --events 1000000 [--events 10000000] [--reps 5]

For each size it generates (once, cached in bench/out/) a host + 2 guests
trace set with the simulator (`vmsim --scenario bench --seed 1
--target-events N --truth=summary`), then runs, interleaved (one round = one
run of each, the order rotated every round), after one untimed warm-up round:

  (a) babeltrace2 TRACES -c sink.utils.dummy        (src.ctf.fs + muxer, the floor)
  (b) the full chain, sync="clock"                  (source.vmsync.fs -> flt.utils.muxer
  (c) the full chain, sync="hypercall"               -> filter.vmmatch.tag -> sink.vmstate.intervals,
                                                     format="csv"; the sync pass is counted)
  (d) /usr/bin/python3 bench/py_intervals.py        (what a user would write in bt2)

Per run: wall time, user+sys CPU time and peak RSS of that child alone
(os.wait4), plus how busy the rest of the machine was (/proc/stat, in
cores). Reported: medians over the rounds, ratios to (a), events/s, and the
issue's targets. Results go to stdout (Markdown) and to
bench/out/results-<N>.json / .md; `--report FILE.json...` reprints tables
from saved results (several sizes: also the RSS 10 M vs 1 M target).
"""
import argparse
import hashlib
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
RUNS = ("a", "b", "c", "d")
# Reference and ablation runs (not targets): what each piece of the chain costs.
EXTRA = ("a0", "s", "sh", "f", "k")
LABELS = {
    "a": "(a) `babeltrace2 TRACES -c sink.utils.dummy`",
    "b": "(b) chain, `sync=\"clock\"`",
    "c": "(c) chain, `sync=\"hypercall\"`",
    "d": "(d) `bench/py_intervals.py` (Python bt2)",
    "a0": "(a′) as (a) without the host UST trace (2 events, 4 idle per-CPU streams)",
    "s": "source `sync=\"clock\"` → dummy",
    "sh": "source `sync=\"hypercall\"` → dummy",
    "f": "source `sync=\"clock\"` → filter → dummy",
    "k": "`babeltrace2 TRACES` → sink (csv), no source/filter",
}
TARGETS = {"b": 1.3, "c": 2.0}
PY_SPEEDUP = 15.0
RSS_GROWTH = 0.10


# ---------------------------------------------------------------------------
# Machine and build facts

def _first_line(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
        return out.strip().splitlines()[0] if out.strip() else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info(build):
    info = {"cores": os.cpu_count(), "kernel": platform.release()}
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        flags = open("/proc/cpuinfo").read()
        info["virtualized"] = " hypervisor" in flags
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                info["ram_gib"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                info["os"] = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    info["babeltrace2"] = _first_line(["babeltrace2", "--version"])
    info["python"] = _first_line(["/usr/bin/python3", "--version"])
    info["python_bt2"] = _first_line(["/usr/bin/python3", "-c", "import bt2; print(bt2.__version__)"])
    commit = _first_line(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = _first_line(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no",
                         "--", "lib", "plugins"])
    info["vmtrace_commit"] = commit + (" (lib/ or plugins/ modified)" if dirty else "")
    try:
        for line in open(build / "CMakeCache.txt"):
            if line.startswith("CMAKE_BUILD_TYPE:"):
                info["build_type"] = line.split("=", 1)[1].strip()
    except OSError:
        pass
    plugins = sorted((build / "plugins").glob("*.so"))
    if plugins:
        digest = hashlib.sha256()
        for p in plugins:
            digest.update(p.read_bytes())
        info["plugins_sha256"] = digest.hexdigest()[:12]
        info["plugins_built"] = time.strftime(
            "%Y-%m-%d %H:%M", time.localtime(max(p.stat().st_mtime for p in plugins)))
    return info


# ---------------------------------------------------------------------------
# Traces

def generate(out_dir, events, seed, build):
    """Simulates the traces once; returns (trace dir, scenario.json dict)."""
    d = out_dir / f"bench-{events}-seed{seed}"
    marker = d / ".complete"
    if not marker.exists():
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        cmd = [str(build / "tools" / "vmsim"), "--out", str(d), "--scenario", "bench",
               "--seed", str(seed), "--target-events", str(events), "--truth=summary"]
        print(f"generating {events} events: {' '.join(cmd)}", file=sys.stderr)
        t0 = time.monotonic()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        print(f"  done in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        marker.write_text(" ".join(cmd) + "\n")
    scenario = json.loads((d / "truth" / "scenario.json").read_text())
    return d, scenario


def du_bytes(path):
    return sum(p.stat().st_size for p in pathlib.Path(path).rglob("*") if p.is_file())


# ---------------------------------------------------------------------------
# Measurement

def commands(traces, build, work, scenario):
    plugins = build / "plugins"
    source = ["--component=src:source.vmsync.fs"]
    sink = ["--component=out:sink.vmstate.intervals"]

    def chain(sync, tag=True, out=True, name=None):
        cmd = ["babeltrace2", f"--plugin-path={plugins}", *source,
               f'--params=inputs=["{traces}"],sync="{sync}"']
        if tag:
            cmd.append("--component=tag:filter.vmmatch.tag")
        if out:
            cmd += [*sink, f'--params=format="csv",path="{work / f"vcpu-{name or sync}.csv"}"']
        else:
            cmd.append("--component=out:sink.utils.dummy")
        return cmd

    no_ust = [str(traces / t["path"]) for m in scenario["machines"] for t in m["traces"]
              if t["domain"] != "ust"]
    return {
        "a": ["babeltrace2", str(traces), "-c", "sink.utils.dummy"],
        "b": chain("clock"),
        "c": chain("hypercall"),
        "d": ["/usr/bin/python3", str(HERE / "py_intervals.py"), str(traces),
              "-o", str(work / "vcpu-py.csv")],
        "a0": ["babeltrace2", *no_ust, "-c", "sink.utils.dummy"],
        "s": chain("clock", tag=False, out=False),
        "sh": chain("hypercall", tag=False, out=False),
        "f": chain("clock", out=False),
        "k": ["babeltrace2", f"--plugin-path={plugins}", str(traces), *sink,
              f'--params=format="csv",path="{work / "vcpu-sink-only.csv"}"'],
    }


def cpu_jiffies():
    """(busy, steal) jiffies of the whole machine from /proc/stat."""
    f = open("/proc/stat").readline().split()[1:]
    v = [int(x) for x in f]
    # user nice system idle iowait irq softirq steal guest guest_nice
    busy = v[0] + v[1] + v[2] + v[5] + v[6]
    return busy, v[7] if len(v) > 7 else 0


class RssSampler(threading.Thread):
    """Samples /proc/PID/status every 10 ms: peak RssAnon and RssFile (KiB).

    ru_maxrss counts file pages too: src.ctf.fs mmaps every data stream file
    in windows of up to 8 MiB, so its RSS grows with the stream files until
    they reach that size, whatever the analysis keeps. RssAnon is the heap.
    """

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.path = f"/proc/{pid}/status"
        self.stop = threading.Event()
        self.anon = self.file = 0

    def run(self):
        while not self.stop.is_set():
            try:
                with open(self.path) as f:
                    for line in f:
                        if line.startswith("RssAnon:"):
                            self.anon = max(self.anon, int(line.split()[1]))
                        elif line.startswith("RssFile:"):
                            self.file = max(self.file, int(line.split()[1]))
            except (OSError, ValueError, IndexError):
                pass
            self.stop.wait(0.01)


def measure(cmd, log_path):
    """Runs `cmd`; returns wall, cpu, peak RSS of that child, and the others' load."""
    hz = os.sysconf("SC_CLK_TCK")
    busy0, steal0 = cpu_jiffies()
    load0 = os.getloadavg()[0]
    with open(log_path, "w") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
        sampler = RssSampler(proc.pid)
        sampler.start()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        sampler.stop.set()
        sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    busy1, steal1 = cpu_jiffies()
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n"
                 + pathlib.Path(log_path).read_text()[-3000:])
    cpu = ru.ru_utime + ru.ru_stime
    others = max(0.0, (busy1 - busy0) / hz - cpu) / wall
    return {"wall_s": wall, "cpu_s": cpu, "user_s": ru.ru_utime, "sys_s": ru.ru_stime,
            "maxrss_kib": ru.ru_maxrss, "rss_anon_peak_kib": sampler.anon,
            "rss_file_peak_kib": sampler.file, "others_cores": others,
            "steal_cores": (steal1 - steal0) / hz / wall, "loadavg1": load0}


def compare_csv(p1, p2):
    """Number of differing lines (and line counts) of two CSV files."""
    diff = n1 = n2 = 0
    with open(p1, "rb") as f1, open(p2, "rb") as f2:
        while True:
            a, b = f1.readline(), f2.readline()
            if not a and not b:
                break
            n1 += bool(a)
            n2 += bool(b)
            diff += a != b
    return {"differing_lines": diff, "lines": [n1, n2]}


def bench_size(args, events, build, machine):
    d, scenario = generate(args.out, events, args.seed, build)
    traces = d / "traces"
    total = scenario["event_counts"]["total"]
    work = d / "run"
    work.mkdir(exist_ok=True)
    cmds = commands(traces, build, work, scenario)
    py_reps = 0 if args.skip_py else min(args.reps, args.py_reps or args.reps)
    runs = [r for r in RUNS if r != "d" or py_reps > 0] + ["a0"]
    if args.ablation:
        runs += [r for r in EXTRA if r != "a0"]
    samples = {r: [] for r in runs}

    for _ in range(args.warmup):
        for r in ("a", "b", "c"):
            print(f"  warm-up {r}", file=sys.stderr)
            measure(cmds[r], work / f"{r}.log")

    for rep in range(args.reps):
        todo = [r for r in runs if r != "d" or rep < py_reps]
        k = rep % len(todo)
        order = todo[k:] + todo[:k]
        for r in order:
            s = measure(cmds[r], work / f"{r}.log")
            s["round"] = rep
            samples[r].append(s)
            print(f"  round {rep + 1}/{args.reps} {r}: {s['wall_s']:.2f} s wall, "
                  f"{s['cpu_s']:.2f} s cpu, {s['maxrss_kib'] / 1024:.1f} MiB, "
                  f"others {s['others_cores']:.2f} cores", file=sys.stderr)

    checks = {"chain_clock_vs_hypercall": compare_csv(work / "vcpu-clock.csv",
                                                      work / "vcpu-hypercall.csv")}
    if "d" in runs:
        checks["py_vs_chain_clock"] = compare_csv(work / "vcpu-py.csv", work / "vcpu-clock.csv")
    if not args.keep_outputs:
        for p in work.glob("vcpu-*.csv"):
            p.unlink()

    result = {
        "events": total, "events_requested": events, "seed": args.seed,
        "trace_bytes": du_bytes(traces), "trace_dir": str(traces),
        "reps": args.reps, "py_reps": py_reps, "warmup_rounds": args.warmup,
        "commands": {r: cmds[r] for r in runs}, "samples": samples, "checks": checks,
        "machine": machine, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "summary": summarize(samples, total),
    }
    tag = f"-{args.tag}" if args.tag else ""
    (args.out / f"results-{events}{tag}.json").write_text(json.dumps(result, indent=1) + "\n")
    if args.delete_traces:
        shutil.rmtree(d)
    return result


def summarize(samples, total):
    out = {}
    for r, ss in samples.items():
        if not ss:
            continue
        walls = [s["wall_s"] for s in ss]
        out[r] = {
            "n": len(ss),
            "wall_median": statistics.median(walls), "wall_min": min(walls),
            "wall_max": max(walls),
            "cpu_median": statistics.median(s["cpu_s"] for s in ss),
            "rss_median_mib": statistics.median(s["maxrss_kib"] for s in ss) / 1024,
            "rss_max_mib": max(s["maxrss_kib"] for s in ss) / 1024,
            "anon_median_mib": statistics.median(s["rss_anon_peak_kib"] for s in ss) / 1024,
            "file_median_mib": statistics.median(s["rss_file_peak_kib"] for s in ss) / 1024,
            "others_median": statistics.median(s["others_cores"] for s in ss),
            "events_per_s": total / statistics.median(walls),
        }
    a = out["a"]
    by_round_a = {s["round"]: s for s in samples["a"]}
    for r, o in out.items():
        o["ratio"] = o["wall_median"] / a["wall_median"]
        o["cpu_ratio"] = o["cpu_median"] / a["cpu_median"]
        paired = [s["wall_s"] / by_round_a[s["round"]]["wall_s"] for s in samples[r]]
        o["paired_ratio"] = statistics.median(paired)
    if samples.get("d"):
        # (d) over each chain run of the same round.
        for r in ("b", "c"):
            by_round = {s["round"]: s for s in samples[r]}
            out["d"][f"paired_over_{r}"] = statistics.median(
                s["wall_s"] / by_round[s["round"]]["wall_s"] for s in samples["d"])
    return out


# ---------------------------------------------------------------------------
# Report

def fmt_events(n):
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.0f} k"


def table(result):
    s = result["summary"]
    lines = [
        f"**{fmt_events(result['events'])} events** ({result['trace_bytes'] / 2**20:.0f} MiB "
        f"of CTF; medians of {result['reps']} interleaved rounds"
        + (f", (d) {result['py_reps']} rounds" if result["py_reps"] not in (0, result["reps"])
           else "") + (", (d) not run" if result["py_reps"] == 0 else "") + ")",
        "",
        "| run | wall (median) | wall (min–max) | × (a) | × (a), paired | CPU × (a) | events/s "
        "| peak RSS | of which anon / file |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in RUNS + EXTRA:
        if r not in s:
            continue
        if r == "a0":
            lines.append("| *references and ablations (not targets)* | | | | | | | | |")
        o = s[r]
        lines.append(
            f"| {LABELS[r]} | {o['wall_median']:.2f} s | {o['wall_min']:.2f}–{o['wall_max']:.2f} s "
            f"| {o['ratio']:.2f} | {o['paired_ratio']:.2f} | {o['cpu_ratio']:.2f} "
            f"| {o['events_per_s'] / 1e6:.2f} M | {o['rss_median_mib']:.1f} MiB "
            f"| {o['anon_median_mib']:.1f} / {o['file_median_mib']:.1f} MiB |")
    others = statistics.median(o["others_median"] for o in s.values())
    lines += ["", f"Load from other work during the runs: median {others:.2f} of "
              f"{result['machine'].get('cores')} cores busy (from /proc/stat, our child excluded). "
              "Peak RSS: `ru_maxrss` of the child (os.wait4); anon / file: peaks of "
              "RssAnon / RssFile sampled every 10 ms (file = src.ctf.fs's mmap windows)."]
    c = result["checks"]
    if "py_vs_chain_clock" in c:
        lines.append(f"Cross-check: (d)'s CSV vs (b)'s: {c['py_vs_chain_clock']['differing_lines']}"
                     f" of {c['py_vs_chain_clock']['lines'][1]} lines differ.")
    return "\n".join(lines)


def targets(results):
    """Targets judged on the paired ratios (median over rounds of the ratio of
    two runs of the same round), which other work's load spikes disturb far
    less than the ratio of the medians (given in parentheses)."""
    lines = ["| target (issue 6): paired ratio (ratio of medians) | "
             + " | ".join(fmt_events(r["events"]) for r in results)
             + " |", "|---|" + "---:|" * len(results)]

    def mark(ok):
        return "✅" if ok else "❌"

    for r, limit in TARGETS.items():
        cells = []
        for res in results:
            o = res["summary"][r]
            cells.append(f"{o['paired_ratio']:.2f}× ({o['ratio']:.2f}×) "
                         f"{mark(o['paired_ratio'] <= limit)}")
        lines.append(f"| {LABELS[r][:3]} ≤ {limit}× (a) | " + " | ".join(cells) + " |")
    for r in ("b", "c"):
        cells = []
        for res in results:
            s = res["summary"]
            if "d" in s:
                x = s["d"]["wall_median"] / s[r]["wall_median"]
                p = s["d"].get(f"paired_over_{r}", x)
                cells.append(f"{p:.1f}× ({x:.1f}×) {mark(p >= PY_SPEEDUP)}")
            else:
                cells.append("not run")
        lines.append(f"| {LABELS[r][:3]} ≥ {PY_SPEEDUP:.0f}× faster than (d) | "
                     + " | ".join(cells) + " |")
    by_size = sorted(results, key=lambda x: x["events"])
    if len(by_size) >= 2:
        small, big = by_size[0], by_size[-1]
        for r in ("a", "b", "c"):
            for key, what in (("rss_median_mib", "peak RSS"), ("anon_median_mib", "peak anon RSS")):
                x0, x1 = small["summary"][r][key], big["summary"][r][key]
                g = x1 / x0 - 1
                cells = [""] * (len(results) - 1) + [
                    f"{g * 100:+.1f} % ({x0:.1f} → {x1:.1f} MiB)"
                    + (f" {mark(g <= RSS_GROWTH)}" if r != "a" else "")]
                lines.append(f"| {LABELS[r][:3]} {what} at {fmt_events(big['events'])} within "
                             f"{RSS_GROWTH * 100:.0f} % of {fmt_events(small['events'])}"
                             + (" (reference)" if r == "a" else "") + " | "
                             + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine_text(m):
    return (f"Machine: {m.get('cpu', '?')}, {m.get('cores')} cores"
            f"{' (virtual machine)' if m.get('virtualized') else ''}, {m.get('ram_gib')} GiB RAM, "
            f"{m.get('os', '?')}, Linux {m.get('kernel')}; {m.get('babeltrace2')}, "
            f"python3-bt2 {m.get('python_bt2')} ({m.get('python')}); vmtrace "
            f"{m.get('vmtrace_commit')}, {m.get('build_type', '?')} build"
            f" (plugins built {m.get('plugins_built', '?')}, sha256 {m.get('plugins_sha256', '?')}).")


def report(results):
    results = sorted(results, key=lambda x: x["events"])
    for res in results:  # recomputed: saved results may predate a summary change
        res["summary"] = summarize(res["samples"], res["events"])
    parts = [table(r) for r in results]
    parts.append(targets(results))
    parts.append(machine_text(results[-1]["machine"]))
    return "\n\n".join(parts) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--events", type=int, action="append",
                    help="target event count (repeatable; default 1000000)")
    ap.add_argument("--reps", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--py-reps", type=int, default=0,
                    help="rounds that include (d) (default: all; e.g. 1 at 10 M events)")
    ap.add_argument("--skip-py", action="store_true", help="do not run (d)")
    ap.add_argument("--ablation", action="store_true",
                    help="also run the chain's pieces: source -> dummy (clock, hypercall), "
                         "source -> filter -> dummy, src.ctf.fs -> sink")
    ap.add_argument("--warmup", type=int, default=1,
                    help="untimed rounds of (a)-(c) first (page cache; default 1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tag", default="", help="suffix of the result file names")
    ap.add_argument("--build", type=pathlib.Path, default=REPO / "build")
    ap.add_argument("--out", type=pathlib.Path, default=HERE / "out")
    ap.add_argument("--keep-outputs", action="store_true",
                    help="keep the CSVs in bench/out/bench-N-seedS/run/")
    ap.add_argument("--delete-traces", action="store_true",
                    help="delete the generated traces afterwards (disk space)")
    ap.add_argument("--report", nargs="+", type=pathlib.Path, metavar="JSON",
                    help="only print the tables of saved results")
    args = ap.parse_args(argv)

    if args.report:
        print(report([json.loads(p.read_text()) for p in args.report]), end="")
        return 0
    if args.reps < 1:
        ap.error("--reps must be >= 1")
    args.out.mkdir(parents=True, exist_ok=True)
    build = args.build.resolve()
    machine = machine_info(build)
    results = []
    for n in args.events or [1000000]:
        results.append(bench_size(args, n, build, machine))
        print(table(results[-1]) + "\n", file=sys.stderr)
    text = report(results)
    name = "-".join(str(n) for n in (args.events or [1000000])) + (f"-{args.tag}" if args.tag else "")
    (args.out / f"results-{name}.md").write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
