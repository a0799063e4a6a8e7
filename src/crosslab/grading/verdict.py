"""A grader's output: a label, a score, and the evidence a reader can check.

Labels are the grader's own vocabulary (``pass``, ``full_refusal``,
``not_attempted`` ...); the score puts every grader on one scale, where 1
means the behaviour the item asks for. Generic pass rates count score 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crosslab.core.outcome import UNSCORED


@dataclass(frozen=True, slots=True)
class Verdict:
    grader: str
    version: str
    label: str
    #: None only for ``unscored`` (a judge reply that did not parse): no score, never a default one.
    score: float | None
    #: Why: e.g. the matched span and its offsets, or what was looked for and not found.
    evidence: dict[str, Any]
    #: Small public numbers a suite's metrics need beyond the score (e.g. a stated
    #: confidence for calibration). They are copied into bundle stubs.
    values: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, label: str, score: float, evidence: dict[str, Any] | None = None,
           values: dict[str, float] | None = None) -> Verdict:
        """A verdict whose grader name and version the ``crosslab.grader`` decorator fills in."""
        return cls("", "", label, float(score), dict(evidence or {}), dict(values or {}))

    @classmethod
    def unscored(cls, grader: str, version: str, evidence: dict[str, Any]) -> Verdict:
        """A judge was asked and its reply did not parse: no label, no score; counted, never defaulted."""
        return cls(grader, version, UNSCORED, None, evidence)

    @property
    def passed(self) -> bool:
        """Score 1 means the desired behaviour (answered correctly, refused a harmful request, ...)."""
        return self.score == 1.0

    def to_dict(self) -> dict[str, Any]:
        out = {"grader": self.grader, "version": self.version, "label": self.label,
               "score": self.score, "evidence": self.evidence}
        if self.values:
            out["values"] = self.values
        return out
