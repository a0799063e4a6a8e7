"""One Pacer per rate limit: shared by every caller of one account and model in this process.

A provider limits an account (per model), not a ModelCaller: the preflight,
the run and anything else in the process that calls the same account share
one budget, so they share one pacer, and what the preflight's headers taught
is known before the first sample starts. This registry is the engine's only
state that outlives a call to ``execute``; it affects timing, never plans,
records or sample ids. The user's --rpm/--tpm are part of the key, so a
caller with other caps never loosens them.
"""

from __future__ import annotations

from crosslab.engine.pacing import Pacer
from crosslab.targets.base import Target
from crosslab.targets.deployment import Limits


class PacerRegistry:
    def __init__(self) -> None:
        self._pacers: dict[tuple[str, float | None, float | None], Pacer] = {}

    def for_target(self, target: Target, limits: Limits | None = None) -> Pacer:
        limits = limits or target.deployment.limits
        key = (target.rate_limit_scope(), limits.requests_per_minute, limits.tokens_per_minute)
        pacer = self._pacers.get(key)
        if pacer is None:
            pacer = self._pacers[key] = Pacer(rpm=limits.requests_per_minute, tpm=limits.tokens_per_minute,
                                              max_tokens=target.deployment.max_tokens)
        return pacer

    def forget(self) -> None:
        """Drop everything learned (benchmarks and tests that reuse a port for another server)."""
        self._pacers.clear()


SHARED = PacerRegistry()


def pacer_for(target: Target, limits: Limits | None = None) -> Pacer:
    """The process's pacer for ``target``'s account and model under ``limits`` (default: its own)."""
    return SHARED.for_target(target, limits)
