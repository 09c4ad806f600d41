"""Charts of a batch of runs, for researchers and for policymakers.

Every function takes pandas DataFrames of a results folder (``simulation.runner.load_results``:
``design``, ``outcomes``, ``timeseries``; ``simulation.runner.compare``), never a live
model, and returns a :class:`matplotlib.figure.Figure` (no pyplot: no global state, safe
in a server and in tests). ``fig=`` lets the policy brief draw a chart into a part of a page.

One visual language, kept in :data:`REGIME_STYLE` and :data:`RC`:

- the Okabe-Ito palette (Okabe & Ito 2008, safe for the common colour-vision
  deficiencies), one FIXED colour per regime in every chart, and a marker and a line style
  per regime so a black-and-white print still tells them apart;
- a unit on every axis, a source line (model version, scenario, replicates, master seed)
  under every stand-alone figure;
- constrained layout and horizontal category labels, so labels do not overlap.

Shares in [0, 1] are drawn as percentages.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.figure import Figure, SubFigure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon

from . import i18n
from .i18n import axis_label, t

# --------------------------------------------------------------------------- visual language
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

REGIME_ORDER: tuple[str, ...] = ("administrative", "competitive", "cooperative")
REGIME_STYLE: dict[str, dict[str, str]] = {
    "administrative": {"color": OKABE_ITO["blue"], "marker": "s", "linestyle": "-", "hatch": "\\\\"},
    "competitive": {"color": OKABE_ITO["vermillion"], "marker": "^", "linestyle": "--", "hatch": "//"},
    "cooperative": {"color": OKABE_ITO["bluish_green"], "marker": "o", "linestyle": "-.", "hatch": ".."},
}
_OTHER_STYLE = {"color": "#666666", "marker": "D", "linestyle": ":", "hatch": "xx"}

# Resources and sectors use the Okabe-Ito colours the regimes do not, so a colour never
# means a regime in one chart and something else in another.
RESOURCE_STYLE: dict[str, dict[str, str]] = {
    "subsidy_share": {"color": OKABE_ITO["sky_blue"], "hatch": ""},
    "public_order_share": {"color": OKABE_ITO["orange"], "hatch": "//"},
    "sales_share": {"color": OKABE_ITO["yellow"], "hatch": ".."},
    "gifts_share": {"color": OKABE_ITO["reddish_purple"], "hatch": "xx"},
}
SECTOR_STYLE: dict[str, dict[str, str]] = {
    "personal_services": {"color": OKABE_ITO["orange"], "marker": "o"},
    "employment": {"color": OKABE_ITO["sky_blue"], "marker": "s"},
    "food": {"color": OKABE_ITO["yellow"], "marker": "^"},
    "culture": {"color": OKABE_ITO["reddish_purple"], "marker": "D"},
    "eco_activities": {"color": "#555555", "marker": "v"},
}
FIRM_STYLE = {"color": "#FFFFFF", "marker": "P", "edgecolor": "#888888"}

RC: dict[str, object] = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: the same glyphs (é, €, −, narrow spaces) everywhere
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "lines.linewidth": 1.8,
    "hatch.linewidth": 0.6,
    "savefig.dpi": 150,
    "svg.fonttype": "none",  # text stays text in the SVG: editable and searchable
    "svg.hashsalt": "ptce-sim",  # fixed ids: the same chart gives the same file
    "pdf.fonttype": 3,
}

FIGSIZE = (8.0, 4.5)  # inches: a 16:9 slide, half an A4 page
SOURCE_FONTSIZE = 7


def regime_style(kind: str) -> dict[str, str]:
    return REGIME_STYLE.get(kind, _OTHER_STYLE)


def regime_order(kinds: Iterable[str]) -> list[str]:
    """Regimes in the fixed order of :data:`REGIME_ORDER`, unknown ones after, sorted."""
    kinds = set(kinds)
    return [k for k in REGIME_ORDER if k in kinds] + sorted(kinds - set(REGIME_ORDER))


@dataclass(frozen=True)
class Source:
    """What the source line of a figure cites."""

    version: str
    scenario: str
    replicates: int | str
    seed: int | str

    def line(self, lang: str) -> str:
        return t("source", lang, version=self.version, scenario=self.scenario, replicates=self.replicates, seed=self.seed)


# --------------------------------------------------------------------------- helpers
REGIME = "regime.kind"
STANDARD_AXES = ("regime.kind", "strategy.policy", "shock_set")
STAT_COLUMNS = ("outcome", "n", "mean", "ci_low", "ci_high", "diff_mean", "diff_ci_low", "diff_ci_high")


def group_axes(comparison: pd.DataFrame) -> list[str]:
    """The axes a comparison is grouped by besides the regime, that take more than one value
    (``compare`` puts its group columns before ``outcome``)."""
    cols = list(comparison.columns)
    before = cols[: cols.index("outcome")] if "outcome" in cols else [c for c in cols if c not in STAT_COLUMNS]
    return [c for c in before if c != REGIME and comparison[c].nunique(dropna=False) > 1]


def bounded_intervals(comparison: pd.DataFrame) -> pd.DataFrame:
    """The comparison with its intervals cut to what the quantity can be
    (:func:`simulation.i18n.outcome_bounds`): a mean's interval to [low, high] (a time, a
    headcount never below 0; a share or an index of [0, 1] never above 1), a difference's
    to [-(high - low), high - low] when both bounds exist. The Student t interval of a few
    replicates can reach past them (n = 3: -77 % of runs recovered, a recovery time of -27
    quarters); cutting it changes no mean and no significance (zero stays inside or
    outside the interval of a difference)."""
    out = comparison.copy()
    for outcome in dict.fromkeys(out["outcome"]):
        lo, hi = i18n.outcome_bounds(outcome)
        if lo is None and hi is None:
            continue
        rows = out["outcome"] == outcome
        for col in ("ci_low", "ci_high"):
            if col in out.columns:
                out.loc[rows, col] = out.loc[rows, col].clip(lo, hi)
        if lo is not None and hi is not None:
            for col in ("diff_ci_low", "diff_ci_high"):
                if col in out.columns:
                    out.loc[rows, col] = out.loc[rows, col].clip(-(hi - lo), hi - lo)
    return out


def varied_axes(design: pd.DataFrame, candidates: Sequence[str] = ("strategy.policy", "shock_set")) -> list[str]:
    """Axes of the design other than the regime that take more than one value."""
    return [c for c in candidates if c in design.columns and design[c].nunique(dropna=False) > 1]


def primary_runs(design: pd.DataFrame, outcomes: pd.DataFrame | None = None) -> pd.DataFrame:
    """The design rows of the runs a comparison is about: not the no-shock twins, and (when
    outcomes are given) only the runs that finished."""
    runs = design
    if "twin_of" in runs.columns:
        runs = runs[runs["twin_of"] < 0]
    if outcomes is not None and "status" in outcomes.columns:
        ok = outcomes.loc[outcomes["status"] == "ok", "run_id"]
        runs = runs[runs["run_id"].isin(ok)]
    return runs


def _combo_label(row: pd.Series, axes: Sequence[str], lang: str) -> str:
    parts = []
    for a in axes:
        v = row[a]
        if a == "strategy.policy":
            parts.append(i18n.policy_label(v, lang))
        elif a == "shock_set":
            parts.append(i18n.shock_set_label(str(v), lang))
        else:
            parts.append(f"{a} = {v}")
    return ", ".join(parts)


def _scale(outcome_or_metric: str, is_metric: bool = False) -> float:
    if is_metric:
        q = i18n.METRIC_WORDS.get(outcome_or_metric)
        return 100.0 if q and q.share else 1.0
    return 100.0 if i18n.outcome_is_share(outcome_or_metric) else 1.0


SOURCE_HEIGHT_IN = 0.25


def _canvas(fig: Figure | SubFigure | None, figsize: tuple[float, float], source: Source | None, lang: str) -> tuple[Figure, Figure | SubFigure]:
    """(figure, part to draw the chart in). A new figure gets a strip at the bottom for the
    source line, its own sub-figure so that constrained layout keeps the chart's legend
    and the source apart; a part of a page (``fig`` given) is drawn into as it is."""
    if fig is not None:
        return fig, fig
    fig = Figure(figsize=figsize, layout="constrained")
    if source is None:
        return fig, fig
    chart, foot = fig.subfigures(2, 1, height_ratios=[figsize[1] - SOURCE_HEIGHT_IN, SOURCE_HEIGHT_IN], hspace=0)
    foot.text(0.01, 0.5, source.line(lang), fontsize=SOURCE_FONTSIZE, color="#444444", ha="left", va="center")
    return fig, chart


def _rowwise(handles: list, ncols: int) -> list:
    """Order legend handles so that a legend of ``ncols`` columns (filled column by column)
    reads row by row."""
    rows = [handles[i:i + ncols] for i in range(0, len(handles), ncols)]
    return [row[c] for c in range(ncols) for row in rows if c < len(row)]


def _wrap(text: str, width: int = 48) -> str:
    return "\n".join(textwrap.wrap(text, width)) if len(text) > width else text


def _tick_decimals(step: float) -> int:
    """Fewest decimals that write a tick step exactly (2.5 -> 1, 0.05 -> 2, 20 -> 0)."""
    for d in range(6):
        if abs(round(step, d) - step) <= 1e-9 * max(1.0, abs(step)):
            return d
    return 6


class LangFormatter(mpl.ticker.Formatter):
    """Tick labels with the language's decimal and thousands marks, as many decimals as
    the tick step needs (the axis hands the tick locations to ``set_locs`` first)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.decimals = 0

    def set_locs(self, locs) -> None:
        super().set_locs(locs)
        step = np.diff(np.asarray(locs, dtype=float))
        step = step[step > 0]
        self.decimals = _tick_decimals(float(step.min())) if len(step) else 0

    def __call__(self, x, pos=None) -> str:
        return i18n.fmt_number(x, self.lang, self.decimals)


