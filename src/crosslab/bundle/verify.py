"""Verify a bundle offline, failing closed at the first thing that doesn't match.

Trust comes only from identities the reader pins (``--keys``): the protocol
inside the bundle must name exactly those keys, every participant must have
signed it, and the evaluator must have signed the statement. Everything else —
file digests, the Merkle root, counts, metrics, each disclosure — is
recomputed from the bundle's own bytes and compared with what was signed.

The checks are numbered as in docs/protocol.md §6 (``# Check N``). This module
imports no suite, engine, grading or results code (an import-linter contract
holds it to that): suite metrics are re-computed only with the definitions the
caller hands in, and only when the bundle declares the same definition.
"""

from __future__ import annotations

import hashlib
import re
import multiprocessing as mp
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from crosslab.attest import merkle
from crosslab.attest.dsse import b64decode, load_envelope
from crosslab.attest.errors import VerificationError
from crosslab.attest.intoto import parse_statement, verify_statement
from crosslab.bundle import layout
from crosslab.bundle.lines import json_lines, parse_line, split_lines
from crosslab.bundle.attack_check import check_attack, open_elicitations
from crosslab.bundle.reader import BundleFiles, printable
from crosslab.bundle.metrics import MetricDefinition, counts_from_stubs, pass_rate_rows
from crosslab.core.canonical import digest as canonical_digest
from crosslab.core.jcs import jcs
from crosslab.core.outcome import STUB_FIELDS, Stub, by_category
from crosslab.disclosure.commitments import check_disclosure
from crosslab.disclosure.encryption import decrypt_with
from crosslab.identity.keys import PublicIdentity
from crosslab.protocol.rounds import agreed_deployment
from crosslab.protocol.schema import Protocol, ProtocolError
from crosslab.protocol.signing import trusted_keys, verify_protocol

TIERS = ("public", "restricted", "withheld")


@dataclass(frozen=True)
class SuiteMetricsCheck:
    """How one suite's metrics in a bundle were checked.

    ``status`` is ``rechecked`` (recomputed from the stubs and equal), or
    ``not_rechecked`` when this verifier lacks the definition the bundle
    declares (another metrics version, or no such suite installed): the
    numbers are signed by the evaluator but not recomputed here.
    """

    category: str
    suite: str
    bundle_version: int
    bundle_crosslab: str
    verifier_version: int | None  # None: this verifier has no definition for the suite
    status: str

    def line(self) -> str:
        if self.status == "rechecked":
            return f"{self.suite} metrics v{self.bundle_version}: recomputed from the stubs, equal"
        have = (f"this verifier has v{self.verifier_version}" if self.verifier_version is not None
                else "this verifier has no definition for them")
        return (f"suite metrics not re-checked: bundle made with {self.suite} metrics v{self.bundle_version} "
                f"(crosslab {self.bundle_crosslab}), {have}")


