"""Calibration of the parameters marked "calibrated: FACTS.md [...]" in ``simulation/params.py``.

Rerun it with::

    python -m simulation.calibrate                 # about 10 minutes on 2 cores (258 evaluations)
    python -m simulation.calibrate --replicates 6 --workers 4 --out results/calibration

It runs the arms of ``scenarios/calibration.toml`` (:mod:`simulation.validation`) at the
points of a grid, every point with the same replicate seeds (common random numbers, so
the loss is smooth in the parameters), and minimises

    loss = sum over the targeted patterns of ((mean - target) / half-width)^2

(half-width: half the pattern's accepted interval), by coordinate search: each
parameter in turn over its grid (parameters that act on the same patterns together, over
the product of their grids), the others at their best so far, pass after pass until a pass
changes nothing (at most three); then each again over a grid finer around its best.  It prints every evaluation and the best values,
writes them to ``OUT/calibration.csv``, and does **not** edit ``params.py``: the values
found are copied there by hand, with the source "calibrated: FACTS.md [tag]" (ODD.md,
"Calibration and validation", records the run).

Calibrated here (each against the patterns that identify it, Grimm et al. 2005):

- ``demand.size_attraction`` (Huff's elasticity of beneficiaries' choice to a provider's
  size) against the size distribution of FACTS.md [assoc-size-dist] and the budget
  concentration of [assoc-budget-conc] in 2017: at 0 every provider of equal utility is
  asked for the same hours, so large organisations shrink towards the mean; at 1 demand
  follows size and the initial dispersion persists;
- ``funding.entry_rate`` (organisations emerging where needs are unmet) against the size
  distribution of FACTS.md [assoc-size-dist] and the budget concentration of
  [assoc-budget-conc] in 2017: newcomers are small, so the flow of entries shapes both;
- ``organisation.volunteer_ratio`` (volunteers an organisation with full governance and no
  technicisation attracts per FTE) against FACTS.md [volunteers]: the published ratio is
  the territory's aggregate, which technicisation and governance below 1 reduce;
- ``organisation.gifts_eur_per_volunteer_fte_quarter`` (the private non-earned resources
  raised per volunteer FTE: gifts, membership fees, sponsorship) and
  ``organisation.gift_pass_through`` (the share of gifts and insertion aid an organisation
  passes to paying beneficiaries as a lower price, non-profit pricing), jointly, against
  the shares of FACTS.md [resource-mix] in 2005 and 2017: the gifts are the remainder
  (17 % and 14 %) that is neither subsidies nor earned revenue, and the more of them is
  passed on, the less sales weigh against subsidies and public orders.

Not calibrated here: ``cooperation.rigidity_half_size`` and
``cooperation.rigidity_exit_threshold`` were set by hand against FACTS.md [ptce-size]
(ODD.md 7.13).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .validation import CALIBRATION_SCENARIO, PATTERNS, Pattern, calibration_runs, check_patterns


@dataclass(frozen=True)
class Calibrated:
    """A calibrated parameter: its dotted path, the value the search starts from (its value
    before calibration, so a rerun does not depend on the defaults it wrote), its coarse
    grid and the patterns it targets."""

    path: str
    start: float
    grid: tuple[float, ...]
    patterns: tuple[str, ...]  # statistic names of PATTERNS
    group: str | None = None  # parameters of one group are searched jointly (they interact)


RESOURCE_MIX = ("subsidy_share", "public_order_share", "earned_revenue_share")
"""The statistics of FACTS.md [resource-mix]."""

CALIBRATED: tuple[Calibrated, ...] = (
    # In this order: volunteers set how much of the work salaried staff do, hence the staff
    # sizes the size patterns count, so they come before the size parameters.
    Calibrated("organisation.volunteer_ratio", 0.9, (1.0, 1.5, 2.0, 2.5, 3.0, 3.5), ("volunteer_to_salaried_fte",)),
    # Gifts set the non-earned remainder of the resource mix, and the share of them passed
    # to paying beneficiaries as lower prices sets how much of it sales then replace: both
    # move every share of the mix, so they are searched jointly against all of it.
    Calibrated("organisation.gifts_eur_per_volunteer_fte_quarter", 600.0, (600.0, 1200.0, 1800.0, 2400.0, 3000.0, 3600.0),
               RESOURCE_MIX, group="resources"),
    Calibrated("organisation.gift_pass_through", 0.0, (0.0, 0.25, 0.5, 0.75, 1.0), RESOURCE_MIX, group="resources"),
    # Size attraction and entry act on the same size patterns in opposite directions (one
    # keeps large organisations large, the other adds small ones): searched jointly.
    Calibrated("demand.size_attraction", 0.0, (0.0, 0.5, 0.9, 1.0, 1.1, 1.2, 1.3),
               ("share_below_10_employees", "share_above_50_employees", "resource_share_over_500k_eur"), group="size"),
    Calibrated("funding.entry_rate", 0.005, (0.005, 0.0125, 0.02, 0.03, 0.04, 0.05, 0.07, 0.1),
               ("share_below_10_employees", "share_above_50_employees", "resource_share_over_500k_eur"), group="size"),
)
ARMS_USED = ("2005", "2017")
MAX_COARSE_PASSES = 3


def targeted(calibrated: tuple[Calibrated, ...] = CALIBRATED) -> list[Pattern]:
    """The patterns the calibration fits: those whose statistic a calibrated parameter targets."""
    stats = {s for c in calibrated for s in c.patterns}
    return [p for p in PATTERNS if p.statistic in stats and p.arm in ARMS_USED]


def loss(table: pd.DataFrame) -> float:
    """Sum of squared deviations of the means from the targets, in half-widths of the
    accepted interval (a pattern at the edge of its interval adds 1)."""
    half = (table["high"] - table["low"]) / 2
    return float((((table["mean"] - table["target"]) / half) ** 2).sum())


def evaluate(values: dict[str, float], *, scenario: Path, replicates: int, workers: int | None) -> tuple[float, pd.DataFrame]:
    runs = calibration_runs(scenario, replicates=replicates, overrides={k: repr(v) for k, v in values.items()},
                            workers=workers, arms=ARMS_USED)
    table = check_patterns(runs, targeted())
    return loss(table), table


def finer_grid(grid: tuple[float, ...], best: float, points: int = 7) -> tuple[float, ...]:
    """``points`` points over the grid steps on either side of ``best``, within the coarse
    grid's range (three times finer with 7 points), rounded to three significant digits
    (the value written into params.py is then a point that was evaluated), and ``best``
    itself: where its two grid steps differ (0.05, 0.07, 0.1) the even spacing misses it, and
    the search must never move to a point worse than the one it has."""
    ordered = sorted(grid)
    i = ordered.index(best) if best in ordered else int(np.argmin([abs(v - best) for v in ordered]))
    lo, hi = ordered[max(i - 1, 0)], ordered[min(i + 1, len(ordered) - 1)]
    return tuple(sorted({float(f"{v:.3g}") for v in np.linspace(lo, hi, points)} | {best}))


def groups(calibrated: tuple[Calibrated, ...] = CALIBRATED) -> list[tuple[Calibrated, ...]]:
    """The search's coordinates, in order: each group of parameters searched jointly, each
    ungrouped parameter alone."""
    out: list[tuple[Calibrated, ...]] = []
    for c in calibrated:
        if c.group is not None and any(g[0].group == c.group for g in out):
            continue
        out.append(tuple(d for d in calibrated if d.group == c.group) if c.group is not None else (c,))
    return out


def calibrate(*, scenario: Path = CALIBRATION_SCENARIO, replicates: int = 4, workers: int | None = None,
              echo: Any = print, calibrated: tuple[Calibrated, ...] = CALIBRATED,
              evaluator: Callable[[dict[str, float]], tuple[float, pd.DataFrame]] | None = None,
              ) -> tuple[dict[str, float], pd.DataFrame]:
    """Coordinate search over ``calibrated``; returns (best values, every evaluation).

    ``evaluator`` maps parameter values to (loss, pattern table); by default
    :func:`evaluate` on ``scenario`` (tests pass a function with a known minimum)."""
    if evaluator is None:
        def evaluator(values: dict[str, float]) -> tuple[float, pd.DataFrame]:
            return evaluate(values, scenario=scenario, replicates=replicates, workers=workers)
    current = {c.path: c.start for c in calibrated}
    records: list[dict[str, Any]] = []
    seen: dict[tuple[tuple[str, float], ...], float] = {}

    def run(values: dict[str, float], stage: str) -> float:
        key = tuple(sorted(values.items()))
        if key not in seen:
            value, table = evaluator(values)
            seen[key] = value
            rec = {"stage": stage, **values, "loss": value}
            rec.update({f"{r.statistic}@{r.arm}": r.mean for r in table.itertuples()})
            records.append(rec)
            echo("  ".join(f"{k.split('.')[-1]}={v:g}" for k, v in values.items()) + f"  loss={value:.3f}  "
                 + "  ".join(f"{r.statistic}@{r.arm}={r.mean:.3f}" for r in table.itertuples()))
        return seen[key]

    # Coarse passes until a pass changes nothing (the parameters interact: a later one moves
    # the patterns an earlier one was set on), at most MAX_COARSE_PASSES; then one fine pass.
    stages = [f"coarse {i + 1}" for i in range(MAX_COARSE_PASSES)] + ["fine"]
    before: dict[str, float] | None = None
    for stage in stages:
        if stage.startswith("coarse") and current == before:
            continue
        before = dict(current)
        for group in groups(calibrated):
            # A joint group's fine grid has 5 points a side (its product grows as 5^k).
            grids = [c.grid if stage.startswith("coarse") else finer_grid(c.grid, current[c.path], 7 if len(group) == 1 else 5)
                     for c in group]
            name = " + ".join(c.path for c in group)
            scores = {point: run(current | {c.path: v for c, v in zip(group, point, strict=True)}, f"{stage} {name}")
                      for point in itertools.product(*grids)}
            best = min(scores, key=lambda point: (scores[point], point))
            current.update({c.path: v for c, v in zip(group, best, strict=True)})
    echo("best: " + ", ".join(f"{k} = {v:g}" for k, v in current.items()) + f" (loss {seen[tuple(sorted(current.items()))]:.3f})")
    return current, pd.DataFrame(records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulation.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(CALIBRATION_SCENARIO), help="calibration scenario (default scenarios/calibration.toml)")
    parser.add_argument("--replicates", type=int, default=4, help="replicates of each arm at each grid point (default 4)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: one per core)")
    parser.add_argument("--out", default="results/calibration", help="folder of calibration.csv (default results/calibration)")
    args = parser.parse_args(argv)
    best, records = calibrate(scenario=Path(args.scenario), replicates=args.replicates, workers=args.workers)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records.to_csv(out / "calibration.csv", index=False)
    print(f"wrote {out / 'calibration.csv'}; copy the best values into simulation/params.py (source 'calibrated: FACTS.md [...]')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
