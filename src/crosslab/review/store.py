"""Signed adjudications in a run directory, and the reviewer identities they are verified against.

Layout inside the run directory (mode 0700, like the journal)::

    adjudications/<digest>.json                 DSSE envelope; digest = SHA-256 of its payload
    adjudications/reviewers/<lab>.identity.json the reviewing lab's public identity, pinned

A reviewing lab's identity is pinned by its first import (or given by the
caller); a later import under another key for the same lab is refused, so
loading never trusts a key because a file says so. Loading checks every file
fully and fails on the first problem, naming the file and the row: a bad
signature, a file renamed or edited, another run's statement, a sample or
verdict this run does not have, a transcript or verdict that changed since
the review, a score the grader's rule does not give, or a verdict reviewed
twice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from crosslab.core.outcome import verdict_score
from crosslab.attest.dsse import dump_envelope
from crosslab.attest.errors import VerificationError
from crosslab.core.atomic import write_atomically
from crosslab.core.capped import read_capped
from crosslab.core.strictjson import StrictJSONError, loads_strict
from crosslab.identity.keys import IdentityError, PublicIdentity, identity_filename, load_identity
from crosslab.review.errors import ReviewError
from crosslab.review.runview import RunView
from crosslab.review.scoring import score_for
from crosslab.review.signing import verify_statement
from crosslab.review.statement import Row, Statement, digest_of

ADJUDICATIONS_DIR = "adjudications"
REVIEWERS_DIR = "reviewers"
MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Adjudication:
    """One verified adjudication file."""

    digest: str
    path: Path
    statement: Statement


def adjudications_dir(run_dir: Path) -> Path:
    return run_dir / ADJUDICATIONS_DIR


def has_adjudications(run_dir: Path) -> bool:
    folder = adjudications_dir(run_dir)
    return folder.is_dir() and any(folder.glob("*.json"))


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def pinned_reviewers(run_dir: Path) -> dict[str, PublicIdentity]:
    """The reviewing labs' identities pinned for this run, by lab id."""
    folder = adjudications_dir(run_dir) / REVIEWERS_DIR
    pinned: dict[str, PublicIdentity] = {}
    for path in sorted(folder.glob("*.identity.json")) if folder.is_dir() else []:
        try:
            identity = load_identity(path)
        except (IdentityError, OSError) as exc:
            raise ReviewError(f"pinned reviewer identity {path}: {exc}") from None
        if path.name != identity_filename(identity.lab):
            raise ReviewError(f"pinned reviewer identity {path} is {identity.lab}'s identity under another name")
        pinned[identity.lab] = identity
    return pinned


def pin_reviewer(run_dir: Path, identity: PublicIdentity) -> Path:
    """Pin ``identity`` for this run; refuses a different identity already pinned for the same lab."""
    known = pinned_reviewers(run_dir).get(identity.lab)
    path = adjudications_dir(run_dir) / REVIEWERS_DIR / identity_filename(identity.lab)
    if known is not None:
        if known != identity:
            raise ReviewError(f"{path} pins another identity for {identity.lab} (fingerprint "
                              f"{known.fingerprint[:16]}…, the key given is {identity.fingerprint[:16]}…); "
                              "an adjudication must be signed by the pinned key")
        return path
    _private_dir(path.parent)
    return write_atomically(path, identity.canonical())


def write_adjudication(run_dir: Path, envelope: dict, payload: bytes) -> Path:
    """Store a signed envelope as ``adjudications/<digest>.json``; returns its path."""
    path = _private_dir(adjudications_dir(run_dir)) / f"{digest_of(payload)}.json"
    return write_atomically(path, dump_envelope(envelope), private=True)


def load_adjudications(view: RunView, pinned: dict[str, PublicIdentity] | None = None) -> list[Adjudication]:
    """Every adjudication of the run, verified and checked against it, oldest first."""
    folder = adjudications_dir(view.run_dir)
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        return []
    pinned = pinned_reviewers(view.run_dir) if pinned is None else pinned
    found = [_load(path, view, pinned) for path in files]
    found.sort(key=lambda a: (a.statement.created_at, a.digest))
    seen: dict[tuple[str, str], Path] = {}
    for adj in found:
        for n, row in enumerate(adj.statement.rows, 1):
            key = (row.sample_id, row.grader)
            if key in seen:
                raise ReviewError(f"{adj.path} row {n}: sample {row.sample_id} ({row.grader}) is already "
                                  f"adjudicated in {seen[key]}; keep one of the two files")
            seen[key] = adj.path
    return found


def _load(path: Path, view: RunView, pinned: dict[str, PublicIdentity]) -> Adjudication:
    try:
        data = read_capped(path, MAX_FILE_BYTES)  # never more than the limit in memory
    except OSError as exc:
        raise ReviewError(f"{path}: cannot be read ({exc})") from None
    if data is None:
        raise ReviewError(f"{path}: more than {MAX_FILE_BYTES} bytes is too large for an adjudication")
    try:
        envelope = loads_strict(data)
    except (StrictJSONError, VerificationError) as exc:
        raise ReviewError(f"{path}: not a DSSE envelope ({exc})") from None
    statement, payload = verify_statement(envelope, pinned, str(path))
    digest = digest_of(payload)
    if path.stem != digest:
        raise ReviewError(f"{path}: the signed statement's digest is {digest}, not the file's name "
                          "(the file was renamed or replaced)")
    if statement.run != view.ref:
        raise ReviewError(f"{path}: the adjudication is for run {statement.run.run_id} "
                          f"(items {statement.run.items_digest[:12]}…), not run {view.ref.run_id}")
    for n, row in enumerate(statement.rows, 1):
        check_row(row, view, f"{path} row {n}")
    return Adjudication(digest, path, statement)


def check_row(row: Row, view: RunView, where: str) -> None:
    """A signed row must match the run exactly as it is now; else ReviewError naming ``where``."""
    record = view.records.get(row.sample_id)
    if record is None:
        raise ReviewError(f"{where}: sample {row.sample_id} is not in run {view.ref.run_id}")
    if record["item_id"] != row.item_id:
        raise ReviewError(f"{where}: sample {row.sample_id} is of item {record['item_id']}, not {row.item_id}")
    if view.sha256[row.sample_id] != row.record_sha256:
        raise ReviewError(f"{where}: sample {row.sample_id}'s transcript changed since it was reviewed")
    verdict = view.verdicts.get(row.sample_id, {}).get(row.grader)
    if verdict is None:
        raise ReviewError(f"{where}: sample {row.sample_id} has no verdict by grader {row.grader}")
    now = (verdict["label"], verdict_score(verdict), verdict["version"])
    was = (row.original.label, row.original.score, row.original.version)
    if now != was:
        raise ReviewError(f"{where}: the verdict reviewed was {was[0]} (score {was[1]}, {row.grader} {was[2]}); "
                          f"the run now has {now[0]} (score {now[1]}, {row.grader} {now[2]}): it was re-graded "
                          "since, so export and review it again")
    try:
        score = score_for(row.grader, row.review_label, view.items[row.item_id])
    except ReviewError as exc:
        raise ReviewError(f"{where}: {exc}") from None
    if score != row.review_score:
        raise ReviewError(f"{where}: {row.grader} scores {row.review_label!r} {score}, the file says "
                          f"{row.review_score}")
