"""An adaptive-attack run: one attack spec, three role deployments and a suite's behaviours, in a run directory.

``crosslab run --attack`` and a round with a protocol ``attack:`` start attacks
the same way, so both keep the same layout and resume the same way::

    <run>/attack.json    what the run is (spec, the three deployments, behaviours); written once
    <run>/attack/        the attack journal (crosslab.attacks.journal): every call, every result

``attack.json`` holds full deployments (the attack journal keeps only their
digests), so ``--resume <run>`` rebuilds the three roles with nothing given on
the command line. As with a suite run, nothing is written until the inputs
are valid and the network roles have answered once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from crosslab.attacks import (AttackRoles, AttackSpec, Behaviour, BehaviourResult, Budget, run_attack,
                              params_from_dict)
from crosslab.attacks.budget import ROLES
from crosslab.core.atomic import write_atomically
from crosslab.core.errors import CrosslabError
from crosslab.core.version import __version__
from crosslab.engine.cache import ResponseCache
from crosslab.run.session import new_run_id, preflight
from crosslab.targets.base import Target
from crosslab.targets.deployment import Deployment

ATTACK_CONFIG = "attack.json"
ATTACK_DIR = "attack"


class AttackRunError(CrosslabError, ValueError):
    """An attack run that cannot start or resume as asked; the message says why."""


def spec_from_params(attack: str, pairs: Sequence[str]) -> AttackSpec:
    """The spec for ``--attack NAME --attack-param k=v ...``: the algorithm's defaults, then the given values.

    Keys are the algorithm's parameters, ``seed``, or ``budget.target`` /
    ``budget.attacker`` / ``budget.judge``; values are integers or true/false.
    Unknown keys and bad values are errors (``ValueError``), never ignored.
    """
    params: dict[str, Any] = {}
    budget: dict[str, Any] = {}
    seed: Any = 0
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--attack-param {pair!r}: expected KEY=VALUE (e.g. streams=3, budget.target=10)")
        value = _value(key, raw.strip())
        if key == "seed":
            seed = value
        elif key.startswith("budget."):
            role = key.removeprefix("budget.")
            if role not in ROLES:
                raise ValueError(f"--attack-param {key}: budgets are per role ({', '.join(ROLES)})")
            budget[role] = value
        else:
            params[key] = value
    return AttackSpec(attack, params_from_dict(attack, params), Budget(**budget), seed)


def _value(key: str, raw: str) -> int | bool:
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"--attack-param {key}={raw!r}: values are integers or true/false") from None


@dataclass(frozen=True)
class AttackRunConfig:
    """Everything that defines an attack run; ``attack.json`` so a resume needs nothing else."""

    spec: AttackSpec
    deployments: dict[str, Deployment]  # target, attacker, judge
    behaviours: list[Behaviour]
    source: dict[str, Any]  # {"suite": name}

    def to_dict(self, run_id: str) -> dict[str, Any]:
        return {"kind": "attack", "run_id": run_id, "crosslab_version": __version__,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "source": self.source, "spec": self.spec.to_dict(), "spec_digest": self.spec.digest,
                "deployments": {r: d.model_dump(mode="json") for r, d in self.deployments.items()},
                "digests": {r: d.digest for r, d in self.deployments.items()},
                "behaviours": [b.to_dict() for b in self.behaviours]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AttackRunConfig:
        spec = AttackSpec.from_dict(data["spec"])
        if spec.digest != data["spec_digest"]:
            raise AttackRunError("the attack spec does not match its recorded digest")
        deployments = {r: Deployment.model_validate(data["deployments"][r]) for r in ROLES}
        for role, deployment in deployments.items():
            if deployment.digest != data["digests"][role]:
                raise AttackRunError(f"the {role} deployment does not match its recorded digest")
        return cls(spec, deployments, [Behaviour(**b) for b in data["behaviours"]], dict(data["source"]))


def is_attack_run(run_dir: Path) -> bool:
    return (run_dir / ATTACK_CONFIG).is_file()


def load_attack_run(run_dir: Path) -> AttackRunConfig:
    """The config of an attack run directory; AttackRunError naming the problem otherwise."""
    path = run_dir / ATTACK_CONFIG
    try:
        return AttackRunConfig.from_dict(orjson.loads(path.read_bytes()))
    except AttackRunError as exc:
        raise AttackRunError(f"{path}: {exc}") from None
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise AttackRunError(f"{path}: not an attack run config ({type(exc).__name__}: {exc})") from None


def create_attack_run(out: Path, config: AttackRunConfig, run_id: str | None = None) -> Path:
    """A new run directory holding ``attack.json``; the journal is created by the first ``execute_attack``."""
    run_id = run_id or new_run_id()
    run_dir = out / run_id
    if run_dir.exists():
        raise AttackRunError(f"{run_dir} already exists")
    run_dir.mkdir(parents=True)
    write_atomically(run_dir / ATTACK_CONFIG, orjson.dumps(config.to_dict(run_id), option=orjson.OPT_INDENT_2))
    return run_dir


def open_or_create(run_dir: Path, config: AttackRunConfig) -> None:
    """Use ``run_dir`` for ``config``: create it, or check that the run already there is the same attack."""
    if is_attack_run(run_dir):
        old = load_attack_run(run_dir)
        if old.spec != config.spec or {r: d.digest for r, d in old.deployments.items()} != \
                {r: d.digest for r, d in config.deployments.items()} or old.behaviours != config.behaviours:
            raise AttackRunError(f"{run_dir} holds an attack run with another spec, roles or behaviours; "
                                 "move it away or choose another --out")
        return
    create_attack_run(run_dir.parent, config, run_dir.name)


async def preflight_roles(roles: AttackRoles) -> None:
    """One tiny call per network role (each distinct deployment once), before anything is written."""
    seen: set[str] = set()
    for target in (roles.target, roles.attacker, roles.judge):
        if target.deployment.digest not in seen:
            seen.add(target.deployment.digest)
            await preflight(target)


async def execute_attack(config: AttackRunConfig, run_dir: Path, roles: AttackRoles, *,
                         cache: ResponseCache | None, price: Callable[[str, int, int], float | None] | None,
                         concurrency: int = 1,
                         on_result: Callable[[BehaviourResult], None] | None = None) -> list[BehaviourResult]:
    """Run (or resume) the attack into ``<run>/attack``; the caller owns and closes the role targets."""
    for role, target in (("target", roles.target), ("attacker", roles.attacker), ("judge", roles.judge)):
        if target.deployment.digest != config.deployments[role].digest:
            raise AttackRunError(f"the {role} given is not the run's {role} deployment")
    return await run_attack(config.spec, config.behaviours, roles, journal_dir=run_dir / ATTACK_DIR, cache=cache,
                            price=price, concurrency=concurrency, on_result=on_result)


def roles_from(targets: dict[str, Target]) -> AttackRoles:
    return AttackRoles(target=targets["target"], attacker=targets["attacker"], judge=targets["judge"])
