"""The grading stage: read a journal's records, write one verdict per graded sample.

It reads only the journal (items and records), so a run can be re-graded at
any time without calling a model. Error samples get no verdict; summaries count
them as errors, never as passes or fails.
"""

from __future__ import annotations

from typing import Any

from crosslab.engine.journal import Journal
from crosslab.grading.includes import grade_includes
from crosslab.grading.transcript import final_answer
from crosslab.grading.verdict import Verdict
from crosslab.items.item import Item
from crosslab.suites.registry import GraderFn, all_graders


def _grade_includes(item: Item, record: dict[str, Any]) -> Verdict:
    spec = item.grading
    # older items files and journals name the expected answer "target"
    return grade_includes(final_answer(record), spec["expected"] if "expected" in spec else spec["target"])


def graders() -> dict[str, GraderFn]:
    """The built-in ``includes`` check plus every suite's graders, by grading type."""
    return {"includes": _grade_includes, **all_graders()}


def grade_record(item: Item, record: dict[str, Any], table: dict[str, GraderFn] | None = None) -> Verdict | None:
    kind = item.grading.get("type")
    if kind is None:
        return None
    table = graders() if table is None else table
    if kind not in table:
        raise ValueError(f"item {item.id}: unknown grading type {kind!r}")
    return table[kind](item, record)


def grade_journal(journal: Journal) -> int:
    """Grade every ok record; returns how many verdicts were written."""
    items = {i.id: i for i in journal.items()}
    table = graders()
    rows = []
    for record in journal.records():
        if record["status"] != "ok":
            continue
        verdict = grade_record(items[record["item_id"]], record, table)
        if verdict is not None:
            rows.append((record["sample_id"], verdict.grader, verdict.to_dict()))
    journal.write_verdicts(rows)
    return len(rows)
