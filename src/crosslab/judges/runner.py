"""Running a judge: one rubric, one judge deployment, every call journaled, cached and costed.

A judge call is an ordinary model call through the engine's ``ModelCaller``
(same retries, pacing and cost accounting as target calls) at temperature 0.
Each call renders the rubric with a fresh nonce (``grading.judge_delimit``)
and parses the reply strictly (``grading.judge_parse``).

The call key is the digest of the judge deployment's identity and the
rubric's messages rendered with a placeholder nonce, so the same request
maps to the same key on every run. It keys

* the response cache (``engine.cache.ResponseCache``), which stores the reply
  *and the nonce it was asked with*, so a cached reply is parsed against the
  fences it answered; and
* the journal (``engine.journal.Journal``, one record per call), so an
  interrupted validation resumes without re-asking finished calls; failed
  calls are retried on the next run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crosslab.core.canonical import digest
from crosslab.core.version import __version__
from crosslab.engine.cache import ResponseCache, request_key
from crosslab.engine.caller import CallStats, ModelCaller, SampleError
from crosslab.engine.journal import JOURNAL_FILE, Journal, JournalError
from crosslab.grading.judge_delimit import new_nonce
from crosslab.grading.judge_parse import JudgeVerdict, parse_reply
from crosslab.grading.judge_rubric import Rubric
from crosslab.targets.base import ChatResponse, Target
from crosslab.targets.deployment import DeploymentError

#: The nonce a request is rendered with for its key (never sent).
KEY_NONCE = "0" * 16
JOURNAL_KIND = "judge"


@dataclass(frozen=True)
class JudgeCall:
    """One judged row: its verdict (None when the call failed for good), the call's costs and provenance."""
    key: str
    row_id: str
    verdict: JudgeVerdict | None
    error: dict[str, Any] | None
    stats: dict[str, Any]
    resumed: bool  # taken from the journal of an earlier run, no call made


def journal_meta(target: Target, rubric: Rubric) -> dict[str, Any]:
    d = target.deployment
    return {"kind": JOURNAL_KIND, "judge": d.identity(), "judge_digest": d.digest, "rubric": rubric.ref(),
            "crosslab_version": __version__}


def open_judge_journal(directory: Path, target: Target, rubric: Rubric) -> Journal:
    """The judge journal in ``directory``: created when absent, resumed when it was made by this judge and rubric."""
    meta = journal_meta(target, rubric)
    if (directory / JOURNAL_FILE).is_file():
        journal = Journal.open(directory)
        old = journal.meta()
        if old.get("kind") != JOURNAL_KIND:
            raise JournalError(f"{directory} holds a run journal, not a judge journal")
        if old.get("judge_digest") != meta["judge_digest"] or old.get("rubric") != meta["rubric"]:
            raise JournalError(f"{directory} was written by another judge or rubric; use a new --journal directory")
        return journal
    if directory.exists():
        raise JournalError(f"{directory} exists but holds no judge journal")
    return Journal.create(directory, meta, [])