@dataclass
class VerificationResult:
    protocol_id: str
    format_version: str
    crosslab_version: str  # the writer's, as the statement records it
    round: dict[str, Any]  # {"number", "date", "previous"}
    evaluator: str
    evaluated: str
    deployment: str
    stubs: int
    by_tier: dict[str, int]
    public_verified: int
    restricted_verified: int | None  # None: not decrypted (no partner key given)
    withheld: int
    countersigned: bool  # signed by the evaluated lab's key: for a self-evaluation, the evaluator's own
    response: str | None
    metrics: dict[str, Any] = field(default_factory=dict)
    revealed: int = 0  # later reveals (reveals/*.jsonl) checked against the original stubs
    withheld_revealed: int = 0  # of the withheld stubs, how many a later reveal opened
    #: Suites whose pinned items (ids, tiers, order) were checked against the stubs and disclosures.
    content_checked: list[str] = field(default_factory=list)
    pinned_suites: list[str] = field(default_factory=list)  # the pinned suites, in protocol order
    suite_metrics: list[SuiteMetricsCheck] = field(default_factory=list)
    #: The evaluator evaluated its own deployment (the protocol allows it): no independent evaluation,
    #: and its countersignature, by the same key, adds no independent review.
    self_evaluation: bool = False
    #: The adaptive attack's summary, recomputed from its rows and checked against the pinned spec
    #: (``bundle/attack_check.py``); None when the protocol pins no attack.
    attack: dict[str, Any] | None = None
    #: With a partner key: the attack's sealed elicitations opened against their rows (None: none to open).
    attack_elicitations_opened: int | None = None
    #: With a partner key: the decrypted restricted appendix, checked above, so a reader (the partner
    #: report) opens its disclosures without decrypting again. Never part of the machine-readable result.
    restricted_plain: bytes | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable result (``crosslab verify --json``)."""
        data = asdict(self)
        del data["restricted_plain"]
        data["suite_metrics"] = [{**asdict(s), "message": s.line()} for s in self.suite_metrics]
        return data


# Check 1: every participant in the protocol is a pinned identity.
def _check_pins(protocol: Protocol, pinned: dict[str, PublicIdentity]) -> None:
    for participant in protocol.participants:
        lab = participant.identity.lab
        if lab not in pinned:
            raise VerificationError(f"no pinned identity for {lab}: pass its identity file with --keys")
        if participant.identity.model_dump(mode="json") != pinned[lab].model_dump(mode="json"):
            raise VerificationError(f"the protocol's identity for {lab} does not match the pinned one "
                                    f"(fingerprint {participant.identity.fingerprint[:16]}… vs "
                                    f"{pinned[lab].fingerprint[:16]}…)")


# Check 2: the protocol is canonical and signed by every participant.
def _load_protocol(files: BundleFiles, pinned: dict[str, PublicIdentity]) -> Protocol:
    raw = files.read(layout.PROTOCOL)
    try:
        protocol = Protocol.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        raise VerificationError(f"{layout.PROTOCOL}: not a valid protocol ({str(exc).splitlines()[0]})") from None
    if protocol.canonical() != raw:
        raise VerificationError(f"{layout.PROTOCOL}: not in canonical form")
    _check_pins(protocol, pinned)
    envelope = envelope_entry(files, layout.PROTOCOL_SIGNATURES)
    try:
        verify_protocol(protocol, envelope)
    except VerificationError as exc:
        raise VerificationError(f"{layout.PROTOCOL_SIGNATURES}: {exc}") from None
    return protocol


def envelope_entry(files: BundleFiles, name: str) -> dict:
    data = files.read(name)  # its errors name the file already
    try:
        return load_envelope(data)
    except VerificationError as exc:
        raise VerificationError(f"{name}: {exc}") from None


def _peek_evaluator(envelope: dict) -> str:
    """The claimed evaluator, read before verification only to choose the key that must have signed."""
    try:
        evaluator = parse_statement(b64decode(envelope["payload"], "payload"))["predicate"]["evaluator"]
    except (KeyError, TypeError, VerificationError):
        raise VerificationError(f"{layout.STATEMENT}: payload is not a crosslab statement") from None
    if not isinstance(evaluator, str):
        raise VerificationError(f"{layout.STATEMENT}: the evaluator is not a lab id")
    return evaluator


def _signer_of(message: str, protocol: Protocol) -> str:
    """Which participant a signature error is about (errors name the keyid)."""
    for participant in protocol.participants:
        if participant.identity.signing_key.keyid in message:
            return participant.identity.lab
    return "an unknown key"


# Check 3: the statement is signed by the evaluator, in a format this verifier reads, under this protocol.
def _verified_statement(files: BundleFiles, protocol: Protocol) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    envelope = envelope_entry(files, layout.STATEMENT)
    evaluator = _peek_evaluator(envelope)
    try:
        evaluator_identity = protocol.participant(evaluator).identity
    except KeyError:
        raise VerificationError(f"{layout.STATEMENT}: evaluator {evaluator!r} is not a protocol participant") from None
    try:
        verified, stmt = verify_statement(envelope, trusted_keys(protocol),
                                          required={evaluator_identity.signing_key.keyid})
    except VerificationError as exc:
        signer = _signer_of(str(exc), protocol)
        role = "the evaluator" if signer == evaluator else "the evaluated lab's countersignature" \
            if signer != "an unknown key" else "signature"
        raise VerificationError(f"{layout.STATEMENT}: {exc} ({role}, {signer})") from None
    if stmt["predicateType"] != layout.PREDICATE_TYPE:
        raise VerificationError(f"{layout.STATEMENT}: predicateType is {stmt['predicateType']!r}")
    pred = stmt.get("predicate", {})
    if not isinstance(pred, dict):
        raise VerificationError(f"{layout.STATEMENT}: the predicate is not an object")
    layout.check_format_version(pred)
    if pred.get("protocol_id") != protocol.id:
        raise VerificationError(f"{layout.STATEMENT}: made under protocol {str(pred.get('protocol_id'))[:16]}…, "
                                f"the bundle's protocol is {protocol.id[:16]}…")
    return verified, stmt, pred


# Check 4: every subject digest matches its file, and the deployment is the one agreed.
def _check_subjects(files: dict[str, bytes], stmt_subjects: Any, pred: dict[str, Any], protocol: Protocol) -> None:
    evaluated = pred.get("evaluated")
    if not isinstance(evaluated, dict):
        raise VerificationError(f"{layout.STATEMENT}: 'evaluated' is not an object")
    try:
        agreed = agreed_deployment(protocol, str(evaluated.get("lab")), str(evaluated.get("deployment"))).digest
    except ProtocolError as exc:
        raise VerificationError(f"{layout.STATEMENT}: {exc}") from None
    check_subjects(files, stmt_subjects,
                   {f"deployment:{evaluated['lab']}/{evaluated['deployment']}": agreed})


def check_subjects(files: dict[str, bytes], stmt_subjects: Any, named: dict[str, str]) -> None:
    """Each file's SHA-256, and each ``named`` subject's digest, is the one the statement signs; no other."""
    expected = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()} | named
    claimed = {s["name"]: s["digest"]["sha256"] for s in stmt_subjects}
    for name, sha256 in expected.items():
        if claimed.get(name) != sha256:
            raise VerificationError(f"{name}: digest does not match the signed statement")
    if set(claimed) != set(expected):
        raise VerificationError(f"{layout.STATEMENT}: unexpected subjects {sorted(set(claimed) - set(expected))}")


_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:[.+-]?[A-Za-z0-9.+-]+)?$")


# Check 4 (continued): what the evaluator signed about the round agrees with the protocol everyone signed.
def _check_claims(pred: dict[str, Any], protocol: Protocol) -> None:
    where = layout.STATEMENT
    if pred.get("round") != protocol.round.model_dump(mode="json"):
        raise VerificationError(f"{where}: the round (number, date, previous) differs from the protocol's")
    if pred.get("disclosure") != protocol.disclosure.model_dump(mode="json"):
        raise VerificationError(f"{where}: the disclosure policy differs from the protocol's")
    version = pred.get("crosslab_version")
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise VerificationError(f"{where}: crosslab_version {printable(str(version))!r} is not a version number")
    evaluated = pred["evaluated"]
    if evaluated.get("lab") == pred.get("evaluator") and not protocol.allow_self_evaluation:
        raise VerificationError(f"{where}: {evaluated.get('lab')} evaluated itself, and the protocol does not "
                                "allow self-evaluation (a round is labs evaluating each other)")
    agreed = agreed_deployment(protocol, str(evaluated["lab"]), str(evaluated["deployment"])).digest
    if evaluated.get("target_digest") != agreed or set(evaluated) != {"lab", "deployment", "target_digest"}:
        raise VerificationError(f"{where}: the evaluated deployment's digest is not the one agreed in the protocol")
    _check_grader_cards(pred.get("grader_cards", []), protocol)


def _check_grader_cards(cards: Any, protocol: Protocol) -> None:
    """Every grader the protocol pins is carried with exactly the pinned card (id, version, card digest)."""
    where = layout.STATEMENT
    if not isinstance(cards, list) or not all(isinstance(c, dict) for c in cards):
        raise VerificationError(f"{where}: grader_cards must be a list of grader cards")
    try:
        carried = {canonical_digest(card): card for card in cards}
    except (TypeError, ValueError):
        raise VerificationError(f"{where}: a grader card is not canonical JSON") from None
    for pin in protocol.graders:
        card = carried.get(pin.card)
        if card is None:
            raise VerificationError(f"{where}: the protocol pins grader {pin.id} {pin.version} by card "
                                    f"{pin.card[:16]}…; the bundle does not carry that card")
        if card.get("grader") != {"id": pin.id, "version": pin.version}:
            raise VerificationError(f"{where}: card {pin.card[:16]}… is not for grader {pin.id} {pin.version}")


def _check_age_header(data: bytes, entitled: int) -> None:
    """restricted.age is an age file with one X25519 stanza per entitled participant and no other recipient.

    The age library adds a random "grease" stanza (type ``*-grease``) to keep
    parsers tolerant; no age implementation decrypts with one, so it is
    allowed. docs/protocol.md's threat model notes the residue: an evaluator
    with a custom tool could hide a key in it, as it could leak the plaintext
    by any other channel.
    """
    name = layout.RESTRICTED
    if not data.startswith(b"age-encryption.org/v1\n"):
        raise VerificationError(f"{name}: not an age file (no age-encryption.org/v1 header)")
    end = data.find(b"\n--- ")
    if end < 0 or end > 64 * 1024:
        raise VerificationError(f"{name}: the age header has no MAC line")
    stanzas = [line.split(b" ") for line in data[:end].split(b"\n") if line.startswith(b"-> ")]
    kinds = [parts[1] if len(parts) > 1 else b"" for parts in stanzas]
    if any(k != b"X25519" and not k.endswith(b"-grease") for k in kinds):
        raise VerificationError(f"{name}: the age header has a recipient stanza that is not X25519")
    recipients = kinds.count(b"X25519")
    if recipients != entitled:
        raise VerificationError(f"{name}: encrypted to {recipients} recipients; the protocol entitles {entitled}")


# Check 5: the stubs are well formed, cover the pinned suites, and are the ones the Merkle root commits to.
def read_stubs(data: bytes) -> tuple[list[bytes], list[Stub]]:
    """items.jsonl as (lines, stubs): every line a canonical stub with the stub fields, in index order,
    of a known tier."""
    lines = json_lines(data, layout.ITEMS)
    stubs: list[Any] = [value for _, value in lines]
    fields = set(STUB_FIELDS)
    for number, stub in enumerate(stubs):
        if set(stub) != fields:
            raise VerificationError(f"{layout.ITEMS}:{number + 1}: stub fields are not {', '.join(STUB_FIELDS)}")
        if stub["i"] != number:
            raise VerificationError(f"{layout.ITEMS}:{number + 1}: stub index {stub['i']} out of order")
        if stub["tier"] not in TIERS:
            raise VerificationError(f"{layout.ITEMS}:{number + 1}: unknown tier {stub['tier']!r}")
    return [line for line, _ in lines], stubs


def check_stub_root(lines: list[bytes], pred: dict[str, Any]) -> None:
    """The statement's stub count and Merkle root are those of these lines."""
    claimed = pred.get("stubs")
    claimed = claimed if isinstance(claimed, dict) else {}
    if claimed.get("count") != len(lines):
        raise VerificationError(f"{layout.ITEMS}: {len(lines)} stubs, the statement says {claimed.get('count')}")
    if merkle.root(lines).hex() != claimed.get("merkle_root"):
        raise VerificationError(f"{layout.ITEMS}: Merkle root does not match the statement")


