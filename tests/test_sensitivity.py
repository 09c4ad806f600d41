"""Sensitivity analysis (simulation.sensitivity): our SALib wrappers on functions whose
indices are known, the parameter ranges against the schema, and the model through the
batch runner on a tiny territory."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from simulation import load_scenario
from simulation.params import Scenario
from simulation.sensitivity import (
    RANGE_OVERRIDES,
    Factor,
    morris_analysis,
    numeric_parameters,
    parameter_range,
    points_plan,
    problem,
    sensitivity,
    sobol_analysis,
    top_parameters,
)

from .conftest import SCENARIOS

pytest.importorskip("SALib")

ISHIGAMI = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}


def ishigami(X: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    """Ishigami & Homma (1990): f = sin x1 + a sin^2 x2 + b x3^4 sin x1, x_i ~ U(-pi, pi)."""
    return np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Analytic first-order and total Sobol indices of the Ishigami function (Sobol &
    Levitan 1999; Saltelli et al. 2008, Global Sensitivity Analysis: The Primer, 4.4)."""
    v1 = 0.5 * (1 + b * np.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * np.pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v


def test_sobol_wrapper_gives_the_published_ishigami_indices():
    s1, st = ishigami_indices()
    # the published values (a = 7, b = 0.1)
    np.testing.assert_allclose(s1, [0.3139, 0.4424, 0.0], atol=1e-4)
    np.testing.assert_allclose(st, [0.5576, 0.4424, 0.2437], atol=1e-4)
    table, X, Y = sobol_analysis(ISHIGAMI, ishigami, samples=2048, seed=1, outcomes=["f"])
    assert X.shape == (2048 * 5, 3) and Y.shape == (2048 * 5, 1)
    got = table.set_index("parameter")
    np.testing.assert_allclose(got.loc[["x1", "x2", "x3"], "S1"], s1, atol=0.03)
    np.testing.assert_allclose(got.loc[["x1", "x2", "x3"], "ST"], st, atol=0.03)
    assert (got["S1_conf"] > 0).all() and (got["ST_conf"] < 0.1).all()
    assert list(table["parameter"]) == ["x1", "x2", "x3"]  # ranked by ST: 0.558, 0.442, 0.244


def test_sobol_wrapper_rejects_a_sample_size_that_is_not_a_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        sobol_analysis(ISHIGAMI, ishigami, samples=100)


def test_morris_wrapper_on_a_linear_function_gives_the_exact_elementary_effects():
    # y = 3 x1 - 2 x2 + 0 x3 over [0, 2] x [10, 20] x [0, 1]: every elementary effect of x_i,
    # per full range of x_i, is a_i (high_i - low_i): 6, -20, 0; sigma = 0.
    prob = {"num_vars": 3, "names": ["a", "b", "c"], "bounds": [[0, 2], [10, 20], [0, 1]]}

    def linear(X):
        return np.column_stack([3 * X[:, 0] - 2 * X[:, 1], X[:, 0] ** 2])

    table, X, Y = morris_analysis(prob, linear, trajectories=6, levels=4, seed=3, outcomes=["lin", "sq"])
    assert X.shape == (6 * 4, 3)
    lin = table[table["outcome"] == "lin"].set_index("parameter")
    np.testing.assert_allclose(lin.loc[["a", "b", "c"], "mu"], [6.0, -20.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(lin.loc[["a", "b", "c"], "mu_star"], [6.0, 20.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(lin["sigma"], 0.0, atol=1e-9)
    assert lin.loc["b", "rank"] == 1 and lin.loc["b", "mu_star_normalised"] == 1.0
    sq = table[table["outcome"] == "sq"].set_index("parameter")
    assert sq.loc["a", "mu_star"] > 0 and sq.loc["b", "mu_star"] == 0  # x1^2 depends on a only
    assert top_parameters(table, 1) == ["a"] or top_parameters(table, 1) == ["b"]
    assert set(top_parameters(table, 2)) == {"a", "b"}


# --------------------------------------------------------------------------- parameters and ranges
def test_every_numeric_parameter_is_varied_within_its_schema_bounds():
    scenario = load_scenario(SCENARIOS / "baseline.toml")
    factors = numeric_parameters(scenario)
    paths = {f.path for f in factors}
    assert {"organisation.fixed_cost_exponent", "personalisation.weight_time", "strategy.weight_payoff",
            "cooperation.coordination_cost_per_rigidity", "cooperation.rigidity_half_size", "funding.public_budget_share_of_costs",
            "regime.grant_share", "demand.weight_price"} <= paths
    assert not paths & {"seed", "steps"} and not any(p.startswith(("shocks", "batch")) for p in paths)
    assert len(factors) >= 90
    for f in factors:
        assert f.low < f.high, f
        if f.path not in RANGE_OVERRIDES and f.value != 0:
            assert f.low >= f.value * 0.5 - 1e-9 and f.high <= f.value * 1.5 + 1e-9, f
    # The corners of the hypercube are valid scenarios (no constraint between fields broken).
    for corner in ("low", "high"):
        X = np.array([[getattr(f, corner) for f in factors]])
        plan = points_plan(scenario, factors, X, name="corner")
        assert isinstance(plan.points[0], Scenario)


def test_ranges_by_hand():
    assert parameter_range("x", 0.8, False, 0.0, 1.0 - 1e-6) == (0.4, 1.0 - 1e-6)  # cut at the schema's upper bound
    assert parameter_range("x", 4.0, True, 1.0, 100.0) == (2.0, 6.0)
    assert parameter_range("x", 3.0, True, 3.0, 100.0) == (3.0, 4.0)  # ceil(3) .. floor(4.5)
    assert parameter_range("x", 0.0, False, 0.0, 1.0) == (0.0, 0.5)
    assert parameter_range("x", 0.0, True, 0.0, 100.0) == (0.0, 2.0)
    assert parameter_range("x", 1.0, True, 1.0, 1.0) is None
    assert Factor("x", 4, 2, 6, True).at(3.4) == 3 and Factor("y", 0.5, 0, 1, False).at(0.25) == 0.25
    assert problem([Factor("x", 4, 2, 6, True)]) == {"num_vars": 1, "names": ["x"], "bounds": [[2, 6]]}


# --------------------------------------------------------------------------- the model through the runner
@pytest.fixture(scope="module")
def tiny_morris(tmp_path_factory):
    """Morris over every numeric parameter of a tiny territory (2 trajectories, 4 quarters),
    serial executor: every point of the design must be a valid scenario that runs."""
    out = tmp_path_factory.mktemp("sens") / "morris"
    scenario = load_scenario(SCENARIOS / "smoke.toml", {"steps": 4, "territory.organisations": 12, "territory.municipalities": 2})
    return sensitivity(scenario, method="morris", samples=2, out=out, executor="serial"), out, scenario


def test_morris_on_a_tiny_model_gives_finite_indices_for_each_parameter(tiny_morris):
    result, out, scenario = tiny_morris
    k = len(numeric_parameters(scenario))
    assert result.X.shape == (2 * (k + 1), k) and result.Y.shape == (2 * (k + 1), 2)
    for outcome in ("final_ess_employment_fte", "mean_personalisation"):
        t = result.table[result.table["outcome"] == outcome]
        assert len(t) == k and set(t["parameter"]) == {f.path for f in result.factors}
        assert np.isfinite(t[["mu", "mu_star", "sigma", "mu_star_conf"]].to_numpy()).all()
        assert (t["mu_star"] > 0).any()
    for name in ("morris.csv", "morris.png", "morris_factors.csv", "morris.json", "design.parquet", "manifest.json"):
        assert (out / name).is_file(), name
    assert pd.read_csv(out / "morris.csv").shape[0] == 2 * k


def test_morris_design_runs_through_the_batch_runner_and_resumes(tiny_morris):
    from simulation.results import load_results

    result, out, scenario = tiny_morris
    res = load_results(out)
    assert res.complete and len(res.design) == len(result.X)
    assert {"sample", "replicate", "regime.kind", *(f.path for f in result.factors)} <= set(res.design.columns)
    # the design carries the values each run used (whole numbers rounded)
    f = next(f for f in result.factors if f.path == "organisation.fixed_cost_exponent")
    j = result.factors.index(f)
    np.testing.assert_allclose(res.design.sort_values("sample")[f.path].to_numpy(), result.X[:, j])
    parts = json.loads((out / "manifest.json").read_text())["parts"]
    again = sensitivity(scenario, method="morris", samples=2, out=out, executor="serial", resume=True)
    assert json.loads((out / "manifest.json").read_text())["parts"] == parts  # nothing rerun
    pd.testing.assert_frame_equal(again.table, result.table)


def test_sobol_on_a_tiny_model_with_a_shock_has_the_resilience_outcome(tmp_path):
    scenario = load_scenario(SCENARIOS / "smoke.toml", {"steps": 6, "territory.organisations": 12, "territory.municipalities": 2})
    shocked = Scenario.model_validate(scenario.model_dump() | {"shocks": [{"kind": "budget_cut", "share": 0.3, "start": 2, "duration": 2}]})
    params = ["funding.public_budget_share_of_costs", "organisation.fixed_cost_exponent"]
    result = sensitivity(shocked, method="sobol", samples=4, parameters=params, out=tmp_path / "s", executor="serial")
    assert result.outcomes == ["final_ess_employment_fte", "mean_personalisation", "ess_employment_fte__triangle_area_normalised"]
    assert result.X.shape == (4 * 4, 2) and set(result.table["parameter"]) == set(params)
    assert result.settings["runs"] == 2 * 16  # each point and its no-shock twin
    assert np.isfinite(result.table[["S1", "ST"]].to_numpy()).all()


def ptce(*args):
    return subprocess.run([sys.executable, "-m", "simulation", *args], capture_output=True, text=True, timeout=600)


def test_ptce_sensitivity_command(tmp_path, capsys):
    from simulation.cli import main

    smoke = str(SCENARIOS / "smoke.toml")
    small = ["--set", "steps=3", "--set", "territory.organisations=10", "--set", "territory.municipalities=2"]
    # as a user runs it, in a subprocess
    res = ptce("sensitivity", smoke, "--method", "morris", "--samples", "2", "--executor", "serial", "--out", str(tmp_path / "m"),
               "--parameters", "organisation.fixed_cost_exponent", "demand.weight_personalisation", "strategy.weight_payoff", *small)
    assert res.returncode == 0, res.stderr
    assert "final_ess_employment_fte:" in res.stdout and "organisation.fixed_cost_exponent" in res.stdout
    assert (tmp_path / "m" / "morris.csv").is_file()
    # Sobol on the two most influential parameters of that Morris result (in this process, faster)
    assert main(["sensitivity", smoke, "--method", "sobol", "--samples", "2", "--executor", "serial", "--out", str(tmp_path / "s"),
                 "--from", str(tmp_path / "m"), "--top", "2", *small]) == 0
    assert pd.read_csv(tmp_path / "s" / "sobol.csv")["parameter"].nunique() == 2
    capsys.readouterr()
    for args, expected in (
        (["--method", "sobol", "--samples", "3"], "power of two"),
        (["--parameters", "organisation.no_such"], "organisation.no_such"),
        (["--outcomes", "final_nothing"], "final_nothing"),
        (["--outcomes", "ess_employment_fte__resistance"], "need a scenario with shocks"),
        (["--top", "3"], "--top and --from"),
        (["--method", "fast"], "--method"),
    ):
        assert main(["sensitivity", smoke, *args, "--out", str(tmp_path / "bad")]) == 2, args
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected in err[0], (args, err)
        assert not (tmp_path / "bad").exists()
