"""Shared fixtures: scenario paths and small, fast scenarios."""

from pathlib import Path

import pytest

from simulation import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
REGIMES = ("administrative", "competitive", "cooperative")


@pytest.fixture
def smoke_path() -> Path:
    return SCENARIOS / "smoke.toml"


def smoke(regime: str = "cooperative", **overrides):
    """The smoke scenario under a regime, with dotted overrides."""
    return load_scenario(SCENARIOS / "smoke.toml", {"regime.kind": regime, **overrides})
