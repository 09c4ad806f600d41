"""The ptce command line, run as a user would: in a subprocess."""

import subprocess
import sys

import pandas as pd
import pytest

from .conftest import SCENARIOS
from .test_model import COLUMNS

SMOKE = str(SCENARIOS / "smoke.toml")


def ptce(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "simulation", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize("regime", ["administrative", "competitive", "cooperative"])
def test_run_writes_both_files_with_every_column(tmp_path, regime):
    out = tmp_path / "out"
    res = ptce("run", SMOKE, "--set", f"regime.kind={regime}", "--steps", "5", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert f"regime {regime}" in res.stdout and "ESS employment (FTE)" in res.stdout
    ts = pd.read_parquet(out / "timeseries.parquet")
    assert list(ts.columns) == COLUMNS and len(ts) == 5
    orgs = pd.read_parquet(out / "organisations.parquet")
    assert len(orgs) > 0 and {"staff_fte", "sector", "treasury_eur", "strategy", "ptce"} <= set(orgs.columns)


def test_run_writes_the_network_and_the_merger_log(tmp_path):
    import networkx as nx

    out = tmp_path / "out"
    res = ptce("run", SMOKE, "--set", "strategy.policy=concentrate", "--set", "concentration.merger_attempt_per_year=1", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "policy concentrate" in res.stdout
    g = nx.read_graphml(out / "network.graphml")
    orgs = pd.read_parquet(out / "organisations.parquet")
    assert {int(n) for n, d in g.nodes(data=True) if d["sector"] != "employer"} == set(orgs["id"])
    mergers = pd.read_csv(out / "mergers.csv")
    assert list(mergers.columns) == ["step", "absorber", "absorbed", "sector", "absorber_staff_fte", "absorbed_staff_fte"]
    assert len(mergers) > 0 and not set(mergers["absorbed"]) & set(orgs["id"])


def test_same_seed_same_files_other_seed_other_files(tmp_path):
    frames = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        assert ptce("run", SMOKE, "--seed", str(seed), "--out", str(tmp_path / name)).returncode == 0
        frames.append(pd.read_parquet(tmp_path / name / "timeseries.parquet"))
    pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=True)
    assert not frames[0].equals(frames[2])


@pytest.mark.parametrize(("args", "expected"), [
    (["--set", "territory.organisatons=5"], "territory.organisatons: unknown key"),
    (["--set", "territory.organisations=many"], "territory.organisations"),
    (["--set", "territory.organisations=1"], "territory.organisations"),
    (["--set", "regime.kind=market"], "regime"),
    (["--set", "oops"], "--set 'oops'"),
    (["--steps", "0"], "steps"),
    (["--steps", "ten"], "--steps"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, args, expected):
    res = ptce("run", SMOKE, *args, "--out", str(tmp_path / "x"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], res.stderr
    assert "Traceback" not in res.stderr


def test_bad_file_names_the_file_and_field(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[funding]\ninsertion_exit_to_job_rate = 2\n")
    res = ptce("run", str(bad))
    assert res.returncode == 2 and str(bad) in res.stderr and "funding.insertion_exit_to_job_rate" in res.stderr
    missing = ptce("run", str(tmp_path / "missing.toml"))
    assert missing.returncode == 2 and "missing.toml: file not found" in missing.stderr


def test_unwritable_out_and_earlier_results_kept(tmp_path):
    out = tmp_path / "out"
    assert ptce("run", SMOKE, "--steps", "3", "--out", str(out)).returncode == 0
    before = (out / "timeseries.parquet").read_bytes()
    # A bad input on the same folder leaves the earlier results intact.
    assert ptce("run", SMOKE, "--set", "steps=-1", "--out", str(out)).returncode == 2
    assert (out / "timeseries.parquet").read_bytes() == before
    # An output folder that is a file cannot be written.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = ptce("run", SMOKE, "--out", str(blocker / "sub"))
    assert res.returncode == 2 and str(blocker / "sub") in res.stderr and "Traceback" not in res.stderr


def test_check_and_console_script_entry_point():
    res = ptce("check", SMOKE)
    assert res.returncode == 0 and "valid" in res.stdout
    bad = ptce("check", SMOKE, "--set", "territory.organisations=1")
    assert bad.returncode == 2 and "territory.organisations" in bad.stderr
    assert ptce().returncode == 2
