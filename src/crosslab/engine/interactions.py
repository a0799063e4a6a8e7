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


async def agent_interrogated(sample: Sample, caller: ModelCaller, convo: Conversation, stats: CallStats,
                             environments: dict[str, EnvironmentFactory]) -> None:
    """The agent loop, then follow-up questions if the environment saw a covert action.

    The environment decides what counts as covert (its optional
    ``covert_action(messages)`` returns evidence or None); the questions come from
    the item (``metadata["interrogation"]``). Each question is asked in a fresh
    continuation of the finished transcript, one model call each, so the answers
    are independent; they go to ``convo.extra["interrogation"]``, the main
    transcript is left as the agent ended it.
    """
    item = sample.item
    built: list[ToolEnvironment] = []

    def keep(it: Item, seed: int) -> ToolEnvironment:
        env = environments[it.environment](it, seed)  # type: ignore[index]
        built.append(env)
        return env

    wrapped = dict(environments)
    if item.environment in environments:
        wrapped[item.environment] = keep
    await agent(sample, caller, convo, stats, wrapped)
    env = built[0]
    check = getattr(env, "covert_action", None)
    finding = check(convo.messages) if callable(check) else None
    convo.extra["covert_action"] = finding
    if not finding:
        return
    answers = []
    for i, question in enumerate(item.metadata.get("interrogation") or []):
        branch = [*convo.messages, {"role": "user", "content": question}]
        reply = await caller.call(branch, env.tools, epoch=sample.epoch, stats=stats,
                                  call_id=f"{sample.id[:12]}-q{i}")
        answer: dict[str, Any] = {"question": question, "answer": reply.text}
        if reply.tool_calls:
            answer["tool_calls"] = [c.to_dict() for c in reply.tool_calls]
        answers.append(answer)
    convo.extra["interrogation"] = answers


INTERACTIONS["agent_interrogated"] = agent_interrogated
