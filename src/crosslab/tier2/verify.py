"""Verify a lab's tier-2 bundle, failing closed with one line that names the file.

Anyone can check, with the bundle alone:

1. the file set (no links, devices or strays; each under its size limit);
2. the tier-2 protocol, and that the evaluator and every lab signed it; with
   ``pinned`` identities, that its parties are exactly those;
3. the statement: signed by the protocol's evaluator, about one of its labs,
   under this protocol, with its round, scenarios and disclosure;
4. every subject digest (stubs, public transcripts, private report, protocol);
5. the stubs: one per planned rollout (scenarios × rollouts), in order, under
   the signed Merkle root;
6. counts, pass rates and the suite metrics, recomputed from the stubs (the
   suite metrics where this verifier has the definition the bundle declares);
7. the redaction summary, recomputed from the stubs and the protocol;
8. every public transcript opens its stub's commitment, and every stub of a
   public tier has one;
9. the lab's countersignature and its reply, when present.

The lab, with its age key, also checks its private report (10): it decrypts,
names this protocol and lab, and opens every stub's commitment, so the
evaluator cannot show the lab one set of rollouts and the public another.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from crosslab.attest.errors import VerificationError
from crosslab.attest.intoto import verify_statement
from crosslab.bundle import layout
from crosslab.bundle.metrics import MetricDefinition
from crosslab.bundle.reader import MiB, BundleFiles
from crosslab.bundle.verify import (
    TIERS,
    Slots,
    SuiteMetricsCheck,
    check_disclosures,
    check_generic_metrics,
    check_response,
    check_stub_root,
    check_subjects,
    check_suite_metrics,
    envelope_entry,
    read_stubs,
)
from crosslab.core.jcs import jcs
from crosslab.core.outcome import Stub
from crosslab.disclosure.commitments import open_disclosure
from crosslab.disclosure.encryption import EncryptionError, decrypt_with
from crosslab.identity.keys import PublicIdentity
from crosslab.protocol.signing import trusted_keys, verify_protocol
from crosslab.protocol.tier2 import Tier2Protocol
from crosslab.tier2.bundle_format import FILES, FORMAT_VERSION, PREDICATE_TYPE, PRIVATE_FORMAT, PRIVATE_REPORT, \
    SUBJECT_FILES, lab_digest, redaction_summary


@dataclass
class Tier2Verification:
    """What a tier-2 bundle was checked to say."""

    bundle: str
    protocol_id: str
    title: str
    round: dict[str, Any]
    evaluator: str
    lab: str
    lab_name: str
    rollouts: int  # stubs: scenarios × rollouts per scenario
    scenarios: int
    by_status: dict[str, int]
    metrics: dict[str, Any]
    redactions: list[dict[str, Any]]
    attachments: int  # rollouts with a lab attachment (in the private report only)
    public_verified: int
    countersigned: bool
    response: str | None
    signers: list[dict[str, str]] = field(default_factory=list)  # {lab, name, role}: who agreed the protocol
    suite_metrics: list[SuiteMetricsCheck] = field(default_factory=list)
    private_checked: bool = False  # the lab's private report was decrypted and every rollout opened
    private: dict[str, Any] | None = None  # the decrypted private report (only for the lab)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("private")
        data["suite_metrics"] = [{**asdict(s), "message": s.line()} for s in self.suite_metrics]
        return data


def _protocol(files: BundleFiles, pinned: Mapping[str, PublicIdentity] | None) -> Tier2Protocol:
    raw = files.read(layout.PROTOCOL)
    try:
        protocol = Tier2Protocol.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        raise VerificationError(f"{layout.PROTOCOL}: not a valid tier-2 protocol ({str(exc).splitlines()[0]})") \
            from None
    if protocol.canonical() != raw:
        raise VerificationError(f"{layout.PROTOCOL}: not in canonical form (RFC 8785)")
    if pinned is not None:
        for party in protocol.participants:
            expected = pinned.get(party.identity.lab)
            if expected is None:
                raise VerificationError(f"{layout.PROTOCOL}: party {party.identity.lab} is not among the "
                                        "identities you trust")
            if expected.fingerprint != party.identity.fingerprint:
                raise VerificationError(f"{layout.PROTOCOL}: {party.identity.lab}'s identity differs from the one "
                                        "you trust (its keys were swapped)")
    try:
        verify_protocol(protocol, envelope_entry(files, layout.PROTOCOL_SIGNATURES))
    except VerificationError as exc:
        raise VerificationError(f"{layout.PROTOCOL_SIGNATURES}: {exc}") from None
    return protocol


def _statement(files: BundleFiles, protocol: Tier2Protocol) -> tuple[Any, dict[str, Any], dict[str, Any], str]:
    """(verified envelope, statement, predicate, the evaluated lab); signed by the evaluator at least."""
    envelope = envelope_entry(files, layout.STATEMENT)
    evaluator_key = protocol.evaluator.identity.signing_key.keyid
    try:
        verified, stmt = verify_statement(envelope, trusted_keys(protocol), required={evaluator_key})
    except VerificationError as exc:
        raise VerificationError(f"{layout.STATEMENT}: {exc}") from None
    pred = stmt.get("predicate")
    if stmt["predicateType"] != PREDICATE_TYPE or not isinstance(pred, dict):
        raise VerificationError(f"{layout.STATEMENT}: not a tier-2 bundle statement "
                                f"(predicateType {stmt['predicateType']!r})")
    if pred.get("format_version") != FORMAT_VERSION:
        raise VerificationError(f"{layout.STATEMENT}: tier-2 bundle format {pred.get('format_version')!r} is not "
                                f"one this verifier reads ({FORMAT_VERSION})")
    if pred.get("protocol_id") != protocol.id:
        raise VerificationError(f"{layout.STATEMENT}: made under protocol {str(pred.get('protocol_id'))[:16]}…, "
                                f"the bundle's protocol is {protocol.id[:16]}…")
    if pred.get("evaluator") != protocol.evaluator.identity.lab:
        raise VerificationError(f"{layout.STATEMENT}: the evaluator is not the protocol's")
    evaluated = pred.get("evaluated")
    lab = evaluated.get("lab") if isinstance(evaluated, dict) else None
    if lab not in protocol.lab_ids():
        raise VerificationError(f"{layout.STATEMENT}: the evaluated lab is not a lab of the protocol")
    if evaluated != {"lab": lab, "target_digest": lab_digest(lab)}:
        raise VerificationError(f"{layout.STATEMENT}: the evaluated agent's digest is not the lab's")
    extra = set(verified.keyids) - {evaluator_key, protocol.participant(lab).identity.signing_key.keyid}
    if extra:
        raise VerificationError(f"{layout.STATEMENT}: signed by another party than the evaluator and {lab}")
    if pred.get("round") != protocol.round.model_dump(mode="json"):
        raise VerificationError(f"{layout.STATEMENT}: the round differs from the protocol's")
    scenarios = pred.get("scenarios")
    if not isinstance(scenarios, dict) or set(scenarios) != {"items", "rollouts", "items_digest"} or \
            type(scenarios["items"]) is not int or scenarios["items"] < 1 or \
            scenarios["rollouts"] != protocol.rollouts or scenarios["items_digest"] != protocol.scenarios.digest:
        raise VerificationError(f"{layout.STATEMENT}: the scenarios (rollouts, digest) are not the protocol's")
    return verified, stmt, pred, lab


def _subjects(files: BundleFiles, stmt: dict[str, Any], lab: str) -> dict[str, bytes]:
    data = {name: files.read(name) for name in SUBJECT_FILES}
    check_subjects(data, stmt["subject"], {f"agent:{lab}": lab_digest(lab)})
    return data


def _stubs(data: bytes, pred: dict[str, Any]) -> list[Stub]:
    lines, stubs = read_stubs(data)
    planned = pred["scenarios"]["items"] * pred["scenarios"]["rollouts"]
    if len(stubs) != planned:
        raise VerificationError(f"{layout.ITEMS}: {len(stubs)} stubs, but the protocol plans {planned} rollouts "
                                "(scenarios × rollouts): a rollout was dropped or added")
    check_stub_root(lines, pred)
    return stubs


def _private(data: bytes, identity: Any, stubs: list[Stub], protocol: Tier2Protocol, lab: str,
             slots: Slots, attachments: int) -> dict[str, Any]:
    """Check 10: the lab's private report opens every stub (each rollout in full, as the stubs commit)."""
    try:
        report = orjson.loads(decrypt_with(identity, data))
    except EncryptionError as exc:
        raise VerificationError(f"{PRIVATE_REPORT}: {exc}") from None
    except orjson.JSONDecodeError:
        raise VerificationError(f"{PRIVATE_REPORT}: the decrypted report is not JSON") from None
    if not isinstance(report, dict) or set(report) != {"format", "protocol_id", "evaluator", "lab", "rollouts"} or \
            report["format"] != PRIVATE_FORMAT or not isinstance(report["rollouts"], list):
        raise VerificationError(f"{PRIVATE_REPORT}: not a tier-2 private report")
    if report["protocol_id"] != protocol.id or report["lab"] != lab:
        raise VerificationError(f"{PRIVATE_REPORT}: written for another protocol or lab")
    try:
        lines = b"".join(jcs(entry) + b"\n" for entry in report["rollouts"])
    except (TypeError, ValueError) as exc:
        raise VerificationError(f"{PRIVATE_REPORT}: a rollout entry is not plain JSON ({exc})") from None
    check_disclosures(lines, stubs, set(TIERS), PRIVATE_REPORT, slots)
    attached = sum(bool((entry_record(e).get("agent") or {}).get("attachments")) for e in report["rollouts"])
    if attached != attachments:
        raise VerificationError(f"{PRIVATE_REPORT}: {attached} rollouts carry attachments, the statement says "
                                f"{attachments}")
    return report


