# SPDX-License-Identifier: MIT
"""vmtrace-kvm-monitor (issue 10): the QEMU pid <-> VM UUID events on stock LTTng.

The fixture tests need no KVM: `--debugfs DIR` and `--proc DIR` stand for
`/sys/kernel/debug` and `/proc`. A real `lttng-sessiond` (Debian's
lttng-tools, without kernel tracing) records the monitor's UST events; the
recorded traces are read back with `src.ctf.fs`, and one of them, joined to
a simulated host kernel trace (tools/vmsim), must let the host model name
every VM with its UUID. Where `/dev/kvm` and debugfs work, a real QEMU VM is
started and killed during a recording.

The session daemon: as root, lttng-tools 2.13 only knows /var/run/lttng
(there is no LTTNG_RUNDIR), so the tests use the root session daemon that
already runs, or start one and stop it at the end of the module; sessions
have names of their own. As another user, a private daemon lives under
LTTNG_HOME (a temporary directory).

With `CI` set, a missing lttng-tools or monitor binary fails the fixture
tests instead of skipping them.
"""
import csv
import datetime
import fcntl
import itertools
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
import warnings

import pytest

from conftest import BUILD, run_cli, run_python, run_vmsim

MONITOR = BUILD / "tools" / "vmtrace-kvm-monitor"
IN_CI = bool(os.environ.get("CI"))
ROOT_RUNDIR = pathlib.Path("/var/run/lttng")
DEBUGFS_KVM = pathlib.Path("/sys/kernel/debug/kvm")
QEMU = "qemu-system-x86_64"
# `_IO(KVMIO, 0x00)`: answers 12 wherever KVM works.
KVM_GET_API_VERSION = 0xAE00

_sessions = itertools.count()
# scripts/ci-sanitizers.sh preloads the ASan/UBSan runtimes into every test
# process; lttng-tools, QEMU and valgrind are not ours to check.
SANITIZER_VARIABLES = ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")
UNDER_SANITIZERS = bool(os.environ.get("VMTRACE_SANITIZER_RUN")) or "asan" in os.environ.get(
    "LD_PRELOAD", "")


def foreign_env(**extra):
    """The environment for programs that are not vmtrace's."""
    env = {k: v for k, v in os.environ.items() if k not in SANITIZER_VARIABLES}
    env.update(extra)
    return env


def require(condition, reason):
    """Skips (fails under CI) when a fixture test cannot run."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason}; CI is set, so the fixture tests must run")
    pytest.skip(reason)


def skip_loudly(reason):
    """Skips with the reason in the run's output (`-q` hides skip reasons)."""
    warnings.warn(f"live QEMU test skipped: {reason}", UserWarning)
    pytest.skip(reason)


def require_monitor():
    require(MONITOR.is_file(), f"{MONITOR} is not built (needs Debian's liblttng-ust-dev and "
            "libudev-dev at configure time)")


# --- fixtures on disk ---------------------------------------------------------------------

def make_fixture(root, vms):
    """`vms`: (pid, fd, cmdline args or None) -> DIR/debugfs/kvm/<pid>-<fd>, DIR/proc/<pid>/cmdline."""
    debugfs, proc = root / "debugfs", root / "proc"
    (debugfs / "kvm").mkdir(parents=True)
    proc.mkdir()
    # KVM's own statistics files sit next to the VM directories.
    (debugfs / "kvm" / "exits").write_text("0\n")
    for pid, fd, args in vms:
        add_vm(root, pid, fd, args)
    return debugfs, proc


def add_vm(root, pid, fd, args):
    if args is not None:
        (root / "proc" / str(pid)).mkdir(exist_ok=True)
        (root / "proc" / str(pid) / "cmdline").write_bytes(
            b"".join(a.encode() + b"\0" for a in args))
    (root / "debugfs" / "kvm" / f"{pid}-{fd}").mkdir()


def qemu_args(*extra):
    return ["/usr/bin/qemu-system-x86_64", "-enable-kvm", "-m", "64", *extra]


# --- the monitor --------------------------------------------------------------------------

EMITTED = re.compile(r'Emitted event: name=(\w+), pid=(\d+)(?:, uuid="([^"]*)")?')


