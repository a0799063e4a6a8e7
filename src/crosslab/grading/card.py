"""Grader cards: what a grader is, what it was checked against, and how well it agreed with people.

``crosslab judge validate`` writes one card per validation. A card names the
grader (id and version), the judge deployment (its digest; null for a
rule-based grader), the rubric (id, version, digest), the combination mode,
the labelled set (SHA-256 of the file's bytes and its size), and the
agreement figures from ``stats.agreement`` (accuracy, Cohen's kappa,
per-class precision and recall with Wilson intervals, the confusion matrix,
the unscored count). The card digest is the SHA-256 of its canonical JSON;
a protocol pins a grader by id, version and card digest
(``protocol.schema.GraderPin``).

Cards travel between labs, so ``read_card`` treats a file as hostile: size
limit, strict JSON, an exact schema, and figures that must add up (the
confusion matrix sums to n, its diagonal gives the accuracy, unscored counts
the columns outside the classes). Any problem is one ``CardError`` line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from crosslab.core.atomic import write_atomically
from crosslab.core.capped import read_capped
from crosslab.core.canonical import canonical_json, digest
from crosslab.core.errors import CrosslabError
from crosslab.core.strictjson import StrictJSONError, loads_strict
from crosslab.core.version import __version__
from crosslab.stats.agreement import Agreement

FORMAT = "crosslab-grader-card/1"
MAX_CARD_BYTES = 1 << 20
_SHA256 = r"^[0-9a-f]{64}$"
_NAME = r"^[a-z][a-z0-9_.:/+-]{0,80}$"
_LABEL = r"^[a-z][a-z0-9_]{0,40}$"


class CardError(CrosslabError, ValueError):
    """A grader card that cannot be read or does not check out; the message says why in one line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class GraderRef(_Strict):
    id: str = Field(pattern=_NAME)
    version: str = Field(min_length=1, max_length=64)


class JudgeRef(_Strict):
    digest: str = Field(pattern=_SHA256)
    label: str = Field(min_length=1, max_length=200)  # provider:model, for people; the digest is what counts


class RubricRef(_Strict):
    id: str = Field(pattern=_LABEL)
    version: str = Field(min_length=1, max_length=64)
    digest: str = Field(pattern=_SHA256)


class LabelSet(_Strict):
    sha256: str = Field(pattern=_SHA256)
    bytes: int = Field(ge=0)
    name: str = Field(max_length=255)  # the file name it was read from, for people


class Rate(_Strict):
    estimate: float = Field(ge=0.0, le=1.0)
    low: float = Field(ge=0.0, le=1.0)
    high: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Rate:
        if not self.low <= self.estimate <= self.high:
            raise ValueError("an interval needs low <= estimate <= high")
        return self


class ClassRow(_Strict):
    support: int = Field(ge=0)
    predicted: int = Field(ge=0)
    precision: Rate | None
    recall: Rate | None


class Figures(_Strict):
    n: int = Field(ge=1)
    classes: list[str] = Field(min_length=1, max_length=64)
    accuracy: Rate
    kappa: float | None = Field(ge=-1.0, le=1.0)
    per_class: dict[str, ClassRow]
    confusion: dict[str, dict[str, int]]
    unscored: int = Field(ge=0)
    interval: Literal["Wilson score, 95 %"]

    @model_validator(mode="after")
    def _adds_up(self) -> Figures:
        classes = self.classes
        if len(set(classes)) != len(classes) or any(not _is_label(c) for c in classes):
            raise ValueError("classes must be distinct lower-case labels")
        if set(self.per_class) != set(classes) or set(self.confusion) != set(classes):
            raise ValueError("per_class and confusion must have one entry per class")
        counts = [v for row in self.confusion.values() for v in row.values()]
        if any(v < 1 for v in counts) or any(not _is_label(g) for row in self.confusion.values() for g in row):
            raise ValueError("confusion counts must be positive and name labels")
        if sum(counts) != self.n:
            raise ValueError(f"the confusion matrix counts {sum(counts)} items, not n = {self.n}")
        agree = sum(self.confusion[c].get(c, 0) for c in classes)
        if round(agree / self.n, 4) != self.accuracy.estimate:
            raise ValueError("accuracy does not match the confusion matrix")
        outside = sum(v for row in self.confusion.values() for g, v in row.items() if g not in classes)
        if outside != self.unscored:
            raise ValueError("unscored does not match the confusion matrix")
        for c in classes:
            row = self.per_class[c]
            support = sum(self.confusion[c].values())
            predicted = sum(r.get(c, 0) for r in self.confusion.values())
            if (row.support, row.predicted) != (support, predicted):
                raise ValueError(f"class {c}: support/predicted do not match the confusion matrix")
            if (row.recall is None) != (support == 0) or (row.precision is None) != (predicted == 0):
                raise ValueError(f"class {c}: precision/recall must be null exactly when there is nothing to rate")
        return self


