"""Hand-computed cases of the regimes' money channels, on tiny hand-made territories."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from simulation import TerritoryModel
from simulation.organisations import LedgerView
from simulation.params import AdministrativeRegime, CompetitiveRegime, OrganisationParams
from simulation.regimes import Administrative, TenderBook
from simulation.state import ProviderState, column_property

from .conftest import smoke

_STATE = ProviderState()  # the fake providers' numeric state, in columns as a real provider's


class FakeProvider:
    """A provider with hand-set bid price and capacity; its numeric state lives in the
    columns of ``_STATE`` (simulation.state), as a real provider's does in its model's.
    Its staff gives it the capacity at default productivity (350 hours a quarter per FTE,
    no volunteers, no insertion posts): what the regimes' array forms read from the columns."""

    accredited_from = column_property("accredited_from")
    norm_level = column_property("norm_level")
    technicisation = column_property("technicisation")
    municipality = column_property("municipality")
    treasury_eur = column_property("treasury_eur")
    ledger = property(lambda self: LedgerView(self._cols, self._row))

    def __init__(self, uid, *, unit_cost, technicisation=0.5, municipality=0, is_ess=True, capacity=1000.0, treasury=1e6):
        self._cols, self._row = _STATE.cols, _STATE.new_row()
        self._cols["ess"][self._row] = is_ess
        self.unique_id = uid
        self._unit_cost = unit_cost
        self.technicisation = technicisation
        self.municipality = municipality
        self.is_ess = is_ess
        self.alive = True
        self.accredited_from = 0
        self.norm_level = 0.0
        self._capacity = capacity
        self.treasury_eur = treasury
        self.ptce = None
        for name, value in (("staff_fte", capacity / OrganisationParams().service_hours_per_fte_quarter), ("productivity", 1.0),
                            ("supply_cost_multiplier", 1.0), ("outside_supply_share", 1.0)):
            self._cols[name][self._row] = value

    def bid_price(self, op):
        return self._unit_cost

    def unit_cost_eur(self, op):
        return self._unit_cost

    def capacity_hours(self, op):
        return self._capacity


def fake_model(providers, distance_km=((0.0, 50.0), (50.0, 0.0)), public_hours=100.0, quarter=0):
    config = SimpleNamespace(organisation=OrganisationParams(), demand=SimpleNamespace(distance_decay_km=10.0))
    by_id = np.full(max(p.unique_id for p in providers) + 1, -1)
    by_id[[p.unique_id for p in providers]] = [p._row for p in providers]
    return SimpleNamespace(
        config=config, quarter=quarter, territory=SimpleNamespace(distance_km=np.array(distance_km)),
        providers=lambda sector=None: list(providers), lots=lambda: [(0, 0)],
        public_hours_by_lot=lambda: {(0, 0): public_hours}, init_rng=np.random.default_rng(0),
        provider_by_id={p.unique_id: p for p in providers},
        organisations=lambda: [p for p in providers if p.is_ess],
        provider_state=_STATE, organisation_rows=lambda: np.array([p._row for p in providers if p.is_ess], dtype=np.int64),
        row_by_id=lambda: by_id, provider_ids=lambda: np.array([p.unique_id for p in providers], dtype=np.int64),
        provider_rows=lambda: np.array([p._row for p in providers], dtype=np.int64),
        provider_is_ess=lambda: np.array([p.is_ess for p in providers]),
        organisation_ids=lambda: np.array([p.unique_id for p in providers if p.is_ess], dtype=np.int64),
    )


