# SPDX-License-Identifier: MIT
"""The README's examples work as written (on a small simulated trace).

Users copy these commands first; a README that drifts from the code is a
bug like any other.
"""
import re

from conftest import REPO, run_cli, run_python, run_vmsim

README = (REPO / "README.md").read_text()


def code_blocks(language):
    return re.findall(r"```" + language + r"\n(.*?)```", README, re.S)


def test_quick_start_is_two_commands():
    first = code_blocks("sh")[0].strip().splitlines()
    assert first == ["./quickstart.sh", "./tests/run.sh"]


def test_python_example_runs(tmp_path):
    run_vmsim(tmp_path / "sim", "--scenario", "sample", "--duration-ms", "200", "--truth=none")
    (tmp_path / "traces").symlink_to(tmp_path / "sim" / "traces")
    (tmp_path / "build").symlink_to(REPO / "build")
    snippet = next(b for b in code_blocks("python") if "graph.run()" in b)
    proc = run_python(f"import os; os.chdir({str(tmp_path)!r})\n" + snippet)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = (tmp_path / "vcpu.jsonl").read_text().splitlines()
    assert lines and all(line.startswith('{"vm_uuid":') for line in lines)


def test_cli_examples_run(tmp_path):
    run_vmsim(tmp_path / "sim", "--scenario", "sample", "--duration-ms", "200", "--truth=none")
    traces = str(tmp_path / "sim" / "traces")
    chain = next(b for b in code_blocks("sh") if "sink.vmstate.intervals" in b)
    args = [a for a in re.findall(r"--[a-z-]+=\S+|--params='[^']*'", chain)]
    assert args, chain
    cli = []
    for arg in args:
        arg = arg.replace("traces/", traces).replace("vcpu.csv", str(tmp_path / "vcpu.csv"))
        if arg.startswith("--plugin-path"):
            continue
        cli.append(arg.replace("--params='", "--params=").rstrip("'"))
    proc = run_cli(cli)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "vcpu.csv").read_text().startswith("vm_uuid,vm_name,vcpu,state,")
    query = next(b for b in code_blocks("sh") if "vmtrace.sync-info" in b)
    assert "query source.vmsync.fs vmtrace.sync-info" in query
    proc = run_cli(["query", "source.vmsync.fs", "vmtrace.sync-info",
                    "--params", f'inputs=["{traces}"]'])
    assert proc.returncode == 0 and "method: hypercall" in proc.stdout
