"""Scale a run out on Ray: shards of the plan on workers, one shared pacer, one merged journal.

``crosslab run … --executor ray`` runs the same engine (``engine/runner.py``)
on Ray workers instead of in this process:

- **Shards by sample id.** The samples still to do are split by their id
  (``shard_of``), so a shard's content does not depend on timing or on which
  worker takes it. There are a few shards per worker, so a slow shard does
  not hold the run and progress moves in small steps.
- **Each shard journals where it runs**, in its own ordinary journal under
  ``RUN/shards/NNN/``. A worker that dies (SIGKILL, a lost node) has its task
  retried by Ray (``max_retries``); the retry opens the shard's journal and
  skips every sample already there, so nothing finished is sent again.
- **One pacer for everyone.** Provider limits bind the account, not a
  process: ten workers must not send ten times the agreed rate. A single
  Ray actor holds the run's ``Pacer`` (requests/minute, tokens/minute, and
  what it learns from headers and 429s); each worker's ModelCaller asks it
  when a request may start and reports how it went (``RemotePacer``).
- **Graded where they run, merged as stored.** A run without a judge is
  graded by the rules in the worker, as a local run grades each record as it
  is journaled. As each shard finishes, its records and verdicts are folded
  into the run's journal in one SQLite transaction, byte for byte as the
  shard stored them; the driver parses none of them.

Ray is optional (``pip install "crosslab[ray]"``). Without an address,
``ray.init`` starts a local cluster with one CPU per worker.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crosslab.core.errors import CrosslabError
from crosslab.engine.journal import JOURNAL_FILE, Journal
from crosslab.engine.pacing import Pacer
from crosslab.engine.plan import Sample, make_plan
from crosslab.engine.runner import ExecutionSummary, ProgressCallback

INSTALL_HINT = 'the Ray executor needs Ray, which is not installed: pip install "crosslab[ray]"'
SHARDS_PER_WORKER = 4
#: A shard task is retried this many times when its worker process dies (not when the code raises).
MAX_RETRIES = 3
SHARDS_DIR = "shards"
#: The shared caps' jitter allowance: a grant reaches its worker over Ray, milliseconds to a few hundred
#: milliseconds later on a loaded machine, so the hard --rpm/--tpm caps count a window this much wider.
REMOTE_GUARD_S = 0.3
#: While the shared pacer paces nothing (no --rpm/--tpm, no rate learned, no hold), a worker may send
#: without asking for this long: one round trip per worker per window instead of two per request.
FREE_WINDOW_S = 0.25
PID_FILE = "worker.pid"  # the shard's current worker process (operators and the kill test read it)


@dataclass(frozen=True)
class RayOptions:
    """``--executor ray``: how many workers, and which cluster (None: start a local one)."""

    workers: int = 2
    address: str | None = None


class RayUnavailable(CrosslabError, RuntimeError):
    """Ray is not installed, or the cluster cannot be reached; the message says which and what to do."""


def require_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayUnavailable(INSTALL_HINT) from None
    return ray


def shard_of(sample_id: str, shards: int) -> int:
    """Which shard a sample belongs to: its id's leading 64 bits modulo the shard count."""
    return int(sample_id[:16], 16) % shards


def split(todo: Sequence[Sample], shards: int) -> list[list[str]]:
    """Sample ids per shard, each in plan order; empty shards are dropped."""
    out: list[list[str]] = [[] for _ in range(shards)]
    for sample in todo:
        out[shard_of(sample.id, shards)].append(sample.id)
    return [ids for ids in out if ids]


class PacerService:
    """The run's one Pacer, in a Ray actor (async: its release schedule runs on the actor's event loop).

    ``grant`` answers a worker's request to send: a ticket id when the pacer paces sends, or a free
    window (seconds) while it paces nothing. Sends made in a free window report back only when they
    teach something: a refusal, or rate-limit headers.
    """

    def __init__(self, rpm: float | None, tpm: float | None, max_tokens: int) -> None:
        self.pacer = Pacer(rpm=rpm, tpm=tpm, max_tokens=max_tokens, guard_s=REMOTE_GUARD_S)
        self.tickets: dict[int, Any] = {}
        self.next_id = 0

    async def grant(self, input_est: float) -> tuple[int | None, float]:
        if self.pacer.unpaced():
            return None, FREE_WINDOW_S
        ticket = await self.pacer.acquire(input_est)
        self.next_id += 1
        self.tickets[self.next_id] = ticket
        return self.next_id, 0.0

    def _ticket(self, ticket: int | None, input_est: float = 0.0) -> Any:
        return self.tickets.pop(ticket) if ticket is not None else self.pacer.ticket_for_unpaced_send(input_est)

    async def on_answer(self, ticket: int | None, hint: Any = None, usage: Any = None) -> None:
        self.pacer.on_answer(self._ticket(ticket), hint, usage)

    async def on_refused(self, ticket: int | None, hint: Any = None, retry_after: float | None = None) -> None:
        self.pacer.on_refused(self._ticket(ticket), hint, retry_after)

    async def on_failed(self, ticket: int | None, hint: Any = None) -> None:
        if ticket is not None or hint is not None:
            self.pacer.on_failed(self._ticket(ticket), hint)

    async def snapshot(self) -> dict[str, Any]:
        return self.pacer.snapshot()


