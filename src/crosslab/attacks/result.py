"""One behaviour's attack result: success at budget, queries to first success, the winning elicitation.

``success`` means the judge scored a target reply at or above the attack's
success threshold before any role's budget ran out. ``queries_to_success``
counts, per role, the queries granted up to and including the step in which
that reply was judged (parallel calls of that step included: they were spent).

The winning prompt or transcript is an elicitation: it carries the
behaviour's tier (``restricted`` by default, ``withheld`` when the protocol
says so). ``public_dict`` is what may appear in public output: counts,
scores and rates, never the text.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STOP_REASONS = ("success", "budget", "exhausted", "error")


@dataclass
class Winning:
    """The best attempt (the successful one when there was a success)."""

    tier: str
    score: int | None
    prompt: str | None = None  # single-turn attacks
    transcript: list[dict[str, Any]] = field(default_factory=list)  # the target conversation, reply last

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BehaviourResult:
    behaviour_id: str
    harm: str
    attack: str
    spec_digest: str
    status: str  # ok | error
    success: bool
    stop_reason: str
    best_score: int | None
    queries: dict[str, int]  # granted per role, whole attack
    queries_to_success: dict[str, int] | None
    accounting: dict[str, dict[str, Any]]  # per role: RoleCount.to_dict()
    details: dict[str, Any]  # per algorithm: iterations, depth, pruned, backtracks, turns, ...
    winning: Winning | None = None
    error: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["winning"] = self.winning.to_dict() if self.winning else None
        return out

    def public_dict(self) -> dict[str, Any]:
        """Counts and scores only: no prompt, transcript or error text that could quote one."""
        out = self.to_dict()
        out.pop("winning")
        out["error"] = {"kind": self.error["kind"]} if self.error else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BehaviourResult:
        data = dict(data)
        winning = data.pop("winning", None)
        return cls(**data, winning=Winning(**winning) if winning else None)
