"""The ``crosslab-evidence/1`` file: one canonical JSON object, binary data in base64.

In the spirit of C2SP tlog-proof, a package carries what a reader needs to
check a vendor's record against one witnessed checkpoint with no network:

    {"format": "crosslab-evidence/1", "vendor": LAB,
     "checkpoint": NOTE,                 # the checkpoint note with its log signature and cosignatures
     "leaves": [B64, ...],               # every log leaf, 0 .. size-1
     "entries": [{"index": I, "proof": [B64 hash, ...], "files": {NAME: B64, ...}}, ...]}

There is exactly one encoding of each package: keys sorted, no whitespace
(``core.canonical``), entries by ascending index, canonical base64. Reading
refuses any other bytes, so a package is its own digest. File names come
from a closed set (a bundle's files, its reveals, a declined statement) and
are never paths outside a bundle directory. Sizes are capped before decoding.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from crosslab.bundle.reader import LIMITS, REVEAL_LIMIT
from crosslab.core.canonical import canonical_json
from crosslab.evidence.errors import EvidenceError

FORMAT = "crosslab-evidence/1"
MiB = 1024 * 1024
#: The largest package read; far above a vendor's record, far below what would exhaust a buyer's machine.
MAX_PACKAGE_BYTES = 1024 * MiB
MAX_LEAF_BYTES = 65535  # the log refuses larger entries (tlog-tiles' uint16 length)
MAX_PROOF_HASHES = 64
DECLINED_STATEMENT = "declined.dsse.json"
_REVEAL = re.compile(r"reveals/[0-9]{4}\.jsonl")
_TOP = {"format", "vendor", "checkpoint", "leaves", "entries"}
_ENTRY = {"index", "proof", "files"}


def file_limit(name: str) -> int | None:
    """The size limit of a file a package may carry, or None if no entry ever publishes that name."""
    if name in LIMITS:
        return LIMITS[name]
    if name == DECLINED_STATEMENT:
        return MiB
    if _REVEAL.fullmatch(name):
        return REVEAL_LIMIT
    return None


@dataclass(frozen=True)
class PackagedEntry:
    """One log entry in the package: its index, its inclusion proof, and the bytes of every file it published."""

    index: int
    proof: tuple[bytes, ...]
    files: Mapping[str, bytes]


@dataclass(frozen=True)
class EvidencePackage:
    """A decoded package; nothing in it is verified yet."""

    vendor: str
    checkpoint: bytes
    leaves: tuple[bytes, ...]
    entries: tuple[PackagedEntry, ...]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode_package(package: EvidencePackage) -> bytes:
    """The package's one encoding."""
    try:
        note = package.checkpoint.decode("utf-8")
    except UnicodeDecodeError:
        raise EvidenceError("package: the checkpoint note is not UTF-8 text") from None
    return canonical_json({
        "format": FORMAT, "vendor": package.vendor, "checkpoint": note,
        "leaves": [_b64(leaf) for leaf in package.leaves],
        "entries": [{"index": e.index, "proof": [_b64(h) for h in e.proof],
                     "files": {name: _b64(data) for name, data in e.files.items()}} for e in package.entries],
    })


def _unb64(text: Any, where: str, limit: int) -> bytes:
    if not isinstance(text, str) or len(text) > (limit + 2) // 3 * 4:
        raise EvidenceError(f"{where}: not base64 of at most {limit:,} bytes")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise EvidenceError(f"{where}: not standard base64") from None
    if _b64(raw) != text:
        raise EvidenceError(f"{where}: not canonical base64")
    return raw


def _entry(obj: Any, number: int) -> PackagedEntry:
    where = f"package entries[{number}]"
    if not isinstance(obj, dict) or set(obj) != _ENTRY:
        raise EvidenceError(f"{where}: not an object of exactly index, proof, files")
    index, proof, files = obj["index"], obj["proof"], obj["files"]
    if type(index) is not int or index < 0:
        raise EvidenceError(f"{where}.index: not a log index")
    where = f"package entry {index}"
    if not isinstance(proof, list) or len(proof) > MAX_PROOF_HASHES:
        raise EvidenceError(f"{where}: proof is not a list of at most {MAX_PROOF_HASHES} hashes")
    hashes = tuple(_unb64(h, f"{where}: proof hash {k}", 32) for k, h in enumerate(proof))
    if any(len(h) != 32 for h in hashes):
        raise EvidenceError(f"{where}: a proof hash is not 32 bytes")
    if not isinstance(files, dict) or not files:
        raise EvidenceError(f"{where}: files is not a non-empty object")
    decoded = {}
    for name, text in files.items():
        limit = file_limit(name)
        if limit is None:
            raise EvidenceError(f"{where}: {name[:80]!r} is not a file an entry publishes")
        decoded[name] = _unb64(text, f"{where}: {name}", limit)
    return PackagedEntry(index, hashes, decoded)


def decode_package(data: bytes) -> EvidencePackage:
    """Parse a package, refusing anything but its one canonical encoding; EvidenceError (one line) otherwise."""
    if not isinstance(data, bytes) or len(data) > MAX_PACKAGE_BYTES:
        raise EvidenceError(f"package: over the {MAX_PACKAGE_BYTES // MiB} MiB limit")
    try:
        obj: Any = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise EvidenceError(f"package: not JSON ({str(exc).splitlines()[0][:120]})") from None
    if not isinstance(obj, dict) or set(obj) != _TOP:
        raise EvidenceError("package: not an object of exactly format, vendor, checkpoint, leaves, entries")
    if obj["format"] != FORMAT:
        raise EvidenceError(f"package: format is {str(obj['format'])[:40]!r}, not {FORMAT}")
    if canonical_json(obj) != data:
        raise EvidenceError("package: not in its canonical encoding (sorted keys, no whitespace, no duplicate "
                            "keys); it was edited after packing")
    vendor, note, leaves, entries = obj["vendor"], obj["checkpoint"], obj["leaves"], obj["entries"]
    if not isinstance(vendor, str) or not vendor or len(vendor) > 200:
        raise EvidenceError("package: vendor is not a lab id")
    if not isinstance(note, str):
        raise EvidenceError("package: checkpoint is not a signed note")
    if not isinstance(leaves, list) or not isinstance(entries, list):
        raise EvidenceError("package: leaves and entries must be lists")
    decoded_leaves = tuple(_unb64(leaf, f"package leaf {i}", MAX_LEAF_BYTES) for i, leaf in enumerate(leaves))
    decoded = tuple(_entry(e, k) for k, e in enumerate(entries))
    indices = [e.index for e in decoded]
    if indices != sorted(set(indices)):
        raise EvidenceError("package: entries are not in strictly ascending index order (one is duplicated or "
                            "moved)")
    try:
        checkpoint = note.encode("utf-8")
    except UnicodeEncodeError:
        raise EvidenceError("package: checkpoint is not valid UTF-8 text") from None
    return EvidencePackage(vendor, checkpoint, decoded_leaves, decoded)


def entry_files(names: Mapping[str, str]) -> dict[str, int]:
    """Each file name a leaf publishes with its size limit; EvidenceError for a name no entry publishes."""
    out = {}
    for name in names:
        limit = file_limit(name)
        if limit is None:
            raise EvidenceError(f"{name[:80]!r} is not a file an entry publishes")
        out[name] = limit
    return out


__all__ = ["DECLINED_STATEMENT", "FORMAT", "EvidencePackage", "PackagedEntry", "decode_package",
           "encode_package", "entry_files", "file_limit"]
