"""Dead Simple Signing Envelope (DSSE v1) with Ed25519, failing closed.

DSSE signs ``PAE(payloadType, payload)`` rather than the payload alone, so a
signature can never be replayed under another payload type, and the payload is
carried as opaque bytes, so nobody has to re-serialise it to check it. The
envelope is the JSON object ``{"payload", "payloadType", "signatures":
[{"keyid", "sig"}]}`` with standard padded base64, which is what the DSSE spec
and securesystemslib produce; several labs countersign one envelope.

Trust is pinned: ``verify_envelope`` takes ``keyid -> public key`` and a
signature counts only if it verifies under the key pinned for its keyid. A
keyid is a label chosen by the signer and proves nothing by itself.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from crosslab.attest.errors import VerificationError
from crosslab.core.canonical import canonical_json
from crosslab.core.strictjson import StrictJSONError, loads_strict

__all__ = [
    "VerificationError",
    "VerifiedEnvelope",
    "add_signature",
    "b64decode",
    "b64encode",
    "dump_envelope",
    "keyid_for",
    "load_envelope",
    "pae",
    "sign_envelope",
    "verify_envelope",
]

_B64_STD = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_B64_URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding: the exact bytes that get signed.

    ``"DSSEv1" SP len(type) SP type SP len(payload) SP payload``, lengths in
    ASCII decimal, type in UTF-8. Length-prefixing makes the encoding
    unambiguous, so no (type, payload) pair collides with another.
    """
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(t), t, len(payload), payload)


def keyid_for(public_key: Ed25519PublicKey | bytes) -> str:
    """``"sha256:" + hex(SHA-256(raw 32-byte Ed25519 public key))``.

    Takes the key or its raw bytes (the raw bytes are hashed as given, so an
    identity file's key can be checked before it is known to be 32 bytes). A
    stable, self-describing id that anyone can recompute from the key alone (no
    key-file format or JSON in the way). It is still only a label: the verifier
    trusts the pinned key, never the id. This is crosslab's only keyid function:
    DSSE signatures and identity files (``identity/keys.py``) both use it.
    """
    raw = public_key if isinstance(public_key, bytes) else public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def b64encode(data: bytes) -> str:
    """Standard base64 with padding, as DSSE envelopes carry it."""
    return base64.standard_b64encode(data).decode("ascii")


def b64decode(text: Any, what: str) -> bytes:
    """Strictly decode an envelope field; raise naming ``what`` otherwise.

    The DSSE spec allows standard or URL-safe base64, so both are accepted
    (never mixed); padding may be omitted. Anything else (whitespace, stray
    characters, wrong padding, non-zero trailing bits) is rejected, so each
    byte string has exactly one accepted encoding per alphabet.
    """
    bad = VerificationError(f"{what} is not valid base64")
    if not isinstance(text, str):
        raise bad
    if _B64_STD.fullmatch(text):
        std = text
    elif _B64_URL.fullmatch(text):
        std = text.replace("-", "+").replace("_", "/")
    else:
        raise bad
    body = std.rstrip("=")
    if len(body) % 4 == 1 or (std != body and len(std) % 4 != 0):
        raise bad
    try:
        data = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise bad from exc
    if base64.standard_b64encode(data).decode("ascii").rstrip("=") != body:
        raise bad  # non-canonical trailing bits
    return data


@dataclass(frozen=True)
class VerifiedEnvelope:
    """What a verified envelope proves: these keyids signed this payload.

    ``keyids`` are the pinned keys whose signatures verified;
    ``unknown_keyids`` are signatures under keyids not in the trusted set,
    reported so a caller can show them, and trusted for nothing.
    """

    payload: bytes
    payload_type: str
    keyids: frozenset[str]
    unknown_keyids: frozenset[str]


