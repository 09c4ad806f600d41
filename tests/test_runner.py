"""The batch runner: design, seeds, twins, storage, failures, resume and the comparison.

Batches here are smoke-sized (30 organisations, a few quarters) and run with the serial
executor; the other executors are in test_runner_executors.py and the command line
(kill, Ctrl-C, exit statuses) in test_runner_cli.py.
"""

from __future__ import annotations

import hashlib
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulation import TerritoryModel
from simulation.metrics import METRICS
from simulation.params import ScenarioError
from simulation.resilience import RESILIENCE_SERIES, outcome_measures
from simulation.results import HEADLINE_OUTCOMES, RESILIENCE_MEASURES, compare, format_comparison
from simulation.runner import BatchError, load_results, make_plan, run_batch

from .conftest import SCENARIOS

CUT = '[{ kind = "budget_cut", share = 0.4, start = 3, duration = 2, recovery_quarters = 1 }]'


def batch_file(tmp_path: Path, body: str, steps: int = 8, name: str = "scen.toml") -> Path:
    """smoke.toml with `steps` quarters and a [batch] table appended."""
    text = (SCENARIOS / "smoke.toml").read_text(encoding="utf-8").replace("steps = 12", f"steps = {steps}")
    path = tmp_path / name
    path.write_text(text + "\n" + body, encoding="utf-8")
    return path


REGIMES_X_SHOCKS = f"""
[batch]
name = "t"
replicates = 2
master_seed = 5

[batch.axes]
"regime.kind" = ["administrative", "competitive", "cooperative"]
shock_set = ["none", "cut"]

[batch.shock_sets]
cut = {CUT}
"""


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- design
def test_design_crosses_axes_and_replicates_with_one_seed_per_replicate(tmp_path):
    body = REGIMES_X_SHOCKS.replace('shock_set = ["none", "cut"]', 'shock_set = ["none", "cut"]\n"strategy.policy" = ["cooperate", "independent"]')
    plan = make_plan(batch_file(tmp_path, body))
    d = plan.design
    assert len(d) == 3 * 2 * 2 * 2 and plan.twins == 0
    assert list(d["run_id"]) == list(range(len(d)))
    assert list(d.columns[:6]) == ["run_id", "replicate", "seed", "regime.kind", "strategy.policy", "shock_set"]
    # Common random numbers: one seed per replicate, shared by every combination.
    assert d.groupby("replicate")["seed"].nunique().eq(1).all()
    assert d.groupby("seed")["replicate"].nunique().eq(1).all()
    assert d.groupby(["regime.kind", "strategy.policy", "shock_set"]).size().eq(2).all()
    # Each run's scenario carries its axis values.
    for row in d.to_dict("records"):
        sc = plan.points[plan.point_of_run[row["run_id"]]]
        assert sc.regime.kind == row["regime.kind"] and sc.strategy.policy == row["strategy.policy"]
        assert bool(sc.shocks) == (row["shock_set"] == "cut") and sc.batch is None and sc.steps == 8
    # A shocked run's twin is the no-shock run of the same replicate and combination.
    shocked = d[d["shock_set"] == "cut"]
    twins = d.set_index("run_id").loc[shocked["twin_run_id"]]
    for col in ("replicate", "regime.kind", "strategy.policy"):
        assert list(twins[col]) == list(shocked[col])
    assert (twins["shock_set"] == "none").all() and (d["twin_of"] == -1).all()


def test_twins_are_added_when_the_batch_has_no_unshocked_run(tmp_path):
    plan = make_plan(batch_file(tmp_path, REGIMES_X_SHOCKS.replace('["none", "cut"]', '["cut"]')))
    d = plan.design
    assert plan.twins == 6 and len(d) == 12
    added = d[d["twin_of"] >= 0]
    assert (added["shock_set"] == "none").all() and (added["run_id"] >= 6).all()
    served = d.set_index("run_id").loc[added["twin_of"]]
    for col in ("replicate", "regime.kind", "strategy.policy"):
        assert list(served[col]) == list(added[col])
    assert list(served["twin_run_id"]) == list(added["run_id"])
    # Twins share the group of the run they serve, so they run in the same task.
    assert all(len(g) == 2 for g in plan.groups)


def test_no_twins_and_no_shock_set_axis_without_shocks(tmp_path):
    plan = make_plan(batch_file(tmp_path, "[batch]\nreplicates = 3\n"))
    d = plan.design
    assert len(d) == 3 and plan.twins == 0
    assert list(d["shock_set"]) == ["none"] * 3 and list(d["regime.kind"]) == ["cooperative"] * 3
    assert plan.spec.master_seed == 7  # the scenario's seed


