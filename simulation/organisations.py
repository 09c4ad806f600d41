"""Agents: ESS organisations and conventional firms (Mesa 3.5 agents).

Both service providers share one accounting: each quarter opens an empty ledger,
revenues and costs are booked as mechanisms run, and ``settle`` moves the treasury by
exactly revenue - costs (an invariant the tests check).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import compress, repeat
from operator import attrgetter

import mesa
import numpy as np

from . import mechanisms as mech
from .params import OrganisationParams
from .state import FLOAT_COLUMNS, INT_COLUMNS, LEDGER_FIELDS, ProviderState, column_property


class _LedgerTotals:
    """Revenue, costs and the fields as a dict, for a Ledger and a LedgerView alike."""

    __slots__ = ()

    @property
    def revenue_eur(self) -> float:
        return self.subsidy_eur + self.public_order_eur + self.sales_eur + self.gifts_eur

    @property
    def costs_eur(self) -> float:
        return self.wages_eur + self.fixed_costs_eur + self.bid_costs_eur + self.coordination_eur + self.supply_surcharge_eur

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in LEDGER_FIELDS}


@dataclass(slots=True)
class Ledger(_LedgerTotals):
    """One quarter's money of one provider, EUR (a provider's own is a LedgerView on the
    model's columns; a Ledger is what one assigns to it, or a free-standing record)."""

    subsidy_eur: float = 0.0
    public_order_eur: float = 0.0
    sales_eur: float = 0.0
    gifts_eur: float = 0.0
    wages_eur: float = 0.0
    fixed_costs_eur: float = 0.0
    bid_costs_eur: float = 0.0
    coordination_eur: float = 0.0  # share of a PTCE's animation and coordination cost
    supply_surcharge_eur: float = 0.0  # extra cost of outside supplies in a supply disruption


NON_MEMBER: dict[str, float] = {
    # What PTCE membership changes (simulation.cooperation), at a non-member's values.
    "pool_share": 0.0,  # share of fixed costs pooled in a PTCE's premises
    "joint_sales_bonus": 0.0,  # utility of joint sales to paying beneficiaries
    "pathway_bonus": 0.0,  # extra share of insertion leavers hired by members
    "outside_supply_share": 1.0,  # share of purchases bought from outside suppliers
    "solidarity_surcharge": 0.0,  # share of price funding free hours for other groups
    "solidarity_hours": 0.0,  # free hours funded by last quarter's surcharge
    "governance_bonus": 0.0,  # multi-stakeholder governance of a PTCE
}
_NON_MEMBER_NOT_ZERO = tuple((name, value) for name, value in NON_MEMBER.items() if value != 0)


def _state_of(model: mesa.Model) -> ProviderState:
    """The model's ProviderState; a model that is not a TerritoryModel (tests) gets its own."""
    state = getattr(model, "provider_state", None)
    if state is None:
        state = model.provider_state = ProviderState()
    return state


def _write_new_rows(cols: dict[str, np.ndarray], at: int | slice, founded_step: int, ess: bool, sector, municipality,
                    staff_fte, insertion_share, volunteers_fte, treasury_eur, technicisation, governance,
                    accredited_from) -> None:
    """A new provider's numeric state written into its fresh row ``at`` of the columns (or
    new providers' into the rows of the slice ``at``: each value one for all or an array
    with one per row).  The rows are all zeros (ProviderState.new_rows), so what starts at
    zero is listed below, not written (tests/test_state.py checks every column)."""
    cols["ess"][at] = ess
    cols["sector"][at] = sector
    cols["municipality"][at] = municipality
    cols["staff_fte"][at] = staff_fte
    cols["insertion_share"][at] = insertion_share
    cols["volunteers_fte"][at] = volunteers_fte
    cols["treasury_eur"][at] = treasury_eur
    cols["technicisation"][at] = technicisation
    cols["governance"][at] = governance
    cols["governance_base"][at] = governance  # governance its legal form sustains, before technicisation erodes it
    cols["accredited_from"][at] = accredited_from
    cols["founded_step"][at] = founded_step
    cols["personalisation"][at] = 0.5
    cols["supply_cost_multiplier"][at] = 1.0  # outside suppliers' price multiplier this quarter (supply_disruption)
    cols["productivity"][at] = 1.0  # knowledge-spillover multiplier of service hours
    for name, value in _NON_MEMBER_NOT_ZERO:  # reset_cooperation on a fresh row
        cols[name][at] = value
    # Zero at the start, as the fresh rows hold them:
    #   insolvent_quarters       quarters in a row ended with a negative treasury
    #   ledger                   this quarter's money (a LedgerView on the ledger_* columns)
    #   asked_hours, served_hours  hours asked of and served by it this quarter
    #   norm_level               technicisation imposed by norms this quarter
    #   insertion_exits_to_jobs  insertion leavers who found a job this quarter, FTE
    #   price_eur_per_hour       price to paying beneficiaries this quarter
    #   last_result_eur          revenue - costs of the last settled quarter
    #   carried_eur              carried by a PTCE fund after the last quarter
    #   transfers_eur            treasury moved this quarter outside the ledger (fund, merger)
    #   surcharge_eur            solidarity surcharge collected this quarter (allocate_demand)
    #   capacity_now, proximity_now  capacity and proximity served of this quarter (allocate_demand)
    #   and NON_MEMBER's zeros (reset_cooperation).


