"""Why the monitor could not check a log: kept apart from a split view, which is a finding, not an error.

A log that is down, or answers with something that does not parse or verify,
proves nothing about the log's honesty; the monitor says so in one line and
claims no split view.
"""

from __future__ import annotations

from crosslab.core.errors import CrosslabError


class MonitorError(CrosslabError, RuntimeError):
    """The monitor cannot do its job: its state file is unusable or belongs to another log."""


class LogUnreachable(MonitorError):
    """The log did not answer: connection refused, timed out, or an HTTP error status (``status``)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class LogAnswerError(MonitorError):
    """The log answered with something that does not parse or verify (a malformed or unsigned checkpoint, a bad proof body)."""
