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
    for lab in ("lab-a", "lab-b"):
        assert cli(labs, "protocol", "sign", str(labs["path"]), "--as", lab).returncode == 0
    result = cli(labs, "protocol", "verify", str(labs["path"]))
    assert result.returncode == 1 and "suite smoke: protocol pins 0000000000000000" in result.stderr


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
