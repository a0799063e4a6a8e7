"""A bundle verified with the reader's pinned keys, and the signed documents read from the very bytes verified.

A results export must never say more than the verifier checked. Verifying a
folder and then reading it again would let the folder change in between, so
the bundle is copied first (symbolic links stay links, which the verifier's
check 0 refuses), the copy is verified, and the protocol, statement and stubs
are read from that copy before it is removed.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from crosslab.bundle import layout
from crosslab.bundle.installed import installed_contents, installed_definitions
from crosslab.bundle.verify import VerificationResult, verify_bundle
from crosslab.interop.errors import InteropError
from crosslab.protocol.schema import Protocol


@dataclass(frozen=True)
class VerifiedBundle:
    """What a verified bundle says: the verifier's result, its signed protocol, predicate and stubs."""

    path: Path
    result: VerificationResult
    protocol: Protocol
    predicate: dict[str, Any]
    stubs: list[dict[str, Any]]


def verify_copy(bundle: Path, pinned: dict[str, Any], partner_identity: Any = None) -> VerifiedBundle:
    """Verify ``bundle`` as ``crosslab verify`` does; raises VerificationError (or InteropError) when it fails."""
    if not bundle.is_dir():
        raise InteropError(f"{bundle}: not a bundle directory")
    with tempfile.TemporaryDirectory(prefix="crosslab-export-") as tmp:
        copy = Path(tmp) / "bundle"
        try:
            shutil.copytree(bundle, copy, symlinks=True)
        except (OSError, shutil.Error) as exc:
            raise InteropError(f"{bundle}: cannot be read ({exc})") from None
        result = verify_bundle(copy, pinned, partner_identity=partner_identity,
                               metric_definitions=installed_definitions(), pinned_contents=installed_contents)
        protocol = Protocol.model_validate(orjson.loads((copy / layout.PROTOCOL).read_bytes()))
        envelope = orjson.loads((copy / layout.STATEMENT).read_bytes())
        predicate = orjson.loads(base64.b64decode(envelope["payload"]))["predicate"]
        stubs = [orjson.loads(line) for line in (copy / layout.ITEMS).read_bytes().splitlines() if line.strip()]
    if protocol.id != result.protocol_id:  # the verifier read the same file; a mismatch is a bug, not an input
        raise InteropError(f"{bundle}: the protocol read back is not the one verified")
    return VerifiedBundle(bundle, result, protocol, predicate, stubs)
