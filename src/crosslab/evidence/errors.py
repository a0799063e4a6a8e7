"""The one error of evidence packages: a single line naming the member and what did not match."""

from __future__ import annotations

from crosslab.core.errors import CrosslabError


class EvidenceError(CrosslabError, ValueError):
    """An evidence package that cannot be made, read or verified; the message is one line for the user."""
