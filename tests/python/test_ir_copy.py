# SPDX-License-Identifier: MIT
"""lib/ir-copy through the test-only `filter.irtest.copy`.

- Corpus (Babeltrace's CTF test traces) and real LTTng traces:
  `sink.text.details` after the copy is byte-identical to the input's; with
  `offset-ns=D` only timestamp lines differ, each by exactly D; with
  `add-member=true` only the added member differs; with `host-clock=true`
  only the clock class and the cycle values differ; `fail/` traces fail the
  same way, never by a signal.
- A Python source with every field class and message type, through the
  copy into a Python sink (in a subprocess, see ir_copy_helpers.py).
- valgrind memcheck through the copy.
"""
import functools
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import BT_CORPUS, PEER_CASES, TEST_PLUGINS, needs_shared, run_cli

import ir_copy_helpers as helpers

IRTEST_SO = TEST_PLUGINS / "babeltrace-plugin-irtest.so"
HELPERS_PY = helpers.__file__
REAL_TRACES = PEER_CASES / "real-traces"
OFFSET_NS = 1_000_000_007

pytestmark = [
    needs_shared(),
    pytest.mark.skipif(not IRTEST_SO.exists(), reason=f"{IRTEST_SO} is not built"),
]


def _trace_dirs(root, sets):
    """Every directory holding a `metadata` file, but `meta-ctx-sequence`,
    which aborts babeltrace2 2.0.4 itself (see its README)."""
    dirs = []
    for name in sets:
        for metadata in sorted((root / name).rglob("metadata")):
            if "meta-ctx-sequence" not in metadata.parts:
                dirs.append(metadata.parent)
    return dirs


CORPUS = _trace_dirs(BT_CORPUS, ("succeed", "packet-seq-num", "intersection",
                                 "deterministic-ordering")) if BT_CORPUS.is_dir() else []
FAIL = sorted(p for p in (BT_CORPUS / "fail").iterdir() if p.is_dir()) \
    if BT_CORPUS.is_dir() else []
REAL = sorted(p for p in REAL_TRACES.iterdir() if p.is_dir()) if REAL_TRACES.is_dir() else []


def _ids(paths, root):
    return [str(p.relative_to(root)) for p in paths]


@functools.lru_cache(maxsize=None)
def _details(trace, *filter_params):
    """(exit status, stdout lines) of `sink.text.details`, through the copy
    when `filter_params` (`key=value` strings) are given (empty string: no params)."""
    args = [trace]
    if filter_params:
        args += ["-c", "filter.irtest.copy"]
        for param in filter_params:
            if param:
                args += ["-p", param]
    proc = run_cli(args + ["-c", "sink.text.details"], plugin_paths=(TEST_PLUGINS,))
    return proc.returncode, proc.stdout.split("\n")


def _first_difference(ref, out):
    for number, (a, b) in enumerate(zip(ref, out), 1):
        if a != b:
            return f"line {number}: {a!r} != {b!r}"
    return f"lengths differ: {len(ref)} != {len(out)}"


# --- Corpus -------------------------------------------------------------


@pytest.mark.parametrize("trace", CORPUS, ids=_ids(CORPUS, BT_CORPUS))
def test_corpus_identical(trace):
    ref_rc, ref = _details(trace)
    out_rc, out = _details(trace, "")
    assert out_rc == ref_rc
    assert out == ref, _first_difference(ref, out)


@pytest.mark.parametrize("trace", CORPUS, ids=_ids(CORPUS, BT_CORPUS))
def test_corpus_offset(trace):
    ref_rc, ref = _details(trace)
    out_rc, out = _details(trace, f"offset-ns={OFFSET_NS}")
    assert out_rc == ref_rc
    assert len(out) == len(ref), _first_difference(ref, out)
    problems, shifted = helpers.diff_shifted(ref, out, OFFSET_NS)
    assert not problems, "\n".join(problems)
    assert shifted == sum(1 for line in ref if helpers.parse_time(line))


@pytest.mark.parametrize("trace", CORPUS, ids=_ids(CORPUS, BT_CORPUS))
def test_corpus_add_member(trace):
    ref_rc, ref = _details(trace)
    out_rc, out = _details(trace, "add-member=true")
    assert out_rc == ref_rc
    stripped, seqs = helpers.strip_added_member(out)
    assert stripped == ref, _first_difference(ref, stripped)
    event_count = sum(1 for line in ref if line.startswith("Event `"))
    assert seqs == list(range(event_count))


