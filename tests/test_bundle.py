"""Bundles end to end: two labs, a signed protocol, a run, a bundle, review, offline verification."""

from __future__ import annotations

import base64
import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import run_cli

from crosslab.attest.errors import VerificationError
from crosslab.bundle import layout
from crosslab.bundle.installed import installed_definitions
from crosslab.bundle.verify import verify_bundle
from crosslab.engine.journal import Journal
from crosslab.identity.keys import load_identity
from tests.support.smoke_round import smoke_round

#: The installed suites' metric definitions: with them, a re-signed metric is caught as tampering.
DEFINITIONS = installed_definitions()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """lab-a evaluates lab-b's deployment b-prod (the comply-all calibration baseline) on the smoke suite."""
    return smoke_round(tmp_path_factory.mktemp("round"))


def pinned(world: dict) -> dict:
    return {p.stem.split(".")[0]: load_identity(p) for p in world["keys"].glob("*.identity.json")}


def test_third_party_verifies_offline(world: dict):
    result = run_cli("verify", str(world["bundle"]), "--keys", str(world["keys"]))
    assert result.returncode == 0, result.stderr
    assert "public 9, restricted 2, withheld 1" in result.stdout
    assert "public disclosures checked 9" in result.stdout and "withheld 1: committed, not revealed" in result.stdout
    report = verify_bundle(world["bundle"], pinned(world), metric_definitions=DEFINITIONS)
    overall = next(r for r in report.metrics["rows"] if r["category"] == "all")
    assert overall["samples"] == 12 and overall["graded"] == 12


def test_partner_decrypts_restricted_items_with_ours_and_with_age(world: dict):
    result = run_cli("verify", str(world["bundle"]), "--keys", str(world["keys"]), "--as", "lab-b",
                     env=world["env"])
    assert result.returncode == 0 and "restricted checked 2" in result.stdout
    plain = subprocess.run(["age", "--decrypt", "-i", str(world["keystore"] / "lab-b" / "age_identity.txt"),
                            str(world["bundle"] / layout.RESTRICTED)], capture_output=True, check=True).stdout
    lines = [json.loads(line) for line in plain.decode().splitlines()]
    assert sorted(line["i"] for line in lines) == [10, 11]  # the two restricted smoke items
    outsider = run_cli("verify", str(world["bundle"]), "--keys", str(world["keys"]), "--as", "lab-c",
                       env=world["env"])
    assert outsider.returncode == 1 and "not a recipient" in outsider.stderr


def test_public_file_reveals_no_restricted_or_withheld_content(world: dict):
    public = (world["bundle"] / layout.PUBLIC).read_text()
    stubs = (world["bundle"] / layout.ITEMS).read_text()
    for secret_text in ("favourite", "wifi", "10 times 3"):
        assert secret_text not in public and secret_text not in stubs


def test_pinned_keys_are_required_and_must_match(world: dict, tmp_path: Path):
    only_a = tmp_path / "only-a"
    only_a.mkdir()
    shutil.copy(world["keys"] / "lab-a.identity.json", only_a)
    result = run_cli("verify", str(world["bundle"]), "--keys", str(only_a))
    assert result.returncode == 1 and "no pinned identity for lab-b" in result.stderr
    impostor = tmp_path / "impostor"
    impostor.mkdir()
    shutil.copy(world["keys"] / "lab-a.identity.json", impostor)
    run_cli("keys", "new", "lab-b", "--name", "LAB-B", "--out", str(impostor),
            env={"CROSSLAB_KEYSTORE": str(tmp_path / "other-keystore")})
    result = run_cli("verify", str(world["bundle"]), "--keys", str(impostor))
    assert result.returncode == 1 and "does not match the pinned one" in result.stderr


