"""Faulty runs (issue 10): file-system faults, interruptions of a real ``ptce batch``
(SIGINT and SIGKILL at random points, driver and workers), worker processes dying in the
pool, a Dask worker killed mid-batch; after every fault and a resume, the results equal
those of an uninterrupted batch run by run, and ``ptce verify`` finds the folder whole.
``ptce verify`` itself is tested here on folders damaged on purpose.

Batches are smoke-sized (24 runs of 12 quarters, a few seconds).  Random points come from
a seeded numpy Generator: the points are the same on every CI run, what lands where
depends on the machine's speed, and the assertions hold wherever it lands.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation import runner
from simulation.cli import main
from simulation.results import BatchError
from simulation.runner import TEST_WORKER_EXIT_DIR_ENV, TEST_WORKER_EXIT_ENV, load_results, run_batch
from simulation.verify import verify

from .reliability_tally import TALLY, count_traceback, reliability_tally  # noqa: F401 (session fixture)
from .test_runner import REGIMES_X_SHOCKS, batch_file, tree_digest

# 3 regimes x {none, cut} x 4 replicates = 24 runs of 12 quarters.
SPEC = REGIMES_X_SHOCKS.replace("replicates = 2", "replicates = 4")
RUNS = 24


@pytest.fixture(autouse=True)
def _tally(reliability_tally):  # noqa: F811 (the imported session fixture)
    return reliability_tally


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The batch run once, serially, without any fault."""
    tmp = tmp_path_factory.mktemp("reference")
    path = batch_file(tmp, SPEC, steps=12)
    assert run_batch(path, executor="serial", out=tmp / "whole").success
    return path, load_results(tmp / "whole")


def lost_runs(reference, folder: Path) -> int:
    """Runs of the reference batch that are missing, duplicated or different (outcomes or
    time series, bit for bit) in ``folder``; added to the tally."""
    res = load_results(folder)
    out, ts = res.outcomes.set_index("run_id"), res.timeseries
    ref_out, ref_ts = reference.outcomes.set_index("run_id"), reference.timeseries
    lost = 0
    for run_id in reference.design["run_id"]:
        if (out.index == run_id).sum() != 1:
            lost += 1
            continue
        mine = ts[ts["run_id"] == run_id].reset_index(drop=True)
        theirs = ref_ts[ref_ts["run_id"] == run_id].reset_index(drop=True)
        a, b = out.loc[[run_id]], ref_out.loc[[run_id]]
        if not (a.equals(b) and mine.equals(theirs)):
            lost += 1
    TALLY["runs_lost"] += lost
    return lost


def assert_whole(reference, folder: Path) -> None:
    """The folder equals the uninterrupted batch run by run, and ptce verify finds it clean."""
    assert lost_runs(reference, folder) == 0
    report = verify(folder)
    assert report.ok and report.done == RUNS, str(report)


# --------------------------------------------------------------------------- subprocess helpers
_started: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _no_process_left():
    """A failing test leaves no batch running behind it."""
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


def _as_from_a_terminal() -> None:
    """In the child: Ctrl-C handled by default, as in a terminal's foreground job, even if
    the test runner itself was started with SIGINT ignored (a background job of a script)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(*args, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "simulation", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=cwd, start_new_session=True, env=env, preexec_fn=_as_from_a_terminal)
    _started.append(proc)
    return proc


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    stdout, stderr = proc.communicate(timeout=timeout)
    count_traceback(stderr)
    return proc.returncode, stdout, stderr


def parts_written(out: Path) -> int:
    try:
        return len(json.loads((out / "manifest.json").read_text())["parts"])
    except (OSError, ValueError, KeyError):
        return 0


def wait_until(proc: subprocess.Popen, condition, timeout: float = 120.0) -> bool:
    """Wait for condition(); False if the process ended first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            return False
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.01)
    return True


