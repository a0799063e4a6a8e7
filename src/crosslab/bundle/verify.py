"""Verify a bundle offline, failing closed at the first thing that doesn't match.

Trust comes only from identities the reader pins (``--keys``): the protocol
inside the bundle must name exactly those keys, every participant must have
signed it, and the evaluator must have signed the statement. Everything else —
file digests, the Merkle root, counts, metrics, each disclosure — is
recomputed from the bundle's own bytes and compared with what was signed.
"""

from __future__ import annotations

import base64
import hashlib
import multiprocessing as mp
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from crosslab.attest import merkle
from crosslab.attest.dsse import load_envelope
from crosslab.attest.errors import VerificationError
from crosslab.attest.intoto import verify_statement
from crosslab.bundle import layout
from crosslab.bundle.metrics import counts_from_stubs, metrics_from_stubs
from crosslab.bundle.stubs import STUB_FIELDS
from crosslab.disclosure.commitments import check_disclosure
from crosslab.disclosure.encryption import decrypt_with
from crosslab.identity.keys import PublicIdentity
from crosslab.protocol.jcs import jcs
from crosslab.protocol.rounds import agreed_deployment
from crosslab.protocol.schema import Protocol, ProtocolError
from crosslab.protocol.signing import trusted_keys, verify_protocol

TIERS = ("public", "restricted", "withheld")


@dataclass
class Report:
    protocol_id: str
    evaluator: str
    evaluated: str
    deployment: str
    stubs: int
    by_tier: dict[str, int]
    public_verified: int
    restricted_verified: int | None  # None: not decrypted (no partner key given)
    withheld: int
    countersigned: bool
    response: str | None
    metrics: dict[str, Any] = field(default_factory=dict)
    revealed: int = 0  # later reveals (reveals/*.jsonl) checked against the original stubs


def _read(bundle: Path, name: str) -> bytes:
    try:
        return (bundle / name).read_bytes()
    except FileNotFoundError:
        raise VerificationError(f"{name}: missing from the bundle") from None


def _lines(data: bytes, name: str) -> list[bytes]:
    if data and not data.endswith(b"\n"):
        raise VerificationError(f"{name}: truncated (the last line has no newline)")
    return data.split(b"\n")[:-1] if data else []


def _parse_line(line: bytes, name: str, number: int) -> dict[str, Any]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise VerificationError(f"{name}:{number}: not valid JSON ({exc})") from None
    if not isinstance(value, dict) or not _is_canonical(value, line):
        raise VerificationError(f"{name}:{number}: not a canonical JSON object")
    return value


def _json_lines(data: bytes, name: str) -> list[tuple[bytes, dict[str, Any]]]:
    return [(line, _parse_line(line, name, number)) for number, line in enumerate(_lines(data, name), start=1)]


def _is_canonical(value: dict[str, Any], line: bytes) -> bool:
    """Is ``line`` the RFC 8785 form of ``value``?

    orjson's sorted compact output equals JCS for the values bundles hold
    (ASCII keys, safe integers, ordinary floats) and is ~20x faster, so it is
    tried first; anything it doesn't reproduce is checked with full JCS.
    """
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS) == line or jcs(value) == line


def _check_pins(protocol: Protocol, pinned: dict[str, PublicIdentity]) -> None:
    for participant in protocol.participants:
        lab = participant.identity.lab
        if lab not in pinned:
            raise VerificationError(f"no pinned identity for {lab}: pass its identity file with --keys")
        if participant.identity.model_dump(mode="json") != pinned[lab].model_dump(mode="json"):
            raise VerificationError(f"the protocol's identity for {lab} does not match the pinned one "
                                    f"(fingerprint {participant.identity.fingerprint[:16]}… vs "
                                    f"{pinned[lab].fingerprint[:16]}…)")


