"""The scheming suite's report view: each family's rates with their Wilson intervals (an interval spec)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crosslab.core.outcome import Outcome


def family_rates(outcomes: Sequence[Outcome], rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    rates = [m for m in rows if m.get("method") == "wilson"]
    if not rates:
        return None
    group = lambda g: " ".join(f"{k}={v}" for k, v in g.items()) or "all"  # noqa: E731
    return {"chart": "intervals", "title": "Scheming: rates per family (95% Wilson)",
            "rows": [{"label": f"{m['metric']} {group(m['group'])}"[:40], "estimate": m["estimate"],
                      "low": m["low"], "high": m["high"], "note": f"{m.get('k', '?')}/{m['n']}"} for m in rates]}
