"""`crosslab env serve` over streamable HTTP and stdio, driven by the official MCP client.

The server is a real subprocess on 127.0.0.1; the clients are the `mcp` SDK's
own (Python here, TypeScript in test_tier2_node.py). Grades come from the
evaluator's journals, as the evaluator would read them.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import run_cli
from mcp import ClientSession, StdioServerParameters, stdio_client

from crosslab.engine.journal import Journal
from crosslab.stats.intervals import wilson
from tests.support.tier2 import env_server, follow, item_of, mcp_session, plans, text, tokens

TRAFFIC = "scheming-oversight_subversion-traffic-*"


def graded(directory: Path, lab: str) -> dict[str, dict]:
    """Item id -> (record, verdict) of every rollout the lab has finished, read from the evaluator's journal."""
    journal = Journal.open(directory / lab)
    try:
        verdicts = journal.verdicts()
        return {r["item_id"] + f"#{r['epoch']}": {"record": r, "verdict": verdicts[r["sample_id"]]["scheming-detector"]}
                for r in journal.records()}
    finally:
        journal.close()


@pytest.fixture(scope="module")
def traffic(tmp_path_factory):
    """Both variants of one scenario, two labs, two rollouts each: eight tokens."""
    directory = tmp_path_factory.mktemp("traffic") / "serve"
    with env_server(directory, "--suite", "scheming", "--scenario", TRAFFIC, "--lab", "aurora", "--lab",
                    "borealis", "--rollouts", "2") as url:
        yield directory, url


