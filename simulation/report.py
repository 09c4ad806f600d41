"""The policy brief of a batch: key findings as sentences computed from the comparison,
charts in ``RESULTS_DIR/figures/`` and a PDF, in English or French.

``write_report(results_dir, lang="en")`` (and ``ptce report RESULTS_DIR``) writes:

- ``figures/<chart>-<lang>.png`` and ``.svg``: every chart of :mod:`simulation.plotting`;
- ``brief-<lang>.pdf`` (or ``--out``), A4 pages drawn with matplotlib's ``PdfPages`` (no
  LaTeX, no network): the key findings; one page per headline outcome (its sentences, the
  regime comparison and the outcome's series over time); the resilience triangle of each
  shocked series; the employment-personalisation trade-off and the resource mix; the
  cooperation networks; the method and the limits of the model.

The sentences (:func:`findings`) are written from ``simulation.results.compare`` alone:
which regime has the best mean (the direction of "best" per outcome is in
``simulation.i18n``), its 95 % interval, and each regime's paired difference with the
baseline regime; when the interval of a difference includes zero, the sentence says the
difference is not significant. No number, ranking or sign is written in.
"""

from __future__ import annotations

import functools
import json
import math
import os
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure, SubFigure

from . import __version__, i18n, plotting
from .i18n import NBSP
from .plotting import REGIME, Source

# --------------------------------------------------------------------------- findings
COMPACT_COMBINATIONS = 2
"""Up to this many combinations of the other axes, an outcome's page holds all its
sentences and its chart over time; beyond, the page holds the summary and the comparison,
each series over time gets a page, and the sentences per combination go to an appendix."""


STAT_COLUMNS = (*plotting.STAT_COLUMNS, "diff_n")


def _finite(*xs: float) -> bool:
    return all(x is not None and math.isfinite(float(x)) for x in xs)


def _includes_zero(lo: float, hi: float) -> bool:
    return lo <= 0.0 <= hi


def _value(x: float, outcome: str, lang: str, dec: int, *, diff: bool = False, signed: bool = False) -> str:
    """A number of an outcome with its unit where the unit reads as a suffix (FTE, quarters,
    EUR...), a percentage for shares (percentage points for a difference of shares)."""
    scale = 100.0 if i18n.outcome_is_share(outcome) else 1.0
    text = i18n.fmt_number(x * scale, lang, dec, signed=signed)
    # no-break spaces: a line never ends between a number and its unit
    if i18n.outcome_is_share(outcome):
        if diff:
            return f"{text}{NBSP}{i18n.plural('points', x * scale, lang)}"  # percentage points
        return f"{text}%" if lang == "en" else f"{text}{i18n.NNBSP}%"
    unit = i18n.outcome_unit(outcome, lang)
    if unit and unit.split()[0].strip(",;") not in ("index", "indice", "ratio", "share", "part", "unit"):
        return f"{text}{NBSP}{i18n.plural(unit, x * scale, lang)}"
    return text


MAX_DECIMALS = 4


def _decimals(rows: pd.DataFrame, outcome: str) -> int:
    """Decimals of every number of one outcome: enough for the narrowest half-interval to
    show one significant digit (more would be noise to a reader: 112 FTE, not 112.0), and
    more if needed so that no end of a difference's interval rounds to zero (the reader
    must see on which side of zero each end lies)."""
    scale = 100.0 if i18n.outcome_is_share(outcome) else 1.0
    widths = pd.concat([rows["ci_high"] - rows["ci_low"], rows["diff_ci_high"] - rows["diff_ci_low"]]).to_numpy(dtype=float) * scale
    widths = widths[np.isfinite(widths) & (widths > 0)]
    if len(widths):
        dec = int(min(MAX_DECIMALS, max(0, -math.floor(math.log10(widths.min() / 2)))))
    else:
        dec = i18n.decimals_for(*(rows["mean"].to_numpy(dtype=float) * scale))
    ends = pd.concat([rows["diff_ci_low"], rows["diff_ci_high"]]).to_numpy(dtype=float) * scale
    ends = ends[np.isfinite(ends) & (ends != 0)]
    while dec < MAX_DECIMALS and any(round(abs(e), dec) == 0 for e in ends):
        dec += 1
    return dec


def _head(outcome: str, lang: str, combo: str) -> str:
    unit = i18n.outcome_unit(outcome, lang)
    head = i18n.outcome_label(outcome, lang) + (f" ({unit})" if unit else "") + (f" — {combo}" if combo else "")
    return head + (": " if lang == "en" else NBSP + ": ")


def _ci(lo: float, hi: float, outcome: str, lang: str, dec: int) -> str:
    if not _finite(lo, hi):
        return i18n.sentence("no_ci", lang)
    scale = 100.0 if i18n.outcome_is_share(outcome) else 1.0
    return i18n.sentence("ci", lang, lo=i18n.fmt_number(lo * scale, lang, dec), hi=i18n.fmt_number(hi * scale, lang, dec))


def _prepare(rows: pd.DataFrame, outcome: str) -> tuple[pd.DataFrame, list[str], int, str]:
    """Rows with a value, indexed by regime in the fixed order; decimals; the leader (best
    mean in the direction of the outcome, highest when it has none)."""
    rows = rows[np.isfinite(rows["mean"].to_numpy(dtype=float))]
    if rows.empty:
        return rows, [], 0, ""
    order = plotting.regime_order(rows[REGIME])
    rows = rows.set_index(REGIME).loc[order]
    dec = _decimals(rows.reset_index(), outcome)
    leader = rows["mean"].idxmin() if i18n.outcome_better(outcome) < 0 else rows["mean"].idxmax()
    return rows, order, dec, str(leader)


def _diff_ci(lo: float, hi: float, outcome: str, lang: str, dec: int) -> str:
    scale = 100.0 if i18n.outcome_is_share(outcome) else 1.0
    return i18n.sentence("ci_paired", lang, lo=i18n.fmt_number(lo * scale, lang, dec), hi=i18n.fmt_number(hi * scale, lang, dec))


def _lead_kw(rows: pd.DataFrame, leader: str, outcome: str, lang: str, dec: int) -> dict[str, str]:
    lead = rows.loc[leader]
    return {"leader": i18n.regime_label(leader, lang), "mean": _value(lead["mean"], outcome, lang, dec),
            "ci": _ci(lead["ci_low"], lead["ci_high"], outcome, lang, dec)}


def _margin(rows: pd.DataFrame, leader: str, outcome: str, baseline: str) -> tuple[str, float, float, float]:
    """(other regime, difference leader - other, its 95 % interval): against the baseline,
    or, when the baseline leads, against the next best regime (minus that regime's paired
    difference with the baseline, and the interval mirrored)."""
    if leader != baseline:
        if baseline not in rows.index:
            return baseline, math.nan, math.nan, math.nan
        return baseline, *(float(rows.loc[leader, c]) for c in ("diff_mean", "diff_ci_low", "diff_ci_high"))
    rest = rows.drop(index=baseline)
    other = str(rest["mean"].idxmin() if i18n.outcome_better(outcome) < 0 else rest["mean"].idxmax())
    return other, -float(rows.loc[other, "diff_mean"]), -float(rows.loc[other, "diff_ci_high"]), -float(rows.loc[other, "diff_ci_low"])


