"""The two paths of the seed text: concentration (mergers) and cooperation (PTCE).

- :func:`absorb` merges two organisations of a sector (the larger absorbs the smaller).
- :class:`Ptce` is the collective agent of a territorial cooperation hub: members, pooled
  means (premises and equipment, a treasury fund, joint sales), project-pooling depth,
  formalisation and rigidity, animation cost, and the five forms of the seed text.
- :func:`update_network` moves trust on the cooperation network and sets each
  organisation's knowledge-spillover productivity.
- :func:`choose_strategies` is the yearly strategy choice (ODD+D, ODD.md).

The equations live in :mod:`simulation.mechanisms`; this module applies them to agents.
Nothing here favours an outcome: what follows for employment or personalisation comes
from the mechanisms and the parameters (see ODD.md, "Concentration and cooperation").
"""

from __future__ import annotations

import heapq
from itertools import chain, compress
from operator import attrgetter
from typing import TYPE_CHECKING

import mesa
import numpy as np

from . import mechanisms as mech
from .network import node_strength
from .organisations import NON_MEMBER, capacity_rows, cost_sheet, rows_of
from .state import running_total

if TYPE_CHECKING:
    from .model import TerritoryModel
    from .organisations import Provider

STRATEGIES = ("independent", "concentrate", "cooperate")
"""Strategy states of an ESS organisation, in the order of the utility vector."""

FORMS = ("pooled_means", "conglomerate", "supply_chain", "development_agency", "solidarity")
"""The five PTCE forms of the seed text."""


# --------------------------------------------------------------------------- concentration
def absorb(model: TerritoryModel, absorber: Provider, absorbed: Provider) -> None:
    """``absorber`` takes over ``absorbed`` (same sector): staff, insertion posts, treasury,
    clients (last quarter's service relations), contracts and grant bases, ties; fixed costs
    then follow from the merged capacity (mechanisms.merge_organisations).  Recorded in
    ``model.merger_log`` (who, when) and counted in the quarter's ``mergers``."""
    cp = model.config.concentration
    # The two providers' attributes read and written at their rows of the columns (what
    # the Provider properties read and write, without a property call each; some 40 mergers
    # a year at 1,000 organisations, issue 9).
    cols, a, b = model.provider_state.cols, absorber._row, absorbed._row
    staff, share, volunteers, treasury = cols["staff_fte"], cols["insertion_share"], cols["volunteers_fte"], cols["treasury_eur"]
    governance, governance_base, technicisation = cols["governance"], cols["governance_base"], cols["technicisation"]
    staff_ab = (staff.item(a), staff.item(b))
    treasury_b = treasury.item(b)
    merged = mech.merge_organisations(
        staff_ab, (staff_ab[0] * share.item(a), staff_ab[1] * share.item(b)),  # Provider.insertion_fte
        (volunteers.item(a), volunteers.item(b)), (treasury.item(a), treasury_b),
        (governance.item(a), governance.item(b)), (technicisation.item(a), technicisation.item(b)),
        cp.governance_dilution, cp.technicisation_rise, cp.volunteer_loss,
        governance_base=(governance_base.item(a), governance_base.item(b)),
    )
    s_fte, t_eur = merged["staff_fte"], merged["treasury_eur"]
    model.log_merger(absorber, absorbed)
    staff[a] = s_fte
    share[a] = merged["insertion_fte"] / s_fte if s_fte > 0 else 0.0
    volunteers[a] = merged["volunteers_fte"]
    cols["transfers_eur"][a] = cols["transfers_eur"].item(a) + treasury_b
    model.quarter_stats["merger_carry_eur"] = model.quarter_stats.get("merger_carry_eur", 0.0) + treasury_b
    treasury[a] = t_eur
    treasury[b] = 0.0  # carried over: the absorbed ledger closes empty
    governance[a] = merged["governance"]
    governance_base[a] = merged["governance_base"]
    technicisation[a] = merged["technicisation"]
    if t_eur >= 0:
        cols["insolvent_quarters"][a] = 0
    absorbed_flows = absorbed.prev_flows
    if absorbed_flows is not None:
        absorber_flows = absorber.prev_flows
        absorber.prev_flows = absorbed_flows.copy() if absorber_flows is None else absorber_flows + absorbed_flows
    model.cooperation.take_over_ties(absorber.unique_id, absorbed.unique_id)  # its ties, trust and kind
    model.regime.on_merger(model, absorber, absorbed)
    model.remove_provider(absorbed)


class NearestIndex:
    """Organisations bucketed by municipality, to find the nearest ones that satisfy a
    condition, ordered by (road distance, id), without scanning every organisation.

    A search stops at the k-th match; organisations that can no longer match (they joined a
    PTCE, were absorbed) are taken out with :meth:`remove`, so that repeated searches in a
    quarter do not rescan them (O(n) per quarter, not O(n^2)).
    """

    def __init__(self, orgs: list[Provider], distance_km: np.ndarray, in_id_order: bool = False) -> None:
        self.distance_km = distance_km
        # Per municipality, id -> organisation in increasing id order (inserted sorted, never
        # re-inserted), so iteration is in id order and removal is O(1).  ``in_id_order``:
        # ``orgs`` come sorted by id already.
        self.by_muni: dict[int, dict[int, Provider]] = {}
        if not in_id_order:
            orgs = sorted(orgs, key=attrgetter("unique_id"))
        munis = orgs[0]._cols["municipality"][rows_of(orgs)].tolist() if orgs else []
        for o, muni in zip(orgs, munis, strict=True):
            self.by_muni.setdefault(muni, {})[o.unique_id] = o

    def remove(self, org: Provider) -> None:
        """Take ``org`` out of the index (no effect if it is not in it)."""
        bucket = self.by_muni.get(org.municipality)
        if bucket is not None:
            bucket.pop(org.unique_id, None)

    def nearest(self, muni: int, radius_km: float, ok, k: int) -> list[Provider]:
        d = self.distance_km[muni].tolist()  # plain floats: cheaper to index than numpy's
        munis = sorted((m for m in self.by_muni if d[m] <= radius_km), key=d.__getitem__)
        out: list[Provider] = []
        i = 0
        while i < len(munis) and len(out) < k:
            j = i
            while j < len(munis) and d[munis[j]] == d[munis[i]]:
                j += 1  # municipalities at the same distance: merge their organisations by id
            buckets = [self.by_muni[m].values() for m in munis[i:j]]
            group = buckets[0] if len(buckets) == 1 else heapq.merge(*buckets, key=lambda o: o.unique_id)
            for o in group:
                if ok(o):
                    out.append(o)
                    if len(out) >= k:
                        break
            i = j
        return out


def merger_partner(model: TerritoryModel, org: Provider, taken: set[int], index: NearestIndex | None = None) -> Provider | None:
    """The nearest organisation of the same sector within the merger radius that consents:
    it chose to concentrate too, or it is in deficit.  Ties broken by id."""
    cp = model.config.concentration
    if index is None:
        index = NearestIndex([o for o in model.providers(org.sector) if o.is_ess], model.territory.distance_km)

    def consents(other: Provider) -> bool:
        return (other is not org and other.alive and other.unique_id not in taken
                and (other.strategy == "concentrate" or other.insolvent_quarters > 0))

    found = index.nearest(org.municipality, cp.merger_radius_km, consents, 1)
    return found[0] if found else None