class Provider(mesa.Agent):
    """A producer of services on the territory (ESS organisation or for-profit firm)."""

    is_ess: bool = True

    # The numeric state lives in the model's ProviderState (simulation.state), one numpy
    # column per attribute, at this provider's row: ``p.staff_fte`` reads and writes it
    # (properties set after the class), and a mechanism can update every provider at once
    # with numpy (issue 9).  The rest is held in slots, not in a per-agent dict.
    __slots__ = ("_cols", "_row", "legal_form", "alive", "pending_support", "strategy", "ptce")

    def __init__(
        self,
        model: mesa.Model,
        *,
        sector: int,
        municipality: int,
        staff_fte: float,
        insertion_share: float = 0.0,
        volunteers_fte: float = 0.0,
        treasury_eur: float = 0.0,
        technicisation: float = 0.3,
        governance: float = 0.7,
        legal_form: str = "association",
        accredited_from: int = 0,
    ) -> None:
        super().__init__(model)
        state = _state_of(model)
        row = state.new_row()
        _write_new_rows(state.cols, row, model.steps, self.is_ess, sector, municipality, staff_fte, insertion_share,
                        volunteers_fte, treasury_eur, technicisation, governance, accredited_from)
        self._bind(state.cols, row, legal_form)

    @classmethod
    def create_many(
        cls,
        model: mesa.Model,
        n: int,
        *,
        sector: int | np.ndarray,
        municipality: int | np.ndarray,
        staff_fte: float | np.ndarray,
        insertion_share: float | np.ndarray = 0.0,
        volunteers_fte: float | np.ndarray = 0.0,
        treasury_eur: float | np.ndarray = 0.0,
        technicisation: float | np.ndarray = 0.3,
        governance: float | np.ndarray = 0.7,
        legal_form: str = "association",
        accredited_from: int | np.ndarray = 0,
    ) -> list[Provider]:
        """``n`` new providers of this class, as ``n`` calls of ``cls(model, ...)`` in turn
        make them (same unique_ids, rows and state): each keyword a value for all or an
        array of ``n`` values, one per provider.

        Why (issue 9): some 90 organisations enter each quarter at 1,000 organisations; here
        their rows are reserved together and each column is written once for all of them,
        rather than 17 single-element writes per agent.  Each is still made by Mesa's Agent
        constructor (its unique_id and the model's agent sets)."""
        if cls.__init__ is not Provider.__init__:  # a subclass's own __init__ would be skipped
            raise TypeError(f"{cls.__name__} has its own __init__: make its agents one by one")
        state = _state_of(model)
        first = state.new_rows(n)
        cols = state.cols
        _write_new_rows(cols, slice(first, first + n), model.steps, cls.is_ess, sector, municipality, staff_fte,
                        insertion_share, volunteers_fte, treasury_eur, technicisation, governance, accredited_from)
        made = list(map(cls.__new__, repeat(cls, n)))
        agent_init = mesa.Agent.__init__
        for agent in made:
            agent_init(agent, model)  # what Provider.__init__'s super().__init__ does, in turn
        for agent, row in zip(made, range(first, first + n), strict=True):  # _bind, inlined (a call less per agent)
            agent._cols = cols
            agent._row = row
            agent.legal_form = legal_form
            agent.alive = True
            agent.pending_support = False
            agent.strategy = "independent"
            agent.ptce = None
        return made

    def _bind(self, cols: dict[str, np.ndarray], row: int, legal_form: str) -> None:
        """Tie the agent to its row of the columns; the state held in slots (create_many
        writes the same slots inline: keep the two alike)."""
        self._cols = cols
        self._row = row
        self.legal_form = legal_form
        self.alive = True
        self.pending_support = False  # start-up support owed by the cooperative regime
        # Concentration and cooperation (simulation.cooperation).
        self.strategy = "independent"
        self.ptce = None  # the Ptce this legal person belongs to, if any

    def reset_cooperation(self) -> None:
        """What PTCE membership changes, back to a non-member's values (NON_MEMBER)."""
        cols, row = self._cols, self._row
        for name, value in NON_MEMBER.items():
            cols[name][row] = value

    # ----------------------------------------------------------------- staff
    @property
    def employees_fte(self) -> float:
        """Salaried FTE on mainstream contracts."""
        return self.staff_fte * (1.0 - self.insertion_share)

    @property
    def insertion_fte(self) -> float:
        """FTE on work-integration (insertion) contracts; a structure keeps its share of posts."""
        return self.staff_fte * self.insertion_share

    def hours_per_staff_fte(self, op: OrganisationParams) -> float:
        """Service hours one FTE of this organisation's staff mix delivers per quarter."""
        return op.service_hours_per_fte_quarter * self.productivity * (1.0 - self.insertion_share + op.insertion_productivity * self.insertion_share)

    # ----------------------------------------------------------------- production
    def capacity_hours(self, op: OrganisationParams) -> float:
        return mech.capacity_hours(
            self.employees_fte, self.insertion_fte, self.volunteers_fte,
            op.service_hours_per_fte_quarter * self.productivity, op.insertion_productivity, op.volunteer_productivity,
        )

    def fixed_cost_eur(self, op: OrganisationParams) -> float:
        """F = f0 Q**beta alone; in a PTCE that pools premises, the member's line of
        mechanisms.pooled_fixed_costs on the pool's capacity at the start of the quarter."""
        q = self.capacity_hours(op)
        own = mech.fixed_cost(q, op.fixed_cost_scale_eur, op.fixed_cost_exponent)
        if self.pool_share <= 0 or self.ptce is None or q <= 0:
            return own
        total = max(self.ptce.pool_capacity_hours, q)
        pooled = mech.fixed_cost(total, op.fixed_cost_scale_eur, op.fixed_cost_exponent) * q / total
        return (1 - self.pool_share) * own + self.pool_share * pooled

    def unit_cost_eur(self, op: OrganisationParams) -> float:
        """c = w / (Q / S) + F / Q: labour productivity Q / S counts the staff mix and the
        volunteers, so insertion staff raise and volunteers lower the unit cost."""
        q = self.capacity_hours(op)
        productivity = q / self.staff_fte if self.staff_fte > 0 else float("inf")
        return mech.unit_cost(q, op.wage_eur_per_fte_quarter, productivity, self.fixed_cost_eur(op) + self.supply_surcharge_eur(op))

    def supply_surcharge_eur(self, op: OrganisationParams) -> float:
        """Extra cost of purchased inputs when outside suppliers' prices are multiplied by m
        (supply_disruption, simulation.shocks), EUR / quarter:

            supplies = F p (o m + (1 - o)),  so  supplies - F p = F p o (m - 1)

        F the fixed cost (premises, equipment, management, supplies), p =
        `organisation.purchased_share_of_fixed_costs` the share of F bought from suppliers,
        o = `outside_supply_share` the share of those purchases from outside suppliers (a
        supply-chain PTCE lowers it), m = `supply_cost_multiplier`.  0 when m = 1.
        """
        if self.supply_cost_multiplier == 1.0:
            return 0.0
        return self.fixed_cost_eur(op) * op.purchased_share_of_fixed_costs * self.outside_supply_share * (self.supply_cost_multiplier - 1.0)

    def quarterly_costs_eur(self, op: OrganisationParams) -> float:
        return op.wage_eur_per_fte_quarter * self.staff_fte + self.fixed_cost_eur(op) + self.supply_surcharge_eur(op)

    def bid_price(self, op: OrganisationParams) -> float:
        """Price bid in a call for tender: c (1 + m), unit cost plus the ESS margin or a
        firm's markup (Provider.margin), EUR/hour."""
        return self.unit_cost_eur(op) * (1 + self.margin(op))

    def margin(self, op: OrganisationParams) -> float:
        """m in the price c (1 + m): the ESS margin."""
        return op.price_margin

    def fee_discount_eur(self, op: OrganisationParams, insertion_aid_eur_per_fte_quarter: float,
                         capacity_hours: float) -> float:
        """Non-profit pricing: what the price per paying hour is lowered by (EUR/hour),

            d = g (r_g V + r_a I) / Q

        g = `organisation.gift_pass_through`, r_g V the quarter's gifts (per volunteer FTE),
        r_a I the State's insertion aid (per insertion FTE), Q the capacity in hours: the
        gifts and aid lower the cost of every hour the organisation can deliver, and paying
        beneficiaries get that lower cost on the hours they buy.  What falls on public hours
        (paid at the gross cost by grants and orders) and on idle capacity is kept: at most g
        of the gifts and aid is ever given away, since paid hours <= Q.  Gifts and aid are
        known before prices are set (volunteers and staff move after the accounts).  The
        price is p = max(0, c (1 + m) - d) (1 + s) (TerritoryModel.set_prices).
        """
        if op.gift_pass_through <= 0 or capacity_hours <= 0:
            return 0.0
        own_eur = op.gifts_eur_per_volunteer_fte_quarter * self.volunteers_fte + insertion_aid_eur_per_fte_quarter * self.insertion_fte
        return op.gift_pass_through * own_eur / capacity_hours

    # ----------------------------------------------------------------- quarter accounting
    def open_quarter(self) -> None:
        self.ledger = Ledger()
        self.transfers_eur = 0.0
        self.norm_level = 0.0

    def book_costs(self, op: OrganisationParams, fixed_cost_eur: float | None = None,
                   supply_surcharge_eur: float | None = None) -> None:
        """Book the quarter's costs; the fixed cost and supply surcharge are computed here
        unless given (the model passes its quarter's cost sheet, organisations.cost_sheet)."""
        self.ledger.wages_eur = op.wage_eur_per_fte_quarter * self.staff_fte
        self.ledger.fixed_costs_eur = self.fixed_cost_eur(op) if fixed_cost_eur is None else fixed_cost_eur
        self.ledger.supply_surcharge_eur = self.supply_surcharge_eur(op) if supply_surcharge_eur is None else supply_surcharge_eur

    def settle(self) -> float:
        """Treasury moves by exactly revenue - costs; returns that change (EUR)."""
        change = self.ledger.revenue_eur - self.ledger.costs_eur
        self.treasury_eur += change
        self.insolvent_quarters = self.insolvent_quarters + 1 if self.treasury_eur < 0 else 0
        return change

    # ----------------------------------------------------------------- workforce and practices
    def adjust_workforce(self, op: OrganisationParams, hazard: float, to_job_rate: float) -> None:
        volunteer_hours = op.service_hours_per_fte_quarter * self.productivity * op.volunteer_productivity * self.volunteers_fte
        target = mech.staff_target(self.asked_hours, self.hours_per_staff_fte(op), volunteer_hours)
        self.staff_fte = mech.hire_or_lay_off(
            self.staff_fte, target, self.treasury_eur, op.wage_eur_per_fte_quarter,
            op.cash_buffer_quarters, op.hiring_adjustment,
        )
        # Integration pathways of a conglomerate PTCE: members' mainstream jobs take a
        # further share of the leavers who had not found one (seed text, 'parcours d'insertion').
        rate = to_job_rate + self.pathway_bonus * (1.0 - to_job_rate)
        _, self.insertion_exits_to_jobs = mech.insertion_exits(self.insertion_fte, hazard, rate)

    def update_practices(self, op: OrganisationParams) -> None:
        self.technicisation = mech.technicisation_step(
            self.technicisation, self.norm_level, self.staff_fte,
            op.size_technicisation_fte, op.technicisation_adjustment,
        )
        self.governance = mech.governance_step(
            self.governance, min(1.0, self.governance_base + self.governance_bonus), self.technicisation,
            op.technicisation_governance_erosion, op.governance_adjustment,
        )
        self.volunteers_fte = mech.volunteers_step(
            self.volunteers_fte, self.staff_fte, self.governance, self.technicisation,
            op.volunteer_ratio, op.volunteer_base_fte, op.volunteer_adjustment,
        )

    def voice(self) -> float:
        return mech.voice(self.volunteers_fte, self.staff_fte, self.governance)


