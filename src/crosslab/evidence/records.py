"""What a verified package says, as plain frozen records: the API a summary page or a comparison reads.

Every record here is built only after its checks passed (``verify.py``);
nothing in it is the package's unverified claim.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from crosslab.bundle.verify import VerificationResult
from crosslab.evidence.leaves import Leaf
from crosslab.protocol.schema import Protocol
from crosslab.transparency import Checkpoint, Cosignature


@dataclass(frozen=True)
class VerifiedBundle:
    """A published bundle about the vendor, with the entries that grew it (countersignature, reveals).

    ``result`` is the offline verifier's result for the bundle as it stands
    after its last entry; ``files`` are those files; ``stages`` holds the
    verifier's result after each entry, in log order.
    """

    statement_sha256: str
    indices: tuple[int, ...]
    kinds: tuple[str, ...]
    protocol_id: str
    result: VerificationResult
    stages: tuple[VerificationResult, ...]
    files: Mapping[str, bytes]


@dataclass(frozen=True)
class VerifiedDecline:
    """The vendor's signed statement that it declined a protocol's round, and why."""

    index: int
    protocol: Protocol
    lab: str
    reason: str


@dataclass(frozen=True)
class VerifiedEvidence:
    """A package that passed every check: the vendor's complete record as of a witnessed checkpoint."""

    vendor: str
    checkpoint: Checkpoint
    cosignatures: tuple[Cosignature, ...]
    leaves: tuple[Leaf, ...]  # every leaf of the log at the checkpoint
    protocols: Mapping[str, Protocol]  # protocol id -> the published protocol its bundles were verified with
    bundles: tuple[VerifiedBundle, ...]  # in log order of their first entry
    declined: tuple[VerifiedDecline, ...]
    indices: tuple[int, ...]  # every log index the package holds: the vendor's entries and their protocols'
