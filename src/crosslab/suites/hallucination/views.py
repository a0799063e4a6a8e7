"""The hallucination suite's report view: how graded answers split between outcomes (a stacked bar spec)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from crosslab.core.outcome import Outcome

#: Outcomes that are neither right nor a hallucination.
NEUTRAL = ("not_attempted", "abstain")


def outcome_bars(outcomes: Sequence[Outcome], rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    counts = Counter(o["label"] for o in outcomes if o["label"] is not None)
    if not counts:
        return None
    good = {o["label"] for o in outcomes if o["label"] is not None and o["score"] == 1.0}
    labels = sorted(counts, key=lambda lab: (lab not in good, lab in ("incorrect", "answer"), lab))
    order = [[lab, "good" if lab in good else "neutral" if lab in NEUTRAL else "bad"] for lab in labels]
    return {"chart": "stacked_bars", "title": "Hallucination: outcomes of graded answers",
            "counts": dict(sorted(counts.items())), "order": order}
