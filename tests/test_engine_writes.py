"""Journal writes grouped per loop turn (engine/writes.py) and grading as records are journaled (run/grade.py)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from crosslab.engine.journal import Journal
from crosslab.engine.writes import TurnWriter
from crosslab.items.item import Item
from crosslab.run.grade import GradeAsJournaled, grade_journal

ITEMS = [Item.model_validate({"id": f"q{i}", "input": "say the word", "grading": {"type": "includes",
                                                                               "expected": f"w{i}"}})
         for i in range(6)]


def record(i: int, status: str = "ok", answer: str | None = None) -> dict:
    text = f"the word is w{i}" if answer is None else answer
    return {"sample_id": f"s{i}", "item_id": f"q{i}", "status": status,
            "messages": [{"role": "user", "content": "say the word"}, {"role": "assistant", "content": text}]}


def test_one_turns_records_commit_together_and_nothing_waits_longer(tmp_path: Path):
    journal = Journal.create(tmp_path / "run", {"run_id": "r"}, ITEMS)
    seen: list[str] = []

    async def go() -> tuple[int, int]:
        writer = TurnWriter(journal, lambda r: seen.append(r["sample_id"]))
        for i in range(3):
            writer.add(record(i))
        during = journal.counts()["ok"]  # same turn: not yet written
        await asyncio.sleep(0)  # one turn later: all three committed
        after = journal.counts()["ok"]
        writer.add(record(3))
        writer.close()
        return during, after

    during, after = asyncio.run(go())
    assert (during, after) == (0, 3)
    assert journal.counts() == {"ok": 4, "error": 0}
    assert seen == ["s0", "s1", "s2", "s3"]
    # another connection sees them: they are committed, not sitting in an open transaction
    assert sqlite3.connect(journal.path).execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 4


def test_a_failing_write_or_callback_reaches_the_run(tmp_path: Path):
    journal = Journal.create(tmp_path / "run", {"run_id": "r"}, ITEMS)

    def explode(record: dict) -> None:
        raise RuntimeError("progress display broke")

    async def go() -> None:
        writer = TurnWriter(journal, explode)
        writer.add(record(0))
        await asyncio.sleep(0)
        writer.add(record(1))  # the failure of the last turn is raised here, not swallowed by the loop

    with pytest.raises(RuntimeError, match="progress display broke"):
        asyncio.run(go())
    assert journal.counts()["ok"] == 1  # what was written stays written

    broken = Journal.create(tmp_path / "run2", {"run_id": "r"}, ITEMS)
    broken.close()

    async def closed() -> None:
        writer = TurnWriter(broken)
        writer.add(record(0))
        writer.close()

    with pytest.raises(sqlite3.ProgrammingError):
        asyncio.run(closed())


def test_grading_as_journaled_gives_exactly_the_verdicts_of_grading_after(tmp_path: Path):
    records = [record(0), record(1, answer="no idea"), record(2, status="error"), record(3), record(4)]
    streamed = Journal.create(tmp_path / "a", {"run_id": "a"}, ITEMS)
    after = Journal.create(tmp_path / "b", {"run_id": "b"}, ITEMS)
    streamed.write_many(records)
    after.write_many(records)
    graded = GradeAsJournaled(ITEMS)
    for r in records[:3]:  # a resumed run: two records came from an earlier session, ungraded
        graded(r)
    assert graded.graded == {"s0", "s1"}  # the error sample gets no verdict
    assert grade_journal(streamed, graded) == grade_journal(after) == 4
    assert streamed.verdicts() == after.verdicts()
    labels = {sid: v["includes"]["label"] for sid, v in after.verdicts().items()}
    assert labels == {"s0": "pass", "s1": "fail", "s3": "pass", "s4": "pass"}
