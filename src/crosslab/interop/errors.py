"""The one error interop raises: a file it cannot take in or give out, said in one line."""

from __future__ import annotations

from crosslab.core.errors import CrosslabError


class InteropError(CrosslabError, ValueError):
    """A dataset file, Inspect log, run or bundle that cannot be converted; the message names the file
    (and, for tables, the row and column) so the user can fix it."""
