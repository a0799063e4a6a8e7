"""Stubs: one line per sample that shows its outcome and commits to its content.

A stub (``crosslab.core.outcome.Stub``) carries what a reader may always see
(index, category, slice, tier, facets, status, verdict label, score and
values) and ``c``, a salted commitment to the full sample (transcript and
verdict). Revealing the sample later means publishing its disclosure string;
anyone can then check it against ``c``. Withheld samples are never revealed,
yet they are counted and bound into the Merkle root, so they can't be dropped
or changed after publication.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from crosslab.core.jcs import jcs
from crosslab.core.outcome import Stub, verdict_score
from crosslab.disclosure.commitments import Disclosure, make_disclosure


def stub_for(index: int, record: dict[str, Any], verdict: dict[str, Any] | None) -> tuple[Stub, Disclosure]:
    """Commit to a journal record and its verdict; the disclosure is what a reveal publishes."""
    disclosure = make_disclosure({"record": record, "verdict": verdict})
    stub = Stub(
        i=index, category=record["category"], slice=record["slice"], tier=record["tier"],
        facets=dict(record.get("facets") or {}), status=record["status"],
        label=verdict["label"] if verdict else None, score=verdict_score(verdict),
        values=dict((verdict or {}).get("values") or {}), c=disclosure.commitment,
    )
    return stub, disclosure


def stub_line(stub: Stub) -> bytes:
    """The stub's bytes in items.jsonl (RFC 8785 JSON, no newline): the Merkle leaf."""
    return jcs(dict(stub))


def encode_lines(lines: Iterable[bytes]) -> bytes:
    """JSON lines, each ended by a single \\n (byte-stable on every platform)."""
    return b"".join(line + b"\n" for line in lines)