def concentrate(model: TerritoryModel) -> None:
    """Yearly: each organisation that chose to concentrate looks for a partner with
    probability ``merger_attempt_per_year``; the larger absorbs the smaller."""
    cp = model.config.concentration
    everyone, _, rows = organisations_rows_by_id(model)
    concentrating = [o.strategy == "concentrate" for o in everyone]
    orgs = list(compress(everyone, concentrating))  # in id order
    order = model.dyn_rng.permutation(len(orgs))
    draws = model.dyn_rng.random(len(orgs))
    taken: set[int] = set()
    # Per sector, only the organisations that can consent (they chose to concentrate or are
    # in deficit).  Neither changes during this loop (an absorber's deficit may end, but it
    # is then taken), so indexes made now give what a scan at each search would.
    cols = model.provider_state.cols
    consenting = np.array(concentrating, dtype=bool) | (cols["insolvent_quarters"][rows] > 0)
    can_consent: dict[int, list[Provider]] = {}
    for o, sector in zip(compress(everyone, consenting.tolist()), cols["sector"][rows[consenting]].tolist(), strict=True):
        can_consent.setdefault(sector, []).append(o)
    indexes = {sector: NearestIndex(consenting, model.territory.distance_km, in_id_order=True) for sector, consenting in can_consent.items()}
    for i in order[draws[order] < cp.merger_attempt_per_year].tolist():  # those who try this year, in turn
        org = orgs[i]
        if not org.alive or org.unique_id in taken:
            continue
        partner = merger_partner(model, org, taken, indexes[org.sector])
        if partner is None:
            continue
        big, small = (org, partner) if (org.staff_fte, -org.unique_id) >= (partner.staff_fte, -partner.unique_id) else (partner, org)
        taken.update((big.unique_id, small.unique_id))
        indexes[org.sector].remove(big)
        indexes[org.sector].remove(small)
        if small.ptce is not None:
            small.ptce.remove_member(small)
        if big.ptce is not None:
            big.ptce.remove_member(big)
        absorb(model, big, small)


# --------------------------------------------------------------------------- PTCE
_MEMBERSHIP = [object()]
"""A token renewed on every change of any hub's members (:class:`_Members`): a
:class:`HubTable` made under another token is stale."""


class _Members(dict):
    """A hub's members, id -> legal person: a dict that renews ``_MEMBERSHIP``'s token on
    every change, however made (Ptce.add_member, remove_member, leave_hubs, a direct
    ``pop``), so that a :class:`HubTable` of the hubs' members is remade only when a
    membership changed (issue 9: it was remade 6 times a quarter, for 2 or 3 changes)."""

    __slots__ = ()

    def __setitem__(self, key, value) -> None:
        _MEMBERSHIP[0] = object()
        dict.__setitem__(self, key, value)

    def __delitem__(self, key) -> None:
        _MEMBERSHIP[0] = object()
        dict.__delitem__(self, key)

    def pop(self, *args):
        _MEMBERSHIP[0] = object()
        return dict.pop(self, *args)

    def popitem(self):
        _MEMBERSHIP[0] = object()
        return dict.popitem(self)

    def clear(self) -> None:
        _MEMBERSHIP[0] = object()
        dict.clear(self)

    def update(self, *args, **kwargs) -> None:
        _MEMBERSHIP[0] = object()
        dict.update(self, *args, **kwargs)

    def setdefault(self, key, default=None):
        _MEMBERSHIP[0] = object()
        return dict.setdefault(self, key, default)

    def __ior__(self, other):
        _MEMBERSHIP[0] = object()
        return dict.__ior__(self, other)


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False  # shared by the phases of a quarter: none may write into it
    return a


class HubTable:
    """The members of ``hubs`` (model.ptces()) as arrays, hub after hub in member order:
    ``members``, their ``ids`` and ``rows``, ``hub_pos`` (the position in ``hubs`` of each
    one's hub), ``ess`` (whether each is an ESS organisation) and the hubs' ``sizes``.

    Kept on the model (hub_table) and shared by the phases of a quarter (book_ptce_costs,
    pool_treasuries, update_network, update_hubs, restore_hubs_legality, choose_strategies)
    until a hub's members change (_Members renews the token) or the hubs do.  Only what
    cannot change while the membership stands is kept (ids, rows, ess): a member's staff,
    treasury or ``alive`` is read from the columns and agents at each use."""

    def __init__(self, model: TerritoryModel, hubs: list[Ptce], token: object) -> None:
        self.hubs, self.token = hubs, token
        self.sizes = [len(hub.members) for hub in hubs]
        self.members: list[Provider] = [m for hub in hubs for m in hub.members.values()]
        n = len(self.members)
        self.ids = _read_only(np.fromiter(chain.from_iterable(hub.members for hub in hubs), np.int64, n))
        # Rows from the model's cached row of each provider id (one gather, not a read per
        # member); from the members themselves for the others (local employers, which are
        # not providers).
        by_id = model.row_by_id()
        rows = np.full(n, -1, dtype=np.int64)
        known = self.ids < len(by_id)
        rows[known] = by_id[self.ids[known]]
        missing = np.flatnonzero(rows < 0)
        if len(missing):
            rows[missing] = rows_of([self.members[i] for i in missing.tolist()])
        self.rows = _read_only(rows)
        self.hub_pos = _read_only(np.repeat(np.arange(len(hubs)), self.sizes))
        self.ess = _read_only(model.provider_state.cols["ess"][self.rows] == 1)
        self._ess_rows: tuple | None = None
        self._ess_by_id: np.ndarray | None = None

    def hub_of(self, top: int) -> np.ndarray:
        """``hub_of[uid]``: the id of the hub of node ``uid`` (-1 if in none), for ids up to
        ``top`` at least (further if a member's id is larger)."""
        owner = np.array([hub.unique_id for hub in self.hubs], dtype=np.int64)[self.hub_pos]
        hub_of = np.full(max(top, int(self.ids.max(initial=-1)) + 1), -1, dtype=np.int64)
        hub_of[self.ids] = owner  # a member is in one hub only
        return hub_of

    def ess_rows(self) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """hub_ess_rows: the ESS members' rows, the position of each one's hub, and the
        bounds of each hub's slice."""
        if self._ess_rows is None:
            hub_pos = _read_only(self.hub_pos[self.ess])
            bounds = np.zeros(len(self.hubs) + 1, dtype=np.int64)
            np.cumsum(np.bincount(hub_pos, minlength=len(self.hubs)), out=bounds[1:])
            self._ess_rows = (_read_only(self.rows[self.ess]), hub_pos, bounds.tolist())
        return self._ess_rows

    def ess_by_id(self) -> np.ndarray:
        """The ESS members' places in ``members``, hub after hub, by id within each hub."""
        if self._ess_by_id is None:
            ess = np.flatnonzero(self.ess)
            self._ess_by_id = _read_only(ess[np.lexsort((self.ids[ess], self.hub_pos[ess]))])
        return self._ess_by_id


def hub_table(model: TerritoryModel, hubs: list[Ptce]) -> HubTable:
    """The HubTable of ``hubs``: the model's kept one if no hub's members changed since it
    was made and the hubs are the same, else a new one (then kept)."""
    table, token = getattr(model, "_hub_table", None), _MEMBERSHIP[0]
    if table is None or table.token is not token or table.hubs != hubs:
        table = model._hub_table = HubTable(model, list(hubs), token)
    return table


def _book_carries(cols: dict, stats: dict, rows: np.ndarray, t: np.ndarray, new_t: np.ndarray, moved: np.ndarray) -> None:
    """What a PTCE fund carried to its members (treasury t -> new_t at ``rows``, ``moved``
    where it changed): the carried_eur and transfers_eur columns, the quarter's
    ``fund_out_eur`` tally (added one by one, in order), the new treasuries, and the
    insolvency count reset for a member carried back to a non-negative treasury."""
    carried = new_t[moved] - t[moved]
    changed = rows[moved]
    cols["carried_eur"][changed] = carried
    cols["transfers_eur"][changed] += carried
    if len(carried):
        stats["fund_out_eur"] = running_total(carried, stats.get("fund_out_eur", 0.0))
    cols["treasury_eur"][changed] = new_t[moved]
    cols["insolvent_quarters"][changed[new_t[moved] >= 0]] = 0


