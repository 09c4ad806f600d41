"""Verification: a closed-form limit of the model, tested exactly (ODD.md, "Calibration and
validation", verification).

One ESS organisation alone in its sector, no shocks, no noise: no public money (every hour
is paid by its beneficiaries, budget 0), no volunteers, no insertion posts, no ties, no
firms, no entry, no need growth, a forced `independent` strategy and (first) no ESS margin
(price = unit cost).  Its beneficiaries ask it for A hours a quarter, more than it can
serve, so it sells its whole capacity Q_t at the unit cost c_t = (w S_t + F(Q_t)) / Q_t
(`Provider.unit_cost_eur`):

    revenue_t = c_t Q_t = w S_t + F(Q_t) = costs_t,  so  T_t = T_0 for every t;

and it hires toward S* = A / h (`mechanisms.staff_target`, h service hours per FTE) by the
share k of the gap each quarter (`mechanisms.hire_or_lay_off`, cash never binding):

    S_t = S* - (S* - S_0) (1 - k)^t  ->  S*.

With a margin m the price is c_t (1 + m), so the treasury grows by exactly m x costs_t a
quarter instead.  The model runs its whole schedule (allocation with its logit and rationing rounds, prices,
accounts, workforce, practices, strategy, exits, entries) and must follow both paths.
"""


import pytest

from simulation import TerritoryModel, load_scenario
from simulation.params import GROUPS

from .conftest import SCENARIOS

QUARTERS = 80


@pytest.fixture(scope="module", params=[0.0, 0.05], ids=["no-margin", "margin"])
def lone_organisation(request):
    margin = request.param
    scenario = load_scenario(SCENARIOS / "smoke.toml", {
        "regime.kind": "administrative",
        "steps": QUARTERS,
        "territory.organisations": 3,  # the least the schema allows; two are removed below
        "territory.municipalities": 1,
        "territory.service_firms": 0,
        "territory.local_employers": 0,
        "territory.insertion_enterprise_share": 0.0,
        "territory.initial_ties_per_organisation": 0.0,
        "territory.initial_need_coverage": 0.2,  # capacity covers 20 % of need: demand exceeds capacity
        "organisation.volunteer_ratio": 0.0,
        "organisation.volunteer_base_fte": 0.0,
        "organisation.price_margin": margin,
        "organisation.initial_treasury_quarters": 20.0,  # cash never limits hiring
        "demand.paying_share": {g: 1.0 for g in GROUPS},  # no public hours
        "demand.need_growth_per_quarter": 0.0,
        "funding.public_budget_share_of_costs": 0.0,
        "funding.entry_rate": 0.0,
        "cooperation.spillover_max": 0.0,
        "strategy.policy": "independent",
    })
    model = TerritoryModel(scenario, rng=3)
    # Keep the organisation whose sector's need is largest against its capacity.
    op = scenario.organisation
    orgs = model.organisations()

    def need_hours(o):
        return model.need_scale * float(model.territory.need_profile[:, :, o.sector].sum())

    keep = max(orgs, key=lambda o: need_hours(o) / o.capacity_hours(op))
    for o in orgs:
        if o is not keep:
            model.remove_provider(o)
    asked_hours = need_hours(keep)
    s_star = asked_hours / op.service_hours_per_fte_quarter  # h: no insertion staff, productivity 1
    s0, t0 = keep.staff_fte, keep.treasury_eur
    staff, treasury, costs = [], [], []
    for _ in range(QUARTERS):
        model.step()
        staff.append(keep.staff_fte)
        treasury.append(keep.treasury_eur)
        costs.append(keep.ledger.costs_eur)
    return {"model": model, "org": keep, "s_star": s_star, "s0": s0, "t0": t0, "staff": staff, "treasury": treasury,
            "costs": costs, "k": op.hiring_adjustment, "asked": asked_hours, "margin": margin}


def test_preconditions_of_the_limit(lone_organisation):
    d = lone_organisation
    assert d["model"].organisations() == [d["org"]]  # alone, and it never closes
    assert d["s0"] < d["s_star"]  # demand exceeds capacity from the start
    assert d["org"].volunteers_fte == 0 and d["org"].insertion_fte == 0


def test_employment_follows_the_closed_form_path_to_the_steady_state(lone_organisation):
    d = lone_organisation
    s_star, s0, k = d["s_star"], d["s0"], d["k"]
    for t, s in enumerate(d["staff"], start=1):
        assert s == pytest.approx(s_star - (s_star - s0) * (1 - k) ** t, rel=1e-9)
    # After 80 quarters the gap is (1 - k)^80 ~ 1e-10 of the first one: the steady state.
    assert d["staff"][-1] == pytest.approx(s_star, rel=1e-8)
    # The model's own employment metric is this organisation's staff.
    assert d["model"].timeseries()["ess_employment_fte"].iloc[-1] == d["staff"][-1]


def test_treasury_moves_by_exactly_the_margin_times_costs(lone_organisation):
    d = lone_organisation
    before = d["t0"]
    for after, cost in zip(d["treasury"], d["costs"], strict=True):
        assert after - before == pytest.approx(d["margin"] * cost, rel=1e-9, abs=1e-6)
        before = after
    if d["margin"] == 0:  # the steady state of the treasury is its initial value
        assert d["treasury"][-1] == pytest.approx(d["t0"], rel=1e-12)
    led = d["org"].ledger
    assert led.revenue_eur == pytest.approx((1 + d["margin"]) * led.costs_eur, rel=1e-12)
    assert led.revenue_eur == led.sales_eur  # every euro from beneficiaries
    # It serves its whole capacity, which tends to the hours asked.
    assert d["org"].served_hours == pytest.approx(d["asked"], rel=1e-9)
