# SPDX-License-Identifier: MIT
"""Bad input (issue 7): every case through the `babeltrace2` CLI and through
Python (`bt2` in a subprocess), each a clean failure: a non-zero exit (or a
`bt2._Error`), no signal, and an error message that names the path or the
parameter. Cases that are not errors by design assert the designed
behaviour instead (each says so in a comment).

Cases: every `fail/` trace of Babeltrace's corpus; a stream truncated
mid-packet (a host one, and one guest among several); a metadata syntax
error; an empty directory; a directory without traces; unreadable files and
directories; every parameter of every component with a wrong type, an
unknown value and an unknown name; guest selectors that match nothing; two
traces claiming one guest UUID; guests without a host; a sink `path` that
cannot be opened; the `vmtrace.sync-info` query with bad parameters; a
well-formed trace with a hostile field value (`kvm_x86_exit.vcpu_id`).

A test whose input once drew a sanitizer report sends any report away from
scripts/ci-sanitizers.sh's log directory (`expected_bug_env`).
"""
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import BT_CORPUS, PLUGINS, VMSIM, needs_shared, run_cli, run_python, run_vmsim

pytestmark = pytest.mark.skipif(not (PLUGINS / "babeltrace-plugin-vmsync.so").exists(),
                                reason=f"the plugins are not built in {PLUGINS}")

SRC = "source.vmsync.fs"
TAG = "filter.vmmatch.tag"
SINK = "sink.vmstate.intervals"
DUMMY = "sink.utils.dummy"
FAIL = sorted(p for p in (BT_CORPUS / "fail").iterdir() if p.is_dir()) \
    if (BT_CORPUS / "fail").is_dir() else []
UUID_A = "aaaaaaaa-0000-4000-8000-000000000001"



def expected_bug_env(tmp_path):
    """The environment for a test of a known bug that may draw a sanitizer
    report (under scripts/ci-sanitizers.sh): its reports go to `tmp_path`,
    not to the log directory that fails the sanitizer run."""
    env = dict(os.environ)
    for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if name in env:
            env[name] = re.sub(r"log_path=[^:]*", f"log_path={tmp_path}/expected-bug", env[name])
    return env


# --- Running a graph both ways --------------------------------------------


def cli_value(value):
    """A Python value in the CLI's `--params` syntax."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(cli_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={cli_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def cli_graph_args(components):
    """`-c CLASS -p PARAMS` for each (class, params); a dummy sink if none is given."""
    args = []
    for cls, params in components:
        args += ["-c", cls]
        if params:
            args += ["-p", ",".join(f"{k}={cli_value(v)}" for k, v in params.items())]
    if not components[-1][0].startswith("sink."):
        args += ["-c", DUMMY]
    return args


# The Python side: a bt2.Graph of the same components, connected `out` -> `in`.
# Exit 0: the graph ran; 3: a bt2._Error (its text on stdout); 4: anything else.
PY_GRAPH = r'''
import sys, traceback
import bt2
components = COMPONENTS
plugins = {p.name: p for p in bt2.find_plugins_in_path(PLUGINS, fail_on_load_error=True)}
def find_class(name):
    kind, plugin, comp = name.split(".")
    p = plugins[plugin] if plugin in plugins else bt2.find_plugin(plugin)
    return {"source": p.source_component_classes, "filter": p.filter_component_classes,
            "sink": p.sink_component_classes}[kind][comp]
try:
    if QUERY:
        cls = find_class(components[0][0])
        result = bt2.QueryExecutor(cls, QUERY, components[0][1]).query()
        print("RESULT", result)
    else:
        if not components[-1][0].startswith("sink."):
            components.append(("sink.utils.dummy", None))
        graph = bt2.Graph()
        comps = [graph.add_component(find_class(name), f"c{i}-{name}", params=params,
                                     logging_level=bt2.LoggingLevel.WARNING)
                 for i, (name, params) in enumerate(components)]
        for up, down in zip(comps, comps[1:]):
            graph.connect_ports(up.output_ports["out"], down.input_ports["in"])
        graph.run()
    print("GRAPH-OK")
except bt2._Error as error:
    print("BT2-ERROR", type(error).__name__)
    print(str(error))
    for cause in error:
        print("CAUSE", cause.message)
    sys.exit(3)
except Exception:
    traceback.print_exc(file=sys.stdout)
    sys.exit(4)
'''


def one_line(text):
    """Undoes the CLI's wrapping of long cause lines (paths hold no spaces here)."""
    return re.sub(r"\n\s+", " ", text)


