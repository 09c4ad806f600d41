"""The interactive page: one live territory in Mesa's SolaraViz (``ptce viz``).

``ptce viz [SCENARIO.toml]`` runs ``solara run`` on this module with the scenario's path
in the environment variable ``PTCE_VIZ_SCENARIO``; ``solara run simulation/app.py`` works
too (defaults of :mod:`simulation.params` when the variable is unset).

Controls are generated from the pydantic schema of :mod:`simulation.params`: bounds
(``ge``/``gt``/``le``/``lt``), units and enumerations are read from the fields, values
from the loaded scenario (so the page starts on the file's territory).  Pressing Mesa's
*Reset* builds a new model from the control values through :func:`load_scenario` with
dotted overrides, exactly as ``ptce run --set`` does.  There is no model logic here.
"""

from __future__ import annotations

import math
import os
import textwrap
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import annotated_types
import matplotlib as mpl
import networkx as nx
import numpy as np
import solara
from matplotlib.figure import Figure
from mesa.visualization import Slider, SolaraViz
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from simulation import i18n, plotting
from simulation.cli import VIZ_SCENARIO_ENV
from simulation.metrics import METRICS
from simulation.model import TerritoryModel
from simulation.params import Scenario, ScenarioError, load_scenario


# --------------------------------------------------------------------------- controls from the schema
@dataclass(frozen=True)
class NumericControl:
    """A slider over one numeric parameter.  Bounds come from the schema; ``ui_min`` and
    ``ui_max`` may only narrow them, so that a live page stays responsive (a territory of
    20,000 organisations is a batch job, not something to watch quarter by quarter)."""

    path: str
    label: str
    ui_min: float | None = None
    ui_max: float | None = None


NUMERIC_CONTROLS: tuple[NumericControl, ...] = (
    NumericControl("steps", "horizon", ui_max=200),
    NumericControl("territory.organisations", "ESS organisations at start", ui_max=1000),
    NumericControl("territory.municipalities", "municipalities", ui_max=40),
    NumericControl("territory.initial_ties_per_organisation", "cooperation ties per organisation at start", ui_max=10),
    NumericControl("funding.public_budget_share_of_costs", "public budget"),
    NumericControl("funding.entry_rate", "entry rate", ui_max=0.05),
    NumericControl("demand.need_growth_per_quarter", "growth of needs", ui_min=-0.02, ui_max=0.02),
    NumericControl("demand.choice_temperature", "randomness of beneficiaries' choice", ui_max=2),
    NumericControl("organisation.hiring_adjustment", "hiring speed"),
    NumericControl("organisation.volunteer_ratio", "volunteers per salaried FTE", ui_max=3),
)
"""The most useful numeric parameters to move while watching a territory (curated list;
everything else stays as in the scenario file)."""

CHOICE_CONTROLS: tuple[tuple[str, str], ...] = (
    ("regime.kind", "coordination regime"),
    ("strategy.policy", "strategy of organisations"),
)
"""Enumerated parameters shown as selectors; their values are the schema's Literal values."""

SHOCK_CONTROL = "shock"
SHOCK_AS_SCENARIO = "as in the scenario file"
SHOCK_NONE = "none"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside an annotation (a model, a union of them, a list of them)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, typing.Annotated):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def schema_fields(path: str) -> list[FieldInfo]:
    """The pydantic field(s) behind a dotted path; several when the path crosses a union
    (``regime.kind`` is a field of each of the three regime models)."""
    models: list[type[BaseModel]] = [Scenario]
    *heads, leaf = path.split(".")
    for head in heads:
        models = [m for model in models if head in model.model_fields for m in _models_in(model.model_fields[head].annotation)]
    fields = [model.model_fields[leaf] for model in models if leaf in model.model_fields]
    if not fields:
        raise KeyError(f"{path}: not a parameter of simulation.params.Scenario")
    return fields