class LedgerView(_LedgerTotals):
    """A provider's Ledger as stored in the model's columns (``ledger_<field>``): the same
    fields, ``revenue_eur``, ``costs_eur`` and ``as_dict`` as :class:`Ledger`."""

    __slots__ = ("_cols", "_row")

    def __init__(self, cols: dict[str, np.ndarray], row: int) -> None:
        self._cols = cols
        self._row = row


class LedgerRows(_LedgerTotals):
    """The ledgers of the providers at ``rows`` of the columns, each field an array: the
    same ``revenue_eur`` and ``costs_eur`` as :class:`Ledger`, for all of them at once."""

    __slots__ = ("_cols", "_rows")

    def __init__(self, cols: dict[str, np.ndarray], rows: np.ndarray) -> None:
        self._cols = cols
        self._rows = rows


for _name in LEDGER_FIELDS:
    setattr(LedgerView, _name, column_property(f"ledger_{_name}"))
    setattr(LedgerRows, _name, property(lambda self, _c=f"ledger_{_name}": self._cols[_c][self._rows]))
for _name in FLOAT_COLUMNS + INT_COLUMNS:
    if not _name.startswith("ledger_"):
        setattr(Provider, _name, column_property(_name))


def _get_prev_flows(self: Provider) -> np.ndarray | None:
    slot = self._cols["prev_flow_slot"].item(self._row)
    return self.model.provider_state.prev_flows[slot - 1] if slot else None


