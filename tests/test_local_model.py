"""The embedded SmolLM2 model, in-process and behind llama.cpp's OpenAI-compatible server."""

from pathlib import Path

import pytest
from conftest import run_cli

from crosslab.engine.journal import Journal
from tests.support.llama_server import llama_server as running_llama_server

pytestmark = pytest.mark.slow


def assert_real_answers(out: Path, expected: int) -> list[dict]:
    [run_dir] = list(out.iterdir())
    records = list(Journal.open(run_dir).records())
    assert len(records) == expected
    for r in records:
        assert r["status"] == "ok", r["error"]
        answer = r["messages"][-1]
        assert answer["role"] == "assistant" and answer["content"].strip()
        assert r["stats"]["usage"]["output_tokens"] > 0
    return records


def test_embedded_model_runs_the_smoke_suite_deterministically(tmp_path: Path):
    texts = []
    for attempt in ("a", "b"):
        out = tmp_path / attempt
        result = run_cli("run", "--suite", "smoke", "--target", "local:smollm2", "--max-tokens", "32",
                         "--limit", "4", "--no-cache", "--quiet", "--out", str(out))
        assert result.returncode == 0, result.stderr
        texts.append([r["messages"][-1]["content"] for r in assert_real_answers(out, 4)])
    assert texts[0] == texts[1]  # temperature 0 and a fixed seed: the same words twice


@pytest.fixture
def llama_server(tmp_path: Path):
    with running_llama_server(tmp_path) as url:
        yield url


def test_openai_adapter_against_llama_cpp_server(tmp_path: Path, llama_server: str):
    out = tmp_path / "runs"
    result = run_cli("run", "--suite", "smoke", "--target", "openai:smollm2", "--base-url", llama_server + "/v1",
                     "--max-tokens", "32", "--limit", "6", "--no-cache", "--quiet", "--out", str(out),
                     "--concurrency", "2")
    assert result.returncode == 0, result.stderr
    records = assert_real_answers(out, 6)
    assert {r["interaction"] for r in records} == {"single_turn"}
    [run_dir] = list(out.iterdir())
    assert Journal.open(run_dir).meta()["deployment"]["base_url"] == llama_server + "/v1"
