"""Vectorised forms of the agents' mechanisms give exactly what the per-agent methods give.

The step computes some per-agent quantities over arrays of all agents at once (for speed,
issue 9); the per-agent methods stay the readable reference.  These tests compare the two
bit for bit on states a run reaches and on edge cases (no staff, pooled premises, a
supply disruption).
"""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from simulation import TerritoryModel
from simulation import mechanisms as mech
from simulation.metrics import weighted_mean
from simulation.organisations import Ledger, Organisation, cost_sheet, fixed_costs

from .conftest import smoke


@pytest.mark.parametrize(("edge_cases", "shocked"), [(True, True), (False, False), (False, True), (True, False)])
def test_cost_sheet_equals_the_methods_bit_for_bit(edge_cases, shocked):
    """Each branch of cost_sheet: with providers without staff or capacity and without
    (every provider staffed: the guards' first branches at once), with and without a
    supply disruption (no multiplier above 1: no surcharge products)."""
    model = TerritoryModel(smoke(**{"strategy.policy": "cooperate", "steps": 8}), rng=2).run()
    op = model.config.organisation
    provs = model.providers()
    if edge_cases:  # beside the run's providers: no staff, no capacity
        empty = Organisation(model, sector=0, municipality=0, staff_fte=0.0, volunteers_fte=0.0)
        volunteers_only = Organisation(model, sector=1, municipality=0, staff_fte=0.0, volunteers_fte=3.0)
        provs += [empty, volunteers_only]
    else:
        assert all(p.staff_fte > 0 and p.capacity_hours(op) > 0 for p in provs)
    if shocked:  # a supply disruption
        rng = np.random.default_rng(0)
        for p in provs[::3]:
            p.supply_cost_multiplier = float(rng.uniform(1.0, 2.0))
            p.outside_supply_share = float(rng.uniform(0.0, 1.0))
    else:
        assert all(p.supply_cost_multiplier == 1.0 for p in provs)
    assert any(p.pool_share > 0 and p.ptce is not None for p in provs), "the run should have PTCE members pooling premises"
    sheet = cost_sheet(provs, op)
    for key in ("capacity_hours", "fixed_cost_eur", "supply_surcharge_eur", "unit_cost_eur"):
        expected = np.array([getattr(p, key)(op) for p in provs])
        np.testing.assert_array_equal(sheet[key], expected, err_msg=key)


def test_fixed_costs_over_arrays_equal_the_scalar_form_bit_for_bit():
    q = np.concatenate(([0.0, -5.0, 1e-300, 1.0, 7.5e6], np.random.default_rng(1).lognormal(7.0, 2.0, 500)))
    for scale, exponent in ((25.0, 0.8), (3000.0, 0.37), (1.0, 1.0)):
        for values in (q, q[q > 0][::2]):  # with zeros and below; all positive, a strided view
            expected = [mech.fixed_cost(x, scale, exponent) for x in values.tolist()]
            np.testing.assert_array_equal(fixed_costs(values, scale, exponent), expected)


def test_cost_sheet_reuses_fixed_costs_only_for_unchanged_capacities():
    """The memo of f0 Q**beta (organisations.FixedCostMemo) gives the methods' bits after
    capacities change, for new providers, and under other cost parameters."""
    model = TerritoryModel(smoke(steps=4), rng=3).run()
    op = model.config.organisation
    provs = model.providers()
    for p in provs[::5]:
        p.staff_fte *= 1.5
    provs.append(Organisation(model, sector=0, municipality=0, staff_fte=2.0))
    for params in (op, op.model_copy(update={"fixed_cost_exponent": 0.7}), op):
        for _ in range(2):  # the second sheet reuses what the first computed
            sheet = cost_sheet(provs, params)
            np.testing.assert_array_equal(sheet["fixed_cost_eur"], [p.fixed_cost_eur(params) for p in provs])
            np.testing.assert_array_equal(sheet["unit_cost_eur"], [p.unit_cost_eur(params) for p in provs])


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


def test_triangle_counts_bit_table_equal_sparse_products_and_networkx():
    """Both ways of counting triangles give networkx's counts, node by node, on random
    graphs with isolated nodes, cliques and sizes across 64-bit word boundaries."""
    import networkx as nx

    from simulation.metrics import _triangles_bitset, _triangles_sparse

    rng = np.random.default_rng(3)
    for n, p in ((1, 0.0), (5, 1.0), (63, 0.2), (64, 0.3), (65, 0.1), (200, 0.05), (300, 0.02)):
        g = nx.gnp_random_graph(n, p, seed=int(rng.integers(1 << 30)))
        g.add_edges_from((a, b) for a in range(min(n, 12)) for b in range(a))  # a PTCE-like clique
        ties = np.array(list(g.edges()), dtype=np.int64).reshape(-1, 2)
        pu, pv = ties[:, 0], ties[:, 1]
        k = np.bincount(pu, minlength=n) + np.bincount(pv, minlength=n)
        expected = np.array([nx.triangles(g)[i] for i in range(n)], dtype=float)
        np.testing.assert_array_equal(_triangles_bitset(n, pu, pv), expected)
        np.testing.assert_array_equal(_triangles_sparse(n, pu, pv, k), expected)
        assert n < 12 or expected.sum() >= 3 * 220  # the clique's 220 triangles, 3 nodes each


