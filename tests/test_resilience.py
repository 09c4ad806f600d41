"""Resilience measures on synthetic series with answers computed by hand, Kaplan-Meier by
hand, the counterfactual twin, and `ptce run` writing resilience.json."""

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from simulation import TerritoryModel, load_scenario
from simulation.metrics import METRICS
from simulation.params import BudgetCut, Scenario
from simulation.resilience import (
    MEASURES,
    RESILIENCE_SERIES,
    impact_quarter,
    kaplan_meier,
    organisation_lifetimes,
    outcome_measures,
    recoverability,
    recovered,
    recovery_quarters,
    resilience_loss,
    resilience_report,
    resistance,
    run_with_twin,
    survival_at,
    triangle_area,
    triangle_area_normalised,
    twin_scenario,
    zobel_index,
)

from .conftest import SCENARIOS, smoke

# --------------------------------------------------------------------------- a V-shaped dip
# Twin: a flat 200 for 20 quarters.  Shock from quarter 4: the series falls linearly by 5 %
# of the twin a quarter to 80 % in quarter 7, then climbs back linearly to 100 % in
# quarter 11.  Functionality Q (% of twin): 100 x 4, 95, 90, 85, 80, 85, 90, 95, 100 x 9.
START = 4
TWIN_V = np.full(20, 200.0)
Q_V = np.array([100] * 4 + [95, 90, 85, 80, 85, 90, 95] + [100] * 9, dtype=float)
SHOCKED_V = TWIN_V * Q_V / 100.0


def test_v_dip_triangle_area_is_depth_times_duration_over_two():
    # Losses 5+10+15+20+15+10+5 = 80 %-quarters = depth 20 % x base 8 quarters (3 -> 11) / 2.
    assert triangle_area(SHOCKED_V, TWIN_V, START) == pytest.approx(80.0, abs=1e-12)
    # In the series' own units: 2 x 80 = 160 unit-quarters (the twin is 200, so 1 % = 2).
    assert resilience_loss(SHOCKED_V, TWIN_V, START) == pytest.approx(160.0, abs=1e-12)
    # Cimellaro: 1 - 80 / (100 x 16), control period quarters 4..19 = 16 quarters.
    assert triangle_area_normalised(SHOCKED_V, TWIN_V, START) == pytest.approx(0.95, abs=1e-12)


def test_v_dip_recovery_time_and_zobel_index():
    # Outside the 2 % band in quarters 4..10, back in it from quarter 11 for good: 11 - 4 = 7.
    assert recovery_quarters(SHOCKED_V, TWIN_V, START) == 7.0
    assert recovered(SHOCKED_V, TWIN_V, START)
    # A 6 % band: 95 % and 95 % are inside, so the series is back from quarter 10: 6 quarters.
    assert recovery_quarters(SHOCKED_V, TWIN_V, START, tolerance=0.06) == 6.0
    # Zobel: X = 0.20, T = 7, T* = 16: R = 1 - 0.2 x 7 / 32 = 0.95625.
    assert zobel_index(SHOCKED_V, TWIN_V, START) == pytest.approx(0.95625, abs=1e-12)


def test_martin_resistance_and_recoverability_by_hand():
    # Twin grows by 1 a quarter: T_t = 100 + t.  The shocked series dips below it by
    # 0, 5, 10, 15, 20, 15, 10, 5, 0 over quarters 3..11.
    t = np.arange(20, dtype=float)
    twin = 100.0 + t
    dip = np.zeros(20)
    dip[4:11] = [5, 10, 15, 20, 15, 10, 5]
    shocked = twin - dip
    assert impact_quarter(shocked, twin, START) == 7
    # Contraction 3 -> 7: dS = 87 - 103 = -16, dT = 107 - 103 = 4: (-16 - 4) / 4 = -5.
    assert resistance(shocked, twin, START) == pytest.approx(-5.0, abs=1e-12)
    # Recovery 7 -> 19: dS = 119 - 87 = 32, dT = 119 - 107 = 12: (32 - 12) / 12 = 5/3.
    assert recoverability(shocked, twin, START) == pytest.approx(5.0 / 3.0, abs=1e-12)


def test_identical_series_give_zero_exactly():
    rng = np.random.default_rng(0)
    series = 100 + rng.normal(0, 5, size=30)
    assert resistance(series, series, 10) == 0.0
    assert recoverability(series, series, 10) == 0.0
    assert resilience_loss(series, series, 10) == 0.0
    assert triangle_area(series, series, 10) == 0.0
    assert triangle_area_normalised(series, series, 10) == 1.0
    assert zobel_index(series, series, 10) == 1.0
    assert recovery_quarters(series, series, 10) == 0.0
    # Also on a flat twin, where the Martin ratios' denominators are 0.
    flat = np.full(30, 7.0)
    assert resistance(flat, flat, 10) == 0.0 and recoverability(flat, flat, 10) == 0.0