def _without_clock(lines):
    """Timestamp lines reduced to their ns, and clock class blocks dropped."""
    result, clock_indent = [], None
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        if clock_indent is not None and line.strip() and indent > clock_indent:
            continue
        clock_indent = None
        if line.strip() == "Default clock class:":
            clock_indent = indent
            continue
        time = helpers.parse_time(line)
        result.append(f"ns={time[1]}" if time else line)
    return result


@pytest.mark.parametrize("trace", CORPUS, ids=_ids(CORPUS, BT_CORPUS))
def test_corpus_host_clock(trace):
    ref_rc, ref = _details(trace)
    out_rc, out = _details(trace, "host-clock=true")
    assert out_rc == ref_rc
    assert _without_clock(out) == _without_clock(ref)
    for line in out:
        time = helpers.parse_time(line)
        # 1 GHz, offset 0: cycles are ns from origin.
        assert time is None or time[0] == time[1], line
    if any(helpers.parse_time(line) for line in ref):
        assert "      Name: irtest-host" in out


@pytest.mark.parametrize("trace", FAIL, ids=_ids(FAIL, BT_CORPUS))
def test_corpus_fail(trace):
    ref_rc, ref = _details(trace)
    out_rc, out = _details(trace, "")
    assert ref_rc != 0 and out_rc != 0
    assert out == ref, _first_difference(ref, out)


# --- Real traces: streamed, their details output is up to 90 MB ----------


def _cli_cmd(trace, filter_params):
    cmd = ["babeltrace2", f"--plugin-path={TEST_PLUGINS}", str(trace)]
    if filter_params is not None:
        cmd += ["-c", "filter.irtest.copy"]
        for param in filter_params:
            cmd += ["-p", param]
    return cmd + ["-c", "sink.text.details"]


def _digest(cmd):
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr)
        digest = hashlib.sha256()
        for chunk in iter(lambda: proc.stdout.read(1 << 20), b""):
            digest.update(chunk)
        returncode = proc.wait()
    assert returncode >= 0, f"killed by signal {-returncode}: {cmd}"
    return returncode, digest.hexdigest()


@pytest.mark.parametrize("trace", REAL, ids=_ids(REAL, REAL_TRACES))
def test_real_identical(trace):
    # tracecompass-synctraces fails in babeltrace2 itself: the same way here.
    assert _digest(_cli_cmd(trace, [])) == _digest(_cli_cmd(trace, None))


@pytest.mark.parametrize("trace", REAL, ids=_ids(REAL, REAL_TRACES))
def test_real_offset(trace):
    with tempfile.TemporaryFile() as err_ref, tempfile.TemporaryFile() as err_out:
        ref_proc, ref = helpers.stream_lines(_cli_cmd(trace, None), err_ref)
        out_proc, out = helpers.stream_lines(_cli_cmd(trace, [f"offset-ns={OFFSET_NS}"]), err_out)
        problems, shifted = helpers.diff_shifted(ref, out, OFFSET_NS)
        # Both streams must be exhausted (equal lengths).
        leftover = sum(1 for _ in ref) + sum(1 for _ in out)
        ref_rc, out_rc = ref_proc.wait(), out_proc.wait()
    assert ref_rc >= 0 and out_rc >= 0
    assert (out_rc, leftover, problems) == (ref_rc, 0, [])
    assert shifted > 0


# --- sink.ctf.fs: the copy writes the same trace -----------------------------

CTF_OUT_CASES = [BT_CORPUS / "succeed" / "multi-domains" / "kernel",
                 BT_CORPUS / "succeed" / "wk-heartbeat-u",
                 REAL_TRACES / "tracecompass-flipping-endianness-qemu-guest"]


def _write_ctf(trace, out_dir, through_copy):
    args = [trace] + (["-c", "filter.irtest.copy"] if through_copy else []) + [
        "-c", "sink.ctf.fs", "-p", f'path="{out_dir}"', "-p", "assume-single-trace=true"]
    proc = run_cli(args, plugin_paths=(TEST_PLUGINS,))
    assert proc.returncode == 0, proc.stderr[-4000:]


def _without_uuids(text):
    # sink.ctf.fs makes up a new trace UUID at each run.
    return re.sub(r'uuid = "[0-9a-f-]+";|UUID: [0-9a-f-]+', "UUID", text)


