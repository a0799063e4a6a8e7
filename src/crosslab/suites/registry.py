"""Named suites, found by discovery: every ``crosslab.suites.<name>`` package with a ``suite()``.

A suite package owns everything about its category: its data files, how items
are built from them, its graders (keyed by the ``grading.type`` its items use)
and its category-specific metrics. Adding a suite means adding a package;
nothing here changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import crosslab.suites
from crosslab.grading.verdict import Verdict
from crosslab.protocol.canonical import digest
from crosslab.sandbox.environment import ToolEnvironment
from crosslab.suites.item import Item
from crosslab.suites.loader import ItemsError, parse_items

EnvironmentFactory = Callable[[Item, int], ToolEnvironment]
#: (item, journal record) -> verdict; None when the item is not graded.
GraderFn = Callable[[Item, dict[str, Any]], Verdict | None]
#: outcome rows (stub-shaped dicts: category, slice, tier, status, label, score, facets, values) -> metric rows.
MetricsFn = Callable[[Sequence[dict[str, Any]]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    package: str  # where the suite's data files live
    environments: dict[str, EnvironmentFactory] = field(default_factory=dict)
    #: The item category this suite owns (its metrics apply to outcomes of this category).
    category: str | None = None
    #: Builds the items (e.g. behaviours × attack transforms); default: the package's items.jsonl.
    build: Callable[[], list[Item]] | None = None
    graders: dict[str, GraderFn] = field(default_factory=dict)
    metrics: MetricsFn | None = None

    def items(self) -> list[Item]:
        if self.build is not None:
            return self.build()
        data = resources.files(self.package).joinpath("items.jsonl").read_text(encoding="utf-8")
        return parse_items(data.splitlines(), f"suite {self.name}")

    def content_digest(self) -> str:
        """Digest of the suite's items, for pinning a suite version in a protocol."""
        return items_digest(self.items())


def items_digest(items: list[Item]) -> str:
    return digest([i.model_dump(mode="json") for i in items])


@cache
def discover() -> dict[str, Suite]:
    """Every installed suite, by name (imported once per process)."""
    found: dict[str, Suite] = {}
    for module in pkgutil.iter_modules(crosslab.suites.__path__):
        if not module.ispkg:
            continue
        package = importlib.import_module(f"crosslab.suites.{module.name}")
        make = getattr(package, "suite", None)
        if callable(make):
            suite = make()
            found[suite.name] = suite
    return dict(sorted(found.items()))


def suite_names() -> list[str]:
    return list(discover())


def get_suite(name: str) -> Suite:
    suites = discover()
    if name not in suites:
        raise ItemsError(f"unknown suite {name!r} (available: {', '.join(suites)})")
    return suites[name]


def all_environments() -> dict[str, EnvironmentFactory]:
    """Every suite's environments, for items files that reference one by name."""
    merged: dict[str, EnvironmentFactory] = {}
    for suite in discover().values():
        merged.update(suite.environments)
    return merged


def all_graders() -> dict[str, GraderFn]:
    """Every suite's graders by grading type; two suites may not claim the same type."""
    merged: dict[str, GraderFn] = {}
    for suite in discover().values():
        for kind, fn in suite.graders.items():
            if kind in merged:
                raise ItemsError(f"grading type {kind!r} is claimed by two suites")
            merged[kind] = fn
    return merged


def metrics_by_category() -> dict[str, MetricsFn]:
    return {s.category: s.metrics for s in discover().values() if s.category and s.metrics}