def _load_protocol(bundle: Path, pinned: dict[str, PublicIdentity]) -> Protocol:
    raw = _read(bundle, layout.PROTOCOL)
    try:
        protocol = Protocol.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        raise VerificationError(f"{layout.PROTOCOL}: not a valid protocol ({str(exc).splitlines()[0]})") from None
    if protocol.canonical() != raw:
        raise VerificationError(f"{layout.PROTOCOL}: not in canonical form")
    _check_pins(protocol, pinned)
    signatures = _read(bundle, layout.PROTOCOL_SIGNATURES)
    try:
        verify_protocol(protocol, load_envelope(signatures))
    except VerificationError as exc:
        raise VerificationError(f"{layout.PROTOCOL_SIGNATURES}: {exc}") from None
    return protocol


def _peek_evaluator(envelope: dict) -> str:
    """The claimed evaluator, read before verification only to choose the key that must have signed."""
    try:
        return str(orjson.loads(base64.b64decode(envelope["payload"]))["predicate"]["evaluator"])
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError):
        raise VerificationError(f"{layout.STATEMENT}: payload is not a crosslab statement") from None


#: What a disclosure must repeat from its stub: (field, "record" | "verdict").
_DISCLOSED_FIELDS = (("category", "record"), ("slice", "record"), ("tier", "record"), ("status", "record"),
                     ("facets", "record"), ("label", "verdict"), ("score", "verdict"), ("values", "verdict"))


def _check_entry(number: int, entry: dict[str, Any], stubs: list[dict[str, Any]], tiers: set[str],
                 name: str) -> int:
    """One disclosure line: a stub index of the right tier, opening that stub's commitment, same fields."""
    i = entry.get("i")
    if set(entry) != {"i", "d"} or not isinstance(i, int) or not 0 <= i < len(stubs):
        raise VerificationError(f"{name}:{number}: not a disclosure of a stub index")
    stub = stubs[i]
    if stub["tier"] not in tiers:
        raise VerificationError(f"{name}:{number}: stub {i} is {stub['tier']}, which does not belong in {name}")
    try:
        value = check_disclosure(entry["d"], stub["c"])
    except VerificationError as exc:
        raise VerificationError(f"{name}:{number}: stub {i}: {exc}") from None
    record = (value.get("record") if isinstance(value, dict) else None) or {}
    verdict = (value.get("verdict") if isinstance(value, dict) else None) or {}
    for key, source in _DISCLOSED_FIELDS:
        seen_value = (record if source == "record" else verdict).get(key)
        if seen_value != stub[key] and not (key in ("facets", "values") and not seen_value and stub[key] == {}):
            raise VerificationError(f"{name}:{number}: stub {i}: disclosed {key} differs from the stub")
    return i


#: Large disclosure files are checked on every core (fork: the children read the parent's memory).
PARALLEL_FROM = 20_000
_SHARED: tuple[Any, ...] = ()


def _check_range(bounds: tuple[int, int]) -> list[int]:
    lines, stubs, tiers, name = _SHARED
    return [_check_entry(n + 1, _parse_line(lines[n], name, n + 1), stubs, tiers, name) for n in range(*bounds)]


