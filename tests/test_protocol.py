"""Protocol: id, every participant signs the exact bytes, pins checked, tampering caught."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from conftest import run_cli

from crosslab.protocol.schema import ProtocolError, load_protocol
from crosslab.suites.registry import get_suite


@pytest.fixture
def labs(tmp_path: Path) -> dict:
    """Two labs with fresh keys, their identity files beside a protocol both can sign."""
    keystore = tmp_path / "keys"
    env = {"CROSSLAB_KEYSTORE": str(keystore)}
    for lab, name in (("lab-a", "Lab A"), ("lab-b", "Lab B"), ("lab-c", "Lab C")):
        result = run_cli("keys", "new", lab, "--name", name, "--out", str(tmp_path), env=env)
        assert result.returncode == 0, result.stderr
    protocol = {
        "title": "A and B evaluate each other",
        "participants": [
            {"identity": "lab-a.identity.json", "deployments": [{"name": "a-prod", "target": {
                "provider": "local", "model": "smollm2"}}]},
            {"identity": "lab-b.identity.json", "deployments": [{"name": "b-prod", "target": {
                "provider": "local", "model": "smollm2", "system_prefix": "Be safe."}}]},
        ],
        "suites": [{"name": "smoke", "digest": get_suite("smoke").content_digest(), "epochs": 1,
                    "graders": {"includes": "1"}}],
        "round": {"number": 1, "date": "2026-11-24"},
    }
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(protocol))
    return {"env": env, "path": path, "data": protocol, "dir": tmp_path}


def cli(labs: dict, *args: str):
    return run_cli(*args, env=labs["env"])


def signed_before_the_suite_changed(labs: dict) -> None:
    """Both signatures through the library: a protocol signed when its pins still matched (the CLI now
    refuses to sign one that does not), so the later refusals can be tested."""
    from crosslab.identity.keystore import Keystore
    from crosslab.protocol.schema import load_protocol
    from crosslab.protocol.signing import envelope_path, sign_protocol, write_envelope

    store, protocol, envelope = Keystore(Path(labs["env"]["CROSSLAB_KEYSTORE"])), load_protocol(labs["path"]), None
    for lab in ("lab-a", "lab-b"):
        envelope = sign_protocol(protocol, lab, store.signing_key(lab), envelope)
    write_envelope(envelope_path(labs["path"]), envelope)


def test_id_is_stable_and_covers_keys_and_settings(labs: dict):
    path = labs["path"]
    first = cli(labs, "protocol", "id", str(path))
    assert first.returncode == 0 and len(first.stdout.strip()) == 64
    assert load_protocol(path).id == first.stdout.strip()
    # the id commits to the embedded identity, not to the file name
    protocol = load_protocol(path)
    assert protocol.participants[0].identity.lab == "lab-a"
    changed = dict(labs["data"], sampling={"temperature": 0.5})
    path.write_text(yaml.safe_dump(changed))
    assert load_protocol(path).id != first.stdout.strip()


def test_every_participant_must_sign_the_exact_protocol(labs: dict):
    path = labs["path"]
    not_yet = cli(labs, "protocol", "verify", str(path))
    assert not_yet.returncode == 1 and "no signatures" in not_yet.stderr
    a = cli(labs, "protocol", "sign", str(path), "--as", "lab-a")
    assert a.returncode == 0, a.stderr
    assert "still missing: lab-b" in a.stdout
    half = cli(labs, "protocol", "verify", str(path))
    assert half.returncode == 1 and "not signed by: lab-b" in half.stderr
    b = cli(labs, "protocol", "sign", str(path), "--as", "lab-b")
    assert b.returncode == 0 and "fully signed" in b.stdout
    ok = cli(labs, "protocol", "verify", str(path))
    assert ok.returncode == 0, ok.stderr
    assert "signed by lab-a, lab-b" in ok.stdout and "pins match" in ok.stdout
    envelope = json.loads(path.with_suffix(".dsse.json").read_text())
    assert envelope["payloadType"] == "application/vnd.crosslab.protocol+json"
    assert len(envelope["signatures"]) == 2

    # any change after signing breaks every signature
    path.write_text(yaml.safe_dump(dict(labs["data"], title="A and B, revised")))
    changed = cli(labs, "protocol", "verify", str(path))
    assert changed.returncode == 1 and "changed after signing" in changed.stderr


def test_outsiders_and_wrong_keys_cannot_sign(labs: dict, tmp_path: Path):
    path = labs["path"]
    outsider = cli(labs, "protocol", "sign", str(path), "--as", "lab-c")
    assert outsider.returncode == 2 and "not a participant" in outsider.stderr
    # lab-c's key placed where lab-a's should be: refused before anything is written
    keystore = Path(labs["env"]["CROSSLAB_KEYSTORE"])
    (keystore / "lab-a" / "signing_key.pem").write_bytes((keystore / "lab-c" / "signing_key.pem").read_bytes())
    os.chmod(keystore / "lab-a" / "signing_key.pem", 0o600)
    wrong = cli(labs, "protocol", "sign", str(path), "--as", "lab-a")
    assert wrong.returncode != 0
    assert not path.with_suffix(".dsse.json").exists()


def test_forged_signature_is_rejected(labs: dict):
    path = labs["path"]
    assert cli(labs, "protocol", "sign", str(path), "--as", "lab-a").returncode == 0
    assert cli(labs, "protocol", "sign", str(path), "--as", "lab-b").returncode == 0
    env_path = path.with_suffix(".dsse.json")
    envelope = json.loads(env_path.read_text())
    # lab-b's signature slot replaced by lab-a's signature: keyid says lab-b, the key doesn't match
    envelope["signatures"][1]["sig"] = envelope["signatures"][0]["sig"]
    env_path.write_text(json.dumps(envelope))
    forged = cli(labs, "protocol", "verify", str(path))
    assert forged.returncode == 1 and "does not verify" in forged.stderr


def test_pins_must_match_the_installed_suites(labs: dict):
    data = dict(labs["data"])
    data["suites"] = [dict(data["suites"][0], digest="0" * 64)]
    labs["path"].write_text(yaml.safe_dump(data))
    refused = cli(labs, "protocol", "sign", str(labs["path"]), "--as", "lab-a")
    assert refused.returncode == 2 and "refusing to sign: suite smoke: protocol pins 0000000000000000" in refused.stderr
    signed_before_the_suite_changed(labs)
    result = cli(labs, "protocol", "verify", str(labs["path"]))
    assert result.returncode == 1 and "suite smoke: protocol pins 0000000000000000" in result.stderr


@pytest.mark.parametrize("graders, message", [
    ({"includes": "2"}, "suite smoke: protocol pins grader includes version '2', installed is '1'"),
    ({"includes": "1", "jailbreak_refusal": "1"},
     "suite smoke: protocol pins grader jailbreak_refusal version '1', the installed suite has no grader "
     "jailbreak_refusal (it has: includes 1)"),
])
def test_pinned_grader_versions_must_match_the_installed_graders(labs: dict, graders: dict, message: str):
    data = dict(labs["data"])
    data["suites"] = [dict(data["suites"][0], graders=graders)]
    labs["path"].write_text(yaml.safe_dump(data))
    refused = cli(labs, "protocol", "sign", str(labs["path"]), "--as", "lab-a")
    assert refused.returncode == 2 and message in " ".join(refused.stderr.split())
    signed_before_the_suite_changed(labs)
    result = cli(labs, "protocol", "verify", str(labs["path"]))
    assert result.returncode == 1 and message in " ".join(result.stderr.split())
    run = cli(labs, "round", "run", str(labs["path"]), "--as", "lab-a", "--out", str(labs["dir"] / "r"))
    assert run.returncode == 2 and "pinned suites differ" in run.stderr and "grader" in run.stderr
    assert not (labs["dir"] / "r").exists()


def test_grader_pins_are_optional_and_checked_per_grader():
    from crosslab.protocol.schema import SuitePin
    from crosslab.suites.pins import grader_mismatches

    digest = get_suite("jailbreak").content_digest()
    assert grader_mismatches(SuitePin(name="jailbreak", digest=digest)) == []  # 0.1.0 protocols: graders {}
    assert grader_mismatches(SuitePin(name="jailbreak", digest=digest,
                                      graders={"jailbreak_refusal": "2+refusal.2+jailbreak.1"})) == []
    [problem] = grader_mismatches(SuitePin(name="jailbreak", digest=digest, graders={"jailbreak_refusal": "1"}))
    assert "grader jailbreak_refusal version '1', installed is '2+refusal.2+jailbreak.1'" in problem


def test_every_suite_declares_the_version_its_verdicts_carry():
    """Suite.grader_versions covers every grading type the suite's items use, at the version the grader writes."""
    from crosslab.grading.verdict import Verdict
    from crosslab.run.grade import graders
    from crosslab.suites.registry import discover

    table = graders()
    for suite in discover().values():
        kinds = {i.grading["type"] for i in suite.items() if i.grading.get("type")}
        assert kinds <= set(suite.grader_versions), suite.name
        assert set(suite.grader_versions) <= set(table), suite.name
    # what the graders actually write, on a trivial answer
    smoke = get_suite("smoke").items()[0]
    jailbreak = get_suite("jailbreak").items()[0]
    record = {"messages": [*smoke.messages, {"role": "assistant", "content": "Paris. I can't help with that."}]}
    for suite_name, item in (("smoke", smoke), ("jailbreak", jailbreak)):
        verdict = table[item.grading["type"]](item, record)
        assert isinstance(verdict, Verdict)
        assert get_suite(suite_name).grader_versions[item.grading["type"]] == verdict.version


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["participants"].pop(), "participants"),
    (lambda d: d["participants"][1].update(identity="missing.identity.json"), "participants.1.identity"),
    (lambda d: d.update(disclosure={"public": ["restricted"]}), "restricted items cannot be public"),
    (lambda d: d["suites"][0].update(digest="abc"), "suites.0.digest"),
    (lambda d: d.update(colour="red"), "colour"),
])
def test_bad_protocols_are_refused_with_the_place(labs: dict, edit, message: str):
    data = json.loads(json.dumps(labs["data"]))
    edit(data)
    labs["path"].write_text(yaml.safe_dump(data))
    with pytest.raises(ProtocolError, match=message):
        load_protocol(labs["path"])
    result = cli(labs, "protocol", "id", str(labs["path"]))
    assert result.returncode == 2 and "\n" not in result.stderr.strip()