def test_countersign_with_reply(world: dict, tmp_path: Path):
    bundle = tmp_path / "bundle"
    shutil.copytree(world["bundle"], bundle)
    wrong = run_cli("bundle", "countersign", str(bundle), "--as", "lab-a", "--keys", str(world["keys"]),
                    env=world["env"])
    assert wrong.returncode == 1 and "only the evaluated lab" in wrong.stderr
    ok = run_cli("bundle", "countersign", str(bundle), "--as", "lab-b", "--keys", str(world["keys"]),
                 "--response", "We reviewed this and agree; the baseline complies by design.", env=world["env"])
    assert ok.returncode == 0, ok.stderr
    result = run_cli("verify", str(bundle), "--keys", str(world["keys"]))
    assert result.returncode == 0 and "countersigned by lab-b" in result.stdout
    assert "agree; the baseline complies" in result.stdout
    # a reply moved onto another bundle's statement no longer matches
    other = tmp_path / "other"
    shutil.copytree(world["bundle"], other)
    shutil.copy(bundle / layout.RESPONSE, other / layout.RESPONSE)
    (other / layout.STATEMENT).write_bytes((world["bundle"] / layout.STATEMENT).read_bytes())
    verify_bundle(other, pinned(world), metric_definitions=DEFINITIONS)  # same statement payload: the reply still applies, and says so
    assert verify_bundle(bundle, pinned(world), metric_definitions=DEFINITIONS).countersigned


def test_bundle_refuses_runs_that_break_the_protocol(world: dict, tmp_path: Path):
    result = run_cli("bundle", "create", str(world["run"]), "--protocol", str(world["protocol"]), "--as", "lab-a",
                     "--evaluated", "lab-b", "--deployment", "a-prod", "--out", str(tmp_path / "b"),
                     env=world["env"])
    assert result.returncode == 2 and "no deployment named 'a-prod'" in result.stderr
    result = run_cli("bundle", "create", str(world["run"]), "--protocol", str(world["protocol"]), "--as", "lab-b",
                     "--evaluated", "lab-a", "--deployment", "a-prod", "--out", str(tmp_path / "b"),
                     env=world["env"])
    assert result.returncode == 2 and "is not of lab-a/a-prod as agreed" in result.stderr
    assert not (tmp_path / "b").exists()
    exists = run_cli("bundle", "create", str(world["run"]), "--protocol", str(world["protocol"]), "--as", "lab-a",
                     "--evaluated", "lab-b", "--deployment", "b-prod", "--out", str(world["bundle"]),
                     env=world["env"])
    assert exists.returncode == 2 and "never overwritten" in exists.stderr


BUNDLE_FILES = [layout.ITEMS, layout.PUBLIC, layout.RESTRICTED, layout.STATEMENT, layout.PROTOCOL,
                layout.PROTOCOL_SIGNATURES]


def mutate_and_verify(world: dict, tmp_path: Path, mutations: int, seed: int) -> int:
    """Flip one byte at a random place in a random file; every mutation must be detected."""
    rng = random.Random(seed)
    trusted = pinned(world)
    bundle = tmp_path / "mutant"
    shutil.copytree(world["bundle"], bundle)
    originals = {name: (world["bundle"] / name).read_bytes() for name in BUNDLE_FILES}
    partner = None
    from crosslab.identity.keystore import Keystore
    partner = Keystore(world["keystore"]).age_identity("lab-b")
    detected = 0
    for _ in range(mutations):
        name = rng.choice(BUNDLE_FILES)
        data = bytearray(originals[name])
        pos = rng.randrange(len(data))
        data[pos] = (data[pos] + rng.randrange(1, 256)) % 256
        (bundle / name).write_bytes(bytes(data))
        try:
            verify_bundle(bundle, trusted, partner_identity=partner, metric_definitions=DEFINITIONS)
        except VerificationError:
            detected += 1
        else:
            raise AssertionError(f"undetected: {name} byte {pos} -> {data[pos]}")
        (bundle / name).write_bytes(originals[name])
    return detected


def test_random_byte_mutations_are_detected(world: dict, tmp_path: Path):
    assert mutate_and_verify(world, tmp_path, 200, seed=1) == 200


@pytest.mark.slow
def test_thousand_random_byte_mutations_are_detected(world: dict, tmp_path: Path):
    assert mutate_and_verify(world, tmp_path, 1000, seed=2) == 1000


def _evaluator_key(world: dict):
    from crosslab.identity.keystore import Keystore

    return Keystore(world["keystore"])


