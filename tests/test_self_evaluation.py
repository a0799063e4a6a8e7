"""Self-evaluation: refused unless the protocol allows it, and then named as such; old protocol ids stay.

The self-evaluation bundle is Aurora's real 0.1.0 bundle of borealis/b-prod
(tests/data/bundles/0.1.0), re-presented as Aurora evaluating its own
deployment ``a-self``: the protocol gives Aurora a deployment with b-prod's
exact target (a deployment's digest covers its target, not its name), so every
disclosed sample really ran against the deployment the statement names. Both
labs re-sign the protocol and Aurora re-signs the statement, as a real round
under such a protocol would.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import orjson
import pytest
from conftest import run_cli
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from support.release_bundles import BUNDLES, FIXTURES, TRUSTED, pinned, resigned

from crosslab.attest.dsse import dump_envelope
from crosslab.attest.errors import VerificationError
from crosslab.bundle import layout
from crosslab.bundle.verify import verify_bundle
from crosslab.protocol.rounds import Direction, agreed_deployment, directions
from crosslab.protocol.schema import Protocol
from crosslab.protocol.signing import sign_protocol

RAW_0_1_0 = (FIXTURES / BUNDLES[0] / layout.PROTOCOL).read_bytes()  # signed by both labs with crosslab 0.1.0


def test_a_protocol_without_the_field_keeps_its_bytes_and_id():
    old = Protocol.model_validate(orjson.loads(RAW_0_1_0))
    assert old.allow_self_evaluation is False and "allow_self_evaluation" not in old.model_dump(mode="json")
    assert old.canonical() == RAW_0_1_0 and old.id == hashlib.sha256(RAW_0_1_0).hexdigest()
    explicit = Protocol.model_validate({**orjson.loads(RAW_0_1_0), "allow_self_evaluation": False})
    assert explicit.canonical() == RAW_0_1_0  # false is the default, and left out
    allowed = Protocol.model_validate({**orjson.loads(RAW_0_1_0), "allow_self_evaluation": True})
    assert allowed.id != old.id and b'"allow_self_evaluation":true' in allowed.canonical()
    assert Protocol.model_validate(orjson.loads(allowed.canonical())) == allowed


def test_the_round_includes_a_labs_own_deployments_only_when_allowed():
    old = Protocol.model_validate(orjson.loads(RAW_0_1_0))
    allowed = Protocol.model_validate({**orjson.loads(RAW_0_1_0), "allow_self_evaluation": True})
    assert all(d.evaluator != d.evaluated for d in directions(old)) and len(directions(old)) == 3
    assert set(directions(allowed)) - set(directions(old)) == {
        Direction("aurora", "aurora", "a-prod"), Direction("borealis", "borealis", "b-prod"),
        Direction("borealis", "borealis", "b-prev")}
    assert [str(d) for d in directions(allowed, "aurora")] == [
        "aurora → aurora/a-prod", "aurora → borealis/b-prod", "aurora → borealis/b-prev"]


def self_evaluation(tmp_path: Path, allow: bool) -> Path:
    """Aurora's bundle, re-signed as Aurora evaluating its own deployment a-self (see the module docstring)."""
    data = orjson.loads(RAW_0_1_0)
    aurora, borealis = data["participants"]
    b_prod = next(d for d in borealis["deployments"] if d["name"] == "b-prod")
    aurora["deployments"].append({"name": "a-self", "target": b_prod["target"]})
    protocol = Protocol.model_validate({**data, "allow_self_evaluation": allow})
    target = agreed_deployment(protocol, "aurora", "a-self").digest
    assert target == agreed_deployment(protocol, "borealis", "b-prod").digest
    envelope = None
    for lab in ("aurora", "borealis"):
        key = load_pem_private_key((FIXTURES / f"{lab}.signing_key.pem").read_bytes(), None)
        envelope = sign_protocol(protocol, lab, key, envelope)

    def files(bundle: Path) -> None:
        (bundle / layout.PROTOCOL).write_bytes(protocol.canonical())
        (bundle / layout.PROTOCOL_SIGNATURES).write_bytes(dump_envelope(envelope))

    def edit(p: dict) -> None:
        p["protocol_id"] = protocol.id
        p["evaluated"] = {"lab": "aurora", "deployment": "a-self", "target_digest": target}
    return resigned(tmp_path, edit, files)


def test_a_self_evaluation_is_refused_when_the_protocol_does_not_allow_it(tmp_path: Path):
    bundle = self_evaluation(tmp_path, allow=False)
    with pytest.raises(VerificationError, match=r"^statement\.dsse\.json: aurora evaluated itself, and the "
                                                r"protocol does not allow self-evaluation"):
        verify_bundle(bundle, pinned())
    result = run_cli("verify", str(bundle), "--keys", str(TRUSTED))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "statement.dsse.json: aurora evaluated itself" in line


def test_an_allowed_self_evaluation_verifies_and_says_what_it_is(tmp_path: Path):
    bundle = self_evaluation(tmp_path, allow=True)
    report = verify_bundle(bundle, pinned())
    assert report.self_evaluation and report.evaluator == report.evaluated == "aurora"
    assert report.deployment == "a-self" and report.public_verified == 38
    assert report.countersigned  # the evaluated lab's key signed: it is the evaluator's own
    assert not verify_bundle(FIXTURES / BUNDLES[0], pinned()).self_evaluation

    result = run_cli("verify", str(bundle), "--keys", str(TRUSTED))
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert "self-evaluation (allowed by the protocol): aurora evaluated its own deployment aurora/a-self" in first
    assert "countersigned by aurora (the evaluator itself: a self-evaluation's countersignature adds no " \
           "independent review)" in result.stdout
    as_json = run_cli("verify", str(bundle), "--keys", str(TRUSTED), "--json")
    assert json.loads(as_json.stdout)["self_evaluation"] is True

    required = run_cli("verify", str(bundle), "--keys", str(TRUSTED), "--require-countersignature")
    assert required.returncode == 1
    [line] = required.stderr.strip().splitlines()
    assert "statement.dsse.json: a self-evaluation (aurora on its own deployment) has no independent " \
           "countersignature" in line


def test_only_the_evaluated_labs_key_countersigns_a_self_evaluation(tmp_path: Path):
    from crosslab.bundle.countersign import countersign

    bundle = self_evaluation(tmp_path, allow=True)
    borealis = load_pem_private_key((FIXTURES / "borealis.signing_key.pem").read_bytes(), None)
    with pytest.raises(VerificationError, match=r"only the evaluated lab \(aurora\) countersigns"):
        countersign(bundle, "borealis", borealis, pinned())
    aurora = load_pem_private_key((FIXTURES / "aurora.signing_key.pem").read_bytes(), None)
    report = countersign(bundle, "aurora", aurora, pinned(), "We ran this on ourselves.")
    assert report.self_evaluation and report.response == "We ran this on ourselves."
