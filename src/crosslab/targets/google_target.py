"""Google Gemini API through the official google-genai SDK.

The SDK's async path sends requests with aiohttp when aiohttp is installed
(it always is here), else with httpx/httpx2, so both families of transport
exceptions are classified below. Its retries are switched off twice over:
``HttpRetryOptions(attempts=1)`` stops the tenacity loop, and setting any
retry options also stops the *implicit* extra attempt the aiohttp path makes,
after a 1-10 s sleep, on connection errors. Automatic function calling and
automatic continuation are off too, so one ``complete`` is one HTTP request.
"""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp
import pydantic
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

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

try:  # the SDK's non-aiohttp transports; either may be absent
    import httpx2
except ImportError:  # pragma: no cover
    httpx2 = None  # type: ignore[assignment]
try:
    import httpx
except ImportError:
    httpx = None  # type: ignore[assignment]

_TIMEOUTS: tuple[type[BaseException], ...] = (
    asyncio.TimeoutError,  # TimeoutError itself on 3.11+; aiohttp's ServerTimeoutError subclasses it
    aiohttp.ServerTimeoutError,
    *(m.TimeoutException for m in (httpx, httpx2) if m is not None),
)
_TRANSPORT: tuple[type[BaseException], ...] = (
    aiohttp.ClientError,
    ConnectionError,
    *(m.TransportError for m in (httpx, httpx2) if m is not None),
)
_MALFORMED: tuple[type[BaseException], ...] = (json.JSONDecodeError, UnicodeDecodeError, pydantic.ValidationError)

#: Ids we invent for function calls the API returned without one. They are
#: never sent back, as the API would not recognise them.
_SYNTHETIC_ID = re.compile(r"call-\d+")


def _call_id(call_id: str | None) -> str | None:
    return None if not call_id or _SYNTHETIC_ID.fullmatch(call_id) else call_id


def to_gemini_contents(messages: list[Message]) -> list[types.Content]:
    """Our neutral turns as Gemini contents (system turns must be split off first).

    Assistant turns become role "model"; tool calls become ``function_call``
    parts; tool results become ``function_response`` parts in a user turn,
    named from the message's "name" or, failing that, from the call it answers.
    Consecutive turns of one role are merged, as the API wants them to alternate.
    """
    names_by_id: dict[str, str] = {}
    out: list[types.Content] = []
    for m in messages:
        parts: list[types.Part] = []
        if m["role"] == "tool":
            role = "user"
            name = m.get("name") or names_by_id.get(m.get("tool_call_id", ""), "")
            parts.append(types.Part(function_response=types.FunctionResponse(
                id=_call_id(m.get("tool_call_id")), name=name, response={"result": m.get("content") or ""})))
        else:
            role = "model" if m["role"] == "assistant" else "user"
            text = m.get("content") or ""
            if text or not m.get("tool_calls"):
                parts.append(types.Part(text=text))
            for c in m.get("tool_calls") or []:
                names_by_id[c["id"]] = c["name"]
                parts.append(types.Part(function_call=types.FunctionCall(
                    id=_call_id(c["id"]), name=c["name"], args=c["arguments"])))
        if out and out[-1].role == role:
            out[-1].parts.extend(parts)  # type: ignore[union-attr]
        else:
            out.append(types.Content(role=role, parts=parts))
    return out


class GoogleTarget(Target):
    def __init__(self, deployment: Deployment, *, api_key: str | None) -> None:
        super().__init__(deployment)
        self._client = genai.Client(
            api_key=api_key,
            vertexai=False,  # never switch to Vertex because of an environment variable
            http_options=types.HttpOptions(
                base_url=deployment.base_url or None,
                timeout=max(1, round(deployment.limits.timeout_s * 1000)),  # milliseconds
                retry_options=types.HttpRetryOptions(attempts=1),  # the engine owns retries
            ),
        )

    def _config(self, system: str | None, request: ChatRequest) -> types.GenerateContentConfig:
        d = self.deployment
        config = types.GenerateContentConfig(
            system_instruction=system,
            temperature=d.temperature,
            top_p=d.top_p,
            max_output_tokens=d.max_tokens,
            seed=d.seed,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            automatic_continuation=False,
        )
        if request.tools:
            config.tools = [types.Tool(function_declarations=[
                # parameters_json_schema takes plain JSON Schema; `parameters`
                # would need the SDK's restricted Schema type.
                types.FunctionDeclaration(name=t.name, description=t.description,
                                          parameters_json_schema=t.parameters)
                for t in request.tools
            ])]
        return config

    async def complete(self, request: ChatRequest) -> ChatResponse:
        d = self.deployment
        system, turns = split_system(self.with_system_prefix(request.messages))
        try:
            response = await self._client.aio.models.generate_content(
                model=d.model, contents=to_gemini_contents(turns), config=self._config(system, request))
        except genai_errors.APIError as exc:
            headers = getattr(getattr(exc, "response", None), "headers", None)
            raise error_for_status(exc.code or 0, exc.message or str(exc), headers) from exc
        except _TIMEOUTS as exc:
            raise TargetError("timeout", f"no answer within {d.limits.timeout_s:g}s") from exc
        except _TRANSPORT as exc:
            raise TargetError("connection", f"{type(exc).__name__}: {exc}") from exc
        except _MALFORMED as exc:
            raise TargetError("bad_response", f"unparseable response: {exc}") from exc
        return self._parse(response)

    @staticmethod
    def _parse(response: types.GenerateContentResponse) -> ChatResponse:
        candidates = response.candidates or []
        if not candidates:
            feedback = response.prompt_feedback
            reason = getattr(feedback, "block_reason", None)
            if reason is not None:
                # The prompt itself was blocked: an answer, with no content.
                return ChatResponse(text="", finish_reason=f"blocked:{getattr(reason, 'value', reason)}",
                                    usage=GoogleTarget._usage(response), model=response.model_version)
            raise TargetError("bad_response", "response has no candidates")
        candidate = candidates[0]
        texts: list[str] = []
        calls: list[ToolCall] = []
        for part in (candidate.content.parts if candidate.content else None) or []:
            if part.function_call is not None:
                fc = part.function_call
                calls.append(ToolCall(id=fc.id or f"call-{len(calls)}", name=fc.name or "",
                                      arguments=dict(fc.args or {})))
            elif part.text and not part.thought:
                texts.append(part.text)
        reason = candidate.finish_reason
        return ChatResponse(
            text="".join(texts),
            tool_calls=calls,
            usage=GoogleTarget._usage(response),
            finish_reason=getattr(reason, "value", reason),
            model=response.model_version,
        )

    @staticmethod
    def _usage(response: types.GenerateContentResponse) -> Usage:
        meta = response.usage_metadata
        if meta is None:
            return Usage()
        # Thinking tokens are billed as output, so they count as output here.
        return Usage(meta.prompt_token_count or 0,
                     (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0))

    async def aclose(self) -> None:
        await self._client.aio.aclose()
        self._client.close()
