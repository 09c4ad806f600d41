"""TerritoryModel: invariants, reproducibility, the regimes' resource mix, stylised facts."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from simulation import TerritoryModel, load_scenario
from simulation.metrics import METRICS
from simulation.model import run_streams
from simulation.params import BudgetCut

from .conftest import REGIMES, SCENARIOS, smoke

COLUMNS = [
    "step", "ess_employment_fte", "insertion_employment_fte", "insertion_exits_to_jobs", "local_employment_fte",
    "volunteers_fte", "organisations", "entries", "exits", "personalisation", "services_delivered_hours",
    "unmet_need_share", "technicisation",
    "governance", "public_spend_eur", "subsidy_share", "public_order_share", "sales_share", "hhi",
    "mergers", "ptce_count", "ptce_members_mean", "ptce_jobs_mean", "ptce_membership_share",
    "project_pooling_depth", "network_density", "network_clustering", "top1pct_resource_share", "unit_cost_eur",
]
SHARES = ["personalisation", "unmet_need_share", "technicisation", "governance", "subsidy_share",
          "public_order_share", "sales_share", "hhi", "ptce_membership_share", "project_pooling_depth",
          "network_density", "network_clustering", "top1pct_resource_share"]


def test_timeseries_has_exactly_the_contract_columns():
    ts = TerritoryModel(smoke(), rng=1).run(3).timeseries()
    assert list(ts.columns) == COLUMNS
    assert list(METRICS) == COLUMNS
    assert ts["step"].tolist() == [1, 2, 3]


def check_step_invariants(model: TerritoryModel) -> None:
    """Step once and check the accounting and range invariants of that quarter.

    Money: each provider's treasury moves by revenue - costs plus its transfers outside the
    ledger (PTCE fund contributions and carries, a merger's carried-over treasury, a
    dissolved fund's refund); the PTCE funds move by exactly what members paid in minus
    what they got out; a merger moves the absorbed treasury and nothing else.
    """
    before = {uid: p.treasury_eur for uid, p in model.provider_by_id.items()}
    hubs_before = {h.unique_id: h for h in model.ptces()}
    funds_before = sum(h.fund_eur for h in hubs_before.values())
    model.step()
    stats = model.quarter_stats
    territorial_spend = stats["public_spend_eur"]
    assert territorial_spend <= model.budget_eur * (1 + 1e-9) + 1e-6, "public spending above the budget"
    hubs_after = {h.unique_id: h for h in model.ptces()} | hubs_before  # dissolved funds are 0
    funds_after = sum(h.fund_eur for h in hubs_after.values())
    assert funds_after - funds_before == pytest.approx(stats.get("fund_in_eur", 0.0) - stats.get("fund_out_eur", 0.0), abs=1e-6)
    assert all(h.fund_eur >= -1e-9 for h in hubs_after.values())
    for p in model.providers():
        if p.unique_id in before:  # entrants started this quarter with their founders' funds
            change = p.treasury_eur - before[p.unique_id]
            assert change == pytest.approx(p.ledger.revenue_eur - p.ledger.costs_eur + p.transfers_eur, abs=1e-6)
        assert p.staff_fte >= 0 and p.volunteers_fte >= 0 and p.insertion_fte >= 0
        assert 0 <= p.technicisation <= 1 and 0 <= p.governance <= 1
        assert 0 <= p.personalisation <= 1
    for h in model.ptces():
        assert h.legal(), "a PTCE breaks the law's composition (FACTS.md [ptce-law])"
        assert all(m.ptce is h for m in h.members.values())
        assert 0 <= h.depth <= 1 and 0 <= h.rigidity < 1
    row = model.timeseries().iloc[-1]
    for col in SHARES:
        assert 0 <= row[col] <= 1, col
    assert row["subsidy_share"] + row["public_order_share"] + row["sales_share"] <= 1 + 1e-9
    assert row["ess_employment_fte"] >= row["insertion_employment_fte"] >= 0
    assert np.isfinite(row.to_numpy(dtype=float)).all()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    regime=st.sampled_from(REGIMES),
    seed=st.integers(0, 2**32 - 1),
    organisations=st.integers(3, 40),
    municipalities=st.integers(1, 4),
    budget=st.floats(0.0, 1.5),
    temperature=st.floats(0.0, 2.0),
    cut=st.floats(0.0, 1.0),
    policy=st.sampled_from(["endogenous", "concentrate", "cooperate", "independent"]),
)
# Found by hypothesis: rationing left -1e-13 hours of "unmet" need, a negative Poisson mean.
@example(regime="competitive", seed=151, organisations=7, municipalities=1, budget=1.5, temperature=0.0, cut=0.0, policy="endogenous")
def test_invariants_hold_every_step(regime, seed, organisations, municipalities, budget, temperature, cut, policy):
    scenario = load_scenario(SCENARIOS / "smoke.toml", {
        "regime.kind": regime, "territory.organisations": organisations, "strategy.policy": policy,
        "concentration.merger_attempt_per_year": 1.0, "cooperation.join_per_quarter": 1.0,
        "territory.municipalities": municipalities, "funding.public_budget_share_of_costs": budget,
        "demand.choice_temperature": temperature,
    })
    scenario = scenario.model_copy(update={"shocks": [BudgetCut(share=cut, start=3, duration=2, recovery_quarters=2)]})
    model = TerritoryModel(scenario, rng=seed)
    for _ in range(8):
        check_step_invariants(model)


def test_same_seed_same_output_other_seed_other_output():
    a = TerritoryModel(smoke(), rng=11).run().timeseries()
    b = TerritoryModel(smoke(), rng=11).run().timeseries()
    c = TerritoryModel(smoke(), rng=12).run().timeseries()
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not a.equals(c)


def test_runs_do_not_interfere_whatever_the_order():
    # Two models stepped in alternation give what each gives alone: no shared state.
    alone = [TerritoryModel(smoke(r), rng=3).run().timeseries() for r in ("administrative", "competitive")]
    m1, m2 = TerritoryModel(smoke("competitive"), rng=3), TerritoryModel(smoke("administrative"), rng=3)
    for _ in range(smoke().steps):
        m1.step()
        m2.step()
    pd.testing.assert_frame_equal(m2.timeseries(), alone[0], check_exact=True)
    pd.testing.assert_frame_equal(m1.timeseries(), alone[1], check_exact=True)


def test_seed_sequence_accepted_and_streams_named():
    ss = np.random.SeedSequence(5, spawn_key=(2,))
    a = TerritoryModel(smoke(), rng=ss).run(4).timeseries()
    b = TerritoryModel(smoke(), rng=np.random.SeedSequence(5, spawn_key=(2,))).run(4).timeseries()
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    streams = run_streams(5)
    assert set(streams) == {"initialisation", "dynamics", "shocks"}
    draws = [g.random() for g in streams.values()]
    assert len(set(draws)) == 3


def test_initial_territory_is_the_same_under_every_regime():
    # Initialisation draws from its own stream: every regime starts from the same territory.
    frames = [TerritoryModel(smoke(r), rng=9).organisations_frame() for r in REGIMES]
    for f in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], f)


def test_initial_sizes_follow_facts_assoc_size_dist():
    # FACTS.md [assoc-size-dist]: ~80 % below 10 employees, ~5 % above 50; employees are
    # people, 2.0 M / 1.5 M per FTE (FACTS.md [ess-size-2019]), so 7.5 and 37.5 FTE.
    model = TerritoryModel(load_scenario(None, {"territory.organisations": 3000, "territory.initial_ties_per_organisation": 0}), rng=4)
    staff = np.array([o.staff_fte for o in model.organisations()])
    assert np.mean(staff < 7.5) == pytest.approx(0.80, abs=0.03)
    assert np.mean(staff > 37.5) == pytest.approx(0.05, abs=0.015)


@pytest.fixture(scope="module")
def baseline_runs():
    """The baseline scenario (defaults, 100 quarters) under each regime, seed 2024."""
    return {r: TerritoryModel(load_scenario(SCENARIOS / "baseline.toml", {"regime.kind": r}), rng=2024).run()
            for r in REGIMES}


def test_competitive_public_money_is_mostly_orders_administrative_mostly_subsidies(baseline_runs):
    # The mechanisms (tender book vs formula grants and tariff) decide where the money goes.
    money = {r: m.public_money_eur for r, m in baseline_runs.items()}
    assert money["competitive"]["public_orders"] > money["competitive"]["subsidies"]
    assert money["administrative"]["subsidies"] > money["administrative"]["public_orders"]
    # In the ESS's own accounts, public orders weigh more under competition.
    ts = {r: m.timeseries() for r, m in baseline_runs.items()}
    assert ts["competitive"]["public_order_share"].mean() > ts["administrative"]["public_order_share"].mean()
    assert ts["administrative"]["subsidy_share"].mean() > ts["administrative"]["public_order_share"].mean()


def test_baseline_stays_in_plausible_ranges(baseline_runs):
    # Stylised facts at defaults: the ESS neither vanishes nor explodes over 25 years,
    # public money is 20-70 % of its resources (FACTS.md [resource-mix]: 44-51 %).
    for regime, model in baseline_runs.items():
        ts = model.timeseries()
        first, last = ts.iloc[0], ts.iloc[-1]
        assert 0.5 < last["ess_employment_fte"] / first["ess_employment_fte"] < 2.0, regime
        public = ts["subsidy_share"] + ts["public_order_share"]
        assert 0.2 < public.mean() < 0.7, regime


def test_regime_can_be_reversed_by_parameters():
    # No regime's resource mix is written in: a competitive regime that keeps almost all
    # money as grants ends up with subsidies above orders.
    sc = load_scenario(SCENARIOS / "smoke.toml", {"regime.kind": "competitive", "regime.grant_share": 0.95, "steps": 20})
    ts = TerritoryModel(sc, rng=1).run().timeseries()
    assert ts["subsidy_share"].mean() > ts["public_order_share"].mean()


# --------------------------------------------------------------------------- non-profit pricing
def test_fee_discount_hand_computed():
    """d = g (r_g V + r_a I) / Q: 4 volunteer FTE at 1,000 EUR of gifts each and 1
    insertion FTE at 3,000 EUR of aid, half passed on, over 1,000 hours of capacity."""
    from simulation.organisations import ConventionalFirm, Organisation

    model = TerritoryModel(smoke(**{"organisation.gifts_eur_per_volunteer_fte_quarter": 1000.0,
                                    "organisation.gift_pass_through": 0.5}), rng=1)
    op = model.config.organisation
    org = Organisation(model, sector=0, municipality=0, staff_fte=2.0, insertion_share=0.5, volunteers_fte=4.0)
    assert org.fee_discount_eur(op, 3000.0, 1000.0) == pytest.approx(0.5 * (4 * 1000.0 + 1 * 3000.0) / 1000.0)  # 3.5 EUR/h
    assert org.fee_discount_eur(op, 3000.0, 0.0) == 0.0  # no capacity
    firm = ConventionalFirm(model, sector=0, municipality=0, staff_fte=2.0)
    assert firm.fee_discount_eur(op, 3000.0, 1000.0) == 0.0
    off = TerritoryModel(smoke(**{"organisation.gift_pass_through": 0.0}), rng=1)
    assert org.fee_discount_eur(off.config.organisation, 3000.0, 1000.0) == 0.0


def test_discount_uses_the_gifts_and_aid_booked_that_quarter_and_gives_at_most_g_of_them():
    """Timing: the gifts and insertion aid the price passes on are those booked in the same
    quarter (volunteers and staff do not move between set_prices and the accounts).  Bound:
    the revenue given up on paid hours, d x paid hours, is at most g (r_g V + r_a I), since
    an organisation never serves more hours than its capacity Q."""
    g = 0.8
    model = TerritoryModel(smoke("administrative", **{"organisation.gift_pass_through": g, "steps": 6}), rng=5).run()
    op, fp = model.config.organisation, model.config.funding
    model.open_quarter()
    model.fund_public_services()
    model.set_prices()
    sheet_row = {uid: i for i, uid in enumerate(model.provider_ids().tolist())}  # the cost sheet's order
    at_pricing = {o.unique_id: (o.volunteers_fte, o.insertion_fte, model.costs["capacity_hours"][sheet_row[o.unique_id]])
                  for o in model.organisations()}
    subsidy_before = {o.unique_id: o.ledger.subsidy_eur for o in model.organisations()}
    model.allocate_demand()
    model.pay_for_service()
    subsidy_after_orders = {o.unique_id: o.ledger.subsidy_eur for o in model.organisations()}
    model.collect_gifts()
    model.pay_insertion_aid()
    checked = 0
    for o in model.organisations():
        v, i, q = at_pricing[o.unique_id]
        aid = o.ledger.subsidy_eur - subsidy_after_orders[o.unique_id]
        assert o.ledger.gifts_eur == pytest.approx(op.gifts_eur_per_volunteer_fte_quarter * v, rel=1e-12)
        assert aid == pytest.approx(fp.insertion_aid_eur_per_fte_quarter * i, rel=1e-9, abs=1e-6)
        assert subsidy_after_orders[o.unique_id] == subsidy_before[o.unique_id]  # orders are not subsidies
        d = o.fee_discount_eur(op, fp.insertion_aid_eur_per_fte_quarter, q)
        assert o.served_hours <= q * (1 + 1e-12)
        assert d * o.served_hours <= g * (o.ledger.gifts_eur + aid) * (1 + 1e-9) + 1e-9
        checked += d > 0
    assert checked > 5


@pytest.mark.parametrize("pass_through", [0.0, 0.6])
def test_prices_are_cost_plus_margin_less_the_discount_never_negative(pass_through):
    """p = max(0, c (1 + m) - d) (1 + s) for every provider (model.set_prices), with the
    cost sheet's unit cost and each provider's own discount; tender bids stay at c (1 + m)."""
    model = TerritoryModel(smoke(**{"organisation.gift_pass_through": pass_through, "steps": 6}), rng=3).run()
    model.open_quarter()
    model.fund_public_services()
    model.set_prices()
    op = model.config.organisation
    aid = model.config.funding.insertion_aid_eur_per_fte_quarter
    discounted = 0
    for p in model.providers():
        row = model.providers().index(p)  # the cost sheet is in providers() order
        c, q = model.costs["unit_cost_eur"][row], model.costs["capacity_hours"][row]
        # The discount by hand (not through fee_discount_eur): gifts and aid per hour of capacity.
        d = pass_through * (op.gifts_eur_per_volunteer_fte_quarter * p.volunteers_fte + aid * p.insertion_fte) / q if p.is_ess else 0.0
        assert p.price_eur_per_hour == pytest.approx(max(0.0, c * (1 + p.margin(op)) - d) * (1 + p.solidarity_surcharge), rel=1e-12)
        assert p.bid_price(op) == pytest.approx(p.unit_cost_eur(op) * (1 + p.margin(op)), rel=1e-12)
        assert p.price_eur_per_hour >= 0
        discounted += d > 0
    assert (discounted > 0) == (pass_through > 0)


def test_passing_gifts_on_lowers_ess_prices_and_the_sales_share():
    """Same seed, same territory: passing gifts and aid on to paying beneficiaries lowers
    every ESS organisation's first price and the sales share of ESS resources in the first
    quarter (the beneficiaries then pay less for the same hours)."""
    def first_quarter(pass_through):
        model = TerritoryModel(smoke("administrative", **{"organisation.gift_pass_through": pass_through}), rng=7)
        model.step()
        return model

    full, none = first_quarter(1.0), first_quarter(0.0)
    prices_full = {p.unique_id: p.price_eur_per_hour for p in full.organisations()}
    prices_none = {p.unique_id: p.price_eur_per_hour for p in none.organisations()}
    common = prices_full.keys() & prices_none.keys()  # the initial organisations (entrants differ)
    assert len(common) > 10
    assert all(prices_full[u] <= prices_none[u] for u in common)
    assert sum(prices_full[u] < prices_none[u] for u in common) > len(common) / 2
    assert full.timeseries()["sales_share"].iloc[0] < none.timeseries()["sales_share"].iloc[0]


def test_rounding_leftovers_of_the_allocation_count_as_met():
    """Unmet hours are either 0 or above model.UNMET_ROUNDING_HOURS: a leftover of 1e-15 h
    would draw Poisson(lambda > 0) entries where 0 draws nothing and shift every later draw
    (a review found a run whose mergers went 27 against 23 from such a last bit)."""
    from simulation.model import UNMET_ROUNDING_HOURS

    model = TerritoryModel(smoke(**{"strategy.policy": "concentrate", "steps": 12}), rng=5)
    seen_positive = False
    for _ in range(12):
        model.step()
        assert not ((model.unmet > 0) & (model.unmet <= UNMET_ROUNDING_HOURS)).any()
        seen_positive |= bool((model.unmet > UNMET_ROUNDING_HOURS).any())
    assert seen_positive, "the smoke territory should leave some need unmet"
