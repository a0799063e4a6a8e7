"""A protocol that pins an adaptive attack: its id, `round run` in each direction, the bundle and the leak scan."""

from __future__ import annotations

import base64
import hashlib
import shutil
from pathlib import Path

import orjson
import pytest
import yaml
from conftest import run_cli
from support.release_bundles import BUNDLES, FIXTURES, TRUSTED, borealis_age, pinned

from crosslab.attacks import ASR_MEANING, BehaviourResult
from crosslab.bundle import layout
from crosslab.bundle.attack_block import elicitation_texts
from crosslab.bundle.installed import installed_contents, installed_definitions
from crosslab.bundle.verify import verify_bundle
from crosslab.disclosure.commitments import check_disclosure
from crosslab.disclosure.encryption import decrypt_with
from crosslab.disclosure.leakscan import Sensitive, scan_files
from crosslab.identity.keys import load_identity
from crosslab.identity.keystore import Keystore
from crosslab.protocol.schema import Protocol, load_protocol
from crosslab.report.output import LeakError, attack_texts, check_public
from crosslab.protocol.signing import sign_protocol, verify_protocol
from crosslab.attest.errors import VerificationError
from crosslab.suites.pins import pin_digest

SUBSET = 6  # 3 harmful behaviours of the jailbreak suite
ATTACK = {"attack": "pair", "params": {"streams": 2, "iterations": 3}, "budget": {"target": 6, "attacker": 6,
                                                                                  "judge": 12},
          "seed": 1, "attacker": {"provider": "baseline", "model": "token-explorer"},
          "judge": {"provider": "baseline", "model": "attack-judge"}}


def test_an_existing_protocol_keeps_its_id_and_signatures_and_an_attack_changes_the_id():
    raw = (FIXTURES / BUNDLES[0] / layout.PROTOCOL).read_bytes()
    protocol = Protocol.model_validate(orjson.loads(raw))
    assert protocol.attack is None
    assert protocol.canonical() == raw and protocol.id == hashlib.sha256(raw).hexdigest()
    envelope = orjson.loads((FIXTURES / BUNDLES[0] / layout.PROTOCOL_SIGNATURES).read_bytes())
    verify_protocol(protocol, envelope)  # raises if the signatures no longer match
    with_attack = Protocol.model_validate({**orjson.loads(raw), "attack": ATTACK})
    assert b'"attack":{"attack":"pair"' in with_attack.canonical() and with_attack.id != protocol.id
    seeded = Protocol.model_validate({**orjson.loads(raw), "attack": {**ATTACK, "seed": 2}})
    assert seeded.id not in (protocol.id, with_attack.id)  # every pinned field is part of the id
    with pytest.raises(VerificationError):
        verify_protocol(with_attack, envelope)


def write_protocol(root: Path, attack: dict) -> Path:
    path = root / "protocol.yaml"
    targets = {"lab-a": "refuse-all", "lab-b": "token-guard"}
    path.write_text(yaml.safe_dump({
        "title": "Attack round",
        "participants": [{"identity": f"keys/{lab}.identity.json", "deployments": [
            {"name": f"{lab[-1]}-prod", "target": {"provider": "baseline", "model": targets[lab]}}]}
            for lab in ("lab-a", "lab-b")],
        "suites": [{"name": "jailbreak", "digest": pin_digest("jailbreak", SUBSET), "subset": SUBSET}],
        "round": {"number": 1, "date": "2026-12-03"},
        "attack": attack,
    }))
    return path


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("attack-round")
    env = {"CROSSLAB_KEYSTORE": str(root / "keystore")}
    for lab in ("lab-a", "lab-b"):
        assert run_cli("keys", "new", lab, "--name", lab.upper(), "--out", str(root / "keys"), env=env).returncode == 0
    return {"root": root, "env": env}


def signed_round(keys: dict, tmp: Path, attack: dict) -> Path:
    shutil.copytree(keys["root"] / "keys", tmp / "keys")
    path = write_protocol(tmp, attack)
    for lab in ("lab-a", "lab-b"):
        result = run_cli("protocol", "sign", str(path), "--as", lab, env=keys["env"])
        assert result.returncode == 0, result.stderr
    return path


def predicate(bundle: Path) -> dict:
    return orjson.loads(base64.b64decode(orjson.loads((bundle / layout.STATEMENT).read_bytes())["payload"]))[
        "predicate"]


