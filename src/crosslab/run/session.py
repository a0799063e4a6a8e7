"""A run from start to finish: validate, preflight, journal, execute, grade.

Kept apart from the CLI so tests, benchmarks and later commands (rounds, the
demo) start runs the same way. Nothing touches the disk until the inputs are
valid and the target has answered once, so bad input never leaves a journal.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crosslab.core.version import __version__
from crosslab.engine.cache import ResponseCache
from crosslab.engine.caller import CallStats, ModelCaller
from crosslab.engine.interactions import EnvironmentFactory
from crosslab.engine.journal import Journal
from crosslab.engine.plan import make_plan
from crosslab.engine.runner import ExecutionSummary, ProgressCallback, execute
from crosslab.run.grade import GradeAsJournaled, grade_journal
from crosslab.run.judged import JudgeConfig, JudgeSummary, grade_with_judge
from crosslab.run.ray_executor import RayOptions, execute_on_ray
from crosslab.items.item import Item
from crosslab.suites.registry import all_interactions, items_digest
from crosslab.targets.base import Target
from crosslab.targets.deployment import Deployment

NETWORK_PROVIDERS = frozenset({"openai", "anthropic", "google"})


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; stored in the journal so resume needs nothing else."""

    deployment: Deployment
    items: list[Item]
    source: dict[str, Any]  # {"suite": name} or {"items_file": path}
    epochs: int = 1
    #: A judge model grading beside the rules (run/judged.py); None grades by the rules alone.
    judge: JudgeConfig | None = None

    def meta(self, run_id: str) -> dict[str, Any]:
        judge = {"judge": self.judge.meta()} if self.judge is not None else {}
        return judge | {
            "run_id": run_id,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "crosslab_version": __version__,
            "deployment": self.deployment.model_dump(mode="json"),
            "target_digest": self.deployment.digest,
            "source": self.source,
            "epochs": self.epochs,
            "items_digest": items_digest(self.items),
        }


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


async def preflight(target: Target) -> None:
    """One tiny call with few retries, so a wrong URL or key fails in seconds, before any journal."""
    if target.deployment.provider not in NETWORK_PROVIDERS:
        return
    limits = target.deployment.limits.model_copy(update={"max_retries": min(2, target.deployment.limits.max_retries),
                                                         "backoff_cap_s": 2.0})
    caller = ModelCaller(target, cache=None, limits=limits)
    await caller.call([{"role": "user", "content": "Reply with the word OK."}], (), epoch=0,
                      stats=CallStats(), call_id="preflight")


async def execute_run(config: RunConfig, target: Target, journal: Journal, *,
                      cache: ResponseCache | None, environments: dict[str, EnvironmentFactory],
                      on_record: ProgressCallback | None = None,
                      judge: Target | None = None, ray: RayOptions | None = None) -> ExecutionSummary:
    """Execute the plan (skipping samples already ok in the journal), then grade it.

    With ``config.judge`` the caller passes the judge's ``judge`` target too.
    The caller owns the targets and closes them (``await target.aclose()``).
    ``ray``: run the plan on Ray workers (run/ray_executor.py) instead of in this process.
    """
    plan = make_plan(config.items, config.deployment.digest, epochs=config.epochs)
    graded = GradeAsJournaled(config.items) if config.judge is None else None

    def journaled(record: dict[str, Any]) -> None:
        if graded is not None:
            graded(record)
        if on_record:
            on_record(record)

    if ray is not None:  # graded in the workers; progress sees {sample_id, status} only
        summary = await execute_on_ray(plan, journal, workers=ray.workers, address=ray.address,
                                       on_record=on_record, graded=graded.graded if graded else None)
    else:
        summary = await execute(plan, target, journal, cache=cache, environments=environments,
                                interactions=all_interactions(), on_record=journaled)
    if graded is not None:
        grade_journal(journal, graded)
    else:
        await grade(config, journal, judge, cache=cache)
    return summary


async def grade(config: RunConfig, journal: Journal, judge: Target | None, *,
                cache: ResponseCache | None) -> JudgeSummary | None:
    """Grade the journal: by the rules, or with the run's judge beside them."""
    if config.judge is None:
        grade_journal(journal)
        return None
    if judge is None:
        raise ValueError(f"this run is graded with the judge {config.judge.deployment.label}; pass its target")
    return await grade_with_judge(journal, judge, config.judge, cache=cache)


def create_journal(out: Path, config: RunConfig) -> Journal:
    run_id = new_run_id()
    return Journal.create(out / run_id, config.meta(run_id), config.items)


def config_from_journal(journal: Journal, deployment_overrides: dict[str, Any]) -> RunConfig:
    """Rebuild a run's config from its journal; only operational limits may change on resume."""
    meta = journal.meta()
    fields = meta["deployment"]
    if deployment_overrides:
        fields = {**fields, "limits": {**fields["limits"], **deployment_overrides}}
    deployment = Deployment.model_validate(fields)
    if deployment.digest != meta["target_digest"]:
        raise ValueError("journal's deployment does not match its recorded digest")
    items = journal.items()
    if items_digest(items) != meta["items_digest"]:
        raise ValueError("journal's items do not match their recorded digest")
    judge = JudgeConfig.from_meta(meta["judge"]) if "judge" in meta else None
    return RunConfig(deployment, items, meta["source"], meta["epochs"], judge)
