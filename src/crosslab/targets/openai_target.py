"""OpenAI Chat Completions, and every server that speaks it (vLLM, Ollama,
llama.cpp's server, Together, Gemini's OpenAI-compatible endpoint).

Two transports share one request builder and one response parser:

- ``aiohttp`` (default): the Chat Completions wire format sent directly with
  aiohttp and orjson. The official SDK spends ~1.3 ms of CPU per call building
  and validating typed objects, which caps a 2-core machine near 550 calls/s;
  the direct path costs ~0.4 ms (bench/engine_throughput.py, docs/benchmarks.md).
- ``sdk``: the official ``openai`` client (set ``transport: sdk`` in the target
  YAML), for endpoints that need something the SDK knows and we don't.

Both follow the SDK's conventions: OPENAI_API_KEY, OPENAI_BASE_URL, and the
OPENAI_ORG_ID / OPENAI_PROJECT_ID headers.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import aiohttp
import openai
import orjson

from crosslab.core.version import __version__
from crosslab.targets.base import (
    ChatRequest,
    ChatResponse,
    Message,
    Target,
    TargetError,
    ToolCall,
    Usage,
)
from crosslab.targets.deployment import Deployment
from crosslab.targets.errors import error_for_status
from crosslab.targets.ratelimit import account_fingerprint, read_rate_limit_headers

DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Transport exceptions that mean "never connected", whatever the SDK calls them.
CONNECT_FAILURES = frozenset({"ConnectTimeout", "ConnectError"})


def to_openai_messages(messages: list[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        if m["role"] == "assistant" and m.get("tool_calls"):
            out.append({
                "role": "assistant",
                "content": m.get("content") or None,
                "tool_calls": [
                    {"id": c["id"], "type": "function",
                     "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
                    for c in m["tool_calls"]
                ],
            })
        elif m["role"] == "tool":
            out.append({"role": "tool", "tool_call_id": m["tool_call_id"], "content": m["content"]})
        else:
            out.append({"role": m["role"], "content": m["content"]})
    return out


def parse_arguments(raw: str | None) -> dict[str, Any]:
    """Tool arguments as a dict; unparseable JSON is kept so graders can see it."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return {"_unparsed": raw}
    return value if isinstance(value, dict) else {"_value": value}


def build_params(target: Target, request: ChatRequest) -> dict[str, Any]:
    d = target.deployment
    params: dict[str, Any] = {
        "model": d.model,
        "messages": to_openai_messages(target.with_system_prefix(request.messages)),
        "max_tokens": d.max_tokens,
    }
    for key in ("temperature", "top_p", "seed"):
        value = getattr(d, key)
        if value is not None:
            params[key] = value
    if request.tools:
        params["tools"] = [{"type": "function", "function": t.to_dict()} for t in request.tools]
    return params


def parse_completion(body: Any) -> ChatResponse:
    """A Chat Completions response body (as plain JSON data) to a ChatResponse."""
    try:
        choice = body["choices"][0]
        message = choice["message"]
        calls = [
            ToolCall(id=c.get("id") or f"call-{i}", name=c["function"]["name"],
                     arguments=parse_arguments(c["function"].get("arguments")))
            for i, c in enumerate(message.get("tool_calls") or [])
            if c.get("function")
        ]
        usage = body.get("usage") or {}
        return ChatResponse(
            text=message.get("content") or "",
            tool_calls=calls,
            usage=Usage(usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0),
            finish_reason=choice.get("finish_reason"),
            model=body.get("model"),
        )
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise TargetError("bad_response", f"unexpected response shape: {exc!r}") from exc


def _error_message(body: bytes) -> str:
    try:
        data = orjson.loads(body)
        return str(data["error"]["message"] if isinstance(data.get("error"), dict) else data.get("error", data))
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
        return body[:300].decode("utf-8", "replace")