def test_round_runs_the_pinned_attack_and_the_bundle_carries_counts_and_sealed_elicitations(keys: dict,
                                                                                          tmp_path: Path):
    protocol = signed_round(keys, tmp_path, ATTACK)
    out = tmp_path / "round"
    result = run_cli("round", "run", str(protocol), "--as", "lab-a", "--out", str(out), "--no-cache", "--quiet",
                     env=keys["env"])
    assert result.returncode == 0, result.stderr
    bundle = out / "lab-a-on-lab-b-b-prod" / "bundle"
    lab_b_age = (keys["root"] / "keystore" / "lab-b")
    identity = next(p for p in lab_b_age.rglob("*age*") if p.is_file()).read_text().strip().splitlines()[-1]
    trusted = {lab: load_identity(keys["root"] / "keys" / f"{lab}.identity.json") for lab in ("lab-a", "lab-b")}
    report = verify_bundle(bundle, trusted, partner_identity=identity, metric_definitions=installed_definitions(),
                           pinned_contents=installed_contents)
    assert report.format_version == "2.1" and report.stubs == SUBSET
    assert report.attack_elicitations_opened == 3  # every row's sealed result opened its commitment
    block = predicate(bundle)["attack"]
    assert block["spec"]["params"] == {"streams": 2, "iterations": 3, "success_threshold": 10, "keep_last": 4}
    assert block["budget"] == {"target": 6, "attacker": 6, "judge": 12} and block["suite"] == "jailbreak"
    assert len(block["results"]) == 3 and block["summary"]["behaviours"] == 3
    assert block["summary"]["successes"] == sum(r["success"] for r in block["results"])
    assert all(r["queries"]["target"] <= 6 for r in block["results"])
    assert set(block["summary"]["by_harm"]) == {r["harm"] for r in block["results"]}
    assert block["elicitations"]["tier"] == "restricted"
    # the sealed elicitations open the row commitments; the winning prompts are nowhere in public files
    lines = decrypt_with(identity, base64.b64decode(block["elicitations"]["age_b64"])).splitlines()
    results = []
    for line in lines:
        entry = orjson.loads(line)
        value = check_disclosure(entry["d"], block["results"][entry["i"]]["c"])
        results.append(BehaviourResult.from_dict(value))
    assert [r.success for r in results] == [r["success"] for r in block["results"]] and any(r.winning for r in results)
    texts = elicitation_texts(results)
    assert texts
    public = {name: (bundle / name).read_bytes() for name in (layout.ITEMS, layout.PUBLIC, layout.STATEMENT)}
    assert not any(t.encode() in data for t in texts for data in public.values())
    assert (out / "lab-a-on-lab-b-b-prod" / "adaptive" / "attack.json").is_file()
    assert (bundle.with_name("bundle.private") / "attack.jsonl").stat().st_mode & 0o077 == 0
    # the public report: static and adaptive results apart, each with its budget, and the one-sentence meaning
    trusted_dir = tmp_path / "trusted"
    trusted_dir.mkdir()
    for lab in ("lab-a", "lab-b"):
        shutil.copy(keys["root"] / "keys" / f"{lab}.identity.json", trusted_dir)
    made = run_cli("report", str(bundle), "--keys", str(trusted_dir), "--out", str(tmp_path / "reports"),
                   env=keys["env"])
    assert made.returncode == 0, made.stderr
    md = (tmp_path / "reports" / "public-report.md").read_text()
    assert "### jailbreak: static transforms and adaptive attack" in md
    assert f"each item sent once per epoch ({SUBSET} items × 1 epochs), a budget of one target query" in md
    assert "budget per behaviour: attacker 6, judge 12, target 6 queries" in md and ASR_MEANING in md
    html = (tmp_path / "reports" / "public-report.html").read_text()
    assert "static transforms and adaptive attack" in html and ASR_MEANING in html
    data = orjson.loads((tmp_path / "reports" / "public-report.json").read_bytes())
    adaptive = data["bundles"][0]["adaptive_attack"]
    assert adaptive["successes"] == block["summary"]["successes"] and adaptive["elicitations"] == "restricted"
    assert not any(t in md or t in html for t in texts)
    # a planted winning prompt in a public report is caught, from the evaluator's private copy beside the bundle
    assert sorted(attack_texts(bundle)) == sorted(texts)
    planted = {"public-report.md": md.replace("## How to verify", f"{max(texts, key=len)}\n\n## How to verify").encode()}
    with pytest.raises(LeakError, match="adaptive attack elicitation"):
        check_public(planted, extra_texts=attack_texts(bundle))
    check_public({"public-report.md": md.encode()}, extra_texts=attack_texts(bundle))
    sensitive = Sensitive.from_items([]).with_texts("attack", texts)
    longest = max(texts, key=len)
    hits = scan_files({"report.md": f"# Report\n\nThe attack used: {longest}\n".encode()}, sensitive)
    assert hits and hits[0].kind == "restricted text"
    assert not scan_files({"report.md": b"# Report\n\nASR at budget 1/3.\n"}, sensitive)


