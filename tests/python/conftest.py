# SPDX-License-Identifier: MIT
"""Shared fixtures and helpers of the Python graph tests.

Run with Debian's interpreter (`/usr/bin/python3 -m pytest`): `python3-bt2`
only works there. Anything that may hit a libbabeltrace2 precondition (an
abort, not an exception) runs in a subprocess through `run_cli()` or
`run_python()`, which fail the test on a signal.
"""
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("VMTRACE_BUILD_DIR", REPO / "build"))
if not BUILD.is_absolute():
    BUILD = REPO / BUILD
PLUGINS = BUILD / "plugins"
TEST_PLUGINS = BUILD / "tests" / "plugins"
VMSIM = BUILD / "tools" / "vmsim"
SHARED = REPO.parent / "shared"
PEER_CASES = SHARED / "peer-cases"
BT_CORPUS = PEER_CASES / "babeltrace-ctf-traces"

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))


def needs_shared():
    """Skip marker for tests that read ../shared (absent outside the workplace)."""
    return pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is not present")


def run_cli(args, plugin_paths=(PLUGINS,), timeout=600, env=None, check_signal=True):
    """Runs `babeltrace2 --plugin-path=... ARGS`; fails the test on a signal."""
    cmd = ["babeltrace2"]
    paths = [str(p) for p in plugin_paths]
    if paths:
        cmd.append("--plugin-path=" + ":".join(paths))
    cmd += [str(a) for a in args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=env, errors="replace")
    if check_signal:
        assert proc.returncode >= 0, (
            f"babeltrace2 killed by signal {-proc.returncode}: {cmd}\n{proc.stderr[-4000:]}")
    return proc


def run_python(code, timeout=600, env=None):
    """Runs `code` in a fresh /usr/bin/python3; fails the test on a signal."""
    proc = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True,
                          timeout=timeout, env=env, errors="replace")
    assert proc.returncode >= 0, (
        f"python killed by signal {-proc.returncode}\n{proc.stderr[-4000:]}")
    return proc


def run_vmsim(out_dir, *args, timeout=600):
    """Runs the simulator into `out_dir`; returns the completed process."""
    cmd = [str(VMSIM), "--out", str(out_dir)] + [str(a) for a in args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"vmsim failed: {cmd}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="session")
def bt2_module():
    """The `bt2` module, importable only from Debian's /usr/bin/python3."""
    return pytest.importorskip("bt2")


@pytest.fixture(scope="session")
def vmtrace_plugins(bt2_module):
    """The three vmtrace plugins, by name, loaded from the build folder."""
    plugins = bt2_module.find_plugins_in_path(str(PLUGINS), fail_on_load_error=True)
    return {p.name: p for p in plugins}
