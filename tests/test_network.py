"""simulation.network: the cooperation network keeps networkx's behaviour with its ties in arrays."""

import copy
import pickle

import networkx as nx
import numpy as np
import pytest

from simulation.network import CooperationNetwork, node_strength


def random_pair(rng, nodes):
    return int(rng.choice(nodes)), int(rng.choice(nodes))


def mutate_both(seed=0, steps=3000):
    """The same random additions, removals and trust writes on a CooperationNetwork and a
    plain networkx Graph."""
    rng = np.random.default_rng(seed)
    net, ref = CooperationNetwork(), nx.Graph()
    for g in (net, ref):
        g.add_nodes_from(range(60))
    next_node = 60
    for _ in range(steps):
        r = rng.random()
        nodes = list(ref.nodes)
        if r < 0.5:
            u, v = random_pair(rng, nodes)
            t = float(rng.uniform(0, 1))
            for g in (net, ref):
                g.add_edge(u, v, trust=t, kind="tie")
        elif r < 0.6 and ref.number_of_edges():
            edges = list(ref.edges)
            u, v = edges[int(rng.integers(len(edges)))]
            for g in (net, ref):
                g.remove_edge(u, v)
        elif r < 0.7:
            bunch = [random_pair(rng, nodes) for _ in range(5)]
            for g in (net, ref):
                g.remove_edges_from(bunch)
        elif r < 0.75:
            n = int(rng.choice(nodes))
            for g in (net, ref):
                g.remove_node(n)
            for g in (net, ref):
                g.add_node(next_node)
            next_node += 1
        elif ref.number_of_edges():
            edges = list(ref.edges)
            u, v = edges[int(rng.integers(len(edges)))]
            t = float(rng.uniform(0, 1))
            net.edges[u, v]["trust"] = t
            ref.edges[u, v]["trust"] = t
    return net, ref


def assert_same_graph(net, ref):
    assert list(net.nodes) == list(ref.nodes)
    assert [(u, v, dict(d)) for u, v, d in net.edges(data=True)] == list(ref.edges(data=True))
    for n in ref:
        assert list(net.adj[n]) == list(ref.adj[n])  # adjacency order kept
    assert net.number_of_ties() == ref.number_of_edges()


def _take_over_by_networkx(ref: nx.Graph, u: int, w: int) -> None:
    """The reference of CooperationNetwork.take_over_ties on a plain networkx graph, tie by
    tie: a tie u-x that exists keeps the larger trust, else u-x gets w-x's trust and kind."""
    for x, d in list(ref.adj[w].items()):
        if x == u:
            continue
        if ref.has_edge(u, x):
            ref.adj[u][x]["trust"] = max(d["trust"], ref.adj[u][x]["trust"])
        else:
            ref.add_edge(u, x, trust=d["trust"], kind=d.get("kind", "tie"))


def test_cooperation_network_behaves_as_a_networkx_graph():
    net, ref = mutate_both()
    assert_same_graph(net, ref)
    assert_same_graph(copy.deepcopy(net), ref)
    assert_same_graph(net.copy(), ref.copy())  # networkx's copy re-adds edges in edges() order
    assert nx.average_clustering(net) == nx.average_clustering(ref)
    assert dict(net.degree(weight="trust")) == dict(ref.degree(weight="trust"))


def test_array_passes_follow_networkx_orders():
    net, ref = mutate_both(seed=1)
    net.add_edge(3, 3, trust=0.25, kind="tie")  # a self-loop: one entry of its node's adjacency
    ref.add_edge(3, 3, trust=0.25, kind="tie")
    nodes, position = net.node_index()
    assert nodes.tolist() == list(ref.nodes)
    a, b = net.edge_order(position)
    assert list(zip(a.tolist(), b.tolist(), strict=True)) == list(ref.edges())
    u, v, slots = net.tie_arrays()
    t = net.trust[slots]
    keep = t >= 0.3
    sums = node_strength(position[u], position[v], t, keep, len(nodes))
    # A self-loop once, as in networkx's adjacency; the floats added in another order.
    expected = [sum(d["trust"] for d in ref.adj[n].values() if d["trust"] >= 0.3) for n in ref]
    np.testing.assert_allclose(sums, expected, rtol=1e-14, atol=0)
    net.remove_slots(slots[~keep])
    ref.remove_edges_from([(x, y) for x, y, d in ref.edges(data=True) if d["trust"] < 0.3])
    assert_same_graph(net, ref)


