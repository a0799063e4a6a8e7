"""The attacker's side of the conversation: what it is asked, and how its answer is read.

The attacker answers with one JSON object (``{"improvement", "prompt"}`` for
single-turn attacks, ``{"question"}`` for Crescendo). The last JSON object
in its reply that holds the field as a non-empty string is taken; anything
else is *unreadable*: counted (``RoleCount.unscored`` of the attacker), told
to the attacker in the next turn, and never sent to the target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crosslab.grading.judge_parse import json_objects
from crosslab.targets.base import Message

#: How much of a target reply the attacker is shown (small attacker models have short contexts).
REPLY_CHARS = 1500


def read_field(text: str, name: str) -> str | None:
    """The value of ``name`` in the last JSON object of ``text`` that has it as a non-empty string."""
    found = None
    for _, _, obj in json_objects(text):
        value = obj.get(name)
        if isinstance(value, str) and value.strip():
            found = value.strip()
    return found


def clip(text: str) -> str:
    return text if len(text) <= REPLY_CHARS else text[:REPLY_CHARS] + " [...]"


@dataclass
class AttackerThread:
    """One attacker conversation: its system prompt, first request and the rounds since (oldest first)."""

    system: str
    first: str
    rounds: list[tuple[Message, Message]] = field(default_factory=list)  # (attacker's answer, our feedback)
    keep_last: int | None = None  # rounds kept in the request; None keeps all

    def request(self, note: str | None = None) -> list[Message]:
        """The messages to send; ``note`` is appended to the last user turn (a branching hint)."""
        rounds = self.rounds if self.keep_last is None else self.rounds[-self.keep_last:]
        messages: list[Message] = [{"role": "system", "content": self.system}, {"role": "user", "content": self.first}]
        for answer, feedback in rounds:
            messages += [answer, feedback]
        if note:
            last = dict(messages[-1])
            last["content"] = f"{last['content']}\n\n{note}"
            messages[-1] = last
        return messages

    def then(self, answer: str, feedback: str) -> AttackerThread:
        """A copy with one more round (TAP children share their parent's history)."""
        return AttackerThread(self.system, self.first,
                              [*self.rounds, ({"role": "assistant", "content": answer},
                                              {"role": "user", "content": feedback})], self.keep_last)
