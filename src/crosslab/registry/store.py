"""Storing a checked submission: its rows and its log leaf in one transaction, then a signed checkpoint.

Rules the store adds to the submission checks (``submission.py``):

* **Keys are pinned on first sight.** The first accepted document naming a
  lab pins its signing key; a later one naming the same lab with another key
  is refused, naming both key ids. Signatures are the only identity.
* **A bundle brings its protocol.** A bundle whose protocol is not yet here
  publishes the protocol too (its own leaf, first), since the bundle carries
  it with every participant's signature.
* **Growing a bundle.** The same signed statement again, with the evaluated
  lab's countersignature added, is a ``countersignature``; with new reveals, a
  ``reveal``. The same bytes again, or a different file under the same
  statement, are refused.

Nothing of a refused or interrupted submission is stored: the transaction
holds it all, the log's append included.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, insert, select

from crosslab.bundle import layout
from crosslab.core.canonical import sha256_hex
from crosslab.identity.keys import PublicIdentity
from crosslab.registry.db import begin_write
from crosslab.registry.submission import Submission, SubmissionError
from crosslab.registry.tables import blobs, files, labs, protocols, submissions
from crosslab.registry.cosigning import Cosigning
from crosslab.registry.tlog import TransparencyLog


@dataclass(frozen=True)
class Receipt:
    """What the submitter gets back: where its document sits in the log, and the checkpoint that holds it."""
    index: int
    kind: str
    protocol_id: str
    entry_sha256: str
    checkpoint: str
    also: tuple[int, ...] = ()  # leaves published with it (a bundle's protocol)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "kind": self.kind, "protocol_id": self.protocol_id,
                "entry_sha256": self.entry_sha256, "checkpoint": self.checkpoint, "also": list(self.also)}


class Registry:
    """The registry's database and log, written only through ``submit``."""

    def __init__(self, engine: Engine, log: TransparencyLog) -> None:
        self.engine = engine
        self.log = log
        #: Collects witnesses' cosignatures and picks the checkpoint served (set by service.open_registry).
        self.cosigning: Cosigning | None = None

    def submit(self, submission: Submission) -> Receipt:
        also: list[int] = []
        with begin_write(self.engine) as conn:
            signers = [p.identity for p in submission.protocol.participants]
            if submission.kind == "declined":  # only the declining lab signed: pin no one else
                signers = [submission.protocol.participant(submission.lab).identity]
            self._pin_identities(conn, signers)
            known = conn.execute(select(protocols.c.protocol_id).where(
                protocols.c.protocol_id == submission.protocol.id)).first() is not None
            if submission.kind == "protocol" and known:
                raise SubmissionError(f"protocol {submission.protocol.id} is already published")
            if submission.kind == "bundle" and not known:
                also.append(self._store(conn, _protocol_of(submission), protocol_row=True))
            stored = self._grown(conn, submission) if submission.kind == "bundle" else submission
            index = self._store(conn, stored, protocol_row=stored.kind == "protocol")
        checkpoint = self.log.publish_checkpoint()
        return Receipt(index, stored.kind, submission.protocol.id, sha256_hex(stored.entry()),
                       checkpoint.decode() if isinstance(checkpoint, bytes) else str(checkpoint), tuple(also))

    # -- the parts of one transaction ------------------------------------------------------
    def _pin_identities(self, conn: Connection, identities: list[PublicIdentity]) -> None:
        for identity in identities:
            row = conn.execute(select(labs).where(labs.c.lab == identity.lab)).first()
            if row is None:
                conn.execute(insert(labs).values(lab=identity.lab, name=identity.name,
                                                 signing_keyid=identity.signing_key.keyid,
                                                 identity=identity.model_dump_json(), first_seen=time.time()))
            elif row.signing_keyid != identity.signing_key.keyid:
                raise SubmissionError(f"{identity.lab} is pinned here with signing key {row.signing_keyid}; this "
                                      f"submission names key {identity.signing_key.keyid} for it")

    def pin(self, identities: list[PublicIdentity]) -> None:
        """Pin the operator's trusted identities (``serve --keys``) before any submission can."""
        with begin_write(self.engine) as conn:
            self._pin_identities(conn, identities)

    def _grown(self, conn: Connection, bundle: Submission) -> Submission:
        """A new bundle, or the countersignature or reveal that grows one already here."""
        digest = bundle.summary["statement_sha256"]
        rows = conn.execute(select(submissions.c.id).where(submissions.c.statement_sha256 == digest)
                            .order_by(submissions.c.id)).all()
        if not rows:
            return bundle
        have: dict[str, str] = {}
        for (sid,) in rows:
            have.update({r.name: r.sha256 for r in conn.execute(select(files).where(files.c.submission_id == sid))})
        # the statement's envelope gains the evaluated lab's signature when countersigned: same payload, new bytes
        new = {name: data for name, data in bundle.files.items()
               if name not in have or (name == layout.STATEMENT and have[name] != sha256_hex(data))}
        changed = [name for name, data in bundle.files.items()
                   if name in have and name != layout.STATEMENT and have[name] != sha256_hex(data)]
        if changed:
            raise SubmissionError(f"{changed[0]}: differs from the file published under the same signed statement")
        if not new:
            raise SubmissionError("this bundle is already published, with the same files")
        if set(new) - {layout.RESPONSE, layout.STATEMENT} - {n for n in new if n.startswith(layout.REVEALS + "/")}:
            raise SubmissionError(f"{sorted(new)[0]}: only a countersignature or reveals can be added to a "
                                  "published bundle")
        if set(new) == {layout.STATEMENT}:
            raise SubmissionError(f"{layout.STATEMENT}: only its signatures changed; a countersignature comes "
                                  f"with {layout.RESPONSE}")
        kind = "countersignature" if layout.RESPONSE in new else "reveal"
        return Submission(kind, bundle.protocol, bundle.summary["evaluated"] if kind == "countersignature"
                          else bundle.lab, new, {**bundle.summary, "adds": sorted(new)})

    def _store(self, conn: Connection, s: Submission, *, protocol_row: bool) -> int:
        entry = s.entry()
        index = self.log.append(conn, entry)
        summary = s.summary
        sid = conn.execute(insert(submissions).values(
            log_index=index, kind=s.kind, protocol_id=s.protocol.id, round=s.protocol.round.number, lab=s.lab,
            evaluated=summary.get("evaluated"), deployment=summary.get("deployment"),
            statement_sha256=summary.get("statement_sha256"), summary=orjson.dumps(summary).decode(),
            entry=entry, received_at=time.time())).inserted_primary_key[0]
        for name, data in sorted(s.files.items()):
            digest = sha256_hex(data)
            if conn.execute(select(blobs.c.sha256).where(blobs.c.sha256 == digest)).first() is None:
                conn.execute(insert(blobs).values(sha256=digest, data=data))
            conn.execute(insert(files).values(submission_id=sid, name=name, sha256=digest))
        if protocol_row:
            p = s.protocol
            conn.execute(insert(protocols).values(
                protocol_id=p.id, title=p.title, round=p.round.number, round_date=p.round.date.isoformat(), previous=p.round.previous,
                participants=orjson.dumps([x.identity.lab for x in p.participants]).decode(),
                review_window_days=p.review_window_days, submission_id=sid))
        return index


def _protocol_of(s: Submission) -> Submission:
    """The protocol a bundle carries, as its own submission (its signatures were checked with the bundle)."""
    carried = {name: s.files[name] for name in (layout.PROTOCOL, layout.PROTOCOL_SIGNATURES) if name in s.files}
    if layout.PROTOCOL_SIGNATURES not in carried:
        raise SubmissionError(f"protocol {s.protocol.id} is not published here; submit it (with every "
                              "participant's signature) first")
    return Submission("protocol", s.protocol, "", carried, {"title": s.protocol.title,
                                                          "participants": [p.identity.lab for p in s.protocol.participants]})
