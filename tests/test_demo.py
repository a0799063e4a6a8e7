"""The README's first command: `crosslab demo` runs a real two-lab round offline, end to end."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import run_cli
from support.browser import load_page

from crosslab.suites.registry import suite_names


@pytest.mark.slow
def test_demo_round_end_to_end(tmp_path: Path):
    out = tmp_path / "demo"
    result = run_cli("demo", "--out", str(out), timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "3 bundles, all verified" in result.stdout
    bundles = sorted(out.glob("round/*/bundle"))
    assert [b.parent.name for b in bundles] == ["aurora-on-borealis-b-prev", "aurora-on-borealis-b-prod",
                                                "borealis-on-aurora-a-prod"]
    for bundle in bundles:  # a third party with only the public identity files
        verified = run_cli("verify", str(bundle), "--keys", str(out / "trusted"))
        assert verified.returncode == 0, verified.stderr
        assert "countersigned by" in verified.stdout and "reply:" in verified.stdout
    joint = json.loads((out / "reports" / "joint-report.json").read_text())
    assert joint["audience"] == "joint" and len(joint["bundles"]) == 3 and len(joint["comparisons"]) == 3
    categories = {r["category"] for b in joint["bundles"] for r in b["evaluation_results"]}
    four = {"instruction_hierarchy", "jailbreak", "hallucination", "scheming"}
    assert four & set(suite_names()) <= categories and len(four & categories) >= 2  # every installed category
    for journal in out.glob("round/*/*/journal.sqlite"):  # every figure comes from this run's model calls
        with sqlite3.connect(journal) as db:
            records = [json.loads(r[0]) for r in db.execute("SELECT record FROM samples")]
        assert records and all(r["stats"]["cached_calls"] == 0 and r["stats"]["calls"] >= 1 for r in records)
    assert run_cli("disclosure", "scan", str(out / "reports")).returncode == 0
    partner = json.loads((out / "partner" / "partner-report-borealis.json").read_text())
    assert any(e["tier"] == "restricted" for b in partner["bundles"] for e in b["examples"])
    page = load_page(out / "reports" / "joint-report.html")
    assert page.errors == [] and page.requests == []
    before = (bundles[0] / "statement.dsse.json").read_bytes()
    again = run_cli("demo", "--out", str(out), timeout=600)  # resumable: reuses keys, runs and bundles
    assert again.returncode == 0, again.stderr[-2000:]
    assert (bundles[0] / "statement.dsse.json").read_bytes() == before
