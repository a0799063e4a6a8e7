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
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # samples, errors, graded, passed
    for stub in stubs:
        status, category = stub["status"], stub["category"]
        graded = status == "ok" and stub["label"] is not None
        passed = graded and stub["score"] == 1.0
        for key in {(category, stub["slice"] or "all"), (category, "all"), ("all", "all")}:
            c = counts[key]
            c[0] += 1
            c[1] += status == "error"
            c[2] += graded
            c[3] += passed
    rows = []
    for (category, slice_), (samples, errors, graded_n, passed_n) in sorted(counts.items()):
        row: dict[str, Any] = {"category": category, "slice": slice_, "samples": samples, "errors": errors,
                               "graded": graded_n, "passed": passed_n, "pass_rate": None}
        if graded_n:
            iv = wilson(passed_n, graded_n)
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
