"""Plan a serve directory from a signed tier-2 protocol, and read that protocol back.

Under a protocol nothing is chosen at serve time: the labs, the scenarios,
rollouts and limits are the signed ones. Planning refuses a protocol that is
not signed by every party, and installed scenarios whose digest differs from
the pin (a changed scenario would be a different evaluation). The protocol
and its signatures are copied into the serve directory, so the bundles written
from it later name exactly what was agreed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from crosslab.attest.dsse import dump_envelope
from crosslab.attest.errors import VerificationError
from crosslab.core.atomic import write_atomically
from crosslab.items.item import Item
from crosslab.protocol.schema import ProtocolError
from crosslab.protocol.signing import verify_protocol
from crosslab.protocol.tier2 import Tier2Protocol, parse_tier2_protocol
from crosslab.suites.registry import items_digest
from crosslab.tier2.book import BOOK_FILE, BookError, plan_book
from crosslab.tier2.catalog import servable
from crosslab.tier2.rollout import Limits

PROTOCOL_FILE = "protocol.json"
SIGNATURES_FILE = "protocol.dsse.json"


def pinned_items(protocol: Tier2Protocol) -> list[Item]:
    """The installed scenarios the protocol selects, refused unless they are the pinned ones."""
    items = servable(protocol.scenarios.suites, protocol.scenarios.select)
    found = items_digest(items)
    if found != protocol.scenarios.digest:
        raise BookError(f"the installed scenarios ({len(items)} items, digest {found[:16]}…) are not the ones the "
                        f"protocol pins ({protocol.scenarios.digest[:16]}…): install the crosslab version the "
                        "parties agreed on")
    return items


def plan_from_protocol(directory: Path, protocol: Tier2Protocol, envelope: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Plan ``directory`` as the signed protocol says; returns each lab's tokens (shown only this once)."""
    try:
        verify_protocol(protocol, envelope)
    except VerificationError as exc:
        raise BookError(f"the tier-2 protocol is not ready to serve: {exc}") from None
    items = pinned_items(protocol)
    tokens = plan_book(directory, items, protocol.lab_ids(), rollouts=protocol.rollouts,
                       limits=Limits(**protocol.limits.model_dump()),
                       source={"suites": list(protocol.scenarios.suites), "select": list(protocol.scenarios.select),
                               "protocol_id": protocol.id})
    write_atomically(directory / PROTOCOL_FILE, protocol.canonical())
    write_atomically(directory / SIGNATURES_FILE, dump_envelope(envelope))
    return tokens


def served_protocol(directory: Path) -> tuple[Tier2Protocol, dict[str, Any]]:
    """The protocol a serve directory was planned under, checked again (fully signed, the one planned)."""
    try:
        protocol = parse_tier2_protocol(orjson.loads((directory / PROTOCOL_FILE).read_bytes()), PROTOCOL_FILE)
        envelope = orjson.loads((directory / SIGNATURES_FILE).read_bytes())
        book = orjson.loads((directory / BOOK_FILE).read_bytes())
    except FileNotFoundError as exc:
        raise BookError(f"{directory}: not planned under a tier-2 protocol ({Path(exc.filename).name} is missing; "
                        "plan it with `crosslab env serve DIR --protocol FILE`)") from None
    except (OSError, orjson.JSONDecodeError, ProtocolError) as exc:
        raise BookError(f"{directory}: {exc}") from None
    if not isinstance(book, dict) or not isinstance(book.get("source"), dict) or \
            book["source"].get("protocol_id") != protocol.id:
        raise BookError(f"{directory}: the plan was not made under the protocol stored beside it")
    try:
        verify_protocol(protocol, envelope)
    except VerificationError as exc:
        raise BookError(f"{directory / SIGNATURES_FILE}: {exc}") from None
    return protocol, envelope