class RemotePacer:
    """A worker's stand-in for the Pacer: the shared actor decides (see ``PacerService``).

    Counts its own sends for the shard's journal; the actor's snapshot counts the paced ones of all.
    """

    def __init__(self, actor: Any) -> None:
        self.actor = actor
        self.free_until = 0.0
        self.sent = self.answered = self.refused = 0

    async def acquire(self, input_est: float = 0.0) -> int | None:
        self.sent += 1
        if time.monotonic() < self.free_until:
            return None
        ticket, free_s = await self.actor.grant.remote(input_est)
        if ticket is None:
            self.free_until = time.monotonic() + free_s
        return ticket

    def on_answer(self, ticket: int | None, hint: Any = None, usage: Any = None) -> None:
        self.answered += 1
        if ticket is not None or hint is not None:
            self.actor.on_answer.remote(ticket, hint, usage)

    def on_refused(self, ticket: int | None, hint: Any = None, retry_after: float | None = None) -> None:
        self.refused += 1
        self.free_until = 0.0  # ask again: the actor now knows the server pushed back
        self.actor.on_refused.remote(ticket, hint, retry_after)

    def on_failed(self, ticket: int | None, hint: Any = None) -> None:
        if ticket is not None or hint is not None:
            self.actor.on_failed.remote(ticket, hint)

    def snapshot(self) -> dict[str, Any]:
        import ray

        shared = ray.get(self.actor.snapshot.remote())
        return {**shared, "sent": self.sent, "answered": self.answered, "refused": self.refused}


def run_shard(shard_dir: str, meta: dict[str, Any], item_rows: list[dict[str, Any]], sample_ids: list[str],
              pacer: Any, grade: bool) -> dict[str, int]:
    """On a Ray worker: run (or resume) one shard with the ordinary engine, journaling in ``shard_dir``.

    ``item_rows``: the shard's own items only. ``grade``: grade by the rules as each record is journaled
    (a run without a judge), so the driver merges verdicts too and parses nothing.
    """
    from crosslab.engine.runner import execute
    from crosslab.items.item import Item
    from crosslab.run.grade import GradeAsJournaled, grade_journal
    from crosslab.suites.registry import items_digest
    from crosslab.suites.registry import all_environments, all_interactions, get_suite
    from crosslab.targets.deployment import Deployment
    from crosslab.targets.registry import create_target

    path = Path(shard_dir)
    items = [Item.model_validate(row) for row in item_rows]
    deployment = Deployment.model_validate(meta["deployment"])
    wanted = set(sample_ids)
    plan = [s for s in make_plan(items, deployment.digest, epochs=meta["epochs"]) if s.id in wanted]
    journal = Journal.open(path) if (path / JOURNAL_FILE).exists() else \
        Journal.create(path, {**meta, "items_digest": items_digest(items)}, items)
    graded = GradeAsJournaled(items) if grade else None
    (path / PID_FILE).write_text(str(os.getpid()))
    target = create_target(deployment)
    environments = all_environments()
    if "suite" in meta["source"]:
        environments.update(get_suite(meta["source"]["suite"]).environments)

    async def go() -> ExecutionSummary:
        try:
            return await execute(plan, target, journal, cache=None, environments=environments,
                                 interactions=all_interactions(), pacer=RemotePacer(pacer), on_record=graded)
        finally:
            await target.aclose()

    try:
        summary = asyncio.run(go())
        if graded is not None:
            grade_journal(journal, graded)
    finally:
        journal.close()
    return {"ok": summary.ok, "errors": summary.errors, "skipped": summary.skipped,
            "pacing": summary.pacing or {}}


