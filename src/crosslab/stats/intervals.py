"""Confidence intervals for a proportion k/n, and the one-sided bound for rare events.

Wilson is the default for reported rates: it stays inside [0, 1] and its coverage is
close to nominal even for small n or rates near 0 and 1, where the textbook Wald
interval fails. Clopper-Pearson is the exact (conservative) alternative; its
one-sided form gives the "0/300, ≤ 1.0 %" bound for behaviours never observed.
"""

from __future__ import annotations

import math
import numbers
import operator
from dataclasses import asdict, dataclass
from typing import Any

from scipy.stats import beta, norm


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided interval, and the method that produced it."""

    estimate: float
    low: float
    high: float
    level: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RareEventBound:
    """An exact one-sided upper bound on a rate after k events in n trials."""

    k: int
    n: int
    upper: float
    level: float

    def __str__(self) -> str:
        return f"{self.k}/{self.n}, ≤ {100 * self.upper:.1f} % ({format_level(self.level)} %)"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "text": str(self)}


def format_level(level: float) -> str:
    """0.95 -> '95', 0.999 -> '99.9' (no float noise such as 95.00000000000001)."""
    return f"{round(100 * level, 6):g}"


def check_level(level: float) -> float:
    if not isinstance(level, numbers.Real) or isinstance(level, bool) or not 0.0 < level < 1.0:
        raise ValueError(f"level must be a number strictly between 0 and 1, got {level!r}")
    return float(level)


def check_counts(k: int, n: int) -> tuple[int, int]:
    """Counts must be integers with 0 <= k <= n and n > 0 (bools and floats are refused)."""
    try:
        if isinstance(k, bool) or isinstance(n, bool):
            raise TypeError
        k, n = operator.index(k), operator.index(n)
    except TypeError:
        raise ValueError(f"k and n must be integers, got k={k!r}, n={n!r}") from None
    if n <= 0:
        raise ValueError(f"n must be positive, got n={n}")
    if k < 0 or k > n:
        raise ValueError(f"k must satisfy 0 <= k <= n, got k={k}, n={n}")
    return k, n


def wilson(k: int, n: int, level: float = 0.95) -> Interval:
    """Wilson score interval: invert the score test, so the interval never leaves [0, 1]."""
    k, n = check_counts(k, n)
    level = check_level(level)
    z = float(norm.ppf(0.5 + level / 2))
    p = k / n
    z2n = z * z / n
    centre = (p + z2n / 2) / (1 + z2n)
    half = z * math.sqrt(p * (1 - p) / n + z2n / (4 * n)) / (1 + z2n)
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return Interval(p, low, high, level, "Wilson score")


def clopper_pearson(k: int, n: int, level: float = 0.95) -> Interval:
    """Clopper-Pearson exact interval: guaranteed coverage >= level, at the price of width."""
    k, n = check_counts(k, n)
    level = check_level(level)
    tail = (1 - level) / 2
    low = 0.0 if k == 0 else float(beta.ppf(tail, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - tail, k + 1, n - k))
    return Interval(k / n, low, high, level, "Clopper-Pearson exact")


def rare_event_bound(k: int, n: int, level: float = 0.95) -> RareEventBound:
    """One-sided exact upper bound: rates above it would make k or fewer events unlikely.

    For k = 0 this is 1 - (1 - level)^(1/n) (about 3/n at 95 %, the "rule of three").
    """
    k, n = check_counts(k, n)
    level = check_level(level)
    if k == n:
        upper = 1.0
    elif k == 0:
        upper = -math.expm1(math.log1p(-level) / n)
    else:
        upper = float(beta.ppf(level, k + 1, n - k))
    return RareEventBound(k, n, upper, level)
