"""What an attack aims at: one behaviour, given as a request (never as an answer).

Adaptive attacks run per behaviour, not per static item: the jailbreak suite
has one item per (behaviour, transform), and the attack replaces the
transform. ``behaviours_from_items`` takes the harmful items of a suite run
and keeps one behaviour each, so ``crosslab run --suite jailbreak --attack``
and a protocol's item list map onto the same behaviours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from crosslab.items.item import Item


@dataclass(frozen=True)
class Behaviour:
    id: str
    goal: str  # the request the attack tries to get carried out
    harm: str = "unspecified"  # the harm category results are broken down by
    tier: str = "restricted"  # how the attack's winning prompt and transcript are disclosed

    def __post_init__(self) -> None:
        if not self.id or not self.goal:
            raise ValueError("a behaviour needs an id and a goal")
        if self.tier not in ("restricted", "withheld"):
            raise ValueError(f"behaviour {self.id}: an elicitation is restricted or withheld, not {self.tier!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def behaviours_from_items(items: Iterable[Item], *, tier: str = "restricted") -> list[Behaviour]:
    """One behaviour per distinct ``metadata.behaviour`` among harmful items, in first-seen order.

    Items without that metadata (an items file) are their own behaviour: the
    last user turn is the goal and the item id the behaviour id.
    """
    seen: dict[str, Behaviour] = {}
    for item in items:
        if item.slice not in (None, "harmful"):
            continue
        key = str(item.metadata.get("behaviour") or item.id)
        if key in seen:
            continue
        goal = item.metadata.get("request") or next(
            (m["content"] for m in reversed(item.messages) if m.get("role") == "user"), "")
        harm = item.facets.get("harm", item.category)
        seen[key] = Behaviour(key, str(goal), harm, "withheld" if item.tier == "withheld" else tier)
    return list(seen.values())
