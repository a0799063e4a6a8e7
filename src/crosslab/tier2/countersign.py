"""The evaluated lab countersigns its tier-2 bundle, after checking its private report, and may reply.

A lab countersigns only what it has checked in full: the bundle verifies, and
its private report (decrypted with the lab's own age key) opens every stub,
so the rollouts the public counts are the ones the lab was shown. The
signature goes into the evaluator's statement envelope; a reply is a separate
statement that names the exact statement it answers, as in tier 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crosslab.attest.errors import VerificationError
from crosslab.bundle import layout
from crosslab.bundle.countersign import add_countersignature
from crosslab.bundle.installed import installed_definitions
from crosslab.identity.keys import PublicIdentity, raw_public_bytes
from crosslab.protocol.tier2 import parse_tier2_protocol
from crosslab.tier2.verify import Tier2Verification, verify_tier2_bundle


def countersign_tier2(bundle: Path, lab: str, signing_key: Ed25519PrivateKey, age_identity: Any, *,
                      pinned: dict[str, PublicIdentity] | None = None, reply: str | None = None) -> Tier2Verification:
    """Verify (private report included), then add ``lab``'s signature and optional reply; returns the new check."""
    checked = verify_tier2_bundle(bundle, pinned=pinned, metric_definitions=installed_definitions(),
                                  lab_identity=age_identity)
    if lab != checked.lab:
        raise VerificationError(f"only the evaluated lab ({checked.lab}) countersigns this bundle, not {lab}")
    identity = _identity_in(bundle, lab)
    if raw_public_bytes(identity.public_key()) != raw_public_bytes(signing_key.public_key()):
        raise VerificationError(f"the private key given is not {lab}'s signing key in the protocol")
    add_countersignature(bundle, lab, signing_key, identity.signing_key.keyid, reply)
    return verify_tier2_bundle(bundle, pinned=pinned, metric_definitions=installed_definitions(),
                               lab_identity=age_identity, require_countersignature=True)


def _identity_in(bundle: Path, lab: str) -> PublicIdentity:
    """The lab's identity as the (already verified) protocol holds it."""
    protocol = parse_tier2_protocol(orjson.loads((bundle / layout.PROTOCOL).read_bytes()), layout.PROTOCOL)
    return protocol.participant(lab).identity
