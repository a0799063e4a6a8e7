"""Citation checks: every cited document id must exist and must hold the supporting fact.

A *fabricated* citation names an id the corpus does not have; a *misgrounded*
citation names a real document that does not state the fact the answer rests
on. Citations are ids in square brackets, alone or in a list:
``[doc-042]``, ``[doc-042, doc-017]``, ``[doc-042][doc-017]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_BRACKET = re.compile(r"\[([^\[\]]{1,200})\]")
_ID = re.compile(r"\bdoc-\d+\b", re.IGNORECASE)


def cited_ids(text: str) -> list[str]:
    """Cited ids in order of first appearance, lower-cased."""
    seen: list[str] = []
    for bracket in _BRACKET.finditer(text):
        for m in _ID.finditer(bracket.group(1)):
            cid = m.group().lower()
            if cid not in seen:
                seen.append(cid)
    return seen


def strip_citations(text: str) -> str:
    """The text without its bracketed citations (so ids never count as answer numbers)."""
    return _BRACKET.sub(lambda m: " " if _ID.search(m.group(1)) else m.group(), text)


@dataclass(frozen=True)
class CitationCheck:
    cited: tuple[str, ...]
    fabricated: tuple[str, ...]
    misgrounded: tuple[str, ...]
    supporting: tuple[str, ...]

    def values(self) -> dict[str, float]:
        return {"citations": float(len(self.cited)), "fabricated_citations": float(len(self.fabricated)),
                "misgrounded_citations": float(len(self.misgrounded))}

    def evidence(self) -> dict[str, Any]:
        return {"cited": list(self.cited), "fabricated": list(self.fabricated),
                "misgrounded": list(self.misgrounded), "supporting_cited": list(self.supporting)}


def check_citations(text: str, existing: set[str], support: set[str]) -> CitationCheck:
    """``support``: ids of documents that hold the fact (empty when the corpus does not have it)."""
    cited = cited_ids(text)
    fabricated = tuple(c for c in cited if c not in existing)
    misgrounded = tuple(c for c in cited if c in existing and c not in support)
    supporting = tuple(c for c in cited if c in support)
    return CitationCheck(tuple(cited), fabricated, misgrounded, supporting)
