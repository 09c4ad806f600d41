"""The policy brief (simulation.report) and ``ptce report``.

- The sentences follow the numbers: constructed comparisons with a known leader, a known
  sign and a known non-significant difference give the right sentences in English and
  French, and flipping the numbers flips the sentences (nothing is written in).
- A small real batch (tests/test_plotting.py) gives the brief in both languages: the PDF
  has the pages designed, its text holds the findings, no label overlaps on any page.
- ``ptce report`` writes the charts and the brief, and a missing or non-batch folder is a
  one-line error with exit status 2.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from simulation import i18n, report

from .conftest import ROOT
from .test_plotting import LANGS, axes_batch, overlapping_texts, small_batch  # noqa: F401 (session fixtures)

NS = {"en": "not significant", "fr": "n'est pas significati"}


def row(regime: str, mean: float, ci: tuple[float, float], diff: tuple[float, float, float] | None = None,
        outcome: str = "final_ess_employment_fte", **axes) -> dict:
    d, dlo, dhi = diff if diff is not None else (np.nan, np.nan, np.nan)
    return {"regime.kind": regime, **axes, "outcome": outcome, "n": 10, "mean": mean, "ci_low": ci[0], "ci_high": ci[1],
            "diff_mean": d, "diff_ci_low": dlo, "diff_ci_high": dhi, "diff_n": 0 if diff is None else 10}


def comparison(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


# Employment: cooperative leads, 12.0 FTE above the administrative baseline, significant;
# competitive is 10.0 below, significant. Personalisation: cooperative has the best mean but
# its difference with the baseline includes zero.
KNOWN = comparison(
    row("administrative", 100.0, (95.0, 105.0)),
    row("competitive", 90.0, (85.0, 95.0), (-10.0, -14.0, -6.0)),
    row("cooperative", 112.0, (108.0, 116.0), (12.0, 1.0, 23.0)),
    row("administrative", 0.600, (0.590, 0.610), outcome="mean_personalisation"),
    row("competitive", 0.550, (0.540, 0.560), (-0.050, -0.060, -0.040), outcome="mean_personalisation"),
    row("cooperative", 0.610, (0.600, 0.620), (0.010, -0.004, 0.024), outcome="mean_personalisation"),
)


def test_key_findings_follow_a_known_comparison_in_english():
    employment, personalisation = report.findings(KNOWN, lang="en")
    assert employment == ("ESS employment at the end of the horizon (FTE): the cooperative regime leads with 112\u00a0FTE "
                          "(95% CI 108 to 116), 12\u00a0FTE more than the administrative regime (paired 95% CI 1 to 23).")
    # the half-interval 0.010 sets two decimals; -0.004 would show as 0.00, so three
    assert personalisation == ("Personalisation of services, average over the horizon (index 0–1): the cooperative regime has the "
                               "best mean, 0.610 (95% CI 0.600 to 0.620), but its difference from the administrative regime, "
                               "+0.010 (paired 95% CI \u22120.004 to 0.024), is not significant.")


def test_key_findings_follow_a_known_comparison_in_french():
    employment, personalisation = report.findings(KNOWN, lang="fr")
    nb, nn = "\u00a0", "\u202f"
    assert employment == (f"Emploi dans l'ESS en fin de période (ETP){nb}: le régime coopératif arrive en tête avec 112{nb}ETP "
                          f"(IC à 95{nn}% de 108 à 116), soit 12{nb}ETP de plus que le régime administratif "
                          f"(IC apparié à 95{nn}% de 1 à 23).")
    assert personalisation == (f"Personnalisation des services, moyenne sur la période (indice 0–1){nb}: le régime coopératif a la "
                               f"meilleure moyenne, 0,610 (IC à 95{nn}% de 0,600 à 0,620), mais son écart au régime administratif, "
                               f"+0,010 (IC apparié à 95{nn}% de \u22120,004 à 0,024), n'est pas significatif.")


@pytest.mark.parametrize("lang", LANGS)
def test_every_difference_is_stated_with_its_sign_and_significance(lang):
    (paragraph,) = report.outcome_findings(KNOWN, "final_ess_employment_fte", lang=lang)
    if lang == "en":
        assert "the competitive regime is lower by 10\u00a0FTE (paired 95% CI \u221214 to \u22126)" in paragraph
        assert "the cooperative regime is higher by 12\u00a0FTE (paired 95% CI 1 to 23)" in paragraph
    else:
        assert "le régime concurrentiel obtient 10\u00a0ETP de moins" in paragraph
        assert "le régime coopératif obtient 12\u00a0ETP de plus" in paragraph
    assert NS[lang] not in paragraph
    (paragraph,) = report.outcome_findings(KNOWN, "mean_personalisation", lang=lang)
    assert paragraph.count(NS[lang]) == 2  # the leader's lead and the cooperative difference; competitive is significant
    assert ("lower by 0.050" if lang == "en" else "0,050 de moins") in paragraph


def test_flipping_the_numbers_flips_the_sentences():
    flipped = KNOWN.copy()
    emp = flipped["outcome"] == "final_ess_employment_fte"
    flipped.loc[emp, "mean"] = 200.0 - flipped.loc[emp, "mean"]
    flipped.loc[emp, ["ci_low", "ci_high"]] = (200.0 - flipped.loc[emp, ["ci_high", "ci_low"]]).to_numpy()
    flipped.loc[emp, ["diff_mean", "diff_ci_low", "diff_ci_high"]] = (-flipped.loc[emp, ["diff_mean", "diff_ci_high", "diff_ci_low"]]).to_numpy()
    employment = report.findings(flipped, lang="en")[0]
    # now competitive leads (110), 10 FTE above the baseline
    assert "the competitive regime leads with 110\u00a0FTE" in employment
    assert "10\u00a0FTE more than the administrative regime (paired 95% CI 6 to 14)" in employment


def test_when_the_baseline_leads_its_margin_is_over_the_next_best():
    c = comparison(
        row("administrative", 100.0, (95.0, 105.0)),
        row("competitive", 96.0, (91.0, 101.0), (-4.0, -7.0, -1.0)),
        row("cooperative", 90.0, (85.0, 95.0), (-10.0, -15.0, -5.0)),
    )
    (en,) = report.findings(c, lang="en")
    # the margin over competitive is -(-4) with the interval (1, 7)
    assert "the administrative regime leads with 100\u00a0FTE" in en
    assert "4\u00a0FTE more than the competitive regime (the next best) (paired 95% CI 1 to 7)" in en
    (fr,) = report.findings(c, lang="fr")
    assert "soit 4\u00a0ETP de plus que le régime concurrentiel (le suivant)" in fr


def test_lower_is_better_outcomes_are_led_by_the_lowest():
    o = "ess_employment_fte__recovery_quarters"
    c = comparison(
        row("administrative", 6.0, (5.0, 7.0), outcome=o),
        row("competitive", 4.0, (3.0, 5.0), (-2.0, -3.0, -1.0), outcome=o),
        row("cooperative", 7.0, (6.0, 8.0), (1.0, 0.5, 1.5), outcome=o),
    )
    (en,) = report.findings(c, lang="en")
    assert en.startswith("Recovery time of ESS employment (quarters): the competitive regime leads (lower is better) with 4.0\u00a0quarters")
    assert "2.0\u00a0quarters less than the administrative regime" in en
    (fr,) = report.findings(c, lang="fr")
    assert "le régime concurrentiel arrive en tête (le plus bas est le mieux) avec 4,0\u00a0trimestres" in fr
    assert "soit 2,0\u00a0trimestres de moins" in fr


def test_an_outcome_without_a_direction_says_highest_not_leads():
    o = "final_public_spend_eur"
    c = comparison(row("administrative", 1000.0, (900.0, 1100.0), outcome=o),
                   row("cooperative", 1500.0, (1400.0, 1600.0), (500.0, 400.0, 600.0), outcome=o))
    (en,) = report.findings(c, lang="en")
    assert "has the highest value" in en and "leads" not in en


def test_combinations_of_other_axes_get_a_sentence_each():
    c = comparison(
        row("administrative", 100.0, (95.0, 105.0), **{"strategy.policy": "cooperate"}),
        row("cooperative", 110.0, (105.0, 115.0), (10.0, 5.0, 15.0), **{"strategy.policy": "cooperate"}),
        row("administrative", 100.0, (95.0, 105.0), **{"strategy.policy": "independent"}),
        row("cooperative", 99.0, (94.0, 104.0), (-1.0, -4.0, 2.0), **{"strategy.policy": "independent"}),
    )
    cooperate, independent = report.findings(c, lang="en")
    assert "— all cooperate:" in cooperate and "the cooperative regime leads" in cooperate and NS["en"] not in cooperate
    assert "— all stay independent:" in independent and "the administrative regime has the best mean" in independent
    assert "+1\u00a0FTE (paired 95% CI \u22122 to 4), is not significant" in independent


def test_many_combinations_are_summed_up_by_counts_and_the_largest_significant_lead():
    """Three shock sets: cooperative leads in two (one significantly, by 12 with (2, 22)),
    administrative in one, not significantly."""
    c = comparison(
        row("administrative", 100.0, (95.0, 105.0), shock_set="a"),
        row("cooperative", 112.0, (107.0, 117.0), (12.0, 2.0, 22.0), shock_set="a"),
        row("administrative", 100.0, (95.0, 105.0), shock_set="b"),
        row("cooperative", 103.0, (98.0, 108.0), (3.0, -1.0, 7.0), shock_set="b"),
        row("administrative", 100.0, (95.0, 105.0), shock_set="c"),
        row("cooperative", 98.0, (93.0, 103.0), (-2.0, -5.0, 1.0), shock_set="c"),
    )
    (en,) = report.findings(c, lang="en")
    assert "over the 3 combinations of shock sets compared, the cooperative regime leads in 2 (significantly in 1), " \
           "the administrative regime in 1 (significantly in none)." in en
    assert "The largest significant lead is the cooperative regime's with shock set “a”: 12\u00a0FTE more than the " \
           "administrative regime (paired 95% CI 2 to 22)." in en
    assert "the cooperative regime is significantly higher in 1 and not significantly different in 2." in en
    (fr,) = report.findings(c, lang="fr")
    assert "le régime coopératif arrive en tête dans 2 (significativement dans 1), le régime administratif dans 1 " \
           "(significativement dans aucune)" in fr
    assert len(report.outcome_findings(c, "final_ess_employment_fte", lang="en")) == 3  # the details: one per combination


def test_a_single_regime_or_no_value_is_said_plainly():
    (one,) = report.findings(comparison(row("administrative", 100.0, (95.0, 105.0))), lang="en")
    assert "only the administrative regime is in this batch" in one
    (none,) = report.findings(comparison(row("administrative", np.nan, (np.nan, np.nan))), lang="fr")
    assert "aucune simulation de ce lot ne donne de valeur" in none


# --------------------------------------------------------------------------- the brief of a real batch
@pytest.fixture(scope="module")
def briefs(small_batch):  # noqa: F811
    return {lang: report.write_report(small_batch, lang=lang) for lang in LANGS}


def expected_pages(comparison: pd.DataFrame, networks: int) -> list[str]:
    """The brief as designed: findings; a page per headline outcome; resilience triangles two
    series a page; trade-off and resources; networks; method and limits."""
    outcomes = list(dict.fromkeys(comparison["outcome"]))
    series = list(dict.fromkeys(o.split("__")[0] for o in outcomes if "__" in o))
    return (["findings"] + ["outcome"] * len(outcomes) + ["resilience"] * -(-len(series) // report.TRIANGLES_PER_PAGE)
            + ["tradeoff"] + (["networks"] if networks else []) + ["method"])


@pytest.mark.parametrize("lang", LANGS)
def test_brief_has_the_pages_designed_and_the_findings_in_its_text(briefs, small_batch, lang):  # noqa: F811
    brief = briefs[lang]
    assert brief.pdf == small_batch.path / f"brief-{lang}.pdf"
    pdf = PdfReader(brief.pdf)
    charts, _facts = report.build_charts(small_batch, lang=lang)
    design = expected_pages(charts.comparison, len(charts.networks))
    assert len(charts.comparison["outcome"].unique()) == 8 and len(charts.networks) == 3
    assert brief.pages == design and len(pdf.pages) == len(design) == 14
    text = [re.sub(r"\s+", " ", p.extract_text()) for p in pdf.pages]
    for finding in brief.findings:  # every key finding is on page 1, word for word
        assert re.sub(r"\s+", " ", finding.replace("\u00a0", " ")) in text[0].replace("\u00a0", " ")
    assert f"{1} {'of' if lang == 'en' else 'sur'} {len(design)}" in text[0]
    limits_title = "What the model leaves out" if lang == "en" else "Ce que le modèle laisse de côté"
    assert limits_title in text[-1]
    for words in i18n.LIMITS.values():  # what the model leaves out, from ODD.md
        assert " ".join(words[lang].split()[:4]) in text[-1]
    assert "11" in text[-1]  # the master seed
    for page in text:
        assert "PTCE-sim" in page and "smoke" in page  # the source line under every page


@pytest.mark.parametrize("lang", LANGS)
def test_findings_of_a_real_batch_say_not_significant_exactly_when_the_interval_includes_zero(briefs, small_batch, lang):  # noqa: F811
    charts, _facts = report.build_charts(small_batch, lang=lang)
    c = charts.comparison
    for outcome, finding in zip(dict.fromkeys(c["outcome"]), briefs[lang].findings, strict=True):
        rows = c[c["outcome"] == outcome].set_index("regime.kind")
        better = i18n.outcome_better(outcome)
        leader = rows["mean"].idxmin() if better < 0 else rows["mean"].idxmax()
        if leader != "administrative":
            lo, hi = rows.loc[leader, ["diff_ci_low", "diff_ci_high"]]
        else:
            rest = rows.drop(index="administrative")
            nxt = rest["mean"].idxmin() if better < 0 else rest["mean"].idxmax()
            lo, hi = -rows.loc[nxt, "diff_ci_high"], -rows.loc[nxt, "diff_ci_low"]
        assert (NS[lang] in finding) == bool(lo <= 0 <= hi), (outcome, finding)
        assert i18n.regime_label(leader, lang) in finding


@pytest.mark.parametrize("lang", LANGS)
def test_brief_pages_have_no_overlapping_text(small_batch, lang):  # noqa: F811
    charts, facts = report.build_charts(small_batch, lang=lang)
    for kind, fig in report.render_pages(charts, facts):
        assert overlapping_texts(fig) == [], f"page {kind} ({lang})"


def test_every_chart_is_on_disk_in_both_languages(briefs, small_batch):  # noqa: F811
    figures = small_batch.path / "figures"
    for lang in LANGS:
        names = {p.name for p in briefs[lang].figures}
        for outcome in report.build_charts(small_batch, lang=lang)[0].outcomes:
            assert f"comparison-{outcome}-{lang}.png" in names and f"comparison-{outcome}-{lang}.svg" in names
        for stem in ("timeseries-ess_employment_fte", "timeseries-personalisation", "resilience-ess_employment_fte",
                     "tradeoff", "resource-mix", "network-cooperative-run-2"):
            assert (figures / f"{stem}-{lang}.png").is_file() and (figures / f"{stem}-{lang}.svg").is_file(), stem


def test_same_batch_same_brief_text(briefs, small_batch, tmp_path):  # noqa: F811
    """Drawn again, the brief has the same pages and words (matplotlib's layout solver can
    move a glyph by 1e-10 pt between runs, so bytes are not compared)."""
    charts, facts = report.build_charts(small_batch, lang="fr")
    again = tmp_path / "again.pdf"
    report.write_brief(charts, facts, again)
    ta, tb = ([p.extract_text() for p in PdfReader(x).pages] for x in (briefs["fr"].pdf, again))
    assert ta == tb


def test_the_brief_of_a_batch_with_policies_and_shock_sets(axes_batch, tmp_path):  # noqa: F811
    """2 policies x 2 shock sets: more combinations than an outcome page holds, so page 1 has a
    summary per outcome, each outcome a page with its comparison, each series a page over
    time, and the sentences of every combination an appendix."""
    charts, facts = report.build_charts(axes_batch, lang="fr")
    pages = report.write_brief(charts, facts, tmp_path / "axes.pdf")  # the charts on disk are tested on the small batch
    pdf = PdfReader(tmp_path / "axes.pdf")
    assert len(pdf.pages) == len(pages) and pages[0] == "findings" and pages[-1] == "method"
    outcomes = list(dict.fromkeys(charts.comparison["outcome"]))
    series = {o.split("__")[0] for o in outcomes if "__" in o} | {o.split("_", 1)[1] for o in outcomes if "__" not in o}
    assert pages.count("outcome") == len(outcomes) and pages.count("series") == len(series) and "details" in pages
    key = report.findings(charts.comparison, lang="fr")
    assert len(key) == len(outcomes)
    assert key[0].startswith("Emploi dans l'ESS en fin de période (ETP)\u00a0: sur les 4 combinaisons de stratégies et jeux de chocs")
    # the appendix: a sentence for each combination, e.g. employment: 2 policies x 2 shock sets
    details = report.outcome_findings(charts.comparison, "final_ess_employment_fte", lang="fr", head=False)
    assert len(details) == 4
    assert any(d.startswith("Toutes coopèrent, sans choc") for d in details)
    assert any("jeu de chocs «\u00a0cut\u00a0»" in d for d in details)
    text = " ".join(re.sub(r"\s+", " ", p.extract_text()) for p in pdf.pages)
    assert "Détail par combinaison" in text


# --------------------------------------------------------------------------- the method and limits page
def odd_not_in_model_items() -> list[str]:
    text = (ROOT / "ODD.md").read_text(encoding="utf-8")
    section = text.split("## Not yet in the model", 1)[1].split("\n---", 1)[0]
    return re.findall(r"^- \*\*(.+?)\*\*", section, flags=re.MULTILINE)


def test_limits_of_the_brief_are_odd_not_yet_in_the_model_items():
    """Each bold item of ODD.md's "Not yet in the model" has a sentence in both languages in
    simulation.i18n.LIMITS, and nothing else does: when an item enters the model, it leaves
    the brief too."""
    items = [i.rstrip(":").strip() for i in odd_not_in_model_items()]
    assert items, "ODD.md has no 'Not yet in the model' items"
    assert list(i18n.LIMITS) == items
    for words in i18n.LIMITS.values():
        assert words["en"] and words["fr"]


# --------------------------------------------------------------------------- ptce report
def ptce(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "simulation", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.mark.parametrize("make", ["missing", "not_a_batch", "file"])
def test_report_on_a_missing_or_non_batch_folder_is_one_line_exit_2(tmp_path, make):
    target = tmp_path / "results" / "nothing"
    if make == "not_a_batch":
        target.mkdir(parents=True)
        (target / "timeseries.parquet").write_bytes(b"")
    elif make == "file":
        target.parent.mkdir(parents=True)
        target.write_text("x")
    res = ptce("report", str(target))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and str(target) in lines[0] and "Traceback" not in res.stderr, res.stderr
    assert not (target / "figures").exists() if target.is_dir() else True


def test_report_bad_language_is_one_line_exit_2(small_batch):  # noqa: F811
    res = ptce("report", str(small_batch.path), "--lang", "de")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and "--lang" in res.stderr


def test_report_writes_charts_and_brief_where_it_says(small_batch, tmp_path):  # noqa: F811
    out = tmp_path / "brief" / "note.pdf"
    res = ptce("report", str(small_batch.path), "--lang", "fr", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert out.is_file() and len(PdfReader(out).pages) == 14
    assert str(out) in res.stdout and str(Path(small_batch.path) / "figures") in res.stdout
    assert (Path(small_batch.path) / "figures" / "tradeoff-fr.svg").is_file()
