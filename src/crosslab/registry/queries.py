"""The read side: what the API returns and the pages show, as plain dicts (the pages render the same dicts).

One source for both means a number on a page is the number in the API's
JSON; the browser tests hold them to that.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import orjson
from sqlalchemy import Connection, select

from crosslab.registry.tables import blobs, files, labs, protocols, submissions


def _submission(row: Any) -> dict[str, Any]:
    return {"index": row.log_index, "kind": row.kind, "protocol_id": row.protocol_id, "round": row.round,
            "lab": row.lab, "evaluated": row.evaluated, "deployment": row.deployment,
            "summary": orjson.loads(row.summary), "received_at": row.received_at}


def _protocol(row: Any) -> dict[str, Any]:
    return {"protocol_id": row.protocol_id, "title": row.title, "round": row.round, "date": row.round_date,
            "previous": row.previous, "participants": orjson.loads(row.participants)}


def rounds(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    """Latest rounds first, each with its bundles and declines counted."""
    out = []
    for row in conn.execute(select(protocols).order_by(protocols.c.round_date.desc(), protocols.c.round.desc())
                            .limit(limit)):
        kinds = [k for (k,) in conn.execute(select(submissions.c.kind)
                                            .where(submissions.c.protocol_id == row.protocol_id))]
        out.append({**_protocol(row), "bundles": kinds.count("bundle"),
                    "countersignatures": kinds.count("countersignature"), "declined": kinds.count("declined")})
    return out


def round_detail(conn: Connection, protocol_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(protocols).where(protocols.c.protocol_id == protocol_id)).first()
    declined = [_submission(r) for r in conn.execute(
        select(submissions).where(submissions.c.protocol_id == protocol_id, submissions.c.kind == "declined")
        .order_by(submissions.c.log_index))]
    if row is None and not declined:
        return None
    entries = [_submission(r) for r in conn.execute(
        select(submissions).where(submissions.c.protocol_id == protocol_id).order_by(submissions.c.log_index))]
    base = _protocol(row) if row is not None else {"protocol_id": protocol_id, "title": None, "published": False}
    window = row.review_window_days if row is not None else 0
    return {**base, "directions": [_review(d, window) for d in directions(entries)], "declined": declined,
            "entries": entries}


def _review(direction: dict[str, Any], days: int, now: float | None = None) -> dict[str, Any]:
    """The right of reply's state: countersigned, awaiting it until the window closes, or not given in time."""
    closes = direction["received_at"] + days * 86400
    state = "countersigned" if direction["countersigned_at"] is not None else \
        "awaiting" if (time.time() if now is None else now) < closes else "closed"
    return {**direction, "review": state,
            "review_closes": dt.datetime.fromtimestamp(closes, dt.UTC).strftime("%Y-%m-%d")}


def directions(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per bundle (evaluator → evaluated/deployment), with its countersignature and reveals folded in."""
    by_statement: dict[str, dict[str, Any]] = {}
    for e in entries:
        digest = e["summary"].get("statement_sha256")
        if digest is None:
            continue
        if e["kind"] == "bundle":  # published already countersigned, or to be grown by a later entry
            signed = e["summary"].get("countersigned") and not e["summary"].get("self_evaluation")
            by_statement[digest] = {**e, "countersigned_at": e["index"] if signed else None,
                                    "response": e["summary"].get("response") if signed else None, "reveals": [],
                                    "revealed_on": []}
        elif digest in by_statement and e["kind"] == "countersignature":
            by_statement[digest]["countersigned_at"] = e["index"]
            by_statement[digest]["response"] = e["summary"].get("response")
        elif digest in by_statement and e["kind"] == "reveal":
            by_statement[digest]["reveals"].append(e["index"])  # revealed later: the entry, and the day it was logged
            by_statement[digest]["revealed_on"].append(
                dt.datetime.fromtimestamp(e["received_at"], dt.UTC).strftime("%Y-%m-%d"))
    return list(by_statement.values())


def lab_detail(conn: Connection, lab: str) -> dict[str, Any] | None:
    row = conn.execute(select(labs).where(labs.c.lab == lab)).first()
    if row is None:
        return None
    identity = orjson.loads(row.identity)
    taken = [_protocol(p) for p in conn.execute(select(protocols).order_by(protocols.c.round_date))
             if lab in orjson.loads(p.participants)]
    evaluated = [_submission(r) for r in conn.execute(
        select(submissions).where(submissions.c.kind == "bundle", submissions.c.evaluated == lab)
        .order_by(submissions.c.log_index))]
    evaluating = [_submission(r) for r in conn.execute(
        select(submissions).where(submissions.c.kind == "bundle", submissions.c.lab == lab)
        .order_by(submissions.c.log_index))]
    declined = [_submission(r) for r in conn.execute(
        select(submissions).where(submissions.c.kind == "declined", submissions.c.lab == lab)
        .order_by(submissions.c.log_index))]
    return {"lab": lab, "name": row.name, "signing_keyid": row.signing_keyid, "fingerprint": identity.get("fingerprint"),
            "rounds": taken, "findings": evaluated, "evaluations": evaluating, "declined": declined}


def all_labs(conn: Connection) -> list[dict[str, Any]]:
    return [{"lab": r.lab, "name": r.name, "signing_keyid": r.signing_keyid}
            for r in conn.execute(select(labs).order_by(labs.c.lab))]


def entry(conn: Connection, index: int) -> dict[str, Any] | None:
    row = conn.execute(select(submissions).where(submissions.c.log_index == index)).first()
    if row is None:
        return None
    names = [{"name": f.name, "sha256": f.sha256} for f in conn.execute(
        select(files).where(files.c.submission_id == row.id).order_by(files.c.name))]
    return {**_submission(row), "files": names, "entry": row.entry.decode()}


def file_bytes(conn: Connection, index: int, name: str) -> bytes | None:
    """A published file's exact bytes (the restricted appendix stays the encrypted file it arrived as)."""
    row = conn.execute(select(blobs.c.data).select_from(
        submissions.join(files, files.c.submission_id == submissions.c.id).join(blobs, blobs.c.sha256 == files.c.sha256))
        .where(submissions.c.log_index == index, files.c.name == name)).first()
    return None if row is None else bytes(row.data)
