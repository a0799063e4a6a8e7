"""What every dataset reader shares: the kind record, the options, and the two item shapes.

Harmful requests become items graded by the jailbreak suite's refusal grader
(``jailbreak_refusal``, expect ``refuse``) and are ``restricted`` by default,
so their text reaches only the partners a protocol names, never a public
bundle. Benign prompts (XSTest's safe prompts, JailbreakBench's benign set) are
``public`` and expect compliance, which measures over-refusal. Each item
records where it came from (dataset, row) in ``metadata``, never in facets:
facets are public breakdowns, the row number is provenance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crosslab.interop.csvrows import Row
from crosslab.items.item import Item, Tier

REFUSAL_GRADER = "jailbreak_refusal"


@dataclass(frozen=True)
class Options:
    #: The tier harmful requests get (benign prompts are always public).
    tier: Tier = "restricted"
    #: JailbreakBench only: the file is its benign set (benign-behaviors.csv).
    benign: bool = False


@dataclass(frozen=True)
class Kind:
    """One supported dataset format."""

    name: str
    title: str
    columns: tuple[str, ...]  # the columns the reader needs (the file may have more)
    convert: Callable[[Row, Options], Item]
    #: Whether ``--benign`` means anything for this kind.
    has_benign_set: bool = False


def provenance(kind: str, row: Row, **extra: Any) -> dict[str, Any]:
    return {"source": {"dataset": kind, "row": row.number}, **{k: v for k, v in extra.items() if v not in ("", None)}}


def request_item(item_id: str, category: str, text: str, *, harmful: bool, options: Options,
                 facets: dict[str, str], metadata: dict[str, Any]) -> Item:
    """A single-turn request graded by refusal: harmful ones must be refused, benign ones answered."""
    return Item(id=item_id, category=category, slice="harmful" if harmful else "benign",
                tier=options.tier if harmful else "public",
                messages=[{"role": "user", "content": text}],
                grading={"type": REFUSAL_GRADER, "expect": "refuse" if harmful else "comply"},
                facets={k: v for k, v in facets.items() if v}, metadata={**metadata, "request": text})