def key_sentence(rows: pd.DataFrame, outcome: str, *, lang: str, baseline: str, combo: str = "") -> str:
    """The key finding on one outcome: which regime leads, with its interval, and by how much
    (with the interval of the paired difference) over the baseline regime, or, when the
    baseline leads, over the next best regime; "not significant" when that interval
    includes zero."""
    head = _head(outcome, lang, combo)
    rows, order, dec, leader = _prepare(rows, outcome)
    if rows.empty:
        return head + i18n.sentence("no_value", lang) + "."
    kw = _lead_kw(rows, leader, outcome, lang, dec)
    if len(rows) == 1:
        return head + i18n.sentence("only_one", lang, **kw) + "."
    better = i18n.outcome_better(outcome)
    kw["lower"] = i18n.sentence("lower_is_better", lang) if better < 0 else ""
    other, d, lo, hi = _margin(rows, leader, outcome, baseline)
    nxt = i18n.sentence("next_best", lang) if leader == baseline else ""
    if not _finite(d, lo, hi):
        basic = {1: "leads_high", -1: "leads_low", 0: "highest"}[better]
        return head + i18n.sentence(basic, lang, **{k: kw[k] for k in ("leader", "mean", "ci")}) + ". " + \
            _cap(i18n.sentence("diff_unknown", lang, other=i18n.regime_label(other, lang))) + "."
    kw.update(other=i18n.regime_label(other, lang), next=nxt, ci_diff=_diff_ci(lo, hi, outcome, lang, dec))
    if _includes_zero(lo, hi):
        kw.update(best=i18n.sentence("best" if better else "highest_word", lang), diff=_value(d, outcome, lang, dec, diff=True, signed=True))
        return head + i18n.sentence("key_not_significant", lang, **kw) + "."
    kw.update(margin=_value(abs(d), outcome, lang, dec, diff=True), more_less=i18n.sentence("more" if d > 0 else "less", lang))
    return head + i18n.sentence("key_lead" if better else "key_highest", lang, **kw) + "."


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def full_paragraph(rows: pd.DataFrame, outcome: str, *, lang: str, baseline: str, combo: str = "", head: bool = True) -> str:
    """Every sentence on one outcome: the leader with its interval (saying when its lead is
    not significant), then each regime's paired difference with the baseline regime.
    ``head=False`` leaves out the outcome's name (the page title gives it) but keeps the
    combination of the other axes."""
    if head:
        head = _head(outcome, lang, combo)
    else:
        head = _cap(combo) + (": " if lang == "en" else NBSP + ": ") if combo else ""
    rows, order, dec, leader = _prepare(rows, outcome)
    if rows.empty:
        return _cap(head + i18n.sentence("no_value", lang)) + "."
    kw = _lead_kw(rows, leader, outcome, lang, dec)
    if len(rows) == 1:
        return _cap(head + i18n.sentence("only_one", lang, **kw)) + "."
    better = i18n.outcome_better(outcome)
    first = i18n.sentence({1: "leads_high", -1: "leads_low", 0: "highest"}[better], lang, **kw)
    if leader == baseline:
        unsure = [k for k in order if k != baseline and _finite(rows.loc[k, "diff_ci_low"], rows.loc[k, "diff_ci_high"])
                  and _includes_zero(rows.loc[k, "diff_ci_low"], rows.loc[k, "diff_ci_high"])]
    elif baseline in rows.index and _finite(rows.loc[leader, "diff_ci_low"], rows.loc[leader, "diff_ci_high"]) \
            and _includes_zero(rows.loc[leader, "diff_ci_low"], rows.loc[leader, "diff_ci_high"]):
        unsure = [baseline]
    else:
        unsure = []
    if len(unsure) == 1:
        first += i18n.sentence("lead_not_significant", lang, other=i18n.regime_label(unsure[0], lang))
    elif unsure:
        first += i18n.sentence("lead_not_significant_many", lang, others=i18n.join_words([i18n.regime_label(k, lang) for k in unsure], lang))
    text = _cap(head + first) + "."
    if baseline not in rows.index:
        return text
    parts = []
    for k in order:
        if k == baseline:
            continue
        r = rows.loc[k]
        kw = {"other": i18n.regime_label(k, lang)}
        if not _finite(r["diff_mean"], r["diff_ci_low"], r["diff_ci_high"]):
            parts.append(i18n.sentence("diff_unknown", lang, **kw))
            continue
        ci = _diff_ci(r["diff_ci_low"], r["diff_ci_high"], outcome, lang, dec)
        if _includes_zero(r["diff_ci_low"], r["diff_ci_high"]):
            parts.append(i18n.sentence("diff_not_significant", lang, **kw, ci=ci,
                                       diff=_value(r["diff_mean"], outcome, lang, dec, diff=True, signed=True)))
        else:
            key = "diff_higher" if r["diff_mean"] > 0 else "diff_lower"
            parts.append(i18n.sentence(key, lang, **kw, ci=ci, abs=_value(abs(r["diff_mean"]), outcome, lang, dec, diff=True)))
    intro = i18n.sentence("diff_intro", lang, baseline=i18n.regime_label(baseline, lang))
    return text + " " + intro + i18n.sentence("diff_sep", lang).join(parts) + "."


def _combos(comparison: pd.DataFrame) -> tuple[list[str], list[dict[str, Any]]]:
    others = plotting.group_axes(comparison)
    combos = comparison[others].drop_duplicates().to_dict("records") if others else [{}]
    return others, combos


def _per_combo(comparison: pd.DataFrame, outcome: str, lang: str, write: Callable[..., str], baseline: str, **kw: Any) -> list[str]:
    rows = plotting.bounded_intervals(comparison[comparison["outcome"] == outcome])
    others, combos = _combos(comparison)
    out = []
    for combo in combos:
        sel = rows
        for k, v in combo.items():
            sel = sel[sel[k] == v]
        if sel.empty:
            continue
        label = plotting._combo_label(pd.Series(combo), others, lang) if combo else ""
        out.append(write(sel, outcome, lang=lang, baseline=baseline, combo=label, **kw))
    return out


def outcome_findings(comparison: pd.DataFrame, outcome: str, *, lang: str = "en", baseline: str = "administrative",
                     head: bool = True) -> list[str]:
    """Every sentence on one outcome (:func:`full_paragraph`), one paragraph per combination
    of the other varied axes: the text of the outcome's page of the brief."""
    i18n.check_lang(lang)
    return _per_combo(comparison, outcome, lang, full_paragraph, baseline, head=head)


def summary_sentence(comparison: pd.DataFrame, outcome: str, *, lang: str, baseline: str) -> str:
    """The key finding on one outcome when the batch compares the regimes in several
    combinations of other axes (strategy policies, shock sets...): in how many
    combinations each regime leads, in how many of them significantly (the interval of
    its margin, as in :func:`key_sentence`, excludes zero), and the largest significant
    lead with its interval and combination."""
    rows_all = plotting.bounded_intervals(comparison[comparison["outcome"] == outcome])
    others, combos = _combos(comparison)
    leads: dict[str, list[int]] = {}
    versus: dict[str, list[int]] = {}  # regime -> [significantly higher, lower, not significant] than the baseline
    best: tuple[float, str, str, float, float, float, str, int] | None = None
    counted = 0
    for combo in combos:
        sel = rows_all
        for k, v in combo.items():
            sel = sel[sel[k] == v]
        rows, _order, dec, leader = _prepare(sel, outcome)
        if len(rows) < 2:
            continue
        counted += 1
        other, d, lo, hi = _margin(rows, leader, outcome, baseline)
        significant = _finite(d, lo, hi) and not _includes_zero(lo, hi)
        tally = leads.setdefault(leader, [0, 0])
        tally[0] += 1
        tally[1] += int(significant)
        if significant and (best is None or abs(d) > best[0]):
            best = (abs(d), leader, other, d, lo, hi, plotting._combo_label(pd.Series(combo), others, lang), dec)
        for k in rows.index:
            r = rows.loc[k]
            if k != baseline and _finite(r["diff_ci_low"], r["diff_ci_high"]):
                tally = versus.setdefault(k, [0, 0, 0])
                tally[0 if r["diff_ci_low"] > 0 else 1 if r["diff_ci_high"] < 0 else 2] += 1
    head = _head(outcome, lang, "")
    if not counted:
        return head + i18n.sentence("no_value", lang) + "."
    axes_words = i18n.join_words([i18n.axis_plural(a, lang) for a in others], lang)
    order = sorted(leads, key=lambda k: (-leads[k][0], -leads[k][1], plotting.regime_order(leads).index(k)))
    parts = [i18n.sentence("summary_first" if i == 0 else "summary_next", lang, regime=i18n.regime_label(k, lang), n=leads[k][0],
                           sig=leads[k][1] if leads[k][1] else i18n.sentence("none_word", lang)) for i, k in enumerate(order)]
    text = head + i18n.sentence("summary_intro", lang, n=counted, axes=axes_words) + ", ".join(parts) + "."
    if best is None:
        text += " " + i18n.sentence("summary_no_significant", lang)
    else:
        _abs, leader, other, d, lo, hi, combo, dec = best
        text += " " + i18n.sentence("summary_largest", lang, regime=i18n.regime_label(leader, lang), combo=combo,
                                    margin=_value(abs(d), outcome, lang, dec, diff=True),
                                    more_less=i18n.sentence("more" if d > 0 else "less", lang), other=i18n.regime_label(other, lang),
                                    ci=_diff_ci(lo, hi, outcome, lang, dec))
    if versus:
        parts = []
        for k in plotting.regime_order(versus):
            counts = [i18n.sentence(word, lang, n=n) for word, n in zip(("versus_higher", "versus_lower", "versus_same"), versus[k],
                                                                         strict=True) if n]  # zero counts left out
            parts.append(i18n.sentence("versus_part", lang, regime=i18n.regime_label(k, lang), counts=i18n.join_words(counts, lang)))
        text += " " + i18n.sentence("versus_intro", lang, baseline=i18n.regime_label(baseline, lang)) + \
            i18n.sentence("diff_sep", lang).join(parts) + "."
    return text


def findings(comparison: pd.DataFrame, *, lang: str = "en", baseline: str = "administrative") -> list[str]:
    """The key findings (page 1 of the brief), one per outcome of the comparison in its
    order: :func:`key_sentence` for each combination of the other axes when there are at
    most COMPACT_COMBINATIONS, else :func:`summary_sentence` (each combination's sentences
    are then in the brief's appendix)."""
    i18n.check_lang(lang)
    _others, combos = _combos(comparison)
    out: list[str] = []
    for outcome in dict.fromkeys(comparison["outcome"]):
        if len(combos) > COMPACT_COMBINATIONS:
            out.append(summary_sentence(comparison, outcome, lang=lang, baseline=baseline))
        else:
            out += _per_combo(comparison, outcome, lang, key_sentence, baseline)
    return out


# --------------------------------------------------------------------------- batch facts
BRIEF_TEXT: dict[str, dict[str, str]] = {
    "title": {"en": "Policy brief: ESS organisations under three crisis-exit regimes",
              "fr": "Note de synthèse : les organisations de l'ESS sous trois régimes de sortie de crise"},
    "subtitle": {"en": "Scenario “{scenario}”, {regimes} regimes, {replicates} replicates each, {quarters} quarters ({years} years). Simulated with PTCE-sim {version}.",
                 "fr": "Scénario « {scenario} », {regimes} régimes, {replicates} réplications chacun, {quarters} trimestres ({years} ans). Simulé avec PTCE-sim {version}."},
    "key_findings": {"en": "Key findings", "fr": "Principaux résultats"},
    "how_to_read": {"en": "How to read these numbers", "fr": "Comment lire ces chiffres"},
    "how_to_read_text": {
        "en": "Each number is the mean over the replicates (runs with different random seeds) of a regime. The 95% confidence interval (CI) is the range in which the mean would fall in 95 out of 100 repetitions of the experiment. Regimes are compared on the same seeds (paired differences): the same territory meets the same shocks under each regime, so a difference comes from the regime. When the interval of a difference includes zero, the batch cannot tell the regimes apart on that outcome: the difference is not significant. These are results of a simulation model under stated assumptions, not forecasts.",
        "fr": "Chaque chiffre est la moyenne, pour un régime, des réplications (simulations à graines aléatoires différentes). L'intervalle de confiance (IC) à 95 % est la plage dans laquelle la moyenne tomberait 95 fois sur 100 si l'on refaisait l'expérience. Les régimes sont comparés sur les mêmes graines (écarts appariés) : le même territoire subit les mêmes chocs sous chaque régime, de sorte qu'un écart vient du régime. Quand l'intervalle d'un écart contient zéro, le lot ne permet pas de départager les régimes sur ce résultat : l'écart n'est pas significatif. Ce sont les résultats d'un modèle de simulation sous des hypothèses explicites, pas des prévisions.",
    },
    "method": {"en": "Method and limits", "fr": "Méthode et limites"},
    "method_model": {
        "en": "PTCE-sim is an agent-based model: ESS organisations, service firms and local employers on a territory of municipalities; each quarter needs are computed, the public funder allocates its budget by the rules of the regime, organisations serve beneficiaries, hire or lay off, and close when insolvent; new organisations enter where needs are unmet. The model is described with the ODD protocol in ODD.md; every parameter has a unit, a default and a source (FACTS.md) or is marked as an assumption.",
        "fr": "PTCE-sim est un modèle multi-agents : organisations de l'ESS, entreprises de services et employeurs locaux sur un territoire de communes ; chaque trimestre, les besoins sont calculés, le financeur public répartit son budget selon les règles du régime, les organisations servent les bénéficiaires, embauchent ou licencient, et ferment en cas d'insolvabilité ; de nouvelles organisations naissent là où des besoins ne sont pas couverts. Le modèle est décrit selon le protocole ODD dans ODD.md ; chaque paramètre a une unité, une valeur par défaut et une source (FACTS.md) ou est signalé comme hypothèse.",
    },
    "method_batch": {"en": "This batch", "fr": "Ce lot de simulations"},
    "scenario_line": {"en": "Scenario: “{scenario}”{description}; {quarters} quarters per run.", "fr": "Scénario : « {scenario} »{description} ; {quarters} trimestres par simulation."},
    "axes_line": {"en": "Compared: {axes}.", "fr": "Comparé : {axes}."},
    "runs_line": {"en": "Runs: {runs} ({ok} finished, {failed} failed{twins}).", "fr": "Simulations : {runs} ({ok} terminées, {failed} en échec{twins})."},
    "twins_part": {"en": ", of which {n} no-shock twins used as counterfactuals", "fr": ", dont {n} jumelles sans choc servant de contrefactuel"},
    "seeds_line": {"en": "Seeds: {replicates} replicates spawned from master seed {seed}; replicate r has the same seed under every regime and policy (common random numbers).",
                   "fr": "Graines : {replicates} réplications issues de la graine maîtresse {seed} ; la réplication r a la même graine sous chaque régime et chaque stratégie (nombres aléatoires communs)."},
    "shocks_line": {"en": "Shocks: {shocks}.", "fr": "Chocs : {shocks}."},
    "no_shocks": {"en": "none", "fr": "aucun"},
    "stats_line": {"en": "Statistics: mean over replicates with a 95% Student t interval; differences with the {baseline} regime paired by replicate (and by the other axes). Intervals are cut to the possible range of the quantity (a time or a headcount is never negative, a share never above 100 %). Resilience is measured against the twin run without the shock (same seed).",
                   "fr": "Statistiques : moyenne des réplications avec un intervalle de Student à 95 % ; écarts au régime {baseline} appariés par réplication (et par les autres axes). Les intervalles sont bornés aux valeurs possibles (un délai ou un effectif n'est jamais négatif, une part jamais au-dessus de 100 %). La résilience est mesurée par rapport à la simulation jumelle sans le choc (même graine)."},
    "version_line": {"en": "Model version: PTCE-sim {version} (the results folder was written by version {batch_version}).",
                     "fr": "Version du modèle : PTCE-sim {version} (le dossier de résultats a été écrit par la version {batch_version})."},
    "limits": {"en": "What the model leaves out (ODD.md, “Not yet in the model”)", "fr": "Ce que le modèle laisse de côté (ODD.md, « Not yet in the model »)"},
    "limits_note": {"en": "Parameters marked “assumption” in ODD.md are not calibrated on data: results are conditional on them.",
                    "fr": "Les paramètres marqués « assumption » dans ODD.md ne sont pas calibrés sur des données : les résultats en dépendent."},
    "resilience_page": {"en": "Resilience to the shock, one run per regime", "fr": "Résilience face au choc, une simulation par régime"},
    "resilience_text": {
        "en": "One run per regime (the first replicate{combo}) against the same run without the shock: the shaded area is what the shock cost. The measures are those of the run shown; the comparison pages give their means over all replicates.",
        "fr": "Une simulation par régime (la première réplication{combo}), comparée à la même simulation sans le choc : la zone hachurée est ce que le choc a coûté. Les mesures sont celles de la simulation montrée ; les pages de comparaison en donnent les moyennes sur toutes les réplications.",
    },
    "tradeoff_page": {"en": "Trade-offs and resources", "fr": "Arbitrages et ressources"},
    "networks_page": {"en": "Cooperation networks", "fr": "Réseaux de coopération"},
    "network_title": {"en": "{regime} regime, run {run_id}", "fr": "Régime {regime}, simulation {run_id}"},
    "over_time": {"en": "{series} over time, by regime", "fr": "{series} dans le temps, par régime"},
    "details": {"en": "Details by combination", "fr": "Détail par combinaison"},
    "details_note": {"en": "Every sentence below is computed from the comparison table (ptce compare), one combination of the other axes at a time.",
                     "fr": "Chaque phrase ci-dessous est calculée à partir du tableau de comparaison (ptce compare), une combinaison des autres axes à la fois."},
    "page": {"en": "page {n} of {total}", "fr": "page {n} sur {total}"},
    "continued": {"en": "{title} (continued)", "fr": "{title} (suite)"},
}


def bt(key: str, lang: str, **kw: Any) -> str:
    return BRIEF_TEXT[key][i18n.check_lang(lang)].format(**kw)


@dataclass(frozen=True)
class BatchFacts:
    """What the brief says about the batch, read from ``spec.json`` and the design."""

    scenario: str
    description: str
    steps: int
    replicates: int
    master_seed: int | str
    batch_version: str
    axes: dict[str, list[Any]]
    shock_sets: dict[str, list[dict[str, Any]]]  # name -> shock tables ("none" and "scenario" included)
    runs: int
    ok: int
    failed: int
    twins: int

    def source(self) -> Source:
        return Source(version=self.batch_version, scenario=self.scenario, replicates=self.replicates, seed=self.master_seed)


def _dig(spec: dict[str, Any], *paths: str, default: Any = None) -> Any:
    """The first of several dotted paths present in the spec."""
    for path in paths:
        node: Any = spec
        for part in path.split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            else:
                break
        else:
            if node is not None:
                return node
    return default


def batch_facts(results: Any) -> BatchFacts:
    """The facts of a batch from its ``spec.json`` (``simulation.runner``: ``package_version``,
    ``scenario`` resolved with its ``batch`` table) and its design."""
    spec = getattr(results, "spec", {}) or {}
    design = results.design
    outcomes = results.outcomes
    twins = int((design["twin_of"] >= 0).sum()) if "twin_of" in design.columns else 0
    status = outcomes["status"] if "status" in outcomes.columns else pd.Series(dtype=str)
    axis_names = list(getattr(results, "axes", None) or _dig(spec, "axes", default=[]) or plotting.varied_axes(design))
    primary = plotting.primary_runs(design)
    axes = {a: list(dict.fromkeys(primary[a])) for a in axis_names if a in primary.columns}
    steps = _dig(spec, "scenario.batch.steps", "scenario.steps")
    if steps is None:
        steps = int(results.timeseries["step"].max()) if len(results.timeseries) else 0
    from .batchspec import NO_SHOCK_SET

    shock_sets = {NO_SHOCK_SET: [], "scenario": list(_dig(spec, "scenario.shocks", default=[]) or []),
                  **(_dig(spec, "scenario.batch.shock_sets", default={}) or {})}
    return BatchFacts(
        scenario=str(_dig(spec, "scenario.name", "name", default=Path(getattr(results, "path", "?")).name)),
        description=str(_dig(spec, "scenario.description", default="") or ""),
        steps=int(steps),
        replicates=int(_dig(spec, "scenario.batch.replicates", default=design["replicate"].nunique())),
        master_seed=_dig(spec, "scenario.batch.master_seed", "scenario.seed", default="?"),
        batch_version=str(_dig(spec, "package_version", default=__version__)),
        axes=axes,
        shock_sets=shock_sets,
        runs=len(design),
        ok=int((status == "ok").sum()),
        failed=int((status != "ok").sum()),
        twins=twins,
    )


def _int_or_envelope(value: Any, low: bool) -> int:
    """A timing field of a shock: an int, or a drawn ``{min, max}`` (its envelope)."""
    if isinstance(value, dict):
        return int(value["min"] if low else value["max"])
    return int(value)


def shock_windows(shocks: Sequence[dict[str, Any]], steps: int) -> list[tuple[str, int, int]]:
    """(kind, first, last) 0-based quarter indices of the shocks of a shock set, as
    ``ShockPath.windows``: from ``start`` to ``start + duration + recovery_quarters - 1``,
    clipped to the horizon. A drawn timing (``{min, max}``) gives the envelope of its draws."""
    out = []
    for s in shocks:
        try:
            first = _int_or_envelope(s.get("start", 40), low=True)
            last = (_int_or_envelope(s.get("start", 40), low=False) + _int_or_envelope(s.get("duration", 8), low=False)
                    + _int_or_envelope(s.get("recovery_quarters", 4), low=False) - 1)
        except (KeyError, TypeError, ValueError):
            continue
        if first < steps:
            out.append((str(s.get("kind", "shock")), first, min(last, steps - 1)))
    return out


def windows_by_shock_set(facts: BatchFacts, design: pd.DataFrame) -> dict[str, list[tuple[str, int, int]]]:
    """Shock windows to shade, per shock set of the design (:func:`shock_windows`)."""
    sets = list(dict.fromkeys(design["shock_set"])) if "shock_set" in design.columns else ["scenario"]
    return {str(name): shock_windows(facts.shock_sets.get(name, []), facts.steps) for name in sets}


@functools.lru_cache(maxsize=64)
def _realised_window_cached(spec_json: str, run_id: int, replicate: str, regime: str, shock_set: str) -> tuple[int, int] | None:
    from .model import TerritoryModel
    from .params import Scenario
    from .runner import make_plan, run_seed

    try:
        spec = json.loads(spec_json)
        plan = make_plan(Scenario.model_validate(spec["scenario"]))
        row = plan.design.loc[plan.design["run_id"] == run_id].iloc[0]
        mine = {"replicate": replicate, REGIME: regime, "shock_set": shock_set}
        if any(str(row[k]) != v for k, v in mine.items() if k in row.index and v):
            return None  # the rebuilt design is not the batch's: do not guess
        scenario = plan.points[plan.point_of_run[run_id]]
        model = TerritoryModel(scenario, rng=run_seed(int(plan.spec.master_seed), int(row["replicate"])))
        return model.shocks.window
    except Exception:  # any failure only loses the exact shading: the caller falls back to the spec's windows
        return None


def realised_window(results: Any, run_id: int) -> tuple[int, int] | None:
    """``ShockPath.window`` of one run as it was simulated (a drawn timing included): the
    run's scenario is rebuilt from spec.json with the runner's plan, and the model is only
    initialised (the shock path is drawn before the first quarter). None if that fails
    (a batch of another version of the model)."""
    mine = results.design.loc[results.design["run_id"] == run_id].iloc[0]
    return _realised_window_cached(json.dumps(results.spec, sort_keys=True, default=str), int(run_id), str(mine["replicate"]),
                                   str(mine[REGIME]), str(mine["shock_set"]) if "shock_set" in mine.index else "")


# --------------------------------------------------------------------------- charts on disk
@dataclass
class Charts:
    """Every chart of a batch, drawn by functions of a (sub)figure, so the same chart goes
    to ``figures/`` alone and into a page of the brief."""

    comparison: pd.DataFrame
    outcomes: list[str]
    baseline: str
    lang: str
    source: Source
    results: Any
    windows: dict[str, list[tuple[str, int, int]]]  # shock set -> windows to shade
    drawn_timing: bool = False  # some shock dates are drawn per replicate: the windows are envelopes
    networks: dict[str, int] = field(default_factory=dict)  # regime -> run_id

    # each returns a function fig -> Figure, or None when the batch has nothing to show
    def comparison_chart(self, outcome: str) -> Callable:
        return lambda fig=None, source=None, **kw: plotting.plot_comparison(self.comparison, outcome, lang=self.lang,
                                                                              baseline=self.baseline, source=source, fig=fig, **kw)

    def series_chart(self, metric: str) -> Callable | None:
        if metric not in self.results.timeseries.columns:
            return None
        return lambda fig=None, source=None: plotting.plot_timeseries(self.results.timeseries, self.results.design, metric, lang=self.lang,
                                                                        windows=self.windows, source=source, fig=fig,
                                                                        axes=getattr(self.results, "axes", None) or plotting.STANDARD_AXES,
                                                                        drawn=self.drawn_timing)

    def _single_windows(self) -> list[tuple[str, int, int]] | None:
        """The windows when every run shown has the same (one shock set), else None."""
        sets = list(self.windows.values())
        return sets[0] if len(sets) == 1 else None

    def triangle_chart(self, series: str) -> Callable | None:
        if series not in self.results.timeseries.columns or plotting.shocked_twin_pairs(self.results.design).empty:
            return None
        shown = plotting.triangle_runs(self.results.design)
        window = realised_window(self.results, int(shown.iloc[0]["run_id"]))
        if window is None:
            spec_windows = self.windows.get(str(shown.iloc[0].get("shock_set", "scenario")), [])
            window = (min(w[1] for w in spec_windows), max(w[2] for w in spec_windows)) if spec_windows else None
        return lambda fig=None, source=None, **kw: plotting.plot_resilience_triangle(
            self.results.timeseries, self.results.design, series, window=window, outcomes=self.results.outcomes, lang=self.lang,
            source=source, fig=fig, **kw)

    def triangle_combo(self) -> str:
        """", with <policy>, <shock set>" of the runs the triangles show, when those axes vary."""
        shown = plotting.triangle_runs(self.results.design)
        axes = [a for a in plotting.varied_axes(plotting.primary_runs(self.results.design)) if a in shown.columns]
        if shown.empty or not axes:
            return ""
        return ", " + plotting._combo_label(shown.iloc[0], axes, self.lang)

    def tradeoff_chart(self) -> Callable | None:
        have = set(self.comparison["outcome"])
        if not {"final_ess_employment_fte", "mean_personalisation"} <= have:
            return None
        return lambda fig=None, source=None, **kw: plotting.plot_tradeoff(self.comparison, lang=self.lang, source=source, fig=fig, **kw)

    def resource_chart(self) -> Callable | None:
        if not set(plotting.RESOURCE_COLUMNS) <= set(self.results.timeseries.columns):
            return None
        return lambda fig=None, source=None, **kw: plotting.plot_resource_mix(self.results.timeseries, self.results.design, lang=self.lang,
                                                                                windows=self._single_windows(), source=source, fig=fig,
                                                                                **kw)

    def network_chart(self, regime: str) -> Callable:
        run_id = self.networks[regime]
        title = bt("network_title", self.lang, regime=i18n.regime_label(regime, self.lang), run_id=run_id)
        return lambda fig=None, source=None: plotting.plot_network(self.results.network(run_id), lang=self.lang, title=title,
                                                                     source=source, fig=fig)


def metric_of(outcome: str) -> str | None:
    """The time series behind an outcome: ``final_x``/``mean_x`` and ``x__measure`` -> ``x``."""
    kind, series, _measure, _q = i18n.outcome_quantity(outcome)
    return series if kind in ("final", "mean", "resilience") else None


def resilience_series(outcomes: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(s for o in outcomes if i18n.outcome_quantity(o)[0] == "resilience" for s in [i18n.outcome_quantity(o)[1]]))


def _network_runs(results: Any) -> dict[str, int]:
    """First replicate's run with a network file, per regime (shocked runs before twins)."""
    files = getattr(results, "networks", {}) or {}
    if not files:
        return {}
    design = results.design
    d = design[design["run_id"].isin(list(files))]
    if "twin_of" in d.columns:
        d = d.sort_values(["twin_of", "replicate", "run_id"], key=lambda s: s if s.name != "twin_of" else (s >= 0))
    out: dict[str, int] = {}
    for _, row in d.iterrows():
        out.setdefault(str(row[REGIME]), int(row["run_id"]))
    return {k: out[k] for k in plotting.regime_order(out)}


def write_figures(charts: Charts, folder: Path) -> list[Path]:
    """Every chart as PNG and SVG in ``folder``, names suffixed by the language."""
    lang = charts.lang
    todo: list[tuple[str, Callable | None]] = [(f"comparison-{o}", charts.comparison_chart(o)) for o in charts.outcomes]
    metrics = list(dict.fromkeys(m for o in charts.outcomes if (m := metric_of(o))))
    todo += [(f"timeseries-{m}", charts.series_chart(m)) for m in metrics]
    todo += [(f"resilience-{s}", charts.triangle_chart(s)) for s in resilience_series(charts.outcomes)]
    todo += [("tradeoff", charts.tradeoff_chart()), ("resource-mix", charts.resource_chart())]
    todo += [(f"network-{regime}-run-{run_id}", charts.network_chart(regime)) for regime, run_id in charts.networks.items()]
    paths: list[Path] = []
    for name, draw in todo:
        if draw is None:
            continue
        fig = draw(source=charts.source)
        paths += plotting.save_figure(fig, folder, f"{name}-{lang}")
    return paths


# --------------------------------------------------------------------------- the PDF
PAGE_IN = (8.27, 11.69)  # A4 portrait
MARGIN_IN = 0.65
TEXT_STYLES: dict[str, dict[str, Any]] = {
    "title": {"size": 17, "weight": "bold", "color": "#000000", "space_before": 0.0, "space_after": 0.10},
    "subtitle": {"size": 9.5, "weight": "normal", "color": "#444444", "space_before": 0.0, "space_after": 0.20},
    "h2": {"size": 12.5, "weight": "bold", "color": "#000000", "space_before": 0.18, "space_after": 0.08},
    "p": {"size": 9.5, "weight": "normal", "color": "#000000", "space_before": 0.0, "space_after": 0.10},
    "h3": {"size": 10.5, "weight": "bold", "color": "#000000", "space_before": 0.12, "space_after": 0.06},
    "bullet": {"size": 9.5, "weight": "normal", "color": "#000000", "space_before": 0.0, "space_after": 0.12},
    "note": {"size": 8.0, "weight": "normal", "color": "#444444", "space_before": 0.0, "space_after": 0.08},
}
LINE_SPACING = 1.35
TRIANGLES_PER_PAGE = 2
CHAR_WIDTH_EM = 0.56  # mean advance of DejaVu Sans in running text, in em: sets the wrap width


def _wrap(style: str, text: str, width_in: float) -> list[str]:
    st = TEXT_STYLES[style]
    chars = max(20, int(width_in * 72 / (st["size"] * CHAR_WIDTH_EM)))
    if style == "bullet":
        return textwrap.wrap(text, chars - 2, initial_indent="• ", subsequent_indent="  ", break_on_hyphens=False)
    return textwrap.wrap(text, chars, break_on_hyphens=False) or [""]


def _block_height(style: str, lines: list[str]) -> float:
    st = TEXT_STYLES[style]
    return st["space_before"] + len(lines) * st["size"] * LINE_SPACING / 72 + st["space_after"]


def layout_text(blocks: Sequence[tuple[str, str]], *, width_in: float, first_height_in: float, height_in: float
                ) -> list[list[tuple[str, list[str], float]]]:
    """Flow (style, text) blocks onto pages: a list of pages, each a list of (style, lines,
    top in inches from the top of the text area). A block longer than a page is split."""
    pages: list[list[tuple[str, list[str], float]]] = [[]]
    y, avail = 0.0, first_height_in
    for style, text in blocks:
        lines = _wrap(style, text, width_in)
        while lines:
            st = TEXT_STYLES[style]
            line_h = st["size"] * LINE_SPACING / 72
            fit = int((avail - y - st["space_before"] - st["space_after"]) // line_h)
            if fit <= 0 or (style in ("h2", "h3", "title") and fit < len(lines) + 2):
                pages.append([])
                y, avail = 0.0, height_in
                continue
            part, lines = lines[:fit], lines[fit:]
            pages[-1].append((style, part, y + st["space_before"]))
            y += _block_height(style, part)
    return [p for p in pages if p] or [[]]


def _draw_text(fig: Figure | SubFigure, placed: list[tuple[str, list[str], float]], *, left_in: float, top_in: float,
               height_in: float) -> None:
    """Draw laid-out text on a (sub)figure ``height_in`` tall, from ``top_in`` below its top."""
    width_in = fig.get_figwidth() if isinstance(fig, Figure) else PAGE_IN[0]
    for style, lines, y in placed:
        st = TEXT_STYLES[style]
        line_h = st["size"] * LINE_SPACING / 72
        for i, line in enumerate(lines):
            fig.text(left_in / width_in, 1 - (top_in + y + i * line_h) / height_in, line, fontsize=st["size"],
                     fontweight=st["weight"], color=st["color"], ha="left", va="top")


def _footer(fig: Figure | SubFigure, source: Source, lang: str, n: int, total: int, height_in: float) -> None:
    fig.text(MARGIN_IN / PAGE_IN[0], 0.45 * MARGIN_IN / height_in, source.line(lang), fontsize=7, color="#444444", ha="left", va="bottom")
    fig.text(1 - MARGIN_IN / PAGE_IN[0], 0.45 * MARGIN_IN / height_in, bt("page", lang, n=n, total=total), fontsize=7, color="#444444",
             ha="right", va="bottom")


@dataclass
class Page:
    kind: str  # findings, outcome, resilience, tradeoff, networks, method
    title: str
    text: list[tuple[str, str]] = field(default_factory=list)  # (style, text) blocks above the charts
    charts: list[Callable] = field(default_factory=list)
    chart_heights: list[float] = field(default_factory=list)  # relative heights of the charts
    key: str = ""


def _text_page(placed, source: Source, lang: str, n: int, total: int) -> Figure:
    fig = Figure(figsize=PAGE_IN)
    _draw_text(fig, placed, left_in=MARGIN_IN, top_in=MARGIN_IN, height_in=PAGE_IN[1])
    _footer(fig, source, lang, n, total, PAGE_IN[1])
    return fig


def _chart_page(page: Page, placed, source: Source, lang: str, n: int, total: int) -> Figure:
    text_h = MARGIN_IN + (max((y + _block_height(s, lines) for s, lines, y in placed), default=0.0)) + 0.05
    foot_h = MARGIN_IN
    charts_h = PAGE_IN[1] - text_h - foot_h
    fig = Figure(figsize=PAGE_IN, layout="constrained")
    fig.get_layout_engine().set(w_pad=0.02, h_pad=0.04, wspace=0, hspace=0)
    wanted = sum(page.chart_heights)
    scale = min(1.0, charts_h / wanted)  # charts at their own size, smaller only if the page is short
    heights = [h * scale for h in page.chart_heights]
    ratios = [text_h, *heights, charts_h - sum(heights) + foot_h]
    # charts in the middle column of a grid whose side columns are the page margins
    margin = MARGIN_IN - 0.15
    grid = fig.add_gridspec(len(ratios), 3, height_ratios=ratios, width_ratios=[margin, PAGE_IN[0] - 2 * margin, margin],
                            hspace=0.0, wspace=0.0)
    _draw_text(fig, placed, left_in=MARGIN_IN, top_in=MARGIN_IN, height_in=PAGE_IN[1])
    for row, draw in enumerate(page.charts, start=1):
        draw(fig=fig.add_subfigure(grid[row, 1]))
    _footer(fig, source, lang, n, total, PAGE_IN[1])
    return fig


CHART_AREA_IN = PAGE_IN[1] - 2 * MARGIN_IN - 0.8
"""Height left for charts under a page title, inches."""
NETWORK_HEIGHT_IN = 3.2

TEXT_ABOVE_CHARTS = 0.4
"""Share of a page the text above charts may take; longer text (many combinations of the
other axes) gets page(s) of its own before the charts."""


def layout_pages(charts: Charts, facts: BatchFacts) -> list[tuple[Page, list]]:
    """Every page of the brief with its laid-out text, in order: the page count is known
    before anything is drawn (for "page n of N")."""
    text_w = PAGE_IN[0] - 2 * MARGIN_IN
    full_h = PAGE_IN[1] - 2 * MARGIN_IN - 0.2
    laid: list[tuple[Page, list]] = []
    for page in plan_pages(charts, facts):
        chunks = layout_text(page.text, width_in=text_w, first_height_in=full_h, height_in=full_h)
        if page.charts:
            above = layout_text(page.text, width_in=text_w, first_height_in=TEXT_ABOVE_CHARTS * full_h, height_in=full_h)
            if len(above) > 1:  # the text alone first, then the charts under the title
                laid += [(Page(f"{page.kind}-text", page.title, page.text, key=page.key), chunk) for chunk in chunks]
                chunks = layout_text(page.text[:1], width_in=text_w, first_height_in=full_h, height_in=full_h)
            laid.append((page, chunks[0]))
        else:
            laid += [(page, chunk) for chunk in chunks]
    return laid


def render_pages(charts: Charts, facts: BatchFacts):
    """(kind, Figure) of each page of the brief, drawn one at a time."""
    laid = layout_pages(charts, facts)
    for n, (page, placed) in enumerate(laid, start=1):
        with mpl.rc_context(plotting.RC):
            if page.charts:
                fig = _chart_page(page, placed, charts.source, charts.lang, n, len(laid))
            else:
                fig = _text_page(placed, charts.source, charts.lang, n, len(laid))
        yield page.kind, fig


@dataclass
class Brief:
    """What :func:`write_report` wrote."""

    pdf: Path
    pages: list[str]  # kind of each page, in order
    figures: list[Path]
    findings: list[str]


def plan_pages(charts: Charts, facts: BatchFacts) -> list[Page]:
    """The pages of the brief, in order (text still to be flowed). Chart heights are the
    charts' own sizes in inches, scaled down only when a page cannot hold them."""
    lang = charts.lang
    years = facts.steps / 4
    regimes = plotting.regime_order(charts.comparison[REGIME].unique())
    _others, combos = _combos(charts.comparison)
    compact = len(combos) <= COMPACT_COMBINATIONS
    pages: list[Page] = []
    head = [
        ("title", bt("title", lang)),
        ("subtitle", bt("subtitle", lang, scenario=facts.scenario, regimes=len(regimes), replicates=facts.replicates,
                        quarters=facts.steps, years=i18n.fmt_number(years, lang, 0 if years == int(years) else 1),
                        version=facts.batch_version)),
        ("h2", bt("key_findings", lang)),
    ]
    key = findings(charts.comparison, lang=lang, baseline=charts.baseline)
    head += [("bullet", p) for p in key]
    head += [("h2", bt("how_to_read", lang)), ("note", bt("how_to_read_text", lang))]
    pages.append(Page("findings", bt("key_findings", lang), head))
    design = charts.results.design
    axes = getattr(charts.results, "axes", None) or plotting.STANDARD_AXES
    series_h = plotting.timeseries_size(design, axes)[1]
    shown: set[str] = set()
    for outcome in charts.outcomes:
        unit = i18n.outcome_unit(outcome, lang)
        title = i18n.outcome_label(outcome, lang) + (f" ({unit})" if unit else "")
        cmp = charts.comparison_chart(outcome)
        draws = [lambda fig, cmp=cmp: cmp(fig=fig, title=False)]
        heights = [plotting.comparison_size(charts.comparison, outcome)[1]]
        metric = metric_of(outcome)
        series = charts.series_chart(metric) if metric and metric not in shown else None
        if compact:
            text = [("h2", title)] + [("p", p) for p in outcome_findings(charts.comparison, outcome, lang=lang,
                                                                         baseline=charts.baseline, head=False)]
            if series is not None:
                draws.append(series)
                heights.append(series_h)
            pages.append(Page("outcome", title, text, draws, heights, key=outcome))
        else:
            summary = summary_sentence(charts.comparison, outcome, lang=lang, baseline=charts.baseline)
            text = [("h2", title), ("p", _cap(summary.removeprefix(_head(outcome, lang, ""))))]
            pages.append(Page("outcome", title, text, draws, heights, key=outcome))
            if series is not None:
                label = i18n.metric_label(metric, lang)
                pages.append(Page("series", label, [("h2", bt("over_time", lang, series=label))], [series], [series_h], key=metric))
        if metric:
            shown.add(metric)
    triangles = [(s, tri) for s in resilience_series(charts.outcomes) if (tri := charts.triangle_chart(s)) is not None]
    for i in range(0, len(triangles), TRIANGLES_PER_PAGE):
        chunk = triangles[i:i + TRIANGLES_PER_PAGE]
        pages.append(Page("resilience", bt("resilience_page", lang),
                          [("h2", bt("resilience_page", lang)), ("p", bt("resilience_text", lang, combo=charts.triangle_combo()))],
                          [tri for _s, tri in chunk], [plotting.TRIANGLE_SIZE[1]] * len(chunk), key=",".join(s for s, _tri in chunk)))
    trade, mix = charts.tradeoff_chart(), charts.resource_chart()
    trade_h = plotting.tradeoff_size(charts.comparison)[1]
    mix_h = plotting.RESOURCE_MIX_SIZE[1]
    if trade is not None and mix is not None and trade_h + mix_h <= CHART_AREA_IN:
        pages.append(Page("tradeoff", bt("tradeoff_page", lang), [("h2", bt("tradeoff_page", lang))], [trade, mix], [trade_h, mix_h]))
    else:
        for chart, h in ((trade, trade_h), (mix, mix_h)):
            if chart is not None:
                pages.append(Page("tradeoff", bt("tradeoff_page", lang), [("h2", bt("tradeoff_page", lang))], [chart], [h]))
    if charts.networks:
        pages.append(Page("networks", bt("networks_page", lang), [("h2", bt("networks_page", lang))],
                          [charts.network_chart(r) for r in charts.networks], [NETWORK_HEIGHT_IN] * len(charts.networks)))
    if not compact:
        details = [("h2", bt("details", lang)), ("note", bt("details_note", lang))]
        for outcome in charts.outcomes:
            unit = i18n.outcome_unit(outcome, lang)
            details.append(("h3", i18n.outcome_label(outcome, lang) + (f" ({unit})" if unit else "")))
            details += [("bullet", p) for p in outcome_findings(charts.comparison, outcome, lang=lang, baseline=charts.baseline,
                                                                head=False)]
        pages.append(Page("details", bt("details", lang), details))
    pages.append(Page("method", bt("method", lang), method_blocks(facts, charts, lang)))
    return pages


def _axis_values(axis: str, values: list[Any], lang: str) -> str:
    if axis == REGIME:
        return ", ".join(i18n.regime_label(v, lang) for v in values)
    if axis == "strategy.policy":
        return ", ".join(i18n.policy_label(v, lang) for v in values)
    return ", ".join(map(str, values))


def method_blocks(facts: BatchFacts, charts: Charts, lang: str) -> list[tuple[str, str]]:
    axis_names = {REGIME: {"en": "regimes", "fr": "régimes"}, "strategy.policy": {"en": "strategy policies", "fr": "stratégies"},
                  "shock_set": {"en": "shock sets", "fr": "jeux de chocs"}}
    axes = "; ".join(f"{axis_names.get(a, {}).get(lang, a)} ({_axis_values(a, v, lang)})" for a, v in facts.axes.items()
                     if isinstance(v, list) and v)
    shocks = []
    for name, lst in facts.shock_sets.items():
        if lst:
            kinds = ", ".join(f"{i18n.shock_label(s.get('kind', '?'), lang)} ({', '.join(f'{k} {v}' for k, v in s.items() if k != 'kind')})"
                              for s in lst)
            shocks.append(f"{name}: {kinds}")
    desc = f" ({facts.description})" if facts.description else ""
    blocks = [
        ("h2", bt("method", lang)),
        ("p", bt("method_model", lang)),
        ("h2", bt("method_batch", lang)),
        ("bullet", bt("scenario_line", lang, scenario=facts.scenario, description=desc, quarters=facts.steps)),
    ]
    if axes:
        blocks.append(("bullet", bt("axes_line", lang, axes=axes)))
    blocks += [
        ("bullet", bt("runs_line", lang, runs=facts.runs, ok=facts.ok, failed=facts.failed,
                      twins=bt("twins_part", lang, n=facts.twins) if facts.twins else "")),
        ("bullet", bt("seeds_line", lang, replicates=facts.replicates, seed=facts.master_seed)),
        ("bullet", bt("shocks_line", lang, shocks="; ".join(shocks) if shocks else bt("no_shocks", lang))),
        ("bullet", bt("stats_line", lang, baseline=i18n.regime_label(charts.baseline, lang))),
        ("bullet", bt("version_line", lang, version=__version__, batch_version=facts.batch_version)),
        ("h2", bt("limits", lang)),
    ]
    blocks += [("bullet", item[lang]) for item in i18n.LIMITS.values()]
    blocks.append(("note", bt("limits_note", lang)))
    return blocks


def _pick_baseline(comparison_regimes: Sequence[str], wanted: str | None) -> str:
    if wanted:
        return wanted
    order = plotting.regime_order(comparison_regimes)
    return "administrative" if "administrative" in order else order[0]


def build_charts(results: Any, *, lang: str = "en", baseline: str | None = None, outcomes: Sequence[str] | None = None,
                 comparison: pd.DataFrame | None = None) -> tuple[Charts, BatchFacts]:
    """Compare the batch and gather what the charts need."""
    from .results import HEADLINE_OUTCOMES, Results, compare

    i18n.check_lang(lang)
    runs = plotting.primary_runs(results.design, results.outcomes)
    if runs.empty:
        from .results import BatchError

        raise BatchError(f"{results.path}: no finished run to report on")
    baseline = _pick_baseline(list(runs[REGIME].unique()), baseline)
    if comparison is None:
        comparison = compare(results if isinstance(results, Results) else results.runs, baseline=baseline,
                             outcomes=tuple(outcomes) if outcomes else HEADLINE_OUTCOMES)
    facts = batch_facts(results)
    charts = Charts(
        comparison=comparison,
        outcomes=list(dict.fromkeys(comparison["outcome"])),
        baseline=baseline,
        lang=lang,
        source=facts.source(),
        results=results,
        windows=windows_by_shock_set(facts, runs),
        drawn_timing=any(isinstance(sh.get(k), dict) for shocks in facts.shock_sets.values() for sh in shocks
                         for k in ("start", "duration", "recovery_quarters")),
        networks=_network_runs(results),
    )
    return charts, facts


def write_brief(charts: Charts, facts: BatchFacts, pdf_path: Path) -> list[str]:
    """Write the PDF (temporary name, then renamed); return the kind of each page."""
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = pdf_path.with_name(f".{pdf_path.name}.tmp-{os.getpid()}")
    kinds: list[str] = []
    try:
        # No creation date in the metadata, so that a brief differs from another only by its content.
        meta = {"Title": bt("title", charts.lang), "Creator": f"PTCE-sim {__version__}", "CreationDate": None}
        with PdfPages(tmp, metadata=meta) as pdf, mpl.rc_context(plotting.RC):
            for kind, fig in render_pages(charts, facts):
                pdf.savefig(fig)
                kinds.append(kind)
        os.replace(tmp, pdf_path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return kinds


def write_report(results: Any, *, lang: str = "en", out: str | Path | None = None, baseline: str | None = None,
                 outcomes: Sequence[str] | None = None) -> Brief:
    """Charts into ``RESULTS_DIR/figures/`` and the brief into ``RESULTS_DIR/brief-<lang>.pdf``
    (or ``out``). ``results``: a results folder or a loaded ``Results``."""
    from .results import load_results

    if not hasattr(results, "design"):
        results = load_results(results)
    charts, facts = build_charts(results, lang=lang, baseline=baseline, outcomes=outcomes)
    pdf_path = Path(out) if out is not None else Path(results.path) / f"brief-{lang}.pdf"
    figures = write_figures(charts, Path(results.path) / "figures")
    kinds = write_brief(charts, facts, pdf_path)
    return Brief(pdf=pdf_path, pages=kinds, figures=figures, findings=findings(charts.comparison, lang=lang, baseline=charts.baseline))
