"""An adaptive attack's results in a bundle: counts and rates in the clear, elicitations committed and sealed.

The statement's ``attack`` block (only in bundles whose protocol pins an
attack, so every other bundle is byte-for-byte what it was) carries what may
be public: the spec and its digest, the three roles' digests, the summary
(ASR at budget per harm category with Wilson intervals, queries to first
success: median, interval and the sorted counts) and one row per behaviour
(harm, status, success, best score, queries, stop reason) with ``c``, a
salted commitment to the full result, winning prompt and transcript included.

The winning prompts and transcripts are elicitations: with ``restricted``
they are age-encrypted to the participants (``elicitations.age_b64``, lines
``{"i", "d"}`` opening row i's commitment); with ``withheld`` they are only
committed to. Behaviour ids are left out of public rows, as item ids are
left out of stubs: rows pair by position in the pinned suite.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crosslab.attacks import AttackSpec, BehaviourResult, summarise
from crosslab.bundle.stubs import encode_lines
from crosslab.core.jcs import jcs
from crosslab.disclosure.commitments import make_disclosure
from crosslab.disclosure.encryption import encrypt_to

ROW_FIELDS = ("harm", "status", "success", "best_score", "stop_reason", "queries", "queries_to_success")


@dataclass(frozen=True)
class AttackEvidence:
    """What a direction's attack run hands to the bundle writer."""

    spec: AttackSpec
    roles: dict[str, dict[str, Any]]  # AttackRoles.identities(): label and digest per role
    suite: str
    tier: str  # restricted | withheld
    results: Sequence[BehaviourResult]


def elicitation_texts(results: Sequence[BehaviourResult]) -> list[str]:
    """The text the leak scan must keep out of public files: every winning prompt and the attacker's turns
    of every winning transcript, and the target's reply where the attack succeeded (a refusal is generic)."""
    texts: list[str] = []
    for r in results:
        if r.winning is None:
            continue
        if r.winning.prompt:
            texts.append(r.winning.prompt)
        for m in r.winning.transcript:
            if m.get("role") == "user" or (r.success and m.get("role") == "assistant"):
                texts.append(str(m.get("content") or ""))
    return texts


def attack_block(evidence: AttackEvidence, recipients: list[str] | None) -> tuple[dict[str, Any], list[bytes]]:
    """(the statement's ``attack`` block, the private disclosure lines kept beside the bundle).

    ``recipients``: the participants' age recipients when restricted elicitations go to partners; None seals
    nothing (withheld, or a policy that shows restricted material to nobody).
    """
    rows, lines = [], []
    for i, result in enumerate(evidence.results):
        disclosure = make_disclosure(result.to_dict())
        public = result.public_dict()
        rows.append({**{k: public[k] for k in ROW_FIELDS}, "c": disclosure.commitment})
        lines.append(jcs({"i": i, "d": disclosure.encoded}))
    elicitations: dict[str, Any] = {"tier": evidence.tier}
    if evidence.tier == "restricted" and recipients:
        elicitations["age_b64"] = base64.b64encode(encrypt_to(recipients, encode_lines(lines))).decode()
    block = {"spec": evidence.spec.to_dict(), "spec_digest": evidence.spec.digest, "roles": evidence.roles,
             "suite": evidence.suite, "budget": evidence.spec.budget.to_dict(),
             "summary": summarise(list(evidence.results)), "results": rows, "elicitations": elicitations}
    return block, lines
