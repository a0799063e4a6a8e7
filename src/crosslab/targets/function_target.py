"""``FunctionTarget``: a target backed by a Python function, for tests and quick experiments.

The equivalent of httpx's ``MockTransport``: no network, no model, just a
function (sync or async) that gets the conversation and answers it::

    target = FunctionTarget(lambda messages: "I can't help with that.")

The function receives the list of messages exactly as a text-only model would
(the deployment's system prefix applied; for agent items the tools described in
the system turn and earlier tool calls and results written as text, following
the text tool protocol in ``crosslab.targets.text_tools``). It returns the reply
as a ``str``, or a ``ChatResponse`` (e.g. with ``tool_calls``, or usage).

Its Deployment has provider ``function`` and, as model, the function's
``module:qualified name`` (or the ``model`` given), so runs journal it and
sample ids carry its digest like any other target. Two functions with the same
name are the same deployment to crosslab: give one a ``model`` to tell them
apart. A function target is made in Python (``crosslab.run.session.execute_run``
or ``crosslab.engine.runner.execute``), not from a ``--target`` spec.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from crosslab.targets.base import ChatRequest, ChatResponse, Message, Target
from crosslab.targets.deployment import build_deployment

#: messages -> reply text or a ChatResponse, or an awaitable of either.
ReplyFn = Callable[[list[Message]], "str | ChatResponse | Awaitable[str | ChatResponse]"]


def function_name(fn: Callable[..., Any]) -> str:
    """``module:qualname`` of a function (of its class, for a callable object)."""
    named = fn if hasattr(fn, "__qualname__") else type(fn)
    return f"{getattr(named, '__module__', None) or '?'}:{named.__qualname__}"


class FunctionTarget(Target):
    """A deployment whose answers come from ``fn(messages)``; ``settings`` are Deployment fields."""

    native_tools = False  # the function sees tools as the text tool protocol describes them

    def __init__(self, fn: ReplyFn, *, model: str | None = None, **settings: Any) -> None:
        if not callable(fn):
            raise TypeError(f"FunctionTarget needs a function, got {type(fn).__name__}")
        name = model or function_name(fn)
        super().__init__(build_deployment({**settings, "provider": "function", "model": name},
                                          f"FunctionTarget({name})"))
        self.fn = fn

    async def complete(self, request: ChatRequest) -> ChatResponse:
        messages = [dict(m) for m in self.with_system_prefix(request.messages)]
        reply = self.fn(messages)
        if inspect.isawaitable(reply):
            reply = await reply
        if isinstance(reply, str):
            return ChatResponse(text=reply, finish_reason="stop", model=self.deployment.label)
        if isinstance(reply, ChatResponse):
            return reply
        raise TypeError(f"{self.deployment.label} returned {type(reply).__name__}, not a str or ChatResponse")
