"""The three coordination regimes of a way out of crisis (DESIGN.md 1, seed text).

A regime is an object with a life cycle (Covasim-style interventions): ``initialize(model)``
once, then each quarter ``fund(model)`` before beneficiaries are allocated to providers
and ``pay_for_service(model)`` after.  Each regime is a distinct way public money flows:

- administrative: formula grants on the capacity accredited at the last revision, an
  administered tariff per public hour served by accredited providers, compliance norms
  that raise technicisation, an accreditation delay for entrants, slow revisions;
- competitive: calls for tender in lots (sector x municipality) awarded on the MEAT
  score, multi-year contracts paid per hour delivered, for-profit firms bid too, each
  bid costs the bidder; a residual formula grant;
- cooperative: multi-year agreements scored on social utility (results, processes,
  impacts), funding of joint projects between organisations linked in the cooperation
  network, start-up support for entrants; the remaining public orders are tendered with
  a low price weight.

The public budget of a quarter is never exceeded: every channel pays at most its
envelope (the tests check it).  No channel favours an outcome: what follows for
employment or personalisation comes from how agents respond.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import compress, repeat
from operator import attrgetter
from typing import TYPE_CHECKING

import numpy as np

from . import mechanisms as mech
from .organisations import capacity_rows, cost_sheet, rows_of
from .params import AdministrativeRegime, CompetitiveRegime, CooperativeRegime
from .state import running_total

if TYPE_CHECKING:
    from .model import TerritoryModel
    from .organisations import Provider


MIN_CAPACITY_SHARE_OF_LOT = 0.1
"""A bidder must be able to deliver this share of a lot's public hours (assumption)."""


class HoursById(Mapping):
    """Hours per provider, a read-only mapping unique_id -> hours over arrays: ``ids``,
    ``hours`` and the providers' ``rows`` in the model's ProviderState, in one order (the
    mapping's).  TerritoryModel.allocate_demand gives the public hours served this way to
    :meth:`RegimeBase.pay_for_service`, which reads the arrays (issue 9: building a dict of
    a thousand entries and reading it back cost more than the payment); any other mapping
    unique_id -> hours is read as a dict."""

    __slots__ = ("ids", "hours", "rows", "_dict")

    def __init__(self, ids: np.ndarray, hours: np.ndarray, rows: np.ndarray) -> None:
        self.ids, self.hours, self.rows = ids, hours, rows
        self._dict: dict[int, float] | None = None

    def _as_dict(self) -> dict[int, float]:
        if self._dict is None:
            self._dict = dict(zip(self.ids.tolist(), self.hours.tolist(), strict=True))
        return self._dict

    def __getitem__(self, uid: int) -> float:
        return self._as_dict()[uid]

    def __iter__(self):
        return iter(self.ids.tolist())

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Contract:
    winner: Provider
    price_eur_per_hour: float
    end_quarter: int  # first quarter the contract no longer runs


