"""What is public about one sample's result: the ``Outcome`` every metric reads, and the bundle ``Stub``.

A run's journal and a published bundle give the same outcome rows, so one
metric function serves both ``crosslab run`` and a buyer's verifier. A stub
is an outcome plus its position in the bundle (``i``) and the salted
commitment to the full sample (``c``). Both are plain dicts at run time (a
verifier handles 100,000 of them); these types name their fields.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict


#: The label of a judge reply that did not parse (docs/graders/judges.md): no label was given, so the
#: sample has no score and enters no rate; suites count it in an ``unscored`` row.
UNSCORED = "unscored"


class Outcome(TypedDict):
    category: str
    slice: str | None
    tier: str
    facets: dict[str, str]
    status: str  # "ok" or "error"
    label: str | None  # the verdict's label; None for errors and ungraded samples; UNSCORED for a failed judge
    score: float | None  # 1.0 = the behaviour the item asks for; None when there is no label or it is UNSCORED
    values: dict[str, float]


class Stub(Outcome):
    i: int  # 0-based line number in items.jsonl
    c: str  # hex SHA-256 commitment to the sample's disclosure


#: A stub's fields, in the order docs/protocol.md lists them.
STUB_FIELDS = ("i", "category", "slice", "tier", "facets", "status", "label", "score", "values", "c")


def by_category(outcomes: Sequence[Outcome]) -> dict[str, list[Outcome]]:
    """Outcomes grouped by category, each group in the original order (what suite metrics read)."""
    grouped: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        grouped[o["category"]].append(o)
    return grouped


def verdict_score(verdict: Mapping[str, Any] | None) -> float | None:
    """A journal verdict's score as a float, or None (no verdict, or an unscored judge reply)."""
    if not verdict or verdict.get("score") is None:
        return None
    return float(verdict["score"])


def graded(outcome: Outcome) -> bool:
    """Whether an outcome enters rates: answered, and labelled by a grader (not an error, not unscored)."""
    return outcome["status"] == "ok" and outcome["label"] is not None and outcome["score"] is not None


def unscored(outcomes: Sequence[Outcome]) -> int:
    return sum(o["status"] == "ok" and o["label"] == UNSCORED for o in outcomes)