def test_never_recovering_series_is_not_a_number_of_quarters():
    twin = np.full(20, 100.0)
    shocked = twin.copy()
    shocked[START:] = 90.0  # falls 10 % and stays there
    assert math.isnan(recovery_quarters(shocked, twin, START))
    assert not recovered(shocked, twin, START)
    # A gap still widening in the last quarter leaves no recovery period: recoverability NaN.
    widening = twin - np.concatenate([np.zeros(START), np.arange(1.0, 17.0)])
    assert math.isnan(recoverability(widening, twin, START))
    # The losses are still measured over the horizon: 10 % x 16 quarters.
    assert triangle_area(shocked, twin, START) == pytest.approx(160.0)
    # Zobel bounds the recovery time by T*: R = 1 - 0.1 x 16 / 32 = 0.95.
    assert zobel_index(shocked, twin, START) == pytest.approx(0.95)
    # Recovering only in the last quarter counts as recovered (1 quarter of evidence).
    late = shocked.copy()
    late[-1] = 100.0
    assert recovery_quarters(late, twin, START) == 15.0


def test_martin_ratio_undefined_when_the_twin_does_not_move():
    # A flat twin makes |dT| = 0: the ratio is undefined, reported as NaN, never as a number.
    assert math.isnan(resistance(SHOCKED_V, TWIN_V, START))


def test_a_shock_that_raises_the_series_gives_negative_losses():
    twin = np.full(10, 50.0)
    shocked = twin.copy()
    shocked[3:5] = 60.0  # +20 % for two quarters
    assert triangle_area(shocked, twin, 3) == pytest.approx(-40.0)
    assert zobel_index(shocked, twin, 3) == 1.0  # no loss, X = 0


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="same length"):
        resistance([1.0, 2.0], [1.0], 0)
    with pytest.raises(ValueError, match="outside the series"):
        triangle_area([1.0, 2.0], [1.0, 2.0], 5)


# --------------------------------------------------------------------------- outcome_measures
def _ts(values: dict[str, np.ndarray]) -> pd.DataFrame:
    n = len(next(iter(values.values())))
    return pd.DataFrame({"step": np.arange(1, n + 1), **values})


def test_outcome_measures_keys_floats_and_step_alignment():
    shocked = _ts({s: SHOCKED_V.copy() for s in RESILIENCE_SERIES})
    twin = _ts({s: TWIN_V.copy() for s in RESILIENCE_SERIES})
    out = outcome_measures(shocked, twin, (START, 10))
    expected = {f"{s}__{m}" for s in RESILIENCE_SERIES for m in (*MEASURES, "recovered")}
    assert set(out) == expected
    assert all(type(v) is float for v in out.values())
    assert out["ess_employment_fte__triangle_area"] == pytest.approx(80.0)
    assert out["personalisation__recovery_quarters"] == 7.0
    assert out["services_delivered_hours__recovered"] == 1.0
    # Rows are matched on `step`: a series that starts at step 3 shifts the window.
    late = outcome_measures(shocked.iloc[2:], twin.iloc[2:], (START, 10))
    assert late["ess_employment_fte__triangle_area"] == pytest.approx(80.0)
    with pytest.raises(ValueError, match="not in the time series"):
        outcome_measures(shocked, twin, (40, 45))


# --------------------------------------------------------------------------- Kaplan-Meier
def test_kaplan_meier_by_hand():
    # Durations 1, 2, 2+, 3, 4+ (+ censored).  t=1: 5 at risk, 1 event: S = 4/5 = 0.8.
    # t=2: 4 at risk, 1 event: S = 0.8 x 3/4 = 0.6.  t=3: 2 at risk, 1 event: S = 0.3.
    km = kaplan_meier([1, 2, 2, 3, 4], [True, True, False, True, False])
    assert km["time"].tolist() == [1.0, 2.0, 3.0]
    assert km["at_risk"].tolist() == [5, 4, 2]
    assert km["survival"].tolist() == pytest.approx([0.8, 0.6, 0.3])
    assert survival_at(km, 0.5) == 1.0 and survival_at(km, 2.5) == pytest.approx(0.6) and survival_at(km, 10) == pytest.approx(0.3)