def test_a_removed_tie_keeps_its_values_and_the_network_stays_consistent():
    net = CooperationNetwork()
    net.add_edge(1, 2, trust=0.4, kind="initial")
    net.add_edge(2, 3, trust=0.5, kind="entry")
    tie = net.edges[1, 2]
    net.remove_edge(1, 2)
    tie["trust"] = 0.9  # written to the detached tie, not to a slot another tie may reuse
    assert dict(tie) == {"trust": 0.9, "kind": "initial"}
    for i in range(100):  # enough removals and additions to compact the slots
        net.add_edge(10 + i, 11 + i, trust=0.1)
        net.remove_edge(10 + i, 11 + i)
    net.tie_arrays()
    assert dict(net.edges[2, 3]) == {"trust": 0.5, "kind": "entry"}
    assert net.number_of_ties() == 1


def test_add_missing_ties_equals_a_loop_of_add_edge():
    net, ref = mutate_both(seed=2, steps=500)
    nodes = list(ref)
    u = nodes[3]
    others = [nodes[5], nodes[7], nodes[5], nodes[9], u, nodes[30]]  # a repeat, and u itself: a self-loop, as add_edge makes
    for v in others:
        if not ref.has_edge(u, v):
            ref.add_edge(u, v, trust=0.3, kind="comember")
    net.add_missing_ties(u, others, 0.3, "comember")
    assert_same_graph(net, ref)


def test_removing_a_node_with_few_or_many_ties_as_networkx_does():
    """remove_node frees a few ties in a loop and many with numpy (CooperationNetwork._kill_many):
    both as networkx, the removed ties keeping their values."""
    net, ref = CooperationNetwork(), nx.Graph()
    star = [(0, k, {"trust": 0.01 * k, "kind": "initial"}) for k in range(1, 30)]
    small = [(40, 41, {"trust": 0.3}), (40, 42, {"trust": 0.4, "kind": "entry"}), (40, 40, {"trust": 0.5}), (41, 5, {"trust": 0.6})]
    attrs = {(u, v): d for u, v, d in star + small}
    for g in (net, ref):
        g.add_edges_from(star + small)
    held = {n: [(v, net.adj[n][v]) for v in net.adj[n]] for n in (0, 40)}
    for n in (40, 0):
        for g in (net, ref):
            g.remove_node(n)
        assert_same_graph(net, ref)
        for v, tie in held[n]:
            assert dict(tie) == attrs[n, v]
    net.add_edge(41, 42, trust=0.7, kind="entry", note="x")
    ref.add_edge(41, 42, trust=0.7, kind="entry", note="x")
    assert_same_graph(net, ref)
    for g in (net, ref):
        with pytest.raises(nx.NetworkXError, match="The node 40 is not in the graph"):
            g.remove_node(40)


def test_take_over_ties_equals_a_loop_of_networkx_reads_and_add_edge():
    net, ref = mutate_both(seed=3, steps=800)
    nodes = list(ref)
    pairs = [(nodes[i], nodes[j]) for i, j in ((2, 5), (7, 11), (13, 2))]
    net.add_edge(pairs[0][1], pairs[0][1], trust=0.45)  # a self-loop without a kind: "tie"
    ref.add_edge(pairs[0][1], pairs[0][1], trust=0.45)
    n_shared = 0
    for u, w in pairs:
        assert ref.degree(w) > 0
        shared = [x for x in ref.adj[w] if x in ref.adj[u] and x != u]
        n_shared += len(shared)
        _take_over_by_networkx(ref, u, w)
        net.take_over_ties(u, w)
        assert_same_graph(net, ref)
        assert all(net.edges[u, x]["trust"] == ref.edges[u, x]["trust"] for x in shared)
    assert n_shared > 0, "some neighbours were shared: the larger trust kept"


def test_set_kind_among_equals_a_loop_over_the_pairs():
    net, ref = mutate_both(seed=4, steps=800)
    nodes = [n for n in ref if ref.degree(n) > 0][:12]
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            if ref.has_edge(a, b):
                ref.adj[a][b]["kind"] = "supply"
    net.set_kind_among(nodes, "supply")
    assert_same_graph(net, ref)
    assert any(d.get("kind") == "supply" for _, _, d in ref.edges(data=True))


