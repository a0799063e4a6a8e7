"""What the monitor keeps and reports: a checkpoint it saw, and a split view between two of them."""

from __future__ import annotations

import base64
from dataclasses import dataclass

__all__ = ["SPLIT_KINDS", "Seen", "SplitView"]

#: same-size: two roots for one tree size; inconsistent: no valid consistency proof between two checkpoints;
#: shrunk: a smaller checkpoint the log cannot prove is a prefix of a larger one it signed;
#: entries: the leaves the log serves do not hash to the root it signed.
SPLIT_KINDS = ("same-size", "inconsistent", "shrunk", "entries")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Seen:
    """A verified checkpoint note as the monitor first saw it: where from, and when (ms since the epoch)."""

    size: int
    root: bytes
    note: str
    source: str
    first_seen_ms: int

    def label(self) -> str:
        return f"size {self.size} root {b64(self.root)}"


@dataclass(frozen=True)
class SplitView:
    """Two checkpoints signed by the log that cannot both be true; the notes are the proof of it.

    ``earlier`` is the checkpoint the monitor already held (None only for an
    ``entries`` finding against the empty tree), ``later`` the one that
    contradicts it. ``detail`` says what the log answered when asked to reconcile them.
    """

    kind: str
    earlier: Seen | None
    later: Seen
    detail: str

    def line(self) -> str:
        """The one-line report."""
        later = f"{self.later.label()} (from {self.later.source})"
        if self.earlier is None:
            return f"split view ({self.kind}): {later}: {self.detail}"
        earlier = f"{self.earlier.label()} (from {self.earlier.source})"
        if self.kind == "same-size":
            return f"split view (same-size): the log signed two roots for size {self.later.size}: " \
                   f"{b64(self.earlier.root)} (from {self.earlier.source}) and {b64(self.later.root)} " \
                   f"(from {self.later.source})"
        return f"split view ({self.kind}): {later} contradicts {earlier}: {self.detail}"
