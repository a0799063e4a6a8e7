"""C2SP signed-note with Ed25519: signing, verifier keys, strict opening.

A note is UTF-8 text ending in a newline, a blank line, then signature lines
``— <key name> <base64(4-byte key id ‖ signature)>``. The key id is
SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]; a verifier key is written
``<name>+<8 hex digits of key id>+<base64(0x01 ‖ public key)>``. These are
the formats of golang.org/x/mod/sumdb/note, so Go witnesses and monitors can
read what this log signs (the tests check Go's published example byte for
byte). Opening is strict: anything off the grammar is refused with one line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from crosslab.transparency.errors import NoteError

__all__ = [
    "ALG_ED25519",
    "NoteVerifier",
    "SignatureLine",
    "check_key_name",
    "key_id",
    "open_note",
    "parse_signature_lines",
    "sign_note",
    "split_note",
]

ALG_ED25519 = 0x01
MAX_NOTE_BYTES = 64 * 1024  # far above 16 Ed25519 signatures, far below anything a client should buffer
MAX_SIGNATURES = 64
_DASH = "— "  # U+2014 EM DASH, space
CONTROL_CHARS = re.compile(r"[\x00-\x09\x0b-\x1f]")  # the spec: no ASCII control character but newline
_HEX8 = re.compile(r"[0-9a-f]{8}")


def check_key_name(name: str) -> str:
    """A key name: non-empty, no Unicode space, no '+', no control character."""
    if not isinstance(name, str) or not name:
        raise NoteError("a note key name must be a non-empty string")
    if "+" in name or any(c.isspace() for c in name) or CONTROL_CHARS.search(name):
        raise NoteError(f"note key name {name!r} contains a space, '+' or control character")
    return name


def key_id(name: str, public_key: bytes, alg: int = ALG_ED25519) -> bytes:
    """The 4-byte id of a note key: SHA-256(name ‖ 0x0A ‖ alg ‖ key)[:4] (alg 0x01: Ed25519 signer)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()[:4]


def _b64decode_strict(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise NoteError(f"{what} is not standard base64") from None
    if base64.b64encode(raw).decode() != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


@dataclass(frozen=True)
class NoteVerifier:
    """A trusted Ed25519 note key: its name and raw 32-byte public key.

    ``ALG`` is the signature type byte in the key id and the verifier key;
    subclasses (a witness's cosignature key) change it and ``signed_message``.
    """

    ALG = ALG_ED25519

    name: str
    public_key: bytes

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if not isinstance(self.public_key, bytes) or len(self.public_key) != 32:
            raise NoteError("an Ed25519 note key is 32 bytes")

    @classmethod
    def from_public_key(cls, name: str, public_key: Ed25519PublicKey) -> NoteVerifier:
        return cls(name, public_key.public_bytes(Encoding.Raw, PublicFormat.Raw))

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key, self.ALG)

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([self.ALG]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    @classmethod
    def parse(cls, vkey: str) -> NoteVerifier:
        """Parse ``<name>+<hex id>+<base64(0x01 ‖ key)>``, checking the id against name and key."""
        if not isinstance(vkey, str) or len(vkey) > 1024:
            raise NoteError("a verifier key is a string of at most 1024 characters")
        parts = vkey.split("+", 2)  # the base64 may itself contain '+'
        if len(parts) != 3:
            raise NoteError(f"verifier key {vkey!r} is not <name>+<key id>+<key>")
        name, hex_id, encoded = parts
        check_key_name(name)
        if not _HEX8.fullmatch(hex_id):
            raise NoteError(f"verifier key id {hex_id!r} is not 8 lowercase hex digits")
        raw = _b64decode_strict(encoded, "verifier key material")
        if len(raw) != 33 or raw[0] != cls.ALG:
            raise NoteError(f"verifier key is not an Ed25519 key of type 0x{cls.ALG:02x} "
                            f"(0x{cls.ALG:02x} followed by 32 bytes)")
        verifier = cls(name, raw[1:])
        if verifier.key_id.hex() != hex_id:
            raise NoteError(f"verifier key id {hex_id} does not match its name and key ({verifier.key_id.hex()})")
        try:
            Ed25519PublicKey.from_public_bytes(verifier.public_key)
        except ValueError:
            raise NoteError("verifier key is not a valid Ed25519 public key") from None
        return verifier

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, text)
        except (InvalidSignature, ValueError):
            return False
        return True


