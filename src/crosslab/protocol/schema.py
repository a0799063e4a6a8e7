"""The agreed methodology, as data: who takes part, what runs, what may be published.

A protocol is written in YAML. Participants are named by their public
identity files; loading resolves those files and embeds the identities, so the
protocol id (SHA-256 of the RFC 8785 canonical JSON of the resolved protocol)
commits to every participant's keys, every pinned suite digest, the sampling
settings and the disclosure policy. Changing any of them changes the id, and
the participants' signatures no longer match.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from crosslab.core.errors import CrosslabError
from crosslab.core.jcs import jcs, jcs_digest
from crosslab.core.yamlfile import read_yaml_mapping
from crosslab.identity.keys import PublicIdentity, load_identity
from crosslab.core.validation import first_problem

FORMAT = "crosslab-protocol/1"
Tier = Literal["public", "restricted", "withheld"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeploymentSpec(Strict):
    """A deployment a lab puts up for evaluation: a target spec plus settings (see docs/targets.md)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    target: dict[str, Any]


class Participant(Strict):
    #: The participant's public identity, the same type as ``LAB.identity.json`` (``identity/keys.py``):
    #: validating a protocol re-checks every embedded keyid and fingerprint.
    identity: PublicIdentity
    deployments: list[DeploymentSpec] = Field(min_length=1)


class SuitePin(Strict):
    """A suite at an exact content version and grader versions; a run refuses to start if the installed one differs."""

    name: str
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    epochs: int = Field(1, ge=1, le=1000)
    #: Grading type -> the version its verdicts carry (``Verdict.version``); ``suites.pins.pin_mismatches``
    #: refuses a pin naming a grader the installed suite lacks or has at another version. Empty: none pinned.
    graders: dict[str, str] = Field(default_factory=dict)
    #: Run only this many items, chosen by ``suites.pins.select_subset`` (a quick profile);
    #: the digest then pins exactly the selected items.
    subset: int | None = Field(None, ge=1)


class GraderPin(Strict):
    """A grader fixed by id, version and the digest of its grader card (``grading/card.py``).

    The card names the judge deployment and rubric (for a judge grader) and
    how well the grader agreed with human labels; pinning its digest pins all
    of that. ``crosslab.grading.card.pin_problems`` compares a card with a pin.
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_.:/+-]{0,80}$")
    version: str = Field(min_length=1, max_length=64)
    card: str = Field(pattern=r"^[0-9a-f]{64}$")


class JudgeSpec(Strict):
    """The judge model every direction grades with (``crosslab run --judge``), agreed by all participants.

    ``target`` is a target spec like a deployment's (provider, model, base_url,
    max_tokens, ...); a judge runs at temperature 0. ``mode``: ``both`` (the
    judge decides, disagreements with the rules are flagged), ``judge``, or
    ``judge_when_unsure`` (docs/graders/judges.md).
    """

    target: dict[str, Any]
    mode: Literal["both", "judge", "judge_when_unsure"] = "both"


class AttackPin(Strict):
    """An adaptive attack every direction runs on a pinned suite's harmful behaviours (docs/attacks.md).

    ``attack``, ``params``, ``budget``, ``seed`` and ``prompts_version`` are the
    attack spec (``crosslab.attacks.AttackSpec``; checked strictly before a
    round runs, ``round.share.attack_spec``). ``attacker`` and ``judge`` are
    target specs like a deployment's; the judge runs at temperature 0.
    ``elicitations``: the tier of the winning prompts and transcripts in the
    bundle, ``restricted`` (encrypted to the participants) or ``withheld``
    (committed to, never disclosed).
    """

    attack: Literal["pair", "tap", "crescendo"]
    params: dict[str, Any] = Field(default_factory=dict)
    budget: dict[str, int] = Field(default_factory=dict)
    seed: int = 0
    prompts_version: str = "1"
    attacker: dict[str, Any]
    judge: dict[str, Any]
    suite: str = "jailbreak"
    elicitations: Literal["restricted", "withheld"] = "restricted"

    def spec_dict(self) -> dict[str, Any]:
        """The fields of ``AttackSpec.from_dict``."""
        return {"attack": self.attack, "params": dict(self.params), "budget": dict(self.budget), "seed": self.seed,
                "prompts_version": self.prompts_version}


class Sampling(Strict):
    temperature: float | None = Field(0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(512, ge=1)
    seed: int | None = 0


class DisclosurePolicy(Strict):
    """Which tiers go where. Public: anyone; partners: the labs in the protocol; withheld: stubs only."""

    public: list[Tier] = ["public"]
    partners: list[Tier] = ["public", "restricted"]
    public_excerpt_chars: int = Field(280, ge=0)

    @model_validator(mode="after")
    def _sane(self) -> DisclosurePolicy:
        if "withheld" in self.public or "withheld" in self.partners:
            raise ValueError("withheld items are never disclosed; remove 'withheld' from public/partners")
        if "restricted" in self.public:
            raise ValueError("restricted items cannot be public")
        if not set(self.public) <= set(self.partners):
            raise ValueError("partners must see everything the public sees")
        return self


class Round(Strict):
    number: int = Field(ge=1)
    date: dt.date
    previous: str | None = Field(None, description="protocol id of the previous round")


class Protocol(Strict):
    PAYLOAD_TYPE: ClassVar[str] = "application/vnd.crosslab.protocol+json"

    format: Literal["crosslab-protocol/1"] = FORMAT
    title: str = Field(min_length=1)
    participants: list[Participant] = Field(min_length=2)
    suites: list[SuitePin] = Field(min_length=1)
    sampling: Sampling = Sampling()
    disclosure: DisclosurePolicy = DisclosurePolicy()
    review_window_days: int = Field(14, ge=0, le=365)
    cadence: str = "per round"
    round: Round
    #: Graders pinned by card (optional). Left out of the canonical form when empty, so every
    #: protocol written before pins existed keeps its id and signatures.
    graders: list[GraderPin] = Field(default_factory=list)
    #: Whether a lab may also evaluate its own deployments (the round then includes those directions).
    #: Left out of the canonical form when false, so every earlier protocol keeps its id and signatures.
    allow_self_evaluation: bool = False
    #: A judge model grading beside the rules (optional; left out of the canonical form when absent).
    judge: JudgeSpec | None = None
    #: An adaptive attack run in every direction (optional; left out of the canonical form when absent).
    attack: AttackPin | None = None

    @field_validator("participants")
    @classmethod
    def _unique_labs(cls, participants: list[Participant]) -> list[Participant]:
        labs = [p.identity.lab for p in participants]
        if len(set(labs)) != len(labs):
            raise ValueError(f"a lab appears twice among the participants: {labs}")
        return participants

    @field_validator("graders")
    @classmethod
    def _unique_graders(cls, graders: list[GraderPin]) -> list[GraderPin]:
        ids = [g.id for g in graders]
        if len(set(ids)) != len(ids):
            raise ValueError(f"a grader is pinned twice: {ids}")
        return graders

    @model_serializer(mode="wrap")
    def _omit_empty_additions(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for name in ("graders", "allow_self_evaluation", "judge", "attack"):  # added after 0.1.0: absent unless set
            if not data.get(name):
                data.pop(name, None)
        return data

    def canonical(self) -> bytes:
        return jcs(self.model_dump(mode="json"))

    @property
    def id(self) -> str:
        """The protocol id: SHA-256 (hex) of the canonical JSON."""
        return jcs_digest(self.model_dump(mode="json"))

    def participant(self, lab: str) -> Participant:
        for p in self.participants:
            if p.identity.lab == lab:
                return p
        raise KeyError(f"{lab!r} is not a participant of this protocol")


class ProtocolError(CrosslabError, ValueError):
    """A protocol file that cannot be loaded; the message says where."""


def load_protocol(path: Path) -> Protocol:
    """Read protocol YAML, resolve identity files (relative to the YAML), validate."""
    data = read_yaml_mapping(path, "protocol", ProtocolError)
    for i, participant in enumerate(data.get("participants") or []):
        if isinstance(participant, dict) and isinstance(participant.get("identity"), str):
            participant["identity"] = read_identity(path.parent / participant["identity"], i)
    try:
        return Protocol.model_validate(data)
    except ValidationError as exc:
        raise ProtocolError(f"protocol {path}: {first_problem(exc)}") from exc


def read_identity(path: Path, index: int) -> dict[str, Any]:
    """A participant's identity file, embedded as data; ProtocolError names the participant."""
    try:
        return load_identity(path).model_dump(mode="json")
    except (OSError, ValueError) as exc:
        raise ProtocolError(f"participants.{index}.identity: {exc}") from exc