def _set_prev_flows(self: Provider, flows: np.ndarray | None) -> None:
    if flows is None:
        self._cols["prev_flow_slot"][self._row] = 0
        return
    state, slot = self.model.provider_state, self._cols["prev_flow_slot"].item(self._row)
    if slot:
        if state.prev_flows_shared:  # the table is also the model's flow_matrix: written on a copy
            state.prev_flows, state.prev_flows_shared = state.prev_flows.copy(), False
        state.prev_flows[slot - 1] = flows
    else:  # a provider that did not serve last quarter (a merger's absorber): a new row
        state.prev_flows = np.vstack((state.prev_flows.reshape(-1, len(flows)), flows))
        state.prev_flows_shared = False
        self._cols["prev_flow_slot"][self._row] = len(state.prev_flows)


# Hours served per demand cell (municipality x group) last quarter, None if it served
# nobody: a row of the model's ProviderState.prev_flows (a view: the model replaces the
# whole table each quarter; setting it writes the row, on a copy of the table if the table
# is the model's flow_matrix), so update_personalisation reads every provider's at once.
Provider.prev_flows = property(_get_prev_flows, _set_prev_flows)


def _get_ledger(self: Provider) -> LedgerView:
    return LedgerView(self._cols, self._row)


def _set_ledger(self: Provider, ledger: Ledger | LedgerView) -> None:
    for name in LEDGER_FIELDS:
        self._cols[f"ledger_{name}"][self._row] = getattr(ledger, name)


