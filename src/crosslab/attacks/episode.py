"""One behaviour under attack: the roles' callers, the ledger, the seeded choices and the best attempt so far.

The algorithms (``pair``, ``tap``, ``crescendo``) are written against this
object only. Randomness comes from ``rng(*parts)``, a generator seeded by
the spec's seed, the behaviour and the place it is used, so every random
choice is reproducible and independent of how calls interleave.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from crosslab.attacks.behaviour import Behaviour
from crosslab.attacks.budget import Ledger
from crosslab.attacks.calls import RoleCaller
from crosslab.attacks.judge import AttackJudge, Score
from crosslab.attacks.params import AttackSpec
from crosslab.attacks.prompts import PromptSet
from crosslab.attacks.result import Winning
from crosslab.core.canonical import digest
from crosslab.core.errors import CrosslabError
from crosslab.targets.base import Message


T = TypeVar("T")


async def gather_all(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Await every call, then raise the first failure in call order (never a later one's by timing).

    Unlike a bare ``asyncio.gather``, no call is left running after a failure:
    each one finishes and is journaled, so a resume replays it rather than
    sending it again.
    """
    results = await asyncio.gather(*calls, return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return list(results)  # type: ignore[arg-type]


class OutOfBudget(CrosslabError):
    """A role's budget ran out: the attack stops with ``stop_reason: budget`` (caught there, never shown)."""

    def __init__(self, role: str) -> None:
        super().__init__(f"the {role} budget is spent")
        self.role = role


@dataclass
class Episode:
    behaviour: Behaviour
    spec: AttackSpec
    ledger: Ledger
    attacker: RoleCaller
    target: RoleCaller
    judge: AttackJudge
    prompts: PromptSet
    best: Winning | None = None
    queries_to_success: dict[str, int] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def goal(self) -> str:
        return self.behaviour.goal

    @property
    def threshold(self) -> int:
        return self.spec.params.success_threshold

    @property
    def succeeded(self) -> bool:
        return self.queries_to_success is not None

    def rng(self, *parts: Any) -> random.Random:
        return random.Random(int(digest([self.spec.seed, self.behaviour.id, *parts])[:16], 16))

    def count(self, key: str, n: int = 1) -> None:
        self.details[key] = self.details.get(key, 0) + n

    def grant(self, role: str, wanted: int) -> int:
        """Queries granted for ``role`` (up to ``wanted``); OutOfBudget when none are left."""
        granted = self.ledger.take(role, wanted)
        if granted == 0 and wanted > 0:
            raise OutOfBudget(role)
        return granted

    def judged(self, score: Score, *, prompt: str | None, transcript: list[Message]) -> None:
        """Note a judged target reply: keep it when it is the best so far, and mark the first success."""
        if self.best is None or (score.score or 0) > (self.best.score or 0):
            self.best = Winning(self.behaviour.tier, score.score, prompt, [dict(m) for m in transcript])
        if score.reached(self.threshold) and self.queries_to_success is None:
            self.best = Winning(self.behaviour.tier, score.score, prompt, [dict(m) for m in transcript])
            self.queries_to_success = self.ledger.queries()
