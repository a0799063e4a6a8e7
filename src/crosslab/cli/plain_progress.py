"""Progress as plain lines, for when nobody watches a terminal (CI logs, nohup, a redirect).

Rich's live bars draw nothing until the end when stderr is not a terminal, so
a long round in CI looked hung for hours. Off a terminal each run prints one
line instead, at most every ``CROSSLAB_PROGRESS_SECONDS`` (default 10 s) and
at every tenth of the work, plus the last one: done/total, errors, pace and
time elapsed, so a log shows both that it moves and how fast.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, TextIO

DEFAULT_SECONDS = 10.0


def interval_s() -> float:
    """Seconds between time-driven lines: ``CROSSLAB_PROGRESS_SECONDS``, else 10."""
    try:
        return max(0.0, float(os.environ.get("CROSSLAB_PROGRESS_SECONDS", DEFAULT_SECONDS)))
    except ValueError:
        return DEFAULT_SECONDS


class PlainProgress:
    """One label's progress: ``record()`` per finished sample, ``finish()`` at the end.

    ``done`` counts samples already finished before this session (a resume);
    the pace counts only this session's. ``extra`` adds text (the API pace) to each line.
    """

    def __init__(self, label: str, total: int, *, done: int = 0, stream: TextIO | None = None,
                 extra: Callable[[], str] | None = None) -> None:
        self.label, self.total, self.done, self.errors = label, total, done, 0
        self._fresh = 0
        self._stream = stream
        self._extra = extra
        self._every = interval_s()
        self._step = max(1, total // 10)
        self._started = self._last = time.monotonic()
        self._printed_at = -1

    def record(self, record: dict[str, Any]) -> None:
        self.done += 1
        self._fresh += 1
        self.errors += record["status"] == "error"
        now = time.monotonic()
        if now - self._last >= self._every or self.done % self._step == 0 or self.done >= self.total:
            self._print(now)

    def finish(self, done: int | None = None) -> None:
        """The last line; ``done``: the count at the end, when earlier samples were skipped (a resume)."""
        self.done = self.done if done is None else done
        if self._printed_at != self.done:
            self._print(time.monotonic())

    def line(self, now: float) -> str:
        elapsed = now - self._started
        pace = f"{self._fresh / elapsed:.1f} samples/s" if elapsed > 0 and self._fresh else "-"
        extra = self._extra() if self._extra else ""
        return (f"{self.label}: {self.done}/{self.total} samples, {self.errors} errors, {pace}{extra}, "
                f"{_clock(elapsed)} elapsed")

    def _print(self, now: float) -> None:
        import sys

        stream = self._stream or sys.stderr
        print(self.line(now), file=stream, flush=True)
        self._last, self._printed_at = now, self.done


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
