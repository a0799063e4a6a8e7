"""Response cache keyed by the canonical request hash.

Re-running a suite after a grader change, or re-trying a crashed run from
scratch, shouldn't pay for the same model calls twice. The key covers the
deployment's identity, the full conversation, the tools and the epoch (so
independent epochs stay independent samples). Errors are never cached.

The cache holds model replies to every item, restricted and withheld ones
included, so it is private like a run journal: the directory is created
0700 and the database (and SQLite's -wal/-shm files, which take its mode)
0600; an existing database with wider rights is narrowed on open.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import orjson

from crosslab.core.canonical import canonical_json, digest


def default_cache_dir() -> Path:
    env = os.environ.get("CROSSLAB_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "crosslab"


def request_key(deployment_identity: dict[str, Any], messages: list[dict[str, Any]],
                tools: list[dict[str, Any]], epoch: int) -> str:
    return digest({"deployment": deployment_identity, "messages": messages, "tools": tools, "epoch": epoch})


class ResponseCache:
    def __init__(self, directory: Path) -> None:
        if not directory.exists():
            directory.mkdir(parents=True, mode=0o700)
            os.chmod(directory, 0o700)  # exactly, whatever the umask
        self.path = directory / "responses.sqlite"
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        for path in (self.path, self.path.with_name(self.path.name + "-wal"),
                     self.path.with_name(self.path.name + "-shm")):
            if path.exists() and path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._conn.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, response BLOB NOT NULL)")

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._conn.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        return orjson.loads(row[0]) if row else None

    def put(self, key: str, response: dict[str, Any]) -> None:
        self._conn.execute("INSERT OR REPLACE INTO responses VALUES (?, ?)", (key, canonical_json(response)))

    def close(self) -> None:
        self._conn.close()