class Ptce(mesa.Agent):
    """A territorial cooperation hub (PTCE): a collective of legal persons (FACTS.md [ptce-law]).

    State: members (ids of ESS organisations and firms), seat municipality, treasury fund
    (EUR), project-pooling depth in [0, 1], formalisation in [0, 1], and the forms it has
    this quarter.  Its ESS members pool the ``pooled_share_of_fixed_costs`` of their fixed
    costs (mechanisms.pooled_fixed_costs).
    """

    def __init__(self, model: TerritoryModel, seat: int, members: list[Provider]) -> None:
        super().__init__(model)
        self.seat = seat
        self.members: dict[int, Provider] = _Members()
        self.fund_eur = 0.0
        self.depth = 0.0
        self.formalisation = 0.0
        self.founded_step = model.steps
        self.pool_capacity_hours = 0.0
        self.forms: set[str] = set()
        # ESS members' ids at the last supply marking (set_forms), empty if it had no supply chain then.
        self.supply_marked: set[int] | frozenset[int] = frozenset()
        self.alive = True
        for m in members:
            self.add_member(m)

    # ----------------------------------------------------------------- membership
    def rigidity_after_joining(self) -> float:
        """Rigidity a candidate expects with one more member.  It expects the hub to
        formalise (bounded foresight), so the rigidity at the formalisation target counts:
        a candidate joins only if that stays at or below the exit threshold (cooperate, and
        entrants helped by a development agency, TerritoryModel.enter_new_organisations)."""
        cp = self.model.config.cooperation
        return mech.ptce_rigidity(max(self.formalisation, cp.formalisation_target), self.size + 1, cp.rigidity_half_size)

    def admits_one_more(self) -> bool:
        return self.rigidity_after_joining() <= self.model.config.cooperation.rigidity_exit_threshold

    def add_member(self, org: Provider) -> None:
        cp = self.model.config.cooperation
        self.model.cooperation.add_missing_ties(org.unique_id, self.members, cp.comember_tie_trust, "comember", distinct=True)
        self.members[org.unique_id] = org
        org.ptce = self

    def remove_member(self, org: Provider) -> None:
        """A member leaves (or closes): its contributions stay in the fund."""
        self.members.pop(org.unique_id, None)
        org.ptce = None
        org.reset_cooperation()

    def ess_members(self) -> list[Provider]:
        return [m for m in self.members.values() if m.is_ess]

    @property
    def size(self) -> int:
        return len(self.members)

    def legal(self, ess: int | None = None) -> bool:
        """At least ``founding_members_min`` legal persons, one ESS organisation and one
        enterprise outside the ESS (FACTS.md [ptce-law]).  ``ess``: the number of ESS
        members, if the caller has just counted them."""
        if ess is None:
            ess = sum(1 for m in self.members.values() if m.is_ess)
        return bool(mech.legal_composition(self.size, ess, self.model.config.cooperation.founding_members_min))

    @property
    def rigidity(self) -> float:
        cp = self.model.config.cooperation
        return mech.ptce_rigidity(self.formalisation, self.size, cp.rigidity_half_size)

    def jobs_fte(self) -> float:
        """Direct jobs: salaried FTE of the ESS member structures (FACTS.md [ptce-size])."""
        return float(sum(m.staff_fte for m in self.ess_members()))

    def coordination_cost_eur(self) -> float:
        cp = self.model.config.cooperation
        return mech.coordination_cost(self.size, cp.animation_eur_per_member_quarter, self.rigidity, cp.coordination_cost_per_rigidity)

    # ----------------------------------------------------------------- the quarter
    def open_quarter(self) -> None:
        """Set this quarter's pooled premises and the forms the PTCE has, and what each
        form changes for its members (seed text, five forms).  The model does this for
        every hub at once (TerritoryModel.open_quarter: set_forms, then member_effects)."""
        ess = self.ess_members()
        cols, rows = self.model.provider_state.cols, rows_of(ess)
        self.set_forms(ess, capacity_rows(cols, rows, self.model.config.organisation).tolist(),
                       cols["sector"][rows].tolist(), bool((cols["insertion_share"][rows] > 0).any()))
        for name, value in self.member_effects().items():
            cols[name][rows] = value

    def set_forms(self, ess: list[Provider], capacity_hours: list[float], sectors: list[int], insertion: bool,
                  new_members_only: bool = False) -> None:
        """The pooled premises and the forms of this quarter, from its ESS members ``ess``,
        their capacities (hours), their sectors, and whether any has insertion posts.

        A supply chain marks the ties between its members of one sector as supply links.
        ``new_members_only``: only the pairs with a member new to the hub since its last
        marking (TerritoryModel.open_quarter marks the ties made or re-kinded since then);
        the other pairs' ties were marked then and nothing sets a kind back
        (tests/test_cooperation.py compares the kinds with every pair's marking after each
        quarter)."""
        cp = self.model.config.cooperation
        self.pool_capacity_hours = float(sum(capacity_hours))  # Python's sum, as over the members
        forms = {"pooled_means"}
        if insertion and len(self.members) > 1:
            forms.add("conglomerate")  # integration pathways need insertion posts and other employers
        if len(sectors) != len(set(sectors)):
            forms.add("supply_chain")  # upstream and downstream members of one sector
        if self.depth >= cp.project_depth_threshold:  # mature: pooled projects
            forms.update(("development_agency", "solidarity"))
        self.forms = forms & set(cp.forms)
        if "supply_chain" not in self.forms:
            self.supply_marked = frozenset()
            return
        # Members of one sector buy from each other: their ties become supply links.
        member_ids = [m.unique_id for m in ess]
        marked = self.supply_marked
        if new_members_only and marked.issuperset(member_ids):  # no member new since the last marking: nothing to mark
            if len(marked) != len(member_ids):  # members left
                self.supply_marked = set(member_ids)
            return
        by_sector: dict[int, list[int]] = {}
        for uid, sector in zip(member_ids, sectors, strict=True):
            by_sector.setdefault(sector, []).append(uid)
        net = self.model.cooperation
        for ids in by_sector.values():
            if len(ids) > 1:
                if not new_members_only:
                    net.set_kind_among(ids, "supply")
                else:
                    news = [x for x in ids if x not in marked]
                    if news:
                        net.set_kind_from(news, ids, "supply")
        self.supply_marked = set(member_ids)

    def member_effects(self) -> dict[str, float]:
        """What each form gives every ESS member this quarter, by provider column (d the
        pooling depth): pooled share of fixed costs, joint-sales utility x d, pathway rate
        x d, outside supply share 1 - internalisation x d, solidarity surcharge, governance
        support x d (0, or 1 for the supply share, without the form)."""
        cp, d, forms = self.model.config.cooperation, self.depth, self.forms
        return {
            "pool_share": cp.pooled_share_of_fixed_costs if "pooled_means" in forms else 0.0,
            "joint_sales_bonus": cp.joint_sales_utility * d if "pooled_means" in forms else 0.0,
            "pathway_bonus": cp.integration_pathway_rate * d if "conglomerate" in forms else 0.0,
            "outside_supply_share": 1.0 - cp.supply_internalisation * d if "supply_chain" in forms else 1.0,
            "solidarity_surcharge": cp.solidarity_surcharge if "solidarity" in forms else 0.0,
            "governance_bonus": cp.governance_support * d,
        }

    def outside_funding_eur(self) -> float:
        """A development agency's outside funding this quarter, growing with pooling depth; 0 otherwise."""
        cp = self.model.config.cooperation
        return mech.agency_funding_eur(self.depth, cp.agency_funding_eur_per_quarter) if "development_agency" in self.forms else 0.0

    def book_costs_and_outside_funding(self, funded_eur: float) -> float:
        """Book the coordination cost on ESS members pro rata to staff, the public share
        ``funded_eur`` as a subsidy, and a development agency's outside funding.
        Returns the outside funding raised (EUR)."""
        ess = self.ess_members()
        cols, rows = self.model.provider_state.cols, rows_of(ess)
        staff = cols["staff_fte"][rows]
        if not ess or staff.sum() <= 0:
            return 0.0
        w = staff / staff.sum()
        cost = self.coordination_cost_eur()
        outside = self.outside_funding_eur()
        cols["ledger_coordination_eur"][rows] += cost * w
        cols["ledger_subsidy_eur"][rows] += (funded_eur + outside) * w
        return outside

    def pool_treasury(self) -> None:
        """After accounts are settled: members pay a share of a surplus into the fund, then
        the fund carries members in deficit, up to the fund (mechanisms.carry_from_fund).
        Money only moves between members' treasuries and the fund."""
        cp = self.model.config.cooperation
        stats = self.model.quarter_stats
        ess = self.ess_members()
        cols, rows = self.model.provider_state.cols, rows_of(ess)
        treasury, transfers = cols["treasury_eur"], cols["transfers_eur"]
        # Contributions c = share x surplus, paid in member order.
        surplus = cols["last_result_eur"][rows] > 0
        paying = rows[surplus]
        c = cp.fund_contribution_share * cols["last_result_eur"][paying]
        treasury[paying] -= c
        transfers[paying] -= c
        if len(c):  # the fund and the tally add them one by one, in order
            self.fund_eur = running_total(c, self.fund_eur)
            stats["fund_in_eur"] = running_total(c, stats.get("fund_in_eur", 0.0))
        t = treasury[rows]
        new_t, self.fund_eur = mech.carry_from_fund(t, self.fund_eur)
        moved = new_t != t
        _book_carries(cols, stats, rows, t, new_t, moved)

    def advance(self, member_trust: float) -> float:
        """The quarter's move of formalisation (towards its target) and pooling depth (with
        the members' mean trust); returns each ESS member's chance to leave for rigidity."""
        cp = self.model.config.cooperation
        self.formalisation = mech.formalisation_step(self.formalisation, cp.formalisation_speed, cp.formalisation_target)
        self.depth = mech.pooling_depth_step(self.depth, member_trust, cp.depth_growth_per_quarter)
        return mech.rigidity_exit_probability(self.rigidity, cp.rigidity_exit_threshold, cp.rigidity_exit_rate)

    def update(self, member_trust: float | None = None) -> list[Provider]:
        """Formalisation and depth move; members leave when rigidity is high.  Returns the
        members who left.  ``member_trust``: the mean trust of the ties between members
        (member_trust_means), computed here if not given."""
        if member_trust is None:
            member_trust = member_trust_means(self.model, [self]).get(self.unique_id, 0.0)
        p_exit = self.advance(member_trust)
        ess = sorted(self.ess_members(), key=attrgetter("unique_id"))
        draws = self.model.dyn_rng.random(len(ess))  # one per ESS member, even when p_exit = 0
        left = list(compress(ess, (draws < p_exit).tolist()))
        for m in left:
            self.remove_member(m)
            m.strategy = "independent"  # disappointed by the superstructure
        return left

    def dissolve(self) -> None:
        """The fund is returned to the ESS members pro rata to staff (no money lost)."""
        ess = self.ess_members()
        staff = np.array([m.staff_fte for m in ess])
        if ess and self.fund_eur > 0:
            w = staff / staff.sum() if staff.sum() > 0 else np.full(len(ess), 1 / len(ess))
            for m, wi in zip(ess, w.tolist(), strict=True):  # plain floats into the accounts
                m.treasury_eur += self.fund_eur * wi
                m.transfers_eur += self.fund_eur * wi
            stats = self.model.quarter_stats
            stats["fund_out_eur"] = stats.get("fund_out_eur", 0.0) + self.fund_eur
            self.fund_eur = 0.0
        for m in list(self.members.values()):
            self.remove_member(m)
        self.alive = False
        self.remove()