class JudgeRunner:
    """Judge rows with one rubric and one judge target."""

    def __init__(self, target: Target, rubric: Rubric, *, cache: ResponseCache | None = None,
                 journal: Journal | None = None, seed: int = 0) -> None:
        d = target.deployment
        if d.temperature != 0.0:
            raise DeploymentError(f"judge {d.label} must run at temperature 0, not {d.temperature}")
        self.target = target
        self.rubric = rubric
        self.cache = cache
        self.journal = journal
        self.caller = ModelCaller(target, cache=None, seed=seed)  # the runner caches itself: see the module doc
        self._identity = d.identity()
        self._done: dict[str, dict[str, Any]] = {}
        if journal is not None:
            self._done = {r["sample_id"]: r for r in journal.records() if r["status"] == "ok"}

    @property
    def judge_digest(self) -> str:
        return self.target.deployment.digest

    def call_key(self, inputs: Mapping[str, Any]) -> str:
        """The judge deployment plus the request's messages (rendered with the placeholder nonce)."""
        messages = self.rubric.render(inputs, KEY_NONCE).messages
        return digest({"judge_call": request_key(self._identity, messages, [], 0)})

    async def judge(self, row_id: str, inputs: Mapping[str, Any]) -> JudgeCall:
        checked = self.rubric.check_inputs(inputs)
        key = self.call_key(checked)
        done = self._done.get(key)
        if done is not None:
            v = done["verdict"]
            verdict = JudgeVerdict(v["label"], v["answer"], v["evidence"], v.get("values") or {})
            return JudgeCall(key, row_id, verdict, None, done["stats"], resumed=True)
        stats = CallStats()
        hit = self.cache.get(key) if self.cache is not None else None
        error: dict[str, Any] | None = None
        response: ChatResponse | None = None
        if hit is not None:
            nonce = hit["nonce"]
            response = ChatResponse.from_dict(hit["response"])
            stats.calls += 1
            stats.cached_calls += 1
            stats.usage.add(response.usage)
        else:
            nonce = new_nonce()
            request = self.rubric.render(checked, nonce)
            try:
                response = await self.caller.call(request.messages, (), epoch=0, stats=stats, call_id=key)
            except SampleError as exc:
                error = exc.to_dict()
            else:
                if self.cache is not None:
                    self.cache.put(key, {"nonce": nonce, "response": response.to_dict()})
        request = self.rubric.render(checked, nonce)
        verdict = None if response is None else parse_reply(self.rubric, response.text, nonce, checked)
        record = {
            "sample_id": key, "item_id": row_id, "status": "error" if error else "ok", "error": error,
            "judge": self.judge_digest, "rubric": self.rubric.ref(), "nonce": nonce,
            "neutralised": request.neutralised,
            "messages": request.messages + ([response.to_message()] if response is not None else []),
            "verdict": verdict.to_dict() if verdict is not None else None,
            "stats": stats.to_dict(),
        }
        if self.journal is not None:
            self.journal.write(record)
            if verdict is not None:
                self._done[key] = record
        return JudgeCall(key, row_id, verdict, error, record["stats"], resumed=False)

    async def judge_all(self, rows: Sequence[tuple[str, Mapping[str, Any]]],
                        on_call: Callable[[JudgeCall], None] | None = None) -> list[JudgeCall]:
        """Judge every (row id, inputs), as many at once as the judge deployment's concurrency allows."""
        results: list[JudgeCall | None] = [None] * len(rows)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(len(rows)):
            queue.put_nowait(i)

        async def worker() -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                call = await self.judge(*rows[i])
                results[i] = call
                if on_call is not None:
                    on_call(call)

        workers = max(1, min(len(rows), self.target.deployment.limits.concurrency))
        await asyncio.gather(*(worker() for _ in range(workers)))
        return [r for r in results if r is not None]

    async def aclose(self) -> None:
        await self.target.aclose()


class SyncJudge:
    """The ``JudgeFn`` graders receive: a blocking call on the runner's own event loop.

    Graders are plain functions; this keeps one loop (and so one set of
    connections) for all of a grading pass. A call that fails for good raises
    the engine's SampleError rather than inventing a verdict. ``close()`` when done.
    """

    def __init__(self, runner: JudgeRunner) -> None:
        self.runner = runner
        self._loop = asyncio.new_event_loop()

    def __call__(self, inputs: Mapping[str, Any]) -> JudgeVerdict:
        call = self._loop.run_until_complete(self.runner.judge(self.runner.call_key(inputs), inputs))
        if call.verdict is None:
            assert call.error is not None
            raise SampleError(call.error["kind"], call.error["message"], call.error["attempts"])
        return call.verdict

    def close(self) -> None:
        self._loop.run_until_complete(self.runner.aclose())
        self._loop.close()

