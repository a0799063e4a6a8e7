"""All items of the suite, interleaved slice by slice so ``--limit N`` samples every slice."""

from __future__ import annotations

from itertools import zip_longest

from crosslab.suites.instruction_hierarchy import conflict, extraction, injection
from crosslab.items.item import Item


def build() -> list[Item]:
    slices = [extraction.items(), conflict.items(), injection.items()]
    out = [item for group in zip_longest(*slices) for item in group if item is not None]
    ids = [i.id for i in out]
    if len(set(ids)) != len(ids):
        raise ValueError("instruction_hierarchy: duplicate item ids")
    return out
