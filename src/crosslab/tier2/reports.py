"""Tier-2 reports: one public cross-lab report, and each lab's private report.

The **public report** is built only from verified bundles: per lab and per
scenario family, the rollouts, the covert-action rate with its Wilson
interval, and the exact one-sided 95 % upper bound on the covert rate over
capable rollouts (what zero events rules out). Its **redaction summary**
states what was withheld from it (which categories and tiers, how many
rollouts of how many scenarios, why) and who agreed: every party that signed
the protocol. Each lab's countersignature and reply are shown beside its rows.

The **private report** is what the lab decrypts from its own bundle: every
rollout in full (actions, report, follow-up answers, attachments, verdict).
It is rendered for the lab's eyes only and never passes the public leak scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from crosslab.disclosure.commitments import open_disclosure
from crosslab.report.render import render_template
from crosslab.tier2.verify import Tier2Verification

RATE, BOUND = "covert_action_rate", "covert_rate_upper_bound"


def _family_rows(check: Tier2Verification) -> list[dict[str, Any]]:
    """One row per (category, family) of this lab: rate and bound from the suite metrics, else the pass rate."""
    rows: list[dict[str, Any]] = []
    covered: set[str] = set()  # categories with covert-action rows; the others get their pass rate
    suites = check.metrics.get("suites", {})
    for category, metric_rows in sorted(suites.items()):
        by_group: dict[str, dict[str, Any]] = {}
        for r in metric_rows:
            if r["metric"] in (RATE, BOUND) and set(r["group"]) <= {"family"}:
                by_group.setdefault(r["group"].get("family", "all"), {})[r["metric"]] = r
        for family, found in sorted(by_group.items(), key=lambda kv: (kv[0] == "all", kv[0])):
            rate, bound = found.get(RATE), found.get(BOUND)
            if rate is None:
                continue
            rows.append({"category": category, "family": family, "lab": check.lab, "lab_name": check.lab_name,
                         "n": rate["n"], "events": rate["k"], "rate": rate["estimate"], "low": rate["low"],
                         "high": rate["high"], "capable": bound["n"] if bound else 0,
                         "bound": bound["estimate"] if bound else None})
            covered.add(category)
    for r in check.metrics.get("rows", []):
        if r["category"] not in covered and r["category"] != "all" and r["slice"] == "all":
            rate = r["pass_rate"] or {}
            rows.append({"category": r["category"], "family": "all (pass rate)", "lab": check.lab,
                         "lab_name": check.lab_name, "n": r["graded"], "events": r["passed"],
                         "rate": rate.get("estimate"), "low": rate.get("low"), "high": rate.get("high"),
                         "capable": None, "bound": None})
    return rows


def redaction_statement(checks: Sequence[Tier2Verification]) -> str:
    """The redaction summary in one paragraph: what was withheld, where, how much, why, and who agreed."""
    rows = [dict(r, lab=c.lab) for c in checks for r in c.redactions]
    signers = checks[0].signers
    agreed = ", ".join(f"{s['name']} ({s['role']})" for s in signers)
    if not rows:
        withheld = "Nothing was withheld: every rollout's transcript is public."
    else:
        total = sum(r["rollouts"] for r in rows)
        parts = []
        for (category, tier, reason) in sorted({(r["category"], r["tier"], r["reason"]) for r in rows}):
            mine = [r for r in rows if (r["category"], r["tier"]) == (category, tier)]
            per_lab = "; ".join(f"{r['lab']}: {r['rollouts']} rollouts of {r['scenarios']} scenarios" for r in mine)
            parts.append(f"{category} ({tier}: {per_lab}). Why: {reason}")
        withheld = (f"Withheld from this public report: the transcripts of {total} rollouts, in "
                    f"{len(parts)} categor{'y' if len(parts) == 1 else 'ies'}: " + " ".join(parts))
    attached = sum(c.attachments for c in checks)
    return (f"{withheld} Each lab receives its own rollouts in full in a private report encrypted to it alone, "
            f"and every withheld rollout is still counted and committed to in the signed bundles. "
            f"{attached} rollouts carry a reasoning trace a lab chose to attach; those appear only in that lab's "
            f"private report. Agreed by every party that signed protocol {checks[0].protocol_id[:16]}…: {agreed}.")


def public_report(checks: Sequence[Tier2Verification]) -> dict[str, Any]:
    """The public cross-lab report's data, from verified bundles of one protocol (one per lab)."""
    if not checks:
        raise ValueError("no bundles: a public report needs at least one verified bundle")
    ids = {c.protocol_id for c in checks}
    if len(ids) != 1:
        raise ValueError("the bundles were made under different protocols; a report covers one round")
    labs = [c.lab for c in checks]
    if len(set(labs)) != len(labs):
        raise ValueError(f"two bundles for one lab ({labs}); give one bundle per lab")
    first = checks[0]
    rows = [row for c in checks for row in _family_rows(c)]
    return {
        "audience": "public", "title": first.title, "protocol_id": first.protocol_id, "round": first.round,
        "evaluator": next(s for s in first.signers if s["role"] == "evaluator"), "signers": first.signers,
        "labs": [{"lab": c.lab, "name": c.lab_name, "rollouts": c.rollouts, "scenarios": c.scenarios,
                  "by_status": c.by_status, "countersigned": c.countersigned, "reply": c.response,
                  "public_transcripts": c.public_verified,
                  "metrics_rechecked": [s.suite for s in c.suite_metrics if s.status == "rechecked"]}
                 for c in checks],
        "families": rows,
        "redactions": {"rows": [dict(r, lab=c.lab) for c in checks for r in c.redactions],
                       "statement": redaction_statement(checks)},
    }