def test_removing_nodes_at_once_as_networkx_removes_them_one_by_one():
    """remove_nodes_from (the closures of a quarter, ties freed at once): ties between two
    removed nodes, self-loops and nodes not in the network, as networkx's loop; the removed
    ties keep their values."""
    net, ref = mutate_both(seed=3, steps=1500)
    for g in (net, ref):
        g.add_edge(5, 5, trust=0.5, kind="tie")
        g.add_edge(5, 6, trust=0.25, kind="tie")
    gone = [5, 6, 7, 999, 6, 20, 21, 22, 23]
    held = {(u, v): (net.adj[u][v], dict(net.adj[u][v])) for u in gone if u in net for v in net.adj[u]}
    net.remove_nodes_from(gone)
    ref.remove_nodes_from(gone)
    assert_same_graph(net, ref)
    for tie, values in held.values():
        assert dict(tie) == values and tie.net is None
    net.tie_arrays()  # the array pass after the removals (compacting once the dead slots are twice the live ones) keeps the rest
    assert_same_graph(net, ref)


def test_new_nodes_and_their_ties_at_once_as_one_by_one():
    """add_new_nodes then add_new_ties (the entrants of a quarter and their peers) against
    add_node and add_edge in a loop; a batch with a pair tied already, repeated, or a first
    end among the second ends falls back to that loop."""
    net, ref = mutate_both(seed=4, steps=1500)
    old = list(ref)
    batches = [
        ([500, 501, 502], [old[0], old[3], old[0]]),  # new nodes, each tied once: the batch path
        ([503, 504], [old[5], 503]),  # a first end among the second ends (here a self-loop)
        ([505, 505], [old[1], old[2]]),  # a first end twice
        ([500, 506], [old[0], old[4]]),  # a pair tied already: its trust and kind written over
    ]
    looped = []  # the batches that went through add_edge
    net.add_edge = lambda u, v, **attr: (looped.append(u), CooperationNetwork.add_edge(net, u, v, **attr))
    for us, vs in batches:
        net.add_new_nodes(us)
        ref.add_nodes_from(us)
        net.add_new_ties(us, vs, 0.2, "entry")
        for u, v in zip(us, vs, strict=True):
            ref.add_edge(u, v, trust=0.2, kind="entry")
        assert_same_graph(net, ref)
    assert looped == [503, 504, 505, 505, 500, 506]
    net.add_new_nodes([old[0]])  # a node already there keeps its ties
    net.add_new_ties([], [], 0.2, "entry")
    assert_same_graph(net, ref)
    with pytest.raises(ValueError, match="None cannot be a node"):
        net.add_new_nodes([None])


def test_set_kind_from_marks_pairs_as_set_kind_among_does_never_a_self_loop():
    net = CooperationNetwork()
    for a, b in ((1, 1), (1, 2), (2, 3), (3, 4)):
        net.add_edge(a, b, trust=0.5, kind="tie")
    net.set_kind_from([1, 3], [1, 2, 3], "supply")
    assert net.edges[1, 2]["kind"] == net.edges[2, 3]["kind"] == "supply"
    assert net.edges[1, 1]["kind"] == net.edges[3, 4]["kind"] == "tie"  # a self-loop is no pair; 4 is outside


# --------------------------------------------------------------------------- the adjacency made when read
def assert_same_everywhere(net, ref):
    """assert_same_graph, with node attributes, degrees and the views networkx caches."""
    assert_same_graph(net, ref)
    assert list(net.nodes(data=True)) == list(ref.nodes(data=True))
    assert list(net.degree(weight="trust")) == list(ref.degree(weight="trust"))
    assert [(u, v, dict(d)) for u, v, d in net.edges.data()] == [(u, v, d) for u, v, d in ref.edges.data()]


