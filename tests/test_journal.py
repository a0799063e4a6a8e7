import sqlite3
from pathlib import Path

import pytest

from crosslab.engine.journal import Journal, JournalError
from crosslab.items.item import Item

ITEMS = [Item.model_validate({"id": "a", "input": "x"})]


def record(sid: str, status: str, text: str = "hi") -> dict:
    return {"sample_id": sid, "item_id": "a", "status": status, "messages": [{"role": "assistant", "content": text}]}


def test_ok_is_never_overwritten_but_error_is_replaced(tmp_path: Path):
    j = Journal.create(tmp_path / "run", {"run_id": "r"}, ITEMS)
    j.write(record("s1", "error"))
    j.write(record("s1", "ok", "first"))
    j.write(record("s1", "ok", "second"))  # a duplicate finish must not replace the first result
    j.write(record("s1", "error"))
    [only] = list(j.records())
    assert only["status"] == "ok" and only["messages"][0]["content"] == "first"
    assert j.completed_ids() == {"s1"}
    assert j.counts() == {"ok": 1, "error": 0}


def test_journals_are_private_whatever_the_umask(tmp_path: Path):
    """Journals hold whole transcripts, restricted ones too: only their owner may read them."""
    import os
    import stat

    old = os.umask(0o000)
    try:
        j = Journal.create(tmp_path / "run", {"run_id": "r"}, ITEMS)
        j.write(record("s1", "ok"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "run").st_mode) == 0o700
    files = sorted(p for p in (tmp_path / "run").iterdir())
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files), \
        {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    j.close()


def test_meta_and_items_round_trip(tmp_path: Path):
    j = Journal.create(tmp_path / "run", {"run_id": "r", "epochs": 2}, ITEMS)
    j.close()
    j2 = Journal.open(tmp_path / "run")
    assert j2.meta()["epochs"] == 2 and j2.items() == ITEMS


def test_tampered_record_is_detected(tmp_path: Path):
    j = Journal.create(tmp_path / "run", {"run_id": "r"}, ITEMS)
    j.write(record("s1", "ok"))
    j.write(record("s2", "ok"))
    j.close()
    with sqlite3.connect(tmp_path / "run" / "journal.sqlite") as conn:
        conn.execute("UPDATE samples SET record = replace(record, 'hi', 'ho') WHERE sample_id = 's2'")
    assert Journal.open(tmp_path / "run").verify_hashes() == ["s2"]


def test_existing_run_dir_is_never_reused(tmp_path: Path):
    Journal.create(tmp_path / "run", {"run_id": "r"}, ITEMS)
    with pytest.raises(FileExistsError):
        Journal.create(tmp_path / "run", {"run_id": "r"}, ITEMS)


def test_open_refuses_missing_or_foreign_files(tmp_path: Path):
    with pytest.raises(JournalError, match="no journal"):
        Journal.open(tmp_path)
    (tmp_path / "journal.sqlite").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(JournalError, match="not a crosslab journal"):
        Journal.open(tmp_path)


def test_the_response_cache_is_private_like_a_journal(tmp_path: Path):
    """It holds replies to restricted and withheld items: 0700 directory, 0600 database and WAL files."""
    import os
    import stat

    from crosslab.engine.cache import ResponseCache

    old = os.umask(0o000)
    try:
        cache = ResponseCache(tmp_path / "cache")
        cache.put("k", {"text": "a reply to a withheld item"})
        assert cache.get("k") == {"text": "a reply to a withheld item"}
        assert stat.S_IMODE(os.stat(tmp_path / "cache").st_mode) == 0o700
        files = list((tmp_path / "cache").iterdir())
        assert {p.name for p in files} >= {"responses.sqlite", "responses.sqlite-wal"}
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files), \
            {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
        cache.close()
        os.chmod(tmp_path / "cache" / "responses.sqlite", 0o644)  # left readable by an older crosslab
        ResponseCache(tmp_path / "cache").close()
        assert stat.S_IMODE(os.stat(tmp_path / "cache" / "responses.sqlite").st_mode) == 0o600
    finally:
        os.umask(old)
