"""Shock library: paths by hand, drawn timing and sizes, common random numbers across
regimes and policies, and each shock's effect through its mechanism against the twin."""

import numpy as np
import pytest

from simulation import TerritoryModel, load_scenario
from simulation.organisations import Organisation
from simulation.params import (
    GROUPS,
    SECTORS,
    BudgetCut,
    EmployerClosure,
    NeedsSurge,
    Scenario,
    ScenarioError,
    SupplyDisruption,
    Uniform,
)
from simulation.resilience import twin_scenario
from simulation.shocks import draw_value, profile, shock_path

from .conftest import REGIMES, SCENARIOS, smoke

POLICIES = ("endogenous", "concentrate", "cooperate", "independent")
JS = GROUPS.index("jobseekers")


def with_shocks(scenario: Scenario, *shocks) -> Scenario:
    return Scenario.model_validate(scenario.model_dump() | {"shocks": [s.model_dump() for s in shocks]})


def advance(model: TerritoryModel, quarters: int) -> TerritoryModel:
    for _ in range(quarters):
        model.step()
    return model


# --------------------------------------------------------------------------- paths by hand
def test_profile_by_hand():
    # Full for 3 quarters from quarter 2, then 1 - k / 4 for k = 1..3.
    assert profile(10, 2, 3, 3).tolist() == [0, 0, 1, 1, 1, 0.75, 0.5, 0.25, 0, 0]


def test_budget_cuts_multiply_and_needs_surge_hits_only_its_cells():
    cut1 = BudgetCut(share=0.2, start=2, duration=2, recovery_quarters=1)
    cut2 = BudgetCut(share=0.5, start=3, duration=1, recovery_quarters=0)
    surge = NeedsSurge(rise=0.3, start=1, duration=1, recovery_quarters=0, groups=["jobseekers"], sectors=["employment"])
    path = shock_path([cut1, cut2, surge], 6)
    # cut1: 1, 1, .8, .8, .9 (1 - .2 x 1/2), 1; cut2 halves quarter 3.
    assert path.budget_multiplier.tolist() == pytest.approx([1, 1, 0.8, 0.4, 0.9, 1])
    n = path.need_multiplier
    assert n[1, JS, SECTORS.index("employment")] == pytest.approx(1.3)
    assert (n[1] != 1).sum() == 1 and (n[0] == 1).all() and (n[2:] == 1).all()
    assert path.windows == [("budget_cut", 2, 4), ("budget_cut", 3, 3), ("needs_surge", 1, 1)]
    assert path.window == (1, 4)
    assert path.budget(100) == 1.0 and path.needs(100).shape == (1, len(GROUPS), len(SECTORS))


def test_supply_disruption_path_and_windows_clipped_to_horizon():
    path = shock_path([SupplyDisruption(cost_rise=0.5, start=3, duration=2, recovery_quarters=1, sectors=["food"])], 5)
    food = SECTORS.index("food")
    assert path.supply_cost_multiplier[:, food].tolist() == pytest.approx([1, 1, 1, 1.5, 1.5])
    assert (np.delete(path.supply_cost_multiplier, food, axis=1) == 1).all()
    assert path.windows == [("supply_disruption", 3, 4)]  # quarter 5 (recovery) is beyond the horizon
    assert shock_path([BudgetCut(start=7)], 5).window is None
    assert shock_path([], 5).window is None


def test_draw_value_by_hand():
    quarters = Uniform(min=30, max=50)
    assert draw_value(quarters, 0.0, integer=True) == 30
    assert draw_value(quarters, 0.5, integer=True) == 40  # 30 + floor(0.5 x 21)
    assert draw_value(quarters, 0.999999, integer=True) == 50
    assert draw_value(Uniform(min=0.1, max=0.3), 0.5, integer=False) == pytest.approx(0.2)
    assert draw_value(7, 0.3, integer=True) == 7


