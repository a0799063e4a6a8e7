"""in-toto Statement v1: "these artifacts (by SHA-256) have this predicate".

A Statement binds a typed claim (the predicate) to artifacts named by digest,
and travels as the payload of a DSSE envelope with payload type
``application/vnd.in-toto+json``. Using the standard layout lets a buyer check
crosslab bundles with generic in-toto tooling.
"""

from __future__ import annotations

import re
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from crosslab.attest.dsse import VerifiedEnvelope, sign_envelope, verify_envelope
from crosslab.attest.errors import VerificationError
from crosslab.core.jcs import jcs
from crosslab.core.strictjson import StrictJSONError, loads_strict

__all__ = [
    "PAYLOAD_TYPE",
    "STATEMENT_TYPE",
    "parse_statement",
    "sign_statement",
    "statement",
    "statement_payload",
    "verify_statement",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def statement(subjects: list[tuple[str, str]], predicate_type: str, predicate: dict) -> dict:
    """Build a Statement over ``(name, sha256 hex)`` subjects; validated like a parsed one."""
    stmt = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": sha}} for name, sha in subjects],
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    try:
        _validate(stmt)
    except VerificationError as exc:
        raise ValueError(str(exc)) from None
    return stmt


def statement_payload(stmt: dict) -> bytes:
    """The bytes to sign: RFC 8785 canonical JSON, so anyone can re-derive the same payload."""
    return jcs(stmt)


def _validate(stmt: Any) -> None:
    if not isinstance(stmt, dict):
        raise VerificationError("statement is not a JSON object")
    if stmt.get("_type") != STATEMENT_TYPE:
        raise VerificationError(f"statement _type is {stmt.get('_type')!r}, not {STATEMENT_TYPE!r}")
    subjects = stmt.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise VerificationError("statement 'subject' is not a non-empty list")
    for i, subject in enumerate(subjects):
        if not isinstance(subject, dict):
            raise VerificationError(f"statement subject {i} is not a JSON object")
        name = subject.get("name")
        if not isinstance(name, str) or not name:
            raise VerificationError(f"statement subject {i} has no non-empty string 'name'")
        digest = subject.get("digest")
        if not isinstance(digest, dict):
            raise VerificationError(f"statement subject {name!r} has no 'digest' object")
        sha = digest.get("sha256")
        if not isinstance(sha, str) or not _SHA256_HEX.fullmatch(sha):
            raise VerificationError(f"statement subject {name!r} has no sha256 digest "
                                    "of 64 lowercase hex characters")
    predicate_type = stmt.get("predicateType")
    if not isinstance(predicate_type, str) or not predicate_type:
        raise VerificationError("statement 'predicateType' is not a non-empty string")
    if not isinstance(stmt.get("predicate", {}), dict):
        raise VerificationError("statement 'predicate' is not a JSON object")


def parse_statement(payload: bytes) -> dict:
    """Parse and validate a Statement payload; raise ``VerificationError`` naming the fault."""
    try:
        stmt = loads_strict(payload)
    except StrictJSONError as exc:
        raise VerificationError(f"statement is not valid JSON: {exc}") from None
    _validate(stmt)
    return stmt


def sign_statement(stmt: dict, private_key: Ed25519PrivateKey, keyid: str) -> dict:
    """A DSSE envelope carrying ``stmt`` with one signature."""
    _validate(stmt)
    return sign_envelope(statement_payload(stmt), PAYLOAD_TYPE, private_key, keyid)


def verify_statement(envelope: Any, trusted: dict[str, Ed25519PublicKey], *,
                     required: set[str] | None = None) -> tuple[VerifiedEnvelope, dict]:
    """Verify the envelope's signatures, then check it carries a valid Statement."""
    verified = verify_envelope(envelope, trusted, required=required)
    if verified.payload_type != PAYLOAD_TYPE:
        raise VerificationError(f"envelope payloadType is {verified.payload_type!r}, not {PAYLOAD_TYPE!r}")
    return verified, parse_statement(verified.payload)
