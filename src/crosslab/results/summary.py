"""Per-category and per-slice counts and pass rates, from a graded journal.

Every row says how many samples errored: an error is neither a pass nor a
fail, and a rate is computed over graded samples only. Verdicts are counted
as adjudicated (docs/review.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crosslab.engine.journal import Journal
from crosslab.review.apply import reviewed_verdicts
from crosslab.results.costs import Price, cost_usd


@dataclass
class Row:
    category: str
    slice: str | None
    samples: int = 0
    errors: int = 0
    graded: int = 0
    passed: int = 0

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.graded if self.graded else None

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "slice": self.slice, "samples": self.samples,
                "errors": self.errors, "graded": self.graded, "passed": self.passed,
                "pass_rate": self.pass_rate}


@dataclass
class RunSummary:
    rows: list[Row]
    total: Row
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    cached_calls: int = 0
    cost_usd: float | None = None
    error_kinds: dict[str, int] = field(default_factory=dict)
    #: How the run called the API: requests sent, refused (429), pace (engine/runner.py)
    pacing: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"rows": [r.to_dict() for r in self.rows], "total": self.total.to_dict(),
                "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "calls": self.calls, "cached_calls": self.cached_calls, "cost_usd": self.cost_usd,
                "error_kinds": self.error_kinds, "pacing": self.pacing}


def summarize(journal: Journal, target_label: str, prices: dict[str, Price]) -> RunSummary:
    verdicts = reviewed_verdicts(journal)
    rows: dict[tuple[str, str | None], Row] = {}
    total = Row("all", None)
    summary = RunSummary([], total, pacing=journal.meta().get("pacing"))
    for record in journal.records():
        key = (record["category"], record["slice"])
        row = rows.setdefault(key, Row(*key))
        stats = record["stats"]
        summary.input_tokens += stats["usage"]["input_tokens"]
        summary.output_tokens += stats["usage"]["output_tokens"]
        summary.calls += stats["calls"]
        summary.cached_calls += stats["cached_calls"]
        for r in (row, total):
            r.samples += 1
        if record["status"] == "error":
            kind = record["error"]["kind"]
            summary.error_kinds[kind] = summary.error_kinds.get(kind, 0) + 1
            for r in (row, total):
                r.errors += 1
            continue
        for verdict in verdicts.get(record["sample_id"], {}).values():
            if verdict.get("score") is None:  # an unscored judge reply: counted by the suites, never graded
                continue
            for r in (row, total):
                r.graded += 1
                r.passed += verdict["score"] == 1.0
    summary.rows = sorted(rows.values(), key=lambda r: (r.category, r.slice or ""))
    summary.cost_usd = cost_usd(target_label, summary.input_tokens, summary.output_tokens, prices)
    return summary
