"""Salted hash commitments to single values, as SD-JWT disclosures (RFC 9901).

A signed bundle carries only the commitment ``c`` for a redacted value; the
lab can later hand a buyer the disclosure string, and the buyer checks it
against ``c`` without the lab re-signing anything. The random salt (at least
128 bits) stops anyone guessing a low-entropy value (a score, a model name)
by hashing candidates against ``c``.

Layout, following SD-JWT's array-element disclosures: the disclosure is
``base64url_nopad(JSON [salt_b64url, value])`` and ``c`` is the hex SHA-256
of that string's ASCII bytes. The hash is taken over the string as received,
never a re-encoding, so disclosures from other encoders verify too.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

import orjson

from crosslab.attest.errors import VerificationError
from crosslab.core.canonical import canonical_json, sha256_hex

__all__ = [
    "SALT_BYTES",
    "Disclosure",
    "check_disclosure",
    "commitment_of",
    "make_disclosure",
    "open_disclosure",
]

SALT_BYTES = 16
"""Minimum (and default) salt length: 128 bits, as RFC 9901 recommends."""

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_SEXTET = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}


def _unb64url(text: str) -> bytes | None:
    """Strict unpadded base64url decode; None unless ``text`` is the one encoding of its bytes.

    Strict: only the URL-safe alphabet, no padding, and the unused low bits of
    the last character zero (so no two strings decode to the same bytes).
    """
    if not text.isascii() or len(text) % 4 == 1:
        return None
    raw = text.encode("ascii")
    if b"+" in raw or b"/" in raw or b"=" in raw:
        return None
    try:
        data = binascii.a2b_base64(raw.translate(_TO_STANDARD) + b"=" * (-len(raw) % 4), strict_mode=True)
    except binascii.Error:
        return None
    rest = len(raw) % 4
    if rest and _SEXTET[text[-1]] & (0x0F if rest == 2 else 0x03):
        return None
    return data


@dataclass(frozen=True)
class Disclosure:
    """A committed value: publish ``commitment``, hand out ``encoded`` to reveal ``value``.

    ``salt`` is the base64url (unpadded) salt exactly as it appears in the
    disclosure array.
    """

    salt: str
    value: Any
    encoded: str
    commitment: str


def commitment_of(encoded: str) -> str:
    """Hex SHA-256 of the disclosure string's ASCII bytes."""
    return sha256_hex(encoded.encode("ascii"))


def make_disclosure(value: Any, salt: bytes | None = None) -> Disclosure:
    """Commit to ``value`` with ``salt`` (default: 16 fresh bytes from ``secrets``).

    ``value`` must survive JSON unchanged (no tuples, NaN, datetimes...), so
    that opening the disclosure gives back exactly what was committed.
    """
    if salt is None:
        salt = secrets.token_bytes(SALT_BYTES)
    if not isinstance(salt, bytes) or len(salt) < SALT_BYTES:
        raise ValueError(f"salt must be at least {SALT_BYTES} bytes")
    salt_text = _b64url(salt)
    try:
        array = canonical_json([salt_text, value])
    except orjson.JSONEncodeError as exc:
        raise ValueError(f"value cannot be encoded as JSON: {exc}") from exc
    if orjson.loads(array)[1] != value:
        raise ValueError("value does not survive a JSON round trip unchanged")
    encoded = _b64url(array)
    return Disclosure(salt_text, value, encoded, commitment_of(encoded))


def open_disclosure(encoded: str) -> tuple[str, Any]:
    """Parse a disclosure into (salt as base64url, value); raise ``VerificationError`` if malformed.

    This checks the form only; use ``check_disclosure`` to check it against a commitment.
    """
    raw = _unb64url(encoded) if isinstance(encoded, str) else None
    if raw is None:
        raise VerificationError("disclosure is not valid base64url (unpadded)")
    try:
        array = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise VerificationError("disclosure is not valid JSON") from exc
    if not isinstance(array, list) or len(array) != 2:
        raise VerificationError("disclosure is not a JSON array [salt, value]")
    salt_text, value = array
    salt = _unb64url(salt_text) if isinstance(salt_text, str) else None
    if salt is None:
        raise VerificationError("disclosure salt is not valid base64url (unpadded)")
    if len(salt) < SALT_BYTES:
        raise VerificationError(f"disclosure salt is {len(salt)} bytes, fewer than {SALT_BYTES}")
    return salt_text, value


def check_disclosure(encoded: str, commitment: str) -> Any:
    """Return the disclosed value if ``encoded`` is well formed and opens ``commitment``."""
    if not isinstance(commitment, str) or not _SHA256_HEX.fullmatch(commitment):
        raise VerificationError("commitment is not a lowercase hex SHA-256 digest")
    _, value = open_disclosure(encoded)
    if not hmac.compare_digest(commitment_of(encoded), commitment):
        raise VerificationError("disclosure does not match its commitment")
    return value