def random_operations(seed, steps, check_every):
    """Random changes through every mutator (networkx's and the model's), the same on a
    CooperationNetwork and a plain networkx Graph, the network's adjacency read only every
    ``check_every`` changes (so many changes pile up between two readings); Tie mappings
    handed out are written through, with networkx's dicts beside them.  Yields (net, ref,
    held) at each check."""
    rng = np.random.default_rng(seed)
    net, ref = CooperationNetwork(), nx.Graph()
    for g in (net, ref):
        g.add_nodes_from([(n, {"sector": n % 3}) for n in range(40)])
    next_node = 40
    held = []  # (Tie of net, networkx's dict of the same tie, its ends)
    views = (net.adj, net.edges, net.degree)  # networkx caches these views: they must stay live
    for step in range(steps):
        nodes = list(ref)
        pick = lambda nodes=nodes: int(rng.choice(nodes))  # noqa: E731
        r = rng.random()
        if r < 0.30:
            u, v = pick(), pick()
            t = float(rng.uniform(0, 1))
            attr = {"trust": t} if rng.random() < 0.2 else {"trust": t, "kind": str(rng.choice(["tie", "initial"]))}
            if rng.random() < 0.05:
                attr["note"] = step  # an attribute other than trust and kind
            for g in (net, ref):
                g.add_edge(u, v, **attr)
        elif r < 0.36:
            bunch = [(pick(), pick(), {"trust": float(rng.uniform(0, 1))}) for _ in range(3)] + [(pick(), pick())]
            for g in (net, ref):
                g.add_edges_from(bunch, trust=0.5)
        elif r < 0.42 and ref.number_of_edges():
            u, v = list(ref.edges)[int(rng.integers(ref.number_of_edges()))]
            for g in (net, ref):
                g.remove_edge(u, v)
        elif r < 0.46:
            bunch = [(pick(), pick()) for _ in range(4)]
            for g in (net, ref):
                g.remove_edges_from(bunch)
        elif r < 0.50:
            gone = [pick(), pick(), 10_000]
            if rng.random() < 0.5:
                for g in (net, ref):
                    g.remove_nodes_from(gone)
            else:
                for g in (net, ref):
                    g.remove_node(gone[0])
            new = [next_node, (next_node + 1, {"sector": 1})]
            next_node += 2
            for g in (net, ref):
                g.add_nodes_from(new)
                g.add_node(next_node, sector=2)
            next_node += 1
        elif r < 0.60:
            u, others = pick(), [pick() for _ in range(6)]
            net.add_missing_ties(u, others, 0.3, "comember")
            for v in others:
                if not ref.has_edge(u, v):
                    ref.add_edge(u, v, trust=0.3, kind="comember")
        elif r < 0.66:
            u, w = pick(), pick()
            _take_over_by_networkx(ref, u, w)
            net.take_over_ties(u, w)
        elif r < 0.70:
            us = [next_node, next_node + 1]
            vs = [pick(), pick()]
            next_node += 2
            net.add_new_nodes(us)
            net.add_new_ties(us, vs, 0.2, "entry")
            ref.add_nodes_from(us)
            for u, v in zip(us, vs, strict=True):
                ref.add_edge(u, v, trust=0.2, kind="entry")
        elif r < 0.75:
            group = [pick() for _ in range(5)]
            net.set_kind_among(group, "supply")
            for i, a in enumerate(group):
                for b in group[i + 1:]:
                    if ref.has_edge(a, b):
                        ref.adj[a][b]["kind"] = "supply"
        elif r < 0.80:
            u, v, slots = net.tie_arrays()  # compacts once the removed slots are twice the live ones
            gone = rng.random(len(slots)) < 0.15
            net.remove_slots(slots[gone])
            ref.remove_edges_from(zip(u[gone].tolist(), v[gone].tolist(), strict=True))
        elif r < 0.85 and len(slots := net.tie_arrays()[2]):
            s = slots[rng.random(len(slots)) < 0.3]
            values = rng.uniform(0, 1, len(s))
            net.set_trust(s, values)
            for a, b, t in zip(net._u[s].tolist(), net._v[s].tolist(), values.tolist(), strict=True):
                ref.adj[a][b]["trust"] = t
        elif r < 0.88 and ref.number_of_edges():
            u, v = list(ref.edges)[int(rng.integers(ref.number_of_edges()))]
            held.append((net.edges[u, v], ref.edges[u, v], u, v))  # a reading: the adjacency made
        elif held:
            tie, d, _, _ = held[int(rng.integers(len(held)))]
            key, value = ("kind", f"k{step}") if rng.random() < 0.5 else ("trust", float(rng.uniform(0, 1)))
            tie[key] = value  # through a Tie held, live or removed since
            d[key] = value
        if step % check_every == check_every - 1:
            assert views == (net.adj, net.edges, net.degree)
            yield net, ref, held


def test_the_adjacency_made_when_read_equals_networkx_after_random_changes():
    checks, loops, kindless = 0, 0, 0
    for net, ref, held in random_operations(seed=5, steps=1500, check_every=75):
        assert_same_everywhere(net, ref)
        for tie, d, u, v in held:  # a Tie held reads as networkx's dict, live while its tie is
            assert dict(tie) == d
            assert (tie.net is net) == (ref.has_edge(u, v) and ref.adj[u][v] is d)
        checks += 1
        loops += sum(u == v for u, v in ref.edges)
        kindless += sum("kind" not in d for _, _, d in ref.edges(data=True))
    assert checks == 20 and len(held) > 20 and loops and kindless
    assert any(tie.net is None for tie, *_ in held) and any(tie.net is net for tie, *_ in held), "held ties removed and live"


