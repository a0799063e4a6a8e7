"""Write a bundle from a graded journal under a fully signed protocol.

The evaluator's run becomes: stubs with salted commitments (items.jsonl), the
Merkle root over them, public disclosures in the clear, restricted ones
encrypted to every participating lab, withheld ones as stubs only, and an
in-toto statement signed by the evaluator that binds it all together. Files
are written into a temporary directory and renamed into place, so a failure
never leaves half a bundle.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crosslab.core.errors import CrosslabError
from crosslab.core.version import __version__
from crosslab.core.atomic import write_atomically
from crosslab.attest.dsse import dump_envelope
from crosslab.attest.intoto import sign_statement, statement
from crosslab.bundle import layout
from crosslab.bundle.attack_block import AttackEvidence, attack_block, elicitation_texts
from crosslab.bundle.metrics import stub_claims
from crosslab.bundle.stubs import encode_lines, stub_for, stub_line
from crosslab.bundle.installed import installed_definitions
from crosslab.disclosure.encryption import encrypt_to
from crosslab.disclosure.leakscan import Sensitive, scan_files
from crosslab.engine.journal import Journal
from crosslab.grading.card import GraderCard, pin_problems
from crosslab.core.jcs import jcs
from crosslab.core.outcome import Stub
from crosslab.protocol.rounds import Direction, agreed_deployment
from crosslab.protocol.schema import Protocol, ProtocolError
from crosslab.results.costs import call_counts
from crosslab.results.outcomes import reviewed_verdicts
from crosslab.results.overrides import adjudication_sources, review_counts
from crosslab.protocol.signing import verify_protocol
from crosslab.suites.registry import items_digest


class BundleError(CrosslabError, ValueError):
    """The run can't be published under this protocol; the message says why."""


def _check_runs_match_protocol(metas: list[dict[str, Any]], digests: list[str], protocol: Protocol,
                               direction: Direction) -> str:
    """Every run is of the agreed deployment, and the runs cover exactly the pinned suites."""
    try:
        protocol.participant(direction.evaluator)
        agreed = agreed_deployment(protocol, direction.evaluated, direction.deployment).digest
    except ProtocolError as exc:
        raise BundleError(str(exc)) from exc
    seen: set[str] = set()
    for meta, items_digest_ in zip(metas, digests, strict=True):
        if meta["target_digest"] != agreed:
            raise BundleError(f"the run {meta['run_id']} is not of {direction.evaluated}/{direction.deployment} "
                              f"as agreed (deployment {meta['target_digest'][:12]}, agreed {agreed[:12]})")
        suite = meta["source"].get("suite")
        pin = next((p for p in protocol.suites if p.name == suite), None)
        if pin is None:
            raise BundleError(f"the run's items ({meta['source']}) are not a suite the protocol pins")
        if suite in seen:
            raise BundleError(f"two runs of suite {suite}; give one run per pinned suite")
        seen.add(suite)
        if items_digest_ != pin.digest:
            raise BundleError(f"the run's items of suite {suite} ({items_digest_[:16]}…) differ from the pinned "
                              f"version ({pin.digest[:16]}…); was the run limited or the suite changed?")
        if meta["epochs"] != pin.epochs:
            raise BundleError(f"the run of suite {suite} has {meta['epochs']} epochs; the protocol pins {pin.epochs}")
    missing = [p.name for p in protocol.suites if p.name not in seen]
    if missing:
        raise BundleError(f"no run for pinned suite(s) {', '.join(missing)}: a bundle covers the whole "
                          "agreed methodology, never a chosen part of it")
    return agreed


def _records_in_plan_order(journals: list[Journal], protocol: Protocol) -> list[tuple[dict, dict | None]]:
    """(record, verdict) in protocol suite order, then plan order (epoch, item, variant), never timing order."""
    suite_rank = {p.name: n for n, p in enumerate(protocol.suites)}
    ordered: list[tuple[dict, dict | None]] = []
    for journal in sorted(journals, key=lambda j: suite_rank[j.meta()["source"]["suite"]]):
        verdicts = reviewed_verdicts(journal)  # human adjudications applied, the original kept in each
        position = {item.id: n for n, item in enumerate(journal.items())}
        for record in sorted(journal.records(), key=lambda r: (r["epoch"], position[r["item_id"]], r["variant"])):
            by_grader = verdicts.get(record["sample_id"], {})
            ordered.append((record, next(iter(by_grader.values())) if len(by_grader) == 1 else None))
    return ordered