Provider.ledger = property(_get_ledger, _set_ledger, doc="this quarter's money (a LedgerView on the model's columns)")


def rows_of(provs: list[Provider]) -> np.ndarray:
    """The rows of ``provs`` in their model's ProviderState, in the order of ``provs``."""
    return np.fromiter(map(attrgetter("_row"), provs), np.int64, len(provs))


def adjust_workforce_rows(cols: dict[str, np.ndarray], rows: np.ndarray, op: OrganisationParams, hazard: float,
                          to_job_rate: float) -> None:
    """:meth:`Provider.adjust_workforce` of the providers at ``rows`` of the columns ``cols``
    (ProviderState.cols), at once:

        E* = max(0, (A - h x a_v V) / (h x (1 - i + a_i i)))     staff target (mechanisms.staff_target)
        E' = mechanisms.hire_or_lay_off_all(E, E*, T, w, B, k)
        X  = (x + b (1 - x)) (hazard E' i)                       insertion leavers in a job

    A hours asked, h hours per FTE, x spillover productivity, a_v and a_i the volunteers' and
    insertion staff's productivity, V volunteers, i insertion share, T treasury, b a
    conglomerate PTCE's pathway bonus.  Same operations in the same order as the method, so
    the same bits (tests/test_vectorised.py compares them).
    """
    staff, ins, vol, prod, asked, treasury, pathway = (cols[name][rows] for name in (
        "staff_fte", "insertion_share", "volunteers_fte", "productivity", "asked_hours", "treasury_eur", "pathway_bonus"))
    h = op.service_hours_per_fte_quarter
    volunteer_hours = h * prod * op.volunteer_productivity * vol
    hours_per_fte = h * prod * (1.0 - ins + op.insertion_productivity * ins)
    with np.errstate(divide="ignore", invalid="ignore"):
        target = mech.staff_target_all(asked, hours_per_fte, volunteer_hours)
    new_staff = mech.hire_or_lay_off_all(staff, target, treasury, op.wage_eur_per_fte_quarter, op.cash_buffer_quarters, op.hiring_adjustment)
    rate = to_job_rate + pathway * (1.0 - to_job_rate)
    cols["staff_fte"][rows] = new_staff
    cols["insertion_exits_to_jobs"][rows] = mech.insertion_exits(new_staff * ins, hazard, rate)[1]