def test_copies_of_the_network_are_networks_of_their_own():
    """deepcopy, pickle, networkx's copy, Graph(...), subgraph views and to_directed give
    what they give of the plain graph; a copy's changes leave the original as it is."""
    for net, ref, _ in random_operations(seed=6, steps=600, check_every=200):
        for c in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
            assert_same_everywhere(c, ref)
            u, v = next(iter(ref.edges))
            c.edges[u, v]["kind"] = "copied"  # the copy's Tie writes the copy's slot
            c.remove_node(next(iter(ref)))
            c.add_edge(10**6, 10**6 + 1, trust=0.5)
            c.tie_arrays()
            assert_same_everywhere(net, ref)  # the original unchanged
            assert c.edges[u, v]["kind"] == "copied" if c.has_edge(u, v) else True
        assert_same_graph(net.copy(), ref.copy())
        assert list(nx.Graph(net).edges(data=True)) == list(nx.Graph(ref).edges(data=True))
        d_net, d_ref = net.to_directed(), ref.to_directed()
        assert list(d_net.edges(data=True)) == list(d_ref.edges(data=True))
        some = list(ref)[::3]
        sub_net, sub_ref = net.subgraph(some), ref.subgraph(some)
        assert list(sub_net.edges(data=True)) == list(sub_ref.edges(data=True))
        a, b = some[0], some[1]
        for g in (net, ref):
            g.add_edge(a, b, trust=0.75, kind="later")  # a subgraph view shows later changes
        assert list(sub_net.edges(data=True)) == list(sub_ref.edges(data=True))
    tie = net.edges[next(iter(net.edges))]
    alone = copy.deepcopy(tie)  # networkx's to_directed copies edge dicts one by one: not the network each time
    assert type(alone) is dict and alone == dict(tie)
    kindless = CooperationNetwork()
    kindless.add_edge(1, 2, trust=0.5)
    kindless.add_node(3)
    for c in (copy.deepcopy(kindless), pickle.loads(pickle.dumps(kindless))):
        c.take_over_ties(3, 2)  # a tie without a kind still has none in the copy: "tie"
        assert dict(c.edges[3, 1]) == {"trust": 0.5, "kind": "tie"}


def test_a_tie_handed_out_follows_compaction_and_counts_its_kind_writes():
    net = CooperationNetwork()
    net.add_edges_from([(k, k + 1, {"trust": 0.5, "kind": "tie"}) for k in range(50)])
    tie = net.edges[40, 41]
    gone = net.edges[0, 1]
    net.set_mark()
    net.remove_nodes_from(range(0, 36))  # 36 removed ties, more than twice the 14 live ones: compacted below
    assert gone.net is None and dict(gone) == {"trust": 0.5, "kind": "tie"}
    gone["kind"] = "written after"  # a removed tie's write is no change of the network
    net.tie_arrays()
    assert net._dead == 0 and tie.net is net
    tie["kind"] = "supply"
    tie["trust"] = 0.25
    assert net.trust[tie.i] == 0.25 and net._kind[tie.i] == "supply"
    u, v, slots = net.changed_since_mark()
    assert slots.tolist() == [tie.i] and (u.item(), v.item()) == (40, 41)
    del tie["kind"]
    assert dict(net.edges[40, 41]) == {"trust": 0.25}
    net.clear_edges()
    assert tie.net is None and dict(tie) == {"trust": 0.25} and net.number_of_edges() == 0 and net.number_of_nodes() == 15
    net.add_edge(1, 2, trust=0.1)
    assert list(net.edges(data="trust")) == [(1, 2, 0.1)]
    net.clear()
    assert net.number_of_nodes() == 0 and list(net.adj) == [] and net.number_of_ties() == 0


def test_the_model_never_makes_the_adjacency_during_a_run():
    """The hot paths use the slots and the neighbour dicts only: a run makes no adjacency
    entry, and a Tie only where add_edge writes a tie already there (a pair drawn twice by
    the initial ties), until something reads the adjacency (here the export)."""
    from simulation import TerritoryModel

    from .conftest import smoke

    model = TerritoryModel(smoke("cooperative", steps=6, **{"territory.initial_ties_per_organisation": 6}), rng=5).run()
    assert model.regime.projects, "joint projects ran (their ties' trust written by slot)"
    net = model.cooperation
    assert dict.__len__(net._adj) == 0 and len(net._tie_obj) < 0.1 * net.number_of_ties()
    g = model.network_graph()
    assert g.number_of_edges() == net.number_of_ties() > 0 and len(net._tie_obj) == net.number_of_ties()


