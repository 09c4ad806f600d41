"""simulation.network: the cooperation network keeps networkx's behaviour with its ties in arrays."""

import copy

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
        for x, d in list(ref.adj[w].items()):  # the reference: networkx, tie by tie
            if x == u:
                continue
            if ref.has_edge(u, x):
                ref.adj[u][x]["trust"] = max(d["trust"], ref.adj[u][x]["trust"])
            else:
                ref.add_edge(u, x, trust=d["trust"], kind=d.get("kind", "tie"))
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
    net.tie_arrays()  # compaction after the removals keeps the rest
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
