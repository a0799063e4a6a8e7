"""How well a grader agrees with human labels: accuracy, per-class precision and recall, Cohen's kappa.

Every grader figure crosslab publishes (docs/graders/, grader cards, the
agreement printed beside a metric) comes from here, so the numbers mean the
same thing everywhere. Rates carry Wilson intervals; kappa is chance-corrected
agreement, (p_o - p_e) / (1 - p_e), which stays honest when one class
dominates (a grader that always says "refused" on a set that is 90 % refusals
has accuracy 0.90 and kappa 0).

Predictions may include labels outside ``classes`` (``unscored`` from a judge
whose reply did not parse): they count against accuracy, appear in the
confusion matrix, and are reported separately, never mapped to a class.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crosslab.stats.intervals import Interval, wilson


@dataclass(frozen=True)
class ClassFigures:
    """Precision and recall of one class, with their counts."""
    label: str
    support: int  # how many items humans gave this label
    predicted: int  # how many the grader gave this label
    precision: Interval | None  # None when the grader never predicted the class
    recall: Interval | None  # None when humans never used the class


@dataclass(frozen=True)
class Agreement:
    """A grader's agreement with human labels on one set."""
    n: int
    classes: tuple[str, ...]
    accuracy: Interval
    kappa: float | None  # None when chance agreement is 1 (a single class in both)
    per_class: tuple[ClassFigures, ...]
    #: confusion[human][grader] = count; grader labels outside ``classes`` included.
    confusion: dict[str, dict[str, int]]
    unscored: int  # predictions outside ``classes``

    def to_dict(self) -> dict[str, Any]:
        def interval(i: Interval | None) -> dict[str, Any] | None:
            return None if i is None else {"estimate": round(i.estimate, 4), "low": round(i.low, 4),
                                           "high": round(i.high, 4)}
        return {
            "n": self.n,
            "classes": list(self.classes),
            "accuracy": interval(self.accuracy),
            "kappa": None if self.kappa is None else round(self.kappa, 4),
            "per_class": {c.label: {"support": c.support, "predicted": c.predicted,
                                    "precision": interval(c.precision), "recall": interval(c.recall)}
                          for c in self.per_class},
            "confusion": self.confusion,
            "unscored": self.unscored,
            "interval": "Wilson score, 95 %",
        }


def agreement(human: Sequence[str], grader: Sequence[str], classes: Sequence[str] | None = None) -> Agreement:
    """Compare the grader's labels with the human ones, item by item.

    ``classes`` are the labels a grader is meant to give (default: the human
    labels seen); a human label outside them is an error, a grader label
    outside them is counted as ``unscored``.
    """
    if len(human) != len(grader):
        raise ValueError(f"{len(human)} human labels but {len(grader)} grader labels")
    if not human:
        raise ValueError("no labelled items to compare")
    known = tuple(classes) if classes is not None else tuple(sorted(set(human)))
    if len(set(known)) != len(known) or not known:
        raise ValueError(f"classes must be distinct and non-empty, got {list(known)}")
    strange = sorted(set(human) - set(known))
    if strange:
        raise ValueError(f"human labels {strange} are not among the classes {list(known)}")
    n = len(human)
    pairs = Counter(zip(human, grader))
    confusion = {h: {g: pairs[(h, g)] for g in _columns(known, grader) if pairs[(h, g)]} for h in known}
    agree = sum(pairs[(c, c)] for c in known)
    human_counts, grader_counts = Counter(human), Counter(grader)
    expected = sum(human_counts[c] * grader_counts[c] for c in known) / (n * n)
    observed = agree / n
    kappa = None if expected >= 1.0 else (observed - expected) / (1 - expected)
    per_class = tuple(
        ClassFigures(c, human_counts[c], grader_counts[c],
                     wilson(pairs[(c, c)], grader_counts[c]) if grader_counts[c] else None,
                     wilson(pairs[(c, c)], human_counts[c]) if human_counts[c] else None)
        for c in known)
    unscored = sum(v for k, v in grader_counts.items() if k not in known)
    return Agreement(n, known, wilson(agree, n), kappa, per_class, confusion, unscored)


def _columns(known: tuple[str, ...], grader: Sequence[str]) -> list[str]:
    return list(known) + sorted(set(grader) - set(known))
