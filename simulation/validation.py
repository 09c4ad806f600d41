"""Pattern-oriented validation: the 2005-2017 calibration scenario against FACTS.md.

Pattern-oriented modelling (Grimm, V. et al. 2005, "Pattern-oriented modeling of
agent-based complex systems: lessons from ecology", Science 310(5750)): a model is
credible when it reproduces, at once, several patterns observed at different levels.
``ptce validate`` runs ``scenarios/calibration.toml`` in three **arms**, each replicate
of each arm with the same seed (common random numbers), and checks every pattern of
:data:`PATTERNS` against its tolerance.

The arms (the public funder of FACTS.md [resource-mix] moving from grants toward calls
for tender; a time-varying regime is not in the model, so the period is represented by its
two ends, both starting from the same 2005 territory):

- ``2005``: the administrative regime (formula grants and an administered tariff), the
  budget of the scenario file; measured over its first year (2005).
- ``2017``: the competitive regime (calls for tender, a residual grant share) after twelve
  years, with the public budget of 2011, :data:`BUDGET_2011_OVER_2005` times that of 2005
  (the volume trend of FACTS.md [resource-volume]); measured over its last year.
- ``cooperation``: the cooperative regime with every organisation cooperating
  (``strategy.policy = "cooperate"``), same budget and horizon as ``2017``: where PTCEs
  form, their size is compared with FACTS.md [ptce-size]; measured over its last year.

Each pattern states its target (a FACTS.md figure), its accepted interval and why that
tolerance; a pattern passes when the mean over replicates lies in the interval.  The
95 % interval of the mean (Student t over replicates) is printed beside it.

Nothing here changes the model: the arms are scenarios (dotted overrides) and the
statistics are read from the model's state and its time series.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from .params import Scenario, ScenarioError, _format_error, load_scenario

CALIBRATION_SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "calibration.toml"
"""The calibration scenario shipped with the source tree (``ptce validate``'s default)."""

YEAR_QUARTERS = 4
"""Quarters in the measured year of each arm."""

# FACTS.md [resource-volume], 2005-2011: subsidies -3 %/year, public orders +10 %/year in
# volume; with the 2005 shares of FACTS.md [resource-mix] (subsidies 34 %, orders 17 % of
# resources) the public money of 2011 is (0.34 x 0.97^6 + 0.17 x 1.10^6) / 0.51 = 1.146 times
# that of 2005.  No volume trend is published for 2011-2017, so the 2011 level is kept.
SUBSIDIES_2005, ORDERS_2005 = 0.34, 0.17
BUDGET_2011_OVER_2005 = (SUBSIDIES_2005 * 0.97**6 + ORDERS_2005 * 1.10**6) / (SUBSIDIES_2005 + ORDERS_2005)


@dataclass(frozen=True)
class Arm:
    """One arm of the calibration: overrides of the scenario, horizon and measured year."""

    name: str
    description: str
    regime: str
    policy: str | None  # None: keep the scenario's strategy.policy
    budget_factor: float  # times the scenario's funding.public_budget_share_of_costs
    first_year: bool  # measure the first year (and run only it) rather than the last

    def scenario(self, base: Scenario) -> Scenario:
        """The arm's scenario: the base with its regime (at that regime's defaults unless
        the base already has this regime), policy and budget."""
        data = base.model_dump()
        data["batch"] = None
        if data["regime"]["kind"] != self.regime:
            data["regime"] = {"kind": self.regime}
        if self.policy is not None:
            data["strategy"]["policy"] = self.policy
        data["funding"]["public_budget_share_of_costs"] = base.funding.public_budget_share_of_costs * self.budget_factor
        if self.first_year:
            data["steps"] = min(base.steps, YEAR_QUARTERS)
        try:
            return Scenario.model_validate(data)
        except ValidationError as err:
            raise ScenarioError(_format_error(f"calibration arm {self.name}", err)) from None


ARMS: tuple[Arm, ...] = (
    Arm("2005", "administrative regime, 2005 budget, first year", "administrative", None, 1.0, True),
    Arm("2017", "competitive regime, 2011 budget, last year", "competitive", None, BUDGET_2011_OVER_2005, False),
    Arm("cooperation", "cooperative regime, every organisation cooperating, 2011 budget, last year",
        "cooperative", "cooperate", BUDGET_2011_OVER_2005, False),
)
ARM_NAMES = tuple(a.name for a in ARMS)


# --------------------------------------------------------------------------- statistics of one run
STATISTICS: dict[str, str] = {
    "subsidy_share": "subsidies / ESS revenue over the measured year",
    "public_order_share": "public orders / ESS revenue over the measured year",
    "sales_share": "sales to beneficiaries / ESS revenue over the measured year",
    "gifts_share": "gifts / ESS revenue over the measured year",
    "earned_revenue_share": "public orders + sales / ESS revenue over the measured year",
    "share_below_10_employees": "share of ESS organisations with under 10 employees at the end (people = FTE x territory.headcount_per_fte)",
    "share_above_50_employees": "share of ESS organisations with over 50 employees at the end (people = FTE x territory.headcount_per_fte)",
    "resource_share_over_500k_eur": "share of the year's ESS revenue held by organisations whose revenue of the year is over 500 kEUR",
    "organisations_over_500k_eur": "share of ESS organisations whose revenue of the year is over 500 kEUR",
    "top1pct_resource_share": "revenue share of the largest 1 % (metric top1pct_resource_share), mean over the year",
    "volunteer_to_salaried_fte": "volunteer FTE / salaried FTE, mean over the year",
    "ptce_count": "PTCEs alive, mean over the year",
    "ptce_members_mean": "members per PTCE (metric ptce_members_mean), mean over the year's quarters with a PTCE",
    "ptce_jobs_mean": "direct jobs per PTCE in FTE (metric ptce_jobs_mean), mean over the year's quarters with a PTCE",
    "insertion_exit_to_job_share": "insertion leavers who found a job / insertion leavers, whole run",
}
"""Statistics measured on every run of every arm (columns of the runs table)."""


def run_statistics(model: Any, quarters: int, first_year: bool) -> dict[str, float]:
    """Run ``model`` for ``quarters`` and measure :data:`STATISTICS` over the measured year
    (the first or the last ``YEAR_QUARTERS`` quarters).

    Revenue is summed over the year by kind (ledgers are reset every quarter), so shares are
    ratios of yearly sums; an organisation's revenue of the year counts if it is alive at the
    end of the year.  Insertion leavers are h x insertion FTE per quarter (h the exit hazard,
    ``simulation.mechanisms.insertion_exits``), summed over the run like the exits to jobs.
    """
    window = range(0, min(YEAR_QUARTERS, quarters)) if first_year else range(max(0, quarters - YEAR_QUARTERS), quarters)
    by_kind = np.zeros(4)  # subsidies, public orders, sales, gifts
    revenue_of: dict[int, float] = {}
    for q in range(quarters):
        model.step()
        if q in window:
            for o in model.organisations():
                led = o.ledger
                by_kind += (led.subsidy_eur, led.public_order_eur, led.sales_eur, led.gifts_eur)
                revenue_of[o.unique_id] = revenue_of.get(o.unique_id, 0.0) + led.revenue_eur
    ts = model.timeseries()
    year = ts.iloc[list(window)]
    orgs = model.organisations()
    staff = np.array([o.staff_fte for o in orgs], dtype=float)
    # FACTS.md [assoc-size-dist] counts employees (people), the model FTE: part-time work
    # makes 1.33 people per FTE in associations (FACTS.md [ess-size-2019]).
    people = staff * model.config.territory.headcount_per_fte
    alive = {o.unique_id for o in orgs}
    revenue = np.array([v for k, v in revenue_of.items() if k in alive], dtype=float)
    total = by_kind.sum()
    shares = by_kind / total if total > 0 else np.full(4, math.nan)
    hazard = model.config.funding.insertion_exit_hazard_per_quarter
    leavers = hazard * float(ts["insertion_employment_fte"].sum())
    with_ptce = year[year["ptce_count"] > 0]
    return {
        "subsidy_share": float(shares[0]),
        "public_order_share": float(shares[1]),
        "sales_share": float(shares[2]),
        "gifts_share": float(shares[3]),
        "earned_revenue_share": float(shares[1] + shares[2]),
        "share_below_10_employees": float((people < 10).mean()) if len(people) else math.nan,
        "share_above_50_employees": float((people > 50).mean()) if len(people) else math.nan,
        "resource_share_over_500k_eur": float(revenue[revenue > 500_000].sum() / revenue.sum()) if revenue.sum() > 0 else math.nan,
        "organisations_over_500k_eur": float((revenue > 500_000).mean()) if len(revenue) else math.nan,
        "top1pct_resource_share": float(year["top1pct_resource_share"].mean()),
        "volunteer_to_salaried_fte": float((year["volunteers_fte"] / year["ess_employment_fte"]).mean()),
        "ptce_count": float(year["ptce_count"].mean()),
        "ptce_members_mean": float(with_ptce["ptce_members_mean"].mean()) if len(with_ptce) else 0.0,
        "ptce_jobs_mean": float(with_ptce["ptce_jobs_mean"].mean()) if len(with_ptce) else 0.0,
        "insertion_exit_to_job_share": float(ts["insertion_exits_to_jobs"].sum() / leavers) if leavers > 0 else math.nan,
    }


def replicate_seed(master_seed: int, replicate: int) -> np.random.SeedSequence:
    """Seed of replicate r, as in batches: SeedSequence(master_seed, spawn_key=(r,)); every
    arm of a replicate gets it (common random numbers: same 2005 territory)."""
    return np.random.SeedSequence(master_seed, spawn_key=(replicate,))


def simulate_arm(scenario: Scenario, arm_name: str, replicate: int) -> dict[str, Any]:
    """One run of one arm (a top-level function, so process pools can pickle it)."""
    from .model import TerritoryModel

    arm = next(a for a in ARMS if a.name == arm_name)
    run_scenario = arm.scenario(scenario)
    model = TerritoryModel(run_scenario, rng=replicate_seed(scenario.seed, replicate))
    stats = run_statistics(model, run_scenario.steps, arm.first_year)
    return {"arm": arm_name, "replicate": replicate, **stats}


def _pool(workers: int) -> cf.Executor:
    """The batch runner's hardened process pool (simulation.runner._ProcessPool): spawn start
    method, workers that ignore Ctrl-C (this process stops them) and that end when this
    process ends, however it ends (killed by SIGTERM or SIGKILL: no orphaned worker, no
    resource tracker left running)."""
    from .runner import _ProcessPool

    return _ProcessPool(workers)


def calibration_runs(
    scenario: str | Path | Scenario = CALIBRATION_SCENARIO,
    *,
    replicates: int = 10,
    overrides: dict[str, Any] | None = None,
    workers: int | None = 1,
    arms: Sequence[str] = ARM_NAMES,
) -> pd.DataFrame:
    """Run every arm ``replicates`` times; one row per run: ``arm``, ``replicate`` and the
    :data:`STATISTICS`.  ``workers`` processes (1: in this process; None: one per core).
    Results do not depend on ``workers`` (each run has its own seed)."""
    if isinstance(scenario, Scenario):
        if overrides:
            raise TypeError("overrides apply to a scenario file; derive a Scenario with load_scenario(path, overrides)")
        base = scenario
    else:
        base = load_scenario(scenario, overrides)
    if not isinstance(replicates, int) or replicates < 1:
        raise ScenarioError(f"--replicates: must be a whole number >= 1, got {replicates!r}")
    if base.steps < YEAR_QUARTERS:
        raise ScenarioError(f"calibration scenario: steps: must be at least {YEAR_QUARTERS} (a measured year), got {base.steps}")
    unknown = [a for a in arms if a not in ARM_NAMES]
    if unknown:
        raise ScenarioError(f"calibration arm {unknown[0]!r}: not one of {', '.join(ARM_NAMES)}")
    for name in arms:  # a bad arm scenario is a user error before anything runs
        next(a for a in ARMS if a.name == name).scenario(base)
    jobs = [(base, arm, r) for r in range(replicates) for arm in arms]
    n = workers or os.cpu_count() or 1
    if n <= 1 or len(jobs) == 1:
        rows = [simulate_arm(*job) for job in jobs]
    else:
        pool = _pool(min(n, len(jobs)))
        try:
            rows = list(pool.map(simulate_arm, *zip(*jobs, strict=True)))
        except BaseException:
            # Ctrl-C, or a run that raised: the runs still going are of no use (nothing is
            # kept before the end), so the workers are ended now rather than waited for.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    return pd.DataFrame(rows).sort_values(["arm", "replicate"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- patterns
@dataclass(frozen=True)
class Pattern:
    """A published figure, the statistic of an arm that should reproduce it, and the
    interval [low, high] the mean over replicates must fall in."""

    name: str
    tag: str
    arm: str
    statistic: str
    target: float
    low: float
    high: float
    why: str  # reason for the tolerance

    def passes(self, mean: float) -> bool:
        return bool(np.isfinite(mean) and self.low <= mean <= self.high)


def _around(target: float, tol: float) -> tuple[float, float, float]:
    return target, round(target - tol, 10), round(target + tol, 10)


SHARE_TOL = 0.05
"""Resource shares: +-5 points (survey shares of all associations, not only employers)."""

PATTERNS: tuple[Pattern, ...] = (
    Pattern("subsidies share of resources, 2005", "resource-mix", "2005", "subsidy_share", *_around(0.34, SHARE_TOL),
            "+-5 points: the survey covers all associations, the model employer ESS organisations"),
    Pattern("public orders share of resources, 2005", "resource-mix", "2005", "public_order_share", *_around(0.17, SHARE_TOL),
            "+-5 points, as above"),
    Pattern("earned revenue share of resources, 2005", "resource-mix", "2005", "earned_revenue_share", *_around(0.49, SHARE_TOL),
            "+-5 points, as above"),
    Pattern("subsidies share of resources, 2017", "resource-mix", "2017", "subsidy_share", *_around(0.20, SHARE_TOL),
            "+-5 points, as above"),
    Pattern("public orders share of resources, 2017", "resource-mix", "2017", "public_order_share", *_around(0.24, SHARE_TOL),
            "+-5 points, as above"),
    Pattern("earned revenue share of resources, 2017", "resource-mix", "2017", "earned_revenue_share", *_around(0.66, SHARE_TOL),
            "+-5 points, as above"),
    Pattern("organisations under 10 employees", "assoc-size-dist", "2017", "share_below_10_employees", *_around(0.80, 0.10),
            "+-10 points: 'about 80 %', people counted as FTE"),
    Pattern("organisations over 50 employees", "assoc-size-dist", "2017", "share_above_50_employees", *_around(0.05, 0.03),
            "+-3 points: 'about 5 %'"),
    Pattern("resources held by organisations over 500 kEUR", "assoc-budget-conc", "2017", "resource_share_over_500k_eur",
            *_around(0.71, 0.10),
            "+-10 points: the model has no associations without employees (3/4 of associations, 4 % of resources), "
            "which lifts the large ones' share by a few points"),
    Pattern("volunteer FTE per salaried FTE", "volunteers", "2017", "volunteer_to_salaried_fte", *_around(1.425 / 1.6, 0.15),
            "+-0.15: associations only in the source, all ESS organisations here"),
    Pattern("members per PTCE", "ptce-size", "cooperation", "ptce_members_mean", *_around(15.0, 7.5),
            "+-50 %: 'about 15', an average over very unequal hubs"),
    Pattern("direct jobs per PTCE (FTE)", "ptce-size", "cooperation", "ptce_jobs_mean", *_around(100.0, 50.0),
            "+-50 %: 'about 100', largest 450"),
    Pattern("insertion leavers in a job", "iae-exit", "2017", "insertion_exit_to_job_share", 0.45, 0.30, 0.55,
            "45 % overall (2021); the range of the structure types, ACI 30 % to ETTI 55 %"),
    Pattern("insertion leavers in a job, under cooperation", "iae-exit", "cooperation", "insertion_exit_to_job_share", 0.45, 0.30, 0.55,
            "as above; integration pathways of conglomerate PTCEs raise it"),
)
"""The patterns of FACTS.md checked by ``ptce validate``, with their tolerances."""

CONFIDENCE = 0.95


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[int, float, float, float]:
    """(n, mean, low, high): mean of the finite values and its Student-t interval;
    the interval is NaN with fewer than two values."""
    from scipy import stats

    x = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    n = len(x)
    if n == 0:
        return 0, math.nan, math.nan, math.nan
    mean = float(x.mean())
    if n < 2:
        return n, mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return n, mean, mean - half, mean + half


def check_patterns(runs: pd.DataFrame, patterns: Sequence[Pattern] = PATTERNS) -> pd.DataFrame:
    """One row per pattern: ``pattern``, ``tag``, ``arm``, ``statistic``, ``target``,
    ``low``, ``high``, ``n``, ``mean``, ``ci_low``, ``ci_high``, ``passed``, ``why``.
    ``runs`` has an ``arm`` column and one column per statistic (one row per run)."""
    rows = []
    for p in patterns:
        values = runs.loc[runs["arm"] == p.arm, p.statistic] if p.statistic in runs.columns else pd.Series(dtype=float)
        n, mean, lo, hi = mean_interval(values.to_numpy(dtype=float))
        rows.append({"pattern": p.name, "tag": p.tag, "arm": p.arm, "statistic": p.statistic, "target": p.target,
                     "low": p.low, "high": p.high, "n": n, "mean": mean, "ci_low": lo, "ci_high": hi,
                     "passed": p.passes(mean), "why": p.why})
    return pd.DataFrame(rows)


def _num(x: float) -> str:
    if not np.isfinite(x):
        return "-"
    return f"{x:.3g}" if abs(x) >= 1 else f"{x:.3f}"


def format_table(table: pd.DataFrame) -> str:
    """The check table as aligned text: pattern [tag] (arm), target, accepted interval,
    simulated mean and its 95 % interval, pass or FAIL."""
    rows = [("pattern", "target", "accepted", "simulated mean", "95 % interval", "result")]
    for r in table.itertuples():
        ci = f"[{_num(r.ci_low)}, {_num(r.ci_high)}]" if np.isfinite(r.ci_low) else "-"
        rows.append((f"{r.pattern} [{r.tag}] ({r.arm})", _num(r.target), f"[{_num(r.low)}, {_num(r.high)}]",
                     _num(r.mean), ci, "pass" if r.passed else "FAIL"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for k, row in enumerate(rows):
        lines.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(table: pd.DataFrame) -> str:
    """The check table as Markdown (for README.md or ODD.md)."""
    out = ["| pattern | FACTS.md | arm | target | accepted | simulated mean | 95 % interval | result |", "|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        ci = f"[{_num(r.ci_low)}, {_num(r.ci_high)}]" if np.isfinite(r.ci_low) else "-"
        out.append(f"| {r.pattern} | [{r.tag}] | {r.arm} | {_num(r.target)} | [{_num(r.low)}, {_num(r.high)}] | "
                   f"{_num(r.mean)} | {ci} | {'pass' if r.passed else '**fail**'} |")
    return "\n".join(out)


@dataclass
class Validation:
    """What ``validate`` returns: the runs (one row per run) and the check table."""

    runs: pd.DataFrame
    table: pd.DataFrame

    @property
    def passed(self) -> bool:
        return bool(self.table["passed"].all())


def validate(
    scenario: str | Path | Scenario = CALIBRATION_SCENARIO,
    *,
    replicates: int = 10,
    overrides: dict[str, Any] | None = None,
    workers: int | None = 1,
) -> Validation:
    """Run the calibration scenario's arms and check :data:`PATTERNS`."""
    runs = calibration_runs(scenario, replicates=replicates, overrides=overrides, workers=workers)
    return Validation(runs=runs, table=check_patterns(runs))


# --------------------------------------------------------------------------- command line
DEFAULT_REPLICATES = 10


def add_validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", default=None, help=f"calibration scenario (default: {CALIBRATION_SCENARIO.relative_to(CALIBRATION_SCENARIO.parents[1])})")
    parser.add_argument("--replicates", type=int, default=DEFAULT_REPLICATES, help=f"runs of each arm (default {DEFAULT_REPLICATES})")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: one per core; 1 runs in this process)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a parameter of the calibration scenario (repeatable)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")


def cli_validate(args: argparse.Namespace, overrides: dict[str, str], echo: Callable[[str], None] = print) -> int:
    """``ptce validate``: 0 when every pattern passes, 1 otherwise (2 for user errors, raised)."""
    path = Path(args.scenario) if args.scenario else CALIBRATION_SCENARIO
    if args.replicates < 1:
        raise ScenarioError(f"--replicates: must be a whole number >= 1, got {args.replicates}")
    if args.workers is not None and args.workers < 1:
        raise ScenarioError(f"--workers: must be a whole number >= 1, got {args.workers}")
    base = load_scenario(path, overrides)
    echo(f"calibration scenario {path} ({base.territory.organisations} organisations, {base.steps} quarters), "
         f"{args.replicates} replicates of {len(ARMS)} arms: " + "; ".join(f"{a.name} = {a.description}" for a in ARMS))
    result = validate(base, replicates=args.replicates, workers=args.workers)
    echo(format_markdown(result.table) if args.markdown else format_table(result.table))
    failed = int((~result.table["passed"]).sum())
    echo(f"{len(result.table) - failed} of {len(result.table)} patterns pass" + ("" if not failed else f"; {failed} fail"))
    return 0 if failed == 0 else 1
