"""The one error of the review stage, so the CLI can catch it and print its single line."""

from __future__ import annotations

from crosslab.core.errors import CrosslabError


class ReviewError(CrosslabError, ValueError):
    """A review sheet or adjudication file that cannot be used; the message names the file and row."""
