"""A grader's output: a label, a score, and the evidence a reader can check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Verdict:
    grader: str
    version: str
    label: str
    score: float
    #: Why: e.g. the matched span and its offsets, or what was looked for and not found.
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"grader": self.grader, "version": self.version, "label": self.label,
                "score": self.score, "evidence": self.evidence}
