"""Scenario loading: validation, overrides, one-line errors naming file and field."""

import pytest

from simulation import Scenario, ScenarioError, load_scenario
from simulation.params import CompetitiveRegime, parameter_table

from .conftest import SCENARIOS


def test_shipped_scenarios_load():
    base = load_scenario(SCENARIOS / "baseline.toml")
    assert base.steps == 100 and base.regime.kind == "administrative"
    assert load_scenario(SCENARIOS / "smoke.toml").territory.organisations == 30


def test_dotted_overrides_switch_regime_and_read_toml_values():
    sc = load_scenario(SCENARIOS / "baseline.toml", {"regime.kind": "competitive", "territory.organisations": "50", "steps": 8})
    assert isinstance(sc.regime, CompetitiveRegime)
    assert sc.territory.organisations == 50 and sc.steps == 8


def test_defaults_without_file():
    assert load_scenario() == Scenario()


def test_parameters_are_frozen():
    with pytest.raises(Exception, match="frozen"):
        Scenario().steps = 3


def test_every_parameter_has_unit_and_source():
    for row in parameter_table():
        assert row["unit"], row["path"]
        assert row["source"], row["path"]
    for cls in (CompetitiveRegime,):
        for row in parameter_table(cls, "regime."):
            assert row["unit"] and row["source"], row["path"]


def _error(tmp_path, text: str, overrides=None) -> str:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, overrides)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    return message


def test_unknown_key(tmp_path):
    assert "territory.organisatons: unknown key" in _error(tmp_path, "[territory]\norganisatons = 3\n")


def test_unknown_key_in_regime_names_the_field(tmp_path):
    assert "regime.grant_shar: unknown key" in _error(tmp_path, '[regime]\nkind = "competitive"\ngrant_shar = 0.3\n')


def test_wrong_type(tmp_path):
    assert "territory.organisations" in _error(tmp_path, '[territory]\norganisations = "many"\n')


def test_out_of_range(tmp_path):
    assert "funding.insertion_exit_to_job_rate" in _error(tmp_path, "[funding]\ninsertion_exit_to_job_rate = 1.5\n")


def test_unknown_regime(tmp_path):
    assert "regime" in _error(tmp_path, '[regime]\nkind = "market"\n')


def test_bad_override_value(tmp_path):
    assert "steps" in _error(tmp_path, "", {"steps": "-1"})


def test_not_toml(tmp_path):
    assert "not valid TOML" in _error(tmp_path, "steps = = 3\n")


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "nope.toml")
