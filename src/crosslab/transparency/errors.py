"""The error of the note formats: one line, fit to show a user or map to an HTTP status."""

from __future__ import annotations

from crosslab.core.errors import CrosslabError


class NoteError(CrosslabError, ValueError):
    """A signed note, verifier key, checkpoint or cosignature that does not parse or does not verify."""


class TileFormatError(CrosslabError, ValueError):
    """A tile path or entry bundle off the C2SP tlog-tiles grammar."""
