"""The one shape every suite-specific metric takes, so reports and verifiers read them alike.

A metric row is plain JSON: ``{"metric", "group", "n", "k"?, "estimate", "low",
"high", "method"}``. ``group`` names the breakdown (``{"slice": "extraction"}``,
``{"transform": "base64", "harm": "cyber"}``, ``{}`` for overall). Numbers are
rounded to 6 places so the same outcomes always give byte-identical JSON:
a bundle verifier recomputes these rows from stubs and compares bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crosslab.core.outcome import Outcome, unscored
from crosslab.stats.intervals import wilson


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def rate_row(metric: str, k: int, n: int, group: dict[str, str] | None = None) -> dict[str, Any]:
    """A proportion k/n with a 95 % Wilson interval (estimate None when n is 0)."""
    row: dict[str, Any] = {"metric": metric, "group": dict(group or {}), "n": n, "k": k,
                           "estimate": None, "low": None, "high": None, "method": "wilson"}
    if n:
        iv = wilson(k, n)
        row.update(estimate=_r(iv.estimate), low=_r(iv.low), high=_r(iv.high))
    return row


def value_row(metric: str, value: float | None, n: int, group: dict[str, str] | None = None, *,
              low: float | None = None, high: float | None = None, method: str = "point",
              **extra: Any) -> dict[str, Any]:
    """Any other number (ECE, Brier, an accuracy gap, a p-value), with an interval when there is one."""
    row: dict[str, Any] = {"metric": metric, "group": dict(group or {}), "n": n,
                           "estimate": _r(value), "low": _r(low), "high": _r(high), "method": method}
    row.update({k: _r(v) if isinstance(v, float) else v for k, v in extra.items()})
    return row


def unscored_rows(outcomes: Sequence[Outcome], group: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """``unscored``: answered samples whose judge reply did not parse, over answered samples; no row when none.

    They enter no other rate (``core.outcome.graded``), so this row is where they are counted.
    """
    k = unscored(outcomes)
    if not k:
        return []
    return [rate_row("unscored", k, sum(o["status"] == "ok" for o in outcomes), group)]
