"""Across behaviours: the attack's public summary (``stats/asr.py`` does the counting).

The summary is a function of the public per-behaviour rows alone, so a
bundle verifier recomputes it from the rows the bundle publishes; this adds
the attack's name and the one sentence that says what ASR at budget means.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crosslab.attacks.result import BehaviourResult
from crosslab.stats.asr import summarise_rows

__all__ = ["ASR_MEANING", "summarise"]

ASR_MEANING = ("ASR at budget is the share of behaviours for which the attacker, within the pinned per-role "
               "query budget, got a reply the judge scored at or above the success threshold.")


def summarise(results: Sequence[BehaviourResult], level: float = 0.95) -> dict[str, Any]:
    """The public summary of an attack run: counts, rates and query statistics, never a prompt."""
    attacks = sorted({r.attack for r in results})
    return {"attack": attacks[0] if len(attacks) == 1 else attacks,
            **summarise_rows([r.public_dict() for r in results], level), "meaning": ASR_MEANING}