def test_triangle_bit_table_with_many_leaves_and_the_spare_column_at_word_edges():
    """Nodes of degree 1 share the bit table's spare column: a node with many of them adds
    that bit many times (carries), which must not reach a real column, whichever place
    the spare column takes in its word (the last bit, the first of a new word...)."""
    import networkx as nx

    from simulation.metrics import _triangles_bitset

    for core in (3, 62, 63, 64, 65, 127, 128):  # nodes of degree >= 2: the spare column's index
        g = nx.cycle_graph(core)  # every node of degree 2 (a triangle when core = 3)
        g.add_edges_from((0, i) for i in range(2, min(core, 12)))  # chords: triangles at node 0
        leaf = core
        for hub, leaves in ((0, 201), (1, 7), (core // 2, 6)):  # leaves (degree 1): carries, odd counts
            g.add_edges_from((hub, j) for j in range(leaf, leaf + leaves))
            leaf += leaves
        nodes = list(g)
        position = {x: i for i, x in enumerate(nodes)}
        ties = np.array([(position[a], position[b]) for a, b in g.edges()], dtype=np.int64)
        expected = np.array([nx.triangles(g)[x] for x in nodes], dtype=float)
        assert sum(d >= 2 for _, d in g.degree()) == core
        np.testing.assert_array_equal(_triangles_bitset(len(nodes), ties[:, 0], ties[:, 1]), expected)


def test_metric_sums_are_pythons_sum_of_the_list():
    """metrics._sum (Python's sum over a memoryview) gives sum(values.tolist()) bit for bit,
    where compensation matters, with signed zeros, infinities and on gathered columns."""
    from simulation.metrics import _sum

    rng = np.random.default_rng(7)
    cases = [np.zeros(0), np.array([-0.0]), np.array([-0.0, -0.0]), np.array([1e16, 1.0, -1e16, 3.0]),
             np.array([1.0, np.inf, 2.0]), np.array([np.inf, -np.inf]), rng.lognormal(3.0, 4.0, 5000),
             rng.normal(0.0, 1e8, 3000), rng.lognormal(0.0, 1.0, 4000)[rng.permutation(4000)[:1000]]]
    for values in cases:
        expected = float(sum(values.tolist()))
        got = _sum(values)
        assert type(got) is float
        assert np.array_equal(np.array([got]), np.array([expected]), equal_nan=True) and np.signbit(got) == np.signbit(expected)


def test_hub_members_equal_the_hubs_members_read_one_by_one():
    """metrics._hub_members (the model's HubTable, shared by the quarter's phases) gives the
    hubs' ESS members' rows and each hub's slice as a loop over the hubs' member agents, and
    its ESS members are the organisations whose ``ptce`` is set, quarter after quarter of a
    run where hubs form, gain and lose members and close."""
    from simulation.metrics import _hub_members

    model = TerritoryModel(smoke(**{"strategy.policy": "cooperate", "steps": 10}), rng=8)
    seen_firm = False
    for _ in range(10):
        model.step()
        hubs = model.ptces()
        rows, bounds, ids = _hub_members(model)
        ess_rows = [[m._row for m in hub.members.values() if m.is_ess] for hub in hubs]
        assert rows.tolist() == [r for hub_rows in ess_rows for r in hub_rows]
        assert bounds == np.concatenate(([0], np.cumsum([len(r) for r in ess_rows], dtype=np.int64))).tolist()
        assert ids.tolist() == [uid for hub in hubs for uid in hub.members]
        members = {int(r) for r in rows}
        assert members == {o._row for o in model.organisations() if o.ptce is not None}
        assert len(members) == len(rows)
        seen_firm |= any(not m.is_ess for hub in hubs for m in hub.members.values())
    assert model.ptces() and seen_firm, "the run should have PTCEs with firms among their members"


def test_network_clustering_is_the_same_above_the_bit_table_size(monkeypatch):
    """Large networks take the sparse products: same value, bit for bit, on a model's network."""
    from simulation import metrics

    model = TerritoryModel(smoke(**{"strategy.policy": "cooperate", "steps": 6}), rng=4).run()
    small = metrics.network_clustering(model)
    monkeypatch.setattr(metrics, "BITSET_MAX_NODES", 0)
    assert metrics.network_clustering(model) == small > 0


def test_funded_public_hours_rows_equals_the_method_under_every_regime():
    for regime in ("administrative", "competitive", "cooperative"):
        model = TerritoryModel(smoke(regime, steps=5), rng=5).run()
        model.open_quarter()
        model.fund_public_services()  # this quarter's subsidies and (administrative) tariff
        provs = model.providers()
        assert any(p.ledger.subsidy_eur > 0 for p in provs)
        c = cost_sheet(provs, model.config.organisation)["unit_cost_eur"]
        c[::4] = 0.0  # a zero unit cost funds no hours
        expected = np.array([model.regime.funded_public_hours(model, p, float(x)) for p, x in zip(provs, c, strict=True)])
        np.testing.assert_array_equal(model.regime.funded_public_hours_rows(model, model.provider_rows(), model.provider_ids(), c),
                                      expected, err_msg=regime)


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
        # numpy's exp and the ties' order of addition: equal to the last bits
        assert p.productivity == pytest.approx(mech.spillover_multiplier(strength, cp.spillover_max, cp.spillover_trust_scale), rel=1e-14)


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
    provs[4].pathway_bonus = 0.3  # a conglomerate PTCE's integration pathways
    provs[4].insertion_share = 0.5
    provs[5].asked_hours, provs[5].treasury_eur = 50 * provs[5].asked_hours + 5_000.0, 1e7  # hires
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
    assert expected[5]["staff_fte"] > before[5]["staff_fte"] and expected[4]["insertion_exits_to_jobs"] > 0
    orgs = [p for p in provs if p.is_ess]
    _restore(provs, before)
    for o in orgs:
        o.update_practices(op)
    expected = _snapshot(orgs, practices)
    _restore(provs, before)
    update_practices_rows(model.provider_state.cols, rows_of(orgs), op)
    assert _snapshot(orgs, practices) == expected


def _plain_metrics(model) -> dict:
    """The metrics that read the organisations' state, by their definitions, one pass over the
    agents each (the code before metrics.collect_row gathered the columns once)."""
    orgs = model.organisations()
    op = model.config.organisation
    provs = [p for p in model.providers() if p.served_hours > 0]
    total = sum(p.served_hours for p in provs)
    staff = np.array([o.staff_fte for o in orgs])
    sub = order = sales = gifts = 0.0
    for o in orgs:
        sub += o.ledger.subsidy_eur
        order += o.ledger.public_order_eur
        sales += o.ledger.sales_eur
        gifts += o.ledger.gifts_eur
    revenue = sum((sub, order, sales, gifts))
    rev = np.sort(np.array([o.ledger.revenue_eur for o in orgs]))[::-1]
    k = max(1, int(np.ceil(0.01 * len(rev))))
    w = np.array([o.served_hours for o in orgs])
    c = np.array([o.unit_cost_eur(op) for o in orgs])
    if w.sum() <= 0:
        w = np.array([o.capacity_hours(op) for o in orgs])
    return {
        "ess_employment_fte": float(sum(o.staff_fte for o in orgs)),
        "insertion_employment_fte": float(sum(o.insertion_fte for o in orgs)),
        "insertion_exits_to_jobs": float(sum(o.insertion_exits_to_jobs for o in orgs)),
        "volunteers_fte": float(sum(o.volunteers_fte for o in orgs)),
        "personalisation": float(sum(p.served_hours * p.personalisation for p in provs) / total) if total > 0 else 0.0,
        "services_delivered_hours": float(sum(p.served_hours for p in model.providers())),
        "technicisation": float((staff * np.array([o.technicisation for o in orgs])).sum() / staff.sum()),
        "governance": float((staff * np.array([o.governance for o in orgs])).sum() / staff.sum()),
        "subsidy_share": float(sub / revenue),
        "public_order_share": float(order / revenue),
        "sales_share": float(sales / revenue),
        "ptce_membership_share": float(sum(o.ptce is not None for o in orgs) / len(orgs)),
        "ptce_jobs_mean": float(np.mean([sum(m.staff_fte for m in h.members.values() if m.is_ess) for h in model.ptces()])),
        "top1pct_resource_share": float(rev[:k].sum() / rev.sum()),
        "unit_cost_eur": float((w * c).sum() / w.sum()),  # numpy sums, not BLAS (metrics.weighted_mean)
    }


def test_collected_row_equals_each_metric_alone_and_the_plain_definitions():
    """metrics.collect_row (what TerritoryModel.step records) gathers the organisations'
    columns once for all metrics: each value must be what the metric's function gives alone
    (no shared cache) and what its definition over the agents gives, bit for bit, including
    after numpy scalars are written into the agents' state (the columns read back plain
    floats, so Python's sum compensates as over the agents' attributes)."""
    import mesa

    from simulation.metrics import METRICS, collect_row

    model = TerritoryModel(smoke(**{"strategy.policy": "cooperate", "steps": 8}), rng=3)
    assert isinstance(model.datacollector, mesa.DataCollector)
    def check(row: dict, quarter: int) -> None:
        assert list(row) == list(METRICS)
        assert model.metric_cache is None
        assert row == {name: f(model) for name, f in METRICS.items()}, quarter
        plain = _plain_metrics(model)
        assert {name: row[name] for name in plain} == plain, quarter

    for quarter in range(8):
        model.step()
        check({name: values[-1] for name, values in model.datacollector.model_vars.items()}, quarter)
        if quarter in (3, 6):  # state a payment read from a numpy array leaves behind
            for o in model.organisations()[::3]:
                o.staff_fte = np.float64(o.staff_fte)
                o.volunteers_fte = np.float64(o.volunteers_fte)
                o.ledger.subsidy_eur = np.float64(o.ledger.subsidy_eur)
                o.served_hours = np.float64(o.served_hours)
            check(collect_row(model), quarter)
    assert model.ptces(), "the run should have PTCEs"
    assert len(model.datacollector._collection_steps) == len(model.timeseries()) == 8


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
                # A layout made once and shared by two calls (TerritoryModel.allocate_demand) gives
                # each what it gives alone, its work arrays left by the first call included.
                # Its buffers kept from call to call (mechanisms.Workspace) hold what earlier calls
                # left there: NaN here, which any value read before it is written would show.
                workspace = mech.Workspace()
                for name in ("shares", "total", "served_cells", "hours", "flows_a", "flows_b"):
                    workspace.take(name, (4, 10_000)).fill(np.nan)
                layout = mech.MarketLayout(bounds, capacity, alpha, workspace)
                spare = np.where(rng.random(len(capacity)) < 0.1, -1.0, capacity)  # a negative spare: never open
                for args, out in (((demand, utility, capacity, tau, bounds, m), "flows_a"),
                                  ((demand[::-1].copy(), utility[::-1], spare, tau, bounds, None), "flows_b")):
                    alone = mech.allocate_demand_markets(*args, rounds, capacity, alpha)
                    shared = mech.allocate_demand_markets(*args, rounds, capacity, alpha, layout, out)
                    for x, y in zip(alone, shared, strict=True):
                        np.testing.assert_array_equal(x, y)
                    for k in range(len(sizes)):  # and what allocate_demand gives each market
                        a, b = int(bounds[k]), int(bounds[k + 1])
                        market_mask = None if args[5] is None else np.broadcast_to(args[5][a:b], (origins * groups, b - a))
                        expected = mech.allocate_demand(args[0][k], np.repeat(args[1][:, a:b], groups, axis=0), args[2][a:b], tau,
                                                        market_mask, rounds, capacity[a:b], alpha)
                        for x, y in zip((alone[0][:, a:b], alone[1][k], alone[2][a:b]), expected, strict=True):
                            np.testing.assert_array_equal(x, y)
                    np.testing.assert_array_equal(layout.column_sums(alone[0]), mech.column_sums(alone[0], bounds))
    assert pickle.loads(pickle.dumps(workspace))._buffers == {}  # pickled empty
    with pytest.raises(ValueError, match="layout"):
        mech.allocate_demand_markets(demand, utility, capacity, 0.3, bounds.copy(), None, 3, capacity, alpha, layout)
    with pytest.raises(ValueError, match="own buffers"):  # the flows would be written over by the rounds
        mech.allocate_demand_markets(demand, utility, capacity, 0.3, bounds, None, 3, capacity, alpha, layout, "hours")


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
        row = model.providers().index(p)  # the cost sheet is in providers() order
        c, q = float(model.costs["unit_cost_eur"][row]), float(model.costs["capacity_hours"][row])
        expected = max(c * (1 + p.margin(op)) - p.fee_discount_eur(op, aid, q), 0.0) * (1 + p.solidarity_surcharge)
        assert p.price_eur_per_hour == expected, p
        checked += p.fee_discount_eur(op, aid, q) > 0
    assert checked > 0


def test_settlement_capacity_and_accreditation_over_columns_equal_the_methods_bit_for_bit():
    """settle_rows against Provider.book_costs + settle, capacity_rows against
    Provider.capacity_hours, Regime.accredited_rows against accredited, on the
    states of a cooperative run (PTCE cost shares, pooled premises, entrants not yet accredited)."""
    from simulation.organisations import capacity_rows, rows_of, settle_rows

    model = TerritoryModel(smoke(**{"regime.kind": "cooperative", "strategy.policy": "cooperate", "steps": 6}), rng=4).run()
    op = model.config.organisation
    provs = model.providers()
    rows = rows_of(provs)
    cols = model.provider_state.cols
    np.testing.assert_array_equal(capacity_rows(cols, rows, op), [p.capacity_hours(op) for p in provs])
    provs[0].treasury_eur = -1e7  # a provider deep in deficit
    provs[1].ledger.coordination_eur = 1234.5
    sheet = cost_sheet(provs, op, rows)
    state = ("treasury_eur", "insolvent_quarters", "last_result_eur")
    before = _snapshot(provs, state) + [p.ledger.as_dict() for p in provs]
    for p, f, s in zip(provs, sheet["fixed_cost_eur"].tolist(), sheet["supply_surcharge_eur"].tolist(), strict=True):
        p.book_costs(op, f, s)
        p.last_result_eur = p.settle()
    expected = _snapshot(provs, state) + [p.ledger.as_dict() for p in provs]
    _restore(provs, before[: len(provs)])
    for p, ledger in zip(provs, before[len(provs):], strict=True):
        p.ledger = Ledger(**ledger)
    settle_rows(cols, rows, op, sheet["fixed_cost_eur"], sheet["supply_surcharge_eur"])
    assert _snapshot(provs, state) + [p.ledger.as_dict() for p in provs] == expected
    assert expected[0]["insolvent_quarters"] >= 1
    regime, q = model.regime, model.quarter
    late = [p for p in provs if p.is_ess and p.accredited_from > q - 1]
    assert late, "the run should have entrants not yet accredited"
    np.testing.assert_array_equal(regime.accredited_rows(cols, rows, q - 1), [regime.accredited(p, q - 1) for p in provs])


@pytest.mark.parametrize("regime", ["administrative", "competitive", "cooperative"])
def test_entrants_are_accredited_after_the_delay_and_owed_support_in_the_cooperative_regime(regime):
    """regime.on_entries (a quarter's entrants at once: one column write) and on_entry (one
    entrant): accreditation from the current quarter plus the regime's delay; the start-up
    support flag only under the cooperative regime; the others' rows untouched."""
    model = TerritoryModel(smoke(regime, steps=3), rng=6).run()
    made = Organisation.create_many(model, 4, sector=np.array([0, 1, 2, 1]), municipality=1, staff_fte=1.0)
    model.register_many(made)
    before = {name: col.copy() for name, col in model.provider_state.cols.items()}
    model.regime.on_entries(model, made[:3], np.array([o._row for o in made[:3]]))
    model.regime.on_entry(model, made[3])
    expected = model.quarter + model.regime.params.accreditation_delay_quarters
    assert [o.accredited_from for o in made] == [expected] * 4
    assert [o.pending_support for o in made] == [regime == "cooperative"] * 4
    others = np.ones(len(before["accredited_from"]), dtype=bool)
    others[[o._row for o in made]] = False
    for name, col in model.provider_state.cols.items():
        np.testing.assert_array_equal(col[: len(others)][others], before[name][others], err_msg=name)


def test_entry_peers_equals_a_lot_by_lot_search():
    """TerritoryModel.entry_peers (a search over municipalities) against the search lot by
    lot it replaced, on every lot, with municipalities equally near or unreachable, then
    with a sector and then all organisations founded this quarter (not established)."""
    from simulation.params import SECTORS

    model = TerritoryModel(smoke(steps=4), rng=1).run()
    cols, rows = model.provider_state.cols, model.organisation_rows()

    def lot_by_lot(lots_m, lots_s):
        established = cols["founded_step"][rows] < model.steps
        est_ids = model.provider_ids()[model.provider_is_ess()][established].tolist()
        est_munis, est_sectors = cols["municipality"][rows[established]], cols["sector"][rows[established]]
        peers = []
        for m, s in zip(lots_m, lots_s, strict=True):
            same = np.flatnonzero(est_sectors == s)
            cand = same if len(same) else np.arange(len(est_ids))
            peers.append(est_ids[int(cand[np.argmin(model.territory.distance_km[m, est_munis[cand]])])] if len(cand) else None)
        return peers

    lots_m, lots_s = np.nonzero(np.ones((model.territory.municipalities, len(SECTORS))))
    model._rows = None  # as after the quarter's closures: entry_peers reads the roster
    from_roster = model.entry_peers(lots_m, lots_s)
    assert model._rows is None and from_roster == model.entry_peers(lots_m, lots_s) == lot_by_lot(lots_m, lots_s)
    distance = model.territory.distance_km
    for tied in (np.ones_like(distance), np.where(distance > 0, np.inf, 0.0), np.full_like(distance, np.inf)):
        object.__setattr__(model.territory, "distance_km", tied)  # municipalities equally near, unreachable
        assert model.entry_peers(lots_m, lots_s) == lot_by_lot(lots_m, lots_s)
    object.__setattr__(model.territory, "distance_km", distance)
    for o in model.organisations():
        if o.sector == 1:
            o.founded_step = model.steps
    peers = model.entry_peers(lots_m, lots_s)
    assert peers == lot_by_lot(lots_m, lots_s) and None not in peers
    for o in model.organisations():
        o.founded_step = model.steps
    assert model.entry_peers(lots_m, lots_s) == lot_by_lot(lots_m, lots_s) == [None] * len(lots_m)


def test_strategy_payoffs_hub_terms_equal_an_organisation_by_organisation_reference():
    from simulation import cooperation as coop
    from simulation.organisations import rows_of

    model = TerritoryModel(smoke(**{"strategy.policy": "cooperate", "steps": 6}), rng=4).run()
    for o in model.organisations()[::4]:
        if o.ptce is not None:
            o.ptce.remove_member(o)  # candidates beside members: they reckon with the nearest hub
    cp, op = model.config.cooperation, model.config.organisation
    orgs = sorted(model.organisations(), key=lambda o: o.unique_id)
    hubs = model.ptces()
    assert hubs and any(o.ptce is None for o in orgs) and any(o.ptce is not None for o in orgs)
    got = coop.strategy_payoffs(model, orgs)
    # Reference: each organisation's hub read from the agents, one by one (the equation of
    # the docstring, coop = saving - (1 - funded share) x coordination).
    sheet = cost_sheet(orgs, op)
    q, costs = sheet["capacity_hours"], coop.quarterly_costs_eur(orgs, op, sheet)
    dist = model.territory.distance_km
    f0, beta = op.fixed_cost_scale_eur, op.fixed_cost_exponent
    munis = model.provider_state.cols["municipality"][rows_of(orgs)].tolist()
    for i, o in enumerate(orgs):
        near = [h for h in hubs if dist[munis[i], h.seat] <= cp.ptce_radius_km]
        hub = o.ptce if o.ptce is not None else min(near, key=lambda h: (dist[munis[i], h.seat], h.unique_id), default=None)
        q_tot, size, rig = q[i] * cp.rigidity_half_size, int(cp.rigidity_half_size), 0.0
        if hub is not None:
            member = o.ptce is hub
            q_tot = hub.pool_capacity_hours + (0.0 if member else q[i])
            size, rig = hub.size + (0 if member else 1), hub.rigidity
        f = (lambda x: f0 * x**beta if x > 0 else 0.0)  # noqa: E731
        saving = cp.pooled_share_of_fixed_costs * (f(q[i]) - f(q_tot) * q[i] / max(q_tot, 1e-12)) if q_tot > 0 else 0.0
        coord = cp.animation_eur_per_member_quarter * size * (1 + cp.coordination_cost_per_rigidity * rig) / max(size, 1)
        expected = (saving - (1 - model.regime.params.animation_funded_share) * coord) / costs[i] if costs[i] > 0 and q[i] > 0 else 0.0
        assert got[i, 2] == pytest.approx(expected, rel=1e-12, abs=1e-15), o.unique_id


def test_member_trust_means_equal_np_mean_over_each_hubs_ties():
    from simulation import cooperation as coop

    model = TerritoryModel(smoke(**{"strategy.policy": "cooperate", "steps": 6}), rng=5).run()
    hubs = model.ptces()
    got = coop.member_trust_means(model, hubs)
    assert got
    adj = model.cooperation._adj
    for hub in hubs:
        ids = sorted(hub.members)
        inside = set(ids)
        trust = [adj[a][b]["trust"] for a in ids for b in adj[a] if b in inside and b > a]
        if trust:
            assert got[hub.unique_id] == float(np.mean(trust)), hub.unique_id
        else:
            assert hub.unique_id not in got


def test_model_open_quarter_gives_each_hub_what_ptce_open_quarter_gives():
    model = TerritoryModel(smoke(**{"strategy.policy": "cooperate", "steps": 6}), rng=8).run()
    model.open_quarter()  # every hub at once
    hubs = model.ptces()
    assert len(hubs) >= 2
    names = list(hubs[0].member_effects())
    cols = model.provider_state.cols
    at_once = {name: cols[name].copy() for name in names}
    state = [(hub.pool_capacity_hours, set(hub.forms)) for hub in hubs]
    assert len({frozenset(forms) for _, forms in state}) >= 2, "hubs with different forms"
    for name in names:
        cols[name][:] = -1.0  # hub by hub must write them all again
    for hub in hubs:
        hub.open_quarter()
    assert [(hub.pool_capacity_hours, set(hub.forms)) for hub in hubs] == state
    rows = [m._row for hub in hubs for m in hub.ess_members()]
    for name in names:
        np.testing.assert_array_equal(cols[name][rows], at_once[name][rows], err_msg=name)


def _hub_money_state(model):
    cols = model.provider_state.cols
    names = ("treasury_eur", "transfers_eur", "carried_eur", "insolvent_quarters", "ledger_coordination_eur", "ledger_subsidy_eur")
    return ({name: cols[name].copy() for name in names}, [hub.fund_eur for hub in model.ptces()], dict(model.quarter_stats))


def test_pool_treasuries_and_book_ptce_costs_of_all_hubs_equal_the_methods_hub_by_hub():
    from simulation import cooperation as coop

    model = TerritoryModel(smoke(**{"strategy.policy": "cooperate", "steps": 6}), rng=4).run()
    hubs = model.ptces()
    assert len(hubs) >= 3
    cols = model.provider_state.cols
    # Members in deficit: one hub's fund covers them all, one's covers a share, one has none.
    for k, hub in enumerate(hubs[:3]):
        ess = hub.ess_members()
        for j, m in enumerate(ess):
            m.treasury_eur = -1_000.0 * (j + 1) if j % 2 == 0 else 500.0
            m.last_result_eur = 2_000.0 if j % 3 == 1 else -50.0
            m.insolvent_quarters = 2 if j % 2 == 0 else 0
        hub.fund_eur = (1e9, 700.0, 0.0)[k]
    hubs[1].forms.add("development_agency")
    hubs[1].depth = 0.7
    model.quarter_stats.pop("fund_in_eur", None)
    model.quarter_stats.pop("fund_out_eur", None)
    funded = {hub.unique_id: 1_000.0 * (k + 1) for k, hub in enumerate(hubs) if k != 2}
    start = _hub_money_state(model)

    def restore():
        for name, values in start[0].items():
            cols[name][:] = values
        for hub, fund in zip(hubs, start[1], strict=True):
            hub.fund_eur = fund
        model.quarter_stats = dict(start[2])

    outside = [hub.book_costs_and_outside_funding(funded.get(hub.unique_id, 0.0)) for hub in hubs]
    for hub in hubs:
        hub.pool_treasury()
    one_by_one = _hub_money_state(model)
    restore()
    assert coop.book_ptce_costs(model, hubs, funded) == outside
    assert outside[1] > 0
    coop.pool_treasuries(model, hubs)
    at_once = _hub_money_state(model)
    for name, values in one_by_one[0].items():
        np.testing.assert_array_equal(at_once[0][name], values, err_msg=name)
        assert (values != start[0][name]).any(), name  # each column moved
    assert at_once[1] == one_by_one[1]
    assert at_once[1][2] == 0.0 and 0.0 < at_once[1][0] < 1e9 and at_once[1][1] == 0.0
    assert at_once[2] == one_by_one[2] and "fund_in_eur" in at_once[2] and "fund_out_eur" in at_once[2]


def test_update_hubs_equals_ptce_update_hub_by_hub():
    import copy

    from simulation import cooperation as coop

    model = TerritoryModel(smoke(**{"strategy.policy": "cooperate", "steps": 6, "cooperation.rigidity_half_size": 1.0,
                                    "cooperation.formalisation_target": 1.0}), rng=9).run()
    for hub in model.ptces():
        hub.formalisation = 0.95  # rigid: members leave
    twin = copy.deepcopy(model)
    hubs, twin_hubs = model.ptces(), twin.ptces()
    assert len(hubs) >= 2
    trust = coop.member_trust_means(model, hubs)
    left = [m.unique_id for hub in twin_hubs for m in hub.update(trust.get(hub.unique_id, 0.0))]
    coop.update_hubs(model, hubs, trust)
    assert left, "some members should leave"
    assert [(h.formalisation, h.depth, list(h.members)) for h in hubs] == [(h.formalisation, h.depth, list(h.members)) for h in twin_hubs]
    assert all(model.agent_by_id[uid].strategy == "independent" and model.agent_by_id[uid].ptce is None for uid in left)
    assert model.dyn_rng.random() == twin.dyn_rng.random()
    np.testing.assert_array_equal(model.provider_state.cols["pool_share"], twin.provider_state.cols["pool_share"])


def test_update_network_returns_member_trust_means_after_the_update():
    import copy

    from simulation import cooperation as coop

    model = TerritoryModel(smoke(**{"strategy.policy": "cooperate", "steps": 6}), rng=5).run()
    twin = copy.deepcopy(model)
    got = coop.update_network(model)
    coop.update_network(twin)
    expected = coop.member_trust_means(twin, twin.ptces())
    assert got and got == expected


def test_pay_for_service_reads_hours_by_id_as_the_dict_it_stands_for():
    """allocate_demand hands the public hours served over as arrays (regimes.HoursById);
    the administrative tariff pays exactly what it pays for the same hours in a dict."""
    import copy

    from simulation.regimes import HoursById

    model = TerritoryModel(smoke("administrative", steps=5), rng=5).run()
    for phase in (model.open_quarter, model.fund_public_services, model.set_prices, model.allocate_demand):
        phase()
    twin = copy.deepcopy(model)
    served = model.public_hours_served
    assert isinstance(served, HoursById) and len(served) == len(model.providers())
    assert dict(served) == dict(zip(served.ids.tolist(), served.hours.tolist(), strict=True))
    spent = model.regime.pay_for_service(model, served, model.contract_hours)
    assert spent > 0
    assert spent == twin.regime.pay_for_service(twin, dict(twin.public_hours_served), twin.contract_hours)
    np.testing.assert_array_equal(model.provider_state.cols["ledger_public_order_eur"], twin.provider_state.cols["ledger_public_order_eur"])


def test_grant_base_looked_up_at_once_equals_the_dict_after_every_change():
    """GrantFormula.base_of reads the grant base of many organisations at once from sorted
    arrays kept between changes of the base (regimes.BaseHours counts them): it must give
    the dict's own get and ``in``, bit for bit, after a revision, a merger's transfer, a
    removal, a copy, and for a plain dict set as the base."""
    import copy
    import pickle

    from simulation.regimes import BaseHours

    model = TerritoryModel(smoke("administrative", steps=5), rng=5).run()
    grants = model.regime.grants
    assert isinstance(grants.base, BaseHours) and len(grants.base) > 3
    ids = np.concatenate((model.provider_ids(), [0, 10**9]))  # and ids never in the base

    def check(formula) -> None:
        values, found = formula.base_of(ids)
        keys = ids.tolist()
        assert values.tolist() == [formula.base.get(k, 0.0) for k in keys]
        assert found.tolist() == [k in formula.base for k in keys]

    check(grants)
    first, second, third = list(grants.base)[:3]
    grants.base[first] = grants.base.get(first, 0.0) + grants.base.pop(second)  # as RegimeBase.on_merger
    check(grants)
    del grants.base[third]
    grants.base.update({third: 1.0 / 3.0})
    check(grants)
    for twin in (copy.deepcopy(grants), pickle.loads(pickle.dumps(grants))):
        check(twin)
        twin.base[first] = 2.5
        check(twin)
    grants.base = dict(grants.base)  # any mapping set as the base is read key by key
    check(grants)
    grants.base = BaseHours()
    check(grants)


def test_cooperative_social_utility_equals_the_organisation_by_organisation_loop():
    """Cooperative.social_utility reads the columns and the network's tie arrays at once:
    the same values, bit for bit, as the loop over the organisations it replaced
    (networkx's degree, a self-loop counted twice; 0 for an organisation outside the network)."""
    model = TerritoryModel(smoke("cooperative", steps=6), rng=7).run()
    regime, op, net = model.regime, model.config.organisation, model.cooperation
    orgs = model.organisations()
    net.add_edge(orgs[0].unique_id, orgs[0].unique_id, trust=0.5)  # a self-loop
    net.remove_node(orgs[1].unique_id)  # outside the network
    orgs[2].served_hours = 10 * orgs[2].capacity_hours(op)  # served beyond capacity: results capped at 1
    assert any(o.insertion_exits_to_jobs > 0 for o in orgs)

    results = np.array([min(1.0, o.served_hours / max(o.capacity_hours(op), 1e-9)) for o in orgs])
    processes = np.array([o.voice() for o in orgs])
    impacts = np.array([
        0.5 * min(1.0, 10 * o.insertion_exits_to_jobs / max(o.staff_fte, 1e-9))
        + 0.5 * min(1.0, net.degree(o.unique_id) / 5 if o.unique_id in net else 0.0)
        for o in orgs
    ])
    p = regime.params
    expected = mech.social_utility(results, processes, impacts, (p.weight_results, p.weight_processes, p.weight_impacts))
    np.testing.assert_array_equal(regime.social_utility(model, orgs), expected)
    np.testing.assert_array_equal(regime.social_utility(model, orgs[::-3]), expected[::-3])
    assert regime.social_utility(model, []).shape == (0,)


def _joint_projects_reference(regime, model, envelope_eur: float) -> float:
    """Cooperative.fund_joint_projects as a loop over the providers and a sort of the pairs
    with a key function (the form the array version replaced)."""
    p, q, net, alive = regime.params, model.quarter, model.cooperation, model.provider_by_id
    regime.projects = [(a, b, e) for a, b, e in regime.projects if e > q and a in alive and b in alive]
    slots = int(envelope_eur // p.project_eur_per_quarter)
    if len(regime.projects) < slots:
        busy = {(a, b) for a, b, _ in regime.projects}
        u, v, ties = net.tie_arrays()
        top = len(net.node_index()[1])
        ess, deep_hub = np.zeros(top, dtype=bool), np.full(top, -1, dtype=np.int64)
        for uid, o in alive.items():
            if o.is_ess:
                ess[uid] = True
                if o.ptce is not None and o.ptce.depth >= model.config.cooperation.project_depth_threshold:
                    deep_hub[uid] = o.ptce.unique_id
        ok = ess[u] & ess[v] & (((deep_hub[u] >= 0) & (deep_hub[u] == deep_hub[v])) | (net.trust[ties] >= p.min_trust))
        cands = sorted(c for c in zip(np.minimum(u, v)[ok].tolist(), np.maximum(u, v)[ok].tolist(), strict=True) if c not in busy)
        if cands:
            orgs = sorted({x for c in cands for x in c})
            util = dict(zip(orgs, regime.social_utility(model, [alive[x] for x in orgs]), strict=True))
            ranked = sorted(cands, key=lambda c: (-(0.5 * (util[c[0]] + util[c[1]]) + 0.1 * (alive[c[0]].sector != alive[c[1]].sector)), c))
            for a, b in ranked[: slots - len(regime.projects)]:
                regime.projects.append((a, b, q + p.project_quarters))
    if not regime.projects:
        return 0.0
    per_project = min(p.project_eur_per_quarter, envelope_eur / len(regime.projects))
    for a, b, _ in regime.projects:
        alive[a].ledger.subsidy_eur += per_project / 2
        alive[b].ledger.subsidy_eur += per_project / 2
        net.edges[a, b]["trust"] = min(1.0, net.edges[a, b]["trust"] + p.trust_gain_per_project_quarter)
    return per_project * len(regime.projects)


def test_joint_projects_over_arrays_equal_the_loop_and_key_sort():
    """Cooperative.fund_joint_projects picks, pays and credits the same projects, bit for
    bit, as the loop and key sort it replaced: with slots for only part of the candidates
    (the ranking decides), with running projects (busy pairs), and with room for all."""
    import copy

    model = TerritoryModel(smoke("cooperative", steps=6), rng=7).run()
    regime = model.regime
    assert regime.projects, "the run should have running projects"
    cost = regime.params.project_eur_per_quarter
    for extra_slots in (3, 1000):
        envelope = (len(regime.projects) + extra_slots) * cost + 0.5 * cost
        twin = copy.deepcopy(model)
        spent = regime.fund_joint_projects(model, envelope)
        assert spent == _joint_projects_reference(twin.regime, twin, envelope)
        assert regime.projects == twin.regime.projects
        cols, twin_cols = model.provider_state.cols, twin.provider_state.cols
        np.testing.assert_array_equal(cols["ledger_subsidy_eur"], twin_cols["ledger_subsidy_eur"])
        np.testing.assert_array_equal(model.cooperation.trust, twin.cooperation.trust)
        model.quarter_stats.clear()


def test_weighted_mean_by_hand():
    assert weighted_mean(np.array([1.0, 3.0]), np.array([1.0, 3.0])) == 2.5  # (1 + 9) / 4
    assert weighted_mean(np.array([5.0, 7.0]), np.zeros(2)) == 0.0


_WEIGHTED_MEAN_OF_100_001 = (
    "import numpy as np; from simulation.metrics import weighted_mean; r = np.random.default_rng(1); "
    "print(repr(weighted_mean(r.random(100_001) * 1e3, r.random(100_001))))"
)


def test_weighted_mean_does_not_depend_on_blas_threads():
    """Above 10,000 elements OpenBLAS splits np.dot between its threads (its last bits then
    depend on the thread count, here 100,001 elements under 1 and 2 threads differ in the
    last bit): the staff- and hour-weighted metrics of a large territory must not."""
    out = []
    for threads in ("1", "2"):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads}
        run = subprocess.run([sys.executable, "-c", _WEIGHTED_MEAN_OF_100_001], env=env, capture_output=True, text=True, check=True)
        out.append(run.stdout.strip())
    assert out[0] == out[1]


def test_fund_public_services_costs_the_hubs_as_their_method():
    """TerritoryModel.fund_public_services funds each hub's share of Ptce.coordination_cost_eur
    (its formula with the parameters read once), scaled down together within the budget."""
    model = TerritoryModel(smoke("cooperative", steps=8), rng=2).run()  # the regime that funds animation
    assert len(model.ptces()) > 1, "the run should have PTCEs"
    model.open_quarter()
    share = model.regime.params.animation_funded_share
    assert share > 0
    costs = {hub.unique_id: share * hub.coordination_cost_eur() for hub in model.ptces()}
    total = sum(costs.values())
    scale = min(1.0, model.budget_eur / total) if total > 0 else 0.0
    model.fund_public_services()
    assert model.animation_funded_eur == {uid: c * scale for uid, c in costs.items()}
    assert all(c > 0 for c in model.animation_funded_eur.values())


def test_hub_table_is_remade_after_any_change_of_members_and_equals_a_fresh_one():
    """cooperation.hub_table keeps one table of the hubs' members until a member joins or
    leaves, however (add_member, remove_member, leave_hubs, a direct pop): after each
    change it is a new table equal to one made from scratch; its arrays are read-only."""
    from simulation import cooperation as coop

    model = TerritoryModel(smoke(**{"strategy.policy": "cooperate", "steps": 6}), rng=5).run()
    hubs = model.ptces()
    assert len(hubs) >= 2

    def check(table):
        fresh = coop.HubTable(model, hubs, None)
        assert table.members == fresh.members and table.sizes == fresh.sizes
        for name in ("ids", "rows", "hub_pos", "ess"):
            np.testing.assert_array_equal(getattr(table, name), getattr(fresh, name), err_msg=name)
            assert not getattr(table, name).flags.writeable
        for got, expected in zip(table.ess_rows(), fresh.ess_rows(), strict=True):
            np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(table.ess_by_id(), fresh.ess_by_id())
        return table

    table = check(coop.hub_table(model, hubs))
    assert coop.hub_table(model, hubs) is table  # nothing changed: kept
    assert coop.hub_table(model, hubs[1:]) is not table  # other hubs: another table
    table = check(coop.hub_table(model, hubs))
    member = next(m for m in hubs[0].members.values() if m.is_ess)
    changes = [
        lambda: hubs[0].remove_member(member),
        lambda: hubs[0].add_member(member),
        lambda: coop.leave_hubs(model, [member]),
        lambda: hubs[0].members.update({member.unique_id: member}),
        lambda: hubs[0].members.pop(member.unique_id),
    ]
    for change in changes:
        change()
        new = coop.hub_table(model, hubs)
        assert new is not table
        table = check(new)


@pytest.mark.parametrize("n_members", [40, 70_000])
def test_hub_trust_means_equal_np_mean_of_each_hubs_ties_by_lower_end_then_slot(n_members):
    """hub_trust_means' sort (a uint16 rank of the members up to 2**16 of them, else an
    int64 key) orders each hub's ties by lower end, then slot, as member_trust_means says."""
    from simulation.cooperation import hub_trust_means

    rng = np.random.default_rng(n_members)
    top = n_members + 50
    hub_of = np.full(top, -1, dtype=np.int64)
    members = rng.choice(top, n_members, replace=False)
    hub_of[members] = rng.integers(0, 7, n_members) * 3 + 100  # hub ids, not positions
    n_ties = 3000
    u, v = rng.choice(members, n_ties), rng.integers(0, top, n_ties)
    same = rng.random(n_ties) < 0.8  # most ties inside a hub: v another member of u's hub
    for k in np.flatnonzero(same):
        peers = members[hub_of[members] == hub_of[u[k]]]
        v[k] = peers[rng.integers(len(peers))]
    trust = rng.random(n_ties)
    keep = rng.random(n_ties) < 0.9
    got = hub_trust_means(hub_of, u, v, trust, keep)
    lists = {}
    for k in sorted(range(n_ties), key=lambda k: (hub_of[u[k]], min(u[k], v[k]), k)):
        if keep[k] and u[k] != v[k] and hub_of[u[k]] >= 0 and hub_of[u[k]] == hub_of[v[k]]:
            lists.setdefault(int(hub_of[u[k]]), []).append(trust[k])
    assert len(lists) >= 5
    assert got == {h: float(np.mean(t)) for h, t in lists.items()}


def test_rigidities_after_joining_equal_the_method():
    from simulation import cooperation as coop

    model = TerritoryModel(smoke(**{"strategy.policy": "cooperate", "steps": 6}), rng=8).run()
    hubs = model.ptces()
    hubs[0].formalisation = 0.0  # below the target: the target counts
    hubs[1].formalisation = 0.97
    assert len(hubs) >= 3
    assert coop.rigidities_after_joining(hubs, model.config.cooperation) == [h.rigidity_after_joining() for h in hubs]


@pytest.mark.parametrize("threshold", [0.1, 0.3, 1.0])
def test_advance_hubs_equals_ptce_advance_hub_by_hub(threshold):
    import copy

    from simulation import cooperation as coop

    model = TerritoryModel(smoke(**{"strategy.policy": "cooperate", "steps": 6}), rng=9).run()
    cp = model.config.cooperation.model_copy(update={"rigidity_half_size": 1.0, "rigidity_exit_threshold": threshold})
    model.config = model.config.model_copy(update={"cooperation": cp})  # read by Ptce.advance
    hubs = model.ptces()
    assert len(hubs) >= 3
    hubs[0].depth, hubs[1].formalisation = 0.999, 0.99  # depth capped at 1; a rigid hub
    twin = copy.deepcopy(model)
    trust = coop.member_trust_means(model, hubs)
    trust.pop(hubs[2].unique_id, None)  # a hub without ties between members: trust 0
    expected = [h.advance(trust.get(h.unique_id, 0.0)) for h in twin.ptces()]
    got = coop.advance_hubs(hubs, trust, model.config.cooperation).tolist()
    assert got == expected
    assert (threshold >= 1) == (max(expected) == 0.0)
    assert [(h.formalisation, h.depth) for h in hubs] == [(h.formalisation, h.depth) for h in twin.ptces()]


def test_hub_rigidities_equal_the_property():
    from simulation import cooperation as coop

    model = TerritoryModel(smoke(**{"strategy.policy": "cooperate", "steps": 6}), rng=3).run()
    hubs = model.ptces()
    assert len(hubs) >= 2
    hubs[0].formalisation = 0.37
    for m in list(hubs[1].members.values()):  # an empty hub: rigidity 0
        hubs[1].remove_member(m)
    assert coop.hub_rigidities(hubs, model.config.cooperation).tolist() == [h.rigidity for h in hubs]


def test_merge_organisations_with_the_base_governance_as_a_second_call():
    """cooperation.absorb's one call: the merged base governance is what a second
    merge_organisations call on the base governances gives, the rest unchanged."""
    rng = np.random.default_rng(2)
    cases = [tuple(rng.uniform(0, 50, 2)) for _ in range(200)] + [(0.0, 0.0), (0.0, 3.0)]
    for staff in cases:
        ins, vol, tre, gov, base, tech = (tuple(rng.uniform(-1e4, 1e4, 2)) if k == 2 else tuple(rng.random(2)) for k in range(6))
        d, r, loss = rng.random(3)
        merged = mech.merge_organisations(staff, ins, vol, tre, gov, tech, d, r, loss)
        based = mech.merge_organisations(staff, (0, 0), (0, 0), (0, 0), base, (0, 0), d, 0, 0)
        assert mech.merge_organisations(staff, ins, vol, tre, gov, tech, d, r, loss, governance_base=base) == {
            **merged, "governance_base": based["governance"]}


def test_ptce_mechanisms_over_arrays_equal_the_scalar_forms_bit_for_bit():
    """The array forms cooperation applies to every hub at once (rigidity, exit chance,
    pooling depth, coordination cost) give the scalar mechanisms' floats."""
    rng = np.random.default_rng(12)
    f, n = rng.random(300), rng.integers(0, 60, 300)
    n[:5] = 0
    half = 15.0
    r = mech.ptce_rigidities(f, n, half)
    assert r.tolist() == [mech.ptce_rigidity(a, int(b), half) for a, b in zip(f.tolist(), n.tolist(), strict=True)]
    for threshold in (0.0, 0.2, 0.5, 1.0):
        got = mech.rigidity_exit_probabilities(r, threshold, 0.3).tolist()
        assert got == [mech.rigidity_exit_probability(x, threshold, 0.3) for x in r.tolist()]
    assert mech.rigidity_exit_probabilities(r, 0.2, 50.0).max() == 1.0  # capped
    d, trust = rng.random(300), rng.random(300)
    d[:3] = 0.9999
    got = mech.pooling_depth_steps(d, trust, 5.0).tolist()
    assert got == [mech.pooling_depth_step(a, b, 5.0) for a, b in zip(d.tolist(), trust.tolist(), strict=True)] and 1.0 in got
    got = mech.coordination_cost(n, 1234.5, r, 0.8).tolist()
    assert got == [mech.coordination_cost(int(b), 1234.5, x, 0.8) for b, x in zip(n.tolist(), r.tolist(), strict=True)]