def resume(path: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    return finish(start("batch", path, "--executor", "serial", "--out", out, "--resume", *extra, cwd=out.parent))


# --------------------------------------------------------------------------- SIGKILL
def test_sigkill_at_random_points_then_resume_loses_nothing(reference, tmp_path):
    """The driver and its workers killed (SIGKILL to the process group: a crash, a power
    cut, the out-of-memory killer) up to six times at random points, among them the first
    instants (imports, folder set-up) and the middle of a resume; each resume goes on."""
    path, whole = reference
    out = tmp_path / "killed"
    rng = np.random.default_rng(2024)
    kills = 0
    for round_ in range(6):
        executor = ["serial"] if round_ % 2 else ["processes", "--workers", "2"]
        args = ["batch", path, "--executor", *executor, "--chunk-runs", "2", "--out", out]
        if (out / "spec.json").exists():
            args.append("--resume")
        proc = start(*args, cwd=tmp_path)
        if round_ == 0:
            time.sleep(float(rng.uniform(0.0, 1.5)))  # anywhere in start-up and set-up
        else:
            # Soon enough that the batch (12 parts) outlasts the rounds on a fast machine.
            target = parts_written(out) + int(rng.integers(0, 2))
            if not wait_until(proc, lambda t=target: parts_written(out) >= t):
                finish(proc)
                break
            time.sleep(float(rng.uniform(0.0, 0.05)))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        finish(proc)
        if (out / "manifest.json").exists() and load_results(out).complete:
            break
    TALLY["sigkill"] += kills
    assert kills >= 3, "the batch ended before it could be killed often enough"
    code, stdout, stderr = resume(path, out) if (out / "spec.json").exists() else finish(
        start("batch", path, "--executor", "serial", "--out", out, cwd=tmp_path))
    assert code == 0 and "Traceback" not in stderr, stderr
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]
    assert_whole(whole, out)


# --------------------------------------------------------------------------- SIGINT
def ctrl_c(proc: subprocess.Popen, *, twice: bool) -> int:
    """Ctrl-C to the batch's process group, as a terminal sends it; with ``twice``, again
    50 ms later if the batch is still running.  Returns the number of Ctrl-C sent."""
    os.killpg(proc.pid, signal.SIGINT)
    if not twice:
        return 1
    time.sleep(0.05)
    if proc.poll() is not None:
        return 1
    os.killpg(proc.pid, signal.SIGINT)
    return 2