def _parse(envelope: Any) -> tuple[bytes, str, list[tuple[str, bytes]]]:
    """Validate the envelope's shape; return (payload, payloadType, [(keyid, sig)])."""
    if not isinstance(envelope, dict):
        raise VerificationError("envelope is not a JSON object")
    for field in ("payload", "payloadType", "signatures"):
        if field not in envelope:
            raise VerificationError(f"envelope has no field '{field}'")
    payload = b64decode(envelope["payload"], "envelope field 'payload'")
    payload_type = envelope["payloadType"]
    if not isinstance(payload_type, str):
        raise VerificationError("envelope field 'payloadType' is not a string")
    try:
        payload_type.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise VerificationError("envelope field 'payloadType' is not valid UTF-8 text") from exc
    sigs = envelope["signatures"]
    if not isinstance(sigs, list):
        raise VerificationError("envelope field 'signatures' is not a list")
    parsed: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    for i, entry in enumerate(sigs):
        if not isinstance(entry, dict):
            raise VerificationError(f"envelope signature {i} is not a JSON object")
        keyid = entry.get("keyid")
        if not isinstance(keyid, str):
            raise VerificationError(f"envelope signature {i} has no string 'keyid'")
        if keyid in seen:
            raise VerificationError(f"envelope has more than one signature with keyid {keyid}")
        seen.add(keyid)
        if "sig" not in entry:
            raise VerificationError(f"envelope signature {i} ({keyid}) has no field 'sig'")
        parsed.append((keyid, b64decode(entry["sig"], f"signature by {keyid}: field 'sig'")))
    return payload, payload_type, parsed


def load_envelope(data: bytes | str) -> dict:
    """Parse an envelope from its JSON text; raise ``VerificationError`` if it is not one."""
    try:
        envelope = loads_strict(data)
    except StrictJSONError as exc:
        raise VerificationError(f"envelope is not valid JSON: {exc}") from None
    _parse(envelope)
    return envelope


def dump_envelope(envelope: dict) -> bytes:
    """The envelope as JSON bytes (sorted keys, so the file is byte-stable)."""
    return canonical_json(envelope)


def sign_envelope(payload: bytes, payload_type: str, private_key: Ed25519PrivateKey, keyid: str) -> dict:
    """A new envelope over ``payload`` with one signature."""
    if not isinstance(payload, bytes):
        raise TypeError("payload must be bytes")
    envelope = {"payload": b64encode(payload), "payloadType": payload_type, "signatures": []}
    return add_signature(envelope, private_key, keyid)


def add_signature(envelope: dict, private_key: Ed25519PrivateKey, keyid: str) -> dict:
    """Countersign: a new envelope with one more signature over the same PAE.

    The input is not modified. A signature already present under ``keyid`` is
    replaced (Ed25519 is deterministic, so re-signing is idempotent). Other
    signatures are kept as they are; they are checked at verification.
    """
    if not isinstance(keyid, str) or not keyid:
        raise ValueError("keyid must be a non-empty string")
    payload, payload_type, _ = _parse(envelope)
    sig = private_key.sign(pae(payload_type, payload))
    out = copy.deepcopy(envelope)
    out["signatures"] = [s for s in out["signatures"] if s["keyid"] != keyid]
    out["signatures"].append({"keyid": keyid, "sig": b64encode(sig)})
    return out


def verify_envelope(envelope: Any, trusted: dict[str, Ed25519PublicKey], *,
                    required: set[str] | None = None) -> VerifiedEnvelope:
    """Verify ``envelope`` against pinned keys; fail closed.

    Raises ``VerificationError`` if the envelope is malformed, if any signature
    under a trusted keyid does not verify under that keyid's pinned key, if a
    keyid in ``required`` has no valid signature, or if no trusted signature
    verifies at all. Signatures under unknown keyids are reported in
    ``unknown_keyids`` and otherwise ignored.
    """
    for keyid, key in trusted.items():
        if not isinstance(key, Ed25519PublicKey):
            raise TypeError(f"trusted key for {keyid} is not an Ed25519 public key")
    if stray := set(required or ()) - set(trusted):
        raise ValueError(f"required keyids are not trusted keys: {', '.join(sorted(stray))}")
    payload, payload_type, sigs = _parse(envelope)
    message = pae(payload_type, payload)
    verified: set[str] = set()
    unknown: set[str] = set()
    for keyid, sig in sigs:
        key = trusted.get(keyid)
        if key is None:
            unknown.add(keyid)
            continue
        try:
            key.verify(sig, message)
        except InvalidSignature as exc:
            raise VerificationError(f"signature by {keyid} does not verify") from exc
        verified.add(keyid)
    for keyid in sorted(required or ()):
        if keyid not in verified:
            raise VerificationError(f"no valid signature from required key {keyid}")
    if not verified:
        if unknown:
            raise VerificationError("no signature from a trusted key (only from unknown keyids: "
                                    + ", ".join(sorted(unknown)) + ")")
        raise VerificationError("envelope has no signatures")
    return VerifiedEnvelope(payload, payload_type, frozenset(verified), frozenset(unknown))
