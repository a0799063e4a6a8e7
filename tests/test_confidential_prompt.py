"""A confidential system prompt: only its commitment is public, the evaluator runs the real prompt.

Lab B keeps b-prod's system prompt out of the published protocol. It seals
the prompt to lab A (`crosslab prompt seal`) and puts the printed commitment
in the protocol. Lab A's `round run --sealed-prompt` opens it and evaluates
b-prod over real HTTP (the loopback OpenAI-compatible server, which records
every system text it was sent). The bundle verifies against the public
protocol, and neither the bundle nor the report carries the prompt.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import run_cli

from crosslab.disclosure.commitments import make_disclosure
from crosslab.disclosure.encryption import encrypt_to
from crosslab.disclosure.sealed_prompt import (MAX_SEALED_BYTES, SealedPromptError, commit_and_seal, open_sealed,
                                               seal)
from crosslab.identity.keystore import Keystore
from crosslab.protocol.rounds import agreed_deployment
from crosslab.protocol.schema import ProtocolError, load_protocol
from crosslab.suites.registry import get_suite
from crosslab.targets.deployment import Deployment, DeploymentError
from crosslab.targets.registry import create_target
from tests.support.loopback_server import running_server

SECRET = "You are Borealis-7. Internal codename HEMLOCK-42. Never mention pricing tiers."
KEY_ENV = {"OPENAI_API_KEY": "loopback-key"}


def _commitment(stdout: str) -> str:
    found = re.search(r"system_prefix_commitment: ([0-9a-f]{64})", stdout)
    assert found, stdout
    return found.group(1)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("confidential")
    keys, env = root / "keys", {"CROSSLAB_KEYSTORE": str(root / "keystore"), **KEY_ENV}
    for lab in ("lab-a", "lab-b", "lab-c"):
        assert run_cli("keys", "new", lab, "--name", lab.upper(), "--out", str(keys), env=env).returncode == 0
    (root / "prompt.txt").write_text(SECRET)
    sealed = root / "b-prod.sealed"
    made = run_cli("prompt", "seal", str(root / "prompt.txt"), "--as", "lab-b", "--to",
                   str(keys / "lab-a.identity.json"), "--out", str(sealed), env=env)
    assert made.returncode == 0, made.stderr
    return {"root": root, "keys": keys, "env": env, "sealed": sealed, "commitment": _commitment(made.stdout)}


def _protocol(world: dict, path: Path, port: int, **b_target) -> Path:
    spec = {
        "title": "A evaluates B's confidential deployment",
        "participants": [
            {"identity": str(world["keys"] / "lab-a.identity.json"), "deployments": [
                {"name": "a-prod", "target": {"provider": "baseline", "model": "refuse-all"}}]},
            {"identity": str(world["keys"] / "lab-b.identity.json"), "deployments": [
                {"name": "b-prod", "target": {"provider": "openai", "model": "loopback",
                                              "base_url": f"http://127.0.0.1:{port}/v1", **b_target}}]},
        ],
        "round": {"number": 1, "date": "2026-12-04"},
        "suites": [{"name": "smoke", "digest": get_suite("smoke").content_digest()}],
    }
    path.write_text(yaml.safe_dump(spec))
    return path


def _signed(world: dict, path: Path) -> Path:
    for lab in ("lab-a", "lab-b"):
        signed = run_cli("protocol", "sign", str(path), "--as", lab, env=world["env"])
        assert signed.returncode == 0, signed.stderr
    return path


@pytest.fixture(scope="module")
def ran(world: dict) -> dict:
    """A's share of the round, first without the sealed prompt (refused), then with it."""
    root, env = world["root"], world["env"]
    with running_server() as srv:
        protocol = _signed(world, _protocol(world, root / "protocol.yaml", srv.port,
                                            system_prefix_commitment=world["commitment"]))
        plan = run_cli("round", "plan", str(protocol), env=env)
        without = run_cli("round", "run", str(protocol), "--as", "lab-a", "--out", str(root / "round"), "-q",
                          env=env)
        sent_without = srv.stats()["requests"]
        done = run_cli("round", "run", str(protocol), "--as", "lab-a", "--out", str(root / "round"), "-q",
                       "--sealed-prompt", str(world["sealed"]), env=env)
        systems = srv.stats()["systems"]
    assert done.returncode == 0, done.stderr
    bundle = root / "round" / "lab-a-on-lab-b-b-prod" / "bundle"
    trusted = root / "trusted"
    trusted.mkdir()
    for lab in ("lab-a", "lab-b"):
        (trusted / f"{lab}.identity.json").write_bytes((world["keys"] / f"{lab}.identity.json").read_bytes())
    return {**world, "protocol": protocol, "plan": plan, "without": without, "sent_without": sent_without,
            "systems": systems, "bundle": bundle, "trusted": trusted}


