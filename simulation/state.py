"""The providers' numeric state, one numpy array per attribute (issue 9: performance).

Mesa agents remain the model's organisations: ``p.staff_fte`` reads and writes as before.
But the value lives in a column of a :class:`ProviderState` shared by all providers of a
model, at the provider's row (rows are given in creation order and never reused), so a
mechanism can read or update every provider at once with numpy, without a Python pass
over the agents to gather their attributes and another to write them back.

Reading an attribute returns a plain Python ``float`` (or ``int``): numpy scalars must
not leak into the agents' state, since Python's ``sum`` is compensated (Neumaier, 3.12)
only over plain floats and a metric's last digits would then depend on which code path
wrote a value.
"""

from __future__ import annotations

import numpy as np

LEDGER_FIELDS = (
    "subsidy_eur", "public_order_eur", "sales_eur", "gifts_eur",
    "wages_eur", "fixed_costs_eur", "bid_costs_eur", "coordination_eur", "supply_surcharge_eur",
)
"""A quarter's money of a provider (organisations.Ledger), EUR; stored as ``ledger_<field>``."""
LEDGER_COLUMNS = tuple(f"ledger_{f}" for f in LEDGER_FIELDS)

FLOAT_COLUMNS = (
    "staff_fte", "insertion_share", "volunteers_fte", "treasury_eur", "technicisation", "governance",
    "governance_base", "asked_hours", "served_hours", "personalisation", "norm_level", "insertion_exits_to_jobs",
    "price_eur_per_hour", "supply_cost_multiplier", "last_result_eur", "carried_eur", "transfers_eur",
    "productivity", "pool_share", "joint_sales_bonus", "pathway_bonus", "outside_supply_share",
    "solidarity_surcharge", "solidarity_hours", "governance_bonus", "capacity_now", "proximity_now", "surcharge_eur",
) + LEDGER_COLUMNS
"""Float attributes of a provider held in columns (units in their names)."""

INT_COLUMNS = ("sector", "municipality", "accredited_from", "founded_step", "insolvent_quarters")
"""Integer attributes of a provider held in columns."""

FLAG_COLUMNS = ("ess", "prev_flow_slot")
"""Integer columns with no attribute of their own: ``ess`` is 1 for an ESS organisation
(the class attribute ``is_ess``, copied when the agent is made); ``prev_flow_slot`` is 1 +
the provider's row in ``ProviderState.prev_flows`` (its hours per demand cell last
quarter, ``Provider.prev_flows``), 0 for none."""


class ProviderState:
    """Columns of the providers' numeric state: ``state.cols[name]`` is an array with one
    entry per row; ``state.size`` rows are in use.  Arrays grow by doubling, so a column
    taken from ``cols`` before a new provider is created may be a stale copy: take it
    again after creating agents."""

    def __init__(self, capacity: int = 256) -> None:
        self.size = 0
        self.capacity = capacity
        self.cols: dict[str, np.ndarray] = {name: np.zeros(capacity) for name in FLOAT_COLUMNS}
        self.cols.update({name: np.zeros(capacity, dtype=np.int64) for name in INT_COLUMNS + FLAG_COLUMNS})
        # Last quarter's hours served per demand cell (municipality x group), a row per
        # provider that served (TerritoryModel.update_personalisation writes it whole each
        # quarter); the column prev_flow_slot points into it.  ``prev_flows_shared``: the
        # table is also the model's ``flow_matrix`` (this quarter's flows, when every
        # provider served), so a write to a row (Provider.prev_flows, a merger) copies it first.
        self.prev_flows = np.zeros((0, 0))
        self.prev_flows_shared = False
        # organisations.FixedCostMemo of these rows, made by the first cost sheet (organisations.cost_sheet).
        self.fixed_cost_memo = None

    def new_row(self) -> int:
        """A fresh row, all zeros."""
        return self.new_rows(1)

    def new_rows(self, n: int) -> int:
        """``n`` fresh rows, all zeros, one after the other: returns the first (the rows are
        ``first, ..., first + n - 1``, as ``n`` calls of new_row give)."""
        if self.size + n > self.capacity:
            while self.size + n > self.capacity:
                self.capacity *= 2
            for name, old in self.cols.items():
                new = np.zeros(self.capacity, dtype=old.dtype)
                new[: self.size] = old[: self.size]
                self.cols[name] = new  # same dict: agents find the new array
        first = self.size
        self.size += n
        return first