def _check_stubs(data: bytes, pred: dict[str, Any], protocol: Protocol) -> list[Stub]:
    lines, stubs = read_stubs(data)
    runs = pred.get("runs")
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs) or \
            [r.get("suite") for r in runs] != [p.name for p in protocol.suites] or \
            sum(int(r.get("items", 0)) * int(r.get("epochs", 0)) for r in runs) != len(stubs) or \
            any(r.get("items_digest") != p.digest or r.get("epochs") != p.epochs
                for r, p in zip(runs, protocol.suites, strict=True)):
        raise VerificationError(f"{layout.STATEMENT}: the runs do not cover the pinned suites "
                                "(suite order, items × epochs, digests)")
    check_stub_root(lines, pred)
    return stubs


# Check 5 (continued): with the pinned items at hand, each position's tier and item are the pinned ones.
def _check_pinned_tiers(stubs: list[Stub], runs: list[dict[str, Any]], contents: Mapping[str, list[tuple[str, str]]],
                        slots: Slots) -> list[str]:
    """Stub tiers against the pinned items now; disclosed item ids later (``slots.items`` is pre-filled)."""
    tiers: dict[int, str] = {}
    checked, base = [], 0
    for run in runs:
        items = contents.get(run["suite"])
        if items is not None and len(items) == int(run["items"]):
            for j, (item_id, tier) in enumerate(items):
                slots.items[base + j] = item_id
                tiers[base + j] = tier
            slots.track = True
            checked.append(run["suite"])
        base += int(run["items"])
    for i, stub in enumerate(stubs if tiers else ()):
        tier = tiers.get(slots.positions[i][1])
        if tier is not None and stub["tier"] != tier:
            raise VerificationError(f"{layout.ITEMS}:{i + 1}: stub {i} is {stub['tier']}, but the pinned item at "
                                    f"this position is {tier}")
    return checked


