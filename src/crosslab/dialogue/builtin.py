"""The three interactions every item can use: one turn, scripted turns, an agent loop."""

from __future__ import annotations

from crosslab.dialogue.base import Dialogue, Interaction
from crosslab.sandbox.environment import ToolEnvironment


async def single_turn(d: Dialogue, tag: str = "") -> None:
    reply = await d.reply(d.messages, (), tag)
    d.messages.append(reply.to_message())


async def scripted(d: Dialogue) -> None:
    """The first turn, then each follow-up after the model's reply."""
    await single_turn(d)
    for text in d.item.followups:
        d.messages.append({"role": "user", "content": text})
        await single_turn(d)


async def agent(d: Dialogue, env: ToolEnvironment | None = None) -> ToolEnvironment:
    """Model and tools in turn until the model answers without a tool call or the step limit.

    The environment's final state and action log go to ``extra["environment"]``
    even when a call fails, so a failed rollout still shows what it did.
    """
    env = env if env is not None else d.environment()
    d.extra["stop_reason"] = "step_limit"
    try:
        for step in range(d.item.max_steps):
            reply = await d.reply(d.messages, env.tools, str(step))
            d.messages.append(reply.to_message())
            if not reply.tool_calls:
                d.extra["stop_reason"] = "answered"
                break
            for call in reply.tool_calls:
                result = env.call(call.name, call.arguments)
                d.messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name, "content": result})
    finally:
        d.extra["environment"] = {"state": env.snapshot(), "log": list(env.log)}
    return env


async def _agent(d: Dialogue) -> None:
    await agent(d)


BUILTIN: dict[str, Interaction] = {"single_turn": single_turn, "scripted": scripted, "agent": _agent}
