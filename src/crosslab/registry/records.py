"""A lab's record as the registry holds it, put through the same checks as a buyer's evidence package.

The comparison page and ``crosslab evidence compare`` must not disagree, so
the page does not read its own tables' summaries: it builds, for each lab,
the package a packer would fetch at the latest checkpoint (every leaf, the
lab's entries with their files and inclusion proofs) and verifies it with
``evidence.check_contents``, bundles re-verified. That costs a bundle
verification per entry on each request; fine for the logs a round produces,
a cache for a large one.
"""

from __future__ import annotations

from sqlalchemy import Connection

from crosslab.core.errors import CrosslabError
from crosslab.evidence import EvidencePackage, PackagedEntry, VerifiedEvidence, check_contents
from crosslab.evidence.leaves import Leaf, parse_leaves, required_entries
from crosslab.registry import queries
from crosslab.registry.store import Registry
from crosslab.registry.tlog.store import read_entries
from crosslab.transparency import Checkpoint

__all__ = ["UnknownLab", "lab_records"]


class UnknownLab(CrosslabError, LookupError):
    """No entry of the log names this lab."""


def lab_records(registry: Registry, labs: list[str]) -> list[VerifiedEvidence]:
    """Each lab's complete record at the latest checkpoint, verified; UnknownLab, or EvidenceError if one fails."""
    log = registry.log
    note = log.latest_checkpoint()
    checkpoint = Checkpoint.parse(note, log.key.verifier)
    with registry.engine.connect() as conn:
        leaves = tuple(e for _, e in read_entries(conn, 0, checkpoint.size))
        parsed = parse_leaves(leaves)
        known = {leaf.lab for leaf in parsed} | {leaf.evaluated for leaf in parsed if leaf.evaluated}
        records = []
        for lab in labs:
            if lab not in known:
                raise UnknownLab(f"no lab {lab} in the log")
            entries = tuple(_entry(conn, registry, parsed[i], checkpoint.size)
                            for i in required_entries(parsed, lab))
            records.append(check_contents(EvidencePackage(lab, note, leaves, entries), checkpoint))
    return records


def _entry(conn: Connection, registry: Registry, leaf: Leaf, size: int) -> PackagedEntry:
    files = {name: queries.file_bytes(conn, leaf.index, name) for name in leaf.files}
    return PackagedEntry(leaf.index, tuple(registry.log.inclusion_proof(leaf.index, size)), files)
