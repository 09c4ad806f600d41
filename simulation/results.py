"""A batch folder read back: ``load_results`` and the regime comparison ``compare``.

A batch folder (written by :func:`simulation.runner.run_batch`) holds::

    spec.json        the resolved scenario and batch spec, the package version
    design.parquet   one row per run: run_id, replicate, seed, axes, sampled parameters, twin_of
    outcomes/part-NNNNN.parquet    one row per run: status, error, final_* and mean_* of every
                                   metric, resilience measures against the no-shock twin
    timeseries/part-NNNNN.parquet  one row per run and quarter: run_id and the METRICS columns
    networks/run-<id>.graphml      cooperation network at the end (replicate 0 of each combination)
    manifest.json    the parts written so far, their run ids and sha256 checksums

``load_results(path)`` gives pandas DataFrames; ``compare(results)`` gives, per regime (and
per other varied axis), the mean of each headline outcome with its 95 % confidence interval
over replicates (Student t), and the paired difference with the baseline regime: runs are
paired by replicate (same seed, common random numbers) and by the other axes, so the
interval of the difference is that of the mean of the paired differences.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .params import ScenarioError
from .resilience import MEASURES

STANDARD_AXES = ("regime.kind", "strategy.policy", "shock_set")
"""Axes every design table has (a single value when the batch does not vary them)."""

RESILIENCE_MEASURES = (*MEASURES, "recovered")
"""Resilience measures per series in the outcomes table: ``simulation.resilience.MEASURES``
and ``recovered`` (1/0), as ``simulation.resilience.outcome_measures`` returns them."""

HEADLINE_OUTCOMES = (
    "final_ess_employment_fte",
    "mean_personalisation",
    "ess_employment_fte__resistance",
    "ess_employment_fte__recovered",
    "ess_employment_fte__recovery_quarters",
    "ess_employment_fte__triangle_area_normalised",
    "personalisation__resistance",
    "services_delivered_hours__resistance",
)
"""Outcomes ``compare`` reports by default: final ESS employment (FTE), personalisation
averaged over the run, and the resilience of employment, personalisation and services
(present only for shocked runs; ``__recovered`` is 1/0, so its mean is the share of runs
that recovered)."""

CONFIDENCE = 0.95


class BatchError(ScenarioError):
    """A user error about a batch or a results folder: one line, exit status 2 in ``ptce``."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BatchError(f"{path}: file not found (not a batch results folder?)") from None
    except (OSError, ValueError) as exc:
        raise BatchError(f"{path}: cannot read: {exc}") from None