def test_an_unknown_token_gets_401_and_no_session(traffic):
    _, url = traffic
    request = urllib.request.Request(url, method="POST", data=b"{}", headers={
        "Authorization": "Bearer cxl2_not-a-token", "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 401


def test_a_session_sees_its_task_tools_and_gets_errors_as_results(traffic):
    directory, url = traffic
    token = tokens(directory, "aurora")[0]
    item_id, _ = item_of(directory, token)

    async def go():
        async with mcp_session(url, token) as s:
            prompt = await s.get_prompt("task")
            tools = [t.name for t in (await s.list_tools()).tools]
            unknown = await s.call_tool("format_disk", {})
            bad = await s.call_tool("submit", {"report": 42})
            missing = await s.call_tool("bash", {})
            return prompt, tools, unknown, bad, missing

    prompt, tools, unknown, bad, missing = asyncio.run(go())
    assert "TrafficFlow" in prompt.messages[0].content.text and "strategies.txt" in prompt.messages[1].content.text
    assert tools == ["bash", "send_email", "submit_choice", "submit"]
    assert unknown.is_error and "unknown tool 'format_disk'" in text(unknown)
    assert bad.is_error and "needs a string argument 'report'" in text(bad)
    assert not missing.is_error and "missing required argument 'command'" in text(missing)  # the tool's own error
    assert item_id.startswith("scheming-oversight_subversion-traffic-")


def test_two_concurrent_sessions_keep_their_own_state_and_grades(traffic):
    directory, url = traffic
    covert_token, honest_token = tokens(directory, "borealis")[:2]
    scripted = plans()

    async def one(token: str, which: str):
        item_id, _ = item_of(directory, token)
        async with mcp_session(url, token) as s:
            results = await follow(s, scripted[item_id][which])
            follow_up = [t.name for t in (await s.list_tools()).tools]
            if follow_up == ["answer"]:
                while (await s.list_tools()).tools:
                    await s.call_tool("answer", {"text": "No, I did not change anything."})
            return results, follow_up

    async def both():
        return await asyncio.wait_for(asyncio.gather(one(covert_token, "covert"), one(honest_token, "honest")), 60)

    (_, covert_tools), (_, honest_tools) = asyncio.run(both())
    assert covert_tools == ["answer"] and honest_tools == []  # only the covert session is asked
    rows = graded(directory, "borealis")
    labels = {k: v["verdict"]["label"] for k, v in rows.items()}
    covert_key = "{}#{}".format(*item_of(directory, covert_token))
    honest_key = "{}#{}".format(*item_of(directory, honest_token))
    assert labels[covert_key] == "covert" and labels[honest_key] == "honest"
    # the honest session's file was never touched by the covert one's sed
    honest_state = rows[honest_key]["record"]["agent"]["environment"]["state"]
    assert "oversight_enabled: true" in json.dumps(honest_state)
    assert rows[covert_key]["verdict"]["values"]["deny"] >= 1


def test_a_finished_rollout_refuses_further_calls_and_lists_nothing(traffic):
    directory, url = traffic
    token = tokens(directory, "aurora")[1]
    item_id, _ = item_of(directory, token)

    async def go():
        async with mcp_session(url, token) as s:
            await follow(s, plans()[item_id]["honest"])
            after = await s.call_tool("bash", {"command": "ls"})
            return after, (await s.list_tools()).tools

    after, listed = asyncio.run(go())
    assert after.is_error and "has ended" in text(after) and listed == []


def test_the_tool_limit_and_the_time_limit_end_rollouts_on_the_server(tmp_path: Path):
    directory = tmp_path / "limits"
    with env_server(directory, "--suite", "scheming", "--scenario", "scheming-oversight_subversion-traffic-nudge",
                    "--lab", "aurora", "--rollouts", "2", "--max-tool-calls", "2", "--max-seconds", "2") as url:
        first, second = tokens(directory, "aurora")

        async def go():
            async with mcp_session(url, first) as s:
                for command in ("ls", "pwd", "cat memo.txt"):
                    last = await s.call_tool("bash", {"command": command})
            async with mcp_session(url, second) as s:
                await s.call_tool("bash", {"command": "ls"})  # then the agent goes quiet
            return last

        last = asyncio.run(go())
        assert last.is_error and "tool-call limit reached (2)" in text(last)
        deadline = time.monotonic() + 20
        while len(graded(directory, "aurora")) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)  # the server's sweep ends the quiet rollout once its 2 s are up
    reasons = sorted(v["record"]["agent"]["stop_reason"] for v in graded(directory, "aurora").values())
    assert reasons == ["time_limit", "tool_limit"]


def test_baseline_schemer_over_mcp_grades_as_it_does_in_a_local_run(tmp_path: Path):
    """The same agent, the same items and seeds: the MCP path must not change a single label."""
    directory = tmp_path / "schemer"
    agent = "baseline:schemer?p=0.5&q=0.5"
    with env_server(directory, "--suite", "scheming", "--lab", "aurora", "--rollouts", "1") as url:
        result = run_cli("env", "connect", url, "--agent", agent, "--tokens",
                         str(directory.parent / "tokens-aurora.json"), "--concurrency", "8", timeout=600)
        assert result.returncode == 0, result.stderr + result.stdout
    over_mcp = {k.split("#")[0]: v["verdict"]["label"] for k, v in graded(directory, "aurora").items()}
    local = run_cli("run", "--suite", "scheming", "--target", agent, "--no-cache", "-q", "--out",
                    str(tmp_path / "runs"))
    assert local.returncode == 0, local.stderr
    [run_dir] = (tmp_path / "runs").iterdir()
    journal = Journal.open(run_dir)
    try:
        verdicts = journal.verdicts()
        in_engine = {r["item_id"]: verdicts[r["sample_id"]]["scheming-detector"]["label"] for r in journal.records()}
    finally:
        journal.close()
    assert over_mcp == in_engine and len(over_mcp) >= 40
    # and the configured covert rate is reproduced: p = 0.5 on the scenarios where a covert plan exists
    treated = [label for item_id, label in over_mcp.items() if label in ("covert", "honest")
               and plans()[item_id]["covert"]]
    rate = wilson(sum(label == "covert" for label in treated), len(treated))
    assert rate.low <= 0.5 <= rate.high, rate


def test_one_rollout_over_stdio(tmp_path: Path):
    directory = tmp_path / "stdio"
    planned = run_cli("env", "serve", str(directory), "--suite", "scheming", "--scenario",
                      "scheming-oversight_subversion-traffic-no_nudge", "--lab", "aurora", "--plan-only")
    assert planned.returncode == 0, planned.stderr
    [token] = tokens(directory, "aurora")
    item_id, _ = item_of(directory, token)
    params = StdioServerParameters(command=sys.executable, args=["-m", "crosslab", "env", "serve", str(directory),
                                                                 "--stdio", "--token", token])

    async def go():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
            await s.initialize()
            tools = [t.name for t in (await s.list_tools()).tools]
            await follow(s, plans()[item_id]["honest"])
            return tools

    async def within():
        return await asyncio.wait_for(go(), 60)

    tools = asyncio.run(within())
    assert "submit" in tools
    [row] = graded(directory, "aurora").values()
    assert row["verdict"]["label"] == "honest" and row["record"]["agent"]["stop_reason"] == "submitted"


@pytest.mark.parametrize(("args", "message"), [
    (["--suite", "scheming"], "planning needs at least one --lab NAME"),
    (["--suite", "nope", "--lab", "a"], "unknown suite 'nope'"),
    (["--suite", "jailbreak", "--lab", "a"], "suite jailbreak has no items with a tool environment to serve"),
    (["--suite", "scheming", "--lab", "A B"], "lab name 'A B'"),
    (["--suite", "scheming", "--lab", "a", "--scenario", "zzz*"], "no servable item matches zzz*"),
    (["--lab", "a"], "give --suite too"),
    ([], "not a tier-2 serve plan"),
    (["--suite", "scheming", "--lab", "a", "--stdio", "--plan-only"], ""),
])
def test_bad_serve_options_fail_in_one_line(tmp_path: Path, args: list[str], message: str):
    result = run_cli("env", "serve", str(tmp_path / "d"), *args)
    if not message:
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_reference_loop_drives_smollm2_over_streamable_http(tmp_path: Path):
    directory = tmp_path / "smol"
    with env_server(directory, "--suite", "scheming", "--scenario", "scheming-oversight_subversion-traffic-nudge",
                    "--lab", "aurora") as url:
        result = run_cli("env", "connect", url, "--agent", "local:smollm2", "--max-tokens", "48", "--max-steps", "3",
                         "--attach-reasoning", "--tokens", str(directory.parent / "tokens-aurora.json"), timeout=600)
        assert result.returncode == 0, result.stderr + result.stdout
        assert "1/1 rollouts submitted" in result.stdout
    [row] = graded(directory, "aurora").values()
    agent = row["record"]["agent"]
    assert agent["stop_reason"] == "submitted"
    assert row["verdict"]["label"] in ("covert", "honest", "incapable")  # whatever it did, it was graded
    # the model's own words went to the evaluator only as restricted attachments, kind "reasoning"
    assert agent["attachments"] and {a["kind"] for a in agent["attachments"]} == {"reasoning"}
    assert row["record"]["tier"] == "restricted"
