"""Benchmark: our organisation-steps per second against Mesa's BoltzmannWealth, by size.

    python benchmarks/bench_scaling.py [--sizes 150 1000 10000] [--boltzmann 1000 10000]
                                       [--steps 100] [--repeat 3] [--memory] [--memory-steps N]

In ONE process, side by side: ``baseline.toml`` at each organisation count (all other
parameters at their defaults, ``--steps`` quarters) and Mesa 3.5's own
``BoltzmannWealth`` (``mesa.examples``, the model Mesa's benchmarks use) at each agent
count for the same number of steps.  For each: median, min and max over ``--repeat``
repetitions of (organisation- or agent-) steps per second, where an organisation-step is
one ESS organisation alive for one quarter (entries and exits counted as they happen).
Then the ratios asked by the performance issue: ours at 1,000 over Boltzmann at 1,000,
and our time per step at 10,000 over that at 1,000 (linear cost means about 10).
``--memory`` also runs the largest size once in a fresh process and reports its peak
resident memory (``ru_maxrss``).

Each figure is given twice: from wall time (``time.perf_counter``) and from the process's
CPU time (``time.process_time``, columns ``cpu/s`` and ``cpu s/step``).  On a machine
shared with other jobs the wall-time figures move with the load from one size to the
next; the CPU-time figures much less (both still rise a little under load, as the cores'
caches are shared).

Speed is measured here, never in a timed test.  Record results in benchmarks/README.md
with the date and the machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ours(organisations: int, steps: int, seed: int) -> tuple[float, float, int]:
    from simulation import TerritoryModel, load_scenario

    scenario = load_scenario(ROOT / "scenarios" / "baseline.toml", {"territory.organisations": organisations, "steps": steps})
    model = TerritoryModel(scenario, rng=seed)
    start, cpu = time.perf_counter(), time.process_time()
    model.run()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return elapsed, cpu, int(model.timeseries()["organisations"].sum())


def boltzmann(agents: int, steps: int, seed: int) -> tuple[float, float, int]:
    from mesa.examples.basic.boltzmann_wealth_model.model import BoltzmannScenario, BoltzmannWealth

    side = max(10, int(round((agents / 1.0) ** 0.5)))  # about one agent per cell, as Mesa's default 100 on 10 x 10
    model = BoltzmannWealth(BoltzmannScenario(n=agents, width=side, height=side, rng=seed))
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        model.step()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return elapsed, cpu, agents * steps


def measure(fn, size: int, steps: int, repeat: int) -> dict[str, float]:
    rates, seconds, cpu_rates, cpu_seconds = [], [], [], []
    for r in range(repeat):
        elapsed, cpu, units = fn(size, steps, r)
        rates.append(units / elapsed)
        seconds.append(elapsed / steps)
        cpu_rates.append(units / cpu)
        cpu_seconds.append(cpu / steps)
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates), "seconds_per_step": statistics.median(seconds),
            "cpu_median": statistics.median(cpu_rates), "cpu_seconds_per_step": statistics.median(cpu_seconds)}


def row(model: str, size: int, r: dict[str, float]) -> str:
    return (f"{model:<12}{size:>8}{r['median']:>12,.0f}{r['min']:>12,.0f}{r['max']:>12,.0f}{r['seconds_per_step']:>10.4f}"
            f"{r['cpu_median']:>12,.0f}{r['cpu_seconds_per_step']:>12.4f}")


def peak_memory_mb(organisations: int, steps: int) -> float:
    code = (
        f"import resource, sys; sys.path.insert(0, {str(ROOT)!r}); from benchmarks.bench_scaling import ours; "
        f"ours({organisations}, {steps}, 0); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return int(out.stdout.strip().splitlines()[-1]) / 1024  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[150, 1000, 10000])
    parser.add_argument("--boltzmann", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--memory-steps", type=int, default=None, help="steps of the memory run (default: --steps)")
    args = parser.parse_args()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.node()} {platform.processor() or platform.machine()} "
          f"Python {platform.python_version()}, {args.steps} steps, {args.repeat} repetitions")
    results: dict[str, dict[int, dict[str, float]]] = {"ptce": {}, "boltzmann": {}}
    print(f"{'model':<12}{'size':>8}{'median/s':>12}{'min/s':>12}{'max/s':>12}{'s/step':>10}{'cpu/s':>12}{'cpu s/step':>12}")
    for size in args.boltzmann:
        results["boltzmann"][size] = r = measure(boltzmann, size, args.steps, args.repeat)
        print(row("boltzmann", size, r))
    for size in args.sizes:
        results["ptce"][size] = r = measure(ours, size, args.steps, args.repeat)
        print(row("ptce-sim", size, r))
    p, b = results["ptce"], results["boltzmann"]
    if 1000 in p and 1000 in b:
        print(f"ratio ptce/boltzmann at 1,000: {p[1000]['median'] / b[1000]['median']:.3f} "
              f"(CPU time: {p[1000]['cpu_median'] / b[1000]['cpu_median']:.3f}) (issue: >= 0.5, aim 1.0)")
    if 1000 in p and 10000 in p:
        print(f"time per step 10,000 / 1,000: {p[10000]['seconds_per_step'] / p[1000]['seconds_per_step']:.1f} "
              f"(CPU time: {p[10000]['cpu_seconds_per_step'] / p[1000]['cpu_seconds_per_step']:.1f}) (issue: <= 12)")
    if args.memory:
        big, steps = max(args.sizes), args.memory_steps or args.steps
        print(f"peak memory of one {big:,}-organisation run of {steps} steps: {peak_memory_mb(big, steps):,.0f} MB (issue: < 1,024)")
    print(json.dumps(results))
    _ = resource  # ru_maxrss is read in the child process


if __name__ == "__main__":
    main()
