"""A missing API key is named before any request: "OPENAI_API_KEY is not set", not the provider's 401.

Each adapter is pointed at a live loopback server; the server's request count
proves the refusal came before the first call, and a keyless OpenAI-compatible
server of the lab's own still runs without one.
"""

from __future__ import annotations

import pytest
from conftest import run_cli

from tests.support.loopback_server import running_server

CASES = [  # target spec, extra run options, base URL path (None: no --base-url), the message
    ("openai:gpt-4o-mini", [], None, "OPENAI_API_KEY is not set"),
    ("anthropic:claude-x", [], "", "ANTHROPIC_API_KEY is not set"),
    ("google:gemini-x", [], "", "GOOGLE_API_KEY or GEMINI_API_KEY is not set"),
]


@pytest.fixture(scope="module")
def server():
    with running_server() as srv:
        yield srv


def refused(target: str, *extra: str) -> str:
    result = run_cli("run", "--suite", "smoke", "--limit", "1", "--target", target, "--no-cache", "--quiet",
                     "--out", "/nonexistent/never-created", *extra)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.strip()]
    return line


@pytest.mark.parametrize("target, extra, path, message", CASES)
def test_missing_key_is_named_before_any_request(server, target: str, extra: list[str], path: str | None,
                                                  message: str):
    before = server.stats()["requests"]
    base = ["--base-url", server.url + path] if path is not None else []
    line = refused(target, *extra, *base)
    assert message in line and "Incorrect API key" not in line
    assert server.stats()["requests"] == before


def test_official_openai_host_needs_a_key_even_as_a_base_url(server):
    line = refused("openai:gpt-4o-mini", "--base-url", "https://api.openai.com/v1")
    assert "OPENAI_API_KEY is not set" in line


def test_a_named_key_variable_is_required_even_on_a_custom_server(server, tmp_path):
    spec = tmp_path / "target.yaml"
    spec.write_text(f"provider: openai\nmodel: loopback\nbase_url: {server.url}/v1\napi_key_env: ACME_GATEWAY_KEY\n")
    before = server.stats()["requests"]
    assert "ACME_GATEWAY_KEY is not set" in refused(str(spec))
    assert server.stats()["requests"] == before


def test_a_keyless_compatible_server_still_runs(server, tmp_path):
    result = run_cli("run", "--suite", "smoke", "--limit", "1", "--target", "openai:loopback", "--base-url",
                     server.url + "/v1", "--no-cache", "--quiet", "--out", str(tmp_path / "runs"))
    assert result.returncode == 0, result.stderr
