"""``ptce batch`` and ``ptce compare`` run as a user would: in a subprocess, killed,
interrupted, resumed, and given bad input."""

from __future__ import annotations

import io
import json
import os
import shlex
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from simulation.cli import main
from simulation.results import compare
from simulation.runner import load_results, run_batch

from .test_runner import REGIMES_X_SHOCKS, batch_file, tree_digest
from .test_validation import _live_children, _running

# 3 regimes x 2 shock sets x 4 replicates = 24 runs, 12 quarters: a few seconds serially.
SLOWER = REGIMES_X_SHOCKS.replace("replicates = 2", "replicates = 4")


def ptce(*args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "simulation", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def as_from_a_terminal() -> None:
    """In the child, before exec: Ctrl-C handled by default, as in a terminal's foreground
    job.  A test runner started as a background job of a script (``cmd &`` in a shell
    without job control, as CI runners and nohup do) has SIGINT ignored, every child
    inherits that, and Python then leaves it ignored: the batch would rightly not stop."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(*args, cwd=None):
    return subprocess.Popen([sys.executable, "-m", "simulation", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=cwd, start_new_session=True, preexec_fn=as_from_a_terminal)


def parts_written(out) -> int:
    try:
        return len(json.loads((out / "manifest.json").read_text())["parts"])
    except (OSError, ValueError, KeyError):
        return 0


def wait_for_parts(proc, out, n, timeout=120.0):
    deadline = time.monotonic() + timeout
    while parts_written(out) < n:
        assert proc.poll() is None, "the batch ended before it could be interrupted: " + proc.stderr.read()
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("whole")
    path = batch_file(tmp, SLOWER, steps=12)
    assert run_batch(path, executor="serial", out=tmp / "whole").success
    return path, load_results(tmp / "whole")


def assert_equal_results(a, b):
    assert sorted(b.outcomes["run_id"]) == list(range(len(a.design)))  # none missing, none twice
    assert not b.timeseries.duplicated(["run_id", "step"]).any()
    pd.testing.assert_frame_equal(a.outcomes, b.outcomes, check_exact=True)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries, check_exact=True)


@pytest.mark.parametrize("executor", ["serial", "processes"])
def test_sigkill_then_resume_gives_the_uninterrupted_results(uninterrupted, tmp_path, executor):
    path, whole = uninterrupted
    out = tmp_path / "killed"
    proc = start("batch", path, "--executor", executor, "--workers", "2", "--chunk-runs", "2", "--out", out)
    wait_for_parts(proc, out, 2)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, as a crash or a power cut would
    proc.communicate(timeout=30)  # reaps it and closes its pipes
    done_at_kill = parts_written(out)
    assert done_at_kill < 12, "killed too late to test anything"
    assert not load_results(out).complete
    res = ptce("batch", path, "--executor", "serial", "--out", out, "--resume")
    assert res.returncode == 0, res.stderr
    assert "already done" in res.stdout and "24 ok, 0 failed" in res.stdout
    assert_equal_results(whole, load_results(out))
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]


def test_sigterm_to_the_driver_leaves_no_worker_process(uninterrupted, tmp_path):
    """``kill`` of the driver alone (not of its process group): its pool's workers and the
    resource tracker end with it (runner._exit_with_parent) instead of waiting forever."""
    path, _ = uninterrupted
    out = tmp_path / "terminated"
    proc = start("batch", path, "--executor", "processes", "--workers", "2", "--chunk-runs", "2", "--out", out)
    children: set[int] = set()
    try:
        wait_for_parts(proc, out, 1)  # the workers are at work
        children = _live_children(proc.pid)
        assert len(children) >= 3, children  # two workers and the resource tracker
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        deadline = time.monotonic() + 30  # bounded: they go at once, but the machine may be slow
        while {pid for pid in children if _running(pid)} and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not {pid for pid in children if _running(pid)}, "processes of the killed batch still run"
    finally:
        for pid in [proc.pid, *children]:  # whatever the outcome, leave nothing running
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        proc.communicate(timeout=30)  # reaps it and closes its pipes


def test_ctrl_c_keeps_finished_work_and_says_how_to_resume(uninterrupted, tmp_path):
    path, whole = uninterrupted
    out = tmp_path / "stopped"
    proc = start("batch", path, "--executor", "serial", "--chunk-runs", "2", "--out", out, cwd=tmp_path)
    wait_for_parts(proc, out, 2)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted: ") and "Traceback" not in stderr
    command = last.split("resume with: ", 1)[1]
    words = shlex.split(command)
    assert words[:2] == ["ptce", "batch"] and words[-1] == "--resume"
    assert 0 < parts_written(out) < 12
    res = ptce(*words[1:], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert_equal_results(whole, load_results(out))


def test_batch_and_compare_from_the_command_line(uninterrupted, tmp_path):
    path, whole = uninterrupted
    res = ptce("batch", path, "--executor", "serial", "--replicates", "2", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = tmp_path / "results" / "t"  # results/<batch name>
    assert "12 of 12 runs" in res.stdout and f"ptce compare {out.relative_to(tmp_path)}" in res.stdout
    table = ptce("compare", out)
    assert table.returncode == 0, table.stderr
    assert "final_ess_employment_fte" in table.stdout and "Δ" in table.stdout

def test_compare_formats(uninterrupted, capsys):
    _, whole = uninterrupted
    assert main(["compare", str(whole.path), "--format", "csv", "--baseline", "cooperative"]) == 0
    got = pd.read_csv(io.StringIO(capsys.readouterr().out))
    expected = compare(whole, baseline="cooperative")
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, atol=1e-9)
    assert main(["compare", str(whole.path), "--format", "markdown", "--outcome", "mean_governance"]) == 0
    md = capsys.readouterr().out
    assert "### mean_governance (n = 4 per cell)" in md and "final_ess" not in md
    assert "| shock_set | administrative | competitive | cooperative |" in md


@pytest.mark.parametrize(("args", "expected"), [
    (["--set", "territory.organisatons=5"], "territory.organisatons: unknown key"),
    (["--set", "batch.axes.x=1"], "batch.axes"),
    (["--replicates", "0"], "--replicates: must be a whole number >= 1"),
    (["--replicates", "two"], "--replicates"),
    (["--workers", "0"], "--workers: must be a whole number >= 1"),
    (["--executor", "cluster"], "--executor"),
    (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler: only with --executor dask"),
    (["--chunk-runs", "0"], "--chunk-runs"),
])
def test_bad_batch_input_is_one_line_exit_2(uninterrupted, tmp_path, capsys, args, expected):
    """In-process (the subprocess path is the same main(); one case below runs it for real)."""
    path, _ = uninterrupted
    assert main(["batch", str(path), *args, "--out", str(tmp_path / "x")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
    assert not (tmp_path / "x").exists()


def test_bad_input_in_a_real_subprocess_is_one_line_exit_2(uninterrupted, tmp_path):
    path, _ = uninterrupted
    res = ptce("batch", path, "--set", "territory.organisatons=5", "--out", tmp_path / "x")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip() == f"error: {path}: territory.organisatons: unknown key (did you mean organisations?)"
    res = ptce("compare", tmp_path / "nowhere")
    assert res.returncode == 2 and res.stderr.strip() == f"error: {tmp_path / 'nowhere'}: no such results folder"


def test_existing_batch_folder_is_refused_with_exit_2(uninterrupted, tmp_path):
    path, whole = uninterrupted
    before = tree_digest(whole.path)
    res = ptce("batch", path, "--executor", "serial", "--out", whole.path)
    assert res.returncode == 2
    assert res.stderr.strip() == f"error: {whole.path}: holds batch 't' already; add --resume to continue it, or choose another --out"
    res = ptce("batch", path, "--executor", "serial", "--out", whole.path, "--resume", "--replicates", "5")
    assert res.returncode == 2 and "--resume refused" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert tree_digest(whole.path) == before


@pytest.mark.parametrize(("args", "expected"), [
    (["nowhere"], "nowhere: no such results folder"),
    (["{whole}", "--baseline", "market"], "--baseline: 'market' is not a regime"),
    (["{whole}", "--outcome", "final_happiness"], "unknown outcome 'final_happiness'"),
    (["{whole}", "--format", "xlsx"], "--format"),
])
def test_bad_compare_input_is_one_line_exit_2(uninterrupted, tmp_path, capsys, monkeypatch, args, expected):
    _, whole = uninterrupted
    monkeypatch.chdir(tmp_path)
    assert main(["compare", *[a.replace("{whole}", str(whole.path)) for a in args]]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines
