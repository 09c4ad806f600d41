"""French and English words of the charts and the policy brief, and numbers per language.

One table per kind of word (regimes, policies, metrics, resilience measures, resources,
fixed phrases), each entry ``{"en": ..., "fr": ...}``; :func:`t` picks a language.
Numbers follow the language: ``1,234.5`` in English, ``1 234,5`` in French (narrow
no-break space for thousands, decimal comma, the Imprimerie nationale rules). Minus signs
are the true minus ``−`` (U+2212) in both, as on matplotlib's axes.

A metric that is not in the table (the model gains metrics as it grows) falls back to its
column name and no unit, so a chart never fails for want of a label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

LANGS: tuple[str, ...] = ("en", "fr")
MINUS = "\u2212"
NNBSP = "\u202f"  # narrow no-break space: French thousands separator and before ; ! ?
NBSP = "\u00a0"  # no-break space: French before a colon


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"language {lang!r}: expected one of {', '.join(LANGS)}")
    return lang


# --------------------------------------------------------------------------- numbers
def fmt_number(x: float, lang: str, decimals: int = 0, *, signed: bool = False) -> str:
    """``x`` rounded to ``decimals`` with the thousands and decimal marks of ``lang``."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a" if lang == "en" else "n.d."
    text = f"{abs(x):,.{decimals}f}"
    if lang == "fr":
        text = text.replace(",", NNBSP).replace(".", ",")
    zero = float(f"{abs(x):.{decimals}f}") == 0.0
    if x < 0 and not zero:
        text = MINUS + text
    elif signed and not zero:
        text = "+" + text
    return text


def decimals_for(*values: float, spread: float | None = None) -> int:
    """Decimals that show the spread (an interval width) with two significant digits,
    or, without a usable spread, the largest value with three; between 0 and 4."""
    if spread is not None and math.isfinite(spread) and spread > 0:
        return int(min(4, max(0, 1 - math.floor(math.log10(spread)))))
    finite = [abs(v) for v in values if v is not None and math.isfinite(v) and v != 0]
    if not finite:
        return 0
    return int(min(4, max(0, 2 - math.floor(math.log10(max(finite))))))


# --------------------------------------------------------------------------- words
REGIMES: dict[str, dict[str, str]] = {
    "administrative": {"en": "administrative", "fr": "administratif"},
    "competitive": {"en": "competitive", "fr": "concurrentiel"},
    "cooperative": {"en": "cooperative", "fr": "coopératif"},
}

POLICIES: dict[str, dict[str, str]] = {
    "endogenous": {"en": "strategy chosen by each organisation", "fr": "stratégie choisie par chaque organisation"},
    "concentrate": {"en": "all concentrate", "fr": "toutes se concentrent"},
    "cooperate": {"en": "all cooperate", "fr": "toutes coopèrent"},
    "independent": {"en": "all stay independent", "fr": "toutes restent indépendantes"},
}

# Codes of the policies next to the points of the trade-off chart (the legend spells them out).
POLICY_CODES: dict[str, str] = {"endogenous": "E", "concentrate": "C", "cooperate": "P", "independent": "I"}

SECTORS: dict[str, dict[str, str]] = {
    "personal_services": {"en": "personal services", "fr": "services à la personne"},
    "employment": {"en": "employment and integration", "fr": "emploi et insertion"},
    "food": {"en": "food", "fr": "alimentation"},
    "culture": {"en": "culture", "fr": "culture"},
    "eco_activities": {"en": "eco-activities", "fr": "éco-activités"},
}

SHOCKS: dict[str, dict[str, str]] = {
    "budget_cut": {"en": "cut of the public budget", "fr": "baisse du budget public"},
    "needs_surge": {"en": "surge of social needs", "fr": "hausse des besoins sociaux"},
    "employer_closure": {"en": "closure of a local employer", "fr": "fermeture d'un employeur local"},
    "supply_disruption": {"en": "supply disruption", "fr": "rupture d'approvisionnement"},
}

RESOURCES: dict[str, dict[str, str]] = {
    "subsidy_share": {"en": "subsidies", "fr": "subventions"},
    "public_order_share": {"en": "public orders", "fr": "commande publique"},
    "sales_share": {"en": "sales", "fr": "ventes"},
    "gifts_share": {"en": "gifts (remainder)", "fr": "dons (reste)"},
}


@dataclass(frozen=True)
class Quantity:
    """Label, unit and the direction in which an outcome is better for the people served
    and employed (+1 higher is better, -1 lower is better, 0 no such reading: a cost, an
    index of structure). The direction only chooses the word "leads" in the brief; the
    ranking itself always comes from the numbers."""

    label: dict[str, str]
    unit: dict[str, str]
    better: int = 0
    share: bool = False  # a share in [0, 1], shown as a percentage on charts


def _q(en: str, fr: str, unit_en: str, unit_fr: str, better: int = 0, share: bool = False) -> Quantity:
    return Quantity({"en": en, "fr": fr}, {"en": unit_en, "fr": unit_fr}, better, share)


INDEX = ("index 0–1", "indice 0–1")
SHARE_REVENUE = ("% of ESS revenue", "% des ressources de l'ESS")

METRIC_WORDS: dict[str, Quantity] = {
    "ess_employment_fte": _q("ESS employment", "Emploi dans l'ESS", "FTE", "ETP", +1),
    "insertion_employment_fte": _q("Work-integration employment", "Emploi en insertion", "FTE", "ETP", +1),
    "insertion_exits_to_jobs": _q("Exits from work integration to jobs", "Sorties de l'insertion vers l'emploi", "FTE per quarter", "ETP par trimestre", +1),
    "local_employment_fte": _q("Local employment", "Emploi local", "FTE", "ETP", +1),
    "volunteers_fte": _q("Volunteering", "Bénévolat", "FTE", "ETP", +1),
    "organisations": _q("ESS organisations", "Organisations de l'ESS", "count", "nombre"),
    "entries": _q("New organisations", "Créations d'organisations", "per quarter", "par trimestre"),
    "exits": _q("Closures", "Fermetures", "per quarter", "par trimestre", -1),
    "mergers": _q("Mergers", "Fusions", "per quarter", "par trimestre"),
    "personalisation": _q("Personalisation of services", "Personnalisation des services", *INDEX, +1),
    "services_delivered_hours": _q("Services delivered", "Services rendus", "hours per quarter", "heures par trimestre", +1),
    "unmet_need_share": _q("Unmet need", "Besoins non couverts", "% of need", "% des besoins", -1, share=True),
    "technicisation": _q("Technicisation", "Technicisation", *INDEX),
    "governance": _q("Democratic governance", "Gouvernance démocratique", *INDEX, +1),
    "public_spend_eur": _q("Public spending", "Dépense publique", "EUR per quarter", "€ par trimestre"),
    "subsidy_share": _q("Subsidies", "Subventions", *SHARE_REVENUE, share=True),
    "public_order_share": _q("Public orders", "Commande publique", *SHARE_REVENUE, share=True),
    "sales_share": _q("Sales", "Ventes", *SHARE_REVENUE, share=True),
    "gifts_share": _q("Gifts", "Dons", *SHARE_REVENUE, share=True),
    "hhi": _q("Size concentration (HHI)", "Concentration des tailles (HHI)", *INDEX),
    "ptce_count": _q("PTCEs", "PTCE", "count", "nombre"),
    "ptce_members_mean": _q("Members per PTCE", "Membres par PTCE", "organisations", "organisations"),
    "ptce_jobs_mean": _q("Jobs per PTCE", "Emplois par PTCE", "FTE", "ETP"),
    "ptce_membership_share": _q("Organisations in a PTCE", "Organisations membres d'un PTCE", "% of organisations", "% des organisations", share=True),
    "project_pooling_depth": _q("Depth of project pooling", "Profondeur de la mutualisation de projets", *INDEX),
    "network_density": _q("Cooperation network density", "Densité du réseau de coopération", *INDEX),
    "network_clustering": _q("Cooperation network clustering", "Regroupement du réseau de coopération", *INDEX),
    "top1pct_resource_share": _q("Resources of the largest 1 %", "Ressources du 1 % le plus grand", *SHARE_REVENUE, share=True),
    "unit_cost_eur": _q("Unit cost of services", "Coût unitaire des services", "EUR per hour", "€ par heure", -1),
}

# Resilience measures of simulation.resilience (Martin et al. 2016; Bruneau et al. 2003;
# Zobel 2011, FACTS.md): the shocked run against its no-shock twin.
# Units and directions as documented in simulation/resilience.py.
MEASURE_WORDS: dict[str, Quantity] = {
    "resistance": _q("resistance", "résistance", "ratio, 0 = as without the shock", "ratio, 0 = comme sans le choc", +1),
    "recoverability": _q("recoverability", "capacité de récupération", "ratio, 0 = as without the shock", "ratio, 0 = comme sans le choc", +1),
    "resilience_loss": _q("cumulative loss", "perte cumulée", "unit × quarters", "unité × trimestres", -1),
    "triangle_area": _q("resilience triangle area", "aire du triangle de résilience", "% × quarters", "% × trimestres", -1),
    "triangle_area_normalised": _q("normalised resilience", "résilience normalisée", "index, 1 = no loss", "indice, 1 = aucune perte", +1),
    "zobel_index": _q("Zobel resilience index", "indice de résilience de Zobel", "index, 1 = no loss", "indice, 1 = aucune perte", +1),
    "recovery_quarters": _q("recovery time", "délai de récupération", "quarters", "trimestres", -1),
    "recovered": _q("recovery", "rétablissement", "% of runs recovered", "% des simulations rétablies", +1, share=True),
}

# Short names of the measures, for the text under each panel of a resilience triangle.
MEASURE_SHORT: dict[str, dict[str, str]] = {
    "resistance": {"en": "resistance", "fr": "résistance"},
    "recoverability": {"en": "recoverability", "fr": "récupération"},
    "resilience_loss": {"en": "cumulative loss", "fr": "perte cumulée"},
    "triangle_area": {"en": "triangle area", "fr": "aire du triangle"},
    "triangle_area_normalised": {"en": "normalised resilience", "fr": "résilience normalisée"},
    "zobel_index": {"en": "Zobel index", "fr": "indice de Zobel"},
    "recovery_quarters": {"en": "recovery time", "fr": "délai de retour"},
    "recovered": {"en": "recovered", "fr": "rétabli"},
}

# A series as the complement of a measure: "resistance of ESS employment", "résistance de l'emploi dans l'ESS".
SERIES_OF: dict[str, dict[str, str]] = {
    "ess_employment_fte": {"en": "ESS employment", "fr": "de l'emploi dans l'ESS"},
    "personalisation": {"en": "personalisation", "fr": "de la personnalisation"},
    "services_delivered_hours": {"en": "services delivered", "fr": "des services rendus"},
    "insertion_employment_fte": {"en": "work-integration employment", "fr": "de l'emploi en insertion"},
    "local_employment_fte": {"en": "local employment", "fr": "de l'emploi local"},
}

PREFIXES: dict[str, dict[str, str]] = {
    "final": {"en": "{label} at the end of the horizon", "fr": "{label} en fin de période"},
    "mean": {"en": "{label}, average over the horizon", "fr": "{label}, moyenne sur la période"},
}


def outcome_quantity(outcome: str) -> tuple[str, str | None, str | None, Quantity | None]:
    """Split an outcome column into (kind, metric, measure, quantity).

    ``final_ess_employment_fte`` -> ("final", "ess_employment_fte", None, ...);
    ``ess_employment_fte__resistance`` -> ("resilience", "ess_employment_fte", "resistance", ...);
    anything else -> ("other", None, None, None).
    """
    if "__" in outcome:
        series, _, measure = outcome.partition("__")
        return "resilience", series, measure, MEASURE_WORDS.get(measure)
    for prefix in PREFIXES:
        if outcome.startswith(prefix + "_"):
            metric = outcome[len(prefix) + 1:]
            return prefix, metric, None, METRIC_WORDS.get(metric)
    return "other", None, None, METRIC_WORDS.get(outcome)


def metric_label(metric: str, lang: str) -> str:
    q = METRIC_WORDS.get(metric)
    return q.label[lang] if q else metric.replace("_", " ")


def metric_unit(metric: str, lang: str) -> str:
    q = METRIC_WORDS.get(metric)
    return q.unit[lang] if q else ""


def outcome_label(outcome: str, lang: str) -> str:
    """Full name of an outcome column in ``lang``, e.g. "ESS employment at the end of the horizon"."""
    kind, series, measure, q = outcome_quantity(outcome)
    if kind in PREFIXES:
        return PREFIXES[kind][lang].format(label=metric_label(series, lang))
    if kind == "resilience":
        name = q.label[lang] if q else measure.replace("_", " ")
        name = name[:1].upper() + name[1:]
        if series in SERIES_OF:
            of = SERIES_OF[series][lang]
            return f"{name} of {of}" if lang == "en" else f"{name} {of}"
        return f"{name} of {metric_label(series, lang)}" if lang == "en" else f"{name} — {metric_label(series, lang)}"
    return metric_label(outcome, lang)


def outcome_unit(outcome: str, lang: str) -> str:
    kind, series, measure, q = outcome_quantity(outcome)
    if kind == "resilience":
        if measure == "resilience_loss":
            # the cumulative loss is in the series' unit times quarters (e.g. FTE-quarters)
            unit = metric_unit(series, lang)
            return f"{unit} × {'quarters' if lang == 'en' else 'trimestres'}" if unit else (q.unit[lang] if q else "")
        return q.unit[lang] if q else ""
    return q.unit[lang] if q else ""


_SIGNED_METRICS = {"resistance", "recoverability", "resilience_loss", "triangle_area", "triangle_area_normalised", "zobel_index"}


def outcome_bounds(outcome: str) -> tuple[float | None, float | None]:
    """What an outcome can be, (low, high), None where unbounded: 0 for counts, FTE, hours,
    EUR and times; [0, 1] for shares and indices of [0, 1]; nothing for the resilience
    ratios, losses and areas, which are signed. Unknown outcomes are left unbounded."""
    kind, series, measure, q = outcome_quantity(outcome)
    if kind == "resilience":
        if measure == "recovery_quarters":
            return 0.0, None
        if measure == "recovered":
            return 0.0, 1.0
        return None, None
    if q is None or series in _SIGNED_METRICS:
        return None, None
    if q.share or q.unit["en"] == INDEX[0]:
        return 0.0, 1.0
    return 0.0, None


def outcome_better(outcome: str) -> int:
    return outcome_quantity(outcome)[3].better if outcome_quantity(outcome)[3] else 0


def outcome_is_share(outcome: str) -> bool:
    q = outcome_quantity(outcome)[3]
    return bool(q and q.share)


def regime_label(kind: str, lang: str) -> str:
    return REGIMES[kind][lang] if kind in REGIMES else str(kind)


def policy_label(policy: str, lang: str) -> str:
    return POLICIES[policy][lang] if policy in POLICIES else str(policy)


def shock_label(kind: str, lang: str) -> str:
    return SHOCKS[kind][lang] if kind in SHOCKS else str(kind).replace("_", " ")


def shock_set_label(name: str, lang: str) -> str:
    """A shock set of a batch: "no shock" for the empty set ``none``, else its name."""
    if name == "none":
        return "no shock" if lang == "en" else "sans choc"
    if name in SHOCKS:  # a set named after its one kind of shock: say it in words
        return SHOCKS[name][lang]
    # no-break spaces inside the quotes: a line never ends on an opening guillemet
    return f"shock set “{name}”" if lang == "en" else f"jeu de chocs «{NBSP}{name}{NBSP}»"


def sector_label(sector: str, lang: str) -> str:
    return SECTORS[sector][lang] if sector in SECTORS else str(sector).replace("_", " ")


# --------------------------------------------------------------------------- fixed phrases
TEXT: dict[str, dict[str, str]] = {
    "quarter": {"en": "Quarter", "fr": "Trimestre"},
    "quarter_axis": {"en": "Quarter (1 = first simulated quarter)", "fr": "Trimestre (1 = premier trimestre simulé)"},
    "regime": {"en": "Regime", "fr": "Régime"},
    "regime_legend": {"en": "Coordination regime", "fr": "Régime de coordination"},
    "mean_ci": {"en": "Mean by regime (95% confidence interval)", "fr": "Moyenne par régime (intervalle de confiance à 95 %)"},
    "diff_ci": {"en": "Difference from the {baseline} regime, paired by replicate (95% confidence interval)",
                "fr": "Écart au régime {baseline}, apparié par réplication (intervalle de confiance à 95 %)"},
    "level": {"en": "Mean", "fr": "Moyenne"},
    "difference": {"en": "Difference", "fr": "Écart"},
    "significant_key": {"en": "filled: interval excludes 0 (significant)", "fr": "plein : l'intervalle exclut 0 (écart significatif)"},
    "not_significant_key": {"en": "hollow: interval includes 0 (not significant)", "fr": "creux : l'intervalle contient 0 (écart non significatif)"},
    "baseline_row": {"en": "(baseline)", "fr": "(référence)"},
    "median_band": {"en": "median of replicates, shaded band: 5th–95th percentile", "fr": "médiane des réplications, bande : 5e–95e centile"},
    "shock": {"en": "shock", "fr": "choc"},
    "shock_window": {"en": "shock (incl. recovery period)", "fr": "choc (y compris retour à la normale)"},
    "shock_window_drawn": {"en": "shock (incl. recovery; drawn dates: earliest start to latest end)",
                           "fr": "choc (y compris retour ; dates tirées : du plus tôt au plus tard)"},
    "shocked_run": {"en": "with the shock", "fr": "avec le choc"},
    "twin_run": {"en": "same run without the shock", "fr": "même simulation sans le choc"},
    "lost": {"en": "loss against the run without shock", "fr": "perte par rapport à la simulation sans choc"},
    "resource_mix": {"en": "Resource mix of ESS organisations", "fr": "Composition des ressources des organisations de l'ESS"},
    "share_of_revenue": {"en": "Share of ESS revenue (%)", "fr": "Part des ressources de l'ESS (%)"},
    "resource_note_pooled": {"en": "mean of all runs of each regime (every strategy policy and shock set)",
                             "fr": "moyenne de toutes les simulations de chaque régime (toutes stratégies et tous jeux de chocs)"},
    "resource_note": {"en": "mean of replicates", "fr": "moyenne des réplications"},
    "tradeoff": {"en": "Employment and personalisation", "fr": "Emploi et personnalisation"},
    "tradeoff_note": {"en": "points: means; bars: 95% confidence intervals", "fr": "points : moyennes ; barres : intervalles de confiance à 95 %"},
    "network": {"en": "Cooperation network at the end of one run", "fr": "Réseau de coopération en fin de simulation"},
    "network_hidden": {"en": "; {n} firms outside the ESS without any tie not shown", "fr": " ; {n} entreprises hors ESS sans aucun lien non montrées"},
    "network_note": {
        "en": "size: staff (FTE); outlined areas: PTCEs; lines: trust ties; organisations without a tie in the rows underneath; position carries no geographic meaning",
        "fr": "taille : salariés (ETP) ; zones cernées : PTCE ; traits : liens de confiance ; organisations sans lien sur les lignes du bas ; la position n'a pas de sens géographique",
    },
    "firm": {"en": "not ESS (firm)", "fr": "hors ESS (entreprise)"},
    "ptce": {"en": "PTCE", "fr": "PTCE"},
    "ptce_member": {"en": "PTCE (outlined)", "fr": "PTCE (zone cernée)"},
    "staff": {"en": "staff", "fr": "salariés"},
    "source": {
        "en": "Source: PTCE-sim {version}, scenario “{scenario}”, {replicates} replicates per regime, master seed {seed}",
        "fr": "Source : PTCE-sim {version}, scénario « {scenario} », {replicates} réplications par régime, graine maîtresse {seed}",
    },
    "run": {"en": "run {run_id}, replicate {replicate}", "fr": "simulation {run_id}, réplication {replicate}"},
    "measures_box": {"en": "Measures for {series}", "fr": "Mesures pour {series}"},
    "not_recovered": {"en": "not recovered", "fr": "pas de retour"},
    "no_shock": {"en": "no shock in this batch", "fr": "aucun choc dans ce lot"},
    "value_at": {"en": "{label} ({unit})", "fr": "{label} ({unit})"},
}


def t(key: str, lang: str, **kw: object) -> str:
    """The fixed phrase ``key`` in ``lang``, formatted with ``kw``."""
    return TEXT[key][check_lang(lang)].format(**kw)


def axis_label(label: str, unit: str) -> str:
    """"Label (unit)", or the label alone when there is no unit."""
    return f"{label} ({unit})" if unit else label


# --------------------------------------------------------------------------- sentences of the brief
SENTENCES: dict[str, dict[str, str]] = {
    "head": {"en": "{outcome} ({unit}): ", "fr": "{outcome} ({unit})" + NBSP + ": "},
    "head_nounit": {"en": "{outcome}: ", "fr": "{outcome}" + NBSP + ": "},
    "group": {"en": "With {combo}, ", "fr": "Avec {combo}, "},
    "leads_high": {"en": "the {leader} regime leads with {mean} ({ci})",
                   "fr": "le régime {leader} arrive en tête avec {mean} ({ci})"},
    "leads_low": {"en": "the {leader} regime leads (lower is better) with {mean} ({ci})",
                  "fr": "le régime {leader} arrive en tête (le plus bas est le mieux) avec {mean} ({ci})"},
    "highest": {"en": "the {leader} regime has the highest value, {mean} ({ci})",
                "fr": "le régime {leader} a la valeur la plus élevée, {mean} ({ci})"},
    "lead_not_significant_many": {"en": "; its lead over the {others} regimes is not significant",
                                  "fr": NNBSP + "; son avance sur les régimes {others} n'est pas significative"},
    "lead_not_significant": {"en": "; its lead over the {other} regime is not significant",
                             "fr": "" + NNBSP + "; son avance sur le régime {other} n'est pas significative"},
    "only_one": {"en": "only the {leader} regime is in this batch: {mean} ({ci})",
                 "fr": "seul le régime {leader} figure dans ce lot" + NBSP + ": {mean} ({ci})"},
    "ci": {"en": "95% CI {lo} to {hi}", "fr": "IC à 95" + NNBSP + "% de {lo} à {hi}"},
    "no_ci": {"en": "no interval with fewer than two runs", "fr": "pas d'intervalle avec moins de deux simulations"},
    "no_value": {"en": "no run of this batch gives a value", "fr": "aucune simulation de ce lot ne donne de valeur"},
    "ci_paired": {"en": "paired 95% CI {lo} to {hi}", "fr": "IC apparié à 95" + NNBSP + "% de {lo} à {hi}"},
    "diff_intro": {"en": "Compared with the {baseline} regime: ", "fr": "Par rapport au régime {baseline}" + NBSP + ": "},
    "diff_higher": {"en": "the {other} regime is higher by {abs} ({ci})", "fr": "le régime {other} obtient {abs} de plus ({ci})"},
    "diff_lower": {"en": "the {other} regime is lower by {abs} ({ci})", "fr": "le régime {other} obtient {abs} de moins ({ci})"},
    "diff_not_significant": {"en": "the difference of the {other} regime, {diff} ({ci}), is not significant",
                             "fr": "l'écart du régime {other}, {diff} ({ci}), n'est pas significatif"},
    "diff_unknown": {"en": "the difference of the {other} regime cannot be computed (too few paired runs)",
                     "fr": "l'écart du régime {other} ne peut pas être calculé (trop peu de simulations appariées)"},
    "diff_sep": {"en": "; ", "fr": NNBSP + "; "},
    # key findings (page 1): the leader and its margin over the baseline, or over the next best
    "key_lead": {"en": "the {leader} regime leads{lower} with {mean} ({ci}), {margin} {more_less} than the {other} regime{next} ({ci_diff})",
                 "fr": "le régime {leader} arrive en tête{lower} avec {mean} ({ci}), soit {margin} de {more_less} que le régime {other}{next} ({ci_diff})"},
    "key_highest": {"en": "the {leader} regime has the highest value, {mean} ({ci}), {margin} {more_less} than the {other} regime{next} ({ci_diff})",
                    "fr": "le régime {leader} a la valeur la plus élevée, {mean} ({ci}), soit {margin} de {more_less} que le régime {other}{next} ({ci_diff})"},
    "key_not_significant": {
        "en": "the {leader} regime has the {best} mean{lower}, {mean} ({ci}), but its difference from the {other} regime{next}, {diff} ({ci_diff}), is not significant",
        "fr": "le régime {leader} a la {best} moyenne{lower}, {mean} ({ci}), mais son écart au régime {other}{next}, {diff} ({ci_diff}), n'est pas significatif",
    },
    # summary over several combinations of the other axes
    "summary_intro": {"en": "over the {n} combinations of {axes} compared, ", "fr": "sur les {n} combinaisons de {axes} comparées, "},
    "summary_first": {"en": "the {regime} regime leads in {n} (significantly in {sig})",
                      "fr": "le régime {regime} arrive en tête dans {n} (significativement dans {sig})"},
    "summary_next": {"en": "the {regime} regime in {n} (significantly in {sig})", "fr": "le régime {regime} dans {n} (significativement dans {sig})"},
    "none_word": {"en": "none", "fr": "aucune"},
    "summary_largest": {
        "en": "The largest significant lead is the {regime} regime's with {combo}: {margin} {more_less} than the {other} regime ({ci}).",
        "fr": "La plus forte avance significative est celle du régime {regime} avec {combo}" + NBSP + ": {margin} de {more_less} que le régime {other} ({ci}).",
    },
    "summary_no_significant": {"en": "No lead is significant in any combination.",
                               "fr": "Aucune avance n'est significative, dans aucune combinaison."},
    "versus_intro": {"en": "Compared with the {baseline} regime, combination by combination: ",
                     "fr": "Par rapport au régime {baseline}, combinaison par combinaison" + NBSP + ": "},
    "versus_part": {"en": "the {regime} regime is {counts}", "fr": "le régime {regime} est {counts}"},
    "versus_higher": {"en": "significantly higher in {n}", "fr": "significativement plus haut dans {n}"},
    "versus_lower": {"en": "significantly lower in {n}", "fr": "significativement plus bas dans {n}"},
    "versus_same": {"en": "not significantly different in {n}", "fr": "sans écart significatif dans {n}"},
    "best": {"en": "best", "fr": "meilleure"},
    "highest_word": {"en": "highest", "fr": "plus haute"},
    "lower_is_better": {"en": " (lower is better)", "fr": " (le plus bas est le mieux)"},
    "more": {"en": "more", "fr": "plus"},
    "less": {"en": "less", "fr": "moins"},
    "next_best": {"en": " (the next best)", "fr": " (le suivant)"},
}


