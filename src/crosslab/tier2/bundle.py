"""A lab's tier-2 bundle: the evaluator's signed findings about one lab's internal agent.

One bundle per lab, written by the evaluator from the lab's journal in the
serve directory, under the signed tier-2 protocol (``tier2/planning.py``).
It holds:

- ``items.jsonl``: one stub per planned rollout (scenarios × rollouts, in plan
  order: epoch, then scenario), each with a salted commitment to the full
  rollout, under an RFC 6962 Merkle root. A rollout the lab never ran is a
  stub with status ``error`` (``not_run``): counted, never dropped.
- ``public.jsonl``: the transcripts of rollouts whose tier the protocol makes
  public (often none; every line opens its stub's commitment).
- ``private.age``: the lab's **private report**, every rollout in full
  (actions, report, follow-up answers, attachments, verdict), encrypted to
  that lab's age key only.
- ``protocol.json`` / ``protocol.dsse.json``: the protocol, signed by all.
- ``statement.dsse.json``: an in-toto statement signed by the evaluator: the
  file digests, the Merkle root, counts, the suite metrics recomputable from
  the stubs, and the redaction summary. The lab countersigns the same
  envelope (``tier2/countersign.py``) and may add a reply.

``tier2/verify.py`` checks every claim here that can be checked from the
bundle; the lab, holding its age key, also checks the private report.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crosslab.attest.dsse import dump_envelope
from crosslab.attest.intoto import sign_statement, statement
from crosslab.bundle import layout
from crosslab.bundle.installed import installed_definitions
from crosslab.bundle.metrics import stub_claims
from crosslab.bundle.stubs import encode_lines, stub_for, stub_line
from crosslab.bundle.writer import BundleError, write_bundle_dir
from crosslab.core.jcs import jcs
from crosslab.core.outcome import Stub
from crosslab.core.version import __version__
from crosslab.disclosure.encryption import encrypt_to
from crosslab.disclosure.leakscan import Sensitive, scan_files
from crosslab.engine.journal import Journal
from crosslab.identity.keys import raw_public_bytes
from crosslab.items.item import Item
from crosslab.results.outcomes import reviewed_verdicts
from crosslab.suites.registry import items_digest
from crosslab.tier2.book import Slot
from crosslab.tier2.bundle_format import FORMAT_VERSION, PREDICATE_TYPE, PRIVATE_FORMAT, PRIVATE_REPORT, \
    SUBJECT_FILES, lab_digest, redaction_summary
from crosslab.tier2.planning import served_protocol

NOT_RUN = "the lab's agent never opened this rollout before the bundle was written"


def _not_run(slot: Slot, record_of: dict[str, Any]) -> dict[str, Any]:
    """The record of a planned rollout the lab never ran: an error sample, so it is counted."""
    return {**record_of, "sample_id": slot.rollout_id, "epoch": slot.epoch, "status": "error",
            "error": {"kind": "not_run", "message": NOT_RUN}, "messages": [], "agent": None,
            "target": lab_digest(slot.lab)}


def lab_rollouts(journal: Journal, items: list[Item], lab: str,
                 rollouts: int) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(record, verdict) for every planned rollout of ``lab`` (``items``: the journal's), in plan order
    (epoch, then scenario)."""
    done = {r["sample_id"]: r for r in journal.records()}
    verdicts = reviewed_verdicts(journal)
    out: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for epoch in range(1, rollouts + 1):
        for item in items:
            slot = Slot(lab, item.id, epoch)
            record = done.get(slot.rollout_id)
            if record is None:
                record = _not_run(slot, {"item_id": item.id, "category": item.category, "slice": item.slice,
                                         "tier": item.tier, "variant": "", "facets": dict(item.facets),
                                         "interaction": "mcp"})
            by_grader = verdicts.get(slot.rollout_id, {})
            out.append((record, next(iter(by_grader.values())) if len(by_grader) == 1 else None))
    return out


def write_tier2_bundle(out: Path, serve_dir: Path, lab: str, signing_key: Ed25519PrivateKey) -> Path:
    """Write ``lab``'s bundle to ``out`` (which must not exist), signed with the evaluator's key."""
    if out.exists():
        raise BundleError(f"{out} already exists; bundles are never overwritten")
    protocol, envelope = served_protocol(serve_dir)
    if lab not in protocol.lab_ids():
        raise BundleError(f"{lab} is not a lab of this tier-2 protocol ({', '.join(protocol.lab_ids())})")
    evaluator = protocol.evaluator.identity
    if raw_public_bytes(evaluator.public_key()) != raw_public_bytes(signing_key.public_key()):
        raise BundleError(f"the signing key given is not the evaluator's ({evaluator.lab}) pinned key")
    journal = Journal.open(serve_dir / lab)
    try:
        items = journal.items()
        rows = lab_rollouts(journal, items, lab, protocol.rollouts)
    finally:
        journal.close()
    if items_digest(items) != protocol.scenarios.digest:
        raise BundleError(f"{serve_dir / lab}: the journal's scenarios are not the pinned ones")

    stubs: list[Stub] = []
    stub_lines, public_lines, private_lines = [], [], []
    attachments = 0
    for index, (record, verdict) in enumerate(rows):
        stub, disclosure = stub_for(index, record, verdict)
        stubs.append(stub)
        stub_lines.append(stub_line(stub))
        entry = {"i": index, "d": disclosure.encoded}
        private_lines.append(entry)
        if stub["tier"] in protocol.disclosure.public:
            public_lines.append(jcs(entry))
        attachments += bool((record.get("agent") or {}).get("attachments"))
    private = {"format": PRIVATE_FORMAT, "protocol_id": protocol.id, "evaluator": evaluator.lab, "lab": lab,
               "rollouts": private_lines}
    files = {
        layout.ITEMS: encode_lines(stub_lines),
        layout.PUBLIC: encode_lines(public_lines),
        PRIVATE_REPORT: encrypt_to([protocol.participant(lab).identity.age_recipient], jcs(private)),
        layout.PROTOCOL: protocol.canonical(),
        layout.PROTOCOL_SIGNATURES: dump_envelope(envelope),
    }
    predicate = {
        "protocol_id": protocol.id,
        "round": protocol.round.model_dump(mode="json"),
        "evaluator": evaluator.lab,
        "evaluated": {"lab": lab, "target_digest": lab_digest(lab)},
        "scenarios": {"items": len(items), "rollouts": protocol.rollouts, "items_digest": protocol.scenarios.digest},
        **stub_claims(stubs, stub_lines, installed_definitions()),
        "redactions": redaction_summary(stubs, protocol),
        "attachments": {"rollouts": attachments, "where": "private report only"},
        "crosslab_version": __version__,
        "format_version": FORMAT_VERSION,
    }
    subjects = [(name, hashlib.sha256(files[name]).hexdigest()) for name in SUBJECT_FILES]
    subjects.append((f"agent:{lab}", lab_digest(lab)))
    stmt = statement(subjects, PREDICATE_TYPE, predicate)
    files[layout.STATEMENT] = dump_envelope(sign_statement(stmt, signing_key, evaluator.signing_key.keyid))
    public = {name: data for name, data in files.items() if name != PRIVATE_REPORT}
    hits = scan_files(public, Sensitive.from_items(items))
    if hits:
        raise BundleError(f"leak scan: {len(hits)} hit(s), bundle not written; first: {hits[0]}")
    return write_bundle_dir(out, files)
