"""Evidence packages: a vendor's published record, with proofs and a witnessed checkpoint, verified offline.

``pack`` fetches a vendor's record from a registry and writes one
``crosslab-evidence/1`` file; ``verify_package`` checks it with no network
against the log key and witness keys the reader trusts, and returns a
``VerifiedEvidence`` (docs/evidence.md). Sits below the registry: it reads
the registry's API and leaf format, never its code.
"""

from crosslab.evidence.errors import EvidenceError
from crosslab.evidence.format import FORMAT, EvidencePackage, PackagedEntry, decode_package, encode_package
from crosslab.evidence.leaves import Leaf
from crosslab.evidence.pack import fetch_package, pack
from crosslab.evidence.records import VerifiedBundle, VerifiedDecline, VerifiedEvidence
from crosslab.evidence.verify import Trust, check_contents, verify_package

__all__ = [
    "FORMAT",
    "EvidenceError",
    "EvidencePackage",
    "Leaf",
    "PackagedEntry",
    "Trust",
    "VerifiedBundle",
    "VerifiedDecline",
    "VerifiedEvidence",
    "check_contents",
    "decode_package",
    "encode_package",
    "fetch_package",
    "pack",
    "verify_package",
]
