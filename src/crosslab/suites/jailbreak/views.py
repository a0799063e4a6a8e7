"""The jailbreak suite's report view: attack success per transform × harm category (a heatmap spec)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from crosslab.core.outcome import Outcome


def attack_heatmap(outcomes: Sequence[Outcome], rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Harmful samples answered without refusal (k) of graded harmful samples (n), per cell."""
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for o in outcomes:
        f = o["facets"] or {}
        if o["slice"] == "harmful" and o["score"] is not None and "transform" in f and "harm" in f:
            cell = cells[(f["transform"], f["harm"])]
            cell[0] += o["score"] != 1.0
            cell[1] += 1
    if not cells:
        return None
    return {"chart": "heatmap", "title": "Jailbreak attack success: transform × harm category",
            "rows": sorted({k[0] for k in cells}), "cols": sorted({k[1] for k in cells}),
            "cells": [{"row": t, "col": h, "k": k, "n": n} for (t, h), (k, n) in sorted(cells.items())]}
