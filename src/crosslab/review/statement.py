"""The adjudication statement: what a reviewing lab signs when it imports a filled sheet.

It names the run (id, items digest, deployment digest), the reviewing lab and
person, and one row per reviewed verdict: the sample (with its journal record
SHA-256, so the review is bound to the exact transcript read), the grader,
the original verdict (label, score, version) and the review (label, the score
the grader's rule gives it, the reviewer's note). The signed bytes are its
RFC 8785 canonical JSON; their SHA-256 is the adjudication's digest, which
names the file and is cited by every verdict it overrides.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crosslab.core.jcs import jcs
from crosslab.identity.keys import check_lab_id
from crosslab.review.errors import ReviewError

STATEMENT_TYPE = "crosslab-adjudication/v1"
PAYLOAD_TYPE = "application/vnd.crosslab.adjudication+json"
MAX_NOTE_CHARS = 4000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunRef(_Strict):
    run_id: str = Field(min_length=1)
    items_digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    target_digest: str = Field(min_length=1)


class Original(_Strict):
    label: str
    score: float | None  # None: the verdict reviewed was an unscored judge reply
    version: str


class Row(_Strict):
    sample_id: str = Field(min_length=1)
    item_id: str = Field(min_length=1)
    record_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    grader: str = Field(min_length=1)
    original: Original
    review_label: str = Field(min_length=1)
    review_score: float = Field(ge=0.0, le=1.0)
    note: str = Field("", max_length=MAX_NOTE_CHARS)


class Statement(_Strict):
    type: str = STATEMENT_TYPE
    run: RunRef
    lab: str
    reviewer: str
    created_at: str
    sheet: dict[str, str]  # {"name": file name, "sha256": of the sheet's bytes}
    rows: list[Row] = Field(min_length=1)

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value != STATEMENT_TYPE:
            raise ValueError(f"is {value!r}, not {STATEMENT_TYPE!r}")
        return value

    @field_validator("lab")
    @classmethod
    def _lab_id(cls, value: str) -> str:
        return check_lab_id(value)

    @field_validator("reviewer")
    @classmethod
    def _reviewer(cls, value: str) -> str:
        return check_reviewer(value)

    def payload(self) -> bytes:
        """The exact bytes that are signed: RFC 8785 JSON."""
        return jcs(self.model_dump(mode="json"))


def check_reviewer(value: str) -> str:
    """A reviewer id: 1-200 printable characters (a name or an email; it is shown, never parsed)."""
    if not isinstance(value, str) or not value.strip() or len(value) > 200 or not value.isprintable():
        raise ReviewError(f"invalid reviewer id {value!r}: use 1-200 printable characters")
    return value


def digest_of(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def parse_statement(data: Any, source: str) -> Statement:
    """Validate statement data; the first failing check becomes one ReviewError line naming ``source``."""
    try:
        return Statement.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ReviewError(f"{source}: statement field {where or '(root)'}: "
                          f"{err['msg'].removeprefix('Value error, ')}") from None
