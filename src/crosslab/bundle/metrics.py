"""Metrics computed from stubs alone, so a verifier can recompute every number.

The generic part (counts, and pass rates per category and slice) is defined
here and is part of the bundle format. Suite-specific metrics are defined by
each suite; a bundle names the definition it used (suite, metrics version,
crosslab version), and a verifier re-checks them only with the same definition
(``MetricDefinition``), handed in by whoever knows the installed suites.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from crosslab.attest import merkle
from crosslab.core.outcome import Outcome, by_category
from crosslab.core.outcome import graded as is_graded  # one definition for runs, bundles and verifiers
from crosslab.stats.intervals import wilson

#: outcome rows -> a suite's metric rows (crosslab.stats.rows).
MetricsFn = Callable[[Sequence[Outcome]], list[dict[str, Any]]]


@dataclass(frozen=True)
class MetricDefinition:
    """One suite's metric function at a version; the same version must give the same rows forever."""

    suite: str
    category: str
    version: int
    crosslab_version: str
    compute: MetricsFn

    def declaration(self) -> dict[str, Any]:
        """What a bundle's statement records about the definition it used."""
        return {"suite": self.suite, "metrics_version": self.version, "crosslab_version": self.crosslab_version}


def pass_rate_rows(stubs: Sequence[Outcome]) -> list[dict[str, Any]]:
    """Per (category, slice), per category and overall: samples, errors, graded, passed (score 1), and
    the pass rate with its Wilson interval."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # samples, errors, graded, passed
    for stub in stubs:
        status, category = stub["status"], stub["category"]
        graded = is_graded(stub)  # ok, labelled and scored: an unscored judge reply is not graded
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
    return rows


def suite_rows(stubs: Sequence[Outcome], definitions: dict[str, MetricDefinition]) -> dict[str, list[dict[str, Any]]]:
    """Each present category's suite metric rows, for the categories ``definitions`` cover."""
    grouped = by_category(stubs)
    return {c: definitions[c].compute(rows) for c, rows in sorted(grouped.items()) if c in definitions}


def metrics_from_stubs(stubs: Sequence[Outcome], definitions: dict[str, MetricDefinition]) -> dict[str, Any]:
    """The statement's ``metrics``: generic pass-rate rows, plus suite rows under ``suites``."""
    return {"rows": pass_rate_rows(stubs), "suites": suite_rows(stubs, definitions)}


def counts_from_stubs(stubs: Sequence[Outcome]) -> dict[str, Any]:
    by_tier = Counter(s["tier"] for s in stubs)
    grouped: dict[str, Counter[str]] = defaultdict(Counter)
    for s in stubs:
        grouped[s["category"]][s["tier"]] += 1
    return {"stubs": len(stubs), "by_tier": dict(sorted(by_tier.items())),
            "by_category": {c: dict(sorted(t.items())) for c, t in sorted(grouped.items())}}


def stub_claims(stubs: Sequence[Outcome], lines: Sequence[bytes],
                definitions: dict[str, MetricDefinition]) -> dict[str, Any]:
    """The statement fields that follow from the stubs alone, so a verifier recomputes every one of them:
    their count and Merkle root, the counts, the metrics, and the metric definitions they were made with."""
    metrics = metrics_from_stubs(stubs, definitions)
    return {
        "stubs": {"count": len(lines), "merkle_root": merkle.root(list(lines)).hex(),
                  "tree": "RFC 6962 over the lines of items.jsonl without their newline"},
        "counts": counts_from_stubs(stubs),
        "metrics": metrics,
        "suite_metrics": {c: definitions[c].declaration() for c in metrics["suites"]},
    }
