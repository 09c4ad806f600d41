"""Pattern-oriented validation (simulation.validation), `ptce validate`, `ptce params`.

Each pattern check on constructed numbers (pass, fail, edges), the statistics of a run
by hand where the model makes them exact, the arms' scenarios, and the command line on a
reduced calibration (a few organisations and quarters: it must run and print the table,
whatever the verdict on so small a territory).
"""

from __future__ import annotations

import csv
import io
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from simulation import TerritoryModel, load_scenario
from simulation.params import parameter_table
from simulation.validation import (
    ARMS,
    BUDGET_2011_OVER_2005,
    CALIBRATION_SCENARIO,
    PATTERNS,
    STATISTICS,
    Pattern,
    calibration_runs,
    check_patterns,
    format_markdown,
    format_table,
    mean_interval,
    run_statistics,
)

from .conftest import SCENARIOS

SMALL = ["--set", "territory.organisations=20", "--set", "territory.municipalities=2", "--set", "steps=6"]


def ptce(*args):
    return subprocess.run([sys.executable, "-m", "simulation", *args], capture_output=True, text=True, timeout=600)


# --------------------------------------------------------------------------- patterns on constructed numbers
def runs_at(values: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    """A runs table: for each (arm, statistic) the given values, one row per replicate."""
    rows = []
    arms = {a for a, _ in values}
    for arm in sorted(arms):
        cols = {s: v for (a, s), v in values.items() if a == arm}
        n = len(next(iter(cols.values())))
        for r in range(n):
            rows.append({"arm": arm, "replicate": r, **{s: v[r] for s, v in cols.items()}})
    return pd.DataFrame(rows)


def test_every_pattern_passes_at_its_target_and_fails_outside_its_interval():
    at_target = runs_at({(p.arm, p.statistic): [p.target] * 3 for p in PATTERNS})
    table = check_patterns(at_target)
    assert table["passed"].all() and len(table) == len(PATTERNS)
    for p in PATTERNS:
        width = p.high - p.low
        above = check_patterns(runs_at({(p.arm, p.statistic): [p.high + 0.01 * width] * 3}), [p])
        below = check_patterns(runs_at({(p.arm, p.statistic): [p.low - 0.01 * width] * 3}), [p])
        assert not above["passed"].iloc[0] and not below["passed"].iloc[0], p.name


def test_a_pattern_is_judged_on_the_mean_of_replicates_and_its_edges_pass():
    p = Pattern("volunteers", "volunteers", "2017", "volunteer_to_salaried_fte", 0.9, 0.75, 1.05, "test")
    # Replicates on either side: the mean 0.9 passes though one value is outside.
    table = check_patterns(runs_at({("2017", "volunteer_to_salaried_fte"): [0.7, 1.1]}), [p])
    assert table["passed"].iloc[0] and table["mean"].iloc[0] == pytest.approx(0.9)
    assert p.passes(0.75) and p.passes(1.05) and not p.passes(0.7499) and not p.passes(math.nan)
    # Only the arm named by the pattern counts.
    other = runs_at({("2005", "volunteer_to_salaried_fte"): [0.9, 0.9], ("2017", "volunteer_to_salaried_fte"): [2.0, 2.0]})
    assert not check_patterns(other, [p])["passed"].iloc[0]
    # A statistic nobody measured fails, it is not skipped.
    missing = check_patterns(pd.DataFrame({"arm": ["2017"], "replicate": [0]}), [p])
    assert missing["n"].iloc[0] == 0 and not missing["passed"].iloc[0]


def test_mean_interval_by_hand():
    x = [0.2, 0.4, 0.3, 0.5]
    n, mean, lo, hi = mean_interval(x)
    half = stats.t.ppf(0.975, 3) * np.std(x, ddof=1) / 2  # sqrt(4) = 2
    assert (n, mean) == (4, pytest.approx(0.35)) and lo == pytest.approx(0.35 - half) and hi == pytest.approx(0.35 + half)
    assert mean_interval([0.3, math.nan])[:2] == (1, 0.3) and math.isnan(mean_interval([0.3])[2])
    assert mean_interval([])[0] == 0


def test_targets_are_the_figures_of_facts():
    by = {(p.tag, p.statistic, p.arm): p.target for p in PATTERNS}
    # FACTS.md [resource-mix]: subsidies 34 % -> 20 %, public orders 17 % -> 24 %, earned 49 % -> 66 %.
    assert by[("resource-mix", "subsidy_share", "2005")] == 0.34 and by[("resource-mix", "subsidy_share", "2017")] == 0.20
    assert by[("resource-mix", "public_order_share", "2005")] == 0.17 and by[("resource-mix", "public_order_share", "2017")] == 0.24
    assert by[("resource-mix", "earned_revenue_share", "2005")] == 0.49 and by[("resource-mix", "earned_revenue_share", "2017")] == 0.66
    assert by[("volunteers", "volunteer_to_salaried_fte", "2017")] == pytest.approx(1.425 / 1.6)
    assert by[("ptce-size", "ptce_members_mean", "cooperation")] == 15 and by[("ptce-size", "ptce_jobs_mean", "cooperation")] == 100
    assert {p.tag for p in PATTERNS} == {"resource-mix", "assoc-size-dist", "assoc-budget-conc", "volunteers", "ptce-size", "iae-exit"}
    assert all(p.low < p.target < p.high for p in PATTERNS) and all(p.statistic in STATISTICS for p in PATTERNS)


def test_tables_show_every_pattern_and_its_verdict():
    runs = runs_at({(p.arm, p.statistic): [p.target, p.target] for p in PATTERNS})
    runs.loc[runs["arm"] == "cooperation", "ptce_members_mean"] = 40.0
    table = check_patterns(runs)
    text, md = format_table(table), format_markdown(table)
    for p in PATTERNS:
        assert p.name in text and p.name in md
    assert text.count("FAIL") == 1 and md.count("**fail**") == 1


# --------------------------------------------------------------------------- the arms and the statistics of a run
def test_arms_switch_regime_policy_and_budget_as_documented():
    base = load_scenario(CALIBRATION_SCENARIO)
    # FACTS.md [resource-volume] over 2005-2011 from the 2005 shares: (0.34 x 0.97^6 + 0.17 x 1.1^6) / 0.51.
    assert BUDGET_2011_OVER_2005 == pytest.approx(1.1458, abs=1e-4)
    arms = {a.name: a.scenario(base) for a in ARMS}
    assert arms["2005"].regime.kind == "administrative" and arms["2005"].steps == 4
    assert arms["2005"].funding.public_budget_share_of_costs == base.funding.public_budget_share_of_costs
    assert arms["2017"].regime.kind == "competitive" and arms["2017"].steps == base.steps == 48
    assert arms["2017"].funding.public_budget_share_of_costs == pytest.approx(base.funding.public_budget_share_of_costs * BUDGET_2011_OVER_2005)
    assert arms["cooperation"].regime.kind == "cooperative" and arms["cooperation"].strategy.policy == "cooperate"
    # Only the regime, the policy, the budget and the horizon differ: the same 2005 territory.
    assert arms["2017"].territory == arms["2005"].territory == base.territory


def test_statistics_of_a_run_match_the_model_by_hand():
    scenario = load_scenario(SCENARIOS / "smoke.toml", {"strategy.policy": "independent", "regime.kind": "competitive", "steps": 8})
    model = TerritoryModel(scenario, rng=5)
    s = run_statistics(model, 8, first_year=False)
    ts = model.timeseries()
    # No PTCE, no merger: each organisation's insertion leavers find a job at exactly the input rate.
    assert s["insertion_exit_to_job_share"] == pytest.approx(scenario.funding.insertion_exit_to_job_rate, rel=1e-12)
    assert s["subsidy_share"] + s["public_order_share"] + s["sales_share"] + s["gifts_share"] == pytest.approx(1.0)
    assert s["earned_revenue_share"] == pytest.approx(s["public_order_share"] + s["sales_share"])
    # Employees are people: FTE x 1.333 (2.0 M headcount / 1.5 M FTE, FACTS.md [ess-size-2019]).
    people = np.array([o.staff_fte for o in model.organisations()]) * 2.0 / 1.5
    assert s["share_below_10_employees"] == pytest.approx((people < 10).mean()) and s["share_above_50_employees"] == pytest.approx((people > 50).mean())
    last_year = ts.iloc[-4:]
    assert s["volunteer_to_salaried_fte"] == pytest.approx((last_year["volunteers_fte"] / last_year["ess_employment_fte"]).mean())
    assert s["ptce_count"] == 0 and s["ptce_members_mean"] == 0
    assert 0 <= s["resource_share_over_500k_eur"] <= 1 and 0 <= s["organisations_over_500k_eur"] <= 1


def test_calibration_runs_are_reproducible_and_do_not_depend_on_workers():
    kw = {"replicates": 2, "overrides": {"territory.organisations": 15, "territory.municipalities": 2, "steps": 5}}
    a = calibration_runs(SCENARIOS / "smoke.toml", workers=1, **kw)
    b = calibration_runs(SCENARIOS / "smoke.toml", workers=2, **kw)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert list(a["arm"].unique()) == sorted(a.name for a in ARMS) and len(a) == 2 * len(ARMS)
    # Replicates differ (their own seeds); arms of one replicate share the seed, not the outcome.
    r = a[a["arm"] == "2017"]
    assert r["share_below_10_employees"].iloc[0] != r["share_below_10_employees"].iloc[1] or r["subsidy_share"].iloc[0] != r["subsidy_share"].iloc[1]


# --------------------------------------------------------------------------- command line
def test_ptce_validate_runs_the_calibration_and_prints_the_table():
    res = ptce("validate", "--replicates", "2", "--workers", "1", *SMALL)
    assert res.returncode in (0, 1), res.stderr
    assert "Traceback" not in res.stderr
    lines = res.stdout.splitlines()
    for p in PATTERNS:
        row = next(line for line in lines if line.startswith(f"{p.name} [{p.tag}] ({p.arm})"))
        assert row.rstrip().endswith(("pass", "FAIL"))
    failed = sum(line.rstrip().endswith("FAIL") for line in lines)
    assert (res.returncode == 0) == (failed == 0)
    assert f"{len(PATTERNS) - failed} of {len(PATTERNS)} patterns pass" in res.stdout


def test_ptce_validate_passes_every_pattern_at_the_defaults():
    """The contract of the validation: at the committed defaults, `ptce validate` (10
    replicates of each arm of scenarios/calibration.toml, as a user runs it) reproduces
    every pattern of FACTS.md within its tolerance and exits 0.  A model change that loses
    a pattern fails here, and the calibration (python -m simulation.calibrate) is rerun."""
    res = ptce("validate", "--workers", "2")
    assert "Traceback" not in res.stderr
    failed = [line for line in res.stdout.splitlines() if line.rstrip().endswith("FAIL")]
    assert res.returncode == 0 and not failed, "\n".join(failed) or res.stderr
    assert f"{len(PATTERNS)} of {len(PATTERNS)} patterns pass" in res.stdout


def _live_children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` and that have not exited (Linux /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
            if int(ppid) == pid and state not in "ZX":
                found.add(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """Not exited (an exited process its new parent has not reaped yet is a zombie, Z)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] not in "ZX"


def _as_from_a_terminal() -> None:
    # Ctrl-C handled by default, as in a terminal's foreground job (see test_runner_cli).
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc (Linux)")
@pytest.mark.parametrize("how", ["sigterm", "ctrl_c"])
def test_ptce_validate_killed_leaves_no_worker_process(how):
    """``ptce validate --workers 2`` killed mid-run (SIGTERM to it alone, as ``kill`` or a job
    scheduler does; or Ctrl-C, SIGINT to its whole process group, as a terminal does) leaves
    none of its processes behind: neither the pool's workers nor multiprocessing's
    resource tracker.  Once they waited for work from the dead parent forever."""
    proc = subprocess.Popen([sys.executable, "-m", "simulation", "validate", "--workers", "2", "--replicates", "500", *SMALL],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_as_from_a_terminal)
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while len(children) < 3:  # two workers and the resource tracker
            assert proc.poll() is None, "validate ended before it could be killed"
            assert time.monotonic() < deadline, f"the pool did not start: {children}"
            children |= _live_children(proc.pid)
            time.sleep(0.05)
        time.sleep(1.0)  # the workers at work (or still starting: either way they must go)
        if how == "sigterm":
            proc.send_signal(signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
        deadline = time.monotonic() + 30  # bounded: they go at once, but the machine may be slow
        while {pid for pid in children if _running(pid)} and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not {pid for pid in children if _running(pid)}, "processes of the killed validate still run"
        stderr = proc.stderr.read()  # its end of the pipe: only the gone processes held it
        if how == "sigterm":
            assert proc.returncode == -signal.SIGTERM
        else:
            assert proc.returncode == 130 and stderr.strip().splitlines()[-1] == "interrupted", stderr
            assert "Traceback" not in stderr, stderr
    finally:
        for pid in [proc.pid, *children]:  # whatever the outcome, leave nothing running
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()


@pytest.mark.parametrize(("args", "expected"), [
    (["--replicates", "0"], "--replicates"),
    (["--workers", "0"], "--workers"),
    (["--set", "territory.organisatons=5"], "territory.organisatons: unknown key"),
    (["--set", "steps=2"], "steps"),
    (["--scenario", "no/such.toml"], "no/such.toml: file not found"),
])
def test_ptce_validate_user_errors_are_one_line_exit_2(args, expected, capsys):
    from simulation.cli import main

    assert main(["validate", *args]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0]


def test_ptce_params_lists_every_parameter_with_unit_bounds_and_source():
    res = ptce("params", "--format", "csv")
    assert res.returncode == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert list(rows[0]) == ["section", "path", "default", "unit", "bounds", "source", "description"]
    paths = {r["path"] for r in rows}
    assert {r["path"] for r in parameter_table()} <= paths
    # the regime and shock classes too, written as in a scenario file
    assert {"regime.grant_share", "regime.price_weight", "regime.agreement_share", "shocks[].share"} <= paths
    by = {(r["section"], r["path"]): r for r in rows}
    beta = by[("Scenario", "organisation.fixed_cost_exponent")]
    assert beta["bounds"] == "(0, 1)" and beta["default"] == "0.8" and beta["unit"] == "dimensionless"
    assert by[("Scenario", "territory.organisations")]["bounds"] == "[3, 20000]"
    assert "FACTS.md [volunteers]" in by[("Scenario", "organisation.volunteer_ratio")]["source"]


def test_ptce_params_markdown(capsys):
    from simulation.cli import main

    assert main(["params"]) == 0
    out = capsys.readouterr().out
    assert "## Competitive regime" in out and "| `organisation.fixed_cost_exponent` | `0.8` | dimensionless | (0, 1) |" in out
    assert main(["params", "--format", "json"]) == 2
