"""One model call, done properly: cache, pacing, retries with backoff, tool protocol.

Every interaction type (single turn, scripted, agent loop) makes its calls
through a ModelCaller, so all of them get the same fault handling.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

from crosslab.core.errors import CrosslabError
from crosslab.engine.cache import ResponseCache, request_key
from crosslab.engine.limits import AdaptiveConcurrency, backoff_delay
from crosslab.engine.pacers import pacer_for
from crosslab.engine.pacing import Pacer
from crosslab.targets import text_tools
from crosslab.targets.base import (
    ChatRequest,
    ChatResponse,
    Message,
    Target,
    TargetError,
    ToolSpec,
    Usage,
)
from crosslab.targets.deployment import Limits


class SampleError(CrosslabError):
    """A call that failed for good: not retryable, or out of retries."""

    def __init__(self, kind: str, message: str, attempts: int) -> None:
        super().__init__(message)
        self.kind = kind
        self.attempts = attempts

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": str(self), "attempts": self.attempts}


@dataclass
class CallStats:
    """What one sample's calls cost, accumulated across its turns."""

    calls: int = 0
    cached_calls: int = 0
    retries: int = 0
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "cached_calls": self.cached_calls, "retries": self.retries,
                "usage": self.usage.to_dict(), "latency_s": round(self.latency_s, 4)}


def _estimate_tokens(messages: list[Message]) -> int:
    return sum(len(m.get("content") or "") for m in messages) // 4 + 1


class ModelCaller:
    """Calls one target: at most ``concurrency`` in flight, started when the account's pacer allows.

    The pacer (crosslab.engine.pacing) is shared with every other caller of
    the same account and model; ``pacer`` overrides it (tests, benchmarks).
    """

    def __init__(self, target: Target, *, cache: ResponseCache | None, seed: int = 0,
                 limits: Limits | None = None, pacer: Pacer | None = None) -> None:
        self.target = target
        limits = limits or target.deployment.limits
        self.limits = limits
        self.concurrency = AdaptiveConcurrency(limits.concurrency)
        self.pacer = pacer or pacer_for(target, limits)
        self.cache = cache
        self._rng = random.Random(seed)
        self._identity = target.deployment.identity()

    async def call(self, messages: list[Message], tools: tuple[ToolSpec, ...], *, epoch: int,
                   stats: CallStats, call_id: str) -> ChatResponse:
        key = None
        if self.cache is not None:
            key = request_key(self._identity, messages, [t.to_dict() for t in tools], epoch)
            hit = self.cache.get(key)
            if hit is not None:
                stats.calls += 1
                stats.cached_calls += 1
                response = ChatResponse.from_dict(hit)
                stats.usage.add(response.usage)
                return response
        request = self._request(messages, tools)
        response = await self._send_with_retries(request, stats)
        if tools and not self.target.native_tools:
            text_tools.extract_tool_calls(response, call_id)
        if key is not None:
            self.cache.put(key, response.to_dict())
        return response

    def _request(self, messages: list[Message], tools: tuple[ToolSpec, ...]) -> ChatRequest:
        if tools and not self.target.native_tools:
            text = text_tools.to_text_messages(messages)
            return ChatRequest(text_tools.with_tool_instructions(text, tools))
        return ChatRequest(messages, tools)

    async def _send_with_retries(self, request: ChatRequest, stats: CallStats) -> ChatResponse:
        attempt = 0
        input_est = _estimate_tokens(request.messages)
        while True:
            attempt += 1
            # the concurrency slot first: the pacer's release is then the moment the request starts
            await self.concurrency.acquire()
            try:
                ticket = await self.pacer.acquire(input_est)
            except BaseException:
                self.concurrency.release()
                raise
            started = time.perf_counter()
            try:
                response = await asyncio.wait_for(self.target.complete(request),
                                                  timeout=self.limits.timeout_s * 1.5)
            except (TargetError, asyncio.TimeoutError) as exc:
                error = exc if isinstance(exc, TargetError) else TargetError("timeout", "call exceeded the deadline")
            except BaseException:
                self.pacer.on_failed(ticket)
                raise
            else:
                self.pacer.on_answer(ticket, response.rate_limit, response.usage)
                stats.calls += 1
                stats.usage.add(response.usage)
                stats.latency_s += time.perf_counter() - started
                return response
            finally:
                self.concurrency.release()
            if error.kind == "rate_limit":
                self.pacer.on_refused(ticket, error.rate_limit, error.retry_after)
            else:
                self.pacer.on_failed(ticket, error.rate_limit)
            if not error.retryable or attempt > self.limits.max_retries:
                raise SampleError(error.kind, str(error), attempt) from error
            stats.retries += 1
            # a Retry-After delays this request; the pacer decides for the rest of the pool
            await asyncio.sleep(backoff_delay(attempt, base=self.limits.backoff_base_s,
                                              cap=self.limits.backoff_cap_s,
                                              retry_after=error.retry_after, rng=self._rng))