class OpenAITarget(Target):
    """Chat Completions over aiohttp directly (the fast default)."""

    def __init__(self, deployment: Deployment, *, api_key: str | None) -> None:
        super().__init__(deployment)
        self.account = account_fingerprint(api_key)
        self._url = (deployment.base_url or DEFAULT_BASE_URL).rstrip("/") + "/chat/completions"
        self._headers = {"Authorization": f"Bearer {api_key or 'not-needed'}",
                         "Content-Type": "application/json", "User-Agent": f"crosslab/{__version__}"}
        for env, header in (("OPENAI_ORG_ID", "OpenAI-Organization"), ("OPENAI_PROJECT_ID", "OpenAI-Project")):
            if os.environ.get(env):
                self._headers[header] = os.environ[env]
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # created lazily so it binds to the running event loop; the engine limits concurrency itself
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0),
                timeout=aiohttp.ClientTimeout(total=self.deployment.limits.timeout_s),
            )
        return self._session

    async def complete(self, request: ChatRequest) -> ChatResponse:
        payload = orjson.dumps(build_params(self, request))
        try:
            async with self._client().post(self._url, data=payload, headers=self._headers) as resp:
                body = await resp.read()
                if resp.status >= 400:
                    raise error_for_status(resp.status, _error_message(body), resp.headers)
                hint = read_rate_limit_headers(resp.headers)
        except asyncio.TimeoutError as exc:
            raise TargetError("timeout", f"no answer within {self.deployment.limits.timeout_s:g}s") from exc
        except aiohttp.ClientError as exc:
            raise TargetError("connection", f"{type(exc).__name__}: {exc}") from exc
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise TargetError("bad_response", f"response is not JSON: {exc}") from exc
        response = parse_completion(data)
        response.rate_limit = hint
        return response

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class OpenAISDKTarget(Target):
    """Chat Completions through the official openai SDK (``transport: sdk``)."""

    def __init__(self, deployment: Deployment, *, api_key: str | None) -> None:
        super().__init__(deployment)
        self.account = account_fingerprint(api_key)
        self._api_key = api_key or "not-needed"
        self._sdk: openai.AsyncOpenAI | None = None

    def _client(self) -> openai.AsyncOpenAI:
        if self._sdk is None:  # lazily, inside the running loop
            d = self.deployment
            self._sdk = openai.AsyncOpenAI(
                api_key=self._api_key, base_url=d.base_url, timeout=d.limits.timeout_s,
                max_retries=0,  # the engine owns retries
                http_client=openai.DefaultAioHttpClient(timeout=d.limits.timeout_s),
            )
        return self._sdk

    async def complete(self, request: ChatRequest) -> ChatResponse:
        d = self.deployment
        try:
            raw = await self._client().chat.completions.with_raw_response.create(**build_params(self, request))
            completion = raw.parse()
        except openai.APITimeoutError as exc:
            if type(exc.__cause__).__name__ in CONNECT_FAILURES:
                # the SDK's aiohttp transport reports a refused or reset connection as a connect timeout
                raise TargetError("connection", str(exc.__cause__)) from exc
            raise TargetError("timeout", f"no answer within {d.limits.timeout_s:g}s") from exc
        except openai.APIConnectionError as exc:
            raise TargetError("connection", str(exc.__cause__ or exc)) from exc
        except openai.APIStatusError as exc:
            raise error_for_status(exc.status_code, exc.message, exc.response.headers) from exc
        except (openai.APIResponseValidationError, ValueError) as exc:
            raise TargetError("bad_response", f"unparseable response: {exc}") from exc
        if not hasattr(completion, "model_dump"):
            raise TargetError("bad_response", "response is not a chat completion")
        response = parse_completion(completion.model_dump())
        response.rate_limit = read_rate_limit_headers(raw.headers)
        return response

    async def aclose(self) -> None:
        if self._sdk is not None:
            await self._sdk.close()
            self._sdk = None
