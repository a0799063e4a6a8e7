"""Every metric row of a verified bundle, flattened to one shape that the CSV and EEE writers share.

A bundle's statement holds two kinds of rows: the generic pass rates per
category and slice (part of the bundle format, each with its Wilson interval
and level) and each suite's own rows (``stats.rows``: metric, group, n, k,
estimate, low, high, method). Both come from the verifier's result, the numbers
it recomputed from the stubs and found equal to the signed ones, so an export
carries exactly what ``crosslab verify`` accepted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from crosslab.interop.verified import VerifiedBundle

TIERS = ("public", "restricted", "withheld")


@dataclass(frozen=True)
class MetricRow:
    """One metric row. ``suite`` is empty for the generic pass rates; ``group`` is the row's breakdown."""

    suite: str
    category: str
    metric: str
    group: dict[str, str]
    value: float | None
    low: float | None
    high: float | None
    level: float | None  # stated by the row; None when the row states none
    method: str | None
    n: int
    k: int | None
    tiers: dict[str, int] | None  # the stubs the row counts, by tier; None when its group names no stub field
    counts: dict[str, int] = field(default_factory=dict)  # pass rates: samples, errors, graded, passed

    @property
    def slice(self) -> str:
        """The breakdown as one cell: ``all``, a slice name, or ``key=value;…`` for other groups."""
        if not self.group:
            return "all"
        if set(self.group) == {"slice"}:
            return self.group["slice"]
        return ";".join(f"{k}={v}" for k, v in sorted(self.group.items()))


def direction(bundle: VerifiedBundle) -> str:
    r = bundle.result
    return f"{r.evaluator}->{r.evaluated}/{r.deployment}"


def _tiers(stubs: list[dict[str, Any]], category: str, group: dict[str, str]) -> dict[str, int] | None:
    """Tier counts of the stubs in ``category`` matching ``group`` on slice or facets (None if a key is neither)."""
    chosen = [s for s in stubs if category == "all" or s["category"] == category]
    for key, value in group.items():
        if key == "slice":
            chosen = [s for s in chosen if (s.get("slice") or "all") == value]
        elif any(key in (s.get("facets") or {}) for s in chosen):
            chosen = [s for s in chosen if str((s.get("facets") or {}).get(key)) == value]
        else:
            return None
    counts = Counter(s["tier"] for s in chosen)
    return {t: counts.get(t, 0) for t in TIERS}


def metric_rows(bundle: VerifiedBundle) -> list[MetricRow]:
    """The generic pass-rate rows, then each category's suite rows, in the statement's order."""
    metrics, stubs = bundle.result.metrics, bundle.stubs
    rows = []
    for row in metrics["rows"]:
        rate = row.get("pass_rate") or {}
        group = {} if row["slice"] == "all" else {"slice": row["slice"]}
        rows.append(MetricRow("", row["category"], "pass_rate", group, rate.get("estimate"), rate.get("low"),
                              rate.get("high"), rate.get("level"), rate.get("method"), int(row["graded"]),
                              int(row["passed"]), _tiers(stubs, row["category"], group),
                              {k: int(row[k]) for k in ("samples", "errors", "graded", "passed")}))
    suites = {check.category: check.suite for check in bundle.result.suite_metrics}
    for category, suite_rows in sorted(metrics["suites"].items()):
        suite = suites.get(category, category)
        for row in suite_rows:
            group = {str(k): str(v) for k, v in (row.get("group") or {}).items()}
            rows.append(MetricRow(suite, category, str(row["metric"]), group, row.get("estimate"), row.get("low"),
                                  row.get("high"), row.get("level"), row.get("method"), int(row.get("n") or 0),
                                  row.get("k"), _tiers(stubs, category, group)))
    return rows
