"""Bad input must give one clear line, a non-zero exit, and no journal."""

from pathlib import Path

import pytest
from conftest import free_port, run_cli


def assert_one_line_failure(result, code: int, *needles: str) -> None:
    err = result.stderr.strip()
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "\n" not in err, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


def no_runs(out: Path) -> bool:
    return not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("args, needles", [
    (["--target", "foo:bar"], ["unknown provider 'foo'"]),
    (["--target", "gpt-4o"], ["provider:model"]),
    (["--target", "openai:gpt-4o-mini"], ["OPENAI_API_KEY is not set"]),
    (["--target", "anthropic:claude-sonnet-4-0"], ["ANTHROPIC_API_KEY is not set"]),
    (["--target", "google:gemini-2.5-flash"], ["GOOGLE_API_KEY or GEMINI_API_KEY"]),
    (["--target", "local:/nonexistent/model.gguf"], ["local model file not found"]),
    (["--target", "baseline:sometimes"], ["unknown baseline"]),
    (["--target", "openai:gpt-4o-mini", "--temperature", "9"], ["temperature"]),
])
def test_bad_targets(tmp_path: Path, args: list[str], needles: list[str]):
    out = tmp_path / "runs"
    result = run_cli("run", "--suite", "smoke", "--out", str(out), *args)
    assert_one_line_failure(result, 2, *needles)
    assert no_runs(out)


def test_malformed_target_yaml(tmp_path: Path):
    out = tmp_path / "runs"
    broken = tmp_path / "broken.yaml"
    broken.write_text("provider: openai\nmodel: [unclosed\n")
    assert_one_line_failure(run_cli("run", "--suite", "smoke", "--target", str(broken), "--out", str(out)),
                            2, "not valid YAML")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("provider: openai\nmodel: gpt-4o\ntemperature: hot\n")
    assert_one_line_failure(run_cli("run", "--suite", "smoke", "--target", str(wrong), "--out", str(out)),
                            2, "temperature")
    extra = tmp_path / "extra.yaml"
    extra.write_text("provider: openai\nmodel: gpt-4o\napi_key: sk-should-not-be-here\n")
    assert_one_line_failure(run_cli("run", "--suite", "smoke", "--target", str(extra), "--out", str(out)),
                            2, "api_key")
    assert no_runs(out)


def test_unreachable_endpoint_fails_fast_without_journal(tmp_path: Path):
    out = tmp_path / "runs"
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = run_cli("run", "--suite", "smoke", "--target", "openai:some-model", "--base-url", url,
                     "--out", str(out), timeout=60)
    assert_one_line_failure(result, 1, "did not answer", "connection")
    assert no_runs(out)


@pytest.mark.parametrize("args, needles", [
    ([], ["exactly one of --suite"]),
    (["--suite", "nope"], ["unknown suite 'nope'"]),
    (["--items", "/nonexistent.jsonl"], ["cannot read items file"]),
    (["--suite", "smoke", "--resume", "nope"], ["drop --suite"]),
])
def test_bad_sources(tmp_path: Path, args: list[str], needles: list[str]):
    out = tmp_path / "runs"
    result = run_cli("run", "--target", "baseline:refuse-all", "--out", str(out), *args)
    assert_one_line_failure(result, 2, *needles)
    assert no_runs(out)


def test_bad_items_line_and_unknown_resume(tmp_path: Path):
    out = tmp_path / "runs"
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": "a", "input": "hi"}\n{"id": "b"}\n')
    assert_one_line_failure(run_cli("run", "--items", str(items), "--target", "baseline:refuse-all",
                                    "--out", str(out)), 2, "items.jsonl:2")
    assert_one_line_failure(run_cli("run", "--resume", "20990101-000000-abcdef", "--out", str(out)),
                            2, "cannot resume", "no journal")
    assert no_runs(out)
