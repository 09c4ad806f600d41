"""Charts of a batch (simulation.plotting), drawn from a small REAL batch run here.

Two smoke-sized batches, run once per session with the serial executor:

- ``small_batch``: the three regimes x 3 replicates x 12 quarters, with a budget cut (the
  runner adds the no-shock twins);
- ``axes_batch``: regimes x two strategy policies x shock sets ``none`` and ``cut`` x 2
  replicates x 8 quarters (the ``none`` runs are the twins), for the charts' panels per
  combination of the other axes.

Every chart is drawn in English and French and checked as a reader would: a unit on every
axis, a legend, the source line, the fixed colour of each regime, shock windows where the
shocks are, no label over another, and the files on disk.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon, Rectangle
from matplotlib.text import Text

from simulation import i18n, plotting, report
from simulation.plotting import OKABE_ITO, REGIME_STYLE
from simulation.runner import load_results, run_batch

from .conftest import SCENARIOS

LANGS = ("en", "fr")
CUT = '[{ kind = "budget_cut", share = 0.3, start = 4, duration = 3, recovery_quarters = 2 }]'


def batch_file(folder: Path, body: str, steps: int) -> Path:
    text = (SCENARIOS / "smoke.toml").read_text(encoding="utf-8").replace("steps = 12", f"steps = {steps}")
    path = folder / "batch.toml"
    path.write_text(text + "\n" + body, encoding="utf-8")
    return path


SMALL = f"""
[batch]
name = "small"
replicates = 3
master_seed = 11

[batch.axes]
"regime.kind" = ["administrative", "competitive", "cooperative"]

[batch.shock_sets]
cut = {CUT}
"""

AXES = f"""
[batch]
name = "axes"
replicates = 2
master_seed = 5

[batch.axes]
"regime.kind" = ["administrative", "competitive", "cooperative"]
"strategy.policy" = ["cooperate", "independent"]
shock_set = ["none", "cut"]

