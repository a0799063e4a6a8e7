"""Execute a plan against a target and journal every sample, ok or error.

A fixed pool of workers pulls samples from a queue; the ModelCaller's adaptive
window decides how many calls are actually in flight. A sample that fails for
good is journaled as an error with its reason: nothing is dropped, and a
resumed run skips exactly the samples already journaled as ok.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from crosslab.disclosure.canary import canary_for, needs_canary
from crosslab.engine.cache import ResponseCache
from crosslab.engine.caller import CallStats, ModelCaller, SampleError
from crosslab.dialogue.base import Interaction
from crosslab.engine.interactions import EnvironmentFactory, SampleDialogue, interaction_for
from crosslab.engine.journal import Journal
from crosslab.engine.plan import Sample
from crosslab.targets.base import Target

ProgressCallback = Callable[[dict[str, Any]], None]


@dataclass
class ExecutionSummary:
    planned: int
    skipped: int  # already ok in the journal (resume)
    ok: int = 0
    errors: int = 0


async def run_sample(sample: Sample, caller: ModelCaller, target_digest: str,
                     environments: dict[str, EnvironmentFactory],
                     interactions: dict[str, Interaction] | None = None) -> dict[str, Any]:
    """Run one sample to a journal record; failures become error records.

    ``interactions`` is the table of interaction names (default: the built-ins).
    """
    item = sample.item
    stats = CallStats()
    convo = SampleDialogue(sample, caller, stats, environments)
    error: dict[str, Any] | None = None
    try:
        await interaction_for(item, interactions)(convo)
    except SampleError as exc:
        error = exc.to_dict()
    except Exception as exc:  # a bug in an environment or adapter must not lose the sample
        error = {"kind": "internal", "message": f"{type(exc).__name__}: {exc}", "attempts": 1}
    record: dict[str, Any] = {
        "sample_id": sample.id,
        "item_id": item.id,
        "category": item.category,
        "slice": item.slice,
        "tier": item.tier,
        "variant": sample.variant,
        "facets": item.facets,
        "epoch": sample.epoch,
        "target": target_digest,
        "interaction": item.interaction,
        "status": "error" if error else "ok",
        "error": error,
        "messages": convo.messages,
        "stats": stats.to_dict(),
    }
    if needs_canary(item.tier):
        record["canary"] = canary_for(item.id)
    if convo.extra:
        record["agent"] = convo.extra
    return record


async def execute(plan: Sequence[Sample], target: Target, journal: Journal, *,
                  cache: ResponseCache | None,
                  environments: dict[str, EnvironmentFactory] | None = None,
                  interactions: dict[str, Interaction] | None = None,
                  on_record: ProgressCallback | None = None) -> ExecutionSummary:
    done = journal.completed_ids()
    todo = [s for s in plan if s.id not in done]
    summary = ExecutionSummary(planned=len(plan), skipped=len(plan) - len(todo))
    caller = ModelCaller(target, cache=cache)
    queue: asyncio.Queue[Sample] = asyncio.Queue()
    for sample in todo:
        queue.put_nowait(sample)
    digest = target.deployment.digest
    envs = environments or {}

    async def worker() -> None:
        while True:
            try:
                sample = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            record = await run_sample(sample, caller, digest, envs, interactions)
            journal.write(record)
            if record["status"] == "ok":
                summary.ok += 1
            else:
                summary.errors += 1
            if on_record:
                on_record(record)

    workers = min(len(todo), target.deployment.limits.concurrency)
    await asyncio.gather(*(worker() for _ in range(workers)))
    return summary
