"""Network roles against a real server: SmolLM2 behind llama.cpp's server on 127.0.0.1 as attacker and target.

The judge is the deterministic ``baseline:attack-judge`` (its score is a known
function of the reply), so what is checked is the wiring: every role's calls
go over HTTP through the engine, are journaled and counted, the attacker's
free-form replies are parsed or counted as unreadable, and the run resumes
from its journal without sending anything again.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import run_cli

from crosslab.attacks import read_outcomes
from crosslab.engine.journal import Journal
from crosslab.run.attack import ATTACK_DIR
from tests.support.llama_server import llama_server

pytestmark = pytest.mark.slow


def test_pair_with_smollm2_attacker_and_target_over_http(tmp_path: Path):
    with llama_server(tmp_path) as url:
        attacker = tmp_path / "attacker.yaml"  # a target file: the attacker's replies capped like the target's
        attacker.write_text(f"provider: openai\nmodel: smollm2\nbase_url: {url}/v1\nmax_tokens: 96\n")
        args = ["run", "--suite", "jailbreak", "--attack", "pair", "--limit", "1", "--no-cache", "-q",
                "--out", str(tmp_path / "runs"), "--concurrency", "1",
                "--target", "openai:smollm2", "--base-url", url + "/v1", "--max-tokens", "64",
                "--attacker", str(attacker),
                "--judge", "baseline:attack-judge",
                "--attack-param", "streams=1", "--attack-param", "iterations=2",
                "--attack-param", "budget.target=2", "--attack-param", "budget.attacker=2",
                "--attack-param", "budget.judge=4"]
        started = time.monotonic()
        result = run_cli(*args, timeout=900)
        print(f"SmolLM2 PAIR, 1 behaviour: {time.monotonic() - started:.0f} s")
        assert result.returncode == 0, result.stderr
        [run_dir] = (tmp_path / "runs").iterdir()
        outcomes = read_outcomes(run_dir / ATTACK_DIR)
        assert len(outcomes) == 1 and all(o["status"] == "ok" for o in outcomes)
        attacker = [o["accounting"]["attacker"] for o in outcomes]
        assert all(a["queries"] == a["sent"] >= 1 for a in attacker)  # every attacker call went over HTTP
        assert all(o["queries"]["target"] <= 2 and o["queries"]["judge"] <= 4 for o in outcomes)
        # an attacker reply without a usable prompt is counted, never sent to the target
        for o in outcomes:
            assert o["queries"]["target"] == o["queries"]["attacker"] - o["accounting"]["attacker"]["unscored"]
        journal = Journal.open(run_dir / ATTACK_DIR)
        calls = [r for r in journal.records() if r.get("kind") == "call"]
        journal.close()
        assert calls and all(r["status"] == "ok" for r in calls)
        resumed = run_cli("run", "--resume", str(run_dir), "-q", "--no-cache", timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        assert "(0 sent, 0 cached, " in resumed.stdout
        assert [o["success"] for o in read_outcomes(run_dir / ATTACK_DIR)] == [o["success"] for o in outcomes]


def test_smollm2_target_and_judge_over_http_with_a_deterministic_attacker(tmp_path: Path):
    """SmolLM2 cannot follow the attacker's JSON reply format (docs/attacks.md), so the target and judge
    network roles are exercised with the deterministic attacker organism writing the prompts."""
    with llama_server(tmp_path) as url:
        result = run_cli("run", "--suite", "jailbreak", "--attack", "pair", "--limit", "1", "--no-cache", "-q",
                         "--out", str(tmp_path / "runs"), "--concurrency", "1",
                         "--target", "openai:smollm2", "--base-url", url + "/v1", "--max-tokens", "48",
                         "--attacker", "baseline:token-explorer",
                         "--judge", "openai:smollm2", "--judge-base-url", url + "/v1", "--judge-max-tokens", "48",
                         "--attack-param", "streams=1", "--attack-param", "iterations=2", timeout=900)
        assert result.returncode == 0, result.stderr
        [run_dir] = (tmp_path / "runs").iterdir()
        [outcome] = read_outcomes(run_dir / ATTACK_DIR)
        assert outcome["status"] == "ok"
        target, judge = outcome["accounting"]["target"], outcome["accounting"]["judge"]
        assert target["sent"] == target["queries"] == 2 and target["output_tokens"] > 0
        assert judge["sent"] == judge["queries"] == 2
        # a judge reply that does not parse is counted unscored and is never a success
        scored = 2 - judge["unscored"]
        assert outcome["success"] is False or scored >= 1
        assert f"judge openai:smollm2: 2 queries (2 sent, 0 cached, 0 resumed, 0 errors, {judge['unscored']} unscored)" \
            in result.stdout
