"""TerritoryModel: ESS organisations on a territory under a coordination regime (Mesa 3.5).

``step`` reads as the schedule of a quarter: an ordered list of named calls.  The maths
lives in :mod:`simulation.mechanisms`; the money channels in :mod:`simulation.regimes`.
"""

from __future__ import annotations

import math
from itertools import compress
from operator import attrgetter

import mesa
import networkx as nx
import numpy as np
import pandas as pd

from . import cooperation as coop
from . import mechanisms as mech
from .metrics import METRICS, MetricsCollector
from .network import CooperationNetwork
from .organisations import (
    ConventionalFirm,
    Organisation,
    Provider,
    adjust_workforce_rows,
    capacity_rows,
    cost_sheet,
    rows_of,
    settle_rows,
    update_practices_rows,
)
from .params import GROUPS, SECTORS, Scenario
from .regimes import HoursById, make_regime
from .shocks import context_from_model, shock_path
from .state import LEDGER_COLUMNS, ProviderState, Roster, running_total
from .territory import build_territory

LEGAL_FORMS: dict[str, tuple[float, float]] = {
    # form: (share of non-IAE organisations, democratic governance level it sustains)
    # Shares after FACTS.md [ess-size-2013] employment by family (associations 78 %,
    # cooperatives 13 %, mutuals 5 %, foundations 3 %); governance levels: assumption.
    "association": (0.78, 0.7),
    "cooperative": (0.13, 0.8),
    "mutual": (0.05, 0.5),
    "foundation": (0.04, 0.4),
}
IAE_GOVERNANCE = 0.6  # assumption: governance of a work-integration structure

UNMET_ROUNDING_HOURS = 1e-6
"""Unmet hours of a (municipality, sector) below this (3.6 ms of service) are rounding
leftovers of the allocation, counted as met (TerritoryModel.allocate_demand)."""

STREAMS = ("initialisation", "dynamics", "shocks")
"""Named random streams of a run, spawned from its seed in this order (SeedSequence)."""


def run_streams(seed: int | np.random.SeedSequence) -> dict[str, np.random.Generator]:
    """Split a run's seed into independent named streams (numpy SeedSequence.spawn).

    The shock stream does not depend on the regime or the policy, so every regime meets
    the same shocks (common random numbers).
    """
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, ss.spawn(len(STREAMS)), strict=True)}