def run_both(components, query=None, env=None, user=None):
    """Runs the graph (or the query of `components[0]`) through the CLI and
    through Python; returns (cli_proc, python_proc)."""
    prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups"] \
        if user is not None else None
    if query:
        cls, params = components[0]
        args = ["query", cls, query]
        if params:
            args += ["-p", ",".join(f"{k}={cli_value(v)}" for k, v in params.items())]
    else:
        args = cli_graph_args(components)
    code = (PY_GRAPH.replace("COMPONENTS", repr([list(c) for c in components]))
            .replace("PLUGINS", repr(str(PLUGINS))).replace("QUERY", repr(query)))
    if prefix:
        cli = subprocess.run(prefix + ["babeltrace2", f"--plugin-path={PLUGINS}"] + args,
                             capture_output=True, text=True, errors="replace", env=env,
                             timeout=300)
        py = subprocess.run(prefix + ["/usr/bin/python3", "-c", code], capture_output=True,
                            text=True, errors="replace", env=env, timeout=300)
        for proc in (cli, py):
            assert proc.returncode >= 0, f"killed by signal {-proc.returncode}\n{proc.stderr}"
    else:
        cli = run_cli(args, env=env, timeout=300)
        py = run_python(code, env=env, timeout=300)
    return cli, py


def assert_fails(components, needles, query=None, **kwargs):
    """Both ways fail cleanly, and the message names one of `needles`."""
    cli, py = run_both(components, query=query, **kwargs)
    cli_text = one_line(cli.stderr)
    assert cli.returncode == 1, f"CLI: exit {cli.returncode}\n{cli.stderr[-3000:]}"
    assert any(n in cli_text for n in needles), \
        f"CLI: none of {needles} in the error:\n{cli.stderr[-3000:]}"
    assert py.returncode == 3 and "BT2-ERROR" in py.stdout, \
        f"Python: exit {py.returncode}\n{py.stdout[-3000:]}\n{py.stderr[-2000:]}"
    assert any(n in py.stdout for n in needles), \
        f"Python: none of {needles} in the bt2._Error:\n{py.stdout[-3000:]}"
    return cli, py


def assert_succeeds(components, query=None, **kwargs):
    cli, py = run_both(components, query=query, **kwargs)
    assert cli.returncode == 0, f"CLI: exit {cli.returncode}\n{cli.stderr[-3000:]}"
    assert py.returncode == 0 and "GRAPH-OK" in py.stdout, \
        f"Python: exit {py.returncode}\n{py.stdout[-3000:]}\n{py.stderr[-2000:]}"
    return cli, py


def src(inputs, **params):
    params = {"inputs": [str(p) for p in inputs], **params}
    return (SRC, params)


def full_chain(inputs, sink_params=None, **params):
    return [src(inputs, **params), (TAG, None), (SINK, sink_params or {"format": "csv"})]


# --- Trace fixtures ---------------------------------------------------------


@pytest.fixture(scope="session")
def sim_traces(tmp_path_factory):
    """A small simulator sample (host + vm-web + vm-db), never modified."""
    if not VMSIM.exists():
        pytest.skip(f"{VMSIM} is not built")
    out = tmp_path_factory.mktemp("bad-input-sim")
    run_vmsim(out, "--duration-ms", 300, "--truth=none")
    return out / "traces"


@pytest.fixture(scope="session")
def sim_nosync_traces(tmp_path_factory):
    """A simulator sample without vmsync exchanges nor product_uuid (`vmuid`, sync=none)."""
    if not VMSIM.exists():
        pytest.skip(f"{VMSIM} is not built")
    out = tmp_path_factory.mktemp("bad-input-sim-nosync")
    run_vmsim(out, "--scenario", "vmuid", "--set", "sync=none", "--duration-ms", 200,
              "--truth=none")
    return out / "traces"


def kernel_trace(root, machine):
    """The kernel trace directory of `machine` under a simulator `traces/`."""
    (path,) = (root / machine).glob("*/kernel")
    return path


@pytest.fixture
def sim_copy(sim_traces, tmp_path):
    """A private, writable copy of the simulator sample."""
    dest = tmp_path / "traces"
    shutil.copytree(sim_traces, dest)
    return dest


def stream_files(trace):
    return sorted(p for p in trace.iterdir() if p.is_file() and p.name != "metadata"
                  and not p.name.startswith("."))


# --- Corpus `fail/` traces --------------------------------------------------


@needs_shared()
@pytest.mark.parametrize("trace", FAIL, ids=[p.name for p in FAIL])
def test_corpus_fail(trace):
    """Every trace src.ctf.fs rejects: an error naming the trace, never a crash."""
    assert_fails([src([trace])], [str(trace)])


@needs_shared()
@pytest.mark.parametrize("trace", FAIL[:1] + FAIL[-1:], ids=lambda p: p.name)
def test_corpus_fail_full_chain(trace):
    """The same through the filter and the sink."""
    assert_fails(full_chain([trace]), [str(trace)])


# --- Damaged traces ---------------------------------------------------------


