"""Running an attack spec on a list of behaviours: the roles handed in, one journal, one result each.

This is the entry point for the layers above (``crosslab run --attack``, a
protocol's ``attack:``): they build the three role targets (``AttackRoles``;
no role is constructed here), pick the behaviours (``behaviours_from_items``)
and call ``run_attack``. Behaviours run ``concurrency`` at a time, each with
its own ledger, so their results do not depend on the order they finish in.
Calling it again with the same directory resumes (see ``journal.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crosslab.attacks.behaviour import Behaviour
from crosslab.attacks.budget import Ledger
from crosslab.attacks.calls import AttackCallError, PriceFn, RoleCaller
from crosslab.attacks.crescendo import run_crescendo
from crosslab.attacks.episode import Episode, OutOfBudget
from crosslab.attacks.journal import finished_calls, open_attack_journal, outcome_id
from crosslab.attacks.judge import attack_rubric
from crosslab.attacks.pair import run_pair
from crosslab.attacks.params import AttackSpec
from crosslab.attacks.prompts import PromptSet, prompt_set
from crosslab.attacks.result import BehaviourResult
from crosslab.attacks.tap import run_tap
from crosslab.attacks.judge import AttackJudge
from crosslab.core.canonical import digest
from crosslab.engine.cache import ResponseCache
from crosslab.engine.journal import Journal
from crosslab.targets.base import Target
from crosslab.targets.deployment import DeploymentError

ALGORITHMS = {"pair": run_pair, "tap": run_tap, "crescendo": run_crescendo}


@dataclass(frozen=True)
class AttackRoles:
    """The three models of an attack, each an ordinary Target built by the caller."""

    target: Target
    attacker: Target
    judge: Target

    def identities(self) -> dict[str, dict[str, Any]]:
        return {role: {"label": t.deployment.label, "digest": t.deployment.digest}
                for role, t in (("target", self.target), ("attacker", self.attacker), ("judge", self.judge))}


def run_key(spec: AttackSpec, roles: AttackRoles, prompts: PromptSet) -> str:
    """Everything a call's reply may depend on: the spec, the three deployments, the prompts and rubrics."""
    return digest({"spec": spec.to_dict(), "roles": roles.identities(), "prompts": prompts.ref(),
                   "rubrics": [attack_rubric("score").ref(), attack_rubric("on_topic").ref()]})


def _check(spec: AttackSpec, roles: AttackRoles, behaviours: Sequence[Behaviour], prompts: PromptSet) -> None:
    judge = roles.judge.deployment
    if judge.temperature != 0.0:
        raise DeploymentError(f"judge {judge.label} must run at temperature 0, not {judge.temperature}")
    if prompts.version != spec.prompts_version:
        raise ValueError(f"the spec pins attacker prompts version {spec.prompts_version}; "
                         f"installed is {prompts.version}")
    ids = [b.id for b in behaviours]
    if len(set(ids)) != len(ids):
        raise ValueError("behaviour ids repeat")


async def run_attack(spec: AttackSpec, behaviours: Sequence[Behaviour], roles: AttackRoles, *,
                     journal_dir: Path | None = None, cache: ResponseCache | None = None,
                     price: PriceFn | None = None, concurrency: int = 1,
                     on_result: Callable[[BehaviourResult], None] | None = None) -> list[BehaviourResult]:
    """Attack every behaviour with ``spec``; one result each, in the order of ``behaviours``.

    ``journal_dir`` makes the run resumable (created when new, replayed when it
    holds this run's journal). ``price`` turns a role's tokens into USD.
    """
    prompts = prompt_set()
    _check(spec, roles, behaviours, prompts)
    key = run_key(spec, roles, prompts)
    journal: Journal | None = None
    done: dict[str, dict[str, Any]] = {}
    if journal_dir is not None:
        journal = open_attack_journal(journal_dir, {
            "run_key": key, "spec": spec.to_dict(), "spec_digest": spec.digest, "roles": roles.identities(),
            "prompts": prompts.ref(), "behaviours": [b.to_dict() for b in behaviours]})
        done = finished_calls(journal)
    callers = {role: RoleCaller(role, getattr(roles, role), run_key=key, journal=journal, done=done,
                                cache=cache, price=price, seed=spec.seed)
               for role in ("target", "attacker", "judge")}
    judge = AttackJudge(callers["judge"])
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(behaviour: Behaviour) -> BehaviourResult:
        async with gate:
            ep = Episode(behaviour, spec, Ledger(spec.budget), callers["attacker"], callers["target"], judge, prompts)
            result = await attack_one(ep)
        if journal is not None:
            journal.write({"sample_id": outcome_id(behaviour.id), "item_id": behaviour.id, "kind": "outcome",
                           "status": result.status, "result": result.to_dict()})
        if on_result is not None:
            on_result(result)
        return result

    try:
        return list(await asyncio.gather(*(one(b) for b in behaviours)))
    finally:
        if journal is not None:
            journal.close()


async def attack_one(ep: Episode) -> BehaviourResult:
    """Run the spec's algorithm on one behaviour and say how it ended."""
    error = None
    try:
        stop = await ALGORITHMS[ep.spec.attack](ep)
    except OutOfBudget as exc:
        stop = "success" if ep.succeeded else "budget"
        ep.details["budget_ran_out"] = exc.role
    except AttackCallError as exc:
        stop, error = "error", {**exc.error, "role": exc.role, "slot": exc.slot}
    success = ep.succeeded and error is None
    return BehaviourResult(
        behaviour_id=ep.behaviour.id, harm=ep.behaviour.harm, attack=ep.spec.attack, spec_digest=ep.spec.digest,
        status="error" if error else "ok", success=success, stop_reason=stop,
        best_score=ep.best.score if ep.best else None, queries=ep.ledger.queries(),
        queries_to_success=ep.queries_to_success if success else None, accounting=ep.ledger.to_dict(),
        details=ep.details, winning=ep.best, error=error)


def run_attack_sync(*args: Any, **kwargs: Any) -> list[BehaviourResult]:
    """``run_attack`` on a fresh event loop, closing the three role targets afterwards."""
    roles: AttackRoles = args[2] if len(args) > 2 else kwargs["roles"]

    async def go() -> list[BehaviourResult]:
        try:
            return await run_attack(*args, **kwargs)
        finally:
            for target in {id(t): t for t in (roles.target, roles.attacker, roles.judge)}.values():
                await target.aclose()

    return asyncio.run(go())