def update_practices_rows(cols: dict[str, np.ndarray], rows: np.ndarray, op: OrganisationParams) -> None:
    """:meth:`Organisation.update_practices` of the ESS organisations at ``rows``, at once
    (firms hold their practices fixed: leave them out of ``rows``): technicisation, then
    governance under the new technicisation, then volunteers under both
    (mechanisms.technicisation_step_all, governance_step, volunteers_step_all; same bits
    as the method, tests/test_vectorised.py)."""
    tau, norm, staff, gov, base, bonus, vol = (cols[name][rows] for name in (
        "technicisation", "norm_level", "staff_fte", "governance", "governance_base", "governance_bonus", "volunteers_fte"))
    tau = mech.technicisation_step_all(tau, norm, staff, op.size_technicisation_fte, op.technicisation_adjustment)
    gov = mech.governance_step(gov, np.minimum(1.0, base + bonus), tau, op.technicisation_governance_erosion, op.governance_adjustment)
    cols["technicisation"][rows] = tau
    cols["governance"][rows] = gov
    cols["volunteers_fte"][rows] = mech.volunteers_step_all(vol, staff, gov, tau, op.volunteer_ratio, op.volunteer_base_fte,
                                                            op.volunteer_adjustment)


def settle_rows(cols: dict[str, np.ndarray], rows: np.ndarray, op: OrganisationParams, fixed_cost_eur: np.ndarray,
                supply_surcharge_eur: np.ndarray) -> None:
    """:meth:`Provider.book_costs` then :meth:`Provider.settle` of the providers at ``rows``, at once:

        wages = w S;  R = subsidy + orders + sales + gifts;  C = wages + F + bids + coordination + s
        T' = T + (R - C);  last result R - C;  quarters in deficit + 1 if T' < 0, else 0

    F and s from the quarter's cost sheet (cost_sheet), in the order of ``rows``.  R and C
    are Ledger.revenue_eur and costs_eur over the rows (LedgerRows: same sums, same bits).
    """
    cols["ledger_wages_eur"][rows] = op.wage_eur_per_fte_quarter * cols["staff_fte"][rows]
    cols["ledger_fixed_costs_eur"][rows] = fixed_cost_eur
    cols["ledger_supply_surcharge_eur"][rows] = supply_surcharge_eur
    ledger = LedgerRows(cols, rows)
    change = ledger.revenue_eur - ledger.costs_eur
    treasury = cols["treasury_eur"][rows] + change
    cols["last_result_eur"][rows] = change
    cols["treasury_eur"][rows] = treasury
    cols["insolvent_quarters"][rows] = np.where(treasury < 0, cols["insolvent_quarters"][rows] + 1, 0)


def _capacity(op: OrganisationParams, staff: np.ndarray, ins: np.ndarray, vol: np.ndarray, prod: np.ndarray) -> np.ndarray:
    """Q = h x (E + a_i I + a_v V), E = S (1 - i), I = S i: mechanisms.capacity_hours over
    arrays, called as Provider.capacity_hours calls it (same bits)."""
    return mech.capacity_hours(staff * (1.0 - ins), staff * ins, vol, op.service_hours_per_fte_quarter * prod,
                               op.insertion_productivity, op.volunteer_productivity)


def capacity_rows(cols: dict[str, np.ndarray], rows: np.ndarray, op: OrganisationParams) -> np.ndarray:
    """:meth:`Provider.capacity_hours` of the providers at ``rows`` of the columns, at once (same bits)."""
    return _capacity(op, *(cols[name][rows] for name in ("staff_fte", "insertion_share", "volunteers_fte", "productivity")))