class Results:
    """A batch folder as pandas DataFrames (``load_results(path)``).

    ``design`` (one row per run), ``outcomes`` (one row per run), ``timeseries`` (one row
    per run and quarter), ``runs`` (design merged with outcomes), ``spec`` (the resolved
    spec, a dict), ``axes`` (the axis columns of the design, in order), ``sampled`` (the
    sampled parameter columns), ``missing_run_ids`` (runs not finished yet),
    ``networks`` (run id -> graphml path) and ``network(run_id)`` (a networkx graph).
    Outcomes and time series are read on first use and checked against the manifest's
    sha256 checksums.
    """

    def __init__(self, path: str | Path, *, verify: bool = True) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise BatchError(f"{self.path}: no such results folder")
        self.verify = verify
        self.spec: dict[str, Any] = read_json(self.path / "spec.json")
        self.manifest: dict[str, Any] = read_json(self.path / "manifest.json")
        try:
            self.design: pd.DataFrame = pd.read_parquet(self.path / "design.parquet")
        except (OSError, ValueError) as exc:
            raise BatchError(f"{self.path / 'design.parquet'}: cannot read: {exc}") from None
        self.axes: list[str] = list(self.spec.get("axes", STANDARD_AXES))
        self.sampled: list[str] = list(self.spec.get("sampled", []))

    def __repr__(self) -> str:
        done = len(self.design) - len(self.missing_run_ids)
        return f"Results({str(self.path)!r}: {done} of {len(self.design)} runs, axes {self.axes})"

    @property
    def name(self) -> str:
        return str(self.spec.get("name", self.path.name))

    @property
    def done_run_ids(self) -> set[int]:
        return {int(i) for part in self.manifest.get("parts", []) for i in part["run_ids"]}

    @property
    def missing_run_ids(self) -> list[int]:
        done = self.done_run_ids
        return [int(i) for i in self.design["run_id"] if int(i) not in done]

    @property
    def complete(self) -> bool:
        return not self.missing_run_ids

    def _read_parts(self, kind: str, sort: list[str]) -> pd.DataFrame:
        frames = []
        for part in self.manifest.get("parts", []):
            rel = next((r for r in part["files"] if r.startswith(f"{kind}/")), None)
            if rel is None:
                continue
            file = self.path / rel
            try:
                data = file.read_bytes()
            except OSError as exc:
                raise BatchError(f"{file}: cannot read: {exc.strerror or exc}") from None
            if self.verify and sha256_bytes(data) != part["files"][rel]:
                raise BatchError(f"{file}: checksum differs from manifest.json (file changed or damaged); rerun its runs with ptce batch --resume")
            df = pd.read_parquet(io.BytesIO(data))
            if len(df):
                frames.append(df)
        if not frames:
            return pd.DataFrame(columns=["run_id"])
        return pd.concat(frames, ignore_index=True).sort_values(sort, kind="stable").reset_index(drop=True)

    @cached_property
    def outcomes(self) -> pd.DataFrame:
        return self._read_parts("outcomes", ["run_id"])

    @cached_property
    def timeseries(self) -> pd.DataFrame:
        return self._read_parts("timeseries", ["run_id", "step"])

    @cached_property
    def runs(self) -> pd.DataFrame:
        """Design merged with outcomes, finished runs only, one row per run."""
        return self.design.merge(self.outcomes, on="run_id", how="inner", validate="one_to_one")

    @property
    def networks(self) -> dict[int, Path]:
        out = {}
        for part in self.manifest.get("parts", []):
            for rel in part["files"]:
                if rel.startswith("networks/"):
                    out[int(Path(rel).stem.removeprefix("run-"))] = self.path / rel
        return dict(sorted(out.items()))

    def network(self, run_id: int):
        """Cooperation network of a run at the end, as a networkx graph (if it was written)."""
        import networkx as nx

        path = self.networks.get(int(run_id))
        if path is None:
            raise KeyError(f"run {run_id}: no network file (networks are written for replicate 0 of each combination)")
        return nx.read_graphml(path)


def load_results(path: str | Path, *, verify: bool = True) -> Results:
    """Load a batch folder: ``load_results("results/crisis_regimes").outcomes``."""
    return Results(path, verify=verify)


