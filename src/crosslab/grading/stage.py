"""The grading stage: read a journal's records, write one verdict per graded sample.

It reads only the journal (items and records), so a run can be re-graded at
any time without calling a model. Error samples get no verdict; summaries count
them as errors, never as passes or fails.
"""

from __future__ import annotations

from typing import Any

from crosslab.engine.journal import Journal
from crosslab.grading.includes import grade_includes
from crosslab.grading.verdict import Verdict
from crosslab.suites.item import Item


def final_answer(record: dict[str, Any]) -> str:
    for message in reversed(record["messages"]):
        if message["role"] == "assistant":
            return message.get("content") or ""
    return ""


def grade_record(item: Item, record: dict[str, Any]) -> Verdict | None:
    spec = item.grading
    kind = spec.get("type")
    if kind is None:
        return None
    if kind == "includes":
        return grade_includes(final_answer(record), spec["target"])
    raise ValueError(f"item {item.id}: unknown grading type {kind!r}")


def grade_journal(journal: Journal) -> int:
    """Grade every ok record; returns how many verdicts were written."""
    items = {i.id: i for i in journal.items()}
    rows = []
    for record in journal.records():
        if record["status"] != "ok":
            continue
        verdict = grade_record(items[record["item_id"]], record)
        if verdict is not None:
            rows.append((record["sample_id"], verdict.grader, verdict.to_dict()))
    journal.write_verdicts(rows)
    return len(rows)
