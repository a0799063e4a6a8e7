"""The plan: every (item, epoch) a run must execute, with stable ids.

A sample id is the SHA-256 of the canonical JSON of [item id, variant, epoch,
target digest], so the same protocol and target always give the same plan, on
any machine, in any shard. That is what makes runs resumable and mergeable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crosslab.core.canonical import digest
from crosslab.items.item import Item


@dataclass(frozen=True, slots=True)
class Sample:
    id: str
    item: Item
    variant: str
    epoch: int


#: The variant of every planned sample (items are not varied at run time).
NO_VARIANT = ""


def sample_id(item_id: str, variant: str, epoch: int, target_digest: str) -> str:
    return digest([item_id, variant, epoch, target_digest])


def make_plan(items: Sequence[Item], target_digest: str, *, epochs: int = 1) -> list[Sample]:
    """Items × epochs, in a fixed order (epoch-major, so early results cover every item).

    Every sample has variant ``""``: no caller makes variants yet, but the field
    stays in the sample id so a later variant (e.g. a paraphrase) gets ids of its own
    while today's ids stay what they are.
    """
    if epochs < 1:
        raise ValueError("epochs must be at least 1")
    return [
        Sample(sample_id(item.id, NO_VARIANT, epoch, target_digest), item, NO_VARIANT, epoch)
        for epoch in range(1, epochs + 1)
        for item in items
    ]
