"""A bundle as a report reads it: verified first, then its stubs, statement and disclosures.

Reports are rendered from bundles only, so every number a reader sees is one a
verifier can recompute from published bytes. A bundle that fails verification
is kept, marked failed with the reason, so a joint report can show it; the
public report refuses to render it unless asked.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from crosslab.attest.errors import VerificationError
from crosslab.bundle import layout
from crosslab.bundle.installed import installed_contents, installed_definitions
from crosslab.bundle.verify import VerificationResult, verify_bundle
from crosslab.disclosure.commitments import open_disclosure
from crosslab.identity.keys import PublicIdentity


@dataclass
class BundleView:
    path: Path
    verified: bool
    problem: str | None
    report: VerificationResult | None
    predicate: dict[str, Any]
    protocol: dict[str, Any]
    stubs: list[dict[str, Any]]
    #: stub index -> opened disclosure value {"record", "verdict"}; public ones, plus restricted for partners
    disclosed: dict[int, dict[str, Any]] = field(default_factory=dict)
    restricted_opened: bool = False

    @property
    def direction(self) -> str:
        ev = self.predicate.get("evaluated", {})
        return f"{self.predicate.get('evaluator')} → {ev.get('lab')}/{ev.get('deployment')}"

    @property
    def key(self) -> str:
        ev = self.predicate.get("evaluated", {})
        return f"{self.predicate.get('evaluator')}-on-{ev.get('lab')}-{ev.get('deployment')}"

    def units(self) -> list[tuple[str, int]]:
        """(suite#item position, epoch) per stub, from the statement's runs block (pairs bundles by item)."""
        units: list[tuple[str, int]] = []
        for run in self.predicate.get("runs", []):
            items, epochs = int(run["items"]), int(run["epochs"])
            units.extend((f"{run['suite']}#{j % items}", j // items + 1) for j in range(items * epochs))
        return units


def _payload(bundle: Path) -> dict[str, Any]:
    envelope = orjson.loads((bundle / layout.STATEMENT).read_bytes())
    return orjson.loads(base64.b64decode(envelope["payload"]))


def _open_lines(data: bytes) -> dict[int, dict[str, Any]]:
    opened = {}
    for line in data.splitlines():
        entry = orjson.loads(line)
        _salt, value = open_disclosure(entry["d"])
        opened[int(entry["i"])] = value if isinstance(value, dict) else {}
    return opened


def load_view(bundle: Path, pinned: dict[str, PublicIdentity], partner_identity: Any = None) -> BundleView:
    """Verify and read a bundle; a failed verification is recorded, not raised."""
    try:
        report = verify_bundle(bundle, pinned, partner_identity=partner_identity,
                               metric_definitions=installed_definitions(),
                          pinned_contents=installed_contents)
        verified, problem = True, None
    except VerificationError as exc:
        report, verified, problem = None, False, str(exc)
    try:
        predicate = _payload(bundle)["predicate"]
        protocol = orjson.loads((bundle / layout.PROTOCOL).read_bytes())
        stubs = [orjson.loads(line) for line in (bundle / layout.ITEMS).read_bytes().splitlines()]
    except (OSError, ValueError, KeyError, orjson.JSONDecodeError) as exc:
        return BundleView(bundle, False, problem or f"unreadable bundle: {exc}", None, {}, {}, [])
    view = BundleView(bundle, verified, problem, report, predicate, protocol, stubs)
    if verified:
        view.disclosed = _open_lines((bundle / layout.PUBLIC).read_bytes())
        if report is not None and report.restricted_plain is not None:  # decrypted once, by the verifier
            view.disclosed.update(_open_lines(report.restricted_plain))
            view.restricted_opened = True
    return view
