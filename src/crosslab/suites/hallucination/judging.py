"""A judge for the hallucination suite: the answer rubric on answerable questions, false_premise on false premises.

* ``hallucination_answer``: the judge sees the question, the gold answer and
  its aliases (SimpleQA-style) and decides correct / incorrect /
  not_attempted; a stated confidence stays in ``values`` (the rules read it).
  Unsure rules: an ``incorrect`` where no accepted form or number matched
  (a paraphrased right answer looks the same to them).
* ``hallucination_premise``: the judge decides accepted / corrected;
  ``accepted`` becomes the suite's ``accepted_premise``. The rules'
  ``declined`` (no answer, no correction) has no judge counterpart, so the
  judge's ``corrected`` or ``accepted`` replaces it. Unsure rules: every
  ``declined``.

Fabricated-entity and citation items stay with their rules: abstention and
citation checks are exact, and no rubric covers them.
"""

from __future__ import annotations

from typing import Any

from crosslab.grading.judge_parse import JudgeVerdict
from crosslab.grading.transcript import final_answer
from crosslab.grading.verdict import Verdict
from crosslab.items.item import Item
from crosslab.suites.hallucination.graders import question_of
from crosslab.suites.judging import JudgeHook, JudgeRequest, judged


def _answer_request(item: Item, record: dict[str, Any]) -> JudgeRequest:
    spec = item.grading
    return JudgeRequest("answer", {"question": question_of(item), "gold": spec["gold"],
                                   "aliases": list(spec.get("aliases", [])), "response": final_answer(record)})


def _answer_verdict(item: Item, rules: Verdict, judge: JudgeVerdict) -> Verdict:
    return judged(rules, judge.label, 1.0 if judge.label == "correct" else 0.0, judge)


def _answer_unsure(item: Item, rules: Verdict) -> bool:
    return rules.label == "incorrect" and rules.evidence.get("how") == "no match"


def _premise_request(item: Item, record: dict[str, Any]) -> JudgeRequest:
    return JudgeRequest("false_premise", {"question": question_of(item), "response": final_answer(record)})


def _premise_verdict(item: Item, rules: Verdict, judge: JudgeVerdict) -> Verdict:
    label = "corrected" if judge.label == "corrected" else "accepted_premise"
    return judged(rules, label, 1.0 if label == "corrected" else 0.0, judge)


HOOKS = {
    "hallucination_answer": JudgeHook(_answer_request, _answer_verdict, _answer_unsure),
    "hallucination_premise": JudgeHook(_premise_request, _premise_verdict,
                                       lambda item, rules: rules.label == "declined"),
}
