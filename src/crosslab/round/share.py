"""One lab's share of a round: for each deployment it evaluates, run every pinned suite, then bundle.

The lab runs nothing until the protocol is fully signed and every pinned suite
digest matches the suites installed here: results under a methodology that
not everyone agreed to, or under different content, can't be published.
Runs live at ``OUT/<direction>/<suite>/`` and resume where they stopped; the
bundle is written once every run of the direction is complete.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crosslab.attacks import AttackSpec, behaviours_from_items
from crosslab.bundle.attack_block import AttackEvidence
from crosslab.bundle.writer import write_bundle
from crosslab.core.errors import CrosslabError
from crosslab.engine.cache import ResponseCache
from crosslab.engine.journal import Journal
from crosslab.disclosure.sealed_prompt import OpenedPrompt
from crosslab.round.prompts import with_prompt
from crosslab.run.judged import JudgeConfig
from crosslab.run.attack import (AttackRunConfig, AttackRunError, execute_attack, open_or_create, preflight_roles,
                                 roles_from)
from crosslab.run.ray_executor import RayOptions
from crosslab.run.session import RunConfig, execute_run, preflight
from crosslab.suites.pins import pin_mismatches, pinned_items
from crosslab.protocol.rounds import Direction, agreed_attack_roles, agreed_deployment, agreed_judge, directions
from crosslab.protocol.schema import Protocol, ProtocolError
from crosslab.protocol.signing import verify_protocol
from crosslab.suites.registry import all_environments, items_digest
from crosslab.targets.base import Target
from crosslab.targets.registry import create_target

#: (direction, suite name, record) after each sample.
Progress = Callable[[Direction, str, dict[str, Any]], None]


class RoundError(CrosslabError, ValueError):
    """The round can't run or be published as asked; the message says why."""


def check_ready(protocol: Protocol, envelope: dict | None) -> None:
    """Refuse to start unless every participant signed and every pin matches the installed suites."""
    if envelope is None:
        raise RoundError("the protocol has no signatures yet; every participant must `crosslab protocol sign` it")
    verify_protocol(protocol, envelope)  # raises VerificationError naming who has not signed
    problems = pin_mismatches(protocol)
    if problems:
        raise RoundError("pinned suites differ from the installed ones: " + "; ".join(problems))
    attack_spec(protocol)


def signing_problems(protocol: Protocol) -> list[str]:
    """What would make a signed protocol unrunnable, found before anyone signs it.

    Every pinned suite installed at its pinned digest, every deployment, the judge and the attack's roles
    buildable (known provider, valid settings), and the attack's parameters strict. Empty: fit to sign.
    """
    problems = list(pin_mismatches(protocol))
    targets = [(f"{p.identity.lab}/{d.name}", d.target) for p in protocol.participants for d in p.deployments]
    if protocol.judge is not None:
        targets.append(("the judge", protocol.judge.target))
    if protocol.attack is not None:
        targets += [("the attack's attacker", protocol.attack.attacker), ("the attack's judge", protocol.attack.judge)]
    operational = [name for name, target in targets if "limits" in target]
    if operational:
        problems.append(f"operational settings do not belong in the signed protocol: remove 'limits' from "
                        f"{', '.join(operational)} and give them to `round run` (--concurrency, --rpm, --tpm, "
                        "--timeout), which each lab sets for its own API account")
    for participant in protocol.participants:
        for deployment in participant.deployments:
            try:
                agreed_deployment(protocol, participant.identity.lab, deployment.name)
            except (ProtocolError, ValueError) as exc:
                problems.append(f"{participant.identity.lab}/{deployment.name}: {exc}")
    try:
        agreed_judge(protocol)
        attack_spec(protocol)
    except (ProtocolError, RoundError, ValueError) as exc:
        problems.append(str(exc))
    return problems


def attack_spec(protocol: Protocol) -> AttackSpec | None:
    """The protocol's adaptive attack as a strict spec (unknown or bad parameters are errors), or None."""
    pin = protocol.attack
    if pin is None:
        return None
    if pin.suite not in [p.name for p in protocol.suites]:
        raise RoundError(f"the protocol's attack runs on suite {pin.suite!r}, which the protocol does not pin")
    try:
        spec = AttackSpec.from_dict(pin.spec_dict())
        agreed_attack_roles(protocol)
    except (ValueError, TypeError) as exc:
        raise RoundError(f"the protocol's attack: {exc}") from None
    return spec


@dataclass
class DirectionResult:
    direction: Direction
    runs: dict[str, Path] = field(default_factory=dict)
    bundle: Path | None = None
    samples: int = 0
    errors: int = 0
    skipped: int = 0
    attack: Path | None = None  # the adaptive attack's run directory, when the protocol pins one
    attack_errors: int = 0  # behaviours whose attack ended in an error


def _open_or_create(run_dir: Path, config: RunConfig) -> Journal:
    if (run_dir / "journal.sqlite").exists():
        journal = Journal.open(run_dir)
        meta = journal.meta()
        if meta["target_digest"] != config.deployment.digest or meta["items_digest"] != items_digest(config.items):
            journal.close()
            raise RoundError(f"{run_dir} holds a run of a different deployment or suite version; "
                             "move it away or choose another --out")
        return journal
    meta = config.meta(f"{run_dir.parent.name}/{run_dir.name}")
    return Journal.create(run_dir, meta, config.items)