class TenderBook:
    """Calls for tender in lots (sector, municipality), MEAT award, multi-year contracts.

    Each quarter the lots whose contract has ended (or whose holder has closed) are put
    out to tender.  Providers of the sector within ``bid_radius_km`` of the lot bid their
    price (unit cost plus margin or markup) and a quality: the mean of their formal
    quality (technicisation: procedures that specifications reward) and their proximity
    to the lot.  Each bid costs ``bid_cost_eur``.  A contract pays the winner its price
    for each public hour delivered in the lot, up to the lot's share of the envelope.
    """

    def __init__(self, contract_quarters: int, price_weight: float, bid_cost_eur: float,
                 bid_radius_km: float, norm_technicisation: float = 0.0) -> None:
        self.contract_quarters = contract_quarters
        self.price_weight = price_weight
        self.bid_cost_eur = bid_cost_eur
        self.bid_radius_km = bid_radius_km
        self.norm_technicisation = norm_technicisation
        self.contracts: dict[tuple[int, int], Contract] = {}
        self.lot_envelope_eur: dict[tuple[int, int], float] = {}

    def initialize(self, model: TerritoryModel) -> None:
        # Stagger the first contracts so that calls do not all fall in one quarter.
        self.first_end = {
            lot: 1 + int(model.init_rng.integers(self.contract_quarters))
            for lot in model.lots()
        }

    def run_calls(self, model: TerritoryModel, envelope_eur: float) -> None:
        q = model.quarter
        lots = model.lots()
        public = model.public_hours_by_lot()
        total = sum(public.values())
        op = model.config.organisation
        self.lot_envelope_eur = {
            lot: (envelope_eur * public[lot] / total if total > 0 else 0.0) for lot in lots
        }
        # Capacity, treasury and bid price of a provider do not change during the calls of a
        # quarter (a bid's cost is booked in the ledger): capacity and treasury are read for
        # all providers at once at the first call (organisations.capacity_rows: the method's
        # bits), a bidder's price (Provider.bid_price) once, at its first bid.
        provs = None
        price: dict[int, float] = {}
        proximity: dict[tuple[int, int], float] = {}
        bids: list[np.ndarray] = []  # each call's bidders' rows, in call order
        for lot in lots:
            c = self.contracts.get(lot)
            if c is not None and c.end_quarter > q and c.winner.alive:
                continue
            self.contracts.pop(lot, None)
            sector, muni = lot
            if provs is None:
                provs, rows, cols = model.providers(), model.provider_rows(), model.provider_state.cols
                sectors, munis = cols["sector"][rows], cols["municipality"][rows]
                capacity = capacity_rows(cols, rows, op)
                solvent = cols["treasury_eur"][rows] >= self.bid_cost_eur
            near = model.territory.distance_km[:, muni] <= self.bid_radius_km
            # A provider answers a call only if it is near enough, could deliver at least
            # `MIN_CAPACITY_SHARE_OF_LOT` of the lot, and can pay the bid (assumption).
            # Positions in providers(), in id order.
            bidders = np.flatnonzero((sectors == sector) & near[munis] & (capacity >= MIN_CAPACITY_SHARE_OF_LOT * public[lot]) & solvent)
            if not len(bidders) or public[lot] <= 0:
                continue
            bids.append(rows[bidders])
            positions = bidders.tolist()
            for i in positions:
                if i not in price:
                    price[i] = max(provs[i].bid_price(op), 1e-9)
            prices = np.array([price[i] for i in positions])
            home = munis[bidders].tolist()
            for m in set(home):
                if (m, muni) not in proximity:
                    proximity[m, muni] = float(mech.proximity_index(model.territory.distance_km[m, muni], model.config.demand.distance_decay_km))
            quality = 0.5 * (cols["technicisation"][rows[bidders]] + np.array([proximity[m, muni] for m in home]))
            scores = mech.meat_scores(prices, quality, self.price_weight)
            best = int(np.argmax(scores))  # ties go to the first bidder in id order
            end = self.first_end.pop(lot, None) if q == 0 else None
            self.contracts[lot] = Contract(provs[bidders[best]], float(prices[best]), q + (end or self.contract_quarters))
        if bids:  # each bid's cost, call by call (np.add.at: a provider's several bids one by one)
            np.add.at(model.provider_state.cols["ledger_bid_costs_eur"], np.concatenate(bids), self.bid_cost_eur)

    def routes(self, model: TerritoryModel) -> list[tuple[tuple[int, int], Provider, float]]:
        """(lot, holder, hours the envelope pays for) for every running contract."""
        out = []
        for lot, c in self.contracts.items():
            if c.winner.alive:
                c.winner.norm_level = max(c.winner.norm_level, self.norm_technicisation)
                out.append((lot, c.winner, self.lot_envelope_eur.get(lot, 0.0) / c.price_eur_per_hour))
        return out

    def pay(self, model: TerritoryModel, delivered: dict[tuple[int, int], float]) -> float:
        spent = 0.0
        for lot, hours in delivered.items():
            c = self.contracts.get(lot)
            if c is None:
                continue
            # float(): the allocation's hours are numpy scalars; agents' accounts stay plain floats.
            amount = float(min(hours * c.price_eur_per_hour, self.lot_envelope_eur.get(lot, 0.0)))
            c.winner.ledger.public_order_eur += amount
            spent += amount
        return spent