def fixed_costs(capacity_hours: np.ndarray, scale_eur: float, exponent: float) -> np.ndarray:
    """:func:`mechanisms.fixed_cost` of many capacities at once, F = f0 Q**beta (0 where Q <= 0).

    Q**beta is Python's ``pow`` (libm), element by element: numpy's vectorised power can
    differ in the last bit.  f0 times it, as the scalar form, gives the same bits.  The
    capacities reach ``pow`` one Python float at a time through a ``memoryview`` and the
    powers go straight into an array (``np.fromiter``), with no lists in between: a third
    less time for the same floats (issue 9)."""
    positive = capacity_hours > 0
    if positive.all():  # no zero to keep: the powers are the whole array
        out = np.fromiter(map(pow, memoryview(np.ascontiguousarray(capacity_hours)), repeat(exponent)), float, len(positive))
    else:
        out = np.zeros(len(capacity_hours))
        positive = np.flatnonzero(positive)
        out[positive] = np.fromiter(map(pow, memoryview(capacity_hours[positive]), repeat(exponent)), float, len(positive))
    out *= scale_eur
    return out


class FixedCostMemo:
    """f0 Q**beta of each row of a ProviderState at the capacity Q it had when last
    computed (organisations.fixed_costs), so that a cost sheet recomputes it only for rows
    whose capacity changed.  Exact: a value is reused only for the same Q, f0 and beta,
    and fixed_costs is a function of those alone.

    Why (issue 9): libm's pow costs some 0.1 ms a sheet at 1,000 providers, and the
    quarter's sheet (set_prices) comes after the end-of-quarter metrics' sheet with the
    same capacities (staff, volunteers and productivity move between set_prices and the
    metrics, not between the metrics and the next set_prices).  Held by the ProviderState
    (``fixed_cost_memo``), so it is copied and pickled with the rows it describes."""

    def __init__(self) -> None:
        self.capacity_hours = np.zeros(0)
        self.fixed_cost_eur = np.zeros(0)
        self.params: tuple[float, float] | None = None

    def fixed_costs(self, rows: np.ndarray, capacity_hours: np.ndarray, scale_eur: float, exponent: float) -> np.ndarray:
        """fixed_costs(capacity_hours, scale_eur, exponent) of the providers at ``rows`` (distinct)."""
        size = int(rows.max()) + 1 if len(rows) else 0
        if self.params != (scale_eur, exponent) or len(self.capacity_hours) < size:
            known = len(self.capacity_hours) if self.params == (scale_eur, exponent) else 0
            grown = max(size, 2 * len(self.capacity_hours))
            q, f = np.full(grown, np.nan), np.zeros(grown)  # NaN equals no capacity: never reused
            q[:known], f[:known] = self.capacity_hours[:known], self.fixed_cost_eur[:known]
            self.capacity_hours, self.fixed_cost_eur, self.params = q, f, (scale_eur, exponent)
        changed = self.capacity_hours[rows] != capacity_hours
        if changed.all():  # every capacity moved (the metrics' sheet, most quarters): no subsets
            out = fixed_costs(capacity_hours, scale_eur, exponent)
            self.capacity_hours[rows] = capacity_hours
            self.fixed_cost_eur[rows] = out
            return out
        out = self.fixed_cost_eur[rows]
        changed = np.flatnonzero(changed)
        if len(changed):
            out[changed] = fixed_costs(capacity_hours[changed], scale_eur, exponent)
            self.capacity_hours[rows[changed]] = capacity_hours[changed]
            self.fixed_cost_eur[rows[changed]] = out[changed]
        return out


