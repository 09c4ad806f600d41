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