def test_withheld_elicitations_are_committed_but_never_sealed(keys: dict, tmp_path: Path):
    protocol = signed_round(keys, tmp_path, {**ATTACK, "elicitations": "withheld"})
    out = tmp_path / "round"
    result = run_cli("round", "run", str(protocol), "--as", "lab-b", "--out", str(out), "--no-cache", "--quiet",
                     env=keys["env"])
    assert result.returncode == 0, result.stderr
    block = predicate(out / "lab-b-on-lab-a-a-prod" / "bundle")["attack"]
    assert block["elicitations"] == {"tier": "withheld"}
    assert all(len(r["c"]) == 64 for r in block["results"]) and block["summary"]["successes"] == 0  # refuse-all


@pytest.mark.parametrize(("change", "message"), [
    ({"params": {"streems": 2}}, "pair: unknown parameters ['streems']"),
    ({"budget": {"target": 0}}, "budget: target must be a positive integer"),
    ({"suite": "smoke"}, "runs on suite 'smoke', which the protocol does not pin"),
])
def test_a_bad_pinned_attack_refuses_to_sign_and_to_run_in_one_line(keys: dict, tmp_path: Path, change: dict,
                                                                    message: str):
    shutil.copytree(keys["root"] / "keys", tmp_path / "keys")
    protocol = write_protocol(tmp_path, {**ATTACK, **change})
    refused = run_cli("protocol", "sign", str(protocol), "--as", "lab-a", env=keys["env"])
    assert refused.returncode == 2 and "refusing to sign" in refused.stderr and message in refused.stderr
    assert not protocol.with_suffix(".dsse.json").exists()
    loaded, envelope = load_protocol(protocol), None  # signed anyway, through the library: run still refuses
    for lab in ("lab-a", "lab-b"):
        envelope = sign_protocol(loaded, lab, Keystore(keys["root"] / "keystore").signing_key(lab), envelope)
    protocol.with_suffix(".dsse.json").write_bytes(orjson.dumps(envelope))
    result = run_cli("round", "run", str(protocol), "--as", "lab-a", "--out", str(tmp_path / "r"), "--quiet",
                     env=keys["env"])
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists()


def test_an_unknown_attack_name_is_a_protocol_error(keys: dict, tmp_path: Path):
    shutil.copytree(keys["root"] / "keys", tmp_path / "keys")
    with pytest.raises(ValueError, match="attack.attack"):
        load_protocol(write_protocol(tmp_path, {**ATTACK, "attack": "gcg"}))


def test_old_bundles_still_verify_unchanged():
    result = verify_bundle(FIXTURES / BUNDLES[0], pinned(), partner_identity=borealis_age())
    assert result.format_version == "1.0" and result.stubs == 58 and TRUSTED.is_dir()


