"""Verdicts as adjudicated: the reviewed label and score replace the grader's, which is kept beside them.

An adjudicated verdict keeps the grader's name, version, evidence and values
(values are measurements, e.g. a judge's score, not labels) and gains an
``adjudication`` field::

    {"digest": <adjudication digest>, "lab": <reviewing lab>, "reviewer": <id>,
     "note": <reviewer's note>, "original": <the grader's verdict, unchanged>}

so every consumer (outcomes, summaries, bundle disclosures) shows the
reviewed result and can still say who changed it, from what, and under which
signed file. A confirmation (same label) is recorded the same way; it counts
as reviewed, not overridden.
"""

from __future__ import annotations

from typing import Any

from crosslab.engine.journal import Journal
from crosslab.review.runview import RunView
from crosslab.review.statement import Row
from crosslab.review.store import Adjudication, has_adjudications, load_adjudications

FIELD = "adjudication"


def adjudicated(verdict: dict[str, Any], row: Row, adj: Adjudication) -> dict[str, Any]:
    return {**verdict, "label": row.review_label, "score": row.review_score,
            FIELD: {"digest": adj.digest, "lab": adj.statement.lab, "reviewer": adj.statement.reviewer,
                    "note": row.note, "original": verdict}}


def apply_adjudications(view: RunView, adjudications: list[Adjudication]) -> dict[str, dict[str, dict[str, Any]]]:
    """The run's verdicts (sample id -> grader -> verdict) with ``adjudications`` applied."""
    out = {sid: dict(by_grader) for sid, by_grader in view.verdicts.items()}
    for adj in adjudications:
        for row in adj.statement.rows:
            out[row.sample_id][row.grader] = adjudicated(view.verdicts[row.sample_id][row.grader], row, adj)
    return out


def reviewed_verdicts(journal: Journal) -> dict[str, dict[str, dict[str, Any]]]:
    """``journal.verdicts()`` with the run directory's adjudications verified and applied."""
    if not has_adjudications(journal.path.parent):
        return journal.verdicts()  # the common case: no transcript needs reading or hashing
    view = RunView.of(journal)
    return apply_adjudications(view, load_adjudications(view))


def is_override(verdict: dict[str, Any]) -> bool:
    """True when an adjudication changed the verdict's label (not a confirmation)."""
    review = verdict.get(FIELD)
    return bool(review) and review["original"]["label"] != verdict["label"]
