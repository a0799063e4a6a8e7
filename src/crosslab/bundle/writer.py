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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crosslab import __version__
from crosslab.attest import merkle
from crosslab.attest.dsse import dump_envelope
from crosslab.attest.intoto import sign_statement, statement
from crosslab.bundle import layout
from crosslab.bundle.metrics import counts_from_stubs, metrics_from_stubs
from crosslab.bundle.stubs import encode_lines, stub_for
from crosslab.disclosure.encryption import encrypt_to
from crosslab.engine.journal import Journal
from crosslab.protocol.jcs import jcs
from crosslab.protocol.schema import Protocol
from crosslab.protocol.signing import verify_protocol
from crosslab.suites.registry import items_digest
from crosslab.targets.deployment import build_deployment


class BundleError(ValueError):
    """The run can't be published under this protocol; the message says why."""


@dataclass(frozen=True)
class Direction:
    """Who evaluated whom: evaluator lab -> evaluated lab's named deployment."""

    evaluator: str
    evaluated: str
    deployment: str


def _check_run_matches_protocol(journal_meta: dict[str, Any], protocol: Protocol, direction: Direction,
                                items_digest_: str) -> str:
    try:
        evaluated = protocol.participant(direction.evaluated)
        protocol.participant(direction.evaluator)
    except KeyError as exc:
        raise BundleError(str(exc.args[0])) from exc
    spec = next((d for d in evaluated.deployments if d.name == direction.deployment), None)
    if spec is None:
        raise BundleError(f"{direction.evaluated} has no deployment named {direction.deployment!r} in the protocol")
    agreed = build_deployment(dict(spec.target), f"deployment {spec.name}").digest
    if journal_meta["target_digest"] != agreed:
        raise BundleError(f"the run's deployment ({journal_meta['target_digest'][:12]}) is not "
                          f"{direction.evaluated}/{spec.name} as agreed ({agreed[:12]})")
    suite = journal_meta["source"].get("suite")
    pin = next((p for p in protocol.suites if p.name == suite), None)
    if pin is None:
        raise BundleError(f"the run's items ({journal_meta['source']}) are not a suite the protocol pins")
    if items_digest_ != pin.digest:
        raise BundleError(f"the run's items of suite {suite} ({items_digest_[:16]}…) differ from the pinned "
                          f"version ({pin.digest[:16]}…); was the run limited or the suite changed?")
    if journal_meta["epochs"] != pin.epochs:
        raise BundleError(f"the run has {journal_meta['epochs']} epochs; the protocol pins {pin.epochs}")
    return agreed


def write_bundle(out: Path, *, journal: Journal, protocol: Protocol, protocol_envelope: dict,
                 direction: Direction, signing_key: Ed25519PrivateKey) -> Path:
    """Write the bundle directory ``out`` (which must not exist); returns it."""
    if out.exists():
        raise BundleError(f"{out} already exists; bundles are never overwritten")
    verify_protocol(protocol, protocol_envelope)
    meta = journal.meta()
    target_digest = _check_run_matches_protocol(meta, protocol, direction, items_digest(journal.items()))
    evaluator = protocol.participant(direction.evaluator).identity

    verdicts = journal.verdicts()
    policy = protocol.disclosure
    stub_lines: list[bytes] = []
    stubs: list[dict[str, Any]] = []
    public_lines: list[bytes] = []
    restricted_lines: list[bytes] = []
    # plan order (epoch, item, variant), not completion order, so indices don't depend on timing
    position = {item.id: n for n, item in enumerate(journal.items())}
    records = sorted(journal.records(), key=lambda r: (r["epoch"], position[r["item_id"]], r["variant"]))
    for index, record in enumerate(records):
        by_grader = verdicts.get(record["sample_id"], {})
        verdict = next(iter(by_grader.values())) if len(by_grader) == 1 else None
        stub, disclosure = stub_for(index, record, verdict)
        stub_lines.append(stub.line())
        stubs.append(stub.to_dict())
        entry = jcs({"i": index, "d": disclosure.encoded})
        if stub.tier in policy.public:
            public_lines.append(entry)
        elif stub.tier in policy.partners:
            restricted_lines.append(entry)
    if not stub_lines:
        raise BundleError("the run has no samples")

    files = {
        layout.ITEMS: encode_lines(stub_lines),
        layout.PUBLIC: encode_lines(public_lines),
        layout.RESTRICTED: encrypt_to([p.identity.age_recipient for p in protocol.participants],
                                      encode_lines(restricted_lines)),
        layout.PROTOCOL: protocol.canonical(),
        layout.PROTOCOL_SIGNATURES: dump_envelope(protocol_envelope),
    }
    predicate = {
        "protocol_id": protocol.id,
        "round": protocol.round.model_dump(mode="json"),
        "evaluator": direction.evaluator,
        "evaluated": {"lab": direction.evaluated, "deployment": direction.deployment, "target_digest": target_digest},
        "run": {"run_id": meta["run_id"], "created_at": meta["created_at"], "epochs": meta["epochs"],
                "suite": meta["source"].get("suite"), "items_digest": items_digest(journal.items())},
        "stubs": {"count": len(stub_lines), "merkle_root": merkle.root(stub_lines).hex(),
                  "tree": "RFC 6962 over the lines of items.jsonl without their newline"},
        "counts": counts_from_stubs(stubs),
        "metrics": metrics_from_stubs(stubs),
        "disclosure": policy.model_dump(mode="json"),
        "crosslab_version": __version__,
    }
    subjects = [(name, hashlib.sha256(files[name]).hexdigest())
                for name in (layout.ITEMS, layout.PUBLIC, layout.RESTRICTED, layout.PROTOCOL)]
    subjects.append((f"deployment:{direction.evaluated}/{direction.deployment}", target_digest))
    stmt = statement(subjects, layout.PREDICATE_TYPE, predicate)
    files[layout.STATEMENT] = dump_envelope(sign_statement(stmt, signing_key, evaluator.signing_key.keyid))
    return _write_atomically(out, files)


def _write_atomically(out: Path, files: dict[str, bytes]) -> Path:
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
