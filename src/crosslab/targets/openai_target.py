"""OpenAI Chat Completions, and every server that speaks it (vLLM, Ollama,
llama.cpp's server, Together, Gemini's OpenAI-compatible endpoint).

Uses the official SDK with its aiohttp transport, which sustains far higher
concurrency on a small machine than the default httpx one (bench/engine_throughput.py).
"""

from __future__ import annotations

import json
from typing import Any

import openai

from crosslab.targets.base import ChatRequest, ChatResponse, Message, Target, TargetError, ToolCall, Usage
from crosslab.targets.deployment import Deployment
from crosslab.targets.errors import error_for_status


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


class OpenAITarget(Target):
    def __init__(self, deployment: Deployment, *, api_key: str | None) -> None:
        super().__init__(deployment)
        self._client = openai.AsyncOpenAI(
            api_key=api_key or "not-needed",
            base_url=deployment.base_url,
            timeout=deployment.limits.timeout_s,
            max_retries=0,  # the engine owns retries
            http_client=openai.DefaultAioHttpClient(timeout=deployment.limits.timeout_s),
        )

    async def complete(self, request: ChatRequest) -> ChatResponse:
        d = self.deployment
        params: dict[str, Any] = {
            "model": d.model,
            "messages": to_openai_messages(self.with_system_prefix(request.messages)),
            "max_tokens": d.max_tokens,
            "temperature": d.temperature,
        }
        if d.top_p is not None:
            params["top_p"] = d.top_p
        if d.seed is not None:
            params["seed"] = d.seed
        if request.tools:
            params["tools"] = [{"type": "function", "function": t.to_dict()} for t in request.tools]
        try:
            completion = await self._client.chat.completions.create(**params)
        except openai.APITimeoutError as exc:
            if type(exc.__cause__).__name__ in CONNECT_FAILURES:
                # the aiohttp transport reports a refused connection as a connect timeout
                raise TargetError("connection", str(exc.__cause__)) from exc
            raise TargetError("timeout", f"no answer within {d.limits.timeout_s:g}s") from exc
        except openai.APIConnectionError as exc:
            raise TargetError("connection", str(exc.__cause__ or exc)) from exc
        except openai.APIStatusError as exc:
            raise error_for_status(exc.status_code, exc.message, exc.response.headers) from exc
        except (openai.APIResponseValidationError, ValueError) as exc:
            raise TargetError("bad_response", f"unparseable response: {exc}") from exc
        return self._parse(completion)

    @staticmethod
    def _parse(completion: Any) -> ChatResponse:
        choices = getattr(completion, "choices", None)
        if not choices:
            raise TargetError("bad_response", "response has no choices")
        choice = choices[0]
        message = choice.message
        calls = [
            ToolCall(id=c.id, name=c.function.name, arguments=parse_arguments(c.function.arguments))
            for c in (message.tool_calls or [])
            if getattr(c, "function", None) is not None
        ]
        usage = completion.usage
        return ChatResponse(
            text=message.content or "",
            tool_calls=calls,
            usage=Usage(usage.prompt_tokens or 0, usage.completion_tokens or 0) if usage else Usage(),
            finish_reason=choice.finish_reason,
            model=completion.model,
        )

    async def aclose(self) -> None:
        await self._client.close()
