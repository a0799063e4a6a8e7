"""A declined entry: the vendor's own signed statement that it did not take part in a protocol's round.

The statement carries the protocol as proposed (a lab that declines never
signs the protocol), so the key that must have signed it is the one that
protocol pins for the declining lab.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from crosslab.attest.dsse import b64decode, load_envelope, verify_envelope
from crosslab.attest.errors import VerificationError
from crosslab.bundle import layout
from crosslab.evidence.errors import EvidenceError
from crosslab.evidence.format import DECLINED_STATEMENT
from crosslab.evidence.leaves import Leaf
from crosslab.evidence.protocols import read_protocol
from crosslab.evidence.records import VerifiedDecline

DECLINED_PAYLOAD_TYPE = "application/vnd.crosslab.declined+json"
DECLINED_FORMAT = "crosslab-declined/1"
_CLAIM = {"format", "lab", "protocol_id", "round", "reason"}


def verify_declined_entry(leaf: Leaf, files: Mapping[str, bytes]) -> VerifiedDecline:
    """The decline, once its statement is signed by the key its protocol pins for the lab the leaf names."""
    where = f"entry {leaf.index} (declined)"
    if set(files) != {layout.PROTOCOL, DECLINED_STATEMENT}:
        raise EvidenceError(f"{where}: a declined entry publishes {layout.PROTOCOL} and {DECLINED_STATEMENT}")
    protocol = read_protocol(files[layout.PROTOCOL], where)
    try:
        participant = protocol.participant(leaf.lab)
    except KeyError:
        raise EvidenceError(f"{where}: {leaf.lab} is not named in the protocol it declines") from None
    key = participant.identity.signing_key
    try:
        envelope = load_envelope(files[DECLINED_STATEMENT])
        verified = verify_envelope(envelope, {key.keyid: key.public_key()}, required={key.keyid})
        claim: Any = orjson.loads(b64decode(envelope["payload"], "payload"))
    except VerificationError as exc:
        raise EvidenceError(f"{where}: {DECLINED_STATEMENT}: not signed by {leaf.lab}'s pinned key ({exc})") from None
    except orjson.JSONDecodeError:
        raise EvidenceError(f"{where}: {DECLINED_STATEMENT}: the payload is not JSON") from None
    if verified.payload_type != DECLINED_PAYLOAD_TYPE or not isinstance(claim, dict) or set(claim) != _CLAIM \
            or claim["format"] != DECLINED_FORMAT or not isinstance(claim["reason"], str):
        raise EvidenceError(f"{where}: {DECLINED_STATEMENT}: not a {DECLINED_FORMAT} statement")
    if (claim["lab"], claim["protocol_id"], claim["round"]) != (leaf.lab, leaf.protocol_id, leaf.round) \
            or protocol.id != leaf.protocol_id:
        raise EvidenceError(f"{where}: {DECLINED_STATEMENT}: names another lab, protocol or round than its leaf")
    return VerifiedDecline(leaf.index, protocol, leaf.lab, claim["reason"])
