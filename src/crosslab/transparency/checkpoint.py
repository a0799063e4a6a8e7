"""C2SP tlog-checkpoint: the signed tree head, a three-line note body.

Body: the origin line, the tree size in decimal (no leading zeros), the root
hash in base64, each ending in a newline. This log writes no extension lines
and its parser refuses them, together with anything else off the grammar.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from crosslab.transparency.errors import NoteError
from crosslab.transparency.note import CONTROL_CHARS, NoteVerifier, open_note

__all__ = ["Checkpoint"]

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")
MAX_SIZE = (1 << 63) - 1


@dataclass(frozen=True)
class Checkpoint:
    """Tree ``size`` of the log ``origin`` has Merkle root ``root`` (32 bytes)."""

    origin: str
    size: int
    root: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin or "\n" in self.origin or CONTROL_CHARS.search(self.origin):
            raise NoteError("a checkpoint origin is a non-empty line without control characters")
        if not isinstance(self.size, int) or isinstance(self.size, bool) or not 0 <= self.size <= MAX_SIZE:
            raise NoteError(f"checkpoint size {self.size!r} is not an integer in 0..2^63-1")
        if not isinstance(self.root, bytes) or len(self.root) != 32:
            raise NoteError("a checkpoint root hash is 32 bytes")

    def body(self) -> bytes:
        """The note text that is signed: ``origin\\nsize\\nbase64(root)\\n``."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n".encode()

    @classmethod
    def parse_body(cls, text: bytes) -> Checkpoint:
        """Parse a checkpoint body (the note text, already verified)."""
        try:
            decoded = text.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("checkpoint is not valid UTF-8") from None
        if not decoded.endswith("\n"):
            raise NoteError("checkpoint body does not end with a newline")
        lines = decoded[:-1].split("\n")
        if len(lines) != 3:
            raise NoteError(f"checkpoint body has {len(lines)} lines; this log uses exactly 3 "
                            f"(origin, size, root) and no extension lines")
        origin, size, root = lines
        if not origin:
            raise NoteError("checkpoint origin line is empty")
        if not _DECIMAL.fullmatch(size) or int(size) > MAX_SIZE:
            raise NoteError(f"checkpoint size {size!r} is not a decimal number without leading zeros")
        try:
            raw = base64.b64decode(root.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise NoteError("checkpoint root hash is not standard base64") from None
        if len(raw) != 32 or base64.b64encode(raw).decode() != root:
            raise NoteError("checkpoint root hash is not the canonical base64 of 32 bytes")
        return cls(origin, int(size), raw)

    @classmethod
    def parse(cls, note: bytes | str, verifier: NoteVerifier | str, origin: str | None = None) -> Checkpoint:
        """Verify a signed checkpoint note with ``verifier`` (a NoteVerifier or verifier key string) and parse it.

        With ``origin``, also require that origin line.
        """
        if isinstance(verifier, str):
            verifier = NoteVerifier.parse(verifier)
        checkpoint = cls.parse_body(open_note(note, verifier))
        if origin is not None and checkpoint.origin != origin:
            raise NoteError(f"checkpoint is for log {checkpoint.origin!r}, not {origin!r}")
        return checkpoint
