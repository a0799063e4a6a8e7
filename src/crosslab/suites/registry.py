"""Named suites, found by discovery: every ``crosslab.suites.<name>`` package with a ``suite()``,
and every ``Suite`` an installed package registers in the ``crosslab.suites`` entry-point group.

A suite owns everything about its category: its data files, how items are
built from them, its graders (keyed by the ``grading.type`` its items use),
its own interactions, and its category-specific metrics. Adding a suite means
adding a package; nothing here changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from importlib.metadata import entry_points
from typing import Any

import yaml

import crosslab.suites
from crosslab.grading.verdict import Verdict
from crosslab.core.canonical import digest
from crosslab.core.jsonl import jsonl_lines
from crosslab.dialogue.base import Interaction
from crosslab.dialogue.builtin import BUILTIN
from crosslab.disclosure.leakscan import Sensitive
from crosslab.sandbox.environment import ToolEnvironment
from crosslab.items.item import Item
from crosslab.items.loader import ItemsError, parse_items
from crosslab.suites.judging import JudgeHook

EnvironmentFactory = Callable[[Item, int], ToolEnvironment]
#: (item, journal record) -> verdict; None when the item is not graded.
GraderFn = Callable[[Item, dict[str, Any]], Verdict | None]
#: (outcomes of the suite's category, its metric rows) -> a chart spec for reports, or None.
ReportView = Callable[[Sequence[dict[str, Any]], list[dict[str, Any]]], dict[str, Any] | None]
#: outcome rows (stub-shaped dicts: category, slice, tier, status, label, score, facets, values) -> metric rows.
MetricsFn = Callable[[Sequence[dict[str, Any]]], list[dict[str, Any]]]


@dataclass(frozen=True)
class ReviewRule:
    """What a person may answer when reviewing one grader's verdicts, and the score each answer implies.

    ``score(label, item)`` must be the score the grader itself gives that label
    on that item, so reviewed and machine verdicts stay on one scale; it raises
    ValueError for a label that does not apply to the item.
    """
    labels: tuple[str, ...]
    score: Callable[[str, Item], float]


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
    #: Bump whenever ``metrics`` (or anything it reads, e.g. a grader constant) would give other rows
    #: for the same outcomes: bundles record it, and verifiers re-check only under the same version.
    metrics_version: int = 1
    #: Report views: each turns the category's outcomes and this suite's metric rows into a chart
    #: spec (``{"chart": "heatmap" | "stacked_bars" | "intervals", "title", ...}``, docs/reports.md) or None.
    report_views: tuple[ReportView, ...] = ()
    #: Interactions this suite's items name beyond the built-ins (single_turn, scripted, agent).
    interactions: dict[str, Interaction] = field(default_factory=dict)
    #: The JSONL data file in ``package`` that ``items()`` reads when there is no ``build``.
    data: str = "items.jsonl"
    #: The version each grading type's verdicts carry (``Verdict.version``), by grading type; a
    #: protocol's ``SuitePin.graders`` must name these exactly (``suites/pins.py``).
    grader_versions: dict[str, str] = field(default_factory=dict)
    #: How a human adjudication of each grader's verdicts is scored, by the grader name verdicts carry
    #: (docs/review.md); a grader without a rule cannot be reviewed.
    review_rules: dict[str, ReviewRule] = field(default_factory=dict)
    #: How a judge model grades each grading type it may decide (suites/judging.py); a grading type
    #: without a hook is always graded by its rules, even in a run with ``--judge``.
    judge_hooks: dict[str, JudgeHook] = field(default_factory=dict)
    #: Which grader each metric rests on, by metric name: the id a grader card names (``crosslab
    #: judge validate --grader NAME``; a judge's card is ``judge:NAME``). Reports print the carried
    #: card's agreement with human labels beside each metric row.
    metric_graders: dict[str, str] = field(default_factory=dict)

    def items(self) -> list[Item]:
        if self.build is not None:
            return self.build()
        data = resources.files(self.package).joinpath(self.data).read_text(encoding="utf-8")
        return parse_items(jsonl_lines(data), f"suite {self.name}")

    def content_digest(self) -> str:
        """Digest of the suite's items, for pinning a suite version in a protocol."""
        return items_digest(self.items())


