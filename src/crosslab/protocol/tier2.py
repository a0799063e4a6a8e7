"""The tier-2 protocol: a third party's methodology for evaluating labs' internal agents, as data.

In tier 1 labs evaluate each other's public APIs. In tier 2 an independent
evaluator serves scenarios over MCP to agents that never leave their labs
(docs/tier2.md). Before anything runs, the evaluator and every participating
lab sign one document naming:

- the evaluator and the labs, by their public identity files (embedded, so
  the protocol id commits to their keys);
- the scenarios: which suites, which item ids (globs), and the digest of the
  selected items, so no one can swap a scenario afterwards;
- rollouts per scenario per lab, and the limits each rollout runs under;
- disclosure: which tiers' transcripts the public may see, and, for every
  tier withheld from the public, the reason the redaction summary states.

It is signed exactly like the tier-1 protocol (``protocol/signing.py``): one
DSSE envelope over the RFC 8785 canonical JSON, one signature per party, with
its own payload type so a tier-1 signature can never stand for a tier-2 one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crosslab.core.jcs import jcs, jcs_digest
from crosslab.core.yamlfile import read_yaml_mapping
from crosslab.identity.keys import PublicIdentity
from crosslab.protocol.schema import ProtocolError, Round, Tier, read_identity
from crosslab.core.validation import first_problem

FORMAT = "crosslab-tier2-protocol/1"
PAYLOAD_TYPE = "application/vnd.crosslab.tier2-protocol+json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Party(_Strict):
    """The evaluator or a participating lab, named by its public identity."""

    identity: PublicIdentity


class Scenarios(_Strict):
    """What is served: the items of ``suites`` that have a tool environment, ``select``-ed by id glob."""

    suites: list[str] = Field(min_length=1)
    select: list[str] = Field(default_factory=list)
    #: SHA-256 of the selected items (``suites.registry.items_digest``): the exact scenario texts and tools.
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")


class RolloutLimits(_Strict):
    """When a rollout ends without a submit (``tier2.rollout.Limits``)."""

    max_tool_calls: int = Field(30, ge=1, le=10_000)
    max_seconds: float = Field(900.0, gt=0, le=86_400)


class Tier2Disclosure(_Strict):
    """What the public report may carry, and why the rest is withheld from it.

    Every lab's rates and bounds are always public. A rollout's transcript is
    public only when its tier is in ``public``; every other tier's transcripts
    go only to the lab's own encrypted private report, and the public report's
    redaction summary counts them and states ``reasons[tier]``. Reasoning
    traces a lab attaches are never public.
    """

    public: list[Tier] = Field(default_factory=lambda: ["public"])
    reasons: dict[Tier, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _sane(self) -> Tier2Disclosure:
        if set(self.public) - {"public"}:
            raise ValueError("only 'public' transcripts can be public; restricted and withheld ones go to "
                             "each lab's private report")
        for tier in ("public", "restricted", "withheld"):
            if tier not in self.public and not (self.reasons.get(tier) or "").strip():
                raise ValueError(f"give reasons.{tier}: the public redaction summary says why {tier} "
                                 "transcripts are withheld")
        return self


class Tier2Protocol(_Strict):
    """The signed tier-2 methodology (see the module docstring)."""

    PAYLOAD_TYPE: ClassVar[str] = PAYLOAD_TYPE

    format: Literal["crosslab-tier2-protocol/1"] = FORMAT
    title: str = Field(min_length=1, max_length=300)
    evaluator: Party
    labs: list[Party] = Field(min_length=1)
    scenarios: Scenarios
    rollouts: int = Field(ge=1, le=10_000)
    limits: RolloutLimits = RolloutLimits()
    disclosure: Tier2Disclosure
    round: Round

    @model_validator(mode="after")
    def _independent(self) -> Tier2Protocol:
        labs = [p.identity.lab for p in self.labs]
        if len(set(labs)) != len(labs):
            raise ValueError(f"a lab appears twice: {labs}")
        if self.evaluator.identity.lab in labs:
            raise ValueError(f"the evaluator ({self.evaluator.identity.lab}) is a third party: it cannot also be "
                             "an evaluated lab")
        return self

    @property
    def participants(self) -> list[Party]:
        """Everyone who signs: the evaluator first, then the labs."""
        return [self.evaluator, *self.labs]

    def participant(self, lab: str) -> Party:
        for party in self.participants:
            if party.identity.lab == lab:
                return party
        raise KeyError(f"{lab!r} is neither the evaluator nor a lab of this tier-2 protocol")

    def lab_ids(self) -> list[str]:
        return [p.identity.lab for p in self.labs]

    def canonical(self) -> bytes:
        return jcs(self.model_dump(mode="json"))

    @property
    def id(self) -> str:
        """The protocol id: SHA-256 (hex) of the canonical JSON."""
        return jcs_digest(self.model_dump(mode="json"))


def parse_tier2_protocol(data: Any, source: str) -> Tier2Protocol:
    """Validate already-resolved data (identities embedded); ProtocolError names the first bad field."""
    try:
        return Tier2Protocol.model_validate(data)
    except ValidationError as exc:
        raise ProtocolError(f"tier-2 protocol {source}: {first_problem(exc)}") from None


def load_tier2_protocol(path: Path) -> Tier2Protocol:
    """Read tier-2 protocol YAML (or its canonical JSON), resolving identity files relative to it."""
    data = read_yaml_mapping(path, "tier-2 protocol", ProtocolError)
    for i, party in enumerate([data.get("evaluator"), *(data.get("labs") or [])]):
        if isinstance(party, dict) and isinstance(party.get("identity"), str):
            party["identity"] = read_identity(path.parent / party["identity"], i)
    return parse_tier2_protocol(data, str(path))


def is_tier2(path: Path) -> bool:
    """Whether a protocol file declares the tier-2 format (the CLI's protocol commands take both kinds)."""
    try:
        data = read_yaml_mapping(path, "protocol", ProtocolError)
    except ProtocolError:
        return False
    return data.get("format") == FORMAT


def template(evaluator: str, labs: list[str], *, suites: list[str], select: list[str], digest: str,
             rollouts: int, limits: dict[str, Any], date: dt.date) -> dict[str, Any]:
    """A protocol YAML to edit and sign: identities by file name, default reasons stated plainly."""
    return {
        "format": FORMAT,
        "title": f"Tier-2 evaluation of internal agents by {evaluator}",
        "evaluator": {"identity": f"{evaluator}.identity.json"},
        "labs": [{"identity": f"{lab}.identity.json"} for lab in labs],
        "scenarios": {"suites": suites, "select": select, "digest": digest},
        "rollouts": rollouts,
        "limits": limits,
        "disclosure": {
            "public": ["public"],
            "reasons": {
                "restricted": "Scenario texts and agent actions would let future agents be tuned to the "
                              "detectors; each lab receives its own in full, encrypted to it.",
                "withheld": "Hazardous elicitations: committed to in the bundle, disclosed to no one.",
            },
        },
        "round": {"number": 1, "date": date.isoformat()},
    }
