"""Outcomes: one stub-shaped row per sample (``crosslab.core.outcome.Outcome``), read from a journal.

A bundle's stubs and a journal give the same rows, so a suite's metrics are
computed by one function whether a run just finished or a buyer is verifying
a published bundle. A run's signed adjudications (docs/review.md) are applied
here, so every consumer sees the reviewed label and score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crosslab.core.outcome import Outcome, by_category, verdict_score
from crosslab.engine.journal import Journal
from crosslab.review.apply import reviewed_verdicts
from crosslab.suites.registry import metrics_by_category

__all__ = ["outcome_of", "outcomes_from_journal", "reviewed_verdicts", "suite_metrics"]


def outcome_of(record: dict[str, Any], verdict: dict[str, Any] | None) -> Outcome:
    return {"category": record["category"], "slice": record["slice"], "tier": record["tier"],
            "facets": dict(record.get("facets") or {}), "status": record["status"],
            "label": verdict["label"] if verdict else None,
            "score": verdict_score(verdict),
            "values": dict((verdict or {}).get("values") or {})}


def outcomes_from_journal(journal: Journal) -> list[Outcome]:
    """One row per record (errors included, with no label); the first verdict of each sample, as adjudicated."""
    verdicts = reviewed_verdicts(journal)
    rows = []
    for record in journal.records():
        found = list(verdicts.get(record["sample_id"], {}).values())
        rows.append(outcome_of(record, found[0] if found and record["status"] == "ok" else None))
    return rows


def suite_metrics(outcomes: Sequence[Outcome]) -> dict[str, list[dict[str, Any]]]:
    """Each present category's suite-specific metric rows (categories without a suite are skipped)."""
    functions = metrics_by_category()
    return {c: functions[c](rows) for c, rows in sorted(by_category(outcomes).items()) if c in functions}
