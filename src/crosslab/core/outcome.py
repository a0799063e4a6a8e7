"""What is public about one sample's result: the ``Outcome`` every metric reads, and the bundle ``Stub``.

A run's journal and a published bundle give the same outcome rows, so one
metric function serves both ``crosslab run`` and a buyer's verifier. A stub
is an outcome plus its position in the bundle (``i``) and the salted
commitment to the full sample (``c``). Both are plain dicts at run time (a
verifier handles 100,000 of them); these types name their fields.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TypedDict


class Outcome(TypedDict):
    category: str
    slice: str | None
    tier: str
    facets: dict[str, str]
    status: str  # "ok" or "error"
    label: str | None  # the verdict's label; None for errors and ungraded samples
    score: float | None  # 1.0 = the behaviour the item asks for
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
