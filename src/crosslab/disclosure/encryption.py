"""Encrypt the restricted appendix to partner labs with age (X25519 recipients).

Output is the standard age binary format, so a partner can decrypt it with
the reference ``age`` CLI and their ``AGE-SECRET-KEY-1...`` file, without
crosslab. Recipients are checked up front so a typo names the bad string
instead of surfacing as an opaque library error.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyrage
from pyrage import x25519

from crosslab.core.errors import CrosslabError


class EncryptionError(CrosslabError, ValueError):
    """Bad recipients or identities, or a file that cannot be decrypted; the message says which."""


def parse_recipient(recipient: str) -> x25519.Recipient:
    """An age X25519 recipient (``age1...``), or EncryptionError naming the bad string."""
    if not isinstance(recipient, str):
        raise EncryptionError(f"age recipient must be a string like age1..., got {type(recipient).__name__}")
    try:
        return x25519.Recipient.from_str(recipient.strip())
    except pyrage.RecipientError as exc:
        raise EncryptionError(f"{recipient!r} is not a valid age X25519 recipient ({exc})") from None


def encrypt_to(recipients: list[str], plaintext: bytes) -> bytes:
    """Encrypt ``plaintext`` so that any one of ``recipients`` can decrypt it (age binary format)."""
    if not recipients:
        raise EncryptionError("no recipients: refusing to encrypt to nobody")
    parsed = {str(r): r for r in map(parse_recipient, recipients)}  # de-duplicated, order kept
    try:
        return pyrage.encrypt(bytes(plaintext), list(parsed.values()))
    except pyrage.EncryptError as exc:
        raise EncryptionError(f"age encryption failed: {exc}") from None


def _identity(value: x25519.Identity | str) -> x25519.Identity:
    if isinstance(value, x25519.Identity):
        return value
    if isinstance(value, str):
        try:
            return x25519.Identity.from_str(value.strip())
        except pyrage.IdentityError as exc:
            raise EncryptionError(f"not a valid age X25519 identity (AGE-SECRET-KEY-1...): {exc}") from None
    raise EncryptionError(f"age identity must be an x25519.Identity or AGE-SECRET-KEY-1... string, "
                          f"got {type(value).__name__}")


def decrypt_with(identities: Iterable[x25519.Identity | str] | x25519.Identity, ciphertext: bytes) -> bytes:
    """Decrypt an age file with any of ``identities`` (pyrage identities or secret-key strings)."""
    if isinstance(identities, (x25519.Identity, str)):
        identities = [identities]
    parsed = [_identity(i) for i in identities]
    if not parsed:
        raise EncryptionError("no identities given to decrypt with")
    try:
        return pyrage.decrypt(bytes(ciphertext), parsed)
    except pyrage.DecryptError as exc:
        if "no matching keys" in str(exc).lower():
            n = len(parsed)
            which = "the identity given is not" if n == 1 else f"none of the {n} identities given is"
            raise EncryptionError(f"cannot decrypt: {which} a recipient of this file") from None
        raise EncryptionError(f"cannot decrypt: not a valid, intact age file ({exc})") from None
