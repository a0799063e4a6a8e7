"""Attestation primitives: DSSE envelopes, in-toto statements, Merkle trees.

These are standard formats on purpose, so a buyer can check crosslab bundles
with any DSSE / in-toto / RFC 9162 tooling, not only with crosslab.
"""

from crosslab.attest.errors import VerificationError

__all__ = ["VerificationError"]