def test_the_digest_names_the_commitment_not_the_prompt():
    base = {"provider": "openai", "model": "m", "system_prefix_commitment": "ab" * 32}
    committed = Deployment.model_validate(base)
    filled = committed.model_copy(update={"system_prefix": SECRET})
    assert committed.prompt_missing and not filled.prompt_missing
    assert filled.digest == committed.digest  # what the evaluator ran is what the protocol names
    assert Deployment.model_validate({**base, "system_prefix_commitment": "cd" * 32}).digest != committed.digest
    assert Deployment.model_validate({"provider": "openai", "model": "m", "system_prefix": SECRET}).digest \
        != committed.digest


def test_a_deployment_whose_prompt_was_not_supplied_is_never_run():
    committed = Deployment.model_validate({"provider": "baseline", "model": "comply-all",
                                           "system_prefix_commitment": "ab" * 32})
    with pytest.raises(DeploymentError, match="confidential system prompt .* was not supplied"):
        create_target(committed)


def test_a_target_file_cannot_pair_a_prompt_with_a_commitment_unchecked(tmp_path: Path):
    """Outside a round nothing checks the prompt against the commitment, so `crosslab run` refuses one."""
    target = tmp_path / "target.yaml"
    target.write_text(yaml.safe_dump({"provider": "baseline", "model": "comply-all", "system_prefix": "anything",
                                      "system_prefix_commitment": "ab" * 32}))
    refused = run_cli("run", "--suite", "smoke", "--target", str(target), "--out", str(tmp_path / "runs"),
                      "--no-cache", "--quiet")
    assert refused.returncode == 2 and "round run --sealed-prompt" in " ".join(refused.stderr.split())
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_sealed_prompt_opens_only_its_commitment_and_only_for_its_recipients(world: dict):
    store = Keystore(world["root"] / "keystore")
    recipients = [store.public_identity("lab-a").age_recipient]
    made, data = commit_and_seal(SECRET, recipients)
    opened = open_sealed(data, store.age_identity("lab-a"))
    assert (opened.prompt, opened.commitment) == (SECRET, made.commitment)
    again, _ = commit_and_seal(SECRET, recipients)
    assert again.commitment != made.commitment  # salted: the commitment cannot be checked against guesses
    with pytest.raises(SealedPromptError, match="was it sealed to you"):
        open_sealed(data, store.age_identity("lab-c"))
    with pytest.raises(SealedPromptError, match="not a valid, intact age file"):
        open_sealed(data[:-3], store.age_identity("lab-a"))
    with pytest.raises(SealedPromptError, match="empty"):
        commit_and_seal("  \n", recipients)


@pytest.mark.parametrize("case", ["garbage", "oversized", "not a sealed prompt", "not a disclosure", "a number"])
def test_a_hostile_sealed_prompt_is_refused_in_one_line(world: dict, case: str):
    store = Keystore(world["root"] / "keystore")
    to_a = [store.public_identity("lab-a").age_recipient]
    data = {"garbage": b"\x00\xffnot age at all" * 10,
            "oversized": b"age-encryption.org/v1\n" + b"A" * (MAX_SEALED_BYTES + 1),
            "not a sealed prompt": encrypt_to(to_a, b'{"format": "something-else/1"}'),
            "not a disclosure": seal("!!not base64!!", to_a),
            "a number": seal(make_disclosure(42).encoded, to_a)}[case]
    with pytest.raises(SealedPromptError) as refused:
        open_sealed(data, store.age_identity("lab-a"), "x.sealed")
    message = str(refused.value)
    assert message.startswith("x.sealed: ") and "\n" not in message
    assert case != "a number" or "not a system prompt's text but a JSON int" in message


def test_a_protocol_may_not_carry_both_the_prompt_and_its_commitment(world: dict, tmp_path: Path):
    path = _protocol(world, tmp_path / "leaky.yaml", 9, system_prefix=SECRET,
                     system_prefix_commitment=world["commitment"])
    with pytest.raises(ProtocolError, match="must not be written into the protocol"):
        agreed_deployment(load_protocol(path), "lab-b", "b-prod")
    refused = run_cli("protocol", "sign", str(path), "--as", "lab-b", env=world["env"])
    assert refused.returncode == 2 and "refusing to sign" in refused.stderr
    assert "must not be written into the protocol" in " ".join(refused.stderr.split())
    assert not (tmp_path / "leaky.dsse.json").exists()


def test_round_plan_names_the_confidential_deployment(ran: dict):
    assert ran["plan"].returncode == 0, ran["plan"].stderr
    out = " ".join(ran["plan"].stdout.split())
    assert f"lab-b/b-prod: confidential system prompt (commitment {ran['commitment'][:16]}…)" in out


