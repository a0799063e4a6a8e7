"""The witness's memory: the latest checkpoint it cosigned per log, in one SQLite file.

A witness is only as good as its memory: if it forgot (or rolled back) the
size it last cosigned, a log could get a fork cosigned. So the check of a
request's old size and the write of the new checkpoint happen in one
``BEGIN IMMEDIATE`` transaction (C2SP tlog-witness describes the race this
prevents), committed with ``synchronous=FULL`` before the witness answers.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from crosslab.core.errors import CrosslabError

__all__ = ["Latest", "StateError", "WitnessState"]

BUSY_TIMEOUT_S = 30.0
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS latest (
        origin TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        root BLOB NOT NULL,
        note BLOB NOT NULL,
        cosigned_ms INTEGER NOT NULL)""",
    # Signed checkpoints the witness refused (a stale size is not kept: it is routine, not evidence).
    """CREATE TABLE IF NOT EXISTS refused (
        id INTEGER PRIMARY KEY,
        origin TEXT NOT NULL,
        status INTEGER NOT NULL,
        reason TEXT NOT NULL,
        request BLOB NOT NULL,
        received_ms INTEGER NOT NULL)""",
)


class StateError(CrosslabError, RuntimeError):
    """The state file cannot be opened or is not a witness's state."""


@dataclass(frozen=True)
class Latest:
    """The latest checkpoint cosigned for one log: its size, root hash and signed note."""

    size: int
    root: bytes
    note: bytes


class WitnessState:
    """A SQLite file holding, per log origin, the latest cosigned checkpoint."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            with closing(self._connect()) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StateError(f"witness state {self.path}: {exc}") from None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def latest(self, origin: str) -> Latest | None:
        with closing(self._connect()) as conn:
            row = conn.execute("SELECT size, root, note FROM latest WHERE origin = ?", (origin,)).fetchone()
        return None if row is None else Latest(row[0], bytes(row[1]), bytes(row[2]))

    def advance(self, origin: str, check: Callable[[Latest | None], Latest]) -> Latest:
        """Under the write lock: read ``origin``'s latest, let ``check`` refuse (raise) or return the new one; commit.

        Nothing is written if ``check`` raises; the commit is durable before this returns.
        """
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute("SELECT size, root, note FROM latest WHERE origin = ?", (origin,)).fetchone()
            new = check(None if row is None else Latest(row[0], bytes(row[1]), bytes(row[2])))
            conn.execute("INSERT INTO latest (origin, size, root, note, cosigned_ms) VALUES (?, ?, ?, ?, ?) "
                         "ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, "
                         "note = excluded.note, cosigned_ms = excluded.cosigned_ms",
                         (origin, new.size, new.root, new.note, time.time_ns() // 1_000_000))
            conn.execute("COMMIT")
            return new
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def record_refusal(self, origin: str, status: int, reason: str, request: bytes) -> None:
        """Keep a signed checkpoint that was refused: it may be proof that the log misbehaved."""
        with closing(self._connect()) as conn:
            conn.execute("INSERT INTO refused (origin, status, reason, request, received_ms) VALUES (?, ?, ?, ?, ?)",
                         (origin, status, reason, request, time.time_ns() // 1_000_000))

    def refusals(self, origin: str) -> list[tuple[int, str]]:
        """(status, reason) of every refused signed checkpoint of ``origin``, oldest first."""
        with closing(self._connect()) as conn:
            rows = conn.execute("SELECT status, reason FROM refused WHERE origin = ? ORDER BY id", (origin,))
            return [(s, r) for s, r in rows]
