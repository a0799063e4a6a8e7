"""The run journal: one SQLite database (WAL) per run directory.

Each finished sample is committed as canonical JSON with its SHA-256 as soon
as the event loop's current turn ends (``engine/writes.py`` groups the
samples that finished in the same turn into one transaction), so a crash
(even SIGKILL) loses at most the samples in flight, and ``--resume``
re-sends none that finished. The journal also keeps what the run
was (deployment, items, epochs) so a resumed or re-graded run needs nothing
else, and later stages (grading, results) read only this file.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from crosslab.core.canonical import canonical_json, sha256_hex
from crosslab.core.errors import CrosslabError
from crosslab.items.item import Item

JOURNAL_FILE = "journal.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS items (item_id TEXT PRIMARY KEY, item BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
    sample_id TEXT PRIMARY KEY,
    item_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    record BLOB NOT NULL,
    sha256 TEXT NOT NULL,
    written_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS verdicts (
    sample_id TEXT NOT NULL,
    grader TEXT NOT NULL,
    verdict BLOB NOT NULL,
    PRIMARY KEY (sample_id, grader)
);
"""


_UPSERT_SAMPLE = (
    "INSERT INTO samples (sample_id, item_id, status, record, sha256, written_at) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (sample_id) DO UPDATE SET status = excluded.status, record = excluded.record, "
    "sha256 = excluded.sha256, written_at = excluded.written_at WHERE samples.status = 'error'")


class JournalError(CrosslabError, RuntimeError):
    """A journal that is missing, unreadable or not a crosslab journal."""