def test_ctrl_c_at_random_points_then_resume_loses_nothing(reference, tmp_path):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it to the driver and its
    workers) at random points, in the second round twice in a row; each time exit 130, one
    line saying how to resume, no traceback; the command it gives finishes the batch."""
    path, whole = reference
    out = tmp_path / "stopped"
    rng = np.random.default_rng(7)
    command = ["batch", path, "--executor", "processes", "--workers", "2", "--chunk-runs", "2", "--out", out]
    interrupts = 0
    for round_ in range(5):
        proc = start(*command, *(["--resume"] if round_ else []), cwd=tmp_path)
        # From the moment the batch has started (its first line, once the folder is set up)
        # to its last parts.  (A Ctrl-C while Python imports the packages, before any code of
        # ours runs, is Python's own KeyboardInterrupt: not tested.)
        target = parts_written(out) + int(rng.integers(0, 2))
        first_line = proc.stdout.readline()
        assert first_line.startswith("batch 't'"), first_line + proc.stderr.read()
        if not wait_until(proc, lambda t=target: parts_written(out) >= t):
            finish(proc)
            break
        time.sleep(float(rng.uniform(0.0, 0.05)))
        parts_at_interrupt = parts_written(out)
        if proc.poll() is not None:
            finish(proc)
            break
        interrupts += ctrl_c(proc, twice=round_ == 1)  # the second round: Ctrl-C again, stop now
        code, stdout, stderr = finish(proc)
        assert "Traceback" not in stderr, stderr
        if code == 0:  # only if the Ctrl-C came once the last part was written
            assert parts_at_interrupt == RUNS // 2, f"Ctrl-C with {parts_at_interrupt} parts written was not obeyed: {stdout}"
            break
        assert code == 130, stderr
        last = stderr.strip().splitlines()[-1]
        # "interrupted" alone: the Ctrl-C came as the batch was ending, after its last part.
        assert (last.startswith("interrupted: ") and "resume with: ptce batch " in last) or last == "interrupted", stderr
        if interrupts >= 4:
            break
    TALLY["sigint"] += interrupts
    assert interrupts >= 2, "the batch ended before it could be interrupted"
    code, stdout, stderr = finish(start(*command, "--resume", cwd=tmp_path))
    assert code == 0, stderr
    assert_whole(whole, out)


# --------------------------------------------------------------------------- worker processes
def test_a_worker_process_dying_costs_no_run(reference, tmp_path):
    """Two worker processes end abruptly (os._exit, as a crash would) while running runs 3
    and 14; their tasks and the neighbours' are run again: every run is done, equal to the
    uninterrupted batch."""
    path, whole = reference
    env = os.environ | {TEST_WORKER_EXIT_ENV: "3:once,14:once", TEST_WORKER_EXIT_DIR_ENV: str(tmp_path)}
    proc = start("batch", path, "--executor", "processes", "--workers", "2", "--chunk-runs", "4", "--out", tmp_path / "out",
                 cwd=tmp_path, env=env)
    code, stdout, stderr = finish(proc)
    died = sorted(p.name for p in tmp_path.glob("exited-*"))
    TALLY["worker_deaths"] += len((tmp_path / "worker-exits.log").read_text().split())
    assert died == ["exited-14", "exited-3"], "the fault was not injected"
    assert code == 0 and f"{RUNS} ok, 0 failed" in stdout, stdout + stderr
    assert_whole(whole, tmp_path / "out")


def test_a_run_that_always_kills_its_worker_is_recorded_failed_and_its_neighbours_are_done(reference, tmp_path):
    path, whole = reference
    """Run 5 (shocked; its no-shock twin is run 4, in the same task) makes its worker
    exit every time: the group is split, run 4 is done, run 5 is recorded as failed."""
    env = os.environ | {TEST_WORKER_EXIT_ENV: "5", TEST_WORKER_EXIT_DIR_ENV: str(tmp_path)}
    code, stdout, stderr = finish(start("batch", path, "--executor", "processes", "--workers", "2", "--chunk-runs", "4",
                                        "--out", tmp_path / "out", cwd=tmp_path, env=env))
    exits = len((tmp_path / "worker-exits.log").read_text().split())
    TALLY["worker_deaths"] += exits
    assert code == 1 and f"{RUNS - 1} ok, 1 failed" in stdout and "failed: run 5 " in stdout, stdout + stderr
    assert f"the process running it was lost {runner.MAX_TASK_ATTEMPTS} times, the last ones running it alone " \
           "(with its no-shock twin, run 4)" in stdout and "Traceback" not in stderr
    assert runner.MAX_TASK_ATTEMPTS < exits <= 2 + runner.MAX_TASK_ATTEMPTS  # bounded retries
    res = load_results(tmp_path / "out")
    row = res.outcomes.set_index("run_id").loc[5]
    assert row["status"] == "failed" and "BrokenProcessPool" in row["error"]
    # Every other run is done and equal to the uninterrupted batch.
    ok = res.outcomes[res.outcomes["run_id"] != 5].reset_index(drop=True)
    pd.testing.assert_frame_equal(ok, whole.outcomes[whole.outcomes["run_id"] != 5].reset_index(drop=True), check_exact=True)
    pd.testing.assert_frame_equal(res.timeseries, whole.timeseries[whole.timeseries["run_id"] != 5].reset_index(drop=True),
                                  check_exact=True)
    assert verify(tmp_path / "out").ok  # a failed run is recorded data, not damage


def _pool_workers(driver_pid: int) -> list:
    """The driver's worker processes (its children but the multiprocessing resource tracker)."""
    import psutil

    workers = []
    try:
        children = psutil.Process(driver_pid).children()
    except psutil.Error:
        return []
    for child in children:
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(child.cmdline()):
                workers.append(child)
        except psutil.Error:  # ended meanwhile
            pass
    return workers


def test_worker_processes_killed_from_outside_at_random_points(reference, tmp_path):
    """SIGKILL to one worker process of the pool (not the driver) at random points."""
    path, whole = reference
    out = tmp_path / "out"
    rng = np.random.default_rng(11)
    proc = start("batch", path, "--executor", "processes", "--workers", "2", "--chunk-runs", "2", "--out", out, cwd=tmp_path)
    kills = 0
    for target in sorted(int(x) for x in rng.integers(1, 9, size=3)):
        if not wait_until(proc, lambda t=target: parts_written(out) >= t and _pool_workers(proc.pid)):
            break
        time.sleep(float(rng.uniform(0.0, 0.2)))
        workers = _pool_workers(proc.pid)
        if workers and proc.poll() is None:
            try:
                workers[int(rng.integers(0, len(workers)))].kill()
                kills += 1
            except Exception:  # the worker ended on its own meanwhile
                pass
    code, stdout, stderr = finish(proc)
    TALLY["worker_deaths"] += kills
    assert kills >= 1
    assert code == 0 and f"{RUNS} ok, 0 failed" in stdout, stdout + stderr
    assert_whole(whole, out)


