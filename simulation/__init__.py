"""PTCE-sim: agent-based simulation of territorial economies of the social and solidarity economy.

Public API: ``load_scenario``, ``TerritoryModel``, ``Scenario``, ``ScenarioError``.
"""

from importlib.metadata import PackageNotFoundError, version

from .model import TerritoryModel
from .params import Scenario, ScenarioError, load_scenario

try:
    __version__ = version("ptce-sim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["Scenario", "ScenarioError", "TerritoryModel", "__version__", "load_scenario"]