def _adjudications(journals: list[Journal]) -> dict[str, Any]:
    """Human review of the verdicts (docs/review.md): per category, verdicts / reviewed / overridden, and
    the signed adjudication files they come from. A signed claim of the evaluator's; the stubs carry the
    reviewed labels, and each reviewed disclosure carries its original verdict."""
    by_category: dict[str, dict[str, int]] = {}
    for journal in journals:
        for category, row in review_counts(journal).items():
            total = by_category.setdefault(category, {"verdicts": 0, "reviewed": 0, "overridden": 0})
            for key, value in row.items():
                total[key] += value
    return {"by_category": dict(sorted(by_category.items())),
            "files": [source for journal in journals for source in adjudication_sources(journal)]}


def _calls(journals: list[Journal]) -> dict[str, int]:
    """Model calls the samples made, and how many a response cache answered (and in how many samples):
    a signed claim of the evaluator's, from each record's ``stats``, so readers know what was fresh."""
    return call_counts(r for journal in journals for r in journal.records())


def _collected(journals: list[Journal]) -> dict[str, str] | None:
    """When the samples were collected: the first and last time one was journaled (UTC, ISO 8601)."""
    spans = [span for span in (j.written_span() for j in journals) if span is not None]
    if not spans:
        return None
    return {"from": _utc(min(a for a, _ in spans)), "to": _utc(max(b for _, b in spans))}


def _utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _runs_block(journals: list[Journal], protocol: Protocol) -> list[dict[str, Any]]:
    """One entry per suite, in protocol order; ``items`` × ``epochs`` stubs each, in that order."""
    order = [p.name for p in protocol.suites]
    runs = []
    for journal in journals:
        m = journal.meta()
        runs.append({"suite": m["source"]["suite"], "run_id": m["run_id"], "created_at": m["created_at"],
                     "items": len(journal.items()), "epochs": m["epochs"], "items_digest": m["items_digest"]})
    return sorted(runs, key=lambda r: order.index(r["suite"]))


def _grader_cards(cards: Sequence[GraderCard], protocol: Protocol) -> list[dict[str, Any]]:
    """The cards the bundle carries: every grader the protocol pins must come with the pinned card."""
    by_digest = {card.digest: card for card in cards}
    for pin in protocol.graders:
        card = by_digest.get(pin.card)
        if card is None:
            raise BundleError(f"the protocol pins grader {pin.id} {pin.version} by card {pin.card[:16]}…; "
                              "pass that card with --card")
        problems = pin_problems(card, pin.id, pin.version, pin.card)
        if problems:
            raise BundleError(f"grader card {pin.card[:16]}…: {problems[0]}")
    return [card.to_dict() for card in sorted(by_digest.values(), key=lambda c: (c.grader.id, c.digest))]


