"""Vectorised forms of the agents' mechanisms give exactly what the per-agent methods give.

The step computes some per-agent quantities over arrays of all agents at once (for speed,
issue 9); the per-agent methods stay the readable reference.  These tests compare the two
bit for bit on states a run reaches and on edge cases (no staff, pooled premises, a
supply disruption).
"""

import numpy as np

from simulation import TerritoryModel
from simulation.organisations import Organisation, cost_sheet

from .conftest import smoke


def test_cost_sheet_equals_the_methods_bit_for_bit():
    model = TerritoryModel(smoke(**{"strategy.policy": "cooperate", "steps": 8}), rng=2).run()
    op = model.config.organisation
    provs = model.providers()
    # Edge cases beside the run's providers: no staff, no capacity, a supply disruption.
    empty = Organisation(model, sector=0, municipality=0, staff_fte=0.0, volunteers_fte=0.0)
    volunteers_only = Organisation(model, sector=1, municipality=0, staff_fte=0.0, volunteers_fte=3.0)
    provs += [empty, volunteers_only]
    rng = np.random.default_rng(0)
    for p in provs[::3]:
        p.supply_cost_multiplier = float(rng.uniform(1.0, 2.0))
        p.outside_supply_share = float(rng.uniform(0.0, 1.0))
    assert any(p.pool_share > 0 and p.ptce is not None for p in provs), "the run should have PTCE members pooling premises"
    sheet = cost_sheet(provs, op)
    for key in ("capacity_hours", "fixed_cost_eur", "supply_surcharge_eur", "unit_cost_eur"):
        expected = np.array([getattr(p, key)(op) for p in provs])
        np.testing.assert_array_equal(sheet[key], expected, err_msg=key)


def test_network_metrics_equal_networkx_even_with_a_self_loop():
    import networkx as nx

    from simulation.metrics import network_clustering, network_density

    model = TerritoryModel(smoke(**{"strategy.policy": "cooperate", "steps": 6}), rng=4).run()
    g = model.cooperation
    assert g.number_of_edges() > 0
    assert network_density(model) == nx.density(g)
    assert abs(network_clustering(model) - nx.average_clustering(g)) < 1e-12  # networkx sums in another order
    u = next(iter(g))
    g.add_edge(u, u, trust=0.5)  # no mechanism makes one; the metrics must still count as networkx does
    assert network_density(model) == nx.density(g)
    assert abs(network_clustering(model) - nx.average_clustering(g)) < 1e-12


def test_funded_public_hours_all_equals_the_method_under_every_regime():
    for regime in ("administrative", "competitive", "cooperative"):
        model = TerritoryModel(smoke(regime, steps=5), rng=5).run()
        model.open_quarter()
        model.fund_public_services()  # this quarter's subsidies and (administrative) tariff
        provs = model.providers()
        assert any(p.ledger.subsidy_eur > 0 for p in provs)
        c = cost_sheet(provs, model.config.organisation)["unit_cost_eur"]
        c[::4] = 0.0  # a zero unit cost funds no hours
        expected = np.array([model.regime.funded_public_hours(model, p, float(x)) for p, x in zip(provs, c, strict=True)])
        np.testing.assert_array_equal(model.regime.funded_public_hours_all(model, provs, c), expected, err_msg=regime)


def test_update_network_equals_a_tie_by_tie_reference():
    import copy

    from simulation import cooperation as coop
    from simulation import mechanisms as mech

    model = TerritoryModel(smoke(**{"strategy.policy": "cooperate", "steps": 6}), rng=6).run()
    cp = model.config.cooperation
    net = model.cooperation
    assert any(p.ptce is not None for p in model.providers()), "the run should have PTCE members"
    u = next(iter(net))
    net.add_edge(u, u, trust=0.5)  # no mechanism makes one: counted as networkx counts it
    for _a, _b, d in list(net.edges(data=True))[::5]:
        d["trust"] = cp.tie_drop_trust  # some ties fall below the threshold this quarter
    # Reference: tie by tie, as the mechanism reads (networkx's views).
    ref = copy.deepcopy(net)
    hub_ok = {uid: a.ptce for uid, a in model.agent_by_id.items() if a.ptce is not None and a.last_result_eur >= 0}
    drop = []
    for a, b, d in ref.edges(data=True):
        ok = hub_ok.get(a) is not None and hub_ok.get(a) is hub_ok.get(b)
        d["trust"] = min(1.0, d["trust"] + cp.trust_gain_per_quarter if ok else d["trust"] - cp.trust_decay_per_quarter)
        if d["trust"] < cp.tie_drop_trust:
            drop.append((a, b))
    ref.remove_edges_from(drop)
    assert drop, "some ties should drop"
    coop.update_network(model)
    assert sorted(map(sorted, net.edges())) == sorted(map(sorted, ref.edges()))
    assert all(net.edges[a, b]["trust"] == d["trust"] for a, b, d in ref.edges(data=True))
    for p in model.providers():
        strength = sum(d["trust"] for d in ref.adj[p.unique_id].values())
        assert p.productivity == mech.spillover_multiplier(strength, cp.spillover_max, cp.spillover_trust_scale)


