"""The ``ptce`` command line (also ``python -m simulation``).

User errors (a bad scenario file, a bad option, an unwritable folder) print one line
naming the file and the field and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from .params import ScenarioError, _one_line, load_scenario

EXIT_USER_ERROR = 2


class UserError(Exception):
    """An error the user can fix; printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        raise UserError(f"{self.prog}: {message}")


def _overrides(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set {pair!r}: expected KEY=VALUE, e.g. --set regime.kind=competitive")
        out[key.strip()] = value.strip()
    return out


def _prepare_out(out: Path) -> None:
    """Create the output folder and check it is writable before any work is done."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UserError(f"{out}: cannot write results there: {exc.strerror or exc}") from None


def write_parquet_atomic(df, path: Path) -> None:
    """Write a DataFrame to Parquet under a temporary name, then rename: a reader never
    sees a half-written file and an interrupted write leaves the old file intact."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_network_atomic(model, path: Path) -> None:
    """The final cooperation network as GraphML (networkx), written under a temporary name."""
    import networkx as nx

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        nx.write_graphml(model.network_graph(), tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


MERGER_COLUMNS = ["step", "absorber", "absorbed", "sector", "absorber_staff_fte", "absorbed_staff_fte"]


def write_mergers_atomic(model, path: Path) -> None:
    """The merger log (who absorbed whom, when; staffs before the merger) as CSV."""
    import pandas as pd

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        pd.DataFrame(model.merger_log, columns=MERGER_COLUMNS).to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


SUMMARY_COLUMNS = (
    ("ess_employment_fte", "ESS employment (FTE)", "{:,.0f}"),
    ("insertion_employment_fte", "insertion employment (FTE)", "{:,.0f}"),
    ("volunteers_fte", "volunteers (FTE)", "{:,.0f}"),
    ("organisations", "ESS organisations", "{:,.0f}"),
    ("personalisation", "personalisation (0-1)", "{:.3f}"),
    ("unmet_need_share", "unmet need (share)", "{:.3f}"),
    ("technicisation", "technicisation (0-1)", "{:.3f}"),
    ("governance", "governance (0-1)", "{:.3f}"),
    ("public_spend_eur", "public spend (EUR/quarter)", "{:,.0f}"),
    ("subsidy_share", "subsidies (share of revenue)", "{:.3f}"),
    ("public_order_share", "public orders (share of revenue)", "{:.3f}"),
    ("sales_share", "sales (share of revenue)", "{:.3f}"),
    ("hhi", "size concentration (HHI)", "{:.4f}"),
    ("top1pct_resource_share", "revenue of the largest 1 % (share)", "{:.3f}"),
    ("unit_cost_eur", "unit cost (EUR/hour)", "{:.2f}"),
    ("mergers", "mergers this quarter", "{:,.0f}"),
    ("ptce_count", "PTCEs", "{:,.0f}"),
    ("ptce_members_mean", "members per PTCE", "{:.1f}"),
    ("ptce_jobs_mean", "jobs per PTCE (FTE)", "{:,.0f}"),
    ("ptce_membership_share", "ESS organisations in a PTCE (share)", "{:.3f}"),
    ("network_density", "cooperation network density", "{:.4f}"),
)


def summary_table(ts) -> str:
    """First and last quarter of the headline series, as aligned text."""
    first, last = ts.iloc[0], ts.iloc[-1]
    rows = [("", f"quarter {int(first['step'])}", f"quarter {int(last['step'])}")]
    for col, label, fmt in SUMMARY_COLUMNS:
        rows.append((label, fmt.format(first[col]), fmt.format(last[col])))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    return "\n".join(f"{a:<{w0}}  {b:>{w1}}  {c:>{w2}}" for a, b, c in rows)


def cmd_run(args: argparse.Namespace) -> int:
    from .model import TerritoryModel

    overrides = _overrides(args.set)
    if args.steps is not None:
        overrides["steps"] = str(args.steps)
    if args.seed is not None:
        overrides["seed"] = str(args.seed)
    scenario = load_scenario(args.scenario, overrides)
    out = Path(args.out) if args.out else Path("results") / f"run-{scenario.name}-{scenario.regime.kind}-seed{scenario.seed}"
    _prepare_out(out)
    try:
        model = TerritoryModel(scenario, rng=scenario.seed)
    except ScenarioError as exc:  # a shock this territory cannot take, e.g. no employer left to close
        raise ScenarioError(f"{args.scenario}: {exc}") from None
    model.run(scenario.steps)
    ts = model.timeseries()
    write_parquet_atomic(ts, out / "timeseries.parquet")
    write_parquet_atomic(model.organisations_frame(), out / "organisations.parquet")
    write_network_atomic(model, out / "network.graphml")
    write_mergers_atomic(model, out / "mergers.csv")
    print(f"scenario {scenario.name!r}, regime {scenario.regime.kind}, policy {scenario.strategy.policy}, seed {scenario.seed}, {scenario.steps} quarters")
    print(summary_table(ts))
    print(f"wrote {out / 'timeseries.parquet'}, {out / 'organisations.parquet'}, {out / 'network.graphml'} and {out / 'mergers.csv'}")
    if scenario.shocks:
        # Resilience against the counterfactual twin: the same scenario without shocks, same seed.
        from .resilience import format_report, resilience_report, twin_scenario, write_report

        twin = TerritoryModel(twin_scenario(scenario), rng=scenario.seed).run(scenario.steps)
        report = resilience_report(model, twin)
        write_parquet_atomic(twin.timeseries(), out / "twin_timeseries.parquet")
        write_report(report, out / "resilience.json")
        print(format_report(report))
        print(f"wrote {out / 'resilience.json'} and {out / 'twin_timeseries.parquet'}")
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from .runner import cli_batch

    return cli_batch(args, _overrides(args.set))


def cmd_compare(args: argparse.Namespace) -> int:
    from .runner import cli_compare

    return cli_compare(args)


def cmd_verify(args: argparse.Namespace) -> int:
    from .verify import cli_verify

    return cli_verify(args)


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report
    from .results import load_results

    results = load_results(args.results)  # a missing or non-batch folder is a one-line BatchError
    out = Path(args.out) if args.out else None
    if out is not None and out.is_dir():
        raise UserError(f"--out {out}: is a folder; give the PDF file to write, e.g. {out / f'brief-{args.lang}.pdf'}")
    folder = Path(args.results) / "figures"
    _prepare_out(folder)  # both places writable before any work
    _prepare_out(out.parent if out is not None else Path(args.results))
    try:
        brief = write_report(results, lang=args.lang, out=out)
    except OSError as exc:
        raise UserError(f"{exc.filename or args.results}: cannot write the charts or the brief: {exc.strerror or exc}") from None
    charts = len({p.stem for p in brief.figures})
    print(f"wrote {charts} charts to {folder} (PNG and SVG) and the brief ({len(brief.pages)} pages) to {brief.pdf}")
    return 0


VIZ_SCENARIO_ENV = "PTCE_VIZ_SCENARIO"
"""Environment variable through which ``ptce viz`` tells the page (simulation/app.py) its scenario file."""
VIZ_MODULES = ("solara", "solara_assets", "altair", "matplotlib")
"""Modules the page needs beyond the core install (the ``[viz]`` extra)."""


def cmd_viz(args: argparse.Namespace) -> int:
    import importlib.util
    import subprocess

    missing = [m for m in VIZ_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise UserError(f"ptce viz needs the visualisation extra (missing {', '.join(missing)}): pip install 'ptce-sim[viz]'")
    scenario = ""
    if args.scenario:
        load_scenario(args.scenario)  # a bad file is a one-line error before any server starts
        scenario = str(Path(args.scenario).resolve())
    app = Path(__file__).with_name("app.py")
    # --no-check-version: Solara's upgrade advice would contradict the [viz] extra's pin.
    cmd = [sys.executable, "-m", "solara", "run", str(app), "--host", args.host, "--port", str(args.port), "--production",
           "--no-check-version", "--open" if args.open else "--no-open"]
    # No usage telemetry from a tool run on local authorities' machines, unless asked for.
    env = {"SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false", **os.environ, VIZ_SCENARIO_ENV: scenario}
    print(f"ptce viz: serving {args.scenario or 'the default scenario'} at http://{args.host}:{args.port}/ (Ctrl-C to stop)", flush=True)
    return subprocess.call(cmd, env=env)


def cmd_check(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario, _overrides(args.set))
    print(f"{args.scenario}: valid (scenario {scenario.name!r}, regime {scenario.regime.kind}, {scenario.steps} quarters)")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .validation import cli_validate

    return cli_validate(args, _overrides(args.set))


def cmd_params(args: argparse.Namespace) -> int:
    from .paramdoc import parameters_csv, parameters_markdown

    sys.stdout.write(parameters_csv() if args.format == "csv" else parameters_markdown())
    return 0


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from .sensitivity import cli_sensitivity

    return cli_sensitivity(args, _overrides(args.set))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ptce", description="PTCE-sim: ESS organisations that concentrate or cooperate on a territory.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="simulate one territory and write its time series")
    run.add_argument("scenario", help="scenario TOML file, e.g. scenarios/baseline.toml")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a parameter, e.g. regime.kind=competitive (repeatable)")
    run.add_argument("--seed", type=int, help="seed of the run (default: the scenario's seed)")
    run.add_argument("--steps", type=int, help="quarters to simulate (default: the scenario's steps, 100)")
    run.add_argument("--out", help="output folder (default: results/run-NAME-REGIME-seedN)")
    run.set_defaults(func=cmd_run)
    chk = sub.add_parser("check", help="check a scenario file without running it")
    chk.add_argument("scenario")
    chk.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    chk.set_defaults(func=cmd_check)
    from .validation import add_validate_arguments

    val = sub.add_parser("validate", help="run the calibration scenario and check the patterns of FACTS.md (exit 0 only if all pass)")
    add_validate_arguments(val)
    val.set_defaults(func=cmd_validate)
    par = sub.add_parser("params", help="print every parameter: path, default, unit, bounds, source, description")
    par.add_argument("--format", choices=["markdown", "csv"], default="markdown", help="markdown tables (default) or CSV")
    par.set_defaults(func=cmd_params)
    from .sensitivity import add_sensitivity_arguments

    sens = sub.add_parser("sensitivity", help="Morris screening or Sobol indices of the outcomes to the parameters (SALib)")
    add_sensitivity_arguments(sens)
    sens.set_defaults(func=cmd_sensitivity)
    viz = sub.add_parser("viz", help="watch one territory live in the browser (Mesa SolaraViz page)")
    viz.add_argument("scenario", nargs="?", help="scenario TOML file (default: the defaults of simulation/params.py)")
    viz.add_argument("--port", type=int, default=8765, help="port of the page (default 8765; 0 = any free port)")
    viz.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    viz.add_argument("--open", action="store_true", help="open the page in the default web browser")
    viz.set_defaults(func=cmd_viz)
    from .runner import add_batch_arguments

    batch = sub.add_parser("batch", help="run a scenario batch (axes x replicates) into a resumable results folder")
    comp = sub.add_parser("compare", help="compare the regimes of a batch: means, 95 %% CIs, paired differences")
    add_batch_arguments(batch, comp)
    batch.set_defaults(func=cmd_batch)
    comp.set_defaults(func=cmd_compare)
    from .verify import add_verify_arguments

    ver = sub.add_parser("verify", help="check a batch results folder against its manifest: parts, checksums, runs (exit 0 if whole)")
    add_verify_arguments(ver)
    ver.set_defaults(func=cmd_verify)
    rep = sub.add_parser("report", help="charts (PNG, SVG) and a policy brief (PDF) of a batch, in English or French")
    rep.add_argument("results", metavar="RESULTS_DIR", help="a batch results folder, e.g. results/crisis_regimes")
    rep.add_argument("--lang", choices=["en", "fr"], default="en", help="language of the charts and the brief (default en)")
    rep.add_argument("--out", metavar="FILE.pdf", help="where to write the brief (default RESULTS_DIR/brief-LANG.pdf)")
    rep.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    # argv None: the ptce process itself (console script, python -m simulation), which
    # exits on return; a list: a call from Python (tests, notebooks), which goes on.
    process_exits = argv is None
    try:
        args = build_parser().parse_args(argv)
        args.process_exits = process_exits
        return args.func(args)
    except (UserError, ScenarioError) as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        if process_exits:  # exiting: a further Ctrl-C would only print a traceback
            import signal

            signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