def test_latin_hypercube_samples_are_stratified_and_seeded(tmp_path):
    body = """
[batch]
replicates = 1
master_seed = 3
samples = 10

[batch.ranges]
"demand.need_growth_per_quarter" = [0.0, 0.01]
"territory.organisations" = [20, 29]
"""
    plan = make_plan(batch_file(tmp_path, body))
    d = plan.design
    assert list(d["sample"]) == list(range(10))
    growth = d["demand.need_growth_per_quarter"].to_numpy()
    orgs = d["territory.organisations"].to_numpy()
    # One point in each tenth of each range (the Latin-hypercube property).
    assert sorted(np.floor(growth / 0.001).astype(int)) == list(range(10))
    assert sorted(orgs) == list(range(20, 30)) and d["territory.organisations"].dtype.kind == "i"
    for row in d.to_dict("records"):
        sc = plan.points[plan.point_of_run[row["run_id"]]]
        assert sc.demand.need_growth_per_quarter == row["demand.need_growth_per_quarter"]
        assert sc.territory.organisations == row["territory.organisations"]
    again = make_plan(batch_file(tmp_path, body)).design
    other = make_plan(batch_file(tmp_path, body.replace("master_seed = 3", "master_seed = 4"))).design
    pd.testing.assert_frame_equal(again, d)
    assert not np.array_equal(other["demand.need_growth_per_quarter"], growth)


def test_set_on_an_axis_pins_it_and_replicates_override(tmp_path):
    plan = make_plan(batch_file(tmp_path, REGIMES_X_SHOCKS), replicates=1,
                     overrides={"regime.kind": "competitive", "shock_set": "cut"})
    assert len(plan.design) == 2 and plan.twins == 1
    assert set(plan.design["regime.kind"]) == {"competitive"}


@pytest.mark.parametrize(("body", "expected"), [
    ('[batch.axes]\n"territory.organisatons" = [20, 30]', "batch.axes.territory.organisatons = 20: territory.organisatons: unknown key"),
    ('[batch.axes]\n"territory.organisations" = [20, 1]', "batch.axes.territory.organisations = 1: territory.organisations"),
    ('[batch.axes]\n"regime.kind" = ["market"]', "batch.axes.regime.kind = 'market'"),
    ('[batch.axes]\nshock_set = ["none", "crash"]', "'crash' is not a shock set"),
    ('[batch.axes]\nseed = [1, 2]', "seed: cannot be varied"),
    ('[batch.axes]\n"steps.x" = [1]', "steps is not a table"),
    ('[batch.shock_sets]\ncut = [{ kind = "budget_cut", share = 2.0 }]', "batch.shock_sets.cut: shocks.0.share"),
    ('[batch.shock_sets]\nnone = [{ kind = "budget_cut" }]', "none: is reserved"),
    ('[batch.ranges]\n"demand.need_growth_per_quarter" = [0.02, 0.01]', "must be below high"),
    ('[batch.ranges]\n"demand.need_growth_per_quarter" = [0.0, 0.01]', "samples: ranges are given"),
    ('replicats = 3', "batch.replicats: unknown key"),
])
def test_bad_batch_spec_is_one_line_naming_file_and_field(tmp_path, body, expected):
    path = batch_file(tmp_path, "[batch]\n" + body if not body.startswith("[") else "[batch]\nreplicates = 2\n" + body)
    with pytest.raises(ScenarioError) as info:
        make_plan(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path)) and expected in message, message


