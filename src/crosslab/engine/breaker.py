"""A circuit breaker for runs: stop when the target has plainly gone away, instead of failing every sample.

Each sample already retries its calls with backoff (``caller.py``). When the
API is down, every remaining sample would then spend its whole retry budget
and be journaled as an error: minutes of waiting for a run that is already
lost. The breaker watches samples as they finish; after ``threshold`` in a
row have failed with an error that says the target cannot be reached
(connection refused or reset, timeouts, 5xx), it trips, the run stops taking
samples, and the samples in flight are cancelled (not journaled: resuming
runs them). Any sample that finishes otherwise resets the count, so a flaky
API with some successes never trips it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from crosslab.core.errors import CrosslabError

#: Error kinds (TargetError.kind, carried into the sample's error record) that mean "unreachable".
UNREACHABLE = frozenset({"connection", "timeout", "server_error"})
DEFAULT_THRESHOLD = 10


class CircuitOpen(CrosslabError, RuntimeError):
    """The run stopped: ``count`` samples in a row could not reach the target. Resuming picks up the rest."""

    def __init__(self, count: int, kind: str, message: str) -> None:
        super().__init__(f"stopped after {count} samples in a row failed to reach the target "
                         f"({kind}: {message})")
        self.count, self.kind, self.last_message = count, kind, message


class Breaker:
    """Counts consecutive unreachable-target failures; ``tripped`` is set at ``threshold``."""

    def __init__(self, threshold: int = DEFAULT_THRESHOLD) -> None:
        if threshold < 1:
            raise ValueError("the breaker's threshold must be at least 1")
        self.threshold = threshold
        self.consecutive = 0
        self.last: dict[str, Any] | None = None
        self.tripped = asyncio.Event()

    def observe(self, record: dict[str, Any]) -> None:
        error = record.get("error") if record.get("status") == "error" else None
        if error and error.get("kind") in UNREACHABLE:
            self.consecutive += 1
            self.last = error
            if self.consecutive >= self.threshold:
                self.tripped.set()
        else:
            self.consecutive = 0

    def error(self) -> CircuitOpen:
        last = self.last or {}
        return CircuitOpen(self.consecutive, str(last.get("kind", "?")), str(last.get("message", ""))[:200])