class Journal:
    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn

    # -- opening ---------------------------------------------------------
    @classmethod
    def create(cls, run_dir: Path, meta: dict[str, Any], items: list[Item]) -> Journal:
        """Make a new run directory's journal; the directory must not exist yet.

        Journals hold whole transcripts, restricted ones included: the directory
        is 0700 and the database (and SQLite's WAL files, which copy its mode) 0600.
        """
        run_dir.mkdir(parents=True, exist_ok=False, mode=0o700)
        os.chmod(run_dir, 0o700)  # exactly, whatever the umask
        os.close(os.open(run_dir / JOURNAL_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.chmod(run_dir / JOURNAL_FILE, 0o600)
        conn = cls._connect(run_dir / JOURNAL_FILE)
        conn.executescript(_SCHEMA)
        with conn:
            conn.execute("BEGIN")  # one transaction for all items, not one commit per row
            conn.executemany("INSERT INTO meta VALUES (?, ?)",
                             [(k, canonical_json(v)) for k, v in {**meta, "schema": SCHEMA_VERSION}.items()])
            conn.executemany("INSERT INTO items VALUES (?, ?)",
                             [(i.id, canonical_json(i.model_dump(mode="json"))) for i in items])
        return cls(run_dir / JOURNAL_FILE, conn)

    @classmethod
    def open(cls, run_dir: Path) -> Journal:
        path = run_dir / JOURNAL_FILE
        if not path.is_file():
            raise JournalError(f"no journal at {path}")
        try:
            conn = cls._connect(path)
            version = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{path} is not a crosslab journal: {exc}") from exc
        if version is None or orjson.loads(version[0]) != SCHEMA_VERSION:
            raise JournalError(f"{path} has an unsupported journal schema")
        cls._check_pages(path, conn)
        return cls(path, conn)

    @staticmethod
    def _check_pages(path: Path, conn: sqlite3.Connection) -> None:
        """Refuse a damaged file (truncated, a page overwritten) now, in one line, not mid-run as a traceback.

        ``PRAGMA quick_check`` reads every page once (about a second per GB), which
        is cheap beside a run, and catches what a query would trip over later.
        """
        try:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
        except sqlite3.DatabaseError as exc:
            problems = [str(exc)]
        if problems != ["ok"]:
            conn.close()
            detail = " ".join(problems[0].split())[:160]
            raise JournalError(f"{path} is damaged ({detail}); its records cannot be trusted: move the run "
                               "directory aside and run again to redo its samples")

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives process crashes; only power loss can drop the last commits.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        return conn

    def close(self) -> None:
        self._conn.close()

    # -- reading -----------------------------------------------------------
    def meta(self) -> dict[str, Any]:
        return {k: orjson.loads(v) for k, v in self._conn.execute("SELECT key, value FROM meta")}

    def items(self) -> list[Item]:
        rows = self._conn.execute("SELECT item FROM items ORDER BY rowid")
        return [Item.model_validate(orjson.loads(r[0])) for r in rows]

    def completed_ids(self) -> set[str]:
        return {r[0] for r in self._conn.execute("SELECT sample_id FROM samples WHERE status = 'ok'")}

    def records(self, skip: set[str] | frozenset[str] = frozenset()) -> Iterator[dict[str, Any]]:
        """Every record in the order written; those whose sample id is in ``skip`` are not even parsed."""
        if not skip:
            for (blob,) in self._conn.execute("SELECT record FROM samples ORDER BY rowid"):
                yield orjson.loads(blob)
            return
        for sample_id, blob in self._conn.execute("SELECT sample_id, record FROM samples ORDER BY rowid"):
            if sample_id not in skip:
                yield orjson.loads(blob)

    def counts(self) -> dict[str, int]:
        rows = self._conn.execute("SELECT status, count(*) FROM samples GROUP BY status")
        return {"ok": 0, "error": 0, **dict(rows.fetchall())}

    def verify_hashes(self) -> list[str]:
        """Sample ids whose stored record no longer matches its SHA-256."""
        rows = self._conn.execute("SELECT sample_id, record, sha256 FROM samples")
        return [sid for sid, blob, sha in rows
                if sha256_hex(blob if isinstance(blob, bytes) else str(blob).encode()) != sha]

    # -- writing -----------------------------------------------------------
    def write(self, record: dict[str, Any]) -> None:
        """Commit one sample's record. A finished sample replaces an earlier error, never an ok."""
        self.write_many([record])

    def write_many(self, records: list[dict[str, Any]]) -> None:
        """Commit several records in one transaction: all of them or, after a crash, none."""
        now = time.time()
        rows = []
        for record in records:
            blob = canonical_json(record)
            rows.append((record["sample_id"], record["item_id"], record["status"], blob, sha256_hex(blob), now))
        with self._conn:
            self._conn.execute("BEGIN")
            self._conn.executemany(_UPSERT_SAMPLE, rows)

    def written_span(self) -> tuple[float, float] | None:
        """(first, last) time a sample was journaled, Unix seconds; None before any sample."""
        first, last = self._conn.execute("SELECT MIN(written_at), MAX(written_at) FROM samples").fetchone()
        return None if first is None else (float(first), float(last))

    def merge_from(self, other: Path) -> list[tuple[str, str]]:
        """Copy another journal's samples and verdicts into this one, bytes as stored, in one transaction.

        The Ray executor's shards journal where they run; this folds a shard in
        without parsing a record (the same upsert as ``write_many``: an ok is
        never replaced). Returns (sample id, status) of every sample copied.
        """
        source = other / JOURNAL_FILE
        if not source.is_file():
            raise JournalError(f"{other}: no journal to merge")
        self._conn.execute("ATTACH DATABASE ? AS shard", (str(source),))
        try:
            rows = self._conn.execute("SELECT sample_id, status FROM shard.samples ORDER BY rowid").fetchall()
            with self._conn:
                self._conn.execute("BEGIN")
                self._conn.execute(
                    "INSERT INTO samples (sample_id, item_id, status, record, sha256, written_at) "
                    "SELECT sample_id, item_id, status, record, sha256, written_at FROM shard.samples WHERE true "
                    + _UPSERT_SAMPLE[_UPSERT_SAMPLE.index("ON CONFLICT"):])
                self._conn.execute("INSERT OR REPLACE INTO verdicts SELECT sample_id, grader, verdict "
                                   "FROM shard.verdicts")
        finally:
            self._conn.execute("DETACH DATABASE shard")
        return [(sample_id, status) for sample_id, status in rows]

    def set_meta(self, key: str, value: Any) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, canonical_json(value)))

    def write_verdicts(self, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
        with self._conn:
            self._conn.execute("BEGIN")
            self._conn.executemany("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?)",
                                   [(sid, grader, canonical_json(v)) for sid, grader, v in rows])

    def verdicts(self) -> dict[str, dict[str, dict[str, Any]]]:
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for sid, grader, blob in self._conn.execute("SELECT sample_id, grader, verdict FROM verdicts"):
            out.setdefault(sid, {})[grader] = orjson.loads(blob)
        return out