def test_tender_award_is_the_meat_winner_and_bids_cost():
    # Both in the lot's municipality (proximity 1). Price weight 0.6.
    # cheap: 0.6 x 1 + 0.4 x (0.5 (0.2 + 1) / 0.5 (0.9 + 1)) = 0.6 + 0.4 x 0.6316 = 0.8526
    # good:  0.6 x 20/25 + 0.4 x 1 = 0.88  -> the better, dearer bid wins.
    cheap = FakeProvider(1, unit_cost=20.0, technicisation=0.2)
    good = FakeProvider(2, unit_cost=25.0, technicisation=0.9, is_ess=False)
    model = fake_model([cheap, good], distance_km=((0.0,),))
    book = TenderBook(contract_quarters=12, price_weight=0.6, bid_cost_eur=3000.0, bid_radius_km=25.0, norm_technicisation=0.7)
    book.initialize(model)
    book.run_calls(model, envelope_eur=2000.0)
    contract = book.contracts[(0, 0)]
    assert contract.winner is good and contract.price_eur_per_hour == 25.0
    assert cheap.ledger.bid_costs_eur == good.ledger.bid_costs_eur == 3000.0
    # The envelope pays 2000 / 25 = 80 hours; the winner must meet the specifications.
    [(lot, holder, hours)] = book.routes(model)
    assert holder is good and hours == pytest.approx(80.0) and good.norm_level == 0.7
    # Paid per hour delivered, never above the lot's envelope.
    assert book.pay(model, {(0, 0): 40.0}) == pytest.approx(1000.0)
    assert book.pay(model, {(0, 0): 500.0}) == pytest.approx(2000.0)


def test_tender_price_only_picks_the_cheapest_and_far_providers_do_not_bid():
    near_cheap = FakeProvider(1, unit_cost=20.0, technicisation=0.1)
    near_dear = FakeProvider(2, unit_cost=30.0, technicisation=1.0)
    far = FakeProvider(3, unit_cost=1.0, municipality=1)
    model = fake_model([near_cheap, near_dear, far])
    book = TenderBook(12, price_weight=1.0, bid_cost_eur=100.0, bid_radius_km=25.0)
    book.initialize(model)
    book.run_calls(model, 1000.0)
    assert book.contracts[(0, 0)].winner is near_cheap
    assert far.ledger.bid_costs_eur == 0.0


def test_small_or_broke_providers_do_not_bid():
    tiny = FakeProvider(1, unit_cost=1.0, capacity=5.0)  # < 10 % of the lot's 100 hours
    broke = FakeProvider(2, unit_cost=1.0, treasury=10.0)
    ok = FakeProvider(3, unit_cost=50.0)
    model = fake_model([tiny, broke, ok], distance_km=((0.0,),))
    book = TenderBook(12, price_weight=1.0, bid_cost_eur=100.0, bid_radius_km=25.0)
    book.initialize(model)
    book.run_calls(model, 1000.0)
    assert book.contracts[(0, 0)].winner is ok


def test_administrative_tariff_is_scaled_to_its_envelope():
    a = FakeProvider(1, unit_cost=30.0)
    b = FakeProvider(2, unit_cost=30.0)
    late = FakeProvider(3, unit_cost=30.0)
    late.accredited_from = 5  # not yet accredited: not paid
    model = fake_model([a, b, late])
    regime = Administrative(AdministrativeRegime(grant_share=0.5))
    regime.fund(model, budget_eur=3000.0)
    # Grants: 1500 shared by accredited capacity (1000 h each) -> 750 each.
    assert a.ledger.subsidy_eur == pytest.approx(750.0) and late.ledger.subsidy_eur == 0.0
    # Tariff: the accredited providers' mean unit cost, c = w / h + f0 Q**beta / Q with
    # Q = 1000 h, h = 350 h per FTE: 9000 / 350 + 25 x 1000**-0.2 = 25.714 + 6.280.
    assert regime.tariff_eur_per_hour == pytest.approx(31.994, abs=1e-3)
    # Claims 32 x (40 + 60) = 3200 > envelope 1500: everybody paid 1500 / 3200 of the tariff.
    spent = regime.pay_for_service(model, {1: 40.0, 2: 60.0, 3: 100.0}, {})
    assert spent == pytest.approx(1500.0)
    assert a.ledger.public_order_eur == pytest.approx(600.0)
    assert b.ledger.public_order_eur == pytest.approx(900.0)
    assert late.ledger.public_order_eur == 0.0
    # Accreditation imposes the compliance norms.
    assert a.norm_level == 0.6 and late.norm_level == 0.0


def test_competitive_regime_lets_firms_win_public_orders():
    model = TerritoryModel(smoke("competitive", **{"territory.service_firms": 6}), rng=3).run(12)
    winners = [c.winner for c in model.regime.tenders.contracts.values()]
    assert winners and any(w.is_ess for w in winners)
    assert isinstance(model.regime.params, CompetitiveRegime)