class RegimeBase:
    """Life cycle shared by the regimes; subclasses define the money channels."""

    params: AdministrativeRegime | CompetitiveRegime | CooperativeRegime
    tenders: TenderBook | None = None

    def __init__(self, params) -> None:
        self.params = params

    @property
    def kind(self) -> str:
        return self.params.kind

    def initialize(self, model: TerritoryModel) -> None:
        if self.tenders is not None:
            self.tenders.initialize(model)

    def accredited(self, org: Provider, quarter: int) -> bool:
        return org.is_ess and quarter >= org.accredited_from

    def accredited_rows(self, cols: dict[str, np.ndarray], rows: np.ndarray, quarter: int) -> np.ndarray:
        """:meth:`accredited` of the providers at ``rows`` of the columns (ProviderState.cols):
        an ESS organisation, from ``accredited_from`` on.  The one array form of the rule
        (the payments and the allocation use it): a regime that changes the rule overrides
        both methods."""
        return (cols["ess"][rows] == 1) & (cols["accredited_from"][rows] <= quarter)

    def on_entry(self, model: TerritoryModel, org: Provider) -> None:
        """:meth:`on_entries` of one entrant."""
        self.on_entries(model, [org], np.array([org._row]))

    def on_entries(self, model: TerritoryModel, orgs: list[Provider], rows: np.ndarray) -> None:
        """What a regime does for a quarter's entrants ``orgs`` (at ``rows`` of the model's
        columns): they are accredited after the regime's delay (one column write for all,
        issue 9).  A regime that does more overrides this method."""
        model.provider_state.cols["accredited_from"][rows] = model.quarter + self.params.accreditation_delay_quarters

    def on_ties_dropped(self, model: TerritoryModel, u: np.ndarray, v: np.ndarray) -> None:
        """Ties (u[i], v[i]) of the cooperation network were dropped this quarter (trust
        below ``cooperation.tie_drop_trust``, simulation.cooperation.update_network)."""

    def on_merger(self, model: TerritoryModel, absorber: Provider, absorbed: Provider) -> None:
        """The absorber takes over the absorbed organisation's public relations: its
        contracts, its grant base and its agreement share (clients and commitments carry over)."""
        if self.tenders is not None:
            for c in self.tenders.contracts.values():
                if c.winner is absorbed:
                    c.winner = absorber
        grants = getattr(self, "grants", None)
        if grants is not None and absorbed.unique_id in grants.base:
            grants.base[absorber.unique_id] = grants.base.get(absorber.unique_id, 0.0) + grants.base.pop(absorbed.unique_id)
        shares = getattr(self, "agreement_shares", None)
        if shares is not None and absorbed.unique_id in shares:
            shares[absorber.unique_id] = shares.get(absorber.unique_id, 0.0) + shares.pop(absorbed.unique_id)

    def fund(self, model: TerritoryModel, budget_eur: float) -> float:
        """Book this quarter's lump-sum public money; return what was spent (EUR)."""
        raise NotImplementedError

    def funded_public_hours(self, model: TerritoryModel, org: Provider, unit_cost_eur: float | None = None) -> float:
        """Free (public) hours an organisation can offer this quarter: what its lump-sum
        public money pays for at its unit cost, h = S / c (grants, agreements, projects).
        An organisation does not serve beyond its funding: unfunded need stays unmet.
        ``unit_cost_eur``: c if already known (the quarter's cost sheet), else computed."""
        if not org.is_ess:
            return 0.0
        c = org.unit_cost_eur(model.config.organisation) if unit_cost_eur is None else unit_cost_eur
        return org.ledger.subsidy_eur / c if c > 0 else 0.0

    def funded_public_hours_rows(self, model: TerritoryModel, rows: np.ndarray, ids: np.ndarray, unit_cost_eur: np.ndarray,
                                 accredited: np.ndarray | None = None) -> np.ndarray:
        """:meth:`funded_public_hours` of the providers at ``rows`` of the model's columns, with
        unique_id ``ids`` and unit costs c (the quarter's cost sheet), in the same order:
        h = S / c for an ESS organisation with c > 0, else 0.  ``accredited``:
        :meth:`accredited_rows` of them this quarter, if already known (a regime override uses it)."""
        cols = model.provider_state.cols
        # A firm's subsidy counts 0 (0 / c = 0, as the method's 0.0).
        subsidy = np.where(cols["ess"][rows] == 1, cols["ledger_subsidy_eur"][rows], 0.0)
        c = np.asarray(unit_cost_eur, dtype=float)
        return np.divide(subsidy, c, out=np.zeros(len(rows)), where=c > 0)

    def contract_routes(self, model: TerritoryModel):
        return self.tenders.routes(model) if self.tenders is not None else []

    def pay_for_service(self, model: TerritoryModel, public_hours_served: dict[int, float],
                        contract_hours: dict[tuple[int, int], float]) -> float:
        """Pay per hour delivered, after allocation; return what was spent (EUR)."""
        return self.tenders.pay(model, contract_hours) if self.tenders is not None else 0.0


