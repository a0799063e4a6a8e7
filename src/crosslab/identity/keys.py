"""Public lab identities: what one lab hands another so it can verify and encrypt.

A lab's public identity is a small JSON document, exchanged as
``LAB.identity.json``::

    {"lab": "acme", "name": "Acme AI",
     "signing_key": {"type": "ed25519", "public": <base64 of the raw 32-byte key>,
                     "keyid": "sha256:" + hex SHA-256 of those 32 raw bytes},
     "age_recipient": "age1...",
     "fingerprint": <hex>}

The fingerprint is the hex SHA-256 of crosslab's ``canonical_json`` of the
identity *without* the ``fingerprint`` field. It commits to the lab id, the
display name and both keys, so labs can compare it out of band (a call, a
signed email) and any later edit to the file is caught on load. Files are
written as exactly that canonical JSON, but any JSON with the same content
loads. Loading fails closed: every check has its own message.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from pathlib import Path
from typing import Any, Literal

import orjson
import pyrage
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    field_validator,
    model_validator,
)

from crosslab.attest.dsse import keyid_for
from crosslab.core.canonical import canonical_json, sha256_hex
from crosslab.core.errors import CrosslabError

LAB_ID_PATTERN = r"[a-z0-9][a-z0-9-]{1,62}"
_LAB_ID = re.compile(LAB_ID_PATTERN)
_HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_IDENTITY_BYTES = 64 * 1024


class IdentityError(CrosslabError, ValueError):
    """An identity (or lab id) that fails validation; the message says which check."""


def check_lab_id(lab: str) -> str:
    """Return ``lab`` if it is a valid lab id (lowercase slug), else raise IdentityError."""
    if not isinstance(lab, str) or not _LAB_ID.fullmatch(lab):
        raise IdentityError(f"invalid lab id {lab!r}: use 2-63 characters of a-z, 0-9 and '-', "
                            "starting with a letter or digit")
    return lab


def raw_public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SigningKey(_Strict):
    type: Literal["ed25519"] = "ed25519"
    public: str
    keyid: str

    @field_validator("public")
    @classmethod
    def _public_is_32_bytes(cls, value: str) -> str:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("signing key is not valid base64") from None
        if len(raw) != 32:
            raise ValueError(f"an Ed25519 public key is 32 bytes, this one is {len(raw)}")
        if base64.b64encode(raw).decode() != value:
            raise ValueError("signing key is not in canonical base64")
        return value

    @model_validator(mode="after")
    def _keyid_matches_key(self) -> SigningKey:
        expected = keyid_for(base64.b64decode(self.public))
        if self.keyid != expected:
            raise ValueError(f"keyid {self.keyid!r} does not match the public key (expected {expected})")
        return self

    def public_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(self.public))


class PublicIdentity(_Strict):
    """A lab's public identity (see module docstring); validation checks keyid and fingerprint."""

    lab: str
    name: str
    signing_key: SigningKey
    age_recipient: str
    fingerprint: str

    @field_validator("lab")
    @classmethod
    def _lab_is_slug(cls, value: str) -> str:
        return check_lab_id(value)

    @field_validator("name")
    @classmethod
    def _name_is_printable(cls, value: str) -> str:
        if not value.strip() or len(value) > 200 or not value.isprintable():
            raise ValueError("must be 1-200 printable characters (no newlines or control characters)")
        return value

    @field_validator("age_recipient")
    @classmethod
    def _recipient_parses(cls, value: str) -> str:
        try:
            parsed = pyrage.x25519.Recipient.from_str(value)
        except pyrage.RecipientError as exc:
            raise ValueError(f"{value!r} is not an age X25519 recipient ({exc})") from None
        if str(parsed) != value:
            raise ValueError(f"{value!r} is not in canonical form (expected {parsed})")
        return value

    @field_validator("fingerprint")
    @classmethod
    def _fingerprint_is_hex(cls, value: str) -> str:
        if not _HEX64.fullmatch(value):
            raise ValueError("fingerprint must be 64 lowercase hex digits")
        return value

    @model_validator(mode="after")
    def _fingerprint_matches(self) -> PublicIdentity:
        expected = fingerprint_of(self.unsigned())
        if self.fingerprint != expected:
            raise ValueError(f"fingerprint mismatch: the file says {self.fingerprint[:16]}…, its contents hash to "
                             f"{expected[:16]}… (the identity was changed after it was made)")
        return self

    def unsigned(self) -> dict[str, Any]:
        """The identity without its fingerprint: what the fingerprint is computed over."""
        return self.model_dump(mode="json", exclude={"fingerprint"})

    def canonical(self) -> bytes:
        return canonical_json(self.model_dump(mode="json"))

    def public_key(self) -> Ed25519PublicKey:
        return self.signing_key.public_key()

    def recipient(self) -> pyrage.x25519.Recipient:
        return pyrage.x25519.Recipient.from_str(self.age_recipient)


def fingerprint_of(unsigned: dict[str, Any]) -> str:
    return sha256_hex(canonical_json(unsigned))


def build_identity(lab: str, name: str, public_key: Ed25519PublicKey, age_recipient: str) -> PublicIdentity:
    """Assemble and validate an identity, computing keyid and fingerprint."""
    raw = raw_public_bytes(public_key)
    unsigned = {"lab": lab, "name": name,
                "signing_key": {"type": "ed25519", "public": base64.b64encode(raw).decode(), "keyid": keyid_for(raw)},
                "age_recipient": age_recipient}
    return parse_identity({**unsigned, "fingerprint": fingerprint_of(unsigned)})


def parse_identity(data: Any, source: str = "identity") -> PublicIdentity:
    """Validate identity data; the first failing check becomes one IdentityError line."""
    try:
        return PublicIdentity.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        raise IdentityError(f"{source}: {where + ': ' if where else ''}{msg}") from None


def load_identity(path: Path | str) -> PublicIdentity:
    """Read and validate ``LAB.identity.json``; raises OSError or IdentityError."""
    path = Path(path)
    data = path.read_bytes()
    if len(data) > MAX_IDENTITY_BYTES:
        raise IdentityError(f"identity file {path} is too large ({len(data)} bytes) to be an identity")
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise IdentityError(f"identity file {path} is not valid JSON: {exc}") from None
    return parse_identity(value, source=f"identity file {path}")


def identity_filename(lab: str) -> str:
    return f"{check_lab_id(lab)}.identity.json"


def write_identity(identity: PublicIdentity, out_dir: Path | str) -> Path:
    """Write ``LAB.identity.json`` into ``out_dir``; refuses to replace a different identity."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    target = Path(out_dir) / identity_filename(identity.lab)
    data = identity.canonical()
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        if target.read_bytes() == data:
            return target
        raise IdentityError(f"{target} already exists and holds a different identity; "
                            "refusing to overwrite it") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return target