def _check_text(text: bytes) -> str:
    if not isinstance(text, bytes):
        raise NoteError("note text must be bytes")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("note is not valid UTF-8") from None
    if CONTROL_CHARS.search(decoded):
        raise NoteError("note contains a control character other than newline")
    return decoded


def sign_note(text: bytes, name: str, private_key: Ed25519PrivateKey) -> bytes:
    """``text`` (ending in a newline), a blank line, and one Ed25519 signature line by ``name``."""
    _check_text(text)
    if not text.endswith(b"\n"):
        raise NoteError("note text must end with a newline")
    check_key_name(name)
    public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    blob = base64.b64encode(key_id(name, public) + private_key.sign(text)).decode()
    return text + f"\n{_DASH}{name} {blob}\n".encode()


@dataclass(frozen=True)
class SignatureLine:
    """One ``— <name> <base64(key id ‖ signature)>`` line of a note, not yet verified."""

    name: str
    key_id: bytes
    signature: bytes


def split_note(note: bytes | str) -> tuple[bytes, list[SignatureLine]]:
    """A note's text and its signature lines, checked against the grammar but not verified.

    Refuses oversized notes, malformed lines and two lines by one key.
    """
    if isinstance(note, str):
        note = note.encode("utf-8")
    if not isinstance(note, bytes):
        raise NoteError("a signed note must be bytes or str")
    if len(note) > MAX_NOTE_BYTES:
        raise NoteError(f"signed note is {len(note)} bytes, over the {MAX_NOTE_BYTES} limit")
    _check_text(note)
    split = note.rfind(b"\n\n")
    if split < 0:
        raise NoteError("signed note has no blank line before its signatures")
    text, block = note[:split + 1], note[split + 2:]
    if not block:
        raise NoteError("signed note has no signature lines")
    if not block.endswith(b"\n"):
        raise NoteError("signed note does not end with a newline after its last signature")
    return text, parse_signature_lines(block)


def parse_signature_lines(block: bytes) -> list[SignatureLine]:
    """Signature lines, each ending in a newline (a note's tail, or a witness's answer)."""
    lines = _check_text(block)[:-1].split("\n") if block.endswith(b"\n") else None
    if not lines:
        raise NoteError("signature lines must each end with a newline")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"signed note has {len(lines)} signatures, over the {MAX_SIGNATURES} limit")
    seen: set[tuple[str, bytes]] = set()
    parsed = []
    for line in lines:
        if not line.startswith(_DASH):
            raise NoteError("malformed signature line in note (each must be '— <name> <base64>')")
        name, sep, blob = line[len(_DASH):].partition(" ")
        if not sep:
            raise NoteError("malformed signature line in note (each must be '— <name> <base64>')")
        check_key_name(name)
        raw = _b64decode_strict(blob, f"signature by {name}")
        if len(raw) < 5:
            raise NoteError(f"signature by {name} is too short")
        kid, sig = raw[:4], raw[4:]
        if (name, kid) in seen:
            raise NoteError(f"note has two signatures by {name}+{kid.hex()}")
        seen.add((name, kid))
        parsed.append(SignatureLine(name, kid, sig))
    return parsed


def open_note(note: bytes | str, verifier: NoteVerifier) -> bytes:
    """The note's text, once a signature by ``verifier`` checks out; NoteError otherwise.

    Signatures by other keys (witnesses, an older log key) are ignored, as the
    spec requires; a signature that claims ``verifier``'s name and id but does
    not verify rejects the whole note.
    """
    text, lines = split_note(note)
    verified = False
    for line in lines:
        if line.name != verifier.name or line.key_id != verifier.key_id:
            continue  # an unknown key: ignored
        if len(line.signature) != 64 or not verifier.verify(text, line.signature):
            raise NoteError(f"note signature by {verifier} does not verify")
        verified = True
    if not verified:
        raise NoteError(f"note is not signed by {verifier}")
    return text