class BaseHours(dict):
    """GrantFormula's base, unique_id -> capacity hours at the last revision: a dict that
    counts its changes (``version``), so that GrantFormula keeps its keys and values as
    sorted arrays between changes (GrantFormula.base_of).  Why (issue 9): the base is
    looked up for every organisation twice a quarter (the grants, the funded hours) and
    changes only at a revision or a merger; a thousand ``dict.get`` cost 50-150 us each time."""

    # A class default, so that a copy or an unpickled one has a version before its first
    # write (pickle sets the items before the attributes; copy and deepcopy the other way
    # round, counting the items as changes: the cache is then rebuilt, never wrongly reused).
    version = 0

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.version += 1

    def __delitem__(self, key) -> None:
        super().__delitem__(key)
        self.version += 1

    def __ior__(self, other):
        self.version += 1
        return super().__ior__(other)

    def pop(self, *args):
        self.version += 1
        return super().pop(*args)

    def popitem(self):
        self.version += 1
        return super().popitem()

    def setdefault(self, key, default=None):
        self.version += 1
        return super().setdefault(key, default)

    def update(self, *args, **kwargs) -> None:
        self.version += 1
        super().update(*args, **kwargs)

    def clear(self) -> None:
        self.version += 1
        super().clear()


class GrantFormula:
    """Formula grants on capacity at the last revision (slow to adapt)."""

    paid_base: tuple[np.ndarray, np.ndarray] | None = None  # a class default for one pickled without it

    def __init__(self, interval: int) -> None:
        self.interval = interval
        self.base: dict[int, float] = BaseHours()
        self._sorted: tuple | None = None  # (base, its version, sorted keys, their values): base_of
        # (ids, their base) of the last pay, revision included: Administrative.fund reads the same
        # organisations' base right after (a second binary search of a thousand ids saved).
        self.paid_base = None

    def base_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(base.get(uid, 0.0), uid in base) for each unique_id of ``ids``, as two arrays: the
        same floats as the dict's, looked up at once by binary search in the base's sorted
        keys, kept until the base changes (BaseHours.version; any other mapping set as the
        base is read key by key)."""
        base = self.base
        if not isinstance(base, BaseHours):
            keys = ids.tolist()
            return (np.fromiter(map(base.get, keys, repeat(0.0)), float, len(keys)),
                    np.fromiter(map(base.__contains__, keys), bool, len(keys)))
        if self._sorted is None or self._sorted[0] is not base or self._sorted[1] != base.version:
            keys = np.fromiter(base.keys(), np.int64, len(base))
            order = np.argsort(keys)
            self._sorted = (base, base.version, keys[order], np.fromiter(base.values(), float, len(base))[order])
        keys, values = self._sorted[2], self._sorted[3]
        if not len(keys):
            return np.zeros(len(ids)), np.zeros(len(ids), dtype=bool)
        at = np.searchsorted(keys, ids)
        np.minimum(at, len(keys) - 1, out=at)
        found = keys[at] == ids
        return np.where(found, values[at], 0.0), found

    def pay(self, model: TerritoryModel, envelope_eur: float, ids: np.ndarray, rows: np.ndarray) -> float:
        """Revise the base on the eligible organisations' capacity every ``interval``
        quarters, then share the envelope among those in the base: g_j = B K_j / sum K
        (mechanisms.formula_grants).  The eligible organisations are given by their
        unique_id ``ids`` and their ``rows`` in the model's ProviderState, in the same order."""
        cols = model.provider_state.cols
        if model.quarter % self.interval == 0 or not self.base:
            # Provider.capacity_hours of each, over the columns (organisations.capacity_rows: same bits).
            self.base = BaseHours(zip(ids.tolist(), capacity_rows(cols, rows, model.config.organisation).tolist(), strict=True))
        # each one's base (0 if not in it), and whether it is in it (not: accredited since the revision)
        base, paid = self.base_of(ids)
        self.paid_base = (ids, base)
        if not paid.all():
            base, rows = base[paid], rows[paid]
        grants = mech.formula_grants(base, envelope_eur)
        cols["ledger_subsidy_eur"][rows] += grants  # each its own row: no repeats
        return float(grants.sum())


