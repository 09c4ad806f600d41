"""The cooperation network: a networkx ``Graph`` whose ties keep their trust in numpy arrays.

Why (issue 9): the network's quarterly passes (trust update and spillovers, the imitation
term of the strategy choice, the clustering coefficient) visit every tie.  Over networkx's
dict of dicts each visit is a Python dict read, and reading tens of thousands of dicts
costs the same whether the arithmetic after it is Python or numpy.  Here the ties LIVE
in arrays (one slot per tie: its two ends and its trust), so those passes are numpy
expressions over the arrays, while the object stays a full ``networkx.Graph``: its
adjacency dicts hold, for each tie, a :class:`Tie` mapping that reads and writes the
arrays, so ``net.edges[a, b]["trust"]``, ``net.edges(data=True)``, networkx's algorithms
and ``copy.deepcopy`` work as on a plain graph.

Node ids must be non-negative integers (the agents' ``unique_id``).

Order.  A tie's slot is given at its creation and slots keep creation order (removed
ties are compacted away, order kept), so a node's neighbours in networkx's adjacency
order are its ties in slot order, and networkx's ``edges()`` order is the ties sorted by
the position in node order of their first end, then slot.  The array passes follow these
orders wherever a floating-point sum depends on them (results bit-identical to the
dict-of-dicts passes they replace).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from itertools import repeat
from operator import attrgetter

import networkx as nx
import numpy as np

_ABSENT_TRUST = float("nan")  # a tie without a "trust" attribute (no mechanism makes one)
_ABSENT = object()  # a tie without a "kind" attribute


def node_strength(u: np.ndarray, v: np.ndarray, values: np.ndarray, keep: np.ndarray, size: int) -> np.ndarray:
    """Per node (``u``, ``v`` the ties' ends as bin numbers below ``size``: node ids or
    positions), the sum of ``values`` over its kept ties, a self-loop counted once
    (networkx's weighted degree counts it twice): ``np.bincount`` over both ends.  The
    floats are added in slot order, not in a loop's adjacency order, so a sum may differ
    from such a loop's in the last bit."""
    other = keep & (u != v)
    return np.bincount(u[keep], weights=values[keep], minlength=size) + np.bincount(v[other], weights=values[other], minlength=size)


class Tie(MutableMapping):
    """The attribute dict of one tie: ``trust`` in the network's array, ``kind`` and any
    other attribute in the object.  A tie removed from its network keeps its values."""

    __slots__ = ("net", "i", "kind", "extra", "detached_trust")

    def __init__(self, net: CooperationNetwork, i: int, kind=_ABSENT) -> None:
        # What every tie has, only (some 500 ties are made a quarter at 1,000 organisations,
        # issue 9): ``extra`` is set when another attribute is first written, and
        # ``detached_trust`` when the tie leaves its network (detach, _kill_many).
        self.net = net
        self.i = i
        self.kind = kind

    def _trust(self) -> float:
        return float(self.net._trust[self.i]) if self.net is not None else self.detached_trust

    def __getitem__(self, key):
        if key == "trust":
            t = self._trust()
            if t != t:
                raise KeyError(key)
            return t
        if key == "kind":
            if self.kind is _ABSENT:
                raise KeyError(key)
            return self.kind
        extra = getattr(self, "extra", None)
        if extra is None:
            raise KeyError(key)
        return extra[key]

    def __setitem__(self, key, value) -> None:
        if key == "trust":
            if self.net is not None:
                self.net._trust[self.i] = value
            else:
                self.detached_trust = float(value)
        elif key == "kind":
            self.kind = value
            if self.net is not None:
                self.net._rekinded.append(self)
        else:
            if getattr(self, "extra", None) is None:
                self.extra = {}
            self.extra[key] = value

    def __delitem__(self, key) -> None:
        if key == "trust" and self._trust() == self._trust():
            self["trust"] = _ABSENT_TRUST
        elif key == "kind" and self.kind is not _ABSENT:
            self.kind = _ABSENT
            if self.net is not None:
                self.net._rekinded.append(self)
        elif getattr(self, "extra", None) is not None and key in self.extra:
            del self.extra[key]
        else:
            raise KeyError(key)

    def __iter__(self) -> Iterator:
        if self._trust() == self._trust():
            yield "trust"
        if self.kind is not _ABSENT:
            yield "kind"
        extra = getattr(self, "extra", None)
        if extra:
            yield from extra

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def copy(self) -> dict:
        return dict(self)

    def __repr__(self) -> str:
        return repr(dict(self))

    def detach(self) -> None:
        """The tie left its network: keep its trust in the object."""
        self.detached_trust = self._trust()
        self.net = None


class CooperationNetwork(nx.Graph):
    """Undirected ties between legal persons, trust in [0, 1] on each (see module doc)."""

    def __init__(self, incoming_graph_data=None, **attr) -> None:
        self._u = np.zeros(0, dtype=np.int64)  # slot -> one end (node id)
        self._v = np.zeros(0, dtype=np.int64)  # slot -> the other end
        self._trust = np.zeros(0)  # slot -> trust (NaN: no trust attribute)
        self._alive = np.zeros(0, dtype=bool)
        self._ties: list[Tie] = []  # slot -> Tie
        self._used = 0  # slots used, alive or not
        self._dead = 0  # slots of removed ties not yet compacted
        # Since the last supply marking (set_mark): ties in slots from _mark on are new, and
        # _rekinded holds the ties whose kind was written through their Tie mapping
        # (changed_since_mark; TerritoryModel.open_quarter).
        self._mark = 0
        self._rekinded: list[Tie] = []
        super().__init__(incoming_graph_data, **attr)

    # ----------------------------------------------------------------- slots
    def _new_tie(self, u: int, v: int, trust: float = _ABSENT_TRUST, kind=_ABSENT) -> Tie:
        """A tie in a new slot, with this trust and kind (absent unless given)."""
        i = self._used
        self._reserve(1)
        self._u[i] = u
        self._v[i] = v
        self._trust[i] = trust
        self._alive[i] = True
        tie = Tie(self, i, kind)
        self._ties.append(tie)
        self._used = i + 1
        return tie

    def _kill(self, tie: Tie) -> None:
        self._alive[tie.i] = False
        self._dead += 1
        tie.detach()

    def _kill_many(self, ties: list[Tie], slots: np.ndarray | None = None) -> None:
        """_kill of each of ``ties`` (taken out of the adjacency), the slots freed at once
        (``slots``: theirs, if known)."""
        if len(ties) < 16:  # a closing organisation's few ties: numpy's calls would cost more than the loop
            trust, alive = self._trust, self._alive
            for tie in ties:
                tie.detached_trust = trust.item(tie.i)
                tie.net = None
                alive[tie.i] = False
            self._dead += len(ties)
            return
        if slots is None:
            slots = np.fromiter(map(attrgetter("i"), ties), dtype=np.int64, count=len(ties))
        for tie, t in zip(ties, self._trust[slots].tolist(), strict=True):
            tie.detached_trust = t
            tie.net = None
        self._alive[slots] = False
        self._dead += len(ties)

    def _compact(self) -> None:
        """Drop the slots of removed ties, keeping creation order."""
        if not self._dead:
            return
        keep = np.flatnonzero(self._alive[: self._used])
        n = len(keep)
        for name in ("_u", "_v", "_trust", "_alive"):
            arr = getattr(self, name)
            new = np.zeros_like(arr, shape=max(64, 2 * n))
            new[:n] = arr[keep]
            setattr(self, name, new)
        self._ties = [self._ties[i] for i in keep.tolist()]
        for j, tie in enumerate(self._ties):
            tie.i = j
        self._mark = int(np.searchsorted(keep, self._mark))  # the live slots below the mark stay below it
        self._used, self._dead = n, 0

    def _reset_ties(self) -> None:
        for tie in self._ties:
            if tie.net is self:
                tie.detach()
        self._ties = []
        self._alive[:] = False
        self._used = self._dead = self._mark = 0

    # ----------------------------------------------------------------- networkx's mutators
    # Copies of networkx 3.x's Graph methods, with the tie's slot made or freed.
    def _add_node_if_new(self, n) -> None:
        if n not in self._node:
            if n is None:
                raise ValueError("None cannot be a node")
            self._adj[n] = self.adjlist_inner_dict_factory()
            self._node[n] = self.node_attr_dict_factory()

    def add_edge(self, u_of_edge, v_of_edge, **attr) -> None:
        u, v = u_of_edge, v_of_edge
        adj = self._adj
        if u not in adj:
            self._add_node_if_new(u)
        if v not in adj:
            self._add_node_if_new(v)
        datadict = adj[u].get(v)
        if datadict is None:  # a new tie: its trust and kind written with its slot
            datadict = self._new_tie(u, v, attr.pop("trust", _ABSENT_TRUST), attr.pop("kind", _ABSENT))
        for key, value in attr.items():  # MutableMapping.update, without its generic checks
            datadict[key] = value
        adj[u][v] = datadict
        adj[v][u] = datadict
        nx._clear_cache(self)

    def add_edges_from(self, ebunch_to_add, **attr) -> None:
        for e in ebunch_to_add:
            ne = len(e)
            if ne == 3:
                u, v, dd = e
            elif ne == 2:
                u, v = e
                dd = {}
            else:
                raise nx.NetworkXError(f"Edge tuple {e} must be a 2-tuple or 3-tuple.")
            self._add_node_if_new(u)
            self._add_node_if_new(v)
            datadict = self._adj[u].get(v)
            if datadict is None:
                datadict = self._new_tie(u, v)
            datadict.update(attr)
            datadict.update(dd)
            self._adj[u][v] = datadict
            self._adj[v][u] = datadict
        nx._clear_cache(self)

    def add_missing_ties(self, u: int, others, trust: float, kind: str, distinct: bool = False) -> None:
        """Tie ``u`` to each of ``others`` it is not yet tied to, in that order, with this
        trust and kind (ties already there are left as they are): what a loop of
        ``if not has_edge: add_edge(u, v, trust=trust, kind=kind)`` does, with the new
        slots written at once.  All nodes must be in the network.  ``distinct``: no node
        comes twice in ``others`` (a hub's members, Ptce.add_member), so none is looked for."""
        mine = self._adj[u]
        new = [v for v in others if v not in mine]
        if not new:
            return
        if not distinct and len(set(new)) < len(new):  # a repeated node: one tie, made at its first mention
            new = list(dict.fromkeys(new))
        self._append_ties(u, new, trust, repeat(kind, len(new)))

    def take_over_ties(self, u: int, w: int) -> None:
        """``u`` takes over the ties of ``w`` (a merger, cooperation.absorb): for each
        neighbour x of ``w`` in adjacency order (``u`` left out), a tie u-x that exists keeps
        the larger of the two trusts, else a new tie u-x gets the trust and kind of w-x
        (kind "tie" if it has none), the new ones in that order; ``w`` keeps its ties.
        What a loop over ``adj[w]`` of ``tie["trust"]`` reads, ``max`` and ``add_edge`` does,
        with the trusts read from the array and the new slots written at once."""
        adj, trust = self._adj, self._trust
        mine = adj[u]
        new, new_trust, new_kind = [], [], []
        for x, tie in adj[w].items():
            if x == u:
                continue
            t = trust.item(tie.i)
            if t != t:
                raise KeyError("trust")  # as tie["trust"] of a tie without trust
            own = mine.get(x)
            if own is not None:  # own["trust"] = max(t, own["trust"]), on the array
                mine_t = trust.item(own.i)
                if mine_t != mine_t:
                    raise KeyError("trust")
                trust[own.i] = max(t, mine_t)
            else:
                new.append(x)
                new_trust.append(t)
                new_kind.append("tie" if tie.kind is _ABSENT else tie.kind)
        if new:
            self._append_ties(u, new, new_trust, new_kind)

    def set_kind_among(self, nodes: list[int], kind: str) -> None:
        """Set the kind of every tie between two of ``nodes``: what a loop of
        ``adj[a][b]["kind"] = kind`` over the pairs does, without a mapping call per tie."""
        adj = self._adj
        for i, a in enumerate(nodes):
            ties = adj[a]
            for b in nodes[i + 1:]:
                tie = ties.get(b)
                if tie is not None:
                    tie.kind = kind

    def changed_since_mark(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(u, v, slots) of the ties made, or whose kind was written through their Tie
        mapping, since the last ``set_mark`` and still in the network (a tie may come
        twice).  set_kind_among's and set_kind_from's writes are not counted: the supply
        marking (TerritoryModel.open_quarter) is what the mark is for."""
        i, n = self._mark, self._used
        slots = i + np.flatnonzero(self._alive[i:n])
        again = [tie.i for tie in self._rekinded if tie.net is self]
        if again:
            slots = np.concatenate((slots, np.array(again, dtype=np.int64)))
        return self._u[slots], self._v[slots], slots

    def set_mark(self) -> None:
        """Start counting changes again (changed_since_mark)."""
        self._mark = self._used
        self._rekinded = []

    def set_kind_of_slots(self, slots: np.ndarray, kind: str) -> None:
        """Set the kind of the ties in ``slots``."""
        ties = self._ties
        for i in slots.tolist():
            ties[i].kind = kind

    def set_kind_from(self, news: list[int], nodes: list[int], kind: str) -> None:
        """Set the kind of every tie between one of ``news`` and one of ``nodes`` (``news``
        among ``nodes``): set_kind_among(nodes) restricted to the pairs with an end in
        ``news``, each tie's kind written once or twice (the same value)."""
        adj = self._adj
        for a in news:
            ties = adj[a]
            for b in nodes:
                tie = ties.get(b)
                if tie is not None and b != a:  # as set_kind_among: a self-loop is no pair
                    tie.kind = kind

    def _reserve(self, k: int) -> None:
        """Room for k more tie slots after the used ones (the arrays grow by doubling)."""
        i = self._used
        if i + k > len(self._trust):
            for name in ("_u", "_v", "_trust", "_alive"):
                arr = getattr(self, name)
                grown = np.zeros_like(arr, shape=max(64, 2 * (i + k)))
                grown[:i] = arr[:i]
                setattr(self, name, grown)

    def _append_ties(self, us, new: list[int], trust, kinds) -> None:
        """New ties us-v, v in ``new`` (``us`` one node for all, or one per tie; no pair tied
        yet or repeated, all nodes), in that order, with ``trust`` (one float or one per
        tie) and ``kinds`` (an iterable, one per tie): their slots written at once, then
        networkx's adjacency as add_edge's."""
        adj = self._adj
        i, k = self._used, len(new)
        self._reserve(k)
        self._u[i:i + k] = us
        self._v[i:i + k] = new
        self._trust[i:i + k] = trust
        self._alive[i:i + k] = True
        # Each Tie made by object.__new__ and its three slots set here, with its two
        # adjacency entries, in one loop: Tie.__init__'s call cost more than the sets (some
        # 450 ties a quarter at 1,000 organisations, issue 9).
        make, append = object.__new__, self._ties.append
        ends = repeat(us, k) if isinstance(us, (int, np.integer)) else us
        for j, u, v, kind in zip(range(i, i + k), ends, new, kinds, strict=True):
            tie = make(Tie)
            tie.net = self
            tie.i = j
            tie.kind = kind
            append(tie)
            adj[u][v] = tie
            adj[v][u] = tie
        self._used = i + k
        nx._clear_cache(self)

    def remove_edge(self, u, v) -> None:
        try:
            tie = self._adj[u][v]
        except KeyError as err:
            raise nx.NetworkXError(f"The edge {u}-{v} is not in the graph") from err
        super().remove_edge(u, v)
        self._kill(tie)

    def remove_edges_from(self, ebunch) -> None:
        adj = self._adj
        gone = []
        for e in ebunch:
            u, v = e[:2]
            if u in adj and v in adj[u]:
                gone.append(adj[u].pop(v))
                if u != v:
                    del adj[v][u]
        self._kill_many(gone)
        nx._clear_cache(self)

    def remove_node(self, n) -> None:
        adj = self._adj
        try:
            nbrs = adj[n]
            del self._node[n]
        except KeyError as err:  # NetworkXError if n not in self
            raise nx.NetworkXError(f"The node {n} is not in the graph.") from err
        ties = list(nbrs.values())
        for u in list(nbrs):  # a list: a self-loop's entry goes from nbrs itself
            del adj[u][n]
        del adj[n]
        self._kill_many(ties)
        nx._clear_cache(self)

    def remove_nodes_from(self, nodes) -> None:
        """remove_node of each of ``nodes`` in the network, in order (others are ignored, as
        networkx does), the ties' slots freed at once (closures of a quarter,
        TerritoryModel.remove_providers)."""
        adj, node = self._adj, self._node
        ties = []
        for n in nodes:
            nbrs = adj.pop(n, None)
            if nbrs is None:
                continue
            del node[n]
            for u in nbrs:
                if u != n:  # a self-loop's entry went with nbrs
                    del adj[u][n]
            ties.extend(nbrs.values())
        self._kill_many(ties)
        nx._clear_cache(self)

    def add_new_nodes(self, nodes: list[int]) -> None:
        """add_nodes_from(nodes) for plain node ids, no attributes (the entrants of a
        quarter, TerritoryModel.register_many): without networkx's per-node handling of
        (node, attributes) pairs.  A node already there is left as it is."""
        adj, node = self._adj, self._node
        new_adj, new_attr = self.adjlist_inner_dict_factory, self.node_attr_dict_factory
        for n in nodes:
            if n not in node:
                if n is None:
                    raise ValueError("None cannot be a node")
                adj[n] = new_adj()
                node[n] = new_attr()
        nx._clear_cache(self)

    def add_new_ties(self, us: list[int], vs: list[int], trust: float, kind: str) -> None:
        """A tie between each ``us[k]`` and ``vs[k]``, in that order, with this trust and kind,
        the slots written at once: what a loop of ``add_edge(u, v, trust=trust, kind=kind)``
        does when the ``us`` are distinct, none is among the ``vs`` (so no pair comes twice)
        and no pair is tied yet (each entrant of a quarter tied to its peer,
        TerritoryModel.enter_new_organisations); otherwise that loop runs.  All nodes must be
        in the network."""
        adj, k = self._adj, len(us)
        if not k:
            return
        firsts = set(us)
        if len(firsts) < k or not firsts.isdisjoint(vs) or any(v in adj[u] for u, v in zip(us, vs, strict=True)):
            for u, v in zip(us, vs, strict=True):
                self.add_edge(u, v, trust=trust, kind=kind)
            return
        self._append_ties(us, vs, trust, repeat(kind, k))

    def clear(self) -> None:
        self._reset_ties()
        super().clear()

    def clear_edges(self) -> None:
        self._reset_ties()
        super().clear_edges()

    # ----------------------------------------------------------------- array views
    def node_index(self) -> tuple[np.ndarray, np.ndarray]:
        """(nodes, position): the node ids in networkx's node order, and an array mapping a
        node id to its position in that order (-1 for ids not in the network)."""
        nodes = np.fromiter(self._adj, dtype=np.int64, count=len(self._adj))
        top = max(int(nodes.max()) if len(nodes) else -1, int(self._u[: self._used].max(initial=-1)), int(self._v[: self._used].max(initial=-1)))
        position = np.full(top + 1, -1, dtype=np.int64)
        position[nodes] = np.arange(len(nodes))
        return nodes, position

    def tie_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(u, v, slots) of the ties, in slot order (each node's adjacency order); the trust
        of the ties is ``self.trust[slots]`` (writable through ``set_trust``)."""
        # Compacting renumbers every live Tie object (a cache miss each in a large model, about
        # 0.1 us): done once the dead slots outnumber the live ones, it costs about one
        # renumbering per removed tie (at a quarter of the slots it cost three), while the
        # array passes here skip at most as many dead slots as they read live ones.
        if self._dead > self._used - self._dead:
            self._compact()
        n = self._used
        slots = np.flatnonzero(self._alive[:n]) if self._dead else np.arange(n)
        return self._u[slots], self._v[slots], slots

    @property
    def trust(self) -> np.ndarray:
        """Trust of every slot (read only: use ``set_trust``)."""
        view = self._trust[: self._used]
        view.flags.writeable = False
        return view

    def set_trust(self, slots: np.ndarray, values: np.ndarray) -> None:
        self._trust[slots] = values

    def remove_slots(self, slots: np.ndarray) -> None:
        """Remove the ties in ``slots`` (as remove_edges_from)."""
        adj = self._adj
        for u, v in zip(self._u[slots].tolist(), self._v[slots].tolist(), strict=True):
            del adj[u][v]
            if u != v:
                del adj[v][u]
        ties = self._ties
        self._kill_many(list(map(ties.__getitem__, slots.tolist())), slots)
        nx._clear_cache(self)

    def edge_order(self, position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(a, b): the ties as networkx's ``edges()`` lists them: each from the end met
        first in node order, sorted by that end's position, then by slot."""
        u, v, _ = self.tie_arrays()
        pu, pv = position[u], position[v]
        first_u = pu <= pv
        a = np.where(first_u, u, v)
        b = np.where(first_u, v, u)
        first = np.minimum(pu, pv)
        if len(position) <= 1 << 16:  # positions fit in 16 bits: numpy's stable sort is then a radix sort
            first = first.astype(np.uint16)
        order = np.argsort(first, kind="stable")
        return a[order], b[order]

    def number_of_ties(self) -> int:
        return self._used - self._dead