class TerritoryModel(mesa.Model):
    """One territory for one run.

    ``TerritoryModel(scenario, rng=seed)``: ``scenario`` from :func:`simulation.load_scenario`
    (defaults if None), ``rng`` an integer seed or a ``numpy.random.SeedSequence`` (the
    scenario's ``seed`` if None).  Mesa's own ``random``/``rng`` are seeded from it but
    the model draws only from its named streams.
    """

    def __init__(self, scenario: Scenario | None = None, rng: int | np.random.SeedSequence | None = None) -> None:
        config = scenario if scenario is not None else Scenario()
        seed = config.seed if rng is None else rng
        mesa_seed = int(seed.generate_state(1)[0]) if isinstance(seed, np.random.SeedSequence) else int(seed)
        super().__init__(rng=mesa_seed)
        self.config = config
        self.seed = seed
        streams = run_streams(seed)
        self.init_rng = streams["initialisation"]
        self.dyn_rng = streams["dynamics"]
        self.territory = build_territory(config.territory, config.demand, self.init_rng)
        self.paying_share = np.array([config.demand.paying_share[g] for g in GROUPS])
        self.provider_state = ProviderState()  # the providers' numeric state, one column per attribute
        self.provider_by_id: dict[int, Provider] = {}
        self.roster = Roster()  # provider_by_id's rows and ids as arrays, in its order
        self._rows: tuple[np.ndarray, ...] | None = None  # cache of provider_rows, organisation_rows, provider_ids, provider_is_ess, row_by_id, organisation_ids
        self.ess_by_id: dict[int, Organisation] = {}  # the ESS organisations of provider_by_id, same order
        self.agent_by_id: dict[int, Provider] = {}  # providers and local employers
        self.merger_log: list[dict[str, int]] = []  # who absorbed whom, when
        self.cooperation = CooperationNetwork()  # a networkx Graph whose ties live in arrays
        self.quarter_stats: dict[str, float] = {}
        # Public money paid since the start, by kind (EUR): where each regime's money went.
        self.public_money_eur = {"subsidies": 0.0, "public_orders": 0.0}
        self.supply_shocked = False  # some provider's supply_cost_multiplier is not 1 (apply_supply_costs)
        self.allocation_workspace = mech.Workspace()  # allocate_demand's buffers, this model's own
        self.closed: list[dict[str, object]] = []  # providers that left the model, with the step (Kaplan-Meier survival)
        self.create_agents()
        # The shock path is drawn up front, after the agents (an employer closure picks among
        # the initial local employers) and before any regime or strategy code runs.
        self.shocks = shock_path(config.shocks, config.steps, streams["shocks"], context_from_model(self))
        self.scale_needs()
        self.base_budget_eur = config.funding.public_budget_share_of_costs * sum(
            o.quarterly_costs_eur(config.organisation) for o in self.organisations()
        )
        self.regime = make_regime(config.regime)
        self.regime.initialize(self)
        if config.strategy.policy != "endogenous":
            coop.choose_strategies(self)  # a forced policy holds from the first quarter
        self.datacollector = MetricsCollector()  # a mesa.DataCollector of METRICS (metrics.py)
        self.metric_cache: dict[str, object] | None = None  # open only while the metrics are collected

    # ----------------------------------------------------------------- set-up
    def create_agents(self) -> None:
        """Organisations with sizes from FACTS.md [assoc-size-dist], firms, initial ties."""
        tp, op = self.config.territory, self.config.organisation
        rng = self.init_rng
        m_weights = self.territory.population / self.territory.population.sum()
        s_weights = self.territory.need_profile.sum(axis=(0, 1))
        s_weights = s_weights / s_weights.sum()
        # The published thresholds count people: 10 and 50 employees are 10 / h and 50 / h FTE.
        mu, sigma = mech.lognormal_from_quantiles(tp.share_below_10_employees, 10.0 / tp.headcount_per_fte,
                                                  tp.share_above_50_employees, 50.0 / tp.headcount_per_fte)
        forms = list(LEGAL_FORMS)
        form_p = np.array([LEGAL_FORMS[f][0] for f in forms])
        for _ in range(tp.organisations):
            staff = float(np.clip(rng.lognormal(mu, sigma), tp.min_employees_fte, tp.max_employees_fte))
            iae = rng.random() < tp.insertion_enterprise_share
            form = "insertion" if iae else forms[int(rng.choice(len(forms), p=form_p))]
            gov0 = IAE_GOVERNANCE if iae else LEGAL_FORMS[form][1]
            tau0 = staff / (staff + op.size_technicisation_fte)
            gov = gov0 * (1 - op.technicisation_governance_erosion * tau0)
            vol = gov * (1 - tau0) * (op.volunteer_ratio * staff + op.volunteer_base_fte)
            org = Organisation(
                self, sector=int(rng.choice(len(SECTORS), p=s_weights)),
                municipality=int(rng.choice(len(m_weights), p=m_weights)),
                staff_fte=staff, insertion_share=tp.insertion_share_of_staff_iae if iae else 0.0,
                volunteers_fte=vol, technicisation=tau0, governance=gov, legal_form=form,
            )
            org.governance_base = gov0
            org.treasury_eur = op.initial_treasury_quarters * org.quarterly_costs_eur(op)
            self.register(org)
        for _ in range(tp.service_firms):
            staff = float(np.clip(rng.lognormal(math.log(20.0), 0.8), 1.0, tp.max_employees_fte))
            firm = ConventionalFirm(
                self, sector=int(rng.choice(len(SECTORS), p=s_weights)),
                municipality=int(rng.choice(len(m_weights), p=m_weights)),
                staff_fte=staff, technicisation=0.8, governance=0.0, legal_form="firm",
            )
            firm.treasury_eur = 2 * firm.quarterly_costs_eur(op)
            self.register(firm)
        for _ in range(tp.local_employers):
            staff = float(rng.exponential(tp.local_employer_mean_fte)) if tp.local_employer_mean_fte > 0 else 0.0
            firm = ConventionalFirm(
                self, sector=-1, municipality=int(rng.choice(len(m_weights), p=m_weights)),
                staff_fte=staff, technicisation=0.8, governance=0.0, legal_form="firm",
            )
            self.register(firm)
        self.initial_ties()

    def register(self, agent: Provider) -> None:
        uid = agent.unique_id
        self.cooperation.add_node(uid)
        self.agent_by_id[uid] = agent
        if agent.sector >= 0:
            self.provider_by_id[uid] = agent
            self.roster.add(agent._row, uid)
            self._rows = None  # providers changed: provider_rows() recomputes
            if agent.is_ess:
                self.ess_by_id[uid] = agent

    def register_many(self, agents: list[Provider], uids: list[int] | None = None, rows: np.ndarray | None = None) -> None:
        """register of each of ``agents`` in order (new agents, never registered: entrants,
        Provider.create_many), the network's nodes, the dicts and the roster written at once
        and the cached rows dropped once.  ``uids``, ``rows``: theirs, if known."""
        if not agents:
            return
        if uids is None:
            uids = [a.unique_id for a in agents]
        if rows is None:
            rows = rows_of(agents)
        self.cooperation.add_new_nodes(uids)
        self.agent_by_id.update(zip(uids, agents, strict=True))
        cols = self.provider_state.cols
        provider = cols["sector"][rows] >= 0
        if not provider.all():  # local employers are agents, not providers
            keep = provider.tolist()
            uids, agents, rows = list(compress(uids, keep)), list(compress(agents, keep)), rows[provider]
            if not uids:
                return
        self.provider_by_id.update(zip(uids, agents, strict=True))
        self.roster.add_many(rows.tolist(), uids)
        self._rows = None  # providers changed: provider_rows() recomputes
        ess = cols["ess"][rows] == 1
        self.ess_by_id.update(zip(uids, agents, strict=True) if ess.all() else compress(zip(uids, agents, strict=True), ess.tolist()))

    def initial_ties(self) -> None:
        """Each organisation draws Poisson(k) ties to other organisations, partners chosen
        with probability proportional to exp(-d / d0) (proximity); trust ~ U(0.1, 0.6)."""
        k = self.config.territory.initial_ties_per_organisation
        orgs = self.organisations()
        if len(orgs) < 2 or k <= 0:
            return
        munis = np.array([o.municipality for o in orgs])
        # Proximity between municipalities (M x M), read row by row: an (n x n) matrix of
        # organisations would take n^2 memory (800 MB at 10,000 organisations).
        prox_m = mech.proximity_index(self.territory.distance_km, self.config.demand.distance_decay_km)
        for i, o in enumerate(orgs):
            n = min(int(self.init_rng.poisson(k / 2)), len(orgs) - 1)  # each tie has two ends
            if n == 0:
                continue
            w = prox_m[munis[i], munis]
            w[i] = 0.0
            for j in self.init_rng.choice(len(orgs), size=n, replace=False, p=w / w.sum()):
                self.cooperation.add_edge(o.unique_id, orgs[int(j)].unique_id, trust=float(self.init_rng.uniform(0.1, 0.6)), kind="initial")

    def scale_needs(self) -> None:
        """Scale the need profile so initial capacity covers `initial_need_coverage` of it."""
        op = self.config.organisation
        capacity = sum(p.capacity_hours(op) for p in self.providers())
        total = self.territory.need_profile.sum()
        self.need_scale = capacity / (self.config.territory.initial_need_coverage * total) if total > 0 else 0.0

    # ----------------------------------------------------------------- queries
    @property
    def quarter(self) -> int:
        """Index of the quarter being simulated (0 for the first step)."""
        return self.steps - 1

    def organisations(self) -> list[Organisation]:
        return list(self.ess_by_id.values())

    def providers(self, sector: int | None = None) -> list[Provider]:
        """Live providers in id order, those of ``sector`` only if given."""
        if sector is None:
            return list(self.provider_by_id.values())
        in_sector = self.provider_state.cols["sector"][self.provider_rows()] == sector
        return list(compress(self.provider_by_id.values(), in_sector.tolist()))

    def provider_rows(self) -> np.ndarray:
        """Rows of ``providers()`` in ``provider_state``, in the same order (creation order:
        each agent is registered as soon as it is made).  Cached until a provider is
        registered or removed."""
        return self._row_cache()[0]

    def organisation_rows(self) -> np.ndarray:
        """Rows of ``organisations()`` (the ESS organisations) in ``provider_state``, in order."""
        return self._row_cache()[1]

    def provider_ids(self) -> np.ndarray:
        """unique_id of ``providers()``, in the same order (cached as provider_rows)."""
        return self._row_cache()[2]

    def organisation_ids(self) -> np.ndarray:
        """unique_id of ``organisations()`` (the ESS organisations), in order (cached as provider_rows)."""
        return self._row_cache()[5]

    def row_by_id(self) -> np.ndarray:
        """Row in ``provider_state`` of each provider, indexed by unique_id (-1 for other ids; cached)."""
        return self._row_cache()[4]

    def provider_is_ess(self) -> np.ndarray:
        """Whether each of ``providers()`` is an ESS organisation, in the same order (cached)."""
        return self._row_cache()[3]

    def _row_cache(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if self._rows is None:  # the roster keeps provider_by_id's order (register, remove_provider)
            rows, ids = self.roster.arrays()
            ess = self.provider_state.cols["ess"][rows] == 1
            by_id = np.full(int(ids.max()) + 1 if len(ids) else 0, -1, dtype=np.int64)
            by_id[ids] = rows
            self._rows = (rows, rows[ess], ids, ess, by_id, ids[ess])
            for cached in self._rows:  # shared by every caller until the providers change: read-only
                cached.flags.writeable = False
        return self._rows

    def firms(self) -> list[ConventionalFirm]:
        return list(self.agents_by_type.get(ConventionalFirm, []))

    def ptces(self) -> list[coop.Ptce]:
        """Live PTCEs, in order of foundation."""
        return sorted(self.agents_by_type.get(coop.Ptce, []), key=lambda p: p.unique_id)

    def lots(self) -> list[tuple[int, int]]:
        return [(s, m) for s in range(len(SECTORS)) for m in range(self.territory.municipalities)]

    def needs_hours(self) -> np.ndarray:
        """Need of this quarter (M, G, S) in hours: profile x scale x trend x shocks."""
        trend = (1 + self.config.demand.need_growth_per_quarter) ** self.quarter
        return self.territory.need_profile * self.need_scale * trend * self.shocks.needs(self.quarter)

    def public_hours_by_lot(self) -> dict[tuple[int, int], float]:
        pub = self.public_need.sum(axis=1)  # (M, S)
        return {(s, m): float(pub[m, s]) for s, m in self.lots()}

    # ----------------------------------------------------------------- the quarter
    def step(self) -> None:
        self.open_quarter()
        self.fund_public_services()
        self.set_prices()
        self.allocate_demand()
        self.pay_for_service()
        self.collect_gifts()
        self.pay_insertion_aid()
        self.book_ptce_costs()
        self.settle_accounts()
        self.pool_treasuries()
        self.update_personalisation()
        self.adjust_workforce()
        self.update_practices()
        self.update_cooperation()
        if self.quarter % 4 == 3:  # yearly, at the end of the year
            coop.choose_strategies(self)
            coop.concentrate(self)
        coop.cooperate(self)
        coop.restore_hubs_legality(self, self.ptces())  # members who left for another strategy or were absorbed
        self.close_insolvent()
        self.enter_new_organisations()
        self.datacollector.collect(self)  # metrics.collect_row: values several metrics read gathered once

    def run(self, steps: int | None = None) -> TerritoryModel:
        for _ in range(self.config.steps if steps is None else steps):
            self.step()
        return self

    def open_quarter(self) -> None:
        # Provider.open_quarter for every provider at once: an empty ledger, no transfers, no norm.
        cols, rows = self.provider_state.cols, self.provider_rows()
        for name in LEDGER_COLUMNS + ("transfers_eur", "norm_level"):
            cols[name][rows] = 0.0
        need = self.needs_hours()
        self.need = need
        self.public_need = need * (1 - self.paying_share)[None, :, None]
        self.private_need = need * self.paying_share[None, :, None]
        self.budget_eur = self.base_budget_eur * self.shocks.budget(self.quarter)
        self.apply_market_demand_shock()
        self.apply_employer_closures()
        self.apply_supply_costs()
        self.quarter_stats = {"entries": 0, "exits": 0, "mergers": 0, "public_spend_eur": 0.0, "insertion_aid_eur": 0.0, "outside_funding_eur": 0.0}
        # Ptce.open_quarter of every hub at once: the members' state read in one pass, each
        # hub's forms, then what the forms give the members written column by column.
        hubs = self.ptces()
        ess = [hub.ess_members() for hub in hubs]
        flat = [m for members in ess for m in members]
        cols, rows = self.provider_state.cols, rows_of(flat)
        capacity = capacity_rows(cols, rows, self.config.organisation).tolist()  # element-wise: as hub by hub
        sectors, insertion = cols["sector"][rows].tolist(), (cols["insertion_share"][rows] > 0).tolist()
        sizes = [len(members) for members in ess]
        effects = []
        start = 0
        # Supply links (Ptce.set_forms) are marked only for the members new to a hub and the
        # ties made or re-kinded since the last quarter's marking: the others' are marked.
        for hub, members, n in zip(hubs, ess, sizes, strict=True):
            hub.set_forms(members, capacity[start:start + n], sectors[start:start + n], any(insertion[start:start + n]), True)
            effects.append(hub.member_effects())
            start += n
        self.mark_new_supply_ties(hubs, flat, rows, sizes)
        if effects:  # a row per member, a column per effect: one repeat for all the columns
            names = list(effects[0])
            table = np.repeat(np.array([[e[name] for name in names] for e in effects]), sizes, axis=0)
            for name, values in zip(names, table.T, strict=True):
                cols[name][rows] = values

    def mark_new_supply_ties(self, hubs: list[coop.Ptce], members: list[Provider], rows: np.ndarray, sizes: list[int]) -> None:
        """The ties made or re-kinded since the last marking (CooperationNetwork.changed_since_mark)
        between two ESS members of one sector of a hub with a supply chain become supply
        links, as Ptce.set_forms marks them (``members``: the hubs' ESS members, hub after hub,
        ``sizes`` of them each, ``rows`` their rows); then the network's mark is reset."""
        net = self.cooperation
        u, v, slots = net.changed_since_mark()
        supply = np.array(["supply_chain" in hub.forms for hub in hubs], dtype=bool)
        if len(slots) and supply.any():
            hub_pos = np.repeat(np.arange(len(hubs)), sizes)
            cols = self.provider_state.cols
            ids = np.fromiter(map(attrgetter("unique_id"), members), np.int64, len(members))
            in_supply = supply[hub_pos]
            # (hub, sector) of each member of a supply-chain hub, by node id; -1 for the others.
            group = hub_pos * (int(cols["sector"][rows].max(initial=0)) + 1) + cols["sector"][rows]
            top = max(int(u.max()), int(v.max()), int(ids.max(initial=-1))) + 1
            group_of = np.full(top, -1, dtype=np.int64)
            group_of[ids[in_supply]] = group[in_supply]
            gu = group_of[u]
            net.set_kind_of_slots(slots[(gu >= 0) & (gu == group_of[v]) & (u != v)], "supply")
        net.set_mark()

    def apply_market_demand_shock(self) -> None:
        """employer_closure: paying demand falls in the closing employer's municipality
        (ShockPath.market); need then counts the hours still demanded."""
        market = self.shocks.market(self.quarter)
        if np.all(market == 1.0):
            return
        self.private_need = self.private_need * market[:, None, None]
        self.need = self.public_need + self.private_need

    def apply_employer_closures(self) -> None:
        """employer_closure: the closing local employer's staff follows its path
        (ShockPath.employer_staff_fte): its jobs are lost from the closure quarter on."""
        if not self.shocks.closures:
            return
        firms = {f.unique_id: f for f in self.firms()}
        for c in self.shocks.closures:
            if c.employer_id in firms:
                firms[c.employer_id].staff_fte = self.shocks.employer_staff(c.employer_id, self.quarter)

    def apply_supply_costs(self) -> None:
        """supply_disruption: each provider's outside suppliers' price multiplier this quarter
        (ShockPath.supply_cost, by sector), read by Provider.supply_surcharge_eur."""
        m = self.shocks.supply_cost(self.quarter)
        if np.all(m == 1.0) and not self.supply_shocked:
            return  # every multiplier already 1 (entrants start at 1)
        self.supply_shocked = bool(np.any(m != 1.0))
        cols, rows = self.provider_state.cols, self.provider_rows()
        cols["supply_cost_multiplier"][rows] = m[cols["sector"][rows]]

    def fund_public_services(self) -> None:
        """PTCE animation first (the regime's funded share of each hub's coordination
        cost, within the budget), then the regime's envelopes share what is left."""
        share = self.regime.params.animation_funded_share
        costs = {hub.unique_id: share * hub.coordination_cost_eur() for hub in self.ptces()}
        total = sum(costs.values())
        scale = min(1.0, self.budget_eur / total) if total > 0 else 0.0
        self.animation_funded_eur = {uid: c * scale for uid, c in costs.items()}
        animation = total * scale
        spent = self.regime.fund(self, self.budget_eur - animation) + animation
        self.quarter_stats["public_spend_eur"] += spent
        self.public_money_eur["subsidies"] += spent

    def set_prices(self) -> None:
        """Price per hour of each provider to paying beneficiaries,

            p = max(0, c (1 + m) - d) (1 + s)

        c the unit cost, m the ESS margin or a firm's markup (Provider.margin), d the
        non-profit discount: an ESS organisation's gifts and insertion aid per hour of its
        capacity (Provider.fee_discount_eur; 0 for a firm), s the solidarity surcharge paid
        by paying beneficiaries to fund free hours.  Bids in calls for tender stay at
        c (1 + m) (Provider.bid_price): gifts and insertion aid are not spent on public contracts.

        The quarter's cost sheet (organisations.cost_sheet, all providers at once, in the
        order of ``providers()``, rows ``self.cost_rows``) is kept in ``self.costs``:
        capacity and costs do not change from here to settle_accounts (staff,
        volunteers, productivity and PTCE pooling move after the accounts are settled).
        """
        op = self.config.organisation
        provs = self.providers()
        n = len(provs)
        cols, rows = self.provider_state.cols, self.provider_rows()
        self.costs = cost_sheet(provs, op, rows)
        self.cost_rows = rows  # the cached provider_rows(): the same object while no provider enters or leaves
        c = self.costs["unit_cost_eur"]
        # Provider.margin and Provider.fee_discount_eur over arrays (tests/test_vectorised.py):
        # an ESS organisation's margin and pass-through of gifts and aid, a firm's markup and none.
        ess = self.provider_is_ess()
        margin = np.where(ess, op.price_margin, op.firm_markup)
        surcharge = cols["solidarity_surcharge"][rows]
        price = c * (1 + margin)
        if op.gift_pass_through > 0:
            aid = self.config.funding.insertion_aid_eur_per_fte_quarter
            capacity = self.costs["capacity_hours"]
            # An organisation's gifts and aid, r_g V + r_a I, I = S i its insertion FTE (0 for a firm).
            own_eur = op.gifts_eur_per_volunteer_fte_quarter * cols["volunteers_fte"][rows] + aid * (cols["staff_fte"][rows] * cols["insertion_share"][rows])
            discount = np.divide(op.gift_pass_through * own_eur, capacity, out=np.zeros(n), where=ess & (capacity > 0))
            price = np.maximum(price - discount, 0.0)
        cols["price_eur_per_hour"][rows] = price * (1 + surcharge)

    def allocate_demand(self) -> None:
        """Beneficiaries to providers, sector by sector (DESIGN.md 3.4).

        1. Public hours of a lot under contract go to the holder, up to the hours the
           lot's envelope pays for and the holder's capacity.
        2. Remaining public hours (free at the point of use) choose among ESS providers
           the regime lets serve them, by proximity and personalisation (logit); each
           offers only the hours its public funding pays for (regime.funded_public_hours).
        3. Private hours choose among all providers by proximity, personalisation and
           price; excess demand flows to the next choice, then stays unmet.

        Each sector is its own market; all are computed at once over the providers grouped
        by sector (mechanisms.allocate_demand_markets, bit for bit the sector-by-sector
        mechanisms.allocate_demand).
        """
        dp = self.config.demand
        m_count, g_count, s_count = self.territory.municipalities, len(GROUPS), len(SECTORS)
        cells = m_count * g_count  # demand cells: municipality-major
        routes = self.regime.contract_routes(self)
        self.contract_hours: dict[tuple[int, int], float] = {}
        self.public_hours_served: dict[int, float] = {}
        self.unmet = np.zeros((m_count, s_count))
        public = self.public_need.transpose(2, 0, 1).reshape(s_count, cells).copy()  # (sectors, cells)
        private = self.private_need.transpose(2, 0, 1).reshape(s_count, cells)
        # Providers grouped by sector, in the order of providers(sector): one read of their state.
        cols, all_rows = self.provider_state.cols, self.provider_rows()
        assert all_rows is self.cost_rows, "allocate_demand after a change of providers since set_prices"
        sector = cols["sector"][all_rows]
        # Stable, so the same order whatever the key's type; numpy sorts 8-bit keys by radix (twice as fast).
        order = np.argsort(sector.astype(np.uint8) if s_count <= 256 else sector, kind="stable")
        counts = np.bincount(sector, minlength=s_count)
        bounds = np.zeros(s_count + 1, dtype=np.int64)
        np.cumsum(counts, out=bounds[1:])
        for s in np.flatnonzero(counts == 0).tolist():
            self.unmet[:, s] = (public[s] + private[s]).reshape(m_count, g_count).sum(axis=1)
        markets = np.flatnonzero(counts > 0)
        if len(markets) == 0:
            self.flow_providers, self.flow_rows, self.flow_matrix = [], np.zeros(0, dtype=np.int64), np.zeros((0, cells))
            return
        n = len(order)
        ids = self.provider_ids()[order]
        cap = self.costs["capacity_hours"][order]  # the cost sheet is in providers() order
        unit_cost = self.costs["unit_cost_eur"][order]
        state_rows = all_rows[order]  # the providers' rows in provider_state, by sector
        munis, pers, joint_sales, solidarity_hours, price, rate = (cols[name][state_rows] for name in (
            "municipality", "personalisation", "joint_sales_bonus", "solidarity_hours", "price_eur_per_hour", "solidarity_surcharge"))
        spare = cap.copy()
        asked = np.zeros(n)
        if routes:
            contract_flows = np.zeros((cells, n))
            self._serve_contracts(routes, ids, public, spare, contract_flows, asked)
        # Proximity exp(-d / d0) of each municipality to each provider (the same for every group).
        # (np.take along the columns: one contiguous copy, where [:, munis] gives a strided one to copy again)
        prox = np.take(mech.proximity_index(self.territory.distance_km, dp.distance_decay_km), munis, axis=1)
        base_u = dp.weight_proximity * prox + dp.weight_personalisation * pers[None, :]
        eligible = self.regime.accredited_rows(cols, state_rows, self.quarter)
        funded = self.regime.funded_public_hours_rows(self, state_rows, ids, unit_cost, eligible) + solidarity_hours
        offer = np.minimum(spare, funded)
        # Market k of the mechanism is the k-th sector that has providers.
        mb = bounds[np.concatenate((markets, [s_count]))] if len(markets) < s_count else bounds
        # Shared by the two allocations; their flows and work arrays in buffers kept from
        # quarter to quarter (mechanisms.Workspace: warm in the cache), read only in this method.
        layout = mech.MarketLayout(mb, cap, dp.size_attraction, self.allocation_workspace)
        f_pub, u_pub, a_pub = mech.allocate_demand_markets(public[markets], base_u, offer, dp.choice_temperature, mb, eligible,
                                                           dp.rationing_rounds, cap, dp.size_attraction, layout, "public_flows")
        a_pub = np.minimum(a_pub, funded)
        pub_served = layout.column_sums(f_pub)
        spare = np.maximum(spare - pub_served, 0.0)
        u_priv = base_u - dp.weight_price * price[None, :] + joint_sales[None, :]
        f_priv, u_priv_left, a_priv = mech.allocate_demand_markets(private[markets], u_priv, spare, dp.choice_temperature, mb, None,
                                                                   dp.rationing_rounds, cap, dp.size_attraction, layout, "private_flows")
        f_pub += f_priv
        flows = contract_flows + f_pub if routes else f_pub  # hours served to each cell by each provider
        asked += a_pub + a_priv
        unmet = (u_pub + u_priv_left).reshape(len(markets), m_count, g_count).sum(axis=2).T
        # Rounding leftovers of the rationing rounds' subtractions (+-1e-13 h; negative ones
        # too, which were clipped at 0 before) count as met: a leftover of 8.9e-16 h made
        # enter_new_organisations draw Poisson(lambda > 0) where an exact 0 draws nothing,
        # and shifted every later random draw of the run (the last bit of a sum decided it).
        self.unmet[:, markets] = np.where(unmet > UNMET_ROUNDING_HOURS, unmet, 0.0)
        priv_served = layout.column_sums(f_priv)
        served = layout.column_sums(flows)
        # Hours x proximity written over f_priv, no longer read: a fresh array of this size
        # (some 270 KB) would be page-faulted in each quarter (issue 9).
        near_hours = f_priv if f_priv.flags.c_contiguous else np.empty((cells, n))
        np.multiply(flows.reshape(m_count, g_count, n), prox[:, None, :], out=near_hours.reshape(m_count, g_count, n))
        near = layout.column_sums(near_hours)
        prox_now = np.where(served > 0, near / np.where(served > 0, served, 1.0), 1.0)
        sales = price * priv_served
        surcharge = sales * rate / (1 + rate)  # the share of sales that funds free hours
        self.public_hours_served = HoursById(ids, pub_served, state_rows)  # by sector, as the allocation
        # Hours each provider served to each demand cell (municipality x group, in
        # municipality-major order) this quarter: a row per provider of flow_providers, in
        # providers() order (row i of flows.T[inverse] is provider i's column of flows).  The
        # last quarter's list is let go only here, after the new one: each provider it holds
        # is then warm in the cache (letting it go first touched a thousand cold objects, 20 us).
        inverse = np.empty(n, dtype=np.int64)
        inverse[order] = np.arange(n)
        self.flow_providers, self.flow_rows, self.flow_matrix = self.providers(), all_rows, flows.T[inverse]
        for name, values in (("asked_hours", asked), ("served_hours", served), ("capacity_now", cap),
                             ("surcharge_eur", surcharge), ("proximity_now", prox_now)):
            cols[name][state_rows] = values
        cols["ledger_sales_eur"][state_rows] += sales

    def _serve_contracts(self, routes, ids: np.ndarray, public: np.ndarray, spare: np.ndarray,
                         flows: np.ndarray, asked: np.ndarray) -> None:
        """Step 1 of allocate_demand: each lot's public hours under contract go to its holder,
        h = min(D_lot, H_paid, spare), shared over the lot's cells pro rata to their need.
        ``ids``: the unique_id of the providers in the order of the columns of ``flows``;
        ``public`` (sectors, cells), ``spare``, ``flows`` (cells, providers) and ``asked`` are
        updated in place; lots are served sector by sector, in the order of ``routes``."""
        g_count = len(GROUPS)
        column = dict(zip(ids.tolist(), range(len(ids)), strict=True))  # a provider's column of flows
        by_sector = sorted(routes, key=lambda route: route[0][0])  # stable: routes' order within a sector
        served = []  # (sector, municipality, provider column, hours, lot demand)
        for lot, holder, paid_hours in by_sector:
            s, m = lot
            j = column[holder.unique_id]
            lot_demand = public[s, m * g_count:(m + 1) * g_count].sum()
            # numpy scalars as before: contract_hours' values keep their type (a Python sum()
            # of floats is compensated, of numpy floats not).
            hours = min(lot_demand, paid_hours, spare[j])
            asked[j] += min(lot_demand, paid_hours)
            if hours <= 0:
                continue
            spare[j] -= hours
            self.contract_hours[lot] = hours
            served.append((s, m, j, hours, lot_demand))
        if not served:
            return
        s_idx, m_idx, j_idx, hours, lot_demand = (np.array(c) for c in zip(*served, strict=True))
        cell = m_idx[:, None] * g_count + np.arange(g_count)[None, :]  # (lots, groups)
        part = public[s_idx[:, None], cell] * hours[:, None] / lot_demand[:, None]
        flows[cell, j_idx[:, None]] += part
        public[s_idx[:, None], cell] -= part

    def pay_for_service(self) -> None:
        spent = self.regime.pay_for_service(self, self.public_hours_served, self.contract_hours)
        self.quarter_stats["public_spend_eur"] += spent
        self.public_money_eur["public_orders"] += spent

    def collect_gifts(self) -> None:
        """Gifts r_g V of each ESS organisation, V its volunteers (FTE)."""
        cols, rows = self.provider_state.cols, self.organisation_rows()
        cols["ledger_gifts_eur"][rows] += self.config.organisation.gifts_eur_per_volunteer_fte_quarter * cols["volunteers_fte"][rows]

    def pay_insertion_aid(self) -> None:
        """The State's aid per insertion post, a subsidy outside the territorial budget."""
        cols, rows = self.provider_state.cols, self.organisation_rows()
        aid = self.config.funding.insertion_aid_eur_per_fte_quarter * (cols["staff_fte"][rows] * cols["insertion_share"][rows])  # r_a S i
        cols["ledger_subsidy_eur"][rows] += aid
        # Added one by one, in order, as the accounts of each organisation are.
        self.quarter_stats["insertion_aid_eur"] = running_total(aid, self.quarter_stats["insertion_aid_eur"])
        self.public_money_eur["subsidies"] = running_total(aid, self.public_money_eur["subsidies"])

    def book_ptce_costs(self) -> None:
        """Each PTCE books its coordination cost on its ESS members, with the public share
        funded this quarter and a development agency's outside funding."""
        # Ptce.book_costs_and_outside_funding of every hub, over their members at once.
        for outside_eur in coop.book_ptce_costs(self, self.ptces(), self.animation_funded_eur):
            self.quarter_stats["outside_funding_eur"] += outside_eur

    def settle_accounts(self) -> None:
        """Book each provider's costs (Provider.book_costs, from the quarter's cost sheet)
        and move its treasury by revenue - costs (Provider.settle), all at once
        (organisations.settle_rows); then the free hours next quarter paid by this quarter's
        solidarity surcharge, h = R / c (c the unit cost)."""
        cols, rows = self.provider_state.cols, self.provider_rows()
        # The cost sheet's lines are the providers' of set_prices: none enters or leaves in between.
        assert rows is self.cost_rows, "settle_accounts after a change of providers since set_prices"
        settle_rows(cols, rows, self.config.organisation, self.costs["fixed_cost_eur"], self.costs["supply_surcharge_eur"])
        c = self.costs["unit_cost_eur"]
        with np.errstate(divide="ignore", invalid="ignore"):
            cols["solidarity_hours"][rows] = np.where((cols["solidarity_surcharge"][rows] > 0) & (c > 0), cols["surcharge_eur"][rows] / c, 0.0)
        cols["surcharge_eur"][rows] = 0.0

    def pool_treasuries(self) -> None:
        self.provider_state.cols["carried_eur"][self.provider_rows()] = 0.0
        coop.pool_treasuries(self, self.ptces())  # Ptce.pool_treasury of every hub, over their members at once

    def update_cooperation(self) -> None:
        """Trust and spillovers on the network, then each PTCE's formalisation, depth and
        rigidity exits; a PTCE that no longer meets the law's composition recruits a firm
        or dissolves."""
        hubs = self.ptces()
        # The hubs' members (by node, ids, rows) read once for both passes (the model's
        # cooperation.HubTable): update_network changes no membership.
        trust = coop.update_network(self, hubs)  # and the mean trust between each hub's members
        # Every hub's update (Ptce.update), then the legality checks: no hub's update or
        # legality check changes the ties or the members of another hub (a recruited firm
        # is in no PTCE), and the checks draw no random numbers.
        coop.update_hubs(self, hubs, trust)
        coop.restore_hubs_legality(self, hubs)

    def update_personalisation(self) -> None:
        """Personalisation of each provider's relations this quarter (mechanisms.personalisation),
        over arrays of all providers that served someone:

            P = (w_t T + w_c C + w_s (1 - tau) + w_p X + w_v V) / sum w
            T = min(1, K / A)  (1 if nothing asked), K capacity, A hours asked
            C = sum_c min(h_c, h'_c) / sum h  x  (team / max(team, staff))**eta   (1 x ... the first quarter)
            X proximity served, V = (vol / (vol + staff) + g) / 2  (mechanisms.voice)

        h_c the hours served to demand cell c this quarter, h'_c last quarter.
        """
        pp = self.config.personalisation
        weights = (pp.weight_time, pp.weight_continuity, pp.weight_standardisation, pp.weight_proximity, pp.weight_voice)
        state = self.provider_state
        cols = state.cols
        mask = cols["served_hours"][self.flow_rows] > 0
        if mask.all():  # as a rule: no copies
            rows, now = self.flow_rows, self.flow_matrix
        else:  # hours served to each demand cell, a row per serving provider
            rows, now = self.flow_rows[mask], self.flow_matrix[mask]
        # Last quarter's flows of the serving providers (Provider.prev_flows), then this
        # quarter's become theirs; every other provider's are dropped (it served nobody).
        slots = cols["prev_flow_slot"][rows]
        previous = state.prev_flows
        cols["prev_flow_slot"][self.provider_rows()] = 0
        cols["prev_flow_slot"][rows] = np.arange(1, len(rows) + 1)
        # A fresh array each quarter (allocate_demand); when it is flow_matrix itself, a row
        # written later this quarter (Provider.prev_flows, a merger) goes to a copy.
        state.prev_flows, state.prev_flows_shared = now, now is self.flow_matrix
        n = len(rows)
        if n == 0:
            return
        served, staff, capacity, asked, volunteers, governance, tech, prox = (cols[name][rows] for name in (
            "served_hours", "staff_fte", "capacity_now", "asked_hours", "volunteers_fte", "governance", "technicisation", "proximity_now"))
        has_prev = slots > 0
        overlap = np.ones(n)
        # The overlap is a share, clipped at 1: it is summed over the flows and divided by the
        # served_hours column, summed in another order, so it can come out one rounding step
        # above 1; and where a near-zero choice temperature leaves a provider subnormal hours
        # (1e-310, found by hypothesis in tests/test_model.py) the division can overflow.
        with np.errstate(over="ignore"):
            if has_prev.all():
                overlap = np.minimum(now, previous[slots - 1]).sum(axis=1) / served
            elif has_prev.any():
                overlap[has_prev] = np.minimum(now[has_prev], previous[slots[has_prev] - 1]).sum(axis=1) / served[has_prev]
        overlap = np.minimum(overlap, 1.0)
        continuity = overlap * mech.worker_continuity_all(staff, pp.team_size_fte, pp.anonymity_elasticity)
        # T = 1 where capacity / a subnormal ask overflows (capacity far above the ask).
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            time_index = np.where(asked > 0, np.minimum(1.0, capacity / np.where(asked > 0, asked, 1.0)), 1.0)
        voice = mech.voice_all(volunteers, staff, governance)
        cols["personalisation"][rows] = mech.personalisation(time_index, continuity, tech, prox, voice, weights)

    def adjust_workforce(self) -> None:
        """Hiring, lay-offs and insertion exits of every provider (Provider.adjust_workforce),
        over the providers' columns (organisations.adjust_workforce_rows)."""
        fp = self.config.funding
        adjust_workforce_rows(self.provider_state.cols, self.provider_rows(), self.config.organisation,
                              fp.insertion_exit_hazard_per_quarter, fp.insertion_exit_to_job_rate)

    def update_practices(self) -> None:
        """Technicisation, governance and volunteers of every ESS organisation
        (Organisation.update_practices; a firm's practices are fixed), over arrays."""
        update_practices_rows(self.provider_state.cols, self.organisation_rows(), self.config.organisation)

    def close_insolvent(self) -> None:
        """Providers in deficit for `exit_after_quarters` quarters in a row close, and so do
        those whose staff fell below `min_staff_fte` (dissolution)."""
        op = self.config.organisation
        cols, rows = self.provider_state.cols, self.provider_rows()
        closing = (cols["insolvent_quarters"][rows] >= op.exit_after_quarters) | (cols["staff_fte"][rows] < op.min_staff_fte)
        if not closing.any():
            return
        self.quarter_stats["exits"] += int(np.count_nonzero(self.provider_is_ess()[closing]))
        uids = self.provider_ids()[closing].tolist()
        self.remove_providers(list(map(self.provider_by_id.__getitem__, uids)), rows[closing], uids)

    def remove_provider(self, p: Provider) -> None:
        """``p`` leaves the model: its PTCE (which then restores its legality), the
        registers, the network and Mesa's agent sets; recorded in ``closed``."""
        self.remove_providers([p])

    def remove_providers(self, provs: list[Provider], rows: np.ndarray | None = None, uids: list[int] | None = None) -> None:
        """remove_provider of each of ``provs`` in turn, with the records written, and the
        registers, the network and Mesa's agents updated, at once for all.  ``rows``,
        ``uids``: theirs, if known.

        One in a PTCE leaves it, and the PTCE restores its legality (it may recruit a firm
        or dissolve), in turn, with those after it still there (alive), as in a loop of
        remove_provider (a PTCE's membership is read at each one's turn: an earlier closure
        may have dissolved it).  Those before it are marked closed but still registered
        then: restore_legality reads only live agents (its members, which the earlier
        closures have left, and the live firms: cooperation.ptce_candidates_firms), and
        what it changes (a recruit's new ties, a dissolved hub's Mesa agent) does not depend
        on whether the closed ones are still in the network and Mesa's sets, so it does what
        it did in the loop (tests/test_model.py: test_closures_at_once_as_one_by_one).  Until
        round 3 each run between two PTCE members was taken out before the next member's
        turn: 3 more passes over the network and Mesa a quarter at 1,000 organisations."""
        if not provs:
            return
        if uids is None:
            uids = [p.unique_id for p in provs]
        self._record_closures(provs, rows, uids)  # nothing restore_legality does closes a provider or changes these
        for p in provs:
            p.alive = False
            hub = p.ptce
            if hub is not None:
                hub.remove_member(p)
                coop.restore_legality(self, hub)
        self._drop(provs, uids)

    def _record_closures(self, provs: list[Provider], rows: np.ndarray | None, uids: list[int]) -> None:
        """The closing providers ``provs`` (their ``uids``, their ``rows`` if known) appended to
        ``closed``, in order: one numpy read per column."""
        cols, step = self.provider_state.cols, self.steps
        if rows is None:
            rows = rows_of(provs)
        self.closed.extend([{"id": uid, "ess": ess, "sector": sector, "municipality": muni, "founded_step": founded, "closed_step": step}
                            for uid, ess, sector, muni, founded in zip(
                                uids, (cols["ess"][rows] == 1).tolist(), cols["sector"][rows].tolist(),
                                cols["municipality"][rows].tolist(), cols["founded_step"][rows].tolist(), strict=True)])

    def _drop(self, provs: list[Provider], uids: list[int]) -> None:
        """The closed providers ``provs`` (in no PTCE, alive False, recorded in ``closed``;
        ``uids`` their ids) taken out of the registers, the network and Mesa's agent sets."""
        if not provs:
            return
        providers, ess_by_id, agents = self.provider_by_id, self.ess_by_id, self.agent_by_id
        for uid in uids:
            del providers[uid], agents[uid]
            ess_by_id.pop(uid, None)
        if len(uids) == 1:
            self.roster.remove(uids[0])
        else:
            self.roster.remove_many(uids)
        self._rows = None
        self.cooperation.remove_nodes_from(uids)
        for p in provs:
            p.remove()  # Mesa's own removal (its agent sets, signals and datasets)

    def draw_entries(self) -> tuple[np.ndarray, dict[int, coop.Ptce]]:
        """This quarter's entrants per (municipality, sector), Poisson(r U / K_new) with the
        boost of a development-agency PTCE where it sits, and those agencies by seat (the
        deepest where several share one).  Draws from the dynamics stream."""
        fp, op = self.config.funding, self.config.organisation
        lam = mech.expected_entries(self.unmet, fp.entrant_fte * op.service_hours_per_fte_quarter, fp.entry_rate)
        agencies: dict[int, coop.Ptce] = {}
        for hub in self.ptces():
            if "development_agency" in hub.forms and (hub.seat not in agencies or hub.depth > agencies[hub.seat].depth):
                agencies[hub.seat] = hub
        for m, hub in agencies.items():
            lam[m, :] *= 1 + self.config.cooperation.agency_entry_boost * hub.depth
        return self.dyn_rng.poisson(lam), agencies

    def enter_new_organisations(self) -> None:
        """New organisations emerge where needs are unmet: Poisson(r U / K_new) per
        municipality and sector (mechanisms.expected_entries).

        The quarter's entrants are made and registered together (Provider.create_many,
        register_many), then the regime is told of them (regime.on_entries), then each is
        tied to its peer (entry_peers), the ties made at once between the entrants that a
        development agency takes in (which tie to its members first, in turn)."""
        fp, op = self.config.funding, self.config.organisation
        counts, agencies = self.draw_entries()
        lots_m, lots_s = np.nonzero(counts)
        if not len(lots_m):
            return
        peers = self.entry_peers(lots_m, lots_s)
        per_lot = counts[lots_m, lots_s]
        n = int(per_lot.sum())
        munis = np.repeat(lots_m, per_lot)
        orgs = Organisation.create_many(
            self, n, sector=np.repeat(lots_s, per_lot), municipality=munis, staff_fte=fp.entrant_fte,
            volunteers_fte=op.volunteer_base_fte, treasury_eur=fp.entrant_treasury_eur,
            technicisation=0.1, governance=LEGAL_FORMS["association"][1],
        )
        uids = [org.unique_id for org in orgs]
        first = orgs[0]._row  # create_many's rows follow one another
        rows = np.arange(first, first + n)
        self.register_many(orgs, uids, rows)
        self.regime.on_entries(self, orgs, rows)
        policy = self.config.strategy.policy
        strategy = policy if policy != "endogenous" else "independent"
        for org in orgs:
            org.strategy = strategy
        peer_of = [peer for peer, k in zip(peers, per_lot.tolist(), strict=True) for _ in range(k)]
        done = 0  # entrants before this one are tied to their peers
        if agencies and policy in ("endogenous", "cooperate"):
            full: set[int] = set()  # seats of agencies that refused one: unchanged, they refuse the next too
            at_seat = np.zeros(self.territory.municipalities, dtype=bool)
            at_seat[list(agencies)] = True  # a lookup table: np.isin costs some 15 us a call here
            for i in compress(range(n), at_seat[munis].tolist()):
                seat = int(munis[i])
                org, hub = orgs[i], agencies[seat]
                org.strategy = "cooperate"
                # The agency's entrants join it by the rule every candidate follows
                # (cooperation.cooperate): not beyond the rigidity exit threshold.  Without
                # it, at 10,000 organisations an agency took in some 1,500 entrants in five
                # quarters (a PTCE of 627 members; FACTS.md [ptce-size]: about 15).  One
                # it does not admit seeks a PTCE like any cooperating organisation.
                if seat in full:
                    continue
                if not hub.admits_one_more():
                    full.add(seat)
                else:
                    self._tie_entrants(uids[done:i], peer_of[done:i])
                    hub.add_member(org)  # ties to the members before the tie to its peer, as it joins first
                    if peer_of[i] is not None:  # its peer may be a member: the tie is then made an entry tie
                        self.cooperation.add_edge(uids[i], peer_of[i], trust=0.2, kind="entry")
                    done = i + 1
        self._tie_entrants(uids[done:], peer_of[done:])
        self.quarter_stats["entries"] += n

    def _tie_entrants(self, uids: list[int], peers: list[int | None]) -> None:
        """A tie of trust 0.2 between each entrant and its peer (none if its peer is None)."""
        if None in peers:  # no established organisation at all
            pairs = [(u, v) for u, v in zip(uids, peers, strict=True) if v is not None]
            uids, peers = [u for u, _ in pairs], [v for _, v in pairs]
        self.cooperation.add_new_ties(uids, peers, trust=0.2, kind="entry")

    def entry_peers(self, lots_m: np.ndarray, lots_s: np.ndarray) -> list[int | None]:
        """For new organisations in municipalities ``lots_m`` and sectors ``lots_s``, the id of
        the nearest established ESS organisation of their sector (of any sector if none is of
        theirs; None if there is none at all): established = founded before this quarter;
        nearest by road distance, the first in ``providers()`` order among the nearest.

        Organisations in one municipality are equally near, so only the first of each
        (sector, municipality) can be chosen: for each lot, among the municipalities holding
        one, the nearest, and among equally near ones the one whose first comes first.  A
        (lots x municipalities) search, not (lots x organisations)."""
        cols = self.provider_state.cols
        if self._rows is not None:
            rows, est_ids = self.organisation_rows(), self.organisation_ids()
        else:  # the quarter's closures dropped the cached rows, and the entrants drop them again: read the roster
            rows, est_ids = self.roster.arrays()  # (what _row_cache reads, without the rest of the cache)
            ess = cols["ess"][rows] == 1
            rows, est_ids = rows[ess], est_ids[ess]
        established = cols["founded_step"][rows] < self.steps
        if not established.all():  # all are, unless organisations were made this quarter before the entrants
            rows, est_ids = rows[established], est_ids[established]
        if not len(est_ids):
            return [None] * len(lots_m)
        n_munis, none = self.territory.municipalities, len(est_ids)  # none: the position of no organisation
        first = np.full(len(SECTORS) * n_munis, none)  # [s * M + m]: position in est_ids of the first of sector s in m
        np.minimum.at(first, cols["sector"][rows] * n_munis + cols["municipality"][rows], np.arange(none))
        first = first.reshape(len(SECTORS), n_munis)
        candidates = first[lots_s]  # (lots, municipalities)
        candidates[(candidates == none).all(axis=1)] = first.min(axis=0)  # none of the sector: the first of any
        held = candidates < none
        distance = self.territory.distance_km[lots_m]
        nearest = np.where(held, distance, np.inf).min(axis=1, keepdims=True)
        chosen = np.where(held & (distance == nearest), candidates, none).min(axis=1)
        return est_ids[chosen].tolist()

    def log_merger(self, absorber: Provider, absorbed: Provider) -> None:
        self.merger_log.append({"step": self.steps, "absorber": absorber.unique_id, "absorbed": absorbed.unique_id,
                                "sector": absorber.sector, "absorber_staff_fte": absorber.staff_fte, "absorbed_staff_fte": absorbed.staff_fte})
        self.quarter_stats["mergers"] = self.quarter_stats.get("mergers", 0) + 1

    # ----------------------------------------------------------------- outputs
    def network_graph(self) -> nx.Graph:
        """The cooperation network now, with node attributes sector, municipality,
        staff_fte, is_ess, ptce (-1 if none), strategy, and edge attributes trust, kind."""
        g = nx.Graph()
        for uid in sorted(self.cooperation.nodes):
            a = self.agent_by_id.get(uid)
            if a is None:
                continue
            g.add_node(uid, sector=SECTORS[a.sector] if a.sector >= 0 else "employer", municipality=int(a.municipality),
                       staff_fte=float(a.staff_fte), is_ess=bool(a.is_ess), ptce=int(a.ptce.unique_id) if a.ptce is not None else -1,
                       strategy=str(a.strategy))
        for u, v, data in self.cooperation.edges(data=True):
            if u in g and v in g:
                g.add_edge(u, v, trust=float(data["trust"]), kind=str(data.get("kind", "tie")))
        return g

    def timeseries(self) -> pd.DataFrame:
        """Per-step metrics, one row per quarter simulated, columns as in METRICS."""
        df = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        return df[list(METRICS)]

    def organisations_frame(self) -> pd.DataFrame:
        """Final state of every live provider (ESS organisations and service firms)."""
        op = self.config.organisation
        rows = []
        for p in self.providers():
            rows.append({
                "id": p.unique_id, "ess": p.is_ess, "legal_form": p.legal_form,
                "sector": SECTORS[p.sector], "municipality": p.municipality,
                "staff_fte": p.staff_fte, "employees_fte": p.employees_fte, "insertion_fte": p.insertion_fte,
                "volunteers_fte": p.volunteers_fte, "capacity_hours": p.capacity_hours(op),
                "unit_cost_eur_per_hour": p.unit_cost_eur(op), "treasury_eur": p.treasury_eur,
                "technicisation": p.technicisation, "governance": p.governance,
                "personalisation": p.personalisation, "founded_step": p.founded_step,
                "served_hours": p.served_hours, "strategy": p.strategy,
                "ptce": p.ptce.unique_id if p.ptce is not None else -1,
            })
        return pd.DataFrame(rows)
