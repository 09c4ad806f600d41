"""Resilience of the territory's ESS to a shock, measured against its counterfactual twin.

The twin of a shocked run is the same scenario without shocks, run with the same seed
(:func:`twin_scenario`): the two runs are identical, bit for bit, up to the first shocked
quarter, and the shock path is drawn from its own stream, so the twin is the expected
path of the shocked run had the shock not happened (the "counterfactual" of Martin,
Sunley, Gardiner & Tyler 2016, here simulated rather than inferred from national
growth).  All measures take two aligned series, ``shocked`` S_t and ``twin`` T_t
(quarter index t = 0, 1, ..., n - 1; a time series' ``step`` is t + 1), and ``start``
t_s, the first quarter of the shock window.  References (shared/FACTS.md):

- Martin, R., Sunley, P., Gardiner, B. & Tyler, P. (2016), How regions react to
  recessions: resilience and the role of economic structure, Regional Studies 50(4).
- Bruneau, M. et al. (2003), A framework to quantitatively assess and enhance the seismic
  resilience of communities, Earthquake Spectra 19(4).
- Cimellaro, G. P., Reinhorn, A. M. & Bruneau, M. (2010), Framework for analytical
  quantification of disaster resilience, Engineering Structures 32(11).
- Zobel, C. W. (2011), Representing perceived tradeoffs in defining disaster resilience,
  Decision Support Systems 50(2).
- Kaplan, E. L. & Meier, P. (1958), Nonparametric estimation from incomplete
  observations, Journal of the American Statistical Association 53(282).

Every measure is computed over the quarters from t_s to the end of the horizon.
Nothing here runs the model; :func:`run_with_twin` and :func:`resilience_report` are the
glue the ``ptce run`` command uses.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .params import Scenario

if TYPE_CHECKING:
    from .model import TerritoryModel

RESILIENCE_SERIES: tuple[str, ...] = ("ess_employment_fte", "personalisation", "services_delivered_hours")
"""Series whose resilience is measured: employment, personalisation, volume of services."""

MEASURES: tuple[str, ...] = (
    "resistance", "recoverability", "resilience_loss", "triangle_area", "triangle_area_normalised",
    "zobel_index", "recovery_quarters",
)
"""Measures per series, in the order of :func:`outcome_measures`' keys (then ``recovered``)."""

RECOVERY_TOLERANCE = 0.02
"""A series counts as recovered when it is within 2 % of its twin (assumption: about the
quarter-to-quarter noise of a territory's series after the shock has passed)."""


# --------------------------------------------------------------------------- the twin
def twin_scenario(scenario: Scenario) -> Scenario:
    """The counterfactual of a scenario: the same scenario with ``shocks = []``.

    Run it with the same seed as the shocked run.  The shock stream is a separate child
    of the seed, so removing the shocks changes nothing else."""
    return Scenario.model_validate(scenario.model_dump() | {"shocks": []})


# --------------------------------------------------------------------------- helpers
def _aligned(shocked: Sequence[float], twin: Sequence[float], start: int) -> tuple[np.ndarray, np.ndarray, int]:
    s = np.asarray(shocked, dtype=float)
    t = np.asarray(twin, dtype=float)
    if s.shape != t.shape or s.ndim != 1:
        raise ValueError(f"shocked and twin series must be 1-d and of the same length, got {s.shape} and {t.shape}")
    if not 0 <= start < len(s):
        raise ValueError(f"start {start} outside the series (0..{len(s) - 1})")
    return s, t, int(start)


def _martin_ratio(change_shocked: float, change_expected: float) -> float:
    """(dS - dT) / |dT|; 0 when dS = dT (even if dT = 0), NaN when dT = 0 but dS != dT
    (the twin did not move, so the ratio is undefined)."""
    diff = change_shocked - change_expected
    if diff == 0:
        return 0.0
    if change_expected == 0:
        return math.nan
    return diff / abs(change_expected)


def impact_quarter(shocked: Sequence[float], twin: Sequence[float], start: int) -> int:
    """t_c, the quarter of largest deviation from the twin, argmax_{t >= t_s} |S_t - T_t|
    (the first if several; t_s if the series never deviates): the end of the
    contraction and the start of the recovery in :func:`resistance` and
    :func:`recoverability` (the trough, for a series the shock lowers)."""
    s, t, start = _aligned(shocked, twin, start)
    gap = np.abs(s[start:] - t[start:])
    return start + int(np.argmax(gap)) if gap.max() > 0 else start


