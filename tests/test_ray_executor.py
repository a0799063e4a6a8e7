"""The Ray executor against real servers on 127.0.0.1: same records as a local run, one shared rate limit,
and a worker killed mid-shard resumes from its shard's journal without re-sending what was finished.

Each test runs `crosslab run --executor ray` as a user would: a fresh process starts a local Ray cluster.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from conftest import REPO, run_cli
from crosslab.engine.journal import Journal
from crosslab.run.ray_executor import shard_of, split
from crosslab.engine.plan import make_plan
from tests.support.engine_runs import items, ok_ids, run_engine
from tests.support.loopback_server import running_server
from tests.support.ratelimit_server import running_limited_server
from tests.test_rate_limits_engine import most_in_one_second



def items_file(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i:04d}", "input": f"question {i}", "target": f"question {i}"})
                            + "\n" for i in range(n)))
    return path


def ray_run(tmp_path: Path, url: str, n: int, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(OPENAI_API_KEY="loopback-key", RAY_AUTH_MODE="disabled")
    return subprocess.Popen(
        [sys.executable, "-m", "crosslab", "run", "--items", str(items_file(tmp_path, n)), "--target",
         "openai:loopback", "--base-url", url + "/v1", "--no-cache", "--quiet", "--no-preflight",
         "--out", str(tmp_path / "runs"), "--executor", "ray", *extra],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(proc: subprocess.Popen[str], timeout: float = 300) -> tuple[str, str]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return out, err


def without_latency(record: dict[str, Any]) -> bytes:
    """The record's canonical bytes with the one measured field (wall time of its calls) set aside."""
    return orjson.dumps({**record, "stats": {**record["stats"], "latency_s": None}}, option=orjson.OPT_SORT_KEYS)


def the_journal(tmp_path: Path) -> Journal:
    [path] = (tmp_path / "runs").glob("*/journal.sqlite")
    return Journal.open(path.parent)


def test_shards_split_by_sample_id_and_cover_the_plan_once() -> None:
    plan = make_plan(items(50), "d" * 64)
    parts = split(plan, 8)
    assert sorted(i for p in parts for i in p) == sorted(s.id for s in plan)
    assert all(shard_of(i, 8) == shard_of(p[0], 8) for p in parts for i in p)
    assert split(plan, 8) == parts  # the same plan always gives the same shards


def test_merged_journal_equals_a_local_run_record_for_record(tmp_path: Path) -> None:
    with running_server(latency=0.01) as srv:
        local = run_engine(srv.url, items(40), tmp_path / "local", concurrency=4)
        finished(ray_run(tmp_path, srv.url, 40, "--workers", "2", "--concurrency", "4"))
    merged = the_journal(tmp_path)
    mine = {r["sample_id"]: without_latency(r) for r in merged.records()}
    theirs = {r["sample_id"]: without_latency(r) for r in local.records()}
    assert len(mine) == 40 and mine == theirs
    assert merged.verify_hashes() == [] and merged.counts()["ok"] == 40
    executor = merged.meta()["executor"]
    assert executor["kind"] == "ray" and executor["workers"] == 2 and executor["calls"]["answered"] == 40
    shards = sorted((merged.path.parent / "shards").iterdir())
    assert len(shards) == executor["shards"] > 1
    assert sum(Journal.open(s).counts()["ok"] for s in shards) == 40  # each sample in exactly one shard
    graded = merged.verdicts()
    assert len(graded) == 40  # graded in the driver, as a local run is


def test_the_rate_limit_is_shared_by_every_worker(tmp_path: Path) -> None:
    """--rpm 300 allows 5 requests in any second: two workers with 8 in flight each must share them."""
    with running_limited_server(rate=10_000, burst=10_000, latency=0.01) as srv:
        finished(ray_run(tmp_path, srv.url, 30, "--workers", "2", "--concurrency", "8", "--rpm", "300"))
        log = srv.limits()
    times = sorted(t for t, _ in log["arrivals"])
    assert len(times) == 30 and the_journal(tmp_path).counts()["ok"] == 30
    assert most_in_one_second(times) <= 5  # per worker it would have been 5 each: 10 in a second
    assert (times[-1] - times[0]) >= (30 - 5) / 5 - 0.5


