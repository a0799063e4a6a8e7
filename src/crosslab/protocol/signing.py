"""Every participant signs the protocol's exact bytes; a run needs all signatures.

The signed form is a DSSE envelope whose payload is the protocol's RFC 8785
canonical JSON (payload type ``application/vnd.crosslab.protocol+json``), kept
beside the YAML as ``<name>.dsse.json``. Each lab adds its signature to the
same envelope, so standard DSSE tooling can check it too. Keys are trusted only
as pinned in the protocol's own identities, never by keyid alone.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from crosslab.core.atomic import write_atomically
from crosslab.attest.dsse import (
    add_signature,
    dump_envelope,
    sign_envelope,
    verify_envelope,
)
from crosslab.attest.errors import VerificationError
from crosslab.identity.keys import raw_public_bytes
from crosslab.protocol.schema import Protocol
from crosslab.protocol.tier2 import Tier2Protocol

PAYLOAD_TYPE = Protocol.PAYLOAD_TYPE
#: Either kind of protocol: both sign the same way, each under its own payload type.
Signable = Protocol | Tier2Protocol


def envelope_path(protocol_path: Path) -> Path:
    return protocol_path.with_suffix(".dsse.json")


def trusted_keys(protocol: Signable) -> dict[str, Ed25519PublicKey]:
    """keyid -> public key, from the identities the protocol itself pins."""
    return {
        p.identity.signing_key.keyid: Ed25519PublicKey.from_public_bytes(base64.b64decode(p.identity.signing_key.public))
        for p in protocol.participants
    }


def sign_protocol(protocol: Signable, lab: str, private_key: Ed25519PrivateKey,
                  envelope: dict | None = None) -> dict:
    """Add ``lab``'s signature, starting a new envelope or joining an existing one."""
    identity = protocol.participant(lab).identity
    if raw_public_bytes(private_key.public_key()) != base64.b64decode(identity.signing_key.public):
        raise VerificationError(f"the private key given is not the signing key registered for {lab} in the protocol")
    keyid = identity.signing_key.keyid
    if envelope is None:
        return sign_envelope(protocol.canonical(), protocol.PAYLOAD_TYPE, private_key, keyid)
    check_payload(protocol, envelope)
    return add_signature(envelope, private_key, keyid)


def check_payload(protocol: Signable, envelope: dict) -> None:
    try:
        payload = base64.b64decode(envelope["payload"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationError("signed protocol envelope has no valid payload") from exc
    if envelope.get("payloadType") != protocol.PAYLOAD_TYPE:
        raise VerificationError(f"signed envelope's payloadType is {envelope.get('payloadType')!r}, "
                                f"not {protocol.PAYLOAD_TYPE}")
    if payload != protocol.canonical():
        signed_id = hashlib.sha256(payload).hexdigest()
        raise VerificationError(f"the signatures are over protocol {signed_id[:16]}…, but this protocol is "
                                f"{protocol.id[:16]}… (it changed after signing)")


def signature_status(protocol: Signable, envelope: dict) -> tuple[list[str], list[str]]:
    """(labs whose signatures verify, labs still missing). Invalid signatures raise."""
    check_payload(protocol, envelope)
    verified = verify_envelope(envelope, trusted_keys(protocol))
    signed, missing = [], []
    for p in protocol.participants:
        (signed if p.identity.signing_key.keyid in verified.keyids else missing).append(p.identity.lab)
    return signed, missing


def verify_protocol(protocol: Signable, envelope: dict) -> list[str]:
    """Fail closed unless every participant signed this exact protocol; returns the labs."""
    signed, missing = signature_status(protocol, envelope)
    if missing:
        raise VerificationError(f"protocol {protocol.id[:16]}… is not signed by: {', '.join(missing)}")
    return signed


def read_envelope(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        envelope = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise VerificationError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(envelope, dict):
        raise VerificationError(f"{path} does not hold a DSSE envelope")
    return envelope


def write_envelope(path: Path, envelope: dict) -> None:
    """Write atomically (temp file + rename), so a crash never leaves half an envelope."""
    write_atomically(path, dump_envelope(envelope))
