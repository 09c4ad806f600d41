"""Global sensitivity analysis with SALib: Morris screening and Sobol indices.

Two estimators, each a thin wrapper of SALib (Herman & Usher 2017, JOSS 2(9) 97) over any
function ``evaluate(X) -> Y`` of a sample matrix X (points x parameters) giving one or
several outcomes per point; :func:`model_evaluator` makes that function from the model,
running every point through the batch runner (same executors, Parquet results, resumable).

- **Morris** elementary effects (Morris 1991, Technometrics 33(2); Campolongo, Cariboni &
  Saltelli 2007, Environmental Modelling & Software 22(10)): r trajectories on a grid of
  p levels of the unit hypercube; along a trajectory one input moves at a time by
  Delta = p / (2 (p - 1)); the elementary effect of input i is
  EE_i = (y(x + Delta e_i) - y(x)) / Delta, x in unit-hypercube coordinates, so EE has the
  units of the outcome per full range of the input.  mu* = mean |EE_i| ranks influence,
  sigma = std EE_i flags non-linearity or interactions, mu = mean EE_i its sign.
  mu*_conf is the half-width of a bootstrap 95 % interval of mu*.
- **Sobol** first-order and total indices (Sobol 2001; Saltelli et al. 2010, Computer
  Physics Communications 181(2)): S1_i = V[E(Y | X_i)] / V(Y), ST_i = E[V(Y | X_-i)] / V(Y),
  estimated from N (k + 2) points of a Saltelli (Sobol-sequence) design, with bootstrap
  95 % intervals (S1_conf, ST_conf, half-widths).

The parameters of the model (:func:`numeric_parameters`) are every numeric field of the
scenario (and of its regime) but ``seed`` and ``steps``; each varies over
[v (1 - f), v (1 + f)] around its value v in the scenario (f = ``range_factor``, 0.5 by
default), cut to the bounds of its schema field, except the few in :data:`RANGE_OVERRIDES`
whose ranges must respect a constraint between two fields.  Tables of lists (needs, group
shares) and the shocks (the experimental condition, not a parameter) are not varied.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import annotated_types
import numpy as np
import pandas as pd
from pydantic import BaseModel, ValidationError

from .params import Scenario, ScenarioError, _format_error, load_scenario

METHODS = ("morris", "sobol")
DEFAULT_RANGE_FACTOR = 0.5
DEFAULT_LEVELS = 4
DEFAULT_TRAJECTORIES = 10
DEFAULT_SOBOL_SAMPLES = 64
CONFIDENCE = 0.95
BASE_OUTCOMES = ("final_ess_employment_fte", "mean_personalisation")
SHOCK_OUTCOMES = ("ess_employment_fte__triangle_area_normalised",)
"""Headline outcomes analysed by default: employment and personalisation, plus resilience
of employment (the normalised resilience triangle, always defined) when the scenario has
shocks."""

EXCLUDED = frozenset({"seed", "steps"})
"""Numeric fields that are not model parameters: the seed and the horizon."""

RANGE_OVERRIDES: dict[str, tuple[float, float]] = {
    # share_below_10 + share_above_50 must stay below 1 (TerritoryParams' validator): with
    # share_above_50_employees at most 0.075, 0.6-0.9 keeps the sum <= 0.975.
    "territory.share_below_10_employees": (0.6, 0.9),
    # agreement_share + project_share <= 1 (CooperativeRegime's validator).
    "regime.agreement_share": (0.4, 0.7),
    "regime.project_share": (0.15, 0.3),
}
"""Ranges set by hand because two fields are constrained together (reason beside each)."""


# =========================================================================== parameters
@dataclass(frozen=True)
class Factor:
    """A parameter varied by the analysis: dotted path, value in the scenario, range."""

    path: str
    value: float
    low: float
    high: float
    integer: bool

    def at(self, x: float) -> float | int:
        """The parameter's value at x in [low, high]: rounded for whole-number parameters
        (SALib samples on a continuum; the elementary effect is then per nominal step)."""
        return int(round(x)) if self.integer else float(x)


def _bounds(info: Any) -> tuple[float, float]:
    lo, hi = -math.inf, math.inf
    for m in info.metadata:
        if isinstance(m, annotated_types.Ge):
            lo = float(m.ge)
        elif isinstance(m, annotated_types.Gt):
            lo = float(m.gt) + 1e-6 * max(1.0, abs(float(m.gt)))
        elif isinstance(m, annotated_types.Le):
            hi = float(m.le)
        elif isinstance(m, annotated_types.Lt):
            hi = float(m.lt) - 1e-6 * max(1.0, abs(float(m.lt)))
    return lo, hi


def _numeric_fields(model: BaseModel, prefix: str = "") -> list[tuple[str, float, bool, float, float]]:
    out = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        path = prefix + name
        if isinstance(value, BaseModel) and name not in ("batch",):
            out.extend(_numeric_fields(value, path + "."))
        elif isinstance(value, int | float) and not isinstance(value, bool) and path not in EXCLUDED:
            lo, hi = _bounds(info)
            out.append((path, float(value), isinstance(value, int), lo, hi))
    return out


def parameter_range(path: str, value: float, integer: bool, lo: float, hi: float,
                    range_factor: float = DEFAULT_RANGE_FACTOR) -> tuple[float, float] | None:
    """[v (1 - f), v (1 + f)] cut to the schema bounds [lo, hi]; for v = 0, [0, f] (a share
    or rate switched on) or 0..2 for a whole number; None when the range is empty."""
    if path in RANGE_OVERRIDES:
        return RANGE_OVERRIDES[path]
    if value == 0:
        a, b = (0.0, 2.0) if integer else (0.0, range_factor)
    else:
        a, b = sorted((value * (1 - range_factor), value * (1 + range_factor)))
    a, b = max(a, lo), min(b, hi)
    if integer:
        a, b = float(math.ceil(a)), float(math.floor(b))
        if a == b and b + 1 <= hi:
            b += 1
    return (a, b) if a < b else None


def numeric_parameters(scenario: Scenario, range_factor: float = DEFAULT_RANGE_FACTOR) -> list[Factor]:
    """Every numeric parameter of the scenario and its regime (not ``seed``, ``steps``, the
    shocks, tables of lists or the batch table) with its range (module docstring)."""
    out = []
    for path, value, integer, lo, hi in _numeric_fields(scenario):
        rng = parameter_range(path, value, integer, lo, hi, range_factor)
        if rng is not None:
            out.append(Factor(path, value, rng[0], rng[1], integer))
    return out


def problem(factors: Sequence[Factor]) -> dict[str, Any]:
    """The SALib problem dictionary of the factors."""
    return {"num_vars": len(factors), "names": [f.path for f in factors], "bounds": [[f.low, f.high] for f in factors]}


# =========================================================================== estimators
def morris_analysis(
    prob: dict[str, Any],
    evaluate: Callable[[np.ndarray], np.ndarray],
    *,
    trajectories: int = DEFAULT_TRAJECTORIES,
    levels: int = DEFAULT_LEVELS,
    seed: int = 0,
    outcomes: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Morris screening of ``evaluate`` over ``prob`` (SALib problem dict).

    ``evaluate(X)`` gets the r (k + 1) x k sample and returns Y, one row per point (one
    column per outcome, or a vector).  Returns (table, X, Y); the table has one row per
    outcome and parameter: ``outcome``, ``parameter``, ``mu``, ``mu_star``, ``sigma``,
    ``mu_star_conf``, ``mu_star_normalised`` (mu* over the largest mu* of that outcome)
    and ``rank`` (1 = most influential for that outcome).
    """
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    X = morris_sample.sample(prob, trajectories, num_levels=levels, seed=seed)
    Y = np.asarray(evaluate(X), dtype=float)
    Y2 = Y.reshape(len(X), -1)
    names = list(outcomes) if outcomes is not None else [f"y{j}" for j in range(Y2.shape[1])]
    frames = []
    for j, outcome in enumerate(names):
        si = morris_analyze.analyze(prob, X, Y2[:, j], num_levels=levels, conf_level=CONFIDENCE, seed=seed)
        df = pd.DataFrame({"outcome": outcome, "parameter": prob["names"], "mu": np.asarray(si["mu"], dtype=float),
                           "mu_star": np.asarray(si["mu_star"], dtype=float), "sigma": np.asarray(si["sigma"], dtype=float),
                           "mu_star_conf": np.asarray(si["mu_star_conf"], dtype=float)})
        top = df["mu_star"].max()
        df["mu_star_normalised"] = df["mu_star"] / top if top > 0 else 0.0
        df["rank"] = df["mu_star"].rank(ascending=False, method="min").astype(int)
        frames.append(df.sort_values("rank", kind="stable"))
    return pd.concat(frames, ignore_index=True), X, Y2


