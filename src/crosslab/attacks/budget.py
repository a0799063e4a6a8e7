"""Query budgets and per-role accounting for one behaviour's attack.

An adaptive attack's result means nothing without its budget: "the attacker
succeeded" is only comparable between targets when both were attacked with
the same number of target, attacker and judge queries. ``Budget`` pins those
limits (it is part of the attack spec, so a protocol can hash it);
``Ledger`` counts what one behaviour's attack spent, role by role.

Queries are *granted* before they are made, in the algorithm's fixed order
(``Ledger.take``), so the same seed and the same replies always spend the
same queries, however the event loop interleaves the parallel calls.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from crosslab.stats.asr import ROLES  # one list of roles, in the lowest layer that needs it


@dataclass(frozen=True)
class Budget:
    """The most queries each role may receive for one behaviour (a query is one call, sent or replayed)."""

    target: int = 20
    attacker: int = 20
    judge: int = 40

    def __post_init__(self) -> None:
        for role in ROLES:
            value = getattr(self, role)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"budget: {role} must be a positive integer, not {value!r}")

    def limit(self, role: str) -> int:
        return int(getattr(self, role))

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Budget:
        unknown = set(data) - set(ROLES)
        if unknown:
            raise ValueError(f"budget: unknown roles {sorted(unknown)} (roles: {', '.join(ROLES)})")
        return cls(**data)


@dataclass
class RoleCount:
    """What one role cost: queries granted, how each was served, and tokens."""

    queries: int = 0  # granted against the budget (sent, cached or replayed from the journal)
    sent: int = 0  # reached the model in this session
    cached: int = 0  # answered by the response cache
    resumed: int = 0  # replayed from the attack journal (finished in an earlier session)
    errors: int = 0  # failed for good after the engine's retries
    retries: int = 0
    unscored: int = 0  # judge replies that did not parse, and attacker replies without a usable prompt
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None  # None: no price known (never shown as 0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Ledger:
    """One behaviour's spending against its budget, per role."""

    budget: Budget
    roles: dict[str, RoleCount] = field(default_factory=lambda: {r: RoleCount() for r in ROLES})

    def remaining(self, role: str) -> int:
        return self.budget.limit(role) - self.roles[role].queries

    def take(self, role: str, wanted: int) -> int:
        """Grant up to ``wanted`` queries of ``role``; how many were granted (0 when spent)."""
        granted = max(0, min(wanted, self.remaining(role)))
        self.roles[role].queries += granted
        return granted

    def queries(self) -> dict[str, int]:
        return {role: count.queries for role, count in self.roles.items()}

    def to_dict(self) -> dict[str, Any]:
        return {role: count.to_dict() for role, count in self.roles.items()}