def _thousands(ax, axis: str, lang: str) -> None:
    getattr(ax, f"{axis}axis").set_major_formatter(LangFormatter(lang))


def _regime_handles(kinds: Sequence[str], lang: str, *, line: bool = False) -> list[Line2D]:
    handles = []
    for k in kinds:
        st = regime_style(k)
        handles.append(Line2D([], [], color=st["color"], marker=st["marker"], linestyle=st["linestyle"] if line else "none",
                              markersize=6, label=i18n.regime_label(k, lang)))
    return handles


def _shade_windows(ax, windows: Sequence[tuple[str, int, int]] | None) -> bool:
    """Shade shock windows given as (kind, first, last) 0-based quarter indices; the time
    series' step is the quarter index + 1."""
    if not windows:
        return False
    for _kind, first, last in windows:
        ax.axvspan(first + 0.5, last + 1.5, color="#BBBBBB", alpha=0.35, hatch="", linewidth=0, zorder=0)
    return True


def _shock_handle(lang: str, drawn: bool = False) -> Patch:
    return Patch(facecolor="#BBBBBB", alpha=0.35, label=t("shock_window_drawn" if drawn else "shock_window", lang))


# --------------------------------------------------------------------------- regime comparison
def comparison_size(comparison: pd.DataFrame, outcome: str) -> tuple[float, float]:
    """Size (inches) of :func:`plot_comparison`'s chart: grows with its rows."""
    rows = int((comparison["outcome"] == outcome).sum())
    if group_axes(comparison):
        combos = len(comparison.loc[comparison["outcome"] == outcome, group_axes(comparison)].drop_duplicates())
        return (8.0, 2.6 + 0.2 * rows + 0.15 * combos)
    return (8.0, 2.5 + 0.5 * rows)


