"""The log's own Ed25519 signing key, in the file format of Go's note signer keys.

The file holds one line, ``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 ‖
32-byte seed)>``, which is what golang.org/x/mod/sumdb/note's ``NewSigner``
reads, so the key can be moved to Go tooling (a witness, a tile server) as is.
Like ssh, loading refuses a file that group or others can read.
"""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from crosslab.core.private_file import read_private, write_private
from crosslab.transparency.errors import NoteError
from crosslab.transparency.note import ALG_ED25519, NoteVerifier, check_key_name, key_id, sign_note

__all__ = ["LogKey"]

_PREFIX = "PRIVATE+KEY+"
_MAX_FILE = 4096


class LogKey:
    """An Ed25519 private key and the note key name it signs checkpoints under.

    ``ALG`` and ``VERIFIER`` name the signature type; a witness's key
    (transparency/cosignature.py) is the same file format with type 0x04.
    """

    ALG = ALG_ED25519
    VERIFIER: type[NoteVerifier] = NoteVerifier

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self.name = check_key_name(name)
        self.private_key = private_key
        self.verifier = self.VERIFIER.from_public_key(name, private_key.public_key())

    @classmethod
    def generate(cls, name: str) -> LogKey:
        return cls(name, Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> bytes:
        return self.verifier.key_id

    def verifier_key(self) -> str:
        """``<name>+<hex key id>+<base64(0x01 ‖ public key)>``: what clients configure to trust this log."""
        return str(self.verifier)

    def sign_note(self, text: bytes) -> bytes:
        return sign_note(text, self.name, self.private_key)

    def signer_key(self) -> str:
        """The private key as Go's note signer key string (secret!)."""
        seed = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        encoded = base64.b64encode(bytes([self.ALG]) + seed).decode()
        return f"{_PREFIX}{self.name}+{self.key_id.hex()}+{encoded}"

    @classmethod
    def from_signer_key(cls, skey: str) -> LogKey:
        """Parse ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>``, checking the id."""
        if not skey.startswith(_PREFIX):
            raise NoteError("a log key starts with PRIVATE+KEY+")
        parts = skey[len(_PREFIX):].split("+", 2)
        if len(parts) != 3:
            raise NoteError("a log key is PRIVATE+KEY+<name>+<key id>+<key>")
        name, hex_id, encoded = parts
        try:
            raw = base64.b64decode(encoded.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            raise NoteError("log key material is not base64") from None
        if len(raw) != 33 or raw[0] != cls.ALG or base64.b64encode(raw).decode() != encoded:
            raise NoteError(f"key is not an Ed25519 note key of type 0x{cls.ALG:02x} "
                            f"(0x{cls.ALG:02x} followed by a 32-byte seed)")
        key = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if hex_id != key_id(name, key.verifier.public_key, cls.ALG).hex():
            raise NoteError(f"log key id {hex_id!r} does not match its name and key")
        return key

    def save(self, path: Path | str) -> Path:
        """Write the key to a new file, mode 0600; never replaces an existing file."""
        path = Path(path)
        write_private(path, (self.signer_key() + "\n").encode("ascii"))
        return path

    @classmethod
    def load(cls, path: Path | str) -> LogKey:
        """Read a key file written by ``save`` (or Go's note tooling); refuse it if others can read it."""
        path = Path(path)
        data = read_private(path, NoteError, "log key file", limit=_MAX_FILE)
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            raise NoteError(f"log key file {path} is not ASCII") from None
        if len(data) > _MAX_FILE or not text.endswith("\n") or text.count("\n") != 1:
            raise NoteError(f"log key file {path} must hold exactly one line")
        try:
            return cls.from_signer_key(text[:-1])
        except NoteError as exc:
            raise NoteError(f"log key file {path}: {exc}") from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.verifier_key()!r})"
