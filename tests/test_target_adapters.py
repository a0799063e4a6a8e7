"""The network adapters against a scripted server over real HTTP on 127.0.0.1.

Each adapter is built the way the CLI builds it (parse_target + create_target)
and drives its real SDK, so these tests catch wire-format mistakes, SDK
exceptions we fail to classify, and SDK retries we failed to switch off.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from crosslab.targets.base import (
    ChatRequest,
    ChatResponse,
    Message,
    Target,
    TargetError,
    ToolSpec,
)
from crosslab.targets.registry import create_target, parse_target

try:
    from tests.support.loopback_server import RunningServer, running_server
except ModuleNotFoundError:  # bare `pytest` puts tests/, not the repo root, on sys.path
    from support.loopback_server import RunningServer, running_server  # type: ignore[no-redef]

# provider -> (target spec, API-key variable, path the SDK's base_url must carry)
PROVIDERS: dict[str, tuple[str, str, str]] = {
    "openai": ("openai:loopback-gpt", "OPENAI_API_KEY", "/v1"),  # we append /chat/completions
    "openai-sdk": ("openai:loopback-gpt", "OPENAI_API_KEY", "/v1"),  # same, through the official SDK
    "anthropic": ("anthropic:loopback-claude", "ANTHROPIC_API_KEY", ""),  # the SDK appends /v1/messages
    "google": ("google:loopback-gemini", "GOOGLE_API_KEY", ""),  # the SDK appends /v1beta/models/...
}
FINISH_STOP = {"openai": "stop", "openai-sdk": "stop", "anthropic": "end_turn", "google": "STOP"}

LOOKUP = ToolSpec(
    name="lookup",
    description="Look a word up in the glossary.",
    parameters={"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]},
)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with running_server() as srv:
        yield srv


class _FaultServers(dict):  # type: ignore[type-arg]
    """fault kind -> a server failing every request that way, started on first use."""

    def __init__(self, stack: contextlib.ExitStack) -> None:
        super().__init__()
        self._stack = stack

    def __missing__(self, kind: str) -> RunningServer:
        srv = self._stack.enter_context(running_server(
            fault_rate=1.0, faults=[kind], retry_after=1.5, hang_s=10, seed=3))
        self[kind] = srv
        return srv


@pytest.fixture(scope="module")
def fault_servers() -> Iterator[dict[str, RunningServer]]:
    with contextlib.ExitStack() as stack:
        yield _FaultServers(stack)


def make_target(provider: str, srv: RunningServer, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> Target:
    spec, key_env, path = PROVIDERS[provider]
    monkeypatch.setenv(key_env, "loopback-test-key")
    fields = {"base_url": srv.url + path, "timeout_s": 5.0, "max_retries": 0, **overrides}
    if provider == "openai-sdk":
        fields["transport"] = "sdk"
    return create_target(parse_target(spec, fields))


def run(target: Target, *requests: ChatRequest) -> list[ChatResponse]:
    """Send requests in order on one event loop (SDK sessions are bound to it), then close."""
    async def go() -> list[ChatResponse]:
        try:
            return [await target.complete(r) for r in requests]
        finally:
            await target.aclose()

    return asyncio.run(go())


def fail(target: Target, request: ChatRequest) -> TargetError:
    async def go() -> TargetError:
        try:
            response = await target.complete(request)
        except TargetError as exc:
            return exc
        finally:
            await target.aclose()
        raise AssertionError(f"expected a TargetError, got {response!r}")

    return asyncio.run(go())


@pytest.mark.parametrize("provider", PROVIDERS)
def test_echo_with_usage_system_prefix_and_sampling(provider: str, server: RunningServer,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    server.reset()
    target = make_target(provider, server, monkeypatch, system_prefix="You are under test.",
                         max_tokens=64, temperature=0.25, seed=7)
    messages: list[Message] = [{"role": "system", "content": "Be brief."},
                               {"role": "user", "content": "hello loopback world"}]
    (response,) = run(target, ChatRequest(messages))

    assert response.text == "ECHO: hello loopback world"
    assert response.tool_calls == []
    # The server counts words: 4 (prefix) + 2 (system) + 3 (user) in, 4 out.
    assert response.usage.to_dict() == {"input_tokens": 9, "output_tokens": 4}
    assert response.finish_reason == FINISH_STOP[provider]
    assert response.model == PROVIDERS[provider][0].split(":", 1)[1]

    stats = server.stats()
    assert stats["requests"] == 1
    assert stats["ok"] == {"hello loopback world": 1}
    seen = stats["last"]
    assert seen["system"] == "You are under test.\n\nBe brief."
    assert seen["params"]["temperature"] == 0.25
    assert seen["params"]["max_tokens"] == 64
    assert seen["params"]["seed"] == (None if provider == "anthropic" else 7)  # Anthropic has no seed


@pytest.mark.parametrize("provider", PROVIDERS)
def test_native_tool_call_round_trip(provider: str, server: RunningServer,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    server.reset()
    target = make_target(provider, server, monkeypatch)
    question: list[Message] = [{"role": "user", "content": 'Define it. CALL_TOOL lookup {"word": "ozone", "n": 2}'}]

    async def conversation() -> tuple[ChatResponse, ChatResponse]:
        try:
            first = await target.complete(ChatRequest(question, (LOOKUP,)))
            call = first.tool_calls[0]
            answer = {"role": "tool", "tool_call_id": call.id, "name": call.name, "content": "ozone is O3"}
            second = await target.complete(ChatRequest([*question, first.to_message(), answer], (LOOKUP,)))
            return first, second
        finally:
            await target.aclose()

    first, second = asyncio.run(conversation())
    assert len(first.tool_calls) == 1
    call = first.tool_calls[0]
    assert (call.name, call.arguments) == ("lookup", {"word": "ozone", "n": 2})
    assert call.id  # the server sends no id for Gemini; the adapter must make one up
    assert first.text == ""
    assert second.text == "TOOL_RESULT: ozone is O3"
    assert second.tool_calls == []
    assert server.stats()["last"]["tools"] == ["lookup"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_parallel_tool_results_arrive_in_one_turn(provider: str, server: RunningServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Anthropic and Gemini need consecutive tool results merged into one user turn."""
    server.reset()
    target = make_target(provider, server, monkeypatch)
    history: list[Message] = [
        {"role": "user", "content": "look up two words"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_a", "name": "lookup", "arguments": {"word": "a"}},
            {"id": "call_b", "name": "lookup", "arguments": {"word": "b"}}]},
        {"role": "tool", "tool_call_id": "call_a", "name": "lookup", "content": "first"},
        {"role": "tool", "tool_call_id": "call_b", "name": "lookup", "content": "second"},
    ]
    (response,) = run(target, ChatRequest(history, (LOOKUP,)))
    assert response.text == "TOOL_RESULT: first\nsecond"