# --------------------------------------------------------------------------- drawn from the shock stream
DRAWN = [
    BudgetCut(share={"min": 0.1, "max": 0.3}, start={"min": 3, "max": 6}),
    NeedsSurge(rise={"min": 0.1, "max": 0.5}, start={"min": 2, "max": 8}, duration={"min": 1, "max": 3}),
    EmployerClosure(start={"min": 2, "max": 5}, jobs_lost_share={"min": 0.5, "max": 1.0}),
    SupplyDisruption(cost_rise={"min": 0.2, "max": 0.9}, start={"min": 1, "max": 6}, sectors=["food", "culture"]),
]


def test_drawn_values_in_bounds_vary_with_the_seed_and_come_only_from_the_shock_stream():
    sc = with_shocks(smoke(), *DRAWN)
    draws = [TerritoryModel(sc, rng=seed).shocks.realised for seed in range(12)]
    for realised in draws:
        assert 3 <= realised[0]["start"] <= 6 and 0.1 <= realised[0]["share"] <= 0.3
        assert 1 <= realised[1]["duration"] <= 3 and isinstance(realised[1]["duration"], int)
        assert 0.5 <= realised[2]["jobs_lost_share"] <= 1.0
    assert len({r[0]["start"] for r in draws}) > 1 and len({r[3]["cost_rise"] for r in draws}) > 1
    # Same seed, same draws.
    assert TerritoryModel(sc, rng=3).shocks.realised == TerritoryModel(sc, rng=3).shocks.realised


def test_each_shock_has_its_own_stream():
    # Adding a shock after it, or fixing another field, does not move a shock's draws.
    rng = lambda: np.random.default_rng(11)  # noqa: E731
    alone = shock_path([DRAWN[3]], 20, rng()).realised[0]
    before_cut = shock_path([DRAWN[3], DRAWN[0]], 20, rng()).realised[0]
    assert alone == before_cut
    fixed_start = DRAWN[3].model_copy(update={"start": 4})
    assert shock_path([fixed_start], 20, rng()).realised[0]["cost_rise"] == alone["cost_rise"]


def test_shock_path_is_identical_whatever_the_regime_or_policy():
    base = with_shocks(smoke(), *DRAWN)
    paths = []
    for regime in REGIMES:
        for policy in POLICIES:
            sc = load_scenario(SCENARIOS / "smoke.toml", {"regime.kind": regime, "strategy.policy": policy})
            paths.append(TerritoryModel(with_shocks(sc, *DRAWN), rng=2024).shocks)
    ref = TerritoryModel(base, rng=2024).shocks
    assert ref.closures and ref.employer_staff_fte
    for path in paths:
        assert path.realised == ref.realised and path.closures == ref.closures
        a, b = path.arrays(), ref.arrays()
        assert a.keys() == b.keys()
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


# --------------------------------------------------------------------------- each mechanism vs its twin
def pair(scenario: Scenario, quarters: int, seed: int = 1) -> tuple[TerritoryModel, TerritoryModel]:
    shocked = advance(TerritoryModel(scenario, rng=seed), quarters)
    twin = advance(TerritoryModel(twin_scenario(scenario), rng=seed), quarters)
    return shocked, twin


def test_budget_cut_lowers_the_budget_and_public_spending():
    sc = with_shocks(smoke("administrative", steps=14), BudgetCut(share=0.3, start=4, duration=4, recovery_quarters=2))
    shocked, twin = pair(sc, 6)
    assert shocked.budget_eur == pytest.approx(0.7 * twin.budget_eur)
    advance(shocked, 8)
    advance(twin, 8)
    a, b = shocked.timeseries(), twin.timeseries()
    window = slice(4, 10)  # quarters 4..9
    assert a["public_spend_eur"].iloc[window].sum() < b["public_spend_eur"].iloc[window].sum()


