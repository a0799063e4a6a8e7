"""Canary tokens: a marker every restricted or withheld sample carries.

The token is derived from the item id, so it needs no storage and any copy of
the item's journal record, restricted disclosure or data carries it. Public
items never carry one, so *any* canary found in a public artifact means
restricted or withheld material was pasted there; the leak scan looks for
the pattern, not a list.
"""

from __future__ import annotations

import hashlib
import re

PREFIX = "crosslab-canary-"
PATTERN = re.compile(re.escape(PREFIX) + r"[0-9a-f]{24}", re.IGNORECASE)


def canary_for(item_id: str) -> str:
    return PREFIX + hashlib.sha256(b"crosslab canary\x00" + item_id.encode()).hexdigest()[:24]


def needs_canary(tier: str) -> bool:
    return tier != "public"
