"""Typed, validated parameters of a scenario, and the one function that loads them.

Every field carries its bounds, its unit, a description and a source (a tag of
``shared/FACTS.md`` or the word ``assumption``) in ``json_schema_extra``; the ODD
parameter table and the command line read them from here, so each default is written
once (STYLE.md).  All models are frozen and forbid unknown keys, so a misspelt key in a
scenario file is an error, never a silent default.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


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
        3.35, gt=0, le=100, unit="establishments / 1,000 inhabitants",
        source="FACTS.md [ess-size-2013]: 221,325 establishments for ~66 M inhabitants",
        description="sets the population from the number of organisations",
    )
    share_below_10_employees: float = P(
        0.80, gt=0, lt=1, unit="share of organisations", source="FACTS.md [assoc-size-dist]",
        description="share of organisations with fewer than 10 employees at start",
    )
    share_above_50_employees: float = P(
        0.05, gt=0, lt=1, unit="share of organisations", source="FACTS.md [assoc-size-dist]",
        description="share of organisations with more than 50 employees at start",
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
        0.9, gt=0, le=2, unit="capacity / need",
        source="assumption: needs are scaled so initial capacity covers this share of them",
        description="ratio of initial service capacity to total need",
    )

    @model_validator(mode="after")
    def _size_shares(self) -> TerritoryParams:
        if self.share_below_10_employees + self.share_above_50_employees >= 1:
            raise ValueError("share_below_10_employees + share_above_50_employees must be < 1")
        return self


# --------------------------------------------------------------------------- organisations
class OrganisationParams(Frozen):
    wage_eur_per_fte_quarter: float = P(
        9_000.0, gt=0, le=100_000, unit="EUR / FTE / quarter",
        source="assumption (~36 kEUR loaded annual cost of an ESS job)",
        description="labour cost of one FTE for a quarter",
    )
    service_hours_per_fte_quarter: float = P(
        350.0, gt=0, le=600, unit="service hours / FTE / quarter",
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
    price_margin: float = P(
        0.05, ge=0, le=1, unit="share of unit cost", source="assumption",
        description="margin over unit cost in an ESS organisation's price",
    )
    firm_markup: float = P(
        0.15, ge=0, le=2, unit="share of unit cost", source="assumption",
        description="markup over unit cost in a for-profit firm's price",
    )
    volunteer_ratio: float = P(
        0.9, ge=0, le=10, unit="volunteer FTE / salaried FTE",
        source="FACTS.md [volunteers]: 1.425 M volunteer FTE for 1.6 M salaried FTE",
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
        600.0, ge=0, le=100_000, unit="EUR / volunteer FTE / quarter",
        source="assumption (gifts ~5 % of resources, FACTS.md [resource-mix] remainder)",
        description="donations an organisation raises per volunteer FTE",
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
        10.0, gt=0, le=1000, unit="km", source="assumption (economy of proximity, seed text)",
        description="d0 in the proximity index exp(-d / d0)",
    )
    choice_temperature: float = P(
        0.3, ge=0, le=100, unit="utility units", source="assumption (McFadden logit)",
        description="logit temperature of beneficiaries' choice; 0 = deterministic best, large = random",
    )
    weight_proximity: float = P(1.0, ge=0, le=100, unit="utility / proximity index", source="assumption", description="weight of proximity in the choice of provider")
    weight_personalisation: float = P(1.0, ge=0, le=100, unit="utility / personalisation index", source="assumption", description="weight of personalisation in the choice of provider")
    weight_price: float = P(0.02, ge=0, le=100, unit="utility / EUR per hour paid", source="assumption", description="weight of the out-of-pocket price in the choice of provider")
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
            if set(row) != set(SECTORS) or any(v < 0 for v in row.values()):
                raise ValueError(f"need_hours_per_person_quarter.{g} must give a value >= 0 for each sector {list(SECTORS)}")
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
        0.005, ge=0, le=10, unit="new organisations / (new-organisation capacity of unmet need) / quarter",
        source="assumption (emergence where needs are unmet, seed text)",
        description="entries per quarter per unit of unmet need the size of a new organisation",
    )
    entrant_fte: float = P(2.0, gt=0, le=100, unit="FTE", source="assumption (80 % below 10 employees, FACTS.md [assoc-size-dist])", description="staff of a new organisation")
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
    project_eur_per_quarter: float = P(30_000.0, gt=0, le=10_000_000, unit="EUR / quarter", source="assumption (national PTCE call: 72-290 kEUR per winner, FACTS.md [ptce-count])", description="funding of one joint project")
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

    @model_validator(mode="after")
    def _shares(self) -> CooperativeRegime:
        if self.agreement_share + self.project_share > 1:
            raise ValueError("agreement_share + project_share must be <= 1")
        return self


Regime = Annotated[
    AdministrativeRegime | CompetitiveRegime | CooperativeRegime, Field(discriminator="kind")
]


# --------------------------------------------------------------------------- shocks
class BudgetCut(Frozen):
    """A share of the public budget is cut from `start` for `duration` quarters."""

    kind: Literal["budget_cut"] = "budget_cut"
    share: float = P(0.2, ge=0, le=1, unit="share of budget", source="assumption", description="share of the public budget cut")
    start: int = P(40, ge=0, le=10_000, unit="quarter", source="assumption", description="first quarter of the cut")
    duration: int = P(8, ge=1, le=10_000, unit="quarters", source="assumption", description="quarters at full cut")
    recovery_quarters: int = P(4, ge=0, le=10_000, unit="quarters", source="assumption", description="quarters of linear return to the full budget")


class NeedsSurge(Frozen):
    """Social needs of some groups and sectors rise by `rise` from `start`."""

    kind: Literal["needs_surge"] = "needs_surge"
    rise: float = P(0.3, ge=0, le=10, unit="share of need", source="assumption", description="relative rise of needs")
    start: int = P(40, ge=0, le=10_000, unit="quarter", source="assumption", description="first quarter of the surge")
    duration: int = P(8, ge=1, le=10_000, unit="quarters", source="assumption", description="quarters at full surge")
    recovery_quarters: int = P(4, ge=0, le=10_000, unit="quarters", source="assumption", description="quarters of linear return to trend")
    groups: list[Literal["elderly", "families", "young", "jobseekers"]] = Field(default=list(GROUPS), description="groups hit", json_schema_extra={"unit": "groups", "source": "assumption"})
    sectors: list[Literal["personal_services", "employment", "food", "culture", "eco_activities"]] = Field(default=list(SECTORS), description="sectors hit", json_schema_extra={"unit": "sectors", "source": "assumption"})


Shock = Annotated[BudgetCut | NeedsSurge, Field(discriminator="kind")]


# --------------------------------------------------------------------------- strategy
class StrategyParams(Frozen):
    """How organisations choose between independence, concentration and cooperation."""

    policy: Literal["endogenous", "concentrate", "cooperate", "independent"] = Field(
        "endogenous",
        description="endogenous: each organisation chooses yearly; otherwise every organisation is forced to this strategy",
        json_schema_extra={"unit": "-", "source": "issue 3"},
    )


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
    strategy: StrategyParams = StrategyParams()
    shocks: list[Shock] = Field(default_factory=list, description="shocks of the run", json_schema_extra={"unit": "-", "source": "-"})


# --------------------------------------------------------------------------- loading
class ScenarioError(Exception):
    """A user error in a scenario file or an override: one line, names file and field."""


def _parse_value(text: str) -> Any:
    """Read an override value as TOML (numbers, booleans, strings, lists); bare words stay strings."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


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


def _format_error(source: str, err: ValidationError) -> str:
    first = err.errors()[0]
    # Drop pydantic's union-tag and validator steps from the path: users wrote regime.x.
    tags = {"administrative", "competitive", "cooperative", "budget_cut", "needs_surge"}
    where = ".".join(str(p) for p in first["loc"] if p not in tags and not str(p).startswith("function-")) or "(top)"
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{source}: {where}: {msg}{more}"


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
