"""What the review stage reads of one run: who it is, its records with their SHA-256, items and verdicts.

Read once from the journal, so export, import and loading adjudications all
check rows against the same snapshot. Verdicts here are the graders' own,
before any adjudication.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crosslab.core.canonical import canonical_json, sha256_hex
from crosslab.engine.journal import Journal
from crosslab.items.item import Item
from crosslab.review.statement import RunRef


@dataclass(frozen=True)
class RunView:
    run_dir: Path
    ref: RunRef
    records: dict[str, dict[str, Any]]  # sample id -> journal record, in journal order
    sha256: dict[str, str]  # sample id -> SHA-256 of the record's canonical JSON (what the journal stores)
    items: dict[str, Item]
    verdicts: dict[str, dict[str, dict[str, Any]]]  # sample id -> grader -> verdict

    @classmethod
    def of(cls, journal: Journal, verdicts: dict[str, dict[str, dict[str, Any]]] | None = None) -> RunView:
        meta = journal.meta()
        records = {r["sample_id"]: r for r in journal.records()}
        return cls(run_dir=journal.path.parent,
                   ref=RunRef(run_id=meta["run_id"], items_digest=meta["items_digest"],
                              target_digest=meta["target_digest"]),
                   records=records, sha256={sid: sha256_hex(canonical_json(r)) for sid, r in records.items()},
                   items={i.id: i for i in journal.items()},
                   verdicts=journal.verdicts() if verdicts is None else verdicts)
