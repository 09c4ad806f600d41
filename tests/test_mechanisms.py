"""Hand-computed cases for each mechanism of simulation.mechanisms."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from simulation import mechanisms as mech


def test_capacity_hours_by_hand():
    # 350 h x (2 salaried + 0.7 x 1 insertion + 0.5 x 2 volunteers) = 350 x 3.7
    assert mech.capacity_hours(2, 1, 2, 350, 0.7, 0.5) == pytest.approx(1295.0)


def test_fixed_cost_and_unit_cost_by_hand():
    f = mech.fixed_cost(1000.0, 25.0, 0.8)
    assert f == pytest.approx(25.0 * 1000.0**0.8)
    assert f == pytest.approx(6279.716, rel=1e-6)
    # c = 9000 / 350 + F / Q
    assert mech.unit_cost(1000.0, 9000.0, 350.0, f) == pytest.approx(9000 / 350 + 6.279716, rel=1e-6)


def test_economies_of_scale_unit_cost_falls_with_size():
    qs = np.array([100.0, 1_000.0, 10_000.0, 100_000.0])
    costs = [mech.unit_cost(q, 9000, 350, mech.fixed_cost(q, 25, 0.8)) for q in qs]
    assert all(a > b for a, b in zip(costs, costs[1:], strict=False))
    # ...but fixed costs still grow with size, less than proportionally.
    fs = [mech.fixed_cost(q, 25, 0.8) for q in qs]
    assert all(b > a and b / a < 10 for a, b in zip(fs, fs[1:], strict=False))


def test_unit_cost_constant_returns_limit():
    # Closed-form limit: with beta = 1 there are no economies of scale, c = w / h + f0.
    for q in (10.0, 1000.0, 1e6):
        assert mech.unit_cost(q, 9000, 350, mech.fixed_cost(q, 25, 1.0)) == pytest.approx(9000 / 350 + 25)


def test_logit_shares_by_hand():
    assert_allclose(mech.logit_shares(np.array([0.0, math.log(2)]), 1.0), [1 / 3, 2 / 3])
    assert_allclose(mech.logit_shares(np.array([0.0, 1.0, 1.0]), 0.0), [0, 0.5, 0.5])
    masked = mech.logit_shares(np.array([5.0, 0.0]), 1.0, np.array([False, True]))
    assert_allclose(masked, [0.0, 1.0])
    assert_allclose(mech.logit_shares(np.array([[1.0, 2.0]]), 1.0, np.array([[False, False]])), [[0.0, 0.0]])


def test_logit_large_temperature_is_uniform():
    assert_allclose(mech.logit_shares(np.array([0.0, 1.0, 3.0]), 1e9), [1 / 3] * 3, atol=1e-8)


def test_allocate_demand_rationing_by_hand():
    # One cell asks 100 h of two equally attractive providers with 30 h and 100 h.
    # Round 1: 50/50; the first serves 30, the second 50; 20 h turned away.
    # Round 2: only the second has room: it serves the 20 h.
    flows, unmet, asked = mech.allocate_demand(np.array([100.0]), np.zeros((1, 2)), np.array([30.0, 100.0]), 1.0)
    assert_allclose(flows, [[30.0, 70.0]])
    assert_allclose(unmet, [0.0], atol=1e-12)
    assert_allclose(asked, [50.0, 50.0])
    flows1, unmet1, _ = mech.allocate_demand(np.array([100.0]), np.zeros((1, 2)), np.array([30.0, 100.0]), 1.0, rounds=1)
    assert_allclose(flows1, [[30.0, 50.0]])
    assert_allclose(unmet1, [20.0])


def test_allocate_demand_short_capacity_leaves_unmet():
    flows, unmet, _ = mech.allocate_demand(np.array([60.0, 60.0]), np.zeros((2, 1)), np.array([90.0]), 0.5)
    assert flows.sum() == pytest.approx(90.0)
    assert unmet.sum() == pytest.approx(30.0)



def test_logit_with_size_attraction_by_hand():
    # p_j = A_j e^{U_j/tau} / sum: A = (1, 3), U = (ln 2, 0), tau = 1 -> (2, 3) / 5.
    assert_allclose(mech.logit_shares(np.array([math.log(2), 0.0]), 1.0, None, np.log([1.0, 3.0])), [0.4, 0.6])
    # tau -> inf: utility no longer matters, shares follow the attraction A.
    assert_allclose(mech.logit_shares(np.array([0.0, 5.0]), 1e12, None, np.log([1.0, 3.0])), [0.25, 0.75], atol=1e-9)


def test_allocate_demand_huff_size_attraction_by_hand():
    # One cell asks 100 h of two equally attractive providers of 100 h and 300 h capacity.
    demand, utility, cap = np.array([100.0]), np.zeros((1, 2)), np.array([100.0, 300.0])
    _, _, asked0 = mech.allocate_demand(demand, utility, cap, 1.0, attraction_size=cap, size_attraction=0.0)
    assert_allclose(asked0, [50.0, 50.0])  # plain logit: the same hours whatever the size
    _, _, asked1 = mech.allocate_demand(demand, utility, cap, 1.0, attraction_size=cap, size_attraction=1.0)
    assert_allclose(asked1, [25.0, 75.0])  # alpha = 1: proportional to size (Gibrat)
    _, _, asked_half = mech.allocate_demand(demand, utility, cap, 1.0, attraction_size=cap, size_attraction=0.5)
    assert_allclose(asked_half, [100 / (1 + math.sqrt(3)), 100 * math.sqrt(3) / (1 + math.sqrt(3))])
    # A provider of no size attracts nobody; conservation still holds.
    flows, unmet, asked = mech.allocate_demand(demand, utility, np.array([0.0, 300.0]), 1.0,
                                               attraction_size=np.array([0.0, 300.0]), size_attraction=1.0)
    assert_allclose(asked, [0.0, 100.0])
    assert flows.sum() + unmet.sum() == pytest.approx(100.0)

def test_proximity_and_worker_continuity_by_hand():
    assert mech.proximity_index(10.0, 10.0) == pytest.approx(math.exp(-1))
    assert mech.worker_continuity(5, 10, 0.3) == 1.0
    assert mech.worker_continuity(20, 10, 0.3) == pytest.approx(0.5**0.3)


def test_personalisation_by_hand():
    # Equal weights: (T + C + (1 - tau) + X + V) / 5 = (1 + 0.5 + 0.6 + 0.8 + 0.6) / 5
    assert mech.personalisation(1.0, 0.5, 0.4, 0.8, 0.6, (1, 1, 1, 1, 1)) == pytest.approx(0.7)
    # Only standardisation counts: P = 1 - tau.
    assert mech.personalisation(0.0, 0.0, 0.25, 0.0, 0.0, (0, 0, 1, 0, 0)) == pytest.approx(0.75)
    assert mech.voice(1.0, 3.0, 0.6) == pytest.approx(0.5 * (0.25 + 0.6))


def test_technicisation_governance_volunteers_by_hand():
    # pressure = max(norm 0.6, size 50 / (50 + 50)) = 0.6; 0.2 + 0.1 x 0.4
    assert mech.technicisation_step(0.2, 0.6, 50, 50, 0.1) == pytest.approx(0.24)
    # no norm: size pressure 0.5
    assert mech.technicisation_step(0.2, 0.0, 50, 50, 1.0) == pytest.approx(0.5)
    # target 0.8 x (1 - 0.5 x 0.5) = 0.6; 0.7 + 0.1 x (0.6 - 0.7)
    assert mech.governance_step(0.7, 0.8, 0.5, 0.5, 0.1) == pytest.approx(0.69)
    # target 0.8 x 0.75 x (0.9 x 10 + 1) = 6; 1 + 0.1 x 5
    assert mech.volunteers_step(1.0, 10.0, 0.8, 0.25, 0.9, 1.0, 0.1) == pytest.approx(1.5)


def test_hire_or_lay_off_by_hand():
    # Deficit of 18,000 EUR at 9,000 EUR per FTE: two FTE laid off.
    assert mech.hire_or_lay_off(5, 9, -18_000, 9_000, 0.25, 0.25) == pytest.approx(3.0)
    # Rich: close a quarter of the gap of 4.
    assert mech.hire_or_lay_off(5, 9, 100_000, 9_000, 0.25, 0.25) == pytest.approx(6.0)
    # Cash-limited: (20,000 - 0.25 x 9,000 x 5) / 9,000 FTE affordable.
    assert mech.hire_or_lay_off(5, 9, 20_000, 9_000, 0.25, 0.25) == pytest.approx(5 + 8_750 / 9_000)
    # Too many staff for the demand: shed a quarter of the excess.
    assert mech.hire_or_lay_off(8, 4, 50_000, 9_000, 0.25, 0.25) == pytest.approx(7.0)
    assert mech.hire_or_lay_off(1, 0, -1e9, 9_000, 0.25, 0.25) == 0.0


def test_insertion_exits_by_hand():
    leavers, to_jobs = mech.insertion_exits(10.0, 0.125, 0.37)
    assert leavers == pytest.approx(1.25)
    assert to_jobs == pytest.approx(0.4625)


def test_staff_target_and_entries_by_hand():
    assert mech.staff_target(1400, 350, 350) == pytest.approx(3.0)
    assert mech.staff_target(100, 350, 350) == 0.0
    assert_allclose(mech.expected_entries(np.array([700.0, 0.0]), 700.0, 0.05), [0.05, 0.0])


def test_formula_grants_by_hand():
    assert_allclose(mech.formula_grants(np.array([100.0, 300.0]), 1000.0), [250.0, 750.0])
    assert_allclose(mech.formula_grants(np.array([0.0, 0.0]), 1000.0), [0.0, 0.0])


def test_meat_scores_by_hand():
    # w = 0.6: cheap 0.6 x 1 + 0.4 x 0.5 = 0.8; dear but better 0.6 x 0.5 + 0.4 x 1 = 0.7
    assert_allclose(mech.meat_scores(np.array([10.0, 20.0]), np.array([0.5, 1.0]), 0.6), [0.8, 0.7])
    # Quality only: the better one wins.
    s = mech.meat_scores(np.array([10.0, 20.0]), np.array([0.5, 1.0]), 0.0)
    assert s.argmax() == 1


def test_social_utility_by_hand():
    u = mech.social_utility(np.array([1.0]), np.array([0.5]), np.array([0.0]), (1, 1, 2))
    assert_allclose(u, [(1 + 0.5 + 0) / 4])


def test_herfindahl_by_hand():
    assert mech.herfindahl(np.array([1.0, 1.0, 2.0])) == pytest.approx(0.375)
    assert mech.herfindahl(np.array([5.0])) == 1.0
    assert mech.herfindahl(np.array([])) == 0.0


def test_lognormal_from_quantiles_matches_facts():
    from statistics import NormalDist

    mu, sigma = mech.lognormal_from_quantiles(0.8, 10.0, 0.05, 50.0)
    cdf = NormalDist(mu, sigma).cdf
    assert cdf(math.log(10)) == pytest.approx(0.8)
    assert 1 - cdf(math.log(50)) == pytest.approx(0.05)


def test_ptce_formalisation_agency_funding_and_legal_composition_by_hand():
    assert mech.formalisation_step(0.25, 0.5, 1.0) == 0.625  # 0.25 + 0.5 (1 - 0.25), exact in binary
    np.testing.assert_array_equal(mech.formalisation_step(np.array([0.0, 1.0]), 0.25, 0.5), [0.125, 0.875])
    assert mech.agency_funding_eur(0.5, 12_000.0) == 6_000.0
    # three members with one ESS organisation and two firms: legal; all ESS (no enterprise
    # outside the ESS), no ESS member, or too few members: not
    assert mech.legal_composition(3, 1, 3)
    assert not mech.legal_composition(3, 3, 3)
    assert not mech.legal_composition(3, 0, 3)
    assert not mech.legal_composition(2, 1, 3)
    np.testing.assert_array_equal(mech.legal_composition(np.array([3, 3, 2]), np.array([1, 3, 1]), 3), [True, False, False])