def emitted(text):
    """The events a `--verbose` monitor logged: [(name, pid, uuid or None)]."""
    return [(m[1], int(m[2]), m[3]) for m in EMITTED.finditer(text)]


class Monitor:
    """A monitor running in the background, `--verbose`, its stderr in a file."""

    def __init__(self, tmp_path, args, env=None):
        self.log_path = tmp_path / f"monitor-{next(_sessions)}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([str(MONITOR), "--verbose", *args], env=env,
                                     stdout=subprocess.DEVNULL, stderr=self.log)

    def text(self):
        return self.log_path.read_text(errors="replace")

    def wait_for(self, predicate, what, timeout=20, watch=None):
        """Waits until the log satisfies `predicate`; fails if the monitor (or
        `watch`, a (process, log path) pair) exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.text()):
                return
            assert self.proc.poll() is None, f"monitor exited early:\n{self.text()}"
            if watch and watch[0].poll() is not None:
                pytest.fail(f"{watch[0].args[0]} exited ({watch[0].returncode}) while waiting "
                            f"for {what}:\n{watch[1].read_text(errors='replace')[-3000:]}")
            time.sleep(0.02)
        pytest.fail(f"timed out waiting for {what}; monitor log:\n{self.text()}")

    def wait_for_event(self, name, pid, count=1, watch=None):
        self.wait_for(lambda t: sum(e[:2] == (name, pid) for e in emitted(t)) >= count,
                      f"{count} x {name} pid={pid}", watch=watch)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        status = self.proc.wait(timeout=30)
        self.log.close()
        return status


# --- LTTng --------------------------------------------------------------------------------

def process_is_gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


class Lttng:
    """The `lttng` command line and the session daemon it talks to."""

    def __init__(self, home):
        # The monitor registers with the session daemon that this LTTNG_HOME leads to.
        self.monitor_env = dict(os.environ, LTTNG_HOME=str(home))
        self.env = foreign_env(LTTNG_HOME=str(home))
        self.rundir = ROOT_RUNDIR if os.geteuid() == 0 else home / ".lttng"
        self.started_pid = None

    def run(self, *args, check=True):
        proc = subprocess.run(["lttng", *args], env=self.env, capture_output=True, text=True,
                              timeout=120)
        assert not check or proc.returncode == 0, (
            f"lttng {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
        return proc

    def start_daemon(self):
        if self.run("list", check=False).returncode == 0:
            return  # A running root session daemon: use it, leave it running.
        proc = subprocess.run(["lttng-sessiond", "--daemonize", "--no-kernel"], env=self.env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"lttng-sessiond failed:\n{proc.stderr}"
        self.started_pid = int((self.rundir / "lttng-sessiond.pid").read_text())

    def stop_daemon(self):
        if self.started_pid is None:
            return
        os.kill(self.started_pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while not process_is_gone(self.started_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not process_is_gone(self.started_pid):
            os.kill(self.started_pid, signal.SIGKILL)

    def record(self, out_dir, body):
        """Records `vmtrace_kvm:*` into `out_dir` while `body()` runs."""
        name = f"vmtrace-kvmmon-{os.getpid()}-{next(_sessions)}"
        self.run("create", name, f"--output={out_dir}")
        try:
            self.run("enable-event", "--userspace", "vmtrace_kvm:*", f"--session={name}")
            self.run("start", name)
            body()
            self.run("stop", name)
        finally:
            self.run("destroy", name, check=False)


@pytest.fixture(scope="module")
def lttng(tmp_path_factory):
    require_monitor()
    missing = [t for t in ("lttng-sessiond", "lttng") if not shutil.which(t)]
    require(not missing, f"{' and '.join(missing)} not found (Debian's lttng-tools)")
    tool = Lttng(tmp_path_factory.mktemp("lttng-home"))
    tool.start_daemon()
    yield tool
    tool.stop_daemon()


# --- reading the recorded trace -----------------------------------------------------------

READ_UST = """
import bt2, json, sys
source = bt2.ComponentSpec.from_named_plugin_and_component_class("ctf", "fs", {"inputs": [%r]})
env, events = {}, []
for msg in bt2.TraceCollectionMessageIterator(source):
    if type(msg) is bt2._StreamBeginningMessageConst:
        env = {k: (int(v) if isinstance(v, bt2._IntegerValueConst) else str(v))
               for k, v in msg.stream.trace.environment.items()}
    elif type(msg) is bt2._EventMessageConst:
        fields = {}
        for key, field in msg.event.payload_field.items():
            if isinstance(field, bt2._StringFieldConst):
                fields[key] = ["string", str(field)]
            elif isinstance(field, bt2._SignedIntegerFieldConst):
                fields[key] = ["signed", int(field)]
            else:
                fields[key] = ["unsigned", int(field)]
        events.append([msg.event.name, msg.default_clock_snapshot.ns_from_origin, fields])
