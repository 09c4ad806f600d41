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


def _snapshot(provs, names):
    return [{k: getattr(p, k) for k in names} for p in provs]


def _restore(provs, snap):
    for p, state in zip(provs, snap, strict=True):
        for k, v in state.items():
            setattr(p, k, v)


def test_workforce_and_practices_over_arrays_equal_the_methods_bit_for_bit():
    """adjust_workforce_rows / update_practices_rows against the per-agent methods, on the
    states of a run (deficits, hiring, lay-offs, PTCE pathway bonuses, tender norms) plus
    edge cases: a treasury in deficit, no staff, a target below staff."""
    from simulation.organisations import adjust_workforce_rows, rows_of, update_practices_rows

    model = TerritoryModel(smoke(**{"strategy.policy": "cooperate", "steps": 8}), rng=3).run()
    fp, op = model.config.funding, model.config.organisation
    provs = model.providers()
    provs[0].treasury_eur = -12_345.0  # lays off the deficit's worth of wages
    provs[1].staff_fte = 0.0
    provs[2].asked_hours = 0.0  # sheds staff toward a target of 0
    provs[3].norm_level = 0.9  # a tender's norm pushes technicisation
    assert any(p.pathway_bonus > 0 for p in provs) or any(p.ptce is not None for p in provs)
    workforce = ("staff_fte", "insertion_exits_to_jobs")
    practices = ("technicisation", "governance", "volunteers_fte")
    before = _snapshot(provs, workforce + practices)
    for p in provs:
        p.adjust_workforce(op, fp.insertion_exit_hazard_per_quarter, fp.insertion_exit_to_job_rate)
    expected = _snapshot(provs, workforce)
    _restore(provs, before)
    adjust_workforce_rows(model.provider_state.cols, rows_of(provs), op, fp.insertion_exit_hazard_per_quarter, fp.insertion_exit_to_job_rate)
    assert _snapshot(provs, workforce) == expected
    assert expected[0]["staff_fte"] < before[0]["staff_fte"] and expected[2]["staff_fte"] < before[2]["staff_fte"]
    orgs = [p for p in provs if p.is_ess]
    _restore(provs, before)
    for o in orgs:
        o.update_practices(op)
    expected = _snapshot(orgs, practices)
    _restore(provs, before)
    update_practices_rows(model.provider_state.cols, rows_of(orgs), op)
    assert _snapshot(orgs, practices) == expected
