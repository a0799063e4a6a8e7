"""Journal writes grouped per event-loop turn, so bookkeeping never delays the next request.

When hundreds of answers land in one turn of the loop (every sample started
together finishes together), writing each record before its worker sends the
next request makes the last request of the wave wait for all the writes
before it. Here a worker hands its record over and sends its next request at
once; the records of that turn are committed together in one transaction by a
callback queued behind the turn's other callbacks. Nothing waits longer than
one turn, so a SIGKILL loses what it always lost: the samples in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from crosslab.engine.journal import Journal

__all__ = ["TurnWriter"]


class TurnWriter:
    """Buffers records and commits them at the end of the current loop turn; ``close`` commits the rest."""

    def __init__(self, journal: Journal, on_written: Callable[[dict[str, Any]], None] | None = None) -> None:
        self._journal = journal
        self._on_written = on_written
        self._pending: list[dict[str, Any]] = []
        self._scheduled = False
        self._failure: BaseException | None = None

    def add(self, record: dict[str, Any]) -> None:
        self._raise_failure()
        self._pending.append(record)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        records, self._pending = self._pending, []
        if not records:
            return
        try:
            self._journal.write_many(records)
            if self._on_written:
                for record in records:
                    self._on_written(record)
        except Exception as exc:  # a full disk, a failing callback: raised to the run at the next add or close
            self._failure = self._failure or exc

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def close(self) -> None:
        """Commit whatever is still buffered; re-raise a write that failed."""
        self._flush()
        self._raise_failure()
