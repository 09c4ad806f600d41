"""The interactive page without a browser: controls generated from the parameter schema,
the live model equal to the command line's, and the page rendered by Solara in-process
(Step and Reset pressed on the real widgets)."""

from __future__ import annotations

import typing

import ipyvuetify as v
import pandas as pd
import pytest
import solara

from simulation import TerritoryModel, cli, load_scenario
from simulation import app as viz
from simulation.params import (
    AdministrativeRegime,
    CompetitiveRegime,
    CooperativeRegime,
    Scenario,
    StrategyParams,
    parameter_table,
)

from .conftest import SCENARIOS

SMOKE = SCENARIOS / "smoke.toml"


# --------------------------------------------------------------------------- controls from the schema
def test_every_numeric_control_respects_the_schema_bounds_and_starts_at_the_default():
    defaults = {row["path"]: row["default"] for row in parameter_table()}
    params = viz.model_params(None)
    assert {c.path for c in viz.NUMERIC_CONTROLS} <= set(params)
    for control in viz.NUMERIC_CONTROLS:
        slider = params[control.path]
        (field,) = viz.schema_fields(control.path)
        lo, lo_strict, hi, hi_strict = viz.schema_bounds(field)
        assert slider.value == defaults[control.path], control.path
        assert slider.min > lo if lo_strict else slider.min >= lo, control.path
        assert slider.max < hi if hi_strict else slider.max <= hi, control.path
        assert slider.min <= slider.value <= slider.max, control.path
        assert slider.is_float_slider == (field.annotation is float), control.path


def test_bounds_are_read_from_the_field_not_written_again():
    (field,) = viz.schema_fields("territory.organisations")
    assert viz.schema_bounds(field) == (3, False, 20_000, False)  # ge=3, le=20_000 in params.py
    (field,) = viz.schema_fields("territory.share_below_10_employees")
    assert viz.schema_bounds(field) == (0, True, 1, True)  # gt=0, lt=1
    strict = viz.slider_for(viz.NumericControl("territory.share_below_10_employees", "small"), Scenario())
    assert 0 < strict.min and strict.max < 1  # strict bounds are kept strict on the slider


def test_a_narrowed_range_never_clips_the_scenario_files_value(tmp_path):
    big = tmp_path / "big.toml"
    big.write_text("[territory]\norganisations = 5000\n")
    slider = viz.model_params(big)["territory.organisations"]
    assert slider.value == 5000 and slider.max == 5000  # ui_max (1000) widened to the file's value
    with pytest.raises(ValueError, match="above the schema bound"):
        viz.slider_for(viz.NumericControl("territory.organisations", "x", ui_max=50_000), Scenario())


def test_selectors_list_the_schemas_literal_values_and_start_on_the_file():
    params = viz.model_params(SMOKE)
    regimes = [typing.get_args(m.model_fields["kind"].annotation)[0] for m in (AdministrativeRegime, CompetitiveRegime, CooperativeRegime)]
    assert params["regime.kind"]["values"] == regimes
    assert params["regime.kind"]["value"] == "cooperative"  # smoke.toml says so
    assert params["strategy.policy"]["values"] == list(typing.get_args(StrategyParams.model_fields["policy"].annotation))
    shock_kinds = [typing.get_args(m.model_fields["kind"].annotation)[0] for m in viz._models_in(Scenario.model_fields["shocks"].annotation)]
    assert {"budget_cut", "needs_surge"} <= set(shock_kinds)
    assert params["shock"]["values"] == [viz.SHOCK_AS_SCENARIO, viz.SHOCK_NONE, *shock_kinds]
    assert params["seed"]["value"] == "7"
    assert params["steps"].value == 12 and params["territory.organisations"].value == 30


# --------------------------------------------------------------------------- the live model
def _initial_controls(params: dict) -> dict:
    return {k: (p.value if isinstance(p, viz.Slider) else p["value"] if isinstance(p, dict) else p) for k, p in params.items()}


def test_the_page_model_is_the_command_lines_model_bit_for_bit():
    live = viz.LiveTerritory(**_initial_controls(viz.model_params(SMOKE)))
    scenario = load_scenario(SMOKE)
    reference = TerritoryModel(scenario, rng=scenario.seed).run(scenario.steps)
    for _ in range(scenario.steps):
        live.step()
    assert live.control_error == ""
    pd.testing.assert_frame_equal(live.timeseries(), reference.timeseries(), check_exact=True)
    assert live.running is False  # stops at the horizon the shocks were drawn for


def test_controls_reach_the_scenario_as_dotted_overrides():
    controls = _initial_controls(viz.model_params(SMOKE)) | {
        "regime.kind": "competitive", "territory.organisations": 40, "seed": "11", "shock": "budget_cut",
    }
    live = viz.LiveTerritory(**controls)
    assert live.config.regime.kind == "competitive"
    assert live.config.regime == CompetitiveRegime()  # the other regime's keys are dropped
    assert live.config.territory.organisations == 40 and live.config.seed == 11
    assert [s.kind for s in live.config.shocks] == ["budget_cut"]
    assert viz.LiveTerritory(**(controls | {"shock": "none"})).config.shocks == []
    for kind in viz.model_params(SMOKE)["shock"]["values"][2:]:  # every shock kind is valid on its defaults
        shocked = viz.LiveTerritory(**(controls | {"shock": kind}))
        assert shocked.control_error == "" and [s.kind for s in shocked.config.shocks] == [kind]


def test_a_bad_control_value_is_reported_not_crashed_on():
    live = viz.LiveTerritory(**(_initial_controls(viz.model_params(SMOKE)) | {"seed": "twelve"}))
    assert "seed" in live.control_error and str(SMOKE) in live.control_error
    assert live.config == load_scenario(SMOKE)


# --------------------------------------------------------------------------- the page, rendered in-process
def test_page_renders_steps_and_resets_with_new_controls():
    page = viz.make_page(SMOKE)
    # Mesa puts its controls in the app's sidebar, which only an AppLayout renders.
    _box, rc = solara.render(solara.AppLayout(children=[page]), handle_error=False)
    rc.find(v.Html, children=["Time: 0.0"]).assert_single()
    step = rc.find(v.Btn, children=["Step"])
    for _ in range(3):
        step.widget.click()
    rc.find(v.Html, children=["Time: 3.0"]).assert_single()
    rc.find(v.Html, children=["Quarter 3 of 12"]).assert_single()

    regime = rc.find(v.Select, label="coordination regime")
    regime.assert_single()
    regime.widget.v_model = "administrative"
    rc.find(v.Btn, children=["Reset"]).widget.click()
    rc.find(v.Html, children=["Time: 0.0"]).assert_single()
    header = rc.find(v.Html, children=["smoke: administrative regime, strategy endogenous, seed 7, horizon 12 quarters"])
    header.assert_single()
    rc.close()


# --------------------------------------------------------------------------- ptce viz
def test_ptce_viz_without_the_extra_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setattr(cli, "VIZ_MODULES", (*cli.VIZ_MODULES, "ptce_sim_module_that_is_not_installed"))
    assert cli.main(["viz", str(SMOKE)]) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "pip install 'ptce-sim[viz]'" in err and "ptce_sim_module_that_is_not_installed" in err


def test_ptce_viz_rejects_a_bad_scenario_before_serving(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[territory]\norganisatons = 5\n")
    assert cli.main(["viz", str(bad)]) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err.strip()
    assert err == f"error: {bad}: territory.organisatons: unknown key (did you mean organisations?)"
