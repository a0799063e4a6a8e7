"""Verify an evidence package offline, cheapest checks first, failing closed at the first mismatch.

Order (each step trusts only what the steps before it proved):

1. the encoding: the one canonical JSON form, size limits, closed file names;
2. the checkpoint: signed by the log key, with at least K cosignatures from
   the witness keys the reader trusts (others ignored);
3. the leaves: exactly ``size`` of them, and their Merkle root is the
   checkpoint's, so they are the whole log as the witnesses saw it;
4. completeness: the package holds exactly the entries the leaves say
   concern the vendor (and the protocols of its bundles), none left out;
5. each entry: its inclusion proof, and every file's digest is the leaf's;
6. each protocol's signatures, each decline's signature, and each bundle,
   entry by entry, through the offline bundle verifier.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from crosslab.attest import merkle
from crosslab.bundle.metrics import MetricDefinition
from crosslab.evidence.bundles import BundleChecker
from crosslab.evidence.declined import verify_declined_entry
from crosslab.evidence.errors import EvidenceError
from crosslab.evidence.format import EvidencePackage, PackagedEntry, decode_package
from crosslab.evidence.leaves import Leaf, parse_leaves, required_entries
from crosslab.evidence.protocols import verify_protocol_entry
from crosslab.evidence.records import VerifiedEvidence
from crosslab.protocol.schema import Protocol
from crosslab.transparency import (
    Checkpoint,
    Cosignature,
    CosignerVerifier,
    NoteError,
    NoteVerifier,
    open_witnessed,
)
from crosslab.transparency.note import split_note


@dataclass(frozen=True)
class Trust:
    """What the reader trusts: the log's verifier key, witness keys, and how many of them must have cosigned."""

    log: NoteVerifier
    witnesses: tuple[CosignerVerifier, ...] = ()
    min_witnesses: int = 0

    @classmethod
    def parse(cls, log_key: str, witness_keys: Iterable[str] = (), min_witnesses: int | None = None) -> Trust:
        """From verifier key strings; ``min_witnesses`` defaults to every witness key given. NoteError if bad."""
        witnesses = tuple(CosignerVerifier.parse(w) for w in witness_keys)
        needed = len({(w.name, w.key_id) for w in witnesses}) if min_witnesses is None else min_witnesses
        return cls(NoteVerifier.parse(log_key), witnesses, needed)


def verify_package(data: bytes, trust: Trust, *, vendor: str | None = None,
                   definitions: Mapping[str, MetricDefinition] | None = None) -> VerifiedEvidence:
    """Every check, offline; EvidenceError with one line naming what did not match.

    ``vendor``: also require the package to be about that lab.
    ``definitions``: suite metric definitions to re-compute with (default: the installed suites').
    """
    package = decode_package(data)
    if vendor is not None and package.vendor != vendor:
        raise EvidenceError(f"package: it is about {package.vendor}, not {vendor}")
    try:
        witnessed = open_witnessed(package.checkpoint, trust.log, trust.witnesses, min_witnesses=trust.min_witnesses)
    except NoteError as exc:
        raise EvidenceError(f"package checkpoint: {exc}") from None
    return check_contents(package, witnessed.checkpoint, witnessed.cosignatures, definitions=definitions)


def unverified_checkpoint(package: EvidencePackage) -> Checkpoint:
    """The checkpoint's body, parsed without checking a signature: for the packer, which has no keys to trust."""
    try:
        body, _ = split_note(package.checkpoint)
        return Checkpoint.parse_body(body)
    except NoteError as exc:
        raise EvidenceError(f"package checkpoint: {exc}") from None


def check_contents(package: EvidencePackage, checkpoint: Checkpoint, cosignatures: tuple[Cosignature, ...] = (),
                   *, definitions: Mapping[str, MetricDefinition] | None = None) -> VerifiedEvidence:
    """Steps 3–6 against a checkpoint already trusted (or, for the packer, merely parsed)."""
    leaves = _leaves_match(package.leaves, checkpoint)
    by_index = {e.index: e for e in package.entries}
    _complete(package.vendor, leaves, by_index)
    for entry in package.entries:
        _entry_matches(entry, leaves[entry.index], package.leaves[entry.index], checkpoint)
    protocols: dict[str, Protocol] = {}
    declined = []
    groups: dict[str, list[tuple[Leaf, Mapping[str, bytes]]]] = {}
    for entry in package.entries:
        leaf = leaves[entry.index]
        if leaf.kind == "protocol":
            protocols[leaf.protocol_id] = verify_protocol_entry(leaf, entry.files)
        elif leaf.kind == "declined":
            declined.append(verify_declined_entry(leaf, entry.files))
        else:
            groups.setdefault(str(leaf.statement_sha256), []).append((leaf, entry.files))
    with tempfile.TemporaryDirectory(prefix="crosslab-evidence-") as tmp:
        checker = BundleChecker(Path(tmp), protocols, definitions)
        bundles = tuple(checker.verify(group) for group in groups.values())
    return VerifiedEvidence(package.vendor, checkpoint, tuple(cosignatures), tuple(leaves), protocols, bundles,
                            tuple(declined), tuple(by_index))


def _leaves_match(leaves: tuple[bytes, ...], checkpoint: Checkpoint) -> list[Leaf]:
    if len(leaves) != checkpoint.size:
        raise EvidenceError(f"package: {len(leaves)} log leaves; the checkpoint's tree has {checkpoint.size}")
    if merkle.root(leaves) != checkpoint.root:
        raise EvidenceError(f"package: the {len(leaves)} log leaves do not hash to the checkpoint's root "
                            "(one was changed, dropped or reordered)")
    return parse_leaves(leaves)


def _complete(vendor: str, leaves: list[Leaf], entries: Mapping[int, PackagedEntry]) -> None:
    """The package holds exactly the entries the leaves say it must: a vendor cannot leave one out."""
    required = required_entries(leaves, vendor)
    missing = [i for i in required if i not in entries]
    if missing:
        leaf = leaves[missing[0]]
        raise EvidenceError(f"package: incomplete: log entry {leaf.index} ({leaf.describe()}) is not in it"
                            + (f", nor {len(missing) - 1} more" if len(missing) > 1 else ""))
    extra = sorted(set(entries) - set(required))
    if extra:
        where = f"entry {extra[0]}"
        if extra[0] >= len(leaves):
            raise EvidenceError(f"package {where}: beyond the checkpoint's {len(leaves)} leaves")
        raise EvidenceError(f"package {where}: {leaves[extra[0]].describe()} is not part of {vendor}'s record")


def _entry_matches(entry: PackagedEntry, leaf: Leaf, raw: bytes, checkpoint: Checkpoint) -> None:
    where = f"entry {entry.index} ({leaf.kind})"
    if not merkle.verify_inclusion(raw, entry.index, checkpoint.size, list(entry.proof), checkpoint.root):
        raise EvidenceError(f"{where}: its inclusion proof does not lead to the checkpoint's root")
    if set(entry.files) != set(leaf.files):
        missing = sorted(set(leaf.files) - set(entry.files))
        what = f"{missing[0]} is missing" if missing else f"{sorted(set(entry.files) - set(leaf.files))[0]} " \
                                                            "is not in its leaf"
        raise EvidenceError(f"{where}: {what}")
    for name, data in entry.files.items():
        if hashlib.sha256(data).hexdigest() != leaf.files[name]:
            raise EvidenceError(f"{where}: {name}: its SHA-256 is not the one in the log leaf")
