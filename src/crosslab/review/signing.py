"""Sign an adjudication statement with the reviewing lab's key; verify it against pinned identities only.

The envelope is DSSE (``attest/dsse.py``) over the statement's RFC 8785
bytes, payload type ``application/vnd.crosslab.adjudication+json``, so a
signature can never be replayed as a protocol or bundle signature. A
signature counts only under the key pinned for the lab the statement names:
a valid signature by any other key (another lab's, or a new key under the
same lab id) is refused.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crosslab.attest.dsse import b64decode, sign_envelope, verify_envelope
from crosslab.attest.errors import VerificationError
from crosslab.core.strictjson import StrictJSONError, loads_strict
from crosslab.identity.keys import PublicIdentity, raw_public_bytes
from crosslab.review.errors import ReviewError
from crosslab.review.statement import PAYLOAD_TYPE, Statement, parse_statement


def sign_statement(statement: Statement, private_key: Ed25519PrivateKey, identity: PublicIdentity) -> dict:
    """A DSSE envelope over ``statement``, signed by ``identity``'s lab (the key must be that identity's)."""
    if statement.lab != identity.lab:
        raise ReviewError(f"the statement names lab {statement.lab!r}, the key is {identity.lab!r}'s")
    if raw_public_bytes(private_key.public_key()) != raw_public_bytes(identity.public_key()):
        raise ReviewError(f"the private key given is not the signing key of {identity.lab}'s identity")
    return sign_envelope(statement.payload(), PAYLOAD_TYPE, private_key, identity.signing_key.keyid)


def verify_statement(envelope: Any, pinned: dict[str, PublicIdentity], source: str) -> tuple[Statement, bytes]:
    """The statement and its signed bytes, once its lab's pinned key has verified it; else ReviewError."""
    try:
        if not isinstance(envelope, dict) or envelope.get("payloadType") != PAYLOAD_TYPE:
            raise VerificationError(f"not an adjudication envelope (payloadType must be {PAYLOAD_TYPE})")
        payload = b64decode(envelope.get("payload"), "envelope field 'payload'")
        data = loads_strict(payload)
    except (VerificationError, StrictJSONError) as exc:
        raise ReviewError(f"{source}: {exc}") from None
    lab = data.get("lab") if isinstance(data, dict) else None
    identity = pinned.get(lab) if isinstance(lab, str) else None
    if identity is None:
        raise ReviewError(f"{source}: signed for lab {lab!r}, whose identity is not pinned for this run "
                          f"(pinned: {', '.join(sorted(pinned)) or 'none'})")
    keyid = identity.signing_key.keyid
    try:
        verified = verify_envelope(envelope, {keyid: identity.public_key()}, required={keyid})
    except VerificationError as exc:
        raise ReviewError(f"{source}: not validly signed by {lab}'s pinned key {keyid[:23]}…: {exc}") from None
    return parse_statement(data, source), verified.payload