# --------------------------------------------------------------------------- a batch
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One serial batch: 3 regimes x {none, cut} x 2 replicates, 8 quarters."""
    tmp = tmp_path_factory.mktemp("batch")
    path = batch_file(tmp, REGIMES_X_SHOCKS)
    summary = run_batch(path, executor="serial", out=tmp / "out")
    return path, summary, load_results(tmp / "out")


def test_results_have_the_contract_columns(finished):
    _, summary, res = finished
    assert summary.success and summary.ok == 12 and summary.done == 12
    metrics = [m for m in METRICS if m != "step"]
    assert list(res.outcomes["run_id"]) == list(range(12)) and (res.outcomes["status"] == "ok").all()
    assert (res.outcomes["error"] == "").all()
    expected = {f"final_{m}" for m in metrics} | {f"mean_{m}" for m in metrics}
    expected |= {f"{s}__{m}" for s in RESILIENCE_SERIES for m in RESILIENCE_MEASURES}
    assert expected <= set(res.outcomes.columns)
    assert list(res.timeseries.columns) == ["run_id", *METRICS]
    assert res.timeseries.groupby("run_id").size().eq(8).all() and res.timeseries["run_id"].nunique() == 12
    assert {"twin_of", "seed", "replicate", "regime.kind", "strategy.policy", "shock_set"} <= set(res.design.columns)
    assert res.spec["package_version"] and res.spec["scenario"]["batch"]["replicates"] == 2
    assert len(res.runs) == 12 and res.complete


def test_outcomes_summarise_the_time_series(finished):
    _, _, res = finished
    ts = res.timeseries
    for run_id in (0, 7):
        one = ts[ts["run_id"] == run_id]
        row = res.outcomes.set_index("run_id").loc[run_id]
        for m in ("ess_employment_fte", "personalisation", "organisations"):
            assert row[f"final_{m}"] == one[m].iloc[-1]
            assert row[f"mean_{m}"] == pytest.approx(one[m].mean(), rel=1e-12)


def test_a_run_is_reproduced_from_its_scenario_and_replicate_seed(finished):
    """The documented seed scheme: SeedSequence(master_seed, spawn_key=(replicate,))."""
    path, _, res = finished
    plan = make_plan(path)
    row = res.design.iloc[9]
    model = TerritoryModel(plan.points[plan.point_of_run[9]], rng=np.random.SeedSequence(5, spawn_key=(int(row["replicate"]),)))
    model.run(8)
    mine = res.timeseries[res.timeseries["run_id"] == 9].drop(columns="run_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(model.timeseries(), mine, check_exact=True, check_dtype=False)


def test_resilience_is_measured_against_the_twin_in_the_batch(finished):
    path, _, res = finished
    plan = make_plan(path)
    out = res.outcomes.set_index("run_id")
    shocked = res.design[res.design["shock_set"] == "cut"]
    calm = res.design[res.design["shock_set"] == "none"]
    col = "ess_employment_fte__resistance"
    assert out.loc[calm["run_id"], col].isna().all()
    assert out.loc[shocked["run_id"], col].notna().all()
    row = shocked.iloc[3]
    seed = np.random.SeedSequence(5, spawn_key=(int(row["replicate"]),))
    model = TerritoryModel(plan.points[plan.point_of_run[int(row["run_id"])]], rng=seed).run(8)
    twin = TerritoryModel(plan.points[plan.point_of_run[int(row["twin_run_id"])]], rng=np.random.SeedSequence(5, spawn_key=(int(row["replicate"]),))).run(8)
    direct = outcome_measures(model.timeseries(), twin.timeseries(), model.shocks.window)
    for key, value in direct.items():
        got = out.loc[int(row["run_id"]), key]
        assert (math.isnan(value) and math.isnan(got)) or got == value, key


def test_networks_of_replicate_zero_are_written(finished):
    _, _, res = finished
    rep0 = set(res.design.loc[res.design["replicate"] == 0, "run_id"])
    assert set(res.networks) == rep0
    graph = res.network(min(rep0))
    assert graph.number_of_nodes() > 0 and {"sector", "staff_fte", "is_ess", "ptce"} <= set(next(iter(graph.nodes.values())))


def test_resume_of_a_finished_batch_runs_nothing(finished, tmp_path):
    path, _, res = finished
    before = tree_digest(res.path)
    summary = run_batch(path, executor="serial", out=res.path, resume=True)
    assert summary.done == 12 and summary.executor == "nothing to run"
    after = tree_digest(res.path)
    assert {k: v for k, v in after.items() if k != "manifest.json"} == {k: v for k, v in before.items() if k != "manifest.json"}


def test_resume_refuses_another_spec_and_touches_nothing(finished):
    path, _, res = finished
    before = tree_digest(res.path)
    with pytest.raises(BatchError) as info:
        run_batch(path, executor="serial", out=res.path, resume=True, replicates=3)
    assert "--resume refused" in str(info.value) and "batch.replicates: 2 in spec.json, 3 now" in str(info.value)
    with pytest.raises(BatchError, match="steps: 8 in spec.json, 9 now"):
        run_batch(path, executor="serial", out=res.path, resume=True, overrides={"steps": 9})
    assert tree_digest(res.path) == before


def test_another_batch_folder_is_never_overwritten(finished, tmp_path):
    path, _, res = finished
    before = tree_digest(res.path)
    with pytest.raises(BatchError, match="holds batch 't' already; add --resume to continue it, or choose another --out"):
        run_batch(path, executor="serial", out=res.path)
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(BatchError, match="is not empty and holds no batch"):
        run_batch(path, executor="serial", out=other)
    assert tree_digest(res.path) == before and (other / "notes.txt").read_text() == "keep me"


def test_one_driver_at_a_time_per_folder(finished, tmp_path):
    """A second `ptce batch --resume` on a folder another driver is writing is refused
    (the lock is an flock, released when that driver ends, even killed)."""
    import fcntl

    path, _, res = finished
    before = tree_digest(res.path)
    with open(res.path / ".lock", "a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(BatchError, match="another ptce batch is writing there now"):
            run_batch(path, executor="serial", out=res.path, resume=True)
    assert tree_digest(res.path) == before
    assert run_batch(path, executor="serial", out=res.path, resume=True).done == 12  # lock released


def test_an_unreadable_manifest_means_running_again(finished, tmp_path):
    path, _, res = finished
    copy = tmp_path / "copy"
    assert run_batch(path, executor="serial", out=copy).success
    (copy / "manifest.json").write_text("{ half a manif")
    messages = []
    again = run_batch(path, executor="serial", out=copy, resume=True, echo=messages.append)
    assert again.success and any("manifest.json: missing or unreadable" in m for m in messages)
    pd.testing.assert_frame_equal(load_results(copy).outcomes, res.outcomes, check_exact=True)


def test_a_damaged_part_is_run_again_on_resume(finished, tmp_path):
    path, _, res = finished
    copy = tmp_path / "copy"
    summary = run_batch(path, executor="serial", out=copy, chunk_runs=2)
    assert summary.success
    part = sorted((copy / "timeseries").iterdir())[1]
    part.write_bytes(part.read_bytes()[:-10])
    with pytest.raises(BatchError, match="checksum differs"):
        _ = load_results(copy).timeseries
    messages = []
    again = run_batch(path, executor="serial", out=copy, resume=True, echo=messages.append)
    assert again.success and any("missing or damaged" in m for m in messages)
    fixed = load_results(copy)
    pd.testing.assert_frame_equal(fixed.outcomes, res.outcomes, check_exact=True)
    pd.testing.assert_frame_equal(fixed.timeseries, res.timeseries, check_exact=True)


# --------------------------------------------------------------------------- failures
def test_a_run_that_raises_is_recorded_and_the_rest_completes(tmp_path, monkeypatch):
    body = """
