"""The parameter table of the schema: path, default, unit, bounds, source, description.

Read from the fields of :mod:`simulation.params` (each default, bound, unit and source is
written once, there): the scenario with its nested blocks, then each regime class (a
scenario has one, picked by ``regime.kind``), then each shock class (items of
``shocks``).  ``ptce params`` prints it; ``tests/test_odd.py`` writes it into ODD.md.
"""

from __future__ import annotations

import csv
import io
import json
import math
import typing
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .params import (
    AdministrativeRegime,
    BudgetCut,
    CompetitiveRegime,
    CooperativeRegime,
    EmployerClosure,
    NeedsSurge,
    Scenario,
    SupplyDisruption,
    parameter_table,
)

SECTIONS: tuple[tuple[str, str, type[BaseModel]], ...] = (
    ("Scenario", "", Scenario),
    ("Administrative regime", "regime.", AdministrativeRegime),
    ("Competitive regime", "regime.", CompetitiveRegime),
    ("Cooperative regime", "regime.", CooperativeRegime),
    ("Budget cut shock", "shocks[].", BudgetCut),
    ("Needs surge shock", "shocks[].", NeedsSurge),
    ("Employer closure shock", "shocks[].", EmployerClosure),
    ("Supply disruption shock", "shocks[].", SupplyDisruption),
)
"""(title, path prefix, class): the scenario, each regime class and each shock class."""

COLUMNS = ("section", "path", "default", "unit", "bounds", "source", "description")


def _constraints(items: list[Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in items:
        for kind in ("ge", "gt", "le", "lt"):
            if isinstance(m, getattr(annotated_types, kind.capitalize())):
                out[kind] = getattr(m, kind)
    return out


def field_constraints(info: FieldInfo) -> dict[str, float]:
    """ge / gt / le / lt of a field, also when they sit inside its type (shock fields that
    are a number or a drawn ``{min, max}``)."""
    found = _constraints(list(info.metadata))
    if found:
        return found

    def walk(tp: Any) -> dict[str, float]:
        for arg in typing.get_args(tp):
            if isinstance(arg, FieldInfo):
                got = _constraints(list(arg.metadata))
            else:
                got = _constraints([arg]) or walk(arg)
            if got:
                return got
        return {}

    return walk(info.annotation)


def format_bounds(c: dict[str, float]) -> str:
    """Interval notation: [a, b] closed, (a, b) open, inf when unbounded; "-" if none."""
    if not c:
        return "-"
    lo = c.get("ge", c.get("gt", -math.inf))
    hi = c.get("le", c.get("lt", math.inf))

    def num(x: float) -> str:
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return str(int(x)) if float(x).is_integer() else f"{x:g}"

    left = "[" if "ge" in c else "("
    right = "]" if "le" in c else ")"
    return f"{left}{num(lo)}, {num(hi)}{right}"


def _fields(cls: type[BaseModel], prefix: str) -> dict[str, FieldInfo]:
    out: dict[str, FieldInfo] = {}
    for name, info in cls.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.update(_fields(ann, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = info
    return out


def bounds_by_path(cls: type[BaseModel], prefix: str = "") -> dict[str, str]:
    """Dotted path -> bounds in interval notation, for every leaf field of ``cls``."""
    return {path: format_bounds(field_constraints(info)) for path, info in _fields(cls, prefix).items()}


def format_default(value: Any) -> str:
    """A default as JSON (numbers, strings, lists, tables); a regime by its kind."""
    if isinstance(value, BaseModel):
        value = {"kind": value.kind} if hasattr(value, "kind") else value.model_dump()
    return json.dumps(value, ensure_ascii=False)


def parameter_rows() -> list[dict[str, str]]:
    """Every parameter of every section (:data:`SECTIONS`), one dict per row with the
    :data:`COLUMNS`; rows of ``parameter_table`` plus the bounds of each field."""
    rows = []
    for title, prefix, cls in SECTIONS:
        infos = _fields(cls, prefix)
        for row in parameter_table(cls, prefix):
            info = infos.get(row["path"])
            rows.append({
                "section": title,
                "path": row["path"],
                "default": format_default(row["default"]),
                "unit": str(row["unit"]),
                "bounds": format_bounds(field_constraints(info)) if info is not None else "-",
                "source": str(row["source"]),
                "description": str(row["description"]),
            })
    return rows


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def parameters_markdown() -> str:
    """One Markdown table per section: path, default, unit, bounds, source, description."""
    out: list[str] = []
    section = None
    for r in parameter_rows():
        if r["section"] != section:
            section = r["section"]
            out += ["" if out else "", f"## {section}", "", "| path | default | unit | bounds | source | description |", "|---|---|---|---|---|---|"]
        out.append(f"| `{r['path']}` | `{_cell(r['default'])}` | {_cell(r['unit'])} | {_cell(r['bounds'])} | {_cell(r['source'])} | {_cell(r['description'])} |")
    return "\n".join(out).strip() + "\n"


def parameters_csv() -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(parameter_rows())
    return buf.getvalue()
