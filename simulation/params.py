"""Typed, validated parameters of a scenario, and the one function that loads them.

Every field carries its bounds, its unit, a description and a source (a tag of
``shared/FACTS.md`` or the word ``assumption``) in ``json_schema_extra``; the ODD
parameter table and the command line read them from here, so each default is written
once (STYLE.md).  All models are frozen and forbid unknown keys, so a misspelt key in a
scenario file is an error, never a silent default.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from .batchspec import BatchSpec

SECTORS: tuple[str, ...] = (
    "personal_services",
    "employment",
    "food",
    "culture",
    "eco_activities",
)
"""Sectors of ESS activity, after the PTCE survey of FACTS.md [ptce-sectors]."""

GROUPS: tuple[str, ...] = ("elderly", "families", "young", "jobseekers")
"""Social groups served on each municipality (DESIGN.md section 2)."""


def P(default: Any, *, unit: str, source: str, description: str, **bounds: Any) -> Any:
    """A parameter field: default, bounds (ge/le/gt/lt), unit, source and description."""
    return Field(
        default,
        description=description,
        json_schema_extra={"unit": unit, "source": source},
        **bounds,
    )


class Frozen(BaseModel):
    """Base of every parameter block: immutable, unknown keys refused."""

    # allow_inf_nan=False: nan or inf in a scenario file (TOML has both) would pass the
    # bound checks of the few unbounded fields and turn every metric into NaN.
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False)


# --------------------------------------------------------------------------- territory
class TerritoryParams(Frozen):
    organisations: int = P(
        200, ge=3, le=20_000, unit="organisations",
        source="assumption (an intercommunality of ~60,000 inhabitants at the national "
        "density of FACTS.md [ess-size-2013], 3.35 establishments per 1,000 inhabitants)",
        description="ESS organisations (establishments with employees) at start",
    )
    municipalities: int = P(
        8, ge=1, le=200, unit="municipalities", source="assumption",
        description="municipalities of the territory",
    )
    side_km: float = P(
        30.0, gt=0, le=500, unit="km", source="assumption",
        description="side of the square the municipalities are placed in",
    )
    road_neighbours: int = P(
        3, ge=1, le=20, unit="roads per municipality", source="assumption",
        description="each municipality is linked by road to this many nearest ones",
    )
    establishments_per_1000_inhabitants: float = P(
        # Lower bounds here and below, not just > 0: a value near 0 makes the population,
        # the need or an entry rate overflow (tests/test_reliability_model.py).
        3.35, ge=0.01, le=100, unit="establishments / 1,000 inhabitants",
        source="FACTS.md [ess-size-2013]: 221,325 establishments for ~66 M inhabitants",
        description="sets the population from the number of organisations",
    )
    share_below_10_employees: float = P(
        0.80, gt=0, lt=1, unit="share of organisations", source="FACTS.md [assoc-size-dist]",
        description="share of organisations with fewer than 10 employees (people, not FTE) at start",
    )
    share_above_50_employees: float = P(
        0.05, gt=0, lt=1, unit="share of organisations", source="FACTS.md [assoc-size-dist]",
        description="share of organisations with more than 50 employees (people, not FTE) at start",
    )
    headcount_per_fte: float = P(
        2.0 / 1.5, ge=1, le=3, unit="people / FTE",
        source="FACTS.md [ess-size-2019]: associations 2.0 M headcount / 1.5 M FTE",
        description="employees (people) per salaried FTE: the size thresholds of FACTS.md [assoc-size-dist] count people, "
        "the model counts FTE (part-time work)",
    )
    min_employees_fte: float = P(
        0.5, gt=0, le=10, unit="FTE", source="assumption",
        description="smallest staff an organisation starts with",
    )
    max_employees_fte: float = P(
        450.0, gt=1, le=5000, unit="FTE",
        source="assumption, after the largest PTCE of FACTS.md [ptce-size] (450 jobs)",
        description="largest staff an organisation starts with",
    )
    insertion_enterprise_share: float = P(
        0.08, ge=0, le=1, unit="share of organisations",
        source="assumption (4,510 IAE structures, FACTS.md [iae-stock], among ~220,000 "
        "ESS establishments, over-represented among establishments with employees)",
        description="share of organisations that are work-integration structures (IAE)",
    )
    insertion_share_of_staff_iae: float = P(
        0.7, ge=0, le=1, unit="share of FTE", source="assumption",
        description="share of an IAE structure's staff on insertion contracts",
    )
    service_firms: int = P(
        10, ge=0, le=5000, unit="firms", source="assumption",
        description="for-profit service firms that compete with the ESS",
    )
    local_employers: int = P(
        20, ge=0, le=5000, unit="firms", source="assumption",
        description="conventional local employers (not service providers)",
    )
    local_employer_mean_fte: float = P(
        500.0, ge=0, le=100_000, unit="FTE", source="assumption (ESS = ~10 % of jobs, FACTS.md [ess-size-2019])",
        description="mean staff of a conventional local employer",
    )
    initial_ties_per_organisation: float = P(
        2.0, ge=0, le=50, unit="ties", source="assumption",
        description="mean cooperation ties per organisation at start (nearby, same or other sector)",
    )
    initial_need_coverage: float = P(
        0.9, ge=0.01, le=2, unit="capacity / need",
        source="assumption: needs are scaled so initial capacity covers this share of them",
        description="ratio of initial service capacity to total need",
    )

    @model_validator(mode="after")
    def _size_shares(self) -> TerritoryParams:
        # As the model computes them (simulation.mechanisms.lognormal_from_quantiles):
        # 1 - share_above must stay a probability strictly between share_below and 1.
        if not self.share_below_10_employees < 1 - self.share_above_50_employees < 1:
            raise ValueError("share_below_10_employees + share_above_50_employees must be < 1, and share_above_50_employees above 1e-15")
        if self.min_employees_fte > self.max_employees_fte:
            raise ValueError(f"min_employees_fte ({self.min_employees_fte}) must be <= max_employees_fte ({self.max_employees_fte})")
        return self


# --------------------------------------------------------------------------- organisations
class OrganisationParams(Frozen):
    wage_eur_per_fte_quarter: float = P(
        9_000.0, ge=1, le=100_000, unit="EUR / FTE / quarter",
        source="assumption (~36 kEUR loaded annual cost of an ESS job)",
        description="labour cost of one FTE for a quarter",
    )
    service_hours_per_fte_quarter: float = P(
        350.0, ge=1, le=600, unit="service hours / FTE / quarter",
        source="assumption (1,607 legal hours a year, less non-direct time)",
        description="direct service hours one salaried FTE delivers in a quarter",
    )
    insertion_productivity: float = P(
        0.7, gt=0, le=1, unit="ratio", source="assumption",
        description="productivity of an insertion employee relative to a mainstream one",
    )
    volunteer_productivity: float = P(
        0.5, ge=0, le=1, unit="ratio", source="assumption",
        description="productivity of a volunteer FTE relative to a salaried one",
    )
    fixed_cost_scale_eur: float = P(
        25.0, ge=0, le=10_000, unit="EUR / quarter / hours^beta", source="assumption",
        description="f0 in F(Q) = f0 * Q**beta (premises, equipment, management)",
    )
    fixed_cost_exponent: float = P(
        0.8, gt=0, lt=1, unit="dimensionless",
        source="assumption; economies of scale need beta < 1 (DESIGN.md 3b)",
        description="beta in F(Q) = f0 * Q**beta",
    )
    purchased_share_of_fixed_costs: float = P(
        0.5, ge=0, le=1, unit="share of fixed costs",
        source="assumption (rent, energy, equipment and consumables bought from suppliers)",
        description="share of the fixed cost F bought from suppliers; a supply disruption raises the outside part of it",
    )
    price_margin: float = P(
        0.05, ge=0, le=1, unit="share of unit cost", source="assumption",
        description="margin over unit cost in an ESS organisation's price",
    )
    gift_pass_through: float = P(
        1.0, ge=0, le=1, unit="share of gifts and insertion aid",
        source="calibrated, at its bound: FACTS.md [resource-mix] (with the gifts, against the 2005 and 2017 shares), by "
        "python -m simulation.calibrate; the mechanism is an assumption (the ESS law of 31 July 2014, art. 1, limits "
        "profit-seeking but does not say how gifts are spent); 0 prices at unit cost plus margin whatever the other resources",
        description="share of an ESS organisation's gifts and insertion aid passed to paying beneficiaries as a lower price",
    )
    firm_markup: float = P(
        0.15, ge=0, le=2, unit="share of unit cost", source="assumption",
        description="markup over unit cost in a for-profit firm's price",
    )
    volunteer_ratio: float = P(
        2.5, ge=0, le=10, unit="volunteer FTE / salaried FTE",
        source="calibrated: FACTS.md [volunteers] (1.425 M volunteer FTE for 1.6 M salaried FTE: the territory's "
        "ratio, which technicisation and governance below 1 reduce), by python -m simulation.calibrate",
        description="volunteers an organisation with full governance and no technicisation attracts per FTE",
    )
    volunteer_base_fte: float = P(
        1.0, ge=0, le=100, unit="FTE", source="assumption",
        description="volunteers an organisation attracts regardless of its staff",
    )
    volunteer_adjustment: float = P(
        0.1, ge=0, le=1, unit="share / quarter", source="assumption",
        description="speed at which volunteers move to their attracted level",
    )
    gifts_eur_per_volunteer_fte_quarter: float = P(
        2_100.0, ge=0, le=100_000, unit="EUR / volunteer FTE / quarter",
        source="calibrated: FACTS.md [resource-mix] (the resources neither subsidies nor earned revenue, 17 % in 2005 "
        "and 14 % in 2017; with organisation.gift_pass_through), by python -m simulation.calibrate",
        description="gifts, membership fees and other non-earned private resources an organisation raises per volunteer FTE",
    )
    initial_treasury_quarters: float = P(
        1.0, ge=0, le=20, unit="quarters of costs", source="assumption",
        description="treasury at start, in quarters of the organisation's costs",
    )
    hiring_adjustment: float = P(
        0.25, ge=0, le=1, unit="share / quarter", source="assumption",
        description="share of the gap between target and actual staff closed each quarter",
    )
    cash_buffer_quarters: float = P(
        0.25, ge=0, le=10, unit="quarters of wage cost", source="assumption",
        description="treasury an organisation wants before it hires",
    )
    min_staff_fte: float = P(
        0.5, ge=0, le=10, unit="FTE", source="assumption",
        description="an organisation whose staff falls below this closes (dissolution)",
    )
    exit_after_quarters: int = P(
        4, ge=1, le=100, unit="quarters", source="assumption",
        description="consecutive quarters of negative treasury before an organisation closes",
    )
    technicisation_adjustment: float = P(
        0.05, ge=0, le=1, unit="share / quarter", source="assumption",
        description="speed at which technicisation moves to its pressure level",
    )
    size_technicisation_fte: float = P(
        50.0, gt=0, le=10_000, unit="FTE", source="assumption",
        description="staff at which size alone pushes technicisation to one half",
    )
    governance_adjustment: float = P(
        0.05, ge=0, le=1, unit="share / quarter", source="assumption",
        description="speed at which democratic governance moves to its level",
    )
    technicisation_governance_erosion: float = P(
        0.5, ge=0, le=1, unit="governance lost per unit of technicisation",
        source="assumption after the seed text (technicisation 'au détriment de la gouvernance démocratique')",
        description="how much technicisation erodes democratic governance",
    )


# --------------------------------------------------------------------------- demand
class DemandParams(Frozen):
    need_hours_per_person_quarter: dict[str, dict[str, float]] = Field(
        default={
            "elderly": {"personal_services": 6.0, "employment": 0.0, "food": 1.0, "culture": 1.0, "eco_activities": 0.5},
            "families": {"personal_services": 2.0, "employment": 0.5, "food": 1.0, "culture": 1.5, "eco_activities": 1.0},
            "young": {"personal_services": 0.5, "employment": 1.5, "food": 0.5, "culture": 2.0, "eco_activities": 1.0},
            "jobseekers": {"personal_services": 0.5, "employment": 6.0, "food": 1.5, "culture": 0.5, "eco_activities": 1.0},
        },
        description="relative need profile by group and sector, rescaled at start so that "
        "initial capacity covers territory.initial_need_coverage of total need",
        json_schema_extra={"unit": "service hours / person / quarter (relative)", "source": "assumption"},
    )
    group_shares: dict[str, float] = Field(
        default={"elderly": 0.27, "families": 0.45, "young": 0.20, "jobseekers": 0.08},
        description="share of the population in each social group",
        json_schema_extra={"unit": "share of population", "source": "assumption (INSEE orders of magnitude)"},
    )
    paying_share: dict[str, float] = Field(
        default={"elderly": 0.5, "families": 0.6, "young": 0.3, "jobseekers": 0.0},
        description="share of a group's hours its beneficiaries pay for out of pocket (the rest is public, free at the point of use)",
        json_schema_extra={"unit": "share of hours", "source": "assumption, so that private sales are ~40 % of resources (FACTS.md [resource-mix])"},
    )
    need_growth_per_quarter: float = P(
        0.002, ge=-0.1, le=0.1, unit="share / quarter",
        source="assumption (needs redefined and growing, seed text)",
        description="trend growth of social needs",
    )
    distance_decay_km: float = P(
        10.0, ge=0.1, le=1000, unit="km", source="assumption (economy of proximity, seed text)",
        description="d0 in the proximity index exp(-d / d0)",
    )
    choice_temperature: float = P(
        0.3, ge=0, le=100, unit="utility units", source="assumption (McFadden logit)",
        description="logit temperature of beneficiaries' choice; 0 = deterministic best, large = random",
    )
    weight_proximity: float = P(1.0, ge=0, le=100, unit="utility / proximity index", source="assumption", description="weight of proximity in the choice of provider")
    weight_personalisation: float = P(1.0, ge=0, le=100, unit="utility / personalisation index", source="assumption", description="weight of personalisation in the choice of provider")
    weight_price: float = P(0.02, ge=0, le=100, unit="utility / EUR per hour paid", source="assumption", description="weight of the out-of-pocket price in the choice of provider")
    size_attraction: float = P(
        1.2, ge=0, le=3, unit="elasticity of choice to provider size",
        source="Huff (1963) spatial interaction model; calibrated: FACTS.md [assoc-size-dist], [assoc-budget-conc] (2017 size "
        "distribution and budget concentration), by python -m simulation.calibrate",
        description="alpha: beneficiaries choose a provider with probability proportional to its capacity**alpha (more staff, more "
        "places, more visibility); 0 = every provider of equal utility is asked for the same hours whatever its size",
    )
    rationing_rounds: int = P(3, ge=1, le=20, unit="rounds", source="assumption", description="rounds in which demand turned away flows to the next provider")

    @model_validator(mode="after")
    def _complete(self) -> DemandParams:
        for name, table in (("group_shares", self.group_shares), ("paying_share", self.paying_share)):
            if set(table) != set(GROUPS):
                raise ValueError(f"{name} must have exactly the groups {list(GROUPS)}")
            if any(not 0 <= v <= 1 for v in table.values()):
                raise ValueError(f"{name} values must be in [0, 1]")
        if abs(sum(self.group_shares.values()) - 1) > 1e-9:
            raise ValueError("group_shares must sum to 1")
        if set(self.need_hours_per_person_quarter) != set(GROUPS):
            raise ValueError(f"need_hours_per_person_quarter must have exactly the groups {list(GROUPS)}")
        for g, row in self.need_hours_per_person_quarter.items():
            # Relative profile (rescaled at start): 1e6 bounds it far from a float overflow.
            if set(row) != set(SECTORS) or any(not 0 <= v <= 1e6 for v in row.values()):
                raise ValueError(f"need_hours_per_person_quarter.{g} must give a value in [0, 1e6] for each sector {list(SECTORS)}")
        # With no need (or a vanishing one) there is nothing to scale the territory's need to (0 / 0).
        if sum(share * sum(self.need_hours_per_person_quarter[g].values()) for g, share in self.group_shares.items()) < 1e-6:
            raise ValueError("need_hours_per_person_quarter: the groups of group_shares above 0 need (almost) no hours; "
                             "give them some need (at least 1e-6 hours per person in all)")
        return self


# --------------------------------------------------------------------------- personalisation
class PersonalisationParams(Frozen):
    """Weights of the composite personalisation index (DESIGN.md 3b); normalised to sum 1."""

    weight_time: float = P(1.0, ge=0, le=100, unit="weight", source="assumption", description="staff time per beneficiary relative to need")
    weight_continuity: float = P(1.0, ge=0, le=100, unit="weight", source="assumption", description="same provider and same worker as last quarter")
    weight_standardisation: float = P(1.0, ge=0, le=100, unit="weight", source="assumption", description="1 - technicisation")
    weight_proximity: float = P(1.0, ge=0, le=100, unit="weight", source="assumption", description="distance decay between beneficiary and provider")
    weight_voice: float = P(1.0, ge=0, le=100, unit="weight", source="assumption", description="volunteer share and democratic governance")
    team_size_fte: float = P(
        10.0, gt=0, le=1000, unit="FTE",
        source="assumption: rota of a team; beyond it a beneficiary meets changing workers",
        description="staff up to which a beneficiary keeps the same worker",
    )
    anonymity_elasticity: float = P(
        0.3, ge=0, le=5, unit="dimensionless",
        source="assumption after the seed text ('rendre plus anonyme la relation de service')",
        description="elasticity of worker continuity to staff beyond the team size",
    )

    @model_validator(mode="after")
    def _some_weight(self) -> PersonalisationParams:
        if self.weight_time + self.weight_continuity + self.weight_standardisation + self.weight_proximity + self.weight_voice <= 0:
            raise ValueError("at least one personalisation weight must be positive")
        return self


# --------------------------------------------------------------------------- funding and regimes
class FundingParams(Frozen):
    public_budget_share_of_costs: float = P(
        0.5, ge=0, le=2, unit="share of initial ESS costs",
        source="FACTS.md [resource-mix]: public subsidies + orders = 51 % (2005) to 44 % (2017) of resources",
        description="public budget per quarter as a share of the ESS's initial quarterly costs",
    )
    insertion_exit_hazard_per_quarter: float = P(
        0.125, ge=0, le=1, unit="share / quarter", source="assumption (pathways of ~2 years)",
        description="share of insertion employees ending their pathway each quarter",
    )
    insertion_aid_eur_per_fte_quarter: float = P(
        2_700.0, ge=0, le=100_000, unit="EUR / insertion FTE / quarter",
        source="assumption: the State's aid per insertion post (aide au poste), here set to "
        "compensate the productivity gap (1 - insertion_productivity) x wage",
        description="State aid per insertion FTE, paid outside the territorial budget",
    )
    insertion_exit_to_job_rate: float = P(
        0.37, ge=0, le=1, unit="share of leavers",
        source="FACTS.md [iae-exit]: EI 37 % in employment 6 months after leaving",
        description="share of insertion leavers who find a mainstream job",
    )
    entry_rate: float = P(
        0.0775, ge=0, le=10, unit="new organisations / (new-organisation capacity of unmet need) / quarter",
        source="calibrated: FACTS.md [assoc-size-dist], [assoc-budget-conc] (2017 size distribution and budget "
        "concentration; emergence where needs are unmet, seed text), by python -m simulation.calibrate",
        description="entries per quarter per unit of unmet need the size of a new organisation",
    )
    entrant_fte: float = P(2.0, ge=0.1, le=100, unit="FTE", source="assumption (80 % below 10 employees, FACTS.md [assoc-size-dist])", description="staff of a new organisation")
    entrant_treasury_eur: float = P(20_000.0, ge=0, le=10_000_000, unit="EUR", source="assumption", description="founders' funds of a new organisation")


class AdministrativeRegime(Frozen):
    """Mixed economy of 1950-70s: planning, accreditation, formula grants (DESIGN.md 1)."""

    kind: Literal["administrative"] = "administrative"
    grant_share: float = P(
        0.67, ge=0, le=1, unit="share of public budget",
        source="FACTS.md [resource-mix] 2005: subsidies 34 % / orders 17 % of resources",
        description="share of public money paid as formula grants (the rest pays an administered tariff per public hour served)",
    )
    revision_interval_quarters: int = P(8, ge=1, le=100, unit="quarters", source="assumption (slow to adapt)", description="quarters between two revisions of the grant base and of the tariff")
    norm_technicisation: float = P(0.6, ge=0, le=1, unit="index", source="assumption", description="technicisation the compliance norms of accreditation impose")
    accreditation_delay_quarters: int = P(8, ge=0, le=100, unit="quarters", source="assumption", description="quarters a new organisation waits for accreditation")
    animation_funded_share: float = P(0.0, ge=0, le=1, unit="share of animation cost", source="assumption (no dedicated line)", description="share of PTCE animation cost the public funder pays, taken from the quarter's budget before the regime's envelopes")


class CompetitiveRegime(Frozen):
    """Deregulation of 1980-90s: calls for tender, MEAT award (DESIGN.md 1)."""

    kind: Literal["competitive"] = "competitive"
    grant_share: float = P(
        0.45, ge=0, le=1, unit="share of public budget",
        source="FACTS.md [resource-mix] 2017: subsidies 20 % / orders 24 % of resources",
        description="share of public money still paid as grants (the rest buys public orders)",
    )
    revision_interval_quarters: int = P(4, ge=1, le=100, unit="quarters", source="assumption", description="quarters between two revisions of the residual grant base")
    norm_technicisation: float = P(0.7, ge=0, le=1, unit="index", source="assumption (tender specifications)", description="technicisation the specifications of a won contract impose")
    accreditation_delay_quarters: int = P(0, ge=0, le=100, unit="quarters", source="assumption (open market)", description="quarters a new organisation waits for accreditation")
    animation_funded_share: float = P(0.0, ge=0, le=1, unit="share of animation cost", source="assumption (no dedicated line)", description="share of PTCE animation cost the public funder pays, taken from the quarter's budget before the regime's envelopes")
    contract_quarters: int = P(12, ge=1, le=100, unit="quarters", source="assumption (multi-year contracts)", description="length of a public-order contract")
    price_weight: float = P(0.6, ge=0, le=1, unit="share of score", source="DESIGN.md 3b (French practice 40-60 %)", description="weight of price in the MEAT score")
    bid_cost_eur: float = P(3_000.0, ge=0, le=1_000_000, unit="EUR / bid", source="assumption", description="cost of answering a call for tender")
    bid_radius_km: float = P(25.0, ge=0, le=10_000, unit="km", source="assumption", description="providers of the sector within this road distance of a lot bid for it")


class CooperativeRegime(Frozen):
    """Territorial cooperative regulation: co-construction, agreements, joint projects."""

    kind: Literal["cooperative"] = "cooperative"
    agreement_share: float = P(0.6, ge=0, le=1, unit="share of public budget", source="assumption", description="share of public money paid as multi-year agreements scored on social utility")
    project_share: float = P(0.25, ge=0, le=1, unit="share of public budget", source="assumption", description="share of public money funding joint projects of linked organisations")
    agreement_quarters: int = P(12, ge=1, le=100, unit="quarters", source="assumption (conventions pluriannuelles d'objectifs, 3 years)", description="length of an agreement")
    project_quarters: int = P(8, ge=1, le=100, unit="quarters", source="assumption", description="length of a joint project")
    project_eur_per_quarter: float = P(30_000.0, ge=1, le=10_000_000, unit="EUR / quarter", source="assumption (national PTCE call: 72-290 kEUR per winner, FACTS.md [ptce-count])", description="funding of one joint project")
    min_trust: float = P(0.3, ge=0, le=1, unit="trust", source="assumption", description="trust a tie needs for its two ends to propose a joint project")
    trust_gain_per_project_quarter: float = P(0.02, ge=0, le=1, unit="trust / quarter", source="assumption", description="trust a funded joint project adds to its tie each quarter")
    weight_results: float = P(1.0, ge=0, le=100, unit="weight", source="seed text (results, processes, impacts)", description="weight of results (service delivered / capacity) in social utility")
    weight_processes: float = P(1.0, ge=0, le=100, unit="weight", source="seed text", description="weight of processes (governance, volunteers) in social utility")
    weight_impacts: float = P(1.0, ge=0, le=100, unit="weight", source="seed text", description="weight of impacts (insertion exits, cooperation ties) in social utility")
    entry_support_eur: float = P(10_000.0, ge=0, le=1_000_000, unit="EUR / entrant", source="assumption", description="start-up support to a new organisation, from the agreement envelope")
    contract_quarters: int = P(12, ge=1, le=100, unit="quarters", source="assumption", description="length of a public-order contract")
    price_weight: float = P(0.4, ge=0, le=1, unit="share of score", source="DESIGN.md 3b", description="weight of price in the award of the remaining public orders")
    bid_cost_eur: float = P(1_000.0, ge=0, le=1_000_000, unit="EUR / bid", source="assumption", description="cost of answering a call")
    bid_radius_km: float = P(25.0, ge=0, le=10_000, unit="km", source="assumption", description="providers of the sector within this road distance of a lot bid for it")
    accreditation_delay_quarters: int = P(0, ge=0, le=100, unit="quarters", source="assumption", description="quarters a new organisation waits before public money")
    animation_funded_share: float = P(1.0, ge=0, le=1, unit="share of animation cost", source="issue 3: the cooperative regime funds PTCE animation", description="share of PTCE animation cost the public funder pays, taken from the quarter's budget before the regime's envelopes")

    @model_validator(mode="after")
    def _shares(self) -> CooperativeRegime:
        if self.agreement_share + self.project_share > 1:
            raise ValueError("agreement_share + project_share must be <= 1")
        return self


Regime = Annotated[
    AdministrativeRegime | CompetitiveRegime | CooperativeRegime, Field(discriminator="kind")
]


# --------------------------------------------------------------------------- shocks
class Uniform(Frozen):
    """A shock size or date drawn up front from the run's shock stream: uniform on [min, max]
    (whole numbers for quarters, each equally likely).  Written ``{min = 30, max = 50}``."""

    min: float = Field(description="lowest value")
    max: float = Field(description="highest value")

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if self.min > self.max:
            raise ValueError("min must be <= max")
        return self


@dataclass(frozen=True)
class DrawSpec:
    """Marks a shock field that may be fixed (a number) or drawn (a :class:`Uniform` table)."""

    integer: bool


def _fixed_or_drawn(value: Any) -> str:
    return "drawn" if isinstance(value, dict | Uniform) else "fixed"


def drawable(base: type, **bounds: Any) -> Any:
    """Type of a shock field given as a number within ``bounds`` or as ``{min, max}`` drawn
    uniformly; the union tags ``fixed`` / ``drawn`` are dropped from error paths."""

    def within(r: Uniform) -> Uniform:
        for name, v in (("min", r.min), ("max", r.max)):
            if ("ge" in bounds and v < bounds["ge"]) or ("le" in bounds and v > bounds["le"]):
                raise ValueError(f"{name} must be in [{bounds.get('ge')}, {bounds.get('le')}]")
        if base is int and (r.min != int(r.min) or r.max != int(r.max)):
            raise ValueError("min and max must be whole numbers")
        return r

    return Annotated[
        Annotated[Annotated[base, Field(**bounds)], Tag("fixed")]
        | Annotated[Annotated[Uniform, AfterValidator(within)], Tag("drawn")],
        Discriminator(_fixed_or_drawn),
        DrawSpec(integer=base is int),
    ]


StartQuarter = drawable(int, ge=0, le=10_000)
Quarters = drawable(int, ge=1, le=10_000)
RecoveryQuarters = drawable(int, ge=0, le=10_000)
ShareDrawn = drawable(float, ge=0, le=1)
RiseDrawn = drawable(float, ge=0, le=10)

_DRAWN = " (or drawn: {min, max})"


class BudgetCut(Frozen):
    """A share of the public budget is cut from `start` for `duration` quarters."""

    kind: Literal["budget_cut"] = "budget_cut"
    share: ShareDrawn = P(0.2, unit="share of budget", source="assumption", description="share of the public budget cut" + _DRAWN)
    start: StartQuarter = P(40, unit="quarter", source="assumption", description="first quarter of the cut" + _DRAWN)
    duration: Quarters = P(8, unit="quarters", source="assumption", description="quarters at full cut" + _DRAWN)
    recovery_quarters: RecoveryQuarters = P(4, unit="quarters", source="assumption", description="quarters of linear return to the full budget" + _DRAWN)


class NeedsSurge(Frozen):
    """Social needs of some groups and sectors rise by `rise` from `start`."""

    kind: Literal["needs_surge"] = "needs_surge"
    rise: RiseDrawn = P(0.3, unit="share of need", source="assumption", description="relative rise of needs" + _DRAWN)
    start: StartQuarter = P(40, unit="quarter", source="assumption", description="first quarter of the surge" + _DRAWN)
    duration: Quarters = P(8, unit="quarters", source="assumption", description="quarters at full surge" + _DRAWN)
    recovery_quarters: RecoveryQuarters = P(4, unit="quarters", source="assumption", description="quarters of linear return to trend" + _DRAWN)
    groups: list[Literal["elderly", "families", "young", "jobseekers"]] = Field(default=list(GROUPS), description="groups hit", json_schema_extra={"unit": "groups", "source": "assumption"})
    sectors: list[Literal["personal_services", "employment", "food", "culture", "eco_activities"]] = Field(default=list(SECTORS), description="sectors hit", json_schema_extra={"unit": "sectors", "source": "assumption"})


class EmployerClosure(Frozen):
    """A large local employer closes at `start`: jobs lost for good, jobseekers' needs up, paying demand down.

    Its laid-off workers add to the jobseekers of the municipalities around the site and
    their lost wages lower local paying demand (simulation.shocks)."""

    kind: Literal["employer_closure"] = "employer_closure"
    jobs_lost_share: ShareDrawn = P(1.0, unit="share of the employer's staff", source="assumption (1 = the whole site closes)", description="share of the closing employer's staff laid off" + _DRAWN)
    start: StartQuarter = P(40, unit="quarter", source="assumption", description="quarter of the closure" + _DRAWN)
    duration: Quarters = P(8, unit="quarters", source="assumption", description="quarters the laid-off workers weigh fully on needs and demand" + _DRAWN)
    recovery_quarters: RecoveryQuarters = P(8, unit="quarters", source="assumption", description="quarters of linear return of needs and demand as the laid-off find work or move away" + _DRAWN)
    municipality: int | None = P(None, ge=0, le=199, unit="municipality index", source="assumption", description="municipality of the closing employer; unset: any municipality")
    selection: Literal["staff_weighted", "largest"] = Field(
        "staff_weighted",
        description="which local employer closes: drawn with probability proportional to staff (shock stream), or the largest",
        json_schema_extra={"unit": "-", "source": "assumption"},
    )
    jobseekers_per_job_lost: RiseDrawn = P(1.0, unit="jobseekers / FTE lost", source="assumption (one laid-off worker per FTE)", description="new jobseekers per FTE lost" + _DRAWN)
    commute_km: float = P(10.0, ge=0, le=1_000, unit="km", source="assumption (the laid-off live around the site)", description="the laid-off live in each municipality in proportion to inhabitants x exp(-road km to the site / commute_km); 0: all in the site's municipality")
    market_demand_elasticity: RiseDrawn = P(1.0, unit="share of paying demand / (laid-off / inhabitants)", source="assumption (lost wages, about two inhabitants per job, local multiplier)", description="paying demand of a municipality falls by this times its laid-off residents over its inhabitants (at most all of it)" + _DRAWN)


class SupplyDisruption(Frozen):
    """Outside suppliers' prices jump by `cost_rise` for some sectors, from `start`.

    Only the part of purchased inputs bought from outside suppliers costs more
    (simulation.organisations.Provider.supply_surcharge_eur)."""

    kind: Literal["supply_disruption"] = "supply_disruption"
    cost_rise: RiseDrawn = P(0.5, unit="share of outside suppliers' prices", source="assumption", description="relative rise of outside suppliers' prices" + _DRAWN)
    start: StartQuarter = P(40, unit="quarter", source="assumption", description="first quarter of the disruption" + _DRAWN)
    duration: Quarters = P(4, unit="quarters", source="assumption", description="quarters at full disruption" + _DRAWN)
    recovery_quarters: RecoveryQuarters = P(4, unit="quarters", source="assumption", description="quarters of linear return to normal prices" + _DRAWN)
    sectors: list[Literal["personal_services", "employment", "food", "culture", "eco_activities"]] = Field(default=list(SECTORS), description="sectors whose outside suppliers are hit", json_schema_extra={"unit": "sectors", "source": "assumption"})


Shock = Annotated[BudgetCut | NeedsSurge | EmployerClosure | SupplyDisruption, Field(discriminator="kind")]
SHOCK_KINDS: tuple[str, ...] = ("budget_cut", "needs_surge", "employer_closure", "supply_disruption")


def shock_problems(shocks: list[Any], municipalities: int) -> list[str]:
    """Checks of the shocks against the rest of the scenario (used by Scenario's validator)."""
    return [
        f"shocks[{i}].municipality = {s.municipality} but the territory has {municipalities} municipalities (0..{municipalities - 1})"
        for i, s in enumerate(shocks)
        if isinstance(s, EmployerClosure) and s.municipality is not None and s.municipality >= municipalities
    ]


# --------------------------------------------------------------------------- concentration
class ConcentrationParams(Frozen):
    """Mergers within a sector: the concentration path of the seed text."""

    merger_attempt_per_year: float = P(0.15, ge=0, le=1, unit="probability / year", source="assumption", description="chance a year that an organisation choosing to concentrate looks for a merger partner")
    merger_radius_km: float = P(30.0, ge=0, le=10_000, unit="km", source="assumption", description="a merger partner is of the same sector within this road distance")
    governance_dilution: float = P(0.15, ge=0, le=1, unit="share of governance", source="seed text ('au détriment de la gouvernance démocratique'); size: assumption", description="share of democratic governance lost by the merged organisation (members become distant from decisions)")
    technicisation_rise: float = P(0.1, ge=0, le=1, unit="index", source="seed text ('techniciser l'activité'); size: assumption", description="rise of technicisation at a merger (harmonised procedures), toward 1")
    volunteer_loss: float = P(0.2, ge=0, le=1, unit="share of volunteers", source="seed text ('au détriment de l'apport volontaire des bénévoles'); size: assumption", description="share of the two organisations' volunteers who leave at a merger")


# --------------------------------------------------------------------------- cooperation (PTCE)
class CooperationParams(Frozen):
    """PTCE and the cooperation network: the cooperation path of the seed text."""

    forms: list[Literal["pooled_means", "conglomerate", "supply_chain", "development_agency", "solidarity"]] = Field(
        default=["pooled_means", "conglomerate", "supply_chain", "development_agency", "solidarity"],
        description="PTCE forms of the seed text that hubs may take (each when its members' composition or pooling depth allows)",
        json_schema_extra={"unit": "forms", "source": "seed text (five forms)"},
    )
    ptce_radius_km: float = P(20.0, ge=0, le=10_000, unit="km", source="assumption (a PTCE is territorial: a few neighbouring municipalities)", description="members of a PTCE are within this road distance of its seat")
    founding_members_min: int = P(3, ge=3, le=100, unit="legal persons", source="FACTS.md [ptce-law] (at least three legal persons)", description="members needed to found a PTCE (at least one ESS organisation and one firm outside the ESS)")
    join_per_quarter: float = P(0.25, ge=0, le=1, unit="probability / quarter", source="assumption", description="chance a quarter that a cooperating organisation outside a PTCE tries to join or found one")
    firm_join_probability: float = P(0.5, ge=0, le=1, unit="probability", source="assumption", description="chance that a nearby firm outside the ESS accepts to be a founding member")
    pooled_share_of_fixed_costs: float = P(0.4, ge=0, le=1, unit="share of fixed costs", source="assumption (premises and equipment in fixed costs)", description="share of a member's fixed costs (premises, equipment) that the PTCE pools; the pool costs f0 (sum Q)^beta")
    fund_contribution_share: float = P(0.1, ge=0, le=1, unit="share of surplus", source="assumption", description="share of a member's positive quarterly result paid into the PTCE treasury fund")
    joint_sales_utility: float = P(0.05, ge=0, le=10, unit="utility", source="assumption", description="visibility of members to paying beneficiaries (joint sales), times pooling depth, in the choice utility")
    animation_eur_per_member_quarter: float = P(1_500.0, ge=0, le=1_000_000, unit="EUR / member / quarter", source="assumption (one animator for ~15 members)", description="animation cost of a PTCE per member, before rigidity")
    coordination_cost_per_rigidity: float = P(1.0, ge=0, le=100, unit="share of animation cost", source="assumption (seed text: superstructures)", description="extra coordination cost per unit of rigidity, as a share of the animation cost")
    formalisation_target: float = P(0.6, ge=0, le=1, unit="index", source="assumption", description="formalisation a PTCE tends to with age and pooled projects")
    formalisation_speed: float = P(0.05, ge=0, le=1, unit="share / quarter", source="assumption", description="speed at which formalisation moves to its target")
    rigidity_half_size: float = P(15.0, gt=0, le=10_000, unit="members", source="calibrated: FACTS.md [ptce-size] about 15 members", description="membership at which rigidity is half the formalisation: r = f n / (n + n_half)")
    rigidity_exit_threshold: float = P(0.3, ge=0, le=1, unit="index", source="calibrated: FACTS.md [ptce-size]", description="rigidity above which members start leaving")
    rigidity_exit_rate: float = P(0.5, ge=0, le=1, unit="probability / quarter", source="assumption", description="quarterly exit chance of a member when rigidity is 1 (linear above the threshold)")
    depth_growth_per_quarter: float = P(0.05, ge=0, le=1, unit="share / quarter", source="assumption", description="speed at which project pooling depth grows with members' mutual trust: d' = d + g trust (1 - d)")
    project_depth_threshold: float = P(0.3, ge=0, le=1, unit="depth", source="seed text (from cohabitation to pooled projects); threshold: assumption", description="pooling depth from which members run joint projects, a development agency and internalised solidarity")
    integration_pathway_rate: float = P(0.3, ge=0, le=1, unit="share of insertion leavers", source="seed text (parcours d'insertion); size: assumption", description="extra share of insertion leavers hired into members' mainstream jobs in a conglomerate PTCE, times depth")
    supply_internalisation: float = P(0.6, ge=0, le=1, unit="share of purchases", source="seed text (filières: moins dépendante des acteurs extérieurs); size: assumption", description="share of purchases a supply-chain PTCE moves from outside suppliers to members, times depth")
    agency_funding_eur_per_quarter: float = P(5_000.0, ge=0, le=10_000_000, unit="EUR / quarter", source="assumption (national PTCE calls, FACTS.md [ptce-count])", description="outside (national, foundation) funding a development-agency PTCE attracts, times depth")
    agency_entry_boost: float = P(0.5, ge=0, le=10, unit="share of entry rate", source="assumption", description="extra entry rate where a development-agency PTCE sits, times depth")
    solidarity_surcharge: float = P(0.05, ge=0, le=1, unit="share of price", source="seed text (internalisation de la solidarité); size: assumption", description="surcharge on paying beneficiaries' price that funds free hours for other groups, in a solidarity PTCE")
    governance_support: float = P(0.1, ge=0, le=1, unit="governance", source="DESIGN.md 3.6 (multi-stakeholder governance raises it); size: assumption", description="rise of a member's democratic governance level in a PTCE, times depth")
    trust_gain_per_quarter: float = P(0.03, ge=0, le=1, unit="trust / quarter", source="assumption", description="trust a tie gains in a quarter of successful cooperation (co-members of a PTCE both without a deficit)")
    trust_decay_per_quarter: float = P(0.01, ge=0, le=1, unit="trust / quarter", source="assumption", description="trust a tie loses in a quarter without successful cooperation")
    tie_drop_trust: float = P(0.05, ge=0, le=1, unit="trust", source="assumption", description="a tie whose trust falls below this is dropped")
    comember_tie_trust: float = P(0.2, ge=0, le=1, unit="trust", source="assumption", description="trust of a new tie between members of the same PTCE")
    spillover_max: float = P(0.05, ge=0, le=1, unit="share of productivity", source="seed text (rendements croissants des pratiques collaboratives); size: assumption", description="largest productivity gain from knowledge spillovers of the cooperation network")
    spillover_trust_scale: float = P(2.0, gt=0, le=100, unit="trust", source="assumption", description="summed trust of an organisation's ties at which the spillover reaches 63 % of its maximum")


# --------------------------------------------------------------------------- strategy
class StrategyParams(Frozen):
    """How organisations choose between independence, concentration and cooperation (ODD+D)."""

    policy: Literal["endogenous", "concentrate", "cooperate", "independent"] = Field(
        "endogenous",
        description="endogenous: each organisation chooses yearly; otherwise every organisation is forced to this strategy",
        json_schema_extra={"unit": "-", "source": "issue 3"},
    )
    weight_payoff: float = P(10.0, ge=0, le=1_000, unit="utility / share of costs", source="assumption", description="weight of the expected gain (share of quarterly costs) of a strategy")
    weight_mission: float = P(1.0, ge=0, le=1_000, unit="utility", source="seed text (personalisation, autonomy); size: assumption", description="weight of mission values (personalisation, autonomy), times the organisation's governance")
    weight_imitation: float = P(5.0, ge=0, le=1_000, unit="utility / share of costs", source="DESIGN.md 3b (replicator-like imitation); size: assumption", description="weight of the results of peers who follow a strategy")
    switching_cost: float = P(0.5, ge=0, le=1_000, unit="utility", source="assumption (inertia)", description="utility lost by changing strategy")
    temperature: float = P(1.0, ge=0, le=1_000, unit="utility", source="DESIGN.md 3b (logit)", description="logit temperature of the strategy choice (0 = best choice)")


# --------------------------------------------------------------------------- scenario
class Scenario(Frozen):
    """One territory, one regime, one horizon: everything a run needs but its seed."""

    name: str = Field("baseline", description="scenario name", json_schema_extra={"unit": "-", "source": "-"})
    description: str = Field("", description="what the scenario is for", json_schema_extra={"unit": "-", "source": "-"})
    steps: int = P(100, ge=1, le=10_000, unit="quarters", source="DESIGN.md 2 (25 years)", description="horizon of a run")
    seed: int = P(12345, ge=0, le=2**63 - 1, unit="-", source="-", description="default seed of a run when none is given")
    territory: TerritoryParams = TerritoryParams()
    organisation: OrganisationParams = OrganisationParams()
    demand: DemandParams = DemandParams()
    personalisation: PersonalisationParams = PersonalisationParams()
    funding: FundingParams = FundingParams()
    regime: Regime = AdministrativeRegime()
    concentration: ConcentrationParams = ConcentrationParams()
    cooperation: CooperationParams = CooperationParams()
    strategy: StrategyParams = StrategyParams()
    shocks: list[Shock] = Field(default_factory=list, description="shocks of the run", json_schema_extra={"unit": "-", "source": "-"})

    @model_validator(mode="after")
    def _shocks_fit(self) -> Scenario:
        problems = shock_problems(self.shocks, self.territory.municipalities)
        if problems:
            raise ValueError(problems[0])
        return self
    batch: BatchSpec | None = Field(None, description="batch plan read by `ptce batch` (axes, ranges, replicates, master seed; simulation.batchspec.BatchSpec); ignored by `ptce run`", json_schema_extra={"unit": "-", "source": "-"})


# --------------------------------------------------------------------------- loading
class ScenarioError(Exception):
    """A user error in a scenario file or an override: one line, names file and field."""

    def __init__(self, message: str) -> None:
        # One line whatever it quotes (a key or a path may hold a newline).
        super().__init__(_one_line(str(message)))


def _parse_value(text: str) -> Any:
    """Read an override value as TOML (numbers, booleans, strings, lists); bare words stay strings."""
    try:
        parsed = tomllib.loads(f"v = {text}")
    except (ValueError, RecursionError):  # not TOML (TOMLDecodeError), too many digits, nested too deeply
        return text
    # "1\nsteps = 5" would parse as two keys: a value is one TOML value or a plain string.
    return parsed["v"] if len(parsed) == 1 else text


def _set_dotted(data: dict[str, Any], key: str, value: Any, source: str) -> None:
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise ScenarioError(f"{source}: bad override key {key!r}")
    node = data
    for p in parts[:-1]:
        child = node.setdefault(p, {})
        if not isinstance(child, dict):
            raise ScenarioError(f"{source}: {key}: {p} is not a table")
        node = child
    node[parts[-1]] = value


def _one_line(text: str) -> str:
    """A message on one printable line: control characters (a newline in a quoted TOML key
    or value, a tab) are written as escapes, so an error is always a single line."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    """Keys the schema accepts in the table at ``loc`` (a pydantic error location without
    its last item): walks Scenario through nested models, lists, dicts and the tagged
    unions (regime kinds, shock kinds, fixed/drawn shock values)."""
    import types
    import typing

    def flat(tp: Any) -> list[Any]:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            return flat(typing.get_args(tp)[0])
        if origin in (typing.Union, types.UnionType):
            return [c for a in typing.get_args(tp) for c in flat(a)]
        return [tp]

    current: list[Any] = [Scenario]
    for step in loc:
        found: list[Any] = []
        for tp in (c for t in current for c in flat(t)):
            origin = typing.get_origin(tp)
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                kind = tp.model_fields.get("kind")
                if isinstance(step, str) and step in tp.model_fields:
                    found.append(tp.model_fields[step].annotation)
                elif kind is not None and kind.default == step:
                    found.append(tp)  # the union tag pydantic puts in the path
                elif step == "drawn" and tp is Uniform:
                    found.append(tp)
            elif origin is list and isinstance(step, int):
                found.append(typing.get_args(tp)[0])
            elif origin is dict:
                found.append(typing.get_args(tp)[1])
        current = found
    keys = [k for t in current for c in flat(t) if isinstance(c, type) and issubclass(c, BaseModel) for k in c.model_fields]
    return list(dict.fromkeys(keys))


def _format_error(source: str, err: ValidationError) -> str:
    """One line naming the file and the field: ``source: field.path: message``; an
    unknown key gets the closest valid key of its table (difflib), if any is close."""
    import difflib

    errors = err.errors()
    # An unknown key first: it often explains the others (a misspelt required key is both).
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    # Drop pydantic's union-tag and validator steps from the path: users wrote regime.x.
    tags = {"administrative", "competitive", "cooperative", *SHOCK_KINDS, "fixed", "drawn"}
    where = ".".join(str(p) for p in first["loc"] if p not in tags and not str(p).startswith("function-")) or "(top)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
        key = first["loc"][-1]
        if isinstance(key, str):
            try:
                known = _known_keys(tuple(first["loc"][:-1]))
            except Exception:  # a hint only: never let it hide the error itself
                known = []
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            if close:
                msg += f" (did you mean {close[0]}?)"
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return _one_line(f"{source}: {where}: {msg}{more}")


def load_scenario(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load a TOML scenario file, apply dotted overrides, validate.

    ``overrides`` maps dotted keys to values, e.g. ``{"regime.kind": "competitive",
    "territory.organisations": 50}``; string values are read as TOML, so ``"50"`` is 50.
    Changing ``regime.kind`` drops the other regime's keys so that the new regime
    starts from its own defaults.  Raises :class:`ScenarioError` with one line naming the
    file and the field on any bad input.
    """
    source = str(path) if path is not None else "<defaults>"
    data: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ScenarioError(f"{source}: file not found") from None
        except IsADirectoryError:
            raise ScenarioError(f"{source}: is a directory, not a scenario file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(f"{source}: cannot read: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{source}: not valid TOML: {exc}") from None
        except RecursionError:  # tomllib recurses into nested arrays and inline tables
            raise ScenarioError(f"{source}: not valid TOML: arrays or tables nested too deeply") from None
        except ValueError:  # Python refuses to read an integer of more than 4300 digits
            raise ScenarioError(f"{source}: not valid TOML: a number has too many digits") from None
    for key, value in (overrides or {}).items():
        if isinstance(value, str):
            value = _parse_value(value)
        if key == "regime.kind":
            regime = data.get("regime")
            if isinstance(regime, dict) and regime.get("kind", "administrative") != value:
                data["regime"] = {}
        _set_dotted(data, key, value, f"{source} --set")
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_format_error(source, err)) from None


def parameter_table(model: type[BaseModel] = Scenario, prefix: str = "") -> list[dict[str, Any]]:
    """Every leaf parameter as a row: path, default, unit, source, description (for ODD.md)."""
    rows: list[dict[str, Any]] = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        path = f"{prefix}{name}"
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            rows.extend(parameter_table(ann, path + "."))
            continue
        extra = field.json_schema_extra or {}
        rows.append({
            "path": path,
            "default": field.get_default(call_default_factory=True),
            "unit": extra.get("unit", "-"),
            "source": extra.get("source", "-"),
            "description": field.description or "",
        })
    return rows