def test_a_worker_killed_mid_shard_is_retried_and_resumes_from_its_journal(tmp_path: Path) -> None:
    with running_server(latency=0.15) as srv:
        proc = ray_run(tmp_path, srv.url, 48, "--workers", "2", "--concurrency", "1")
        deadline = time.monotonic() + 120
        victim, done_at_kill = None, set()
        while victim is None:
            assert proc.poll() is None and time.monotonic() < deadline, "the run ended before a shard was mid-way"
            for shard in sorted((tmp_path / "runs").glob("*/shards/*")):
                try:
                    ok = ok_ids(shard / "journal.sqlite")
                    pid = int((shard / "worker.pid").read_text())
                except (FileNotFoundError, ValueError, sqlite3.OperationalError):
                    continue
                if len(ok) >= 2:  # mid-shard: a shard here holds about 6 samples
                    os.kill(pid, signal.SIGKILL)
                    victim, done_at_kill = shard, ok
                    break
            time.sleep(0.05)
        finished(proc)
        served = srv.stats()["ok"]
    journal = the_journal(tmp_path)
    records = list(journal.records())
    assert len(records) == 48 and all(r["status"] == "ok" for r in records)
    by_id = {r["sample_id"]: r["messages"][0]["content"] for r in records}
    assert all(served[by_id[sid]] == 1 for sid in done_at_kill), "a sample finished before the kill was sent again"
    assert max(served.values()) <= 2 and sum(served.values()) <= 48 + 2
    assert ok_ids(victim / "journal.sqlite") >= done_at_kill  # the retry kept and finished the same shard


def test_without_ray_the_executor_says_how_to_install_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    code = ("import sys, runpy; sys.modules['ray'] = None; "
            "sys.argv = ['crosslab', 'run', '--suite', 'smoke', '--target', 'baseline:comply-all', '--executor', "
            "'ray', '--out', sys.argv[1]]; runpy.run_module('crosslab', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and 'pip install "crosslab[ray]"' in done.stderr and "Traceback" not in done.stderr


def test_round_run_takes_the_same_executor_and_its_bundle_verifies(tmp_path: Path) -> None:
    from tests.support.smoke_round import PROTOCOL, signed_protocol
    from crosslab.suites.registry import get_suite

    env = {"CROSSLAB_KEYSTORE": str(tmp_path / "keystore"), "RAY_AUTH_MODE": "disabled"}
    for lab in ("lab-a", "lab-b"):
        assert run_cli("keys", "new", lab, "--name", lab.upper(), "--out", str(tmp_path / "keys"),
                       env=env).returncode == 0
    spec = {**PROTOCOL, "suites": [{"name": "smoke", "digest": get_suite("smoke").content_digest()}]}
    protocol = signed_protocol(tmp_path / "protocol.yaml", spec, env)
    done = run_cli("round", "run", str(protocol), "--as", "lab-a", "--out", str(tmp_path / "round"), "--quiet",
                   "--executor", "ray", "--workers", "2", env=env, subprocess=True)
    assert done.returncode == 0, done.stderr[-2000:]
    run = Journal.open(tmp_path / "round" / "lab-a-on-lab-b-b-prod" / "smoke")
    assert run.meta()["executor"]["kind"] == "ray" and run.counts()["ok"] == len(get_suite("smoke").items())
    verified = run_cli("verify", str(tmp_path / "round" / "lab-a-on-lab-b-b-prod" / "bundle"), "--keys",
                       str(tmp_path / "keys"))
    assert verified.returncode == 0, verified.stderr