def test_cooperative_regime_funds_joint_projects_on_trusted_ties():
    model = TerritoryModel(smoke("cooperative", **{"territory.initial_ties_per_organisation": 6}), rng=5)
    model.step()
    projects = model.regime.projects
    assert projects, "no joint project funded"
    for a, b, _ in projects:
        assert model.cooperation.has_edge(a, b)
        assert model.provider_by_id[a].is_ess and model.provider_by_id[b].is_ess
    # A funded project's tie gains trust.
    a, b, _ = projects[0]
    before = model.cooperation.edges[a, b]["trust"]
    model.step()
    assert any((x, y) == (a, b) for x, y, _ in model.regime.projects), "a project runs several quarters"
    assert model.cooperation.edges[a, b]["trust"] > before


def test_budget_cut_lowers_public_spending_in_every_regime():
    from simulation.params import BudgetCut

    for regime in ("administrative", "competitive", "cooperative"):
        sc = smoke(regime)
        cut = sc.model_copy(update={"shocks": [BudgetCut(share=0.5, start=4, duration=4, recovery_quarters=0)]})
        base = TerritoryModel(sc, rng=2).run().timeseries()
        shocked = TerritoryModel(cut, rng=2).run().timeseries()
        window = (base["step"] >= 5) & (base["step"] <= 8)
        assert (shocked.loc[window, "public_spend_eur"] < base.loc[window, "public_spend_eur"]).all(), regime
        # Before the cut both runs are identical (common random numbers).
        assert shocked.iloc[:4].equals(base.iloc[:4])


def test_a_joint_project_ends_when_its_tie_is_dropped():
    # Once a defect: a running project whose tie update_network had dropped was still
    # funded, and fund_joint_projects read net.edges[a, b] of the missing tie (KeyError).
    from simulation import cooperation as coop

    model = TerritoryModel(smoke("cooperative", **{"territory.initial_ties_per_organisation": 6}), rng=5)
    model.step()
    net, regime = model.cooperation, model.regime
    assert len(regime.projects) >= 2, "the situation needs two running projects"
    (a, b, _), (c, d, _) = regime.projects[:2]
    # The first project's tie falls below the floor this quarter (no successful cooperation:
    # a partner in deficit); the second's keeps its trust well above.
    net.edges[a, b]["trust"] = 0.0
    model.provider_by_id[a].last_result_eur = -1.0
    net.edges[c, d]["trust"] = 1.0
    coop.update_network(model)
    assert not net.has_edge(a, b) and net.has_edge(c, d)
    assert (a, b) not in {(x, y) for x, y, _ in regime.projects}, "a project outlived its tie"
    assert (c, d) in {(x, y) for x, y, _ in regime.projects}, "a project whose tie stays was ended"
    model.step()  # funding reads the tie of every running project
    for x, y, _ in regime.projects:
        assert net.has_edge(x, y)
    assert (a, b) not in {(x, y) for x, y, _ in regime.projects}  # no tie: not a candidate either


def test_entry_support_never_pays_a_negative_subsidy_once_the_agreement_envelope_is_spent():
    """Once the agreement envelope was spent on earlier entrants, envelope - spent could be
    -4e-12 of rounding: a later entrant got a negative subsidy, hence negative funded hours,
    and the allocation divided 0 by 0 (NaN unmet, then Poisson raised 'lam value too large').
    Reproduced by a review on a small cooperative territory after the budget cut."""
    from simulation import load_scenario
    from simulation.model import TerritoryModel as Model

    scenario = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "compound.toml", {
        "regime.kind": "cooperative", "strategy.policy": "cooperate", "cooperation.trust_decay_per_quarter": 0.05,
        "territory.organisations": 8, "steps": 50})
    model = Model(scenario, rng=2)
    for _ in range(50):
        model.step()  # raised ValueError at quarter 44
        rows = model.provider_rows()
        assert (model.provider_state.cols["ledger_subsidy_eur"][rows] >= 0).all()
        assert np.isfinite(model.unmet).all()
