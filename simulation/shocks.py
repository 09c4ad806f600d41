"""Shock paths, drawn up front so that every regime and policy meets the same future.

A scenario's ``shocks`` list (``[[shocks]]`` tables picked by ``kind``) is turned into a
:class:`ShockPath` before the first quarter: arrays indexed by quarter that the model
reads where it computes needs, paying demand, the public budget, a local employer's
staff and providers' purchased-input costs.  Every random draw (a date or size given
as ``{min, max}``, which employer closes) comes from the run's ``shocks`` stream and
from nothing that depends on the regime or the strategy policy: the territory and the
initial agents it uses are built from the ``initialisation`` stream before any regime
or strategy code runs.  So the regimes and policies of one seed meet exactly the same
shock path (common random numbers; EMA Workbench's uncertainties drawn up front).

Each shock has an intensity profile (:func:`profile`): 0 before ``start``, 1 for
``duration`` quarters, then a linear return to 0 over ``recovery_quarters``.  Kinds:

- ``budget_cut``: B_t = prod (1 - share * profile_t), multiplier of the public budget;
- ``needs_surge``: N_t[g, s] = prod (1 + rise * profile_t) on the groups and sectors hit;
- ``employer_closure``: a local employer (``ConventionalFirm`` with sector -1) of a
  municipality m0 loses J = jobs_lost_share * staff FTE for good at ``start``.  Its
  laid-off workers live around the site: a share w_m = P_m exp(-d(m0, m) / c) / sum(...)
  in municipality m (P_m inhabitants, d road km, c = ``commute_km``; c = 0 puts them all
  in m0).  Jobseekers' needs in m rise by L_t[m, jobseekers] = 1 + (k J w_m / P_m^js)
  profile_t (k new jobseekers per FTE lost, P_m^js the jobseekers living in m) and paying
  demand in m falls by D_t[m] = 1 - min(1, e J w_m / P_m) profile_t (e the market-demand
  elasticity);
- ``supply_disruption``: outside suppliers' price multiplier
  m_t[s] = prod (1 + cost_rise * profile_t) on the sectors hit (used in
  :meth:`simulation.organisations.Provider.supply_surcharge_eur`).

Multipliers of several shocks multiply.  Beyond the horizon every multiplier is 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .params import (
    GROUPS,
    SECTORS,
    BudgetCut,
    DrawSpec,
    EmployerClosure,
    NeedsSurge,
    ScenarioError,
    Shock,
    SupplyDisruption,
    Uniform,
)

JOBSEEKERS = GROUPS.index("jobseekers")


@dataclass(frozen=True)
class Employer:
    """A local employer as the shock path sees it (from the initial agents)."""

    unique_id: int
    municipality: int
    staff_fte: float


@dataclass(frozen=True)
class ShockContext:
    """What the shock path needs of the territory: regime-independent initial state only."""

    population: np.ndarray  # (M,) inhabitants per municipality
    jobseekers: np.ndarray  # (M,) jobseekers per municipality
    distance_km: np.ndarray  # (M, M) road distance
    employers: tuple[Employer, ...]  # local employers, in creation order


@dataclass(frozen=True)
class Closure:
    """The realised draw of one employer closure."""

    employer_id: int
    municipality: int
    staff_before_fte: float
    jobs_lost_fte: float
    start: int


@dataclass(frozen=True)
class ShockPath:
    """The shocks of a run, quarter by quarter (quarter index t = step - 1).

    Arrays: ``budget_multiplier`` (T,); ``need_multiplier`` (T, G, S);
    ``local_need_multiplier`` (T, M, G); ``market_multiplier`` (T, M) of paying demand;
    ``supply_cost_multiplier`` (T, S) of outside suppliers' prices; ``employer_staff_fte``
    maps a closing employer's unique_id to its staff per quarter (T,).  ``realised`` gives
    each shock's values after the draws, ``closures`` which employer closed.
    """

    budget_multiplier: np.ndarray
    need_multiplier: np.ndarray
    local_need_multiplier: np.ndarray
    market_multiplier: np.ndarray
    supply_cost_multiplier: np.ndarray
    employer_staff_fte: dict[int, np.ndarray] = field(default_factory=dict)
    closures: tuple[Closure, ...] = ()
    realised: tuple[dict[str, Any], ...] = ()

    # ---------------------------------------------------------------- per quarter
    @property
    def steps(self) -> int:
        return len(self.budget_multiplier)

    def budget(self, step: int) -> float:
        """B_t, share of the base public budget available in quarter `step`."""
        return float(self.budget_multiplier[step]) if step < self.steps else 1.0

    def needs(self, step: int) -> np.ndarray:
        """Multiplier of trend needs (M, G, S) in quarter `step`: N_t[g, s] x L_t[m, g]."""
        if step < self.steps:
            return self.local_need_multiplier[step][:, :, None] * self.need_multiplier[step][None, :, :]
        m = self.local_need_multiplier.shape[1]
        return np.ones((m, len(GROUPS), len(SECTORS)))

    def market(self, step: int) -> np.ndarray:
        """Multiplier of paying demand per municipality (M,) in quarter `step`."""
        if step < self.steps:
            return self.market_multiplier[step]
        return np.ones(self.market_multiplier.shape[1])

    def supply_cost(self, step: int) -> np.ndarray:
        """Outside suppliers' price multiplier per sector (S,) in quarter `step`."""
        return self.supply_cost_multiplier[step] if step < self.steps else np.ones(len(SECTORS))

    def employer_staff(self, employer_id: int, step: int) -> float | None:
        """Staff FTE of a closing employer in quarter `step`, None if it is not closing."""
        staff = self.employer_staff_fte.get(employer_id)
        if staff is None:
            return None
        return float(staff[min(step, len(staff) - 1)])

    # ---------------------------------------------------------------- windows
    @property
    def windows(self) -> list[tuple[str, int, int]]:
        """(kind, first, last) quarter indices where each shock's intensity is > 0, clipped to
        the horizon; shocks starting after the horizon are left out.  For an employer
        closure this is the time its laid-off workers weigh on needs and demand (the jobs
        themselves are lost for good)."""
        out = []
        for r in self.realised:
            first = r["start"]
            last = min(first + r["duration"] + r["recovery_quarters"] - 1, self.steps - 1)
            if first < self.steps:
                out.append((r["kind"], first, last))
        return out

    @property
    def window(self) -> tuple[int, int] | None:
        """(first, last) quarter index where any shock is active, None if none is."""
        w = self.windows
        if not w:
            return None
        return (min(x[1] for x in w), max(x[2] for x in w))

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array of the path by name (to compare two paths)."""
        out = {
            "budget_multiplier": self.budget_multiplier,
            "need_multiplier": self.need_multiplier,
            "local_need_multiplier": self.local_need_multiplier,
            "market_multiplier": self.market_multiplier,
            "supply_cost_multiplier": self.supply_cost_multiplier,
        }
        for uid, staff in sorted(self.employer_staff_fte.items()):
            out[f"employer_staff_fte[{uid}]"] = staff
        return out


def profile(steps: int, start: int, duration: int, recovery: int) -> np.ndarray:
    """Intensity of a shock by quarter, in [0, 1]: 0 before `start`, 1 for `duration`
    quarters, then a linear return to 0 over `recovery` quarters (1 - k / (R + 1) in the
    k-th recovery quarter, k = 1..R)."""
    t = np.arange(steps)
    out = np.zeros(steps)
    full = (t >= start) & (t < start + duration)
    out[full] = 1.0
    if recovery > 0:
        rec = (t >= start + duration) & (t < start + duration + recovery)
        out[rec] = 1.0 - (t[rec] - (start + duration) + 1) / (recovery + 1)
    return out


def draw_value(value: Any, u: float, integer: bool) -> float | int:
    """A fixed value as is; a :class:`~simulation.params.Uniform` {min, max} at the uniform
    draw u in [0, 1): min + u (max - min), or for whole numbers min + floor(u (max - min + 1))
    (each whole number in [min, max] equally likely)."""
    if isinstance(value, Uniform):
        if integer:
            lo, hi = int(value.min), int(value.max)
            return min(lo + math.floor(u * (hi - lo + 1)), hi)
        return value.min + u * (value.max - value.min)
    return value


def realise(shock: Shock, rng: np.random.Generator | None) -> dict[str, Any]:
    """The shock's fields with every drawable field resolved.

    One uniform is drawn per drawable field, in declaration order, whether the field is
    fixed or drawn, so that making one field drawn does not move the draws of the others.
    """
    out: dict[str, Any] = {}
    for name, info in type(shock).model_fields.items():
        value = getattr(shock, name)
        spec = next((m for m in info.metadata if isinstance(m, DrawSpec)), None)
        if spec is None:
            out[name] = list(value) if isinstance(value, list) else value
            continue
        if rng is None:
            if isinstance(value, Uniform):
                raise ValueError(f"{shock.kind}.{name} is drawn but no shock stream was given")
            out[name] = value
            continue
        out[name] = draw_value(value, float(rng.random()), spec.integer)
    return out


def shock_path(
    shocks: Sequence[Shock], steps: int, rng: np.random.Generator | None = None,
    context: ShockContext | None = None,
) -> ShockPath:
    """Compose the shocks of a scenario into one path (multipliers multiply).

    `rng` is the run's shock stream: each shock gets its own child stream
    (``Generator.spawn``), so adding a shock to a scenario does not move the draws of the
    others.  `context` gives the territory's population and the local employers (needed
    by ``employer_closure``; without it the path has a single municipality).
    """
    m_count = len(context.population) if context is not None else 1
    g_count, s_count = len(GROUPS), len(SECTORS)
    budget = np.ones(steps)
    needs = np.ones((steps, g_count, s_count))
    local = np.ones((steps, m_count, g_count))
    market = np.ones((steps, m_count))
    supply = np.ones((steps, s_count))
    staff: dict[int, np.ndarray] = {}
    closures: list[Closure] = []
    realised: list[dict[str, Any]] = []
    children = rng.spawn(len(shocks)) if rng is not None else [None] * len(shocks)
    for i, (shock, child) in enumerate(zip(shocks, children, strict=True)):
        r = realise(shock, child)
        realised.append(r)
        prof = profile(steps, r["start"], r["duration"], r["recovery_quarters"])
        if isinstance(shock, BudgetCut):
            budget *= 1.0 - r["share"] * prof
        elif isinstance(shock, NeedsSurge):
            g = [GROUPS.index(x) for x in shock.groups]
            s = [SECTORS.index(x) for x in shock.sectors]
            hit = np.zeros((g_count, s_count), dtype=bool)
            hit[np.ix_(g, s)] = True
            needs *= np.where(hit[None, :, :], 1.0 + r["rise"] * prof[:, None, None], 1.0)
        elif isinstance(shock, SupplyDisruption):
            s = [SECTORS.index(x) for x in shock.sectors]
            supply[:, s] *= 1.0 + r["cost_rise"] * prof[:, None]
        elif isinstance(shock, EmployerClosure):
            if context is None:
                raise ValueError("employer_closure needs the territory (a ShockContext)")
            closure = _close_employer(shock, r, i, child, context, staff, steps)
            closures.append(closure)
            r["employer_id"], r["municipality"] = closure.employer_id, closure.municipality
            r["jobs_lost_fte"] = closure.jobs_lost_fte
            laid_off = closure.jobs_lost_fte * laid_off_residence(context, closure.municipality, shock.commute_km)
            pop, js = context.population, context.jobseekers
            rise = np.divide(r["jobseekers_per_job_lost"] * laid_off, js, out=np.zeros(m_count), where=js > 0)
            drop = np.minimum(1.0, np.divide(r["market_demand_elasticity"] * laid_off, pop, out=np.zeros(m_count), where=pop > 0))
            local[:, :, JOBSEEKERS] *= 1.0 + rise[None, :] * prof[:, None]
            market *= 1.0 - drop[None, :] * prof[:, None]
            r["jobseekers_rise"], r["market_demand_drop"] = rise.tolist(), drop.tolist()
    return ShockPath(budget, needs, local, market, supply, staff, tuple(closures), tuple(realised))


def laid_off_residence(context: ShockContext, site: int, commute_km: float) -> np.ndarray:
    """Share of a closed site's laid-off workers living in each municipality (M,), summing to
    1: w_m = P_m exp(-d(site, m) / c) / sum_m' P_m' exp(-d(site, m') / c), a gravity
    commuting field around the site (c = commute_km); all in the site's municipality if
    c = 0 or nobody lives around it."""
    w = np.zeros(len(context.population))
    if commute_km > 0:
        # A tiny c overflows d / c to inf for d > 0, whose exp(-inf) = 0 is the right limit
        # (no one commutes from elsewhere): no RuntimeWarning for the user.
        with np.errstate(over="ignore"):
            w = context.population * np.exp(-context.distance_km[site] / commute_km)
    if w.sum() <= 0:
        w = np.zeros(len(context.population))
        w[site] = 1.0
    return w / w.sum()


def _close_employer(
    shock: EmployerClosure, r: dict[str, Any], index: int, rng: np.random.Generator | None,
    context: ShockContext, staff: dict[int, np.ndarray], steps: int,
) -> Closure:
    """Pick the closing employer (largest, or drawn in proportion to staff) among the local
    employers with staff of the municipality (any if unset) not closed by an earlier shock,
    and record its staff path: its staff before, then (1 - jobs_lost_share) of it from
    `start` on."""
    closed = set(staff)
    candidates = [
        e for e in context.employers
        if e.staff_fte > 0 and e.unique_id not in closed
        and (shock.municipality is None or e.municipality == shock.municipality)
    ]
    u = float(rng.random()) if rng is not None else 0.0  # always drawn: the stream's use does not depend on the selection rule
    if not candidates:
        where = f"municipality {shock.municipality}" if shock.municipality is not None else "the territory"
        raise ScenarioError(
            f"shocks[{index}] (employer_closure): no local employer with staff left to close in {where}; "
            "set another municipality, or raise territory.local_employers"
        )
    if shock.selection == "largest":
        chosen = max(candidates, key=lambda e: (e.staff_fte, -e.unique_id))
    else:
        w = np.cumsum([e.staff_fte for e in candidates])
        chosen = candidates[min(int(np.searchsorted(w, u * w[-1], side="right")), len(candidates) - 1)]
    lost = r["jobs_lost_share"] * chosen.staff_fte
    path = np.full(steps, chosen.staff_fte)
    path[r["start"]:] = chosen.staff_fte - lost
    staff[chosen.unique_id] = path
    return Closure(chosen.unique_id, chosen.municipality, chosen.staff_fte, lost, r["start"])


def context_from_model(model: Any) -> ShockContext:
    """The shock context of a model right after its agents are created: population and
    jobseekers per municipality (territory, demand.group_shares) and the local employers
    (``ConventionalFirm`` with sector -1), all from the initialisation stream."""
    share = model.config.demand.group_shares["jobseekers"]
    employers = tuple(
        Employer(int(f.unique_id), int(f.municipality), float(f.staff_fte))
        for f in sorted(model.firms(), key=lambda f: f.unique_id) if f.sector == -1
    )
    pop = np.asarray(model.territory.population, dtype=float)
    return ShockContext(pop, pop * share, np.asarray(model.territory.distance_km, dtype=float), employers)
