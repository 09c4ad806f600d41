"""The model's mechanisms as small pure functions, each named for its economics.

Each docstring gives the equation in plain text, the unit of each symbol and the source.
Nothing here knows about Mesa, the regimes or the runner: agents and the model call these
functions with numbers and arrays, so each can be tested against a hand computation.
"""

from __future__ import annotations

import math
from itertools import repeat

import numpy as np

# --------------------------------------------------------------------------- production and cost


def capacity_hours(
    employees_fte: float,
    insertion_fte: float,
    volunteers_fte: float,
    hours_per_fte: float,
    insertion_productivity: float,
    volunteer_productivity: float,
) -> float:
    """Service capacity of an organisation in a quarter.

    Q = h * (E + a_i * I + a_v * V)
    Q service hours/quarter; h service hours per FTE per quarter; E salaried FTE;
    I insertion FTE; V volunteer FTE; a_i, a_v relative productivities (DESIGN.md 3.3).
    """
    return hours_per_fte * (
        employees_fte + insertion_productivity * insertion_fte + volunteer_productivity * volunteers_fte
    )


def fixed_cost(capacity: float, scale_eur: float, exponent: float) -> float:
    """Fixed cost of premises, equipment and management: economies of scale.

    F(Q) = f0 * Q**beta, 0 < beta < 1 (DESIGN.md 3b), so F grows less than
    proportionally with capacity Q (hours/quarter); F in EUR/quarter.
    """
    if capacity <= 0:
        return 0.0
    return scale_eur * capacity**exponent


def unit_cost(capacity: float, wage_eur: float, hours_per_fte: float, fixed_cost_eur: float) -> float:
    """Cost of one service hour.

    c(Q) = w / h + F(Q) / Q   (DESIGN.md 3b)
    w EUR per salaried FTE per quarter, h labour productivity in service hours per
    salaried FTE per quarter (capacity over staff, so volunteers raise it), F EUR per quarter.
    With F = f0 Q**beta, dc/dQ = f0 (beta - 1) Q**(beta - 2) < 0: unit cost falls with size.
    """
    if capacity <= 0:
        return wage_eur / hours_per_fte
    return wage_eur / hours_per_fte + fixed_cost_eur / capacity


# --------------------------------------------------------------------------- choice


