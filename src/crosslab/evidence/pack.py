"""Making a package: fetch a vendor's record from a registry, check it all, and only then write it.

The packer needs no trust of its own (the buyer brings that to ``verify``):
it checks what it fetched the same way a buyer will, short of whose keys
signed the checkpoint, so a registry serving something inconsistent is
caught before a file exists. With ``log_key`` it checks the log's signature too.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from crosslab.bundle.metrics import MetricDefinition
from crosslab.core.atomic import write_atomically
from crosslab.evidence.errors import EvidenceError
from crosslab.evidence.fetch import Progress, RegistryReader
from crosslab.evidence.format import EvidencePackage, PackagedEntry, encode_package, entry_files
from crosslab.evidence.leaves import parse_leaves, required_entries
from crosslab.evidence.records import VerifiedEvidence
from crosslab.evidence.verify import check_contents, unverified_checkpoint
from crosslab.transparency import Checkpoint, NoteError, NoteVerifier


def fetch_checkpoint(reader: RegistryReader, size: int | None) -> bytes:
    """The cosigned checkpoint at ``size`` (default: the latest), else the log-signed one if it is that size."""
    latest = reader.latest_checkpoint()
    want = _size_of(latest) if size is None else size
    cosigned = reader.cosigned_checkpoint(want)
    if cosigned is not None:
        if _size_of(cosigned) != want:
            raise EvidenceError(f"{reader.base}/api/v1/checkpoints/{want}: serves a checkpoint of another size")
        return cosigned
    if _size_of(latest) != want:
        raise EvidenceError(f"the registry serves no checkpoint of size {want} (its latest is {_size_of(latest)}, "
                            "and it has no /api/v1/checkpoints/{size})")
    return latest


def _size_of(note: bytes) -> int:
    return unverified_checkpoint(EvidencePackage("-", note, (), ())).size


def fetch_package(url: str, vendor: str, *, size: int | None = None, progress: Progress | None = None,
                  ) -> EvidencePackage:
    """Everything a package for ``vendor`` holds, fetched from the registry at ``url`` (not yet checked)."""
    reader = RegistryReader(url)
    note = fetch_checkpoint(reader, size)
    n = _size_of(note)
    leaves = reader.leaves(n, progress)
    parsed = parse_leaves(leaves)
    wanted = required_entries(parsed, vendor)
    entries = []
    for done, index in enumerate(wanted, start=1):
        names = entry_files(parsed[index].files)
        files = {name: reader.file(index, name, limit) for name, limit in sorted(names.items())}
        entries.append(PackagedEntry(index, tuple(reader.inclusion_proof(index, n)), files))
        if progress:
            progress("entries", done, len(wanted))
    return EvidencePackage(vendor, note, tuple(leaves), tuple(entries))


def pack(url: str, vendor: str, out: Path, *, size: int | None = None, log_key: str | None = None,
         progress: Progress | None = None, definitions: Mapping[str, MetricDefinition] | None = None,
         ) -> VerifiedEvidence:
    """Fetch, check and atomically write ``vendor``'s package to ``out``; returns what the checks found."""
    package = fetch_package(url, vendor, size=size, progress=progress)
    checkpoint = unverified_checkpoint(package)
    if log_key is not None:
        try:
            checkpoint = Checkpoint.parse(package.checkpoint, NoteVerifier.parse(log_key))
        except NoteError as exc:
            raise EvidenceError(f"the registry's checkpoint: {exc}") from None
    if progress:
        progress("checks", 0, 1)
    found = check_contents(package, checkpoint, definitions=definitions)
    if progress:
        progress("checks", 1, 1)
    write_atomically(out, encode_package(package))
    return found
