"""Rate-limit headers, read under the names and formats the providers document."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime, timezone

import pytest

from crosslab.targets.base import ChatRequest, TargetError
from crosslab.targets.errors import error_for_status
from crosslab.targets.ratelimit import parse_duration, parse_reset, read_rate_limit_headers
from crosslab.targets.registry import create_target, parse_target
from tests.support.ratelimit_server import running_limited_server

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("text, seconds", [
    ("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("12ms", 0.012), ("59.568s", 59.568),
    ("2m59.56s", 179.56), ("1h2m3.5s", 3723.5), ("0s", 0.0), ("7.66s", 7.66), ("0.5", 0.5),
])
def test_openai_reset_durations(text: str, seconds: float):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "1x", "s", "1s2", "-1s"])
def test_unparseable_durations_are_dropped(text: str):
    assert parse_duration(text) is None


def test_openai_headers():
    # the values OpenAI documents for a Chat Completions answer
    hint = read_rate_limit_headers({
        "x-ratelimit-limit-requests": "5000", "x-ratelimit-limit-tokens": "160000",
        "x-ratelimit-remaining-requests": "4999", "x-ratelimit-remaining-tokens": "159976",
        "x-ratelimit-reset-requests": "12ms", "x-ratelimit-reset-tokens": "6m0s",
        "content-type": "application/json"})
    assert hint is not None and hint.retry_after_s is None
    requests, tokens = hint.quota("requests"), hint.quota("tokens")
    assert (requests.limit, requests.remaining, requests.reset_s) == (5000, 4999, pytest.approx(0.012))
    assert (tokens.limit, tokens.remaining, tokens.reset_s) == (160000, 159976, 360.0)


def test_header_names_are_case_insensitive_and_retry_after_ms_wins():
    hint = read_rate_limit_headers({"X-RateLimit-Limit-Requests": "60", "Retry-After": "2",
                                    "retry-after-ms": "1500"})
    assert hint.quota("requests").limit == 60 and hint.retry_after_s == 1.5


def test_anthropic_headers_with_rfc3339_resets():
    hint = read_rate_limit_headers({
        "anthropic-ratelimit-requests-limit": "4000",
        "anthropic-ratelimit-requests-remaining": "3999",
        "anthropic-ratelimit-requests-reset": "2026-12-01T12:00:01Z",
        "anthropic-ratelimit-tokens-limit": "480000",
        "anthropic-ratelimit-tokens-remaining": "480000",
        "anthropic-ratelimit-tokens-reset": "2026-12-01T12:00:00.5+00:00",
        "anthropic-ratelimit-input-tokens-limit": "400000",
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": "2026-12-01T12:00:30Z",
        "anthropic-ratelimit-output-tokens-limit": "80000",
        "anthropic-ratelimit-output-tokens-remaining": "79000",
        "anthropic-ratelimit-output-tokens-reset": "2026-12-01T12:00:02Z",
        "retry-after": "30"}, now=NOW)
    assert hint.quota("requests").limit == 4000 and hint.quota("requests").reset_s == pytest.approx(1.0)
    assert hint.quota("tokens").reset_s == pytest.approx(0.5)
    assert hint.quota("input_tokens").remaining == 0 and hint.quota("input_tokens").reset_s == pytest.approx(30)
    assert hint.quota("output_tokens").limit == 80000
    assert hint.retry_after_s == 30.0


def test_resets_in_the_past_unzoned_or_garbled():
    assert parse_reset("2026-12-01T11:59:00Z", now=NOW) == 0.0
    assert parse_reset("2026-12-01T12:00:10", now=NOW) is None  # no zone: not guessed
    assert parse_reset(str(NOW + 4), now=NOW) == pytest.approx(4.0)  # epoch seconds
    assert parse_reset("tomorrow", now=NOW) is None


def test_no_hint_without_rate_limit_headers_and_azure_minus_one_is_dropped():
    assert read_rate_limit_headers({"content-type": "application/json"}) is None
    assert read_rate_limit_headers(None) is None
    hint = read_rate_limit_headers({"x-ratelimit-limit-tokens": "-1", "x-ratelimit-remaining-tokens": "-1",
                                    "x-ratelimit-reset-tokens": "0"})
    assert hint.quota("tokens").limit is None and hint.quota("tokens").remaining is None


def test_a_429_carries_its_headers():
    error = error_for_status(429, "slow down", {"retry-after": "Wed, 21 Oct 2099 07:28:00 GMT",
                                               "x-ratelimit-remaining-requests": "0",
                                               "x-ratelimit-reset-requests": "1s"})
    assert error.kind == "rate_limit" and error.retry_after > 1e6
    assert error.rate_limit.quota("requests").remaining == 0


@pytest.mark.parametrize("provider, transport, headers", [
    ("openai", "aiohttp", "openai"), ("openai", "sdk", "openai"), ("anthropic", None, "anthropic")])
def test_adapters_hand_the_headers_to_the_engine(provider: str, transport: str | None, headers: str):
    """Over real HTTP: the answer carries the limit, and the refusal after it its hint and Retry-After."""
    key_env = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}[provider]
    # one request per 100 s, burst 1: the first call is answered, the second refused
    with running_limited_server(rate=0.01, burst=1, headers=headers) as srv:
        os.environ[key_env] = "loopback-key"
        fields = {"base_url": srv.url + ("/v1" if provider == "openai" else "")}
        if transport:
            fields["transport"] = transport
        target = create_target(parse_target(f"{provider}:loopback", fields))

        async def two_calls() -> tuple:
            try:
                first = await target.complete(ChatRequest([{"role": "user", "content": "hi"}]))
                with pytest.raises(TargetError) as refused:
                    await target.complete(ChatRequest([{"role": "user", "content": "again"}]))
                return first, refused.value
            finally:
                await target.aclose()

        first, refused = asyncio.run(two_calls())
    assert first.text == "ECHO: hi"
    assert first.rate_limit.quota("requests").limit == 1  # 0.01/s is 0.6 a minute, sent rounded
    assert refused.kind == "rate_limit" and refused.retry_after >= 1
    assert refused.rate_limit.quota("requests").remaining == 0