class Administrative(RegimeBase):
    def __init__(self, params: AdministrativeRegime) -> None:
        super().__init__(params)
        self.grants = GrantFormula(params.revision_interval_quarters)
        self.tariff_eur_per_hour = 0.0
        self.tariff_envelope_eur = 0.0
        self.tariff_base_hours = 0.0  # accredited capacity of live organisations this quarter

    def fund(self, model: TerritoryModel, budget_eur: float) -> float:
        p = self.params
        q = model.quarter
        rows, cols = model.organisation_rows(), model.provider_state.cols
        mask = self.accredited_rows(cols, rows, q)
        rows, ids = rows[mask], model.organisation_ids()[mask]  # the accredited organisations
        norm = cols["norm_level"]
        norm[rows] = np.maximum(norm[rows], p.norm_technicisation)
        if q % p.revision_interval_quarters == 0 or self.tariff_eur_per_hour == 0.0:
            # The mean of Provider.unit_cost_eur over the accredited (cost_sheet: same bits).
            accredited = list(compress(model.organisations(), mask.tolist()))
            costs = cost_sheet(accredited, model.config.organisation, rows)["unit_cost_eur"]
            self.tariff_eur_per_hour = float(np.mean(costs)) if len(costs) else 0.0
        self.tariff_envelope_eur = (1 - p.grant_share) * budget_eur
        spent = self.grants.pay(model, p.grant_share * budget_eur, ids, rows)  # revises the base
        # Python's sum of the accredited's base (0 if not in it), in their order: as pay read it.
        paid = self.grants.paid_base
        base = paid[1] if paid is not None and paid[0] is ids else self.grants.base_of(ids)[0]
        self.tariff_base_hours = sum(base.tolist())
        return spent

    def funded_public_hours(self, model: TerritoryModel, org: Provider, unit_cost_eur: float | None = None) -> float:
        """Grant-funded hours plus the authorised places of an accredited organisation:
        the hours the tariff envelope pays for, shared by accredited capacity,
        h_j = S_j / c_j + (E / t) K_j / sum K."""
        hours = super().funded_public_hours(model, org, unit_cost_eur)
        if self.accredited(org, model.quarter) and self.tariff_eur_per_hour > 0 and self.tariff_base_hours > 0:
            share = self.grants.base.get(org.unique_id, 0.0) / self.tariff_base_hours
            hours += self.tariff_envelope_eur / self.tariff_eur_per_hour * share
        return hours

    def funded_public_hours_rows(self, model: TerritoryModel, rows: np.ndarray, ids: np.ndarray, unit_cost_eur: np.ndarray,
                                 accredited: np.ndarray | None = None) -> np.ndarray:
        """:meth:`funded_public_hours` of the providers at ``rows`` at once:
        h_j = S_j / c_j + (E / t) K_j / sum K for accredited organisations, S_j / c_j otherwise."""
        hours = super().funded_public_hours_rows(model, rows, ids, unit_cost_eur)
        if self.tariff_eur_per_hour > 0 and self.tariff_base_hours > 0:
            if accredited is None:
                accredited = self.accredited_rows(model.provider_state.cols, rows, model.quarter)
            share = self.grants.base_of(ids)[0] / self.tariff_base_hours
            hours = np.where(accredited, hours + self.tariff_envelope_eur / self.tariff_eur_per_hour * share, hours)
        return hours

    def pay_for_service(self, model, public_hours_served, contract_hours) -> float:
        """Administered tariff t per public hour served by accredited providers,
        scaled down pro rata when claims exceed the envelope: pay_j = t h_j min(1, E / (t sum h))."""
        n, cols = len(public_hours_served), model.provider_state.cols
        if isinstance(public_hours_served, HoursById):  # its arrays, in its order
            rows, hours = public_hours_served.rows, public_hours_served.hours
        else:
            rows = model.row_by_id()[np.fromiter(public_hours_served, np.int64, n)]
            hours = np.fromiter(public_hours_served.values(), float, n)
        claims = (hours > 0) & self.accredited_rows(cols, rows, model.quarter)
        hours, rows = hours[claims], rows[claims]
        total = self.tariff_eur_per_hour * sum(hours.tolist())  # Python's sum, in the order of the claims
        if total <= 0:
            return 0.0
        scale = min(1.0, self.tariff_envelope_eur / total)
        amounts = self.tariff_eur_per_hour * hours * scale
        cols["ledger_public_order_eur"][rows] += amounts  # one row per provider
        return running_total(amounts)  # added one by one, as each claim is paid


