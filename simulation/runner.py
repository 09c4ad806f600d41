"""Scenario batches: design, seeds, executors and resumable Parquet results.

``run_batch(path)`` runs the batch a scenario file's ``[batch]`` table describes
(:mod:`simulation.batchspec`):

1. **Design.** Every combination of the axes (``regime.kind``, ``strategy.policy``, the
   named ``shock_set`` and any other dotted parameter path), crossed with the
   Latin-hypercube samples of the ranges and with the replicates; each axis value and each
   combination is validated against the Scenario schema before anything runs.
2. **Seeds.** Replicate ``r`` of every combination runs with
   ``SeedSequence(master_seed, spawn_key=(r,))``: the same initial territory, entries and
   shock draws for every regime and policy (common random numbers), so comparisons pair
   runs by replicate.  A run depends only on its scenario and its seed, never on the
   executor, the chunking or the order of execution.
3. **Twins.** A shocked run's resilience is measured against its no-shock twin (same
   replicate, same everything but the shocks).  The no-shock run of the same combination is
   used when the batch has one; otherwise the runner adds the twin runs (``twin_of``).
   Runs that share everything but the shock set form a group and always run in the same
   task, so the worker computes the resilience measures itself.
4. **Executors.** ``serial``, ``processes`` (default: ``ProcessPoolExecutor``, spawn start
   method, safe in Jupyter), ``dask`` (``dask.distributed``: an existing cluster at
   ``scheduler`` or a local one), or any ``concurrent.futures.Executor``.  Groups are
   packed into tasks of about ``TASK_SECONDS`` (timed on the first tasks) so per-task
   overhead stays small; at most two tasks per worker are in flight.
5. **Storage.** The driver writes each finished task as Parquet part files (temporary
   name, fsync, rename) and then the manifest (run ids and sha256 of each part).  Time
   series go to disk task by task, never accumulate in the driver.  A run that raises is
   recorded with its error; the others go on.
6. **Resume.** ``resume=True`` reruns only the runs not recorded in the manifest, after
   checking that the spec on disk is the same; a folder of another batch is never
   overwritten.  Ctrl-C finishes the tasks already running, keeps everything written and
   raises :class:`BatchInterrupted`.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import copy
import io
import itertools
import json
import logging
import math
import multiprocessing
import os
import shlex
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from . import __version__
from .batchspec import NO_SHOCK_SET, SHOCK_SET_AXIS, BatchSpec
from .metrics import METRICS
from .model import TerritoryModel
from .params import Scenario, _format_error, load_scenario
from .resilience import RESILIENCE_SERIES, outcome_measures
from .results import (
    HEADLINE_OUTCOMES,
    RESILIENCE_MEASURES,
    STANDARD_AXES,
    BatchError,
    Results,
    compare,
    format_comparison,
    load_results,
    read_json,
    sha256_bytes,
)

__all__ = [
    "HEADLINE_OUTCOMES", "STANDARD_AXES", "BatchError", "BatchInterrupted", "BatchSummary", "Plan", "Results",
    "compare", "format_comparison", "load_results", "make_plan", "run_batch",
]

SPEC_FORMAT = "ptce-sim batch 1"
SPEC_COMPARED = ("format", "package_version", "scenario", "name", "axes", "sampled", "runs")
"""Keys of spec.json that must match for ``--resume`` (the others are informational)."""

TASK_SECONDS = 2.0
"""Target duration of a task: long enough that submitting, pickling and writing a part
(~10-50 ms) stay small against it, short enough that Ctrl-C, a lost worker or a kill
loses little work and the progress bar moves."""

LHS_TAG = 0x4C4853
"""Entropy word ('LHS') mixed with the master seed for the Latin-hypercube sampler, so
its stream is independent of every replicate's SeedSequence(master_seed, spawn_key=(r,))."""