json.dump({"env": env, "events": events}, sys.stdout)
"""


def read_ust(trace_dir):
    """(env, [(name, ns_from_origin, {field: (type, value)})]) read with src.ctf.fs."""
    metadata = list(pathlib.Path(trace_dir).glob("**/metadata"))
    assert len(metadata) == 1, f"expecting one trace in {trace_dir}: {metadata}"
    proc = run_python(READ_UST % str(metadata[0].parent))
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout)
    return data["env"], [(n, ns, {k: tuple(v) for k, v in f.items()})
                         for n, ns, f in data["events"]]


def as_emitted(events):
    """Recorded events in the monitor's log form: (name, pid, uuid or None)."""
    out = []
    for name, _ns, fields in events:
        text = fields.get("guest_uuid", fields.get("uuid"))
        out.append((name.split(":", 1)[1], fields["pid"][1], text and text[1]))
    return out


# --- fast tests: the monitor alone --------------------------------------------------------

def test_uuid_comes_from_every_qemu_spelling(tmp_path):
    require_monitor()
    u = [str(uuid.UUID(int=i * 0x1111_1111_1111_1111_1111_1111_1111_1111)) for i in range(1, 9)]
    vms = [
        (101, 10, ["qemu-system-x86_64", "-name", "a", "-uuid", u[0], "-m", "64"]),
        (102, 11, ["qemu-system-x86_64", "--uuid", u[1].upper()]),
        (103, 12, ["qemu", "-smbios", f"type=1,uuid={u[2]}"]),
        # `,,` is QEMU's escaped comma; keys may come in any order.
        (104, 13, ["qemu", "-smbios", f"manufacturer=a,,b,uuid={u[3]},type=1"]),
        (105, 14, ["qemu", "-smbios", f"type=2,uuid={u[4]}"]),
        (106, 15, ["qemu", "-uuid", "not-a-uuid"]),
        (107, 16, ["qemu", "-m", "64"]),
        # Both forms set QEMU's one UUID: the later wins.
        (108, 17, ["qemu", "-uuid", u[5], "--smbios", f"type=1,uuid={u[6]}"]),
        (109, 18, None),
    ]
    debugfs, proc = make_fixture(tmp_path, vms)
    # Two VMs of one process are one `kvm_guest`.
    add_vm(tmp_path, 101, 30, None)
    (debugfs / "kvm" / "not-a-vm").mkdir()
    run = subprocess.run([str(MONITOR), "--debugfs", str(debugfs), "--proc", str(proc),
                          "--once", "--verbose"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert emitted(run.stderr) == [
        ("kvm_guest", 101, u[0]), ("kvm_guest", 102, u[1]), ("kvm_guest", 103, u[2]),
        ("kvm_guest", 104, u[3]), ("kvm_guest", 105, ""), ("kvm_guest", 106, ""),
        ("kvm_guest", 107, ""), ("kvm_guest", 108, u[6]), ("kvm_guest", 109, "")]
    assert f'{proc}/109/cmdline' in run.stderr and "pid=109" in run.stderr


def test_errors_name_what_failed(tmp_path):
    require_monitor()
    run = subprocess.run([str(MONITOR), "--debugfs", str(tmp_path), "--once"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert f'Cannot open the KVM debugfs directory: path="{tmp_path}/kvm"' in run.stderr
    for bad in (["--interval", "0"], ["--interval", "x"], ["--bogus"], ["extra"]):
        run = subprocess.run([str(MONITOR), *bad], capture_output=True, text=True, timeout=60)
        assert run.returncode == 2, (bad, run.stderr)
        assert run.stderr.strip(), bad


def test_valgrind_clean_in_fixture_mode(tmp_path):
    require_monitor()
    if not shutil.which("valgrind"):
        pytest.skip("valgrind not found")
    if UNDER_SANITIZERS:
        pytest.skip("valgrind cannot run ASan binaries (the plain build's run checks this)")
    debugfs, proc = make_fixture(tmp_path, [(201, 10, ["qemu", "-uuid", str(uuid.uuid4())])])
    cmd = ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
           "--error-exitcode=99", str(MONITOR), "--verbose", "--debugfs", str(debugfs),
           "--proc", str(proc), "--interval", "0.1"]
    log_path = tmp_path / "valgrind.log"
    with open(log_path, "w") as log:
        vg = subprocess.Popen(cmd, env=foreign_env(), stdout=subprocess.DEVNULL, stderr=log)
        wait_for_text(log_path, lambda t: "Monitoring KVM VMs" in t, vg)
        add_vm(tmp_path, 202, 11, ["qemu", "-uuid", str(uuid.uuid4())])
        wait_for_text(log_path, lambda t: ("kvm_created", 202) in [e[:2] for e in emitted(t)], vg)
        shutil.rmtree(debugfs / "kvm" / "201-10")
        wait_for_text(log_path, lambda t: ("kvm_destroyed", 201) in [e[:2] for e in emitted(t)], vg)
        vg.send_signal(signal.SIGUSR1)
        vg.send_signal(signal.SIGTERM)
        status = vg.wait(timeout=120)
    text = log_path.read_text()
    assert status == 0, text[-4000:]
    assert "ERROR SUMMARY: 0 errors" in text
    assert re.search(r"definitely lost: 0 bytes", text) or "All heap blocks were freed" in text
    assert re.search(r"indirectly lost: 0 bytes", text) or "All heap blocks were freed" in text


def wait_for_text(path, predicate, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate(path.read_text(errors="replace")):
            return
        assert proc.poll() is None, path.read_text()[-4000:]
        time.sleep(0.05)
    pytest.fail(f"timed out; log:\n{path.read_text()[-4000:]}")


# --- recorded by a real session daemon ----------------------------------------------------

def test_recorded_events_follow_the_vms(lttng, tmp_path):
    """Start, creation, destruction, SIGUSR1, the interval and SIGTERM, as recorded."""
    u1, u2, u3 = (str(uuid.uuid4()) for _ in range(3))
    debugfs, proc = make_fixture(tmp_path, [
        (4101, 12, ["qemu-system-x86_64", "-uuid", u1]),
        (4102, 15, ["qemu-system-x86_64", "-smbios", f"type=1,uuid={u2}"])])
    out = tmp_path / "trace"
    monitor = None

    def body():
        nonlocal monitor
        monitor = Monitor(tmp_path, ["--debugfs", str(debugfs), "--proc", str(proc),
                                     "--interval", "0.2"], env=lttng.monitor_env)
        monitor.wait_for_event("kvm_guest", 4102)
        add_vm(tmp_path, 4103, 9, ["qemu-system-x86_64", "-uuid", u3])
        monitor.wait_for_event("kvm_created", 4103)
        shutil.rmtree(debugfs / "kvm" / "4101-12")
        monitor.wait_for_event("kvm_destroyed", 4101)
        guests = sum(e[0] == "kvm_guest" for e in emitted(monitor.text()))
        monitor.proc.send_signal(signal.SIGUSR1)
        monitor.wait_for(lambda t: sum(e[0] == "kvm_guest" for e in emitted(t)) >= guests + 2,
                         "kvm_guest after SIGUSR1")
        monitor.wait_for_event("kvm_guest", 4103, count=3)
        assert monitor.stop() == 0, monitor.text()

    lttng.record(out, body)
    logged = emitted(monitor.text())
    env, events = read_ust(out)
    # Every event the monitor emitted was recorded, in order, with its values.
    assert as_emitted(events) == logged
    assert logged[:2] == [("kvm_guest", 4101, u1), ("kvm_guest", 4102, u2)]
    created = logged.index(("kvm_created", 4103, u3))
    destroyed = logged.index(("kvm_destroyed", 4101, None))
    assert created < destroyed
    assert ("kvm_guest", 4101, u1) not in logged[destroyed:]
    assert ("kvm_guest", 4103, u3) in logged[created:]
    assert {e[0] for e in logged} == {"kvm_guest", "kvm_created", "kvm_destroyed"}
    # SPEC section 3's names and types, as src.ctf.fs sees them.
    types = {name: {k: v[0] for k, v in fields.items()} for name, _ns, fields in events}
    assert types == {
        "vmtrace_kvm:kvm_guest": {"pid": "signed", "guest_uuid": "string"},
        "vmtrace_kvm:kvm_created": {"pid": "unsigned", "uuid": "string"},
        "vmtrace_kvm:kvm_destroyed": {"pid": "unsigned"}}
    assert env["domain"] == "ust" and env["hostname"] == socket.gethostname()
    assert [ns for _n, ns, _f in events] == sorted(ns for _n, ns, _f in events)


def vcpu_key(row):
    return row["vm_uuid"], row["vcpu"], row["host_tid"] if row["vcpu"] == "-1" else ""


def chain_rows(inputs, out_csv):
    paths = ",".join(f'"{p}"' for p in inputs)
    proc = run_cli(["--component=src:source.vmsync.fs", f"--params=inputs=[{paths}]",
                    "--component=tag:filter.vmmatch.tag",
                    "--component=out:sink.vmstate.intervals",
                    f'--params=format="csv",path="{out_csv}"'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out_csv, newline="") as f:
        return list(csv.DictReader(f))


def test_host_model_names_the_vms_from_the_recording(lttng, tmp_path):
    """A simulated host kernel trace, plus the UST trace recorded from a fixture
    that holds the simulator's QEMU pids: the chain's vCPU rows equal the
    simulator's truth, UUIDs included. The simulator's own UST trace is
    deleted, and its guests have no `product_uuid`: the recording is the only
    place the UUIDs come from.

    Clocks: the simulator's host trace starts one minute from now on the
    wall clock, so every recorded `kvm_guest` precedes it, as with a monitor
    that runs before the session starts. Joined by hostname, the two traces
    form one machine (their clock UUIDs differ: the simulator draws a boot id).
    """
    hostname = socket.gethostname()
    start = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=60)
    sim = tmp_path / "sim"
    run_vmsim(sim, "--scenario", "sample", "--seed", "7", "--duration-ms", "300",
              "--set", "uuid_via=ust", "--set", f"hostname={hostname}",
              "--set", f"start_time={start:%Y-%m-%dT%H:%M:%S}Z")
    scenario = json.loads((sim / "truth" / "scenario.json").read_text())
    vms = {vm["qemu_pid"]: vm["uuid"] for vm in scenario["vms"]}
    assert len(vms) == 2
    ust = list((sim / "traces").glob("*/*/ust"))
    assert len(ust) == 1
    shutil.rmtree(ust[0])
    # One VM named with `-uuid` (upper case), the other with `-smbios`.
    (pid_a, uuid_a), (pid_b, uuid_b) = sorted(vms.items())
    debugfs, proc = make_fixture(tmp_path, [
        (pid_a, 11, qemu_args("-uuid", uuid_a.upper(), "-name", "vm-web")),
        (pid_b, 14, qemu_args("-smbios", f"type=1,uuid={uuid_b}"))])
    out = tmp_path / "recorded"

    def body():
        monitor = Monitor(tmp_path, ["--debugfs", str(debugfs), "--proc", str(proc),
                                     "--interval", "0.1"], env=lttng.monitor_env)
        monitor.wait_for_event("kvm_guest", pid_b, count=3)
        assert monitor.stop() == 0, monitor.text()

    lttng.record(out, body)
    env, events = read_ust(out)
    assert env["hostname"] == hostname
    assert {(e[1], e[2]) for e in as_emitted(events)} == set(vms.items())
    assert max(ns for _n, ns, _f in events) < scenario["host_start_ns"], (
        "the recording must precede the simulated host trace (took over a minute?)")

    # Without the recording, no VM has a UUID.
    alone = chain_rows([sim / "traces"], tmp_path / "alone.csv")
    assert {r["vm_uuid"] for r in alone} == {f"pid:{pid}" for pid in vms}

    ours = chain_rows([sim / "traces", out], tmp_path / "ours.csv")
    with open(sim / "truth" / "vcpu-intervals.csv", newline="") as f:
        truth = list(csv.DictReader(f))
    assert {(r["vm_uuid"], r["vm_name"]) for r in ours} == {
        (uuid_a, "vm-web"), (uuid_b, "vm-db")}
    assert len(ours) == len(truth)
    ours_g, truth_g = {}, {}
    for rows, groups in ((ours, ours_g), (truth, truth_g)):
        for row in rows:
            groups.setdefault(vcpu_key(row), []).append(row)
    assert sorted(ours_g) == sorted(truth_g)
    for key, expected in truth_g.items():
        # The last interval ends at the host trace's last event, which the
        # simulator does not model (as in test_chain_truth.py).
        for i, (o, t) in enumerate(zip(ours_g[key], expected)):
            skip = {"end_ns", "duration_ns"} if i == len(expected) - 1 else set()
            diff = {c: (o[c], t[c]) for c in t if c not in skip and o[c] != t[c]}
            assert not diff, f"{key} row {i}: ours vs truth {diff}"


# --- a real QEMU VM -----------------------------------------------------------------------

def live_kvm_problem():
    """Why the live test cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (debugfs and /dev/kvm)"
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return f"cannot open /dev/kvm: {e.strerror}"
    try:
        if fcntl.ioctl(fd, KVM_GET_API_VERSION) != 12:
            return "/dev/kvm answers an unexpected KVM API version"
    except OSError as e:
        return f"/dev/kvm does not answer KVM_GET_API_VERSION: {e.strerror}"
    finally:
        os.close(fd)
    if not DEBUGFS_KVM.is_dir():
        return (f"{DEBUGFS_KVM} is absent: debugfs is not mounted (as root: "
                "mount -t debugfs none /sys/kernel/debug) or KVM is not loaded")
    if not shutil.which(QEMU):
        return f"{QEMU} not found (Debian's qemu-system-x86)"
    return None


def test_live_qemu_vm_is_recorded(lttng, tmp_path):
    problem = live_kvm_problem()
    if problem:
        skip_loudly(problem)
    vm_uuid = str(uuid.uuid4())
    out = tmp_path / "trace"
    qemu_log = tmp_path / "qemu.log"
    result = {}

    def body():
        monitor = Monitor(tmp_path, ["--interval", "0.5"], env=lttng.monitor_env)
        monitor.wait_for(lambda t: "Monitoring KVM VMs" in t, "the monitor's first scan")
        with open(qemu_log, "w") as log:
            # No disk, no devices, CPUs stopped (-S): the VM only has to exist.
            qemu = subprocess.Popen([QEMU, "-enable-kvm", "-uuid", vm_uuid, "-nodefaults",
                                     "-display", "none", "-S", "-m", "64"],
                                    env=foreign_env(), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=log)
        try:
            monitor.wait_for_event("kvm_created", qemu.pid, watch=(qemu, qemu_log))
            monitor.wait_for_event("kvm_guest", qemu.pid, watch=(qemu, qemu_log))
        finally:
            qemu.terminate()
            qemu.wait(timeout=30)
        monitor.wait_for_event("kvm_destroyed", qemu.pid)
        assert monitor.stop() == 0, monitor.text()
        result.update(pid=qemu.pid, log=monitor.text())

    lttng.record(out, body)
    pid = result["pid"]
    _env, events = read_ust(out)
    mine = [e for e in as_emitted(events) if e[1] == pid]
    text = run_cli([out], plugin_paths=()).stdout
    print(f"monitor log:\n{result['log']}recorded events of pid {pid}:")
    print("\n".join(line for line in text.splitlines() if f"pid = {pid}" in line))
    assert mine[0] == ("kvm_created", pid, vm_uuid), mine
    assert ("kvm_guest", pid, vm_uuid) in mine
    assert mine[-1] == ("kvm_destroyed", pid, None), mine
    assert mine.count(("kvm_destroyed", pid, None)) == 1
