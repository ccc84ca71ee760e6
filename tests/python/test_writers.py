# SPDX-License-Identifier: MIT
"""Output writers (lib/writer*.c), read back by standard parsers.

`test-writers --dump FORMAT VIEW` (tests/unit/test-writers.c) writes rows
given on stdin; these tests generate random rows with hostile thread names
(quotes, commas, newlines, control characters, non-ASCII, ill-formed UTF-8),
then read the output back with Python's `csv` and `json` and compare it with
what the rows say, check the Chrome trace-event schema, and cross-check the
text report's statistics with an independent computation.
"""
import csv
import io
import json
import random
import re
import subprocess

import pytest

from conftest import BUILD

TEST_WRITERS = BUILD / "tests" / "test-writers"

pytestmark = pytest.mark.skipif(not TEST_WRITERS.exists(),
                                reason=f"{TEST_WRITERS} is not built")

VCPU_COLUMNS = [
    "vm_uuid", "vm_name", "vcpu", "state", "begin_ns", "end_ns", "duration_ns", "host_tid",
    "pcpu", "exit_reason", "preempted_by_tid", "preempted_by_comm", "preempted_by_vm",
    "preempted_by_vcpu", "guest_tid", "guest_comm",
]
PCPU_COLUMNS = [
    "pcpu", "begin_ns", "end_ns", "duration_ns", "level", "host_tid", "host_comm", "vm_uuid",
    "vm_name", "vcpu", "guest_tid", "guest_comm",
]
STRING_COLUMNS = {"vm_uuid", "vm_name", "state", "level", "preempted_by_comm",
                  "preempted_by_vm", "host_comm", "guest_comm"}
# Integers that are never empty (SPEC §5 writes pcpu -1 while switched out).
PLAIN_INT_COLUMNS = {"begin_ns", "end_ns", "duration_ns", "pcpu"}
STATES = ["running", "hypervisor", "preempted", "idle", "blocked"]
LEVELS = ["host", "hypervisor", "guest"]
T0 = 1_700_000_000_000_000_000

# Pieces of thread names: everything CSV, JSON and terminals treat specially.
HOSTILE_PIECES = [
    b",", b'"', b"\n", b"\r", b"\\", b"\t", b"\x01", b"\x1b[31m", b"\x7f", b" ", b"{", b"}",
    b"a", b"Z", b"9", b"/", b":",
    "é".encode(), "日本".encode(), "😀".encode(), "\u0085".encode(), "\u009b".encode(),
    "\u2028".encode(),
    b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf",
    b"\xf0\x9f\x98", b"\x80",
]


def hostile_name(rng):
    """A thread name of 0 to 15 bytes (a kernel comm), possibly cut mid-character."""
    return b"".join(rng.choice(HOSTILE_PIECES) for _ in range(rng.randint(0, 6)))[:15]


def maybe_name(rng):
    return None if rng.random() < 0.2 else hostile_name(rng)


def encode_string(value):
    return "-" if value is None else "x" + value.hex()


def as_text(value):
    """How a string column should read back: ill-formed UTF-8 replaced as Python does."""
    return None if not value else value.decode("utf-8", "replace")