def test_needs_surge_raises_needs_of_its_cells_and_unmet_need():
    surge = NeedsSurge(rise=0.5, start=3, duration=4, recovery_quarters=0, groups=["elderly", "jobseekers"], sectors=["personal_services", "employment"])
    sc = with_shocks(smoke(steps=8), surge)
    shocked, twin = pair(sc, 4)
    needed = twin.need > 0
    ratio = np.divide(shocked.need, twin.need, out=np.ones_like(twin.need), where=needed)
    hit = np.zeros(ratio.shape, dtype=bool)
    for g in (GROUPS.index("elderly"), JS):
        for s in (SECTORS.index("personal_services"), SECTORS.index("employment")):
            hit[:, g, s] = True
    assert (hit & needed).any()
    assert np.allclose(ratio[hit & needed], 1.5) and np.allclose(ratio[~hit & needed], 1.0)
    advance(shocked, 3)
    advance(twin, 3)
    a, b = shocked.timeseries(), twin.timeseries()
    assert (a["unmet_need_share"].iloc[3:7] > b["unmet_need_share"].iloc[3:7]).all()


def test_employer_closure_cuts_local_jobs_raises_jobseekers_needs_and_lowers_paying_demand():
    closure = EmployerClosure(start=3, selection="largest", municipality=None, duration=4, recovery_quarters=0)
    sc = with_shocks(smoke(steps=8), closure)
    shocked, twin = pair(sc, 3)
    c = shocked.shocks.closures[0]
    firm, twin_firm = ({f.unique_id: f for f in m.firms()}[c.employer_id] for m in (shocked, twin))
    assert firm.sector == -1 and firm.municipality == c.municipality
    # The largest local employer of the territory closes.
    assert c.staff_before_fte == max(f.staff_fte for f in twin.firms() if f.sector == -1)
    assert firm.staff_fte == twin_firm.staff_fte == c.staff_before_fte  # not yet
    advance(shocked, 1)
    advance(twin, 1)
    assert firm.staff_fte == 0.0 and c.jobs_lost_fte == c.staff_before_fte
    m = c.municipality
    r = shocked.shocks.realised[0]
    # Jobseekers' needs in the site's municipality up by k J w_m / jobseekers_m, exactly as drawn.
    js_ratio = shocked.need[m, JS].sum() / twin.need[m, JS].sum()
    assert js_ratio == pytest.approx(1 + r["jobseekers_rise"][m]) and js_ratio > 1
    # Paying demand in the site's municipality down by the drawn drop.
    assert shocked.private_need[m].sum() == pytest.approx((1 - r["market_demand_drop"][m]) * twin.private_need[m].sum())
    assert r["market_demand_drop"][m] > 0
    advance(shocked, 4)
    advance(twin, 4)
    a, b = shocked.timeseries(), twin.timeseries()
    assert (a["local_employment_fte"].iloc[3:] < b["local_employment_fte"].iloc[3:] - 0.5 * c.jobs_lost_fte).all()
    assert firm.staff_fte == 0.0  # the jobs are lost for good


def test_employer_closure_in_a_given_municipality_or_none_left_is_a_user_error(tmp_path):
    sc = smoke(steps=4)
    model = TerritoryModel(sc, rng=5)
    m = next(f.municipality for f in model.firms() if f.sector == -1)
    closed = TerritoryModel(with_shocks(sc, EmployerClosure(start=1, municipality=m)), rng=5).shocks.closures[0]
    assert closed.municipality == m
    bad = tmp_path / "bad.toml"
    bad.write_text('[territory]\nmunicipalities = 3\n\n[[shocks]]\nkind = "employer_closure"\nmunicipality = 7\n')
    with pytest.raises(ScenarioError, match=r"bad.toml: .*shocks\[0\].municipality = 7 but the territory has 3"):
        load_scenario(bad)
    no_employers = load_scenario(SCENARIOS / "smoke.toml", {"territory.local_employers": 0})
    with pytest.raises(ScenarioError, match="no local employer with staff left to close"):
        TerritoryModel(with_shocks(no_employers, EmployerClosure(start=1)), rng=1)


