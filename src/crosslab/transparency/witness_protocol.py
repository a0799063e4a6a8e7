"""The body of a C2SP tlog-witness ``add-checkpoint`` request, written and parsed strictly.

``old <size>\\n``, up to 63 base64 consistency-proof hashes one per line, a
blank line, then the signed checkpoint note. The log writes it, the witness
parses it; the answer is signature lines (200) or a status code that says
what was wrong: 404 unknown log, 403 no trusted signature, 400 old size
above the checkpoint's, 409 stale old size (body: the witness's size in
decimal, Content-Type ``text/x.tlog.size``), 422 a proof that does not verify.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from crosslab.transparency.errors import NoteError

__all__ = ["ADD_CHECKPOINT_PATH", "MAX_PROOF_LINES", "SIZE_CONTENT_TYPE", "AddCheckpoint"]

ADD_CHECKPOINT_PATH = "/add-checkpoint"
SIZE_CONTENT_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63
MAX_BODY_BYTES = 80 * 1024  # 63 proof lines and a note at its 64 KiB limit
_OLD = re.compile(r"old (0|[1-9][0-9]{0,18})")


@dataclass(frozen=True)
class AddCheckpoint:
    """Please cosign ``note``; it extends the size ``old_size`` you last cosigned, by ``proof``."""

    old_size: int
    proof: tuple[bytes, ...]
    note: bytes

    def encode(self) -> bytes:
        lines = [f"old {self.old_size}"] + [base64.b64encode(h).decode() for h in self.proof]
        return ("\n".join(lines) + "\n\n").encode() + self.note

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpoint:
        """Parse a request body; NoteError (one line) if it is off the grammar."""
        if not isinstance(body, bytes) or len(body) > MAX_BODY_BYTES:
            raise NoteError(f"add-checkpoint body is over {MAX_BODY_BYTES} bytes")
        head, sep, note = body.partition(b"\n\n")
        if not sep:
            raise NoteError("add-checkpoint body has no blank line before the checkpoint")
        try:
            lines = head.decode("ascii").split("\n")
        except UnicodeDecodeError:
            raise NoteError("add-checkpoint header is not ASCII") from None
        match = _OLD.fullmatch(lines[0])
        if not match:
            raise NoteError("add-checkpoint body does not start with 'old <size>'")
        if len(lines) - 1 > MAX_PROOF_LINES:
            raise NoteError(f"add-checkpoint body has {len(lines) - 1} proof lines; at most {MAX_PROOF_LINES}")
        proof = []
        for line in lines[1:]:
            try:
                raw = base64.b64decode(line, validate=True)
            except binascii.Error:
                raw = b""
            if len(raw) != 32 or base64.b64encode(raw).decode() != line:
                raise NoteError("add-checkpoint proof line is not the base64 of a 32-byte hash")
            proof.append(raw)
        return cls(int(match.group(1)), tuple(proof), note)