def plot_comparison(
    comparison: pd.DataFrame,
    outcome: str,
    *,
    lang: str = "en",
    baseline: str = "administrative",
    source: Source | None = None,
    fig: Figure | SubFigure | None = None,
    title: bool = True,
) -> Figure | SubFigure:
    """One headline outcome by regime: mean and 95 % interval (left) and the paired
    difference from the baseline regime with its 95 % interval (right).

    ``comparison`` has the columns of ``simulation.runner.compare``. A hollow marker on
    the right means the interval includes zero: the difference is not significant.
    """
    i18n.check_lang(lang)
    rows = bounded_intervals(comparison[comparison["outcome"] == outcome])
    if rows.empty:
        raise ValueError(f"outcome {outcome!r} is not in the comparison")
    axes_other = group_axes(comparison)
    order = {k: i for i, k in enumerate(regime_order(rows[REGIME]))}
    # combinations in the order of the batch's design (compare keeps it), regimes in their fixed order
    first_seen = {c: i for i, c in enumerate(dict.fromkeys(tuple(r) for r in rows[axes_other].itertuples(index=False)))}
    rows = rows.assign(_r=rows[REGIME].map(order),
                       _c=[first_seen[tuple(r)] for r in rows[axes_other].itertuples(index=False)] if axes_other else 0)
    rows = rows.sort_values(["_c", "_r"], kind="stable").reset_index(drop=True)
    scale = _scale(outcome)
    unit = i18n.outcome_unit(outcome, lang)
    # One row per regime; with other varied axes, one group of rows per combination, named
    # once on the axis, the regimes told apart by colour and marker (and the legend).
    if axes_other:
        combos = list(dict.fromkeys(tuple(r) for r in rows[axes_other].itertuples(index=False)))
        slot = {k: i for i, k in enumerate(order)}
        group_of = [combos.index(tuple(r)) for r in rows[axes_other].itertuples(index=False)]
        y = -np.array([g * (len(order) + 1) + slot[k] for g, k in zip(group_of, rows[REGIME], strict=True)], dtype=float)
    else:
        combos, group_of = [], []
        y = np.arange(len(rows))[::-1].astype(float)
    with mpl.rc_context(RC):
        top, fig = _canvas(fig, comparison_size(comparison, outcome), source, lang)
        ax_mean, ax_diff = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [1, 1]})
        marker_size = 7 if not axes_other else 5.5
        for yi, (_, r) in zip(y, rows.iterrows(), strict=True):
            st = regime_style(r[REGIME])
            m, lo, hi = (r["mean"] * scale, r["ci_low"] * scale, r["ci_high"] * scale)
            if np.isfinite(m):
                ax_mean.errorbar(m, yi, xerr=[[max(m - lo, 0)], [max(hi - m, 0)]] if np.isfinite(lo) and np.isfinite(hi) else None,
                                 fmt=st["marker"], color=st["color"], ecolor=st["color"], capsize=3, markersize=marker_size, elinewidth=1.4)
            d, dlo, dhi = (r["diff_mean"] * scale, r["diff_ci_low"] * scale, r["diff_ci_high"] * scale)
            if r[REGIME] != baseline and np.isfinite(d):
                significant = np.isfinite(dlo) and np.isfinite(dhi) and not (dlo <= 0 <= dhi)
                ax_diff.errorbar(d, yi, xerr=[[max(d - dlo, 0)], [max(dhi - d, 0)]] if np.isfinite(dlo) and np.isfinite(dhi) else None,
                                 fmt=st["marker"], color=st["color"], ecolor=st["color"], capsize=3, markersize=marker_size, elinewidth=1.4,
                                 markerfacecolor=st["color"] if significant else "white", markeredgewidth=1.4)
        if axes_other:
            centres = [float(np.mean(y[[i for i, g in enumerate(group_of) if g == c]])) for c in range(len(combos))]
            labels = [_wrap(_combo_label(pd.Series(dict(zip(axes_other, c, strict=True))), axes_other, lang), 34) for c in combos]
            ax_mean.set_yticks(centres, labels)
            for c in range(1, len(combos)):  # a thin line between groups
                for ax in (ax_mean, ax_diff):
                    ax.axhline(-(c * (len(order) + 1)) + 1, color="#CCCCCC", linewidth=0.6, zorder=0)
        else:
            labels = [i18n.regime_label(k, lang) + ("\n" + t("baseline_row", lang) if k == baseline else "") for k in rows[REGIME]]
            ax_mean.set_yticks(y, labels)
        ax_mean.set_ylim(y.min() - 0.6, y.max() + 0.6)
        ax_diff.axvline(0, color="#333333", linewidth=1.0, zorder=1)
        ax_diff.tick_params(axis="y", left=False)
        ax_mean.set_xlabel(axis_label(t("level", lang), unit))
        ax_diff.set_xlabel(axis_label(t("difference", lang), unit))
        # titles wrapped narrow: with long row labels the left panel is much less than half the width
        width = 30 if axes_other else 40
        ax_mean.set_title(_wrap(t("mean_ci", lang), width), loc="left", fontsize=9, fontweight="normal")
        ax_diff.set_title(_wrap(t("diff_ci", lang, baseline=i18n.regime_label(baseline, lang)), width), loc="left", fontsize=9,
                          fontweight="normal")
        for ax in (ax_mean, ax_diff):
            ax.grid(axis="y", visible=False)
            _thousands(ax, "x", lang)
        if title:
            fig.suptitle(i18n.outcome_label(outcome, lang), x=0.01, ha="left", fontweight="bold", fontsize=11)
        hollow = Line2D([], [], color="#333333", marker="o", markerfacecolor="white", linestyle="none", label=t("not_significant_key", lang))
        filled = Line2D([], [], color="#333333", marker="o", linestyle="none", label=t("significant_key", lang))
        if axes_other:
            handles = _regime_handles(list(order), lang)
            if baseline in order:
                handles[list(order).index(baseline)].set_label(f"{i18n.regime_label(baseline, lang)} {t('baseline_row', lang)}")
            fig.legend(handles=_rowwise([*handles, filled, hollow], len(order)), loc="outside lower center", ncols=len(order),
                       frameon=False)
        else:
            # the regimes are named on the vertical axis: the legend only explains the markers
            fig.legend(handles=[filled, hollow], loc="outside lower center", ncols=2, frameon=False)
    return top


# --------------------------------------------------------------------------- time series
def _panels_size(nrows: int, ncols: int) -> tuple[float, float]:
    return (8.0, 4.2) if nrows * ncols == 1 else (max(8.0, 2.3 * ncols + 1.4), 1.9 * nrows + 1.6)