def test_a_dask_worker_killed_mid_batch(reference, tmp_path):
    pytest.importorskip("dask.distributed", reason="the [dask] extra is part of [test]")
    from dask.distributed import Client, LocalCluster

    path, whole = reference
    out = tmp_path / "dask"
    killed = []

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, Client(cluster) as client:
        pids = [nanny.pid for nanny in cluster.workers.values()]

        def kill_one() -> None:
            deadline = time.monotonic() + 120
            while parts_written(out) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

        killer = threading.Thread(target=kill_one)
        killer.start()
        summary = run_batch(path, executor=client.get_executor(pure=False), workers=2, out=out, chunk_runs=2)
        killer.join()
    TALLY["dask_worker_kills"] += len(killed)
    assert killed and summary.success and summary.done == RUNS
    assert_whole(whole, out)


def test_ctrl_c_with_dask_then_resume_loses_nothing(reference, tmp_path):
    """Ctrl-C to the process group of a ``ptce batch --executor dask`` (its local cluster's
    worker processes included), twice the second time: exit 130, the resume line, no
    traceback from the driver or a Dask worker; the resume finishes the batch."""
    pytest.importorskip("dask.distributed", reason="the [dask] extra is part of [test]")
    path, whole = reference
    out = tmp_path / "dask-stopped"
    command = ["batch", path, "--executor", "dask", "--workers", "2", "--chunk-runs", "2", "--out", out]
    interrupts = 0
    for round_ in range(2):
        proc = start(*command, *(["--resume"] if round_ else []), cwd=tmp_path)
        target = parts_written(out) + 1
        if not wait_until(proc, lambda t=target: parts_written(out) >= t):
            finish(proc)
            break
        interrupts += ctrl_c(proc, twice=round_ == 1)
        code, stdout, stderr = finish(proc)
        assert "Traceback" not in stderr, stderr
        if code == 0:  # the Ctrl-C came after the last part
            break
        assert code == 130, stderr
        assert "resume with: ptce batch " in stderr.strip().splitlines()[-1], stderr
    TALLY["sigint"] += interrupts
    assert interrupts >= 1
    code, stdout, stderr = finish(start(*command, "--resume", cwd=tmp_path))
    assert code == 0 and "Traceback" not in stderr, stderr
    assert_whole(whole, out)


@pytest.mark.parametrize("how", ["sigint", "raised"])
def test_ctrl_c_in_a_notebook_keeps_the_kernel_usable(reference, tmp_path, monkeypatch, how):
    """A Ctrl-C in the calling process (a notebook's interrupt button sends SIGINT to the
    kernel; or a KeyboardInterrupt raised by code) during a serial batch: BatchInterrupted
    with what is kept, Ctrl-C handling given back to the caller, and the batch resumes to
    the uninterrupted result."""
    from simulation import TerritoryModel

    path, whole = reference
    original = TerritoryModel.run
    calls = []

    def run(self, steps=None):
        calls.append(1)
        if len(calls) == 9:
            if how == "raised":
                raise KeyboardInterrupt
            os.kill(os.getpid(), signal.SIGINT)  # handled at the next bytecode boundary, inside the run
        return original(self, steps)

    monkeypatch.setattr(TerritoryModel, "run", run)
    # A kernel's Ctrl-C handling, whatever the test runner's (SIGINT is ignored in a
    # runner started as a background job of a script).
    runners = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(runner.BatchInterrupted) as info:
            run_batch(path, executor="serial", out=tmp_path / "nb", chunk_runs=2)
        TALLY["sigint"] += 1
        assert 0 < info.value.summary.done < RUNS and info.value.summary.done == len(load_results(tmp_path / "nb").done_run_ids)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back to the kernel
    finally:
        signal.signal(signal.SIGINT, runners)
    monkeypatch.undo()
    assert run_batch(path, executor="serial", out=tmp_path / "nb", resume=True).success
    assert_whole(whole, tmp_path / "nb")


# --------------------------------------------------------------------------- file-system faults
def cli(args: list[str], capsys) -> tuple[int, str]:
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    count_traceback(err)
    return code, err


def test_output_folder_not_writable_or_a_file(reference, tmp_path, capsys):
    """Tests run as root, so an unwritable folder is a path under a regular file."""
    path, _ = reference
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me")
    for out, expected in ((a_file / "out", "cannot write results there: Not a directory"),
                          (a_file, "exists and is not a folder")):
        code, err = cli(["batch", path, "--executor", "serial", "--out", out], capsys)
        TALLY["fs_faults"] += 1
        assert code == 2 and err.strip() == f"error: {out}: {expected}" + ("; choose another --out" if out == a_file else ""), err
        assert a_file.read_text() == "keep me"


