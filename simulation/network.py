"""The cooperation network: a networkx ``Graph`` whose ties live in numpy arrays.

Why (issue 9): the network's quarterly passes (trust update and spillovers, the imitation
term of the strategy choice, the clustering coefficient) visit every tie.  Over networkx's
dict of dicts each visit is a Python dict read, and reading tens of thousands of dicts
costs the same whether the arithmetic after it is Python or numpy.  Here the ties LIVE
in arrays (one slot per tie: its two ends, its trust and its kind), so those passes are
numpy expressions over the arrays, while the object stays a full ``networkx.Graph``, so
``net.edges[a, b]["trust"]``, ``net.edges(data=True)``, networkx's algorithms,
``copy.deepcopy`` and pickle work as on a plain graph.

The slots are the truth.  Besides them the network keeps, per node, its neighbours and
the slot of the tie to each (``_nbr``, ints only: what "is u tied to v" and "the ties of
w in order" read; an entry whose tie was removed by ``remove_slots`` or with its other
end may stay, dead, until the next compaction or a new tie between the two: readers skip
it, and a new tie's entry goes to the end), and networkx's adjacency dict of dicts,
whose edge dicts are :class:`Tie` mappings reading and writing the slots, is brought up
to date only when it
is read (:class:`_Adjacency`): some 550 ties are made and as many removed a quarter at
1,000 organisations, and a ``Tie`` object per tie (tracked by Python's garbage collector,
whose collections they set off) and its two adjacency entries cost more than the rest of
the bookkeeping, while nothing reads them during a run (exports, plots, tests and
networkx's algorithms do, after or between quarters).  Writes go
through the Graph's methods (networkx's own mutators are overridden here); a ``Tie``
handed out keeps working, across compactions, until its tie is removed, and then keeps
its values.  An inner neighbour dict held across a change (``G.adj[n]`` kept) is not
brought up to date until the adjacency is read again.

Node ids must be non-negative integers (the agents' ``unique_id``).

Order.  A tie's slot is given at its creation and slots keep creation order (removed
ties are compacted away, order kept), so a node's neighbours in networkx's adjacency
order are its ties in slot order, and networkx's ``edges()`` order is the ties sorted by
the position in node order of their first end, then slot.  The array passes follow these
orders wherever a floating-point sum depends on them (results bit-identical to the
dict-of-dicts passes they replace).  Node order is the insertion order of ``_node``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, MutableMapping
from itertools import repeat

import networkx as nx
import numpy as np
from networkx import convert

_ABSENT_TRUST = float("nan")  # a tie without a "trust" attribute (no mechanism makes one)


class _Absent:
    """The kind of a tie without a "kind" attribute: one object, kept as itself by copy,
    deepcopy and pickle (a bare ``object()`` would come back as another object)."""

    __slots__ = ()

    def __reduce__(self) -> str:
        return "_ABSENT"

    def __repr__(self) -> str:
        return "<no kind>"


_ABSENT = _Absent()


def node_strength(u: np.ndarray, v: np.ndarray, values: np.ndarray, keep: np.ndarray, size: int) -> np.ndarray:
    """Per node (``u``, ``v`` the ties' ends as bin numbers below ``size``: node ids or
    positions), the sum of ``values`` over its kept ties, a self-loop counted once
    (networkx's weighted degree counts it twice): ``np.bincount`` over both ends.  The
    floats are added in slot order, not in a loop's adjacency order, so a sum may differ
    from such a loop's in the last bit."""
    other = keep & (u != v)
    return np.bincount(u[keep], weights=values[keep], minlength=size) + np.bincount(v[other], weights=values[other], minlength=size)


class Tie(MutableMapping):
    """The attribute dict of one tie, as networkx's adjacency shows it: ``trust`` and
    ``kind`` in the network's slot ``i``, any other attribute in the object.  Made when
    the adjacency is first read with the tie in it; a tie removed from its network keeps
    its values in the object (``detach``)."""

    __slots__ = ("net", "i", "extra", "detached_trust", "detached_kind")

    def __init__(self, net: CooperationNetwork, i: int) -> None:
        # ``extra`` is set when another attribute is first written, the ``detached_``
        # values when the tie leaves its network.
        self.net = net
        self.i = i

    def _trust(self) -> float:
        return self.net._trust.item(self.i) if self.net is not None else self.detached_trust

    def _kind(self):
        return self.net._kind[self.i] if self.net is not None else self.detached_kind

    def __getitem__(self, key):
        if key == "trust":
            t = self._trust()
            if t != t:
                raise KeyError(key)
            return t
        if key == "kind":
            kind = self._kind()
            if kind is _ABSENT:
                raise KeyError(key)
            return kind
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
            self._set_kind(value)
        else:
            if getattr(self, "extra", None) is None:
                self.extra = {}
            self.extra[key] = value

    def _set_kind(self, value) -> None:
        if self.net is not None:
            self.net._kind[self.i] = value
            self.net._rekinded.append(self)  # counted by changed_since_mark
        else:
            self.detached_kind = value

    def __delitem__(self, key) -> None:
        if key == "trust" and self._trust() == self._trust():
            self["trust"] = _ABSENT_TRUST
        elif key == "kind" and self._kind() is not _ABSENT:
            self._set_kind(_ABSENT)
        elif getattr(self, "extra", None) is not None and key in self.extra:
            del self.extra[key]
        else:
            raise KeyError(key)

    def __iter__(self) -> Iterator:
        if self._trust() == self._trust():
            yield "trust"
        if self._kind() is not _ABSENT:
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

    def __deepcopy__(self, memo) -> Tie | dict:
        """Within a copy of its network (the network copied first, so in ``memo``), or
        detached: a Tie of the copy.  Alone (networkx's ``to_directed`` and
        ``to_undirected`` deep-copy each edge dict): a plain dict of its values, not a copy
        of the whole network per tie."""
        if self.net is not None and id(self.net) not in memo:
            return copy.deepcopy(dict(self), memo)
        new = Tie.__new__(Tie)
        memo[id(self)] = new
        for name in Tie.__slots__:
            if hasattr(self, name):
                setattr(new, name, copy.deepcopy(getattr(self, name), memo))
        return new

    def detach(self) -> None:
        """The tie left its network: keep its trust and kind in the object."""
        self.detached_trust = self._trust()
        self.detached_kind = self._kind()
        self.net = None


class _Adjacency(dict):
    """networkx's adjacency dict of dicts (node -> neighbour -> :class:`Tie`) of a
    CooperationNetwork, brought up to date from the slots whenever it is read and the
    network changed since (``CooperationNetwork._sync_adjacency``).  networkx's views
    (``G.adj``, ``G.edges``, ``G.degree``, subgraph views) hold this object, so they stay
    live.  Only the network writes it."""

    __slots__ = ("net",)

    def __init__(self, net: CooperationNetwork) -> None:
        super().__init__()
        self.net = net


def _read_fresh(method):
    def read(self, *args):
        if self.net._stale:
            self.net._sync_adjacency()
        return method(self, *args)

    read.__name__ = method.__name__
    read.__doc__ = method.__doc__
    return read


for _name in ("__getitem__", "__contains__", "__iter__", "__reversed__", "__len__", "__eq__", "__ne__", "__repr__",
              "__or__", "__ror__", "keys", "values", "items", "get", "copy"):
    setattr(_Adjacency, _name, _read_fresh(getattr(dict, _name)))
del _name


class CooperationNetwork(nx.Graph):
    """Undirected ties between legal persons, trust in [0, 1] on each (see module doc)."""

    def __init__(self, incoming_graph_data=None, **attr) -> None:
        self._u = np.zeros(0, dtype=np.int64)  # slot -> one end (node id)
        self._v = np.zeros(0, dtype=np.int64)  # slot -> the other end
        self._trust = np.zeros(0)  # slot -> trust (NaN: no trust attribute)
        self._alive = np.zeros(0, dtype=bool)
        self._kind: list = []  # slot -> kind (_ABSENT: no kind attribute), the used slots
        self._used = 0  # slots used, alive or not
        self._dead = 0  # slots of removed ties not yet compacted
        self._nbr: dict = {}  # node -> {neighbour: slot}, live ties in adjacency (slot) order, dead ones skipped; keys as _node's
        self._tie_obj: dict[int, Tie] = {}  # slot -> its Tie, for the ties the adjacency has shown
        self._stale = False  # nodes or ties changed since the adjacency was last brought up to date
        # Since the last supply marking (set_mark): ties in slots from _mark on are new, and
        # _rekinded holds the ties whose kind was written through their Tie mapping
        # (changed_since_mark; TerritoryModel.open_quarter).
        self._mark = 0
        self._rekinded: list[Tie] = []
        # networkx's Graph.__init__, with the adjacency an _Adjacency before any data is loaded
        super().__init__()
        self._adj = _Adjacency(self)
        if incoming_graph_data is not None:
            convert.to_networkx_graph(incoming_graph_data, create_using=self)
        attr.pop("backend", None)  # as networkx: an explicit backend="networkx" is ignored
        self.graph.update(attr)

    # ----------------------------------------------------------------- networkx's adjacency
    def _sync_adjacency(self) -> None:
        """Bring networkx's adjacency up to date with the slots, in place (networkx's views
        hold it, and a neighbour dict held stays the one of its node): nodes in ``_node``
        order, each node's neighbours in slot order, one Tie per tie (made the first time)."""
        self._stale = False
        adj, nbr, ties = self._adj, self._nbr, self._tie_obj
        alive = self._alive[: self._used].tolist()
        old = dict.copy(adj)
        dict.clear(adj)
        new_inner = self.adjlist_inner_dict_factory
        for n in self._node:
            inner = old.get(n)
            if inner is None:
                inner = new_inner()
            else:
                inner.clear()
            dict.__setitem__(adj, n, inner)
            for x, s in nbr[n].items():
                if not alive[s]:
                    continue
                tie = ties.get(s)
                if tie is None:
                    tie = ties[s] = Tie(self, s)
                inner[x] = tie

    def _tie_of(self, s: int) -> Tie:
        """The Tie of slot ``s`` (made if none was)."""
        tie = self._tie_obj.get(s)
        if tie is None:
            tie = self._tie_obj[s] = Tie(self, s)
        return tie

    def __getstate__(self) -> dict:
        # copy.deepcopy and pickle: the adjacency brought up to date first, so that the copy's
        # adjacency, Ties and slots agree whatever order its attributes are copied in.
        if self._stale:
            self._sync_adjacency()
        return self.__dict__

    def tie_slot(self, u: int, v: int) -> int:
        """The slot of the tie u-v (its trust: ``self.trust[slot]``, written by ``set_trust``);
        KeyError if there is none."""
        s = self._nbr[u][v]
        if not self._alive[s]:
            raise KeyError(v)
        return s

    def _live_slot(self, u, v) -> int | None:
        """The slot of the tie u-v, None if there is none (a dead entry left as it is)."""
        s = self._nbr[u].get(v)
        return s if s is not None and self._alive[s] else None

    # ----------------------------------------------------------------- slots
    def _reserve(self, k: int) -> None:
        """Room for k more tie slots after the used ones (the arrays grow by doubling)."""
        i = self._used
        if i + k > len(self._trust):
            for name in ("_u", "_v", "_trust", "_alive"):
                arr = getattr(self, name)
                grown = np.zeros_like(arr, shape=max(64, 2 * (i + k)))
                grown[:i] = arr[:i]
                setattr(self, name, grown)

    def _new_tie(self, u, v, trust: float, kind) -> int:
        """A new tie u-v (both nodes in the network, not tied yet) in a new slot, with this
        trust and kind: its slot (a dead entry of the pair dropped, so the new one goes last)."""
        i = self._used
        self._reserve(1)
        self._u[i] = u
        self._v[i] = v
        self._trust[i] = trust
        self._alive[i] = True
        self._kind.append(kind)
        nbr = self._nbr
        mine = nbr[u]
        mine.pop(v, None)
        mine[v] = i
        if u != v:
            theirs = nbr[v]
            theirs.pop(u, None)
            theirs[u] = i
        self._used = i + 1
        self._stale = True
        return i

    def _append_ties(self, us, new: list, trust, kinds) -> None:
        """New ties us-v, v in ``new`` (``us`` one node for all, or one per tie; no pair tied
        yet or repeated, all nodes), in that order, with ``trust`` (one float or one per
        tie) and ``kinds`` (an iterable, one per tie): their slots written at once, then
        each end's neighbour dict as add_edge's (a dead entry of a pair dropped first; with
        one ``us``, the caller has dropped those in its dict)."""
        i, k = self._used, len(new)
        if i + k > len(self._trust):
            self._reserve(k)
        self._u[i:i + k] = us
        self._v[i:i + k] = new
        self._trust[i:i + k] = trust
        self._alive[i:i + k] = True
        self._kind.extend(kinds)
        # No Tie object and no networkx adjacency entry per tie (made if the adjacency is
        # read); the ends' neighbour dicts get the slot, in the order add_edge's loop gives.
        nbr, slots = self._nbr, range(i, i + k)
        if isinstance(us, (int, np.integer)):
            nbr[us].update(zip(new, slots, strict=True))  # a self-loop's entry lands at its place in ``new``
            for v, j in zip(new, slots, strict=True):
                if v != us:
                    theirs = nbr[v]
                    if us in theirs:  # dead
                        del theirs[us]
                    theirs[us] = j
        else:
            for u, v, j in zip(us, new, slots, strict=True):
                mine = nbr[u]
                if v in mine:
                    del mine[v]
                mine[v] = j
                if u != v:
                    theirs = nbr[v]
                    if u in theirs:
                        del theirs[u]
                    theirs[u] = j
        self._used = i + k
        self._stale = True
        nx._clear_cache(self)

    def _kill_many(self, slots, marked: bool = False) -> None:
        """The ties in ``slots`` (a list or array, distinct, alive) leave the network: their
        slots freed (``marked``: done already), their Ties (if made) keep their values; their
        neighbour dict entries may stay (dead)."""
        k = len(slots)
        if not k:
            return
        alive = self._alive
        if marked:
            pass
        elif k < 16:  # a closing organisation's few ties: numpy's calls would cost more than the loop
            for s in slots:
                alive[s] = False
        else:
            alive[slots] = False
        if self._tie_obj:
            pop = self._tie_obj.pop
            for s in slots.tolist() if isinstance(slots, np.ndarray) else slots:
                tie = pop(s, None)
                if tie is not None:
                    tie.detach()
        self._dead += k
        self._stale = True

    def _compact(self) -> None:
        """Drop the slots of removed ties, keeping creation order; the neighbour dicts'
        dead entries dropped, the others and the Ties made renumbered."""
        if not self._dead:
            return
        used = self._used
        keep = np.flatnonzero(self._alive[:used])
        n = len(keep)
        for name in ("_u", "_v", "_trust", "_alive"):
            arr = getattr(self, name)
            new = np.zeros_like(arr, shape=max(64, 2 * n))
            new[:n] = arr[keep]
            setattr(self, name, new)
        renumber = np.full(used, -1, dtype=np.int64)
        renumber[keep] = np.arange(n)
        new_slot = renumber.tolist()
        # The neighbour dicts written again from the kept slots in order (each node's ties in
        # slot order, its adjacency order; the dead entries gone): fewer dict operations than
        # renumbering each entry and dropping the dead ones.
        nbr = self._nbr
        for ties in nbr.values():
            ties.clear()
        for j, u, v in zip(range(n), self._u[:n].tolist(), self._v[:n].tolist(), strict=True):
            nbr[u][v] = j
            nbr[v][u] = j
        kinds = self._kind
        self._kind = [kinds[s] for s in keep.tolist()]
        if self._tie_obj:  # all alive: a removed tie's Tie leaves the dict
            objs = {}
            for s, tie in self._tie_obj.items():
                tie.i = new_slot[s]
                objs[tie.i] = tie
            self._tie_obj = objs
        self._mark = int(np.searchsorted(keep, self._mark))  # the live slots below the mark stay below it
        self._used, self._dead = n, 0

    def _reset_ties(self) -> None:
        for tie in self._tie_obj.values():
            tie.detach()
        self._tie_obj = {}
        self._kind = []
        self._alive[:] = False
        self._used = self._dead = self._mark = 0
        self._stale = True

    # ----------------------------------------------------------------- networkx's mutators
    # networkx 3.x's Graph methods, on ``_node``, the neighbour dicts and the slots (never on
    # the adjacency, which follows when read).
    def _add_node_if_new(self, n) -> None:
        if n not in self._node:
            if n is None:
                raise ValueError("None cannot be a node")
            self._nbr[n] = {}
            self._node[n] = self.node_attr_dict_factory()
            self._stale = True

    def add_node(self, node_for_adding, **attr) -> None:
        self._add_node_if_new(node_for_adding)
        self._node[node_for_adding].update(attr)  # the attributes updated even if the node exists
        nx._clear_cache(self)

    def add_nodes_from(self, nodes_for_adding, **attr) -> None:
        for n in nodes_for_adding:
            try:
                newnode = n not in self._node
                newdict = attr
            except TypeError:  # a (node, attributes) pair
                n, ndict = n
                newnode = n not in self._node
                newdict = attr.copy()
                newdict.update(ndict)
            if newnode:
                self._add_node_if_new(n)
            self._node[n].update(newdict)
        nx._clear_cache(self)

    def add_edge(self, u_of_edge, v_of_edge, **attr) -> None:
        u, v = u_of_edge, v_of_edge
        nbr = self._nbr
        if u not in nbr:
            self._add_node_if_new(u)
        if v not in nbr:
            self._add_node_if_new(v)
        s = nbr[u].get(v)
        if s is None or not self._alive[s]:  # a new tie: its trust and kind written with its slot
            s = self._new_tie(u, v, attr.pop("trust", _ABSENT_TRUST), attr.pop("kind", _ABSENT))
        if attr:  # a tie there already (a kind written counts as a change), or other attributes
            tie = self._tie_of(s)
            for key, value in attr.items():  # MutableMapping.update, without its generic checks
                tie[key] = value
        nx._clear_cache(self)

    def add_edges_from(self, ebunch_to_add, **attr) -> None:
        nbr = self._nbr
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
            s = nbr[u].get(v)
            if s is None or not self._alive[s]:
                data = dict(attr)
                data.update(dd)
                s = self._new_tie(u, v, data.pop("trust", _ABSENT_TRUST), data.pop("kind", _ABSENT))
                if data:
                    self._tie_of(s).update(data)
            else:
                tie = self._tie_of(s)
                tie.update(attr)
                tie.update(dd)
        nx._clear_cache(self)

    def remove_edge(self, u, v) -> None:
        nbr = self._nbr
        s = nbr[u].get(v) if u in nbr else None
        if s is None or not self._alive[s]:
            raise nx.NetworkXError(f"The edge {u}-{v} is not in the graph")
        del nbr[u][v]
        if u != v:
            del nbr[v][u]
        self._kill_many([s])
        nx._clear_cache(self)

    def remove_edges_from(self, ebunch) -> None:
        nbr, alive = self._nbr, self._alive
        gone = []
        for e in ebunch:
            u, v = e[:2]
            s = nbr[u].get(v) if u in nbr else None
            if s is not None and alive[s]:
                alive[s] = False  # at once: the pair may come again in the bunch
                gone.append(s)
                del nbr[u][v]
                if u != v:
                    del nbr[v][u]
        self._kill_many(gone, marked=True)
        nx._clear_cache(self)

    def remove_node(self, n) -> None:
        if n not in self._node:
            raise nx.NetworkXError(f"The node {n} is not in the graph.")
        self.remove_nodes_from((n,))

    def remove_nodes_from(self, nodes) -> None:
        """remove_node of each of ``nodes`` in the network, in order (others are ignored, as
        networkx does), the ties' slots freed at once (closures of a quarter,
        TerritoryModel.remove_providers).  The neighbours' entries for a removed node stay,
        dead (a node's removal then costs no visit to each neighbour's dict)."""
        nbr, node, alive = self._nbr, self._node, self._alive
        slots = []
        for n in nodes:
            mine = nbr.pop(n, None)
            if mine is None:
                continue
            del node[n]
            for s in mine.values():
                if alive[s]:  # at once: a tie between two removed nodes comes twice
                    alive[s] = False
                    slots.append(s)
        self._stale = True
        self._kill_many(slots, marked=True)
        nx._clear_cache(self)

    def add_new_nodes(self, nodes: list[int]) -> None:
        """add_nodes_from(nodes) for plain node ids, no attributes (the entrants of a
        quarter, TerritoryModel.register_many): without networkx's per-node handling of
        (node, attributes) pairs.  A node already there is left as it is."""
        for n in nodes:
            self._add_node_if_new(n)
        nx._clear_cache(self)

    def clear(self) -> None:
        self._reset_ties()
        self._nbr.clear()
        self._node.clear()
        self.graph.clear()
        nx._clear_cache(self)

    def clear_edges(self) -> None:
        self._reset_ties()
        for ties in self._nbr.values():
            ties.clear()
        nx._clear_cache(self)

    # ----------------------------------------------------------------- the model's bulk changes
    def add_missing_ties(self, u: int, others, trust: float, kind: str, distinct: bool = False) -> None:
        """Tie ``u`` to each of ``others`` it is not yet tied to, in that order, with this
        trust and kind (ties already there are left as they are): what a loop of
        ``if not has_edge: add_edge(u, v, trust=trust, kind=kind)`` does, with the new
        slots written at once.  All nodes must be in the network.  ``distinct``: no node
        comes twice in ``others`` (a hub's members, Ptce.add_member), so none is looked for."""
        mine = self._nbr[u]
        new = [v for v in others if v not in mine]
        if len(new) < len(others):  # some have an entry: a dead one is dropped and counts as no tie
            alive = self._alive
            dead = [v for v in others if v in mine and not alive[mine[v]]]
            if dead:
                for v in dead:
                    mine.pop(v, None)
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
        nbr, trust, kinds, alive = self._nbr, self._trust, self._kind, self._alive
        mine = nbr[u]
        new, new_trust, new_kind = [], [], []
        for x, s in nbr[w].items():
            if x == u or not alive[s]:
                continue
            t = trust.item(s)
            if t != t:
                raise KeyError("trust")  # as tie["trust"] of a tie without trust
            own = mine.get(x)
            if own is not None and not alive[own]:  # a dead entry: no tie
                del mine[x]
                own = None
            if own is not None:  # own["trust"] = max(t, own["trust"]), on the array
                mine_t = trust.item(own)
                if mine_t != mine_t:
                    raise KeyError("trust")
                trust[own] = max(t, mine_t)
            else:
                new.append(x)
                new_trust.append(t)
                kind = kinds[s]
                new_kind.append("tie" if kind is _ABSENT else kind)
        if new:
            self._append_ties(u, new, new_trust, new_kind)

    def add_new_ties(self, us: list[int], vs: list[int], trust: float, kind: str) -> None:
        """A tie between each ``us[k]`` and ``vs[k]``, in that order, with this trust and kind,
        the slots written at once: what a loop of ``add_edge(u, v, trust=trust, kind=kind)``
        does when the ``us`` are distinct, none is among the ``vs`` (so no pair comes twice)
        and no pair is tied yet (each entrant of a quarter tied to its peer,
        TerritoryModel.enter_new_organisations); otherwise that loop runs.  All nodes must be
        in the network."""
        k = len(us)
        if not k:
            return
        firsts = set(us)
        if len(firsts) < k or not firsts.isdisjoint(vs) or any(self._live_slot(u, v) is not None for u, v in zip(us, vs, strict=True)):
            for u, v in zip(us, vs, strict=True):
                self.add_edge(u, v, trust=trust, kind=kind)
            return
        self._append_ties(us, vs, trust, repeat(kind, k))

    def set_kind_among(self, nodes: list[int], kind: str) -> None:
        """Set the kind of every tie between two of ``nodes``: what a loop of
        ``adj[a][b]["kind"] = kind`` over the pairs does, on the slots."""
        nbr, kinds = self._nbr, self._kind
        for i, a in enumerate(nodes):
            ties = nbr[a]
            for b in nodes[i + 1:]:
                s = ties.get(b)
                if s is not None:  # a dead entry's slot: a kind no one reads (a removed Tie has its own)
                    kinds[s] = kind

    def set_kind_from(self, news: list[int], nodes: list[int], kind: str) -> None:
        """Set the kind of every tie between one of ``news`` and one of ``nodes`` (``news``
        among ``nodes``): set_kind_among(nodes) restricted to the pairs with an end in
        ``news``, each tie's kind written once or twice (the same value)."""
        nbr, kinds = self._nbr, self._kind
        for a in news:
            ties = nbr[a]
            for b in nodes:
                s = ties.get(b)
                if s is not None and b != a:  # as set_kind_among: a self-loop is no pair
                    kinds[s] = kind

    def set_kind_of_slots(self, slots: np.ndarray, kind: str) -> None:
        """Set the kind of the ties in ``slots``."""
        kinds = self._kind
        for s in slots.tolist():
            kinds[s] = kind

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

    # ----------------------------------------------------------------- array views
    def node_index(self) -> tuple[np.ndarray, np.ndarray]:
        """(nodes, position): the node ids in networkx's node order, and an array mapping a
        node id to its position in that order (-1 for ids not in the network)."""
        nodes = np.fromiter(self._node, dtype=np.int64, count=len(self._node))
        top = max(int(nodes.max()) if len(nodes) else -1, int(self._u[: self._used].max(initial=-1)), int(self._v[: self._used].max(initial=-1)))
        position = np.full(top + 1, -1, dtype=np.int64)
        position[nodes] = np.arange(len(nodes))
        return nodes, position

    def tie_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(u, v, slots) of the ties, in slot order (each node's adjacency order); the trust
        of the ties is ``self.trust[slots]`` (writable through ``set_trust``)."""
        # Compacting renumbers every neighbour dict entry (and Tie made): done once the dead
        # slots are twice the live ones, it costs about half a renumbering per removed tie,
        # while the array passes here skip at most two dead slots per live one they read
        # (at 1,000 organisations a quarter 2-3 % cheaper than compacting at one dead slot per
        # live one, in-process comparison; at four, no better than at two).
        if self._dead > 2 * (self._used - self._dead):
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
        """Remove the ties in ``slots`` (as remove_edges_from; their neighbour dict entries
        stay, dead)."""
        self._kill_many(slots)
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
