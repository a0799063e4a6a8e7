"""A protocol entry in a package: the published methodology whose pinned participants verify the bundles."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import ValidationError

from crosslab.attest.dsse import load_envelope
from crosslab.attest.errors import VerificationError
from crosslab.bundle import layout
from crosslab.evidence.errors import EvidenceError
from crosslab.evidence.leaves import Leaf
from crosslab.protocol.schema import Protocol
from crosslab.protocol.signing import verify_protocol


def read_protocol(data: bytes, where: str) -> Protocol:
    """A protocol from its canonical bytes (``protocol.json`` as the registry stores it), or EvidenceError."""
    try:
        obj: Any = orjson.loads(data)
        protocol = Protocol.model_validate(obj)
    except orjson.JSONDecodeError:
        raise EvidenceError(f"{where}: {layout.PROTOCOL}: not JSON") from None
    except ValidationError as exc:
        raise EvidenceError(f"{where}: {layout.PROTOCOL}: not a valid protocol "
                            f"({str(exc).splitlines()[0][:120]})") from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise EvidenceError(f"{where}: {layout.PROTOCOL}: not a valid protocol ({type(exc).__name__})") from None
    if protocol.canonical() != data:
        raise EvidenceError(f"{where}: {layout.PROTOCOL}: not the protocol's canonical JSON")
    return protocol


def verify_protocol_entry(leaf: Leaf, files: Mapping[str, bytes]) -> Protocol:
    """The protocol, once its id and round are the leaf's and every participant's signature verifies."""
    where = f"entry {leaf.index} (protocol)"
    if set(files) != {layout.PROTOCOL, layout.PROTOCOL_SIGNATURES}:
        raise EvidenceError(f"{where}: a protocol entry publishes {layout.PROTOCOL} and "
                            f"{layout.PROTOCOL_SIGNATURES}, not {', '.join(sorted(files))}")
    protocol = read_protocol(files[layout.PROTOCOL], where)
    if protocol.id != leaf.protocol_id or protocol.round.number != leaf.round:
        raise EvidenceError(f"{where}: {layout.PROTOCOL} is protocol {protocol.id[:12]}… round "
                            f"{protocol.round.number}; the leaf says {leaf.protocol_id[:12]}… round {leaf.round}")
    try:
        verify_protocol(protocol, load_envelope(files[layout.PROTOCOL_SIGNATURES]))
    except VerificationError as exc:
        raise EvidenceError(f"{where}: {layout.PROTOCOL_SIGNATURES}: {exc}") from None
    return protocol