def cost_sheet(provs: list[Provider], op: OrganisationParams, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Capacity, fixed cost, supply surcharge and unit cost of many providers at once.

    The equations of :meth:`Provider.capacity_hours`, :meth:`Provider.fixed_cost_eur`,
    :meth:`Provider.supply_surcharge_eur` and :meth:`Provider.unit_cost_eur` over the
    providers' columns (and the hubs of those pooling premises), operation by operation in
    the same order, so each value is bit-identical to the method's:

        Q = h x (E + a_i I + a_v V)        capacity, hours/quarter (x = spillover productivity)
        F = (1 - phi) f0 Q**beta + phi f0 Q_pool**beta Q / Q_pool   (phi = 0 outside a pooling PTCE)
        s = F p o (m - 1)                  supply surcharge, EUR/quarter (0 when m = 1)
        c = w / (Q / S) + (F + s) / Q      unit cost, EUR/hour (w / h when Q = 0)

    Q**beta is taken with Python's ``pow`` (libm, fixed_costs): numpy's vectorised power
    can differ in the last bit.  Returns arrays keyed ``capacity_hours``, ``fixed_cost_eur``,
    ``supply_surcharge_eur``, ``unit_cost_eur``, in the order of ``provs``; ``rows`` their
    rows in the model's ProviderState if known (TerritoryModel.provider_rows).
    """
    n = len(provs)
    if n == 0:
        return {key: np.zeros(0) for key in ("capacity_hours", "fixed_cost_eur", "supply_surcharge_eur", "unit_cost_eur")}
    cols = provs[0]._cols  # one model's providers share its columns
    rows = rows_of(provs) if rows is None else rows
    staff, ins, vol, prod, pool_share, mult, outside = (cols[name][rows] for name in (
        "staff_fte", "insertion_share", "volunteers_fte", "productivity", "pool_share", "supply_cost_multiplier", "outside_supply_share"))
    f0, beta = op.fixed_cost_scale_eur, op.fixed_cost_exponent
    q = _capacity(op, staff, ins, vol, prod)
    state = getattr(getattr(provs[0], "model", None), "provider_state", None)
    if isinstance(state, ProviderState) and state.cols is cols:  # the providers' model: its memo of f0 Q**beta
        if state.fixed_cost_memo is None:
            state.fixed_cost_memo = FixedCostMemo()
        f = state.fixed_cost_memo.fixed_costs(rows, q, f0, beta)
    else:
        f = fixed_costs(q, f0, beta)
    # Pooled premises: a PTCE member with a pooled share phi > 0 and some capacity (a
    # non-member's share is 0, NON_MEMBER): only those providers' hubs are looked up.
    pooled_rows = np.flatnonzero((pool_share > 0) & (q > 0))
    hubs = list(map(attrgetter("ptce"), map(provs.__getitem__, pooled_rows.tolist())))
    if None in hubs:
        in_ptce = [h is not None for h in hubs]
        pooled_rows, hubs = pooled_rows[in_ptce], list(compress(hubs, in_ptce))
    if hubs:
        qp, ps = q[pooled_rows], pool_share[pooled_rows]
        total = np.maximum(np.fromiter(map(attrgetter("pool_capacity_hours"), hubs), float, len(hubs)), qp)
        f[pooled_rows] = (1 - ps) * f[pooled_rows] + ps * (fixed_costs(total, f0, beta) * qp / total)
    if (mult == 1.0).all():  # no supply shock: the np.where below gives zeros
        surcharge = np.zeros(n)
    else:
        surcharge = np.where(mult == 1.0, 0.0, f * op.purchased_share_of_fixed_costs * outside * (mult - 1.0))
    # c = w / h + (F + surcharge) / Q, h = Q / S (mechanisms.unit_cost); the guards (no
    # staff: h infinite; no capacity: the labour cost alone) only where a provider needs them.
    positive = bool((staff > 0).all() and (q > 0).all())
    with np.errstate(divide="ignore", invalid="ignore"):
        productivity = q / staff if positive else np.where(staff > 0, q / np.where(staff > 0, staff, 1.0), np.inf)
        labour = op.wage_eur_per_fte_quarter / productivity
        c = labour + (f + surcharge) / (q if positive else np.where(q > 0, q, 1.0))
        if not positive:
            c = np.where(q <= 0, labour, c)
    return {"capacity_hours": q, "fixed_cost_eur": f, "supply_surcharge_eur": surcharge, "unit_cost_eur": c}


class Organisation(Provider):
    """An ESS organisation: association, cooperative, mutual or work-integration structure."""

    is_ess = True


class ConventionalFirm(Provider):
    """A non-ESS firm: a for-profit service provider (sector >= 0) or a local employer (sector -1).

    Local employers do not serve beneficiaries; they count in local employment and are
    the non-ESS partners a PTCE needs by law (FACTS.md [ptce-law]).  Service firms price
    at cost plus a markup, have no volunteers and no democratic governance.
    """

    is_ess = False

    @property
    def is_provider(self) -> bool:
        return self.sector >= 0

    def margin(self, op: OrganisationParams) -> float:
        """m in the price c (1 + m): a for-profit firm's markup."""
        return op.firm_markup

    def fee_discount_eur(self, op: OrganisationParams, insertion_aid_eur_per_fte_quarter: float,
                         capacity_hours: float) -> float:
        """A firm prices at cost plus markup: no gifts or insertion aid to pass on."""
        return 0.0

    def update_practices(self, op: OrganisationParams) -> None:
        # A firm's standardisation is its business model: held fixed (assumption).
        pass