@pytest.fixture(scope="module")
def attack_bundle(keys: dict, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("attack-bundle")
    protocol = signed_round(keys, tmp, ATTACK)
    result = run_cli("round", "run", str(protocol), "--as", "lab-a", "--out", str(tmp / "round"), "--no-cache",
                     "--quiet", env=keys["env"])
    assert result.returncode == 0, result.stderr
    return tmp / "round" / "lab-a-on-lab-b-b-prod" / "bundle"


def resigned_by_evaluator(keys: dict, bundle: Path, tmp: Path, edit) -> Path:
    """A copy of the bundle whose statement its evaluator (lab-a) edited and signed again: what a cheat can do."""
    from crosslab.attest.dsse import dump_envelope
    from crosslab.attest.intoto import sign_statement
    from crosslab.identity.keystore import Keystore

    copy = tmp / "cheat"
    shutil.copytree(bundle, copy)
    (copy / layout.RESPONSE).unlink(missing_ok=True)
    stmt = orjson.loads(base64.b64decode(orjson.loads((copy / layout.STATEMENT).read_bytes())["payload"]))
    edit(stmt["predicate"])
    key = Keystore(keys["root"] / "keystore").signing_key("lab-a")
    keyid = load_identity(keys["root"] / "keys" / "lab-a.identity.json").signing_key.keyid
    (copy / layout.STATEMENT).write_bytes(dump_envelope(sign_statement(stmt, key, keyid)))
    return copy


def _set(path: str, value):
    def edit(pred: dict) -> None:
        *parents, last = path.split(".")
        node = pred["attack"]
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value(node[last]) if callable(value) else value
    return edit


DELETE = object()


def test_an_honest_attack_block_verifies_and_its_summary_is_recomputed(keys: dict, attack_bundle: Path):
    trusted = {lab: load_identity(keys["root"] / "keys" / f"{lab}.identity.json") for lab in ("lab-a", "lab-b")}
    report = verify_bundle(attack_bundle, trusted)
    assert report.attack == predicate(attack_bundle)["attack"]["summary"] and report.attack["behaviours"] == 3


@pytest.mark.parametrize(("edit", "message"), [
    (_set("summary.successes", lambda v: v + 1), "summary successes is not what the rows give"),
    (_set("summary.asr_at_budget", lambda v: {**v, "estimate": 0.0}), "summary asr_at_budget is not what the rows give"),
    (_set("results.0.success", lambda v: not v), "summary"),  # rows changed under the summary
    (_set("results.0.queries", {"target": -1, "attacker": 0, "judge": 0}), "row 0: queries must be"),
    (_set("results.0.harm", None), "row 0: status, success or harm has the wrong type"),
    (_set("spec.seed", 2), "spec seed is 2, the protocol pins 1"),
    (_set("spec.budget", lambda v: {**v, "target": 60}), "spec budget.target is 60, the protocol pins 6"),
    (_set("spec.params", lambda v: {**v, "keep_last": 9}), "spec_digest is not the digest of the spec"),
    (_set("suite", "smoke"), "suite 'smoke', the protocol pins 'jailbreak'"),
    (_set("elicitations", {"tier": "public"}), "elicitations tier 'public', the protocol pins 'restricted'"),
    (_set("roles.target.digest", "0" * 64), "the attacked target is not the evaluated deployment"),
    (_set("roles.attacker.digest", "0" * 64), "the attacker is not the protocol's"),
    (_set("roles.judge", DELETE), "the judge is not the protocol's"),
])
def test_an_evaluator_who_resigns_a_doctored_attack_block_is_caught(keys: dict, attack_bundle: Path, tmp_path: Path,
                                                                    edit, message: str):
    cheat = resigned_by_evaluator(keys, attack_bundle, tmp_path, edit)
    trusted = {lab: load_identity(keys["root"] / "keys" / f"{lab}.identity.json") for lab in ("lab-a", "lab-b")}
    with pytest.raises(VerificationError, match="attack block: .*" + message.replace("(", r"\(").replace(")", r"\)")):
        verify_bundle(cheat, trusted)


def test_an_attack_block_dropped_or_added_against_the_protocol_is_caught(keys: dict, attack_bundle: Path,
                                                                       tmp_path: Path):
    trusted = {lab: load_identity(keys["root"] / "keys" / f"{lab}.identity.json") for lab in ("lab-a", "lab-b")}
    cheat = resigned_by_evaluator(keys, attack_bundle, tmp_path, lambda pred: pred.pop("attack"))
    with pytest.raises(VerificationError, match="attack block: missing, but the protocol pins an adaptive attack"):
        verify_bundle(cheat, trusted)
    result = run_cli("verify", str(cheat), "--keys", str(keys["root"] / "keys"))
    assert result.returncode != 0 and "attack block: missing" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_sealed_elicitations_that_do_not_open_their_rows_are_caught_by_a_partner(keys: dict, attack_bundle: Path,
                                                                                 tmp_path: Path):
    """The evaluator re-seals the elicitations with two rows' results swapped: the counts still add up,
    so only a partner who opens the sealed results can see it."""
    from crosslab.disclosure.encryption import encrypt_to

    trusted = {lab: load_identity(keys["root"] / "keys" / f"{lab}.identity.json") for lab in ("lab-a", "lab-b")}
    lab_b = Keystore(keys["root"] / "keystore").age_identity("lab-b")

    def swap(pred: dict) -> None:
        sealed = pred["attack"]["elicitations"]
        lines = [orjson.loads(line) for line in decrypt_with(lab_b, base64.b64decode(sealed["age_b64"])).splitlines()]
        lines[0]["i"], lines[1]["i"] = lines[1]["i"], lines[0]["i"]
        plain = b"".join(orjson.dumps(line, option=orjson.OPT_SORT_KEYS) + b"\n" for line in lines)
        recipients = [trusted[lab].age_recipient for lab in ("lab-a", "lab-b")]
        sealed["age_b64"] = base64.b64encode(encrypt_to(recipients, plain)).decode()

    cheat = resigned_by_evaluator(keys, attack_bundle, tmp_path, swap)
    assert verify_bundle(cheat, trusted).attack["behaviours"] == 3  # a third party cannot open them
    with pytest.raises(VerificationError, match=r"attack elicitations:1: row \d: disclosure does not match"):
        verify_bundle(cheat, trusted, partner_identity=lab_b)
