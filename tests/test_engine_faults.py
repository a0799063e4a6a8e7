"""The engine against a faulty server over real HTTP: nothing lost, nothing sent twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli

from crosslab.engine.journal import Journal
from crosslab.engine.plan import make_plan
from crosslab.results.costs import load_prices
from crosslab.results.summary import summarize
from crosslab.items.item import Item
from tests.support.engine_runs import assert_nothing_lost_or_resent, items, kill_then_resume, run_engine
from tests.support.loopback_server import running_server

FAULTS = ["rate_limit", "server_error", "hang", "malformed", "reset"]


def test_twenty_percent_faults_over_1000_samples(tmp_path: Path):
    the_items = items(1000)
    with running_server(fault_rate=0.2, faults=FAULTS, retry_after=0.05, hang_s=5, seed=7) as srv:
        journal = run_engine(srv.url, the_items, tmp_path, concurrency=50, timeout_s=0.5, max_retries=8,
                             backoff_base_s=0.01, backoff_cap_s=0.2)
        stats = srv.stats()
    records = list(journal.records())
    plan_ids = {s.id for s in make_plan(the_items, journal.meta()["target_digest"])}
    assert len(records) == 1000 and {r["sample_id"] for r in records} == plan_ids  # none lost, none doubled
    assert sum(stats["faults"].values()) > 150 and set(stats["faults"]) == set(FAULTS)
    for r in records:
        key = r["messages"][0]["content"]
        if r["status"] == "ok":
            assert r["messages"][-1]["content"] == f"ECHO: {key}"
            assert stats["ok"].get(key) == 1  # the server answered it exactly once
        else:  # possible only if all 9 attempts failed
            assert r["error"]["kind"] and stats["ok"].get(key, 0) == 0
    assert sum(stats["ok"].values()) == journal.counts()["ok"]
    retried = [r for r in records if r["stats"]["retries"]]
    assert len(retried) > 100


def test_exhausted_retries_become_explicit_errors(tmp_path: Path):
    with running_server(fault_rate=0.5, faults=["rate_limit", "server_error", "malformed", "reset"],
                        retry_after=0.01, seed=3) as srv:
        journal = run_engine(srv.url, items(200), tmp_path, concurrency=20, max_retries=0)
        stats = srv.stats()
    counts = journal.counts()
    assert counts["ok"] + counts["error"] == 200
    assert 60 < counts["error"] < 140
    kinds = {r["error"]["kind"] for r in journal.records() if r["status"] == "error"}
    assert kinds == {"rate_limit", "server_error", "bad_response", "connection"}
    assert sum(stats["ok"].values()) == counts["ok"]
    # errors are graded as nothing: the pass count covers ok samples only
    verdicts = journal.verdicts()
    assert len(verdicts) == counts["ok"]
    summary = summarize(journal, "openai:loopback", load_prices())
    assert summary.total.samples == 200 and summary.total.errors == counts["error"]
    assert summary.total.graded == counts["ok"] and summary.total.passed == counts["ok"]
    assert sum(summary.error_kinds.values()) == counts["error"]
    assert summary.cost_usd is None  # no price for this model: shown as n/a


def test_scripted_turns_and_native_tool_loop(tmp_path: Path):
    scripted = Item.model_validate({
        "id": "chat", "interaction": "scripted", "messages": [{"role": "user", "content": "first"}],
        "followups": ["second", "third"], "grading": {"type": "includes", "target": "ECHO: third"}})
    agent = Item.model_validate({
        "id": "tool", "interaction": "agent", "environment": "lookup", "max_steps": 3,
        "messages": [{"role": "user", "content": 'CALL_TOOL lookup {"keyword": "wifi"}'}],
        "metadata": {"handbook": {"wifi": "The office wifi network is called BlueHeron."}},
        "grading": {"type": "includes", "target": "BlueHeron"}})
    with running_server() as srv:
        journal = run_engine(srv.url, [scripted, agent], tmp_path)
    by_id = {r["item_id"]: r for r in journal.records()}
    chat = by_id["chat"]
    assert [m["content"] for m in chat["messages"] if m["role"] == "assistant"] == \
        ["ECHO: first", "ECHO: second", "ECHO: third"]
    tool = by_id["tool"]
    assert tool["messages"][1]["tool_calls"][0]["arguments"] == {"keyword": "wifi"}
    assert tool["messages"][2] == {"role": "tool", "tool_call_id": tool["messages"][1]["tool_calls"][0]["id"],
                                   "name": "lookup", "content": "The office wifi network is called BlueHeron."}
    assert tool["messages"][3]["content"] == "TOOL_RESULT: The office wifi network is called BlueHeron."
    assert tool["agent"]["stop_reason"] == "answered" and tool["agent"]["environment"]["state"] == {"calls": 1}
    verdicts = journal.verdicts()
    assert all(verdicts[r["sample_id"]]["includes"]["label"] == "pass" for r in by_id.values())


def test_sigkill_then_resume_resends_no_finished_sample(tmp_path: Path):
    n, secret = 300, "sk-canary-4f1d9e0b7c"
    with running_server(latency=0.2) as srv:
        killed = kill_then_resume(tmp_path, srv.url, n=n, concurrency=10, api_key=secret)
        stats = srv.stats()
    assert n // 3 <= len(killed.done_at_kill) < n
    assert f"resumed, {len(killed.done_at_kill)} already done" in killed.resumed.stdout
    assert_nothing_lost_or_resent(killed, n, stats["ok"])
    journal_path, resumed = killed.journal_path, killed.resumed
    # the API key never reaches the journal or the output
    assert secret.encode() not in journal_path.read_bytes()
    for extra in journal_path.parent.iterdir():
        assert secret.encode() not in extra.read_bytes()
    assert secret not in resumed.stdout + resumed.stderr


@pytest.mark.parametrize("provider, key_env, suffix", [
    ("anthropic", "ANTHROPIC_API_KEY", ""), ("google", "GOOGLE_API_KEY", "")])
def test_cli_runs_other_wire_formats(tmp_path: Path, provider: str, key_env: str, suffix: str):
    out = tmp_path / "runs"
    items_file = tmp_path / "items.jsonl"
    items_file.write_text('{"id": "a", "input": "hello", "target": "ECHO: hello"}\n')
    with running_server() as srv:
        result = run_cli("run", "--items", str(items_file), "--target", f"{provider}:loopback",
                         "--base-url", srv.url + suffix, "--no-cache", "--quiet", "--out", str(out),
                         env={key_env: "loopback-key"})
    assert result.returncode == 0, result.stderr
    [run_dir] = list(out.iterdir())
    journal = Journal.open(run_dir)
    [record] = list(journal.records())
    assert record["status"] == "ok" and record["messages"][-1]["content"] == "ECHO: hello"
    assert journal.verdicts()[record["sample_id"]]["includes"]["label"] == "pass"
