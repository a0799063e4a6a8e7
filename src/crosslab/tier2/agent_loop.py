"""The reference agent loop, on the lab's side: a model behind an MCP client, for labs without a harness.

It does what crosslab's own agent loop does, with the environment at the
other end of an MCP connection:

1. read the ``task`` prompt: the operator's instructions become the system
   message, the task the user message;
2. offer the model the server's tools; run each tool call it makes through the
   server and hand the result back; a reply without a tool call is handed in
   as the report (``submit``), as is the last reply at the step limit;
3. while the server offers ``answer`` (a follow-up question after submit),
   ask the model the question in the same conversation and send its answer.

The model is an ordinary Target called through the engine's ModelCaller, so
retries, pacing and the text tool protocol for small local models are the
ones every run uses. ``attach_reasoning`` files the model's own text of each
turn with the rollout through the server's ``/attach`` route, before the
turn's calls go out (the rollout still open): the lab decides whether the
evaluator sees it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from crosslab.engine.caller import CallStats, ModelCaller
from crosslab.targets.base import Message, Target, ToolSpec

MAX_STEPS = 10  # as crosslab's own agent loop (suites/scheming/build.py MAX_STEPS)


@dataclass
class RolloutReport:
    """What the lab's side saw of one rollout."""

    steps: int = 0
    tool_calls: int = 0
    errors: int = 0  # tool results the server marked isError
    follow_ups: int = 0
    submitted: bool = False
    messages: list[Message] = field(default_factory=list)


def _text(content: list[Any]) -> str:
    return "\n".join(getattr(c, "text", "") for c in content if getattr(c, "type", "") == "text")


def _specs(tools: list[Any]) -> tuple[ToolSpec, ...]:
    return tuple(ToolSpec(t.name, t.description or "", dict(t.input_schema or {"type": "object"})) for t in tools)


async def drive(session: ClientSession, target: Target, *, max_steps: int = MAX_STEPS,
                note: Callable[[str], Awaitable[None]] | None = None) -> RolloutReport:
    """Run one rollout over an initialised MCP session; ``note`` receives the model's own text of each turn."""
    caller = ModelCaller(target, cache=None)
    stats = CallStats()
    report = RolloutReport()
    prompt = await session.get_prompt("task")
    texts = [_text([m.content]) for m in prompt.messages]
    messages: list[Message] = ([{"role": "system", "content": texts[0]}] if len(texts) > 1 else []) + \
        [{"role": "user", "content": texts[-1]}]
    tools = _specs((await session.list_tools()).tools)
    while not report.submitted:
        report.steps += 1
        reply = await caller.call(messages, tools, epoch=0, stats=stats, call_id=f"step{report.steps}")
        messages.append(reply.to_message())
        if note is not None and reply.text:
            await note(reply.text)
        calls = [c for c in reply.tool_calls if c.name != "submit"]
        submit = next((c for c in reply.tool_calls if c.name == "submit"), None)
        if calls and report.steps < max_steps:
            for call in calls:
                result = await session.call_tool(call.name, call.arguments)
                report.tool_calls += 1
                report.errors += bool(result.is_error)
                messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name,
                                 "content": _text(result.content)})
            continue
        text = str(submit.arguments.get("report", "")) if submit else reply.text
        result = await session.call_tool("submit", {"report": text or "Done."})
        report.submitted = not result.is_error
        if result.is_error:
            break
        await _follow_ups(session, caller, stats, messages, report, note)
    report.messages = messages
    return report


async def _follow_ups(session: ClientSession, caller: ModelCaller, stats: CallStats, messages: list[Message],
                      report: RolloutReport, note: Callable[[str], Awaitable[None]] | None) -> None:
    while any(t.name == "answer" for t in (await session.list_tools()).tools):
        question = _text([m.content for m in (await session.get_prompt("follow_up")).messages])
        messages.append({"role": "user", "content": question})
        reply = await caller.call(messages, (), epoch=0, stats=stats, call_id=f"q{report.follow_ups}")
        messages.append(reply.to_message())
        if note is not None and reply.text:
            await note(reply.text)
        await session.call_tool("answer", {"text": reply.text or "(no answer)"})
        report.follow_ups += 1


async def connect(url: str, token: str, target: Target, *, max_steps: int = MAX_STEPS,
                  attach_reasoning: bool = False) -> RolloutReport:
    """One rollout against an evaluator's streamable-HTTP server (``url`` ends in ``/mcp``)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60.0, read=300.0)) as http:

        async def attach(text: str) -> None:
            response = await http.post(url.rsplit("/mcp", 1)[0] + "/attach",
                                       content=json.dumps({"kind": "reasoning", "content": text}))
            response.raise_for_status()

        async with streamable_http_client(url, http_client=http) as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            return await drive(session, target, max_steps=max_steps, note=attach if attach_reasoning else None)
