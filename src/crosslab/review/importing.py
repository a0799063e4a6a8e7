"""Import a filled sheet: rows with a ``review_label`` become one signed adjudication in the run directory.

Every row is checked before anything is written (the run, the sample, the
verdict as the sheet showed it, the label against the grader's rule), and
the first bad row stops the import with its file and row. The new envelope
is verified against the pinned identity before it is stored, exactly as
every later load verifies it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crosslab.core.outcome import verdict_score
from crosslab.engine.journal import Journal
from crosslab.identity.keys import PublicIdentity
from crosslab.review.apply import FIELD, apply_adjudications
from crosslab.review.errors import ReviewError
from crosslab.review.runview import RunView
from crosslab.review.scoring import score_for
from crosslab.review.sheet import read_sheet
from crosslab.review.signing import sign_statement, verify_statement
from crosslab.review.statement import MAX_NOTE_CHARS, Original, Row, Statement, check_reviewer
from crosslab.review.store import (
    adjudications_dir,
    load_adjudications,
    pin_reviewer,
    pinned_reviewers,
    write_adjudication,
)


@dataclass(frozen=True)
class Imported:
    path: Path
    digest: str
    statement: Statement


def _text(row: dict[str, Any], column: str, where: str) -> str:
    value = row.get(column, "")
    if not isinstance(value, str):
        raise ReviewError(f"{where}: column {column} must be text")
    return value


def statement_rows(view: RunView, current: dict[str, dict[str, dict[str, Any]]], sheet: Path,
                   data: bytes) -> list[Row]:
    """The adjudication rows of a filled sheet, each checked against the run; ReviewError names the row."""
    rows: list[Row] = []
    seen: dict[tuple[str, str], str] = {}
    for where, r in read_sheet(sheet, data):
        label = _text(r, "review_label", where)
        if not label:
            continue
        if r.get("shown") == "withheld":
            raise ReviewError(f"{where}: the reviewer was not shown this sample's text (shown: withheld); "
                              "export a sheet with a --tier that may read it")
        run_id, sid, grader = (_text(r, c, where) for c in ("run_id", "sample_id", "grader"))
        if run_id != view.ref.run_id:
            raise ReviewError(f"{where}: the row is from run {run_id or '(none)'}, not run {view.ref.run_id}")
        record = view.records.get(sid)
        if record is None:
            raise ReviewError(f"{where}: sample {sid or '(none)'} is not in run {view.ref.run_id}")
        original = view.verdicts.get(sid, {}).get(grader)
        if original is None:
            raise ReviewError(f"{where}: sample {sid} has no verdict by grader {grader or '(none)'}")
        if (sid, grader) in seen:
            raise ReviewError(f"{where}: sample {sid} ({grader}) is reviewed twice (also in {seen[sid, grader]})")
        seen[sid, grader] = where
        earlier = current[sid][grader].get(FIELD)
        if earlier:
            raise ReviewError(f"{where}: sample {sid} ({grader}) was already adjudicated in "
                              f"{adjudications_dir(view.run_dir) / earlier['digest']}.json")
        shown = (_text(r, "label", where), _text(r, "grader_version", where))
        if shown != (original["label"], original["version"]):
            raise ReviewError(f"{where}: the sheet shows {shown[0]} ({grader} {shown[1]}), the run now has "
                              f"{original['label']} ({grader} {original['version']}); export a new sheet")
        try:
            score = score_for(grader, label, view.items[record["item_id"]])
        except ReviewError as exc:
            raise ReviewError(f"{where}: {exc}") from None
        note = _text(r, "reviewer_note", where)
        if len(note) > MAX_NOTE_CHARS:
            raise ReviewError(f"{where}: reviewer_note is {len(note)} characters; the limit is {MAX_NOTE_CHARS}")
        rows.append(Row(sample_id=sid, item_id=record["item_id"], record_sha256=view.sha256[sid], grader=grader,
                        original=Original(label=original["label"], score=verdict_score(original),
                                          version=original["version"]),
                        review_label=label, review_score=score, note=note))
    if not rows:
        raise ReviewError(f"{sheet}: no row has a review_label; nothing to import")
    return rows


def import_sheet(journal: Journal, sheet: Path, private_key: Ed25519PrivateKey, identity: PublicIdentity,
                 reviewer: str, trusted: PublicIdentity | None = None) -> Imported:
    """Sign the sheet's reviewed rows as ``identity``'s lab and store them; returns the new file.

    ``trusted``: the reviewing lab's identity as the caller pins it (e.g. from
    a trusted identity file); without it the identity is pinned on first use.
    """
    check_reviewer(reviewer)
    if trusted is not None and trusted != identity:
        raise ReviewError(f"the key given is {identity.lab}'s (fingerprint {identity.fingerprint[:16]}…), not the "
                          f"trusted identity of {trusted.lab} (fingerprint {trusted.fingerprint[:16]}…)")
    try:
        data = sheet.read_bytes()
    except OSError as exc:
        raise ReviewError(f"{sheet}: cannot be read ({exc})") from None
    view = RunView.of(journal)
    pinned = pinned_reviewers(view.run_dir)
    if identity.lab in pinned and pinned[identity.lab] != identity:
        raise ReviewError(f"run {view.ref.run_id} pins another identity for {identity.lab} (fingerprint "
                          f"{pinned[identity.lab].fingerprint[:16]}…); the key given is "
                          f"{identity.fingerprint[:16]}…")
    current = apply_adjudications(view, load_adjudications(view, pinned))
    statement = Statement(run=view.ref, lab=identity.lab, reviewer=reviewer,
                          created_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                          sheet={"name": sheet.name, "sha256": hashlib.sha256(data).hexdigest()},
                          rows=statement_rows(view, current, sheet, data))
    envelope = sign_statement(statement, private_key, identity)
    checked, payload = verify_statement(envelope, {**pinned, identity.lab: identity}, "the new adjudication")
    pin_reviewer(view.run_dir, identity)
    path = write_adjudication(view.run_dir, envelope, payload)
    return Imported(path, path.stem, checked)