def logit_shares(
    utility: np.ndarray, temperature: float, mask: np.ndarray | None = None, log_attraction: np.ndarray | None = None,
) -> np.ndarray:
    """Multinomial logit choice probabilities along the last axis (McFadden 1974).

    p_j = A_j exp(U_j / tau) / sum_k A_k exp(U_k / tau), with ln A_j = ``log_attraction``
    (default 0: the plain logit); tau = 0 gives the arg-max of U (ties shared equally),
    tau -> inf gives shares proportional to A.  Masked-out alternatives get 0; a row with
    no alternative gets all zeros.
    """
    u = np.asarray(utility, dtype=float)
    if mask is None:
        mask = np.ones(u.shape, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = u / temperature if temperature > 0 else None
        if scaled is not None and log_attraction is not None:
            scaled = scaled + log_attraction
    if scaled is None or not np.isfinite(scaled[mask]).all():
        # tau = 0, or so small that U / tau overflows: the limit is the arg-max.
        masked = np.where(mask, u, -np.inf)
        best = masked.max(axis=-1, keepdims=True)
        top = mask & (masked == best)
        count = top.sum(axis=-1, keepdims=True)
        return np.where(count > 0, top / np.maximum(count, 1), 0.0)
    return _logit_of_scaled(scaled, mask)


def _logit_of_scaled(scaled: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Shares from z = U / tau + ln A, finite where masked in.  exp(-inf) = 0 for the masked-out
    alternatives, and a row without any (total 0) divides zeros by 1."""
    z = np.where(mask, scaled, -np.inf)
    zmax = z.max(axis=-1, keepdims=True)
    zmax[~np.isfinite(zmax)] = 0.0
    e = np.exp(z - zmax)
    total = e.sum(axis=-1, keepdims=True)
    total[total <= 0] = 1.0
    return e / total


def allocate_demand(
    demand: np.ndarray,
    utility: np.ndarray,
    capacity: np.ndarray,
    temperature: float,
    mask: np.ndarray | None = None,
    rounds: int = 3,
    attraction_size: np.ndarray | None = None,
    size_attraction: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Allocate demand cells to providers with logit choice and explicit rationing.

    demand: (cells,) hours; utility: (cells, providers); capacity: (providers,) hours.
    Round r: each cell's remaining demand D_c splits by logit shares p_cj over providers
    that still have spare capacity, each weighted by its size S_j (``attraction_size``,
    hours it can serve in all) to the power alpha (``size_attraction``), as in Huff's
    (1963) spatial interaction model:

        p_cj = S_j**alpha exp(U_cj / tau) / sum_k S_k**alpha exp(U_ck / tau)

    alpha = 0 is the plain logit, where a large and a small provider with the same
    utility are asked for the same hours; alpha = 1 makes demand proportional to size
    at equal utility (growth independent of size, Gibrat's law).  A provider asked for A_j > K_j serves the fraction
    K_j / A_j of each request; the rest flows to the next round (next choice).  After the
    last round what is left stays unmet (DESIGN.md 3b).
    Returns (flows (cells, providers), unmet (cells,), asked (providers,)) in hours;
    asked is what each provider was asked in the first round (its demand before rationing).
    Conservation: flows.sum(1) + unmet == demand; flows.sum(0) <= capacity.
    """
    demand = np.asarray(demand, dtype=float)
    spare = np.asarray(capacity, dtype=float).copy()
    base_mask = np.ones(utility.shape, dtype=bool) if mask is None else mask.astype(bool)
    flows = np.zeros(utility.shape)
    remaining = demand.copy()
    asked_first = np.zeros(utility.shape[-1])
    log_attraction = None
    if size_attraction != 0.0 and attraction_size is not None:
        size = np.asarray(attraction_size, dtype=float)
        base_mask = base_mask & (size > 0)[None, :]  # no size, no attraction (ln 0)
        with np.errstate(divide="ignore"):
            log_attraction = size_attraction * np.log(np.where(size > 0, size, 1.0))
    # z = U / tau + ln A is the same every round (only the open providers change): computed
    # once when finite over all alternatives (so over any subset), else logit_shares' own path.
    scaled = None
    if temperature > 0:
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = np.asarray(utility, dtype=float) / temperature
            if log_attraction is not None:
                scaled = scaled + log_attraction
        if not np.isfinite(scaled[base_mask]).all():
            scaled = None
    for r in range(rounds):
        open_ = base_mask & (spare > 1e-9)[None, :]
        if not open_.any() or remaining.sum() <= 1e-12:
            break
        shares = logit_shares(utility, temperature, open_, log_attraction) if scaled is None else _logit_of_scaled(scaled, open_)
        requests = remaining[:, None] * shares
        asked = requests.sum(axis=0)
        if r == 0:
            asked_first = asked
        # K_j / A_j only where A_j > K_j (so the ratio is < 1): dividing everywhere would
        # overflow for a denormal A_j whose ratio is discarded.
        fill = np.ones_like(asked)
        np.divide(spare, asked, out=fill, where=(asked > spare) & (asked > 0))  # asked > 0: never 0 / 0
        served = requests * fill[None, :]
        flows += served
        spare = np.maximum(spare - served.sum(axis=0), 0.0)
        remaining = np.maximum(remaining - served.sum(axis=1), 0.0)
    return flows, remaining, asked_first


def column_sums(x: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Sum over the rows of a (rows, providers) array whose providers form markets
    ``bounds[k]:bounds[k + 1]``, bit for bit as each market's own (rows, P_k) array summed
    over its rows: numpy adds the rows one by one along a wide array, but sums a single
    column (P_k = 1) pairwise, so such columns are summed again on their own."""
    return _column_sums(x, _single_columns(bounds))


def _single_columns(bounds: np.ndarray) -> list[int]:
    """Columns that are a market on their own (see column_sums)."""
    return np.asarray(bounds)[:-1][np.diff(bounds) == 1].tolist()


def _column_sums(x: np.ndarray, singles: list[int]) -> np.ndarray:
    out = x.sum(axis=0)
    for j in singles:
        out[j] = x[:, j].sum()
    return out


class Workspace:
    """Flat float buffers kept from call to call and from quarter to quarter.  Why (issue 9):
    an array of some 250 KB made afresh is cold in the cache, and writing it costs more than
    the arithmetic (allocate_demand_markets' first multiply: 35 us a round in a running model,
    13 us on a warm buffer); a buffer reused stays warm.  ``take(name, shape)`` gives a
    C-contiguous view of buffer ``name`` (grown when too small) holding whatever was left
    there: for arrays written whole before they are read.  Pickled empty."""

    def __init__(self) -> None:
        self._buffers: dict[str, np.ndarray] = {}

    def take(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        size = math.prod(shape)
        buffer = self._buffers.get(name)
        if buffer is None or buffer.size < size:
            buffer = self._buffers[name] = np.empty(size + size // 4)  # room for a few more providers
        return buffer[:size].reshape(shape)

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self._buffers = {}


class MarketLayout:
    """What :func:`allocate_demand_markets` derives from the markets' ``bounds`` and the
    providers' sizes alone, and the rounds' work arrays: made once for the calls that share
    them (TerritoryModel.allocate_demand: the public and the private hours of a quarter),
    where each call made its own (some 30 numpy calls, and arrays to page in; issue 9).
    A call given a layout must pass the same ``bounds`` and ``attraction_size`` objects
    and the same ``size_attraction`` (checked)."""

    def __init__(self, bounds: np.ndarray, attraction_size: np.ndarray | None = None, size_attraction: float = 0.0,
                 workspace: Workspace | None = None) -> None:
        self.bounds = np.asarray(bounds)
        self.workspace = Workspace() if workspace is None else workspace
        self.attraction_size, self.size_attraction = attraction_size, size_attraction
        self.starts = self.bounds[:-1]
        self.counts = self.bounds[1:] - self.starts  # providers per market
        self.spans = list(zip(self.starts.tolist(), self.bounds[1:].tolist(), strict=True))
        self.singles = _single_columns(self.bounds)
        # ln S_j of the providers with a size, S_j**alpha in the logit; no size, no attraction (ln 0).
        self.sized: np.ndarray | None = None
        self.log_attraction: np.ndarray | None = None
        if size_attraction != 0.0 and attraction_size is not None:
            size = np.asarray(attraction_size, dtype=float)
            self.sized = size > 0
            self.log_attraction = size_attraction * np.log(np.where(self.sized, size, 1.0))  # ln of a positive: no warning
        self._work: dict[tuple[int, int], tuple] = {}

    WORK_BUFFERS = ("shares", "total", "served_cells", "hours")  # the workspace's buffers work() takes

    def column_sums(self, x: np.ndarray) -> np.ndarray:
        """:func:`column_sums` of a (rows, providers) array over these markets."""
        return _column_sums(x, self.singles)

    def matches(self, bounds, attraction_size, size_attraction: float) -> bool:
        return bounds is self.bounds and attraction_size is self.attraction_size and size_attraction == self.size_attraction

    def work(self, origins: int, groups: int) -> tuple:
        """The rounds' scratch arrays for ``origins`` x ``groups`` cells (never returned by a
        call, so shared by the calls): shares (origins, providers), logit totals (origins, K),
        hours served per market and cell (K, cells), a round's hours (origins, groups,
        providers), and the per-market views the rounds sum (market k's shares and its column
        of totals; market k's hours and its row of hours per cell)."""
        key = (origins, groups)
        if key not in self._work:
            n, k_count, take = int(self.bounds[-1]), len(self.spans), self.workspace.take
            shares, total = take("shares", (origins, n)), take("total", (origins, k_count))
            served_cells, hours = take("served_cells", (k_count, origins * groups)), take("hours", (origins, groups, n))
            logit_parts = [(shares[:, a:b], total[:, k]) for k, (a, b) in enumerate(self.spans)]
            self._work[key] = (shares, total, served_cells, hours, logit_parts, self.cell_parts(hours, served_cells))
        return self._work[key]

    def cell_parts(self, hours: np.ndarray, served_cells: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(market k's hours, its row of hours per cell): views of ``hours`` (origins, groups,
        providers) as (cells, providers) and of ``served_cells`` (K, cells)."""
        hours = hours.reshape(-1, hours.shape[-1])
        return [(hours[:, a:b], served_cells[k]) for k, (a, b) in enumerate(self.spans)]


def allocate_demand_markets(
    demand: np.ndarray,
    utility: np.ndarray,
    capacity: np.ndarray,
    temperature: float,
    bounds: np.ndarray,
    mask: np.ndarray | None = None,
    rounds: int = 3,
    attraction_size: np.ndarray | None = None,
    size_attraction: float = 0.0,
    layout: MarketLayout | None = None,
    out: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`allocate_demand` of K separate markets (sectors) at once, with the same rounds:

        p_cj = S_j**alpha exp(U_cj / tau) / sum_k S_k**alpha exp(U_ck / tau)   over market k's providers

    demand: (K, cells) hours, the cells ordered origin-major (origin o holds cells o G ..
    o G + G - 1); utility: (origins, providers), the same for every cell of an origin (a
    beneficiary's utility depends on where they live, not on their group); capacity, mask
    (providers allowed to serve) and attraction_size: (providers,); bounds: (K + 1,)
    increasing, market k's providers are the columns bounds[k]:bounds[k + 1] (at least one);
    ``layout``: :class:`MarketLayout` of these bounds and sizes, if already made; ``out``: the
    name of the layout's workspace buffer to hold the flows (valid until its next use), else
    a new array.
    Returns (flows (cells, providers), unmet (K, cells), asked (providers,)), each bit for bit
    what :func:`allocate_demand` gives market k on its own (tests/test_vectorised.py): logit
    sums are taken market by market, and a market whose rounds have stopped (nothing left to
    place, or no provider with spare capacity) is carried with zero demand, which adds
    exact zeros.  Conservation, per market: flows.sum(1) + unmet == demand; flows.sum(0) <= capacity.
    """
    demand = np.asarray(demand, dtype=float)
    # Row-major, as allocate_demand's (cells, providers) arrays: numpy sums the rows of a
    # column-major array in another order (not bit-identical).
    utility = np.ascontiguousarray(utility, dtype=float)
    if layout is None:
        layout = MarketLayout(bounds, attraction_size, size_attraction)
    elif not layout.matches(bounds, attraction_size, size_attraction):
        raise ValueError("allocate_demand_markets: the layout was made for other bounds or sizes")
    if out in MarketLayout.WORK_BUFFERS:
        raise ValueError(f"allocate_demand_markets: out={out!r} is one of the rounds' own buffers")
    bounds = layout.bounds
    k_count, cells = demand.shape
    origins, n = utility.shape
    groups = cells // origins
    capacity = np.asarray(capacity, dtype=float)
    base_open = np.ones(n, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    log_attraction = layout.log_attraction
    if layout.sized is not None:
        base_open = layout.sized if mask is None else base_open & layout.sized
    scaled = None
    if temperature > 0:
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = utility / temperature
            if log_attraction is not None:
                scaled = scaled + log_attraction[None, :]
        finite = np.isfinite(scaled)
        if not (finite.all() or finite[:, base_open].all()):
            scaled = None
    if scaled is None:  # tau = 0 or overflow: allocate_demand's arg-max path, market by market
        flows = np.zeros((cells, n))
        unmet = np.empty((k_count, cells))
        asked = np.zeros(n)
        for k in range(k_count):
            a, b = int(bounds[k]), int(bounds[k + 1])
            f, unmet[k], asked[a:b] = allocate_demand(
                demand[k], np.repeat(utility[:, a:b], groups, axis=0), capacity[a:b], temperature,
                np.broadcast_to(base_open[a:b], (cells, b - a)), rounds,
                None if attraction_size is None else attraction_size[a:b], size_attraction)
            flows[:, a:b] = f
        return flows, unmet, asked
    starts, counts, singles = layout.starts, layout.counts, layout.singles
    # Spare capacity, 0 for a provider the mask or its size keeps out: open while above
    # 1e-9, and rationed where asked more (never below 0, so only where asked > 0).
    spare = np.maximum(np.where(base_open, capacity, 0.0), 0.0)
    remaining = demand.copy()
    asked_first = None
    active = np.ones(k_count, dtype=bool)
    shares, total, served_cells, hours, logit_parts, hour_parts = layout.work(origins, groups)
    # The first round's hours become the flows (a call's own array; the next rounds' are the layout's).
    flows = np.empty((origins, groups, n)) if out is None else layout.workspace.take(out, (origins, groups, n))
    served3 = flows  # a round's D_c p_cj, then the hours it served, (origins, groups, providers)
    cell_parts = layout.cell_parts(flows, served_cells)
    add = np.add.reduce
    with np.errstate(over="ignore"):  # the exp of closed providers (below), discarded
        for r in range(rounds):
            open_ = spare > 1e-9
            all_open = bool(open_.all())
            # allocate_demand's stopping rule, market by market (a market once stopped stays so).
            active &= remaining.sum(axis=1) > 1e-12
            if not all_open:
                active &= np.logical_or.reduceat(open_, starts)
            all_active = bool(active.all())  # then every market has an open provider
            if not (all_active or active.any()):
                break
            if all_open:
                zmax = np.maximum.reduceat(scaled, starts, axis=1)  # (origins, K)
                np.subtract(scaled, np.repeat(zmax, counts, axis=1), out=shares)
                np.exp(shares, out=shares)
            else:  # z = U / tau + ln A over the open providers, -inf (exp 0) elsewhere
                zmax = np.maximum.reduceat(np.where(open_, scaled, -np.inf), starts, axis=1)
                if not all_active:
                    zmax[~np.isfinite(zmax)] = 0.0  # a market without an open provider (stopped)
                # exp of the closed providers' finite z, then set to exp(-inf) = 0: numpy's exp
                # is element by element, and slower on -inf than on finite numbers.
                np.subtract(scaled, np.repeat(zmax, counts, axis=1), out=shares)
                np.exp(shares, out=shares)  # a closed provider's own may overflow: discarded
                np.copyto(shares, 0.0, where=~open_)
            for part, out in logit_parts:  # each market's logit sum on its own (bit for bit)
                add(part, axis=1, out=out)
            if not all_active:  # a total is 0 only in a market without an open provider
                total[total <= 0] = 1.0
            shares /= np.repeat(total, counts, axis=1)
            # D_c p_cj, written in place.  A stopped market is carried with zero demand:
            # every update below adds exact zeros.
            live = remaining if all_active else np.where(active[:, None], remaining, 0.0)
            np.multiply(np.repeat(live.T, counts, axis=1).reshape(origins, groups, n), shares[:, None, :], out=served3)
            served = served3.reshape(cells, n)
            asked = _column_sums(served, singles)
            if r == 0:
                asked_first = asked
            # K_j / A_j only where A_j > K_j; elsewhere the request is served whole (x 1, exact)
            served *= np.divide(spare, asked, out=np.ones(n), where=asked > spare)
            if r > 0:
                flows += served3
            if r < rounds - 1:  # spare capacity matters only for a next round
                spare = np.maximum(spare - _column_sums(served, singles), 0.0)
            for part, out in cell_parts:  # each market's hours per cell on its own (bit for bit)
                add(part, axis=1, out=out)
            np.subtract(remaining, served_cells, out=remaining)
            np.maximum(remaining, 0.0, out=remaining)
            if r == 0 and rounds > 1:  # the next rounds' hours: the layout's array (one for all calls)
                served3, cell_parts = hours, hour_parts
    if asked_first is None:
        return np.zeros((cells, n)), remaining, np.zeros(n)
    return flows.reshape(cells, n), remaining, asked_first


def proximity_index(distance_km: np.ndarray | float, decay_km: float) -> np.ndarray | float:
    """Proximity of a beneficiary to a provider: exp(-d / d0), d and d0 in km (economy of proximity)."""
    return np.exp(-np.asarray(distance_km) / decay_km)


# --------------------------------------------------------------------------- personalisation


def worker_continuity(employees_fte: float, team_size_fte: float, elasticity: float) -> float:
    """Chance a beneficiary meets the same worker: (T / max(T, E))**eta.

    E staff FTE, T team (rota) size FTE, eta >= 0.  Up to T staff a beneficiary keeps the
    same worker; beyond it rotas grow and the relation becomes anonymous (seed text:
    size makes the service relation 'plus anonyme').  This is how size enters, through
    continuity, not as a free penalty (DESIGN.md 3b).
    """
    return (team_size_fte / max(team_size_fte, employees_fte)) ** elasticity


def worker_continuity_all(employees_fte: np.ndarray, team_size_fte: float, elasticity: float) -> np.ndarray:
    """:func:`worker_continuity` of many organisations at once: 1 where E <= T; elsewhere
    Python's pow, organisation by organisation (numpy's power can differ in the last bit)."""
    ratio = team_size_fte / np.maximum(team_size_fte, employees_fte)
    out = np.ones(len(ratio))
    rotas = np.flatnonzero(ratio != 1.0)
    out[rotas] = list(map(pow, ratio[rotas].tolist(), repeat(elasticity)))  # r ** eta, as the scalar form
    return out


def personalisation(
    time_index: float,
    continuity: float,
    technicisation: float,
    proximity: float,
    voice: float,
    weights: tuple[float, float, float, float, float],
) -> float:
    """Composite personalisation of a provider's service relations, in [0, 1].

    P = (w_t T + w_c C + w_s (1 - tau) + w_p X + w_v V) / (w_t + w_c + w_s + w_p + w_v)
    T staff time per beneficiary relative to need (served / asked, in [0, 1]);
    C continuity (same provider as last quarter x same worker); tau technicisation;
    X proximity exp(-d/d0) averaged over beneficiaries; V voice = mean of volunteer
    share and governance.  Each proxy is in [0, 1] (DESIGN.md 3b).
    """
    wt, wc, ws, wp, wv = weights
    total = wt + wc + ws + wp + wv
    return (wt * time_index + wc * continuity + ws * (1.0 - technicisation) + wp * proximity + wv * voice) / total


def voice(volunteers_fte: float, employees_fte: float, governance: float) -> float:
    """Voice of beneficiaries and volunteers: (V / (V + E) + g) / 2, in [0, 1]."""
    staff = volunteers_fte + employees_fte
    share = volunteers_fte / staff if staff > 0 else 0.0
    return 0.5 * (share + governance)


def voice_all(volunteers_fte: np.ndarray, employees_fte: np.ndarray, governance: np.ndarray) -> np.ndarray:
    """:func:`voice` of many organisations at once, (V / (V + E) + g) / 2, 0 share where V + E = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        people = volunteers_fte + employees_fte
        return 0.5 * (np.where(people > 0, volunteers_fte / people, 0.0) + governance)


# --------------------------------------------------------------------------- practices


def technicisation_step(
    technicisation: float,
    norm_level: float,
    employees_fte: float,
    size_half_fte: float,
    adjustment: float,
) -> float:
    """Technicisation moves toward the strongest pressure on it.

    tau' = tau + k (max(N, E / (E + S)) - tau)
    N norm level imposed by accreditation or tender specifications (0 without norms);
    E staff FTE; S staff at which size alone pushes technicisation to 1/2; k speed per
    quarter.  Seed text: concentration 'technicise' the activity beyond professionalism.
    """
    pressure = max(norm_level, employees_fte / (employees_fte + size_half_fte))
    return technicisation + adjustment * (pressure - technicisation)


def technicisation_step_all(technicisation: np.ndarray, norm_level: np.ndarray, employees_fte: np.ndarray,
                            size_half_fte: float, adjustment: float) -> np.ndarray:
    """:func:`technicisation_step` of many organisations at once (same operations, same
    order, so the same bits): tau' = tau + k (max(N, E / (E + S)) - tau)."""
    pressure = np.maximum(norm_level, employees_fte / (employees_fte + size_half_fte))
    return technicisation + adjustment * (pressure - technicisation)


def governance_step(governance: float, base_level: float, technicisation: float, erosion: float, adjustment: float) -> float:
    """Democratic governance moves toward its level under technicisation.

    g' = g + k (g0 (1 - e tau) - g); g0 the level its members' involvement sustains, e the
    erosion per unit of technicisation (seed text: 'au détriment ... de la gouvernance
    démocratique'), k speed per quarter.
    """
    target = base_level * (1.0 - erosion * technicisation)
    return governance + adjustment * (target - governance)  # element-wise: arrays of organisations too


def volunteers_step(
    volunteers_fte: float,
    employees_fte: float,
    governance: float,
    technicisation: float,
    ratio: float,
    base_fte: float,
    adjustment: float,
) -> float:
    """Volunteers move toward the level governance attracts and technicisation repels.

    V* = g (1 - tau) (r E + b);  V' = V + k (V* - V)
    r volunteer FTE per salaried FTE at full governance and no technicisation (FACTS.md
    [volunteers]), b volunteers attracted regardless of staff, k speed per quarter.
    """
    target = governance * (1.0 - technicisation) * (ratio * employees_fte + base_fte)
    return max(0.0, volunteers_fte + adjustment * (target - volunteers_fte))


def volunteers_step_all(volunteers_fte: np.ndarray, employees_fte: np.ndarray, governance: np.ndarray,
                        technicisation: np.ndarray, ratio: float, base_fte: float, adjustment: float) -> np.ndarray:
    """:func:`volunteers_step` of many organisations at once:
    V' = max(0, V + k (g (1 - tau) (r E + b) - V))."""
    target = governance * (1.0 - technicisation) * (ratio * employees_fte + base_fte)
    return np.maximum(0.0, volunteers_fte + adjustment * (target - volunteers_fte))


# --------------------------------------------------------------------------- finances and employment


def staff_target(asked_hours: float, hours_per_fte: float, other_capacity_hours: float) -> float:
    """Salaried FTE needed to meet the hours asked: max(0, (A - K_other) / h)."""
    return max(0.0, (asked_hours - other_capacity_hours) / hours_per_fte)


def hire_or_lay_off(
    employees_fte: float,
    target_fte: float,
    treasury_eur: float,
    wage_eur: float,
    buffer_quarters: float,
    adjustment: float,
) -> float:
    """New salaried FTE after one quarter of hiring or lay-offs.

    Lay off: if T < 0, cut staff by the deficit's worth of wages (|T| / w), at most all of it;
    otherwise close the share k of the gap to the target if it is negative.
    Hire: close the share k of a positive gap, only as far as treasury beyond a buffer of
    B quarters of current wages pays for one quarter of the new staff.
    """
    if treasury_eur < 0:
        return max(0.0, employees_fte - min(employees_fte, -treasury_eur / wage_eur))
    gap = target_fte - employees_fte
    if gap <= 0:
        return max(0.0, employees_fte + adjustment * gap)
    spare_cash = treasury_eur - buffer_quarters * wage_eur * employees_fte
    affordable = max(0.0, spare_cash / wage_eur)
    return employees_fte + min(adjustment * gap, affordable)


def staff_target_all(asked_hours: np.ndarray, hours_per_fte: np.ndarray, other_capacity_hours: np.ndarray) -> np.ndarray:
    """:func:`staff_target` of many organisations at once: max(0, (A - K_other) / h)."""
    return np.maximum(0.0, (asked_hours - other_capacity_hours) / hours_per_fte)


def hire_or_lay_off_all(employees_fte: np.ndarray, target_fte: np.ndarray, treasury_eur: np.ndarray, wage_eur: float,
                        buffer_quarters: float, adjustment: float) -> np.ndarray:
    """:func:`hire_or_lay_off` of many organisations at once, its three cases as masks:

        T < 0:           E' = max(0, E - min(E, -T / w))            (lay off the deficit's wages)
        T >= 0, gap <= 0: E' = max(0, E + k gap)                     (shed a share k of the excess)
        T >= 0, gap > 0:  E' = E + min(k gap, max(0, (T - B w E) / w))  (hire what spare cash pays)

    gap = E* - E.  Each case is the scalar form's operations in the same order (same bits)."""
    gap = target_fte - employees_fte
    deficit = np.maximum(0.0, employees_fte - np.minimum(employees_fte, -treasury_eur / wage_eur))
    shed = np.maximum(0.0, employees_fte + adjustment * gap)
    affordable = np.maximum(0.0, (treasury_eur - buffer_quarters * wage_eur * employees_fte) / wage_eur)
    hire = employees_fte + np.minimum(adjustment * gap, affordable)
    return np.where(treasury_eur < 0, deficit, np.where(gap <= 0, shed, hire))


def insertion_exits(insertion_fte: float, hazard: float, to_job_rate: float) -> tuple[float, float]:
    """Insertion employees who end their pathway this quarter, and those who find a job.

    L = h I; X = x L; h hazard per quarter, x share of leavers in employment
    (FACTS.md [iae-exit]).  Leavers are replaced by new jobseekers on the same posts.
    """
    leavers = hazard * insertion_fte
    return leavers, to_job_rate * leavers


def expected_entries(unmet_hours: np.ndarray, entrant_capacity_hours: float, rate: float) -> np.ndarray:
    """Expected new organisations per cell: lambda = r * U / K_new (Poisson mean).

    U unmet need in hours, K_new capacity of a new organisation in hours, r entries per
    quarter per new-organisation-worth of unmet need (emergence where needs are unmet).
    """
    return rate * np.asarray(unmet_hours) / entrant_capacity_hours


# --------------------------------------------------------------------------- public funding


def formula_grants(base_hours: np.ndarray, envelope_eur: float) -> np.ndarray:
    """Administrative formula grants: g_j = B * K_j / sum K, K accredited capacity (hours).

    The whole envelope B (EUR/quarter) is shared in proportion to the capacity accredited
    at the last revision; nothing if no capacity is accredited.
    """
    base = np.asarray(base_hours, dtype=float)
    total = base.sum()
    if total <= 0:
        return np.zeros_like(base)
    return envelope_eur * base / total


def meat_scores(bid_price: np.ndarray, quality: np.ndarray, price_weight: float) -> np.ndarray:
    """Most economically advantageous tender score (French public procurement).

    S_j = w * min(p) / p_j + (1 - w) * q_j / max(q); p price EUR/hour, q quality index,
    w the price weight (commonly 0.4-0.6, DESIGN.md 3b).
    """
    p = np.asarray(bid_price, dtype=float)
    q = np.asarray(quality, dtype=float)
    price_score = p.min() / p
    quality_score = q / q.max() if q.max() > 0 else np.ones_like(q)
    return price_weight * price_score + (1 - price_weight) * quality_score


def social_utility(results: np.ndarray, processes: np.ndarray, impacts: np.ndarray, weights: tuple[float, float, float]) -> np.ndarray:
    """Social utility score of the cooperative regime: results, processes and impacts.

    U = (w_r R + w_p P + w_i I) / (w_r + w_p + w_i), each in [0, 1]: R service delivered
    over capacity, P governance and volunteering, I insertion exits and cooperation ties
    (seed text: evaluation 'non seulement les résultats, mais aussi les processus et les
    impacts').
    """
    wr, wp, wi = weights
    total = wr + wp + wi
    if total <= 0:
        return np.zeros_like(np.asarray(results, dtype=float))
    return (wr * np.asarray(results) + wp * np.asarray(processes) + wi * np.asarray(impacts)) / total


def herfindahl(values: np.ndarray) -> float:
    """Herfindahl-Hirschman index of shares: sum (x_j / sum x)^2, in [1/n, 1]; 0 if empty."""
    x = np.asarray(values, dtype=float)
    total = x.sum()
    if total <= 0:
        return 0.0
    s = x / total
    return float((s * s).sum())


def lognormal_from_quantiles(below: float, x_low: float, above: float, x_high: float) -> tuple[float, float]:
    """(mu, sigma) of a lognormal with P(X < x_low) = below and P(X > x_high) = above.

    ln x_low = mu + z(below) sigma, ln x_high = mu + z(1 - above) sigma, z the standard
    normal quantile.  Used for initial sizes from FACTS.md [assoc-size-dist].
    """
    from statistics import NormalDist

    z1 = NormalDist().inv_cdf(below)
    z2 = NormalDist().inv_cdf(1 - above)
    sigma = (math.log(x_high) - math.log(x_low)) / (z2 - z1)
    mu = math.log(x_low) - z1 * sigma
    return mu, sigma


# --------------------------------------------------------------------------- concentration


def merge_organisations(
    staff_fte: tuple[float, float],
    insertion_fte: tuple[float, float],
    volunteers_fte: tuple[float, float],
    treasury_eur: tuple[float, float],
    governance: tuple[float, float],
    technicisation: tuple[float, float],
    dilution: float,
    technicisation_rise: float,
    volunteer_loss: float,
    governance_base: tuple[float, float] | None = None,
) -> dict[str, float]:
    """State of the organisation that results from absorbing another (seed text: concentration).

    S = S1 + S2 and I = I1 + I2 (staff and insertion posts carried over, FTE);
    T = T1 + T2 (treasury carried over, EUR: no money created or lost);
    V = (1 - l) (V1 + V2) (some volunteers leave, l the loss);
    g = (1 - d) (S1 g1 + S2 g2) / S (democratic governance diluted by d);
    tau = t + r (1 - t), t = (S1 tau1 + S2 tau2) / S (technicisation raised by r toward 1);
    with ``governance_base``, the base governances merged by the same weights and dilution,
    under the key "governance_base" (cooperation.absorb: one call a merger).
    Fixed costs are not merged: they follow from the merged capacity, F = f0 Q**beta,
    which is less than F1 + F2 when beta < 1 (economies of scale).
    """
    s = staff_fte[0] + staff_fte[1]
    w = (0.5, 0.5) if s <= 0 else (staff_fte[0] / s, staff_fte[1] / s)
    tau = w[0] * technicisation[0] + w[1] * technicisation[1]

    def diluted(g: tuple[float, float]) -> float:
        return (1 - dilution) * (w[0] * g[0] + w[1] * g[1])

    merged = {
        "staff_fte": s,
        "insertion_fte": insertion_fte[0] + insertion_fte[1],
        "volunteers_fte": (1 - volunteer_loss) * (volunteers_fte[0] + volunteers_fte[1]),
        "treasury_eur": treasury_eur[0] + treasury_eur[1],
        "governance": diluted(governance),
        "technicisation": tau + technicisation_rise * (1 - tau),
    }
    if governance_base is not None:
        merged["governance_base"] = diluted(governance_base)
    return merged


# --------------------------------------------------------------------------- cooperation (PTCE)


def pooled_fixed_costs(capacity_hours: np.ndarray, scale_eur: float, exponent: float, pooled_share: float) -> np.ndarray:
    """Fixed cost of each member of a PTCE that pools premises and equipment.

    F_i = (1 - phi) f0 Q_i**beta + phi f0 (sum Q)**beta Q_i / sum Q
    phi the pooled share of fixed costs; the pool is one set of premises sized on the
    members' summed capacity, paid pro rata to capacity.  With beta < 1 each member pays
    less than alone, and no member grows (DESIGN.md 3b: pooling divides the shared part).
    """
    q = np.asarray(capacity_hours, dtype=float)
    total = q.sum()
    own = np.array([fixed_cost(x, scale_eur, exponent) for x in q])
    if total <= 0:
        return own
    return (1 - pooled_share) * own + pooled_share * fixed_cost(total, scale_eur, exponent) * q / total


def formalisation_step(formalisation, speed: float, target: float):
    """A PTCE's formalisation after a quarter, moving towards its target: f' = f + s (f* - f)
    (one hub's float or every hub's array, the same operations)."""
    return formalisation + speed * (target - formalisation)


def agency_funding_eur(depth, eur_per_quarter: float):
    """A development agency's outside funding in a quarter, growing with its pooling depth:
    A = a d (one hub's float or every hub's array)."""
    return eur_per_quarter * depth


def legal_composition(size, ess_members, founding_members_min: int):
    """The law's composition of a PTCE (FACTS.md [ptce-law]): at least ``founding_members_min``
    legal persons, one ESS organisation and one enterprise outside the ESS (one hub's
    counts, a bool; or every hub's arrays, a bool array)."""
    return (size >= founding_members_min) & (ess_members >= 1) & (size - ess_members >= 1)


def ptce_rigidity(formalisation: float, members: int, half_size: float) -> float:
    """Rigidity of a PTCE: r = f n / (n + n_half), in [0, 1).

    Grows with formalisation f in [0, 1] and with membership n (seed text: avoid
    'superstructures qui rigidifient excessivement les relations entre les membres').
    """
    return formalisation * members / (members + half_size) if members > 0 else 0.0


def ptce_rigidities(formalisation: np.ndarray, members: np.ndarray, half_size: float) -> np.ndarray:
    """ptce_rigidity of several PTCEs, the same operations: r = f n / (n + n_half), 0 where
    n = 0 (n_half > 0).  Bit for bit the scalar's (tests/test_vectorised.py)."""
    members = np.asarray(members)
    with np.errstate(divide="ignore", invalid="ignore"):  # n + n_half = 0 only where n = 0
        return np.where(members > 0, formalisation * members / (members + half_size), 0.0)


def rigidity_exit_probability(rigidity: float, threshold: float, rate: float) -> float:
    """Quarterly chance that a member leaves: x = rate (r - r0) / (1 - r0) above r0, else 0."""
    if rigidity <= threshold or threshold >= 1:
        return 0.0
    return min(1.0, rate * (rigidity - threshold) / (1 - threshold))


def rigidity_exit_probabilities(rigidity: np.ndarray, threshold: float, rate: float) -> np.ndarray:
    """rigidity_exit_probability of several PTCEs, the same operations (tests/test_vectorised.py)."""
    rigidity = np.asarray(rigidity, dtype=float)
    if threshold >= 1:
        return np.zeros(rigidity.shape)
    return np.where(rigidity > threshold, np.minimum(1.0, rate * (rigidity - threshold) / (1 - threshold)), 0.0)


def coordination_cost(members: int, animation_eur_per_member: float, rigidity: float, cost_per_rigidity: float) -> float:
    """Animation and coordination cost of a PTCE, EUR/quarter: C = a n (1 + k r).  Also
    over arrays of n and r (the same operations: cooperation.book_ptce_costs)."""
    return animation_eur_per_member * members * (1 + cost_per_rigidity * rigidity)


def pooling_depth_step(depth: float, mean_trust: float, growth: float) -> float:
    """From cohabitation to pooled projects: d' = d + g trust (1 - d), in [0, 1]."""
    return min(1.0, depth + growth * mean_trust * (1 - depth))


def pooling_depth_steps(depth: np.ndarray, mean_trust: np.ndarray, growth: float) -> np.ndarray:
    """pooling_depth_step of several PTCEs, the same operations (tests/test_vectorised.py)."""
    return np.minimum(1.0, depth + growth * mean_trust * (1 - depth))


def carry_from_fund(treasury_eur: np.ndarray, fund_eur: float) -> tuple[np.ndarray, float]:
    """Mutual insurance: the PTCE fund brings members in deficit back to zero treasury.

    Each member i with T_i < 0 receives min(-T_i, F D_i / D) where D_i = -T_i and D the
    members' total deficit: the whole deficit when the fund suffices, otherwise the fund
    shared pro rata to deficits.  Never more than the fund: returns (treasuries, fund left).
    """
    t = np.asarray(treasury_eur, dtype=float).copy()
    deficit = np.where(t < 0, -t, 0.0)
    total = deficit.sum()
    if total <= 0 or fund_eur <= 0:
        return t, fund_eur
    paid = deficit if fund_eur >= total else deficit * (fund_eur / total)
    return t + paid, fund_eur - float(paid.sum())


def spillover_multiplier(trust_sum: float, max_gain: float, trust_scale: float) -> float:
    """Productivity multiplier from knowledge spillovers in the cooperation network.

    m = 1 + g (1 - exp(-W / W0)), W the summed trust of an organisation's ties,
    g the largest gain (seed text: 'rendements croissants s'appuyant sur des pratiques
    collaboratives'): increasing in ties, saturating.
    """
    return 1.0 + max_gain * (1.0 - math.exp(-max(trust_sum, 0.0) / trust_scale))


def spillover_multipliers(trust_sums: np.ndarray, max_gain: float, trust_scale: float) -> np.ndarray:
    """:func:`spillover_multiplier` of many organisations at once, m = 1 + g (1 - exp(-W / W0))
    with numpy's ``exp`` (it may differ from libm's in the last bit)."""
    return 1.0 + max_gain * (1.0 - np.exp(-np.maximum(trust_sums, 0.0) / trust_scale))


def strategy_utilities(payoff: np.ndarray, mission_loss: np.ndarray, imitation: np.ndarray, current: int | np.ndarray,
                       w_payoff: float, w_mission: float, governance: float | np.ndarray, w_imitation: float,
                       switching_cost: float) -> np.ndarray:
    """Utility of each strategy (independent, concentrate, cooperate) for one organisation,
    or for many at once (arrays of shape (n, 3), ``current`` and ``governance`` of shape (n,)).

    U_k = w_pi pi_k - w_m g L_k + w_im M_k - c [k != current]
    pi_k expected gain as a share of quarterly costs, L_k mission loss (autonomy and
    personalisation) weighted by the organisation's democratic governance g, M_k the mean
    result of peers following k minus the mean of all peers (imitation, replicator-like),
    c the switching cost (inertia).  Choice is logit on U (DESIGN.md 3b).
    """
    g = np.asarray(governance, dtype=float)[..., None]
    u = w_payoff * np.asarray(payoff, dtype=float) - w_mission * g * np.asarray(mission_loss, dtype=float)
    u = u + w_imitation * np.asarray(imitation, dtype=float)
    switch = np.full(u.shape, float(switching_cost))
    np.put_along_axis(switch, np.asarray(current)[..., None], 0.0, axis=-1)
    return u - switch