def vcpu_rows(rng, vm_count=3, vcpu_count=3, rows_per_vcpu=40):
    """Random vCPU rows in SPEC order (vm_uuid, vcpu, begin_ns), touching per vCPU."""
    rows = []
    for vm in range(vm_count):
        uuid = f"{vm:08x}-0000-4000-8000-{vm:012x}".encode()
        name = None if vm == 2 else hostile_name(rng) or b"vm"
        # Index -1: a vCPU thread whose index is unknown (still a vCPU of the VM).
        for vcpu in range(-1, vcpu_count - 1):
            begin = T0 + rng.randint(0, 10_000)
            for _ in range(rows_per_vcpu):
                state = rng.choice(STATES)
                end = begin + rng.choice([0, 1, 7, 999, 1000, 1001, rng.randint(0, 10**7)])
                is_out = state in ("preempted", "idle", "blocked")
                is_preempted = state == "preempted"
                rows.append({
                    "vm_uuid": uuid, "vm_name": name, "vcpu": vcpu, "state": state,
                    "begin_ns": begin, "end_ns": end, "host_tid": 1000 + 10 * vm + vcpu,
                    "pcpu": -1 if is_out else rng.randint(0, 7),
                    "exit_reason": rng.choice([-1, 12, 30, 48]) if state != "running" else -1,
                    "preempted_by_tid": rng.randint(0, 5000) if is_preempted else -1,
                    "preempted_by_comm": maybe_name(rng) if is_preempted else None,
                    "preempted_by_vm": rng.choice([None, uuid]) if is_preempted else None,
                    "preempted_by_vcpu": rng.choice([-1, 0, 1]) if is_preempted else -1,
                    "guest_tid": rng.choice([-1, 0, 812]) if is_preempted else -1,
                    "guest_comm": maybe_name(rng) if is_preempted else None,
                })
                begin = end
    return rows


def pcpu_rows(rng, pcpu_count=4, rows_per_pcpu=50):
    """Random pCPU rows in order (pcpu, begin_ns), touching per pCPU."""
    rows = []
    for pcpu in range(pcpu_count):
        begin = T0 + rng.randint(0, 10_000)
        for _ in range(rows_per_pcpu):
            level = rng.choice(LEVELS)
            end = begin + rng.choice([0, 1, 999, rng.randint(0, 10**6)])
            in_vm = level != "host"
            vm = rng.randint(0, 1)
            rows.append({
                "pcpu": pcpu, "begin_ns": begin, "end_ns": end, "level": level,
                "host_tid": rng.randint(0, 5000), "host_comm": maybe_name(rng),
                "vm_uuid": f"uuid-{vm}".encode() if in_vm else None,
                "vm_name": (hostile_name(rng) or None) if in_vm else None,
                "vcpu": rng.randint(-1, 3) if in_vm else -1,
                "guest_tid": rng.choice([-1, 0, 7]) if level == "guest" else -1,
                "guest_comm": maybe_name(rng) if level == "guest" else None,
            })
            begin = end
    return rows


def input_line(row, view):
    columns = VCPU_COLUMNS if view == "vcpu" else PCPU_COLUMNS
    fields = []
    for column in columns:
        if column == "duration_ns":
            continue
        value = row[column]
        if column in ("state", "level"):
            fields.append(value)
        elif column in STRING_COLUMNS:
            fields.append(encode_string(value))
        else:
            fields.append(str(value))
    return " ".join(fields)


def dump(fmt, view, rows, *extra, check=True):
    """Runs the writer over `rows`; returns the completed process (stdout as bytes)."""
    data = "".join(input_line(row, view) + "\n" for row in rows).encode()
    proc = subprocess.run([str(TEST_WRITERS), "--dump", fmt, view, *map(str, extra)],
                          input=data, capture_output=True, timeout=120)
    assert proc.returncode >= 0, f"test-writers killed by signal {-proc.returncode}"
    if check:
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc


def expected_value(row, column, json_exact=False):
    """A column's value as JSON should hold it (None = empty); with
    `json_exact`, integers beyond 2^53 as strings (the chrome writer)."""
    if column == "duration_ns":
        return row["end_ns"] - row["begin_ns"]
    value = row[column]
    if column in ("state", "level"):
        return value
    if column in STRING_COLUMNS:
        return as_text(value)
    if column not in PLAIN_INT_COLUMNS and value < 0 and not is_vcpu_of_vm(row, column):
        return None
    if isinstance(value, int) and abs(value) > 2**53 and json_exact:
        return str(value)
    return value


def is_vcpu_of_vm(row, column):
    """A vCPU index is empty only where no VM is named: -1 means unknown."""
    if column == "vcpu":
        return "state" in row or bool(row.get("vm_uuid"))
    return column == "preempted_by_vcpu" and bool(row.get("preempted_by_vm"))


def rows_for(view, seed):
    rng = random.Random(seed)
    return vcpu_rows(rng) if view == "vcpu" else pcpu_rows(rng)