def test_voice_and_worker_continuity_over_arrays_equal_the_scalar_forms_bit_for_bit():
    from simulation import mechanisms as mech

    rng = np.random.default_rng(3)
    volunteers = np.r_[0.0, 0.0, 2.0, rng.uniform(0, 30, 40)]
    staff = np.r_[0.0, 5.0, 0.0, rng.uniform(0, 200, 40)]  # no one, staff only, volunteers only, a run's range
    governance = rng.uniform(0, 1, len(staff))
    expected_voice = [mech.voice(v, e, g) for v, e, g in zip(volunteers.tolist(), staff.tolist(), governance.tolist(), strict=True)]
    np.testing.assert_array_equal(mech.voice_all(volunteers, staff, governance), expected_voice)
    for team, eta in ((10.0, 0.3), (25.0, 1.7), (10.0, 0.0)):
        expected = [mech.worker_continuity(e, team, eta) for e in staff.tolist()]
        np.testing.assert_array_equal(mech.worker_continuity_all(staff, team, eta), expected)


def _markets_case(rng, sizes, origins, groups):
    n = int(sum(sizes))
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    demand = rng.uniform(0.0, 200.0, (len(sizes), origins * groups))
    demand[rng.random(demand.shape) < 0.2] = 0.0
    utility = rng.normal(0.0, 1.0, (origins, n))
    capacity = rng.uniform(0.0, 150.0, n)
    capacity[rng.random(n) < 0.2] = 0.0  # no capacity: out of the logit (ln 0) and never open
    mask = rng.random(n) < 0.8
    return demand, utility, capacity, bounds, mask


def test_allocate_demand_markets_equals_allocate_demand_market_by_market_bit_for_bit():
    """The sectors' allocation at once (mechanisms.allocate_demand_markets) gives each market
    exactly what allocate_demand gives it alone, with cells of one origin sharing a utility
    row: markets of one provider (column sums), a market with no demand or no open provider
    (stopped while others go on), temperature 0 (the arg-max path) and overflow."""
    from simulation import mechanisms as mech

    rng = np.random.default_rng(4)
    cases = [([1, 5, 40, 2], 0.3, 1.2), ([376, 147, 155], 0.3, 1.2), ([7], 0.3, 0.0), ([3, 1, 130, 9], 0.05, 1.2), ([4, 6], 0.0, 1.2), ([5, 5], 1e-300, 0.0)]
    for sizes, tau, alpha in cases:
        for rounds in (1, 3, 6):
            origins, groups = 8, 4  # as the model: numpy sums 8 or more items pairwise
            demand, utility, capacity, bounds, mask = _markets_case(rng, sizes, origins, groups)
            demand[-1] = 0.0  # a market with nothing to place stops at once
            capacity[: sizes[0]] = 0.0 if len(sizes) > 2 else capacity[: sizes[0]]  # one without capacity
            for m, u_layout in ((mask, utility), (None, np.asfortranarray(utility))):  # any memory layout
                flows, unmet, asked = mech.allocate_demand_markets(demand, u_layout, capacity, tau, bounds, m, rounds, capacity, alpha)
                for k in range(len(sizes)):
                    a, b = int(bounds[k]), int(bounds[k + 1])
                    cell_mask = None if m is None else np.broadcast_to(m[a:b], (origins * groups, b - a))
                    f, u, ask = mech.allocate_demand(demand[k], np.repeat(utility[:, a:b], groups, axis=0), capacity[a:b], tau,
                                                     cell_mask, rounds, capacity[a:b], alpha)
                    np.testing.assert_array_equal(flows[:, a:b], f)
                    np.testing.assert_array_equal(unmet[k], u)
                    np.testing.assert_array_equal(asked[a:b], ask)
                    np.testing.assert_allclose(f.sum(axis=1) + u, demand[k], rtol=1e-12, atol=1e-9)  # conservation
                    assert (f.sum(axis=0) <= capacity[a:b] + 1e-9).all()


def test_set_prices_equals_the_methods_bit_for_bit():
    """TerritoryModel.set_prices over arrays gives each provider the price of its own methods,
    p = max(0, c (1 + m) - d) (1 + s), m = Provider.margin, d = Provider.fee_discount_eur."""
    model = TerritoryModel(smoke("competitive", **{"organisation.gift_pass_through": 0.8, "steps": 6}), rng=3).run()
    op, aid = model.config.organisation, model.config.funding.insertion_aid_eur_per_fte_quarter
    model.open_quarter()
    model.fund_public_services()
    provs = model.providers()
    provs[0].solidarity_surcharge = 0.1
    assert any(not p.is_ess for p in provs) and any(p.is_ess and p.volunteers_fte > 0 for p in provs)
    model.set_prices()
    checked = 0
    for p in provs:
        row = model.cost_row[p.unique_id]
        c, q = float(model.costs["unit_cost_eur"][row]), float(model.costs["capacity_hours"][row])
        expected = max(c * (1 + p.margin(op)) - p.fee_discount_eur(op, aid, q), 0.0) * (1 + p.solidarity_surcharge)
        assert p.price_eur_per_hour == expected, p
        checked += p.fee_discount_eur(op, aid, q) > 0
    assert checked > 0