# Check 6: counts and pass rates recomputed from the stubs equal the statement's.
def check_generic_metrics(stubs: list[Stub], pred: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Returns (metrics, counts), both as signed and recomputed."""
    counts = counts_from_stubs(stubs)
    if jcs(counts) != jcs(pred.get("counts")):
        raise VerificationError(f"{layout.STATEMENT}: counts differ from those recomputed from the stubs")
    metrics = pred.get("metrics")
    if not isinstance(metrics, dict) or set(metrics) != {"rows", "suites"} or not isinstance(metrics["suites"], dict):
        raise VerificationError(f"{layout.STATEMENT}: metrics are not {{rows, suites}}")
    if jcs(pass_rate_rows(stubs)) != jcs(metrics["rows"]):
        raise VerificationError(f"{layout.STATEMENT}: metrics differ from those recomputed from the stubs")
    if layout.format_version(pred).startswith(("1.", "2.")) and layout.format_for(stubs) != layout.FORMAT_VERSION:
        raise VerificationError(f"{layout.ITEMS}: an unscored stub (a label with no score) in a format "
                                f"{layout.format_version(pred)} bundle; only format 3 bundles carry them")
    return metrics, counts


# Check 7: each suite's metrics, re-computed where this verifier has the definition the bundle declares.
def check_suite_metrics(stubs: list[Stub], pred: dict[str, Any], claimed: dict[str, Any],
                         definitions: Mapping[str, MetricDefinition]) -> list[SuiteMetricsCheck]:
    declared = layout.declared_definitions(pred, claimed)
    present = by_category(stubs)
    checks = []
    for category, decl in sorted(declared.items()):
        if category not in present:
            raise VerificationError(f"{layout.STATEMENT}: metrics for {category}, which has no stubs")
        mine = definitions.get(category)
        same = mine is not None and mine.suite == decl["suite"] and mine.version == decl["metrics_version"]
        if same:
            assert mine is not None
            if jcs(mine.compute(present[category])) != jcs(claimed[category]):
                raise VerificationError(f"{layout.STATEMENT}: {decl['suite']} metrics (v{mine.version}) differ from "
                                        "those recomputed from the stubs")
        checks.append(SuiteMetricsCheck(category, decl["suite"], decl["metrics_version"], decl["crosslab_version"],
                                        mine.version if mine is not None and mine.suite == decl["suite"] else None,
                                        "rechecked" if same else "not_rechecked"))
    return checks


#: What a disclosure must repeat from its stub: (field, "record" | "verdict").
_DISCLOSED_FIELDS = (("category", "record"), ("slice", "record"), ("tier", "record"), ("status", "record"),
                     ("facets", "record"), ("label", "verdict"), ("score", "verdict"), ("values", "verdict"))


def _check_entry(number: int, entry: dict[str, Any], stubs: list[Stub], tiers: set[str],
                 name: str, slots: Slots) -> tuple[int, Any]:
    """One disclosure line: a stub index of the right tier, opening that stub's commitment, same fields,
    and the epoch that stub's position holds. Returns (stub index, the disclosed item id)."""
    i = entry.get("i")
    if set(entry) != {"i", "d"} or not isinstance(i, int) or not 0 <= i < len(stubs):
        raise VerificationError(f"{name}:{number}: not a disclosure of a stub index")
    stub: Any = stubs[i]
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
    if record.get("target") != slots.target:
        raise VerificationError(f"{name}:{number}: stub {i}: the disclosed sample was not run against the "
                                "evaluated deployment (its target digest differs)")
    if record.get("epoch") != slots.positions[i][0]:
        raise VerificationError(f"{name}:{number}: stub {i}: disclosed epoch {record.get('epoch')!r}, but position "
                                f"{i} holds epoch {slots.positions[i][0]} of its suite")
    return i, record.get("item_id")


#: Large disclosure files are checked on every core (fork: the children read the parent's memory).
PARALLEL_FROM = 20_000
_SHARED: tuple[Any, ...] = ()


def _check_range(bounds: tuple[int, int]) -> list[tuple[int, Any]]:
    lines, stubs, tiers, name, slots = _SHARED
    return [_check_entry(n + 1, parse_line(lines[n], name, n + 1), stubs, tiers, name, slots)
            for n in range(*bounds)]


def _checked_indices(lines: list[bytes], stubs: list[Stub], tiers: set[str], name: str,
                     slots: Slots) -> list[tuple[int, Any]]:
    """Each line's stub index, in line order; the first failing line (in file order) is the error raised."""
    workers = min(os.cpu_count() or 1, 8)
    if len(lines) < PARALLEL_FROM or workers < 2 or "fork" not in mp.get_all_start_methods():
        return [_check_entry(n, parse_line(line, name, n), stubs, tiers, name, slots)
                for n, line in enumerate(lines, start=1)]
    global _SHARED
    _SHARED = (lines, stubs, tiers, name, slots)
    step = -(-len(lines) // workers)
    chunks = [(lo, min(lo + step, len(lines))) for lo in range(0, len(lines), step)]
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            return [i for part in pool.imap(_check_range, chunks) for i in part]  # in order: first error wins
    finally:
        _SHARED = ()


@dataclass
class Slots:
    """Where each stub sits: (epoch, slot) per index, slot = (suite, item position); item ids seen per slot;
    and the evaluated deployment's digest, which every disclosed sample must carry."""

    positions: list[tuple[int, int]]  # one (epoch, slot) per stub
    target: str
    items: dict[int, Any] = field(default_factory=dict)
    #: Whether item ids need tracking: a suite with several epochs, or pinned items to compare with.
    track: bool = False

    @classmethod
    def from_runs(cls, runs: list[dict[str, Any]], target_digest: str) -> Slots:
        positions: list[tuple[int, int]] = []
        base = 0
        for run in runs:
            n = int(run["items"])
            positions.extend((epoch, base + j) for epoch in range(1, int(run["epochs"]) + 1) for j in range(n))
            base += n
        return cls(positions, target_digest, track=any(int(r["epochs"]) > 1 for r in runs))


# Checks 8, 9 and 11: a disclosure file (public.jsonl, the decrypted appendix, a reveal) against the stubs.
def check_disclosures(data: bytes, stubs: list[Stub], tiers: set[str], name: str, slots: Slots,
                       complete: bool = True) -> set[int]:
    """Also: the same slot of a suite (its item) holds the same item id in every epoch, across files."""
    indices = _checked_indices(split_lines(data, name), stubs, tiers, name, slots)
    seen: set[int] = set()
    for number, (i, item_id) in enumerate(indices, start=1):
        if i in seen:
            raise VerificationError(f"{name}:{number}: stub {i} is disclosed twice")
        seen.add(i)
        if not slots.track:
            continue
        slot = slots.positions[i][1]
        if slots.items.setdefault(slot, item_id) != item_id:
            raise VerificationError(f"{name}:{number}: stub {i} discloses item {printable(str(item_id))!r}, but its "
                                    f"position holds {printable(str(slots.items[slot]))!r} (the pinned item, or "
                                    "the one disclosed there in another epoch)")
    expected = {s["i"] for s in stubs if s["tier"] in tiers}
    if complete and seen != expected:
        missing = sorted(expected - seen)
        raise VerificationError(f"{name}: {len(missing)} {'/'.join(sorted(tiers))} stubs have no disclosure "
                                f"(first: {missing[0]})")
    return seen


def verify_bundle(bundle: Path, pinned: dict[str, PublicIdentity], *, partner_identity: Any = None,
                  metric_definitions: Mapping[str, MetricDefinition] | None = None,
                  strict: bool = False, expected_protocol_id: str | None = None,
                  expected_round: int | None = None,
                  require_countersignature: bool = False,
                  pinned_contents: Callable[[Protocol], Mapping[str, list[tuple[str, str]]]] | None = None,
                  ) -> VerificationResult:
    """Check everything; raise VerificationError naming the first mismatch, else return the result.

    ``metric_definitions`` (category -> definition) are the suite metric
    definitions this verifier may re-compute with; none means every suite's
    metrics are reported as not re-checked. ``strict`` makes that an error.
    """
    reader = BundleFiles(bundle)  # check 0: a closed set of regular files, each within its size limit
    protocol = _load_protocol(reader, pinned)  # checks 1 and 2
    if expected_protocol_id is not None and protocol.id != expected_protocol_id.lower():
        raise VerificationError(f"{layout.PROTOCOL}: protocol {protocol.id}, not the pinned {expected_protocol_id}")
    if expected_round is not None and protocol.round.number != expected_round:
        raise VerificationError(f"{layout.PROTOCOL}: round {protocol.round.number} of {protocol.round.date}, "
                                f"not the expected round {expected_round}")
    verified, stmt, pred = _verified_statement(reader, protocol)  # check 3
    files = {name: reader.read(name) for name in (layout.ITEMS, layout.PUBLIC, layout.RESTRICTED)}
    files[layout.PROTOCOL] = protocol.canonical()
    _check_subjects(files, stmt["subject"], pred, protocol)  # check 4
    _check_claims(pred, protocol)
    attack = check_attack(pred, protocol)
    _check_age_header(files[layout.RESTRICTED], len(protocol.participants))
    stubs = _check_stubs(files[layout.ITEMS], pred, protocol)  # check 5
    slots = Slots.from_runs(pred["runs"], pred["evaluated"]["target_digest"])
    contents = dict(pinned_contents(protocol)) if pinned_contents else {}
    content_checked = _check_pinned_tiers(stubs, pred["runs"], contents, slots)
    metrics, counts = check_generic_metrics(stubs, pred)  # check 6
    suite_checks = check_suite_metrics(stubs, pred, metrics["suites"], metric_definitions or {})  # check 7
    if strict and any(c.status != "rechecked" for c in suite_checks):
        first = next(c for c in suite_checks if c.status != "rechecked")
        raise VerificationError(f"{layout.STATEMENT}: {first.line()} (--strict)")

    policy = protocol.disclosure
    public = len(check_disclosures(files[layout.PUBLIC], stubs, set(policy.public), layout.PUBLIC, slots))  # 8
    restricted = attack_opened = plain = None
    if partner_identity is not None:  # check 9
        try:
            plain = decrypt_with(partner_identity, files[layout.RESTRICTED])
        except ValueError as exc:
            raise VerificationError(f"{layout.RESTRICTED}: {exc}") from None
        restricted = len(check_disclosures(plain, stubs, set(policy.partners) - set(policy.public),
                                            layout.RESTRICTED, slots))
        attack_opened = open_elicitations(pred, partner_identity)
    withheld = sum(n for t, n in counts["by_tier"].items() if t not in policy.partners)  # check 10: counted
    revealed, opened = _check_reveals(reader, stubs, set(TIERS) - set(policy.public), slots)  # check 11
    withheld_revealed = sum(1 for i in opened if stubs[i]["tier"] not in policy.partners)
    evaluated = pred["evaluated"]
    evaluated_key = protocol.participant(evaluated["lab"]).identity.signing_key.keyid
    response = check_response(reader, verified.payload, trusted_keys(protocol), evaluated_key)  # check 12
    if require_countersignature and evaluated_key not in verified.keyids:
        raise VerificationError(f"{layout.STATEMENT}: not countersigned by the evaluated lab ({evaluated['lab']}); "
                                "a countersignature is required")
    self_evaluation = evaluated["lab"] == pred["evaluator"]  # check 4 refused it unless the protocol allows it
    if require_countersignature and self_evaluation:
        raise VerificationError(f"{layout.STATEMENT}: a self-evaluation ({evaluated['lab']} on its own deployment) "
                                "has no independent countersignature; a countersignature is required")
    return VerificationResult(
        protocol_id=protocol.id, format_version=layout.format_version(pred),
        crosslab_version=str(pred.get("crosslab_version")), round=protocol.round.model_dump(mode="json"),
        evaluator=pred["evaluator"], evaluated=evaluated["lab"], deployment=evaluated["deployment"],
        stubs=len(stubs), by_tier={t: counts["by_tier"].get(t, 0) for t in TIERS},
        public_verified=public, restricted_verified=restricted, withheld=withheld,
        countersigned=evaluated_key in verified.keyids, response=response, metrics=metrics, revealed=revealed,
        withheld_revealed=withheld_revealed, content_checked=content_checked,
        pinned_suites=[p.name for p in protocol.suites],
        suite_metrics=suite_checks, self_evaluation=self_evaluation, attack=attack,
        attack_elicitations_opened=attack_opened, restricted_plain=plain)


def _check_reveals(files: BundleFiles, stubs: list[Stub], tiers: set[str], slots: Slots) -> tuple[int, set[int]]:
    """Each reveal file's disclosures must open their original stubs' commitments.

    Returns (disclosures checked, the stub indices they opened)."""
    total, opened = 0, set()
    for name in files.reveals:
        seen = check_disclosures(files.read(name), stubs, tiers, name, slots, complete=False)
        total += len(seen)
        opened |= seen
    return total, opened


def check_response(files: BundleFiles, statement_payload: bytes, keys: dict, evaluated_key: str) -> str | None:
    if not files.has(layout.RESPONSE):
        return None
    try:
        verified, stmt = verify_statement(envelope_entry(files, layout.RESPONSE), keys, required={evaluated_key})
    except VerificationError as exc:
        raise VerificationError(f"{layout.RESPONSE}: {exc} (the evaluated lab's reply)") from None
    pred = stmt.get("predicate", {})
    if stmt["predicateType"] != layout.RESPONSE_PREDICATE_TYPE or not isinstance(pred, dict) or \
            pred.get("statement_sha256") != hashlib.sha256(statement_payload).hexdigest():
        raise VerificationError(f"{layout.RESPONSE}: not a reply to this bundle's statement")
    return str(pred.get("response", ""))