def schema_bounds(field: FieldInfo) -> tuple[float | None, bool, float | None, bool]:
    """(lower, lower_is_strict, upper, upper_is_strict) from the field's constraints."""
    lo = hi = None
    lo_strict = hi_strict = False
    for m in field.metadata:
        if isinstance(m, annotated_types.Ge):
            lo, lo_strict = m.ge, False
        elif isinstance(m, annotated_types.Gt):
            lo, lo_strict = m.gt, True
        elif isinstance(m, annotated_types.Le):
            hi, hi_strict = m.le, False
        elif isinstance(m, annotated_types.Lt):
            hi, hi_strict = m.lt, True
    return lo, lo_strict, hi, hi_strict


def schema_choices(path: str) -> list[str]:
    """The values a Literal-typed parameter admits, in schema order."""
    values: list[str] = []
    for field in schema_fields(path):
        if typing.get_origin(field.annotation) is not typing.Literal:
            raise TypeError(f"{path}: not an enumerated parameter")
        values.extend(v for v in typing.get_args(field.annotation) if v not in values)
    return values


def scenario_value(scenario: Scenario, path: str) -> Any:
    node: Any = scenario
    for part in path.split("."):
        node = getattr(node, part)
    return node


def _nice_step(span: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about 100 positions."""
    raw = span / 100
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        if raw <= mult * power:
            return mult * power
    return 10 * power


def slider_for(control: NumericControl, scenario: Scenario) -> Slider:
    (field,) = schema_fields(control.path)
    is_int = field.annotation is int
    lo, lo_strict, hi, hi_strict = schema_bounds(field)
    if lo is None or hi is None:
        raise ValueError(f"{control.path}: a slider needs both bounds in the schema")
    if control.ui_min is not None:
        if control.ui_min < lo:
            raise ValueError(f"{control.path}: ui_min {control.ui_min} is below the schema bound {lo}")
        lo, lo_strict = control.ui_min, False
    if control.ui_max is not None:
        if control.ui_max > hi:
            raise ValueError(f"{control.path}: ui_max {control.ui_max} is above the schema bound {hi}")
        hi, hi_strict = control.ui_max, False
    step = 1 if is_int else _nice_step(hi - lo)
    if lo_strict:
        lo = lo + step
    if hi_strict:
        hi = hi - step
    value = scenario_value(scenario, control.path)
    # A scenario file may sit outside the page's narrowed range: widen it, never clip the file.
    lo, hi = min(lo, value), max(hi, value)
    unit = (field.json_schema_extra or {}).get("unit", "-")
    # The unit joins the label when it is short and not already said (long units wrap badly).
    label = control.label if unit in ("-", "") or unit in control.label or len(unit) > 24 else f"{control.label} ({unit})"
    if is_int:
        return Slider(label, value=int(value), min=int(lo), max=int(hi), step=1, dtype=int)
    return Slider(label, value=float(value), min=float(lo), max=float(hi), step=float(step), dtype=float)


def model_params(scenario_file: str | Path | None = None) -> dict[str, Any]:
    """Mesa ``model_params`` for :class:`LiveTerritory`: keys are the dotted paths of
    :func:`load_scenario` overrides (plus ``scenario_file``, fixed, and ``shock``)."""
    scenario = load_scenario(scenario_file)
    params: dict[str, Any] = {"scenario_file": None if scenario_file is None else str(scenario_file)}
    for path, label in CHOICE_CONTROLS:
        params[path] = {"type": "Select", "label": label, "value": scenario_value(scenario, path), "values": schema_choices(path)}
    shock_kinds: list[str] = []
    for model in _models_in(Scenario.model_fields["shocks"].annotation):
        shock_kinds.extend(typing.get_args(model.model_fields["kind"].annotation))
    params[SHOCK_CONTROL] = {
        "type": "Select", "label": "shock (on its defaults in simulation/params.py)",
        "value": SHOCK_AS_SCENARIO, "values": [SHOCK_AS_SCENARIO, SHOCK_NONE, *shock_kinds],
    }
    params["seed"] = {"type": "InputText", "label": "seed", "value": str(scenario.seed)}
    for control in NUMERIC_CONTROLS:
        params[control.path] = slider_for(control, scenario)
    return params


def overrides_from_controls(controls: dict[str, Any]) -> dict[str, Any]:
    """Control values -> dotted overrides of :func:`load_scenario`."""
    out = {k: v for k, v in controls.items() if k != SHOCK_CONTROL}
    shock = controls.get(SHOCK_CONTROL, SHOCK_AS_SCENARIO)
    if shock == SHOCK_NONE:
        out["shocks"] = []
    elif shock != SHOCK_AS_SCENARIO:
        out["shocks"] = [{"kind": shock}]
    return out


# --------------------------------------------------------------------------- the live model
class LiveTerritory(TerritoryModel):
    """A :class:`TerritoryModel` built from control values, as Mesa's *Reset* calls it.

    Mesa re-instantiates the model with the controls as keyword arguments, so the dotted
    keys arrive in ``**controls``.  A bad combination (say a seed that is not a number)
    does not crash the page: the scenario file is used as it is and the error is shown.
    """

    def __init__(self, scenario_file: str | None = None, **controls: Any) -> None:
        # Mesa's ModelController adds its own ``mesa.experimental.scenarios.Scenario`` to
        # any model whose __init__ takes **kwargs; ours is built from the controls instead.
        controls.pop("scenario", None)
        self.control_error = ""
        try:
            scenario = load_scenario(scenario_file, overrides_from_controls(controls))
        except ScenarioError as exc:
            self.control_error = f"{exc} (kept the scenario file's values)"
            scenario = load_scenario(scenario_file)
        super().__init__(scenario, rng=scenario.seed)

    def step(self) -> None:
        super().step()
        # Shock paths are drawn for the scenario's horizon: stop there (Mesa greys out Step).
        self.running = self.steps < self.config.steps


# --------------------------------------------------------------------------- views
# The page speaks the visual language of simulation.plotting (regime colours, resource
# colours, network drawing), so a chart on the page looks like the same chart in a report.
def _windows(model: TerritoryModel) -> list[tuple[str, int, int]]:
    return list(getattr(model.shocks, "windows", []) or [])


def _shade(ax, model: TerritoryModel) -> None:
    # windows are 0-based quarter indices; the time series' step is the index + 1
    for _kind, first, last in _windows(model):
        ax.axvspan(first + 0.5, last + 1.5, color="#BBBBBB", alpha=0.35, linewidth=0, zorder=0)


def _finish(ax, model: TerritoryModel, title: str, ylabel: str) -> None:
    ax.set_title(title, loc="left")
    ax.set_ylabel(ylabel)
    ax.set_xlabel("quarter")
    ax.set_xlim(0.5, max(model.config.steps, 1) + 0.5)
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True, nbins=6))
    _shade(ax, model)


def series_chart(metric: str, title: str, ylabel: str):
    """A live line chart of one METRICS column against the quarter, in the regime's colour."""

    def SeriesChart(model: TerritoryModel):
        df = model.datacollector.get_model_vars_dataframe()
        with mpl.rc_context(plotting.RC):
            fig = Figure(figsize=(5.5, 3.6), layout="constrained")
            ax = fig.subplots()
            style = plotting.regime_style(model.config.regime.kind)
            if len(df):
                ax.plot(df["step"], df[metric], color=style["color"], linestyle=style["linestyle"], marker=style["marker"],
                        markersize=3, label=model.config.regime.kind)
            _finish(ax, model, title, ylabel)
        return solara.FigureMatplotlib(fig, format="png")

    SeriesChart.__name__ = f"SeriesChart_{metric}"
    return SeriesChart


def ResourceMix(model: TerritoryModel):
    """Stacked shares of ESS revenue by quarter; gifts are the remainder (metrics.py)."""
    df = model.datacollector.get_model_vars_dataframe()
    cols = [*plotting.RESOURCE_COLUMNS, "gifts_share"]
    with mpl.rc_context(plotting.RC):
        fig = Figure(figsize=(5.5, 3.6), layout="constrained")
        ax = fig.subplots()
        if len(df):
            shares = [df[c].to_numpy() * 100 for c in plotting.RESOURCE_COLUMNS]
            gifts = np.clip(100.0 - np.sum(shares, axis=0), 0.0, 100.0)
            ax.stackplot(df["step"], *shares, gifts, colors=[plotting.RESOURCE_STYLE[c]["color"] for c in cols],
                         hatch=[plotting.RESOURCE_STYLE[c]["hatch"] for c in cols], edgecolor="white", linewidth=0.5,
                         labels=[i18n.RESOURCES[c]["en"] for c in cols])
            ax.legend(loc="lower left", fontsize=7, framealpha=0.8)
        ax.set_ylim(0, 100)
        ax.grid(False)
        _finish(ax, model, "Resource mix of ESS organisations", "% of ESS revenue")
    return solara.FigureMatplotlib(fig, format="png")


def CooperationNetwork(model: TerritoryModel):
    """The cooperation network now (plotting.plot_network: sector colours, size ~ staff,
    PTCE members outlined), with its density and clustering among ESS organisations."""
    graph = model.network_graph()
    ess = graph.subgraph(n for n, d in graph.nodes(data=True) if d.get("is_ess", True))
    density = nx.density(ess) if ess.number_of_nodes() > 1 else 0.0
    clustering = nx.average_clustering(ess) if ess.number_of_nodes() else 0.0
    title = (f"Cooperation network, quarter {model.steps}: {ess.number_of_nodes()} ESS organisations, "
             f"{ess.number_of_edges()} ties, density {density:.3f}, clustering {clustering:.2f}")
    fig = Figure(figsize=(7.5, 5.5), layout="constrained")
    plotting.plot_network(graph, title=textwrap.fill(title, 70), fig=fig)
    return solara.FigureMatplotlib(fig, format="png")


def TerritoryNow(model: TerritoryModel):
    """Headline numbers of the quarter just simulated, and any control error.

    Plain text, not solara.Markdown: Markdown pulls KaTeX from a CDN, and the page must
    work offline (the front-end comes from the solara-assets package)."""
    cfg = model.config
    df = model.datacollector.get_model_vars_dataframe()
    with solara.Column(gap="4px") as column:
        if getattr(model, "control_error", ""):
            solara.Error(model.control_error)
        solara.Text(f"{cfg.name}: {cfg.regime.kind} regime, strategy {cfg.strategy.policy}, seed {cfg.seed}, "
                    f"horizon {cfg.steps} quarters", style={"font-weight": "bold"})
        if len(df):
            last = df.iloc[-1]
            solara.Text(f"Quarter {int(last['step'])} of {cfg.steps}")
            solara.Text(f"{int(last['organisations'])} ESS organisations, {last['ess_employment_fte']:,.0f} FTE, "
                        f"{last['volunteers_fte']:,.0f} volunteer FTE")
            solara.Text(f"personalisation {last['personalisation']:.3f}, unmet need {last['unmet_need_share']:.1%}")
            solara.Text(f"public spend {last['public_spend_eur']:,.0f} EUR this quarter")
        else:
            solara.Text("Quarter 0: press Step (or ▶) to simulate quarter by quarter; Reset applies the parameters.")
        for s in cfg.shocks:
            solara.Text(f"shock: {s.kind} from quarter {s.start} for {s.duration} quarters")
        # Mesa's sliders do not print their values: say what this model was built with.
        in_use = ", ".join(f"{c.path} = {scenario_value(cfg, c.path):g}" for c in NUMERIC_CONTROLS)
        solara.Text(f"parameters in use: {in_use}", style={"font-size": "0.8em", "color": "#555"})
    return column


def components() -> list:
    """The page's panels: three live charts, the network and the headline numbers."""
    missing = {"ess_employment_fte", "personalisation", *plotting.RESOURCE_COLUMNS} - set(METRICS)
    if missing:
        raise RuntimeError(f"metrics the page charts are not in METRICS: {sorted(missing)}")
    return [
        series_chart("ess_employment_fte", "ESS employment", "FTE"),
        series_chart("personalisation", "Personalisation of services", "index (0-1)"),
        ResourceMix,
        CooperationNetwork,
        TerritoryNow,
    ]


def make_page(scenario_file: str | Path | None = None):
    params = model_params(scenario_file)
    model = LiveTerritory(**{k: (v.value if isinstance(v, Slider) else v["value"] if isinstance(v, dict) else v) for k, v in params.items()})
    return SolaraViz(model, components=components(), model_params=params, name="PTCE-sim: one territory, live")


page = make_page(os.environ.get(VIZ_SCENARIO_ENV) or None)
