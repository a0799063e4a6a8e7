"""How many verdicts people adjudicated, and overrode, per category: what bundles and reports count.

An override is an adjudication that changed the label; a confirmation (same
label) is reviewed but not overridden. Counted over every verdict of ok
samples (all graders), from the run's signed adjudications.
"""

from __future__ import annotations

from typing import Any

from crosslab.engine.journal import Journal
from crosslab.review.apply import FIELD, is_override, reviewed_verdicts
from crosslab.review.runview import RunView
from crosslab.review.store import has_adjudications, load_adjudications


def review_counts(journal: Journal) -> dict[str, dict[str, int]]:
    """{category: {"verdicts", "reviewed", "overridden"}} for every category with a verdict, sorted."""
    verdicts = reviewed_verdicts(journal)
    counts: dict[str, dict[str, int]] = {}
    for record in journal.records():
        if record["status"] != "ok":
            continue
        for verdict in verdicts.get(record["sample_id"], {}).values():
            row = counts.setdefault(record["category"], {"verdicts": 0, "reviewed": 0, "overridden": 0})
            row["verdicts"] += 1
            row["reviewed"] += FIELD in verdict
            row["overridden"] += is_override(verdict)
    return dict(sorted(counts.items()))


def overrides_by_category(journal: Journal) -> dict[str, int]:
    """{category: verdicts whose label an adjudication changed}, 0 included, for every graded category."""
    return {category: row["overridden"] for category, row in review_counts(journal).items()}


def adjudication_sources(journal: Journal) -> list[dict[str, Any]]:
    """Each verified adjudication of the run: {"digest", "lab", "reviewer", "created_at", "rows"}, oldest first."""
    if not has_adjudications(journal.path.parent):
        return []
    return [{"digest": a.digest, "lab": a.statement.lab, "reviewer": a.statement.reviewer,
             "created_at": a.statement.created_at, "rows": len(a.statement.rows)}
            for a in load_adjudications(RunView.of(journal))]
