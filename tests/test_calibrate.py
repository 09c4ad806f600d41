"""simulation.calibrate: the grids, the loss and the coordinate search, on functions with
known minima (the real calibration takes some 15 minutes and is rerun by hand)."""

import math

import pandas as pd
import pytest

from simulation.calibrate import CALIBRATED, Calibrated, calibrate, finer_grid, groups, loss, targeted
from simulation.validation import PATTERNS


def test_finer_grid_keeps_the_best_point_between_uneven_steps():
    # 0.07 sits between steps of 0.02 and 0.03: five even points from 0.05 to 0.1 miss it.
    grid = finer_grid((0.005, 0.0125, 0.02, 0.03, 0.04, 0.05, 0.07, 0.1), 0.07, 5)
    assert 0.07 in grid
    assert grid == tuple(sorted(grid)) and grid[0] == 0.05 and grid[-1] == 0.1
    assert finer_grid((1.0, 1.5, 2.0, 2.5, 3.0, 3.5), 2.5, 7) == (2.0, 2.17, 2.33, 2.5, 2.67, 2.83, 3.0)
    assert finer_grid((0.0, 0.5, 1.0), 0.0, 5) == (0.0, 0.125, 0.25, 0.375, 0.5)  # at the edge: one side only


def test_loss_hand_computed():
    table = pd.DataFrame({"mean": [0.5, 0.2], "target": [0.49, 0.24], "low": [0.44, 0.19], "high": [0.54, 0.29]})
    # (0.01 / 0.05)^2 + (0.04 / 0.05)^2
    assert loss(table) == pytest.approx(0.04 + 0.64)


def test_parameters_acting_on_the_same_patterns_are_searched_together():
    paths = [[c.path for c in g] for g in groups()]
    assert ["organisation.gifts_eur_per_volunteer_fte_quarter", "organisation.gift_pass_through"] in paths
    assert ["demand.size_attraction", "funding.entry_rate"] in paths
    assert sum(len(g) for g in paths) == len(CALIBRATED)
    stats = {p.statistic for p in targeted()}
    assert {"subsidy_share", "public_order_share", "earned_revenue_share"} <= stats
    assert all(p.arm in ("2005", "2017") for p in targeted())
    assert all(s in {p.statistic for p in PATTERNS} for c in CALIBRATED for s in c.patterns)


def bowl(optimum: dict[str, float], scale: dict[str, float]):
    """A loss with a known minimum, and the table calibrate echoes."""
    def evaluator(values: dict[str, float]) -> tuple[float, pd.DataFrame]:
        value = sum(((values[k] - optimum[k]) / scale[k]) ** 2 for k in optimum)
        return value, pd.DataFrame({"statistic": ["x"], "arm": ["2005"], "mean": [value]})
    return evaluator


def test_coordinate_search_finds_the_grid_minimum_and_never_ends_worse_than_it_saw():
    calibrated = (
        Calibrated("a", 0.0, (0.0, 1.0, 2.0, 3.0), ("x",)),
        Calibrated("b", 0.005, (0.005, 0.0125, 0.02, 0.03, 0.04, 0.05, 0.07, 0.1), ("x",), group="g"),
        Calibrated("c", 0.0, (0.0, 0.5, 1.0), ("x",), group="g"),
    )
    # The optimum of b is off the coarse grid and nearest to 0.07, whose fine grid (0.05 to
    # 0.1 in five even points) would not contain it without finer_grid's fix.
    evaluator = bowl({"a": 1.9, "b": 0.071, "c": 0.6}, {"a": 1.0, "b": 0.01, "c": 1.0})
    best, records = calibrate(calibrated=calibrated, evaluator=evaluator, echo=lambda line: None)
    final = evaluator(best)[0]
    assert final == pytest.approx(records["loss"].min())
    # Fine grids: a over 1 to 3 in thirds (2.0 nearest 1.9), c over 0 to 1 in quarters
    # (0.5 nearest 0.6), b over 0.05, 0.0625, 0.07, 0.075, 0.0875, 0.1.
    assert best == {"a": 2.0, "b": 0.07, "c": 0.5}
    assert math.isfinite(final)
    assert list(records.columns[:4]) == ["stage", "a", "b", "c"]