def functionality(shocked: Sequence[float], twin: Sequence[float]) -> np.ndarray:
    """Q_t = 100 S_t / T_t, the shocked series in % of its twin (100 when both are 0, NaN when
    only the twin is 0): Bruneau et al.'s (2003) functionality, with the twin as the
    reference level instead of the pre-shock level, so that trends do not count as losses."""
    s = np.asarray(shocked, dtype=float)
    t = np.asarray(twin, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = 100.0 * (s / t)  # s / t first: exactly 100 when S = T
    q[(s == 0) & (t == 0)] = 100.0
    q[(t == 0) & (s != 0)] = np.nan
    return q


# --------------------------------------------------------------------------- Martin et al. 2016
def resistance(shocked: Sequence[float], twin: Sequence[float], start: int) -> float:
    """Resistance (Martin, Sunley, Gardiner & Tyler 2016), expected path = the twin:

        resistance = (dS - dT) / |dT|,  dS = S_{t_c} - S_{t_0},  dT = T_{t_c} - T_{t_0}

    over the contraction from t_0 = t_s - 1 (the last quarter before the shock; t_0 = 0
    when the shock starts in the first quarter) to the impact quarter t_c
    (:func:`impact_quarter`).  0: the series moved as its twin did; < 0: it fell more (or
    rose less) than expected; > 0: less.  0 exactly when S = T; NaN when the twin did not
    move (dT = 0) but the series did, the ratio being undefined.  Dimensionless.
    """
    s, t, start = _aligned(shocked, twin, start)
    t0 = max(start - 1, 0)
    tc = impact_quarter(s, t, start)
    return _martin_ratio(s[tc] - s[t0], t[tc] - t[t0])


def recoverability(shocked: Sequence[float], twin: Sequence[float], start: int) -> float:
    """Recoverability (Martin, Sunley, Gardiner & Tyler 2016), expected path = the twin:

        recoverability = (dS - dT) / |dT|,  dS = S_{t_e} - S_{t_c},  dT = T_{t_e} - T_{t_c}

    over the recovery from the impact quarter t_c to the last quarter t_e of the horizon.
    > 0: the series regained more than its twin moved (it caught up); 0 exactly when S = T
    over the recovery; NaN when the twin did not move but the series did, and NaN when there
    is no recovery period: the largest gap is in the last quarter (t_c = t_e, S != T there),
    the series still falling away from its twin.  Dimensionless.
    """
    s, t, start = _aligned(shocked, twin, start)
    tc, te = impact_quarter(s, t, start), len(s) - 1
    if tc == te and s[te] != t[te]:
        return math.nan
    return _martin_ratio(s[te] - s[tc], t[te] - t[tc])


# --------------------------------------------------------------------------- Bruneau et al. 2003
def resilience_loss(shocked: Sequence[float], twin: Sequence[float], start: int) -> float:
    """Cumulative loss in the series' own units x quarters (e.g. FTE-quarters of
    employment): sum over t = t_s..t_e of (T_t - S_t) x 1 quarter.  The loss of resilience
    of Bruneau et al. (2003) in absolute terms; negative when the shocked run did better
    than its twin.  0 exactly when S = T."""
    s, t, start = _aligned(shocked, twin, start)
    return float(np.sum(t[start:] - s[start:]))


def triangle_area(shocked: Sequence[float], twin: Sequence[float], start: int) -> float:
    """Area of the resilience triangle (Bruneau et al. 2003), % x quarters:

        LOR = integral (100 - Q(t)) dt  ~  sum over t = t_s..t_e of (100 - Q_t) x 1 quarter

    Q_t the functionality (:func:`functionality`, % of the twin).  Each quarter is a
    period of the quarterly series, so the integral is the sum of the quarters' losses; for
    a V-shaped dip of depth d % lasting D quarters it is d D / 2.  Negative when the
    shocked run did better than its twin; 0 exactly when S = T."""
    s, t, start = _aligned(shocked, twin, start)
    return float(np.sum(100.0 - functionality(s[start:], t[start:])))


def triangle_area_normalised(shocked: Sequence[float], twin: Sequence[float], start: int) -> float:
    """Normalised resilience (Cimellaro, Reinhorn & Bruneau 2010), share:

        R = (1 / T_LC) integral Q(t) / 100 dt = 1 - LOR / (100 T_LC)

    over the control period T_LC = t_e - t_s + 1 quarters (shock onset to the end of the
    horizon).  1: no loss; 1 exactly when S = T; > 1 when the shocked run did better."""
    s, t, start = _aligned(shocked, twin, start)
    horizon = len(s) - start
    return 1.0 - triangle_area(s, t, start) / (100.0 * horizon)


# --------------------------------------------------------------------------- recovery time, Zobel 2011
def recovery_quarters(shocked: Sequence[float], twin: Sequence[float], start: int,
                      tolerance: float = RECOVERY_TOLERANCE) -> float:
    """Quarters from the shock's first quarter t_s until the series is back within
    `tolerance` of its twin and stays there to the end of the horizon:

        t_r = min { t >= t_s : |S_u - T_u| <= tolerance |T_u| for every u in [t, t_e] },
        recovery = t_r - t_s  (0 if the series never left the band)

    NaN when the series is outside the band in the last quarter: not recovered within
    the horizon, which is not a number of quarters (see :func:`recovered`)."""
    s, t, start = _aligned(shocked, twin, start)
    inside = np.abs(s[start:] - t[start:]) <= tolerance * np.abs(t[start:])
    if not inside[-1]:
        return math.nan
    outside = np.nonzero(~inside)[0]
    return float(outside[-1] + 1) if len(outside) else 0.0


def recovered(shocked: Sequence[float], twin: Sequence[float], start: int, tolerance: float = RECOVERY_TOLERANCE) -> bool:
    """True when the series is back within `tolerance` of its twin by the end of the horizon."""
    return not math.isnan(recovery_quarters(shocked, twin, start, tolerance))


def zobel_index(shocked: Sequence[float], twin: Sequence[float], start: int,
                tolerance: float = RECOVERY_TOLERANCE) -> float:
    """Predicted resilience of Zobel (2011), share:

        R = 1 - X T / (2 T*)

    X the initial loss, here the largest loss of functionality after onset,
    max(0, max_t (1 - S_t / T_t)) (share); T the recovery time (:func:`recovery_quarters`);
    T* = t_e - t_s + 1 the horizon after onset (quarters).  Zobel bounds T by T*: a series
    not recovered within the horizon gets T = T*, the least resilient value for its loss.
    1 when there is no loss."""
    s, t, start = _aligned(shocked, twin, start)
    horizon = len(s) - start
    q = functionality(s[start:], t[start:]) / 100.0
    loss = float(np.nanmax(1.0 - q)) if np.isfinite(q).any() else math.nan
    x = max(0.0, loss)
    if x == 0.0:
        return 1.0
    rec = recovery_quarters(s, t, start, tolerance)
    duration = horizon if math.isnan(rec) else min(rec, horizon)
    return 1.0 - x * duration / (2.0 * horizon)


# --------------------------------------------------------------------------- all measures
def series_measures(shocked: Sequence[float], twin: Sequence[float], start: int,
                    tolerance: float = RECOVERY_TOLERANCE) -> dict[str, float]:
    """Every measure of one series, by name (MEASURES, then ``recovered`` as 1.0 / 0.0)."""
    rec = recovery_quarters(shocked, twin, start, tolerance)
    return {
        "resistance": resistance(shocked, twin, start),
        "recoverability": recoverability(shocked, twin, start),
        "resilience_loss": resilience_loss(shocked, twin, start),
        "triangle_area": triangle_area(shocked, twin, start),
        "triangle_area_normalised": triangle_area_normalised(shocked, twin, start),
        "zobel_index": zobel_index(shocked, twin, start, tolerance),
        "recovery_quarters": rec,
        "recovered": 0.0 if math.isnan(rec) else 1.0,
    }


def outcome_measures(shocked_ts: pd.DataFrame, twin_ts: pd.DataFrame, window: tuple[int, int],
                     tolerance: float = RECOVERY_TOLERANCE) -> dict[str, float]:
    """The resilience measures of a shocked run against its twin, as one flat dict of floats:
    ``f"{series}__{measure}"`` for every series of RESILIENCE_SERIES and measure of
    MEASURES, plus ``f"{series}__recovered"`` (1.0 / 0.0).  `window` = (first, last)
    quarter index of the shock (``ShockPath.window``); the measures run from its first
    quarter to the end of the horizon.  Rows are matched on ``step`` (= quarter + 1)."""
    first = int(window[0])
    steps = shocked_ts["step"].to_numpy()
    if not np.array_equal(steps, twin_ts["step"].to_numpy()):
        raise ValueError("shocked and twin time series cover different steps")
    where = np.nonzero(steps == first + 1)[0]
    if len(where) == 0:
        raise ValueError(f"the shock window starts at quarter {first}, not in the time series (steps {steps[0]}..{steps[-1]})")
    start = int(where[0])
    out: dict[str, float] = {}
    for series in RESILIENCE_SERIES:
        for name, value in series_measures(shocked_ts[series].to_numpy(), twin_ts[series].to_numpy(), start, tolerance).items():
            out[f"{series}__{name}"] = float(value)
    return out


# --------------------------------------------------------------------------- survival
def kaplan_meier(durations: Sequence[float], observed: Sequence[bool], entry: Sequence[float] | None = None) -> pd.DataFrame:
    """Kaplan-Meier (1958) product-limit estimate of the survival function.

        S(t) = prod over event times t_i <= t of (1 - d_i / n_i)

    d_i the closures at t_i, n_i the organisations at risk just before t_i: entered
    before t_i (entry < t_i, left truncation for organisations that appear later) and
    neither closed nor censored before t_i (duration >= t_i).  `observed` False marks a
    censored duration (alive at the end of the horizon, or absorbed by a merger).
    Returns one row per event time: ``time``, ``at_risk``, ``events``, ``survival``.
    """
    d = np.asarray(durations, dtype=float)
    e = np.asarray(observed, dtype=bool)
    a = np.zeros_like(d) if entry is None else np.asarray(entry, dtype=float)
    if not (d.shape == e.shape == a.shape):
        raise ValueError("durations, observed and entry must have the same length")
    if np.any(d < a):
        raise ValueError("a duration is before its entry")
    rows = []
    surv = 1.0
    for ti in np.unique(d[e]):
        n = int(np.sum((a < ti) & (d >= ti)))
        k = int(np.sum((d == ti) & e))
        if n > 0:
            surv *= 1.0 - k / n
        rows.append({"time": float(ti), "at_risk": n, "events": k, "survival": surv})
    return pd.DataFrame(rows, columns=["time", "at_risk", "events", "survival"])


def survival_at(table: pd.DataFrame, time: float) -> float:
    """S(time) from a :func:`kaplan_meier` table (step function, 1 before the first event)."""
    before = table[table["time"] <= time]
    return float(before["survival"].iloc[-1]) if len(before) else 1.0


def organisation_lifetimes(model: TerritoryModel, origin_quarter: int = 0) -> pd.DataFrame:
    """ESS organisations at risk from quarter `origin_quarter` on, with their entry, duration
    and whether they closed, in quarters since the start of that quarter (step origin + 1):

    - at risk: alive at the start of the origin quarter or founded after it;
    - entry = max(0, founded_step - origin), duration = (closed_step or the last step) - origin;
    - observed = closed for good; an organisation absorbed in a merger (``model.merger_log``)
      or alive at the end is censored.

    Uses ``model.closed`` (every provider removed, with its step) and the live organisations.
    """
    absorbed = {int(m["absorbed"]) for m in getattr(model, "merger_log", [])}
    end = model.steps
    rows = []
    for c in model.closed:
        if c["ess"] and c["closed_step"] > origin_quarter:
            rows.append((c["id"], c["founded_step"], c["closed_step"], c["id"] not in absorbed))
    for o in model.organisations():
        rows.append((o.unique_id, o.founded_step, end, False))
    df = pd.DataFrame(rows, columns=["id", "founded_step", "last_step", "observed"])
    df["entry"] = np.maximum(df["founded_step"] - origin_quarter, 0).astype(float)
    df["duration"] = (df["last_step"] - origin_quarter).astype(float)
    return df[df["duration"] > df["entry"]].reset_index(drop=True)


def survival_measures(shocked: TerritoryModel, twin: TerritoryModel, window: tuple[int, int]) -> dict[str, Any]:
    """Kaplan-Meier survival of ESS organisations from the shock's first quarter, shocked
    run and twin: S at the end of the shock window and at the end of the horizon."""
    first, last = window
    out: dict[str, Any] = {"from_quarter": first}
    for name, model in (("shocked", shocked), ("twin", twin)):
        life = organisation_lifetimes(model, first)
        km = kaplan_meier(life["duration"], life["observed"], life["entry"])
        out[name] = {
            "at_risk_at_onset": int((life["entry"] == 0).sum()),
            "closures": int(life["observed"].sum()),
            "survival_end_of_window": survival_at(km, last - first + 1),
            "survival_end_of_horizon": survival_at(km, model.steps - first),
        }
    return out


# --------------------------------------------------------------------------- a run and its twin
def run_with_twin(scenario: Scenario, seed: int | np.random.SeedSequence | None = None,
                  steps: int | None = None) -> tuple[TerritoryModel, TerritoryModel]:
    """Run a scenario and its twin (no shocks) with the same seed; returns (shocked, twin)."""
    from .model import TerritoryModel

    seed = scenario.seed if seed is None else seed
    shocked = TerritoryModel(scenario, rng=seed).run(steps)
    twin = TerritoryModel(twin_scenario(scenario), rng=seed).run(steps)
    return shocked, twin


def resilience_report(shocked: TerritoryModel, twin: TerritoryModel, tolerance: float = RECOVERY_TOLERANCE) -> dict[str, Any]:
    """What ``ptce run`` writes to ``resilience.json``: the shocks as drawn, the window, and
    the measures of each series (NaN written as null), plus Kaplan-Meier survival."""
    path = shocked.shocks
    window = path.window
    report: dict[str, Any] = {
        "scenario": shocked.config.name,
        "regime": shocked.config.regime.kind,
        "policy": shocked.config.strategy.policy,
        "seed": str(shocked.seed) if not isinstance(shocked.seed, int) else shocked.seed,
        "quarters": shocked.steps,
        "shocks": [_jsonable(r) for r in path.realised],
        "window": list(window) if window is not None else None,
        "windows": [list(w) for w in path.windows],
        "tolerance": tolerance,
        "measures": None,
        "survival": None,
    }
    if window is None:
        report["note"] = "no shock falls within the quarters simulated"
        return report
    flat = outcome_measures(shocked.timeseries(), twin.timeseries(), window, tolerance)
    report["measures"] = {
        series: {m: _jsonable(flat[f"{series}__{m}"]) for m in (*MEASURES, "recovered")}
        for series in RESILIENCE_SERIES
    }
    report["survival"] = survival_measures(shocked, twin, window)
    return report


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_report(report: dict[str, Any], path: Path) -> None:
    """Write the report as JSON under a temporary name, then rename (never half-written)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def format_report(report: dict[str, Any]) -> str:
    """The measures as an aligned text table, one row per series (for the terminal)."""
    if report["measures"] is None:
        return f"resilience: {report.get('note', 'no measures')}"
    lines = [f"resilience against the no-shock twin (same seed), shock window quarters {report['window'][0]}-{report['window'][1]}:"]
    header = ["series", *MEASURES]
    rows = [header]
    for series, m in report["measures"].items():
        cells = [series]
        for name in MEASURES:
            v = m[name]
            if name == "recovery_quarters":
                cells.append("not recovered" if v is None else f"{v:.0f}")
            else:
                cells.append("n/a" if v is None else f"{v:.4g}")
        rows.append(cells)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for r in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    surv = report["survival"]
    lines.append(
        "organisations alive at onset still alive at the end (Kaplan-Meier): "
        f"shocked {surv['shocked']['survival_end_of_horizon']:.3f}, twin {surv['twin']['survival_end_of_horizon']:.3f}"
    )
    return "\n".join(lines)