def _init(ray: Any, address: str | None, workers: int) -> None:
    if ray.is_initialized():
        return
    try:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:  # a local cluster: one CPU per worker, a small object store (shards pass ids, not data)
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                     object_store_memory=128 * 1024 * 1024)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailable(f"cannot start or reach the Ray cluster{f' at {address}' if address else ''}: "
                             f"{exc}") from None


async def execute_on_ray(plan: Sequence[Sample], journal: Journal, *, workers: int = 2,
                         address: str | None = None, on_record: ProgressCallback | None = None,
                         graded: set[str] | None = None, shards: int | None = None) -> ExecutionSummary:
    """Run every sample of ``plan`` not yet ok in ``journal`` on Ray workers; merge into ``journal``.

    ``graded``: grade by the rules in the workers and add each merged sample id here (those need no
    grading stage); None leaves grading to the caller. ``on_record`` sees ``{sample_id, status}`` only:
    the records are merged as stored, never parsed in the driver.
    """
    ray = require_ray()
    if workers < 1:
        raise ValueError("--workers must be at least 1")
    done = journal.completed_ids()
    todo = [s for s in plan if s.id not in done]
    summary = ExecutionSummary(planned=len(plan), skipped=len(plan) - len(todo))
    if not todo:
        return summary
    _init(ray, address, workers)
    meta = journal.meta()
    deployment = meta["deployment"]
    limits = deployment.get("limits") or {}
    service = ray.remote(num_cpus=0)(PacerService).remote(
        limits.get("requests_per_minute"), limits.get("tokens_per_minute"), int(deployment.get("max_tokens", 512)))
    task = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(run_shard)
    item_of = {s.id: s.item for s in todo}
    root = journal.path.parent / SHARDS_DIR
    root.mkdir(mode=0o700, exist_ok=True)
    parts = split(todo, shards or max(1, workers * SHARDS_PER_WORKER))
    pending = {}
    for n, ids in enumerate(parts):
        own = [i.model_dump(mode="json") for i in {item_of[s].id: item_of[s] for s in ids}.values()]  # its items
        pending[task.remote(str(_shard_dir(root, n)), meta, own, ids, service, graded is not None)] = n
    first_error: BaseException | None = None
    calls = {"sent": 0, "answered": 0, "refused": 0}  # summed over the shards' own pacing records
    while pending:
        ready, _ = await asyncio.to_thread(ray.wait, list(pending), num_returns=1)
        for ref in ready:
            n = pending.pop(ref)
            try:
                pacing = (await ref)["pacing"]
            except Exception as exc:  # noqa: BLE001 - the shard's own error; the others still merge
                first_error = first_error or _cause(exc)
                pacing = _journaled_pacing(_shard_dir(root, n))
            for key in calls:
                calls[key] += int(pacing.get(key, 0))
            _merge(_shard_dir(root, n), journal, done, summary, on_record, graded)
    journal.set_meta("executor", {"kind": "ray", "workers": workers, "shards": len(parts), "calls": calls,
                                  "shared_pacer": await service.snapshot.remote()})
    if first_error is not None:
        raise first_error
    return summary


def _merge(shard_dir: Path, journal: Journal, done: set[str], summary: ExecutionSummary,
           on_record: ProgressCallback | None, graded: set[str] | None) -> None:
    """Fold a shard's journal into the run's (records and verdicts as stored), counting as the engine does."""
    if not (shard_dir / JOURNAL_FILE).exists():
        return  # its worker died before it journaled anything, and the retries are spent
    for sample_id, status in journal.merge_from(shard_dir):
        if sample_id in done:
            continue
        if status == "ok":
            done.add(sample_id)
            summary.ok += 1
            if graded is not None:
                graded.add(sample_id)
        else:
            summary.errors += 1
        if on_record is not None:
            on_record({"sample_id": sample_id, "status": status})


def _shard_dir(root: Path, n: int) -> Path:
    return root / f"{n:03d}"


def _journaled_pacing(shard_dir: Path) -> dict[str, Any]:
    """A failed shard's pacing record, as its journal kept it (empty when it journaled nothing)."""
    if not (shard_dir / JOURNAL_FILE).exists():
        return {}
    shard = Journal.open(shard_dir)
    try:
        return shard.meta().get("pacing") or {}
    finally:
        shard.close()


def _cause(exc: BaseException) -> BaseException:
    """The exception a shard raised (e.g. CircuitOpen), unwrapped from Ray's RayTaskError."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc
