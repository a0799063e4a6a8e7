"""What a tier-2 bundle holds, shared by its writer and its verifier (which imports nothing heavier).

The file set, the statement's predicate type and format version, the private
report's format, the digest that stands for a lab's internal agent, and the
redaction summary: everything a verifier must compute exactly as the writer did.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from crosslab.bundle import layout
from crosslab.core.canonical import digest
from crosslab.core.outcome import Stub
from crosslab.protocol.tier2 import Tier2Protocol

PRIVATE_REPORT = "private.age"
PREDICATE_TYPE = "urn:crosslab:predicate:tier2-bundle:v1"
PRIVATE_FORMAT = "crosslab-tier2-private/1"
FORMAT_VERSION = "1.0"
FILES = (layout.ITEMS, layout.PUBLIC, PRIVATE_REPORT, layout.STATEMENT, layout.PROTOCOL, layout.PROTOCOL_SIGNATURES)
#: The statement's subjects with a file behind them, in order.
SUBJECT_FILES = (layout.ITEMS, layout.PUBLIC, PRIVATE_REPORT, layout.PROTOCOL)


def lab_digest(lab: str) -> str:
    """The target digest standing for a lab's internal agent (its weights and harness are never seen)."""
    return digest({"tier2_lab": lab})


def redaction_summary(stubs: Sequence[Stub], protocol: Tier2Protocol) -> list[dict[str, Any]]:
    """What the public does not see, by category and tier: rollouts, scenarios, and the agreed reason.

    Computed from the stubs and the protocol alone, so any verifier gets the same rows.
    """
    withheld = Counter((s["category"], s["tier"]) for s in stubs if s["tier"] not in protocol.disclosure.public)
    return [{"category": category, "tier": tier, "rollouts": n, "scenarios": n // protocol.rollouts,
             "withheld_from": "public report", "reason": protocol.disclosure.reasons[tier]}
            for (category, tier), n in sorted(withheld.items())]