def test_results_folder_of_another_batch_is_never_touched(reference, tmp_path, capsys):
    path, whole = reference
    before = tree_digest(whole.path)
    other = batch_file(tmp_path, SPEC.replace('name = "t"', 'name = "other"'), steps=12, name="other.toml")
    for extra in ([], ["--resume"]):
        code, err = cli(["batch", other, "--executor", "serial", "--out", whole.path, *extra], capsys)
        TALLY["fs_faults"] += 1
        assert code == 2 and len(err.strip().splitlines()) == 1
        assert ("holds batch 't' already" in err) if not extra else ("--resume refused" in err and "name" in err), err
    assert tree_digest(whole.path) == before


class DiskFull:
    """os.replace that fails with ENOSPC (disk full) from its n-th call inside ``folder``."""

    def __init__(self, folder: Path, after: int) -> None:
        self.folder, self.after, self.calls = str(folder), after, 0
        self.real = os.replace

    def __call__(self, src, dst, *args, **kwargs):
        if str(dst).startswith(self.folder):
            self.calls += 1
            if self.calls > self.after:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return self.real(src, dst, *args, **kwargs)


@pytest.mark.parametrize("after", [0, 2, 5, 13, 30])
def test_disk_full_keeps_what_is_written_and_resume_finishes(reference, tmp_path, monkeypatch, capsys, after):
    """Writes fail with ENOSPC from the n-th file on: during the folder's set-up (0, 2), or
    after some parts (5, 13, 30 files).  One line, exit 2, nothing finished lost, no stray
    file; once there is room again, the same command (with --resume when the set-up was
    complete) finishes the batch."""
    path, whole = reference
    out = tmp_path / "out"
    handler = signal.getsignal(signal.SIGINT)
    monkeypatch.setattr(os, "replace", DiskFull(out, after))
    code, err = cli(["batch", path, "--executor", "serial", "--chunk-runs", "2", "--out", out], capsys)
    TALLY["disk_full"] += 1
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "No space left on device" in lines[0], err
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]
    kept = len(load_results(out).done_run_ids) if (out / "spec.json").exists() else 0
    if (out / "spec.json").exists():
        assert f"{kept} of {RUNS} runs done and kept" in lines[0] and "--resume" in lines[0]
        report = verify(out)  # only "runs not done": nothing damaged
        assert len(report.problems) == 1 and "runs not done" in report.problems[0], str(report)
    monkeypatch.undo()
    assert signal.getsignal(signal.SIGINT) is handler  # this process keeps its Ctrl-C handling
    again = ["--resume"] if (out / "spec.json").exists() else []
    code, err = cli(["batch", path, "--executor", "serial", "--out", out, *again], capsys)
    assert code == 0, err
    assert_whole(whole, out)


def test_disk_full_through_the_python_api_is_a_batch_error(reference, tmp_path, monkeypatch):
    path, whole = reference
    monkeypatch.setattr(os, "replace", DiskFull(tmp_path / "api", 8))
    with pytest.raises(BatchError, match="No space left on device; [0-9]+ of 24 runs done and kept"):
        run_batch(path, executor="serial", out=tmp_path / "api", chunk_runs=3)
    TALLY["disk_full"] += 1
    monkeypatch.undo()
    assert run_batch(path, executor="serial", out=tmp_path / "api", resume=True).success
    assert_whole(whole, tmp_path / "api")


# --------------------------------------------------------------------------- ptce verify
@pytest.fixture
def copy_of(reference, tmp_path):
    """A fresh copy of the reference batch folder, to damage."""
    import shutil

    _, whole = reference
    dst = tmp_path / "copy"
    shutil.copytree(whole.path, dst)
    return dst


def verify_cli(folder, capsys) -> tuple[int, list[str]]:
    code = main(["verify", str(folder)])
    captured = capsys.readouterr()
    count_traceback(captured.err)
    return code, captured.out.strip().splitlines()


