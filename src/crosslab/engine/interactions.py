"""How a sample's conversation unfolds: single turn, scripted turns, or an agent loop.

Each returns the full message list; the caller's stats collect cost. An
environment (agent items) is built fresh per sample from the suite's factory,
so samples never share state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crosslab.engine.caller import CallStats, ModelCaller
from crosslab.engine.plan import Sample
from crosslab.sandbox.environment import ToolEnvironment
from crosslab.suites.item import Item
from crosslab.targets.base import Message

EnvironmentFactory = Callable[[Item, int], ToolEnvironment]


class Conversation:
    """The messages of one sample so far, plus what an agent loop left behind."""

    def __init__(self, messages: list[Message]) -> None:
        self.messages: list[Message] = [dict(m) for m in messages]
        self.extra: dict[str, Any] = {}


async def single_turn(sample: Sample, caller: ModelCaller, convo: Conversation, stats: CallStats,
                      environments: dict[str, EnvironmentFactory]) -> None:
    reply = await caller.call(convo.messages, (), epoch=sample.epoch, stats=stats, call_id=sample.id[:12])
    convo.messages.append(reply.to_message())


async def scripted(sample: Sample, caller: ModelCaller, convo: Conversation, stats: CallStats,
                   environments: dict[str, EnvironmentFactory]) -> None:
    await single_turn(sample, caller, convo, stats, environments)
    for text in sample.item.followups:
        convo.messages.append({"role": "user", "content": text})
        await single_turn(sample, caller, convo, stats, environments)


async def agent(sample: Sample, caller: ModelCaller, convo: Conversation, stats: CallStats,
                environments: dict[str, EnvironmentFactory]) -> None:
    item = sample.item
    if item.environment not in environments:
        raise LookupError(f"item {item.id}: unknown environment {item.environment!r}")
    env = environments[item.environment](item, sample.epoch)
    convo.extra["stop_reason"] = "step_limit"
    try:
        for step in range(item.max_steps):
            reply = await caller.call(convo.messages, env.tools, epoch=sample.epoch, stats=stats,
                                      call_id=f"{sample.id[:12]}-{step}")
            convo.messages.append(reply.to_message())
            if not reply.tool_calls:
                convo.extra["stop_reason"] = "answered"
                break
            for call in reply.tool_calls:
                result = env.call(call.name, call.arguments)
                convo.messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name,
                                       "content": result})
    finally:
        convo.extra["environment"] = {"state": env.snapshot(), "log": list(env.log)}


INTERACTIONS = {"single_turn": single_turn, "scripted": scripted, "agent": agent}
