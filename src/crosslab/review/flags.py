"""Which verdicts need a human: the grader said it was unsure, or two graders of one sample disagree.

Read from the verdicts alone, so export needs no model and no judge:

- ``unsure``: the verdict's evidence says so (``evidence["unsure"]`` is true,
  as a judge-vs-rules check sets it), or the label is ``unscored`` (a judge
  whose answer could not be parsed);
- ``disagreement``: the evidence says a second opinion differed
  (``evidence["disagreement"]`` or ``evidence["disagree"]`` is true, as the
  judge-vs-rules combination writes it);
- ``borderline``: the label is one a detector gives when a response mixes
  both behaviours (the refusal detector's ``partial_refusal``);
- ``graders_disagree``: the sample has verdicts from several graders and their
  scores differ.
"""

from __future__ import annotations

from typing import Any

#: Labels that mean the grader reached no decision.
UNSURE_LABELS = frozenset({"unscored"})
#: Labels that mean "both behaviours are present", so a person should look.
BORDERLINE_LABELS = frozenset({"partial_refusal"})


def flags_of(verdict: dict[str, Any], siblings: dict[str, dict[str, Any]]) -> list[str]:
    """Why ``verdict`` needs review (empty: it does not); ``siblings`` are all verdicts of its sample, by grader."""
    evidence = verdict.get("evidence") or {}
    found = []
    if evidence.get("unsure") is True or verdict.get("label") in UNSURE_LABELS:
        found.append("unsure")
    if evidence.get("disagreement") is True or evidence.get("disagree") is True:
        found.append("disagreement")
    if verdict.get("label") in BORDERLINE_LABELS:
        found.append("borderline")
    if len({v.get("score") for v in siblings.values()}) > 1:
        found.append("graders_disagree")
    return found
