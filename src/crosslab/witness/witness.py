"""What a witness checks before it cosigns a checkpoint (C2SP tlog-witness ``add-checkpoint``).

The order is the spec's: a body off the grammar (400); a log it does not
know (404); no signature by that log's trusted key (403); an old size above
the checkpoint's (400); then, atomically with storing the new checkpoint:
an old size that is not the size it last cosigned (409, telling its size),
the same size with a different root (409: a fork), a consistency proof that
does not verify (422). Only then does it cosign. A log that shows one
history to this witness can never get a checkpoint of another cosigned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crosslab.attest.merkle import EMPTY_ROOT, verify_consistency
from crosslab.core.errors import CrosslabError
from crosslab.transparency.checkpoint import Checkpoint
from crosslab.transparency.cosignature import WitnessKey
from crosslab.transparency.errors import NoteError
from crosslab.transparency.note import NoteVerifier, open_note, split_note
from crosslab.transparency.witness_protocol import AddCheckpoint
from crosslab.witness.state import Latest, WitnessState

__all__ = ["Refusal", "Witness"]


class Refusal(CrosslabError):
    """The witness will not cosign: an HTTP ``status``, one line saying why, and for a stale size, its own size."""

    def __init__(self, status: int, message: str, size: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.size = size


@dataclass(frozen=True)
class _Request:
    origin: str
    checkpoint: Checkpoint
    text: bytes
    request: AddCheckpoint


class Witness:
    """Cosigns checkpoints of the logs it trusts, each only if it extends the last one it cosigned."""

    def __init__(self, key: WitnessKey, logs: Iterable[NoteVerifier], state: WitnessState) -> None:
        self.key = key
        self.state = state
        self.logs: dict[str, NoteVerifier] = {}
        for log in logs:  # a log's origin is its key name (the registry names its key after its origin)
            if log.name in self.logs:
                raise NoteError(f"two keys given for log {log.name}; a witness trusts one key per origin")
            self.logs[log.name] = log

    def add_checkpoint(self, body: bytes) -> bytes:
        """The cosignature line for the checkpoint in ``body`` once every check passes; Refusal otherwise."""
        req = self._authenticated(body)
        try:
            self.state.advance(req.origin, lambda latest: self._extends(req, latest))
        except Refusal as refusal:
            if refusal.status != 409 or refusal.size is None:  # a fork or a bad proof: keep it as evidence
                self.state.record_refusal(req.origin, refusal.status, str(refusal), body)
            raise
        return self.key.cosign(req.text)

    def _authenticated(self, body: bytes) -> _Request:
        try:
            request = AddCheckpoint.parse(body)
            text, _ = split_note(request.note)
        except NoteError as exc:
            raise Refusal(400, f"malformed add-checkpoint body: {exc}") from None
        origin = text.split(b"\n", 1)[0].decode("utf-8")  # split_note checked it is UTF-8
        verifier = self.logs.get(origin)
        if verifier is None:
            raise Refusal(404, f"unknown log {origin!r}")
        try:
            open_note(request.note, verifier)
        except NoteError as exc:
            raise Refusal(403, f"checkpoint not signed by the trusted key of {origin}: {exc}") from None
        try:
            checkpoint = Checkpoint.parse_body(text)
        except NoteError as exc:
            raise Refusal(400, f"malformed checkpoint: {exc}") from None
        if request.old_size > checkpoint.size:
            raise Refusal(400, f"old size {request.old_size} is above the checkpoint's size {checkpoint.size}")
        return _Request(origin, checkpoint, text, request)

    @staticmethod
    def _extends(req: _Request, latest: Latest | None) -> Latest:
        """Runs under the state's write lock: refuse, or return the new latest checkpoint to store."""
        size, root = (0, EMPTY_ROOT) if latest is None else (latest.size, latest.root)
        new = req.checkpoint
        if req.request.old_size != size:
            raise Refusal(409, f"old size {req.request.old_size} is not the size last cosigned for "
                               f"{req.origin}, {size}", size=size)
        if new.size == size and new.root != root:
            raise Refusal(409, f"checkpoint of size {size} has a different root from the one cosigned: a fork")
        if not verify_consistency(size, new.size, root, new.root, list(req.request.proof)):
            raise Refusal(422, f"consistency proof from size {size} to {new.size} does not verify")
        return Latest(new.size, new.root, req.request.note)
