"""Paired comparison of two targets on the same items, one binary outcome per item.

Only items where A and B disagree carry information about which is better: the
exact McNemar test asks whether those disagreements split evenly. The interval for
the difference is Newcombe's hybrid score interval for paired proportions (method 10
of Newcombe 1998), built from the two Wilson intervals and the observed correlation
between A's and B's outcomes.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence

import numpy as np
from scipy.stats import binom

from crosslab.stats.bootstrap import Difference
from crosslab.stats.intervals import check_level, wilson


def _check_count(name: str, value: int) -> int:
    try:
        if isinstance(value, (bool, np.bool_)):
            raise TypeError
        count = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}") from None
    if count < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {count}")
    return count


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for discordant counts b (A pass, B fail) and c (A fail, B pass).

    Under "no difference" each discordant pair is a fair coin, so this is a two-sided
    binomial test of b out of b + c at p = 1/2.
    """
    b, c = _check_count("b", b), _check_count("c", c)
    n = b + c
    if n == 0:
        return 1.0
    return min(1.0, 2.0 * float(binom.cdf(min(b, c), n, 0.5)))


def _as_bools(name: str, values: Sequence[bool]) -> list[bool]:
    out = []
    for v in values:
        if v not in (0, 1):  # True/False, 0/1, 0.0/1.0
            raise ValueError(f"{name} must hold booleans (or 0/1), got {v!r}")
        out.append(bool(v))
    return out


def _phi(both: int, only_a: int, only_b: int, neither: int) -> float:
    """Correlation of A and B outcomes, continuity-corrected as Newcombe's method 10 does."""
    n = both + only_a + only_b + neither
    margins = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    if margins == 0:
        return 0.0
    cross = both * neither - only_a * only_b
    if cross > n / 2:
        return (cross - n / 2) / math.sqrt(margins)
    if cross >= 0:
        return 0.0
    return cross / math.sqrt(margins)


def paired_binary(a: Sequence[bool], b: Sequence[bool], level: float = 0.95) -> Difference:
    """Difference in pass rates, A - B, for aligned pairs with one binary outcome each."""
    xa, xb = _as_bools("a", a), _as_bools("b", b)
    if len(xa) != len(xb):
        raise ValueError(f"a and b must have the same length, got {len(xa)} and {len(xb)}")
    if not xa:
        raise ValueError("a and b are empty")
    level = check_level(level)
    n = len(xa)
    both = sum(1 for u, v in zip(xa, xb, strict=True) if u and v)
    only_a = sum(1 for u, v in zip(xa, xb, strict=True) if u and not v)
    only_b = sum(1 for u, v in zip(xa, xb, strict=True) if v and not u)
    neither = n - both - only_a - only_b
    ia, ib = wilson(both + only_a, n, level), wilson(both + only_b, n, level)
    d = ia.estimate - ib.estimate
    phi = _phi(both, only_a, only_b, neither)
    below_a, above_a = ia.estimate - ia.low, ia.high - ia.estimate
    below_b, above_b = ib.estimate - ib.low, ib.high - ib.estimate
    low = d - math.sqrt(max(0.0, below_a**2 - 2 * phi * below_a * above_b + above_b**2))
    high = d + math.sqrt(max(0.0, above_a**2 - 2 * phi * above_a * below_b + below_b**2))
    method = "Newcombe hybrid score (paired, method 10); exact McNemar p"
    return Difference(d, max(-1.0, low), min(1.0, high), level, mcnemar_exact(only_a, only_b), method, n)