def test_protocol_identities_are_the_identity_file_type_and_checked_as_strictly(labs: dict):
    """One public-identity type: a protocol embeds PublicIdentity, so a tampered embedded identity is refused."""
    from pydantic import ValidationError

    from crosslab.identity.keys import PublicIdentity, load_identity
    from crosslab.protocol.schema import Protocol

    protocol = load_protocol(labs["path"])
    embedded = protocol.participants[0].identity
    assert type(embedded) is PublicIdentity
    on_disk = load_identity(labs["dir"] / "lab-a.identity.json")
    assert embedded == on_disk and embedded.canonical() == on_disk.canonical()
    data = protocol.model_dump(mode="json")
    assert Protocol.model_validate(data).canonical() == protocol.canonical()
    data["participants"][0]["identity"]["name"] = "Evil Corp"  # the fingerprint no longer matches
    with pytest.raises(ValidationError, match="fingerprint mismatch"):
        Protocol.model_validate(data)


def test_a_judge_is_optional_in_the_protocol_and_runs_at_temperature_zero(labs: dict):
    from crosslab.protocol.rounds import agreed_judge

    path = labs["path"]
    without = load_protocol(path)
    assert without.judge is None and agreed_judge(without) is None
    assert "judge" not in json.loads(without.canonical())  # absent: earlier protocols keep their ids
    judged = dict(labs["data"], judge={"target": {"provider": "openai", "model": "judge-model",
                                                  "base_url": "http://127.0.0.1:8080/v1"}, "mode": "judge_when_unsure"})
    path.write_text(yaml.safe_dump(judged))
    protocol = load_protocol(path)
    assert protocol.id != without.id and json.loads(protocol.canonical())["judge"]["mode"] == "judge_when_unsure"
    deployment = agreed_judge(protocol)
    assert (deployment.provider, deployment.model, deployment.temperature) == ("openai", "judge-model", 0.0)
    hot = dict(judged, judge={"target": {"provider": "openai", "model": "j", "temperature": 0.7}})
    path.write_text(yaml.safe_dump(hot))
    with pytest.raises(ProtocolError, match="judge must run at temperature 0"):
        agreed_judge(load_protocol(path))
    path.write_text(yaml.safe_dump(dict(judged, judge={"target": {}, "mode": "sometimes"})))
    with pytest.raises(ProtocolError, match="judge"):
        load_protocol(path)
