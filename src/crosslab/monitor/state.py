"""The monitor's memory: every checkpoint it saw and every split view it found, in one SQLite file.

The file is bound to one log (its verifier key and origin) on first use, so a
state file can never mix two logs' histories. Each write is one transaction,
so a monitor killed mid-poll leaves either the old state or the new one. The
split-view rows hold both signed notes in full: they are self-contained
evidence that survives the log going away.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from crosslab.monitor.errors import MonitorError
from crosslab.monitor.findings import Seen, SplitView
from crosslab.monitor.frontier import Frontier

__all__ = ["MonitorState", "now_ms"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER NOT NULL CHECK (size >= 0),
    root BLOB NOT NULL CHECK (length(root) = 32),
    note TEXT NOT NULL,
    source TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    consistent INTEGER NOT NULL CHECK (consistent IN (0, 1)),
    PRIMARY KEY (size, root)
);
CREATE TABLE IF NOT EXISTS split_views (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    found_ms INTEGER NOT NULL,
    detail TEXT NOT NULL,
    earlier_size INTEGER, earlier_root BLOB, earlier_note TEXT, earlier_source TEXT, earlier_seen_ms INTEGER,
    later_size INTEGER NOT NULL, later_root BLOB NOT NULL, later_note TEXT NOT NULL, later_source TEXT NOT NULL,
    later_seen_ms INTEGER NOT NULL,
    UNIQUE (kind, earlier_size, earlier_root, later_size, later_root)
);
CREATE TABLE IF NOT EXISTS frontier (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    size INTEGER NOT NULL,
    hashes BLOB NOT NULL
);
"""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class MonitorState:
    """The state file at ``path`` for the log with verifier key ``log_key``."""

    def __init__(self, path: Path, log_key: str) -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(path, timeout=30)
            self.db.executescript(_SCHEMA)
            with self.db:
                self.db.execute("INSERT OR IGNORE INTO meta VALUES ('log_key', ?)", (log_key,))
            bound = self._meta("log_key")
        except sqlite3.Error as exc:
            raise MonitorError(f"state file {path} cannot be used: {exc}") from None
        if bound != log_key:
            raise MonitorError(f"state file {path} follows the log with key {bound}, not {log_key}; "
                               f"use one state file per log")

    def close(self) -> None:
        self.db.close()

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _run(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            with self.db:
                return self.db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise MonitorError(f"state file {self.path}: {exc}") from None

    # -- the log's origin line, bound on first sight -------------------------------------
    @property
    def origin(self) -> str | None:
        return self._meta("origin")

    def bind_origin(self, origin: str) -> None:
        self._run("INSERT OR IGNORE INTO meta VALUES ('origin', ?)", (origin,))

    # -- checkpoints ---------------------------------------------------------------------
    def at_size(self, size: int) -> list[tuple[Seen, bool]]:
        """Every checkpoint held for ``size``, with whether it was found consistent."""
        rows = self._run("SELECT size, root, note, source, first_seen_ms, consistent FROM checkpoints "
                         "WHERE size = ? ORDER BY first_seen_ms", (size,))
        return [(Seen(r[0], bytes(r[1]), r[2], r[3], r[4]), bool(r[5])) for r in rows]

    def largest(self) -> Seen | None:
        """The largest checkpoint held that was consistent with everything before it."""
        rows = self._run("SELECT size, root, note, source, first_seen_ms FROM checkpoints WHERE consistent = 1 "
                         "ORDER BY size DESC LIMIT 1")
        return Seen(rows[0][0], bytes(rows[0][1]), *rows[0][2:]) if rows else None

    def checkpoints(self) -> list[tuple[Seen, bool]]:
        rows = self._run("SELECT size, root, note, source, first_seen_ms, consistent FROM checkpoints "
                         "ORDER BY size, first_seen_ms")
        return [(Seen(r[0], bytes(r[1]), r[2], r[3], r[4]), bool(r[5])) for r in rows]

    def add(self, seen: Seen, consistent: bool) -> None:
        self._run("INSERT OR IGNORE INTO checkpoints VALUES (?, ?, ?, ?, ?, ?)",
                  (seen.size, seen.root, seen.note, seen.source, seen.first_seen_ms, int(consistent)))

    # -- split views ---------------------------------------------------------------------
    def record_split(self, split: SplitView) -> None:
        """Keep a split view with both notes; the conflicting checkpoint is held, marked inconsistent."""
        e = split.earlier
        later = split.later
        try:
            with self.db:
                self.db.execute("INSERT OR IGNORE INTO checkpoints VALUES (?, ?, ?, ?, ?, 0)",
                                (later.size, later.root, later.note, later.source, later.first_seen_ms))
                self.db.execute(
                    "INSERT OR IGNORE INTO split_views (kind, found_ms, detail, earlier_size, earlier_root, "
                    "earlier_note, earlier_source, earlier_seen_ms, later_size, later_root, later_note, "
                    "later_source, later_seen_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (split.kind, now_ms(), split.detail,
                     *((e.size, e.root, e.note, e.source, e.first_seen_ms) if e else (None,) * 5),
                     later.size, later.root, later.note, later.source, later.first_seen_ms))
        except sqlite3.Error as exc:
            raise MonitorError(f"state file {self.path}: {exc}") from None

    def split_views(self) -> list[SplitView]:
        rows = self._run("SELECT kind, detail, earlier_size, earlier_root, earlier_note, earlier_source, "
                         "earlier_seen_ms, later_size, later_root, later_note, later_source, later_seen_ms "
                         "FROM split_views ORDER BY id")
        out = []
        for r in rows:
            earlier = None if r[2] is None else Seen(r[2], bytes(r[3]), r[4], r[5], r[6])
            out.append(SplitView(r[0], earlier, Seen(r[7], bytes(r[8]), r[9], r[10], r[11]), r[1]))
        return out

    def split_for(self, size: int, root: bytes) -> SplitView | None:
        """The split view already recorded against the checkpoint (size, root), if any."""
        for split in self.split_views():
            if split.later.size == size and split.later.root == root:
                return split
        return None

    # -- the leaves checked so far (--entries) ---------------------------------------------
    def frontier(self) -> Frontier:
        rows = self._run("SELECT size, hashes FROM frontier")
        try:
            return Frontier.from_bytes(rows[0][0], bytes(rows[0][1])) if rows else Frontier()
        except ValueError as exc:
            raise MonitorError(f"state file {self.path}: damaged frontier row: {exc}") from None

    def save_frontier(self, frontier: Frontier) -> None:
        self._run("INSERT OR REPLACE INTO frontier VALUES (1, ?, ?)", (frontier.size, frontier.to_bytes()))
