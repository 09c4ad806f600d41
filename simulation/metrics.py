"""Registry of per-step metrics: named functions of the model, collected every quarter.

The keys of :data:`METRICS` are the column names of ``TerritoryModel.timeseries()`` and
of ``timeseries.parquet``, in order; they are a contract other tools rely on.
Resource shares are shares of all ESS revenue (subsidies + public orders + sales +
gifts); personalisation is weighted by the hours each provider served.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from .cooperation import hub_table
from .mechanisms import herfindahl
from .organisations import cost_sheet

if TYPE_CHECKING:
    from .model import TerritoryModel


def _memo(model: TerritoryModel, key: str, compute):
    """A value several metrics read, computed once per collection: ``collect_row`` opens
    ``model.metric_cache`` for the collection and closes it after; outside a collection
    (``metric_cache`` None) the value is computed afresh on each call."""
    cache = getattr(model, "metric_cache", None)
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def _orgs(model: TerritoryModel) -> list:
    return _memo(model, "organisations", model.organisations)


# The organisations' state the metrics read comes from the model's columns
# (simulation.state.ProviderState), rows in the order of ``model.organisations()``.
def _rows(model: TerritoryModel) -> np.ndarray:
    return model.organisation_rows()


def _array(model: TerritoryModel, name: str) -> np.ndarray:
    """The ESS organisations' ``name`` (a column of ProviderState, or ``insertion_fte`` =
    staff x insertion share), as an array in the order of ``model.organisations()``."""
    def compute() -> np.ndarray:
        cols, rows = model.provider_state.cols, _rows(model)
        if name == "insertion_fte":  # Provider.insertion_fte
            return cols["staff_fte"][rows] * cols["insertion_share"][rows]
        return cols[name][rows]
    return _memo(model, "array:" + name, compute)


def _sum(values: np.ndarray) -> float:
    """Python's ``sum`` of a float array's values, in order: the compensated (Neumaier) sum
    of Python 3.12 that a loop over the agents' attributes would give, not numpy's pairwise
    one.  The values reach ``sum`` through a ``memoryview``, one Python float at a time,
    the same floats in the same order as from ``values.tolist()``, without building the
    list first: half the time (issue 9; tests/test_vectorised.py compares)."""
    return float(sum(memoryview(values)))


def _ptces(model: TerritoryModel) -> list:
    return _memo(model, "ptces", model.ptces)


def collect_row(model: TerritoryModel) -> dict[str, object]:
    """Every metric of the quarter, {column: value} in the order of :data:`METRICS`: each
    function of METRICS called once, with ``model.metric_cache`` open so the values several
    of them read (the organisations' columns above) are gathered once.  Equal, value for
    value, to calling each function alone (tests/test_vectorised.py checks it)."""
    model.metric_cache = {}
    try:
        return {name: f(model) for name, f in METRICS.items()}
    finally:
        model.metric_cache = None


def step(model: TerritoryModel) -> int:
    """Quarter just simulated, 1 for the first."""
    return model.steps


def ess_employment_fte(model: TerritoryModel) -> float:
    """Salaried FTE of ESS organisations, insertion contracts included."""
    return _memo(model, "ess_employment_fte", lambda: _sum(_array(model, "staff_fte")))


def insertion_employment_fte(model: TerritoryModel) -> float:
    """FTE on work-integration contracts in ESS organisations."""
    return _sum(_array(model, "insertion_fte"))


def insertion_exits_to_jobs(model: TerritoryModel) -> float:
    """Insertion employees who left for a mainstream job this quarter (FACTS.md [iae-exit])."""
    return _sum(_array(model, "insertion_exits_to_jobs"))


def local_employment_fte(model: TerritoryModel) -> float:
    """FTE of ESS organisations, service firms and conventional local employers."""
    return ess_employment_fte(model) + float(sum(f.staff_fte for f in model.firms()))


def volunteers_fte(model: TerritoryModel) -> float:
    return _sum(_array(model, "volunteers_fte"))


def organisations(model: TerritoryModel) -> int:
    """ESS organisations alive at the end of the quarter."""
    return len(_orgs(model))


def entries(model: TerritoryModel) -> int:
    return int(model.quarter_stats.get("entries", 0))


def exits(model: TerritoryModel) -> int:
    return int(model.quarter_stats.get("exits", 0))


def personalisation(model: TerritoryModel) -> float:
    """Service-hours-weighted mean personalisation of all providers' relations, in [0, 1]."""
    cols, rows = model.provider_state.cols, model.provider_rows()
    served = _served_hours(model)
    serving = served > 0
    rows, served = rows[serving], served[serving]
    total = _sum(served)
    if total <= 0:
        return 0.0
    return float(_sum(served * cols["personalisation"][rows]) / total)


def services_delivered_hours(model: TerritoryModel) -> float:
    """Hours of service delivered to beneficiaries this quarter by all providers (ESS and firms)."""
    return _sum(_served_hours(model))


def _served_hours(model: TerritoryModel) -> np.ndarray:
    """Hours served this quarter by each of ``model.providers()`` (ESS and firms), in order."""
    return _memo(model, "served_hours_all", lambda: model.provider_state.cols["served_hours"][model.provider_rows()])


def unmet_need_share(model: TerritoryModel) -> float:
    """Unmet hours over needed hours this quarter, in [0, 1]."""
    need = float(model.need.sum())
    if need <= 0:
        return 0.0
    # Clipped at 1: unmet hours never exceed needed hours, but they are summed in another
    # order (by municipality and sector over the groups, from the public and private parts,
    # TerritoryModel.allocate_demand) than need (over all cells at once), so when nothing is
    # served the same hours can come out one rounding step above need: 1.0000000000000002.
    return min(1.0, float(model.unmet.sum() / need))


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float:
    """sum_i w_i x_i / sum_i w_i (0 when the weights sum to 0 or less).

    Both sums are numpy's own pairwise sums, never ``np.dot``: above 10,000 elements
    OpenBLAS splits a dot product between its threads, so its last bits depend on the
    number of threads (the machine's cores, ``OPENBLAS_NUM_THREADS``, which Dask's workers
    set to 1), and a run of more than 10,000 organisations would not give the same
    result on every executor (tests/test_vectorised.py runs it under 1 and 2 threads)."""
    total = weights.sum()
    if total <= 0:
        return 0.0
    return float((weights * values).sum() / total)


def _staff_weighted(model: TerritoryModel, attr: str) -> float:
    return weighted_mean(_array(model, attr), _array(model, "staff_fte"))


def technicisation(model: TerritoryModel) -> float:
    """Staff-weighted mean technicisation of ESS organisations, in [0, 1]."""
    return _staff_weighted(model, "technicisation")


def governance(model: TerritoryModel) -> float:
    """Staff-weighted mean democratic governance of ESS organisations, in [0, 1]."""
    return _staff_weighted(model, "governance")


def public_spend_eur(model: TerritoryModel) -> float:
    """Public money paid this quarter (EUR): the territorial budget's channels, never above
    the budget, plus the State's insertion aid."""
    return float(model.quarter_stats.get("public_spend_eur", 0.0) + model.quarter_stats.get("insertion_aid_eur", 0.0))


def _revenue(model: TerritoryModel) -> tuple[float, float, float, float]:
    return _memo(model, "revenue", lambda: _revenue_now(model))


def _revenue_now(model: TerritoryModel) -> tuple[float, float, float, float]:
    """ESS subsidies, public orders, sales and gifts of the quarter, each a running total over
    the organisations in order: state.running_total of each line, 0 + v_1 + v_2 + ..., the
    four taken by one ``np.cumsum`` along the rows of a (4, 1 + n) table (an accumulation
    adds along its axis one by one, row by row: the same bits as each line on its own)."""
    lines = _revenue_lines(model)
    if len(lines[0]) == 0:
        return (0.0, 0.0, 0.0, 0.0)
    table = np.zeros((4, 1 + len(lines[0])))
    for i, line in enumerate(lines):
        table[i, 1:] = line
    return tuple(np.cumsum(table, axis=1)[:, -1].tolist())


def _revenue_lines(model: TerritoryModel) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The organisations' subsidies, public orders, sales and gifts (ledger columns), in order."""
    return tuple(_array(model, f"ledger_{line}") for line in ("subsidy_eur", "public_order_eur", "sales_eur", "gifts_eur"))


def _share(model: TerritoryModel, index: int) -> float:
    parts = _revenue(model)
    total = sum(parts)
    return float(parts[index] / total) if total > 0 else 0.0


def subsidy_share(model: TerritoryModel) -> float:
    """Subsidies (grants, agreements, joint projects) over ESS revenue (FACTS.md [resource-mix])."""
    return _share(model, 0)


def public_order_share(model: TerritoryModel) -> float:
    """Public orders (tariffs, contracts) over ESS revenue (FACTS.md [resource-mix])."""
    return _share(model, 1)


def sales_share(model: TerritoryModel) -> float:
    """Sales to beneficiaries over ESS revenue."""
    return _share(model, 2)


def hhi(model: TerritoryModel) -> float:
    """Herfindahl-Hirschman index of ESS organisations' staff (size concentration)."""
    return herfindahl(_array(model, "staff_fte"))


# --------------------------------------------------------------------------- concentration and cooperation
def mergers(model: TerritoryModel) -> int:
    """Mergers (absorptions) this quarter."""
    return int(model.quarter_stats.get("mergers", 0))


def ptce_count(model: TerritoryModel) -> int:
    """PTCEs alive at the end of the quarter (FACTS.md [ptce-count])."""
    return len(_ptces(model))


def ptce_members_mean(model: TerritoryModel) -> float:
    """Mean number of member legal persons (ESS organisations and firms) per PTCE; 0 if none
    (FACTS.md [ptce-size]: about 15)."""
    hubs = _ptces(model)
    # np.mean of the hubs' sizes: integers, summed exactly, over their number
    return float(len(_hub_members(model)[2]) / len(hubs)) if hubs else 0.0


def _hub_members(model: TerritoryModel) -> tuple[np.ndarray, list[int], np.ndarray]:
    """The live hubs' (``model.ptces()``) ESS members, hub after hub in member order: their
    rows in ``provider_state`` and the bounds of each hub's slice (``len(hubs) + 1``), with
    the ids of all the hubs' members (ESS organisations and firms): the model's
    cooperation.HubTable, which the quarter's phases share."""
    def compute() -> tuple[np.ndarray, list[int], np.ndarray]:
        table = hub_table(model, _ptces(model))
        rows, _, bounds = table.ess_rows()
        return rows, bounds, table.ids
    return _memo(model, "hub_members", compute)


def ptce_jobs_mean(model: TerritoryModel) -> float:
    """Mean direct jobs per PTCE: salaried FTE of its ESS members; 0 if none
    (FACTS.md [ptce-size]: about 100)."""
    hubs = _ptces(model)
    if not hubs:
        return 0.0
    # Ptce.jobs_fte of each hub, float(sum(m.staff_fte for its ESS members)), read from the
    # columns for all hubs' ESS members at once (_hub_members): the same floats, summed by
    # Python's sum in the same order.
    rows, bounds, _ = _hub_members(model)
    staff = memoryview(model.provider_state.cols["staff_fte"][rows])  # as _sum, hub by hub
    return float(np.mean([float(sum(staff[s:e])) for s, e in zip(bounds[:-1], bounds[1:], strict=True)]))


def ptce_membership_share(model: TerritoryModel) -> float:
    """Share of ESS organisations that are members of a PTCE, in [0, 1]."""
    # The organisations whose ``ptce`` is not None are the live hubs' ESS members, each in
    # one hub (Ptce.add_member, remove_member, cooperation.leave_hubs keep both sides;
    # cooperation.own_hub_positions relies on it too): counted from the hubs.
    n = len(_rows(model))
    return float(len(_hub_members(model)[0]) / n) if n else 0.0


def project_pooling_depth(model: TerritoryModel) -> float:
    """Mean project-pooling depth of the PTCEs, in [0, 1] (0 cohabitation, 1 pooled projects); 0 if none."""
    hubs = _ptces(model)
    return float(np.mean([h.depth for h in hubs])) if hubs else 0.0


def network_density(model: TerritoryModel) -> float:
    """Density of the cooperation network (ties over possible ties), all legal persons:
    networkx's ``density``, 2 m / (n (n - 1)), m the number of ties (simulation.network)."""
    g = model.cooperation
    n = g.number_of_nodes()
    if n <= 1:
        return 0.0
    m = g.number_of_ties()  # a self-loop is one tie, as networkx counts it
    if m == 0:
        return 0.0
    return float(m / (n * (n - 1)) * 2)


# Up to this many nodes the triangles are counted on a bit table of the adjacency
# (:func:`_triangles_bitset`); above it, by sparse products (:func:`_triangles_sparse`).  The
# bit table costs n^2 / 8 bytes and n / 64 words per tie, quadratic in n; the sparse products
# stay linear in ties but cost 1.5 ms at 1,000 organisations against 0.2 ms for the table
# (benchmarks/README.md, "clustering").  Both give the same integer counts (tests compare).
BITSET_MAX_NODES = 4096


def _triangles_bitset(n: int, pu: np.ndarray, pv: np.ndarray, k: np.ndarray | None = None) -> np.ndarray:
    """Triangles through each of n nodes, from the ties (pu[e], pv[e]) (positions, no
    self-loop, each tie once; k the nodes' degrees if known), on a bit table of the adjacency:

        c_e = |N(pu_e) & N(pv_e)|  (the common neighbours of a tie's ends: popcount of the
                                    AND of their rows of bits)
        T_i = 1/2 sum of c_e over the ties e at i  (each triangle at i is seen from its two ties at i)

    A common neighbour has two ties at least, so the table has a column for each node of
    degree 2 or more only (fewer words per row to AND: a third fewer at 1,000
    organisations); the other nodes' bits all go to one spare column past those, cleared
    before the rows are ANDed.  The counts are integers, exact in any order.
    """
    a, b = np.concatenate((pu, pv)), np.concatenate((pv, pu))
    if k is None:
        k = np.bincount(a, minlength=n)
    common_ok = k >= 2
    spare = int(np.count_nonzero(common_ok))  # the spare column
    column = np.cumsum(common_ok) - 1
    column[~common_ok] = spare
    words = (spare + 64) >> 6  # the spare column included
    table = np.zeros(n * words, dtype=np.uint64)
    b = column[b]
    # One bit per (node, neighbour), each set once: adding distinct bits of a word ORs them.
    # Bits of the spare column are added as often as a node has neighbours of degree 1: the
    # carries go only to higher bits, all past the last real column, which the mask clears.
    np.add.at(table, a * words + (b >> 6), np.left_shift(np.uint64(1), (b & 63).astype(np.uint64)))
    table = table.reshape(n, words)
    table[:, spare >> 6] &= np.uint64((1 << (spare & 63)) - 1)
    counts = np.empty((len(pu), words), dtype=np.uint8)  # popcount of each word of the ANDs
    chunk = max(1, 32768 // words)  # temporaries of about 256 KB stay in cache (no fresh pages)
    for s in range(0, len(pu), chunk):
        x = np.take(table, pu[s:s + chunk], axis=0)
        x &= np.take(table, pv[s:s + chunk], axis=0)
        np.bitwise_count(x, out=counts[s:s + chunk])
    # summed by one product for all ties: popcounts <= n < 2^24, float32 sums are exact
    common = counts.astype(np.float32) @ np.ones(words, dtype=np.float32)
    return (np.bincount(pu, common, minlength=n) + np.bincount(pv, common, minlength=n)) / 2


def _triangles_sparse(n: int, pu: np.ndarray, pv: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Triangles through each of n nodes (k their degrees), counted on the ties oriented
    from the lower to the higher (degree, node order), L the oriented adjacency (Chiba and
    Nishizeki 1985, Schank and Wagner 2005): each triangle a -> b -> c, a -> c is found once,
    and node i is in it as its first, last or middle node:

        T = rowsum(L^2 o L) + colsum(L^2 o L) + rowsum((L^T L) o L)

    (o the elementwise product), about half the work of diag(A^3) / 2 on the symmetric A
    with its dense PTCE cliques.  The counts are integers, exact in any order."""
    from scipy import sparse

    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((np.arange(n), k))] = np.arange(n)
    up = rank[pu] < rank[pv]
    first, last = np.where(up, pu, pv), np.where(up, pv, pu)
    lo = sparse.csr_array((np.ones(len(first)), (first, last)), shape=(n, n))
    ends = (lo @ lo).multiply(lo)
    middle = (lo.T @ lo).multiply(lo)
    return np.asarray(ends.sum(axis=1)).ravel() + np.asarray(ends.sum(axis=0)).ravel() + np.asarray(middle.sum(axis=1)).ravel()


def network_clustering(model: TerritoryModel) -> float:
    """Average clustering coefficient of the cooperation network (unweighted), as networkx's
    ``average_clustering``: C = mean_i 2 T_i / (k_i (k_i - 1)), 0 where k_i < 2; T_i the
    triangles through i (tests compare), self-loops left out.  T is counted on a bit table
    up to :data:`BITSET_MAX_NODES` nodes, by sparse products above; the ties come from the
    network's arrays (simulation.network)."""
    g = model.cooperation
    n = g.number_of_nodes()
    if n == 0:
        return 0.0
    _, position = g.node_index()
    u, v, _ = g.tie_arrays()
    loop = u == v
    if loop.any():
        u, v = u[~loop], v[~loop]
    pu, pv = position[u], position[v]
    k = np.bincount(pu, minlength=n) + np.bincount(pv, minlength=n)
    t = _triangles_bitset(n, pu, pv, k) if n <= BITSET_MAX_NODES else _triangles_sparse(n, pu, pv, k)
    k = k.astype(float)
    c = np.where(k >= 2, 2.0 * t / np.maximum(k * (k - 1), 1), 0.0)
    return float(c.sum() / n)


def top1pct_resource_share(model: TerritoryModel) -> float:
    """Share of ESS revenue this quarter received by the largest 1 % of ESS organisations
    by revenue (at least one organisation), in [0, 1]; FACTS.md [assoc-budget-conc]."""
    # LedgerRows.revenue_eur (subsidies + public orders + sales + gifts, left to right) of
    # the columns already gathered for the shares
    subsidy, public_order, sales, gifts = _revenue_lines(model)
    rev = np.sort(subsidy + public_order + sales + gifts)[::-1]
    total = rev.sum()
    if total <= 0:
        return 0.0
    k = max(1, int(np.ceil(0.01 * len(rev))))
    return float(rev[:k].sum() / total)


def unit_cost_eur(model: TerritoryModel) -> float:
    """Mean unit cost of an hour of ESS service (EUR/hour), weighted by hours served
    (by capacity when nothing was served)."""
    op = model.config.organisation
    orgs = _orgs(model)
    if not orgs:
        return 0.0
    sheet = cost_sheet(orgs, op, _rows(model))  # Provider.capacity_hours and unit_cost_eur, all at once
    w = _array(model, "served_hours")
    if w.sum() <= 0:
        w = sheet["capacity_hours"]
    return weighted_mean(sheet["unit_cost_eur"], w)


METRICS = {
    f.__name__: f
    for f in (
        step, ess_employment_fte, insertion_employment_fte, insertion_exits_to_jobs,
        local_employment_fte, volunteers_fte, organisations, entries, exits, personalisation,
        services_delivered_hours, unmet_need_share, technicisation, governance, public_spend_eur, subsidy_share,
        public_order_share, sales_share, hhi, mergers, ptce_count, ptce_members_mean,
        ptce_jobs_mean, ptce_membership_share, project_pooling_depth, network_density,
        network_clustering, top1pct_resource_share, unit_cost_eur,
    )
}
"""Column name -> function of the model, in column order."""


class MetricsCollector(mesa.DataCollector):
    """Mesa's ``DataCollector`` with :data:`METRICS` as its model reporters, recording each
    quarter's row from :func:`collect_row`.

    Why not Mesa's own ``collect`` (Mesa 3.5.1, ``mesa/datacollection.py``): it calls every
    reporter twice on the first collection (``_validate_model_reporter``) and deep-copies
    each value, for 29 floats and ints a quarter.  This ``collect`` appends the same values
    to the same ``model_vars`` lists and the collection time to ``_collection_steps``, as
    Mesa's does (``mesa.batch_run`` reads it), so ``get_model_vars_dataframe`` and every
    reader of ``model_vars`` see what Mesa's collector would record.
    """

    def __init__(self) -> None:
        super().__init__(model_reporters=dict(METRICS))

    def collect(self, model: TerritoryModel) -> None:
        row = collect_row(model)
        if hasattr(self, "_collection_steps"):  # as Mesa's own collect guards it (a private list)
            self._collection_steps.append(model.time)
        for name, values in self.model_vars.items():
            values.append(row[name])
