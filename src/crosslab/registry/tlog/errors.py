"""The log's errors: one line each, fit to show a user or map to an HTTP status."""

from __future__ import annotations

from crosslab.core.errors import CrosslabError
from crosslab.transparency.errors import NoteError

__all__ = ["LogError", "LogRequestError", "NoteError", "TileNotFound"]


class LogError(CrosslabError, RuntimeError):
    """The log cannot do what was asked: it failed its start-up check, or its tables do not add up."""


class LogRequestError(LogError, ValueError):
    """A request the log refuses as malformed: a bad tile path, an index or size out of range, an oversized entry."""


class TileNotFound(LogError, LookupError):
    """A well-formed tile, bundle or checkpoint that is not available (yet): beyond the latest checkpoint."""