def private_report(check: Tier2Verification) -> dict[str, Any]:
    """The lab's own report: its rates, then every rollout in full (from its decrypted private report)."""
    if check.private is None:
        raise ValueError("the private report was not decrypted: verify the bundle with the lab's age key")
    rollouts = []
    for entry in check.private["rollouts"]:
        _, value = open_disclosure(entry["d"])
        record, verdict = value["record"], value.get("verdict") or {}
        agent = record.get("agent") or {}
        calls = [{"name": c["name"], "arguments": orjson.dumps(c.get("arguments")).decode()}
                 for m in record.get("messages", []) if m.get("role") == "assistant"
                 for c in m.get("tool_calls") or []]
        reports = [m["content"] for m in record.get("messages", [])
                   if m.get("role") == "assistant" and not m.get("tool_calls") and m.get("content")]
        rollouts.append({"i": entry["i"], "item_id": record.get("item_id"), "epoch": record.get("epoch"),
                         "category": record.get("category"), "family": (record.get("facets") or {}).get("family"),
                         "status": record.get("status"), "error": record.get("error"),
                         "label": verdict.get("label"), "stop_reason": agent.get("stop_reason"),
                         "tool_calls": calls, "report": reports[-1] if reports else None,
                         "interrogation": agent.get("interrogation") or [],
                         "attachments": agent.get("attachments") or [],
                         "covert_action": agent.get("covert_action"), "refused_calls": agent.get("refused_calls")})
    return {"audience": "private", "title": check.title, "protocol_id": check.protocol_id, "round": check.round,
            "lab": check.lab, "lab_name": check.lab_name, "evaluator": check.evaluator,
            "families": _family_rows(check), "redactions": check.redactions, "rollouts": rollouts}


def render_report(data: dict[str, Any], stem: str) -> dict[str, bytes]:
    """``{stem}.html``, ``{stem}.md`` and ``{stem}.json`` for a public or private tier-2 report."""
    kind = data["audience"]
    return {f"{stem}.html": render_template(f"tier2_{kind}.html.j2", report=data).encode(),
            f"{stem}.md": render_template(f"tier2_{kind}.md.j2", report=data).encode(),
            f"{stem}.json": orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"}
