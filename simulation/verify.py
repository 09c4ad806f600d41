"""``ptce verify RESULTS_DIR``: is a batch results folder whole and untouched?

A batch folder (simulation.runner) is written so that a crash, a kill or a full disk
never leaves a half-written file that looks whole: every part is written under a
temporary name, synced and renamed, and only then listed in ``manifest.json`` with its
sha256.  ``verify`` checks a folder against that record, without changing anything:

- ``spec.json``, ``manifest.json`` and ``design.parquet`` are there and readable, and agree
  on the number of runs; the design's run ids are 0..N-1, each once;
- every part file the manifest lists is there and has the checksum it had when written;
- no run is recorded twice (in the manifest or in the part files), none is unknown to the
  design, each part holds exactly the runs the manifest says, with the statuses it says,
  and each finished run has one time-series row per quarter;
- every run of the design is done (the run count equals the design);
- no temporary file is left over, and no part file lies outside the manifest.

It prints one line per problem and exits 1 if there is any, 0 if the folder is clean,
2 on a user error (no such folder, not a batch folder).  From Python:
``verify("results/crisis_regimes").problems``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .params import _one_line
from .results import BatchError

PART_FOLDERS = ("outcomes", "timeseries", "networks")
SHOWN = 5  # run ids listed in a message before "..."


@dataclass
class Verification:
    """What ``verify`` found: ``problems`` (one line each; empty when the folder is clean)
    and the counts of the design's runs, the runs done and those recorded as failed."""

    path: Path
    name: str = "?"
    runs: int = 0
    done: int = 0
    failed: int = 0
    parts: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if self.ok:
            failed = f", {self.failed} recorded as failed (see the status and error columns)" if self.failed else ""
            return (f"ok: {self.path}: batch {self.name!r}, {self.done} of {self.runs} runs in {self.parts} parts{failed}; "
                    f"every part present with its checksum, no run twice, no stray file")
        lines = [f"{self.path}: {p}" for p in self.problems]
        lines.append(f"{len(self.problems)} problem{'s' if len(self.problems) > 1 else ''} in {self.path}")
        return "\n".join(map(_one_line, lines))


def _ids(ids: list[int] | set[int]) -> str:
    ids = sorted(ids)
    shown = ", ".join(map(str, ids[:SHOWN]))
    return shown + (f", ... ({len(ids)} in all)" if len(ids) > SHOWN else "")


