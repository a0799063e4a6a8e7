"""How a reviewed label becomes a score: each grader's own label -> score rule, never a guess.

A reviewer picks a label from the grader's vocabulary; the score it implies
must be the one the grader itself would give that label for that item, or
metrics would mix two scales. Suites declare the rule next to their graders
(``Suite.review_rules``, e.g. the jailbreak suite's jailbreak labels on
harmful items and refusal labels on benign twins); the built-in includes
check is known here. For any other grader a reviewed label is refused rather
than scored.
"""

from __future__ import annotations

from crosslab.grading import includes
from crosslab.items.item import Item
from crosslab.review.errors import ReviewError
from crosslab.suites.registry import ReviewRule, all_review_rules


def _includes_score(label: str, item: Item) -> float:
    # grading/includes.py: "pass" (the expected text was found) scores 1.0, "fail" 0.0
    return 1.0 if label == "pass" else 0.0


def rules() -> dict[str, ReviewRule]:
    """Every reviewable grader's rule, by the grader name its verdicts carry."""
    return {includes.NAME: ReviewRule(("pass", "fail"), _includes_score), **all_review_rules()}


def labels_for(grader: str) -> tuple[str, ...]:
    """The labels a reviewer may choose for ``grader`` (empty when it has no known rule)."""
    rule = rules().get(grader)
    return rule.labels if rule else ()


def score_for(grader: str, label: str, item: Item) -> float:
    """The score ``grader`` gives ``label`` on ``item``; ReviewError when it has no rule or no such label."""
    known = rules()
    rule = known.get(grader)
    if rule is None:
        raise ReviewError(f"grader {grader!r} declares no label -> score rule, so a reviewed label cannot be "
                          f"scored (reviewable graders: {', '.join(sorted(known))})")
    if label not in rule.labels:
        raise ReviewError(f"{label!r} is not a label of grader {grader!r} (labels: {', '.join(rule.labels)})")
    try:
        return float(rule.score(label, item))
    except ValueError as exc:
        raise ReviewError(f"{label!r} does not apply to item {item.id}: {exc}") from None
