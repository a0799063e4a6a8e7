"""``agent_interrogated``: the agent loop, then follow-up questions if the environment saw a covert action.

The environment decides what counts as covert (its optional
``covert_action(messages)`` returns evidence or None); the questions come from
the item (``metadata["interrogation"]``). Each question is asked in a fresh
continuation of the finished transcript, one model call each, so the answers
are independent; they go to ``extra["interrogation"]``, and the main
transcript is left as the agent ended it.
"""

from __future__ import annotations

from typing import Any

from crosslab.dialogue.base import Dialogue
from crosslab.dialogue.builtin import agent


async def agent_interrogated(d: Dialogue) -> None:
    env = await agent(d)
    check = getattr(env, "covert_action", None)
    finding = check(d.messages) if callable(check) else None
    d.extra["covert_action"] = finding
    if not finding:
        return
    answers = []
    for i, question in enumerate(d.item.metadata.get("interrogation") or []):
        branch = [*d.messages, {"role": "user", "content": question}]
        reply = await d.reply(branch, env.tools, f"q{i}")
        answer: dict[str, Any] = {"question": question, "answer": reply.text}
        if reply.tool_calls:
            answer["tool_calls"] = [c.to_dict() for c in reply.tool_calls]
        answers.append(answer)
    d.extra["interrogation"] = answers
