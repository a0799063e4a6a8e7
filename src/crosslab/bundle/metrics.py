"""Metrics computed from stubs alone, so a verifier can recompute every number.

Both the writer and the verifier call ``metrics_from_stubs``; the verifier
compares the canonical JSON of its result with what the statement claims.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from crosslab.results.outcomes import suite_metrics
from crosslab.stats.intervals import wilson


def metrics_from_stubs(stubs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per (category, slice), per category and overall: samples, errors, graded, passed
    (score 1), pass rate (Wilson); plus each suite's own metric rows under ``suites``."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for stub in stubs:
        for key in {(stub["category"], stub["slice"] or "all"), (stub["category"], "all"), ("all", "all")}:
            groups[key].append(stub)
    rows = []
    for (category, slice_), members in sorted(groups.items()):
        graded = [s for s in members if s["status"] == "ok" and s["label"] is not None]
        passed = sum(1 for s in graded if s["score"] == 1.0)
        row: dict[str, Any] = {"category": category, "slice": slice_, "samples": len(members),
                               "errors": sum(1 for s in members if s["status"] == "error"),
                               "graded": len(graded), "passed": passed, "pass_rate": None}
        if graded:
            iv = wilson(passed, len(graded))
            row["pass_rate"] = {"estimate": round(iv.estimate, 6), "low": round(iv.low, 6),
                                "high": round(iv.high, 6), "level": iv.level, "method": iv.method}
        rows.append(row)
    return {"rows": rows, "suites": suite_metrics(stubs)}


def counts_from_stubs(stubs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    by_tier = Counter(s["tier"] for s in stubs)
    by_category: dict[str, Counter[str]] = defaultdict(Counter)
    for s in stubs:
        by_category[s["category"]][s["tier"]] += 1
    return {"stubs": len(stubs), "by_tier": dict(sorted(by_tier.items())),
            "by_category": {c: dict(sorted(t.items())) for c, t in sorted(by_category.items())}}