def _read_json(path: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problems.append(f"{path.name}: missing")
        return None
    except (OSError, ValueError) as exc:
        problems.append(f"{path.name}: cannot be read ({type(exc).__name__}: {exc})".replace("\n", " "))
        return None
    if not isinstance(data, dict):
        problems.append(f"{path.name}: not a JSON object")
        return None
    return data


def _locked_by_a_batch(folder: Path) -> bool:
    """True when a ``ptce batch`` holds the folder's lock now (it is being written)."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        with open(folder / ".lock", "rb") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def _parts(manifest: dict[str, Any], problems: list[str]) -> list[dict[str, Any]]:
    parts = manifest.get("parts")
    if not isinstance(parts, list):
        problems.append("manifest.json: has no list of parts")
        return []
    good = []
    for i, part in enumerate(parts):
        ok = (isinstance(part, dict) and isinstance(part.get("run_ids"), list) and isinstance(part.get("files"), dict)
              and isinstance(part.get("failed", {}), dict)
              and all(isinstance(r, int) and not isinstance(r, bool) for r in part["run_ids"]))
        if not ok:
            problems.append(f"manifest.json: part {i} is malformed (needs run_ids, files and failed)")
        else:
            good.append(part)
    return good


def verify(path: str | Path) -> Verification:
    """Check a batch folder against its manifest; see the module's docstring.  Raises
    BatchError (a user error) when ``path`` is not a folder or holds no batch."""
    folder = Path(path)
    if not folder.is_dir():
        raise BatchError(f"{folder}: no such results folder" if not folder.exists() else f"{folder}: is not a folder")
    if not any((folder / f).exists() for f in ("spec.json", "manifest.json", "design.parquet")):
        raise BatchError(f"{folder}: not a batch results folder (no spec.json, manifest.json or design.parquet)")
    report = Verification(path=folder)
    problems = report.problems
    if _locked_by_a_batch(folder):
        problems.append("a ptce batch is writing there now; verify it when the batch has ended")

    spec = _read_json(folder / "spec.json", problems)
    manifest = _read_json(folder / "manifest.json", problems)
    if spec is not None:
        report.name = str(spec.get("name", "?"))
    try:
        design = pd.read_parquet(folder / "design.parquet")
    except FileNotFoundError:
        problems.append("design.parquet: missing")
        design = None
    except (OSError, ValueError) as exc:
        problems.append(f"design.parquet: cannot be read ({type(exc).__name__})")
        design = None

    # ---- the number of runs: design, spec and manifest agree; run ids 0..N-1, once each
    design_ids: set[int] = set()
    if design is not None:
        if "run_id" not in design.columns:
            problems.append("design.parquet: has no run_id column")
        else:
            ids = [int(i) for i in design["run_id"]]
            design_ids = set(ids)
            dup = {i for i, n in Counter(ids).items() if n > 1}
            if dup:
                problems.append(f"design.parquet: run ids listed more than once: {_ids(dup)}")
            if design_ids != set(range(len(ids))):
                problems.append(f"design.parquet: run ids are not 0..{len(ids) - 1}")
        report.runs = len(design)
    for name, record in (("spec.json", spec), ("manifest.json", manifest)):
        if record is not None and design is not None and record.get("runs") != len(design):
            problems.append(f"{name}: says {record.get('runs')} runs, design.parquet has {len(design)}")
    if spec is None and design is None and manifest is not None:
        report.runs = int(manifest.get("runs", 0) or 0)

    # ---- parts: present, checksums, no run twice, no run unknown to the design
    parts = _parts(manifest, problems) if manifest is not None else []
    report.parts = len(parts)
    recorded: dict[int, int] = {}  # run id -> index of the first part recording it
    twice: set[int] = set()
    listed: set[str] = set()
    intact: list[tuple[int, dict[str, Any]]] = []
    for k, part in enumerate(parts):
        label = f"part {part.get('id', k)}"
        whole = True
        for rel, digest in part["files"].items():
            listed.add(rel)
            file = folder / rel
            try:
                data = file.read_bytes()
            except FileNotFoundError:
                problems.append(f"{rel}: missing (listed in manifest.json, {label}); ptce batch --resume runs its runs again")
                whole = False
                continue
            except OSError as exc:
                problems.append(f"{rel}: cannot be read ({exc.strerror or exc})")
                whole = False
                continue
            if hashlib.sha256(data).hexdigest() != digest:
                problems.append(f"{rel}: checksum differs from manifest.json (changed or damaged since written); "
                                "ptce batch --resume runs its runs again")
                whole = False
        for run_id in part["run_ids"]:
            if run_id in recorded:
                twice.add(run_id)
            else:
                recorded[run_id] = k
        if whole:
            intact.append((k, part))
    if twice:
        problems.append(f"manifest.json: runs recorded more than once: {_ids(twice)}")
    if design is not None:
        unknown = set(recorded) - design_ids
        if unknown:
            problems.append(f"manifest.json: runs not in design.parquet: {_ids(unknown)}")
    report.done = len(set(recorded) & design_ids) if design is not None else len(recorded)
    report.failed = len({int(r) for p in parts for r in p.get("failed", {})})

    # ---- contents of the intact parts: the runs and statuses the manifest says
    steps = None
    if spec is not None:
        steps = ((spec.get("scenario") or {}).get("batch") or {}).get("steps")
    seen_outcomes: set[int] = set()
    seen_series: set[int] = set()
    for k, part in intact:
        label = f"part {part.get('id', k)}"
        ids = set(part["run_ids"])
        failed = {int(r) for r in part.get("failed", {})}
        frames = {}
        for rel in part["files"]:
            kind = rel.split("/", 1)[0]
            if kind in ("outcomes", "timeseries"):
                try:
                    frames[kind] = pd.read_parquet(io.BytesIO((folder / rel).read_bytes()))
                except (OSError, ValueError) as exc:
                    problems.append(f"{rel}: not a readable Parquet file ({type(exc).__name__})")
        out = frames.get("outcomes")
        if out is None:
            if "outcomes" not in {r.split("/", 1)[0] for r in part["files"]}:
                problems.append(f"manifest.json: {label} lists no outcomes file")
        elif "run_id" not in out.columns or "status" not in out.columns:
            problems.append(f"outcomes of {label}: no run_id or status column")
        else:
            got = [int(i) for i in out["run_id"]]
            if sorted(got) != sorted(ids):
                problems.append(f"outcomes of {label}: runs {_ids(set(got))} but manifest.json says {_ids(ids)}")
            again = {i for i, n in Counter(got).items() if n > 1 or i in seen_outcomes}
            if again:
                problems.append(f"outcomes of {label}: runs already in another part: {_ids(again)}")
            seen_outcomes.update(got)
            bad_status = {int(r) for r, st in zip(out["run_id"], out["status"], strict=True) if (st != "ok") != (int(r) in failed)}
            if bad_status:
                problems.append(f"outcomes of {label}: status of runs {_ids(bad_status)} differs from manifest.json")
        ts = frames.get("timeseries")
        if ts is not None and len(ts):
            if "run_id" not in ts.columns or "step" not in ts.columns:
                problems.append(f"timeseries of {label}: no run_id or step column")
                continue
            got_ts = {int(i) for i in ts["run_id"].unique()}
            if got_ts - (ids - failed):
                problems.append(f"timeseries of {label}: rows of runs {_ids(got_ts - (ids - failed))} that are not finished runs of the part")
            again = got_ts & seen_series
            if again:
                problems.append(f"timeseries of {label}: runs already in another part: {_ids(again)}")
            seen_series.update(got_ts)
            counts = ts.groupby("run_id")["step"].agg(["size", "nunique", "min", "max"])
            if steps is not None:
                wrong = {int(r) for r, c in counts.iterrows() if not (c["size"] == c["nunique"] == steps and c["min"] == 1 and c["max"] == steps)}
                if wrong:
                    problems.append(f"timeseries of {label}: runs {_ids(wrong)} do not have one row per quarter 1..{steps}")
        missing_ts = (ids - failed) - (set(ts["run_id"].astype(int)) if ts is not None and "run_id" in ts.columns else set())
        if ts is not None and missing_ts:
            problems.append(f"timeseries of {label}: no rows for finished runs {_ids(missing_ts)}")

    # ---- every run of the design done
    if design is not None:
        missing = design_ids - set(recorded)
        if missing:
            problems.append(f"{len(missing)} of {len(design_ids)} runs not done ({_ids(missing)}): "
                            "finish them with the same ptce batch command and --resume")
        if manifest is not None and bool(manifest.get("complete")) != (not missing):
            problems.append(f"manifest.json: says complete = {str(bool(manifest.get('complete'))).lower()}, which is wrong")

    # ---- stray files: temporary files anywhere, part files outside the manifest
    for f in sorted(folder.rglob("*")):
        rel = f.relative_to(folder).as_posix()
        if ".tmp-" in f.name:
            problems.append(f"{rel}: stray temporary file (a write was interrupted); ptce batch --resume removes it")
        elif f.is_file() and rel.split("/", 1)[0] in PART_FOLDERS and rel not in listed:
            problems.append(f"{rel}: not listed in manifest.json (written by a task that was never recorded); "
                            "ptce batch --resume removes it")
    return report


def cli_verify(args: argparse.Namespace) -> int:
    """``ptce verify RESULTS_DIR``: 0 if clean, 1 if there are problems (one line each)."""
    report = verify(args.results_dir)
    print(report)
    return 0 if report.ok else 1


def add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", metavar="RESULTS_DIR", help="a batch results folder, e.g. results/crisis_regimes")