SCENARIO_SHOCK_SET = "scenario"
"""Shock-set name of runs that keep the scenario's own ``shocks`` (no shock_set axis)."""


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch: finished tasks are kept; ``.summary`` says what is done."""

    def __init__(self, summary: BatchSummary) -> None:
        super().__init__(str(summary))
        self.summary = summary


# =========================================================================== design
@dataclass
class Plan:
    """The resolved batch: base scenario, spec, design table, and each run's scenario."""

    source: str
    name: str
    scenario: Scenario  # resolved base scenario, with the resolved batch spec
    spec: BatchSpec
    axes: dict[str, list[Any]]
    sampled: list[str]
    design: pd.DataFrame
    points: list[Scenario]  # distinct run scenarios (batch=None)
    point_of_run: list[int]  # run_id -> index in points
    groups: list[list[int]]  # run ids sharing everything but the shock set (twin groups)
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def runs(self) -> int:
        return len(self.design)

    @property
    def twins(self) -> int:
        return int((self.design["twin_of"] >= 0).sum())

    def spec_record(self) -> dict[str, Any]:
        """What spec.json holds (keys of SPEC_COMPARED must match to resume)."""
        return {
            "format": SPEC_FORMAT,
            "package_version": __version__,
            "name": self.name,
            "runs": self.runs,
            "axes": list(self.axes),
            "sampled": list(self.sampled),
            "scenario": self.scenario.model_dump(mode="json"),
            "source": self.source,
            "overrides": {k: str(v) for k, v in self.overrides.items()},
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def tasks(self, group: list[int]) -> list[RunTask]:
        d = self.design
        out = []
        for run_id in group:
            scenario = self.points[self.point_of_run[run_id]]
            replicate = int(d.at[run_id, "replicate"])
            sample = int(d.at[run_id, "sample"]) if "sample" in d.columns else 0
            out.append(RunTask(
                run_id=run_id, replicate=replicate, master_seed=int(self.spec.master_seed),
                scenario=scenario, twin_run_id=int(d.at[run_id, "twin_run_id"]),
                network=bool(self.spec.networks and replicate == 0 and sample == 0),
            ))
        return out

    def describe(self, run_id: int) -> str:
        row = self.design.loc[run_id]
        bits = [f"{a}={row[a]}" for a in self.axes if len(self.axes[a]) > 1] + [f"replicate {row['replicate']}"]
        return f"run {run_id} ({', '.join(bits)})"


def _set_path(data: dict[str, Any], key: str, value: Any, where: str) -> None:
    """Set a dotted key in a scenario dict; changing regime.kind starts the regime from
    its own defaults (as load_scenario does)."""
    parts = key.split(".")
    if key == "regime.kind" and isinstance(data.get("regime"), dict) and data["regime"].get("kind") != value:
        data["regime"] = {}
    node = data
    for p in parts[:-1]:
        child = node.setdefault(p, {})
        if not isinstance(child, dict):
            raise BatchError(f"{where}: {p} is not a table")
        node = child
    node[parts[-1]] = copy.deepcopy(value)


def _validated(data: dict[str, Any], where: str) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise BatchError(_format_error(where, err)) from None


def latin_hypercube(ranges: dict[str, list[Any]], samples: int, master_seed: int) -> list[dict[str, Any]]:
    """``samples`` points of a Latin hypercube over the ranges (scipy.stats.qmc), uniform
    on [low, high]; a range whose two ends are integers gives integers, each of
    low..high equally likely.  Seeded from the master seed (LHS_TAG), so the same spec
    gives the same points."""
    if not ranges or samples <= 0:
        return [{}]
    from scipy.stats import qmc

    rng = np.random.default_rng(np.random.SeedSequence([master_seed, LHS_TAG]))
    u = qmc.LatinHypercube(d=len(ranges), rng=rng).random(samples)
    points = []
    for row in u:
        values: dict[str, Any] = {}
        for (path, (low, high)), x in zip(ranges.items(), row, strict=True):
            if isinstance(low, int) and isinstance(high, int):
                values[path] = int(min(low + math.floor(x * (high - low + 1)), high))
            else:
                values[path] = float(low + x * (high - low))
        points.append(values)
    return points


def make_plan(
    scenario: str | Path | Scenario,
    *,
    replicates: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> Plan:
    """Resolve a batch: load and validate the scenario, its ``[batch]`` table, every axis
    value, shock set and combination; build the design table (runs, seeds, twins).

    ``overrides`` are dotted ``--set`` keys applied to the scenario; one naming an axis
    (or ``shock_set``) pins that axis to the value given.  Raises :class:`BatchError` (or
    ScenarioError) with one line naming the file and the field on any bad input.
    """
    overrides = dict(overrides or {})
    pinned_shock_set = overrides.pop(SHOCK_SET_AXIS, None)
    if isinstance(scenario, Scenario):
        source = f"<scenario {scenario.name!r}>"
        data = scenario.model_dump()
        for key, value in overrides.items():
            _set_path(data, key, value, f"{source} --set {key}")
        base = _validated(data, source)
    else:
        source = str(scenario)
        base = load_scenario(scenario, overrides)
    spec = base.batch or BatchSpec()
    if replicates is not None and not (isinstance(replicates, int) and replicates >= 1):
        raise BatchError(f"{source}: --replicates: must be a whole number >= 1, got {replicates!r}")
    axes_in = {k: v for k, v in spec.axes.items() if k not in overrides}
    if pinned_shock_set is not None:
        axes_in[SHOCK_SET_AXIS] = [str(pinned_shock_set)]
    try:
        spec = BatchSpec.model_validate(spec.model_dump() | {
            "replicates": replicates if replicates is not None else spec.replicates,
            "master_seed": spec.master_seed if spec.master_seed is not None else base.seed,
            "steps": spec.steps if spec.steps is not None else base.steps,
            "name": spec.name or base.name,
            "axes": axes_in,
        })
    except ValidationError as err:
        raise BatchError(_format_error(f"{source}: batch", err)) from None
    name = str(spec.name)

    # Axes in column order: the three standard ones, then the others as written.
    shock_lists: dict[str, list[dict[str, Any]]] = {
        NO_SHOCK_SET: [], SCENARIO_SHOCK_SET: [s.model_dump() for s in base.shocks], **spec.shock_sets,
    }
    if SHOCK_SET_AXIS in spec.axes:
        shock_names = list(spec.axes[SHOCK_SET_AXIS])
    elif spec.shock_sets:
        shock_names = list(spec.shock_sets)
    else:
        shock_names = [SCENARIO_SHOCK_SET if base.shocks else NO_SHOCK_SET]
    axes: dict[str, list[Any]] = {
        "regime.kind": list(spec.axes.get("regime.kind", [base.regime.kind])),
        "strategy.policy": list(spec.axes.get("strategy.policy", [base.strategy.policy])),
        SHOCK_SET_AXIS: shock_names,
    }
    axes.update({k: list(v) for k, v in spec.axes.items() if k not in axes})

    base_data = base.model_dump()
    base_data["batch"] = None
    base_data["steps"] = spec.steps
    base_data["shocks"] = []

    # Each value alone first, so an error names the axis that caused it.
    for path, values in axes.items():
        if path == SHOCK_SET_AXIS:
            continue
        for value in values:
            where = f"{source}: batch.axes.{path} = {value!r}"
            trial = copy.deepcopy(base_data)
            _set_path(trial, path, value, where)
            _validated(trial, where)
    for set_name in dict.fromkeys(shock_names):
        trial = copy.deepcopy(base_data)
        trial["shocks"] = shock_lists[set_name]
        _validated(trial, f"{source}: batch.shock_sets.{set_name}")
    for path, (low, high) in spec.ranges.items():
        for value in (low, high):
            where = f"{source}: batch.ranges.{path} = {value!r}"
            trial = copy.deepcopy(base_data)
            _set_path(trial, path, value, where)
            _validated(trial, where)

    samples = latin_hypercube(spec.ranges, spec.samples, spec.master_seed)
    sampled = list(spec.ranges)
    combo_axes = [a for a in axes if a != SHOCK_SET_AXIS]
    combos = list(itertools.product(*(axes[a] for a in combo_axes)))
    empty_sets = [n for n in shock_names if not shock_lists[n]]
    need_twins = len(empty_sets) == 0 and any(shock_lists[n] for n in shock_names)

    points: list[Scenario] = []
    point_index: dict[tuple[int, int, str], int] = {}

    def point(s: int, c: int, set_name: str) -> int:
        key = (s, c, set_name)
        if key not in point_index:
            combo = dict(zip(combo_axes, combos[c], strict=True))
            data = copy.deepcopy(base_data)
            for path, value in combo.items():
                _set_path(data, path, value, source)
            data["shocks"] = copy.deepcopy(shock_lists[set_name])
            for path, value in samples[s].items():
                _set_path(data, path, value, source)
            desc = ", ".join(f"{k}={v!r}" for k, v in [*combo.items(), (SHOCK_SET_AXIS, set_name), *samples[s].items()])
            point_index[key] = len(points)
            points.append(_validated(data, f"{source}: batch: combination {desc}"))
        return point_index[key]

    with_sample = bool(spec.ranges)
    rows: list[dict[str, Any]] = []
    point_of_run: list[int] = []
    groups: list[list[int]] = []
    group_keys: list[tuple[int, int, int]] = []

    def add_run(r: int, s: int, c: int, set_name: str, twin_of: int) -> int:
        run_id = len(rows)
        row: dict[str, Any] = {"run_id": run_id, "replicate": r, "seed": f"SeedSequence({spec.master_seed}, spawn_key=({r},))"}
        if with_sample:
            row["sample"] = s
        combo = dict(zip(combo_axes, combos[c], strict=True))
        for a in axes:
            row[a] = set_name if a == SHOCK_SET_AXIS else combo[a]
        row.update(samples[s])
        row["twin_of"] = twin_of
        row["twin_run_id"] = -1
        rows.append(row)
        point_of_run.append(point(s, c, set_name))
        return run_id

    for r in range(spec.replicates):
        for s in range(len(samples)):
            for c in range(len(combos)):
                groups.append([add_run(r, s, c, n, -1) for n in shock_names])
                group_keys.append((r, s, c))
    if need_twins:  # added twins come after the design's own runs
        for group, (r, s, c) in zip(groups, group_keys, strict=True):
            first_shocked = next(i for i in group if points[point_of_run[i]].shocks)
            group.append(add_run(r, s, c, NO_SHOCK_SET, first_shocked))
    for group in groups:
        calm = [i for i in group if not points[point_of_run[i]].shocks]
        for i in group:
            if points[point_of_run[i]].shocks and calm:
                rows[i]["twin_run_id"] = calm[0]
    design = pd.DataFrame(rows)
    resolved = base.model_copy(update={"batch": spec})
    return Plan(source=source, name=name, scenario=resolved, spec=spec, axes=axes, sampled=sampled, design=design,
                points=points, point_of_run=point_of_run, groups=groups, overrides=overrides | (
                    {SHOCK_SET_AXIS: pinned_shock_set} if pinned_shock_set is not None else {}))


# =========================================================================== worker side
@dataclass(frozen=True)
class RunTask:
    run_id: int
    replicate: int
    master_seed: int
    scenario: Scenario
    twin_run_id: int  # the no-shock twin's run id, -1 when the run has no shock
    network: bool  # write its cooperation network


def run_seed(master_seed: int, replicate: int) -> np.random.SeedSequence:
    """The seed of replicate r: SeedSequence(master_seed, spawn_key=(r,)), a fresh object
    each time (spawning children changes a SeedSequence's state)."""
    return np.random.SeedSequence(master_seed, spawn_key=(replicate,))


def outcome_columns() -> list[str]:
    """Columns of the outcomes table, in order."""
    metrics = [m for m in METRICS if m != "step"]
    return ["run_id", "status", "error", *(f"final_{m}" for m in metrics), *(f"mean_{m}" for m in metrics),
            *(f"{s}__{m}" for s in RESILIENCE_SERIES for m in RESILIENCE_MEASURES)]


def summarise_run(ts: pd.DataFrame) -> dict[str, float]:
    """final_<metric> (last quarter) and mean_<metric> (mean over the quarters) of a run."""
    out = {}
    for m in METRICS:
        if m != "step":
            out[f"final_{m}"] = float(ts[m].iloc[-1])
    for m in METRICS:
        if m != "step":
            out[f"mean_{m}"] = float(ts[m].mean())
    return out


def simulate(task: RunTask) -> TerritoryModel:
    model = TerritoryModel(task.scenario, rng=run_seed(task.master_seed, task.replicate))
    model.run(task.scenario.steps)
    return model


TEST_WORKER_EXIT_ENV = "PTCE_TEST_WORKER_EXIT"
TEST_WORKER_EXIT_DIR_ENV = "PTCE_TEST_WORKER_EXIT_DIR"


def _test_worker_exit(run_id: int) -> None:
    """Test-only fault injection (tests/test_reliability_faults.py), off unless the
    environment variable PTCE_TEST_WORKER_EXIT is set: a comma-separated list of run ids
    (``3`` or ``3:once``).  A worker *process* (never the driver, never a serial run) about
    to run one of them ends at once with os._exit(70), as a crash or the out-of-memory
    killer would end it; ``:once`` only the first time (a marker file in the folder named
    by PTCE_TEST_WORKER_EXIT_DIR, where each exit also adds a line to worker-exits.log).
    It cannot be a monkeypatch: spawned workers import the package afresh."""
    spec = os.environ.get(TEST_WORKER_EXIT_ENV)
    if not spec or multiprocessing.parent_process() is None:
        return
    folder = os.environ.get(TEST_WORKER_EXIT_DIR_ENV)
    for item in spec.split(","):
        rid, _, mode = item.strip().partition(":")
        if rid != str(run_id):
            continue
        if mode == "once":
            try:
                os.close(os.open(Path(folder or ".") / f"exited-{run_id}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return
        if folder:  # one line per exit, for the tests' counts
            fd = os.open(Path(folder) / "worker-exits.log", os.O_CREAT | os.O_APPEND | os.O_WRONLY)
            os.write(fd, f"{run_id}\n".encode())
            os.close(fd)
        os._exit(70)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".replace("\n", " ").strip()


def run_group_task(groups: list[list[RunTask]]) -> dict[str, Any]:
    """Run a task (a list of twin groups) and return its outcomes, time series and
    networks.  Within a group the no-shock runs go first, so a shocked run's resilience
    is measured against its twin's time series as soon as it ends.  A run that raises is
    recorded as failed with its error; the task goes on."""
    import networkx as nx

    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    series: list[pd.DataFrame] = []
    networks: dict[int, str] = {}
    failed: dict[int, str] = {}
    for group in groups:
        calm_ts: dict[int, pd.DataFrame] = {}
        for task in sorted(group, key=lambda t: bool(t.scenario.shocks)):
            row: dict[str, Any] = {"run_id": task.run_id, "status": "ok", "error": ""}
            _test_worker_exit(task.run_id)
            try:
                model = simulate(task)
                ts = model.timeseries()
                row.update(summarise_run(ts))
                if not task.scenario.shocks:
                    calm_ts[task.run_id] = ts
                elif task.twin_run_id in calm_ts and model.shocks.window is not None:
                    twin_ts = calm_ts[task.twin_run_id]
                    row.update({k: float(v) for k, v in outcome_measures(ts, twin_ts, model.shocks.window).items()})
                if task.network:
                    networks[task.run_id] = "\n".join(nx.generate_graphml(model.network_graph()))
                ts = ts.copy()
                ts.insert(0, "run_id", task.run_id)
                series.append(ts)
            except Exception as exc:  # a failed run is data: recorded, the batch goes on
                row = {"run_id": task.run_id, "status": "failed", "error": _error_text(exc)}
                failed[task.run_id] = row["error"]
            rows.append(row)
    columns = outcome_columns()
    columns += [c for c in dict.fromkeys(k for r in rows for k in r) if c not in columns]
    outcomes = pd.DataFrame(rows).reindex(columns=columns)
    numeric = [c for c in columns if c not in ("run_id", "status", "error")]
    outcomes[numeric] = outcomes[numeric].astype("float64")
    outcomes["run_id"] = outcomes["run_id"].astype("int64")
    timeseries = pd.concat(series, ignore_index=True) if series else pd.DataFrame({"run_id": pd.Series(dtype="int64")})
    return {
        "run_ids": [r["run_id"] for r in rows], "failed": failed, "outcomes": outcomes,
        "timeseries": timeseries, "networks": networks, "seconds": time.perf_counter() - start,
    }


def _ignore_sigint() -> None:
    """Worker processes ignore Ctrl-C: the driver decides what to stop and keeps the
    results of tasks already running."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _exit_with_parent() -> None:
    """This worker process ends when its parent (the driver) ends, however it ends: killed
    (SIGTERM from ``kill`` or a job scheduler, SIGKILL, a Jupyter kernel restarted) or
    crashed.  Otherwise an idle pool worker waits for work from the dead parent forever,
    and keeps multiprocessing's resource tracker alive with it.  multiprocessing gives a
    spawned child a sentinel of its parent (the read end of a pipe whose write end only the
    parent holds; a process handle on Windows): ``parent_process().join()`` returns when the
    parent has exited, and a daemon thread then ends the worker at once (os._exit: there is
    no one left to report to).  Portable, no polling, no Linux-only prctl."""
    parent = multiprocessing.parent_process()
    if parent is None:  # not a multiprocessing child
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="ptce-exit-with-parent", daemon=True).start()


def _worker_init() -> None:
    """Initializer of the process pool's workers: :func:`_ignore_sigint`, :func:`_exit_with_parent`."""
    _ignore_sigint()
    _exit_with_parent()


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT blocked in this thread while it starts processes: the signal mask is
    inherited through fork and exec, so a worker is born deaf to the terminal's Ctrl-C
    (and ignores it once _ignore_sigint has run) instead of dying with a traceback on the
    user's screen while Python starts up in it.  A Ctrl-C meanwhile stays pending and is
    handled (counted, see _CtrlC) once the mask is restored."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)


POLL_SECONDS = 0.2
"""How long the driver waits for tasks before it looks whether Ctrl-C was pressed."""


class _CtrlC:
    """Ctrl-C during a batch, counted by the SIGINT handler and acted on by the driver at
    points of its choosing.

    Python's own handler raises KeyboardInterrupt wherever the main thread happens to be:
    in the middle of recording a part, of starting a worker process, of shutting the pool
    down, or inside some object's ``__del__``, where it is printed as "Exception ignored
    in ..." with a traceback and then lost (a progress bar's did exactly that).  So while a
    batch runs the handler only counts; the driver, which waits for tasks at most
    POLL_SECONDS at a time, stops at its next look.  Only while a serial task runs in this
    very process does the first Ctrl-C raise, to stop the simulation at once.  The first
    Ctrl-C stops the batch (tasks already running in workers are finished and kept), the
    second stops that wait.

    Installed only in the main thread (Python runs signal handlers there only) and only
    over a handler set from Python: a SIGINT ignored (nohup, a background job of a script)
    stays ignored, as Python itself leaves it.  ``restore`` puts the previous handler back
    (a notebook or a test calling the runner keeps its Ctrl-C) or, for a ptce process about
    to exit after an interrupted batch, leaves SIGINT ignored: a further Ctrl-C could only
    break the exit with a traceback."""

    def __init__(self) -> None:
        self.count = 0
        self._raising = False
        self._previous: Any = None
        self._installed = False

    def install(self) -> _CtrlC:
        if threading.current_thread() is threading.main_thread() and callable(signal.getsignal(signal.SIGINT)):
            self._previous = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def restore(self, *, exiting: bool) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, signal.SIG_IGN if exiting else self._previous)
            self._installed = False

    def _handle(self, signum: int, frame: Any) -> None:
        self.count += 1
        if self._raising:
            self._raising = False
            raise KeyboardInterrupt

    def check(self) -> None:
        """KeyboardInterrupt if Ctrl-C was pressed: called where stopping is safe."""
        if self.count:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """The first Ctrl-C raises KeyboardInterrupt here at once (a serial task)."""
        self.check()
        self._raising = self._installed
        try:
            yield
        finally:
            self._raising = False


_EXIT_AFTER_INTERRUPT = False
"""True while the ``ptce batch`` process runs its batch (not when main() is called from
Python): the process ends after an interrupted batch, so Ctrl-C stays ignored from then
to the exit (see _CtrlC.restore); a caller in Python (Jupyter, tests) gets its Ctrl-C back."""


# =========================================================================== storage
def _write_atomic(path: Path, data: bytes) -> None:
    """Write under a temporary name, fsync, rename: a reader (or a resume after a kill or
    a power cut) sees the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def _normalised(obj: Any) -> Any:
    return json.loads(json.dumps(obj))


def _first_difference(old: Any, new: Any, path: str = "") -> tuple[str, Any, Any] | None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            if key not in old or key not in new:
                return (f"{path}{key}", old.get(key, "(absent)"), new.get(key, "(absent)"))
            diff = _first_difference(old[key], new[key], f"{path}{key}.")
            if diff:
                return diff
        return None
    if old != new:
        return (path.rstrip(".") or "(spec)", old, new)
    return None


INIT_FILES = {"design.parquet", "manifest.json", ".lock"}
PART_FOLDERS = ("outcomes", "timeseries", "networks")


def _empty_subfolder(p: Path) -> bool:
    """A part folder holding nothing but temporary files: left by a set-up cut short."""
    return p.name in PART_FOLDERS and p.is_dir() and all(".tmp-" in f.name for f in p.iterdir())


class _Folder:
    """A batch folder on disk: spec.json, design.parquet, parts, manifest.json, and
    ``.lock``, locked (flock) by the one driver writing there."""

    def __init__(self, path: Path, plan: Plan) -> None:
        self.path = path
        self.plan = plan
        self.manifest: dict[str, Any] = {}
        self._lock_file: Any = None

    def open(self, resume: bool) -> list[str]:
        """Create the folder, or check and reopen it for --resume; returns warnings."""
        try:
            return self._open(resume)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # releases the lock (so does the end of the process, even killed)
            self._lock_file = None

    def _lock(self) -> None:
        """One driver at a time: a second ``ptce batch`` on the same folder is refused."""
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return
        try:
            self._lock_file = open(self.path / ".lock", "a")  # held until close()
        except OSError as exc:
            raise BatchError(f"{self.path}: cannot write results there: {exc.strerror or exc}") from None
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise BatchError(f"{self.path}: another ptce batch is writing there now; wait for it to end, or choose another --out") from None

    def _open(self, resume: bool) -> list[str]:
        out = self.path
        if out.exists() and not out.is_dir():
            raise BatchError(f"{out}: exists and is not a folder; choose another --out")
        if (out / "spec.json").exists():
            on_disk = read_json(out / "spec.json")
            if not resume:
                raise BatchError(f"{out}: holds batch {on_disk.get('name', '?')!r} already; add --resume to continue it, or choose another --out")
            self._lock()
            return self._reopen(on_disk)
        if out.exists():
            others = [p.name for p in out.iterdir() if p.name not in INIT_FILES and ".tmp-" not in p.name and not _empty_subfolder(p)]
            if others:
                raise BatchError(f"{out}: is not empty and holds no batch (no spec.json, found {others[0]}); choose another --out")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BatchError(f"{out}: cannot write results there: {exc.strerror or exc}") from None
        self._lock()
        if (out / "spec.json").exists():  # another driver set it up while we looked
            raise BatchError(f"{out}: holds a batch already; add --resume to continue it, or choose another --out")
        try:
            # A set-up cut short (killed before spec.json) is started again, cleanly.
            for f in [*out.iterdir(), *(x for sub in PART_FOLDERS if (out / sub).is_dir() for x in (out / sub).iterdir())]:
                if ".tmp-" in f.name:
                    f.unlink()
            for sub in ("outcomes", "timeseries", "networks"):
                (out / sub).mkdir(exist_ok=True)
            _write_atomic(out / "design.parquet", _parquet_bytes(self.plan.design))
            self.manifest = self._new_manifest()
            self._save_manifest()
            # spec.json last: its presence marks a folder whose set-up is complete.
            _write_atomic(out / "spec.json", _json_bytes(self.plan.spec_record()))
        except OSError as exc:
            raise BatchError(f"{out}: cannot write results there: {exc.strerror or exc}") from None
        return []

    def _new_manifest(self) -> dict[str, Any]:
        return {"format": SPEC_FORMAT, "name": self.plan.name, "runs": self.plan.runs, "complete": False, "parts": []}

    def _reopen(self, on_disk: dict[str, Any]) -> list[str]:
        out = self.path
        new = _normalised({k: v for k, v in self.plan.spec_record().items() if k in SPEC_COMPARED})
        old = _normalised({k: on_disk.get(k, "(absent)") for k in SPEC_COMPARED})
        diff = _first_difference(old, new)
        if diff:
            where, a, b = diff
            raise BatchError(f"{out}: --resume refused: the spec differs from the batch on disk at {where}: "
                             f"{json.dumps(a)} in spec.json, {json.dumps(b)} now; use the same scenario and options, or another --out")
        try:
            design = pd.read_parquet(out / "design.parquet")
        except (OSError, ValueError):
            design = None
        if design is not None and not design.equals(self.plan.design):
            raise BatchError(f"{out}: --resume refused: design.parquet differs from the design of this spec")
        warnings = []
        try:
            if design is None:
                _write_atomic(out / "design.parquet", _parquet_bytes(self.plan.design))
            for sub in ("outcomes", "timeseries", "networks"):
                (out / sub).mkdir(exist_ok=True)
            try:
                manifest = read_json(out / "manifest.json")
            except BatchError:  # missing or unreadable (a crash while it was replaced): start it again
                warnings.append(f"{out / 'manifest.json'}: missing or unreadable; every run will be run again")
                manifest = self._new_manifest()
            kept = []
            for part in manifest.get("parts", []):
                bad = [rel for rel, digest in part["files"].items()
                       if not (out / rel).is_file() or sha256_bytes((out / rel).read_bytes()) != digest]
                if bad:
                    warnings.append(f"{out / bad[0]}: missing or damaged; its {len(part['run_ids'])} runs will be run again")
                else:
                    kept.append(part)
            manifest["parts"] = kept
            self.manifest = manifest
            referenced = {rel for part in kept for rel in part["files"]}
            for sub in ("outcomes", "timeseries", "networks"):
                for f in (out / sub).iterdir():
                    if f"{sub}/{f.name}" not in referenced:
                        f.unlink()  # written by a task the manifest never recorded, or a temporary file
            for f in out.iterdir():
                if ".tmp-" in f.name:
                    f.unlink()
            self._save_manifest()
        except OSError as exc:
            raise BatchError(f"{out}: cannot write results there: {exc.strerror or exc}") from None
        return warnings

    @property
    def done(self) -> set[int]:
        return {int(i) for part in self.manifest["parts"] for i in part["run_ids"]}

    @property
    def failed(self) -> dict[int, str]:
        return {int(k): v for part in self.manifest["parts"] for k, v in part["failed"].items()}

    def _save_manifest(self) -> None:
        self.manifest["complete"] = len(self.done) == self.plan.runs
        self.manifest["updated"] = datetime.now(UTC).isoformat(timespec="seconds")
        _write_atomic(self.path / "manifest.json", _json_bytes(self.manifest))

    def record(self, result: dict[str, Any]) -> None:
        """Write a finished task's part files, then add them to the manifest."""
        part_id = 1 + max((p["id"] for p in self.manifest["parts"]), default=-1)
        files: dict[str, str] = {}
        blobs = [(f"{kind}/part-{part_id:05d}.parquet", _parquet_bytes(result[kind])) for kind in ("outcomes", "timeseries")]
        blobs += [(f"networks/run-{run_id}.graphml", text.encode("utf-8")) for run_id, text in result["networks"].items()]
        try:
            for rel, data in blobs:
                _write_atomic(self.path / rel, data)
                files[rel] = sha256_bytes(data)
            self.manifest["parts"].append({
                "id": part_id, "run_ids": [int(i) for i in result["run_ids"]],
                "failed": {str(k): v for k, v in result["failed"].items()},
                "seconds": round(float(result["seconds"]), 4), "files": files,
            })
            try:
                self._save_manifest()
            except BaseException:
                self.manifest["parts"].pop()
                raise
        except OSError:  # disk full: the part is not recorded; its files go (--resume would remove them too)
            for rel in files:
                (self.path / rel).unlink(missing_ok=True)
            raise


# =========================================================================== executors
class SerialExecutor(cf.Executor):
    """Runs each task in the calling process when it is submitted (a Ctrl-C counted by
    ``ctrl_c`` stops the task at once: see _CtrlC)."""

    def __init__(self, ctrl_c: _CtrlC | None = None) -> None:
        self.ctrl_c = ctrl_c

    def submit(self, fn, /, *args, **kwargs):  # noqa: ANN001 (Executor's signature)
        future: cf.Future = cf.Future()
        try:
            with self.ctrl_c.interruptible() if self.ctrl_c else contextlib.nullcontext():
                result = fn(*args, **kwargs)
        except Exception as exc:
            future.set_exception(exc)
        else:
            future.set_result(result)
        return future


class _ProcessPool(cf.Executor):
    """A ProcessPoolExecutor (spawn start method, workers ignore Ctrl-C and end with the
    driver's process, see _worker_init) that the driver rebuilds with ``restart()`` when a
    worker process dies: the pool is then broken (BrokenProcessPool) and every task it held
    fails with it (see _drive).  Also the pool of simulation.validation.calibration_runs."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.restarts = 0
        self._pool = self._new()

    def _new(self) -> cf.ProcessPoolExecutor:
        with _sigint_blocked():  # starts the resource tracker process
            return cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                          initializer=_worker_init)

    def submit(self, fn, /, *args, **kwargs):  # noqa: ANN001 (Executor's signature)
        with _sigint_blocked():  # submit starts the worker processes
            return self._pool.submit(fn, *args, **kwargs)

    def restart(self) -> None:
        old, self._pool = self._pool, self._new()
        self.restarts += 1
        self._end(old, wait=False)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._end(self._pool, wait=wait, cancel_futures=cancel_futures)

    @staticmethod
    def _end(pool: cf.ProcessPoolExecutor, *, wait: bool, cancel_futures: bool = True) -> None:
        if not wait:  # stop now (Ctrl-C, a broken pool): the workers ignore SIGINT, so end them
            procs = list((getattr(pool, "_processes", None) or {}).values())
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.join(timeout=10)
        pool.shutdown(wait=wait, cancel_futures=cancel_futures)
        if not wait:
            # A worker ended while it was sending a result leaves half a message in the result
            # pipe; the pool's manager thread would wait for the rest forever, and the
            # interpreter waits for that thread when it exits (a batch that never ends after a
            # second Ctrl-C).  With the workers gone, the pool's own copy of the write end is
            # the last: closing it turns that wait into an EOF, which the pool treats as broken.
            writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
            if writer is not None:
                with contextlib.suppress(OSError):
                    writer.close()


class _CancelledCallbackFilter(logging.Filter):
    """Drops the records of a cancelled future's callback from tornado's error logger.

    Dask's ``ClientExecutor`` passes each task's result on to its ``concurrent.futures``
    future from a callback on the client's event loop (``distributed.cfexecutor``).  When
    the driver cancels the tasks not yet started (Ctrl-C), that callback raises
    ``FutureCancelledError`` and tornado logs it, traceback included, on the user's screen;
    when it happens depends on the loop thread, so it could come before ``close`` silences
    logging (seen once in CI, tests/test_reliability_faults.py).  A cancelled task is the
    batch's own doing and it reports what it kept: nothing else is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], cf.CancelledError))


TORNADO_ERROR_LOGGER = "tornado.application"
"""The logger of tornado's event-loop callbacks (the loop Dask's client runs on)."""


def _open_executor(executor: str | cf.Executor, workers: int | None, scheduler: str | None,
                   ctrl_c: _CtrlC | None = None) -> tuple[cf.Executor, int, Callable[[bool], None], str]:
    """(executor, workers, close(wait), description)."""
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise BatchError(f"--workers: must be a whole number >= 1, got {workers!r}")
    if scheduler is not None and executor != "dask":
        raise BatchError("--scheduler: only with --executor dask")
    if isinstance(executor, cf.Executor):
        n = workers or getattr(executor, "_max_workers", None) or os.cpu_count() or 1
        return executor, n, lambda wait: None, f"{type(executor).__name__} ({n} workers)"
    if executor == "serial":
        return SerialExecutor(ctrl_c), 1, lambda wait: None, "serial"
    if executor == "processes":
        n = workers or os.cpu_count() or 1
        pool = _ProcessPool(n)

        def close_pool(wait: bool) -> None:
            pool.shutdown(wait=wait, cancel_futures=True)

        return pool, n, close_pool, f"processes ({n} workers)"
    if executor == "dask":
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise BatchError("--executor dask: dask is not installed; pip install 'ptce-sim[dask]'") from None
        cluster = None
        try:
            if scheduler:
                client = Client(scheduler, timeout="20s")
            else:
                # The workers ignore Ctrl-C (simulation._dask_worker): the driver stops the cluster.
                cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                       # ":0", a free port: with None the scheduler's HTTP server
                                       # still takes 8787 and warns when another cluster holds it.
                                       dashboard_address=":0", preload=["simulation._dask_worker"])
                client = Client(cluster)
        except (OSError, TimeoutError) as exc:
            if cluster is not None:
                cluster.close()
            raise BatchError(f"--scheduler {scheduler}: cannot connect: {exc}") from None
        n = max(1, sum(client.nthreads().values()))
        pool = client.get_executor(pure=False)
        cancelled_filter = _CancelledCallbackFilter()
        logging.getLogger(TORNADO_ERROR_LOGGER).addFilter(cancelled_filter)

        def close(wait: bool) -> None:
            # After Ctrl-C (wait False) the cluster goes down with tasks cancelled midway, and
            # Dask logs errors of its own as it does (a result the client was still fetching
            # when the scheduler closed, with its traceback): the batch has said what it kept,
            # so they are not shown.  A caller in Python gets its logging back.
            disabled = logging.root.manager.disable
            if not wait:
                logging.disable(logging.CRITICAL)
                if cluster is not None:  # our own local cluster's workers (never a shared cluster's)
                    from ._dask_worker import quiet

                    with contextlib.suppress(Exception):  # a worker already gone: it logs nothing more
                        client.run(quiet)
            try:
                pool.shutdown(wait=wait)
                client.close()
                if cluster is not None:
                    cluster.close()
            finally:
                if not _EXIT_AFTER_INTERRUPT:
                    logging.disable(disabled)
                    logging.getLogger(TORNADO_ERROR_LOGGER).removeFilter(cancelled_filter)

        where = scheduler or "a local cluster"
        return pool, n, close, f"dask on {where} ({n} worker threads)"
    raise BatchError(f"--executor: {executor!r} is not one of serial, processes, dask")


# =========================================================================== driver
@dataclass
class BatchSummary:
    """What a batch did: ``ok``, ``failed`` (run id -> error), ``missing`` runs."""

    path: Path
    name: str
    runs: int
    twins: int
    done: int
    failed: dict[int, str]
    seconds: float
    executor: str
    lost: list[str] = field(default_factory=list)
    interrupted: bool = False
    describe: Callable[[int], str] | None = field(default=None, repr=False)

    @property
    def ok(self) -> int:
        return self.done - len(self.failed)

    @property
    def missing(self) -> int:
        return self.runs - self.done

    @property
    def success(self) -> bool:
        return not self.failed and not self.missing

    def load(self) -> Results:
        return load_results(self.path)

    def __str__(self) -> str:
        twins = f" (including {self.twins} no-shock twins)" if self.twins else ""
        lines = [f"batch {self.name!r}: {self.done} of {self.runs} runs{twins} done with {self.executor} "
                 f"in {_duration(self.seconds)}: {self.ok} ok, {len(self.failed)} failed"]
        for run_id, error in list(self.failed.items())[:5]:
            label = self.describe(run_id) if self.describe else f"run {run_id}"
            lines.append(f"  failed: {label}: {error}")
        if len(self.failed) > 5:
            lines.append(f"  ... and {len(self.failed) - 5} more (status and error columns of the outcomes)")
        for message in self.lost[:3]:
            lines.append(f"  not done: {message}")
        if self.missing and not self.interrupted:
            lines.append(f"  {self.missing} runs not done: run the same command with --resume to finish them")
        lines.append(f"results in {self.path}; compare the regimes with: ptce compare {shlex.quote(str(self.path))}")
        return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    return f"{minutes} min {sec:02d} s"


def _chunk_groups(seconds_per_group: float, remaining: int, workers: int) -> int:
    """Groups per task: about TASK_SECONDS of work, but at least ~4 tasks per worker
    while there is enough left, so the last tasks do not leave workers idle."""
    by_time = max(1, int(TASK_SECONDS / max(seconds_per_group, 1e-4)))
    by_balance = max(1, math.ceil(remaining / (4 * workers)))
    return min(by_time, by_balance)


def run_batch(
    scenario: str | Path | Scenario,
    *,
    replicates: int | None = None,
    executor: str | cf.Executor = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    overrides: dict[str, Any] | None = None,
    chunk_runs: int | None = None,
    progress: bool | None = None,
    echo: Callable[[str], None] | None = None,
) -> BatchSummary:
    """Run a batch and write it to ``out`` (default ``results/<batch name>``).

    ``scenario``: a scenario file (its ``[batch]`` table is the spec) or a Scenario.
    ``replicates`` overrides ``batch.replicates``; ``overrides`` are dotted ``--set`` keys.
    ``executor``: "serial", "processes" (default, ``workers`` processes, default one per
    core), "dask" (``scheduler`` address or a local cluster of ``workers`` processes) or
    any ``concurrent.futures.Executor`` (left open).  ``chunk_runs`` fixes the runs per
    task (default: timed, about TASK_SECONDS a task).  ``resume`` continues the batch in
    ``out``.  ``progress``: progress bar (default: when stderr is a terminal).

    Returns a :class:`BatchSummary`; raises :class:`BatchError` on a user error (nothing
    written) and :class:`BatchInterrupted` on Ctrl-C (finished tasks kept).
    """
    start = time.perf_counter()
    plan = make_plan(scenario, replicates=replicates, overrides=overrides)
    path = Path(out) if out is not None else Path("results") / plan.name
    if chunk_runs is not None and (not isinstance(chunk_runs, int) or chunk_runs < 1):
        raise BatchError(f"--chunk-runs: must be a whole number >= 1, got {chunk_runs!r}")
    ctrl_c = _CtrlC().install()
    interrupted = False
    try:
        return _run_batch(plan, path, executor, workers, scheduler, resume, chunk_runs, progress, echo, ctrl_c, start)
    except KeyboardInterrupt:  # BatchInterrupted
        interrupted = True
        raise
    finally:
        ctrl_c.restore(exiting=_EXIT_AFTER_INTERRUPT and interrupted)


def _run_batch(plan: Plan, path: Path, executor: str | cf.Executor, workers: int | None, scheduler: str | None, resume: bool,
               chunk_runs: int | None, progress: bool | None, echo: Callable[[str], None] | None, ctrl_c: _CtrlC,
               start: float) -> BatchSummary:
    # The executor first (a cluster that cannot be reached is a user error), the folder
    # next: a bad option or address leaves nothing on disk.
    pool, n_workers, close, description = _open_executor(executor, workers, scheduler, ctrl_c)
    interrupted = False
    summary: BatchSummary | None = None
    folder = _Folder(path, plan)
    try:
        warnings = folder.open(resume)
        say = echo or (lambda _msg: None)
        for w in warnings:
            say(f"warning: {w}")
        done = folder.done
        todo = deque(g for g in plan.groups if not all(i in done for i in g))
        twins = f" + {plan.twins} no-shock twins" if plan.twins else ""
        say(f"batch {plan.name!r}: {plan.runs - plan.twins} runs{twins} ({' x '.join(str(len(v)) for v in plan.axes.values())} "
            f"combinations x {plan.spec.replicates} replicates"
            + (f" x {plan.spec.samples} samples" if plan.spec.samples else "")
            + f", {plan.spec.steps} quarters) -> {path}" + (f"; {len(done)} runs already done" if done else ""))
        summary = BatchSummary(path=path, name=plan.name, runs=plan.runs, twins=plan.twins, done=len(done),
                               failed=folder.failed, seconds=0.0, executor=description if todo else "nothing to run",
                               describe=plan.describe)
        if todo:
            try:
                _drive(plan, folder, todo, pool, n_workers, chunk_runs, progress, summary, ctrl_c)
            except OSError as exc:  # disk full, folder removed or made read-only under us
                interrupted = True
                raise BatchError(f"{path}: cannot write results there: {exc.strerror or exc}; {len(folder.done)} of {plan.runs} "
                                 f"runs done and kept; make room and run the same command with --resume") from None
    except KeyboardInterrupt:
        # Not from a Ctrl-C counted by _CtrlC (_drive acts on those): a KeyboardInterrupt raised
        # by other means, e.g. SIGINT sent while _CtrlC could not be installed. Say how to go on.
        interrupted = True
        done = len(folder.done) if folder.manifest else 0
        stopped = BatchSummary(path=path, name=plan.name, runs=plan.runs, twins=plan.twins, done=done,
                               failed=folder.failed if folder.manifest else {}, seconds=time.perf_counter() - start,
                               executor=description, interrupted=True, describe=plan.describe)
        raise BatchInterrupted(stopped) from None
    finally:
        # After Ctrl-C (or a failed write) the tasks worth keeping are recorded already: do not
        # wait for more.  (A further Ctrl-C is only counted: it cannot break the shutdown.)
        stopping = interrupted or (summary is not None and summary.interrupted)
        folder.close()
        close(not stopping)
    assert summary is not None
    summary.seconds = time.perf_counter() - start
    if summary.interrupted:
        raise BatchInterrupted(summary)
    return summary


MAX_TASK_ATTEMPTS = 3
"""A run whose task is lost (its worker process died: killed, out of memory, a crash
outside Python; its Dask worker was lost) is submitted again, alone, so a run never
pays for the neighbour that crashed; one that takes its worker down this many times,
the last times alone, is recorded as failed (its error says so), so --resume does not
run it again and again."""

MAX_POOL_RESTARTS = 20
"""Rebuilds of the process pool in one batch before the driver gives up (the runs not
done are then left for --resume)."""


def _lost_runs_result(run_ids: list[int], error: str) -> dict[str, Any]:
    """A task result recording runs as failed with ``error`` (no time series)."""
    outcomes = pd.DataFrame([{"run_id": i, "status": "failed", "error": error} for i in run_ids]).reindex(columns=outcome_columns())
    numeric = [c for c in outcomes.columns if c not in ("run_id", "status", "error")]
    outcomes[numeric] = outcomes[numeric].astype("float64")
    outcomes["run_id"] = outcomes["run_id"].astype("int64")
    return {"run_ids": list(run_ids), "failed": dict.fromkeys(run_ids, error), "outcomes": outcomes,
            "timeseries": pd.DataFrame({"run_id": pd.Series(dtype="int64")}), "networks": {}, "seconds": 0.0}


def _only(result: dict[str, Any], keep: set[int]) -> dict[str, Any]:
    """A task result restricted to the runs in ``keep`` (a twin run again only so that
    the run it serves can be measured against it is not recorded twice)."""
    out = dict(result)
    out["run_ids"] = [i for i in result["run_ids"] if i in keep]
    out["failed"] = {i: e for i, e in result["failed"].items() if i in keep}
    for kind in ("outcomes", "timeseries"):
        df = result[kind]
        out[kind] = df[df["run_id"].isin(keep)].reset_index(drop=True)
    out["networks"] = {i: g for i, g in result["networks"].items() if i in keep}
    return out


def _drive(plan: Plan, folder: _Folder, todo: deque[list[int]], pool: cf.Executor, n_workers: int,
           chunk_runs: int | None, progress: bool | None, summary: BatchSummary, ctrl_c: _CtrlC | None = None) -> None:
    """Submit the groups left to do as tasks, at most two per worker in flight, and record
    each finished task; on Ctrl-C, cancel what has not started and record what is running.

    A lost task (worker process died, Dask worker lost) is not a lost run: the process
    pool is rebuilt (``restart``), and the groups of every task lost with it are run
    again one at a time, alone, before anything else; see MAX_TASK_ATTEMPTS."""
    from tqdm import tqdm

    group_size = max(len(g) for g in plan.groups)
    chunk = max(1, round(chunk_runs / group_size)) if chunk_runs else None
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=plan.runs, initial=summary.done, unit="run", disable=not show, dynamic_ncols=True, desc=plan.name)
    # A unit is (run ids run together, run ids kept): a twin group, kept whole (None), or,
    # once a group has lost its worker while running alone, one run with its no-shock twin
    # (needed for its resilience measures) keeping that run only.
    Unit = tuple[list[int], frozenset[int] | None]
    in_flight: dict[cf.Future, tuple[list[Unit], int, bool]] = {}  # future -> (units, pool generation, alone)
    timed = [0.0, 0]  # seconds and groups of the tasks finished so far
    suspects: deque[Unit] = deque()  # units of lost tasks, to run again one at a time
    attempts: dict[tuple[tuple[int, ...], frozenset[int] | None], int] = {}  # unit -> times its task was lost
    state = {"generation": 0, "stopping": False}
    restart = getattr(pool, "restart", None)

    def n_runs(units: list[Unit]) -> int:
        return sum(len(runs if keep is None else keep) for runs, keep in units)

    def restart_pool(generation: int) -> bool:
        """Rebuild a broken process pool once per breakage; False when that is not possible."""
        if generation != state["generation"]:
            return True  # rebuilt already, after an earlier future of the same pool
        if restart is None or getattr(pool, "restarts", 0) >= MAX_POOL_RESTARTS:
            return False
        restart()
        state["generation"] += 1
        return True

    def lose(units: list[Unit], exc: BaseException, alone: bool) -> None:
        if state["stopping"]:
            summary.lost.append(f"{n_runs(units)} runs: {_error_text(exc)}")
            return
        for runs, keep in units:
            key = (tuple(runs), keep)
            attempts[key] = attempts.get(key, 0) + 1
            if alone and keep is None and len(runs) > 1:
                # Lost while running alone: split the group so one run cannot take its twins down.
                for r in runs:
                    twin = int(plan.design.at[r, "twin_run_id"])
                    suspects.append(([twin, r] if twin >= 0 and twin in runs else [r], frozenset([r])))
            elif alone and attempts[key] >= MAX_TASK_ATTEMPTS:
                lost_ids = sorted(runs if keep is None else keep)
                twins = [r for r in runs if r not in lost_ids]
                with_twin = f" (with its no-shock twin, run {twins[0]})" if twins else ""
                error = (f"the process running it was lost {attempts[key]} times, the last ones running it alone{with_twin} "
                         f"(killed, out of memory, or a crash outside Python): {_error_text(exc)}")
                folder.record(_lost_runs_result(lost_ids, error))
                bar.update(len(lost_ids))
            else:
                suspects.append((runs, keep))

    def record(fut: cf.Future) -> None:
        nonlocal chunk
        units, generation, alone = in_flight.pop(fut)
        try:
            result = fut.result()
        except Exception as exc:  # the task itself was lost (worker died, cluster gone)
            if isinstance(exc, cf.BrokenExecutor) and not restart_pool(generation):
                summary.lost.append(f"{n_runs(units)} runs: {_error_text(exc)}")
                state["stopping"] = True
                return
            lose(units, exc, alone)
            return
        if any(keep is not None for _, keep in units):
            result = _only(result, {i for runs, keep in units for i in (runs if keep is None else keep)})
        folder.record(result)
        if not chunk_runs:  # a running mean: the first tasks of a fresh worker are slower
            timed[0] += result["seconds"]
            timed[1] += len(units)
            chunk = _chunk_groups(timed[0] / timed[1], len(todo), n_workers)
        bar.update(len(result["run_ids"]))
        if folder.failed:
            bar.set_postfix(failed=len(folder.failed), refresh=False)

    def submit(units: list[Unit], alone: bool) -> bool:
        for _ in range(2):
            try:
                fut = pool.submit(run_group_task, [plan.tasks(runs) for runs, _ in units])
            except (cf.BrokenExecutor, RuntimeError) as exc:
                if isinstance(exc, cf.BrokenExecutor) and restart_pool(state["generation"]):
                    continue  # broken before its futures told us: rebuilt, submit again
                summary.lost.append(f"{n_runs(units) + sum(map(len, todo)) + n_runs(list(suspects))} runs: {_error_text(exc)}")
                todo.clear()
                suspects.clear()
                return False
            in_flight[fut] = (units, state["generation"], alone)
            return True
        return False

    ctrl_c = ctrl_c or _CtrlC()
    try:
        try:
            while (todo or suspects or in_flight) and not state["stopping"]:
                ctrl_c.check()  # Ctrl-C: stop here, between two tasks recorded whole
                if suspects:
                    # Groups of a lost task run alone, so a crash is traced to its run.
                    if not in_flight and not submit([suspects.popleft()], alone=True):
                        break
                else:
                    limit = 2 * n_workers if chunk is not None else n_workers
                    while todo and len(in_flight) < limit:
                        if not submit([(todo.popleft(), None) for _ in range(min(chunk or 1, len(todo)))], alone=False):
                            break
                if not in_flight:
                    break
                finished, _ = cf.wait(list(in_flight), timeout=POLL_SECONDS, return_when=cf.FIRST_COMPLETED)
                for fut in finished:
                    record(fut)
            # A Ctrl-C while the last tasks ran: they are kept, and the batch still reports
            # the interruption (exit 130), as it would have a moment earlier.
            ctrl_c.check()
        except KeyboardInterrupt:
            summary.interrupted = True
            state["stopping"] = True
            for fut in list(in_flight):
                if fut.cancel():
                    in_flight.pop(fut)
            if in_flight:
                bar.write("stopping: finishing the tasks already running (Ctrl-C again to stop now)...", file=sys.stderr)
            first = max(ctrl_c.count, 1)
            try:
                while in_flight and ctrl_c.count <= first:  # a second Ctrl-C stops the wait
                    finished, _ = cf.wait(list(in_flight), timeout=POLL_SECONDS, return_when=cf.FIRST_COMPLETED)
                    for fut in finished:
                        record(fut)
            except KeyboardInterrupt:  # only if _CtrlC could not be installed
                pass
    finally:
        bar.close()
        summary.done = len(folder.done)
        summary.failed = folder.failed


# =========================================================================== command line
def resume_command(args: argparse.Namespace) -> str:
    """The command that resumes an interrupted ``ptce batch``."""
    words = ["ptce", "batch", args.scenario]
    if args.replicates is not None:
        words += ["--replicates", str(args.replicates)]
    for pair in args.set:
        words += ["--set", pair]
    if args.executor != "processes":
        words += ["--executor", args.executor]
    if args.workers is not None:
        words += ["--workers", str(args.workers)]
    if args.scheduler:
        words += ["--scheduler", args.scheduler]
    words += ["--out", str(args.out_resolved), "--resume"]
    return shlex.join(words)


def cli_batch(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    """``ptce batch``: 0 when every run succeeded, 1 when a run failed or is missing,
    130 on Ctrl-C (with the command that resumes), 2 on a user error (raised)."""
    global _EXIT_AFTER_INTERRUPT
    exits = bool(getattr(args, "process_exits", False))  # the ptce process itself, not main([...]) called from Python
    plan_name_out = args.out

    def echo(message: str) -> None:
        print(message, flush=True)

    _EXIT_AFTER_INTERRUPT = exits
    try:
        summary = run_batch(
            args.scenario, replicates=args.replicates, executor=args.executor, workers=args.workers,
            scheduler=args.scheduler, out=plan_name_out, resume=args.resume, overrides=overrides,
            chunk_runs=args.chunk_runs, echo=echo,
        )
    except BatchInterrupted as exc:
        if exits:  # the process ends now: a further Ctrl-C could only break its exit with a traceback
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        s = exc.summary
        args.out_resolved = s.path
        print(f"interrupted: {s.done} of {s.runs} runs done and kept in {s.path}; resume with: {resume_command(args)}",
              file=sys.stderr)
        return 130
    finally:
        _EXIT_AFTER_INTERRUPT = False
    print(summary)
    return 0 if summary.success else 1


def cli_compare(args: argparse.Namespace) -> int:
    """``ptce compare RESULTS_DIR``: the comparison table of a batch folder."""
    res = load_results(args.results_dir)
    runs = res.runs
    if runs.empty:
        raise BatchError(f"{args.results_dir}: no finished run yet")
    regimes = list(dict.fromkeys(runs["regime.kind"]))
    baseline = args.baseline or ("administrative" if "administrative" in regimes else regimes[0])
    if baseline not in regimes:
        raise BatchError(f"--baseline: {baseline!r} is not a regime of {args.results_dir} (regimes: {', '.join(regimes)})")
    outcomes = tuple(args.outcome) if args.outcome else HEADLINE_OUTCOMES
    try:
        table = compare(res, baseline=baseline, outcomes=outcomes)
    except ValueError as exc:
        raise BatchError(f"{args.results_dir}: {exc}") from None
    if not res.complete:
        print(f"note: {len(runs)} of {len(res.design)} runs finished; the batch is incomplete (resume it with ptce batch ... --resume)",
              file=sys.stderr)
    failed = int((runs["status"] != "ok").sum())
    if failed:
        print(f"note: {failed} failed runs left out", file=sys.stderr)
    sys.stdout.write(format_comparison(table, baseline, args.format))
    return 0


def add_batch_arguments(batch: argparse.ArgumentParser, compare_parser: argparse.ArgumentParser) -> None:
    """Options of ``ptce batch`` and ``ptce compare`` (called by cli.build_parser)."""
    batch.add_argument("scenario", help="scenario TOML file with a [batch] table, e.g. scenarios/crisis_regimes.toml")
    batch.add_argument("--replicates", type=int, help="replicates of each combination (default: batch.replicates)")
    batch.add_argument("--executor", choices=("serial", "processes", "dask"), default="processes",
                       help="where runs execute (default: processes, one per core)")
    batch.add_argument("--workers", type=int, help="processes (processes, local dask cluster); default: one per core")
    batch.add_argument("--scheduler", metavar="ADDR", help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (with --executor dask)")
    batch.add_argument("--out", help="results folder (default: results/<batch name>)")
    batch.add_argument("--resume", action="store_true", help="continue the interrupted batch in the results folder")
    batch.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a parameter (repeatable); naming an axis pins it to that value")
    batch.add_argument("--chunk-runs", type=int, help="runs per task (default: timed, about 2 s of work per task)")
    compare_parser.add_argument("results_dir", metavar="RESULTS_DIR", help="a batch results folder, e.g. results/crisis_regimes")
    compare_parser.add_argument("--baseline", metavar="REGIME", help="regime the others are compared with (default: administrative)")
    compare_parser.add_argument("--format", choices=("table", "markdown", "csv", "json"), default="table", help="output format (default: table)")
    compare_parser.add_argument("--outcome", action="append", metavar="COLUMN",
                                help="outcome column to compare (repeatable; default: the headline outcomes)")

