"""The ``[batch]`` table of a scenario file: what a batch crosses, samples and repeats.

A batch is the scenario of the file run many times: once per combination of the values
of its **axes** (any dotted parameter path with a list of values, plus the named shock set
``shock_set``), per **sample** of the Latin-hypercube over its **ranges**, and per
**replicate**.  Replicate ``r`` of every combination gets the same seed,
``SeedSequence(master_seed, spawn_key=(r,))``, so regimes and policies meet the same random
draws (common random numbers) and can be compared run by run.

This module only declares the table (it is imported by :mod:`simulation.params`, so it
imports nothing of the package); :mod:`simulation.runner` checks the axis paths and shock
sets against the :class:`~simulation.params.Scenario` schema and builds the design.

Example (``scenarios/crisis_regimes.toml``)::

    [batch]
    replicates = 10
    master_seed = 2024

    [batch.axes]
    "regime.kind" = ["administrative", "competitive", "cooperative"]
    shock_set = ["none", "budget_cut"]

    [batch.shock_sets]
    none = []
    budget_cut = [{ kind = "budget_cut", share = 0.25, start = 24 }]

    [batch.ranges]
    "demand.need_growth_per_quarter" = [0.0, 0.01]   # uniform, Latin hypercube
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SHOCK_SET_AXIS = "shock_set"
"""The axis that picks a named shock set of ``[batch.shock_sets]`` (not a parameter path)."""

NO_SHOCK_SET = "none"
"""Name of the empty shock set; always defined, it cannot name a set with shocks."""

RESERVED_PREFIXES = ("seed", "shocks", "batch")
"""Paths a batch may not vary: seeds come from ``master_seed``, shocks from ``shock_set``."""


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | bool | int | float)


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "booleans"
    if isinstance(value, int | float):
        return "numbers"
    return "strings"


class BatchSpec(BaseModel):
    """Axes, sampled ranges, replicates and seeds of a batch (the ``[batch]`` table)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = Field(None, min_length=1, description="batch name: results go to results/<name>/ (default: the scenario's name)")
    replicates: int = Field(10, ge=1, le=1_000_000, description="runs of each combination, replicate r seeded SeedSequence(master_seed, spawn_key=(r,))")
    master_seed: int | None = Field(None, ge=0, le=2**63 - 1, description="seed every replicate's seed is spawned from (default: the scenario's seed)")
    steps: int | None = Field(None, ge=1, le=10_000, description="quarters of every run (default: the scenario's steps)")
    axes: dict[str, list[Any]] = Field(default_factory=dict, description="dotted parameter path (or shock_set) -> values to cross")
    shock_sets: dict[str, list[dict[str, Any]]] = Field(default_factory=dict, description="name -> list of shock tables (as [[shocks]]); `none` is the empty set")
    ranges: dict[str, list[Any]] = Field(default_factory=dict, description="dotted parameter path -> [low, high], sampled uniformly by Latin hypercube; integers if both ends are")
    samples: int = Field(0, ge=0, le=1_000_000, description="Latin-hypercube points drawn over the ranges (each crossed with the axes and replicates)")
    networks: bool = Field(True, description="write the cooperation network of replicate 0 of each combination to networks/run-<id>.graphml")

    @field_validator("axes")
    @classmethod
    def _axes(cls, axes: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for path, values in axes.items():
            _check_path(path)
            if not values:
                raise ValueError(f"{path}: needs at least one value")
            bad = [v for v in values if not _is_scalar(v)]
            if bad:
                raise ValueError(f"{path}: values must be strings, numbers or booleans, not {bad[0]!r}")
            kinds = {_kind(v) for v in values}
            if len(kinds) > 1:
                raise ValueError(f"{path}: values mix {' and '.join(sorted(kinds))}")
            if len(set(map(repr, values))) < len(values):
                raise ValueError(f"{path}: a value is repeated")
            if path == SHOCK_SET_AXIS and kinds != {"strings"}:
                raise ValueError(f"{SHOCK_SET_AXIS}: values must be names of [batch.shock_sets]")
        return axes

    @field_validator("shock_sets")
    @classmethod
    def _shock_sets(cls, sets: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
        if sets.get(NO_SHOCK_SET):
            raise ValueError(f"{NO_SHOCK_SET}: is reserved for the empty shock set (none = [])")
        return sets

    @field_validator("ranges")
    @classmethod
    def _ranges(cls, ranges: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for path, bounds in ranges.items():
            _check_path(path)
            if path == SHOCK_SET_AXIS:
                raise ValueError(f"{SHOCK_SET_AXIS}: cannot be sampled, list it in [batch.axes]")
            ok = len(bounds) == 2 and all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
            if not ok:
                raise ValueError(f"{path}: expected [low, high], two numbers")
            if not bounds[0] < bounds[1]:
                raise ValueError(f"{path}: low {bounds[0]} must be below high {bounds[1]}")
        return ranges

    @model_validator(mode="after")
    def _consistent(self) -> BatchSpec:
        both = sorted(set(self.axes) & set(self.ranges))
        if both:
            raise ValueError(f"{both[0]}: is both an axis and a sampled range")
        if self.ranges and self.samples == 0:
            raise ValueError("samples: ranges are given, set samples = N (Latin-hypercube points)")
        if self.samples and not self.ranges:
            raise ValueError("samples: no [batch.ranges] to sample")
        names = {NO_SHOCK_SET, *self.shock_sets}
        unknown = [v for v in self.axes.get(SHOCK_SET_AXIS, []) if v not in names]
        if unknown:
            raise ValueError(f"axes.shock_set: {unknown[0]!r} is not a shock set (known: {', '.join(sorted(names))})")
        return self


def _check_path(path: str) -> None:
    parts = path.split(".")
    if not path or any(not p for p in parts):
        raise ValueError(f"{path!r}: not a dotted parameter path")
    if parts[0] in RESERVED_PREFIXES:
        hint = {"seed": "seeds come from batch.master_seed", "shocks": "use named [batch.shock_sets] and the shock_set axis",
                "batch": "a batch cannot vary its own table"}[parts[0]]
        raise ValueError(f"{path}: cannot be varied ({hint})")