FAULTS = {
    "rate_limit": ("rate_limit", 429),
    "server_error": ("server_error", 500),
    "hang": ("timeout", None),
    "malformed": ("bad_response", None),
    "reset": ("connection", None),
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_fault_maps_to_error_kind(provider: str, fault: str, fault_servers: dict[str, RunningServer],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    srv = fault_servers[fault]
    srv.reset()
    timeout_s = 0.5 if fault == "hang" else 5.0
    target = make_target(provider, srv, monkeypatch, timeout_s=timeout_s)
    error = fail(target, ChatRequest([{"role": "user", "content": f"trip {fault}"}]))

    kind, status = FAULTS[fault]
    assert error.kind == kind, str(error)
    assert error.retryable
    assert error.status == status
    if fault == "rate_limit":
        assert error.retry_after == pytest.approx(1.5)
    else:
        assert error.retry_after is None
    stats = srv.stats()
    # Exactly one request: the SDK's own retries are off, the engine owns them.
    assert stats["requests"] == 1
    assert stats["faults"] == {fault: 1}
    assert stats["ok"] == {}


def test_fault_draws_repeat_for_the_same_workload() -> None:
    """Faults depend on (seed, sample key, attempt) only, so a rerun meets the same ones."""
    import json
    import urllib.error
    import urllib.request

    def outcomes(srv: RunningServer) -> list[str]:
        seen = []
        for i in range(24):
            body = json.dumps({"model": "m", "messages": [{"role": "user", "content": f"key {i % 8}"}]})
            req = urllib.request.Request(srv.url + "/v1/chat/completions", data=body.encode(),
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    seen.append(str(r.status))
            except urllib.error.HTTPError as exc:
                seen.append(str(exc.code))
        return seen

    with running_server(fault_rate=0.5, faults="rate_limit,server_error", retry_after=0, seed=11) as srv:
        first = outcomes(srv)
        srv.reset()
        assert outcomes(srv) == first
        assert {"200", "429", "500"} <= set(first)
        stats = srv.stats()
        assert sum(stats["ok"].values()) == first.count("200")
        assert stats["faults"] == {"rate_limit": first.count("429"), "server_error": first.count("500")}