def entry_record(entry: dict[str, Any]) -> dict[str, Any]:
    """The record inside one private-report entry (already checked against its commitment)."""
    _, value = open_disclosure(entry["d"])
    record = value.get("record") if isinstance(value, dict) else None
    return record if isinstance(record, dict) else {}


def verify_tier2_bundle(bundle: Path, *, pinned: Mapping[str, PublicIdentity] | None = None,
                        metric_definitions: Mapping[str, MetricDefinition] | None = None,
                        lab_identity: Any = None, require_countersignature: bool = False) -> Tier2Verification:
    """Run every check above; VerificationError (one line naming the file) on the first failure.

    ``pinned``: identities the caller trusts, by lab id (the evaluator's and the labs'); without it the
    protocol's own identities are taken as given. ``lab_identity``: the evaluated lab's age identity, to
    check its private report.
    """
    files = BundleFiles(bundle, required=FILES, optional=(layout.RESPONSE,),
                        limits={PRIVATE_REPORT: 2048 * MiB})
    protocol = _protocol(files, pinned)
    verified, stmt, pred, lab = _statement(files, protocol)
    data = _subjects(files, stmt, lab)
    if set(pred) != _PREDICATE_FIELDS:
        raise VerificationError(f"{layout.STATEMENT}: the predicate's fields are not a tier-2 bundle's "
                                f"(unexpected: {sorted(set(pred) - _PREDICATE_FIELDS)}, "
                                f"missing: {sorted(_PREDICATE_FIELDS - set(pred))})")
    stubs = _stubs(data[layout.ITEMS], pred)
    metrics, counts = check_generic_metrics(stubs, pred)
    suite_checks = check_suite_metrics(stubs, pred, metrics["suites"], metric_definitions or {})
    redactions = redaction_summary(stubs, protocol)
    if jcs(redactions) != jcs(pred.get("redactions")):
        raise VerificationError(f"{layout.STATEMENT}: the redaction summary differs from the one the stubs and "
                                "the protocol give")
    claimed_attachments = pred.get("attachments")
    if not isinstance(claimed_attachments, dict) or type(claimed_attachments.get("rollouts")) is not int:
        raise VerificationError(f"{layout.STATEMENT}: 'attachments' is not {{rollouts, where}}")
    # One "run": the scenarios × rollouts epochs, so each disclosure's epoch and scenario are checked by position.
    slots = Slots.from_runs([pred["scenarios"] | {"epochs": protocol.rollouts}], lab_digest(lab))
    public = check_disclosures(data[layout.PUBLIC], stubs, set(protocol.disclosure.public), layout.PUBLIC, slots)
    lab_key = protocol.participant(lab).identity.signing_key.keyid
    countersigned = lab_key in verified.keyids
    if require_countersignature and not countersigned:
        raise VerificationError(f"{layout.STATEMENT}: not countersigned by {lab}")
    response = check_response(files, verified.payload, trusted_keys(protocol), lab_key)
    private = None
    if lab_identity is not None:
        private = _private(data[PRIVATE_REPORT], lab_identity, stubs, protocol, lab, slots,
                           claimed_attachments["rollouts"])
    by_status = Counter(stub["status"] for stub in stubs)
    signers = [{"lab": p.identity.lab, "name": p.identity.name,
                "role": "evaluator" if p is protocol.evaluator else "lab"} for p in protocol.participants]
    return Tier2Verification(
        bundle=str(bundle), protocol_id=protocol.id, title=protocol.title, round=pred["round"],
        evaluator=protocol.evaluator.identity.lab, lab=lab, lab_name=protocol.participant(lab).identity.name,
        rollouts=len(stubs), scenarios=pred["scenarios"]["items"], by_status=dict(sorted(by_status.items())),
        metrics=metrics | {"counts": counts}, redactions=redactions, attachments=claimed_attachments["rollouts"],
        public_verified=len(public), countersigned=countersigned, response=response, signers=signers,
        suite_metrics=suite_checks, private_checked=private is not None, private=private)


_PREDICATE_FIELDS = {"protocol_id", "round", "evaluator", "evaluated", "scenarios", "stubs", "counts", "metrics",
                     "suite_metrics", "redactions", "attachments", "crosslab_version", "format_version"}