def test_bad_drawn_values_name_the_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[shocks]]\nkind = "budget_cut"\nstart = { min = 9, max = 3 }\n')
    with pytest.raises(ScenarioError, match=r"bad.toml: shocks.0.start: .*min must be <= max"):
        load_scenario(bad)
    bad.write_text('[[shocks]]\nkind = "supply_disruption"\ncost_rise = { min = 0.1, max = 20 }\n')
    with pytest.raises(ScenarioError, match=r"shocks.0.cost_rise: .*max must be in \[0, 10\]"):
        load_scenario(bad)
    bad.write_text('[[shocks]]\nkind = "budget_cut"\nstart = { min = 1.5, max = 3 }\n')
    with pytest.raises(ScenarioError, match=r"shocks.0.start: .*whole numbers"):
        load_scenario(bad)


def supplier_pair(model: TerritoryModel, local_share: float) -> tuple[Organisation, Organisation]:
    """Two organisations identical but for the share of purchases from outside suppliers."""
    orgs = []
    for outside in (1.0, local_share):
        o = Organisation(model, sector=SECTORS.index("food"), municipality=0, staff_fte=10.0, volunteers_fte=2.0, treasury_eur=50_000.0)
        o.outside_supply_share = outside
        orgs.append(o)
    return orgs[0], orgs[1]


def test_supply_disruption_hurts_a_local_supply_chain_less_by_hand():
    model = TerritoryModel(smoke(), rng=1)
    op = model.config.organisation
    outside, local = supplier_pair(model, 0.2)
    f = outside.fixed_cost_eur(op)
    assert local.fixed_cost_eur(op) == f
    for o in (outside, local):
        o.supply_cost_multiplier = 1.5
        o.open_quarter()
        o.ledger.sales_eur = 40_000.0
        o.book_costs(op)
        o.settle()
    # Surcharge F p o (m - 1): p = 0.5 of F bought, m - 1 = 0.5.
    assert outside.ledger.supply_surcharge_eur == pytest.approx(f * 0.5 * 1.0 * 0.5)
    assert local.ledger.supply_surcharge_eur == pytest.approx(f * 0.5 * 0.2 * 0.5)
    assert local.treasury_eur - outside.treasury_eur == pytest.approx(f * 0.5 * 0.8 * 0.5)
    # Pricing sees the jump: unit cost up by surcharge / Q.
    q = outside.capacity_hours(op)
    assert outside.unit_cost_eur(op) - local.unit_cost_eur(op) == pytest.approx(f * 0.5 * 0.8 * 0.5 / q)
    # No disruption, no surcharge, whatever the supply chain.
    outside.supply_cost_multiplier = 1.0
    assert outside.supply_surcharge_eur(op) == 0.0 and outside.quarterly_costs_eur(op) == local.quarterly_costs_eur(op) - local.supply_surcharge_eur(op)


def test_supply_disruption_raises_costs_and_prices_in_hit_sectors_only():
    hit = ["food", "eco_activities"]
    sc = with_shocks(smoke(steps=8), SupplyDisruption(cost_rise=1.0, start=2, duration=3, recovery_quarters=0, sectors=hit))
    shocked, twin = pair(sc, 3)  # quarter 2 is the first hit
    op = sc.organisation
    hit_idx = {SECTORS.index(s) for s in hit}
    checked = 0
    for uid, p in shocked.provider_by_id.items():
        t = twin.provider_by_id.get(uid)
        if t is None or (p.ledger.wages_eur == 0 and p.staff_fte > 0):
            continue  # gone in the twin, or entered at the end of this quarter (no accounts yet)
        if p.sector in hit_idx:
            # Booked at settlement: F of that moment x p x o x (m - 1), m - 1 = 1.
            expected = p.ledger.fixed_costs_eur * op.purchased_share_of_fixed_costs * p.outside_supply_share * 1.0
            assert p.ledger.supply_surcharge_eur == pytest.approx(expected) and expected > 0
            checked += 1
        else:
            assert p.ledger.supply_surcharge_eur == 0.0
    assert checked > 0
    # Prices of quarter 2 were set from the same state in both runs (nothing differed before):
    # higher in the hit sectors, equal elsewhere.
    for uid, p in shocked.provider_by_id.items():
        q = twin.provider_by_id.get(uid)
        if q is not None and p.price_eur_per_hour > 0:  # an entrant of this quarter has no price yet
            assert (p.price_eur_per_hour > q.price_eur_per_hour) == (p.sector in hit_idx)
            assert (p.price_eur_per_hour == q.price_eur_per_hour) == (p.sector not in hit_idx)
    advance(shocked, 2)
    advance(twin, 2)
    cash = [sum(o.treasury_eur for o in m.organisations() if o.sector in hit_idx) for m in (shocked, twin)]
    assert cash[0] < cash[1]