def sobol_analysis(
    prob: dict[str, Any],
    evaluate: Callable[[np.ndarray], np.ndarray],
    *,
    samples: int = DEFAULT_SOBOL_SAMPLES,
    seed: int = 0,
    outcomes: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Sobol first-order and total indices of ``evaluate`` (Saltelli design of
    N (k + 2) points, N = ``samples`` a power of two).  Returns (table, X, Y); the table
    has ``outcome``, ``parameter``, ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` and ``rank``
    (by ST)."""
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    if samples < 2 or samples & (samples - 1):
        raise ValueError(f"samples: the Sobol design needs a power of two, got {samples}")
    X = sobol_sample.sample(prob, samples, calc_second_order=False, seed=seed)
    Y = np.asarray(evaluate(X), dtype=float)
    Y2 = Y.reshape(len(X), -1)
    names = list(outcomes) if outcomes is not None else [f"y{j}" for j in range(Y2.shape[1])]
    frames = []
    for j, outcome in enumerate(names):
        si = sobol_analyze.analyze(prob, Y2[:, j], calc_second_order=False, conf_level=CONFIDENCE, seed=seed)
        df = pd.DataFrame({"outcome": outcome, "parameter": prob["names"], "S1": si["S1"], "S1_conf": si["S1_conf"],
                           "ST": si["ST"], "ST_conf": si["ST_conf"]})
        df["rank"] = df["ST"].rank(ascending=False, method="min").fillna(len(df)).astype(int)
        frames.append(df.sort_values("rank", kind="stable"))
    return pd.concat(frames, ignore_index=True), X, Y2


# =========================================================================== the model through the runner
def points_plan(base: Scenario, factors: Sequence[Factor], X: np.ndarray, *, name: str, replicates: int = 1,
                master_seed: int | None = None) -> Any:
    """A batch plan (``simulation.runner.Plan``) whose sample s is the base scenario with
    factor i at X[s, i]: replicate r of every sample has the seed of replicate r
    (common random numbers, as in any batch); a shocked scenario gets its no-shock twins."""
    from .batchspec import NO_SHOCK_SET, BatchSpec
    from .runner import SCENARIO_SHOCK_SET, Plan

    master = base.seed if master_seed is None else master_seed
    spec = BatchSpec(name=name, replicates=replicates, master_seed=master, steps=base.steps, networks=False)
    shocked = bool(base.shocks)
    shock_set = SCENARIO_SHOCK_SET if shocked else NO_SHOCK_SET
    base_data = base.model_dump()
    base_data["batch"] = None
    points: list[Scenario] = []
    twins: list[Scenario] = []
    for s, row in enumerate(X):
        data = copy.deepcopy(base_data)
        for f, x in zip(factors, row, strict=True):
            node = data
            *head, last = f.path.split(".")
            for part in head:
                node = node[part]
            node[last] = f.at(x)
        try:
            points.append(Scenario.model_validate(data))
        except ValidationError as err:
            raise ScenarioError(_format_error(f"sensitivity sample {s}", err)) from None
        if shocked:
            twins.append(Scenario.model_validate(data | {"shocks": []}))
    rows: list[dict[str, Any]] = []
    point_of_run: list[int] = []
    groups: list[list[int]] = []
    common = {"regime.kind": base.regime.kind, "strategy.policy": base.strategy.policy}

    def add(r: int, s: int, shock: str, twin_of: int, point: int) -> int:
        run_id = len(rows)
        rows.append({"run_id": run_id, "replicate": r, "seed": f"SeedSequence({master}, spawn_key=({r},))", "sample": s,
                     **common, "shock_set": shock, **{f.path: f.at(x) for f, x in zip(factors, X[s], strict=True)},
                     "twin_of": twin_of, "twin_run_id": -1})
        point_of_run.append(point)
        return run_id

    for r in range(replicates):
        for s in range(len(X)):
            groups.append([add(r, s, shock_set, -1, s)])
    if shocked:
        for group in groups:
            first = group[0]
            r, s = rows[first]["replicate"], rows[first]["sample"]
            twin = add(r, s, NO_SHOCK_SET, first, len(points) + s)
            rows[first]["twin_run_id"] = twin
            group.append(twin)
    design = pd.DataFrame(rows)
    axes = {"regime.kind": [base.regime.kind], "strategy.policy": [base.strategy.policy], "shock_set": [shock_set]}
    return Plan(source=f"<sensitivity of {base.name!r}>", name=name, scenario=base.model_copy(update={"batch": spec}),
                spec=spec, axes=axes, sampled=[f.path for f in factors], design=design, points=points + twins,
                point_of_run=point_of_run, groups=groups)


def run_plan(plan: Any, *, out: str | Path, executor: Any = "processes", workers: int | None = None,
             scheduler: str | None = None, resume: bool = False, progress: bool | None = None,
             echo: Callable[[str], None] | None = None) -> Any:
    """Run a plan with the batch runner's executors and storage: the body of
    ``simulation.runner.run_batch`` after it has built its plan (the runner has no public
    entry point that takes a plan): one driver per folder (its lock), Parquet parts and
    manifest, ``resume`` continues a folder, Ctrl-C keeps finished tasks."""
    import time
    from collections import deque

    from .results import BatchError
    from .runner import BatchInterrupted, BatchSummary, _drive, _Folder, _open_executor

    start = time.perf_counter()
    path = Path(out)
    pool, n_workers, close, description = _open_executor(executor, workers, scheduler)
    interrupted = False
    summary = None
    folder = _Folder(path, plan)
    try:
        for w in folder.open(resume):
            (echo or (lambda _m: None))(f"warning: {w}")
        done = folder.done
        todo = deque(g for g in plan.groups if not all(i in done for i in g))
        summary = BatchSummary(path=path, name=plan.name, runs=plan.runs, twins=plan.twins, done=len(done),
                               failed=folder.failed, seconds=0.0, executor=description if todo else "nothing to run",
                               describe=plan.describe)
        if todo:
            try:
                _drive(plan, folder, todo, pool, n_workers, None, progress, summary)
            except OSError as exc:  # disk full, folder removed or made read-only under us
                interrupted = True
                raise BatchError(f"{path}: cannot write results there: {exc.strerror or exc}; {len(folder.done)} of {plan.runs} "
                                 f"runs done and kept; make room and run the same command with --resume") from None
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        if hasattr(folder, "close"):
            folder.close()  # releases the folder's lock
        close(not interrupted and not (summary is not None and summary.interrupted))
    summary.seconds = time.perf_counter() - start
    if summary.interrupted:
        raise BatchInterrupted(summary)
    return summary


def model_evaluator(base: Scenario, factors: Sequence[Factor], outcomes: Sequence[str], *, out: str | Path,
                    replicates: int = 1, executor: Any = "processes", workers: int | None = None,
                    scheduler: str | None = None, resume: bool = False, progress: bool | None = None,
                    echo: Callable[[str], None] | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """``evaluate(X)`` for the model: runs every row of X (replicates each) as a batch in
    ``out`` and returns, per row, the mean over replicates of each outcome column of the
    runner's outcomes table (``final_<metric>``, ``mean_<metric>``, ``<series>__<measure>``)."""
    from .results import load_results

    def evaluate(X: np.ndarray) -> np.ndarray:
        plan = points_plan(base, factors, X, name=Path(out).name, replicates=replicates)
        summary = run_plan(plan, out=out, executor=executor, workers=workers, scheduler=scheduler, resume=resume,
                           progress=progress, echo=echo)
        if echo:
            echo(str(summary).splitlines()[0])
        if summary.failed or summary.missing:
            first = next(iter(summary.failed.values()), "not run")
            raise ScenarioError(f"{out}: {len(summary.failed)} runs failed and {summary.missing} were not run "
                                f"(first: {first}); fix the cause and rerun with --resume")
        runs = load_results(out).runs
        runs = runs[runs["twin_of"] < 0]
        means = runs.groupby("sample")[list(outcomes)].mean().reindex(range(len(X)))
        return means.to_numpy(dtype=float)

    return evaluate


# =========================================================================== charts
def plot_morris(table: pd.DataFrame, top: int = 15):
    """mu* of the ``top`` most influential parameters of each outcome, with the bootstrap
    interval of mu* and sigma beside it (a matplotlib Figure, no pyplot, one panel per
    outcome, as in :mod:`simulation.plotting`)."""
    from matplotlib.figure import Figure

    outcomes = list(dict.fromkeys(table["outcome"]))
    fig = Figure(figsize=(5.2 * len(outcomes), 0.32 * top + 1.6), layout="constrained")
    axes = fig.subplots(1, len(outcomes), squeeze=False)
    for ax, outcome in zip(axes[0], outcomes, strict=True):
        d = table[table["outcome"] == outcome].nsmallest(top, "rank").iloc[::-1]
        y = np.arange(len(d))
        ax.barh(y, d["mu_star"], xerr=d["mu_star_conf"], color="#4c72b0", alpha=0.85, label="mu* (95 % interval)")
        ax.plot(d["sigma"], y, "o", color="#dd8452", markersize=4, label="sigma")
        ax.set_yticks(y, d["parameter"], fontsize=7)
        ax.set_title(outcome, fontsize=9)
        ax.set_xlabel("elementary effect per full range (outcome units)", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.suptitle("Morris screening: mean absolute elementary effect mu* and its spread sigma", fontsize=10)
    return fig


def plot_sobol(table: pd.DataFrame):
    """First-order (S1) and total (ST) Sobol indices with their 95 % intervals, one panel per
    outcome (a matplotlib Figure, no pyplot)."""
    from matplotlib.figure import Figure

    outcomes = list(dict.fromkeys(table["outcome"]))
    n = table["parameter"].nunique()
    fig = Figure(figsize=(5.2 * len(outcomes), 0.45 * n + 1.8), layout="constrained")
    axes = fig.subplots(1, len(outcomes), squeeze=False)
    for ax, outcome in zip(axes[0], outcomes, strict=True):
        d = table[table["outcome"] == outcome].sort_values("rank").iloc[::-1]
        y = np.arange(len(d))
        ax.barh(y + 0.2, d["ST"], height=0.4, xerr=d["ST_conf"], color="#4c72b0", label="total ST")
        ax.barh(y - 0.2, d["S1"], height=0.4, xerr=d["S1_conf"], color="#dd8452", label="first order S1")
        ax.set_yticks(y, d["parameter"], fontsize=7)
        ax.set_title(outcome, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.suptitle("Sobol indices (95 % bootstrap intervals)", fontsize=10)
    return fig


# =========================================================================== the whole analysis
@dataclass
class Sensitivity:
    """Result of :func:`sensitivity`: the index table, the sample, outcomes and factors."""

    method: str
    table: pd.DataFrame
    X: np.ndarray
    Y: np.ndarray
    factors: list[Factor]
    outcomes: list[str]
    path: Path | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def default_outcomes(scenario: Scenario) -> list[str]:
    return [*BASE_OUTCOMES, *(SHOCK_OUTCOMES if scenario.shocks else ())]


def select_factors(factors: Sequence[Factor], parameters: Sequence[str] | None) -> list[Factor]:
    if not parameters:
        return list(factors)
    by_path = {f.path: f for f in factors}
    unknown = [p for p in parameters if p not in by_path]
    if unknown:
        raise ScenarioError(f"--parameters: {unknown[0]} is not a numeric parameter of the scenario (see ptce params)")
    return [by_path[p] for p in dict.fromkeys(parameters)]


def top_parameters(morris_table: pd.DataFrame, k: int) -> list[str]:
    """The k parameters with the largest normalised mu* over all outcomes (for Sobol)."""
    score = morris_table.groupby("parameter")["mu_star_normalised"].max().sort_values(ascending=False, kind="stable")
    return list(score.index[:k])


def sensitivity(
    scenario: str | Path | Scenario,
    *,
    method: str = "morris",
    outcomes: Sequence[str] | None = None,
    samples: int | None = None,
    parameters: Sequence[str] | None = None,
    range_factor: float = DEFAULT_RANGE_FACTOR,
    levels: int = DEFAULT_LEVELS,
    replicates: int = 1,
    seed: int | None = None,
    out: str | Path | None = None,
    executor: Any = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    overrides: dict[str, Any] | None = None,
    progress: bool | None = None,
    echo: Callable[[str], None] | None = None,
) -> Sensitivity:
    """Morris screening or Sobol indices of the model's outcomes to its numeric parameters.

    Runs through the batch runner into ``out`` (default ``results/sensitivity-<name>-<method>``),
    then writes there ``<method>.csv`` (the index table), ``<method>.png`` (the chart),
    ``<method>_factors.csv`` (parameters and ranges) and ``<method>.json`` (settings).
    ``samples``: Morris trajectories r (default 10; r (k + 1) points) or the Sobol base
    sample N (a power of two, default 64; N (k + 2) points).  ``seed`` seeds the SALib
    design (default: the scenario's seed); replicate seeds come from the scenario's seed.
    """
    import importlib.util

    from .runner import outcome_columns

    if importlib.util.find_spec("SALib") is None:
        raise ScenarioError("ptce sensitivity needs SALib: pip install 'ptce-sim[sensitivity]'")
    if method not in METHODS:
        raise ScenarioError(f"--method: {method!r} is not one of {', '.join(METHODS)}")
    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario, overrides)
    outcomes = list(outcomes) if outcomes else default_outcomes(base)
    known = outcome_columns()
    bad = [o for o in outcomes if o not in known or o in ("run_id", "status", "error")]
    if bad:
        raise ScenarioError(f"--outcomes: {bad[0]!r} is not an outcome column (final_<metric>, mean_<metric>, <series>__<measure>)")
    if any(o not in (*(f"final_{m}" for m in _metrics()), *(f"mean_{m}" for m in _metrics())) for o in outcomes) and not base.shocks:
        raise ScenarioError("--outcomes: resilience outcomes need a scenario with shocks")
    if not 0 < range_factor < 1:
        raise ScenarioError(f"--range-factor: must be in (0, 1), got {range_factor}")
    if not isinstance(replicates, int) or replicates < 1:
        raise ScenarioError(f"--replicates: must be a whole number >= 1, got {replicates!r}")
    if levels < 2 or levels % 2:
        raise ScenarioError(f"--levels: Morris needs an even number of levels >= 2, got {levels}")
    factors = select_factors(numeric_parameters(base, range_factor), parameters)
    if len(factors) < 2:
        raise ScenarioError("--parameters: give at least two parameters")
    n = samples if samples is not None else (DEFAULT_TRAJECTORIES if method == "morris" else DEFAULT_SOBOL_SAMPLES)
    if method == "sobol" and (n < 2 or n & (n - 1)):
        raise ScenarioError(f"--samples: the Sobol design needs a power of two (64, 128, ...), got {n}")
    if n < 2:
        raise ScenarioError(f"--samples: must be at least 2, got {n}")
    path = Path(out) if out is not None else Path("results") / f"sensitivity-{base.name}-{method}"
    design_seed = base.seed if seed is None else seed
    evaluate = model_evaluator(base, factors, outcomes, out=path, replicates=replicates, executor=executor, workers=workers,
                               scheduler=scheduler, resume=resume, progress=progress, echo=echo)
    prob = problem(factors)
    if method == "morris":
        table, X, Y = morris_analysis(prob, evaluate, trajectories=n, levels=levels, seed=design_seed, outcomes=outcomes)
        fig = plot_morris(table)
    else:
        table, X, Y = sobol_analysis(prob, evaluate, samples=n, seed=design_seed, outcomes=outcomes)
        fig = plot_sobol(table)
    settings = {"method": method, "scenario": base.name, "regime": base.regime.kind, "organisations": base.territory.organisations,
                "steps": base.steps, "shocks": [s.kind for s in base.shocks], "samples": n, "levels": levels if method == "morris" else None,
                "points": int(len(X)), "replicates": replicates, "runs": int(len(X) * replicates * (2 if base.shocks else 1)),
                "range_factor": range_factor, "design_seed": design_seed, "replicate_master_seed": base.seed,
                "parameters": len(factors), "outcomes": outcomes}
    _write_outputs(path, method, table, factors, settings, fig)
    return Sensitivity(method=method, table=table, X=X, Y=Y, factors=list(factors), outcomes=list(outcomes), path=path,
                       settings=settings)


def _metrics() -> list[str]:
    from .metrics import METRICS

    return [m for m in METRICS if m != "step"]


def _write_outputs(path: Path, method: str, table: pd.DataFrame, factors: Sequence[Factor], settings: dict[str, Any], fig: Any) -> None:
    """Write the table, factors, settings and chart under temporary names, then rename."""
    def atomic(name: str, write: Callable[[Path], None]) -> None:
        final = path / name
        tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
        try:
            write(tmp)
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                tmp.unlink()

    atomic(f"{method}.csv", lambda p: table.to_csv(p, index=False))
    atomic(f"{method}_factors.csv", lambda p: pd.DataFrame([f.__dict__ for f in factors]).to_csv(p, index=False))
    atomic(f"{method}.json", lambda p: p.write_text(json.dumps(settings, indent=2), encoding="utf-8"))
    atomic(f"{method}.png", lambda p: fig.savefig(p, dpi=130, format="png"))


def format_table(result: Sensitivity, top: int = 10) -> str:
    """The ``top`` most influential parameters of each outcome, as text."""
    lines = []
    cols = ["parameter", "mu_star", "mu_star_conf", "mu", "sigma"] if result.method == "morris" else ["parameter", "S1", "S1_conf", "ST", "ST_conf"]
    for outcome in result.outcomes:
        d = result.table[result.table["outcome"] == outcome].nsmallest(top, "rank")[cols]
        lines.append(f"{outcome}:")
        lines.append(d.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        lines.append("")
    return "\n".join(lines).rstrip()


# =========================================================================== command line
def add_sensitivity_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", help="scenario TOML file, e.g. scenarios/sensitivity.toml")
    parser.add_argument("--method", choices=METHODS, default="morris", help="morris (screening, every numeric parameter) or sobol")
    parser.add_argument("--outcomes", nargs="+", default=None, metavar="COLUMN",
                        help="outcome columns (default final_ess_employment_fte mean_personalisation, and "
                        "ess_employment_fte__triangle_area_normalised with shocks)")
    parser.add_argument("--samples", type=int, default=None,
                        help=f"Morris trajectories (default {DEFAULT_TRAJECTORIES}) or Sobol base sample, a power of two (default {DEFAULT_SOBOL_SAMPLES})")
    parser.add_argument("--parameters", nargs="+", default=None, metavar="PATH", help="dotted parameters to vary (default: every numeric parameter)")
    parser.add_argument("--top", type=int, default=None, help="with --from: vary the TOP most influential parameters of a Morris result")
    parser.add_argument("--from", dest="from_dir", default=None, metavar="DIR", help="folder of an earlier Morris analysis (its morris.csv)")
    parser.add_argument("--range-factor", type=float, default=DEFAULT_RANGE_FACTOR, help="each parameter varies over value x (1 +- f) (default 0.5)")
    parser.add_argument("--levels", type=int, default=DEFAULT_LEVELS, help="Morris grid levels (default 4)")
    parser.add_argument("--replicates", type=int, default=1, help="runs per point, outcomes averaged (default 1)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the SALib design (default: the scenario's seed)")
    parser.add_argument("--executor", default="processes", help="serial, processes (default) or dask")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default one per core)")
    parser.add_argument("--scheduler", default=None, help="address of a Dask scheduler (with --executor dask)")
    parser.add_argument("--out", default=None, help="results folder (default results/sensitivity-NAME-METHOD)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted analysis in --out")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a parameter (repeatable)")


def cli_sensitivity(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    parameters = args.parameters
    if args.top is not None or args.from_dir is not None:
        if args.top is None or args.from_dir is None or args.parameters:
            raise ScenarioError("--top and --from go together, without --parameters")
        morris_csv = Path(args.from_dir) / "morris.csv"
        if not morris_csv.is_file():
            raise ScenarioError(f"{morris_csv}: file not found (run ptce sensitivity --method morris first)")
        if args.top < 2:
            raise ScenarioError(f"--top: must be at least 2, got {args.top}")
        parameters = top_parameters(pd.read_csv(morris_csv), args.top)
    result = sensitivity(args.scenario, method=args.method, outcomes=args.outcomes, samples=args.samples, parameters=parameters,
                         range_factor=args.range_factor, levels=args.levels, replicates=args.replicates, seed=args.seed,
                         out=args.out, executor=args.executor, workers=args.workers, scheduler=args.scheduler,
                         resume=args.resume, overrides=overrides, echo=print)
    s = result.settings
    print(f"{result.method}: {s['parameters']} parameters, {s['points']} points x {s['replicates']} replicates "
          f"({s['runs']} runs), scenario {s['scenario']!r} ({s['organisations']} organisations, {s['steps']} quarters)")
    print(format_table(result))
    print(f"wrote {result.path / (result.method + '.csv')}, {result.method}.png, {result.method}_factors.csv and {result.method}.json")
    return 0
