"""The embedded SmolLM2 model, in-process and behind llama.cpp's OpenAI-compatible server."""

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import free_port, run_cli

from crosslab.engine.journal import Journal
from crosslab.targets.local_target import resolve_model_path

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
    port = free_port()
    log = (tmp_path / "llama-server.log").open("w+b")  # a file, not a pipe: a full pipe would block the server
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(resolve_model_path("smollm2")),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--model_alias", "smollm2"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url + "/v1/models", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"llama.cpp server did not start: {log.read().decode()[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


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