def write_bundle(out: Path, *, journals: list[Journal], protocol: Protocol, protocol_envelope: dict,
                 direction: Direction, signing_key: Ed25519PrivateKey, cards: Sequence[GraderCard] = (),
                 attack: AttackEvidence | None = None) -> Path:
    """Write the bundle directory ``out`` (which must not exist) from one run per pinned suite.

    The leak scan runs over every public file before anything is written; on a
    hit nothing is written. Every disclosure (all tiers) is also kept in
    ``<out>.private/disclosures.jsonl`` (mode 0600) beside the bundle, so the
    evaluator can ``crosslab reveal`` chosen items later. ``cards`` are the
    grader cards (``crosslab judge validate``) the bundle carries in its
    signed statement; the protocol's grader pins must all be among them.
    ``attack``: the direction's adaptive attack results, required exactly when
    the protocol pins an attack (``bundle/attack_block.py``).
    """
    if out.exists():
        raise BundleError(f"{out} already exists; bundles are never overwritten")
    if not journals:
        raise BundleError("no runs given")
    verify_protocol(protocol, protocol_envelope)
    grader_cards = _grader_cards(cards, protocol)
    metas = [j.meta() for j in journals]
    target_digest = _check_runs_match_protocol(metas, [items_digest(j.items()) for j in journals], protocol,
                                               direction)
    evaluator = protocol.participant(direction.evaluator).identity

    policy = protocol.disclosure
    stub_lines: list[bytes] = []
    stubs: list[Stub] = []
    public_lines: list[bytes] = []
    restricted_lines: list[bytes] = []
    private_lines: list[bytes] = []
    for index, (record, verdict) in enumerate(_records_in_plan_order(journals, protocol)):
        stub, disclosure = stub_for(index, record, verdict)
        stub_lines.append(stub_line(stub))
        stubs.append(stub)
        entry = jcs({"i": index, "d": disclosure.encoded})
        private_lines.append(entry)
        if stub["tier"] in policy.public:
            public_lines.append(entry)
        elif stub["tier"] in policy.partners:
            restricted_lines.append(entry)
    if not stub_lines:
        raise BundleError("the runs have no samples")

    files = {
        layout.ITEMS: encode_lines(stub_lines),
        layout.PUBLIC: encode_lines(public_lines),
        layout.RESTRICTED: encrypt_to([p.identity.age_recipient for p in protocol.participants],
                                      encode_lines(restricted_lines)),
        layout.PROTOCOL: protocol.canonical(),
        layout.PROTOCOL_SIGNATURES: dump_envelope(protocol_envelope),
    }
    attack_fields, attack_private = _attack(attack, protocol, target_digest)
    predicate = {
        "protocol_id": protocol.id,
        "round": protocol.round.model_dump(mode="json"),
        "evaluator": direction.evaluator,
        "evaluated": {"lab": direction.evaluated, "deployment": direction.deployment, "target_digest": target_digest},
        "runs": _runs_block(journals, protocol),
        **stub_claims(stubs, stub_lines, installed_definitions()),
        "adjudications": _adjudications(journals),
        "calls": _calls(journals),
        "collected": _collected(journals),
        "grader_cards": grader_cards,
        "disclosure": policy.model_dump(mode="json"),
        "crosslab_version": __version__,
        "format_version": layout.format_for(stubs, attack=attack is not None),
        **attack_fields,
    }
    subjects = [(name, hashlib.sha256(files[name]).hexdigest())
                for name in (layout.ITEMS, layout.PUBLIC, layout.RESTRICTED, layout.PROTOCOL)]
    subjects.append((f"deployment:{direction.evaluated}/{direction.deployment}", target_digest))
    stmt = statement(subjects, layout.PREDICATE_TYPE, predicate)
    files[layout.STATEMENT] = dump_envelope(sign_statement(stmt, signing_key, evaluator.signing_key.keyid))
    sensitive = Sensitive.from_items(i for j in journals for i in j.items())
    if attack is not None:
        sensitive = sensitive.with_texts("adaptive attack elicitation", elicitation_texts(attack.results))
    hits = scan_files(files, sensitive)
    if hits:
        raise BundleError(f"leak scan: {len(hits)} hit(s), bundle not written; first: {hits[0]}")
    write_bundle_dir(out, files)
    _write_private(out, encode_lines(private_lines))
    if attack_private:
        write_atomically(private_path(out).with_name("attack.jsonl"), encode_lines(attack_private), private=True)
    return out


def _attack(attack: AttackEvidence | None, protocol: Protocol, target_digest: str) -> tuple[dict, list[bytes]]:
    """The statement's ``attack`` field and the private elicitation lines; nothing without a pinned attack."""
    if (attack is None) != (protocol.attack is None):
        raise BundleError("the protocol pins an adaptive attack; pass its results" if attack is None
                          else "attack results given, but the protocol pins no adaptive attack")
    if attack is None:
        return {}, []
    if attack.roles["target"]["digest"] != target_digest:
        raise BundleError("the adaptive attack was not run against the agreed deployment")
    if attack.tier != protocol.attack.elicitations:
        raise BundleError(f"the attack's elicitations are {attack.tier}; the protocol says "
                          f"{protocol.attack.elicitations}")
    partners = "restricted" in protocol.disclosure.partners
    recipients = [p.identity.age_recipient for p in protocol.participants] if partners else None
    block, private = attack_block(attack, recipients)
    return {"attack": block}, private


def private_path(bundle: Path) -> Path:
    """Where the evaluator's own copy of every disclosure lives (never published)."""
    return bundle.with_name(bundle.name + ".private") / "disclosures.jsonl"


def _write_private(out: Path, data: bytes) -> None:
    path = private_path(out)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomically(path, data, private=True)


def write_bundle_dir(out: Path, files: dict[str, bytes]) -> Path:
    """Write every file into a temporary directory beside ``out``, then rename it into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