@pytest.mark.parametrize("view", ["vcpu", "pcpu"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_csv_round_trip(view, seed):
    rows = rows_for(view, seed)
    columns = VCPU_COLUMNS if view == "vcpu" else PCPU_COLUMNS
    # Strict decoding: the output must be valid UTF-8 whatever the input bytes.
    text = dump("csv", view, rows).stdout.decode("utf-8")
    records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    assert records[0] == columns
    assert len(records) == len(rows) + 1
    for row, record in zip(rows, records[1:]):
        expected = []
        for column in columns:
            value = expected_value(row, column)
            expected.append("" if value is None else str(value))
        assert record == expected


@pytest.mark.parametrize("view", ["vcpu", "pcpu"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_jsonl(view, seed):
    rows = rows_for(view, seed)
    columns = VCPU_COLUMNS if view == "vcpu" else PCPU_COLUMNS
    text = dump("jsonl", view, rows).stdout.decode("utf-8")
    assert text.endswith("\n")
    # split("\n"), not splitlines(): U+2028 and U+0085 are legal raw in JSON strings.
    lines = text[:-1].split("\n")
    assert len(lines) == len(rows)
    for row, line in zip(rows, lines):
        pairs = json.loads(line, object_pairs_hook=list)
        assert [key for key, _ in pairs] == columns
        for key, value in pairs:
            assert value is None or isinstance(value, str if key in STRING_COLUMNS else int)
            assert not isinstance(value, bool)
            assert value == expected_value(row, key), key


def chrome_document(view, rows, *extra):
    text = dump("chrome", view, rows, *extra).stdout.decode("utf-8")
    return json.loads(text)


def check_chrome_schema(document, view, rows, origin):
    assert set(document) == {"traceEvents", "displayTimeUnit", "otherData"}
    assert document["displayTimeUnit"] == "ns"
    assert int(document["otherData"]["origin_ns"]) == origin
    assert document["otherData"]["view"] == view
    events = document["traceEvents"]
    named_processes, named_threads = set(), set()
    complete = []
    for event in events:
        assert event["ph"] in ("M", "X")
        assert isinstance(event["pid"], int) and 0 < event["pid"] < 2**31
        assert isinstance(event["tid"], int) and 0 <= event["tid"] < 2**31
        if event["ph"] == "M":
            if event["name"] == "process_name":
                named_processes.add(event["pid"])
            elif event["name"] == "thread_name":
                named_threads.add((event["pid"], event["tid"]))
            continue
        # A track is announced before its first event.
        assert event["pid"] in named_processes
        assert (event["pid"], event["tid"]) in named_threads
        assert isinstance(event["ts"], (int, float)) and event["ts"] >= 0
        assert isinstance(event["dur"], (int, float)) and event["dur"] >= 0
        complete.append(event)
    assert len(complete) == len(rows)
    return complete


def check_chrome_rows(complete, view, rows, origin):
    columns = VCPU_COLUMNS if view == "vcpu" else PCPU_COLUMNS
    name_column = "state" if view == "vcpu" else "level"
    tracks = {}
    for row, event in zip(rows, complete):
        args = event["args"]
        assert set(args) <= set(columns) - {name_column}
        for column in columns:
            if column == name_column:
                continue
            expected = expected_value(row, column, json_exact=True)
            assert args.get(column) == expected, column
        if view == "vcpu":
            assert event["name"] == row["state"]
        else:
            assert event["name"].startswith(row["level"])
        # µs with 3 decimals: the relative ns survive exactly.
        assert round(event["ts"] * 1000) == max(row["begin_ns"] - origin, 0)
        assert round(event["dur"] * 1000) == max(row["end_ns"] - max(row["begin_ns"], origin), 0)
        tracks.setdefault((event["pid"], event["tid"]), []).append(event)
    for events in tracks.values():
        for before, after in zip(events, events[1:]):
            # Complete events of one track never overlap: the UIs would nest them.
            assert before["ts"] <= after["ts"]
            assert round((before["ts"] + before["dur"]) * 1000) <= round(after["ts"] * 1000)


@pytest.mark.parametrize("view", ["vcpu", "pcpu"])
@pytest.mark.parametrize("seed", [1, 2])
def test_chrome_with_origin(view, seed):
    rows = rows_for(view, seed)
    origin = min(row["begin_ns"] for row in rows)
    document = chrome_document(view, rows, "--origin", origin)
    complete = check_chrome_schema(document, view, rows, origin)
    check_chrome_rows(complete, view, rows, origin)
    assert document["otherData"]["clamped_events"] == 0


@pytest.mark.parametrize("view", ["vcpu", "pcpu"])
def test_chrome_default_origin_clamps(view):
    rows = rows_for(view, 4)
    # Every group but the first starts before the first row: clamped to the origin.
    first_group = rows[0]["vm_uuid" if view == "vcpu" else "pcpu"]
    for row in rows:
        if row["vm_uuid" if view == "vcpu" else "pcpu"] != first_group:
            row["begin_ns"] -= 10**6
            row["end_ns"] -= 10**6
    origin = rows[0]["begin_ns"]
    document = chrome_document(view, rows)
    complete = check_chrome_schema(document, view, rows, origin)
    check_chrome_rows(complete, view, rows, origin)
    early = sum(1 for row in rows if row["begin_ns"] < origin)
    assert early > 0
    assert document["otherData"]["clamped_events"] == early


def test_chrome_tracks():
    rows = rows_for("vcpu", 5)
    document = chrome_document("vcpu", rows)
    metadata = [e for e in document["traceEvents"] if e["ph"] == "M"]
    processes = {e["pid"]: e["args"]["name"] for e in metadata if e["name"] == "process_name"}
    threads = {(e["pid"], e["tid"]): e["args"]["name"]
               for e in metadata if e["name"] == "thread_name"}
    assert len(processes) == 3
    # A vCPU of unknown index gets its own track, named after its host thread.
    expected = [f"vCPU {v}" for v in range(2) for _ in range(3)]
    expected += [f"vCPU ? (host tid {1000 + 10 * vm - 1})" for vm in range(3)]
    assert sorted(threads.values()) == sorted(expected)
    # VM 2 has no name: its process is labelled by its UUID alone.
    assert processes[3] == rows[-1]["vm_uuid"].decode()
    assert len({tid for _, tid in threads}) == len(threads)


def duration_text(ns):
    """The text report's durations: truncated to 3 decimals of the largest fitting unit."""
    if ns < 1000:
        return f"{ns} ns"
    for scale, unit in ((10**9, "s"), (10**6, "ms"), (10**3, "µs")):
        if ns >= scale or unit == "µs":
            return f"{ns // scale}.{ns % scale // (scale // 1000):03d} {unit}"
    raise AssertionError


def realistic_vcpu_rows(rng, vcpu, count=300):
    """One vCPU's rows following SPEC §4: exits, preemptions, HLT idles, cut episodes."""
    rows, t = [], T0
    def add(state, length, reason=-1, **extra):
        nonlocal t
        row = {"vm_uuid": b"aaaa", "vm_name": b"vm-a", "vcpu": vcpu, "state": state,
               "begin_ns": t, "end_ns": t + length, "host_tid": 100 + vcpu, "pcpu": 0,
               "exit_reason": reason, "preempted_by_tid": -1, "preempted_by_comm": None,
               "preempted_by_vm": None, "preempted_by_vcpu": -1, "guest_tid": -1,
               "guest_comm": None}
        row.update(extra)
        rows.append(row)
        t += length
    while len(rows) < count:
        add("running", rng.randint(1, 5000))
        reason = rng.choice([12, 30, 30, 48, 1])
        if rng.random() < 0.2:
            # Switched out at the exit's time: the hypervisor row was dropped.
            add("preempted", rng.randint(1, 9000), preempted_by_tid=rng.randint(1, 50),
                preempted_by_comm=hostile_name(rng), pcpu=-1)
            add("hypervisor", rng.randint(1, 300), reason)
            continue
        add("hypervisor", rng.randint(1, 300), reason)
        if reason == 12:
            add("idle", rng.randint(1, 20000), reason, pcpu=-1)
            add("hypervisor", rng.randint(1, 300), reason)
        elif rng.random() < 0.3:
            add("preempted", rng.randint(1, 9000), preempted_by_tid=rng.randint(1, 50),
                preempted_by_comm=hostile_name(rng), pcpu=-1)
            add("hypervisor", rng.randint(1, 300), reason)
    return rows


def exit_episodes(rows):
    """{reason: [lengths]}: from each exit (running → other) to the next entry."""
    episodes, start, reason = {}, None, -1
    for before, row in zip([None] + rows, rows):
        if row["state"] == "running":
            if start is not None:
                episodes.setdefault(reason, []).append(row["begin_ns"] - start)
            start = None
        elif before is not None and before["state"] == "running":
            start, reason = row["begin_ns"], row["exit_reason"]
        elif start is not None and reason < 0:
            reason = row["exit_reason"]
    return episodes


def nearest_rank(values, p):
    values = sorted(values)
    return values[max((len(values) * p + 99) // 100, 1) - 1]


def section(text, vcpu):
    match = re.search(rf"^VM vm-a \(aaaa\), vCPU {vcpu},.*?(?=^VM |^Longest|\Z)", text,
                      re.M | re.S)
    assert match, f"no section for vCPU {vcpu}"
    return match.group(0)


def test_text_report_statistics():
    rng = random.Random(7)
    rows = realistic_vcpu_rows(rng, 0) + realistic_vcpu_rows(rng, 1)
    text = dump("text", "vcpu", rows).stdout.decode("utf-8")
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", text), "raw control characters"
    names = {12: "HLT", 30: "IO_INSTRUCTION", 48: "EPT_VIOLATION", 1: "EXTERNAL_INTERRUPT"}
    for vcpu in (0, 1):
        mine = [row for row in rows if row["vcpu"] == vcpu]
        body = section(text, vcpu)
        total = sum(row["end_ns"] - row["begin_ns"] for row in mine)
        for state in STATES:
            spent = sum(r["end_ns"] - r["begin_ns"] for r in mine if r["state"] == state)
            share = f"{100 * spent / total:.2f}%"
            assert re.search(rf"^  {state} +{re.escape(duration_text(spent))} +{share}$",
                             body, re.M), state
        lengths = [r["end_ns"] - r["begin_ns"] for r in mine if r["state"] == "preempted"]
        assert (f"preemptions: {len(lengths)}, p50 {duration_text(nearest_rank(lengths, 50))}, "
                f"p99 {duration_text(nearest_rank(lengths, 99))}, "
                f"max {duration_text(max(lengths))}") in body
        episodes = exit_episodes(mine)
        count = sum(len(v) for v in episodes.values())
        for reason, spans in episodes.items():
            cells = [names[reason], str(len(spans)), duration_text(min(spans)),
                     duration_text(max(spans)), duration_text(sum(spans) // len(spans))]
            line = next(l for l in body.splitlines() if l.startswith(f"  {names[reason]} "))
            squeezed = re.sub(r" +", " ", line.strip())
            assert squeezed.startswith(f"{cells[0]} {cells[1]} ")
            assert squeezed.endswith(" ".join(cells[2:])), (squeezed, cells)
        assert f"Total Samples: {count}," in body


@pytest.mark.parametrize("view", ["vcpu", "pcpu"])
def test_text_hostile_names(view):
    rows = rows_for(view, 8)
    text = dump("text", view, rows).stdout.decode("utf-8")
    # Names are escaped: only newlines end lines, no terminal escapes get through.
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", text)
    assert "Longest preemptions" in text if view == "vcpu" else "top host threads" in text


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "chrome", "text"])
def test_full_disk(fmt):
    rows = rows_for("vcpu", 9)
    proc = dump(fmt, "vcpu", rows, "--out", "/dev/full", check=False)
    assert proc.returncode == 1
    assert b"No space left on device" in proc.stderr
