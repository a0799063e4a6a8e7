"""Transparency-log formats: C2SP signed notes, checkpoints, cosignatures and the witness protocol.

Formats only, no storage and no network: the registry's log writes them, a
witness and a monitor check them, and the evidence verifier reads them
offline. Imports only crosslab.core, crosslab.attest and `cryptography`.
"""

from crosslab.transparency.checkpoint import Checkpoint
from crosslab.transparency.cosignature import (
    Cosignature,
    CosignerVerifier,
    WitnessedCheckpoint,
    WitnessKey,
    open_witnessed,
)
from crosslab.transparency.errors import NoteError
from crosslab.transparency.keys import LogKey
from crosslab.transparency.note import NoteVerifier, open_note, sign_note

__all__ = [
    "Checkpoint",
    "Cosignature",
    "CosignerVerifier",
    "LogKey",
    "NoteError",
    "NoteVerifier",
    "WitnessKey",
    "WitnessedCheckpoint",
    "open_note",
    "open_witnessed",
    "sign_note",
]