@pytest.mark.parametrize("trace", CTF_OUT_CASES, ids=lambda p: p.name)
def test_ctf_fs_output(trace, tmp_path):
    _write_ctf(trace, tmp_path / "ref", False)
    _write_ctf(trace, tmp_path / "copy", True)
    metadata = [_without_uuids((tmp_path / d / "metadata").read_text()) for d in ("ref", "copy")]
    assert metadata[0] == metadata[1]
    details = [run_cli([tmp_path / d, "-c", "sink.text.details", "-p", "with-stream-name=no"],
                       plugin_paths=()) for d in ("ref", "copy")]
    assert [p.returncode for p in details] == [0, 0]
    assert _without_uuids(details[0].stdout) == _without_uuids(details[1].stdout)


# --- Python graph: every field class and message type ---------------------


def _run_graph(params):
    proc = subprocess.run(["/usr/bin/python3", HELPERS_PY, str(TEST_PLUGINS), json.dumps(params)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout), proc.stderr


@functools.lru_cache(maxsize=None)
def _graph_reference():
    return json.dumps(_run_graph(None)[0])


def _reference_messages():
    return json.loads(_graph_reference())


def _walk(obj, visit):
    """Calls visit(dict) for every dict in `obj`, depth first."""
    if isinstance(obj, dict):
        visit(obj)
        for value in obj.values():
            _walk(value, visit)
    elif isinstance(obj, list):
        for value in obj:
            _walk(value, visit)


def _pop_auto_ids(msgs):
    """The copy keeps every input ID, so it never assigns them automatically."""
    flags = []
    _walk(msgs, lambda d: flags.append(d.pop("auto_ids")) if "auto_ids" in d else None)
    return flags


def test_graph_identical():
    ref = _reference_messages()
    out, stderr = _run_graph({})
    assert set(map(tuple, _pop_auto_ids(out))) == {(False, False)}
    _pop_auto_ids(ref)
    assert out == ref
    types = {m["type"] for m in ref}
    assert types == {"StreamBeginningMessage", "StreamEndMessage", "PacketBeginningMessage",
                     "PacketEndMessage", "EventMessage", "DiscardedEventsMessage",
                     "DiscardedPacketsMessage", "MessageIteratorInactivityMessage"}
    assert "clamp-count=0" in stderr


def test_graph_covers_every_field_class_type():
    kinds = set()
    _walk(_reference_messages(), lambda d: kinds.add(d["type"]) if "ua" in d and "type" in d
          else None)
    assert {"_BoolFieldClass", "_BitArrayFieldClass", "_UnsignedIntegerFieldClass",
            "_SignedIntegerFieldClass", "_UnsignedEnumerationFieldClass",
            "_SignedEnumerationFieldClass", "_SinglePrecisionRealFieldClass",
            "_DoublePrecisionRealFieldClass", "_StringFieldClass", "_StructureFieldClass",
            "_StaticArrayFieldClass", "_DynamicArrayFieldClass",
            "_DynamicArrayWithLengthFieldFieldClass", "_OptionFieldClass",
            "_OptionWithBoolSelectorFieldClass", "_OptionWithUnsignedIntegerSelectorFieldClass",
            "_OptionWithSignedIntegerSelectorFieldClass", "_VariantFieldClassWithoutSelector",
            "_VariantFieldClassWithUnsignedIntegerSelector",
            "_VariantFieldClassWithSignedIntegerSelector"} <= kinds


def _snapshots(msgs):
    found = []
    _walk(msgs, lambda d: found.append(d) if set(d) == {"cycles", "ns", "clock"} else None)
    return found


def test_graph_offset():
    # 5 ms: 5 cycles of the source's 1 kHz clock.
    offset_ns = 5_000_000
    ref = _reference_messages()
    out, stderr = _run_graph({"offset-ns": offset_ns})
    for cs in _snapshots(ref):
        cs["cycles"] += offset_ns * helpers.CLOCK_FREQ // 1_000_000_000
        cs["ns"] += offset_ns
    _pop_auto_ids(out)
    _pop_auto_ids(ref)
    assert out == ref
    assert "clamp-count=0" in stderr


def test_graph_clamp():
    """Time going back is clamped per stream; below the origin, to 0."""
    # Every 30 ms, the second 15 ms go back 15 ms; then all goes 115 ms back,
    # before the clock's origin for the first snapshots.
    backstep_ns = 15_000_000
    offset_ns = -115_000_000
    ref = _reference_messages()
    out, stderr = _run_graph({"offset-ns": offset_ns, "backstep-ns": backstep_ns})
    expected = _expected_clamped(ref, offset_ns, backstep_ns)
    got = [[cs["cycles"] for cs in _snapshots(m)] for m in out]
    assert got == [cycles for cycles, _ in expected]
    clamps = sum(count for _, count in expected)
    assert clamps > 0 and f"clamp-count={clamps}" in stderr


def _expected_clamped(ref, offset_ns, backstep_ns):
    """Per message, the expected output cycles and clamp count, from the
    rules of lib/ir-copy.h: ordered snapshots never go back on a stream; the
    end of a discarded range only stays at or after its beginning."""
    base_ns = (10 * 1000 + 500) * 1_000_000  # The source clock's offset (10 s + 500 cycles).
    last = {}
    result = []
    for msg in ref:
        cycles, clamps = [], 0
        for index, cs in enumerate(_snapshots(msg)):
            ns = cs["ns"]
            if ns % (2 * backstep_ns) >= backstep_ns:
                ns -= backstep_ns
            raw = (ns + offset_ns - base_ns) // 1_000_000
            floor = cycles[0] if index == 1 else last.get(tuple(msg.get("stream", ())), 0)
            is_clamped = ns + offset_ns < base_ns
            if is_clamped:
                raw = 0
            if raw < floor:
                raw, is_clamped = floor, True
            clamps += is_clamped
            cycles.append(raw)
            if index == 0:
                last[tuple(msg.get("stream", ()))] = raw
        result.append((cycles, clamps))
    return result


def test_graph_add_member():
    ref = _reference_messages()
    out, stderr = _run_graph({"add-member": True})
    seqs = []
    for msg in out:
        if msg["type"] == "EventMessage":
            seqs.append(msg["common"].pop("irtest_seq"))
            if not msg["common"]:
                msg["common"] = None

    def drop_member(desc):
        common = desc.get("common_context")
        if common is not None:
            name, _, fc = common["members"].pop()
            assert (name, fc["type"], fc["range"]) == ("irtest_seq", "_SignedIntegerFieldClass",
                                                        64)
            if not common["members"]:
                # The hook created the structure: the input had none.
                desc["common_context"] = None

    _walk(out, lambda d: drop_member(d) if "common_context" in d else None)
    _pop_auto_ids(out)
    _pop_auto_ids(ref)
    assert out == ref
    assert seqs == list(range(sum(1 for m in ref if m["type"] == "EventMessage")))
    assert f"tagged-event-count={len(seqs)}" in stderr


def test_graph_host_clock():
    ref = _reference_messages()
    out, _ = _run_graph({"host-clock": True})
    for cs in _snapshots(ref):
        cs.update(cycles=cs["ns"], clock="irtest-host")
    host = {"name": "irtest-host", "description": None, "frequency": 1_000_000_000,
            "precision": 0, "offset": [0, 0], "epoch": True, "uuid": None, "ua": {}}
    _walk(ref, lambda d: d.update(clock=host) if isinstance(d.get("clock"), dict) else None)
    _pop_auto_ids(out)
    _pop_auto_ids(ref)
    assert out == ref


# --- valgrind ---------------------------------------------------------------

VALGRIND_CASES = [BT_CORPUS / "succeed" / "multi-domains" / "kernel",
                  REAL_TRACES / "tracecompass-flipping-endianness-qemu-guest"]


@pytest.mark.skipif(not shutil.which("valgrind"), reason="valgrind is not installed")
@pytest.mark.parametrize("trace", VALGRIND_CASES, ids=lambda p: p.name)
def test_valgrind(trace):
    """No error and no definite leak through the copy (with every hook on)."""
    cmd = ["valgrind", "--error-exitcode=99", "--leak-check=full",
           "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
           "babeltrace2", f"--plugin-path={TEST_PLUGINS}", str(trace),
           "-c", "filter.irtest.copy", "-p", "offset-ns=1000", "-p", "add-member=true",
           "-c", "sink.utils.dummy"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    summary = "\n".join(proc.stderr.splitlines()[-30:])
    assert proc.returncode == 0, summary
    assert re.search(r"ERROR SUMMARY: 0 errors", proc.stderr), summary
    assert "definitely lost: 0 bytes" in proc.stderr or "no leaks are possible" in proc.stderr, \
        summary


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))
