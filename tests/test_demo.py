"""The README's first command: `crosslab demo` runs a real two-lab round offline, end to end."""

from __future__ import annotations

import json
import shlex
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import run_cli
from support.browser import load_page

from crosslab.evidence import EvidenceError, Trust, decode_package, encode_package, verify_package
from crosslab.suites.registry import suite_names
from crosslab.transparency import LogKey, WitnessKey
from crosslab.transparency.note import split_note
from crosslab.witness import WitnessState

WITNESSES = ["witness-1.crosslab-demo.local", "witness-2.crosslab-demo.local"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    """One real demo run for the whole module (minutes on 2 cores): its directory and what the CLI printed."""
    out = tmp_path_factory.mktemp("demo") / "demo"
    started = time.perf_counter()
    result = run_cli("demo", "--out", str(out), "--per-suite", "2", timeout=900)  # the whole quick profile: bench/demo_round.py
    assert result.returncode == 0, result.stderr[-3000:]
    return {"out": out, "result": result, "seconds": time.perf_counter() - started}


@pytest.mark.slow
def test_demo_round_end_to_end(demo: dict):
    out, result = demo["out"], demo["result"]
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
    for report in (out / "reports" / "joint-report.html", out / "partner" / "partner-report-borealis.html"):
        page = load_page(report, audit=True)  # axe-core in the rendered page, and every chart label inside its chart
        assert page.errors == [] and page.requests == [], report
        assert page.serious() == [] and page.overflowing == [], (report.name, page.serious(), page.overflowing)
    before = (bundles[0] / "statement.dsse.json").read_bytes()
    packages = {p.name: p.read_bytes() for p in (out / "evidence").glob("*.evidence")}
    again = run_cli("demo", "--out", str(out), "--per-suite", "2", timeout=600)  # resumable: reuses keys, runs, bundles
    assert again.returncode == 0, again.stderr[-2000:]
    assert (bundles[0] / "statement.dsse.json").read_bytes() == before
    said = again.stdout + again.stderr  # the log did not grow: nobody re-cosigns, the packages come out the same
    assert said.count("had already cosigned the log's checkpoint at size 4") == 2, said[-3000:]
    assert len(packages) == 2 and {p.name: p.read_bytes() for p in (out / "evidence").glob("*.evidence")} == packages


# -- issue 17, end to end: the demo's round published, two witnesses cosign, a package per lab verified offline --
def _keys(out: Path) -> tuple[LogKey, list[WitnessKey]]:
    """The log's and the two witnesses' keys, read from the files the demo keeps (a buyer gets only the vkeys)."""
    return LogKey.load(out / "registry" / "log.key"), [WitnessKey.load(p) for p in sorted(out.glob("witnesses/*.key"))]


@pytest.mark.slow
def test_demo_packages_verify_offline_with_both_witnesses(demo: dict):
    out = demo["out"]
    log, witnesses = _keys(out)
    assert [w.name for w in witnesses] == WITNESSES
    trust = Trust.parse(log.verifier_key(), [w.verifier_key() for w in witnesses], min_witnesses=2)
    assert sorted(p.name for p in out.glob("evidence/*")) == ["aurora.evidence", "borealis.evidence"]
    bundles = {}
    for lab in ("aurora", "borealis"):
        data = (out / "evidence" / f"{lab}.evidence").read_bytes()
        found = verify_package(data, trust, vendor=lab)
        assert found.checkpoint.size == 4 and found.indices[0] == 0  # the protocol, then three bundles
        assert sorted(c.witness.name for c in found.cosignatures) == WITNESSES
        assert all(b.result.evaluated == lab and b.result.countersigned for b in found.bundles)
        bundles[lab] = sorted(b.result.deployment for b in found.bundles)
        _, lines = split_note(decode_package(data).checkpoint)  # exactly the log's line and the two witnesses'
        assert sorted((ln.name, ln.key_id) for ln in lines) == sorted(
            [(log.name, log.key_id)] + [(w.name, w.key_id) for w in witnesses])
        for w in witnesses:  # each witness stored what it cosigned, before answering
            latest = WitnessState(out / "witnesses" / f"{w.name.split('.')[0]}-state.db").latest(log.name)
            assert latest is not None and (latest.size, latest.root) == (4, found.checkpoint.root)
    assert bundles == {"aurora": ["a-prod"], "borealis": ["b-prev", "b-prod"]}
    with sqlite3.connect(out / "registry" / "registry.sqlite3") as db:  # the registry's own cosignatures table
        rows = sorted(db.execute("SELECT size, witness FROM cosignatures"))
    assert rows == sorted((4, w.verifier_key()) for w in witnesses)
    commands = [line.strip() for line in demo["result"].stdout.splitlines()
                if line.strip().startswith("crosslab evidence verify")]
    assert len(commands) == 2
    for command in commands:  # what the demo tells a buyer to run works, offline, as printed
        done = run_cli(*shlex.split(command)[1:])
        assert done.returncode == 0, done.stderr
        assert f"cosigned by 2 trusted witness(es): {', '.join(WITNESSES)}" in done.stdout
    print(f"demo run with witnesses and evidence: {demo['seconds']:.0f} s")


@pytest.mark.slow
def test_demo_package_tampering_and_untrusted_witnesses_fail(demo: dict):
    out = demo["out"]
    log, (w1, w2) = _keys(out)
    data = (out / "evidence" / "borealis.evidence").read_bytes()
    both = Trust.parse(log.verifier_key(), [w1.verifier_key(), w2.verifier_key()], min_witnesses=2)
    decoded = decode_package(data)
    dropped = verify_package(data, both).bundles[0].indices[0]
    without = encode_package(replace(decoded, entries=tuple(e for e in decoded.entries if e.index != dropped)))
    with pytest.raises(EvidenceError, match=rf"^package: incomplete: log entry {dropped} \(bundle"):
        verify_package(without, both)

    stranger = WitnessKey.generate("witness-3.crosslab-demo.local")  # a key the buyer lists, who never cosigned
    three = [w1.verifier_key(), w2.verifier_key(), stranger.verifier_key()]
    found = verify_package(data, Trust.parse(log.verifier_key(), three, min_witnesses=2))
    assert sorted(c.witness.name for c in found.cosignatures) == WITNESSES
    with pytest.raises(EvidenceError, match="carries 2 cosignature\\(s\\) from trusted witnesses; 3 required"):
        verify_package(data, Trust.parse(log.verifier_key(), three))  # K defaults to every key listed: 3

    body, _ = split_note(decoded.checkpoint)  # a third cosignature, by a witness the buyer does not trust
    extra = encode_package(replace(decoded, checkpoint=decoded.checkpoint + stranger.cosign(body)))
    assert len(verify_package(extra, both).cosignatures) == 2  # ignored, and the package still verifies
    only_w1 = Trust.parse(log.verifier_key(), [w1.verifier_key()], min_witnesses=2)
    with pytest.raises(EvidenceError, match="carries 1 cosignature\\(s\\) from trusted witnesses; 2 required"):
        verify_package(extra, only_w1)  # witness-2's and the stranger's lines count for nothing here


def test_the_full_demo_pins_a_valid_adaptive_attack_and_the_quick_demo_none() -> None:
    """--full runs Crescendo in every direction: its pin must pass the round's strict checks before anyone signs."""
    from crosslab.attacks import AttackSpec
    from crosslab.demo import DEMO_ATTACK, _protocol_document
    from crosslab.protocol.schema import AttackPin

    full = _protocol_document(True)
    assert full["attack"] == DEMO_ATTACK and "attack" not in _protocol_document(False)
    assert "attack" in _protocol_document(False, attack=True) and "attack" not in _protocol_document(True, attack=False)
    pin = AttackPin.model_validate(full["attack"])
    spec = AttackSpec.from_dict(pin.spec_dict())  # unknown or bad parameters raise
    assert spec.attack == "crescendo" and spec.budget.to_dict() == {"target": 3, "attacker": 3, "judge": 6}