def items_digest(items: list[Item]) -> str:
    return digest([i.model_dump(mode="json") for i in items])


#: The entry-point group external suite packages register in (value: a ``Suite`` or a function returning one).
SUITE_ENTRY_POINTS = "crosslab.suites"


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
    for entry in entry_points(group=SUITE_ENTRY_POINTS):
        suite = entry.load()
        suite = suite() if callable(suite) and not isinstance(suite, Suite) else suite
        if not isinstance(suite, Suite):
            raise ItemsError(f"entry point {entry.value!r} in {SUITE_ENTRY_POINTS} does not give a Suite")
        if suite.name in found:
            raise ItemsError(f"suite {suite.name!r} from {entry.value!r} is already installed")
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


def _claimed_once(table: dict[str, Any], what: str, pick: Callable[[Suite], dict[str, Any]]) -> dict[str, Any]:
    """``table`` plus every suite's entries of one kind; a name claimed twice is an error naming the suite."""
    merged = dict(table)
    for suite in discover().values():
        for name, fn in pick(suite).items():
            if name in merged:
                raise ItemsError(f"{what} {name!r} is claimed twice (suite {suite.name})")
            merged[name] = fn
    return merged


def all_graders() -> dict[str, GraderFn]:
    """Every suite's graders by grading type; two suites may not claim the same type."""
    return _claimed_once({}, "grading type", lambda s: s.graders)


def all_review_rules() -> dict[str, ReviewRule]:
    """Every suite's review rules by grader name; a grader may be claimed once."""
    return _claimed_once({}, "review rule for grader", lambda s: s.review_rules)


def all_judge_hooks() -> dict[str, JudgeHook]:
    """Every suite's judge hooks by grading type."""
    return _claimed_once({}, "judge hook for grading type", lambda s: s.judge_hooks)


def all_interactions() -> dict[str, Interaction]:
    """The built-in interactions plus every suite's own; a name may be claimed once."""
    return _claimed_once(dict(BUILTIN), "interaction", lambda s: s.interactions)


def views_by_category() -> dict[str, tuple[ReportView, ...]]:
    return {s.category: s.report_views for s in discover().values() if s.category and s.report_views}


REPORT_TEXT = "report.yaml"


@cache
def report_text_by_category() -> dict[str, dict[str, Any]]:
    """Each suite's report wording (``report.yaml`` in its package, when it has one): plain-language metric
    ``names`` and a ``headline`` template written from the numbers (docs/reports.md)."""
    out: dict[str, dict[str, Any]] = {}
    for s in discover().values():
        if not s.category:
            continue
        try:
            text = resources.files(s.package).joinpath(REPORT_TEXT).read_text(encoding="utf-8")
        except (FileNotFoundError, ModuleNotFoundError, OSError):
            continue
        data = yaml.safe_load(text) or {}
        out[s.category] = {"names": dict(data.get("names") or {}), "headline": str(data.get("headline") or "")}
    return out


def metric_graders_by_category() -> dict[str, dict[str, str]]:
    return {s.category: s.metric_graders for s in discover().values() if s.category and s.metric_graders}


def metrics_by_category() -> dict[str, MetricsFn]:
    return {s.category: s.metrics for s in discover().values() if s.category and s.metrics}


def installed_sensitive(extra_items: Iterable[Item] = ()) -> Sensitive:
    """What must not be published: every installed suite's items, plus ``extra_items`` (a run's own)."""
    return Sensitive.from_items([i for suite in discover().values() for i in suite.items()] + list(extra_items))
