"""The registry's transparency log: an append-only RFC 9162 Merkle log in SQL, C2SP checkpoints and tiles.

Layering: imports only crosslab.core, crosslab.attest, crosslab.transparency and third-party
libraries, so anything above (the registry app, the CLI) can use it. The
design, the tables and the kill-safety argument are in docs/registry_log.md.
"""

from crosslab.attest.merkle import verify_consistency, verify_inclusion
from crosslab.registry.tlog.errors import LogError, LogRequestError, NoteError, TileNotFound
from crosslab.registry.tlog.log import TransparencyLog
from crosslab.transparency.checkpoint import Checkpoint
from crosslab.transparency.keys import LogKey
from crosslab.transparency.note import NoteVerifier, open_note, sign_note
from crosslab.transparency.tiles import ENTRY_MAX, TilePath, parse_tile_path

__all__ = [
    "ENTRY_MAX",
    "Checkpoint",
    "LogError",
    "LogKey",
    "LogRequestError",
    "NoteError",
    "NoteVerifier",
    "TileNotFound",
    "TilePath",
    "TransparencyLog",
    "open_note",
    "parse_tile_path",
    "sign_note",
    "verify_consistency",
    "verify_inclusion",
]