# --------------------------------------------------------------------------- comparison
def mean_ci(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean and two-sided confidence interval by Student's t over independent values:
    mean +- t_{(1+c)/2, n-1} s / sqrt(n), s the sample standard deviation (ddof 1).
    NaN interval when n < 2."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if n < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half


def _runs_and_axes(results: Results | str | Path | pd.DataFrame, axes: list[str] | None) -> tuple[pd.DataFrame, list[str]]:
    if isinstance(results, pd.DataFrame):
        runs = results
        default_axes = [a for a in STANDARD_AXES if a in runs.columns]
    else:
        res = results if isinstance(results, Results) else load_results(results)
        runs = res.runs
        default_axes = res.axes
    axes = list(axes) if axes is not None else default_axes
    missing = [c for c in ("regime.kind", "replicate", *axes) if c not in runs.columns]
    if missing:
        raise ValueError(f"compare: the runs have no column {missing[0]!r}")
    if "run_id" in runs.columns:
        runs = runs.sort_values("run_id", kind="stable")
    if "status" in runs.columns:
        runs = runs[runs["status"] == "ok"]
    if "twin_of" in runs.columns:  # twins added only as counterfactuals are not part of the design
        runs = runs[runs["twin_of"] < 0]
    return runs, axes


def compare(
    results: Results | str | Path | pd.DataFrame,
    baseline: str = "administrative",
    outcomes: tuple[str, ...] | list[str] = HEADLINE_OUTCOMES,
    *,
    axes: list[str] | None = None,
) -> pd.DataFrame:
    """Mean and 95 % CI of each outcome per regime (and per other varied axis), and the
    paired difference with the baseline regime.

    ``results``: a :class:`Results`, a results folder, or a runs DataFrame (design columns
    ``regime.kind``, ``replicate``, the axes, and the outcome columns).  Runs are paired by
    replicate (and sample, with sampled ranges) within each value of the other axes: the
    difference of a pair is d_r = x_r - x_r^baseline, and its mean and interval are those of
    the d_r (Student t, n - 1 degrees of freedom).  Failed runs and runs added only as
    no-shock twins are left out; an outcome that is NaN for a run (a resilience measure
    of an unshocked run, a recovery time never reached) is left out for that run only.

    Columns: the group axes, ``outcome``, ``n``, ``mean``, ``ci_low``, ``ci_high``,
    ``diff_mean``, ``diff_ci_low``, ``diff_ci_high`` (NaN on baseline rows) and ``diff_n``
    (pairs).  With the default outcomes, those absent or all NaN are skipped; a row with
    no value (n = 0) is skipped.
    """
    runs, axes = _runs_and_axes(results, axes)
    regimes = list(dict.fromkeys(runs["regime.kind"]))
    if baseline not in regimes:
        raise ValueError(f"baseline regime {baseline!r} is not in the results (regimes: {', '.join(map(str, regimes)) or 'none finished'})")
    if outcomes is HEADLINE_OUTCOMES:
        outcomes = [o for o in outcomes if o in runs.columns and runs[o].notna().any()]
    else:
        unknown = [o for o in outcomes if o not in runs.columns]
        if unknown:
            raise ValueError(f"unknown outcome {unknown[0]!r}")
        outcomes = list(outcomes)
    others = [a for a in axes if a != "regime.kind" and runs[a].nunique(dropna=False) > 1]
    group_cols = ["regime.kind", *others]
    pair_cols = ["replicate", *(["sample"] if "sample" in runs.columns else []), *others]
    base = runs[runs["regime.kind"] == baseline]
    rows: list[dict[str, Any]] = []
    for outcome in outcomes:
        for key, group in runs.groupby(group_cols, sort=False):
            x = group[outcome].dropna().to_numpy(dtype=float)
            if len(x) == 0:
                continue
            mean, lo, hi = mean_ci(x)
            row: dict[str, Any] = dict(zip(group_cols, key, strict=True))
            row.update(outcome=outcome, n=len(x), mean=mean, ci_low=lo, ci_high=hi,
                       diff_mean=math.nan, diff_ci_low=math.nan, diff_ci_high=math.nan, diff_n=0)
            if key[0] != baseline:
                pairs = group[pair_cols + [outcome]].merge(
                    base[pair_cols + [outcome]], on=pair_cols, suffixes=("", "__base"), validate="one_to_one",
                )
                d = (pairs[outcome] - pairs[f"{outcome}__base"]).dropna().to_numpy(dtype=float)
                dm, dlo, dhi = mean_ci(d)
                row.update(diff_mean=dm, diff_ci_low=dlo, diff_ci_high=dhi, diff_n=len(d))
            rows.append(row)
    columns = [*group_cols, "outcome", "n", "mean", "ci_low", "ci_high", "diff_mean", "diff_ci_low", "diff_ci_high", "diff_n"]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- formatting
def _decimals(scale: float) -> int:
    if not math.isfinite(scale) or scale >= 1000:
        return 0
    if scale >= 10:
        return 1
    if scale >= 1:
        return 2
    return 3


def _num(x: float, decimals: int, sign: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:{'+' if sign else ''},.{decimals}f}"


def _cell_mean(r: pd.Series, dec: int) -> str:
    half = (r["ci_high"] - r["ci_low"]) / 2
    return f"{_num(r['mean'], dec)} ± {_num(half, dec)}" if math.isfinite(half) else _num(r["mean"], dec)


def _cell_diff(r: pd.Series, dec: int) -> str:
    if not math.isfinite(r["diff_mean"]):
        return ""
    half = (r["diff_ci_high"] - r["diff_ci_low"]) / 2
    if not math.isfinite(half):
        return f"Δ {_num(r['diff_mean'], dec, True)}"
    star = "*" if r["diff_ci_low"] > 0 or r["diff_ci_high"] < 0 else ""
    return f"Δ {_num(r['diff_mean'], dec, True)} ± {_num(half, dec)}{star}"


def _text_table(header: list[str], rows: list[list[str]], markdown: bool, labels: int) -> list[str]:
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return out + ["| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    fmt = [f"{{:<{w}}}" if i < labels else f"{{:>{w}}}" for i, w in enumerate(widths)]
    return ["  ".join(f.format(c) for f, c in zip(fmt, r, strict=True)).rstrip() for r in [header, *rows]]


def format_comparison(table: pd.DataFrame, baseline: str, fmt: str = "table") -> str:
    """Render :func:`compare`'s table: ``csv`` and ``json`` as is (long form); ``table``
    and ``markdown`` with one block per outcome, the regimes side by side: mean ± half
    the 95 % CI, and for the other regimes Δ, the paired difference with the baseline,
    ± half its 95 % CI (* when the interval excludes 0)."""
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt == "json":
        return table.to_json(orient="records", indent=1)
    if fmt not in ("table", "markdown"):
        raise ValueError(f"unknown format {fmt!r}")
    md = fmt == "markdown"
    if table.empty:
        return "no finished run to compare"
    group_cols = list(table.columns[: list(table.columns).index("outcome")])
    others = group_cols[1:]
    regimes = list(dict.fromkeys(table["regime.kind"]))
    lines: list[str] = []
    note = (f"mean ± half-width of the 95 % CI over replicates; Δ = paired difference with {baseline} "
            "(same replicate seeds), ± half its 95 % CI, * when the CI excludes 0")
    lines.append(note if not md else f"_{note}_")
    for outcome, block in table.groupby("outcome", sort=False):
        dec = _decimals(float(np.nanmax(np.abs(block["mean"].to_numpy(dtype=float)))) if block["mean"].notna().any() else math.nan)
        ns = sorted(set(block["n"]))
        title = f"{outcome} (n = {ns[0]} per cell)" if len(ns) == 1 else f"{outcome} (n = {ns[0]}-{ns[-1]} per cell)"
        lines += ["", f"### {title}" if md else title]
        keys = list(dict.fromkeys(tuple(r) for r in block[others].itertuples(index=False))) if others else [()]
        header = [*others, *regimes] if others else ["", *regimes]
        rows = []
        for key in keys:
            sel = block
            for col, val in zip(others, key, strict=True):
                sel = sel[sel[col] == val]
            cells = []
            for regime in regimes:
                hit = sel[sel["regime.kind"] == regime]
                if hit.empty:
                    cells.append("-")
                    continue
                r = hit.iloc[0]
                cells.append(" ".join(c for c in (_cell_mean(r, dec), _cell_diff(r, dec)) if c))
            rows.append([*(str(k) for k in key), *cells] if others else ["", *cells])
        lines += _text_table(header, rows, md, max(len(others), 1))
    return "\n".join(lines) + "\n"
