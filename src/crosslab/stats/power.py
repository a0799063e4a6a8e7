"""Planning: how many rollouts a question needs before it is asked.

Three questions come up when a protocol is agreed: how many rollouts to see a rare
behaviour at least once, how many samples per target to detect a given difference,
and what a clean run of n rollouts rules out.
"""

from __future__ import annotations

import math
import numbers

from scipy.stats import norm

from crosslab.stats.intervals import check_level, rare_event_bound


def _probability(name: str, value: float, *, closed_low: bool = False, closed_high: bool = False) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or math.isnan(value):
        raise ValueError(f"{name} must be a number, got {value!r}")
    ok_low = value >= 0 if closed_low else value > 0
    ok_high = value <= 1 if closed_high else value < 1
    if not (ok_low and ok_high):
        lo, hi = "[" if closed_low else "(", "]" if closed_high else ")"
        raise ValueError(f"{name} must lie in {lo}0, 1{hi}, got {value!r}")
    return float(value)


def rollouts_to_observe(rate: float, power: float = 0.8) -> int:
    """Smallest n with P(at least one event in n rollouts) = 1 - (1 - rate)^n >= power."""
    rate = _probability("rate", rate, closed_high=True)
    power = _probability("power", power)
    if rate == 1.0:
        return 1
    n = max(1, math.ceil(math.log1p(-power) / math.log1p(-rate)))
    # guard the ceiling against rounding in the logarithms
    while -math.expm1(n * math.log1p(-rate)) < power:
        n += 1
    while n > 1 and -math.expm1((n - 1) * math.log1p(-rate)) >= power:
        n -= 1
    return n


def samples_to_detect_difference(rate_a: float, rate_b: float, *, alpha: float = 0.05,
                                 power: float = 0.8) -> int:
    """Samples per target for a two-sided test of two independent proportions (Cohen's h).

    h = 2 asin(sqrt(p_a)) - 2 asin(sqrt(p_b)). Each arcsine-transformed rate has variance
    1/n, so their difference has 2/n: n = 2 ((z_{1-alpha/2} + z_power) / h)^2, rounded up
    (the same as statsmodels' NormalIndPower with ratio 1). Paired designs (same items for
    both targets) usually need fewer; this is the safe side.
    """
    rate_a = _probability("rate_a", rate_a, closed_low=True, closed_high=True)
    rate_b = _probability("rate_b", rate_b, closed_low=True, closed_high=True)
    alpha = _probability("alpha", alpha)
    power = _probability("power", power)
    h = abs(2 * math.asin(math.sqrt(rate_a)) - 2 * math.asin(math.sqrt(rate_b)))
    if h == 0:
        raise ValueError("rate_a and rate_b are equal: there is no difference to detect")
    z = float(norm.ppf(1 - alpha / 2) + norm.ppf(power))
    if z <= 0:
        raise ValueError(f"power ({power}) must exceed alpha / 2 ({alpha / 2})")
    return math.ceil(2 * (z / h) ** 2)


def detectable_rate_upper_bound(n: int, level: float = 0.95) -> float:
    """The rate that 0 events in n rollouts rules out at this level: 1 - (1 - level)^(1/n)."""
    return rare_event_bound(0, n, check_level(level)).upper