def timeseries_size(design: pd.DataFrame, axes: Sequence[str] = ("strategy.policy", "shock_set")) -> tuple[float, float]:
    """Size (inches) of :func:`plot_timeseries`' chart: a panel per combination of the other axes."""
    runs = primary_runs(design)
    others = [a for a in varied_axes(runs, axes) if a != REGIME]
    if len(others) == 2:
        return _panels_size(runs[others[0]].nunique(), runs[others[1]].nunique())
    n = len(runs[others].drop_duplicates()) if others else 1
    ncols = min(n, 4)
    return _panels_size(-(-n // ncols), ncols)


def series_bands(timeseries: pd.DataFrame, design: pd.DataFrame, metric: str, *, by: Sequence[str] = (REGIME,),
                 band: tuple[float, float] = (0.05, 0.95)) -> pd.DataFrame:
    """Median and band of ``metric`` across replicates, per step and group: columns
    ``*by, step, median, low, high``. Twins (no-shock counterfactuals) are left out."""
    runs = primary_runs(design)[["run_id", *by]]
    df = timeseries[["run_id", "step", metric]].merge(runs, on="run_id")
    g = df.groupby([*by, "step"])[metric]
    out = pd.DataFrame({"median": g.median(), "low": g.quantile(band[0]), "high": g.quantile(band[1])}).reset_index()
    return out


def plot_timeseries(
    timeseries: pd.DataFrame,
    design: pd.DataFrame,
    metric: str,
    *,
    lang: str = "en",
    windows: Sequence[tuple[str, int, int]] | dict[str, Sequence[tuple[str, int, int]]] | None = None,
    source: Source | None = None,
    fig: Figure | SubFigure | None = None,
    axes: Sequence[str] = ("strategy.policy", "shock_set"),
    drawn: bool = False,
) -> Figure | SubFigure:
    """``metric`` over time by regime: median across replicates and the 90 % band
    (5th to 95th percentile), shock windows shaded. One panel per value of the other
    varied axes (e.g. strategy policy, shock set).

    ``windows``: (kind, first, last) 0-based quarter indices to shade, or a dict shock set
    name -> windows, each panel then shaded with its own shock set's (none for ``none``).
    ``axes``: the design's axes (``Results.axes``); those that vary make the panels.
    ``drawn``: the shock dates are drawn per replicate, the windows are their envelope."""
    i18n.check_lang(lang)
    others = [a for a in varied_axes(primary_runs(design), axes) if a != REGIME]
    bands = series_bands(timeseries, design, metric, by=(REGIME, *others))
    scale = _scale(metric, is_metric=True)
    # panels in the order of the batch's axes (as written in the scenario file), not alphabetical
    runs = primary_runs(design)
    rank = {a: {v: i for i, v in enumerate(dict.fromkeys(runs[a]))} for a in others}
    combos = sorted(bands[others].drop_duplicates().to_dict("records"), key=lambda c: [rank[a][c[a]] for a in others]) if others else [{}]
    # Small multiples: with two other axes, a grid (rows: the first, columns: the second),
    # named once in the margins; otherwise a row of panels, wrapped after four.
    if len(others) == 2:
        row_values = list(rank[others[0]])
        col_values = list(rank[others[1]])
        nrows, ncols = len(row_values), len(col_values)
        cell = {(row_values.index(c[others[0]]), col_values.index(c[others[1]])): c for c in combos}
    else:
        ncols = min(len(combos), 4)
        nrows = -(-len(combos) // ncols)
        cell = {(i // ncols, i % ncols): c for i, c in enumerate(combos)}
    grid_mode = len(others) == 2
    size = _panels_size(nrows, ncols)
    with mpl.rc_context(RC):
        top, fig = _canvas(fig, size, source, lang)
        axs = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
        kinds = regime_order(bands[REGIME].unique())
        shaded = False
        for (i, j), ax in np.ndenumerate(axs):
            combo = cell.get((i, j))
            if combo is None:
                ax.set_visible(False)
                continue
            sel = bands
            for k, v in combo.items():
                sel = sel[sel[k] == v]
            if isinstance(windows, dict):
                panel_sets = [combo["shock_set"]] if "shock_set" in combo else list(windows)
                panel_windows = [w for name in panel_sets for w in windows.get(str(name), [])] if len(panel_sets) == 1 else []
            else:
                panel_windows = list(windows or [])
            shaded = _shade_windows(ax, panel_windows) or shaded
            for kind in kinds:
                d = sel[sel[REGIME] == kind]
                st = regime_style(kind)
                # light fill plus thin edges: overlapping bands stay readable (and in black and white)
                ax.fill_between(d["step"], d["low"] * scale, d["high"] * scale, color=st["color"], alpha=0.10, linewidth=0)
                for edge in ("low", "high"):
                    ax.plot(d["step"], d[edge] * scale, color=st["color"], linestyle=st["linestyle"], linewidth=0.7, alpha=0.7)
                ax.plot(d["step"], d["median"] * scale, color=st["color"], linestyle=st["linestyle"],
                        marker=st["marker"], markevery=max(1, len(d) // 8), markersize=5 if len(combos) <= 4 else 3.5)
            if i == nrows - 1 or cell.get((i + 1, j)) is None:
                ax.set_xlabel(t("quarter_axis", lang) if len(combos) == 1 else t("quarter", lang))
            if grid_mode:
                if i == 0:
                    ax.set_title(_wrap(_combo_label(pd.Series({others[1]: combo[others[1]]}), others[1:], lang), 22 if ncols > 3 else 30),
                                 loc="left", fontsize=8)
                if j == 0:
                    ax.set_ylabel(_wrap(_combo_label(pd.Series({others[0]: combo[others[0]]}), others[:1], lang), 22), fontsize=8)
            elif combo:
                ax.set_title(_wrap(_combo_label(pd.Series(combo), others, lang), 30 if ncols > 2 else 48), loc="left", fontsize=8)
            _thousands(ax, "y", lang)
            ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True, nbins=4 if ncols > 2 else 8))
            ax.yaxis.set_major_locator(mpl.ticker.MaxNLocator(nbins=4 if nrows > 2 else 6))
        label = _wrap(axis_label(i18n.metric_label(metric, lang), i18n.metric_unit(metric, lang)))
        if grid_mode:
            fig.supylabel(label, fontsize=9)
        else:
            for i in range(nrows):
                axs[i, 0].set_ylabel(label)
        handles = _regime_handles(kinds, lang, line=True)
        if shaded:
            handles.append(_shock_handle(lang, drawn))
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False,
                   title=t("median_band", lang), title_fontsize=8)
    return top


# --------------------------------------------------------------------------- resilience triangle
TRIANGLE_SIZE = (10.5, 4.6)  # inches, three regimes side by side
RESILIENCE_MEASURES_SHOWN = ("resistance", "recoverability", "recovery_quarters", "triangle_area_normalised", "zobel_index")


def shocked_twin_pairs(design: pd.DataFrame) -> pd.DataFrame:
    """Design rows of the shocked runs that have a no-shock twin, with ``twin_id``.

    ``simulation.runner``'s design gives each shocked run its twin in ``twin_run_id``
    (the batch's own no-shock run, or a twin added for it, whose ``twin_of`` points back)."""
    if "twin_run_id" in design.columns:
        pairs = design[design["twin_run_id"] >= 0].assign(twin_id=lambda d: d["twin_run_id"])
    elif "twin_of" in design.columns:
        twins = design.loc[design["twin_of"] >= 0, ["run_id", "twin_of"]].rename(columns={"run_id": "twin_id", "twin_of": "run_id"})
        pairs = design.merge(twins, on="run_id")
    else:
        return design.iloc[0:0].assign(twin_id=pd.Series(dtype="int64"))
    if "twin_of" in pairs.columns:
        pairs = pairs[pairs["twin_of"] < 0]
    return pairs


def triangle_runs(design: pd.DataFrame) -> pd.DataFrame:
    """The shocked runs a resilience-triangle chart shows: one per regime, all of the same
    replicate and the same values of the other axes (those of the first shocked run), so
    that they meet the same shock (common random numbers)."""
    pairs = shocked_twin_pairs(design).sort_values("run_id")
    if pairs.empty:
        return pairs
    first = pairs.iloc[0]
    keys = [c for c in ("replicate", "sample", *varied_axes(design, [c for c in design.columns if "." in c or c == "shock_set"]))
            if c in pairs.columns and c != REGIME]
    sel = pairs
    for k in keys:
        sel = sel[sel[k] == first[k]]
    return sel.groupby(REGIME, sort=False).head(1)


def _measure_text(outcomes_row: pd.Series | None, series: str, lang: str) -> str:
    if outcomes_row is None:
        return ""
    lines = []
    for m in RESILIENCE_MEASURES_SHOWN:
        col = f"{series}__{m}"
        if col not in outcomes_row.index:
            continue
        v = float(outcomes_row[col])
        if m == "recovery_quarters":
            val = t("not_recovered", lang) if not np.isfinite(v) else \
                f"{i18n.fmt_number(v, lang, 0)} {i18n.plural(i18n.MEASURE_WORDS[m].unit[lang], v, lang)}"
        else:
            val = i18n.fmt_number(v, lang, 3)
        sep = ": " if lang == "en" else i18n.NBSP + ": "
        # short names: three panels side by side leave about 2.5 inches of text each
        lines.append(f"{i18n.MEASURE_SHORT[m][lang]}{sep}{val}")
    return "\n".join(lines)


def plot_resilience_triangle(
    timeseries: pd.DataFrame,
    design: pd.DataFrame,
    series: str,
    *,
    window: tuple[int, int] | None,
    outcomes: pd.DataFrame | None = None,
    lang: str = "en",
    source: Source | None = None,
    fig: Figure | SubFigure | None = None,
    title: bool = True,
) -> Figure | SubFigure:
    """The resilience triangle (Bruneau et al. 2003) of one shocked run per regime (the
    first replicate) against its no-shock twin (same seed): the shaded area is what the
    shock cost; the measures of ``outcomes`` (``<series>__<measure>``) are written under it.

    ``window`` is (first, last) 0-based quarter index of the shock, as ``ShockPath.window``.
    """
    i18n.check_lang(lang)
    first = triangle_runs(design)
    if first.empty:
        raise ValueError("no shocked run with a no-shock twin in this design")
    kinds = regime_order(first[REGIME])
    scale = _scale(series, is_metric=True)
    with mpl.rc_context(RC):
        top, fig = _canvas(fig, (TRIANGLE_SIZE[0] * len(kinds) / 3 + 0.6, TRIANGLE_SIZE[1]), source, lang)
        grid = fig.subplots(2, len(kinds), squeeze=False, gridspec_kw={"height_ratios": [3.0, 1.15]})
        share_y = grid[0, 0]
        for i, kind in enumerate(kinds):
            ax, text_ax = grid[0, i], grid[1, i]
            if i > 0:
                ax.sharey(share_y)
            row = first[first[REGIME] == kind].iloc[0]
            shocked = timeseries[timeseries["run_id"] == row["run_id"]].sort_values("step")
            twin = timeseries[timeseries["run_id"] == row["twin_id"]].sort_values("step")
            st = regime_style(kind)
            if window is not None:
                _shade_windows(ax, [("shock", *window)])
            steps = shocked["step"].to_numpy()
            ys, yt = shocked[series].to_numpy() * scale, twin[series].to_numpy() * scale
            ax.plot(twin["step"], yt, color="#333333", linestyle=":", linewidth=1.6)
            ax.plot(steps, ys, color=st["color"], linestyle=st["linestyle"])
            after = steps >= (window[0] + 1 if window is not None else steps.min())
            ax.fill_between(steps, ys, yt, where=after & (ys < yt), color=st["color"], alpha=0.3, hatch=st["hatch"],
                            edgecolor=st["color"], linewidth=0, interpolate=True)
            ax.set_title(i18n.regime_label(kind, lang) + "\n" + t("run", lang, run_id=int(row["run_id"]), replicate=int(row["replicate"])),
                         loc="left", color=st["color"], fontsize=9)
            ax.set_xlabel(t("quarter", lang))
            ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True, nbins=5))
            _thousands(ax, "y", lang)
            text_ax.axis("off")
            orow = None
            if outcomes is not None and row["run_id"] in set(outcomes["run_id"]):
                orow = outcomes[outcomes["run_id"] == row["run_id"]].iloc[0]
            text_ax.text(0.0, 1.0, _measure_text(orow, series, lang), ha="left", va="top", fontsize=8, transform=text_ax.transAxes,
                         family="DejaVu Sans")
        grid[0, 0].set_ylabel(_wrap(axis_label(i18n.metric_label(series, lang), i18n.metric_unit(series, lang)), 36))
        if title:
            fig.suptitle(i18n.metric_label(series, lang), x=0.01, ha="left", fontweight="bold", fontsize=11)
        handles = [
            Line2D([], [], color="#333333", linestyle=":", label=t("twin_run", lang)),
            *[Line2D([], [], color=regime_style(k)["color"], linestyle=regime_style(k)["linestyle"],
                     label=f"{t('shocked_run', lang)} ({i18n.regime_label(k, lang)})") for k in kinds],
            Patch(facecolor="#999999", alpha=0.4, hatch="//", label=t("lost", lang)),
        ]
        if window is not None:
            handles.append(_shock_handle(lang))
        fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
    return top


# --------------------------------------------------------------------------- trade-off
def _codes(values: Sequence, axis: str) -> dict:
    """Short codes for the values of an axis, written next to the points of the trade-off."""
    if axis == "strategy.policy" and set(values) <= set(i18n.POLICY_CODES):
        return {v: i18n.POLICY_CODES[v] for v in values}
    return {v: str(i + 1) for i, v in enumerate(values)}


def tradeoff_size(comparison: pd.DataFrame) -> tuple[float, float]:
    facets = comparison["shock_set"].nunique() if "shock_set" in group_axes(comparison) else 1
    return {1: (7.0, 5.2), 2: (9.0, 4.8)}.get(facets, (9.0, 3.6 * (-(-facets // 2)) + 1.4))


def plot_tradeoff(
    comparison: pd.DataFrame,
    *,
    x: str = "final_ess_employment_fte",
    y: str = "mean_personalisation",
    lang: str = "en",
    source: Source | None = None,
    fig: Figure | SubFigure | None = None,
    title: bool = True,
) -> Figure | SubFigure:
    """Employment against personalisation: one point per regime and per value of the other
    varied axes (e.g. strategy policy, written as a code next to the point), with 95 %
    intervals on both axes; one panel per shock set when shock sets vary."""
    i18n.check_lang(lang)
    axes_other = group_axes(comparison)
    comparison = bounded_intervals(comparison)
    keys = [REGIME, *axes_other]
    cx = comparison[comparison["outcome"] == x].set_index(keys)
    cy = comparison[comparison["outcome"] == y].set_index(keys)
    if cx.empty or cy.empty:
        raise ValueError(f"the comparison needs the outcomes {x!r} and {y!r}")
    both = pd.merge(cx[["mean", "ci_low", "ci_high"]], cy[["mean", "ci_low", "ci_high"]], left_index=True, right_index=True,
                    suffixes=("_x", "_y"), how="inner").reset_index()
    sx, sy = _scale(x), _scale(y)
    kinds = regime_order(both[REGIME])
    facet = "shock_set" if "shock_set" in axes_other else None
    facets = list(dict.fromkeys(both[facet])) if facet else [None]
    coded = [a for a in axes_other if a != facet]
    codes = {a: _codes(list(dict.fromkeys(both[a])), a) for a in coded}
    ncols = 1 if len(facets) == 1 else 2
    nrows = -(-len(facets) // ncols)
    with mpl.rc_context(RC):
        top, fig = _canvas(fig, tradeoff_size(comparison), source, lang)
        axs = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel()
        for ax, value in zip(axs, facets, strict=False):
            sel = both if facet is None else both[both[facet] == value]
            for _, r in sel.iterrows():
                st = regime_style(r[REGIME])
                mx, my = r["mean_x"] * sx, r["mean_y"] * sy
                ax.errorbar(mx, my, xerr=[[max(mx - r["ci_low_x"] * sx, 0)], [max(r["ci_high_x"] * sx - mx, 0)]],
                            yerr=[[max(my - r["ci_low_y"] * sy, 0)], [max(r["ci_high_y"] * sy - my, 0)]],
                            fmt=st["marker"], color=st["color"], ecolor=mpl.colors.to_rgba(st["color"], 0.45), capsize=2.5,
                            markersize=7 if not coded else 5.5, elinewidth=1.0, zorder=3)
                if coded:
                    # each code in its own corner of the point, so that codes of coinciding points stay readable
                    k = list(codes[coded[0]]).index(r[coded[0]]) % 4
                    dx, dy = ((4, 3), (4, -3), (-4, 3), (-4, -3))[k]
                    ax.annotate("".join(codes[a][r[a]] for a in coded), (mx, my), xytext=(dx, dy), textcoords="offset points",
                                fontsize=7, color=st["color"], fontweight="bold", ha="left" if dx > 0 else "right",
                                va="bottom" if dy > 0 else "top", zorder=4)
            if facet is not None:
                ax.set_title(_combo_label(pd.Series({facet: value}), [facet], lang), loc="left", fontsize=9, fontweight="normal")
            _thousands(ax, "x", lang)
            _thousands(ax, "y", lang)
        for ax in axs[len(facets):]:
            ax.set_visible(False)
        xlabel = _wrap(axis_label(i18n.outcome_label(x, lang), i18n.outcome_unit(x, lang)), 60 if ncols == 1 else 44)
        ylabel = _wrap(axis_label(i18n.outcome_label(y, lang), i18n.outcome_unit(y, lang)), 40)
        for i, ax in enumerate(axs[: len(facets)]):
            if i // ncols == nrows - 1 or i + ncols >= len(facets):
                ax.set_xlabel(xlabel)
            if i % ncols == 0:
                ax.set_ylabel(ylabel)
        if title:
            fig.suptitle(t("tradeoff", lang), x=0.01, ha="left", fontweight="bold", fontsize=11)
        handles = _regime_handles(kinds, lang)
        for a in coded:
            handles += [Line2D([], [], linestyle="none", marker=f"${code}$", color="#333333", markersize=6,
                               label=(i18n.policy_label(v, lang) if a == "strategy.policy" else f"{a} = {v}"))
                        for v, code in codes[a].items()]
        ncol = len(kinds) if not coded else max(len(kinds), 2)
        fig.legend(handles=_rowwise(handles, ncol), loc="outside lower center", ncols=ncol, frameon=False,
                   title=t("tradeoff_note", lang), title_fontsize=8)
    return top


# --------------------------------------------------------------------------- resource mix
RESOURCE_MIX_SIZE = (9.0, 4.0)  # inches, three regimes side by side
RESOURCE_COLUMNS = ("subsidy_share", "public_order_share", "sales_share")


def resource_mix(timeseries: pd.DataFrame, design: pd.DataFrame) -> pd.DataFrame:
    """Mean resource shares across replicates per regime and step, with gifts as the
    remainder (1 - subsidies - public orders - sales, floored at 0 against rounding)."""
    runs = primary_runs(design)[["run_id", REGIME]]
    df = timeseries[["run_id", "step", *RESOURCE_COLUMNS]].merge(runs, on="run_id")
    df["gifts_share"] = (1.0 - df[list(RESOURCE_COLUMNS)].sum(axis=1)).clip(lower=0.0)
    return df.groupby([REGIME, "step"])[[*RESOURCE_COLUMNS, "gifts_share"]].mean().reset_index()


def plot_resource_mix(
    timeseries: pd.DataFrame,
    design: pd.DataFrame,
    *,
    lang: str = "en",
    windows: Sequence[tuple[str, int, int]] | None = None,
    source: Source | None = None,
    fig: Figure | SubFigure | None = None,
    title: bool = True,
) -> Figure | SubFigure:
    """Stacked shares of ESS revenue over time, one panel per regime: subsidies, public
    orders, sales and gifts (the remainder); mean of replicates."""
    i18n.check_lang(lang)
    mix = resource_mix(timeseries, design)
    kinds = regime_order(mix[REGIME].unique())
    cols = [*RESOURCE_COLUMNS, "gifts_share"]
    with mpl.rc_context(RC):
        top, fig = _canvas(fig, (RESOURCE_MIX_SIZE[0] * len(kinds) / 3 + 0.8, RESOURCE_MIX_SIZE[1]), source, lang)
        axs = fig.subplots(1, len(kinds), sharey=True, squeeze=False)[0]
        for ax, kind in zip(axs, kinds, strict=True):
            d = mix[mix[REGIME] == kind]
            ax.stackplot(d["step"], *[d[c] * 100 for c in cols],
                         colors=[RESOURCE_STYLE[c]["color"] for c in cols], hatch=[RESOURCE_STYLE[c]["hatch"] for c in cols],
                         edgecolor="white", linewidth=0.5)
            if windows:
                for _k, first, last in windows:
                    ax.axvline(first + 0.5, color="#333333", linewidth=0.8, linestyle="--")
                    ax.axvline(last + 1.5, color="#333333", linewidth=0.8, linestyle="--")
            st = regime_style(kind)
            ax.set_title(i18n.regime_label(kind, lang), loc="left", color=st["color"])
            ax.set_ylim(0, 100)
            ax.set_xlim(d["step"].min(), d["step"].max())
            ax.set_xlabel(t("quarter_axis", lang) if len(kinds) == 1 else t("quarter", lang))
            ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True, nbins=5))
            ax.grid(False)
        axs[0].set_ylabel(t("share_of_revenue", lang))
        if title:
            fig.suptitle(t("resource_mix", lang), x=0.01, ha="left", fontweight="bold", fontsize=11)
        handles = [Patch(facecolor=RESOURCE_STYLE[c]["color"], hatch=RESOURCE_STYLE[c]["hatch"], edgecolor="white",
                         label=i18n.RESOURCES[c][lang]) for c in cols]
        if windows:
            handles.append(Line2D([], [], color="#333333", linewidth=0.8, linestyle="--", label=t("shock_window", lang)))
        pooled = varied_axes(primary_runs(design), [a for a in STANDARD_AXES if a != REGIME])
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False,
                   title=t("resource_note_pooled" if pooled else "resource_note", lang), title_fontsize=8)
    return top


# --------------------------------------------------------------------------- cooperation network
def _hull(points: np.ndarray) -> np.ndarray:
    """Convex hull of 2-D points (Andrew's monotone chain), counter-clockwise."""
    pts = sorted(map(tuple, points))
    if len(pts) <= 2:
        return np.array(pts)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[tuple] = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def _outline(points: np.ndarray, pad: float) -> np.ndarray:
    """A padded outline around points: the hull pushed outwards, or a circle for 1-2 points."""
    centre = points.mean(axis=0)
    hull = _hull(points)
    if len(hull) < 3:
        radius = max(float(np.max(np.linalg.norm(points - centre, axis=1))), 0.0) + pad
        ang = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        return centre + radius * np.c_[np.cos(ang), np.sin(ang)]
    vec = hull - centre
    norm = np.linalg.norm(vec, axis=1, keepdims=True)
    return hull + vec / np.where(norm > 0, norm, 1) * pad


NODE_STAFF_CAP_FTE = 50.0
"""Staff above which a node is drawn at the largest size: a few large organisations (or a
local employer of a thousand FTE) would otherwise hide everyone else."""


def _node_size_pt2(staff_fte: np.ndarray) -> np.ndarray:
    """Marker area (pt^2) proportional to staff up to NODE_STAFF_CAP_FTE, so a twice larger
    organisation draws twice the ink."""
    return 12.0 + 6.0 * np.minimum(np.asarray(staff_fte, dtype=float), NODE_STAFF_CAP_FTE)


def plot_network(
    graph: nx.Graph,
    *,
    lang: str = "en",
    title: str | None = None,
    source: Source | None = None,
    fig: Figure | SubFigure | None = None,
    seed: int = 1,
) -> Figure | SubFigure:
    """The cooperation network of one run: ESS organisations coloured (and shaped) by
    sector, sized by staff (FTE); firms hollow; PTCE members inside an outlined area.

    Node attributes as in ``model.network_graph()``: sector, staff_fte, is_ess, ptce
    (-1 if none). The layout is a seeded spring layout: reproducible, not geographic.
    """
    i18n.check_lang(lang)
    with mpl.rc_context(RC):
        top, fig = _canvas(fig, (7.5, 6.5), source, lang)
        ax = fig.subplots()
        ax.set_axis_off()
        graph, hidden_firms = shown_graph(graph)
        if graph.number_of_nodes() == 0:
            ax.text(0.5, 0.5, "—", ha="center", va="center", transform=ax.transAxes)
        else:
            pos = _layout(graph, seed)
            for u, v, data in graph.edges(data=True):
                trust = float(data.get("trust", 0.5))
                ax.plot(*np.array([pos[u], pos[v]]).T, color="#999999", linewidth=0.4 + 1.2 * trust, alpha=0.5, zorder=1)
            nodes = pd.DataFrame([{"node": n, **d} for n, d in graph.nodes(data=True)])
            for col, default in (("sector", ""), ("staff_fte", 1.0), ("is_ess", True), ("ptce", -1)):
                if col not in nodes.columns:
                    nodes[col] = default
            nodes["is_ess"] = nodes["is_ess"].map(_is_true)
            nodes["ptce"] = pd.to_numeric(nodes["ptce"], errors="coerce").fillna(-1).astype(int)
            xy = np.array([pos[n] for n in nodes["node"]])
            span = float(np.ptp(xy, axis=0).max()) or 1.0
            for k, (_pid, members) in enumerate(nodes[nodes["ptce"] >= 0].groupby("ptce")):
                pts = xy[members.index.to_numpy()]
                outline = _outline(pts, pad=0.04 * span)
                ax.add_patch(Polygon(outline, closed=True, facecolor="#DDDDDD", edgecolor="#222222", linestyle="--",
                                     linewidth=1.0, alpha=0.6, zorder=0))
                peak = outline[np.argmax(outline[:, 1])]
                ax.text(peak[0], peak[1], f"{t('ptce', lang)} {k + 1}", fontsize=7, ha="center", va="bottom", zorder=5,
                        bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
            sizes = _node_size_pt2(nodes["staff_fte"].to_numpy())
            firms = ~nodes["is_ess"].to_numpy()
            if firms.any():  # firms at one size: the chart is about ESS organisations
                ax.scatter(xy[firms, 0], xy[firms, 1], s=40.0, marker=FIRM_STYLE["marker"], facecolor=FIRM_STYLE["color"],
                           edgecolor=FIRM_STYLE["edgecolor"], linewidth=0.8, zorder=2)
            for sector, st in SECTOR_STYLE.items():
                sel = (nodes["sector"] == sector).to_numpy() & ~firms
                if sel.any():
                    ax.scatter(xy[sel, 0], xy[sel, 1], s=sizes[sel], marker=st["marker"], color=st["color"],
                               edgecolor="#222222", linewidth=0.5, zorder=3)
            other = ~nodes["sector"].isin(list(SECTOR_STYLE)).to_numpy() & ~firms
            if other.any():
                ax.scatter(xy[other, 0], xy[other, 1], s=sizes[other], marker="o", color="#BBBBBB", edgecolor="#222222", zorder=3)
            ax.set_aspect("equal", adjustable="datalim")
            ax.margins(0.08)
        present = set(nx.get_node_attributes(graph, "sector").values())
        handles = [Line2D([], [], marker=st["marker"], color=st["color"], markeredgecolor="#222222", linestyle="none", markersize=7,
                          label=i18n.sector_label(s, lang)) for s, st in SECTOR_STYLE.items() if s in present or not present]
        handles.append(Line2D([], [], marker=FIRM_STYLE["marker"], color="white", markeredgecolor=FIRM_STYLE["edgecolor"],
                              linestyle="none", markersize=7, label=t("firm", lang)))
        handles.append(Patch(facecolor="#DDDDDD", edgecolor="#222222", linestyle="--", label=t("ptce_member", lang)))
        for fte in _size_legend_values(graph):
            handles.append(Line2D([], [], marker="o", color="#BBBBBB", markeredgecolor="#222222", linestyle="none",
                                  markersize=math.sqrt(float(_node_size_pt2(np.array([fte]))[0])),
                                  label=("≥ " if fte >= NODE_STAFF_CAP_FTE else "") +
                                  f"{i18n.fmt_number(fte, lang, 0)} {i18n.metric_unit('ess_employment_fte', lang)}"))
        fig.legend(handles=handles, loc="outside right center", frameon=False)
        ax.set_title(title or t("network", lang), loc="left")
        note = t("network_note", lang) + (t("network_hidden", lang, n=hidden_firms) if hidden_firms else "")
        ax.text(0.0, -0.02, _wrap(note, 110), transform=ax.transAxes, fontsize=7, color="#444444", va="top", ha="left")
    return top


def _is_true(value) -> bool:
    return str(value).lower() in ("true", "1")


def _ptce_of(data: dict) -> int:
    try:
        return int(data.get("ptce", -1))
    except (TypeError, ValueError):
        return -1


def shown_graph(graph: nx.Graph) -> tuple[nx.Graph, int]:
    """The part of the network the chart draws, and how many nodes it leaves out: firms
    outside the ESS with no tie and in no PTCE (local employers, competitors) are not part
    of the cooperation network, and a ring of them would squeeze the rest."""
    hidden = [n for n, d in graph.nodes(data=True)
              if not _is_true(d.get("is_ess", True)) and graph.degree(n) == 0 and _ptce_of(d) < 0]
    return graph.subgraph([n for n in graph.nodes if n not in set(hidden)]).copy(), len(hidden)


def _layout(graph: nx.Graph, seed: int) -> dict:
    """Seeded spring layout of the connected organisations in which the members of a PTCE
    sit together (each PTCE gets a virtual hub tied to its members, drawn as an outlined
    area, not as a node); organisations without any tie are lined up under it."""
    g = nx.Graph()
    linked = [n for n, d in graph.nodes(data=True) if graph.degree(n) > 0 or _ptce_of(d) >= 0]
    alone = [n for n in graph.nodes if n not in set(linked)]
    g.add_nodes_from(linked)
    g.add_edges_from((u, v, {"w": float(d.get("trust", 0.5))}) for u, v, d in graph.edges(data=True))
    for n in linked:
        pid = _ptce_of(graph.nodes[n])
        if pid >= 0:
            g.add_edge(("ptce-hub", pid), n, w=2.0)
    pos = nx.spring_layout(g, seed=seed, weight="w", k=2.5 / math.sqrt(max(g.number_of_nodes(), 1)), iterations=100) if linked else {}
    out = {n: np.asarray(pos[n], dtype=float) for n in linked}
    if alone:
        xs = np.array([p[0] for p in out.values()]) if out else np.array([0.0])
        ys = np.array([p[1] for p in out.values()]) if out else np.array([0.0])
        lo, hi = (xs.min(), xs.max()) if len(xs) > 1 else (-1.0, 1.0)
        base = ys.min() - 0.15 * max(ys.max() - ys.min(), 1.0)
        per_row = max(1, int(math.ceil(math.sqrt(len(alone) * 4))))
        for i, n in enumerate(alone):
            row, col = divmod(i, per_row)
            out[n] = np.array([lo + (hi - lo) * (col + 0.5) / per_row, base - 0.08 * row * max(hi - lo, 1.0)])
    return out


def _size_legend_values(graph: nx.Graph) -> list[float]:
    staff = [float(d.get("staff_fte", 0.0)) for _n, d in graph.nodes(data=True) if str(d.get("is_ess", True)).lower() in ("true", "1")]
    if not staff:
        return []
    hi = min(max(staff), NODE_STAFF_CAP_FTE)
    nice = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    top = max([n for n in nice if n <= hi] or [1])
    small = max([n for n in nice if n <= top / 5] or [1])
    return sorted({small, top})


# --------------------------------------------------------------------------- files
def save_figure(fig: Figure, folder: Path, name: str, *, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write ``fig`` as ``folder/name.png`` and ``.svg``, each under a temporary name then
    renamed (a reader never sees half a file)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    with mpl.rc_context(RC):
        for ext in formats:
            path = folder / f"{name}.{ext}"
            tmp = folder / f".{name}.{ext}.tmp-{os.getpid()}"
            try:
                fig.savefig(tmp, format=ext, metadata={"Date": None} if ext == "svg" else {"Software": None})
                os.replace(tmp, path)
            finally:
                if tmp.exists():
                    tmp.unlink()
            paths.append(path)
    return paths