def test_neutral_shocks_change_nothing_bit_for_bit():
    # Shocks of size 0 (or after the horizon) go through every hook and must leave the run
    # exactly as its twin: the hooks add nothing when the multipliers are 1.
    neutral = (
        BudgetCut(share=0.0, start=2), NeedsSurge(rise=0.0, start=2), SupplyDisruption(cost_rise=0.0, start=2),
        EmployerClosure(start=2, jobs_lost_share=0.0, jobseekers_per_job_lost=0.0, market_demand_elasticity=0.0),
        BudgetCut(share=0.5, start=500),
    )
    sc = with_shocks(smoke("competitive", steps=10), *neutral)
    shocked, twin = pair(sc, 10, seed=8)
    assert shocked.shocks.window == (2, 9)
    assert shocked.timeseries().equals(twin.timeseries())
    assert shocked.organisations_frame().equals(twin.organisations_frame())


@pytest.mark.parametrize("policy", ["endogenous", "cooperate"])
def test_money_and_range_invariants_hold_under_every_shock_kind(policy):
    # Treasury moves by exactly revenue - costs (+ PTCE transfers), the surcharge included in
    # the costs; the budget is never exceeded; shares stay in [0, 1] (tests/test_model.py).
    from .test_model import check_step_invariants

    sc = load_scenario(SCENARIOS / "smoke.toml", {"strategy.policy": policy})
    sc = with_shocks(sc, BudgetCut(share=0.5, start=2), NeedsSurge(rise=1.0, start=1),
                     EmployerClosure(start=3), SupplyDisruption(cost_rise=2.0, start=1, duration=6))
    model = TerritoryModel(sc, rng=6)
    surcharge = 0.0
    for _ in range(10):
        check_step_invariants(model)
        surcharge += sum(p.ledger.supply_surcharge_eur for p in model.providers())
    assert surcharge > 0


def test_supply_disruption_hurts_supply_chain_ptce_members_less_in_a_run():
    # End to end: PTCEs form endogenously; a supply-chain PTCE moves part of its members'
    # purchases to members (outside_supply_share < 1).  In the first disrupted quarter the
    # two runs differ only by the disruption, so each organisation's extra cost over its twin,
    # per EUR of purchases at m - 1 = 1, is its outside share: lower inside a supply chain.
    sc = load_scenario(SCENARIOS / "smoke.toml", {"strategy.policy": "endogenous", "steps": 16})
    sc = with_shocks(sc, SupplyDisruption(cost_rise=1.0, start=12))
    shocked, twin = pair(sc, 12, seed=1)
    hub_of = {o.unique_id: o.ptce for o in shocked.organisations()}  # membership as the quarter opens
    advance(shocked, 1)
    advance(twin, 1)
    p = sc.organisation.purchased_share_of_fixed_costs
    hit: dict[bool, list[float]] = {True: [], False: []}
    for o in shocked.organisations():
        t = twin.provider_by_id.get(o.unique_id)
        if t is None or o.unique_id not in hub_of:
            continue
        extra = (o.ledger.costs_eur - t.ledger.costs_eur) / (o.ledger.fixed_costs_eur * p)
        assert 0 < extra <= 1 + 1e-9  # the outside share o of its purchases, in (0, 1]
        hub = hub_of[o.unique_id]  # its forms were set when the disrupted quarter opened
        hit[hub is not None and "supply_chain" in hub.forms].append(extra)
    assert hit[True] and hit[False], "expected organisations inside and outside supply-chain PTCEs"
    assert max(hit[True]) < 1.0 and min(hit[False]) == pytest.approx(1.0)
    assert np.mean(hit[True]) < np.mean(hit[False])