AXES_PLURAL: dict[str, dict[str, str]] = {
    "strategy.policy": {"en": "strategy policies", "fr": "stratégies"},
    "shock_set": {"en": "shock sets", "fr": "jeux de chocs"},
}


def axis_plural(axis: str, lang: str) -> str:
    return AXES_PLURAL[axis][lang] if axis in AXES_PLURAL else axis


def join_words(words: list[str], lang: str) -> str:
    """"a, b and c" / "a, b et c"."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + (" and " if lang == "en" else " et ") + words[-1]


# French plural: from 2 on (Académie française); the singular below 2 ("1,5 trimestre").
_FR_SINGULAR = {"trimestres": "trimestre", "heures": "heure", "points": "point", "organisations": "organisation",
                "simulations": "simulation"}
_EN_SINGULAR = {"quarters": "quarter", "hours": "hour", "points": "point", "organisations": "organisation"}


def plural(unit: str, x: float, lang: str) -> str:
    """``unit`` agreed with the number ``x``: French singular when |x| < 2, English when |x| = 1."""
    singular = abs(x) < 2 if lang == "fr" else abs(x) == 1
    if not singular:
        return unit
    table = _FR_SINGULAR if lang == "fr" else _EN_SINGULAR
    return " ".join(table.get(w, w) for w in unit.split(" "))


def sentence(key: str, lang: str, **kw: object) -> str:
    return SENTENCES[key][check_lang(lang)].format(**kw)


# --------------------------------------------------------------------------- limits of the model
# What the model leaves out, one entry per bold item of ODD.md's section "Not yet in the
# model" (tests/test_report.py keeps the two in step: when an item enters the model and
# leaves that section, it must leave this list too).
LIMITS: dict[str, dict[str, str]] = {
    "Joint projects that create new services": {
        "en": "Joint projects that create new services: joint projects bring money and trust (and, through trust, know-how), not new kinds of service.",
        "fr": "Les projets communs qui créent de nouveaux services : les projets communs apportent de l'argent et de la confiance (et, par elle, du savoir-faire), pas de nouveaux types de services.",
    },
    "Firms' own strategies": {
        "en": "Firms' own strategies: firms outside the ESS join PTCEs when asked and never leave on their own; they do not merge.",
        "fr": "Les stratégies propres des entreprises : les entreprises hors ESS rejoignent un PTCE quand on le leur demande et ne le quittent jamais d'elles-mêmes ; elles ne fusionnent pas.",
    },
    "Shocks": {
        "en": "Shocks: a supply failure is represented by its replacement cost, not by a loss of capacity; workers laid off by a closing employer only add to jobseekers' needs (their families' needs are unchanged).",
        "fr": "Les chocs : une défaillance d'approvisionnement est représentée par son coût de remplacement, pas par une perte de capacité ; les salariés licenciés par un employeur qui ferme n'accroissent que les besoins des demandeurs d'emploi (ceux de leurs familles ne changent pas).",
    },
    "Metrics": {
        "en": "Some measures: no cost per job and no separate gifts column (gifts are what remains of revenue after subsidies, public orders and sales).",
        "fr": "Certaines mesures : pas de coût par emploi ni de colonne distincte pour les dons (les dons sont le reste des ressources après subventions, commande publique et ventes).",
    },
    "Several linked territories": {
        "en": "Several linked territories (cooperation beyond one territory).",
        "fr": "Plusieurs territoires liés (coopération au-delà d'un territoire).",
    },
}