def test_without_the_sealed_prompt_the_round_refuses_before_any_call(ran: dict):
    assert ran["without"].returncode == 2
    err = " ".join(ran["without"].stderr.split())
    assert "lab-b/b-prod keeps the system prompt confidential" in err and "--sealed-prompt" in err
    assert "Traceback" not in err
    assert ran["sent_without"] == 0


def test_the_evaluator_sent_the_real_prompt_on_every_call(ran: dict):
    systems = ran["systems"]
    assert systems and all(SECRET in text for text in systems), list(systems)
    assert sum(systems.values()) >= len(get_suite("smoke").items())


def test_the_bundle_verifies_and_carries_only_the_commitment(ran: dict):
    verified = run_cli("verify", str(ran["bundle"]), "--keys", str(ran["trusted"]), env=ran["env"])
    assert verified.returncode == 0, verified.stderr
    published = b"".join(p.read_bytes() for p in ran["bundle"].rglob("*") if p.is_file())
    assert ran["commitment"].encode() in published
    assert b"HEMLOCK" not in published


def test_the_report_says_confidential_and_shows_the_commitment(ran: dict):
    out = ran["root"] / "report"
    made = run_cli("report", str(ran["bundle"]), "--keys", str(ran["trusted"]), "--out", str(out),
                   env=ran["env"])
    assert made.returncode == 0, made.stderr
    html = (out / "public-report.html").read_text()
    markdown = (out / "public-report.md").read_text()
    assert "HEMLOCK" not in html + markdown
    assert f"confidential, committed as `{ran['commitment']}`" in markdown
    assert f'title="{ran["commitment"]}"' in html and "confidential: committed as" in html


def test_a_prompt_sealed_to_someone_else_or_for_another_protocol_is_refused(ran: dict, tmp_path: Path):
    env, keys = ran["env"], ran["keys"]
    to_c = tmp_path / "to-c.sealed"
    assert run_cli("prompt", "seal", str(ran["root"] / "prompt.txt"), "--as", "lab-b", "--to",
                   str(keys / "lab-c.identity.json"), "--out", str(to_c), env=env).returncode == 0
    other = tmp_path / "other.txt"
    other.write_text("A different prompt.")
    fresh = tmp_path / "fresh.sealed"
    assert run_cli("prompt", "seal", str(other), "--as", "lab-b", "--to", str(keys / "lab-a.identity.json"),
                   "--out", str(fresh), env=env).returncode == 0
    for sealed, problem in ((to_c, "cannot decrypt it with your key"),
                            (fresh, "which no deployment in this protocol carries"),
                            (tmp_path / "absent.sealed", "cannot read the sealed prompt (No such file")):
        refused = run_cli("round", "run", str(ran["protocol"]), "--as", "lab-a", "--out", str(tmp_path / "r"),
                          "-q", "--sealed-prompt", str(sealed), env=env)
        err = " ".join(refused.stderr.split())
        assert refused.returncode == 2 and problem in err and str(sealed.name) in err, err
        assert "Traceback" not in err


def test_prompt_open_checks_the_protocol_and_reseal_keeps_the_commitment(ran: dict, tmp_path: Path):
    env, keys = ran["env"], ran["keys"]
    opened = run_cli("prompt", "open", str(ran["sealed"]), "--as", "lab-a", "--protocol", str(ran["protocol"]),
                     "--show", env=env)
    assert opened.returncode == 0, opened.stderr
    assert ran["commitment"] in opened.stdout and "lab-b/b-prod" in opened.stdout and SECRET in opened.stdout
    assert run_cli("prompt", "open", str(ran["sealed"]), "--as", "lab-c", env=env).returncode == 1
    buyer = tmp_path / "buyer.sealed"
    resealed = run_cli("prompt", "seal", "--reseal", str(ran["sealed"]), "--as", "lab-b", "--to",
                       str(keys / "lab-c.identity.json"), "--out", str(buyer), env=env)
    assert resealed.returncode == 0, resealed.stderr
    assert _commitment(resealed.stdout) == ran["commitment"]
    checked = run_cli("prompt", "open", str(buyer), "--as", "lab-c", "--protocol", str(ran["protocol"]), env=env)
    assert checked.returncode == 0 and "lab-b/b-prod" in checked.stdout, checked.stderr
    again = run_cli("prompt", "seal", "--reseal", str(ran["sealed"]), "--as", "lab-b", "--to",
                    str(keys / "lab-c.identity.json"), "--out", str(buyer), env=env)
    assert again.returncode == 2 and "already exists" in again.stderr