class GraderCard(_Strict):
    format: Literal["crosslab-grader-card/1"]
    grader: GraderRef
    judge: JudgeRef | None
    rubric: RubricRef | None
    mode: Literal["rules", "judge", "judge_when_unsure", "both"]
    label_set: LabelSet
    n: int = Field(ge=1)
    figures: Figures
    crosslab_version: str = Field(min_length=1, max_length=64)
    created: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

    @model_validator(mode="after")
    def _consistent(self) -> GraderCard:
        if (self.judge is None) != (self.mode == "rules"):
            raise ValueError("a judge is named exactly when the mode uses one (mode 'rules' has none)")
        if (self.judge is None) != (self.rubric is None):
            raise ValueError("judge and rubric are given together or not at all")
        if self.figures.n != self.n:
            raise ValueError("n differs from figures.n")
        try:
            dt.datetime.strptime(self.created, "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            raise ValueError("created is not a real UTC time") from None
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def digest(self) -> str:
        return card_digest(self.to_dict())


def _is_label(value: str) -> bool:
    return re.fullmatch(_LABEL, value) is not None


def build_card(*, grader_id: str, grader_version: str, judge: dict[str, str] | None,
               rubric: dict[str, str] | None, mode: str, label_bytes: bytes, label_name: str,
               figures: Agreement, created: dt.datetime | None = None) -> GraderCard:
    """A validated card for one validation run (``created`` defaults to now, UTC, whole seconds)."""
    when = (created or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    data = {
        "format": FORMAT,
        "grader": {"id": grader_id, "version": grader_version},
        "judge": judge,
        "rubric": rubric,
        "mode": mode,
        "label_set": {"sha256": digest_bytes(label_bytes), "bytes": len(label_bytes), "name": label_name},
        "n": figures.n,
        "figures": figures.to_dict(),
        "crosslab_version": __version__,
        "created": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return parse_card(data, "new card")


def digest_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def card_digest(card: dict[str, Any]) -> str:
    """SHA-256 of the card's canonical JSON (``core.canonical``)."""
    return digest(card)


def card_bytes(card: GraderCard) -> bytes:
    """What a card file holds: its canonical JSON and a newline (so the file's digest is the card digest + LF)."""
    return canonical_json(card.to_dict()) + b"\n"


def write_card(path: Path, card: GraderCard) -> Path:
    return write_atomically(path, card_bytes(card))


def parse_card(data: Any, source: str) -> GraderCard:
    if not isinstance(data, dict):
        raise CardError(f"{source}: a grader card must be a JSON object")
    if data.get("format") != FORMAT:
        raise CardError(f"{source}: not a grader card (format must be {FORMAT!r})")
    try:
        return GraderCard.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = " ".join(str(err["msg"]).split())[:200]
        raise CardError(f"{source}: {where}: {msg}") from None


def read_card(path: Path) -> GraderCard:
    """A card from disk, checked as hostile input; CardError (one line) on any problem."""
    try:
        data = read_capped(path, MAX_CARD_BYTES)
    except OSError as exc:
        raise CardError(f"cannot read card {path}: {exc.strerror}") from None
    if data is None:
        raise CardError(f"card {path} is larger than {MAX_CARD_BYTES} bytes")
    try:
        value = loads_strict(data)
    except StrictJSONError as exc:
        raise CardError(f"card {path} is not strict JSON: {exc}") from None
    return parse_card(value, f"card {path}")


def pin_problems(card: GraderCard, pin_id: str, pin_version: str, pin_card: str) -> list[str]:
    """How ``card`` differs from a protocol's grader pin (empty when it matches)."""
    problems = []
    if card.grader.id != pin_id:
        problems.append(f"card is for grader {card.grader.id!r}, the pin names {pin_id!r}")
    if card.grader.version != pin_version:
        problems.append(f"grader {pin_id} is pinned at version {pin_version}, the card has {card.grader.version}")
    if card.digest != pin_card:
        problems.append(f"card digest {card.digest[:12]}… is not the pinned {pin_card[:12]}…")
    return problems