def _resign(bundle: Path, world: dict, lab: str, edit_predicate=None, stubs_lines: list[bytes] | None = None) -> None:
    """An attacker holding ``lab``'s key rewrites the statement consistently after an edit."""
    import base64
    import hashlib

    from crosslab.attest import merkle
    from crosslab.attest.dsse import dump_envelope
    from crosslab.attest.intoto import sign_statement
    from crosslab.bundle.metrics import counts_from_stubs, metrics_from_stubs
    from crosslab.bundle.installed import installed_definitions

    store = _evaluator_key(world)
    envelope = json.loads((bundle / layout.STATEMENT).read_text())
    stmt = json.loads(base64.b64decode(envelope["payload"]))
    if stubs_lines is not None:
        (bundle / layout.ITEMS).write_bytes(b"".join(line + b"\n" for line in stubs_lines))
        stubs = [json.loads(line) for line in stubs_lines]
        stmt["predicate"]["stubs"]["count"] = len(stubs)
        stmt["predicate"]["stubs"]["merkle_root"] = merkle.root(stubs_lines).hex()
        stmt["predicate"]["counts"] = counts_from_stubs(stubs)
        stmt["predicate"]["metrics"] = metrics_from_stubs(stubs, installed_definitions())
    if edit_predicate:
        edit_predicate(stmt["predicate"])
    for subject in stmt["subject"]:
        if (bundle / subject["name"]).exists():
            subject["digest"]["sha256"] = hashlib.sha256((bundle / subject["name"]).read_bytes()).hexdigest()
    keyid = store.public_identity(lab).signing_key.keyid
    (bundle / layout.STATEMENT).write_bytes(dump_envelope(sign_statement(stmt, store.signing_key(lab), keyid)))


def structured_edits(world: dict) -> list:
    from crosslab.disclosure.commitments import make_disclosure, open_disclosure
    from crosslab.core.jcs import jcs

    rng = random.Random(7)
    lines = (world["bundle"] / layout.ITEMS).read_bytes().split(b"\n")[:-1]
    public = (world["bundle"] / layout.PUBLIC).read_bytes().split(b"\n")[:-1]
    edits = []

    def swap(i: int, j: int):
        def apply(b: Path) -> None:
            data = list(lines)
            data[i], data[j] = data[j], data[i]
            (b / layout.ITEMS).write_bytes(b"".join(x + b"\n" for x in data))
        return apply

    def drop(i: int):
        return lambda b: (b / layout.ITEMS).write_bytes(b"".join(x + b"\n" for n, x in enumerate(lines) if n != i))

    def metric(pick: int, delta: int):
        def edit(pred: dict) -> None:
            row = pred["metrics"]["rows"][pick % len(pred["metrics"]["rows"])]
            row["passed"] = row["passed"] + delta
        return lambda b: _resign(b, world, "lab-a", edit_predicate=edit)

    def other_key(pick: int):
        def edit(pred: dict) -> None:
            pred["crosslab_version"] = f"forged-{pick}"
        return lambda b: _resign(b, world, "lab-c", edit_predicate=edit)

    def new_salt(n: int):
        def apply(b: Path) -> None:
            entry = json.loads(public[n])
            _, value = open_disclosure(entry["d"])
            entry["d"] = make_disclosure(value).encoded  # same content, fresh salt: commitment differs
            rows = list(public)
            rows[n] = jcs(entry)
            (b / layout.PUBLIC).write_bytes(b"".join(x + b"\n" for x in rows))
            _resign(b, world, "lab-a")  # even with the evaluator's key re-signing the new file digest
        return apply

    def flip_label(n: int):
        def apply(b: Path) -> None:
            i = json.loads(public[n])["i"]
            stubs = [json.loads(x) for x in lines]
            stubs[i]["label"] = "fail" if stubs[i]["label"] == "pass" else "pass"
            stubs[i]["score"] = 1 - stubs[i]["score"]
            _resign(b, world, "lab-a", stubs_lines=[jcs(s) for s in stubs])
        return apply

    for _ in range(40):
        i, j = rng.sample(range(len(lines)), 2)
        edits.append(("swap", swap(i, j)))
        edits.append(("drop", drop(rng.randrange(len(lines)))))
        edits.append(("metric", metric(rng.randrange(100), rng.choice([-1, 1]))))
        edits.append(("salt", new_salt(rng.randrange(len(public)))))
        edits.append(("label", flip_label(rng.randrange(len(public)))))
    for pick in range(20):
        edits.append(("other-key", other_key(pick)))
    return edits


