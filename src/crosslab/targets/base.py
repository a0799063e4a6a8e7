"""The one interface every provider implements, and the plain data it exchanges.

Messages are plain dicts in a provider-neutral shape so they serialise
straight into the journal:

    {"role": "system" | "user" | "assistant" | "tool",
     "content": str,
     "tool_calls": [{"id": str, "name": str, "arguments": dict}],   # assistant only
     "tool_call_id": str, "name": str}                               # tool only

Adapters translate this shape to and from their SDK; nothing else in crosslab
knows a provider's wire format.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from crosslab.core.errors import CrosslabError
from crosslab.targets.deployment import Deployment
from crosslab.targets.ratelimit import RateLimitHint

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call: name, description and a JSON-schema for arguments."""

    name: str
    description: str
    parameters: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "parameters": self.parameters}


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments}


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens

    def to_dict(self) -> dict[str, int]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One model call. Sampling settings come from the target's Deployment."""

    messages: list[Message]
    tools: tuple[ToolSpec, ...] = ()


@dataclass(slots=True)
class ChatResponse:
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    model: str | None = None
    #: The provider's rate-limit headers, for pacing; never cached or journaled.
    rate_limit: RateLimitHint | None = None

    def to_message(self) -> Message:
        msg: Message = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            msg["tool_calls"] = [c.to_dict() for c in self.tool_calls]
        return msg

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "tool_calls": [c.to_dict() for c in self.tool_calls],
            "usage": self.usage.to_dict(),
            "finish_reason": self.finish_reason,
            "model": self.model,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ChatResponse:
        return cls(
            text=d["text"],
            tool_calls=[ToolCall(**c) for c in d.get("tool_calls", [])],
            usage=Usage(**d.get("usage", {})),
            finish_reason=d.get("finish_reason"),
            model=d.get("model"),
        )


class TargetError(CrosslabError):
    """A failed model call, classified so the engine knows whether to retry.

    ``kind`` is a short stable word recorded in the journal: rate_limit,
    server_error, timeout, connection, bad_response, auth, bad_request, other.
    """

    RETRYABLE = frozenset({"rate_limit", "server_error", "timeout", "connection", "bad_response"})

    def __init__(self, kind: str, message: str, *, retry_after: float | None = None,
                 status: int | None = None, rate_limit: RateLimitHint | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after
        self.status = status
        self.rate_limit = rate_limit

    @property
    def retryable(self) -> bool:
        return self.kind in self.RETRYABLE

    def __str__(self) -> str:
        status = f" (HTTP {self.status})" if self.status else ""
        return f"{self.kind}{status}: {self.args[0]}"


class Target(abc.ABC):
    """A deployment that answers chat requests.

    Subclasses translate ChatRequest to their SDK, apply the deployment's
    sampling settings and system prefix, and raise TargetError on failure.
    They must not retry: the engine owns retries, backoff and rate limits.
    """

    #: True when the provider has native tool calling; otherwise the engine
    #: uses the text tool protocol (crosslab.targets.text_tools).
    native_tools: bool = True

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    @abc.abstractmethod
    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Send one request; return the response or raise TargetError."""

    async def aclose(self) -> None:
        """Release connections; the default has nothing to release."""

    def rate_limit_scope(self) -> str:
        """Who shares a rate limit with this target: the engine paces each scope once.

        Providers limit per account and model; adapters that hold a key add
        its fingerprint (``account``), so two deployments on one key share a pace.
        """
        d = self.deployment
        return f"{d.provider}|{d.base_url or ''}|{d.model}|{getattr(self, 'account', '')}"

    def with_system_prefix(self, messages: list[Message]) -> list[Message]:
        """Prepend the deployment's system prefix to the conversation's system text."""
        prefix = self.deployment.system_prefix
        if not prefix:
            return messages
        if messages and messages[0]["role"] == "system":
            first = dict(messages[0])
            first["content"] = prefix + "\n\n" + first["content"]
            return [first, *messages[1:]]
        return [{"role": "system", "content": prefix}, *messages]


def split_system(messages: list[Message]) -> tuple[str | None, list[Message]]:
    """Separate system text from the turns, for APIs that take it as a parameter."""
    system = [m["content"] for m in messages if m["role"] == "system"]
    rest = [m for m in messages if m["role"] != "system"]
    return ("\n\n".join(system) if system else None), rest