def column_property(name: str, doc: str | None = None) -> property:
    """An agent attribute stored at ``self._row`` of the column ``name`` of ``self._cols``
    (the model's ProviderState.cols); reads return a plain float or int (``ndarray.item``)."""

    def get(self):
        return self._cols[name].item(self._row)

    def set(self, value) -> None:
        self._cols[name][self._row] = value

    return property(get, set, doc=doc or f"column {name!r} of the model's ProviderState")


def running_total(values: np.ndarray, start: float = 0.0) -> float:
    """start + v_1 + v_2 + ... added one by one in order, as ``total += v`` in a loop over
    the agents adds them (``np.cumsum`` adds sequentially: neither pairwise, as ``np.sum``,
    nor compensated, as Python's ``sum``), so an array form keeps the loop's bits."""
    if len(values) == 0:
        return float(start)
    return float(np.cumsum(np.concatenate(([start], values)))[-1])


class Roster:
    """The live providers of a model as arrays, in the order they were registered: the
    order of ``TerritoryModel.provider_by_id`` (a dict: a provider registered again keeps
    its place; one removed and registered again goes to the end).

    Why (issue 9): ``TerritoryModel.provider_rows()`` and its siblings were rebuilt after
    every batch of entries or closures (several times a quarter) by a Python pass over all
    providers; here registering or removing a provider writes one entry, and ``arrays``
    takes the live entries out with numpy.
    """

    def __init__(self, capacity: int = 256) -> None:
        self.n = 0  # entries used, live or not
        self.rows = np.zeros(capacity, dtype=np.int64)  # entry -> the provider's row in the ProviderState
        self.ids = np.zeros(capacity, dtype=np.int64)  # entry -> its unique_id
        self.live = np.zeros(capacity, dtype=bool)  # entry -> still registered
        self.entry: dict[int, int] = {}  # unique_id -> its live entry

    def add(self, row: int, uid: int) -> None:
        if uid in self.entry:  # registered already: it keeps its place
            return
        i = self.n
        if i == len(self.rows):
            if 2 * len(self.entry) < i:  # most entries dead: drop them rather than grow
                self._compact()
                i = self.n
            else:
                for name in ("rows", "ids", "live"):
                    old = getattr(self, name)
                    new = np.zeros(2 * i, dtype=old.dtype)
                    new[:i] = old
                    setattr(self, name, new)
        self.rows[i], self.ids[i], self.live[i] = row, uid, True
        self.entry[uid] = i
        self.n = i + 1

    def add_many(self, rows: list[int], uids: list[int]) -> None:
        """``add`` of each (row, uid) in order, the entries written at once when all the
        uids are new (entrants: TerritoryModel.register_many)."""
        entry, k = self.entry, len(uids)
        if not entry.keys().isdisjoint(uids) or len(set(uids)) < k:  # one registered again: add's rules
            for row, uid in zip(rows, uids, strict=True):
                self.add(row, uid)
            return
        i = self.n
        if i + k > len(self.rows):
            if 2 * len(entry) < i:  # most entries dead: drop them rather than grow
                self._compact()
                i = self.n
            if i + k > len(self.rows):
                size = max(2 * len(self.rows), i + k)
                for name in ("rows", "ids", "live"):
                    old = getattr(self, name)
                    new = np.zeros(size, dtype=old.dtype)
                    new[:i] = old[:i]
                    setattr(self, name, new)
        self.rows[i:i + k] = rows
        self.ids[i:i + k] = uids
        self.live[i:i + k] = True
        self.entry.update(zip(uids, range(i, i + k), strict=True))  # a new dict if compacted
        self.n = i + k

    def remove(self, uid: int) -> None:
        self.live[self.entry.pop(uid)] = False

    def remove_many(self, uids: list[int]) -> None:
        """``remove`` of each of ``uids`` (registered, distinct), the entries marked dead at
        once (a quarter's closures: TerritoryModel.remove_providers)."""
        pop = self.entry.pop
        self.live[[pop(uid) for uid in uids]] = False

    def _compact(self) -> None:
        """Drop the dead entries, keeping the order."""
        keep = np.flatnonzero(self.live[: self.n])
        m = len(keep)
        for name in ("rows", "ids", "live"):
            arr = getattr(self, name)
            arr[:m] = arr[keep]
            arr[m:] = 0
        self.entry = dict(zip(self.ids[:m].tolist(), range(m), strict=True))
        self.n = m

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, ids) of the live providers, in registration order (new arrays); whether
        each is an ESS organisation is its row's ``ess`` column."""
        live = self.live[: self.n]
        return self.rows[: self.n][live], self.ids[: self.n][live]