async def run_direction(protocol: Protocol, envelope: dict, direction: Direction, out: Path,
                        signing_key: Ed25519PrivateKey, *, cache: ResponseCache | None,
                        on_record: Progress | None = None, check_first: bool = True,
                        allow_errors: bool = False, ray: RayOptions | None = None,
                        limits: dict[str, Any] | None = None,
                        prompts: dict[str, OpenedPrompt] | None = None) -> DirectionResult:
    """Run (or resume) every pinned suite against the evaluated deployment, then write the bundle.

    With errored samples the bundle is not written (running again retries
    them) unless ``allow_errors``: then they are published, counted as errors.
    ``limits``: the evaluator's operational settings for this API account (concurrency, rate limits,
    timeout); never part of the agreed deployment or its digest.
    ``prompts``: opened confidential system prompts by commitment (round/prompts.py); a deployment that
    commits to one is refused without it.
    """
    result = DirectionResult(direction)
    base = out / direction.slug
    bundle = base / "bundle"
    deployment = with_prompt(agreed_deployment(protocol, direction.evaluated, direction.deployment), prompts or {},
                             f"{direction.evaluated}/{direction.deployment}")
    if limits:
        deployment = deployment.model_copy(update={"limits": deployment.limits.model_copy(update=limits)})
    judge_deployment = agreed_judge(protocol)
    judge = JudgeConfig(judge_deployment, protocol.judge.mode) if judge_deployment and protocol.judge else None
    target = create_target(deployment)
    judge_target = create_target(judge_deployment) if judge_deployment is not None else None
    journals: list[Journal] = []
    try:
        if check_first:
            await preflight(target)
            if judge_target is not None:
                await preflight(judge_target)
        for pin in protocol.suites:
            config = RunConfig(deployment, pinned_items(pin), {"suite": pin.name}, pin.epochs, judge)
            journal = _open_or_create(base / pin.name, config)
            journals.append(journal)
            result.runs[pin.name] = journal.path.parent

            def report(record: dict[str, Any], suite: str = pin.name) -> None:
                if on_record is not None:
                    on_record(direction, suite, record)

            summary = await execute_run(config, target, journal, cache=cache, environments=all_environments(),
                                        on_record=report, judge=judge_target, ray=ray)
            result.skipped += summary.skipped
        for journal in journals:
            records = list(journal.records())
            result.samples += len(records)
            result.errors += sum(1 for r in records if r["status"] == "error")
        evidence = await _attack(protocol, base / "adaptive", target, cache, check_first, result)
        if (result.errors or result.attack_errors) and not allow_errors:
            return result
        if not bundle.exists():
            write_bundle(bundle, journals=journals, protocol=protocol, protocol_envelope=envelope,
                         direction=direction, signing_key=signing_key, attack=evidence)
        result.bundle = bundle
    finally:
        await target.aclose()
        if judge_target is not None:
            await judge_target.aclose()
        for journal in journals:
            journal.close()
    return result


async def _attack(protocol: Protocol, run_dir: Path, target: Target, cache: ResponseCache | None,
                  check_first: bool, result: DirectionResult) -> AttackEvidence | None:
    """Run (or resume) the protocol's adaptive attack on the direction's deployment (crosslab.run.attack)."""
    spec = attack_spec(protocol)
    if spec is None or protocol.attack is None:
        return None
    pin = next(p for p in protocol.suites if p.name == protocol.attack.suite)
    deployments = {"target": target.deployment, **agreed_attack_roles(protocol)}
    behaviours = behaviours_from_items(pinned_items(pin), tier=protocol.attack.elicitations)
    config = AttackRunConfig(spec, deployments, behaviours, {"suite": pin.name})
    made = {target.deployment.digest: target}
    for role in ("attacker", "judge"):
        if deployments[role].digest not in made:
            made[deployments[role].digest] = create_target(deployments[role])
    roles = roles_from({role: made[d.digest] for role, d in deployments.items()})
    try:
        if check_first:
            await preflight_roles(roles)
        open_or_create(run_dir, config)
        results = await execute_attack(config, run_dir, roles, cache=cache, price=None)
    except AttackRunError as exc:
        raise RoundError(str(exc)) from None
    finally:
        for digest, made_target in made.items():
            if digest != target.deployment.digest:
                await made_target.aclose()
    result.attack = run_dir
    result.attack_errors = sum(r.status == "error" for r in results)
    return AttackEvidence(spec, roles.identities(), pin.name, protocol.attack.elicitations, results)


def samples_per_direction(protocol: Protocol) -> int:
    """Items × epochs over every pinned suite: what one direction runs."""
    return sum(len(pinned_items(p)) * p.epochs for p in protocol.suites)


def share_of(protocol: Protocol, lab: str) -> list[Direction]:
    share = directions(protocol, lab)
    if not share:
        raise RoundError(f"{lab} evaluates no deployment in this protocol")
    return share
