"""`crosslab compare` on two adaptive-attack runs: paired by behaviour, only the target may differ."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli

from crosslab.attacks import read_outcomes
from crosslab.run.attack import ATTACK_DIR

PAIR = ["--attack", "pair", "--attacker", "baseline:token-explorer", "--judge", "baseline:attack-judge",
        "--attack-param", "streams=2", "--limit", "8"]


def attack_run(out: Path, target: str, *extra: str) -> Path:
    before = set(out.iterdir()) if out.exists() else set()
    result = run_cli("run", "--suite", "jailbreak", "--out", str(out), "--no-cache", "-q", "--target", target,
                     *(extra or PAIR))
    assert result.returncode == 0, result.stderr
    [run_dir] = set(out.iterdir()) - before
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("attacks")
    return {"guard": attack_run(out, "baseline:token-guard"),  # gives way once the token is found
            "refuser": attack_run(out, "baseline:refuse-all"),  # never gives way
            "crescendo": attack_run(out, "baseline:token-guard", "--attack", "crescendo", "--attacker",
                                    "baseline:escalator", "--judge", "baseline:attack-judge", "--limit", "8")}


def test_the_more_robust_target_is_named_with_a_paired_interval_and_exact_p(runs: dict[str, Path]):
    result = run_cli("compare", str(runs["guard"]), str(runs["refuser"]), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["kind"] == "attack" and data["a"]["target"] == "baseline:token-guard"
    overall = data["rows"][0]
    assert overall["harm"] == "all" and overall["n_pairs"] == 8
    wins = sum(o["success"] for o in read_outcomes(runs["guard"] / ATTACK_DIR))
    assert wins >= 6  # the guard gives way on most behaviours; the refuser on none
    assert overall["asr_a"]["estimate"] == wins / 8 and overall["asr_b"]["estimate"] == 0.0
    d = overall["difference"]
    assert d["estimate"] == wins / 8 and d["low"] > 0.3  # every discordant pair points one way
    assert d["p_value"] == pytest.approx(2 * 0.5**wins)  # exact McNemar: `wins` discordant pairs
    assert overall["p_adjusted"] == d["p_value"]  # the primary test is not diluted by the harm rows
    assert overall["verdict"] == "B more robust"
    harms = data["rows"][1:]
    assert len(harms) > 1 and all(r["p_adjusted"] >= r["difference"]["p_value"] for r in harms)
    assert data["target_queries_to_first_success"]["behaviours"] == 0  # B never gave way
    assert data["unpaired_behaviours"] == 0


def test_the_table_says_what_was_held_fixed(runs: dict[str, Path]):
    result = run_cli("compare", str(runs["refuser"]), str(runs["guard"]))
    assert result.returncode == 0, result.stderr
    assert "lower is more robust" in result.stdout and "A more robust" in result.stdout
    assert "held fixed: attack spec" in result.stdout and "the overall row is the primary test" in result.stdout


def test_runs_that_differ_in_more_than_the_target_are_refused_in_one_line(runs: dict[str, Path], tmp_path: Path):
    result = run_cli("compare", str(runs["guard"]), str(runs["crescendo"]))
    assert result.returncode != 0
    assert "differ in attack spec, attacker" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_attack_run_is_not_compared_with_a_suite_run(runs: dict[str, Path], tmp_path: Path):
    suite = run_cli("run", "--suite", "jailbreak", "--target", "baseline:refuse-all", "--limit", "4", "--no-cache",
                    "-q", "--out", str(tmp_path))
    assert suite.returncode == 0, suite.stderr
    [suite_run] = tmp_path.iterdir()
    result = run_cli("compare", str(runs["guard"]), str(suite_run))
    assert result.returncode != 0 and "compares only with another attack run" in result.stderr
    assert "Traceback" not in result.stderr
