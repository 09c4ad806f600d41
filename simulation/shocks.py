"""Shock paths, drawn up front so that every regime and policy meets the same future.

A shock path is a pair of arrays indexed by quarter: the multiplier of the public budget
and the multiplier of needs by group and sector.  It depends only on the scenario's
shocks and the run's shock stream, never on the regime (common random numbers, EMA
Workbench style).  The shocks of this module have fixed timing and size; drawn timing
and the other shock kinds come with the crises issue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import GROUPS, SECTORS, BudgetCut, NeedsSurge, Shock


@dataclass(frozen=True)
class ShockPath:
    budget_multiplier: np.ndarray  # (T,) share of the base public budget available
    need_multiplier: np.ndarray  # (T, G, S) multiplier of trend needs

    def budget(self, step: int) -> float:
        return float(self.budget_multiplier[step]) if step < len(self.budget_multiplier) else 1.0

    def needs(self, step: int) -> np.ndarray:
        if step < len(self.need_multiplier):
            return self.need_multiplier[step]
        return np.ones(self.need_multiplier.shape[1:])


def profile(steps: int, start: int, duration: int, recovery: int) -> np.ndarray:
    """Intensity of a shock by quarter, in [0, 1]: 0 before `start`, 1 for `duration`
    quarters, then a linear return to 0 over `recovery` quarters."""
    t = np.arange(steps)
    out = np.zeros(steps)
    full = (t >= start) & (t < start + duration)
    out[full] = 1.0
    if recovery > 0:
        rec = (t >= start + duration) & (t < start + duration + recovery)
        out[rec] = 1.0 - (t[rec] - (start + duration) + 1) / (recovery + 1)
    return out


def shock_path(shocks: list[Shock], steps: int, rng: np.random.Generator | None = None) -> ShockPath:
    """Compose the shocks of a scenario into one path (multipliers multiply).

    budget_cut:  B_t = prod (1 - share * profile_t)
    needs_surge: N_t[g, s] = prod (1 + rise * profile_t) on the groups and sectors hit.
    `rng` is the run's shock stream, reserved for drawn timings and sizes.
    """
    budget = np.ones(steps)
    needs = np.ones((steps, len(GROUPS), len(SECTORS)))
    for shock in shocks:
        prof = profile(steps, shock.start, shock.duration, shock.recovery_quarters)
        if isinstance(shock, BudgetCut):
            budget *= 1.0 - shock.share * prof
        elif isinstance(shock, NeedsSurge):
            g = [GROUPS.index(x) for x in shock.groups]
            s = [SECTORS.index(x) for x in shock.sectors]
            mult = np.ones((steps, len(GROUPS), len(SECTORS)))
            mult[:, np.ix_(g, s)[0], np.ix_(g, s)[1]] = 1.0 + shock.rise * prof[:, None, None]
            needs *= mult
    return ShockPath(budget, needs)
