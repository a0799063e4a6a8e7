"""The participation matrix: every lab against every round, each cell with its evidence, and each lab's cadence.

A buyer's first question about a vendor is whether it takes part in
cross-lab evaluation, how recently, and whether it has let its schedule
lapse. This answers it from the registry's rows as plain dicts, so the page
(``templates/participation.html``) shows exactly the numbers of
``GET /api/v1/participation``.

Rounds are the published protocols, and also protocols known only from a
signed declined statement (a protocol a lab declined can never carry every
participant's signature, so it is never published itself; ``published`` is
false for those). Rows are the labs pinned here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from sqlalchemy import Connection, and_, select

from crosslab.registry.cadence import parse_cadence
from crosslab.registry.tables import blobs, files, labs, protocols, submissions

PROTOCOL_FILE = "protocol.json"

#: Every cell state: its code (the API's), its words on the page, and what it means. Order is display order.
STATES: tuple[tuple[str, str, str], ...] = (
    ("evaluated-others", "evaluated others",
     "The lab published a signed bundle evaluating another lab's deployment in this round."),
    ("was-evaluated", "was evaluated",
     "A bundle published in this round evaluates one of the lab's deployments."),
    ("evaluated-itself", "evaluated itself",
     "The lab published a bundle on its own deployment (the protocol allows self-evaluation)."),
    ("declined", "declined",
     "The lab published a statement, signed with its key, declining this round; its reason is shown."),
    ("invited-no-result", "invited, nothing published",
     "The round's protocol names the lab, and no bundle by or about it, nor a decline, is published yet."),
    ("not-invited", "not invited", "The round's protocol does not name the lab."),
)
#: The states that count as taking part in a round (for "last took part" and the cadence).
TOOK_PART = ("evaluated-others", "was-evaluated", "evaluated-itself")


def participation(conn: Connection, *, today: dt.date | None = None, limit: int = 50) -> dict[str, Any]:
    """The matrix (the latest ``limit`` rounds, oldest first) and every lab's cadence, judged on ``today``."""
    today = today or dt.datetime.now(dt.UTC).date()
    every = _rounds(conn)
    evidence = _evidence(conn)
    rows = []
    for lab in conn.execute(select(labs.c.lab, labs.c.name).order_by(labs.c.lab)):
        cells = [_cell(lab.lab, r, evidence.get(r["protocol_id"], [])) for r in every]
        rows.append({"lab": lab.lab, "name": lab.name, "cells": cells[-limit:] if limit else [],
                     "cadence": _cadence(every, cells, today)})
    shown = every[-limit:] if limit else []
    return {"today": today.isoformat(), "legend": [{"state": s, "label": label, "meaning": meaning}
                                                   for s, label, meaning in STATES],
            "rounds": shown, "rounds_total": len(every), "labs": rows,
            "overdue": [row["lab"] for row in rows if row["cadence"]["overdue"]]}


def _rounds(conn: Connection) -> list[dict[str, Any]]:
    """Published protocols and protocols known only from a decline, oldest first, each with its cadence text."""
    out: dict[str, dict[str, Any]] = {}
    published = select(protocols.c.protocol_id, submissions.c.log_index, blobs.c.data).select_from(
        protocols.join(submissions, submissions.c.id == protocols.c.submission_id)
        .join(files, and_(files.c.submission_id == protocols.c.submission_id, files.c.name == PROTOCOL_FILE))
        .join(blobs, blobs.c.sha256 == files.c.sha256))
    for row in conn.execute(published):
        out[row.protocol_id] = _round(row.protocol_id, bytes(row.data), row.log_index)
    declined_only = select(submissions.c.protocol_id, blobs.c.data).select_from(
        submissions.join(files, and_(files.c.submission_id == submissions.c.id, files.c.name == PROTOCOL_FILE))
        .join(blobs, blobs.c.sha256 == files.c.sha256)).where(submissions.c.kind == "declined") \
        .order_by(submissions.c.log_index)
    for row in conn.execute(declined_only):
        if row.protocol_id not in out:
            out[row.protocol_id] = _round(row.protocol_id, bytes(row.data), None)
    return sorted(out.values(), key=lambda r: (r["date"], r["round"], r["protocol_id"]))


def _round(protocol_id: str, protocol_json: bytes, index: int | None) -> dict[str, Any]:
    """A round's column: what the protocol says (it was validated when it arrived) and where to check it."""
    p = orjson.loads(protocol_json)
    return {"protocol_id": protocol_id, "title": p["title"], "round": p["round"]["number"],
            "date": p["round"]["date"], "cadence": p.get("cadence", "per round"),
            "participants": [x["identity"]["lab"] for x in p["participants"]],
            "published": index is not None, "index": index, "page": f"/rounds/{protocol_id}",
            "inclusion": None if index is None else f"/log?index={index}"}


def _evidence(conn: Connection) -> dict[str, list[dict[str, Any]]]:
    """Every bundle and declined statement, by protocol id, in log order, with links to check it."""
    out: dict[str, list[dict[str, Any]]] = {}
    for row in conn.execute(select(submissions).where(submissions.c.kind.in_(("bundle", "declined")))
                            .order_by(submissions.c.log_index)):
        summary = orjson.loads(row.summary)
        out.setdefault(row.protocol_id, []).append({
            "kind": row.kind, "index": row.log_index, "lab": row.lab, "evaluated": row.evaluated,
            "deployment": row.deployment, "reason": summary.get("reason") if row.kind == "declined" else None,
            "entry": f"/api/v1/entries/{row.log_index}", "inclusion": f"/log?index={row.log_index}"})
    return out


def _cell(lab: str, round_: dict[str, Any], evidence: list[dict[str, Any]]) -> dict[str, Any]:
    """One lab in one round: its states (a cell can carry several) and the entries behind each."""
    mine = []
    for e in evidence:
        if e["kind"] == "declined" and e["lab"] == lab:
            mine.append({**e, "state": "declined"})
        elif e["kind"] == "bundle" and e["lab"] == lab == e["evaluated"]:
            mine.append({**e, "state": "evaluated-itself"})
        elif e["kind"] == "bundle" and e["lab"] == lab:
            mine.append({**e, "state": "evaluated-others"})
        elif e["kind"] == "bundle" and e["evaluated"] == lab:
            mine.append({**e, "state": "was-evaluated"})
    states = [s for s, _, _ in STATES if any(e["state"] == s for e in mine)]
    if not states:
        states = ["invited-no-result" if lab in round_["participants"] else "not-invited"]
    return {"protocol_id": round_["protocol_id"], "states": states, "evidence": mine}


def _cadence(rounds: list[dict[str, Any]], cells: list[dict[str, Any]], today: dt.date) -> dict[str, Any]:
    """When the lab last took part, when its next round is due under that round's cadence, and if it is late."""
    taken = [r for r, c in zip(rounds, cells, strict=True) if set(c["states"]) & set(TOOK_PART)]
    if not taken:
        return {"last": None, "last_round": None, "cadence": None, "schedule": None,
                "note": "has not taken part in a round here", "next_due": None, "overdue": False}
    last = taken[-1]  # rounds are oldest first
    cadence = parse_cadence(last["cadence"])
    due = cadence.next_due(dt.date.fromisoformat(last["date"]))
    return {"last": last["date"], "last_round": last["protocol_id"], "cadence": last["cadence"],
            "schedule": cadence.describe() if cadence.scheduled else None,
            "note": "" if cadence.scheduled else cadence.note,
            "next_due": None if due is None else due.isoformat(), "overdue": due is not None and due < today}
