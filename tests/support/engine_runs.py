"""Runs of the engine against loopback servers, as the fault and rate-limit tests make them.

``run_engine`` runs items in-process, as ``crosslab run`` does after its
preflight. ``kill_then_resume`` runs a real `crosslab run` child, kills it with
SIGKILL once a third of its samples are journaled as ok (never on a timer, so
a slow machine does not change what is tested), and resumes it; the caller
checks what the server saw.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from conftest import REPO, run_cli

from crosslab.engine.journal import Journal
from crosslab.engine.pacers import SHARED
from crosslab.items.item import Item
from crosslab.run.session import RunConfig, create_journal, execute_run
from crosslab.suites.registry import all_environments
from crosslab.targets.registry import create_target, parse_target


def items(n: int) -> list[Item]:
    """N items whose expected text the echoing loopback server's answer contains."""
    return [Item.model_validate({"id": f"q{i:04d}", "input": f"question {i}", "target": f"question {i}"})
            for i in range(n)]


def run_engine(url: str, the_items: list[Item], out: Path, **limits) -> Journal:
    """Run ``the_items`` against ``url``'s OpenAI-compatible API with these limits; the journal, open."""
    SHARED.forget()  # a port may be reused by another test's server: never inherit its pacing
    os.environ["OPENAI_API_KEY"] = "loopback-key"
    deployment = parse_target("openai:loopback", {"base_url": url + "/v1", **limits})
    config = RunConfig(deployment, the_items, {"items_file": "generated"})
    journal = create_journal(out, config)
    target = create_target(deployment)

    async def go() -> None:
        try:
            await execute_run(config, target, journal, cache=None, environments=all_environments())
        finally:
            await target.aclose()

    asyncio.run(go())
    return journal


def ok_ids(journal_path: Path) -> set[str]:
    with sqlite3.connect(journal_path) as conn:
        return {r[0] for r in conn.execute("SELECT sample_id FROM samples WHERE status = 'ok'")}


@dataclass
class KilledRun:
    journal_path: Path
    done_at_kill: set[str]  # sample ids journaled ok when the kill landed
    resumed: subprocess.CompletedProcess[str]


def kill_then_resume(tmp_path: Path, base_url: str, *, n: int, concurrency: int, api_key: str) -> KilledRun:
    """Run N items, SIGKILL the run once N/3 are ok, resume it to the end."""
    items_file = tmp_path / "items.jsonl"
    items_file.write_text("".join(json.dumps({"id": f"q{i}", "input": f"question {i}"}) + "\n" for i in range(n)))
    out = tmp_path / "runs"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["OPENAI_API_KEY"] = api_key
    proc = subprocess.Popen(
        [sys.executable, "-m", "crosslab", "run", "--items", str(items_file), "--target", "openai:loopback",
         "--base-url", base_url + "/v1", "--concurrency", str(concurrency), "--no-cache", "--quiet",
         "--out", str(out)], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while True:
        runs = list(out.glob("*/journal.sqlite")) if out.exists() else []
        try:
            if runs and len(ok_ids(runs[0])) >= n // 3:
                break
        except sqlite3.OperationalError:  # the journal file exists a moment before its tables
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "run ended or stalled before the kill"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    [journal_path] = runs
    done_at_kill = ok_ids(journal_path)
    resumed = run_cli("run", "--resume", str(journal_path.parent), "--no-cache", "--quiet",
                      env={"OPENAI_API_KEY": api_key})
    assert resumed.returncode == 0, resumed.stderr
    return KilledRun(journal_path, done_at_kill, resumed)


def assert_nothing_lost_or_resent(killed: KilledRun, n: int, server_ok: dict[str, int]) -> None:
    """N distinct ok records; a sample finished before the kill reached the server once, none more than twice."""
    journal = Journal.open(killed.journal_path.parent)
    records = list(journal.records())
    assert len(records) == n and len({r["sample_id"] for r in records}) == n
    assert all(r["status"] == "ok" for r in records) and journal.verify_hashes() == []
    by_id = {r["sample_id"]: r["messages"][0]["content"] for r in records}
    journal.close()
    for sid in killed.done_at_kill:
        assert server_ok[by_id[sid]] == 1, "a sample finished before the kill was sent again"
    assert max(server_ok.values()) <= 2  # in flight at the kill: reached the server at most once more
