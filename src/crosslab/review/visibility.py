"""What a reviewer may read: an item's text only when the item's tier is at or below the reviewer's.

Tiers are the items' own (``public`` < ``restricted`` < ``withheld``). A
reviewer cleared for ``public`` (anyone) sees public items only; a partner
lab's reviewer is cleared for ``restricted`` (what the protocol discloses to
partners); the evaluating lab's own staff for ``withheld``. A row above the
reviewer's tier still appears, so every flagged verdict is counted, but shows
only ids and labels: no prompt, response or evidence.
"""

from __future__ import annotations

from typing import get_args

from crosslab.items.item import Tier
from crosslab.review.errors import ReviewError

TIERS: tuple[str, ...] = get_args(Tier)
WITHHELD_TEXT = "[withheld: above the reviewer's tier]"


def check_tier(tier: str) -> str:
    if tier not in TIERS:
        raise ReviewError(f"unknown reviewer tier {tier!r} (tiers: {', '.join(TIERS)})")
    return tier


def may_read(item_tier: str, reviewer_tier: str) -> bool:
    """True when a reviewer cleared for ``reviewer_tier`` may read an item of ``item_tier``.

    An unknown item tier is never readable: a typo must not publish text.
    """
    check_tier(reviewer_tier)
    return item_tier in TIERS and TIERS.index(item_tier) <= TIERS.index(reviewer_tier)
