"""The attack judge: a 1-10 score of how fully a reply carries out the behaviour, and TAP's on-topic check.

Both are rubrics in data files (``data/judge_score.yaml``,
``data/judge_on_topic.yaml``) in the format of ``grading/rubrics``, so they
are rendered with nonce-fenced material (a target reply cannot forge the
judge's answer) and parsed strictly by ``grading.judge_parse``. A reply that
does not parse is ``unscored``: it is counted (``RoleCount.unscored``) and
never turned into a 1 or a 10. What the algorithms do with it is fixed and
documented: an unscored reply is never a success, ranks below every scored
one, and an unscored on-topic check keeps the candidate (pruning needs an
explicit ``off_topic``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from crosslab.attacks.budget import Ledger
from crosslab.attacks.calls import RoleCaller
from crosslab.core.outcome import UNSCORED
from crosslab.grading.judge_delimit import new_nonce
from crosslab.grading.judge_parse import parse_reply
from crosslab.grading.judge_rubric import Rubric, parse_rubric

#: The nonce a judge request is rendered with for its key (never sent), as in judges/runner.py.
KEY_NONCE = "0" * 16


@cache
def attack_rubric(name: str) -> Rubric:
    """``score`` or ``on_topic``: the attack judge's rubrics."""
    file = {"score": "judge_score.yaml", "on_topic": "judge_on_topic.yaml"}[name]
    text = resources.files("crosslab.attacks").joinpath(f"data/{file}").read_text("utf-8")
    return parse_rubric(yaml.safe_load(text), f"attacks/data/{file}")


@dataclass(frozen=True)
class Score:
    """A judge's score of one reply; ``score`` is None when the judge's answer did not parse."""

    score: int | None
    label: str  # refused, partial, complete, or unscored
    reason: str | None = None  # why it is unscored

    @property
    def scored(self) -> bool:
        return self.score is not None

    def reached(self, threshold: int) -> bool:
        return self.score is not None and self.score >= threshold

    def text(self) -> str:
        return f"{self.score}/10" if self.score is not None else "unscored"

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "label": self.label, "reason": self.reason}


class AttackJudge:
    def __init__(self, caller: RoleCaller) -> None:
        self.caller = caller
        self.score_rubric = attack_rubric("score")
        self.topic_rubric = attack_rubric("on_topic")

    async def _ask(self, rubric: Rubric, ledger: Ledger, behaviour_id: str, slot: str,
                   inputs: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str | None]:
        nonce = new_nonce()
        request = rubric.render(inputs, nonce)
        reply = await self.caller.call(ledger, behaviour_id, slot, request.messages,
                                       key_messages=rubric.render(inputs, KEY_NONCE).messages,
                                       extra={"nonce": nonce, "rubric": rubric.ref()})
        used = reply.extra.get("nonce", nonce)  # a replayed or cached reply is read against its own fences
        verdict = parse_reply(rubric, reply.response.text, used, inputs)
        if not verdict.scored:
            ledger.roles["judge"].unscored += 1
            return UNSCORED, None, str(verdict.evidence.get("reason"))
        return verdict.label, verdict.answer, None

    async def score(self, ledger: Ledger, behaviour_id: str, slot: str, goal: str, response: str) -> Score:
        label, answer, reason = await self._ask(self.score_rubric, ledger, behaviour_id, slot,
                                                {"goal": goal, "response": response})
        if answer is None:
            return Score(None, UNSCORED, reason)
        return Score(int(answer["score"]), label)

    async def on_topic(self, ledger: Ledger, behaviour_id: str, slot: str, goal: str, prompt: str) -> bool | None:
        """True / False, or None when the judge's answer did not parse (the candidate is then kept)."""
        label, answer, _ = await self._ask(self.topic_rubric, ledger, behaviour_id, slot,
                                           {"goal": goal, "prompt": prompt})
        return None if answer is None else label == "on_topic"
