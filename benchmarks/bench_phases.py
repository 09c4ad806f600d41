"""Benchmark: where a quarter's time goes, phase by phase (the methods TerritoryModel.step calls).

    python benchmarks/bench_phases.py [ORGANISATIONS] [STEPS] [--cpu]     (default 1000 40)

Runs ``baseline.toml`` at ORGANISATIONS organisations for STEPS quarters with each step
method of the model (and the strategy, concentration and cooperation calls) wrapped by a
wall-clock timer, and prints milliseconds per quarter by phase, largest first, with the
whole step's time and organisation-steps per second.  The yearly phases are averaged over
all quarters; restore_legality's time is also inside the phases that call it (overlap).
``--cpu``: the process's CPU time instead of the wall clock (steadier when other jobs share
the machine's cores).  Speed is measured here, never in a timed test; results go to
benchmarks/README.md.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("open_quarter", "fund_public_services", "set_prices", "allocate_demand", "pay_for_service", "collect_gifts",
          "pay_insertion_aid", "book_ptce_costs", "settle_accounts", "pool_treasuries", "update_personalisation",
          "adjust_workforce", "update_practices", "update_cooperation", "close_insolvent", "enter_new_organisations")
# Called through simulation.cooperation: choose_strategies and concentrate yearly, cooperate and
# restore_legality every quarter.  restore_legality also runs inside update_cooperation,
# close_insolvent and concentrate: its time is counted there too, so the phases overlap.
COOPERATION_CALLS = ("choose_strategies", "concentrate", "cooperate", "restore_legality")


def main() -> None:
    from simulation import TerritoryModel, load_scenario
    from simulation import cooperation as coop

    args = [a for a in sys.argv[1:] if a != "--cpu"]
    clock = time.process_time if "--cpu" in sys.argv[1:] else time.perf_counter
    organisations = int(args[0]) if len(args) > 0 else 1000
    steps = int(args[1]) if len(args) > 1 else 40
    scenario = load_scenario(ROOT / "scenarios" / "baseline.toml", {"territory.organisations": organisations, "steps": steps})
    model = TerritoryModel(scenario, rng=0)
    spent: dict[str, float] = defaultdict(float)

    def timed(owner, name: str, label: str) -> None:
        f = getattr(owner, name)

        def wrapper(*args, **kwargs):
            start = clock()
            try:
                return f(*args, **kwargs)
            finally:
                spent[label] += clock() - start
        setattr(owner, name, wrapper)

    for name in PHASES:
        timed(model, name, name)
    originals = {name: getattr(coop, name) for name in COOPERATION_CALLS}
    for name in COOPERATION_CALLS:  # the model calls them through the module
        timed(coop, name, name)
    timed(model.datacollector, "collect", "collect (metrics)")
    try:
        start = clock()
        model.run()
        total = clock() - start
    finally:
        for name, f in originals.items():
            setattr(coop, name, f)
    alive = model.timeseries()["organisations"]
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} baseline.toml, {organisations} organisations, {steps} quarters"
          f"{', CPU time' if clock is time.process_time else ''}")
    print(f"whole step {total / steps * 1000:.2f} ms per quarter, {alive.mean():.0f} organisations on average, "
          f"{alive.sum() / total:,.0f} organisation-steps per second")
    for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"{name:28s} {seconds / steps * 1000:7.2f} ms")


if __name__ == "__main__":
    main()
