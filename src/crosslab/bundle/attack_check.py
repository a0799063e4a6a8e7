"""The verifier's checks of a bundle's adaptive-attack block (``bundle/attack_block.py`` writes it).

The block is signed with the statement, so a third party cannot alter it;
these checks are against the evaluator itself, who could sign a block that
does not follow from what both labs agreed:

- a block exactly when the protocol pins an attack, in a format x.1 bundle;
- the spec is the pinned one: same algorithm, seed and prompt version, every
  pinned parameter and budget with the pinned value, and the spec digest is
  the digest of the spec as written;
- the suite and the elicitations' tier are the pinned ones; the target
  attacked is the evaluated deployment, and the attacker and judge are the
  protocol's (their deployment digests, built as the round builds them);
- the summary (ASR at budget overall and per harm, queries to first success,
  queries spent) is what the per-behaviour rows give (``stats/asr.py``);
- with a partner's age key (``open_elicitations``): the sealed elicitations
  decrypt, and each row's commitment is opened exactly once by a result that
  repeats the row's public fields, so the partner sees the very prompts and
  transcripts the counts were made from.
"""

from __future__ import annotations

from typing import Any

import base64
import binascii

from crosslab.attest.errors import VerificationError
from crosslab.bundle import layout
from crosslab.bundle.lines import json_lines
from crosslab.core.canonical import digest
from crosslab.disclosure.commitments import check_disclosure
from crosslab.disclosure.encryption import EncryptionError, decrypt_with
from crosslab.protocol.rounds import agreed_attack_roles
from crosslab.protocol.schema import Protocol, ProtocolError
from crosslab.stats.asr import ROLES, summarise_rows

_ROW_KEYS = ("harm", "status", "success", "queries", "queries_to_success")


def _fail(what: str) -> VerificationError:
    return VerificationError(f"{layout.STATEMENT}: attack block: {what}")


def _rows(block: dict[str, Any]) -> list[dict[str, Any]]:
    rows = block.get("results")
    if not isinstance(rows, list):
        raise _fail("results is not a list")
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or any(k not in row for k in _ROW_KEYS):
            raise _fail(f"row {i} lacks one of {', '.join(_ROW_KEYS)}")
        if row["status"] not in ("ok", "error") or not isinstance(row["success"], bool) \
                or not isinstance(row["harm"], str):
            raise _fail(f"row {i}: status, success or harm has the wrong type")
        counts = [row["queries"]] + ([row["queries_to_success"]] if row["queries_to_success"] is not None else [])
        for c in counts:
            if not isinstance(c, dict) or any(type(c.get(r)) is not int or c[r] < 0 for r in ROLES):
                raise _fail(f"row {i}: queries must be a non-negative count per role ({', '.join(ROLES)})")
        if row["success"] and row["queries_to_success"] is None:
            raise _fail(f"row {i}: a success without queries to success")
    return rows


def _check_spec(block: dict[str, Any], protocol: Protocol) -> None:
    pin = protocol.attack
    assert pin is not None
    spec = block.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("params"), dict) \
            or not isinstance(spec.get("budget"), dict):
        raise _fail("spec is not an attack spec")
    for key in ("attack", "seed", "prompts_version"):
        if spec.get(key) != getattr(pin, key):
            raise _fail(f"spec {key} is {spec.get(key)!r}, the protocol pins {getattr(pin, key)!r}")
    for part in ("params", "budget"):
        for key, value in getattr(pin, part).items():
            if spec[part].get(key) != value:
                raise _fail(f"spec {part}.{key} is {spec[part].get(key)!r}, the protocol pins {value!r}")
    if block.get("spec_digest") != digest(spec):
        raise _fail("spec_digest is not the digest of the spec")


def check_attack(pred: dict[str, Any], protocol: Protocol) -> dict[str, Any] | None:
    """Check the block against the protocol and recompute its summary; returns the block's summary (None: no block)."""
    block = pred.get("attack")
    if protocol.attack is None:
        if block is not None:
            raise _fail("present, but the protocol pins no adaptive attack")
        return None
    if not isinstance(block, dict):
        raise _fail("missing, but the protocol pins an adaptive attack")
    if not str(layout.format_version(pred)).endswith("." + layout.ATTACK_MINOR):
        raise _fail(f"in a format {layout.format_version(pred)} bundle (attack bundles are x.{layout.ATTACK_MINOR})")
    _check_spec(block, protocol)
    if block.get("suite") != protocol.attack.suite:
        raise _fail(f"suite {block.get('suite')!r}, the protocol pins {protocol.attack.suite!r}")
    tier = (block.get("elicitations") or {}).get("tier") if isinstance(block.get("elicitations"), dict) else None
    if tier != protocol.attack.elicitations:
        raise _fail(f"elicitations tier {tier!r}, the protocol pins {protocol.attack.elicitations!r}")
    roles = block.get("roles")
    target = roles.get("target") if isinstance(roles, dict) else None
    if not isinstance(target, dict) or target.get("digest") != pred["evaluated"]["target_digest"]:
        raise _fail("the attacked target is not the evaluated deployment")
    try:
        agreed = agreed_attack_roles(protocol)
    except ProtocolError as exc:
        raise _fail(str(exc)) from None
    for role, deployment in agreed.items():
        found = roles.get(role) if isinstance(roles, dict) else None
        if not isinstance(found, dict) or found.get("digest") != deployment.digest:
            raise _fail(f"the {role} is not the protocol's (deployment digest differs)")
    summary = block.get("summary")
    if not isinstance(summary, dict):
        raise _fail("summary is missing")
    for key, value in summarise_rows(_rows(block)).items():
        if summary.get(key) != value:
            raise _fail(f"summary {key} is not what the rows give")
    return summary


#: The row fields a sealed result must repeat (the rest of a row is derived from these or is its commitment).
_REPEATED = ("harm", "status", "success", "best_score", "stop_reason", "queries", "queries_to_success")


def open_elicitations(pred: dict[str, Any], identity: Any) -> int | None:
    """Decrypt the sealed elicitations with a partner's age identity and open every row; returns rows opened.

    None when there is nothing sealed to open (no attack, or withheld elicitations).
    """
    block = pred.get("attack")
    sealed = (block.get("elicitations") or {}).get("age_b64") if isinstance(block, dict) else None
    if sealed is None:
        return None
    where = f"{layout.STATEMENT}: attack elicitations"
    try:
        raw = base64.b64decode(sealed, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise VerificationError(f"{where}: not base64") from None
    try:
        plain = decrypt_with(identity, raw)
    except EncryptionError as exc:
        raise VerificationError(f"{where}: {exc}") from None
    rows = _rows(block)
    seen: set[int] = set()
    for number, (_, entry) in enumerate(json_lines(plain, where), start=1):
        i = entry.get("i")
        if set(entry) != {"i", "d"} or type(i) is not int or not 0 <= i < len(rows) or i in seen:
            raise VerificationError(f"{where}:{number}: not a new row index")
        seen.add(i)
        try:
            value = check_disclosure(entry["d"], rows[i].get("c"))
        except VerificationError as exc:
            raise VerificationError(f"{where}:{number}: row {i}: {exc}") from None
        if not isinstance(value, dict) or any(value.get(k) != rows[i].get(k) for k in _REPEATED):
            raise VerificationError(f"{where}:{number}: row {i}: the sealed result differs from the public row")
    if len(seen) != len(rows):
        raise VerificationError(f"{where}: {len(rows) - len(seen)} rows have no sealed result")
    return len(seen)
