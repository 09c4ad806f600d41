"""Adversarial scenario input (issue 10): every case ends in a valid scenario or in ONE line
naming the file and the field (ScenarioError; exit status 2 from ``ptce``), never a
traceback and never a results folder.

Documents are built by hypothesis from the schema itself (the leaf fields of
simulation.params with their bounds, read through simulation.paramdoc): a small valid
scenario, then up to three mutations each: a legal value, a wrong type, a value out of
range, nan / inf, a misspelt or unknown key, a deleted key or table (a missing section),
a table replaced by a scalar.
Then raw bytes, text that is not TOML, non-UTF-8 bytes, very large and deeply nested
files, and ``--set`` overrides of every kind.  Every example goes through
``load_scenario`` and through ``ptce check``/``run``/``batch`` in-process; a bounded number
also through the real command line in subprocesses.  Examples are derandomised, so CI is
reproducible; counts go to tests/reliability_tally.py.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import io
import itertools
import math
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from simulation.batchspec import BatchSpec
from simulation.cli import UserError, _overrides, main
from simulation.paramdoc import SECTIONS, _fields, field_constraints
from simulation.params import GROUPS, SECTORS, SHOCK_KINDS, DrawSpec, Scenario, ScenarioError, _one_line, load_scenario
from simulation.runner import make_plan

from .conftest import REGIMES
from .reliability_tally import TALLY, count_traceback, reliability_tally  # noqa: F401 (session fixture)

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(autouse=True)
def _tally(reliability_tally):  # noqa: F811 (the imported session fixture)
    return reliability_tally


# =========================================================================== the schema's leaves
class Leaf(typing.NamedTuple):
    path: tuple[str | int, ...]  # e.g. ("territory", "organisations"), ("shocks", 0, "share")
    kind: str  # int, float, str, bool, literal, literal_list, optional_int, dict
    lo: float
    hi: float
    lo_open: bool
    hi_open: bool
    choices: tuple[Any, ...]
    drawable: bool  # a shock value that may also be {min, max}

    @property
    def dotted(self) -> str:
        return ".".join(map(str, self.path))


def _leaf(path: tuple[str | int, ...], info) -> Leaf | None:
    c = field_constraints(info)
    lo, hi = c.get("ge", c.get("gt", -math.inf)), c.get("le", c.get("lt", math.inf))
    common = {"lo": lo, "hi": hi, "lo_open": "gt" in c, "hi_open": "lt" in c, "choices": ()}
    drawable = any(isinstance(m, DrawSpec) for m in info.metadata)
    ann = info.annotation
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if drawable:
        integer = next(m for m in info.metadata if isinstance(m, DrawSpec)).integer
        return Leaf(path, "int" if integer else "float", drawable=True, **common)
    if ann in (int, float, str, bool):
        return Leaf(path, ann.__name__, drawable=False, **common)
    if origin is typing.Literal:
        return Leaf(path, "literal", drawable=False, **common | {"choices": args})
    if origin is list and typing.get_origin(args[0]) is typing.Literal:
        return Leaf(path, "literal_list", drawable=False, **common | {"choices": typing.get_args(args[0])})
    if set(args) == {int, type(None)}:
        return Leaf(path, "optional_int", drawable=False, **common)
    if origin is dict:
        return Leaf(path, "dict", drawable=False, **common)
    return None  # regime, shocks, batch: walked by their own classes below


def _leaves_of(cls: type[BaseModel], prefix: tuple[str | int, ...]) -> list[Leaf]:
    out = []
    for dotted, info in _fields(cls, "").items():
        leaf = _leaf(prefix + tuple(dotted.split(".")), info)
        if leaf is not None:
            out.append(leaf)
    return out


SCENARIO_LEAVES = _leaves_of(Scenario, ())
REGIME_CLASSES = {cls.model_fields["kind"].default: cls for _, prefix, cls in SECTIONS if prefix == "regime."}
SHOCK_CLASSES = {cls.model_fields["kind"].default: cls for _, prefix, cls in SECTIONS if prefix == "shocks[]."}
BATCH_LEAVES = [leaf for leaf in _leaves_of(BatchSpec, ("batch",)) if leaf.path[-1] not in ("axes", "shock_sets", "ranges")]
# The demand tables' entries are leaves too: a share per group, hours per group and sector.
DICT_LEAVES = [
    Leaf(("demand", table, g), "float", 0.0, 1.0, False, False, (), False) for table in ("group_shares", "paying_share") for g in GROUPS
] + [Leaf(("demand", "need_hours_per_person_quarter", g, s), "float", 0.0, math.inf, False, False, (), False) for g in GROUPS for s in SECTORS]


DEFAULTS = {("demand", table): dict(getattr(Scenario().demand, table)) for table in ("group_shares", "paying_share")} | {
    ("demand", "need_hours_per_person_quarter", g): dict(row) for g, row in Scenario().demand.need_hours_per_person_quarter.items()
} | {("demand", "need_hours_per_person_quarter"): {g: dict(r) for g, r in Scenario().demand.need_hours_per_person_quarter.items()}}


def test_the_fuzzer_covers_every_parameter_of_the_schema():
    """Not a fuzz test: the mutation targets really are the schema's fields (so a field
    added to params.py is fuzzed too)."""
    dotted = {leaf.dotted for leaf in SCENARIO_LEAVES}
    assert {"steps", "territory.organisations", "demand.choice_temperature", "cooperation.forms", "strategy.policy"} <= dotted
    assert set(REGIME_CLASSES) == set(REGIMES) and set(SHOCK_CLASSES) == set(SHOCK_KINDS)
    assert len(SCENARIO_LEAVES) > 100 and {leaf.path[-1] for leaf in BATCH_LEAVES} >= {"replicates", "master_seed", "steps"}


# =========================================================================== TOML writer
def toml_key(key: str | int) -> str:
    key = str(key)
    if key and all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in key):
        return key
    return toml_string(key)


def toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return toml_string(v)
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


def to_toml(doc: dict[str, Any], sections: bool) -> str:
    """The document as TOML: top-level scalars first, then one [table] per top-level table
    (``sections``) or everything as inline tables."""
    lines = [f"{toml_key(k)} = {toml_value(v)}" for k, v in doc.items() if not (sections and isinstance(v, dict))]
    if sections:
        for k, v in doc.items():
            if isinstance(v, dict):
                lines.append(f"\n[{toml_key(k)}]")
                lines += [f"{toml_key(kk)} = {toml_value(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"


# =========================================================================== documents
def base_document(regime: str, shocks: list[str], batch: bool) -> dict[str, Any]:
    """A small valid scenario (smoke-sized)."""
    doc: dict[str, Any] = {
        "name": "fuzz", "steps": 6, "seed": 3,
        "territory": {"organisations": 20, "municipalities": 2, "service_firms": 2, "local_employers": 2},
        "regime": {"kind": regime},
    }
    if shocks:
        doc["shocks"] = [{"kind": k, "start": 2} for k in shocks]
    if batch:
        doc["batch"] = {"replicates": 1, "axes": {"regime.kind": list(REGIMES)}}
    return doc


def leaves_of_document(doc: dict[str, Any]) -> list[Leaf]:
    leaves = list(SCENARIO_LEAVES) + DICT_LEAVES
    regime = doc.get("regime")
    if isinstance(regime, dict) and regime.get("kind") in REGIME_CLASSES:
        leaves += _leaves_of(REGIME_CLASSES[regime["kind"]], ("regime",))
    for i, shock in enumerate(doc.get("shocks", [])):
        leaves += _leaves_of(SHOCK_CLASSES[shock["kind"]], ("shocks", i))
    if "batch" in doc:
        leaves += BATCH_LEAVES
    return leaves


def misspell(draw, word: str) -> str:
    i = draw(st.integers(0, max(0, len(word) - 1)))
    how = draw(st.sampled_from(["drop", "double", "swap", "replace"]))
    if how == "drop" and len(word) > 1:
        return word[:i] + word[i + 1:]
    if how == "swap" and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if how == "replace":
        return word[:i] + draw(st.sampled_from("aeiouxz")) + word[i + 1:]
    return word[:i] + word[i] + word[i:]


def legal_value(draw, leaf: Leaf) -> Any:
    if leaf.kind in ("int", "optional_int"):
        lo = -(10**6) if math.isinf(leaf.lo) else int(leaf.lo) + leaf.lo_open
        hi = 10**6 if math.isinf(leaf.hi) else int(leaf.hi) - leaf.hi_open
        value = draw(st.integers(lo, hi))
        if leaf.drawable and draw(st.booleans()):
            other = draw(st.integers(value, hi))
            return {"min": value, "max": other}
        return value
    if leaf.kind == "float":
        lo = -1e6 if math.isinf(leaf.lo) else leaf.lo
        hi = 1e6 if math.isinf(leaf.hi) else leaf.hi
        value = draw(st.floats(lo, hi, exclude_min=leaf.lo_open, exclude_max=leaf.hi_open, allow_nan=False))
        if leaf.drawable and draw(st.booleans()):
            return {"min": value, "max": draw(st.floats(value, hi, allow_nan=False))}
        return value
    if leaf.kind == "literal":
        return draw(st.sampled_from(leaf.choices))
    if leaf.kind == "literal_list":
        return draw(st.lists(st.sampled_from(leaf.choices), max_size=len(leaf.choices), unique=True))
    if leaf.kind == "bool":
        return draw(st.booleans())
    if leaf.kind == "str":
        return draw(st.text(max_size=30))
    return {}


WRONG_TYPES = st.one_of(
    st.text(max_size=12), st.booleans(), st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.sampled_from(["x", "min", "max", "kind"]), st.integers(0, 3), max_size=2),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)), st.dates(),
)


@st.composite
def mutation(draw, leaves: list[Leaf]) -> tuple[str, Leaf, Any]:
    leaf = draw(st.sampled_from(leaves))
    ops = ["legal", "type", "unknown", "delete", "delete_table", "scalar_table"]
    if leaf.kind in ("int", "float", "optional_int"):
        ops += ["range", "nonfinite"]
    op = draw(st.sampled_from(ops))
    if op == "legal":
        return op, leaf, legal_value(draw, leaf)
    if op == "type":
        return op, leaf, draw(WRONG_TYPES)
    if op == "range":
        ends = [x for x in (leaf.lo, leaf.hi) if not math.isinf(x)]
        end = draw(st.sampled_from(ends))
        sign = -1 if end == leaf.lo else 1
        step = draw(st.sampled_from([1, 0.5, 1e-9, 1e6, 1e300]))
        value = end + sign * step
        if leaf.kind != "float" and float(value).is_integer() and abs(value) < 1e18:
            value = int(value)
        if end == leaf.lo and leaf.lo_open and draw(st.booleans()):
            value = leaf.lo  # the open end itself
        if draw(st.booleans()) and leaf.kind != "float":
            value = sign * 10**30  # beyond a 64-bit integer
        return op, leaf, value
    if op == "nonfinite":
        return op, leaf, draw(st.sampled_from([math.nan, math.inf, -math.inf]))
    if op == "unknown":
        name = str(leaf.path[-1])
        return op, leaf, draw(st.one_of(st.just(misspell(draw, name)), st.text(min_size=1, max_size=10)))
    if op == "scalar_table":
        return op, leaf, draw(st.one_of(st.integers(), st.text(max_size=5), st.booleans()))
    return op, leaf, None


def apply(doc: dict[str, Any], op: str, leaf: Leaf, value: Any) -> str | None:
    """Apply one mutation in place; the dotted path it touched, or None if it could not
    be applied (an earlier mutation removed the table)."""
    *parents, last = leaf.path
    if op in ("scalar_table", "delete_table"):  # the table holding the leaf: replaced, or left out
        if not parents:
            return None
        *parents, last = parents
    node: Any = doc
    for i, p in enumerate(parents):
        if isinstance(node, list) and isinstance(p, int) and p < len(node):
            node = node[p]
        elif isinstance(node, dict) and p in node:
            node = node[p]
        elif isinstance(node, dict) and op not in ("delete", "delete_table"):
            # A missing table starts as its default (the demand tables must name every group).
            node[p] = copy.deepcopy(DEFAULTS.get(tuple(parents[:i + 1]), {}))
            node = node[p]
        else:
            return None
        if not isinstance(node, dict | list):
            return None
    if not isinstance(node, dict):
        return None
    if op in ("delete", "delete_table"):
        if last not in node:
            return None
        del node[last]
    elif op == "unknown":
        if value == last or value in node:
            return None
        node[value] = 1
        return ".".join(map(str, [*parents, value]))
    else:
        node[last] = value
    return ".".join(map(str, [*parents, last]))


@st.composite
def documents(draw) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    doc = base_document(
        draw(st.sampled_from(REGIMES)),
        draw(st.lists(st.sampled_from(SHOCK_KINDS), max_size=2)),
        draw(st.booleans()),
    )
    leaves = leaves_of_document(doc)
    applied = []
    for op, leaf, value in draw(st.lists(mutation(leaves), max_size=3)):
        where = apply(doc, op, leaf, value)
        if where is not None:
            applied.append((op, where))
    return doc, applied


# =========================================================================== the property
_counter = itertools.count()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    count_traceback(err.getvalue())
    return code, out.getvalue(), err.getvalue()


def check_outcome(path: Path, workdir: Path, overrides: list[str] | None = None) -> tuple[Scenario | None, str | None]:
    """Load a scenario file (with ``--set`` pairs) through the API and the command line;
    assert the contract; return (scenario, None) or (None, error message)."""
    TALLY["fuzz_examples"] += 1
    sets = [a for pair in (overrides or []) for a in ("--set", pair)]
    scenario, message = None, None
    try:
        scenario = load_scenario(path, _overrides(overrides or []))
    except (ScenarioError, UserError) as exc:  # UserError: a --set pair that is not KEY=VALUE
        message = str(exc)
    if message is not None:
        assert "\n" not in message and message.isprintable(), repr(message)
    else:
        assert Scenario.model_validate(scenario.model_dump()) == scenario  # a valid scenario is a whole one

    code, stdout, stderr = run_cli(["check", str(path), *sets])
    assert "Traceback" not in stderr
    if scenario is not None:
        assert code == 0 and stderr == "", stderr
        return scenario, None
    lines = stderr.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert lines[0] == f"error: {message}"
    assert message.startswith(f"{path}") or message.startswith("--set "), message  # names the file (or the option)
    # Nothing is written by a command that refuses its input.
    n = next(_counter)
    for command in (["run", str(path), "--out", str(workdir / f"run-{n}")],
                    ["batch", str(path), "--executor", "serial", "--out", str(workdir / f"batch-{n}")]):
        code, _, stderr = run_cli([*command, *sets])
        assert code == 2 and len(stderr.splitlines()) == 1 and "Traceback" not in stderr, stderr
    assert not (workdir / f"run-{n}").exists() and not (workdir / f"batch-{n}").exists()
    return None, message


@settings(FUZZ, max_examples=300)
@given(case=documents(), sections=st.booleans())
def test_schema_built_documents_give_a_scenario_or_one_line_naming_file_and_field(workdir, case, sections):
    doc, applied = case
    path = workdir / f"doc-{next(_counter)}.toml"
    path.write_text(to_toml(doc, sections), encoding="utf-8")
    scenario, message = check_outcome(path, workdir)
    if scenario is not None:
        # A scenario that loads also plans as a batch, or is refused in one line (a
        # batch table's axes are checked against the schema only when planning).
        try:
            make_plan(path)
        except ScenarioError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(str(path))
            code, _, stderr = run_cli(["batch", str(path), "--executor", "serial", "--out", str(workdir / "never")])
            assert code == 2 and stderr.strip() == f"error: {exc}" and not (workdir / "never").exists()
        return
    if len(applied) == 1 and applied[0][0] != "legal":
        # One bad change: the message names that field or the table that holds it.
        touched = _one_line(applied[0][1])  # as the message writes it (control characters escaped)
        parts = touched.split(".")
        named = ["(top)"] + [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
        rest = message[len(str(path)) + 2:]
        assert message.startswith(f"{path}: ") and any(rest.startswith(f"{n}: ") for n in named), (message, applied)
        if applied[0][0] == "unknown" and "did you mean" in message:
            assert message.split("did you mean ")[1].rstrip("?)") in leaves_names(touched)


def leaves_names(dotted: str) -> set[str]:
    """Names of the keys next to an unknown key (for the did-you-mean check)."""
    parent = dotted.rsplit(".", 1)[0] if "." in dotted else ""
    names = set()
    for leaf in SCENARIO_LEAVES + DICT_LEAVES + BATCH_LEAVES + [leaf for c in REGIME_CLASSES.values() for leaf in _leaves_of(c, ("regime",))] \
            + [leaf for c in SHOCK_CLASSES.values() for leaf in _leaves_of(c, ("shocks", 0))] + [leaf for c in SHOCK_CLASSES.values() for leaf in _leaves_of(c, ("shocks", 1))]:
        if ".".join(map(str, leaf.path[:-1])) == parent:
            names.add(str(leaf.path[-1]))
    if parent == "":
        names |= set(Scenario.model_fields)
    return names


@pytest.mark.parametrize(("text", "field", "hint"), [
    ("[territory]\norganisatons = 30\n", "territory.organisatons", "organisations"),
    ("[teritory]\norganisations = 30\n", "teritory", "territory"),
    ('[regime]\nkind = "competitive"\ngrant_shar = 0.3\n', "regime.grant_shar", "grant_share"),
    ('[[shocks]]\nkind = "budget_cut"\nstrat = 3\n', "shocks.0.strat", "start"),
    ('[[shocks]]\nkind = "needs_surge"\nrise = { min = 0.1, mx = 0.2 }\n', "shocks.0.rise.mx", "max"),
    ("[batch]\nreplicats = 3\n", "batch.replicats", "replicates"),
    ("stpes = 3\n", "stpes", "steps"),
])
def test_unknown_key_suggests_the_closest_valid_key(workdir, text, field, hint):
    path = workdir / "misspelt.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value).startswith(f"{path}: {field}: unknown key (did you mean {hint}?)")  # "(and 1 more)": max missing


def test_unknown_key_far_from_any_gets_no_suggestion(workdir):
    path = workdir / "far.toml"
    path.write_text("[territory]\nqqqqqqq = 1\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value) == f"{path}: territory.qqqqqqq: unknown key"


# =========================================================================== bytes and text
BAD_UTF8 = [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80", b"\xf8\x88\x80\x80\x80"]


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes(workdir, data):
    path = workdir / f"bytes-{next(_counter)}.toml"
    path.write_bytes(data)
    check_outcome(path, workdir)


@FUZZ
@given(text=st.text(max_size=200))
def test_random_text(workdir, text):
    path = workdir / f"text-{next(_counter)}.toml"
    path.write_text(text, encoding="utf-8")
    check_outcome(path, workdir)


@settings(FUZZ, max_examples=60)
@given(case=documents(), bad=st.sampled_from(BAD_UTF8), where=st.floats(0, 1), ctrl=st.sampled_from(["", "\x00", "\x1b[2J", "\r", "\ufeff"]))
def test_valid_documents_with_non_utf8_bytes_or_control_characters(workdir, case, bad, where, ctrl):
    raw = to_toml(case[0], True).encode("utf-8")
    i = int(where * len(raw))
    path = workdir / f"mixed-{next(_counter)}.toml"
    path.write_bytes(raw[:i] + bad + ctrl.encode("utf-8") + raw[i:])
    scenario, message = check_outcome(path, workdir)
    assert scenario is None and ("cannot read" in message or "not valid TOML" in message), message


def test_empty_and_whitespace_files_are_the_defaults(workdir):
    for i, text in enumerate(["", "\n\n", "# only a comment\n", "   \t\n"]):
        path = workdir / f"empty-{i}.toml"
        path.write_text(text, encoding="utf-8")
        scenario, _ = check_outcome(path, workdir)
        assert scenario == Scenario()


def test_not_a_file(workdir):
    for path, expected in ((workdir / "missing.toml", "file not found"), (workdir, "is a directory, not a scenario file")):
        scenario, message = check_outcome(path, workdir)
        assert scenario is None and message == f"{path}: {expected}"


LARGE_MB = 4


@pytest.mark.parametrize("make", [
    pytest.param(lambda: ("# padding\n" * (LARGE_MB * 2**20 // 10)) + 'name = "big"\nsteps = 4\n', id="4MB-of-comments"),
    pytest.param(lambda: f'description = "{"x" * (LARGE_MB * 2**20)}"\nsteps = 4\n', id="4MB-string"),
    pytest.param(lambda: "[territory]\n" + "".join(f"organisation{i} = {i}\n" for i in range(20_000)), id="20k-unknown-keys"),
    pytest.param(lambda: "steps = " + "9" * 5_000_000 + "\n", id="5M-digit-number"),
    pytest.param(lambda: "x = " + "[" * 100_000 + "]" * 100_000 + "\n", id="nested-arrays"),
    pytest.param(lambda: "x = " + "{a = " * 20_000 + "1" + "}" * 20_000 + "\n", id="nested-inline-tables"),
    pytest.param(lambda: "[" + ".".join(["demand"] + ["a"] * 5_000) + "]\nx = 1\n", id="deep-table-header"),
    pytest.param(lambda: "steps = 4\n" + "z" * (LARGE_MB * 2**20) + "\n", id="4MB-garbage-line"),
])
def test_very_large_and_deeply_nested_files(workdir, make):
    path = workdir / "large.toml"
    path.write_text(make(), encoding="utf-8")
    scenario, message = check_outcome(path, workdir)
    if scenario is None:
        assert len(message) < 2_000, "a one-line message a person can read"


# =========================================================================== --set
OVERRIDE_KEYS = st.one_of(
    st.sampled_from(sorted({leaf.dotted for leaf in SCENARIO_LEAVES + DICT_LEAVES})),
    st.sampled_from(["regime.kind", "regime.grant_share", "regime.agreement_share", "regime.x", "shocks.0.share", "batch.replicates",
                     "batch.axes", "shock_set", "steps.x", "territory", "", " ", ".", "a..b", "territory.", ".steps",
                     "territory.organisations.x", "steps.x\ny", "x" * 300]),
    st.text(max_size=15),
)
OVERRIDE_VALUES = st.one_of(
    st.sampled_from(["1", "0", "-1", "0.5", "1e999", "-1e999", "nan", "inf", "-inf", "1_000", "0x10", "true", "false",
                     "competitive", '"cooperative"', "'administrative'", "[1, 2]", "[", "[[[[", "{a = 1}", "{", '"open',
                     "1979-05-27", "07:32:00", "", " ", "1\nsteps = 5", "9" * 400, "9" * 5_000, "[" * 5_000]),
    st.integers().map(str), st.floats().map(repr), st.text(max_size=20),
)


@settings(FUZZ, max_examples=150)
@given(pairs=st.lists(st.one_of(st.tuples(OVERRIDE_KEYS, OVERRIDE_VALUES).map(lambda kv: f"{kv[0]}={kv[1]}"),
                                st.text(max_size=10)), min_size=1, max_size=3), with_batch=st.booleans())
def test_set_overrides_of_every_kind(workdir, pairs, with_batch):
    path = workdir / ("base-batch.toml" if with_batch else "base.toml")
    if not path.exists():
        path.write_text(to_toml(base_document("cooperative", ["budget_cut"], with_batch), True), encoding="utf-8")
    scenario, message = check_outcome(path, workdir, pairs)
    if scenario is None and not message.startswith("--set") and len(pairs) == 1:
        key = _one_line(pairs[0].split("=", 1)[0].strip())
        # The message names the file, and the key or the table it goes into.
        assert message.startswith(str(path)) and (key.split(".")[0] in message or "(top)" in message or "bad override key" in message), message


# =========================================================================== real subprocesses
def ptce(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    TALLY["cli_subprocesses"] += 1
    res = subprocess.run([sys.executable, "-m", "simulation", *args], capture_output=True, text=True, cwd=cwd, timeout=300)
    count_traceback(res.stderr)
    return res


SUBPROCESS_CASES = [
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", [], "cannot read", id="binary"),
    pytest.param(b"[territory]\norganisations = nan\n", [], "territory.organisations", id="nan"),
    pytest.param(b'[territory]\norganisatons = 30\n', [], "(did you mean organisations?)", id="misspelt"),
    pytest.param(("x = " + "[" * 50_000 + "]" * 50_000).encode(), [], "nested too deeply", id="nested"),
    pytest.param(b'[regime]\nkind = "market\\nplace"\n', [], "regime", id="newline-in-value"),
    pytest.param(b"steps = 4\n", ["--set", "territory.organisations=many"], "territory.organisations", id="set-type"),
    pytest.param(b"steps = 4\n", ["--set", "steps"], "--set 'steps': expected KEY=VALUE", id="set-no-value"),
    pytest.param(b'[batch]\nreplicates = 2\n[batch.axes]\n"regime.kind" = ["market"]\n', [], "batch.axes.regime.kind", id="batch-axis"),
]


@pytest.mark.parametrize(("content", "extra", "expected"), SUBPROCESS_CASES)
def test_bad_input_through_the_real_command_line(tmp_path, content, extra, expected):
    """``python -m simulation run|batch`` as a user runs it: exit 2, one stderr line naming
    the file and the field, no traceback, no results folder."""
    path = tmp_path / "scenario.toml"
    path.write_bytes(content)
    command = "batch" if b"[batch]" in content else "run"
    res = ptce(command, str(path), *extra, "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], res.stderr
    assert "--set" in expected or lines[0].startswith(f"error: {path}: ")
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert not (tmp_path / "out").exists() and not (tmp_path / "results").exists()
