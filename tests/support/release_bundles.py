"""The bundles crosslab 0.1.0 wrote (tests/data/bundles/0.1.0), and a cheating evaluator who edits them.

Aurora's and Borealis's demo signing keys are in the fixtures, so a test can play the evaluator:
edit the signed statement, fix every digest, and re-sign with a valid key.
What such a re-signed bundle claims must still be checked against the
protocol both labs signed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key

from crosslab.attest.dsse import dump_envelope
from crosslab.attest.intoto import sign_statement
from crosslab.bundle import layout
from crosslab.identity.keys import load_identity
from crosslab.protocol.rounds import agreed_deployment
from crosslab.protocol.schema import Protocol

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "bundles" / "0.1.0"
BUNDLES = ("aurora-on-borealis-b-prod", "borealis-on-aurora-a-prod")
TRUSTED = FIXTURES / "trusted"


def pinned() -> dict:
    return {p.name.split(".")[0]: load_identity(p) for p in TRUSTED.glob("*.identity.json")}


def borealis_age() -> str:
    return (FIXTURES / "borealis.age_identity.txt").read_text().strip().splitlines()[-1]


def resigned(tmp_path: Path, edit: Callable[[dict], None], files: Callable[[Path], None] | None = None) -> Path:
    """A copy of Aurora's bundle whose statement Aurora edited (``edit`` gets the predicate), after
    ``files`` changed the bundle's files; subject digests recomputed, re-signed with Aurora's key."""
    bundle = tmp_path / "resigned"
    shutil.copytree(FIXTURES / BUNDLES[0], bundle)
    (bundle / layout.RESPONSE).unlink()  # the reply names the old statement
    if files:
        files(bundle)
    envelope = json.loads((bundle / layout.STATEMENT).read_text())
    stmt = json.loads(base64.b64decode(envelope["payload"]))
    edit(stmt["predicate"])
    evaluated = stmt["predicate"]["evaluated"]
    for subject in stmt["subject"]:
        if (bundle / subject["name"]).is_file():
            subject["digest"]["sha256"] = hashlib.sha256((bundle / subject["name"]).read_bytes()).hexdigest()
        elif subject["name"].startswith("deployment:"):  # the subject follows the edited claim, consistently
            protocol = Protocol.model_validate_json((bundle / layout.PROTOCOL).read_bytes())
            subject["name"] = f"deployment:{evaluated['lab']}/{evaluated['deployment']}"
            subject["digest"]["sha256"] = agreed_deployment(protocol, evaluated["lab"], evaluated["deployment"]).digest
    key = load_pem_private_key((FIXTURES / "aurora.signing_key.pem").read_bytes(), password=None)
    keyid = pinned()["aurora"].signing_key.keyid
    (bundle / layout.STATEMENT).write_bytes(dump_envelope(sign_statement(stmt, key, keyid)))
    return bundle
