"""Adaptive jailbreak attacks (PAIR, TAP, Crescendo): an attacker model and a judge against a target, under pinned budgets.

The public API, for the run/CLI/protocol layers above::

    spec = AttackSpec.of("tap", branching=3, width=4, depth=4, budget=Budget(target=30, attacker=30, judge=90))
    roles = AttackRoles(target=..., attacker=..., judge=...)          # three ordinary Targets
    results = run_attack_sync(spec, behaviours_from_items(items), roles, journal_dir=run_dir / "attack")
    summary = summarise(results)                                       # ASR at budget, queries to success

See docs/attacks.md.
"""

from crosslab.attacks.aggregate import ASR_MEANING, summarise
from crosslab.attacks.behaviour import Behaviour, behaviours_from_items
from crosslab.attacks.budget import ROLES, Budget
from crosslab.attacks.journal import read_outcomes
from crosslab.attacks.params import AttackSpec, CrescendoParams, PairParams, TapParams, params_from_dict
from crosslab.attacks.result import BehaviourResult, Winning
from crosslab.attacks.runner import AttackRoles, run_attack, run_attack_sync, run_key

__all__ = ["ASR_MEANING", "ROLES", "AttackRoles", "AttackSpec", "Behaviour", "BehaviourResult", "Budget",
           "CrescendoParams", "PairParams", "TapParams", "Winning", "behaviours_from_items", "params_from_dict",
           "read_outcomes", "run_attack", "run_attack_sync", "run_key", "summarise"]
