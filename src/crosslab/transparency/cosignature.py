"""C2SP tlog-cosignature/v1 with Ed25519: a witness's timestamped signature on a checkpoint.

A cosignature is one more signature line on the checkpoint note. Its key id
uses signature type 0x04, SHA-256(name ‖ 0x0A ‖ 0x04 ‖ key)[:4], and its
bytes are key id ‖ big-endian u64 timestamp ‖ Ed25519 signature over
``cosignature/v1\\ntime <timestamp>\\n`` followed by the checkpoint body. It
says: as of that time, this is the largest consistent tree head the witness
has seen for the log. Clients count cosignatures from the witness keys they
trust and ignore every other line.
"""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from crosslab.transparency.checkpoint import Checkpoint
from crosslab.transparency.errors import NoteError
from crosslab.transparency.keys import LogKey
from crosslab.transparency.note import NoteVerifier, SignatureLine, open_note, split_note

__all__ = [
    "ALG_COSIGNATURE_V1",
    "Cosignature",
    "CosignerVerifier",
    "WitnessKey",
    "WitnessedCheckpoint",
    "cosigned_message",
    "open_witnessed",
    "verified_cosignatures",
]

ALG_COSIGNATURE_V1 = 0x04
MAX_TIMESTAMP = (1 << 63) - 1
_HEADER = b"cosignature/v1\n"


def cosigned_message(body: bytes, timestamp: int) -> bytes:
    """What a witness signs: the header line, the time line, then the checkpoint body."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise NoteError(f"cosignature timestamp {timestamp} is not in 0..2^63-1")
    return _HEADER + f"time {timestamp}\n".encode() + body


class CosignerVerifier(NoteVerifier):
    """A trusted witness key: name and Ed25519 public key, verifier key type 0x04."""

    ALG = ALG_COSIGNATURE_V1

    def timestamp_and_verify(self, body: bytes, raw: bytes) -> int | None:
        """The timestamp of a cosignature ``raw`` (u64 ‖ signature) on ``body``, or None if it does not verify."""
        if len(raw) != 8 + 64:
            return None
        (timestamp,) = struct.unpack(">Q", raw[:8])
        if timestamp > MAX_TIMESTAMP:
            return None
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(raw[8:], cosigned_message(body, timestamp))
        except (InvalidSignature, ValueError):
            return None
        return timestamp


class WitnessKey(LogKey):
    """A witness's private key: the note signer key file format, signature type 0x04."""

    ALG = ALG_COSIGNATURE_V1
    VERIFIER = CosignerVerifier

    def sign_note(self, text: bytes) -> bytes:  # a witness cosigns; it never signs a plain note
        raise NoteError("a witness key makes cosignatures, not note signatures")

    def cosign(self, body: bytes, timestamp: int | None = None) -> bytes:
        """One signature line (ending in a newline) cosigning the checkpoint ``body`` at ``timestamp``."""
        when = int(time.time()) if timestamp is None else timestamp
        signature = self.private_key.sign(cosigned_message(body, when))
        blob = base64.b64encode(self.key_id + struct.pack(">Q", when) + signature).decode()
        return f"— {self.name} {blob}\n".encode()


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: which trusted witness, and when it says it saw the checkpoint."""

    witness: CosignerVerifier
    timestamp: int


@dataclass(frozen=True)
class WitnessedCheckpoint:
    """A checkpoint verified under the log key, with the trusted cosignatures it carries."""

    checkpoint: Checkpoint
    cosignatures: tuple[Cosignature, ...]


def verified_cosignatures(body: bytes, lines: Iterable[SignatureLine],
                          witnesses: Iterable[CosignerVerifier]) -> list[Cosignature]:
    """The cosignatures in ``lines`` by trusted ``witnesses``; lines by unknown keys are ignored.

    A line that claims a trusted witness's name and key id but does not
    verify is refused: it is forged or corrupt, never silently skipped.
    """
    trusted = {(w.name, w.key_id): w for w in witnesses}
    found = []
    for line in lines:
        witness = trusted.get((line.name, line.key_id))
        if witness is None:
            continue
        timestamp = witness.timestamp_and_verify(body, line.signature)
        if timestamp is None:
            raise NoteError(f"cosignature by witness {witness.name} does not verify")
        found.append(Cosignature(witness, timestamp))
    return found


def open_witnessed(note: bytes | str, log: NoteVerifier | str, witnesses: Iterable[CosignerVerifier | str] = (),
                   *, min_witnesses: int = 0, origin: str | None = None) -> WitnessedCheckpoint:
    """Verify a checkpoint note under the log key and at least ``min_witnesses`` trusted cosignatures.

    Witness keys the caller does not list are ignored, however many there are.
    """
    verifier = NoteVerifier.parse(log) if isinstance(log, str) else log
    trusted = [CosignerVerifier.parse(w) if isinstance(w, str) else w for w in witnesses]
    checkpoint = Checkpoint.parse_body(open_note(note, verifier))
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"checkpoint is for log {checkpoint.origin!r}, not {origin!r}")
    body, lines = split_note(note)
    cosignatures = tuple(verified_cosignatures(body, lines, trusted))
    if len(cosignatures) < min_witnesses:
        raise NoteError(f"checkpoint carries {len(cosignatures)} cosignature(s) from trusted witnesses; "
                        f"{min_witnesses} required")
    return WitnessedCheckpoint(checkpoint, cosignatures)
