"""Execute a plan against a target and journal every sample, ok or error.

A fixed pool of workers pulls samples from a queue; the ModelCaller decides
how many calls are in flight (``concurrency``) and the account's pacer when
each starts. A few spare workers (``SPARE_WORKERS``) keep the slots busy while
some samples wait out a Retry-After. A sample that fails for
good is journaled as an error with its reason: nothing is dropped, and a
resumed run skips exactly the samples already journaled as ok. Records are
committed at the end of the loop turn they finish in (``engine/writes.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from crosslab.disclosure.canary import canary_for, needs_canary
from crosslab.engine.cache import ResponseCache
from crosslab.engine.caller import CallStats, ModelCaller, SampleError
from crosslab.dialogue.base import Interaction
from crosslab.engine.interactions import EnvironmentFactory, SampleDialogue, interaction_for
from crosslab.engine.breaker import Breaker
from crosslab.engine.journal import Journal
from crosslab.engine.plan import Sample
from crosslab.engine.writes import TurnWriter
from crosslab.targets.base import Target

ProgressCallback = Callable[[dict[str, Any]], None]

#: Workers beyond the concurrency slots (at most one per slot): they keep slots busy while others wait out
#: a Retry-After. Few, because idle workers cost the event loop at high concurrency (C=500, L=500 ms: 2 per
#: slot reached 0.66 of C/L, 1 per slot 0.70; bench/engine_throughput.py --bare).
SPARE_WORKERS = 32


@dataclass
class ExecutionSummary:
    planned: int
    skipped: int  # already ok in the journal (resume)
    ok: int = 0
    errors: int = 0
    #: How this execution called the API: requests sent, refused (429) and answered, seconds, pace.
    pacing: dict[str, Any] | None = None


def _pacing_record(before: dict[str, Any], after: dict[str, Any], seconds: float,
                   earlier: dict[str, Any] | None) -> dict[str, Any]:
    """This execution's calls (added to an earlier session's, on resume), for the journal's meta."""
    counts = {k: after[k] - before[k] for k in ("sent", "answered", "refused")}
    if earlier:
        counts = {k: counts[k] + int(earlier.get(k, 0)) for k in counts}
        seconds += float(earlier.get("seconds", 0.0))
    return {**counts, "seconds": round(seconds, 3),
            "pace_per_s": round(counts["sent"] / seconds, 3) if seconds > 0 else None,
            "refused_share": round(counts["refused"] / counts["sent"], 5) if counts["sent"] else 0.0,
            "rpm": after["rpm"], "tpm": after["tpm"], "learned_rate_per_s": after["rate_per_s"]}


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
                  on_record: ProgressCallback | None = None,
                  breaker: Breaker | None = None, pacer: Any = None) -> ExecutionSummary:
    """Run every sample of ``plan`` not yet ok in the journal; CircuitOpen when the target has gone away.

    Every answered sample is journaled before this returns or raises, so a
    resume sends nothing twice (``breaker``: when to give up; breaker.py).
    ``pacer``: one shared beyond this process (run/ray_executor.py); default: the process's own.
    """
    breaker = breaker or Breaker()
    done = journal.completed_ids()
    todo = [s for s in plan if s.id not in done]
    summary = ExecutionSummary(planned=len(plan), skipped=len(plan) - len(todo))
    caller = ModelCaller(target, cache=cache, pacer=pacer)
    before = caller.pacer.snapshot()
    started = time.monotonic()
    queue: asyncio.Queue[Sample] = asyncio.Queue()
    for sample in todo:
        queue.put_nowait(sample)
    digest = target.deployment.digest
    envs = environments or {}

    def written(record: dict[str, Any]) -> None:
        if record["status"] == "ok":
            summary.ok += 1
        else:
            summary.errors += 1
        if on_record:
            on_record(record)

    writer = TurnWriter(journal, written)

    async def worker() -> None:
        while not breaker.tripped.is_set():
            try:
                sample = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            record = await run_sample(sample, caller, digest, envs, interactions)
            breaker.observe(record)
            writer.add(record)

    slots = target.deployment.limits.concurrency
    workers = min(len(todo), slots + min(slots, SPARE_WORKERS))
    try:
        await _until_done_or_tripped([asyncio.ensure_future(worker()) for _ in range(workers)], breaker)
    finally:
        writer.close()  # on cancellation too: every answered sample is journaled
    summary.pacing = _pacing_record(before, caller.pacer.snapshot(), time.monotonic() - started,
                                    journal.meta().get("pacing"))
    journal.set_meta("pacing", summary.pacing)
    if breaker.tripped.is_set():
        raise breaker.error()
    return summary


async def _until_done_or_tripped(tasks: list[asyncio.Future[None]], breaker: Breaker) -> None:
    """Wait for the workers; if the breaker trips first, cancel the samples still in flight."""
    tripped = asyncio.ensure_future(breaker.tripped.wait())
    pending = set(tasks)
    try:
        while pending:
            done, _ = await asyncio.wait(pending | {tripped}, return_when=asyncio.FIRST_COMPLETED)
            for task in done & pending:
                task.result()  # a worker's own exception surfaces here
            pending -= done
            if tripped.done():
                break
    finally:
        tripped.cancel()
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