class Competitive(RegimeBase):
    def __init__(self, params: CompetitiveRegime) -> None:
        super().__init__(params)
        self.grants = GrantFormula(params.revision_interval_quarters)
        self.tenders = TenderBook(params.contract_quarters, params.price_weight, params.bid_cost_eur,
                                  params.bid_radius_km, params.norm_technicisation)

    def fund(self, model: TerritoryModel, budget_eur: float) -> float:
        p = self.params
        self.tenders.run_calls(model, (1 - p.grant_share) * budget_eur)
        return self.grants.pay(model, p.grant_share * budget_eur, model.organisation_ids(), model.organisation_rows())


class Cooperative(RegimeBase):
    def __init__(self, params: CooperativeRegime) -> None:
        super().__init__(params)
        self.tenders = TenderBook(params.contract_quarters, params.price_weight, params.bid_cost_eur,
                                  params.bid_radius_km, 0.0)
        self.agreement_shares: dict[int, float] = {}
        self.projects: list[tuple[int, int, int]] = []  # (uid a, uid b, end quarter)

    def on_entries(self, model: TerritoryModel, orgs: list[Provider], rows: np.ndarray) -> None:
        super().on_entries(model, orgs, rows)
        for org in orgs:
            org.pending_support = True

    def on_ties_dropped(self, model: TerritoryModel, u: np.ndarray, v: np.ndarray) -> None:
        """A running joint project ends the quarter its partners' tie is dropped: trust fell
        below the floor, so the two no longer cooperate and there is no joint project left
        to fund (the seed text's "mutualisation de projets" presupposes the partnership).
        A tie the two form again later is a new relation: it may win a new project, on the
        same terms as any candidate, but does not revive the old one."""
        if not self.projects:
            return
        dropped = set(zip(np.minimum(u, v).tolist(), np.maximum(u, v).tolist(), strict=True))
        self.projects = [(a, b, e) for a, b, e in self.projects if (a, b) not in dropped]

    def social_utility(self, model: TerritoryModel, orgs: list[Provider]) -> np.ndarray:
        """Results (served / capacity), processes (governance, volunteering), impacts
        (insertion exits to jobs per staff, cooperation ties) of each organisation, in [0, 1]."""
        # Over the organisations' columns and the network's tie arrays, the operations of
        #   results   min(1, served / max(Provider.capacity_hours, 1e-9))
        #   processes Provider.voice() = mechanisms.voice(V, S, g)
        #   impacts   0.5 min(1, 10 x / max(S, 1e-9)) + 0.5 min(1, k / 5), k the network degree
        # (a self-loop counted twice, as networkx's degree; 0 outside the network), in order,
        # organisation by organisation (tests/test_vectorised.py compares with that loop).
        op = model.config.organisation
        cols, rows = model.provider_state.cols, rows_of(orgs) if orgs else np.zeros(0, dtype=np.int64)
        staff = cols["staff_fte"][rows]
        results = np.minimum(1.0, cols["served_hours"][rows] / np.maximum(capacity_rows(cols, rows, op), 1e-9))
        processes = mech.voice_all(cols["volunteers_fte"][rows], staff, cols["governance"][rows])
        u, v, _ = model.cooperation.tie_arrays()
        ids = np.fromiter(map(attrgetter("unique_id"), orgs), np.int64, len(orgs))
        top = int(max(u.max(initial=-1), v.max(initial=-1), ids.max(initial=-1))) + 1
        degree = np.bincount(u, minlength=top) + np.bincount(v, minlength=top)
        impacts = (0.5 * np.minimum(1.0, 10 * cols["insertion_exits_to_jobs"][rows] / np.maximum(staff, 1e-9))
                   + 0.5 * np.minimum(1.0, degree[ids] / 5))
        p = self.params
        return mech.social_utility(results, processes, impacts, (p.weight_results, p.weight_processes, p.weight_impacts))

    def fund(self, model: TerritoryModel, budget_eur: float) -> float:
        p = self.params
        q = model.quarter
        op = model.config.organisation
        cols, rows = model.provider_state.cols, model.organisation_rows()
        accredited = self.accredited_rows(cols, rows, q)
        orgs = list(compress(model.organisations(), accredited.tolist()))
        rows, ids = rows[accredited], model.organisation_ids()[accredited]  # orgs' rows and ids
        self.tenders.run_calls(model, (1 - p.agreement_share - p.project_share) * budget_eur)
        # Multi-year agreements: shares fixed at signature, s_j = U_j K_j / sum U K.
        if q % p.agreement_quarters == 0 or not self.agreement_shares:
            # Provider.capacity_hours of each, over the columns (organisations.capacity_rows: same bits).
            weight = self.social_utility(model, orgs) * capacity_rows(cols, rows, op)
            total = weight.sum()
            self.agreement_shares = {uid: float(w / total) for uid, w in zip(ids.tolist(), weight, strict=True)} if total > 0 else {}
        envelope = p.agreement_share * budget_eur
        spent = 0.0
        # Start-up support for entrants comes first out of the agreement envelope.
        for o in [o for o in model.organisations() if o.pending_support]:
            # Never below 0: once the envelope is spent, envelope - spent can be -4e-12 of
            # rounding, and a negative subsidy gave negative funded hours (NaN flows).
            amount = max(0.0, min(p.entry_support_eur, envelope - spent))
            o.ledger.subsidy_eur += amount
            o.pending_support = False
            spent += amount
        remaining = max(0.0, envelope - spent)
        # Shares of organisations that closed since the signature go to the others, pro rata:
        # each organisation with a share s gets s / S_alive x remaining, in order (Python's
        # sum for S_alive, the payments added to ``spent`` one by one, as a loop would).
        shares = np.fromiter(map(self.agreement_shares.get, ids.tolist(), repeat(0.0)), float, len(ids))
        alive_total = sum(shares.tolist())
        paid = shares > 0
        if paid.any():
            amounts = shares[paid] / alive_total * remaining
            cols["ledger_subsidy_eur"][rows[paid]] += amounts  # each its own row
            spent = running_total(amounts, spent)
        # Joint projects between organisations linked in the cooperation network.
        spent += self.fund_joint_projects(model, p.project_share * budget_eur)
        return spent

    def fund_joint_projects(self, model: TerritoryModel, envelope_eur: float) -> float:
        """Fund joint projects: candidate ties with trust >= min_trust between two live
        organisations, ranked by their mean social utility (plus 0.1 when the partners
        work in different sectors: complementarity over competition, seed text); each
        project pays project_eur_per_quarter split between its partners for
        project_quarters, and its tie gains trust each quarter.  Payments are scaled
        down pro rata if the envelope shrinks below the running projects' cost.

        A running project ends early when a partner closes or is absorbed (a project is
        funded to the pair chosen on its tie and social utility; an absorption is the
        concentration path, not cooperation, and an absorbed partner's tie passed to its
        absorber may win a new project as any candidate) or when the partners' tie is
        dropped (:meth:`on_ties_dropped`): every running project has its tie."""
        p = self.params
        q = model.quarter
        net = model.cooperation
        alive = model.provider_by_id
        self.projects = [(a, b, e) for a, b, e in self.projects if e > q and a in alive and b in alive]
        slots = int(envelope_eur // p.project_eur_per_quarter)
        if len(self.projects) < slots:
            busy = {(a, b) for a, b, _ in self.projects}
            # Over the tie arrays (simulation.network): both ends live ESS providers; a tie
            # between members of one PTCE qualifies once its pooling depth allows (from
            # cohabitation to pooled projects, seed text); other ties need trust.
            u, v, ties = net.tie_arrays()
            top = len(net.node_index()[1])
            ess = np.zeros(top, dtype=bool)
            deep_hub = np.full(top, -1, dtype=np.int64)  # hub id of a member of a deep enough PTCE
            threshold = model.config.cooperation.project_depth_threshold
            is_ess = model.provider_is_ess()  # the live providers' o.is_ess, in the order of alive
            ess_ids = model.provider_ids()[is_ess]
            ess[ess_ids] = True
            hub_of = map(attrgetter("ptce"), compress(alive.values(), is_ess.tolist()))
            for uid, hub in zip(ess_ids.tolist(), hub_of, strict=True):
                if hub is not None and hub.depth >= threshold:
                    deep_hub[uid] = hub.unique_id
            ok = ess[u] & ess[v] & (((deep_hub[u] >= 0) & (deep_hub[u] == deep_hub[v])) | (net.trust[ties] >= p.min_trust))
            lo, hi = np.minimum(u, v)[ok], np.maximum(u, v)[ok]
            if busy:
                free = np.fromiter((c not in busy for c in zip(lo.tolist(), hi.tolist(), strict=True)), bool, len(lo))
                lo, hi = lo[free], hi[free]
            if len(lo):
                # Ranked by -(mean social utility of the pair + 0.1 if their sectors differ),
                # then by the pair (a, b): the same keys, operation by operation, as a sort of
                # the pairs with that key.
                orgs = np.unique(np.concatenate((lo, hi)))
                util = self.social_utility(model, list(map(alive.__getitem__, orgs.tolist())))
                sector = model.provider_state.cols["sector"][model.row_by_id()[orgs]]
                at_lo, at_hi = np.searchsorted(orgs, lo), np.searchsorted(orgs, hi)
                key = -(0.5 * (util[at_lo] + util[at_hi]) + 0.1 * (sector[at_lo] != sector[at_hi]))
                ranked = np.lexsort((hi, lo, key))[: slots - len(self.projects)]
                end = q + p.project_quarters
                self.projects += [(a, b, end) for a, b in zip(lo[ranked].tolist(), hi[ranked].tolist(), strict=True)]
        if not self.projects:
            return 0.0
        per_project = min(p.project_eur_per_quarter, envelope_eur / len(self.projects))
        # Half a project's payment to each partner, project by project in order (np.add.at
        # adds an organisation's several halves one by one, as the loop did).
        partners = np.fromiter((uid for a, b, _ in self.projects for uid in (a, b)), np.int64, 2 * len(self.projects))
        np.add.at(model.provider_state.cols["ledger_subsidy_eur"], model.row_by_id()[partners], per_project / 2)
        trust = net.trust  # each project's tie by its slot (no networkx adjacency read)
        for a, b, _ in self.projects:
            slot = net.tie_slot(a, b)
            net.set_trust(slot, min(1.0, trust.item(slot) + p.trust_gain_per_project_quarter))
        return per_project * len(self.projects)


def make_regime(params) -> RegimeBase:
    """The regime object named by ``params.kind``."""
    return {"administrative": Administrative, "competitive": Competitive, "cooperative": Cooperative}[params.kind](params)