def test_nodes_added_by_networkx_methods_appear_in_the_adjacency_read_before():
    net = CooperationNetwork()
    net.add_edge(1, 2, trust=0.5)
    adj = net.adj  # read: the adjacency made
    assert list(adj) == [1, 2]
    net.add_node(7, sector=1)
    assert list(adj) == [1, 2, 7] and dict(adj[7]) == {} and net.nodes[7] == {"sector": 1}
    net.add_nodes_from([8, (9, {"sector": 2})], colour="red")
    assert list(net.adj) == [1, 2, 7, 8, 9] and net.nodes[9] == {"colour": "red", "sector": 2}
    net.add_new_nodes([10])
    net.add_edge(10, 1, trust=0.25)
    assert list(adj[1]) == [2, 10] and list(net.neighbors(10)) == [1]
    net.remove_node(2)
    assert list(adj) == [1, 7, 8, 9, 10] and list(adj[1]) == [10]
    net.remove_node(8)  # a node without ties
    assert list(adj) == [1, 7, 9, 10]
    net.remove_nodes_from([9])
    assert list(adj) == [1, 7, 10]


def test_a_pair_tied_again_goes_last_in_both_adjacencies():
    """A removed tie may leave its entries in the neighbour dicts (dead, skipped); tying the
    pair again puts it last, as networkx does, by every way of making a tie, and a node id
    removed and added again starts with no tie."""
    net, ref = CooperationNetwork(), nx.Graph()
    for g in (net, ref):
        g.add_edges_from([(1, 2, {"trust": 0.5}), (1, 3, {"trust": 0.5}), (2, 3, {"trust": 0.5}), (3, 4, {"trust": 0.5}), (1, 5, {"trust": 0.5})])
    _, _, slots = net.tie_arrays()
    net.remove_slots(slots[:2])  # 1-2 and 1-3
    ref.remove_edges_from([(1, 2), (1, 3)])
    net.add_new_ties([1], [2], 0.2, "entry")
    ref.add_edge(1, 2, trust=0.2, kind="entry")
    net.add_missing_ties(3, [1], 0.3, "comember")
    ref.add_edge(3, 1, trust=0.3, kind="comember")
    assert_same_everywhere(net, ref)
    for g in (net, ref):
        g.remove_node(3)
        g.add_node(3)
    net.take_over_ties(3, 2)  # 3 takes 2's ties: 2-1 only (3-2 was removed with the old 3)
    ref.add_edge(3, 1, trust=0.2, kind="entry")
    net.add_edge(4, 3, trust=0.9)
    ref.add_edge(4, 3, trust=0.9)
    assert_same_everywhere(net, ref)
    assert net.number_of_ties() == 4 and list(net.adj[1]) == [5, 2, 3]


def test_dead_neighbour_entries_stay_bounded_as_nodes_come_and_go():
    """A removed tie's entry may stay, dead, at its other end (remove_nodes_from does not
    visit the neighbours); the compactions drop them before they pile up: with nodes
    entering and leaving for good (the model's entries and closures), the neighbour dicts
    stay within a few times the live ties, and the network stays networkx's."""
    rng = np.random.default_rng(7)
    net, ref = CooperationNetwork(), nx.Graph()
    staying, alive = list(range(10)), list(range(10, 40))  # some stay all along, the others pass
    for g in (net, ref):
        g.add_nodes_from(staying + alive)
    for n in range(40, 2040):
        peers = [int(x) for x in rng.choice(staying, 2, replace=False)] + [int(x) for x in rng.choice(alive, 3, replace=False)]
        net.add_new_nodes([n])
        net.add_missing_ties(n, peers, 0.5, "entry")
        ref.add_node(n)
        ref.add_edges_from((n, p, {"trust": 0.5, "kind": "entry"}) for p in peers)
        gone = alive.pop(0)
        alive.append(n)
        net.remove_nodes_from([gone])
        ref.remove_node(gone)
        net.tie_arrays()  # compacts once the removed slots are twice the live ones
    entries = sum(len(d) for d in net._nbr.values())
    assert entries <= 12 * net.number_of_ties() and net.number_of_ties() > 50
    assert_same_everywhere(net, ref)