def test_truncated_host_stream(sim_copy):
    """A host stream file cut mid-packet: the trace cannot be read (src.ctf.fs
    rejects its index at initialization); error naming the trace."""
    host = kernel_trace(sim_copy, "kvm-host")
    stream = stream_files(host)[0]
    os.truncate(stream, stream.stat().st_size // 2 + 1)
    assert_fails(full_chain([sim_copy]), [str(host)])


def test_truncated_guest_among_several(sim_copy):
    """One guest trace cut mid-packet among a host and two guests. Designed:
    fail the whole graph, naming that trace, rather than silently analysing
    the others (output missing a VM would look complete); the user can drop
    the damaged trace from `inputs`."""
    guest = kernel_trace(sim_copy, "vm-web")
    stream = stream_files(guest)[-1]
    os.truncate(stream, stream.stat().st_size - 1000)
    assert_fails(full_chain([sim_copy]), [str(guest)])
    # Without it, the analysis goes on.
    shutil.rmtree(sim_copy / "vm-web")
    assert_succeeds(full_chain([sim_copy]))


def test_truncated_to_empty_stream(sim_copy):
    """A zero-byte stream file (a tracer killed before its first flush) is what
    src.ctf.fs reads as no packet: designed to be read like src.ctf.fs does
    (the other streams go on)."""
    guest = kernel_trace(sim_copy, "vm-db")
    os.truncate(stream_files(guest)[0], 0)
    ref = run_cli([guest, "-c", "sink.utils.counter", "-p", "step=+0"], plugin_paths=())
    if ref.returncode != 0:
        # src.ctf.fs itself rejects it: then vmtrace must fail too, naming the trace.
        assert_fails(full_chain([sim_copy]), [str(guest)])
    else:
        assert_succeeds(full_chain([sim_copy]))


def test_metadata_syntax_error(sim_copy):
    guest = kernel_trace(sim_copy, "vm-db")
    with open(guest / "metadata", "a") as metadata:
        metadata.write("\nevent { name = ; fields := struct { {{{ };\n")
    assert_fails(full_chain([sim_copy]), [str(guest)])


def test_metadata_empty(sim_copy):
    host = kernel_trace(sim_copy, "kvm-host")
    (host / "metadata").write_bytes(b"")
    assert_fails(full_chain([sim_copy]), [str(host)])


def test_metadata_garbage_binary(sim_copy):
    """Random bytes where the metadata should be (not the packetized magic)."""
    host = kernel_trace(sim_copy, "kvm-host")
    (host / "metadata").write_bytes(bytes(range(256)) * 4)
    assert_fails(full_chain([sim_copy]), [str(host)])


def test_stream_garbage(sim_copy):
    """A stream file overwritten with bytes that are no CTF packet (bad magic)."""
    guest = kernel_trace(sim_copy, "vm-web")
    stream = stream_files(guest)[0]
    stream.write_bytes(b"\xde\xad\xbe\xef" * 4096)
    assert_fails(full_chain([sim_copy]), [str(guest)])


# --- Directories ------------------------------------------------------------


def test_empty_directory(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_fails(full_chain([empty]), [str(empty)])


def test_directory_without_traces(tmp_path):
    """Files and subdirectories, but no `metadata` anywhere."""
    root = tmp_path / "no-traces"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "notes.txt").write_text("not a trace\n")
    (root / "a" / "b" / "channel0_0").write_bytes(b"\0" * 64)
    assert_fails(full_chain([root]), [str(root)])


def test_missing_path(tmp_path):
    missing = tmp_path / "does-not-exist"
    assert_fails(full_chain([missing]), [str(missing)])


def test_input_is_a_file(tmp_path):
    regular = tmp_path / "file.ctf"
    regular.write_text("x")
    assert_fails(full_chain([regular]), [str(regular)])


def test_one_bad_input_among_good_ones(sim_traces, tmp_path):
    """A good host/guest set plus a missing path: designed as an error (a
    mistyped input is not silently ignored)."""
    missing = tmp_path / "typo"
    assert_fails(full_chain([sim_traces, missing]), [str(missing)])


def test_metadata_is_a_directory(sim_copy):
    """A `metadata` that is a directory is no trace: the parent is searched as
    a plain directory; a lone such directory holds no trace -> error."""
    guest = kernel_trace(sim_copy, "vm-db")
    (guest / "metadata").unlink()
    (guest / "metadata").mkdir()
    assert_fails(full_chain([guest]), [str(guest)])


# --- Unreadable files -------------------------------------------------------

NOBODY = 65534


@pytest.fixture
def open_tmp():
    """A temporary directory that `nobody` can traverse (pytest's own is 0700)."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="vmtrace-bad-input-"))
    path.chmod(0o755)
    yield path
    for sub in [path] + list(path.rglob("*")):
        if not sub.is_symlink():
            sub.chmod(0o755 if sub.is_dir() else 0o644)
    shutil.rmtree(path)


def _readable_copy(src_dir, dest):
    shutil.copytree(src_dir, dest)
    for path in [dest] + list(dest.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return dest


def _user_for_unreadable():
    """Who the run is as: None (self) when not root, else `nobody` through
    setpriv (root reads mode-000 files anyway); skip if neither works."""
    if os.geteuid() != 0:
        return None
    if not shutil.which("setpriv"):
        pytest.skip("running as root (mode 000 does not stop root) and setpriv is missing")
    probe = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                            "test", "-r", str(PLUGINS / "babeltrace-plugin-vmsync.so")])
    if probe.returncode != 0:
        pytest.skip(f"running as root, and `nobody` cannot read the plugins in {PLUGINS}")
    return NOBODY


@pytest.mark.parametrize("what", ["stream", "metadata", "directory"])
def test_unreadable(sim_traces, open_tmp, what):
    """A stream file, a metadata file or a directory that cannot be read (as
    root: run as `nobody`): an error naming it (or its trace)."""
    user = _user_for_unreadable()
    traces = _readable_copy(sim_traces, open_tmp / "traces")
    guest = kernel_trace(traces, "vm-web")
    target = {"stream": stream_files(guest)[0], "metadata": guest / "metadata",
              "directory": guest.parent}[what]
    target.chmod(0)
    env = dict(os.environ, HOME=str(open_tmp))
    assert_fails(full_chain([traces]), [str(target), str(guest)], env=env, user=user)


# --- Parameters ---------------------------------------------------------------

# (id, params beyond `inputs`, the parameter the message must name)
SRC_BAD_PARAMS = [
    ("inputs-missing", None, "`inputs`"),
    ("inputs-type-int", {"inputs": 42}, "`inputs`"),
    ("inputs-type-string", {"inputs": "traces"}, "`inputs`"),
    ("inputs-type-map", {"inputs": {"a": "b"}}, "`inputs`"),
    ("inputs-empty", {"inputs": []}, "`inputs`"),
    ("inputs-element-type", {"inputs": ["TRACES", 42]}, "`inputs[1]`"),
    ("sync-type", {"sync": 3}, "`sync`"),
    ("sync-type-bool", {"sync": True}, "`sync`"),
    ("sync-unknown", {"sync": "ntp"}, "`sync`"),
    ("offsets-type", {"offsets": "vm-web=5"}, "`offsets`"),
    ("offsets-type-array", {"offsets": [5]}, "`offsets`"),
    ("offsets-value-type", {"offsets": {"vm-web": "5"}}, "offsets"),
    ("offsets-value-type-bool", {"offsets": {"vm-web": True}}, "offsets"),
    ("guest-uuids-type", {"guest-uuids": UUID_A}, "`guest-uuids`"),
    ("guest-uuids-value-type", {"guest-uuids": {"vm-web": 5}}, "guest-uuids"),
    ("host-type", {"host": 5}, "`host`"),
    ("host-type-array", {"host": ["x"]}, "`host`"),
    ("host-unknown", {"host": "/no/such/host/trace"}, "`host`"),
    ("unknown-name", {"synk": "auto"}, "synk"),
    ("unknown-name-2", {"input": ["TRACES"]}, "input"),
]


def _fill(params, traces):
    if params is None:
        return {}
    out = {"inputs": [str(traces)], **params}
    if isinstance(out["inputs"], list):
        out["inputs"] = [str(traces) if v == "TRACES" else v for v in out["inputs"]]
    return out


@pytest.mark.parametrize("case", SRC_BAD_PARAMS, ids=[c[0] for c in SRC_BAD_PARAMS])
def test_source_bad_param(sim_traces, case):
    _, params, needle = case
    assert_fails([(SRC, _fill(params, sim_traces) or None)], [needle])


@pytest.mark.parametrize("case", SRC_BAD_PARAMS, ids=[c[0] for c in SRC_BAD_PARAMS])
def test_query_bad_param(sim_traces, case):
    """`vmtrace.sync-info` validates the same parameters the same way."""
    _, params, needle = case
    assert_fails([(SRC, _fill(params, sim_traces) or None)], [needle], query="vmtrace.sync-info")


def test_query_missing_path(tmp_path):
    missing = tmp_path / "nothing-here"
    assert_fails([src([missing])], [str(missing)], query="vmtrace.sync-info")


def test_query_unknown_object(sim_traces):
    """Designed: an unknown query object is Babeltrace's "unknown object"
    status (CLI exit 1; Python `bt2.UnknownObject`, not an error cause)."""
    cli, py = run_both([src([sim_traces])], query="vmtrace.no-such-object")
    assert cli.returncode == 1 and "vmtrace.no-such-object" in one_line(cli.stderr), cli.stderr
    assert py.returncode == 4 and "UnknownObject" in py.stdout, py.stdout


@pytest.mark.parametrize("params", [{"bogus": 1}, {"format": "csv"}, {"inputs": ["x"]}],
                         ids=["bogus", "format", "inputs"])
def test_filter_unknown_param(sim_traces, params):
    """The filter takes no parameter: any name is unknown."""
    name = next(iter(params))
    assert_fails([src([sim_traces]), (TAG, params)], [name])


SINK_BAD_PARAMS = [
    ("format-type", {"format": 1}, "`format`"),
    ("format-type-array", {"format": ["csv"]}, "`format`"),
    ("format-unknown", {"format": "xml"}, "`format`"),
    ("format-case", {"format": "CSV"}, "`format`"),
    ("path-type", {"path": 1}, "`path`"),
    ("path-type-bool", {"path": False}, "`path`"),
    ("view-type", {"view": 2}, "`view`"),
    ("view-unknown", {"view": "vm"}, "`view`"),
    ("unknown-name", {"fromat": "csv"}, "fromat"),
]


@pytest.mark.parametrize("case", SINK_BAD_PARAMS, ids=[c[0] for c in SINK_BAD_PARAMS])
def test_sink_bad_param(sim_traces, case):
    _, params, needle = case
    assert_fails(full_chain([sim_traces], sink_params=params), [needle])


@pytest.mark.parametrize("kind", ["missing-dir", "is-dir", "empty"])
def test_sink_path_cannot_open(sim_traces, tmp_path, kind):
    path = {"missing-dir": str(tmp_path / "no" / "such" / "dir" / "out.csv"),
            "is-dir": str(tmp_path),
            "empty": ""}[kind]
    cli, py = assert_fails(full_chain([sim_traces], sink_params={"format": "csv", "path": path}),
                           ["`path`"])
    if path:
        assert path in one_line(cli.stderr) and path in py.stdout


@pytest.mark.parametrize("fmt", ["csv", "text", "chrome"])
def test_sink_disk_full(sim_traces, fmt):
    """A write that fails at the end names the output path and the error."""
    assert_fails(full_chain([sim_traces], sink_params={"format": fmt, "path": "/dev/full"}),
                 ['path="/dev/full"', "No space left on device"])


def test_sink_path_unwritable_as_user(sim_traces, open_tmp):
    """A read-only directory (as `nobody` when running as root)."""
    user = _user_for_unreadable()
    ro = open_tmp / "ro"
    ro.mkdir(mode=0o555)
    traces = _readable_copy(sim_traces, open_tmp / "t")
    out = ro / "out.csv"
    assert_fails(full_chain([traces], sink_params={"format": "csv", "path": str(out)}),
                 [str(out)], user=user, env=dict(os.environ, HOME=str(open_tmp)))


# --- Guest selectors, UUIDs, hosts ------------------------------------------


def test_offsets_selector_matches_nothing(sim_traces):
    assert_fails([src([sim_traces], offsets={"no-such-guest": 5})],
                 ['offsets{"no-such-guest"}'])


def test_offsets_selector_names_host(sim_traces):
    assert_fails([src([sim_traces], offsets={"kvm-host": 5})], ['offsets{"kvm-host"}'])


def test_guest_uuids_selector_matches_nothing(sim_traces):
    assert_fails([src([sim_traces], **{"guest-uuids": {"no-such-guest": UUID_A}})],
                 ['guest-uuids{"no-such-guest"}'])


def test_guest_uuids_selector_names_host(sim_traces):
    assert_fails([src([sim_traces], **{"guest-uuids": {"kvm-host": UUID_A}})],
                 ['guest-uuids{"kvm-host"}'])


def test_guest_uuids_bad_uuid(sim_nosync_traces):
    assert_fails([src([sim_nosync_traces], **{"guest-uuids": {"vm-web": "not-a-uuid"}})],
                 ['guest-uuids{"vm-web"}'])


def test_query_selector_matches_nothing(sim_traces):
    assert_fails([src([sim_traces], offsets={"no-such-guest": 5})],
                 ['offsets{"no-such-guest"}'], query="vmtrace.sync-info")


def test_guest_uuids_ignored_when_product_uuid(sim_traces):
    """Designed: a guest whose metadata has a `product_uuid` keeps it; the
    parameter is ignored with a warning naming it."""
    cli, py = assert_succeeds(
        [src([sim_traces], **{"guest-uuids": {"vm-web": UUID_A}}), (TAG, None)])
    assert 'guest-uuids{"vm-web"}' in cli.stderr
    assert 'guest-uuids{"vm-web"}' in py.stderr


def test_offsets_selector_by_path(sim_traces):
    """Designed: a selector may be a trace path (Python only: the CLI's map
    keys cannot hold a `/`)."""
    guest = kernel_trace(sim_traces, "vm-web")
    code = (PY_GRAPH.replace("COMPONENTS", repr([[SRC, {"inputs": [str(sim_traces)],
                                                         "offsets": {str(guest): 1000}}]]))
            .replace("PLUGINS", repr(str(PLUGINS))).replace("QUERY", repr(None)))
    proc = run_python(code)
    assert proc.returncode == 0 and "GRAPH-OK" in proc.stdout, proc.stdout + proc.stderr


def _set_product_uuid(trace, uuid):
    metadata = trace / "metadata"
    text = metadata.read_text()
    new, count = re.subn(r'product_uuid = "[0-9a-fA-F-]{36}"', f'product_uuid = "{uuid}"', text)
    assert count == 1
    metadata.write_text(new)


def test_two_traces_same_product_uuid(sim_copy):
    """vm-db's metadata claims vm-web's product_uuid: two machines, one UUID."""
    web = kernel_trace(sim_copy, "vm-web")
    db = kernel_trace(sim_copy, "vm-db")
    uuid = re.search(r'product_uuid = "([0-9a-f-]{36})"', (web / "metadata").read_text())[1]
    _set_product_uuid(db, uuid)
    assert_fails(full_chain([sim_copy]), [uuid])
    cli, _ = run_both(full_chain([sim_copy]))
    text = one_line(cli.stderr)
    assert str(web) in text and str(db) in text


def test_two_traces_same_guest_uuid_param(sim_nosync_traces):
    """`guest-uuids` giving two guests one UUID."""
    params = {"guest-uuids": {"vm-web": UUID_A, "vm-db": UUID_A}, "sync": "clock"}
    assert_fails(full_chain([sim_nosync_traces], **params), [UUID_A])


def test_two_copies_of_one_guest_trace(sim_traces, tmp_path):
    """Designed: two copies of one trace (same trace UUID) are chunks of one
    trace, as the CLI reads them: one src.ctf.fs, duplicate packets merged.
    The event count equals `babeltrace2 COPY1 COPY2 HOST`'s."""
    guest = sim_traces / "vm-web"
    root = tmp_path / "dup"
    shutil.copytree(guest, root / "a")
    shutil.copytree(guest, root / "b")
    shutil.copytree(sim_traces / "kvm-host", root / "h")

    def count(args):
        proc = run_cli(args + ["-c", "sink.utils.counter", "-p", "step=+0"])
        assert proc.returncode == 0, proc.stderr[-3000:]
        return int(re.search(r"(\d+) Event messages", proc.stdout)[1])

    ref = count([root / "a", root / "b", root / "h"])
    assert ref == count([root / "a", root / "h"])
    assert count(["-c", SRC, "-p", f"inputs={cli_value([str(root)])}"]) == ref
    # The same input given twice: read once.
    assert count(["-c", SRC, "-p", f"inputs={cli_value([str(root), str(root)])}"]) == ref
    assert_succeeds(full_chain([root]))


def test_guests_without_host(sim_traces, tmp_path):
    """Guest traces only: no host to sync with or to tag from: an error naming
    a guest trace and the way out."""
    root = tmp_path / "guests"
    shutil.copytree(sim_traces / "vm-web", root / "vm-web")
    shutil.copytree(sim_traces / "vm-db", root / "vm-db")
    cli, _ = assert_fails(full_chain([root]), [str(root)])
    assert "sync=\"none\"" in one_line(cli.stderr)
    for sync in ("auto", "hypercall", "clock"):
        assert_fails([src([root], sync=sync)], [str(root)])


def test_guests_without_host_sync_none(sim_traces, tmp_path):
    """Designed: with `sync="none"` guests are emitted untouched, no host needed;
    the filter passes them through, the sink writes an empty table."""
    root = tmp_path / "guests"
    shutil.copytree(sim_traces / "vm-web", root / "vm-web")
    out = tmp_path / "out.csv"
    assert_succeeds(full_chain([root], sink_params={"format": "csv", "path": str(out)},
                               sync="none"))
    assert out.read_text().count("\n") == 1  # the header only


def test_hypercall_sync_without_exchanges(sim_nosync_traces):
    """`sync="hypercall"` with guests that have no vmsync exchange: an error
    naming the guest and the parameter (SPEC §2); `auto` falls back to clock."""
    assert_fails([src([sim_nosync_traces], sync="hypercall")], ['sync="hypercall"'])
    cli, py = assert_succeeds([src([sim_nosync_traces], sync="auto")])


def test_host_param_names_a_guest(sim_traces):
    """Designed: `host` forces the host role, even onto a guest trace (SPEC §2
    "unless `host` says otherwise"): vm-web becomes the host, the real host
    and vm-db its guests, which cannot use hypercall sync (a warning naming
    them) and fall back to their clocks; no vCPU row comes out."""
    guest = kernel_trace(sim_traces, "vm-web")
    cli, py = assert_succeeds(full_chain([sim_traces], host=str(guest)))
    assert 'falling back to its recorded clock' in one_line(cli.stderr)
    assert 'machine="kvm-host"' in one_line(cli.stderr)
    assert cli.stdout.count("\n") == 1  # the CSV header only


def test_host_param_is_the_inputs_root(sim_traces):
    """Designed: `host` naming a directory that holds every trace makes every
    machine a host; no guest is left, nothing is converted."""
    assert_succeeds(full_chain([sim_traces], host=str(sim_traces)))


def test_sync_windows(sim_traces):
    """`sync="windows"` is a SPEC value. Designed for now: an error naming
    `sync` and saying it is not implemented; once it is, it must run."""
    cli, py = run_both([src([sim_traces], sync="windows")])
    if cli.returncode == 0:
        assert py.returncode == 0
    else:
        assert cli.returncode == 1 and py.returncode == 3
        for text in (one_line(cli.stderr), py.stdout):
            assert "`sync`" in text and "not implemented" in text


@pytest.mark.parametrize("offset", [2**63 - 1, -2**63], ids=["max", "min"])
def test_offsets_out_of_range(sim_traces, tmp_path, offset):
    """Designed: rejected with an error naming `offsets{...}` (SPEC §2: a bad
    parameter fails naming it), rather than collapsing a guest onto one time."""
    assert_fails([src([sim_traces], offsets={"vm-web": offset})], ['offsets{"vm-web"}'],
                 env=expected_bug_env(tmp_path))


def test_offsets_beyond_int64(sim_traces):
    """An integer beyond the signed 64-bit range: the CLI's parser and bt2
    reject it before vmtrace sees it (CLI exit 1 naming the value; Python
    ValueError)."""
    cli, py = run_both([src([sim_traces], offsets={"vm-web": 2**64 - 1})])
    assert cli.returncode == 1 and "18446744073709551615" in cli.stderr
    assert py.returncode == 4 and "ValueError" in py.stdout


def test_two_hosts_ambiguous(sim_traces, tmp_path):
    """Designed: two host machines in `inputs` are allowed (SPEC §2)."""
    other = tmp_path / "other"
    run_vmsim(other, "--duration-ms", 200, "--truth=none", "--seed", 7,
              "--set", "hostname=kvm-host-2", "--set", "vms=vm-x:1")
    assert_succeeds(full_chain([sim_traces, other / "traces"]))


# --- Well-formed traces with hostile field values ---------------------------

# A Python source writing a 5-event LTTng-like host kernel trace through
# sink.ctf.fs: a vCPU thread with a plain name (so that the index comes from
# `kvm_x86_exit.vcpu_id`), switched in, one entry, one exit with VCPU_ID.
HOST_TRACE_WRITER = r"""
import sys
import bt2
out, vcpu_id = sys.argv[1], int(sys.argv[2])

class Iter(bt2._UserMessageIterator):
    def __init__(self, config, port):
        tc, sc, ecs = port.user_data
        trace = tc(environment={"hostname": "kvm-host", "domain": "kernel",
                                "tracer_name": "lttng-modules", "tracer_major": 2,
                                "tracer_minor": 13})
        stream = trace.create_stream(sc)
        packet = stream.create_packet()
        packet.context_field["cpu_id"] = 0
        msgs = [self._create_stream_beginning_message(stream),
                self._create_packet_beginning_message(packet, 100)]
        def event(ev_name, ts, **fields):
            msg = self._create_event_message(ecs[ev_name], packet, ts)
            for key, value in fields.items():
                msg.event.payload_field[key] = value
            return msg
        msgs += [
            event("lttng_statedump_process_state", 100, tid=101, pid=100, name="qemu-system-x86"),
            event("sched_switch", 200, prev_comm="swapper/0", prev_tid=0, prev_prio=20,
                  prev_state=0, next_comm="qemu-system-x86", next_tid=101, next_prio=20),
            event("kvm_x86_entry", 300, vcpu_id=0),
            event("kvm_x86_exit", 400, exit_reason=1, guest_rip=0, isa=1, info1=0, info2=0,
                  vcpu_id=vcpu_id),
            event("sched_switch", 500, prev_comm="qemu-system-x86", prev_tid=101, prev_prio=20,
                  prev_state=0, next_comm="swapper/0", next_tid=0, next_prio=20),
            self._create_packet_end_message(packet, 600),
            self._create_stream_end_message(stream)]
        self._it = iter(msgs)

    def __next__(self):
        return next(self._it)

class Source(bt2._UserSourceComponent, message_iterator_class=Iter):
    def __init__(self, config, params, obj):
        tc = self._create_trace_class()
        cc = self._create_clock_class(frequency=1000000000, name="monotonic",
                                      origin_is_unix_epoch=True)
        def struct(*members):
            fc = tc.create_structure_field_class()
            for name, member in members:
                fc.append_member(name, member)
            return fc
        u32 = lambda: tc.create_unsigned_integer_field_class(32)
        u64 = lambda: tc.create_unsigned_integer_field_class(64)
        s32 = lambda: tc.create_signed_integer_field_class(32)
        s64 = lambda: tc.create_signed_integer_field_class(64)
        string = tc.create_string_field_class
        sc = tc.create_stream_class(
            default_clock_class=cc, supports_packets=True,
            packet_context_field_class=struct(("cpu_id", u32())),
            packets_have_beginning_default_clock_snapshot=True,
            packets_have_end_default_clock_snapshot=True)
        payloads = {
            "lttng_statedump_process_state": struct(("tid", s32()), ("pid", s32()),
                                                    ("name", string())),
            "sched_switch": struct(("prev_comm", string()), ("prev_tid", s32()),
                                   ("prev_prio", s32()), ("prev_state", s64()),
                                   ("next_comm", string()), ("next_tid", s32()),
                                   ("next_prio", s32())),
            "kvm_x86_entry": struct(("vcpu_id", u32())),
            "kvm_x86_exit": struct(("exit_reason", u32()), ("guest_rip", u64()), ("isa", u32()),
                                   ("info1", u64()), ("info2", u64()), ("vcpu_id", u32())),
        }
        ecs = {name: sc.create_event_class(name=name, payload_field_class=fc)
               for name, fc in payloads.items()}
        self._add_output_port("out", (tc, sc, ecs))

graph = bt2.Graph()
src = graph.add_component(Source, "src")
sink = graph.add_component(bt2.find_plugin("ctf").sink_component_classes["fs"], "sink",
                           params={"path": out, "assume-single-trace": True})
graph.connect_ports(src.output_ports["out"], sink.input_ports["in"])
graph.run()
"""


def write_host_trace(path, vcpu_id):
    proc = subprocess.run(["/usr/bin/python3", "-c", HOST_TRACE_WRITER, str(path), str(vcpu_id)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return path


def test_exit_vcpu_id_plain(tmp_path):
    """The writer's trace, with an ordinary vCPU index: one vCPU, rows."""
    trace = write_host_trace(tmp_path / "host", 3)
    cli, py = assert_succeeds(full_chain([trace]))
    assert "pid:100,,3,running,300,400," in cli.stdout


@pytest.mark.parametrize("vcpu_id", [0xffffffff, 0x80000000], ids=["u32-max", "2^31"])
def test_exit_vcpu_id_hostile(tmp_path, vcpu_id):
    """Designed: a field value that cannot be a vCPU index is ignored (as an
    entry's pointer-like `vcpu_id` is); no crash, the analysis goes on."""
    trace = write_host_trace(tmp_path / "host", vcpu_id)
    assert_succeeds(full_chain([trace]), env=expected_bug_env(tmp_path))


def _two_guests_named_guest(traces, root):
    """The host, and both guests' kernel traces in directories named `guest`:
    the selector "guest" names two guests."""
    shutil.copytree(kernel_trace(traces, "kvm-host"), root / "h" / "kernel")
    shutil.copytree(kernel_trace(traces, "vm-web"), root / "a" / "guest")
    shutil.copytree(kernel_trace(traces, "vm-db"), root / "b" / "guest")
    return root


def test_guest_uuids_selector_ambiguous(sim_nosync_traces, tmp_path):
    """A `guest-uuids` selector matching two guests: an error naming the
    parameter, the selector, "ambiguous" and both traces, not the first
    guest silently."""
    root = _two_guests_named_guest(sim_nosync_traces, tmp_path / "two")
    cli, py = assert_fails([src([root], **{"guest-uuids": {"guest": UUID_A}}, sync="none")],
                           ["ambiguous"])
    for text in (one_line(cli.stderr), py.stdout):
        assert 'guest-uuids{"guest"}' in text
        assert str(root / "a" / "guest") in text and str(root / "b" / "guest") in text


def test_query_selector_ambiguous(sim_nosync_traces, tmp_path):
    """The same through the `vmtrace.sync-info` query."""
    root = _two_guests_named_guest(sim_nosync_traces, tmp_path / "two")
    cli, py = assert_fails([src([root], **{"guest-uuids": {"guest": UUID_A}})],
                           ["ambiguous"], query="vmtrace.sync-info")
    assert 'guest-uuids{"guest"}' in one_line(cli.stderr) and 'guest-uuids{"guest"}' in py.stdout


def test_offsets_selector_ambiguous(sim_nosync_traces, tmp_path):
    """An `offsets` selector matching two guests fails, naming it, instead of
    shifting the first guest only."""
    root = _two_guests_named_guest(sim_nosync_traces, tmp_path / "two")
    assert_fails([src([root], offsets={"guest": 5}, sync="none")],
                 ['offsets{"guest"}', "ambiguous"])


def test_offsets_selector_names_no_guest(sim_traces, tmp_path):
    """Guest traces without their host have no guest role: an offset for one
    would be silently ignored, so it is refused, saying why."""
    root = tmp_path / "alone"
    shutil.copytree(sim_traces / "vm-web", root / "vm-web")
    assert_fails([src([root], offsets={"vm-web": 5}, sync="none")],
                 ['offsets{"vm-web"}', "no guest"])