[batch]
replicates = 2

[batch.axes]
"territory.organisations" = [30, 31]
"""
    original = TerritoryModel.run

    def run(self, steps=None):
        if self.config.territory.organisations == 31:
            raise RuntimeError("boom in a test hook")
        return original(self, steps)

    monkeypatch.setattr(TerritoryModel, "run", run)
    summary = run_batch(batch_file(tmp_path, body), executor="serial", out=tmp_path / "out", chunk_runs=1)
    assert summary.done == 4 and summary.ok == 2 and not summary.success
    assert set(summary.failed) == {1, 3} and "failed: run 1 (territory.organisations=31, replicate 0): RuntimeError: boom" in str(summary)
    res = load_results(tmp_path / "out")
    out = res.outcomes.set_index("run_id")
    assert list(out["status"]) == ["ok", "failed", "ok", "failed"]
    assert out.loc[1, "error"] == "RuntimeError: boom in a test hook"
    assert out.loc[[1, 3], "final_ess_employment_fte"].isna().all() and out.loc[[0, 2], "final_ess_employment_fte"].notna().all()
    assert sorted(res.timeseries["run_id"].unique()) == [0, 2]

    from simulation.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["batch", str(tmp_path / "scen.toml"), "--executor", "serial", "--out", "again"]) == 1


# --------------------------------------------------------------------------- compare
def constructed_runs() -> pd.DataFrame:
    """Two regimes x two policies x 4 replicates, rows shuffled; for policy `cooperate`,
    cooperative - administrative = (1, 3, 2, 2) by replicate."""
    admin = [10.0, 12.0, 14.0, 16.0]
    rows = []
    for r in range(4):
        rows.append({"replicate": r, "regime.kind": "administrative", "strategy.policy": "cooperate", "shock_set": "none", "y": admin[r]})
        rows.append({"replicate": r, "regime.kind": "cooperative", "strategy.policy": "cooperate", "shock_set": "none", "y": admin[r] + [1, 3, 2, 2][r]})
        rows.append({"replicate": r, "regime.kind": "administrative", "strategy.policy": "independent", "shock_set": "none", "y": 100.0})
        rows.append({"replicate": r, "regime.kind": "cooperative", "strategy.policy": "independent", "shock_set": "none", "y": 100.0 + r})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=np.random.RandomState(0)).reset_index(drop=True)


def test_compare_by_hand_paired_difference():
    table = compare(constructed_runs(), baseline="administrative", outcomes=["y"])
    assert list(table.columns) == ["regime.kind", "strategy.policy", "outcome", "n", "mean", "ci_low", "ci_high",
                                   "diff_mean", "diff_ci_low", "diff_ci_high", "diff_n"]
    t3 = 3.182446305284263  # Student t, 97.5 % quantile, 3 degrees of freedom (table value)
    rows = table.set_index(["regime.kind", "strategy.policy"])
    base = rows.loc[("administrative", "cooperate")]
    # admin values 10, 12, 14, 16: mean 13, s = sqrt(20/3)
    assert base["n"] == 4 and base["mean"] == pytest.approx(13.0)
    assert base["ci_high"] - 13.0 == pytest.approx(t3 * math.sqrt(20 / 3) / 2)
    assert math.isnan(base["diff_mean"]) and math.isnan(base["diff_ci_low"])
    coop = rows.loc[("cooperative", "cooperate")]
    # paired differences 1, 3, 2, 2: mean 2, s = sqrt(2/3), half-width t3 s / 2
    assert coop["diff_mean"] == pytest.approx(2.0) and coop["diff_n"] == 4
    assert coop["diff_ci_low"] == pytest.approx(2.0 - t3 * math.sqrt(2 / 3) / 2)
    assert coop["diff_ci_high"] == pytest.approx(2.0 + t3 * math.sqrt(2 / 3) / 2)
    # Unpaired, the same means would give a far wider interval: pairing is what is tested.
    assert coop["diff_ci_high"] - coop["diff_ci_low"] < (coop["ci_high"] - coop["ci_low"]) / 2
    indep = rows.loc[("cooperative", "independent")]
    # differences 0, 1, 2, 3 against a constant baseline of 100
    assert indep["diff_mean"] == pytest.approx(1.5) and indep["diff_ci_high"] - 1.5 == pytest.approx(t3 * math.sqrt(5 / 3) / 2)
    assert (rows.loc[("administrative", "independent"), "ci_low"], rows.loc[("administrative", "independent"), "ci_high"]) == (100.0, 100.0)


def test_compare_leaves_out_failed_runs_twins_and_nan():
    runs = constructed_runs()
    runs["status"] = "ok"
    runs["twin_of"] = -1
    extra = runs.iloc[[0]].assign(status="failed", y=1e9)
    twin = runs.iloc[[1]].assign(twin_of=3, y=-1e9, replicate=99)
    runs.loc[runs.index[2], "y"] = np.nan
    table = compare(pd.concat([runs, extra, twin]), outcomes=["y"])
    assert table["mean"].abs().max() < 1000 and table["n"].sum() == 16 - 1


def test_compare_baseline_must_be_in_the_results():
    with pytest.raises(ValueError, match="baseline regime 'competitive' is not in the results"):
        compare(constructed_runs(), baseline="competitive", outcomes=["y"])
    with pytest.raises(ValueError, match="unknown outcome 'z'"):
        compare(constructed_runs(), outcomes=["z"])


def test_compare_on_a_batch_pairs_by_replicate_and_shock_set(finished):
    _, _, res = finished
    table = compare(res)
    assert set(table["outcome"]) <= set(HEADLINE_OUTCOMES) and "final_ess_employment_fte" in set(table["outcome"])
    assert list(table.columns[:2]) == ["regime.kind", "shock_set"]
    # Resilience rows only for the shocked cells.
    assert set(table.loc[table["outcome"] == "ess_employment_fte__resistance", "shock_set"]) == {"cut"}
    # The paired difference recomputed independently, by pivoting replicates.
    runs = res.runs
    wide = runs.pivot_table(index=["shock_set", "replicate"], columns="regime.kind", values="final_ess_employment_fte")
    d = (wide["competitive"] - wide["administrative"]).xs("cut")
    row = table[(table["outcome"] == "final_ess_employment_fte") & (table["regime.kind"] == "competitive") & (table["shock_set"] == "cut")].iloc[0]
    assert row["diff_mean"] == pytest.approx(d.mean()) and row["diff_n"] == 2


def test_format_comparison_lays_regimes_side_by_side(finished):
    _, _, res = finished
    table = compare(res)
    text = format_comparison(table, "administrative", "table")
    assert "final_ess_employment_fte (n = 2 per cell)" in text
    header = next(line for line in text.splitlines() if "administrative" in line and "competitive" in line and "cooperative" in line)
    assert header.split()[0] == "shock_set"
    md = format_comparison(table, "administrative", "markdown")
    assert "| shock_set | administrative | competitive | cooperative |" in md
    back = pd.read_json(io.StringIO(format_comparison(table, "administrative", "json")))
    assert len(back) == len(table) and list(back.columns) == list(table.columns)