def test_kaplan_meier_with_late_entry():
    # A (0 -> 2, closes), B (0 -> 4 censored), C enters at 2, closes at 3.
    # t=2: at risk A, B (C entered at 2, not before): S = 1/2.  t=3: B, C at risk, C closes: S = 1/4.
    km = kaplan_meier([2, 4, 3], [True, False, True], entry=[0, 0, 2])
    assert km["at_risk"].tolist() == [2, 2]
    assert km["survival"].tolist() == pytest.approx([0.5, 0.25])
    with pytest.raises(ValueError, match="before its entry"):
        kaplan_meier([1], [True], entry=[2])


def test_model_records_closures_for_survival():
    # A starved territory (no public money) loses organisations: each closure is recorded
    # with its step, and the lifetimes agree with the closures and the survivors.
    sc = smoke("administrative", **{"funding.public_budget_share_of_costs": 0.0, "steps": 16})
    model = TerritoryModel(sc, rng=4).run()
    ess_closed = [c for c in model.closed if c["ess"]]
    assert ess_closed, "expected some closures without public money"
    assert all(1 <= c["closed_step"] <= 16 and c["founded_step"] < c["closed_step"] for c in ess_closed)
    life = organisation_lifetimes(model, 0)
    # An organisation founded in the last quarter has no time at risk yet (duration = entry).
    exposed = [o for o in model.organisations() if o.founded_step < model.steps]
    assert len(life) == len(ess_closed) + len(exposed)
    absorbed = {m["absorbed"] for m in getattr(model, "merger_log", [])}
    assert int(life["observed"].sum()) == sum(c["id"] not in absorbed for c in ess_closed)
    km = kaplan_meier(life["duration"], life["observed"], life["entry"])
    assert 0 <= survival_at(km, 16) < 1


# --------------------------------------------------------------------------- the twin
def test_twin_is_the_scenario_without_shocks():
    sc = load_scenario(SCENARIOS / "compound.toml")
    twin = twin_scenario(sc)
    assert sc.shocks and twin.shocks == []
    assert twin.model_dump() == sc.model_dump() | {"shocks": []}


def test_shocked_run_equals_its_twin_until_the_shock():
    sc = smoke("competitive", steps=14)
    sc = Scenario.model_validate(sc.model_dump() | {"shocks": [BudgetCut(share=0.4, start=6).model_dump()]})
    shocked, twin = run_with_twin(sc, seed=5)
    a, b = shocked.timeseries(), twin.timeseries()
    pd.testing.assert_frame_equal(a.iloc[:6], b.iloc[:6], check_exact=True)
    assert not a.iloc[6:].equals(b.iloc[6:])
    report = resilience_report(shocked, twin)
    assert report["window"] == [6, 13]
    assert set(report["measures"]) == set(RESILIENCE_SERIES)
    json.dumps(report, allow_nan=False)  # strict JSON: NaN is written as null


# --------------------------------------------------------------------------- ptce run
def test_ptce_run_on_a_shocked_scenario_writes_and_prints_resilience(tmp_path):
    out = tmp_path / "run"
    res = subprocess.run(
        [sys.executable, "-m", "simulation", "run", str(SCENARIOS / "budget_cut.toml"), "--steps", "50",
         "--set", "territory.organisations=30", "--set", "territory.municipalities=3", "--out", str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert "resilience against the no-shock twin" in res.stdout
    for series in RESILIENCE_SERIES:
        assert series in res.stdout
    report = json.loads((out / "resilience.json").read_text())
    first, last = report["window"]
    assert 36 <= first <= 44 and last == min(first + 11, 49)  # drawn start, 8 + 4 quarters, clipped to the horizon
    assert 0.15 <= report["shocks"][0]["share"] <= 0.25
    for series in RESILIENCE_SERIES:
        m = report["measures"][series]
        assert set(m) == {*MEASURES, "recovered"}
        assert (m["recovery_quarters"] is None) == (m["recovered"] == 0.0)
    twin = pd.read_parquet(out / "twin_timeseries.parquet")
    shocked = pd.read_parquet(out / "timeseries.parquet")
    assert list(twin.columns) == list(METRICS) and len(twin) == len(shocked) == 50
    pd.testing.assert_frame_equal(shocked.iloc[:first], twin.iloc[:first], check_exact=True)


def test_ptce_run_a_closure_with_no_employer_is_a_one_line_user_error(tmp_path):
    scenario = SCENARIOS / "employer_closure.toml"
    res = subprocess.run(
        [sys.executable, "-m", "simulation", "run", str(scenario), "--steps", "5", "--set", "territory.organisations=30",
         "--set", "territory.local_employers=0", "--out", str(tmp_path / "x")],
        capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and str(scenario) in lines[0] and "shocks[0] (employer_closure)" in lines[0]
    assert not (tmp_path / "x" / "timeseries.parquet").exists()