def hub_rigidities(hubs: list[Ptce], cp) -> np.ndarray:
    """Ptce.rigidity of every hub (mechanisms.ptce_rigidities; tests/test_vectorised.py)."""
    n = np.array([len(hub.members) for hub in hubs], dtype=np.int64)
    return mech.ptce_rigidities(np.array([hub.formalisation for hub in hubs], dtype=float), n, cp.rigidity_half_size)


def hub_ess_rows(model: TerritoryModel, hubs: list[Ptce]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """The ESS members of ``hubs`` in one pass: their rows in ``provider_state``, hub after hub
    in member order (each hub's ``ess_members()`` order), the position in ``hubs`` of each
    one's hub, and the bounds of each hub's slice (``len(hubs) + 1`` of them); from the
    model's HubTable (read-only arrays, shared until a membership changes)."""
    return hub_table(model, hubs).ess_rows()


def book_ptce_costs(model: TerritoryModel, hubs: list[Ptce], funded_eur: dict[int, float]) -> list[float]:
    """Ptce.book_costs_and_outside_funding of every hub at once (``funded_eur``: the public
    share funded, by hub id; 0 if absent); returns each hub's outside funding raised.  Over
    the ESS members of all hubs, for a member i of hub h:

        coordination_i += C_h w_i,  subsidy_i += (P_h + A_h) w_i,  w_i = S_i / sum_{j in h} S_j

    C_h the hub's coordination cost, P_h its funded share, A_h a development agency's
    outside funding; a hub whose members have no staff books nothing.  Each hub's staff sum
    is numpy's over its own members, as the method's (tests/test_vectorised.py)."""
    cols, cp = model.provider_state.cols, model.config.cooperation
    rows, hub_pos, bounds = hub_ess_rows(model, hubs)
    staff = cols["staff_fte"][rows]
    add = np.add.reduce  # ndarray.sum's pairwise sum, without its per-call overhead
    total_staff = np.array([add(staff[s:e]) if e > s else 0.0 for s, e in zip(bounds[:-1], bounds[1:], strict=True)])
    booking = total_staff > 0
    # Ptce.coordination_cost_eur and outside_funding_eur of every hub over arrays (the
    # mechanisms over arrays: the same operations), A = a_dev d for a development agency.
    n = np.array([len(hub.members) for hub in hubs], dtype=np.int64)
    rigidity = mech.ptce_rigidities(np.array([hub.formalisation for hub in hubs], dtype=float), n, cp.rigidity_half_size)
    cost = np.where(booking, mech.coordination_cost(n, cp.animation_eur_per_member_quarter, rigidity, cp.coordination_cost_per_rigidity), 0.0)
    agency = np.array(["development_agency" in hub.forms for hub in hubs], dtype=bool) & booking
    outside = np.where(agency, mech.agency_funding_eur(np.array([hub.depth for hub in hubs], dtype=float), cp.agency_funding_eur_per_quarter), 0.0)
    funded = np.array([funded_eur.get(hub.unique_id, 0.0) for hub in hubs], dtype=float)
    subsidy = np.where(booking, funded + outside, 0.0)
    outside_eur = outside.tolist()
    booked = total_staff[hub_pos] > 0
    rows, hub_pos = rows[booked], hub_pos[booked]
    w = staff[booked] / total_staff[hub_pos]
    cols["ledger_coordination_eur"][rows] += cost[hub_pos] * w
    cols["ledger_subsidy_eur"][rows] += subsidy[hub_pos] * w
    return outside_eur


def pool_treasuries(model: TerritoryModel, hubs: list[Ptce]) -> None:
    """Ptce.pool_treasury of every hub at once, over the ESS members of all hubs (disjoint
    rows, so the hubs do not interact): contributions c_i = share x r_i of the members with
    a surplus r_i > 0, added to their hub's fund in member order, then
    mechanisms.carry_from_fund hub by hub on the treasuries after contributions.  The
    funds and the quarter's tallies are added one by one in hub and member order, as hub
    after hub (tests/test_vectorised.py)."""
    cp = model.config.cooperation
    stats = model.quarter_stats
    cols = model.provider_state.cols
    rows, hub_pos, bounds = hub_ess_rows(model, hubs)
    treasury, transfers = cols["treasury_eur"], cols["transfers_eur"]
    funds = [hub.fund_eur for hub in hubs]
    result = cols["last_result_eur"][rows]
    surplus = result > 0
    paying = rows[surplus]
    c = cp.fund_contribution_share * result[surplus]
    treasury[paying] -= c
    transfers[paying] -= c
    if len(c):  # the funds and the tally add them one by one, in order (state.running_total)
        for k, x in zip(hub_pos[surplus].tolist(), c.tolist(), strict=True):
            funds[k] += x
        stats["fund_in_eur"] = running_total(c, stats.get("fund_in_eur", 0.0))
    # mechanisms.carry_from_fund of each hub whose members are in deficit (the others keep
    # their treasuries and fund): deficits paid in full, or pro rata if the fund is short.
    t = treasury[rows]
    short = t < 0
    if short.any():
        new_t = t.copy()
        for k in np.unique(hub_pos[short]).tolist():  # only hubs with a member in deficit
            s, e = bounds[k], bounds[k + 1]
            new_t[s:e], funds[k] = mech.carry_from_fund(t[s:e], funds[k])
        moved = new_t != t
        _book_carries(cols, stats, rows, t, new_t, moved)
    for hub, fund in zip(hubs, funds, strict=True):
        hub.fund_eur = fund


def member_trust_means(model: TerritoryModel, hubs: list[Ptce]) -> dict[int, float]:
    """Mean trust of the ties between members of each PTCE (self-loops left out), by hub
    id; hubs without such a tie are left out.  Over the tie arrays (simulation.network),
    the ties of a hub taken in the order of a loop over its members by increasing id and
    their neighbours of higher id in adjacency order, as ``np.mean`` of that list gives."""
    net = model.cooperation
    u, v, slots = net.tie_arrays()
    hub_of = hub_table(model, hubs).hub_of(max(int(u.max(initial=-1)), int(v.max(initial=-1))) + 1)
    return hub_trust_means(hub_of, u, v, net.trust[slots], np.ones(len(u), dtype=bool))


def hub_trust_means(hub_of: np.ndarray, u: np.ndarray, v: np.ndarray, trust: np.ndarray, keep: np.ndarray) -> dict[int, float]:
    """member_trust_means over the ties (u, v) in slot order with this ``trust``, those of
    ``keep`` only, ``hub_of`` as HubTable.hub_of gives."""
    hu = hub_of[u]
    inside = (hu == hub_of[v]) & (hu >= 0) & keep & (u != v)
    hub_ids, low, trust = hu[inside], np.minimum(u[inside], v[inside]), trust[inside]
    if not len(hub_ids):
        return {}
    # By hub, then lower end, then slot: one stable sort of a key (hub, lower end).  Both
    # ends of such a tie are members of the hub, so the key can be the lower end's rank
    # among all members ordered by (hub, id): below 2**16 members a uint16, which numpy
    # sorts stably by radix, some 5 times faster than the int64 (hub, id) key (issue 9).
    members = np.flatnonzero(hub_of >= 0)  # by id
    if len(members) <= 1 << 16:
        rank = np.zeros(len(hub_of), dtype=np.uint16)
        rank[members[np.argsort(hub_of[members], kind="stable")]] = np.arange(len(members))
        order = np.argsort(rank[low], kind="stable")
    else:
        order = np.argsort(hub_ids * len(hub_of) + low, kind="stable")
    hub_ids, trust = hub_ids[order], trust[order]
    cuts = (np.flatnonzero(hub_ids[1:] != hub_ids[:-1]) + 1).tolist()
    starts, ends = [0, *cuts], [*cuts, len(hub_ids)]
    # np.add.reduce(trust[s:e]) / (e - s) is np.mean's own computation (the same pairwise
    # sum, then one division), without its per-call overhead.
    add = np.add.reduce
    return {h: float(add(trust[s:e])) / (e - s) for h, s, e in zip(hub_ids[starts].tolist(), starts, ends, strict=True)}


def ptce_candidates_firms(model: TerritoryModel, muni: int, exclude: set[int]) -> list[Provider]:
    """Firms outside the ESS within the PTCE radius of ``muni`` and in no PTCE, nearest first.

    Alive only: a closing firm leaves its PTCE (model.remove_provider) and is still among
    the model's firms while restore_legality looks for its replacement; recruiting it kept
    a dead member in the PTCE (and, through its new ties, a node of a closed firm in the
    network)."""
    cp = model.config.cooperation
    d = model.territory.distance_km
    firms = [f for f in model.firms() if f.alive and f.ptce is None and f.unique_id not in exclude and f.staff_fte > 0
             and d[muni, f.municipality] <= cp.ptce_radius_km]
    return sorted(firms, key=lambda f: (d[muni, f.municipality], f.unique_id))


def rigidities_after_joining(hubs: list[Ptce], cp) -> list[float]:
    """Ptce.rigidity_after_joining of every hub over arrays, the same operations
    (tests/test_vectorised.py):  r = max(f, f_target) (n + 1) / ((n + 1) + n_half)."""
    after = np.array([len(p.members) for p in hubs], dtype=np.int64) + 1
    f = np.maximum(np.array([p.formalisation for p in hubs], dtype=float), cp.formalisation_target)
    return mech.ptce_rigidities(f, after, cp.rigidity_half_size).tolist()


def cooperate(model: TerritoryModel) -> None:
    """Each cooperating organisation outside a PTCE tries, with probability
    ``join_per_quarter``, to join the nearby PTCE where it would add least rigidity (if
    that, at the formalisation target, stays below the exit threshold), or else to found one with the nearest
    cooperating organisations and a firm (FACTS.md [ptce-law])."""
    cp = model.config.cooperation
    d = model.territory.distance_km
    seekers = [o for o in organisations_by_id(model)[0] if o.strategy == "cooperate" and o.ptce is None]  # in id order
    draws = model.dyn_rng.random(len(seekers))
    # The founding partners' index, made at the first foundation attempt (in most quarters
    # none reaches one): of the seekers still outside a PTCE then, the only ones its search
    # can accept (found_ptce), so it finds what an index of all seekers made now would.
    index: NearestIndex | None = None

    def open_hubs() -> tuple[list[Ptce], np.ndarray, list[float]]:
        # Each hub's rigidity with one more member changes only when it admits one (below):
        # computed once per hub, not once per seeker and hub.
        # Distances from each municipality to each hub's seat, as plain floats.
        hubs = model.ptces()
        seats = np.array([p.seat for p in hubs], dtype=np.int64)
        return hubs, d[:, seats].tolist(), rigidities_after_joining(hubs, cp)

    hubs, to_seat_km, r_after = open_hubs()
    # Per municipality, the hubs within the radius (position, distance), and the firms a
    # foundation there could recruit (ptce_candidates_firms): neither changes until a PTCE is
    # founded (joining members are ESS organisations; firms join only at a foundation).
    near_hubs: dict[int, list[tuple[int, float]]] = {}
    firms_near: dict[int, list[Provider]] = {}
    for org in compress(seekers, (draws < cp.join_per_quarter).tolist()):  # those who try, in id order
        if org.ptce is not None or not org.alive:
            continue
        muni = org.municipality
        near = near_hubs.get(muni)
        if near is None:
            near = near_hubs[muni] = [(j, dist) for j, dist in enumerate(to_seat_km[muni]) if dist <= cp.ptce_radius_km]
        options = [(r_after[j], dist, hubs[j].unique_id, j) for j, dist in near if r_after[j] <= cp.rigidity_exit_threshold]
        if options:
            j = min(options)[3]  # (rigidity after joining, distance, id): ids are unique
            hub = hubs[j]
            hub.add_member(org)
            r_after[j] = hub.rigidity_after_joining()
            if index is not None:
                index.remove(org)
            continue
        firms = firms_near.get(muni)
        if firms is None:
            firms = firms_near[muni] = ptce_candidates_firms(model, muni, set())
        if firms and index is None:
            index = NearestIndex([o for o in seekers if o.ptce is None], d, in_id_order=True)
        if found_ptce(model, org, index, firms) is not None:
            hubs, to_seat_km, r_after = open_hubs()  # the new PTCE is open to the next seekers
            near_hubs.clear()
            firms_near.clear()


def found_ptce(model: TerritoryModel, org: Provider, index: NearestIndex | None = None, firms: list[Provider] | None = None) -> Ptce | None:
    """Found a PTCE seated at ``org``'s municipality if enough partners agree: the nearest
    cooperating organisations outside a PTCE (by distance, then id) and a firm.  ``firms``:
    ptce_candidates_firms of that municipality, if already known."""
    cp = model.config.cooperation
    m0 = org.municipality
    if firms is None:
        firms = ptce_candidates_firms(model, m0, set())
    if not firms:
        return None  # no firm to ask: no foundation (and no draw, as below)
    if index is None:
        index = NearestIndex([o for o in model.organisations() if o.strategy == "cooperate"], model.territory.distance_km)
    partners = index.nearest(
        m0, cp.ptce_radius_km, lambda o: o is not org and o.alive and o.strategy == "cooperate" and o.ptce is None,
        max(cp.founding_members_min - 2, 1),
    )
    if len(partners) + 2 < cp.founding_members_min:
        return None
    firm = None
    for f in firms:
        if model.dyn_rng.random() < cp.firm_join_probability:
            firm = f
            break
    if firm is None:
        return None
    ptce = Ptce(model, m0, [org, *partners, firm])
    for m in (org, *partners):
        index.remove(m)  # now in a PTCE: no longer a founding partner for anyone
    model.quarter_stats["ptce_foundations"] = model.quarter_stats.get("ptce_foundations", 0) + 1
    return ptce


def restore_legality(model: TerritoryModel, ptce: Ptce) -> None:
    """After departures and closures: recruit a firm if none is left, dissolve the PTCE if
    it still breaks the law's composition (FACTS.md [ptce-law])."""
    leaving, ess = [], 0  # one pass: who leaves, and how many ESS organisations stay
    for m in ptce.members.values():
        if m.is_ess:
            if m.alive:
                ess += 1
            else:
                leaving.append(m)
        elif not m.alive or m.staff_fte <= 0:
            leaving.append(m)
    for m in leaving:
        ptce.remove_member(m)
    if ess == ptce.size:  # no firm left
        for f in ptce_candidates_firms(model, ptce.seat, set()):
            ptce.add_member(f)
            break
    if not ptce.legal(ess):
        ptce.dissolve()


def restore_hubs_legality(model: TerritoryModel, hubs: list[Ptce]) -> None:
    """restore_legality of each of ``hubs`` in turn, except where it would do nothing: no
    member leaving (every ESS member alive, every firm alive with staff), a firm left, and
    the law's composition met.  Read at once over the members' columns: no hub's
    restore_legality changes another's members, their staff or whether they are alive
    (a recruited firm is in no PTCE; a dissolved hub's fund goes to treasuries)."""
    if not hubs:
        return
    table = hub_table(model, hubs)
    members, rows, ess, hub_pos = table.members, table.rows, table.ess, table.hub_pos
    alive = np.fromiter(map(attrgetter("alive"), members), bool, len(members))
    leaving = ~alive | (~ess & (model.provider_state.cols["staff_fte"][rows] <= 0))
    n_leaving = np.bincount(hub_pos[leaving], minlength=len(hubs))
    n_ess = np.bincount(hub_pos[ess], minlength=len(hubs))
    size = np.array(table.sizes, dtype=np.int64)
    # Nothing to do: no one leaves and the law's composition is met (Ptce.legal).
    fine = (n_leaving == 0) & mech.legal_composition(size, n_ess, model.config.cooperation.founding_members_min)
    if fine.all():
        return
    for k in np.flatnonzero(~fine).tolist():  # in hub order
        restore_legality(model, hubs[k])


# --------------------------------------------------------------------------- network
def update_network(model: TerritoryModel, hubs: list[Ptce] | None = None) -> dict[int, float]:
    """Trust grows on ties of successful cooperation and decays otherwise; weak ties drop;
    each provider's productivity follows the summed trust of its ties (spillovers).
    Returns the mean trust of the ties between members of each hub after the update
    (member_trust_means), from the same pass; ``hubs``: model.ptces() if not given.

    A tie cooperates successfully this quarter when its ends are members of the same PTCE
    and both closed the quarter without a deficit (joint projects of the cooperative regime
    add their own trust gain, regimes.Cooperative.fund_joint_projects).  The regime is told
    of the dropped ties (a joint project on one ends: regimes.Cooperative.on_ties_dropped).
    The hubs' members are read from the model's HubTable (hub_table).
    """
    cp = model.config.cooperation
    net = model.cooperation
    if hubs is None:
        hubs = model.ptces()
    u, v, slots = net.tie_arrays()
    ids = model.provider_ids()
    top = max(int(u.max(initial=-1)), int(v.max(initial=-1)), int(ids.max(initial=-1))) + 1
    # Arrays by node id: the hub of each member, and of each member whose quarter ended
    # without a deficit (-1 otherwise).
    table = hub_table(model, hubs)
    hub_of, member_ids, rows = table.hub_of(top), table.ids, table.rows
    hub_ok = np.full(len(hub_of), -1, dtype=np.int64)
    ok = model.provider_state.cols["last_result_eur"][rows] >= 0
    hub_ok[member_ids[ok]] = hub_of[member_ids[ok]]
    # Over the tie arrays (simulation.network), tie by tie:
    #   t' = min(1, t + gain) if both ends are in the same hub and ended without a deficit,
    #   t' = t - decay otherwise;  the tie drops if t' < floor.
    hu = hub_ok[u]
    success = (hu >= 0) & (hu == hub_ok[v])
    t = net.trust[slots]
    t = np.minimum(np.where(success, t + cp.trust_gain_per_quarter, t - cp.trust_decay_per_quarter), 1.0)
    net.set_trust(slots, t)
    kept = t >= cp.tie_drop_trust
    # Each agent's strength, the summed trust of the ties it keeps (networkx's weighted
    # degree after the drop, a self-loop once), by node id.
    strength = node_strength(u, v, t, kept, len(hub_of))
    if not kept.all():  # the regime ends what rested on a dropped tie (a joint project)
        model.regime.on_ties_dropped(model, u[~kept], v[~kept])
        net.remove_slots(slots[~kept])
    model.provider_state.cols["productivity"][model.provider_rows()] = mech.spillover_multipliers(strength[ids], cp.spillover_max, cp.spillover_trust_scale)
    return hub_trust_means(hub_of, u, v, t, kept)


def advance_hubs(hubs: list[Ptce], member_trust: dict[int, float], cp) -> np.ndarray:
    """Ptce.advance of every hub over arrays (the mechanisms' array forms, the same
    operations; tests/test_vectorised.py): each hub's formalisation f' = f + s (f* - f)
    and pooling depth move, and the exit chance of its members at its new rigidity is
    returned (``member_trust``: by hub id, 0 if absent)."""
    if not hubs:
        return np.zeros(0)
    f = np.array([hub.formalisation for hub in hubs], dtype=float)
    d = np.array([hub.depth for hub in hubs], dtype=float)
    trust = np.array([member_trust.get(hub.unique_id, 0.0) for hub in hubs], dtype=float)
    n = np.array([len(hub.members) for hub in hubs], dtype=np.int64)
    f = mech.formalisation_step(f, cp.formalisation_speed, cp.formalisation_target)
    d = mech.pooling_depth_steps(d, trust, cp.depth_growth_per_quarter)
    for hub, fk, dk in zip(hubs, f.tolist(), d.tolist(), strict=True):
        hub.formalisation, hub.depth = fk, dk
    r = mech.ptce_rigidities(f, n, cp.rigidity_half_size)
    return mech.rigidity_exit_probabilities(r, cp.rigidity_exit_threshold, cp.rigidity_exit_rate)


def update_hubs(model: TerritoryModel, hubs: list[Ptce], member_trust: dict[int, float]) -> None:
    """Ptce.update of every hub, hub after hub (``member_trust``: update_network's means, 0
    for a hub absent from it), the members' exit draws taken at once: the draws of the
    hubs one after the other, each over its ESS members by id, are one call's draws in
    that order (numpy's Generator.random; tests/test_vectorised.py).  The hubs' members
    are read from the model's HubTable (hub_table)."""
    p_exit = advance_hubs(hubs, member_trust, model.config.cooperation)
    table = hub_table(model, hubs)
    members, hub_pos = table.members, table.hub_pos
    ess = table.ess_by_id()  # hub after hub, by id within each
    draws = model.dyn_rng.random(len(ess))  # one per ESS member, even when p_exit = 0
    for i in ess[draws < p_exit[hub_pos[ess]]].tolist():
        m = members[i]
        hubs[hub_pos[i]].remove_member(m)
        m.strategy = "independent"  # disappointed by the superstructure


# --------------------------------------------------------------------------- strategy
GROUPED_CELLS_MAX = 256
"""nearest_peer_index with groups: above this many (group, municipality) cells present, one
search per group (the distance table of all cells grows as their square)."""


def nearest_peer_index(munis: np.ndarray, distance_km: np.ndarray, radius_km: float, groups: np.ndarray | None = None) -> np.ndarray:
    """For organisations of one sector (in id order) at municipalities ``munis``: the index
    of the nearest other one within ``radius_km`` (ties to the lowest id), -1 if none.
    ``groups``: the group (sector) of each: peers are then sought within one's group only,
    what a call per group gives (indices into all of them; strategy_payoffs: one call for
    all sectors, not one per sector).

    Works per municipality (distance depends only on municipalities), so the cost is
    O(n + M^2), not O(n^2) (with groups, O(n + (G M)^2) for the G groups present).
    """
    n = len(munis)
    out = np.full(n, -1)
    if n < 2:
        return out
    n_munis = len(distance_km)
    cells = munis if groups is None else groups * n_munis + munis  # (group, municipality)
    # np.unique(cells, return_inverse=True) from a count per cell (a territory has at most
    # a few hundred municipalities: the stable sort is then a radix sort).
    count = np.bincount(cells)
    present = np.flatnonzero(count)
    if groups is not None and len(present) > GROUPED_CELLS_MAX:  # a call per group: G tables of M^2, not one of (G M)^2
        for g in np.unique(groups).tolist():
            idx = np.flatnonzero(groups == g)
            peer = nearest_peer_index(munis[idx], distance_km, radius_km)
            out[idx[peer >= 0]] = idx[peer[peer >= 0]]
        return out
    count = count[present]
    where = np.searchsorted(present, cells)  # each one's cell's place in present
    grouped = np.argsort(where.astype(np.uint16) if len(present) <= 1 << 16 else where, kind="stable")  # by municipality, in id order within each
    start = np.zeros(len(present), dtype=np.int64)
    np.cumsum(count[:-1], out=start[1:])
    first = grouped[start]  # the lowest id of each municipality
    second = grouped[np.minimum(start + 1, n - 1)]  # the next one (where there are two)
    # A peer in the same municipality: the lowest id other than itself.
    crowded = count[where] >= 2
    own_first = first[where]
    out[crowded] = np.where(np.arange(n)[crowded] == own_first[crowded], second[where][crowded], own_first[crowded])
    # Alone in its municipality: among the other municipalities within the radius at the
    # smallest distance (of its group), the organisation with the lowest id.
    where_muni = present % n_munis
    d = distance_km[where_muni][:, where_muni].astype(float)
    if groups is not None:
        group = present // n_munis
        d[group[:, None] != group[None, :]] = np.inf
    np.fill_diagonal(d, np.inf)
    d[d > radius_km] = np.inf
    best = d.min(axis=1)
    nearest = np.where((d == best[:, None]) & np.isfinite(d), first[None, :], n).min(axis=1)
    alone = ~crowded & (nearest[where] < n)
    out[alone] = nearest[where][alone]
    return out


def strategy_payoffs(model: TerritoryModel, orgs: list[Provider], sheet: dict[str, np.ndarray] | None = None,
                     rows: np.ndarray | None = None, own: np.ndarray | None = None) -> np.ndarray:
    """Expected gain of each strategy, shares of each organisation's quarterly costs, (n, 3).

    independent: 0.  concentrate: its share of the fixed-cost saving of merging with the
    nearest organisation of its sector, (F(Q) + F(Q_p) - F(Q + Q_p)) Q / (Q + Q_p).
    cooperate: the pooled-premises saving in the nearest PTCE (or a PTCE of
    ``rigidity_half_size`` members like itself), phi (F(Q) - F(Q_tot) Q / Q_tot), less its
    share of the coordination cost the regime does not fund.
    ``sheet``: the organisations' cost sheet (organisations.cost_sheet) if already computed;
    ``rows``: their rows (organisations.rows_of) if already known; ``own``: the position in
    model.ptces() of each one's hub (own_hub_positions) if already known.
    """
    op, cp = model.config.organisation, model.config.cooperation
    n = len(orgs)
    out = np.zeros((n, 3))
    if n == 0:
        return out
    f0, beta = op.fixed_cost_scale_eur, op.fixed_cost_exponent

    def f(x: np.ndarray) -> np.ndarray:
        return np.where(x > 0, f0 * np.maximum(x, 0.0) ** beta, 0.0)

    cols = model.provider_state.cols
    if rows is None:
        rows = rows_of(orgs)
    if sheet is None:
        sheet = cost_sheet(orgs, op, rows)
    q = sheet["capacity_hours"]
    costs = quarterly_costs_eur(orgs, op, sheet, rows)
    munis, sectors = cols["municipality"][rows], cols["sector"][rows]
    dist = model.territory.distance_km
    conc = np.zeros(n)
    peer = nearest_peer_index(munis, dist, model.config.concentration.merger_radius_km, groups=sectors)  # within each sector
    has = peer >= 0
    qi, qp = q[has], q[peer[has]]
    conc[has] = (f(qi) + f(qp) - f(qi + qp)) * qi / np.maximum(qi + qp, 1e-12)
    hubs = model.ptces()
    q_tot = q * cp.rigidity_half_size
    size = np.full(n, int(cp.rigidity_half_size))
    rig = np.zeros(n)
    if hubs:
        seats = np.array([h.seat for h in hubs])
        # The nearest hub within the radius of each municipality, then of each organisation
        # (distance depends only on municipalities): (M, H), hubs in id order so argmin breaks ties by id.
        dm = dist[:, seats]
        near = dm <= cp.ptce_radius_km
        choice = np.where(near.any(axis=1), np.argmin(np.where(near, dm, np.inf), axis=1), -1)[munis]
        # The hub each organisation reckons with: its own, else the nearest (``choice``);
        # a member's pool already counts its capacity and its size, a candidate's does not:
        #   Q_tot = Q_pool + (0 if member else Q),  size = n_hub + (0 if member else 1).
        # A member's own hub (every live hub is among model.ptces(): a dissolved one has no members).
        if own is None:
            own = own_hub_positions(np.fromiter(map(attrgetter("unique_id"), orgs), np.int64, n), hub_table(model, hubs))
        member = own >= 0
        which = np.where(member, own, choice)
        has = which >= 0
        pool = np.array([h.pool_capacity_hours for h in hubs])
        n_hub = np.array([h.size for h in hubs], dtype=np.int64)
        rig_hub = hub_rigidities(hubs, cp)
        w = which[has]
        q_tot[has] = pool[w] + np.where(member[has], 0.0, q[has])
        size[has] = n_hub[w] + np.where(member[has], 0, 1)
        rig[has] = rig_hub[w]
    saving = np.where(q_tot > 0, cp.pooled_share_of_fixed_costs * (f(q) - f(q_tot) * q / np.maximum(q_tot, 1e-12)), 0.0)
    coord = cp.animation_eur_per_member_quarter * size * (1 + cp.coordination_cost_per_rigidity * rig) / np.maximum(size, 1)
    coop = saving - (1 - model.regime.params.animation_funded_share) * coord
    ok = (costs > 0) & (q > 0)
    out[ok, 1] = conc[ok] / costs[ok]
    out[ok, 2] = coop[ok] / costs[ok]
    return out


def quarterly_costs_eur(orgs: list[Provider], op, sheet: dict[str, np.ndarray], rows: np.ndarray | None = None) -> np.ndarray:
    """Provider.quarterly_costs_eur of each organisation from its cost sheet: w S + F + s.
    ``rows``: the organisations' rows (organisations.rows_of) if already known."""
    if not orgs:
        return np.zeros(0)
    staff = orgs[0]._cols["staff_fte"][rows_of(orgs) if rows is None else rows]
    return op.wage_eur_per_fte_quarter * staff + sheet["fixed_cost_eur"] + sheet["supply_surcharge_eur"]


def organisations_by_id(model: TerritoryModel) -> tuple[list[Provider], np.ndarray]:
    """model.organisations() sorted by id, and their ids.  They come in id order (agents are
    registered as they are made), so the sort is skipped when the ids already increase
    (the ids from the model's cached arrays: provider_ids, provider_is_ess)."""
    orgs = model.organisations()
    ids = model.organisation_ids()
    if (ids[1:] <= ids[:-1]).any():
        orgs = sorted(orgs, key=attrgetter("unique_id"))
        ids = np.fromiter(map(attrgetter("unique_id"), orgs), np.int64, len(orgs))
    return orgs, ids


def organisations_rows_by_id(model: TerritoryModel) -> tuple[list[Provider], np.ndarray, np.ndarray]:
    """organisations_by_id and the organisations' rows: the model's cached
    organisation_rows() when no sort was needed (they are in organisations()' order)."""
    orgs = model.organisations()
    ids = model.organisation_ids()
    if (ids[1:] <= ids[:-1]).any():
        orgs, ids = organisations_by_id(model)
        return orgs, ids, rows_of(orgs)
    return orgs, ids, model.organisation_rows()


def own_hub_positions(ids: np.ndarray, table: HubTable) -> np.ndarray:
    """For the organisations of ids ``ids``, the position in ``table.hubs`` of the hub each
    is a member of, -1 if none (hubs' members and members' ``ptce`` agree: Ptce.add_member,
    remove_member), from the hubs' members rather than a pass over the organisations."""
    own = np.full(len(ids), -1, dtype=np.int64)
    if not table.hubs or not len(ids):
        return own
    member_ids, hub_pos = table.ids, table.hub_pos
    index = np.full(max(int(ids.max()), int(member_ids.max(initial=-1))) + 1, -1, dtype=np.int64)
    index[ids] = np.arange(len(ids))
    at = index[member_ids]
    own[at[at >= 0]] = hub_pos[at >= 0]
    return own


def leave_hubs(model: TerritoryModel, orgs: list[Provider]) -> None:
    """Ptce.remove_member of each of ``orgs`` (members of a hub), their columns set back
    to a non-member's values at once (Provider.reset_cooperation over their rows)."""
    for o in orgs:
        o.ptce.members.pop(o.unique_id, None)
        o.ptce = None
    if orgs:
        cols, rows = model.provider_state.cols, rows_of(orgs)
        for name, value in NON_MEMBER.items():
            cols[name][rows] = value


def choose_strategies(model: TerritoryModel) -> None:
    """Yearly strategy choice of every ESS organisation (ODD+D in ODD.md).

    Forced policies set every organisation's strategy.  Under ``endogenous`` each
    organisation draws from the logit of mechanisms.strategy_utilities: expected payoff
    under the current regime, mission values (autonomy lost in a merger, rigidity of a
    PTCE, weighted by its democratic governance), imitation of peers in the cooperation
    network (their last result over costs, by strategy), and inertia.
    """
    sp = model.config.strategy
    if sp.policy != "endogenous":
        for o in model.organisations():
            o.strategy = sp.policy
        return
    orgs, ids, rows = organisations_rows_by_id(model)
    op = model.config.organisation
    n = len(orgs)
    draws = model.dyn_rng.random(n)
    cols = model.provider_state.cols
    sheet = cost_sheet(orgs, op, rows)
    result = cols["last_result_eur"][rows]
    perf = result / np.maximum(quarterly_costs_eur(orgs, op, sheet, rows), 1e-9)
    code = {name: k for k, name in enumerate(STRATEGIES)}
    strat = np.fromiter(map(code.__getitem__, map(attrgetter("strategy"), orgs)), np.int64, n)
    # Imitation: over the ties between two ESS organisations, the mean result of the peers
    # following each strategy minus the mean of all peers (0 where no peer follows it).
    # Ties between two ESS organisations in networkx's edge order (simulation.network).
    net = model.cooperation
    _, position = net.node_index()
    a, b = net.edge_order(position)
    ess_index = np.full(len(position), -1, dtype=np.int64)
    ess_index[ids] = np.arange(n)
    ia, ib = ess_index[a], ess_index[b]
    both = (ia >= 0) & (ib >= 0)
    ia, ib = ia[both], ib[both]
    src = np.concatenate((ia, ib))
    dst = np.concatenate((ib, ia))
    # Sums and counts per (organisation, peer's strategy), added in that order: np.bincount
    # adds as np.add.at does, one by one in index order.
    cell = 3 * src + strat[dst]
    sum_k = np.bincount(cell, weights=perf[dst], minlength=3 * n).reshape(n, 3)
    cnt_k = np.bincount(cell, minlength=3 * n).reshape(n, 3).astype(float)
    cnt_all = cnt_k.sum(axis=1, keepdims=True)
    mean_all = np.divide(sum_k.sum(axis=1, keepdims=True), cnt_all, out=np.zeros((n, 1)), where=cnt_all > 0)
    mean_k = np.divide(sum_k, cnt_k, out=np.zeros((n, 3)), where=cnt_k > 0)
    imitation = np.where(cnt_k > 0, mean_k - mean_all, 0.0)
    hubs = model.ptces()
    own = own_hub_positions(ids, hub_table(model, hubs))
    hub_rigidity = np.append(hub_rigidities(hubs, model.config.cooperation), 0.0)  # once per hub, not per member; [-1]: none
    rigidity = hub_rigidity[own]
    mission_loss = np.column_stack([np.zeros(n), np.ones(n), rigidity])
    governance = cols["governance"][rows]
    util = mech.strategy_utilities(strategy_payoffs(model, orgs, sheet, rows, own), mission_loss, imitation, strat,
                                   sp.weight_payoff, sp.weight_mission, governance, sp.weight_imitation, sp.switching_cost)
    shares = mech.logit_shares(util, sp.temperature)
    # Inverse CDF of each organisation's own uniform draw (searchsorted, side right).
    pick = np.minimum((np.cumsum(shares, axis=1) <= draws[:, None]).sum(axis=1), 2)
    # Simultaneous revision: everybody chose above on last year's states.
    changed = pick != strat
    for o, k in zip(compress(orgs, changed.tolist()), pick[changed].tolist(), strict=True):
        o.strategy = STRATEGIES[k]  # the others keep theirs
    # Members who no longer cooperate leave their hub (STRATEGIES[2] == "cooperate").
    leave_hubs(model, [orgs[i] for i in np.flatnonzero((pick != 2) & (own >= 0)).tolist()])
