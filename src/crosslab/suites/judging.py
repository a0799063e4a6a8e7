"""How a judge model grades a suite's items: which rubric, what it is shown, what its label means.

A suite declares one ``JudgeHook`` per grading type it lets a judge decide.
The run's grading stage (``crosslab.run.judged``) asks the hook for a
``JudgeRequest`` (a rubric id from ``grading/rubrics/`` and that rubric's
inputs, built from the item and the journal record), sends it to the judge,
and hands the parsed ``JudgeVerdict`` back to the hook, which turns it into a
verdict on the suite's own scale (its labels and scores, so metrics,
reviewers and verifiers read judged and rule-based verdicts alike).

``unsure`` says where the suite's rule-based verdict is not to be trusted
alone; the ``judge_when_unsure`` mode asks the judge only there.

A judge reply that did not parse is never given to a hook: the grading
stage records it as ``unscored`` (``core.outcome.UNSCORED``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crosslab.grading.verdict import Verdict
from crosslab.items.item import Item

if TYPE_CHECKING:
    from crosslab.grading.judge_parse import JudgeVerdict


@dataclass(frozen=True)
class JudgeRequest:
    rubric: str  # a rubric id (``crosslab judge rubrics``)
    inputs: Mapping[str, Any]


@dataclass(frozen=True)
class JudgeHook:
    #: The rubric and its inputs for one sample, or None when this item is not for a judge.
    request: Callable[[Item, dict[str, Any]], JudgeRequest | None]
    #: (item, the rules' verdict, the judge's scored verdict) -> the verdict on the suite's scale.
    verdict: Callable[[Item, Verdict, JudgeVerdict], Verdict]
    #: Whether the rules' verdict needs a second opinion (``judge_when_unsure``).
    unsure: Callable[[Item, Verdict], bool] = lambda item, verdict: False


def user_prompt(record: Mapping[str, Any]) -> str:
    """Every user turn, joined: what the model was asked (attacks may spread a request over turns)."""
    return "\n".join(m.get("content") or "" for m in record["messages"] if m["role"] == "user")


def judged(rules: Verdict, label: str, score: float, judge: JudgeVerdict,
           values: Mapping[str, float] | None = None) -> Verdict:
    """The judge's label and score under the rules' grader name, with both opinions in the evidence."""
    evidence = {"decided_by": "judge", "judge": judge.to_dict(),
                "rules": {"label": rules.label, "score": rules.score, "evidence": rules.evidence},
                "disagree": label != rules.label}
    return Verdict(rules.grader, rules.version, label, score, evidence,
                   dict(rules.values if values is None else values))