@pytest.mark.slow
def test_structured_edits_are_detected(world: dict, tmp_path: Path):
    edits = structured_edits(world)
    assert len(edits) == 220
    trusted = pinned(world)
    for n, (kind, apply) in enumerate(edits):
        bundle = tmp_path / f"edit-{n}"
        shutil.copytree(world["bundle"], bundle)
        apply(bundle)
        with pytest.raises(VerificationError):
            verify_bundle(bundle, trusted, metric_definitions=DEFINITIONS)
        shutil.rmtree(bundle)


def test_human_adjudications_travel_in_the_bundle_and_the_report(world: dict, tmp_path: Path):
    """A reviewed label becomes the stub's label, the predicate counts the override, the report says so."""
    run = Path(shutil.copytree(world["run"], tmp_path / world["run"].name))
    sheet = tmp_path / "sheet.jsonl"
    assert run_cli("review", "export", str(run), "-o", str(sheet), "--all", "--tier", "withheld").returncode == 0
    rows = [json.loads(line) for line in sheet.read_text().splitlines()]
    row = next(r for r in rows if r["tier"] == "public" and r["label"] == "fail")
    row["review_label"], row["reviewer_note"] = "pass", "the restatement does answer this one"
    sheet.write_text("".join(json.dumps(r) + "\n" for r in rows))
    imported = run_cli("review", "import", str(run), str(sheet), "--key", str(world["keystore"]), "--as", "lab-a",
                       "--reviewer", "rev@lab-a.example", env=world["env"])
    assert imported.returncode == 0, imported.stderr
    bundle = tmp_path / "bundle"
    made = run_cli("bundle", "create", str(run), "--protocol", str(world["protocol"]), "--as", "lab-a",
                   "--evaluated", "lab-b", "--deployment", "b-prod", "--out", str(bundle), env=world["env"])
    assert made.returncode == 0, made.stderr
    report = verify_bundle(bundle, pinned(world), metric_definitions=DEFINITIONS)
    envelope = json.loads((bundle / layout.STATEMENT).read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    adjudications = statement["predicate"]["adjudications"]
    assert adjudications["by_category"]["smoke"]["overridden"] == 1
    assert adjudications["by_category"]["smoke"]["reviewed"] == 1
    assert [f["reviewer"] for f in adjudications["files"]] == ["rev@lab-a.example"]
    overall = next(r for r in report.metrics["rows"] if r["category"] == "all")
    original = verify_bundle(world["bundle"], pinned(world), metric_definitions=DEFINITIONS)
    before = next(r for r in original.metrics["rows"] if r["category"] == "all")
    assert overall["passed"] == before["passed"] + 1  # the stub carries the reviewed label
    out = tmp_path / "report"
    rendered = run_cli("report", str(bundle), "--keys", str(world["keys"]), "--out", str(out))
    assert rendered.returncode == 0, rendered.stderr
    [markdown] = out.glob("*.md")
    assert "smoke 1 of 12 verdicts overridden (1 reviewed)" in markdown.read_text()
    [html] = out.glob("*.html")
    assert "of 12 verdicts overridden (1 reviewed)" in html.read_text()


def _resign_statement(bundle: Path, keystore: Path, lab: str, edit) -> None:
    """The evaluator (who holds the key) edits its own statement and signs it again: what a cheat can do."""
    from crosslab.attest.dsse import dump_envelope
    from crosslab.attest.intoto import sign_statement
    from crosslab.identity.keystore import Keystore

    envelope = json.loads((bundle / layout.STATEMENT).read_text())
    stmt = json.loads(base64.b64decode(envelope["payload"]))
    edit(stmt["predicate"])
    store = Keystore(keystore)
    keyid = store.public_identity(lab).signing_key.keyid
    (bundle / layout.STATEMENT).write_bytes(dump_envelope(sign_statement(stmt, store.signing_key(lab), keyid)))


def test_pinned_grader_cards_travel_in_the_bundle_and_are_checked(world: dict, tmp_path: Path):
    """The protocol pins the jailbreak grader's card: no bundle without it, a swapped card fails verification."""
    card, other = tmp_path / "jailbreak.card.json", tmp_path / "other.card.json"
    labels = Path(__file__).parent / "data" / "jailbreak_labelled.jsonl"
    assert run_cli("judge", "validate", "--grader", "jailbreak", str(labels), "--card", str(card)).returncode == 0
    half = tmp_path / "half.jsonl"
    half.write_text("".join(labels.read_text().splitlines(keepends=True)[:10]))
    assert run_cli("judge", "validate", "--grader", "jailbreak", str(half), "--card", str(other)).returncode == 0
    pinned_card = json.loads(card.read_text())
    from crosslab.core.canonical import digest
    protocol = tmp_path / "protocol.yaml"
    spec = yaml.safe_load(world["protocol"].read_text())
    spec["graders"] = [{"id": "jailbreak", "version": pinned_card["grader"]["version"], "card": digest(pinned_card)}]
    protocol.write_text(yaml.safe_dump(spec))
    shutil.copytree(world["all_keys"], tmp_path / "keys")
    for lab in ("lab-a", "lab-b"):
        assert run_cli("protocol", "sign", str(protocol), "--as", lab, env=world["env"]).returncode == 0

    def create(out: Path, *cards: Path):
        args = [a for c in cards for a in ("--card", str(c))]
        return run_cli("bundle", "create", str(world["run"]), "--protocol", str(protocol), "--as", "lab-a",
                       "--evaluated", "lab-b", "--deployment", "b-prod", "--out", str(out), *args, env=world["env"])

    missing = create(tmp_path / "no-card", other)
    assert missing.returncode != 0 and "the protocol pins grader jailbreak 1 by card" in missing.stderr
    assert not (tmp_path / "no-card").exists()
    bundle = tmp_path / "bundle"
    made = create(bundle, card, other)
    assert made.returncode == 0, made.stderr
    verify_bundle(bundle, pinned(world))
    out = tmp_path / "report"
    assert run_cli("report", str(bundle), "--keys", str(world["keys"]), "--out", str(out)).returncode == 0
    [markdown] = out.glob("*.md")
    assert "| jailbreak | 1 | rules | jailbreak_labelled.jsonl" in markdown.read_text()
    assert "| 20 | 0.800 |" in markdown.read_text()

    swapped = Path(shutil.copytree(bundle, tmp_path / "swapped"))
    _resign_statement(swapped, world["keystore"], "lab-a",
                      lambda p: p.update(grader_cards=[json.loads(other.read_text())]))
    with pytest.raises(VerificationError, match="the protocol pins grader jailbreak 1 by card .* does not carry"):
        verify_bundle(swapped, pinned(world))


def test_an_unscored_verdict_is_published_as_format_3_and_counted_in_no_rate(world: dict, tmp_path: Path):
    """A judge reply that did not parse: label "unscored", score null; graded excludes it, and a format 2
    statement cannot carry it (older verifiers would count it as a graded failure)."""
    from crosslab.grading.verdict import Verdict

    run = Path(shutil.copytree(world["run"], tmp_path / "run"))
    journal = Journal.open(run)
    [first, *_] = [r for r in journal.records() if r["tier"] == "public"]
    [grader] = journal.verdicts()[first["sample_id"]]
    unscored = Verdict.unscored(grader, "1+judge.test", {"reason": "no JSON answer object"})
    journal.write_verdicts([(first["sample_id"], grader, unscored.to_dict())])
    journal.close()
    bundle = tmp_path / "bundle"
    made = run_cli("bundle", "create", str(run), "--protocol", str(world["protocol"]), "--as", "lab-a",
                   "--evaluated", "lab-b", "--deployment", "b-prod", "--out", str(bundle), env=world["env"])
    assert made.returncode == 0, made.stderr
    report = verify_bundle(bundle, pinned(world), metric_definitions=DEFINITIONS)
    assert report.format_version == "3.0"
    overall = next(r for r in report.metrics["rows"] if r["category"] == "all")
    assert (overall["samples"], overall["graded"]) == (12, 11)
    stubs = [json.loads(line) for line in (bundle / layout.ITEMS).read_text().splitlines()]
    assert [(s["label"], s["score"]) for s in stubs if s["label"] == "unscored"] == [("unscored", None)]

    _resign_statement(bundle, world["keystore"], "lab-a", lambda p: p.update(format_version="2.0"))
    with pytest.raises(VerificationError, match="items.jsonl: an unscored stub .* in a format 2.0 bundle"):
        verify_bundle(bundle, pinned(world), metric_definitions=DEFINITIONS)
