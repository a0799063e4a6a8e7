"""Adjusting p-values when one comparison tests many rows at once.

With 20 categories and no real difference anywhere, about one row would still look
"significant" at 5 %. Holm controls the chance of *any* false "better/worse" across
the rows (family-wise error); Benjamini-Hochberg controls the expected *share* of
false ones among the rows called (false discovery rate) and so calls more rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal


def _checked(p_values: Sequence[float]) -> list[float]:
    ps = [float(p) for p in p_values]
    for p in ps:
        if math.isnan(p) or not 0.0 <= p <= 1.0:
            raise ValueError(f"p-values must lie in [0, 1], got {p!r}")
    return ps


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down: the i-th smallest p is multiplied by (m - i + 1), then made non-decreasing."""
    ps = _checked(p_values)
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * ps[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg step-up: p_(i) * m / i, made non-decreasing from the largest down."""
    ps = _checked(p_values)
    m = len(ps)
    order = sorted(range(m), key=lambda i: ps[i])
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m - 1, -1, -1):
        i = order[rank]
        running = min(running, ps[i] * m / (rank + 1))
        adjusted[i] = running
    return adjusted


def adjust(p_values: Sequence[float], method: Literal["holm", "bh"]) -> list[float]:
    """Adjusted p-values in input order; compare them with alpha as you would raw ones."""
    if method == "holm":
        return holm(p_values)
    if method == "bh":
        return benjamini_hochberg(p_values)
    raise ValueError(f"unknown correction {method!r}: use 'holm' or 'bh'")
