"""Benchmark: organisation-steps per second of one run of a scenario (default baseline.toml).

    python benchmarks/bench_run.py [SCENARIO.toml] [--repeat N]

An organisation-step is one ESS organisation simulated for one quarter (the sum over
quarters of the organisations alive).  Speed is measured here, never in a timed test.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from simulation import TerritoryModel, load_scenario

ROOT = Path(__file__).resolve().parents[1]


def bench(path: Path, regime: str, repeat: int) -> tuple[float, int, float]:
    scenario = load_scenario(path, {"regime.kind": regime})
    best = float("inf")
    org_steps = 0
    for r in range(repeat):
        start = time.perf_counter()
        model = TerritoryModel(scenario, rng=r).run()
        elapsed = time.perf_counter() - start
        org_steps = int(model.timeseries()["organisations"].sum())
        best = min(best, elapsed)
    return best, org_steps, org_steps / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios" / "baseline.toml"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'regime':<16}{'best s':>9}{'org-steps':>11}{'org-steps/s':>13}")
    for regime in ("administrative", "competitive", "cooperative"):
        seconds, org_steps, rate = bench(Path(args.scenario), regime, args.repeat)
        print(f"{regime:<16}{seconds:>9.2f}{org_steps:>11,}{rate:>13,.0f}")


if __name__ == "__main__":
    main()
