"""Anthropic Messages API through the official SDK.

Uses the SDK's aiohttp transport when it has one, for the same reason as the
OpenAI adapter: it sustains far more concurrent requests on a small machine.
The SDK's own retries are off; the engine owns retries.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anthropic

try:
    import aiohttp
except ImportError:  # pragma: no cover - the SDK then falls back to httpx
    aiohttp = None  # type: ignore[assignment]

from crosslab.targets.base import (
    ChatRequest,
    ChatResponse,
    Message,
    Target,
    TargetError,
    ToolCall,
    Usage,
    split_system,
)
from crosslab.targets.deployment import Deployment
from crosslab.targets.errors import error_for_status
from crosslab.targets.ratelimit import account_fingerprint, read_rate_limit_headers


def to_anthropic_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Our neutral turns as Anthropic turns (no system turns: pass those through split_system).

    Tool calls become ``tool_use`` blocks; tool results become ``tool_result``
    blocks in a user turn. Consecutive turns of one role are merged, since the
    API wants user and assistant turns to alternate and parallel tool results
    must arrive together.
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        role = m["role"]
        if role == "tool":
            role = "user"
            blocks: list[dict[str, Any]] = [
                {"type": "tool_result", "tool_use_id": m["tool_call_id"], "content": m.get("content") or ""}
            ]
        else:
            text = m.get("content") or ""
            # The API rejects empty text blocks; an assistant turn may be only tool calls.
            blocks = [{"type": "text", "text": text}] if text or not m.get("tool_calls") else []
            blocks += [
                {"type": "tool_use", "id": c["id"], "name": c["name"], "input": c["arguments"]}
                for c in m.get("tool_calls") or []
            ]
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return out


def _really_timed_out(exc: BaseException) -> bool:
    """Whether an APITimeoutError is a timeout, judged by its root cause.

    The SDK's aiohttp transport translates aiohttp errors into httpx ones by a
    table, and upstream's table turns a dropped connection into ConnectTimeout
    (Anthropic's vendored copy fixes that; older or future copies may not).
    """
    root = exc
    while root.__cause__ is not None:
        root = root.__cause__
    if aiohttp is not None and isinstance(root, aiohttp.ClientError):
        return isinstance(root, asyncio.TimeoutError)
    return True


def _make_client(deployment: Deployment, api_key: str | None) -> anthropic.AsyncAnthropic:
    kwargs: dict[str, Any] = {}
    aio_client = getattr(anthropic, "DefaultAioHttpClient", None)
    if aio_client is not None:
        try:
            kwargs["http_client"] = aio_client(timeout=deployment.limits.timeout_s)
        except RuntimeError:  # the SDK raises this when aiohttp isn't installed
            pass
    return anthropic.AsyncAnthropic(
        api_key=api_key,
        base_url=deployment.base_url,
        timeout=deployment.limits.timeout_s,
        max_retries=0,  # the engine owns retries
        **kwargs,
    )


class AnthropicTarget(Target):
    def __init__(self, deployment: Deployment, *, api_key: str | None) -> None:
        super().__init__(deployment)
        self.account = account_fingerprint(api_key)
        self._client = _make_client(deployment, api_key)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        d = self.deployment
        system, turns = split_system(self.with_system_prefix(request.messages))
        # SDK 1.0 dropped temperature/top_p from create()'s signature (the API
        # deprecated them for models after Opus 4.6, which accept only the
        # default 1.0), but older models honour them, so they go in the body.
        sampling: dict[str, Any] = {} if d.temperature is None else {"temperature": d.temperature}
        if d.top_p is not None:
            sampling["top_p"] = d.top_p
        params: dict[str, Any] = {
            "model": d.model,
            "messages": to_anthropic_messages(turns),
            "max_tokens": d.max_tokens,
            "extra_body": sampling,
        }
        if system:
            params["system"] = system
        # Anthropic has no sampling seed; d.seed is deliberately not sent.
        if request.tools:
            params["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in request.tools
            ]
        try:
            raw = await self._client.messages.with_raw_response.create(**params)
            message = await raw.parse()
        except anthropic.APITimeoutError as exc:
            if not _really_timed_out(exc):
                raise TargetError("connection", str(exc.__cause__ or exc)) from exc
            raise TargetError("timeout", f"no answer within {d.limits.timeout_s:g}s") from exc
        except anthropic.APIConnectionError as exc:
            raise TargetError("connection", str(exc.__cause__ or exc)) from exc
        except anthropic.APIStatusError as exc:
            raise error_for_status(exc.status_code, exc.message, exc.response.headers) from exc
        except (anthropic.APIResponseValidationError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise TargetError("bad_response", f"unparseable response: {exc}") from exc
        response = self._parse(message)
        response.rate_limit = read_rate_limit_headers(raw.headers)
        return response

    @staticmethod
    def _parse(message: Any) -> ChatResponse:
        # Without strict validation the SDK hands back a bare str for a non-JSON
        # body and an unvalidated model for JSON of the wrong shape; check both.
        content = getattr(message, "content", None)
        if not isinstance(content, list):
            raise TargetError("bad_response", f"response is not a Message: {str(message)[:200]!r}")
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in content:
            kind = getattr(block, "type", None)
            if kind == "text":
                texts.append(getattr(block, "text", "") or "")
            elif kind == "tool_use":
                args = getattr(block, "input", None)
                calls.append(ToolCall(
                    id=getattr(block, "id", "") or f"call-{len(calls)}",
                    name=getattr(block, "name", "") or "",
                    arguments=args if isinstance(args, dict) else {"_value": args},
                ))
        usage = getattr(message, "usage", None)
        return ChatResponse(
            text="".join(texts),
            tool_calls=calls,
            usage=Usage(getattr(usage, "input_tokens", 0) or 0, getattr(usage, "output_tokens", 0) or 0),
            finish_reason=getattr(message, "stop_reason", None),
            model=getattr(message, "model", None),
        )

    async def aclose(self) -> None:
        await self._client.close()