def _checked_indices(lines: list[bytes], stubs: list[dict[str, Any]], tiers: set[str], name: str) -> list[int]:
    """Each line's stub index, in line order; the first failing line (in file order) is the error raised."""
    workers = min(os.cpu_count() or 1, 8)
    if len(lines) < PARALLEL_FROM or workers < 2 or "fork" not in mp.get_all_start_methods():
        return [_check_entry(n, _parse_line(line, name, n), stubs, tiers, name)
                for n, line in enumerate(lines, start=1)]
    global _SHARED
    _SHARED = (lines, stubs, tiers, name)
    step = -(-len(lines) // workers)
    chunks = [(lo, min(lo + step, len(lines))) for lo in range(0, len(lines), step)]
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            return [i for part in pool.imap(_check_range, chunks) for i in part]  # in order: first error wins
    finally:
        _SHARED = ()


def _check_disclosures(data: bytes, stubs: list[dict[str, Any]], tiers: set[str], name: str,
                       complete: bool = True) -> int:
    """Every line of a disclosure file (public.jsonl, the decrypted appendix, a reveal) against the stubs."""
    indices = _checked_indices(_lines(data, name), stubs, tiers, name)
    seen: set[int] = set()
    for number, i in enumerate(indices, start=1):
        if i in seen:
            raise VerificationError(f"{name}:{number}: stub {i} is disclosed twice")
        seen.add(i)
    expected = {s["i"] for s in stubs if s["tier"] in tiers}
    if complete and seen != expected:
        missing = sorted(expected - seen)
        raise VerificationError(f"{name}: {len(missing)} {'/'.join(sorted(tiers))} stubs have no disclosure "
                                f"(first: {missing[0]})")
    return len(seen)


def verify_bundle(bundle: Path, pinned: dict[str, PublicIdentity], *, partner_identity: Any = None) -> Report:
    """Check everything; raise VerificationError naming the first mismatch, else return a Report."""
    protocol = _load_protocol(bundle, pinned)
    keys = trusted_keys(protocol)
    envelope = load_envelope(_read(bundle, layout.STATEMENT))
    evaluator = _peek_evaluator(envelope)
    try:
        evaluator_identity = protocol.participant(evaluator).identity
    except KeyError:
        raise VerificationError(f"{layout.STATEMENT}: evaluator {evaluator!r} is not a protocol participant") from None
    try:
        verified, stmt = verify_statement(envelope, keys, required={evaluator_identity.signing_key.keyid})
    except VerificationError as exc:
        raise VerificationError(f"{layout.STATEMENT}: {exc} (the evaluator, {evaluator})") from None
    if stmt["predicateType"] != layout.PREDICATE_TYPE:
        raise VerificationError(f"{layout.STATEMENT}: predicateType is {stmt['predicateType']!r}")
    pred = stmt.get("predicate", {})
    if pred.get("protocol_id") != protocol.id:
        raise VerificationError(f"{layout.STATEMENT}: made under protocol {str(pred.get('protocol_id'))[:16]}…, "
                                f"the bundle's protocol is {protocol.id[:16]}…")

    files = {name: _read(bundle, name) for name in (layout.ITEMS, layout.PUBLIC, layout.RESTRICTED)}
    files[layout.PROTOCOL] = protocol.canonical()
    evaluated = pred["evaluated"]
    try:
        agreed = agreed_deployment(protocol, str(evaluated["lab"]), str(evaluated["deployment"])).digest
    except ProtocolError as exc:
        raise VerificationError(f"{layout.STATEMENT}: {exc}") from None
    expected_subjects = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    expected_subjects[f"deployment:{evaluated['lab']}/{evaluated['deployment']}"] = agreed
    claimed = {s["name"]: s["digest"]["sha256"] for s in stmt["subject"]}
    for name, digest in expected_subjects.items():
        if claimed.get(name) != digest:
            raise VerificationError(f"{name}: digest does not match the signed statement")
    if set(claimed) != set(expected_subjects):
        raise VerificationError(f"{layout.STATEMENT}: unexpected subjects {sorted(set(claimed) - set(expected_subjects))}")

    lines = _json_lines(files[layout.ITEMS], layout.ITEMS)
    stubs = [value for _, value in lines]
    for number, stub in enumerate(stubs):
        if set(stub) != set(STUB_FIELDS):
            raise VerificationError(f"{layout.ITEMS}:{number + 1}: stub fields are not {', '.join(STUB_FIELDS)}")
        if stub["i"] != number:
            raise VerificationError(f"{layout.ITEMS}:{number + 1}: stub index {stub['i']} out of order")
        if stub["tier"] not in TIERS:
            raise VerificationError(f"{layout.ITEMS}:{number + 1}: unknown tier {stub['tier']!r}")
    runs = pred.get("runs")
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs) or \
            [r.get("suite") for r in runs] != [p.name for p in protocol.suites] or \
            sum(int(r.get("items", 0)) * int(r.get("epochs", 0)) for r in runs) != len(stubs) or \
            any(r.get("items_digest") != p.digest or r.get("epochs") != p.epochs
                for r, p in zip(runs, protocol.suites, strict=True)):
        raise VerificationError(f"{layout.STATEMENT}: the runs do not cover the pinned suites "
                                "(suite order, items × epochs, digests)")
    claimed_stubs = pred.get("stubs", {})
    if claimed_stubs.get("count") != len(stubs):
        raise VerificationError(f"{layout.ITEMS}: {len(stubs)} stubs, the statement says {claimed_stubs.get('count')}")
    if merkle.root([line for line, _ in lines]).hex() != claimed_stubs.get("merkle_root"):
        raise VerificationError(f"{layout.ITEMS}: Merkle root does not match the statement")
    if jcs(counts_from_stubs(stubs)) != jcs(pred.get("counts")):
        raise VerificationError(f"{layout.STATEMENT}: counts differ from those recomputed from the stubs")
    metrics = metrics_from_stubs(stubs)
    if jcs(metrics) != jcs(pred.get("metrics")):
        raise VerificationError(f"{layout.STATEMENT}: metrics differ from those recomputed from the stubs")

    policy = protocol.disclosure
    public = _check_disclosures(files[layout.PUBLIC], stubs, set(policy.public),
                                layout.PUBLIC)
    restricted_tiers = set(policy.partners) - set(policy.public)
    restricted = None
    if partner_identity is not None:
        try:
            plain = decrypt_with(partner_identity, files[layout.RESTRICTED])
        except ValueError as exc:
            raise VerificationError(f"{layout.RESTRICTED}: {exc}") from None
        restricted = _check_disclosures(plain, stubs, restricted_tiers,
                                        layout.RESTRICTED)
    revealed = _check_reveals(bundle, stubs, set(TIERS) - set(policy.public))
    by_tier = {t: sum(1 for s in stubs if s["tier"] == t) for t in TIERS}
    withheld = sum(1 for s in stubs if s["tier"] not in policy.partners)
    evaluated_key = protocol.participant(evaluated["lab"]).identity.signing_key.keyid
    response = _check_response(bundle, verified.payload, keys, evaluated_key)
    return Report(protocol.id, evaluator, evaluated["lab"], evaluated["deployment"], len(stubs), by_tier, public,
                  restricted, withheld, evaluated_key in verified.keyids, response, metrics, revealed)


def _check_reveals(bundle: Path, stubs: list[dict[str, Any]], tiers: set[str]) -> int:
    """Each reveal file's disclosures must open their original stubs' commitments."""
    folder = bundle / layout.REVEALS
    if not folder.exists():
        return 0
    total = 0
    for path in sorted(folder.iterdir()):
        name = f"{layout.REVEALS}/{path.name}"
        if path.suffix != ".jsonl" or not path.is_file():
            raise VerificationError(f"{name}: not a reveal file (expected NNNN.jsonl)")
        total += _check_disclosures(path.read_bytes(), stubs, tiers, name, complete=False)
    return total


def _check_response(bundle: Path, statement_payload: bytes, keys: dict, evaluated_key: str) -> str | None:
    path = bundle / layout.RESPONSE
    if not path.exists():
        return None
    verified, stmt = verify_statement(load_envelope(path.read_bytes()), keys, required={evaluated_key})
    pred = stmt.get("predicate", {})
    if stmt["predicateType"] != layout.RESPONSE_PREDICATE_TYPE or \
            pred.get("statement_sha256") != hashlib.sha256(statement_payload).hexdigest():
        raise VerificationError(f"{layout.RESPONSE}: not a reply to this bundle's statement")
    return str(pred.get("response", ""))
