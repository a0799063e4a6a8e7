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


class GradeAsJournaled:
    """Grades each ok record by the rules the moment it is journaled, while the run waits on the network.

    The record is in memory then, so the grading stage after execution only
    reads the records an earlier session wrote (``grade_journal``'s
    ``graded``). A record whose grader fails is left for that stage, which
    raises the error where the run can report it.
    """

    def __init__(self, items: list[Item]) -> None:
        self._items = {i.id: i for i in items}
        self._table = graders()
        self.rows: list[tuple[str, str, dict[str, Any]]] = []
        self.graded: set[str] = set()

    def __call__(self, record: dict[str, Any]) -> None:
        if record["status"] != "ok":
            return
        try:
            verdict = grade_record(self._items[record["item_id"]], record, self._table)
        except Exception:  # noqa: BLE001 - graded again after execution, where the error surfaces
            return
        if verdict is not None:
            self.rows.append((record["sample_id"], verdict.grader, verdict.to_dict()))
        self.graded.add(record["sample_id"])


def grade_journal(journal: Journal, graded: GradeAsJournaled | None = None) -> int:
    """Grade every ok record (those in ``graded`` already are); returns how many verdicts were written."""
    rows = list(graded.rows) if graded else []
    left = [r for r in journal.records(skip=graded.graded if graded else set()) if r["status"] == "ok"]
    items = {i.id: i for i in journal.items()} if left else {}  # parsing every item costs more than grading
    table = graders()
    for record in left:
        verdict = grade_record(items[record["item_id"]], record, table)
        if verdict is not None:
            rows.append((record["sample_id"], verdict.grader, verdict.to_dict()))
    journal.write_verdicts(rows)
    return len(rows)
