"""Benchmark of the batch runner: speed-up of processes over serial, and driver memory.

    python benchmarks/bench_batch.py speedup [--runs 60] [--workers 2] [--organisations 150] [--steps 80]
    python benchmarks/bench_batch.py main-job [--workers 2] [--scenario scenarios/crisis_regimes.toml]
    python benchmarks/bench_batch.py memory [--runs 200 2000] [--executor processes]
    python benchmarks/bench_batch.py contention [--runs 4] [--organisations 100] [--steps 60]

``speedup`` runs the same batch of ~1 s runs (a baseline territory cut to
``--organisations`` organisations and ``--steps`` quarters, ``--runs`` replicates) with the
serial executor and with ``processes`` (``--workers`` workers), wall time from
``run_batch`` to its return (worker start-up included), checks that both give the same
outcomes, and prints the speed-up and the CPU time each used.  Each worker pays a one-time
cost (spawn, import of the package, first run's lazy imports: ~2-3 s of CPU), hence 60
runs by default: about a minute of work, so that cost weighs a few per cent.  The machine's
parallel capacity (2 pure-Python processes against 1) is measured before and after: on a
machine shared with other work it caps any speed-up.

``main-job`` runs the README's main job (``scenarios/crisis_regimes.toml`` at its
defaults, 480 runs) with the serial executor and with ``processes``, checks the outcomes
identical run by run, and prints both wall times, the speed-up and whether the processes run
stayed under the performance issue's 5 minutes.  About 6 minutes on two idle cores.

``memory`` runs a batch of ``scenarios/smoke.toml`` with each number of runs, each in a
fresh Python process, and prints the driver's peak resident memory (``ru_maxrss`` of the
driver process; the workers of ``processes`` are other processes and are reported
apart).  Time series go to disk task by task, so the peak should not grow with the
number of runs.

``contention`` runs the model alone in a process, then in two processes at once, and
prints the CPU time per run of each (no runner involved), beside a pure-Python loop: what
running two model processes in parallel costs on this hardware.

Speed is measured here, never in a timed test.  Results are recorded in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, load average {load} (1/5/15 min)"


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers once joined)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _burn(n: int) -> float:
    start = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i
    return time.perf_counter() - start


def _burn_cpu(n: int) -> float:
    start = time.process_time()
    x = 0
    for i in range(n):
        x += i * i
    return time.process_time() - start


def parallel_capacity(workers: int, n: int = 10**7) -> float:
    """Throughput of `workers` concurrent pure-Python processes over one (2.0 on two idle
    cores): what the machine offers right now, other users' load included, as the ceiling
    of any speed-up of the runner."""
    import concurrent.futures as cf
    import multiprocessing

    with cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as ex:
        list(ex.map(_burn, [1000] * workers))  # start the workers first
        one = ex.submit(_burn, n).result()
        many = list(ex.map(_burn, [n] * workers))
    return workers * one / max(many)


def _model_cpu(organisations: int, steps: int, runs: int) -> list[float]:
    """CPU seconds (time.process_time) of `runs` runs of the model, after one warm-up run."""
    from simulation import TerritoryModel, load_scenario

    overrides = {"territory.organisations": organisations, "steps": steps, "strategy.policy": "independent"}
    scenario = load_scenario(ROOT / "scenarios" / "baseline.toml", overrides)
    TerritoryModel(scenario, rng=999).run()
    out = []
    for seed in range(runs):
        start = time.process_time()
        TerritoryModel(scenario, rng=seed).run()
        out.append(time.process_time() - start)
    return out


def contention(args: argparse.Namespace) -> None:
    """CPU per run of the model alone in a process, and with two such processes at once
    (no runner involved): what running in parallel costs on this hardware."""
    import concurrent.futures as cf
    import multiprocessing

    print(machine())
    job = (args.organisations, args.steps, args.runs)
    with cf.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        list(ex.map(_burn, [1000, 1000]))
        alone = ex.submit(_model_cpu, *job).result()
        together = [f.result() for f in [ex.submit(_model_cpu, *job), ex.submit(_model_cpu, *job)]]
        loop_alone = ex.submit(_burn_cpu, 10**7).result()
        loop_together = list(ex.map(_burn_cpu, [10**7, 10**7]))
    mean = sum(alone) / len(alone)
    both = [x for runs in together for x in runs]
    print(f"model ({args.organisations} org., {args.steps} q.), per run: alone {mean:.3f} s, two at once {sum(both) / len(both):.3f} s"
          f" of CPU (+{100 * (sum(both) / len(both) / mean - 1):.0f} %)")
    print(f"pure-Python loop, per loop: alone {loop_alone:.3f} s, two at once {sum(loop_together) / 2:.3f} s of CPU"
          f" (+{100 * (sum(loop_together) / 2 / loop_alone - 1):.0f} %)")


def serial_against_processes(scenario: Any, workers: int, **batch: Any) -> dict[str, float]:
    """Run the batch with the serial executor, then with ``processes`` (``workers``); print
    each one's wall and CPU time, check the outcomes identical run by run; wall seconds by
    executor."""
    import pandas as pd

    from simulation.runner import load_results, run_batch

    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for executor, n in (("serial", None), ("processes", workers)):
            cpu0 = _cpu_seconds()
            start = time.perf_counter()
            summary = run_batch(scenario, executor=executor, workers=n, out=Path(tmp) / executor, progress=False, **batch)
            times[executor] = time.perf_counter() - start
            cpu = _cpu_seconds() - cpu0
            assert summary.success, str(summary)
            print(f"{summary.executor:<24}{times[executor]:8.1f} s wall, {cpu:6.1f} s CPU ({summary.runs} runs, driver and workers)")
        a, b = load_results(Path(tmp) / "serial"), load_results(Path(tmp) / "processes")
        pd.testing.assert_frame_equal(a.outcomes, b.outcomes, check_exact=True)
    return times


def speedup(args: argparse.Namespace) -> None:

    from simulation import TerritoryModel, load_scenario

    overrides = {"territory.organisations": args.organisations, "steps": args.steps, "strategy.policy": "independent"}
    scenario = load_scenario(ROOT / "scenarios" / "baseline.toml", overrides)
    start = time.perf_counter()
    TerritoryModel(scenario, rng=0).run()
    one = time.perf_counter() - start
    print(machine())
    capacity_before = parallel_capacity(args.workers)
    print(f"one run: {one:.2f} s ({args.organisations} organisations, {args.steps} quarters); batch of {args.runs} runs")
    times = serial_against_processes(scenario, args.workers, replicates=args.runs)
    print(f"speed-up processes({args.workers}) / serial: {times['serial'] / times['processes']:.2f}x (same outcomes, run by run)")
    print(f"machine parallel capacity before / after: {capacity_before:.2f}x / {parallel_capacity(args.workers):.2f}x "
          f"({args.workers} pure-Python processes against 1; {args.workers}.00x on idle cores)")


def main_job(args: argparse.Namespace) -> None:
    print(machine())
    capacity_before = parallel_capacity(args.workers)
    times = serial_against_processes(args.scenario, args.workers)
    minutes = times["processes"] / 60
    print(f"speed-up processes({args.workers}) / serial: {times['serial'] / times['processes']:.2f}x (same outcomes, run by run)")
    print(f"main job with processes({args.workers}): {minutes:.1f} min ({'under' if minutes < 5 else 'OVER'} the 5 min aim)")
    print(f"machine parallel capacity before / after: {capacity_before:.2f}x / {parallel_capacity(args.workers):.2f}x "
          f"({args.workers} pure-Python processes against 1; {args.workers}.00x on idle cores)")


def memory(args: argparse.Namespace) -> None:
    print(machine())
    for runs in args.runs:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, __file__, "_memory_child", str(runs), args.executor, str(Path(tmp) / "out")]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            r = json.loads(res.stdout.strip().splitlines()[-1])
            print(f"{runs:>6} runs of smoke.toml, {args.executor}: driver peak RSS {r['driver_mib']:.0f} MiB, "
                  f"largest worker {r['workers_mib']:.0f} MiB, {r['seconds']:.0f} s, "
                  f"{r['parts']} parts, timeseries on disk {r['timeseries_mib']:.1f} MiB")


def _memory_child(runs: int, executor: str, out: str) -> None:
    from simulation.runner import run_batch

    start = time.perf_counter()
    summary = run_batch(ROOT / "scenarios" / "smoke.toml", replicates=runs, executor=executor, workers=2, out=out, progress=False)
    seconds = time.perf_counter() - start
    assert summary.success and summary.done == runs, str(summary)
    # ru_maxrss is in KiB on Linux.
    driver = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    ts = sum(f.stat().st_size for f in (Path(out) / "timeseries").iterdir()) / 2**20
    parts = len(json.loads((Path(out) / "manifest.json").read_text())["parts"])
    print(json.dumps({"driver_mib": driver, "workers_mib": workers, "seconds": seconds, "parts": parts, "timeseries_mib": ts}))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_memory_child":
        _memory_child(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    sp = sub.add_parser("speedup", help="serial against processes on a batch of ~1 s runs")
    sp.add_argument("--runs", type=int, default=60)
    sp.add_argument("--workers", type=int, default=2)
    sp.add_argument("--organisations", type=int, default=150)
    sp.add_argument("--steps", type=int, default=80)
    mj = sub.add_parser("main-job", help="serial against processes on the README's main job (crisis_regimes.toml)")
    mj.add_argument("--workers", type=int, default=2)
    mj.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "crisis_regimes.toml")
    con = sub.add_parser("contention", help="CPU per model run alone and with two processes at once (no runner)")
    con.add_argument("--runs", type=int, default=4)
    con.add_argument("--organisations", type=int, default=100)
    con.add_argument("--steps", type=int, default=60)
    mem = sub.add_parser("memory", help="driver peak memory for growing batches of smoke.toml")
    mem.add_argument("--runs", type=int, nargs="+", default=[200, 2000])
    mem.add_argument("--executor", choices=("serial", "processes"), default="processes")
    args = parser.parse_args()
    {"speedup": speedup, "main-job": main_job, "memory": memory, "contention": contention}[args.what](args)


if __name__ == "__main__":
    main()
