"""The registry's log leaves (``crosslab-registry-entry/2``), read strictly, and which of them concern a vendor.

A leaf names its kind, protocol and round, the lab that signed it, the lab
evaluated (for a bundle and the countersignatures and reveals that grow it)
and the SHA-256 of every file. Reading *every* leaf is what lets a verifier
say which entries a package must hold: a leaf that does not parse could be
about anyone, so it fails the package rather than being skipped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from crosslab.core.canonical import canonical_json
from crosslab.evidence.errors import EvidenceError

ENTRY_FORMAT = "crosslab-registry-entry/2"
KINDS = ("protocol", "bundle", "countersignature", "reveal", "declined")
#: Kinds whose leaf names the evaluated lab and the signed statement they belong to.
BUNDLE_KINDS = ("bundle", "countersignature", "reveal")
_KEYS = {"format", "kind", "protocol_id", "round", "lab", "evaluated", "statement_sha256", "files"}
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Leaf:
    """One log leaf, parsed: what it is, who it concerns, and the digest of each file it published."""

    index: int
    kind: str
    protocol_id: str
    round: int
    lab: str
    evaluated: str | None
    statement_sha256: str | None
    files: dict[str, str]

    def about(self, vendor: str) -> bool:
        """Is this entry part of ``vendor``'s record: a finding about it, or its own refusal to take part?"""
        if self.kind in BUNDLE_KINDS:
            return self.evaluated == vendor
        return self.kind == "declined" and self.lab == vendor

    def describe(self) -> str:
        """A short phrase for error lines: ``bundle by lab-a about lab-b under protocol 1a2b3c4d…``."""
        who = f" by {self.lab}" if self.lab else ""
        about = f" about {self.evaluated}" if self.evaluated else ""
        return f"{self.kind}{who}{about} under protocol {self.protocol_id[:12]}…"


def parse_leaf(data: bytes, index: int) -> Leaf:
    """A leaf's fields, refusing anything but the canonical JSON of a ``crosslab-registry-entry/2`` object."""
    where = f"log leaf {index}"
    try:
        obj: Any = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise EvidenceError(f"{where}: not JSON; cannot tell whom it concerns") from None
    if not isinstance(obj, dict) or set(obj) != _KEYS or obj["format"] != ENTRY_FORMAT:
        raise EvidenceError(f"{where}: not a {ENTRY_FORMAT} leaf; cannot tell whom it concerns")
    if canonical_json(obj) != data:
        raise EvidenceError(f"{where}: not canonical JSON")
    kind, files = obj["kind"], obj["files"]
    bundle_kind = kind in BUNDLE_KINDS
    ok = (kind in KINDS and isinstance(obj["protocol_id"], str) and _HEX64.fullmatch(obj["protocol_id"])
          and type(obj["round"]) is int and isinstance(obj["lab"], str)
          and (obj["lab"] == "") == (kind == "protocol")
          and (isinstance(obj["evaluated"], str) and obj["evaluated"] if bundle_kind else obj["evaluated"] is None)
          and (isinstance(obj["statement_sha256"], str) and _HEX64.fullmatch(obj["statement_sha256"])
               if bundle_kind else obj["statement_sha256"] is None)
          and isinstance(files, dict) and files
          and all(isinstance(n, str) and isinstance(d, str) and _HEX64.fullmatch(d) for n, d in files.items()))
    if not ok:
        raise EvidenceError(f"{where}: a field does not fit a {kind!s:.20} entry (kind, protocol_id, round, lab, "
                            "evaluated, statement_sha256, files)")
    return Leaf(index, kind, obj["protocol_id"], obj["round"], obj["lab"], obj["evaluated"],
                obj["statement_sha256"], dict(files))


def parse_leaves(leaves: Sequence[bytes]) -> list[Leaf]:
    return [parse_leaf(data, index) for index, data in enumerate(leaves)]


def required_entries(leaves: Sequence[Leaf], vendor: str) -> list[int]:
    """The log indices a complete package for ``vendor`` holds, ascending.

    Every leaf about the vendor, and for each protocol its bundles were made
    under, that protocol's own entry (the first one, as the registry
    publishes a protocol once): the participants it pins are the keys the
    bundles are verified with. A countersignature or reveal must grow a
    bundle published earlier in the log.
    """
    needed: set[int] = set()
    protocols: dict[str, int] = {}
    statements: set[str] = set()
    for leaf in leaves:
        if leaf.kind == "protocol":
            protocols.setdefault(leaf.protocol_id, leaf.index)
        if not leaf.about(vendor):
            continue
        needed.add(leaf.index)
        if leaf.kind == "declined":
            continue
        if leaf.kind == "bundle":
            statements.add(str(leaf.statement_sha256))
        elif leaf.statement_sha256 not in statements:
            raise EvidenceError(f"log leaf {leaf.index}: a {leaf.kind} of a bundle that is not earlier in the log")
        if leaf.protocol_id not in protocols:
            raise EvidenceError(f"log leaf {leaf.index}: {leaf.describe()}, whose protocol has no earlier entry "
                                "in the log")
        needed.add(protocols[leaf.protocol_id])
    return sorted(needed)