[batch.shock_sets]
cut = {CUT}
"""


@pytest.fixture(scope="session")
def small_batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small")
    run_batch(batch_file(folder, SMALL, steps=12), executor="serial", out=folder / "out")
    return load_results(folder / "out")


@pytest.fixture(scope="session")
def axes_batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("axes")
    run_batch(batch_file(folder, AXES, steps=8), executor="serial", out=folder / "out")
    return load_results(folder / "out")


@pytest.fixture(scope="session")
def charts(small_batch):
    """lang -> report.Charts of the small batch (the comparison is computed once per language)."""
    return {lang: report.build_charts(small_batch, lang=lang)[0] for lang in LANGS}


CHARTS = ("comparison", "timeseries", "triangle", "tradeoff", "resource_mix", "network")


def draw(charts: report.Charts, name: str, **kw) -> Figure:
    fn = {
        "comparison": lambda: charts.comparison_chart("final_ess_employment_fte"),
        "timeseries": lambda: charts.series_chart("ess_employment_fte"),
        "triangle": lambda: charts.triangle_chart("ess_employment_fte"),
        "tradeoff": charts.tradeoff_chart,
        "resource_mix": charts.resource_chart,
        "network": lambda: charts.network_chart("cooperative"),
    }[name]()
    assert fn is not None, f"the small batch has no {name} chart"
    return fn(source=charts.source, **kw)


# --------------------------------------------------------------------------- reading a figure
def texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def chart_axes(fig) -> list[Axes]:
    """Axes that show data (not the text panels and the network, whose axes are off)."""
    return [ax for ax in fig.findobj(Axes) if ax.axison and ax.get_visible()]


def _hidden_ticklabels(fig) -> set[int]:
    """Tick labels matplotlib keeps but does not draw (outside the view limits)."""
    out: set[int] = set()
    for ax in fig.findobj(Axes):
        for axis, lim in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            lo, hi = min(lim), max(lim)
            pad = 1e-9 * (hi - lo)
            for tick, loc in zip(axis.get_major_ticks(), axis.get_majorticklocs(), strict=False):
                if not ax.axison or not lo - pad <= loc <= hi + pad:
                    out |= {id(tick.label1), id(tick.label2)}
            for tick in axis.get_minor_ticks():
                out |= {id(tick.label1), id(tick.label2)}
    return out


def overlapping_texts(fig) -> list[tuple[str, str]]:
    """Pairs of drawn texts whose boxes overlap by more than a pixel each way."""
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    hidden = _hidden_ticklabels(fig)
    boxes = []
    for t in fig.findobj(Text):
        if id(t) in hidden or not t.get_visible() or not t.get_text().strip():
            continue
        bb = t.get_window_extent(renderer)
        if bb.width > 0 and bb.height > 0:
            boxes.append((t.get_text(), bb))
    out = []
    for i, (ta, a) in enumerate(boxes):
        for tb, b in boxes[i + 1:]:
            if min(a.x1, b.x1) - max(a.x0, b.x0) > 1 and min(a.y1, b.y1) - max(a.y0, b.y0) > 1:
                out.append((ta, tb))
    return out


def legend_colours(fig) -> dict[str, str]:
    """Legend label -> colour of its handle (line or marker), over every legend of the figure."""
    out = {}
    for leg in fig.findobj(Legend):
        for handle, text in zip(leg.legend_handles, leg.get_texts(), strict=True):
            if isinstance(handle, Line2D):
                out[text.get_text()] = mpl.colors.to_hex(handle.get_color())
    return out


# --------------------------------------------------------------------------- every chart, both languages
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", CHARTS)
def test_every_chart_has_units_legend_source_and_no_overlap(charts, name, lang, tmp_path):
    c = charts[lang]
    fig = draw(c, name)
    shown = texts(fig)
    assert c.source.line(lang) in shown, "the source line (version, scenario, replicates, seed) is under every figure"
    assert "0.1" in c.source.line(lang) or c.source.version in c.source.line(lang)
    assert fig.findobj(Legend), "every chart has a legend"
    axes = chart_axes(fig)
    if name == "network":
        assert not axes  # no axes: positions carry no meaning, said in the note under the chart
        assert any("FTE" in s or "ETP" in s for s in shown)
    else:
        assert axes
        for ax in axes:
            assert ax.get_xlabel().strip(), f"{name}: an axis without a label"
        labels = [ax.get_xlabel() for ax in axes] + [ax.get_ylabel() for ax in axes]
        unit = {"en": ("(FTE)", "(%)", "Quarter"), "fr": ("(ETP)", "(%)", "Trimestre")}[lang]
        assert any(u in lab for lab in labels for u in unit), f"{name}: no unit on the axes {labels}"
    assert overlapping_texts(fig) == [], f"{name} ({lang}): labels overlap"
    paths = plotting.save_figure(fig, tmp_path, f"{name}-{lang}")
    assert [p.suffix for p in paths] == [".png", ".svg"] and all(p.stat().st_size > 1000 for p in paths)
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = paths[1].read_text(encoding="utf-8")
    assert "<svg" in svg and "PTCE-sim" in svg  # text stays text (svg.fonttype none): searchable, editable


def test_the_overlap_check_can_fail():
    fig = Figure(figsize=(3, 2))
    fig.text(0.1, 0.5, "a long label")
    fig.text(0.15, 0.5, "another label")
    assert overlapping_texts(fig) == [("a long label", "another label")]


def test_french_charts_use_french_words_and_numbers(charts):
    shown = " ".join(texts(draw(charts["fr"], "comparison")))
    assert "coopératif" in shown and "concurrentiel" in shown and "Écart" in shown
    assert "cooperative" not in shown
    fig = draw(charts["fr"], "timeseries")
    ticks = [t.get_text() for ax in chart_axes(fig) for t in ax.get_yticklabels()]
    assert all("." not in t for t in ticks)  # decimal comma, never a point


# --------------------------------------------------------------------------- one visual language
def test_palette_is_okabe_ito_and_regimes_differ_in_colour_marker_and_line():
    styles = [REGIME_STYLE[k] for k in plotting.REGIME_ORDER]
    assert {s["color"] for s in styles} <= set(OKABE_ITO.values())
    for key in ("color", "marker", "linestyle", "hatch"):
        assert len({s[key] for s in styles}) == 3, f"two regimes share a {key}: not readable in black and white"
    # resources and sectors never use a regime's colour
    regime_colours = {s["color"] for s in styles}
    assert not regime_colours & {s["color"] for s in plotting.RESOURCE_STYLE.values()}
    assert not regime_colours & {s["color"] for s in plotting.SECTOR_STYLE.values()}


@pytest.mark.parametrize("name", ["timeseries", "triangle", "tradeoff"])
def test_each_regime_has_its_fixed_colour_in_every_chart(charts, name):
    colours = legend_colours(draw(charts["en"], name))
    for kind in plotting.REGIME_ORDER:
        label = next(lab for lab in colours if kind in lab)
        assert colours[label] == REGIME_STYLE[kind]["color"].lower(), (name, kind)


def test_comparison_markers_carry_the_colour_of_the_regime_on_their_row(charts):
    fig = draw(charts["en"], "comparison")
    ax_mean = chart_axes(fig)[0]
    rows = {round(y): lab.get_text().split("\n")[0] for y, lab in zip(ax_mean.get_yticks(), ax_mean.get_yticklabels(), strict=True)}
    marked = [ln for ln in ax_mean.get_lines() if ln.get_marker() not in (None, "None", "", "|", "_")]
    assert len(marked) == 3
    for line in marked:
        regime = rows[round(float(line.get_ydata()[0]))]
        assert mpl.colors.to_hex(line.get_color()) == REGIME_STYLE[regime]["color"].lower()


def test_hollow_marker_exactly_when_the_difference_is_not_significant():
    comparison = constructed_comparison(diff_ci={"competitive": (-1.0, 3.0), "cooperative": (2.0, 9.0)})
    fig = plotting.plot_comparison(comparison, "final_ess_employment_fte")
    ax_diff = chart_axes(fig)[1]
    by_colour = {mpl.colors.to_hex(ln.get_color()): ln for ln in ax_diff.get_lines() if ln.get_marker() not in (None, "None", "", "|", "_")}
    comp, coop = by_colour[REGIME_STYLE["competitive"]["color"].lower()], by_colour[REGIME_STYLE["cooperative"]["color"].lower()]
    assert mpl.colors.to_hex(comp.get_markerfacecolor()) == "#ffffff"  # interval includes 0
    assert mpl.colors.to_hex(coop.get_markerfacecolor()) == REGIME_STYLE["cooperative"]["color"].lower()


def constructed_comparison(diff_ci: dict[str, tuple[float, float]], outcome: str = "final_ess_employment_fte") -> pd.DataFrame:
    rows = [{"regime.kind": "administrative", "outcome": outcome, "n": 5, "mean": 100.0, "ci_low": 95.0, "ci_high": 105.0,
             "diff_mean": np.nan, "diff_ci_low": np.nan, "diff_ci_high": np.nan, "diff_n": 0}]
    for kind, (lo, hi) in diff_ci.items():
        d = (lo + hi) / 2
        rows.append({"regime.kind": kind, "outcome": outcome, "n": 5, "mean": 100.0 + d, "ci_low": 95.0 + d, "ci_high": 105.0 + d,
                     "diff_mean": d, "diff_ci_low": lo, "diff_ci_high": hi, "diff_n": 5})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- shock windows
def spans(ax) -> list[tuple[float, float]]:
    return [(round(p.get_x(), 6), round(p.get_x() + p.get_width(), 6)) for p in ax.patches if isinstance(p, Rectangle)]


def test_shock_window_is_shaded_over_its_quarters_and_only_where_there_is_a_shock(small_batch):
    ts, design = small_batch.timeseries, small_batch.design
    fig = plotting.plot_timeseries(ts, design, "ess_employment_fte", windows=[("budget_cut", 4, 8)])
    # quarter index 4..8 is steps 5..9: shaded from 4.5 to 9.5
    assert spans(chart_axes(fig)[0]) == [(4.5, 9.5)]
    assert spans(chart_axes(plotting.plot_timeseries(ts, design, "ess_employment_fte"))[0]) == []


def test_the_report_shades_the_window_of_the_scenario_shock(charts):
    # CUT: start 4, duration 3, recovery 2 -> quarter index 4..8 (ShockPath.windows)
    assert charts["en"].windows == {"cut": [("budget_cut", 4, 8)]}
    assert spans(chart_axes(draw(charts["en"], "timeseries"))[0]) == [(4.5, 9.5)]


def test_panels_per_policy_and_shock_set_shade_only_the_shocked_ones(axes_batch):
    c, _facts = report.build_charts(axes_batch, lang="en")
    assert c.windows == {"none": [], "cut": [("budget_cut", 4, 7)]}  # 8 quarters: clipped to the horizon
    fig = c.series_chart("ess_employment_fte")(source=c.source)
    axes = chart_axes(fig)
    assert len(axes) == 4  # a grid: rows the 2 policies, columns the 2 shock sets, named once on the margins
    column_title = {ax.get_subplotspec().colspan.start: ax.get_title(loc="left") for ax in axes if ax.get_title(loc="left")}
    row_label = {ax.get_subplotspec().rowspan.start: ax.get_ylabel() for ax in axes if ax.get_ylabel()}
    assert list(column_title.values()) == ["no shock", "shock set “cut”"]  # the order of the scenario file
    assert list(row_label.values()) == ["all cooperate", "all stay independent"]
    for ax in axes:
        assert ("cut" in column_title[ax.get_subplotspec().colspan.start]) == bool(spans(ax))
    assert overlapping_texts(fig) == []


def test_triangle_uses_the_realised_window_and_the_same_replicate_for_every_regime(small_batch, charts):
    shown = plotting.triangle_runs(small_batch.design)
    assert sorted(shown["regime.kind"]) == sorted(plotting.REGIME_ORDER)
    assert shown["replicate"].nunique() == 1 and (shown["twin_run_id"] >= 0).all()
    assert report.realised_window(small_batch, int(shown.iloc[0]["run_id"])) == (4, 8)


# --------------------------------------------------------------------------- numbers behind the charts
def test_series_bands_are_median_and_5_95_percentiles_of_replicates_by_hand():
    design = pd.DataFrame({"run_id": [0, 1, 2, 3], "replicate": [0, 1, 2, 0], "regime.kind": ["cooperative"] * 4,
                           "twin_of": [-1, -1, -1, 0]})
    ts = pd.DataFrame({"run_id": [0, 1, 2, 3], "step": [1, 1, 1, 1], "x": [1.0, 2.0, 10.0, 1000.0]})
    band = plotting.series_bands(ts, design, "x").iloc[0]
    # the twin (run 3) is left out; linear interpolation between order statistics:
    # 5th percentile at position 0.05 x 2 = 0.1 -> 1.1; 95th at 1.9 -> 2 + 0.9 x 8 = 9.2
    assert (band["median"], band["low"], band["high"]) == pytest.approx((2.0, 1.1, 9.2))


def test_resource_mix_gifts_are_the_remainder_by_hand():
    design = pd.DataFrame({"run_id": [0, 1], "replicate": [0, 1], "regime.kind": ["administrative"] * 2, "twin_of": [-1, -1]})
    ts = pd.DataFrame({"run_id": [0, 1], "step": [1, 1], "subsidy_share": [0.5, 0.3], "public_order_share": [0.2, 0.4],
                       "sales_share": [0.1, 0.3]})
    mix = plotting.resource_mix(ts, design).iloc[0]
    assert mix["subsidy_share"] == pytest.approx(0.4)
    assert mix["gifts_share"] == pytest.approx(((1 - 0.8) + 0.0) / 2)  # 0.2 and 1 - 1.0 = 0


def test_intervals_are_cut_to_what_the_quantity_can_be():
    c = pd.DataFrame([{"regime.kind": "cooperative", "outcome": o, "n": 2, "mean": m, "ci_low": lo, "ci_high": hi, "diff_mean": 0.0,
                       "diff_ci_low": -40.0, "diff_ci_high": 40.0, "diff_n": 2}
                      for o, m, lo, hi in (("ess_employment_fte__recovery_quarters", 4.5, -27.0, 36.0),
                                           ("mean_personalisation", 0.9, 0.7, 1.1),
                                           ("ess_employment_fte__resistance", -0.8, -2.4, 0.7))])
    b = plotting.bounded_intervals(c)
    assert list(b["ci_low"]) == [0.0, 0.7, -2.4] and list(b["ci_high"]) == [36.0, 1.0, 0.7]  # resistance is signed: untouched
    assert list(b["diff_ci_low"]) == [-40.0, -1.0, -40.0]  # an index of [0, 1] differs by at most 1


def test_share_intervals_are_cut_to_what_a_share_can_be():
    c = pd.DataFrame([{"regime.kind": "competitive", "outcome": "ess_employment_fte__recovered", "n": 3, "mean": 2 / 3,
                       "ci_low": -0.77, "ci_high": 2.1, "diff_mean": -1 / 3, "diff_ci_low": -1.77, "diff_ci_high": 1.1, "diff_n": 3},
                      {"regime.kind": "competitive", "outcome": "ess_employment_fte__resistance", "n": 3, "mean": 5.0,
                       "ci_low": -7.0, "ci_high": 17.0, "diff_mean": 1.0, "diff_ci_low": -3.0, "diff_ci_high": 5.0, "diff_n": 3}])
    b = plotting.bounded_intervals(c)
    assert list(b.loc[0, ["ci_low", "ci_high", "diff_ci_low", "diff_ci_high"]]) == [0.0, 1.0, -1.0, 1.0]
    pd.testing.assert_series_equal(b.loc[1], c.loc[1])  # a signed ratio: untouched


def test_numbers_follow_the_language():
    assert i18n.fmt_number(1234.5, "en", 1) == "1,234.5"
    assert i18n.fmt_number(1234.5, "fr", 1) == "1\u202f234,5"
    assert i18n.fmt_number(-0.25, "fr", 2) == "\u22120,25"
    assert i18n.fmt_number(0.0004, "en", 2, signed=True) == "0.00"  # no sign on a rounded zero
    assert i18n.fmt_number(3, "en", 0, signed=True) == "+3"
    fmt = plotting.LangFormatter("fr")
    fmt.set_locs([0.0, 2.5, 5.0, 7.5])
    assert [fmt(x) for x in (0.0, 2.5, 5.0)] == ["0,0", "2,5", "5,0"]
    fmt.set_locs([0, 1000, 2000])
    assert fmt(2000) == "2\u202f000"


# --------------------------------------------------------------------------- the network
def test_network_draws_one_outlined_area_per_ptce_and_every_sector():
    g = nx.Graph()
    sectors = list(plotting.SECTOR_STYLE)
    for i in range(12):
        g.add_node(i, sector=sectors[i % 5], municipality=i % 3, staff_fte=float(1 + i), is_ess=i < 10, ptce=[0, 0, 0, 1, 1, -1][i % 6])
    g.add_edges_from((i, i + 1, {"trust": 0.5, "kind": "tie"}) for i in range(11))
    fig = plotting.plot_network(g)
    outlines = [p for p in fig.findobj(Polygon) if p.get_linestyle() == "--"]
    assert len(outlines) == 2
    shown = texts(fig)
    assert "PTCE 1" in shown and "PTCE 2" in shown
    for s in sectors:
        assert i18n.sector_label(s, "en") in shown
    assert i18n.t("firm", "en") in shown


def test_network_of_a_real_run_reads_its_graphml(small_batch, charts):
    assert charts["en"].networks, "the runner writes networks of replicate 0"
    run_id = charts["en"].networks["cooperative"]
    g = small_batch.network(run_id)
    assert g.number_of_nodes() > 0 and {"sector", "staff_fte", "is_ess", "ptce"} <= set(next(iter(g.nodes.values())))
    fig = draw(charts["en"], "network")
    drawn = sum(len(c.get_offsets()) for c in fig.findobj(mpl.collections.PathCollection))
    shown, hidden = plotting.shown_graph(g)
    # every ESS organisation is drawn; only firms with no tie and no PTCE are left out, and counted in the note
    assert drawn == shown.number_of_nodes() == g.number_of_nodes() - hidden
    assert all(str(d["is_ess"]).lower() in ("true", "1") or g.degree(n) > 0 or int(d["ptce"]) >= 0 for n, d in shown.nodes(data=True))
    if hidden:
        assert any(f"{hidden} firms outside the ESS" in s for s in texts(fig))