def test_verify_a_clean_batch(copy_of, capsys):
    code, lines = verify_cli(copy_of, capsys)
    assert code == 0 and lines == [f"ok: {copy_of}: batch 't', 24 of 24 runs in {len(load_results(copy_of).manifest['parts'])} parts; "
                                   "every part present with its checksum, no run twice, no stray file"]


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def _save(folder: Path, manifest: dict) -> None:
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _damage_bytes(folder: Path) -> str:
    rel = next(iter(_manifest(folder)["parts"][1]["files"]))
    f = folder / rel
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    return f"{rel}: checksum differs from manifest.json"


def _remove_part(folder: Path) -> str:
    rel = [r for r in _manifest(folder)["parts"][0]["files"] if r.startswith("timeseries/")][0]
    (folder / rel).unlink()
    return f"{rel}: missing (listed in manifest.json, part 0)"


def _duplicate_run(folder: Path) -> str:
    m = _manifest(folder)
    m["parts"].append(m["parts"][0])
    _save(folder, m)
    return "manifest.json: runs recorded more than once: " + ", ".join(map(str, sorted(m["parts"][0]["run_ids"])))


def _drop_part(folder: Path) -> str:
    m = _manifest(folder)
    part = m["parts"].pop()
    _save(folder, m)
    return f"{len(part['run_ids'])} of 24 runs not done"


def _stray_temporary(folder: Path) -> str:
    (folder / "outcomes" / ".part-00099.parquet.tmp-4242").write_bytes(b"half")
    return "outcomes/.part-00099.parquet.tmp-4242: stray temporary file"


def _unlisted_part(folder: Path) -> str:
    (folder / "outcomes" / "part-00099.parquet").write_bytes((folder / "outcomes" / "part-00000.parquet").read_bytes())
    return "outcomes/part-00099.parquet: not listed in manifest.json"


def _run_count(folder: Path) -> str:
    spec = json.loads((folder / "spec.json").read_text())
    spec["runs"] = 25
    (folder / "spec.json").write_text(json.dumps(spec))
    return "spec.json: says 25 runs, design.parquet has 24"


def _manifest_unreadable(folder: Path) -> str:
    (folder / "manifest.json").write_text('{"parts": [')
    return "manifest.json: cannot be read"


def _part_holds_other_runs(folder: Path) -> str:
    m = _manifest(folder)
    m["parts"][0]["run_ids"] = m["parts"][0]["run_ids"][:-1]
    _save(folder, m)
    return "outcomes of part 0: runs"


@pytest.mark.parametrize("damage", [_damage_bytes, _remove_part, _duplicate_run, _drop_part, _stray_temporary, _unlisted_part,
                                    _run_count, _manifest_unreadable, _part_holds_other_runs])
def test_verify_says_what_is_wrong(copy_of, capsys, damage):
    expected = damage(copy_of)
    code, lines = verify_cli(copy_of, capsys)
    assert code == 1, lines
    assert any(line.startswith(f"{copy_of}: {expected}") for line in lines[:-1]), (expected, lines)
    assert lines[-1].endswith(f"in {copy_of}") and "problem" in lines[-1]


def test_verify_user_errors_exit_2(tmp_path, capsys):
    for folder, expected in ((tmp_path / "nowhere", "no such results folder"), (tmp_path, "not a batch results folder")):
        code = main(["verify", str(folder)])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.startswith(f"error: {folder}: {expected}"), err


def test_verify_sees_a_batch_still_being_written(copy_of):
    import fcntl

    with open(copy_of / ".lock", "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        report = verify(copy_of)
    assert not report.ok and "a ptce batch is writing there now" in report.problems[0]
    assert verify(copy_of).ok


def test_verify_after_sigkill_mid_write_says_what_resume_will_do(reference, tmp_path):
    """A folder killed at a random point is never reported damaged: at most runs not done,
    and a part file or temporary file --resume removes."""
    path, _ = reference
    out = tmp_path / "k"
    proc = start("batch", path, "--executor", "serial", "--chunk-runs", "1", "--out", out, cwd=tmp_path)
    assert wait_until(proc, lambda: parts_written(out) >= 3)
    os.killpg(proc.pid, signal.SIGKILL)
    finish(proc)
    TALLY["sigkill"] += 1
    report = verify(out)
    allowed = ("runs not done", "stray temporary file", "not listed in manifest.json", "manifest.json: says complete")
    assert report.problems and all(any(a in p for a in allowed) for p in report.problems), str(report)


def test_checksums_recorded_when_parts_are_written(reference):
    _, whole = reference
    for part in whole.manifest["parts"]:
        for rel, digest in part["files"].items():
            assert hashlib.sha256((whole.path / rel).read_bytes()).hexdigest() == digest
